/* The sendfile backend: the head with MSG_MORE, then sendfile(2) straight
 * from the page cache to the socket.  Zero-copy, but a page that is not
 * cached makes sendfile wait for the disk — on the event loop.
 *
 * A small body goes out with its head in one writev() instead: copying a
 * few KiB costs less than a second system call and the splice set-up of
 * sendfile, and the response leaves in one segment. */
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"

#define SENDFILE_COPY_MAX (16 * 1024) /* see the file comment */

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
    return fy_transfer_send_plain(t, s->small, sizeof s->small, budget);
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
    .engine = FY_ENGINE_SENDFILE,
    .create = sendfile_create,
    .send = sendfile_send,
    .cancel = sendfile_cancel,
    .destroy = sendfile_destroy,
};
