/* HTTP/2 on one connection; see h2.h.
 *
 * The session: streams and their requests, nghttp2's callbacks, the
 * limits, the timers, and the run that moves everything; a stream's body
 * is h2_stream.c's, the connection's output h2_out.c's.
 *
 * Streams close inside nghttp2's calls (an END_STREAM sent, a RST_STREAM
 * received): their exchange is ended, and memory freed, only once the
 * outermost call returns (`depth`, `dead`). */
#include "http2/h2.h"
#include "http2/h2_conn.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/server.h"
#include "core/stats.h"
#include "http1/conn.h"
#include "http/link.h"
#include "http2/h2_head.h"
#include "net/transport.h"
#include "request/exchange.h"

/* --- streams ---------------------------------------------------------------- */

static void stream_free(struct fy_h2_stream *s)
{
    struct fy_h2 *h = s->h2;
    fy_timer_disarm(&s->timer);
    fy_h2_ready_remove(s);
    if (s->c) {
        if (s->started)
            fy_exchange_end(&s->c->ex);
        fy_server_put_conn(h->srv, s->c);
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        h->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->nstreams--;
    if (s->state == FY_H2_HEADERS)
        h->nheaders--;
    free(s);
}

/* After the outermost call: the streams nghttp2 closed meanwhile go. */
static void reap(struct fy_h2 *h)
{
    if (h->depth > 0)
        return;
    while (h->dead) {
        struct fy_h2_stream *s = h->dead;
        h->dead = s->dead_next;
        stream_free(s);
    }
}

static void stream_reset(struct fy_h2_stream *s, uint32_t code)
{
    nghttp2_submit_rst_stream(s->h2->ng, NGHTTP2_FLAG_NONE, s->id, code);
}

/* --- requests --------------------------------------------------------------- */

static void stream_respond(struct fy_h2_stream *s);
static void h2_arm(struct fy_h2 *h);
static void on_stream_timeout(struct fy_timer *t);

static void exchange_resume(struct fy_exchange *ex)
{
    struct fy_h2_stream *s = ex->owner;
    struct fy_h2 *h = s->h2;
    h->depth++;
    stream_respond(s);
    h->depth--;
    fy_h2_run(h);
}

static void exchange_wake(struct fy_exchange *ex)
{
    struct fy_h2_stream *s = ex->owner;
    fy_h2_ready_push(s);
    fy_loop_defer(&s->h2->srv->loop, &s->h2->link->io);
}

static const struct fy_exchange_carrier h2_carrier = {
    .resume = exchange_resume,
    .wake = exchange_wake,
};

/* The response head (HTTP/1.1 text) as HEADERS; the body, if any, follows
 * as DATA frames from the stream's transport. */
static void stream_submit(struct fy_h2_stream *s)
{
    struct fy_exchange *ex = &s->c->ex;
    nghttp2_nv nv[H2_MAX_FIELDS];
    int64_t length;
    size_t head_len = fy_exchange_head_length(ex);
    int n = fy_h2_response_fields((char *)ex->xfer.head, head_len, nv, H2_MAX_FIELDS, &length);
    if (n < 0) {
        stream_reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    fy_exchange_skip_head(ex);
    bool body = fy_exchange_has_body(ex) && length != 0;
    /* The fields point into the head buffer, which a multipart body's
     * part heads reuse before the HEADERS frame may have gone: copied. */
    if (ex->mp.nranges > 0)
        for (int i = 0; i < n; i++)
            nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    s->body_left = body ? length : 0;
    nghttp2_data_provider data = {.source.ptr = s, .read_callback = fy_h2_on_data_read};
    if (nghttp2_submit_response(s->h2->ng, s->id, nv, (size_t)n, body ? &data : NULL) != 0) {
        stream_reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    s->state = body ? FY_H2_SENDING : FY_H2_SENT;
    if (body) {
        fy_timer_arm(&s->h2->srv->loop, &s->h2->srv->write_timeouts, &s->timer);
        s->first_slice = true;
        fy_h2_ready_push(s);
    }
}

static void stream_respond(struct fy_h2_stream *s)
{
    if (fy_exchange_respond(&s->c->ex) == FY_EXCHANGE_WAITING) {
        s->state = FY_H2_WAITING;
        return;
    }
    stream_submit(s);
}

/* The request's fields are all in: its HTTP/1.1 head is parsed as one
 * that came over HTTP/1.1, and answered. */
static void stream_request(struct fy_h2_stream *s)
{
    struct fy_h2 *h = s->h2;
    struct fy_conn *c = s->c;
    size_t len = 0;
    int status = fy_h2_request_head_finish(&s->head, &len);
    bool parsed = false;
    if (status == 0) {
        status = fy_http_parse(c->rbuf, len, h->srv->cfg.max_request_header_size, &c->ex.req);
        parsed = status == 0;
        if (parsed)
            status = fy_http_analyse(&c->ex.req);
    }
    c->ex.req.http2 = true;
    fy_exchange_begin(&c->ex, h->srv, &h2_carrier, s, &s->tp, h->link->tp.tls != NULL, ++h->link->nrequests);
    c->ex.have_request = parsed;
    c->ex.keep_alive = true; /* no Connection field: HTTP/2 has none */
    fy_exchange_set_client(&c->ex, &h->link->peer);
    s->started = true;
    fy_stats_add(h->srv->slot, FY_C_H2_STREAMS, 1);
    if (status) {
        fy_exchange_respond_error(&c->ex, status);
        c->ex.keep_alive = true;
        stream_submit(s);
        return;
    }
    stream_respond(s);
}

/* RFC 9218's "u=N" of a priority field (its "i" is what the FIFO of each
 * urgency gives anyway). */
static uint8_t parse_urgency(const uint8_t *v, size_t len)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (v[i] == 'u' && v[i + 1] == '=' && v[i + 2] >= '0' && v[i + 2] <= '7' &&
            (i == 0 || v[i - 1] == ' ' || v[i - 1] == ','))
            return (uint8_t)(v[i + 2] - '0');
    return H2_DEFAULT_URGENCY;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct fy_h2 *h = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    /* Streams reset in this run are freed at its end: they count too, so
     * a burst of opened-and-reset streams holds at most this many buffers. */
    bool room = h->nstreams < h->srv->cfg.http2_max_concurrent_streams;
    struct fy_h2_stream *s = room ? calloc(1, sizeof *s) : NULL;
    struct fy_conn *c = s ? fy_server_take_conn(h->srv) : NULL;
    if (!c) {
        free(s);
        /* REFUSED_STREAM: the client may retry it (a callback failure
         * would add a second reset, INTERNAL_ERROR); with no user data the
         * stream's fields and frames are ignored until the reset closes it. */
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    s->h2 = h;
    s->id = frame->hd.stream_id;
    s->c = c;
    s->tp = (struct fy_transport){.fd = -1, .layer = &fy_h2_stream_layer};
    s->urgency = H2_DEFAULT_URGENCY;
    s->body_left = -1;
    s->timer.handler = on_stream_timeout;
    fy_h2_request_head_init(&s->head, c->rbuf, h->srv->cfg.max_request_header_size);
    s->next = h->streams;
    if (s->next)
        s->next->prev = s;
    h->streams = s;
    h->nstreams++;
    h->nheaders++;
    nghttp2_session_set_stream_user_data(ng, s->id, s);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    (void)flags, (void)user;
    struct fy_h2_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!s || s->state != FY_H2_HEADERS || s->head.overflow)
        return 0; /* a 431 once the fields end: the rest is not looked at */
    if (namelen == 8 && memcmp(name, "priority", 8) == 0)
        s->urgency = parse_urgency(value, valuelen);
    fy_h2_request_head_add(&s->head, name, namelen, value, valuelen);
    return 0;
}

/* Costs a token of the junk budget; false when it is spent (a flood). */
static bool junk_allowed(struct fy_h2 *h)
{
    int64_t now = h->srv->loop.now_ms;
    h->junk_tokens += (double)(now - h->junk_ms) * H2_JUNK_RATE / 1000.0;
    if (h->junk_tokens > H2_JUNK_BURST)
        h->junk_tokens = H2_JUNK_BURST;
    h->junk_ms = now;
    if (h->junk_tokens < 1)
        return false;
    h->junk_tokens -= 1;
    return true;
}

static bool is_junk(const nghttp2_frame *frame)
{
    switch (frame->hd.type) {
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
        return !(frame->hd.flags & NGHTTP2_FLAG_ACK);
    case NGHTTP2_WINDOW_UPDATE:
    case NGHTTP2_PRIORITY:
    case NGHTTP2_RST_STREAM:
    case NGHTTP2_PRIORITY_UPDATE:
        return true;
    case NGHTTP2_DATA:
        return frame->hd.length == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
    default:
        return false;
    }
}

/* PRIORITY_UPDATE (RFC 9218 §7.1): the stream moves to its new urgency. */
static void reprioritise(struct fy_h2 *h, const nghttp2_ext_priority_update *update)
{
    struct fy_h2_stream *s = nghttp2_session_get_stream_user_data(h->ng, update->stream_id);
    if (!s)
        return;
    uint8_t urgency = parse_urgency(update->field_value, update->field_value_len);
    bool was_ready = s->ready;
    fy_h2_ready_remove(s);
    s->urgency = urgency;
    if (was_ready)
        fy_h2_ready_push(s);
}

/* Ends the connection for an error, once: counted, GOAWAY (nghttp2 then
 * takes no new stream and queues no ACK), closed once that went out. */
static void end_with(struct fy_h2 *h, uint32_t code)
{
    if (h->ended)
        return;
    h->ended = true;
    fy_stats_add(h->srv->slot, code == NGHTTP2_ENHANCE_YOUR_CALM ? FY_C_H2_FLOODS : FY_C_H2_PROTOCOL_ERRORS, 1);
    nghttp2_session_terminate_session(h->ng, code);
}

static void go_away(struct fy_h2 *h, uint32_t code)
{
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->ng), code,
                          NULL, 0);
    h->going_away = true;
}

