/* auto: the best this machine allows, chosen here and only here.
 *
 * Blocks whose pages are cached go straight from the page cache (sendfile
 * from the file: no copy, no read); the others are read ahead O_DIRECT into
 * the /dev/shm pool (the async pipeline, async.h, with residency probing).
 * Popular files keep the page cache's benefit, cold ones never stall the
 * loop.
 *
 * The reads need an engine the kernel allows, tried in order:
 *   io_uring ─► libaio ─► none: plain sendfile
 * Docker's and containerd's default seccomp profiles refuse io_uring (so
 * does kernel.io_uring_disabled), not native AIO, which keeps cold reads
 * off the loop there.  A pipeline that fails for itself — its pool does
 * not fit even at its smallest (async.c, reserve_pool) — fails the same
 * under any engine: then straight to sendfile.  Either way ferry starts,
 * and the log says once why auto runs on less than io_uring.
 *
 * The instance returned is the engine's own backend's (io-uring,
 * linux-aio-sendfile, sendfile), so no engine knows about this choice and
 * auto's entry in the table has nothing but create. */
#include <stdio.h>

#include "backend/async.h"
#include "core/log.h"

#define AUTO_WHY_LEN 512

typedef struct fy_backend *(*async_open_fn)(const struct fy_async_mode *mode, struct fy_loop *loop,
                                            const struct fy_config *cfg, struct fy_log *log, bool *refused,
                                            char *err, size_t errlen);

static const async_open_fn engines[] = {fy_async_open_uring, fy_async_open_aio};

#define NENGINES (sizeof engines / sizeof engines[0])

static struct fy_backend *auto_create(struct fy_loop *loop, const struct fy_config *cfg, struct fy_log *log,
                                      char *err, size_t errlen)
{
    static const struct fy_async_mode mode = {.name = "auto", .probe_residency = true};
    char why[NENGINES][AUTO_WHY_LEN];
    size_t tried = 0;
    bool refused = true;
    for (; tried < NENGINES && refused; tried++) {
        struct fy_backend *b = engines[tried](&mode, loop, cfg, log, &refused, why[tried], sizeof why[0]);
        if (b && tried > 0)
            fy_log(log, FY_LOG_WARN, "%s; auto reads with %s instead", why[0], fy_engine_name(b->ops->engine));
        if (b)
            return b;
    }
    char all[NENGINES * (AUTO_WHY_LEN + 2)] = "";
    for (size_t i = 0, used = 0; i < tried; i++)
        used += (size_t)snprintf(all + used, sizeof all - used, "%s; ", why[i]);
    fy_log(log, FY_LOG_WARN, "%sthe auto backend sends with sendfile instead", all);
    return fy_backend_sendfile.create(loop, cfg, log, err, errlen);
}

const struct fy_backend_ops fy_backend_auto = {
    .name = "auto",
    .create = auto_create, /* the only op: its instances are other entries' */
};
