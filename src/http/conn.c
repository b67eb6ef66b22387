/* The connection state machine; see conn.h. */
#include "http/conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/realip.h"
#include "core/server.h"
#include "file/handler.h"
#include "http/http_response.h"
#include "http/proxy_protocol.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* Write timeouts a response may spend queued behind other clients for the
 * backend's buffers without one byte moving: bounded all the same, should
 * the buffers never come back (a disk that never answers holds them). */
#define CONN_QUEUED_TIMEOUTS 4

static void conn_advance(struct fy_conn *c);
static bool conn_discard(struct fy_conn *c);
static void conn_next_request(struct fy_conn *c);

static size_t conn_rbuf_size(const struct fy_conn *c)
{
    return c->srv->cfg.max_request_header_size;
}

static void conn_arm(struct fy_conn *c, struct fy_timer_queue *q)
{
    fy_timer_arm(&c->srv->loop, q, &c->timer);
}

/* --- closing -------------------------------------------------------------- */

/* One access-log line per response, finished or cut short (client gone,
 * read error, timeout, shutdown): then with the bytes sent so far. */
static void conn_log_response(struct fy_conn *c)
{
    struct fy_access_entry e = {
        .peer = &c->client,
        .req = c->have_request ? &c->req : NULL,
        .status = c->status,
        .body_bytes = c->body_bytes,
        .user = c->have_request ? fy_auth_user(c) : NULL,
    };
    fy_log_access(&c->srv->log, &e);
}

static void conn_end_transfer(struct fy_conn *c)
{
    c->rate.rate = 0;
    c->xfer.read_max = 0;
    fy_timer_disarm(&c->rate_timer);
    if (c->xfer.state)
        c->srv->backend->ops->cancel(c->srv->backend, &c->xfer);
    c->xfer.state = NULL;
    c->xfer.file_fd = -1;
    c->xfer.offset = c->xfer.end = 0;
    fy_file_close(&c->file);
    c->mp.nranges = 0;
    free(c->body_mem);
    c->body_mem = NULL;
    c->body_mem_sent = false;
    free(c->head_mem);
    c->head_mem = NULL;
}

void fy_conn_close(struct fy_conn *c)
{
    if (c->state == FY_CONN_CLOSED)
        return;
    if (c->state == FY_CONN_SENDING)
        conn_log_response(c);
    if (c->lookup.state)
        c->srv->backend->ops->lookup_cancel(c->srv->backend, &c->lookup);
    fy_auth_cancel(c);
    conn_end_transfer(c);
    fy_timer_disarm(&c->timer);
    fy_loop_remove(&c->srv->loop, &c->io);
    fy_tls_conn_free(c->tp.tls);
    c->tp.tls = NULL;
    close(c->io.fd);
    c->io.fd = -1;
    c->state = FY_CONN_CLOSED;
    fy_server_conn_closed(c->srv, c);
}

/* A connection we end with nothing left to read or send: TLS says so
 * with a close_notify first. */
static void conn_close_idle(struct fy_conn *c)
{
    fy_transport_close_notify(&c->tp);
    fy_conn_close(c);
}

/* Closing a socket whose receive queue holds data makes the kernel send a
 * RST, which can destroy a response the client has not read yet.  So after
 * answering a client that may still be sending, shut our side and drain
 * theirs for a short while first. */
static void conn_linger(struct fy_conn *c)
{
    if (!c->readable && c->rlen == c->consumed && c->discard_left == 0) {
        conn_close_idle(c);
        return;
    }
    fy_transport_shutdown(&c->tp);
    c->state = FY_CONN_LINGERING;
    c->rlen = 0;
    conn_arm(c, &c->srv->linger_timeouts);
}

static void conn_drain(struct fy_conn *c)
{
    for (;;) {
        ssize_t n = read(c->io.fd, c->rbuf, conn_rbuf_size(c));
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        fy_conn_close(c);
        return;
    }
}

