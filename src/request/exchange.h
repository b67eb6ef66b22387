/* One request and its response, whatever protocol carries them.
 *
 * The handler (file/handler.c) and everything it calls work on this: the
 * parsed request, the response head it builds, the body it plans (a file
 * range, multipart parts, bytes in memory), what it waits for off the loop
 * (a lookup, a password check), and the access log line at the end.  An
 * HTTP/1.1 connection (http1/conn.c) carries one exchange at a time; an
 * HTTP/2 connection (http2/h2.c) one per stream.  The carrier gives the
 * exchange a transport to send through (the socket, or a stream's DATA
 * frames) and is called back when the exchange can go on.
 *
 * The response head is HTTP/1.1 text (http/http_response.h): one way to
 * build it for both protocols; HTTP/2 turns it into HPACK fields. */
#ifndef FY_EXCHANGE_H
#define FY_EXCHANGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "backend/backend.h"
#include "event/loop.h"
#include "file/auth.h"
#include "file/file.h"
#include "http/http_parse.h"
#include "http/multipart.h"
#include "http/rate.h"

struct fy_server;
struct fy_transport;
struct fy_exchange;

#define FY_EXCHANGE_HEAD_BUFFER 4096 /* the response head, or a whole error response */

/* What carries the exchange: called back from the loop. */
struct fy_exchange_carrier {
    /* What the handler waited for off the loop (a lookup, a password
     * check) is done: the carrier calls fy_exchange_respond() again. */
    void (*resume)(struct fy_exchange *ex);
    /* The response may move again: a disk read is done, limit-rate's
     * pause is over.  The carrier calls fy_exchange_send(). */
    void (*wake)(struct fy_exchange *ex);
};

struct fy_exchange {
    struct fy_server *srv;
    const struct fy_exchange_carrier *carrier;
    void *owner;                 /* the carrier's own (its connection, its stream) */
    bool tls;                    /* it came over TLS (redirect-to-https) */
    bool keep_alive;             /* HTTP/1.1: the connection stays open after the response */
    bool have_request;           /* req is valid (for the access log) */
    bool responding;             /* a response was begun: the access log gets a line */
    unsigned nrequests;          /* this request's number on its connection, from 1 */
    struct sockaddr_storage client; /* the connection's peer, or X-Forwarded-For of a real-ip-from peer */

    char *wbuf;                  /* FY_EXCHANGE_HEAD_BUFFER bytes, the carrier's */
    char *head_mem;              /* instead of wbuf, a head too long for it (a redirect
                                  * carrying a long target); malloc'd, freed when the
                                  * response ends */
    struct fy_file file;
    struct fy_body *body;        /* file's bytes in memory (file/body_cache.h), or NULL */
    struct fy_transfer xfer;     /* the head in wbuf, then the body from file (or body) */
    unsigned queued_timeouts;    /* write timeouts passed queued, since bytes last moved */
    struct fy_lookup lookup;     /* see fy_exchange_lookup() */
    bool looked_up;              /* this request's lookup is done (or was not needed) */
    struct fy_auth_request auth; /* auth-basic: its password check (file/auth.h) */
    bool fallback;               /* this request is answered with its fallback file (file/fallback.c) */
    int status;
    uint64_t body_bytes;         /* for the access log */
    size_t head_nonbody;         /* bytes at the front of xfer.head that are not body */

    /* A response in several segments, each a transfer of its own: after
     * the first, the parts of a multipart/byteranges body, or a body built
     * in memory (a listing, malloc'd, freed when the response ends). */
    struct fy_multipart mp;      /* mp.nranges 0: not multipart */
    struct fy_rate rate;         /* limit-rate of this response (rate.rate 0: none) */
    struct fy_timer rate_timer;  /* paused by limit-rate: the next tick */
    char *body_mem;
    size_t body_mem_len;
    bool body_mem_sent;

    /* Last: fy_exchange_begin() clears everything above, not the request
     * (the carrier's parser fills it first). */
    struct fy_request req;
};

/* Once, for buffers that will carry exchanges: wbuf is the head buffer. */
void fy_exchange_init(struct fy_exchange *ex, char *wbuf);

/* A new request (req already parsed, or have_request false): clears what
 * the last one left, remembers who carries it and where its bytes go. */
void fy_exchange_begin(struct fy_exchange *ex, struct fy_server *srv, const struct fy_exchange_carrier *carrier,
                       void *owner, struct fy_transport *out, bool tls, unsigned nrequests);

enum fy_exchange_result {
    FY_EXCHANGE_READY,           /* the response is in xfer: send it */
    FY_EXCHANGE_WAITING,         /* the handler waits off the loop: carrier->resume() follows */
};

/* Runs the handler for req; an error it returns is answered with the
 * standard error response. */
enum fy_exchange_result fy_exchange_respond(struct fy_exchange *ex);

/* Answers status at once (a request that could not be parsed, a timeout,
 * a refusal).  keep_alive is cleared when the status asks for it. */
void fy_exchange_respond_error(struct fy_exchange *ex, int status);

/* Sends at most budget bytes of the response (limit-rate may allow fewer:
 * then FY_SEND_WAIT, and carrier->wake() at its next tick).  *moved: the
 * bytes that went.  FY_SEND_DONE: all of it, TLS bytes too. */
enum fy_send_result fy_exchange_send(struct fy_exchange *ex, size_t budget, size_t *moved);

/* The response head's bytes at the front of xfer.head (HTTP/1.1 text). */
size_t fy_exchange_head_length(const struct fy_exchange *ex);

/* Drops the head from what is to be sent (HTTP/2 sends it as HEADERS):
 * what is left is body. */
void fy_exchange_skip_head(struct fy_exchange *ex);

/* Whether the response has body bytes to send (after the head). */
bool fy_exchange_has_body(const struct fy_exchange *ex);

/* The exchange is over, its response complete or cut short: logged when
 * one was begun (with the body bytes that went), what runs for it
 * cancelled, its file and memory released. */
void fy_exchange_end(struct fy_exchange *ex);

/* For the handler, before it opens a file not in the open-file cache:
 * starts looking `path` up under dirfd off the loop, if the backend can.
 * Returns true when it did: the handler returns FY_HANDLER_WAIT and is
 * called again for the same request once the lookup is done (this then
 * returns false). */
bool fy_exchange_lookup(struct fy_exchange *ex, int dirfd, const char *path);

/* The request came over plain TCP, and redirect-to-https sends such
 * requests to the TLS listener. */
bool fy_exchange_wants_https(const struct fy_exchange *ex);

/* Who the client is: the connection's peer, or the address a real-ip-from
 * peer names (X-Forwarded-For).  After begin, with the request parsed. */
void fy_exchange_set_client(struct fy_exchange *ex, const struct sockaddr_storage *peer);

/* What was waited for off the loop is done (file/auth.c): to the carrier. */
void fy_exchange_resume(struct fy_exchange *ex);

#endif
