/* A connection's lasting part; see link.h. */
#include "http/link.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/server.h"
#include "http/conn.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* Lingering reads what the client still sends only to drop it. */
#define LINK_DRAIN_CHUNK 16384

static void link_run(struct fy_link *l);

void fy_link_arm(struct fy_link *l, struct fy_timer_queue *q)
{
    fy_timer_arm(&l->srv->loop, q, &l->timer);
}

/* --- the attached fy_conn --------------------------------------------------- */

/* Bytes may have come: a fy_conn to read them into.  Out of memory, the
 * connection closes (false). */
static bool link_attach(struct fy_link *l)
{
    struct fy_conn *c = fy_server_take_conn(l->srv);
    if (!c) {
        fy_log(&l->srv->log, FY_LOG_ERROR, "no memory for a request's buffers: connection closed");
        fy_link_close(l);
        return false;
    }
    fy_conn_start(c, l);
    l->conn = c;
    l->state = FY_LINK_BUSY;
    return true;
}

/* The fy_conn goes back to the free list; the caller says what the link
 * does next. */
static void link_detach(struct fy_link *l)
{
    struct fy_conn *c = l->conn;
    c->state = FY_CONN_CLOSED;
    c->link = NULL;
    l->conn = NULL;
    fy_server_put_conn(l->srv, c);
}

/* After the attached fy_conn ran: it goes back as soon as the connection
 * waits for nothing but its next request, so an idle keep-alive connection
 * holds no buffer. */
static void link_settle(struct fy_link *l)
{
    if (l->state == FY_LINK_BUSY && fy_conn_idle(l->conn) && !l->readable) {
        link_detach(l);
        l->state = FY_LINK_WAITING;
    } else if (l->state == FY_LINK_LINGERING) {
        link_run(l);
    }
}

void fy_link_run(struct fy_link *l)
{
    link_run(l);
}

/* --- closing -------------------------------------------------------------- */

void fy_link_close(struct fy_link *l)
{
    if (l->state == FY_LINK_CLOSED)
        return;
    if (l->conn) {
        fy_conn_end(l->conn);
        link_detach(l);
    }
    fy_timer_disarm(&l->timer);
    fy_loop_remove(&l->srv->loop, &l->io);
    fy_tls_conn_free(l->tp.tls);
    l->tp.tls = NULL;
    close(l->io.fd);
    l->io.fd = -1;
    l->state = FY_LINK_CLOSED;
    fy_server_conn_closed(l->srv, l);
}

void fy_link_close_idle(struct fy_link *l)
{
    fy_transport_shutdown(&l->tp);
    fy_link_close(l);
}

void fy_link_linger(struct fy_link *l)
{
    if (l->conn)
        link_detach(l);
    fy_transport_shutdown(&l->tp);
    l->state = FY_LINK_LINGERING;
    fy_link_arm(l, &l->srv->linger_timeouts);
}

/* Reads and drops what the client sends until it stops (its FIN, or the
 * linger timeout). */
static void link_drain(struct fy_link *l)
{
    char buf[LINK_DRAIN_CHUNK];
    for (;;) {
        ssize_t n = read(l->io.fd, buf, sizeof buf);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            l->readable = false;
            return;
        }
        fy_link_close(l);
        return;
    }
}

void fy_link_shutdown(struct fy_link *l)
{
    if (l->conn)
        l->conn->keep_alive = false;
    if (l->state == FY_LINK_WAITING || l->state == FY_LINK_HANDSHAKING ||
        (l->state == FY_LINK_BUSY && fy_conn_idle(l->conn)))
        fy_link_close_idle(l);
}

bool fy_link_awaits_request(const struct fy_link *l)
{
    return l->state == FY_LINK_HANDSHAKING || l->state == FY_LINK_WAITING ||
           (l->state == FY_LINK_BUSY && l->conn->state == FY_CONN_READING);
}

enum fy_link_activity fy_link_activity(const struct fy_link *l)
{
    if (l->state == FY_LINK_WAITING || (l->state == FY_LINK_BUSY && fy_conn_idle(l->conn)))
        return FY_LINK_IDLE;
    if (l->state == FY_LINK_HANDSHAKING)
        return FY_LINK_READS;
    if (l->state != FY_LINK_BUSY)
        return FY_LINK_WRITES;
    const struct fy_conn *c = l->conn;
    bool answering = c->state == FY_CONN_READING && c->have_request; /* a status page, say */
    if ((c->state == FY_CONN_READING && !answering) || c->state == FY_CONN_DISCARDING)
        return FY_LINK_READS;
    return FY_LINK_WRITES;
}

