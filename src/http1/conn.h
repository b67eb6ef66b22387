/* A connection at work: one request read and answered, with the buffers
 * that takes, attached to the connection's lasting part (struct fy_link,
 * http/link.h) only for that long.  The request and its response are
 * the exchange's (request/exchange.h), as for an HTTP/2 stream:
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
#include "http/http_parse.h"
#include "http/link.h"
#include "net/transport.h"
#include "request/exchange.h"

struct fy_config;
struct fy_server;

enum fy_conn_state {
    FY_CONN_READING,
    FY_CONN_DISCARDING,
    FY_CONN_LOOKING_UP,          /* the handler waits off the loop: a lookup, a password check */
    FY_CONN_SENDING,
    FY_CONN_CLOSED,              /* given back: attached to no link (closed, idle or lingering) */
};

struct fy_conn {
    struct fy_link *link;        /* the connection it works for */
    struct fy_server *srv;
    struct fy_conn *next;        /* on the server's free list */
    enum fy_conn_state state;
    bool first_send;             /* the response's first bytes are next */

    char *rbuf;                  /* the request head(s), cfg max size */
    size_t rlen;
    struct fy_http_scan scan;    /* how far the head in rbuf was searched */
    size_t consumed;             /* bytes of rbuf the current request used */
    uint64_t discard_left;       /* request body bytes still to drop */

    /* Last: the request being answered (its own req last of all, which
     * the parser fills). */
    struct fy_exchange ex;
};

/* The bytes one fy_conn takes with its buffers, which follow the struct. */
size_t fy_conn_size(const struct fy_config *cfg);
/* Points rbuf and the exchange's head buffer into the memory that follows
 * c (fy_conn_size). */
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

#endif