static void window_opened(struct fy_h2 *h, int32_t id)
{
    for (struct fy_h2_stream *s = h->streams; s; s = s->next)
        if (s->window_shut && (id == 0 || s->id == id)) {
            s->window_shut = false;
            fy_h2_ready_push(s);
        }
}

/* Before nghttp2 acts on a frame (and queues its ACK), and for frames it
 * drops unseen (PRIORITY, with SETTINGS_NO_RFC7540_PRIORITIES sent). */
static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *user)
{
    (void)ng;
    struct fy_h2 *h = user;
    nghttp2_frame frame = {.hd = *hd};
    if (!h->ended && is_junk(&frame) && !junk_allowed(h))
        end_with(h, NGHTTP2_ENHANCE_YOUR_CALM);
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct fy_h2 *h = user;
    if (h->ended)
        return 0;
    if (frame->hd.type == NGHTTP2_WINDOW_UPDATE) {
        window_opened(h, frame->hd.stream_id);
        return 0;
    }
    if (frame->hd.type == NGHTTP2_PRIORITY_UPDATE) {
        reprioritise(h, frame->ext.payload);
        return 0;
    }
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        fy_stats_add(h->srv->slot, FY_C_H2_RESETS_RECEIVED, 1);
        return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct fy_h2_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (s && s->state == FY_H2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_HEADERS)) {
        h->nheaders--;
        h->requests_begun = true;
        stream_request(s);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    (void)code; /* a stream cut short is logged with the bytes that went */
    struct fy_h2 *h = user;
    struct fy_h2_stream *s = nghttp2_session_get_stream_user_data(ng, id);
    if (!s || s->closed)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    s->closed = true;
    fy_h2_ready_remove(s);
    fy_timer_disarm(&s->timer);
    s->dead_next = h->dead;
    h->dead = s;
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    (void)ng;
    struct fy_h2 *h = user;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        fy_stats_add(h->srv->slot, FY_C_H2_GOAWAYS, 1);
        if (frame->goaway.error_code != NGHTTP2_NO_ERROR && !h->ended) { /* nghttp2's own */
            h->ended = true;
            fy_stats_add(h->srv->slot, frame->goaway.error_code == NGHTTP2_ENHANCE_YOUR_CALM
                                           ? FY_C_H2_FLOODS : FY_C_H2_PROTOCOL_ERRORS, 1);
        }
    } else if (frame->hd.type == NGHTTP2_RST_STREAM) {
        fy_stats_add(h->srv->slot, FY_C_H2_RESETS_SENT, 1);
    } else if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && frame->hd.stream_id > 0 &&
               (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
               nghttp2_session_get_stream_remote_close(ng, frame->hd.stream_id) == 0) {
        /* The response is whole but the request is not (a body still
         * coming): RFC 9113 §8.1 lets the server stop it. */
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

/* --- the stream's timer ------------------------------------------------------ */

/* A body that has not moved for the write timeout (a window kept shut, a
 * disk that never answers) is given up: that stream only. */
static void on_stream_timeout(struct fy_timer *t)
{
    struct fy_h2_stream *s = container_of(t, struct fy_h2_stream, timer);
    struct fy_h2 *h = s->h2;
    fy_stats_add(h->srv->slot, FY_C_H2_STALLS, 1);
    h->depth++;
    stream_reset(s, NGHTTP2_CANCEL);
    h->depth--;
    fy_h2_run(h);
}

/* --- running ---------------------------------------------------------------- */

static bool h2_read(struct fy_h2 *h)
{
    struct fy_link *l = h->link;
    char buf[H2_READ_CHUNK];
    size_t budget = H2_READ_BUDGET;
    while (l->readable && budget > 0 && !h->failed && !h->ended) {
        ssize_t n = fy_transport_read(&l->tp, buf, sizeof buf);
        if (n < 0 && errno == EAGAIN) {
            l->readable = false;
            break;
        }
        if (n <= 0)
            return false;
        if ((size_t)n < sizeof buf && !l->peer_closed)
            l->readable = false;
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
        ssize_t rv = nghttp2_session_mem_recv(h->ng, (const uint8_t *)buf, (size_t)n);
        if (rv < 0) { /* said with a GOAWAY, which goes out before the close */
            end_with(h, rv == NGHTTP2_ERR_FLOODED ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR);
            break;
        }
    }
    if (l->readable)
        fy_loop_defer(&h->srv->loop, &l->io);
    return true;
}

/* What a stream's send came to, after moving `moved` bytes.  Returns false
 * when the socket is full: the caller keeps s ready, and no stream sends
 * more in this run. */
static bool stream_sent(struct fy_h2 *h, struct fy_h2_stream *s, enum fy_send_result r, size_t moved)
{
    if (moved)
        fy_timer_arm(&h->srv->loop, &h->srv->write_timeouts, &s->timer);
    switch (r) {
    case FY_SEND_DONE:
        s->state = FY_H2_SENT;
        fy_timer_disarm(&s->timer); /* what is left goes with the connection's output */
        nghttp2_session_resume_data(h->ng, s->id); /* END_STREAM, if the last frame did not carry it */
        break;
    case FY_SEND_YIELD:
        fy_h2_ready_push(s);
        break;
    case FY_SEND_AGAIN:
        return s->window_shut; /* its own window: only it waits (for a WINDOW_UPDATE) */
    case FY_SEND_WAIT:
        break;
    case FY_SEND_ERROR:
        stream_reset(s, NGHTTP2_INTERNAL_ERROR);
        break;
    }
    return true;
}

/* A response's first slice goes at once, as over HTTP/1.1: a small one is
 * answered in the turn its request came, even when downloads have spent
 * the turn's budget or wait in the loop's ring before this connection.
 * First slices spend no budget: they are bounded by the requests that
 * came.  Most urgent first.  Returns false when the socket is full. */
static bool h2_send_first_slices(struct fy_h2 *h)
{
    struct fy_h2_stream *firsts = NULL, **tail = &firsts, *s, *next;
    for (int u = 0; u < H2_URGENCIES; u++)
        for (s = h->ready_head[u]; s; s = next) {
            next = s->ready_next;
            if (s->first_slice) {
                fy_h2_ready_remove(s);
                *tail = s, tail = &s->ready_next, s->ready_next = NULL;
            }
        }
    bool socket_full = false;
    for (s = firsts; s; s = next) {
        next = s->ready_next;
        if (socket_full || h->failed) { /* their first slices go when the socket drains */
            fy_h2_ready_push(s);
            continue;
        }
        s->first_slice = false;
        size_t moved = 0;
        enum fy_send_result r = fy_exchange_send(&s->c->ex, H2_STREAM_SLICE, &moved);
        if (!stream_sent(h, s, r, moved)) {
            fy_h2_ready_push(s);
            socket_full = true;
        }
    }
    return !socket_full;
}

/* Gives the ready streams the connection's share of the turn's budget
 * (event/loop.h), a slice each, most urgent first and in turn within an
 * urgency. */
static void h2_send_bodies(struct fy_h2 *h)
{
    struct fy_loop *loop = &h->srv->loop;
    if (!h2_send_first_slices(h))
        return;
    size_t budget = fy_loop_allowance(loop, h->srv->cfg.send_chunk_size);
    struct fy_h2_stream *requeue = NULL, **requeue_tail = &requeue;
    struct fy_h2_stream *s;
    while (budget > 0 && !h->failed && (s = fy_h2_ready_pop(h))) {
        size_t moved = 0;
        size_t slice = budget < H2_STREAM_SLICE ? budget : H2_STREAM_SLICE;
        enum fy_send_result r = fy_exchange_send(&s->c->ex, slice, &moved);
        fy_loop_spend(loop, moved);
        budget = moved < budget ? budget - moved : 0;
        if (!stream_sent(h, s, r, moved)) { /* the socket is full: every stream waits for it */
            *requeue_tail = s, requeue_tail = &s->ready_next, s->ready_next = NULL;
            budget = 0;
        }
    }
    while (requeue) {
        s = requeue;
        requeue = s->ready_next;
        fy_h2_ready_push(s);
    }
}

static bool h2_has_ready(const struct fy_h2 *h)
{
    for (int u = 0; u < H2_URGENCIES; u++)
        if (h->ready_head[u])
            return true;
    return false;
}

static bool h2_done(const struct fy_h2 *h)
{
    if (h->out_len > 0)
        return false;
    if (h->going_away && h->nstreams == 0)
        return true;
    return !nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng);
}

