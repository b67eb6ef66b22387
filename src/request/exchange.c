/* One request and its response; see exchange.h. */
#include "request/exchange.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/realip.h"
#include "core/server.h"
#include "file/body_cache.h"
#include "file/handler.h"
#include "http/http_response.h"
#include "net/transport.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static void on_transfer_wake(struct fy_transfer *t)
{
    struct fy_exchange *ex = container_of(t, struct fy_exchange, xfer);
    ex->carrier->wake(ex);
}

static void on_rate_tick(struct fy_timer *t)
{
    struct fy_exchange *ex = container_of(t, struct fy_exchange, rate_timer);
    ex->carrier->wake(ex);
}

static void on_lookup_done(struct fy_lookup *l)
{
    fy_exchange_resume(container_of(l, struct fy_exchange, lookup));
}

void fy_exchange_init(struct fy_exchange *ex, char *wbuf)
{
    memset(ex, 0, offsetof(struct fy_exchange, req));
    ex->wbuf = wbuf;
    ex->file.fd = -1;
    ex->xfer.file_fd = -1;
}

void fy_exchange_begin(struct fy_exchange *ex, struct fy_server *srv, const struct fy_exchange_carrier *carrier,
                       void *owner, struct fy_transport *out, bool tls, unsigned nrequests)
{
    fy_exchange_init(ex, ex->wbuf);
    ex->srv = srv;
    ex->carrier = carrier;
    ex->owner = owner;
    ex->tls = tls;
    ex->nrequests = nrequests;
    ex->xfer.out = out;
    ex->xfer.wake = on_transfer_wake;
    ex->rate_timer.handler = on_rate_tick;
}

/* --- the end ------------------------------------------------------------------ */

/* One access-log line per response, finished or cut short (client gone,
 * read error, timeout, shutdown): then with the bytes sent so far. */
static void log_response(struct fy_exchange *ex)
{
    struct fy_access_entry e = {
        .peer = &ex->client,
        .req = ex->have_request ? &ex->req : NULL,
        .status = ex->status,
        .body_bytes = ex->body_bytes,
        .user = ex->have_request ? fy_auth_user(ex) : NULL,
    };
    fy_log_access(&ex->srv->log, &e);
}

static void end_transfer(struct fy_exchange *ex)
{
    if (ex->xfer.out)
        fy_transport_cork(ex->xfer.out, false); /* the tail of the body goes now */
    ex->rate.rate = 0;
    ex->xfer.read_max = 0;
    fy_timer_disarm(&ex->rate_timer);
    if (ex->xfer.state)
        ex->srv->backend->ops->cancel(ex->srv->backend, &ex->xfer);
    ex->xfer.state = NULL;
    ex->xfer.file_fd = -1;
    ex->xfer.offset = ex->xfer.end = 0;
    fy_file_close(&ex->file);
    if (ex->body)
        fy_body_release(ex->body);
    ex->body = NULL;
    ex->xfer.mem = NULL;
    ex->mp.nranges = 0;
    free(ex->body_mem);
    ex->body_mem = NULL;
    ex->body_mem_sent = false;
    free(ex->head_mem);
    ex->head_mem = NULL;
}

void fy_exchange_end(struct fy_exchange *ex)
{
    if (!ex->srv)
        return; /* never begun */
    if (ex->responding)
        log_response(ex);
    ex->responding = false;
    ex->have_request = false;
    if (ex->lookup.state)
        ex->srv->backend->ops->lookup_cancel(ex->srv->backend, &ex->lookup);
    fy_auth_cancel(ex);
    end_transfer(ex);
}

/* --- responding ----------------------------------------------------------- */

static void start_sending(struct fy_exchange *ex, char *head, size_t head_len)
{
    /* A body larger than one turn's budget leaves in several calls: full
     * segments only until it ends (see fy_transport_cork()). */
    if (ex->xfer.end - ex->xfer.offset > (off_t)ex->srv->cfg.send_chunk_size)
        fy_transport_cork(ex->xfer.out, true);
    ex->xfer.head = head;
    ex->xfer.head_len = head_len;
    ex->xfer.error = 0;
    ex->queued_timeouts = 0;
    ex->responding = true;
}

void fy_exchange_respond_error(struct fy_exchange *ex, int status)
{
    if (fy_status_closes(status))
        ex->keep_alive = false;
    const char *extra = status == 405 ? "Allow: GET, HEAD, OPTIONS\r\n" : NULL;
    bool head_only = ex->have_request && ex->req.method == FY_METHOD_HEAD;
    int minor = ex->have_request ? ex->req.version_minor : 1;
    struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    size_t body = fy_response_error(&b, status, fy_server_date(ex->srv), extra, ex->keep_alive, minor,
                                    head_only);
    ex->head_nonbody = b.len - body;
    ex->status = status;
    start_sending(ex, ex->wbuf, b.len);
}

enum fy_exchange_result fy_exchange_respond(struct fy_exchange *ex)
{
    ex->head_nonbody = SIZE_MAX; /* the handler says when its head carries body bytes */
    int status = fy_handler_respond(ex);
    if (status == FY_HANDLER_WAIT)
        return FY_EXCHANGE_WAITING;
    if (status)
        fy_exchange_respond_error(ex, status);
    else
        start_sending(ex, ex->head_mem ? ex->head_mem : ex->wbuf, ex->xfer.head_len);
    return FY_EXCHANGE_READY;
}

