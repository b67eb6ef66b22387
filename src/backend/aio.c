/* linux-aio-sendfile: the backend of the 2006 lighttpd post, done right.
 *
 * The async pipeline (async.h) with Linux native AIO (libaio) as its read
 * engine: each read is an iocb whose completion io_set_eventfd() signals on
 * the pipeline's eventfd — the post needed a helper thread and SIGUSR1 for
 * that.  Reads go O_DIRECT into the /dev/shm pool and leave by sendfile(). */
#include <errno.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/async.h"
#include "core/config.h"

#define AIO_REAP_BATCH 64

struct aio_backend {
    struct fy_async async;     /* first: the backend is the pipeline */
    io_context_t ctx;
};

static int aio_submit(struct fy_async *a, struct fy_async_block *blk, int fd, void *buf, size_t len, off_t off)
{
    struct aio_backend *b = (struct aio_backend *)a;
    struct iocb *iocb = blk->engine_data;
    io_prep_pread(iocb, fd, buf, len, off);
    io_set_eventfd(iocb, a->completions.fd);
    iocb->data = blk;
    int rc = io_submit(b->ctx, 1, &iocb);
    return rc == 1 ? 0 : rc < 0 ? rc : -EIO;
}

static void aio_reap(struct fy_async *a)
{
    struct aio_backend *b = (struct aio_backend *)a;
    struct io_event ev[AIO_REAP_BATCH];
    struct timespec now = {0, 0};
    int n;
    do {
        n = io_getevents(b->ctx, 0, AIO_REAP_BATCH, ev, &now);
        for (int i = 0; i < n; i++)
            fy_async_complete(a, ((struct iocb *)ev[i].obj)->data, (long)ev[i].res);
    } while (n == AIO_REAP_BATCH);
}

static void aio_stop(struct fy_async *a)
{
    io_destroy(((struct aio_backend *)a)->ctx); /* waits for reads in flight */
}

static const struct fy_async_engine aio_engine = {
    .submit = aio_submit,
    .reap = aio_reap,
    .stop = aio_stop,
    .block_data_size = sizeof(struct iocb),
};

static void aio_destroy(struct fy_backend *base)
{
    struct aio_backend *b = (struct aio_backend *)base;
    fy_async_fini(&b->async, b->ctx != 0);
    free(b);
}

/* The kernel's AIO context.  The test hook plays a kernel that refuses
 * one (fs.aio-max-nr reached), without touching the machine's setting. */
static int aio_setup(unsigned nr, io_context_t *ctx)
{
#ifdef FY_TEST_HOOKS
    if (getenv("FERRY_TEST_NO_LIBAIO"))
        return -EAGAIN;
#endif
    return io_setup((int)nr, ctx);
}

struct fy_backend *fy_async_open_aio(const struct fy_async_mode *mode, struct fy_loop *loop,
                                     const struct fy_config *cfg, struct fy_log *log, bool *refused, char *err,
                                     size_t errlen)
{
    *refused = false;
    struct aio_backend *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "%s: out of memory", mode->name);
        return NULL;
    }
    int rc = fy_async_init(&b->async, &fy_backend_aio, mode, &aio_engine, loop, cfg, log, err, errlen);
    if (rc == 0 && (rc = aio_setup(cfg->aio_max_inflight, &b->ctx)) < 0) {
        b->ctx = 0;
        snprintf(err, errlen, "%s: io_setup(%u): %s (see /proc/sys/fs/aio-max-nr)", mode->name,
                 cfg->aio_max_inflight, strerror(-rc));
        *refused = true;
    }
    if (rc < 0 || fy_async_reserve(&b->async, err, errlen) < 0) {
        aio_destroy(&b->async.base);
        return NULL;
    }
    return &b->async.base;
}

static struct fy_backend *aio_create(struct fy_loop *loop, const struct fy_config *cfg, struct fy_log *log,
                                     char *err, size_t errlen)
{
    static const struct fy_async_mode mode = {.name = "linux-aio-sendfile"};
    bool refused;
    return fy_async_open_aio(&mode, loop, cfg, log, &refused, err, errlen);
}

const struct fy_backend_ops fy_backend_aio = {
    .name = "linux-aio-sendfile",
    .engine = FY_ENGINE_LIBAIO,
    .create = aio_create,
    .send = fy_async_send,
    .cancel = fy_async_cancel,
    .pause = fy_async_pause,
    .stats = fy_async_stats_op,
    .destroy = aio_destroy,
};
