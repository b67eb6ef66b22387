/* The HTTP/1.1 connection state machine; see conn.h. */
#include "http1/conn.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "http/http_response.h"
#include "http2/h2.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
/* Write timeouts a response may spend queued behind other clients for the
 * backend's buffers without one byte moving: bounded all the same, should
 * the buffers never come back (a disk that never answers holds them). */
#define CONN_QUEUED_TIMEOUTS 4

static bool conn_discard(struct fy_conn *c);
static void conn_next_request(struct fy_conn *c);
static void conn_respond(struct fy_conn *c);

static const struct fy_exchange_carrier conn_carrier;

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
    return sizeof(struct fy_conn) + cfg->max_request_header_size + FY_EXCHANGE_HEAD_BUFFER;
}

void fy_conn_init_buffers(struct fy_conn *c, const struct fy_config *cfg)
{
    c->rbuf = (char *)(c + 1);
    fy_exchange_init(&c->ex, c->rbuf + cfg->max_request_header_size);
}

void fy_conn_start(struct fy_conn *c, struct fy_link *l)
{
    char *rbuf = c->rbuf;
    memset(c, 0, offsetof(struct fy_conn, ex));
    c->link = l;
    c->srv = l->srv;
    c->state = FY_CONN_READING;
    c->rbuf = rbuf;
    fy_exchange_init(&c->ex, c->ex.wbuf);
}

bool fy_conn_idle(const struct fy_conn *c)
{
    return c->state == FY_CONN_READING && c->rlen == 0;
}

/* A request (or a refusal before one) begins its exchange. */
static void conn_begin(struct fy_conn *c, bool parsed)
{
    fy_exchange_begin(&c->ex, c->srv, &conn_carrier, c, &c->link->tp, c->link->tp.tls != NULL,
                      ++c->link->nrequests);
    c->ex.have_request = parsed;
    fy_exchange_set_client(&c->ex, &c->link->peer);
}

/* --- closing -------------------------------------------------------------- */

/* Ends the connection now (an error, a client gone). */
static void conn_close(struct fy_conn *c)
{
    fy_link_close(c->link);
}

