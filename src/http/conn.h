/* A connection at work: one request read and answered, with the buffers
 * that takes, attached to the connection's lasting part (struct fy_link,
 * http/link.h) only for that long:
 *
 *   READING ──head parsed──► (LOOKING_UP) ──► SENDING ──done──► DISCARDING (request body) ──┐
 *      ▲                                                                                  │
 *      └──────── keep-alive: the next pipelined request, if one is buffered ◄─────────────┘
 *
 * When nothing more is buffered the fy_conn goes back to the server's free
 * list and the link waits alone (FY_LINK_WAITING); the next bytes take one
 * again.  One request is handled at a time, so responses leave in request
 * order and a flood of pipelined requests waits in the socket, bounded by
 * the read buffer.  Each state has its timer (on the link): the header
 * timeout while a head arrives, the write timeout while a response stalls.
 * A PROXY protocol header and the TLS handshake are the link's, before any
 * fy_conn is taken (http/link.c). */
#ifndef FY_CONN_H
#define FY_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "event/loop.h"
#include "file/auth.h"
#include "file/file.h"
#include "http/http_parse.h"
#include "http/link.h"
#include "http/multipart.h"
#include "http/rate.h"
#include "net/transport.h"

struct fy_config;
struct fy_server;

enum fy_conn_state {
    FY_CONN_READING,
    FY_CONN_DISCARDING,
    FY_CONN_LOOKING_UP,          /* the handler waits off the loop: a lookup, a password check */
    FY_CONN_SENDING,
    FY_CONN_CLOSED,              /* given back: attached to no link (closed, idle or lingering) */
};

#define FY_CONN_HEAD_BUFFER 4096 /* the response head, or a whole error response */

struct fy_conn {
    struct fy_link *link;        /* the connection it works for */
    struct fy_server *srv;
    struct fy_conn *next;        /* on the server's free list */
    enum fy_conn_state state;
    bool keep_alive;             /* after the current response */
    bool have_request;           /* req is valid (for the access log) */
    unsigned nrequests;          /* this request's number on its connection, from 1 */
    struct sockaddr_storage client; /* the request's client: the link's peer, or X-Forwarded-For of a real-ip-from peer */

    char *rbuf;                  /* the request head(s), cfg max size */
    size_t rlen;
    struct fy_http_scan scan;    /* how far the head in rbuf was searched */
    size_t consumed;             /* bytes of rbuf the current request used */
    uint64_t discard_left;       /* request body bytes still to drop */

    char *wbuf;                  /* FY_CONN_HEAD_BUFFER bytes */
    char *head_mem;              /* instead of wbuf, a head too long for it (a redirect
                                  * carrying a long target); malloc'd, freed when the
                                  * response ends */
    struct fy_file file;
    struct fy_body *body;        /* file's bytes in memory (file/body_cache.h), or NULL */
    struct fy_transfer xfer;     /* the head in wbuf, then the body from file (or body) */
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

    /* Last: everything above is cleared when a fy_conn is attached, the
     * request is not (the parser fills it). */
    struct fy_request req;
};

/* The bytes one fy_conn takes with its buffers, which follow the struct. */
size_t fy_conn_size(const struct fy_config *cfg);
/* Points rbuf and wbuf into the memory that follows c (fy_conn_size). */
void fy_conn_init_buffers(struct fy_conn *c, const struct fy_config *cfg);

/* For link.c: the life of a fy_conn on its link. */
/* Attaches c (fresh from the free list) to l, to read a request. */
void fy_conn_start(struct fy_conn *c, struct fy_link *l);
/* Goes as far as it can: reads, answers, sends. */
void fy_conn_advance(struct fy_conn *c);
/* Its link's timer fired while it was at work (not idle). */
void fy_conn_timeout(struct fy_conn *c);
/* It waits for nothing but the next request (nothing buffered): the
 * link may give it back. */
bool fy_conn_idle(const struct fy_conn *c);
/* The link closes: the response in flight is logged, what runs for the
 * request (a read, a lookup, a password check) is cancelled. */
void fy_conn_end(struct fy_conn *c);
/* Plain HTTP came to a TLS port: answered 400 in plain text, as nginx
 * does, and the connection closes. */
void fy_conn_refuse_plain_http(struct fy_conn *c);

/* Answers 503 at once and closes (max-connections-per-ip; a plain
 * connection: the link closes a TLS one). */
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
