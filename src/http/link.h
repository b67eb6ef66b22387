/* A client connection's lasting part: its socket (maybe under TLS), its
 * timer, who it is — and, only while a request is read or answered, a
 * struct fy_conn (http/conn.h) attached to it, which holds the request,
 * the buffers and the response.
 *
 *   HANDSHAKING (TLS) ──► WAITING ──bytes may have come──► BUSY (a fy_conn attached) ──┐
 *                           ▲                                  │                       │
 *                           └──── done, nothing pipelined ─────┘        closing: LINGERING
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
struct fy_server;

enum fy_link_state {
    FY_LINK_HANDSHAKING,         /* TLS listeners only: the handshake is under way */
    FY_LINK_WAITING,             /* for a request: nothing buffered, no fy_conn */
    FY_LINK_BUSY,                /* conn is attached: a request is read or answered */
    FY_LINK_LINGERING,           /* answered and closing: drain what the client still sends */
    FY_LINK_CLOSED,
};

struct fy_link {
    struct fy_io io;
    struct fy_transport tp;      /* io.fd, maybe under TLS */
    struct fy_server *srv;
    struct fy_link *prev, *next; /* in the server's active or free list */
    struct fy_timer timer;       /* the timeout of the state, or of conn's */
    struct fy_conn *conn;        /* FY_LINK_BUSY only */
    enum fy_link_state state;
    bool readable;               /* data may wait in the socket */
    bool peer_closed;            /* the client shut its side (RDHUP) */
    unsigned nrequests;          /* requests begun on the connection */
    struct sockaddr_storage peer;
};

/* How a connection counts in the status page's gauges. */
enum fy_link_activity { FY_LINK_IDLE, FY_LINK_READS, FY_LINK_WRITES };

/* Takes over a freshly accepted socket (already non-blocking); `tls`: it
 * came to a TLS listener. */
int  fy_link_open(struct fy_server *srv, struct fy_link *l, int fd, const struct sockaddr_storage *peer, bool tls);

/* Ends the connection now, and whatever request it was at; safe to call
 * in any state.  The struct (and an attached fy_conn) stays readable until
 * the server's next tick, so a caller deep in a call may still look at the
 * state (FY_LINK_CLOSED, FY_CONN_CLOSED). */
void fy_link_close(struct fy_link *l);

/* Ends a connection that has nothing left to read or send: TLS says so
 * with a close_notify first. */
void fy_link_close_idle(struct fy_link *l);

/* Graceful stop: close if idle, otherwise close after the current response. */
void fy_link_shutdown(struct fy_link *l);

/* Whether it waits for, or reads, a request head (not answering one). */
bool fy_link_awaits_request(const struct fy_link *l);

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

#endif
