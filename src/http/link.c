/* A connection's lasting part; see link.h. */
#include "http/link.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/server.h"
#include "http1/conn.h"
#include "http/proxy_protocol.h"
#include "http2/h2.h"

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

/* --- HTTP/2 ----------------------------------------------------------------- */

static void link_start_h2(struct fy_link *l, const char *early, size_t early_len)
{
    if (fy_h2_start(l, early, early_len) < 0) {
        fy_log(&l->srv->log, FY_LOG_ERROR, "no memory for an HTTP/2 session: connection closed");
        fy_link_close(l);
        return;
    }
    l->state = FY_LINK_H2;
    /* Many small frames each way (WINDOW_UPDATE, a HEADERS, a short DATA):
     * Nagle would hold one back behind the client's delayed ACK. */
    setsockopt(l->io.fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
}

void fy_link_speak_h2(struct fy_link *l, const char *early, size_t early_len)
{
    struct fy_conn *c = l->conn;
    link_start_h2(l, early, early_len); /* early points into c's buffer: used before it goes back */
    if (l->conn == c && l->state != FY_LINK_CLOSED)
        link_detach(l);
}

/* --- closing -------------------------------------------------------------- */

void fy_link_close(struct fy_link *l)
{
    if (l->state == FY_LINK_CLOSED)
        return;
    if (l->h2) {
        fy_h2_free(l->h2);
        l->h2 = NULL;
    }
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
    fy_transport_close_notify(&l->tp);
    fy_link_close(l);
}

void fy_link_refuse(struct fy_link *l)
{
    if (l->tp.tls) {
        fy_link_close(l); /* as at max-connections */
        return;
    }
    if (link_attach(l))
        fy_conn_refuse(l->conn);
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

/* --- draining (a graceful stop) ------------------------------------------- */

/* Why this drains without a client error (issue 15): a server that
 * closes a keep-alive connection races the client's next request, which
 * may be on the wire already; the client then reads a reset or an EOF
 * instead of its answer.  So nothing here closes a connection the client
 * may still send on.  The response in flight keeps the keep-alive its head
 * announced; the next request on the connection (conn.c sees `stopping`)
 * is answered, with "Connection: close", after which the client may send
 * nothing more (RFC 9112 §9.6) and the close lingers (fy_link_linger) so
 * that no reset destroys that answer.  Only a connection that stays silent
 * for drain-idle-timeout is closed by the server: at that moment a request
 * that has arrived is still answered (link_drain_idle looks), and the
 * close is a FIN, not a reset, so a request sent in the instant after gets
 * a clean EOF with no byte of an answer, which clients retry (RFC 9110
 * §9.2.2) — the same race every keep-alive timeout has, made rare by the
 * quiet second before it. */
void fy_link_shutdown(struct fy_link *l)
{
    /* A TLS handshake under way goes on under its own timer: its request
     * is answered with close like any other (link_handshake). */
    if (l->state == FY_LINK_WAITING || (l->state == FY_LINK_BUSY && fy_conn_idle(l->conn)))
        fy_link_arm(l, &l->srv->drain_timeouts);
    else if (l->state == FY_LINK_H2)
        fy_h2_shutdown(l->h2); /* GOAWAY: the streams under way finish */
}

/* Stopping, and the connection was silent for drain-idle-timeout. */
static void link_drain_idle(struct fy_link *l)
{
    char byte;
    ssize_t n = recv(l->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) { /* a request is arriving: it gets its answer (with close) */
        l->readable = true;
        fy_link_arm(l, &l->srv->header_timeouts);
        link_run(l);
        return;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        fy_link_close(l);
        return;
    }
    fy_transport_shutdown(&l->tp);
    l->state = FY_LINK_LINGERING;
    fy_link_arm(l, &l->srv->drain_timeouts); /* no answer of ours to protect: as short as the grace */
}

/* The timer of a link that waits for a request: keep-alive or header
 * timeout, or, stopping, drain-idle-timeout. */
static void link_idle_timeout(struct fy_link *l)
{
    if (l->srv->stopping)
        link_drain_idle(l);
    else
        fy_link_close_idle(l);
}

enum fy_link_activity fy_link_activity(const struct fy_link *l)
{
    if (l->state == FY_LINK_WAITING || (l->state == FY_LINK_BUSY && fy_conn_idle(l->conn)))
        return FY_LINK_IDLE;
    if (l->state == FY_LINK_HANDSHAKING)
        return FY_LINK_READS;
    if (l->state == FY_LINK_H2)
        return fy_h2_busy(l->h2) ? FY_LINK_WRITES : FY_LINK_IDLE;
    if (l->state != FY_LINK_BUSY)
        return FY_LINK_WRITES;
    const struct fy_conn *c = l->conn;
    bool answering = c->state == FY_CONN_READING && c->ex.have_request; /* a status page, say */
    if ((c->state == FY_CONN_READING && !answering) || c->state == FY_CONN_DISCARDING)
        return FY_LINK_READS;
    return FY_LINK_WRITES;
}

/* --- the PROXY header --------------------------------------------------- */

/* A proxy-protocol listener: the balancer's PROXY header comes first, in
 * plain text, and says whose the connection is.  It is peeked at, and only
 * its own bytes are taken from the socket, so that what follows is read as
 * on any connection: a request, or the TLS handshake from its first byte.
 * The peek needs the room of a whole header: a request buffer, borrowed
 * for the moment (a header may be as long as a request head may).
 * Returns true once the header has been taken; false while it is
 * incomplete, or when the link was closed (an invalid header: whatever
 * sent it is not the balancer this listener expects) or refused
 * (max-connections-per-ip). */
static bool link_take_proxy(struct fy_link *l)
{
    struct fy_conn *scratch = fy_server_take_conn(l->srv);
    if (!scratch) {
        fy_log(&l->srv->log, FY_LOG_ERROR, "no memory for a request's buffers: connection closed");
        fy_link_close(l);
        return false;
    }
    size_t room = l->srv->cfg.max_request_header_size;
    struct sockaddr_storage src;
    ssize_t got = recv(l->io.fd, scratch->rbuf, room, MSG_PEEK | MSG_DONTWAIT);
    int err = errno;
    long n = got > 0 ? fy_proxy_parse(scratch->rbuf, (size_t)got, room, &src) : -1;
    bool taken = n > 0 && recv(l->io.fd, scratch->rbuf, (size_t)n, MSG_DONTWAIT) == n; /* what was peeked is there */
    fy_server_put_conn(l->srv, scratch);
    if (got < 0 && (err == EAGAIN || err == EINTR)) {
        l->readable = false;
        return false;
    }
    if (n == 0 && (size_t)got < room && !l->peer_closed) { /* more of it to come: the next bytes raise an event */
        l->readable = false;
        return false;
    }
    if (!taken) {
        fy_link_close(l);
        return false;
    }
    if (src.ss_family != AF_UNSPEC)
        l->peer = src;
    l->proxy_pending = false;
    if (!fy_server_count_peer(l->srv, l)) {
        fy_link_refuse(l);
        return false;
    }
    return true;
}

/* --- TLS ------------------------------------------------------------------ */

static void link_handshake(struct fy_link *l)
{
    struct fy_stats_slot *slot = l->srv->slot;
    enum fy_tls_failure why;
    if (l->proxy_pending && !link_take_proxy(l))
        return;
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
    if (fy_tls_alpn_h2(l->tp.tls)) {
        link_start_h2(l, NULL, 0);
        return;
    }
    l->state = FY_LINK_WAITING;
    l->readable = true; /* a request may have come with the handshake's last flight */
    fy_link_arm(l, l->srv->stopping ? &l->srv->drain_timeouts : &l->srv->header_timeouts);
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
            if (!l->proxy_pending || link_take_proxy(l))
                link_attach(l);
            break;
        case FY_LINK_BUSY:
            fy_conn_advance(l->conn);
            link_settle(l);
            if (l->state != FY_LINK_H2)
                return;
            break; /* the connection turned out to speak HTTP/2 */
        case FY_LINK_H2:
            fy_h2_run(l->h2);
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
        link_idle_timeout(l);
        break;
    case FY_LINK_BUSY:
        if (fy_conn_idle(l->conn)) { /* nothing of a request came */
            link_detach(l);
            l->state = FY_LINK_WAITING;
            link_idle_timeout(l);
            break;
        }
        fy_conn_timeout(l->conn);
        link_settle(l);
        break;
    case FY_LINK_H2:
        fy_h2_timeout(l->h2);
        break;
    case FY_LINK_LINGERING:
    case FY_LINK_CLOSED:
        fy_link_close(l);
        break;
    }
}

int fy_link_open(struct fy_server *srv, struct fy_link *l, int fd, const struct sockaddr_storage *peer, bool tls,
                 bool proxy)
{
    *l = (struct fy_link){
        .io = {.fd = fd, .handler = link_on_io},
        .tp = {.fd = fd},
        .srv = srv,
        .timer = {.handler = link_on_timeout},
        .state = FY_LINK_WAITING,
        .proxy_pending = proxy,
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
