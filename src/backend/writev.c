/* The writev backend: pread() a chunk into a buffer, then writev() the head
 * and the chunk together.  The classic copy through user space; useful where
 * sendfile is not (some filesystems), and as a baseline.
 *
 * One buffer serves every connection: a chunk is written at once, and what
 * the socket did not take is simply read again next time (the offset only
 * advances by bytes written), so no connection holds a buffer while it
 * waits for its client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend/backend.h"

#define WRITEV_CHUNK (256 * 1024)

struct writev_backend {
    struct fy_backend base;
    char buf[WRITEV_CHUNK];
};

static struct fy_backend *writev_create(struct fy_loop *loop, const struct fy_config *cfg,
                                        struct fy_log *log, char *err, size_t errlen)
{
    (void)loop, (void)cfg, (void)log;
    struct writev_backend *w = malloc(sizeof *w);
    if (!w) {
        snprintf(err, errlen, "writev backend: out of memory");
        return NULL;
    }
    w->base.ops = &fy_backend_writev;
    return &w->base;
}

/* Moves the head and body cursors past n written bytes. */
static void writev_advance(struct fy_transfer *t, size_t n)
{
    size_t from_head = n < t->head_len ? n : t->head_len;
    t->head += from_head;
    t->head_len -= from_head;
    t->offset += (off_t)(n - from_head);
}

static enum fy_send_result writev_send(struct fy_backend *b, struct fy_transfer *t, size_t budget)
{
    struct writev_backend *w = (struct writev_backend *)b;
    while (t->offset < t->end || t->head_len > 0) {
        if (budget == 0)
            return FY_SEND_YIELD;
        off_t left = t->end - t->offset;
        size_t want = budget < sizeof w->buf ? budget : sizeof w->buf;
        if ((off_t)want > left)
            want = (size_t)left;
        ssize_t got = want ? pread(t->file_fd, w->buf, want, t->offset) : 0;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            t->error = errno;
            return FY_SEND_ERROR;
        }
        if (got == 0 && want > 0) { /* the file shrank under us */
            t->error = ENODATA;
            return FY_SEND_ERROR;
        }
        struct iovec iov[2] = {{(void *)t->head, t->head_len}, {w->buf, (size_t)got}};
        ssize_t n = writev(t->sock, iov, 2);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return FY_SEND_AGAIN;
            t->error = errno;
            return FY_SEND_ERROR;
        }
        writev_advance(t, (size_t)n);
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
    }
    return FY_SEND_DONE;
}

static void writev_cancel(struct fy_backend *b, struct fy_transfer *t)
{
    (void)b, (void)t;
}

static void writev_destroy(struct fy_backend *b)
{
    free(b);
}

const struct fy_backend_ops fy_backend_writev = {
    .name = "writev",
    .create = writev_create,
    .send = writev_send,
    .cancel = writev_cancel,
    .destroy = writev_destroy,
};