/* Why this drains without a client error (issue 15): a server that
 * closes a keep-alive connection races the client's next request, which
 * may be on the wire already; the client then reads a reset or an EOF
 * instead of its answer.  So nothing here closes a connection the client
 * may still send on.  The response in flight keeps the keep-alive its head
 * announced; the next request on the connection (conn_handle_request sees
 * `stopping`) is answered, with "Connection: close", after which the
 * client may send nothing more (RFC 9112 §9.6) and the close lingers
 * (conn_linger) so that no reset destroys that answer.  Only a connection
 * that stays silent for drain-idle-timeout is closed by the server: at
 * that moment a request that has arrived is still answered (conn_drain_idle
 * looks), and the close is a FIN, not a reset, so a request sent in the
 * instant after gets a clean EOF with no byte of an answer, which clients
 * retry (RFC 9110 §9.2.2) — the same race every keep-alive timeout has,
 * made rare by the quiet second before it. */
void fy_conn_shutdown(struct fy_conn *c)
{
    /* A TLS handshake under way goes on under its own timer: its request
     * is answered with close like any other (conn_handshake). */
    if (c->state == FY_CONN_READING && c->rlen == 0)
        conn_arm(c, &c->srv->drain_timeouts);
}

/* Stopping, and the connection was silent for drain-idle-timeout. */
static void conn_drain_idle(struct fy_conn *c)
{
    char byte;
    ssize_t n = recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) { /* a request is arriving: it gets its answer (with close) */
        c->readable = true;
        conn_arm(c, &c->srv->header_timeouts);
        conn_advance(c);
        return;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        fy_conn_close(c);
        return;
    }
    fy_transport_shutdown(&c->tp);
    c->state = FY_CONN_LINGERING;
    conn_arm(c, &c->srv->drain_timeouts); /* no answer of ours to protect: as short as the grace */
}

/* --- responding ----------------------------------------------------------- */

static void conn_start_sending(struct fy_conn *c, char *head, size_t head_len)
{
    c->xfer.out = &c->tp;
    c->xfer.head = head;
    c->xfer.head_len = head_len;
    c->xfer.error = 0;
    c->queued_timeouts = 0;
    c->state = FY_CONN_SENDING;
    conn_arm(c, &c->srv->write_timeouts);
}

static void conn_respond_error(struct fy_conn *c, int status)
{
    if (fy_status_closes(status))
        c->keep_alive = false;
    const char *extra = status == 405 ? "Allow: GET, HEAD, OPTIONS\r\n" : NULL;
    bool head_only = c->have_request && c->req.method == FY_METHOD_HEAD;
    int minor = c->have_request ? c->req.version_minor : 1;
    struct fy_buf b = {.p = c->wbuf, .cap = FY_CONN_HEAD_BUFFER};
    size_t body = fy_response_error(&b, status, fy_server_date(c->srv), extra, c->keep_alive, minor,
                                    head_only);
    c->head_nonbody = b.len - body;
    c->status = status;
    conn_start_sending(c, c->wbuf, b.len);
}

/* The answer leaves when the socket is writable: at once for a connection
 * just added to the loop (edge-triggered, it reports writable first),
 * or in the conn_advance() that called. */
void fy_conn_refuse(struct fy_conn *c)
{
    if (c->state == FY_CONN_HANDSHAKING) {
        fy_conn_close(c); /* a TLS client could not read a plain 503 (as at max-connections) */
        return;
    }
    c->keep_alive = false;
    conn_respond_error(c, 503);
}

static void conn_respond(struct fy_conn *c)
{
    c->head_nonbody = SIZE_MAX; /* the handler says when its head carries body bytes */
    int status = fy_handler_respond(c);
    if (status == FY_HANDLER_WAIT) {
        c->state = FY_CONN_LOOKING_UP;
        conn_arm(c, &c->srv->write_timeouts); /* a disk that never answers */
        return;
    }
    if (status) {
        conn_respond_error(c, status);
        return;
    }
    conn_start_sending(c, c->head_mem ? c->head_mem : c->wbuf, c->xfer.head_len);
}

