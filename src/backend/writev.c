/* The writev backend: pread() a chunk into a buffer, then writev() the head
 * and the chunk together.  The classic copy through user space; useful where
 * sendfile is not (some filesystems), and as a baseline.
 *
 * One buffer serves every connection: a chunk is written at once, and what
 * the socket did not take is simply read again next time (the offset only
 * advances by bytes written), so no connection holds a buffer while it
 * waits for its client. */
#include <stdio.h>
#include <stdlib.h>

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

static enum fy_send_result writev_send(struct fy_backend *b, struct fy_transfer *t, size_t budget)
{
    struct writev_backend *w = (struct writev_backend *)b;
    return fy_transfer_send_copy(t, w->buf, sizeof w->buf, budget);
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
    .engine = FY_ENGINE_WRITEV,
    .create = writev_create,
    .send = writev_send,
    .cancel = writev_cancel,
    .destroy = writev_destroy,
};
