/* A client connection and its state machine:
 *
 *   HANDSHAKING (TLS listeners only) ──► READING ──head parsed──► DISCARDING (request body) ──► SENDING ──done──┐
 *      ▲                                                                   │
 *      └──────── keep-alive: next (maybe pipelined) request ◄──────────────┘
 *
 * On a proxy-protocol listener the PROXY header is read first: in READING
 * before the first request, or, on a TLS listener, in HANDSHAKING before
 * the handshake (the header is plain text in front of the TLS bytes).
 *
 * One request is handled at a time, so responses leave in request order and
 * a flood of pipelined requests waits in the socket, bounded by the read
 * buffer.  Each state has its timer: the TLS handshake timeout first, the
 * header timeout while a head arrives,
 * keep-alive timeout while idle, write timeout while a response stalls. */
#ifndef FY_CONN_H
#define FY_CONN_H

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
#include "net/transport.h"

struct fy_server;

enum fy_conn_state {
    FY_CONN_HANDSHAKING,         /* TLS: the handshake is under way */
    FY_CONN_READING,
    FY_CONN_DISCARDING,
    FY_CONN_LOOKING_UP,          /* the handler waits off the loop: a lookup, a password check */
    FY_CONN_SENDING,
    FY_CONN_LINGERING,           /* answered and closing: drain what the client still sends */
    FY_CONN_CLOSED,
};

#define FY_CONN_HEAD_BUFFER 4096 /* the response head, or a whole error response */

struct fy_conn {
    struct fy_io io;
    struct fy_transport tp;      /* io.fd, maybe under TLS */
    struct fy_server *srv;
    struct fy_conn *prev, *next; /* in the server's active or free list */
    struct fy_timer timer;
    enum fy_conn_state state;
    bool readable;               /* data may wait in the socket */
    bool peer_closed;            /* the client shut its side (RDHUP) */
    bool keep_alive;             /* after the current response */
    bool have_request;           /* req is valid (for the access log) */
    unsigned nrequests;
    struct sockaddr_storage peer;    /* who connected (the PROXY header's source, when it came with one) */
    struct sockaddr_storage client;  /* the request's client: peer, or X-Forwarded-For of a real-ip-from peer */
    bool proxy_pending;              /* the PROXY protocol header is still to be read */
    bool ip_counted;                 /* counted in the server's per_ip under peer */

    char *rbuf;                  /* the request head(s), cfg max size */
    size_t rlen;
    struct fy_request req;
    struct fy_http_scan scan;    /* how far the head in rbuf was searched */
    size_t consumed;             /* bytes of rbuf the current request used */
    uint64_t discard_left;       /* request body bytes still to drop */

    char *wbuf;                  /* FY_CONN_HEAD_BUFFER bytes */
    char *head_mem;              /* instead of wbuf, a head too long for it (a redirect
                                  * carrying a long target); malloc'd, freed when the
                                  * response ends */
    struct fy_file file;
    struct fy_transfer xfer;     /* the head in wbuf, then the body from file */
    unsigned queued_timeouts;    /* write timeouts passed queued, since bytes last moved */
    struct fy_lookup lookup;     /* see fy_conn_lookup() */
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
};

/* Takes over a freshly accepted socket (already non-blocking); `tls`: it
 * came to a TLS listener. */
int  fy_conn_open(struct fy_server *srv, struct fy_conn *c, int fd, const struct sockaddr_storage *peer, bool tls);

/* Ends the connection now; safe to call in any state. */
void fy_conn_close(struct fy_conn *c);

/* Graceful stop: see conn.c for how a connection drains. */
void fy_conn_shutdown(struct fy_conn *c);

/* Answers 503 at once and closes (max-connections-per-ip). */
void fy_conn_refuse(struct fy_conn *c);

/* For the handler, before it opens a file not in the open-file cache:
 * starts looking `path` up under dirfd off the loop, if the backend can.
 * Returns true when it did: the handler returns FY_HANDLER_WAIT and is
 * called again for the same request once the lookup is done (this then
 * returns false). */
bool fy_conn_lookup(struct fy_conn *c, int dirfd, const char *path);

/* The request came over plain TCP, and redirect-to-https sends such
 * requests to the TLS listener. */
bool fy_conn_wants_https(const struct fy_conn *c);
/* What was waited for off the loop (a lookup, a password check) is done:
 * the handler runs again for the request (FY_CONN_LOOKING_UP). */
void fy_conn_resume(struct fy_conn *c);

#endif