void fy_h2_run(struct fy_h2 *h)
{
    struct fy_link *l = h->link;
    h->depth++;
    bool ok = h2_read(h);
    if (ok && fy_h2_out_flush(h) == 0) {
        ok = nghttp2_session_send(h->ng) == 0;
        if (ok)
            h2_send_bodies(h);
        ok = ok && nghttp2_session_send(h->ng) == 0;
    }
    if (ok && !h->failed && fy_h2_out_flush(h) < 0 && errno != EAGAIN)
        ok = false;
    h->depth--;
    reap(h);
    if (!ok || h->failed) {
        fy_link_close(l);
        return;
    }
    if (h->out_len == 0 && h->nstreams == 0 && h->out) { /* an idle connection holds no buffer */
        free(h->out);
        free(h->chunk);
        h->out = h->chunk = NULL;
    }
    if (h2_done(h)) {
        /* After an error the client may still be sending: its bytes are
         * drained a while, lest the close's RST destroy our GOAWAY. */
        if (h->ended)
            fy_link_linger(l);
        else
            fy_link_close_idle(l);
        return;
    }
    /* Bodies left for the next turn: at once when the output went, else
     * when the socket is writable again (EPOLLOUT). */
    if (h->out_len == 0 && h2_has_ready(h))
        fy_loop_defer(&h->srv->loop, &l->io);
    h2_arm(h);
}

