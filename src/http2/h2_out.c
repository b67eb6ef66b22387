/* The output of one HTTP/2 connection; see h2_conn.h.
 *
 * nghttp2 makes every frame but DATA's payload; those bytes, and a DATA
 * frame's, go into the connection's output buffer `out`, which is written
 * to the transport when it holds H2_OUT_HIGH bytes (in whole multiples of
 * it) and at the end of every run — so a TLS connection writes full
 * records of many frames, not a small record per frame.  On a zero-copy
 * transport (plain TCP, kernel TLS) a DATA frame of a file range goes out
 * as header + sendfile when nothing waits in `out` before it. */
#include "http2/h2_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/link.h"

/* Writes the first len bytes `out` holds: 0 when they went, -1 with
 * errno (EAGAIN: when the socket is writable again). */
static int out_write(struct fy_h2 *h, size_t len)
{
    struct fy_transport *tp = &h->link->tp;
    size_t keep = h->out_len - len;
    while (h->out_len > keep) {
        struct iovec iov = {h->out + h->out_off, h->out_len - keep};
        ssize_t n = fy_transport_writev(tp, &iov, 1, false);
        if (n < 0)
            return -1;
        h->out_moved |= n > 0;
        h->out_off += (size_t)n;
        h->out_len -= (size_t)n;
    }
    if (h->out_len == 0)
        h->out_off = 0;
    return fy_transport_flush(tp);
}

/* Writes out what `out` holds.  0 when it is empty, -1 with errno (EAGAIN:
 * when the socket is writable again). */
int fy_h2_out_flush(struct fy_h2 *h)
{
    return out_write(h, h->out_len);
}

/* A full `out` in the middle of a run: whole multiples of H2_OUT_HIGH
 * only, the rest waits for more — over TLS a write is a whole number of
 * full records then, and the frames that straddle a record go with the
 * next (not a small record of their own).  0 when done, -1 with errno. */
int fy_h2_out_drain(struct fy_h2 *h)
{
    return out_write(h, h->out_len - h->out_len % H2_OUT_HIGH);
}

/* Room for len more bytes in `out`, which is allocated on first use. */
static char *out_room(struct fy_h2 *h, size_t len)
{
    if (!h->out && !(h->out = malloc(H2_OUT_CAP)))
        return NULL;
    if (h->out_off + h->out_len + len > H2_OUT_CAP) {
        memmove(h->out, h->out + h->out_off, h->out_len);
        h->out_off = 0;
    }
    if (h->out_len + len > H2_OUT_CAP)
        return NULL;
    return h->out + h->out_off + h->out_len;
}

bool fy_h2_out_put(struct fy_h2 *h, const void *p, size_t len)
{
    char *at = out_room(h, len);
    if (!at)
        return false;
    memcpy(at, p, len);
    h->out_len += len;
    return true;
}

/* Copies len bytes of the offer, from `from` on, into `out`. */
bool fy_h2_out_put_offer(struct fy_h2 *h, const struct fy_h2_offer *o, size_t from, size_t len)
{
    char *at = out_room(h, len);
    if (!at)
        return false;
    if (o->fd >= 0) {
        size_t got = 0;
        while (got < len) {
            ssize_t n = pread(o->fd, at + got, len - got, o->offset + (off_t)(from + got));
            if (n <= 0 && !(n < 0 && errno == EINTR))
                return false;
            got += n > 0 ? (size_t)n : 0;
        }
    } else {
        size_t skip = from, put = 0;
        for (int i = 0; i < o->iovcnt && put < len; i++) {
            size_t l = o->iov[i].iov_len;
            if (skip >= l) {
                skip -= l;
                continue;
            }
            size_t take = l - skip < len - put ? l - skip : len - put;
            memcpy(at + put, (const char *)o->iov[i].iov_base + skip, take);
            put += take;
            skip = 0;
        }
    }
    h->out_len += len;
    return true;
}

ssize_t fy_h2_on_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)ng, (void)flags;
    struct fy_h2 *h = user;
    if (h->out_len >= H2_OUT_HIGH && fy_h2_out_drain(h) < 0 && errno != EAGAIN)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (h->out_len >= H2_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    return fy_h2_out_put(h, data, len) ? (ssize_t)len : NGHTTP2_ERR_CALLBACK_FAILURE;
}

/* A DATA frame of a file range, straight from the file: the header, then
 * sendfile; what the socket does not take now is copied into `out`. */
int fy_h2_out_file_frame(struct fy_h2 *h, const uint8_t *framehd, struct fy_h2_offer *o, size_t len)
{
    struct fy_transport *tp = &h->link->tp;
    struct iovec hd = {(void *)framehd, 9};
    ssize_t n = fy_transport_writev(tp, &hd, 1, true);
    if (n < 0 && errno != EAGAIN)
        return -1;
    size_t head_sent = n > 0 ? (size_t)n : 0, sent = 0;
    if (head_sent == 9) {
        n = fy_transport_sendfile(tp, o->fd, o->offset + (off_t)o->taken, len);
        if (n < 0 && errno != EAGAIN)
            return -1;
        sent = n > 0 ? (size_t)n : 0;
    }
    h->out_moved |= head_sent > 0 || sent > 0;
    if (!fy_h2_out_put(h, framehd + head_sent, 9 - head_sent) || !fy_h2_out_put_offer(h, o, o->taken + sent, len - sent))
        return -1;
    return 0;
}