void fy_exchange_set_client(struct fy_exchange *ex, const struct sockaddr_storage *peer)
{
    if (ex->have_request && ex->srv->cfg.nreal_ip_from)
        fy_realip(&ex->srv->cfg, peer, &ex->req, &ex->client);
    else
        ex->client = *peer;
}

void fy_exchange_resume(struct fy_exchange *ex)
{
    ex->carrier->resume(ex);
}

bool fy_exchange_lookup(struct fy_exchange *ex, int dirfd, const char *path)
{
    struct fy_backend *b = ex->srv->backend;
    if (ex->looked_up || !b->ops->lookup)
        return false;
    ex->looked_up = true;
    ex->lookup.done = on_lookup_done;
    return b->ops->lookup(b, &ex->lookup, dirfd, path);
}

bool fy_exchange_wants_https(const struct fy_exchange *ex)
{
    return !ex->tls && ex->srv->cfg.redirect_to_https && ex->srv->tls_port;
}

size_t fy_exchange_head_length(const struct fy_exchange *ex)
{
    return ex->head_nonbody < ex->xfer.head_len ? ex->head_nonbody : ex->xfer.head_len;
}

void fy_exchange_skip_head(struct fy_exchange *ex)
{
    size_t n = fy_exchange_head_length(ex);
    ex->xfer.head += n;
    ex->xfer.head_len -= n;
    ex->head_nonbody = 0;
}

bool fy_exchange_has_body(const struct fy_exchange *ex)
{
    return ex->xfer.head_len > fy_exchange_head_length(ex) || ex->xfer.offset < ex->xfer.end ||
           ex->mp.nranges > 0 || (ex->body_mem && !ex->body_mem_sent);
}

/* --- sending -------------------------------------------------------------- */

/* A transfer of the response is done: starts the next segment, if any —
 * a part of a multipart body (its head, then its range of the file), or
 * a body held in memory.  Returns false when the response is complete. */
static bool next_segment(struct fy_exchange *ex)
{
    ex->head_nonbody = 0; /* the response head has gone */
    if (ex->mp.nranges > 0 && ex->mp.next <= ex->mp.nranges) {
        struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
        fy_multipart_next(&ex->mp, &b, &ex->xfer.offset, &ex->xfer.end);
        ex->xfer.head = ex->wbuf;
        ex->xfer.head_len = b.len;
        return true;
    }
    if (ex->body_mem && !ex->body_mem_sent) {
        ex->body_mem_sent = true;
        ex->xfer.head = ex->body_mem;
        ex->xfer.head_len = ex->body_mem_len;
        return true;
    }
    return false;
}

/* Counts what one send moved; the access log wants body bytes only. */
static size_t account(struct fy_exchange *ex, size_t head_sent, off_t file_sent)
{
    size_t nonbody = head_sent < ex->head_nonbody ? head_sent : ex->head_nonbody;
    ex->head_nonbody -= nonbody;
    ex->body_bytes += head_sent - nonbody + (uint64_t)file_sent;
    return head_sent + (size_t)file_sent;
}

/* One step of sending: the backend for a file range (or one writev() when
 * the body cache holds the file), plain send() for a segment that is all
 * head. */
static enum fy_send_result send_segment(struct fy_exchange *ex, size_t budget, size_t *moved)
{
    struct fy_backend *b = ex->srv->backend;
    off_t before = ex->xfer.offset;
    size_t head_before = ex->xfer.head_len;
    enum fy_send_result r = ex->xfer.offset >= ex->xfer.end ? fy_transfer_send_head(&ex->xfer, false)
                            : ex->xfer.mem                  ? fy_transfer_send_mem(&ex->xfer, budget)
                                                            : b->ops->send(b, &ex->xfer, budget);
    *moved = account(ex, head_before - ex->xfer.head_len, ex->xfer.offset - before);
    return r;
}

/* limit-rate holds the response back until the next tick; the backend
 * gives back what it read ahead meanwhile. */
static void pause_sending(struct fy_exchange *ex)
{
    struct fy_backend *b = ex->srv->backend;
    if (b->ops->pause && ex->xfer.state)
        b->ops->pause(b, &ex->xfer);
    fy_timer_arm(&ex->srv->loop, &ex->srv->rate_ticks, &ex->rate_timer);
}

enum fy_send_result fy_exchange_send(struct fy_exchange *ex, size_t budget, size_t *moved)
{
    budget = fy_rate_allowance(&ex->rate, ex->body_bytes, ex->srv->loop.now_ms, budget);
    size_t step, all = 0;
    enum fy_send_result r;
    *moved = 0;
    if (budget == 0) {
        pause_sending(ex);
        return FY_SEND_WAIT;
    }
    for (;;) {
        r = send_segment(ex, budget, &step);
        all += step;
        if (r != FY_SEND_DONE || !next_segment(ex))
            break;
        budget = step < budget ? budget - step : 0;
        if (budget == 0) {
            r = FY_SEND_YIELD;
            break;
        }
    }
    if (r == FY_SEND_DONE && fy_transport_flush(ex->xfer.out) < 0) { /* TLS bytes still held */
        r = errno == EAGAIN ? FY_SEND_AGAIN : FY_SEND_ERROR;
        ex->xfer.error = errno;
    }
    if (all)
        ex->queued_timeouts = 0;
    if (r == FY_SEND_ERROR && ex->xfer.error != EPIPE && ex->xfer.error != ECONNRESET)
        fy_log(&ex->srv->log, FY_LOG_ERROR, "sending a response failed: %s", strerror(ex->xfer.error));
    *moved = all;
    return r;
}