/* The connection's own timer: the write timeout while output waits for
 * the socket (restarted only by bytes that went), the header timeout while
 * a request's fields are incomplete, the keep-alive timeout while no
 * stream is open (restarted by a request).  Streams sending a body have
 * their own (on_stream_timeout). */
static void h2_arm(struct fy_h2 *h)
{
    struct fy_link *l = h->link;
    struct fy_server *srv = h->srv;
    struct fy_timer_queue *q = h->out_len > 0 ? &srv->write_timeouts
                               : h->nheaders > 0 ? &srv->header_timeouts
                               : h->nstreams == 0 ? &srv->keepalive_timeouts
                               : NULL;
    bool restart = (q == &srv->write_timeouts && h->out_moved) ||
                   (q == &srv->keepalive_timeouts && h->requests_begun);
    h->out_moved = h->requests_begun = false;
    if (!q)
        fy_timer_disarm(&l->timer);
    else if (l->timer.queue != q || restart)
        fy_link_arm(l, q);
}

void fy_h2_timeout(struct fy_h2 *h)
{
    struct fy_link *l = h->link; /* readable after a close, unlike h */
    if (h->out_len > 0) {
        fy_link_close(l); /* nothing moved out for the write timeout */
        return;
    }
    /* Idle, or a request's fields that never ended: said, then closed. */
    if (!h->going_away)
        go_away(h, NGHTTP2_NO_ERROR);
    fy_h2_run(h);
    if (l->state != FY_LINK_CLOSED)
        fy_link_close_idle(l);
}