void fy_conn_end(struct fy_conn *c)
{
    fy_exchange_end(&c->ex);
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

static void conn_start_sending(struct fy_conn *c)
{
    c->state = FY_CONN_SENDING;
    c->first_send = true;
    conn_arm(c, &c->srv->write_timeouts);
}

static void conn_respond_error(struct fy_conn *c, int status)
{
    fy_exchange_respond_error(&c->ex, status);
    conn_start_sending(c);
}

/* The answer leaves when the socket is writable: at once for a connection
 * just added to the loop (edge-triggered, it reports writable first),
 * or in the fy_conn_advance() that follows. */
void fy_conn_refuse(struct fy_conn *c)
{
    conn_begin(c, false);
    c->ex.keep_alive = false;
    conn_respond_error(c, 503);
}

static void conn_respond(struct fy_conn *c)
{
    if (fy_exchange_respond(&c->ex) == FY_EXCHANGE_WAITING) {
        c->state = FY_CONN_LOOKING_UP;
        conn_arm(c, &c->srv->write_timeouts); /* a disk that never answers */
        return;
    }
    conn_start_sending(c);
}

static void conn_resume(struct fy_exchange *ex)
{
    struct fy_conn *c = ex->owner;
    struct fy_link *l = c->link;
    conn_respond(c);
    fy_link_run(l);
}

static void conn_wake(struct fy_exchange *ex)
{
    struct fy_conn *c = ex->owner;
    fy_link_run(c->link);
}

static const struct fy_exchange_carrier conn_carrier = {
    .resume = conn_resume,
    .wake = conn_wake,
};

/* The response is out: log it, drop what is left of the request body,
 * then read the next request or close. */
static void conn_finish_response(struct fy_conn *c)
{
    fy_exchange_end(&c->ex);
    c->state = FY_CONN_DISCARDING; /* no longer sending: closing now logs nothing more */
    if (!c->ex.keep_alive) {
        conn_linger(c);
        return;
    }
    if (conn_discard(c))
        conn_next_request(c);
}

/* A response's first bytes go at once, up to send-chunk-size: a small one
 * is answered in the turn its request came.  What is left of a larger one
 * takes its share of the turn's budget, in turn with the other responses
 * going on (event/loop.h).  First bytes are bounded by the requests that
 * came and do not spend the budget: however many small requests come,
 * the downloads in the ring still move every turn.  limit-rate bounds a
 * response further. */
static void conn_send(struct fy_conn *c)
{
    struct fy_loop *loop = &c->srv->loop;
    size_t chunk = c->srv->cfg.send_chunk_size;
    bool first = c->first_send;
    size_t budget = first ? chunk : fy_loop_allowance(loop, chunk);
    c->first_send = false;
    if (budget == 0) {
        fy_loop_defer(loop, &c->link->io);
        return;
    }
    size_t moved;
    enum fy_send_result r = fy_exchange_send(&c->ex, budget, &moved);
    if (!first)
        fy_loop_spend(loop, moved);
    /* Bytes moved: the write timeout starts again (a response that is done
     * takes the keep-alive or linger timeout instead). */
    if (moved && r != FY_SEND_DONE)
        conn_arm(c, &c->srv->write_timeouts);
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
        conn_close(c);
        break;
    }
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
    struct fy_exchange *ex = &c->ex;
    conn_begin(c, parsed);
    /* Stopping, the link waited under drain-idle-timeout: the request that
     * came is answered under the header timeout, as it would be read. */
    if (c->link->timer.queue == &c->srv->drain_timeouts)
        conn_arm(c, &c->srv->header_timeouts);
    c->consumed = parsed ? ex->req.head_len : c->rlen;
    ex->keep_alive = parsed && ex->req.keep_alive && !c->srv->stopping &&
                     (cfg->max_keepalive_requests == 0 || ex->nrequests < cfg->max_keepalive_requests);
    if (status) {
        conn_respond_error(c, status);
        return;
    }
    /* The body is dropped after the response (the request is still needed
     * while responding); one too large to be worth reading ends the
     * connection instead. */
    c->discard_left = ex->req.has_content_length ? ex->req.content_length : 0;
    if (c->discard_left > cfg->max_request_body_discard)
        ex->keep_alive = false;
    conn_respond(c);
}

/* A plain connection that opens with HTTP/2's preface speaks HTTP/2 from
 * its first byte (prior knowledge, RFC 9113 §3.3).  Returns true when rbuf
 * holds the preface or its beginning: not a request to parse. */
static bool conn_h2_preface(struct fy_conn *c)
{
    struct fy_link *l = c->link;
    if (l->nrequests > 0 || l->tp.tls || !c->srv->cfg.http2 || !fy_h2_preface_prefix(c->rbuf, c->rlen))
        return false;
    if (c->rlen >= FY_H2_PREFACE_LEN)
        fy_link_speak_h2(l, c->rbuf, c->rlen);
    return true;
}

/* Parses what rbuf holds, reading more as needed. */
static void conn_read_request(struct fy_conn *c)
{
    for (;;) {
        if (c->rlen > 0 && conn_h2_preface(c)) {
            if (c->state == FY_CONN_CLOSED)
                return; /* HTTP/2 has the connection */
        } else if (c->rlen > 0) {
            int status = fy_http_parse_resume(c->rbuf, c->rlen, conn_rbuf_size(c), &c->scan, &c->ex.req);
            if (status != FY_HTTP_INCOMPLETE) {
                bool parsed = status == 0;
                if (parsed)
                    status = fy_http_analyse(&c->ex.req);
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

void fy_conn_refuse_plain_http(struct fy_conn *c)
{
    conn_begin(c, false);
    c->ex.keep_alive = false;
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
            if (c->link->peer_closed && fy_auth_waiting(&c->ex))
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
        conn_begin(c, false);
        c->ex.keep_alive = false;
        conn_respond_error(c, 408);
        fy_conn_advance(c);
        return;
    }
    /* Waiting for the backend's buffers behind other clients is not this
     * client's stall: its clock starts again, a few times. */
    if (c->state == FY_CONN_SENDING && c->ex.xfer.queued && c->ex.queued_timeouts++ < CONN_QUEUED_TIMEOUTS) {
        conn_arm(c, &c->srv->write_timeouts);
        return;
    }
    conn_close(c);
}
