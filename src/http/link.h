/* A client connection's lasting part: its socket (maybe under TLS), its
 * timer, who it is — and, only while a request is read or answered, a
 * struct fy_conn (http1/conn.h) attached to it, which holds the request,
 * the buffers and the response.
 *
 *   HANDSHAKING (TLS) ──► WAITING ──bytes may have come──► BUSY (a fy_conn attached) ──┐
 *        │                  ▲                                  │                       │
 *        │                  └──── done, nothing pipelined ─────┘        closing: LINGERING
 *        └── ALPN "h2" ──► H2 ◄── the HTTP/2 preface (a plain connection's first bytes)
 *
 * In H2 the connection is HTTP/2's (http2/h2.h) until it closes: many
 * requests at once, each on a stream with buffers of its own.
 *
 * On a proxy-protocol listener the PROXY header is taken first: in WAITING
 * before the first request, or in HANDSHAKING before the handshake (the
 * header is plain text in front of the TLS bytes); it names the peer, and
 * max-connections-per-ip counts the connection under it from then on.
 * Stopping, a link that waits is closed only after drain-idle-timeout of
 * silence (see link.c).
 *
 * So a connection that waits for its next request holds no buffer at all,
 * only this struct (about 270 bytes): the buffers of the few connections at
 * work at one moment come from a small free list (fy_server_take_conn).
 * The link owns the epoll registration and the timer whatever the state;
 * its events go to the attached fy_conn when there is one. */
#ifndef FY_LINK_H
#define FY_LINK_H

#include <stdbool.h>
#include <sys/socket.h>

#include "event/loop.h"
#include "net/transport.h"

struct fy_conn;
struct fy_h2;
struct fy_server;

enum fy_link_state {
    FY_LINK_HANDSHAKING,         /* TLS listeners only: the handshake is under way */
    FY_LINK_WAITING,             /* for a request: nothing buffered, no fy_conn */
    FY_LINK_BUSY,                /* conn is attached: a request is read or answered */
    FY_LINK_LINGERING,           /* answered and closing: drain what the client still sends */
    FY_LINK_H2,                  /* speaks HTTP/2: h2 has the connection (http2/h2.h) */
    FY_LINK_CLOSED,
};

struct fy_link {
    struct fy_io io;
    struct fy_transport tp;      /* io.fd, maybe under TLS */
    struct fy_server *srv;
    struct fy_link *prev, *next; /* in the server's active or free list */
    struct fy_timer timer;       /* the timeout of the state, or of conn's */
    struct fy_conn *conn;        /* FY_LINK_BUSY only */
    struct fy_h2 *h2;            /* FY_LINK_H2 only */
    enum fy_link_state state;
    bool readable;               /* data may wait in the socket */
    bool peer_closed;            /* the client shut its side (RDHUP) */
    bool proxy_pending;          /* the PROXY protocol header is still to be read */
    bool ip_counted;             /* counted in the server's per_ip under peer */
    unsigned nrequests;          /* requests begun on the connection */
    struct sockaddr_storage peer; /* who connected (the PROXY header's source, when it came with one) */
};

/* How a connection counts in the status page's gauges. */
enum fy_link_activity { FY_LINK_IDLE, FY_LINK_READS, FY_LINK_WRITES };

/* Takes over a freshly accepted socket (already non-blocking); `tls`: it
 * came to a TLS listener, `proxy`: to a proxy-protocol one. */
int  fy_link_open(struct fy_server *srv, struct fy_link *l, int fd, const struct sockaddr_storage *peer, bool tls,
                  bool proxy);

/* Ends the connection now, and whatever request it was at; safe to call
 * in any state.  The struct (and an attached fy_conn) stays readable until
 * the server's next tick, so a caller deep in a call may still look at the
 * state (FY_LINK_CLOSED, FY_CONN_CLOSED). */
void fy_link_close(struct fy_link *l);

/* Ends a connection that has nothing left to read or send: TLS says so
 * with a close_notify first. */
void fy_link_close_idle(struct fy_link *l);

/* Graceful stop: a link that waits for a request gets drain-idle-timeout
 * to send one; a response in flight keeps its keep-alive, and the next
 * request is answered with close (see link.c). */
void fy_link_shutdown(struct fy_link *l);

/* max-connections-per-ip refused it: a plain connection is answered 503
 * and closed, a TLS one closed at once (its client could not read a plain
 * 503). */
void fy_link_refuse(struct fy_link *l);

enum fy_link_activity fy_link_activity(const struct fy_link *l);

/* For conn.c. */
void fy_link_arm(struct fy_link *l, struct fy_timer_queue *q);
/* The attached fy_conn ran after an event of its own (a disk read done,
 * a lookup, a password check): go on, then settle (give the fy_conn back
 * when the connection waits for nothing but its next request). */
void fy_link_run(struct fy_link *l);
/* The response went out and the connection closes, but the client may
 * still be sending: the fy_conn is given back (FY_CONN_CLOSED) and the
 * link drains for a short while (see link.c). */
void fy_link_linger(struct fy_link *l);
/* The attached fy_conn read the HTTP/2 preface (prior knowledge): from
 * now on the connection speaks HTTP/2, fed first with `early`, what was
 * read of it already; the fy_conn goes back.  Out of memory, the
 * connection closes. */
void fy_link_speak_h2(struct fy_link *l, const char *early, size_t early_len);

#endif