void fy_h2_shutdown(struct fy_h2 *h)
{
    if (h->going_away)
        return;
    go_away(h, NGHTTP2_NO_ERROR);
    fy_h2_run(h);
}

bool fy_h2_busy(const struct fy_h2 *h)
{
    return h->nstreams > 0;
}

/* --- life ------------------------------------------------------------------- */

bool fy_h2_preface_prefix(const char *buf, size_t len)
{
    size_t n = len < FY_H2_PREFACE_LEN ? len : FY_H2_PREFACE_LEN;
    return memcmp(buf, FY_H2_PREFACE, n) == 0;
}

static nghttp2_session_callbacks *callbacks(void)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return NULL;
    nghttp2_session_callbacks_set_send_callback(cb, fy_h2_on_send);
    nghttp2_session_callbacks_set_send_data_callback(cb, fy_h2_on_send_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    return cb;
}

static int session_new(struct fy_h2 *h)
{
    const struct fy_config *cfg = &h->srv->cfg;
    nghttp2_session_callbacks *cb = callbacks();
    nghttp2_option *opt = NULL;
    if (!cb || nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return -1;
    }
    nghttp2_option_set_max_continuations(opt, 8);
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_builtin_recv_extension_type(opt, NGHTTP2_PRIORITY_UPDATE);
    int rc = nghttp2_session_server_new2(&h->ng, cb, h, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, cfg->http2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cfg->max_request_header_size},
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    return nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, settings, sizeof settings / sizeof settings[0]);
}

int fy_h2_start(struct fy_link *l, const char *early, size_t early_len)
{
    struct fy_h2 *h = calloc(1, sizeof *h);
    if (!h)
        return -1;
    h->link = l;
    h->srv = l->srv;
    h->junk_tokens = H2_JUNK_BURST;
    h->junk_ms = l->srv->loop.now_ms;
    if (session_new(h) != 0) {
        if (h->ng)
            nghttp2_session_del(h->ng);
        free(h);
        return -1;
    }
    l->h2 = h;
    fy_stats_add(h->srv->slot, FY_C_H2_CONNECTIONS, 1);
    if (early_len > 0 && nghttp2_session_mem_recv(h->ng, (const uint8_t *)early, early_len) < 0)
        h->failed = true;
    return 0;
}

void fy_h2_free(struct fy_h2 *h)
{
    h->depth++;
    nghttp2_session_del(h->ng); /* calls no stream-close callback */
    h->depth--;
    while (h->streams) {
        struct fy_h2_stream *s = h->streams;
        if (s->closed) { /* on the dead list too: taken off it below */
            s->closed = false;
        }
        stream_free(s);
    }
    h->dead = NULL;
    free(h->out);
    free(h->chunk);
    free(h);
}