void fy_conn_resume(struct fy_conn *c)
{
    conn_respond(c);
    conn_advance(c);
}

static void conn_lookup_done(struct fy_lookup *l)
{
    fy_conn_resume(container_of(l, struct fy_conn, lookup));
}

bool fy_conn_lookup(struct fy_conn *c, int dirfd, const char *path)
{
    struct fy_backend *b = c->srv->backend;
    if (c->looked_up || !b->ops->lookup)
        return false;
    c->looked_up = true;
    c->lookup.done = conn_lookup_done;
    return b->ops->lookup(b, &c->lookup, dirfd, path);
}

/* The response is out: log it, drop what is left of the request body,
 * then read the next request or close. */
static void conn_finish_response(struct fy_conn *c)
{
    conn_log_response(c);
    conn_end_transfer(c);
    c->have_request = false;
    c->body_bytes = 0;
    c->state = FY_CONN_DISCARDING; /* no longer sending: closing now logs nothing more */
    if (!c->keep_alive) {
        conn_linger(c);
        return;
    }
    if (conn_discard(c))
        conn_next_request(c);
}

/* A transfer of the response is done: starts the next segment, if any —
 * a part of a multipart body (its head, then its range of the file), or
 * a body held in memory.  Returns false when the response is complete. */
static bool conn_next_segment(struct fy_conn *c)
{
    c->head_nonbody = 0; /* the response head has gone */
    if (c->mp.nranges > 0 && c->mp.next <= c->mp.nranges) {
        struct fy_buf b = {.p = c->wbuf, .cap = FY_CONN_HEAD_BUFFER};
        fy_multipart_next(&c->mp, &b, &c->xfer.offset, &c->xfer.end);
        c->xfer.head = c->wbuf;
        c->xfer.head_len = b.len;
        return true;
    }
    if (c->body_mem && !c->body_mem_sent) {
        c->body_mem_sent = true;
        c->xfer.head = c->body_mem;
        c->xfer.head_len = c->body_mem_len;
        return true;
    }
    return false;
}

/* Counts what one send moved; the access log wants body bytes only. */
static size_t conn_account(struct fy_conn *c, size_t head_sent, off_t file_sent)
{
    size_t nonbody = head_sent < c->head_nonbody ? head_sent : c->head_nonbody;
    c->head_nonbody -= nonbody;
    c->body_bytes += head_sent - nonbody + (uint64_t)file_sent;
    return head_sent + (size_t)file_sent;
}

/* One step of sending: the backend for a file range, plain send() for a
 * segment that is all head. */
static enum fy_send_result conn_send_segment(struct fy_conn *c, size_t budget, size_t *moved)
{
    struct fy_backend *b = c->srv->backend;
    off_t before = c->xfer.offset;
    size_t head_before = c->xfer.head_len;
    enum fy_send_result r = c->xfer.offset < c->xfer.end ? b->ops->send(b, &c->xfer, budget)
                                                         : fy_transfer_send_head(&c->xfer, false);
    *moved = conn_account(c, head_before - c->xfer.head_len, c->xfer.offset - before);
    if (*moved) {
        conn_arm(c, &c->srv->write_timeouts);
        c->queued_timeouts = 0;
    }
    return r;
}

/* limit-rate holds the response back until the next tick; the backend
 * gives back what it read ahead meanwhile. */
static void conn_pause(struct fy_conn *c)
{
    struct fy_backend *b = c->srv->backend;
    if (b->ops->pause && c->xfer.state)
        b->ops->pause(b, &c->xfer);
    fy_timer_arm(&c->srv->loop, &c->srv->rate_ticks, &c->rate_timer);
}