/* --- TLS ------------------------------------------------------------------ */

static void link_handshake(struct fy_link *l)
{
    struct fy_stats_slot *slot = l->srv->slot;
    enum fy_tls_failure why;
    int r = fy_tls_handshake(l->tp.tls, &why);
    if (r == 0)
        return;
    if (r < 0) {
        fy_stats_add(slot, (enum fy_counter)(FY_C_TLS_FAIL_TIMEOUT + why - FY_TLS_FAIL_TIMEOUT), 1);
        if (why != FY_TLS_FAIL_PLAIN_HTTP) {
            fy_link_close(l);
            return;
        }
        fy_tls_conn_free(l->tp.tls);
        l->tp.tls = NULL;
        l->readable = true; /* the request waits unread: lingering drains it */
        if (link_attach(l))
            fy_conn_refuse_plain_http(l->conn);
        return;
    }
    fy_stats_add(slot, FY_C_TLS_HANDSHAKES, 1);
    if (fy_tls_resumed(l->tp.tls))
        fy_stats_add(slot, FY_C_TLS_RESUMED, 1);
    if (fy_tls_kernel_sends(l->tp.tls))
        fy_stats_add(slot, FY_C_TLS_KTLS, 1);
    l->state = FY_LINK_WAITING;
    l->readable = true; /* a request may have come with the handshake's last flight */
    fy_link_arm(l, &l->srv->header_timeouts);
}

/* --- events --------------------------------------------------------------- */

static void link_run(struct fy_link *l)
{
    for (;;) {
        enum fy_link_state before = l->state;
        switch (l->state) {
        case FY_LINK_HANDSHAKING:
            link_handshake(l);
            break;
        case FY_LINK_WAITING:
            if (!l->readable)
                return;
            link_attach(l);
            break;
        case FY_LINK_BUSY:
            fy_conn_advance(l->conn);
            link_settle(l);
            return;
        case FY_LINK_LINGERING:
            link_drain(l);
            return;
        case FY_LINK_CLOSED:
            return;
        }
        if (l->state == before)
            return;
    }
}

static void link_on_io(struct fy_io *io, uint32_t events)
{
    struct fy_link *l = container_of(io, struct fy_link, io);
    if (l->state == FY_LINK_CLOSED)
        return; /* an event harvested in the same turn the connection closed */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        l->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP))
        l->peer_closed = true;
    if (events & EPOLLERR) {
        fy_link_close(l);
        return;
    }
    /* TLS bytes the socket could not take (a handshake's last flight) go
     * now, whatever the state: the client may be waiting for them. */
    if (events & EPOLLOUT)
        fy_transport_flush(&l->tp);
    link_run(l);
}

static void link_on_timeout(struct fy_timer *t)
{
    struct fy_link *l = container_of(t, struct fy_link, timer);
    switch (l->state) {
    case FY_LINK_HANDSHAKING:
        fy_stats_add(l->srv->slot, FY_C_TLS_FAIL_TIMEOUT, 1);
        fy_link_close(l);
        break;
    case FY_LINK_WAITING: /* idle, or silent since it connected */
        fy_link_close_idle(l);
        break;
    case FY_LINK_BUSY:
        fy_conn_timeout(l->conn);
        link_settle(l);
        break;
    case FY_LINK_LINGERING:
    case FY_LINK_CLOSED:
        fy_link_close(l);
        break;
    }
}

int fy_link_open(struct fy_server *srv, struct fy_link *l, int fd, const struct sockaddr_storage *peer, bool tls)
{
    *l = (struct fy_link){
        .io = {.fd = fd, .handler = link_on_io},
        .tp = {.fd = fd},
        .srv = srv,
        .timer = {.handler = link_on_timeout},
        .state = FY_LINK_WAITING,
        .peer = *peer,
    };
    if (tls) {
        if (!(l->tp.tls = fy_tls_conn_new(&srv->tls, fd)))
            return -ENOMEM;
        l->state = FY_LINK_HANDSHAKING;
    }
    int err = fy_loop_add(&srv->loop, &l->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    if (err) {
        fy_tls_conn_free(l->tp.tls);
        l->tp.tls = NULL;
        return err;
    }
    fy_link_arm(l, tls ? &srv->handshake_timeouts : &srv->header_timeouts);
    return 0;
}
