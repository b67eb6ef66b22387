/* The sendfile backend: the head with MSG_MORE, then sendfile(2) straight
 * from the page cache to the socket.  Zero-copy, but a page that is not
 * cached makes sendfile wait for the disk — on the event loop. */
#include <errno.h>
#include <stdlib.h>
#include <sys/sendfile.h>

#include "backend/backend.h"

static struct fy_backend *sendfile_create(struct fy_loop *loop, const struct fy_config *cfg,
                                          struct fy_log *log, char *err, size_t errlen)
{
    (void)loop, (void)cfg, (void)log, (void)err, (void)errlen;
    static const struct fy_backend instance = {.ops = &fy_backend_sendfile};
    return (struct fy_backend *)&instance;
}

static enum fy_send_result sendfile_send(struct fy_backend *b, struct fy_transfer *t, size_t budget)
{
    (void)b;
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
    (void)b;
}

const struct fy_backend_ops fy_backend_sendfile = {
    .name = "sendfile",
    .create = sendfile_create,
    .send = sendfile_send,
    .cancel = sendfile_cancel,
    .destroy = sendfile_destroy,
};