static void conn_on_rate_tick(struct fy_timer *t)
{
    conn_advance(container_of(t, struct fy_conn, rate_timer));
}

/* The budget bounds what one connection sends per loop turn, so one fast
 * download cannot starve the others; it spans the segments of a response.
 * limit-rate bounds it further. */
static void conn_send(struct fy_conn *c)
{
    size_t budget = fy_rate_allowance(&c->rate, c->body_bytes, c->srv->loop.now_ms, c->srv->cfg.send_chunk_size);
    size_t moved;
    enum fy_send_result r;
    if (budget == 0) {
        conn_pause(c);
        return;
    }
    while ((r = conn_send_segment(c, budget, &moved)) == FY_SEND_DONE && conn_next_segment(c)) {
        budget = moved < budget ? budget - moved : 0;
        if (budget == 0) {
            r = FY_SEND_YIELD;
            break;
        }
    }
    if (r == FY_SEND_DONE && fy_transport_flush(&c->tp) < 0) { /* TLS bytes still held */
        r = errno == EAGAIN ? FY_SEND_AGAIN : FY_SEND_ERROR;
        c->xfer.error = errno;
    }
    switch (r) {
    case FY_SEND_DONE:
        conn_finish_response(c);
        break;
    case FY_SEND_YIELD:
        fy_loop_defer(&c->srv->loop, &c->io);
        break;
    case FY_SEND_AGAIN:
    case FY_SEND_WAIT:
        break;
    case FY_SEND_ERROR:
        if (c->xfer.error != EPIPE && c->xfer.error != ECONNRESET)
            fy_log(&c->srv->log, FY_LOG_ERROR, "sending a response failed: %s", strerror(c->xfer.error));
        fy_conn_close(c);
        break;
    }
}

static void conn_wake(struct fy_transfer *t)
{
    struct fy_conn *c = container_of(t, struct fy_conn, xfer);
    conn_advance(c);
}

/* --- reading -------------------------------------------------------------- */

static void conn_next_request(struct fy_conn *c)
{
    memmove(c->rbuf, c->rbuf + c->consumed, c->rlen - c->consumed);
    c->rlen -= c->consumed;
    c->consumed = 0;
    c->scan = (struct fy_http_scan){0};
    c->state = FY_CONN_READING;
    struct fy_timer_queue *idle = c->srv->stopping ? &c->srv->drain_timeouts : &c->srv->keepalive_timeouts;
    conn_arm(c, c->rlen ? &c->srv->header_timeouts : idle);
}

/* Reads what the socket has into rbuf.  Returns 1 if bytes arrived, 0 if
 * none are there now, -1 if the connection is gone (and closed). */
static int conn_fill(struct fy_conn *c)
{
    size_t room = conn_rbuf_size(c) - c->rlen;
    if (!c->readable || room == 0)
        return 0;
    ssize_t n = fy_transport_read(&c->tp, c->rbuf + c->rlen, room);
    if (n > 0) {
        if (c->rlen == 0 && c->state == FY_CONN_READING)
            conn_arm(c, &c->srv->header_timeouts); /* the clock for a whole head starts now */
        c->rlen += (size_t)n;
        /* A short read emptied the socket; edge-triggered epoll says when more
         * comes.  Unless the client has shut its side: then no event will
         * come, and the EOF waiting behind the data must still be read. */
        if ((size_t)n < room && !c->peer_closed)
            c->readable = false;
        return 1;
    }
    if (n < 0 && errno == EAGAIN) {
        c->readable = false;
        return 0;
    }
    fy_conn_close(c);
    return -1;
}

/* Drops request-body bytes; returns true once the body is gone.  Runs after
 * the response, when nothing points into rbuf any more. */
static bool conn_discard(struct fy_conn *c)
{
    for (;;) {
        size_t avail = c->rlen - c->consumed;
        size_t take = avail < c->discard_left ? avail : (size_t)c->discard_left;
        c->consumed += take;
        c->discard_left -= take;
        if (c->discard_left == 0)
            return true;
        /* Everything buffered was body: reuse the buffer. */
        c->rlen = c->consumed = 0;
        if (conn_fill(c) <= 0)
            return false;
    }
}

