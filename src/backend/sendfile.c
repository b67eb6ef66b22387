/* The sendfile backend: the head with MSG_MORE, then sendfile(2) straight
 * from the page cache to the socket.  Zero-copy, but a page that is not
 * cached makes sendfile wait for the disk — on the event loop.
 *
 * A small body goes out with its head in one writev() instead: copying a
 * few KiB costs less than a second system call and the splice set-up of
 * sendfile, and the response leaves in one segment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/sendfile.h>

#include "backend/backend.h"

#define SENDFILE_COPY_MAX (16 * 1024)

struct sendfile_backend {
    struct fy_backend base;
    char small[SENDFILE_COPY_MAX];
};

static struct fy_backend *sendfile_create(struct fy_loop *loop, const struct fy_config *cfg,
                                          struct fy_log *log, char *err, size_t errlen)
{
    (void)loop, (void)cfg, (void)log;
    struct sendfile_backend *s = malloc(sizeof *s);
    if (!s) {
        snprintf(err, errlen, "sendfile backend: out of memory");
        return NULL;
    }
    s->base.ops = &fy_backend_sendfile;
    return &s->base;
}

static enum fy_send_result sendfile_send(struct fy_backend *b, struct fy_transfer *t, size_t budget)
{
    struct sendfile_backend *s = (struct sendfile_backend *)b;
    if (t->head_len > 0 && t->end - t->offset <= (off_t)sizeof s->small)
        return fy_transfer_send_copy(t, s->small, sizeof s->small, budget);
    enum fy_send_result r = fy_transfer_send_head(t, true);
    if (r != FY_SEND_DONE)
        return r;
    while (t->offset < t->end) {
        if (budget == 0)
            return FY_SEND_YIELD;
        off_t left = t->end - t->offset;
        size_t want = (off_t)budget < left ? budget : (size_t)left;
        ssize_t n = sendfile(t->sock, t->file_fd, &t->offset, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return FY_SEND_AGAIN;
            t->error = errno;
            return FY_SEND_ERROR;
        }
        if (n == 0) { /* the file shrank under us: the promised length cannot be met */
            t->error = ENODATA;
            return FY_SEND_ERROR;
        }
        budget -= (size_t)n;
    }
    return FY_SEND_DONE;
}

static void sendfile_cancel(struct fy_backend *b, struct fy_transfer *t)
{
    (void)b, (void)t;
}

static void sendfile_destroy(struct fy_backend *b)
{
    free(b);
}

const struct fy_backend_ops fy_backend_sendfile = {
    .name = "sendfile",
    .create = sendfile_create,
    .send = sendfile_send,
    .cancel = sendfile_cancel,
    .destroy = sendfile_destroy,
};
