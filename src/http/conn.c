/* The connection state machine; see conn.h. */
#include "http/conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/realip.h"
#include "core/server.h"
#include "file/handler.h"
#include "http/http_response.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* Write timeouts a response may spend queued behind other clients for the
 * backend's buffers without one byte moving: bounded all the same, should
 * the buffers never come back (a disk that never answers holds them). */
#define CONN_QUEUED_TIMEOUTS 4

static void conn_wake(struct fy_transfer *t);
static void conn_on_rate_tick(struct fy_timer *t);
static bool conn_discard(struct fy_conn *c);
static void conn_next_request(struct fy_conn *c);

static size_t conn_rbuf_size(const struct fy_conn *c)
{
    return c->srv->cfg.max_request_header_size;
}

static void conn_arm(struct fy_conn *c, struct fy_timer_queue *q)
{
    fy_link_arm(c->link, q);
}

size_t fy_conn_size(const struct fy_config *cfg)
{
    return sizeof(struct fy_conn) + cfg->max_request_header_size + FY_CONN_HEAD_BUFFER;
}

void fy_conn_init_buffers(struct fy_conn *c, const struct fy_config *cfg)
{
    c->rbuf = (char *)(c + 1);
    c->wbuf = c->rbuf + cfg->max_request_header_size;
}

void fy_conn_start(struct fy_conn *c, struct fy_link *l)
{
    char *rbuf = c->rbuf, *wbuf = c->wbuf;
    memset(c, 0, offsetof(struct fy_conn, req));
    c->link = l;
    c->srv = l->srv;
    c->state = FY_CONN_READING;
    c->rbuf = rbuf;
    c->wbuf = wbuf;
    c->client = l->peer;
    c->file.fd = -1;
    c->xfer.file_fd = -1;
    c->xfer.wake = conn_wake;
    c->rate_timer.handler = conn_on_rate_tick;
}

bool fy_conn_idle(const struct fy_conn *c)
{
    return c->state == FY_CONN_READING && c->rlen == 0;
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
    fy_transport_cork(&c->link->tp, false); /* the tail of the body goes now */
    c->rate.rate = 0;
    c->xfer.read_max = 0;
    fy_timer_disarm(&c->rate_timer);
    if (c->xfer.state)
        c->srv->backend->ops->cancel(c->srv->backend, &c->xfer);
    c->xfer.state = NULL;
    c->xfer.file_fd = -1;
    c->xfer.offset = c->xfer.end = 0;
    fy_file_close(&c->file);
    if (c->body)
        fy_body_release(c->body);
    c->body = NULL;
    c->xfer.mem = NULL;
    c->mp.nranges = 0;
    free(c->body_mem);
    c->body_mem = NULL;
    c->body_mem_sent = false;
    free(c->head_mem);
    c->head_mem = NULL;
}

/* Ends the connection now (an error, a client gone). */
static void conn_close(struct fy_conn *c)
{
    fy_link_close(c->link);
}

void fy_conn_end(struct fy_conn *c)
{
    if (c->state == FY_CONN_SENDING)
        conn_log_response(c);
    if (c->lookup.state)
        c->srv->backend->ops->lookup_cancel(c->srv->backend, &c->lookup);
    fy_auth_cancel(c);
    conn_end_transfer(c);
}

/* Closing a socket whose receive queue holds data makes the kernel send a
 * RST, which can destroy a response the client has not read yet.  So after
 * answering a client that may still be sending, the link drains theirs for
 * a short while first. */
static void conn_linger(struct fy_conn *c)
{
    if (!c->link->readable && c->rlen == c->consumed && c->discard_left == 0)
        fy_link_close_idle(c->link);
    else
        fy_link_linger(c->link);
}

/* --- responding ----------------------------------------------------------- */