/* `parsed`: the head was well-formed, so req describes it (status may still
 * be a semantic error from fy_http_analyse). */
static void conn_handle_request(struct fy_conn *c, int status, bool parsed)
{
    const struct fy_config *cfg = &c->srv->cfg;
    c->nrequests++;
    c->have_request = parsed;
    if (parsed && cfg->nreal_ip_from)
        fy_realip(cfg, &c->peer, &c->req, &c->client);
    else
        c->client = c->peer;
    c->looked_up = false;
    c->fallback = false;
    c->consumed = parsed ? c->req.head_len : c->rlen;
    c->keep_alive = parsed && c->req.keep_alive && !c->srv->stopping &&
                    (cfg->max_keepalive_requests == 0 || c->nrequests < cfg->max_keepalive_requests);
    if (status) {
        conn_respond_error(c, status);
        return;
    }
    /* The body is dropped after the response (the request is still needed
     * while responding); one too large to be worth reading ends the
     * connection instead. */
    c->discard_left = c->req.has_content_length ? c->req.content_length : 0;
    if (c->discard_left > cfg->max_request_body_discard)
        c->keep_alive = false;
    conn_respond(c);
}

/* A listener with proxy-protocol: the header comes before the first
 * request, and says whose the connection is.  Returns true once it has
 * been read (and taken out of rbuf); false while it is incomplete, or when
 * it is not valid (then the connection is closed: whatever sent it is not
 * the balancer this listener expects). */
static bool conn_read_proxy(struct fy_conn *c)
{
    struct sockaddr_storage src;
    long n = fy_proxy_parse(c->rbuf, c->rlen, conn_rbuf_size(c), &src);
    if (n < 0 || (n == 0 && c->rlen == conn_rbuf_size(c))) {
        fy_conn_close(c);
        return false;
    }
    if (n == 0)
        return false;
    if (src.ss_family != AF_UNSPEC)
        c->peer = c->client = src;
    memmove(c->rbuf, c->rbuf + n, c->rlen - (size_t)n);
    c->rlen -= (size_t)n;
    c->proxy_pending = false;
    if (!fy_server_count_peer(c->srv, c)) {
        fy_conn_refuse(c);
        return false;
    }
    return true;
}

/* Parses what rbuf holds, reading more as needed. */
static void conn_read_request(struct fy_conn *c)
{
    for (;;) {
        if (c->rlen > 0 && c->proxy_pending && !conn_read_proxy(c) && c->state != FY_CONN_READING)
            return; /* closed, or refused */
        if (c->rlen > 0 && !c->proxy_pending) {
            int status = fy_http_parse_resume(c->rbuf, c->rlen, conn_rbuf_size(c), &c->scan, &c->req);
            if (status != FY_HTTP_INCOMPLETE) {
                bool parsed = status == 0;
                if (parsed)
                    status = fy_http_analyse(&c->req);
                conn_handle_request(c, status, parsed);
                return;
            }
        }
        int got = conn_fill(c);
        if (got < 0)
            return;
        if (got == 0) {
            if (c->peer_closed && c->state == FY_CONN_READING)
                fy_conn_close(c); /* nothing more can arrive */
            return;
        }
    }
}

/* --- TLS ------------------------------------------------------------------ */

bool fy_conn_wants_https(const struct fy_conn *c)
{
    return !c->tp.tls && c->srv->cfg.redirect_to_https && c->srv->tls_port;
}

/* Plain HTTP on a TLS port: answered in plain text, as nginx does, and
 * the connection closes. */
