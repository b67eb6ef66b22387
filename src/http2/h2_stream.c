/* A stream's body; see h2_conn.h.
 *
 * A stream's payload is offered by its backend, one write at a time, to
 * the stream's transport (stream_writev, stream_sendfile): the offer is
 * held for nghttp2, which takes from it what the windows allow as DATA
 * frames (NGHTTP2_DATA_FLAG_NO_COPY), and the write returns what was
 * taken.  So nghttp2 keeps the windows and the framing, the backends stay
 * as they are, and no DATA frame is promised before its bytes are at hand. */
#include "http2/h2_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/link.h"

void fy_h2_ready_push(struct fy_h2_stream *s)
{
    struct fy_h2 *h = s->h2;
    if (s->ready || s->closed)
        return;
    s->ready = true;
    s->ready_next = NULL;
    if (h->ready_tail[s->urgency])
        h->ready_tail[s->urgency]->ready_next = s;
    else
        h->ready_head[s->urgency] = s;
    h->ready_tail[s->urgency] = s;
}

struct fy_h2_stream *fy_h2_ready_pop(struct fy_h2 *h)
{
    for (int u = 0; u < H2_URGENCIES; u++) {
        struct fy_h2_stream *s = h->ready_head[u];
        if (!s)
            continue;
        h->ready_head[u] = s->ready_next;
        if (!h->ready_head[u])
            h->ready_tail[u] = NULL;
        s->ready = false;
        return s;
    }
    return NULL;
}

void fy_h2_ready_remove(struct fy_h2_stream *s)
{
    struct fy_h2 *h = s->h2;
    if (!s->ready)
        return;
    struct fy_h2_stream **p = &h->ready_head[s->urgency], *prev = NULL;
    while (*p != s)
        prev = *p, p = &(*p)->ready_next;
    *p = s->ready_next;
    if (h->ready_tail[s->urgency] == s)
        h->ready_tail[s->urgency] = prev;
    s->ready = false;
}

/* How much the windows let this stream send now. */
static size_t stream_window(const struct fy_h2_stream *s)
{
    int32_t sw = nghttp2_session_get_stream_remote_window_size(s->h2->ng, s->id);
    int32_t cw = nghttp2_session_get_remote_window_size(s->h2->ng);
    int32_t w = sw < cw ? sw : cw;
    return w > 0 ? (size_t)w : 0;
}

/* How many bytes the stream may send now (the windows), `out` drained
 * first when full; 0 with errno: EAGAIN (a shut window: the stream runs
 * again at a WINDOW_UPDATE), EPIPE (the stream or connection is gone). */
static size_t stream_room(struct fy_h2_stream *s)
{
    struct fy_h2 *h = s->h2;
    if (s->closed || h->failed) {
        errno = EPIPE;
        return 0;
    }
    if (h->out_len >= H2_OUT_HIGH && fy_h2_out_drain(h) < 0 && errno != EAGAIN) {
        h->failed = true;
        errno = EPIPE;
        return 0;
    }
    size_t window = stream_window(s);
    if (window == 0) {
        s->window_shut = true;
        errno = EAGAIN;
    }
    return window;
}

/* A backend's write, within room (stream_room): offered to nghttp2, which
 * takes what it can as DATA frames.  Returns the bytes taken, or -1 with
 * EAGAIN (a full socket: the stream is run again when it is writable). */
static ssize_t stream_offer(struct fy_h2_stream *s, struct fy_h2_offer *o, size_t room)
{
    struct fy_h2 *h = s->h2;
    if (o->len > room)
        o->len = room;
    s->offer = o;
    nghttp2_session_resume_data(h->ng, s->id);
    h->depth++;
    int rv = nghttp2_session_send(h->ng);
    h->depth--;
    s->offer = NULL;
    if (rv != 0) {
        h->failed = true;
        errno = EPIPE;
        return -1;
    }
    if (o->taken == 0) {
        errno = EAGAIN;
        return -1;
    }
    return (ssize_t)o->taken;
}

static ssize_t stream_writev(struct fy_transport *t, const struct iovec *iov, int iovcnt)
{
    struct fy_h2_stream *s = container_of(t, struct fy_h2_stream, tp);
    size_t room = stream_room(s);
    if (room == 0)
        return -1;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    struct fy_h2_offer o = {.iov = iov, .iovcnt = iovcnt, .fd = -1, .len = len};
    return stream_offer(s, &o, room);
}

/* A file range: on a zero-copy transport each frame's payload goes by
 * sendfile(); otherwise it is read a chunk at a time (H2_FILE_CHUNK), not
 * with a pread() per 16 KiB frame, and no more than the windows let go. */
static ssize_t stream_sendfile(struct fy_transport *t, int fd, off_t offset, size_t len)
{
    struct fy_h2_stream *s = container_of(t, struct fy_h2_stream, tp);
    struct fy_h2 *h = s->h2;
    size_t room = stream_room(s);
    if (room == 0)
        return -1;
    if (fy_transport_zero_copy(&h->link->tp)) {
        struct fy_h2_offer o = {.fd = fd, .offset = offset, .len = len};
        return stream_offer(s, &o, room);
    }
    if (!h->chunk && !(h->chunk = malloc(H2_FILE_CHUNK))) {
        errno = ENOMEM;
        return -1;
    }
    size_t want = len < H2_FILE_CHUNK ? len : H2_FILE_CHUNK;
    if (want > room)
        want = room;
    ssize_t n;
    do
        n = pread(fd, h->chunk, want, offset);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n;
    struct iovec iov = {h->chunk, (size_t)n};
    struct fy_h2_offer o = {.iov = &iov, .iovcnt = 1, .fd = -1, .len = (size_t)n};
    return stream_offer(s, &o, room);
}

static bool stream_zero_copy(const struct fy_transport *t)
{
    const struct fy_h2_stream *s = container_of(t, struct fy_h2_stream, tp);
    return fy_transport_zero_copy(&s->h2->link->tp);
}

const struct fy_transport_layer fy_h2_stream_layer = {
    .writev = stream_writev,
    .sendfile = stream_sendfile,
    .zero_copy = stream_zero_copy,
};

/* nghttp2 asks for the next DATA frame's payload: from the offer under
 * way, without a copy (the frame is written by fy_h2_on_send_data). */
ssize_t fy_h2_on_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                            nghttp2_data_source *source, void *user)
{
    (void)ng, (void)id, (void)buf, (void)user;
    struct fy_h2_stream *s = source->ptr;
    struct fy_h2_offer *o = s->offer;
    if (o && o->taken < o->len && s->h2->out_len < H2_OUT_HIGH) {
        size_t n = o->len - o->taken < length ? o->len - o->taken : length;
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
        if (s->body_left >= 0 && (int64_t)n >= s->body_left)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (s->state == FY_H2_SENT) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    return NGHTTP2_ERR_DEFERRED;
}

int fy_h2_on_send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *user)
{
    (void)ng, (void)frame;
    struct fy_h2 *h = user;
    struct fy_h2_stream *s = source->ptr;
    struct fy_h2_offer *o = s->offer;
    int rc;
    if (o->fd >= 0 && fy_transport_zero_copy(&h->link->tp) && h->out_len == 0)
        rc = fy_h2_out_file_frame(h, framehd, o, length);
    else
        rc = fy_h2_out_put(h, framehd, 9) && fy_h2_out_put_offer(h, o, o->taken, length) ? 0 : -1;
    if (rc < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    o->taken += length;
    if (s->body_left > 0)
        s->body_left -= (int64_t)length;
    return 0;
}