static void conn_start_sending(struct fy_conn *c, char *head, size_t head_len)
{
    /* A body larger than one turn's budget leaves in several calls: full
     * segments only until it ends (see fy_transport_cork()). */
    if (c->xfer.end - c->xfer.offset > (off_t)c->srv->cfg.send_chunk_size)
        fy_transport_cork(&c->link->tp, true);
    c->xfer.out = &c->link->tp;
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
 * or in the fy_conn_advance() that follows. */
void fy_conn_refuse(struct fy_conn *c)
{
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
    struct fy_link *l = c->link;
    conn_respond(c);
    fy_link_run(l);
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

/* One step of sending: the backend for a file range (or one writev() when
 * the body cache holds the file), plain send() for a segment that is all
 * head. */
static enum fy_send_result conn_send_segment(struct fy_conn *c, size_t budget, size_t *moved)
{
    struct fy_backend *b = c->srv->backend;
    off_t before = c->xfer.offset;
    size_t head_before = c->xfer.head_len;
    enum fy_send_result r = c->xfer.offset >= c->xfer.end ? fy_transfer_send_head(&c->xfer, false)
                            : c->xfer.mem                 ? fy_transfer_send_mem(&c->xfer, budget)
                                                          : b->ops->send(b, &c->xfer, budget);
    *moved = conn_account(c, head_before - c->xfer.head_len, c->xfer.offset - before);
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
    fy_link_run(container_of(t, struct fy_conn, rate_timer)->link);
}

/* The budget bounds what one connection sends per loop turn, so one fast
 * download cannot starve the others; it spans the segments of a response.
 * limit-rate bounds it further. */
static void conn_send(struct fy_conn *c)
{
    size_t budget = fy_rate_allowance(&c->rate, c->body_bytes, c->srv->loop.now_ms, c->srv->cfg.send_chunk_size);
    size_t moved, all = 0;
    enum fy_send_result r;
    if (budget == 0) {
        conn_pause(c);
        return;
    }
    for (;;) {
        r = conn_send_segment(c, budget, &moved);
        all += moved;
        if (r != FY_SEND_DONE || !conn_next_segment(c))
            break;
        budget = moved < budget ? budget - moved : 0;
        if (budget == 0) {
            r = FY_SEND_YIELD;
            break;
        }
    }
    if (r == FY_SEND_DONE && fy_transport_flush(&c->link->tp) < 0) { /* TLS bytes still held */
        r = errno == EAGAIN ? FY_SEND_AGAIN : FY_SEND_ERROR;
        c->xfer.error = errno;
    }
    /* Bytes moved: the write timeout starts again (a response that is done
     * takes the keep-alive or linger timeout instead). */
    if (all && r != FY_SEND_DONE) {
        conn_arm(c, &c->srv->write_timeouts);
        c->queued_timeouts = 0;
    }
    switch (r) {
    case FY_SEND_DONE:
        conn_finish_response(c);
        break;
    case FY_SEND_YIELD:
        fy_loop_defer(&c->srv->loop, &c->link->io);
        break;
    case FY_SEND_AGAIN:
    case FY_SEND_WAIT:
        break;
    case FY_SEND_ERROR:
        if (c->xfer.error != EPIPE && c->xfer.error != ECONNRESET)
            fy_log(&c->srv->log, FY_LOG_ERROR, "sending a response failed: %s", strerror(c->xfer.error));
        conn_close(c);
        break;
    }
}

static void conn_wake(struct fy_transfer *t)
{
    struct fy_conn *c = container_of(t, struct fy_conn, xfer);
    fy_link_run(c->link);
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
    struct fy_link *l = c->link;
    size_t room = conn_rbuf_size(c) - c->rlen;
    if (!l->readable || room == 0)
        return 0;
    ssize_t n = fy_transport_read(&l->tp, c->rbuf + c->rlen, room);
    if (n > 0) {
        c->rlen += (size_t)n;
        /* A short read emptied the socket; edge-triggered epoll says when more
         * comes.  Unless the client has shut its side: then no event will
         * come, and the EOF waiting behind the data must still be read. */
        if ((size_t)n < room && !l->peer_closed)
            l->readable = false;
        return 1;
    }
    if (n < 0 && errno == EAGAIN) {
        l->readable = false;
        return 0;
    }
    conn_close(c);
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
    c->nrequests = ++c->link->nrequests;
    c->have_request = parsed;
    if (parsed && cfg->nreal_ip_from)
        fy_realip(cfg, &c->link->peer, &c->req, &c->client);
    else
        c->client = c->link->peer;
    /* Stopping, the link waited under drain-idle-timeout: the request that
     * came is answered under the header timeout, as it would be read. */
    if (c->link->timer.queue == &c->srv->drain_timeouts)
        conn_arm(c, &c->srv->header_timeouts);
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

/* Parses what rbuf holds, reading more as needed. */
static void conn_read_request(struct fy_conn *c)
{
    for (;;) {
        if (c->rlen > 0) {
            int status = fy_http_parse_resume(c->rbuf, c->rlen, conn_rbuf_size(c), &c->scan, &c->req);
            if (status != FY_HTTP_INCOMPLETE) {
                bool parsed = status == 0;
                if (parsed)
                    status = fy_http_analyse(&c->req);
                conn_handle_request(c, status, parsed);
                return;
            }
            /* Part of a head: the clock for the whole head starts (once; a
             * head that came whole in one read needs none). */
            if (c->link->timer.queue != &c->srv->header_timeouts)
                conn_arm(c, &c->srv->header_timeouts);
        }
        int got = conn_fill(c);
        if (got < 0)
            return;
        if (got == 0) {
            if (c->link->peer_closed && c->state == FY_CONN_READING)
                conn_close(c); /* nothing more can arrive */
            return;
        }
    }
}

/* --- TLS ------------------------------------------------------------------ */

bool fy_conn_wants_https(const struct fy_conn *c)
{
    return !c->link->tp.tls && c->srv->cfg.redirect_to_https && c->srv->tls_port;
}

void fy_conn_refuse_plain_http(struct fy_conn *c)
{
    c->have_request = false;
    c->keep_alive = false;
    conn_respond_error(c, 400);
}

/* --- events --------------------------------------------------------------- */

void fy_conn_advance(struct fy_conn *c)
{
    for (;;) {
        enum fy_conn_state before = c->state;
        switch (c->state) {
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
            if (c->link->peer_closed && fy_auth_waiting(c))
                conn_close(c);
            return; /* conn_lookup_done() or the check's end goes on */
        case FY_CONN_SENDING:
            conn_send(c);
            break;
        case FY_CONN_CLOSED:
            return;
        }
        /* Keep going while a state finished its work in this call, e.g. a
         * response done and the next pipelined request already buffered. */
        if (c->state == before || c->state == FY_CONN_CLOSED)
            return;
        if (c->state == FY_CONN_READING && c->rlen == 0 && !c->link->readable)
            return;
    }
}

void fy_conn_timeout(struct fy_conn *c)
{
    /* A client that started a request and stalled gets a 408; one we
     * cannot send to is simply closed.  (An idle one is the link's.) */
    if (c->state == FY_CONN_READING) {
        c->have_request = false;
        c->keep_alive = false;
        conn_respond_error(c, 408);
        fy_conn_advance(c);
        return;
    }
    /* Waiting for the backend's buffers behind other clients is not this
     * client's stall: its clock starts again, a few times. */
    if (c->state == FY_CONN_SENDING && c->xfer.queued && c->queued_timeouts++ < CONN_QUEUED_TIMEOUTS) {
        conn_arm(c, &c->srv->write_timeouts);
        return;
    }
    conn_close(c);
}