static void conn_refuse_plain_http(struct fy_conn *c)
{
    fy_tls_conn_free(c->tp.tls);
    c->tp.tls = NULL;
    c->state = FY_CONN_READING;
    c->have_request = false;
    c->keep_alive = false;
    c->readable = true; /* the request waits unread: linger drains it */
    conn_respond_error(c, 400);
}

/* A TLS listener with proxy-protocol: the balancer sends the PROXY header
 * in plain text, then the client's TLS bytes follow.  The header is
 * peeked at, and only its own bytes are taken from the socket, so that
 * OpenSSL reads the handshake from the first byte.  Returns true once it
 * has been taken; false while it is incomplete, or when the connection was
 * closed (an invalid header, or max-connections-per-ip: a TLS client could
 * not read a plain 503). */
static bool conn_take_proxy_before_tls(struct fy_conn *c)
{
    size_t room = conn_rbuf_size(c);
    ssize_t got = recv(c->io.fd, c->rbuf, room, MSG_PEEK | MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
        c->readable = false;
        return false;
    }
    if (got <= 0) {
        fy_conn_close(c);
        return false;
    }
    struct sockaddr_storage src;
    long n = fy_proxy_parse(c->rbuf, (size_t)got, room, &src);
    if (n < 0 || (n == 0 && (size_t)got == room) || (n == 0 && c->peer_closed)) {
        fy_conn_close(c);
        return false;
    }
    if (n == 0) { /* more of it to come: the next bytes raise an event */
        c->readable = false;
        return false;
    }
    if (recv(c->io.fd, c->rbuf, (size_t)n, MSG_DONTWAIT) != n) { /* what was peeked is there */
        fy_conn_close(c);
        return false;
    }
    if (src.ss_family != AF_UNSPEC)
        c->peer = c->client = src;
    c->proxy_pending = false;
    if (!fy_server_count_peer(c->srv, c)) {
        fy_conn_close(c);
        return false;
    }
    return true;
}

static void conn_handshake(struct fy_conn *c)
{
    struct fy_stats_slot *slot = c->srv->slot;
    enum fy_tls_failure why;
    if (c->proxy_pending && !conn_take_proxy_before_tls(c))
        return;
    int r = fy_tls_handshake(c->tp.tls, &why);
    if (r == 0)
        return;
    if (r < 0) {
        fy_stats_add(slot, (enum fy_counter)(FY_C_TLS_FAIL_TIMEOUT + why - FY_TLS_FAIL_TIMEOUT), 1);
        if (why == FY_TLS_FAIL_PLAIN_HTTP)
            conn_refuse_plain_http(c);
        else
            fy_conn_close(c);
        return;
    }
    fy_stats_add(slot, FY_C_TLS_HANDSHAKES, 1);
    if (fy_tls_resumed(c->tp.tls))
        fy_stats_add(slot, FY_C_TLS_RESUMED, 1);
    if (fy_tls_kernel_sends(c->tp.tls))
        fy_stats_add(slot, FY_C_TLS_KTLS, 1);
    c->state = FY_CONN_READING;
    c->readable = true; /* a request may have come with the handshake's last flight */
    conn_arm(c, c->srv->stopping ? &c->srv->drain_timeouts : &c->srv->header_timeouts);
}

/* --- events --------------------------------------------------------------- */

static void conn_advance(struct fy_conn *c)
{
    for (;;) {
        enum fy_conn_state before = c->state;
        switch (c->state) {
        case FY_CONN_HANDSHAKING:
            conn_handshake(c);
            break;
        case FY_CONN_READING:
            conn_read_request(c);
            break;
        case FY_CONN_DISCARDING:
            if (conn_discard(c))
                conn_next_request(c);
            break;
        case FY_CONN_LOOKING_UP:
            /* A client that hangs up while its password is checked has given
             * up (nginx treats it so too): the check, slow by design, is
             * dropped rather than left to delay the clients still there. */
            if (c->peer_closed && fy_auth_waiting(c))
                fy_conn_close(c);
            return; /* conn_lookup_done() or the check's end goes on */
        case FY_CONN_SENDING:
            conn_send(c);
            break;
        case FY_CONN_LINGERING:
            conn_drain(c);
            return;
        case FY_CONN_CLOSED:
            return;
        }
        /* Keep going while a state finished its work in this call, e.g. a
         * response done and the next pipelined request already buffered. */
        if (c->state == before || c->state == FY_CONN_CLOSED)
            return;
        if (c->state == FY_CONN_READING && c->rlen == 0 && !c->readable)
            return;
    }
}

static void conn_on_io(struct fy_io *io, uint32_t events)
{
    struct fy_conn *c = container_of(io, struct fy_conn, io);
    if (c->state == FY_CONN_CLOSED)
        return; /* an event harvested in the same turn the connection closed */
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP))
        c->peer_closed = true;
    if (events & EPOLLERR) {
        fy_conn_close(c);
        return;
    }
    /* TLS bytes the socket could not take (a handshake's last flight) go
     * now, whatever the state: the client may be waiting for them. */
    if (events & EPOLLOUT)
        fy_transport_flush(&c->tp);
    conn_advance(c);
}

static void conn_on_timeout(struct fy_timer *t)
{
    struct fy_conn *c = container_of(t, struct fy_conn, timer);
    if (c->state == FY_CONN_HANDSHAKING) {
        fy_stats_add(c->srv->slot, FY_C_TLS_FAIL_TIMEOUT, 1);
        fy_conn_close(c);
        return;
    }
    if (c->state == FY_CONN_READING && c->rlen == 0) {
        if (c->srv->stopping)
            conn_drain_idle(c); /* drain-idle-timeout: a request may be arriving */
        else
            conn_close_idle(c);
        return;
    }
    /* A client that started a request and stalled gets a 408; an idle one,
     * or one we cannot send to, is simply closed. */
    if (c->state == FY_CONN_READING && c->rlen > 0) {
        c->have_request = false;
        c->keep_alive = false;
        conn_respond_error(c, 408);
        conn_advance(c);
        return;
    }
    /* Waiting for the backend's buffers behind other clients is not this
     * client's stall: its clock starts again, a few times. */
    if (c->state == FY_CONN_SENDING && c->xfer.queued && c->queued_timeouts++ < CONN_QUEUED_TIMEOUTS) {
        conn_arm(c, &c->srv->write_timeouts);
        return;
    }
    fy_conn_close(c);
}

int fy_conn_open(struct fy_server *srv, struct fy_conn *c, int fd, const struct sockaddr_storage *peer, bool tls)
{
    char *rbuf = c->rbuf, *wbuf = c->wbuf;
    if (!rbuf)
        rbuf = malloc(srv->cfg.max_request_header_size);
    if (!wbuf)
        wbuf = malloc(FY_CONN_HEAD_BUFFER);
    *c = (struct fy_conn){
        .io = {.fd = fd, .handler = conn_on_io},
        .tp = {.fd = fd},
        .srv = srv,
        .timer = {.handler = conn_on_timeout},
        .rate_timer = {.handler = conn_on_rate_tick},
        .state = FY_CONN_READING,
        .peer = *peer,
        .client = *peer,
        .rbuf = rbuf,
        .wbuf = wbuf,
        .file = {.fd = -1},
        .xfer = {.file_fd = -1, .wake = conn_wake},
    };
    if (!rbuf || !wbuf)
        return -ENOMEM;
    if (tls) {
        if (!(c->tp.tls = fy_tls_conn_new(&srv->tls, fd)))
            return -ENOMEM;
        c->state = FY_CONN_HANDSHAKING;
    }
    int err = fy_loop_add(&srv->loop, &c->io, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
    if (err) {
        fy_tls_conn_free(c->tp.tls);
        c->tp.tls = NULL;
        return err;
    }
    conn_arm(c, tls ? &srv->handshake_timeouts : &srv->header_timeouts);
    return 0;
}
