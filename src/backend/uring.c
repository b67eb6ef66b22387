/* io-uring: the async pipeline (async.h) with io_uring as its read engine.
 *
 * One ring per process.  Its completions reach the epoll loop through a
 * registered eventfd (io_uring_register_eventfd) rather than the ring
 * being the loop: the loop stays one epoll set where sockets, timers, the
 * signalfd and any backend's completions are alike, and the ring stays a
 * detail of this file.  The price, one eventfd read per batch of
 * completions, is small next to a disk read.
 *
 * Reads go O_DIRECT (aio-direct) into the /dev/shm pool and leave by
 * sendfile(), as with linux-aio-sendfile; unlike native AIO, io_uring also
 * reads buffered files without blocking the submitter.  The kernel's worker
 * pool is bounded (IORING_REGISTER_IOWQ_MAX_WORKERS), so a slow disk cannot
 * make it grow without limit.
 *
 * The ring also takes the file-system lookups off the loop (the lookup op
 * in backend.h): a statx of a name not in the open-file cache runs in the
 * ring's workers while the connection waits, so the open() that follows
 * finds every directory entry and inode in memory.  Looking up rather than
 * opening through the ring keeps one place — file.c — that decides how a
 * name is opened (RESOLVE_BENEATH, index files, symlink policy). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "backend/async.h"
#include "core/config.h"
#include "core/log.h"

struct uring_backend {
    struct fy_async async;     /* first: the backend is the pipeline */
    struct io_uring ring;
    bool ring_up;
    unsigned lookups_in_flight;
    bool fixed_buffers;        /* a table for the pool's extents is registered */
    bool *registered;          /* per extent: in the table, reads into it need not pin its pages */
};

/* A lookup in flight.  The kernel writes stx until the completion, so it
 * lives here, not in the requester, which may go away first. */
struct uring_lookup {
    struct fy_lookup *owner;   /* NULL once cancelled */
    struct uring_lookup *next; /* finished, to be announced */
    struct statx stx;
    char path[];
};

/* Reads and lookups share the completion queue: a lookup's user data has
 * its lowest bit set (both structs are at least 8-byte aligned). */
#define LOOKUP_TAG 1u

static bool is_lookup(const void *data) { return ((uintptr_t)data & LOOKUP_TAG) != 0; }

/* Submits the one entry just prepared.  When the kernel does not take it,
 * it would stay queued and go in with the next submission, long after its
 * buffer or lookup was given back: it becomes a no-op instead. */
static int submit_one(struct io_uring *ring, struct io_uring_sqe *sqe)
{
    int rc = io_uring_submit(ring);
    if (rc == 1)
        return 0;
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data(sqe, NULL);
    return rc < 0 ? rc : -EIO;
}

static int uring_submit(struct fy_async *a, struct fy_async_block *blk, int fd, void *buf, size_t len, off_t off)
{
    struct uring_backend *b = (struct uring_backend *)a;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
    if (!sqe)
        return -EAGAIN; /* cannot happen with max-inflight ≤ the ring's size; waiting is safe anyway */
    unsigned extent = fy_shm_pool_extent(&a->pool, blk->buf);
    if (b->fixed_buffers && b->registered[extent])
        io_uring_prep_read_fixed(sqe, fd, buf, (unsigned)len, (unsigned long long)off, (int)extent);
    else
        io_uring_prep_read(sqe, fd, buf, (unsigned)len, (unsigned long long)off);
    io_uring_sqe_set_data(sqe, blk);
    return submit_one(&b->ring, sqe);
}

static void uring_reap(struct fy_async *a)
{
    struct uring_backend *b = (struct uring_backend *)a;
    struct io_uring_cqe *cqe;
    struct uring_lookup *done = NULL;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&b->ring, head, cqe) {
        void *data = io_uring_cqe_get_data(cqe);
        if (is_lookup(data)) {
            struct uring_lookup *l = (struct uring_lookup *)((uintptr_t)data & ~(uintptr_t)LOOKUP_TAG);
            l->next = done;
            done = l;
        } else if (data) { /* NULL: an entry submit_one() withdrew */
            fy_async_complete(a, data, cqe->res);
        }
        seen++;
    }
    io_uring_cq_advance(&b->ring, seen);
    /* Announced after the queue is consumed: a requester may submit again. */
    while (done) {
        struct uring_lookup *l = done;
        done = l->next;
        b->lookups_in_flight--;
        if (l->owner) {
            l->owner->state = NULL;
            l->owner->done(l->owner);
        }
        free(l);
    }
}

static bool uring_lookup(struct fy_backend *base, struct fy_lookup *owner, int dirfd, const char *path)
{
    struct uring_backend *b = (struct uring_backend *)base;
    if (b->lookups_in_flight >= b->async.max_inflight)
        return false; /* bounded like the reads: beyond it, open as before */
    size_t len = strlen(path);
    struct uring_lookup *l = malloc(sizeof *l + len + 1);
    struct io_uring_sqe *sqe = l ? io_uring_get_sqe(&b->ring) : NULL;
    if (!sqe) {
        free(l);
        return false;
    }
    *l = (struct uring_lookup){.owner = owner};
    memcpy(l->path, path, len + 1);
    io_uring_prep_statx(sqe, dirfd, l->path[0] ? l->path : ".", AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS,
                        &l->stx);
    io_uring_sqe_set_data(sqe, (void *)((uintptr_t)l | LOOKUP_TAG));
    if (submit_one(&b->ring, sqe) < 0) {
        free(l);
        return false;
    }
    b->lookups_in_flight++;
    b->async.stats.lookups++;
    owner->state = l;
    return true;
}

static void uring_lookup_cancel(struct fy_backend *base, struct fy_lookup *owner)
{
    (void)base;
    struct uring_lookup *l = owner->state;
    if (l)
        l->owner = NULL; /* freed at its completion */
    owner->state = NULL;
}

/* Waits for the reads still in flight, so none lands in freed memory. */
static void uring_stop(struct fy_async *a)
{
    struct uring_backend *b = (struct uring_backend *)a;
    while (a->inflight > 0 || b->lookups_in_flight > 0) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(&b->ring, &cqe) < 0)
            break;
        uring_reap(a);
    }
    io_uring_queue_exit(&b->ring);
}

static void register_pool(struct fy_async *a);

static const struct fy_async_engine uring_engine = {
    .submit = uring_submit,
    .reap = uring_reap,
    .stop = uring_stop,
    .pool_ready = register_pool,
    .block_data_size = 0,
    .buffered_reads = true,
};

static void uring_destroy(struct fy_backend *base)
{
    struct uring_backend *b = (struct uring_backend *)base;
    fy_async_fini(&b->async, b->ring_up);
    free(b->registered);
    free(b);
}

/* Each extent of the pool with space is a fixed buffer of the ring,
 * registered when it gets its space: its pages are pinned once, not once
 * per read (measured: about 12% less CPU per GiB).  Registering the whole
 * pool would pin — and so allocate — all of it, and would keep its old
 * pages when an extent is given back.  Failure (RLIMIT_MEMLOCK) only costs
 * that gain, for that extent. */
static void extent_reserved(void *ctx, unsigned extent)
{
    struct uring_backend *b = ctx;
    const struct fy_shm_pool *pool = &b->async.pool;
    struct iovec iov = {fy_shm_pool_extent_addr(pool, extent), fy_shm_pool_extent_len(pool, extent)};
    b->registered[extent] = io_uring_register_buffers_update_tag(&b->ring, extent, &iov, NULL, 1) == 1;
}

/* Before the extent's pages leave the file: afterwards the ring would read
 * into the old pages while the mapping shows new ones.  Its slot is
 * emptied; should that fail, reads into it go unregistered all the same. */
static void extent_releasing(void *ctx, unsigned extent)
{
    struct uring_backend *b = ctx;
    struct iovec none = {NULL, 0};
    if (b->registered[extent])
        io_uring_register_buffers_update_tag(&b->ring, extent, &none, NULL, 1);
    b->registered[extent] = false;
}

/* Not with aio-send = sendfile, whose buffers get fresh pages when
 * released: the ring would keep reading into the old ones. */
static void register_pool(struct fy_async *a)
{
    struct uring_backend *b = (struct uring_backend *)a;
    struct fy_shm_pool *pool = &a->pool;
    if (pool->punch_on_put || !b->ring_up)
        return;
    free(b->registered);
    b->registered = calloc(pool->nextents, sizeof *b->registered);
    b->fixed_buffers = b->registered && io_uring_register_buffers_sparse(&b->ring, pool->nextents) == 0;
    if (!b->fixed_buffers)
        return;
    for (unsigned e = 0; e < pool->nextents; e++)
        if (pool->extents[e].reserved)
            extent_reserved(b, e);
    pool->watch = (struct fy_shm_pool_watch){.reserved = extent_reserved, .releasing = extent_releasing, .ctx = b};
}

/* What the kernel gives: io_uring_queue_init()'s result.  The test hook
 * plays a kernel that refuses (kernel.io_uring_disabled = 2, or a
 * container's seccomp profile: Docker's and containerd's default ones
 * refuse io_uring_setup), without touching the machine's setting. */
static int ring_init(unsigned entries, struct io_uring *ring)
{
#ifdef FY_TEST_HOOKS
    if (getenv("FERRY_TEST_NO_URING"))
        return -EPERM;
#endif
    return io_uring_queue_init(entries, ring, 0);
}

/* The ring, or -1 with err: a kernel (or its settings) that refuses it. */
static int uring_start(struct uring_backend *b, const struct fy_config *cfg, const char *name, char *err,
                       size_t errlen)
{
    unsigned entries = 1;
    while (entries < cfg->aio_max_inflight)
        entries *= 2;
    int rc = ring_init(entries, &b->ring);
    if (rc < 0) {
        snprintf(err, errlen, "%s: io_uring_queue_init: %s (kernel without io_uring, "
                 "/proc/sys/kernel/io_uring_disabled set, or a seccomp filter)", name, strerror(-rc));
        return -1;
    }
    b->ring_up = true;
    rc = io_uring_register_eventfd(&b->ring, b->async.completions.fd);
    if (rc < 0) {
        snprintf(err, errlen, "%s: io_uring_register_eventfd: %s", name, strerror(-rc));
        return -1;
    }
    unsigned workers[2] = {cfg->aio_max_inflight, cfg->aio_max_inflight}; /* bounded, unbounded */
    io_uring_register_iowq_max_workers(&b->ring, workers); /* a limit is a bonus: older kernels lack it */
    return 0;
}

struct fy_backend *fy_async_open_uring(const struct fy_async_mode *mode, struct fy_loop *loop,
                                       const struct fy_config *cfg, struct fy_log *log, bool *refused, char *err,
                                       size_t errlen)
{
    *refused = false;
    struct uring_backend *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "%s: out of memory", mode->name);
        return NULL;
    }
    int rc = fy_async_init(&b->async, &fy_backend_uring, mode, &uring_engine, loop, cfg, log, err, errlen);
    if (rc == 0 && uring_start(b, cfg, mode->name, err, errlen) < 0) {
        *refused = true;
        rc = -1;
    }
    if (rc < 0 || fy_async_reserve(&b->async, err, errlen) < 0) {
        uring_destroy(&b->async.base);
        return NULL;
    }
    return &b->async.base;
}

static struct fy_backend *uring_create(struct fy_loop *loop, const struct fy_config *cfg, struct fy_log *log,
                                       char *err, size_t errlen)
{
    static const struct fy_async_mode mode = {.name = "io-uring"};
    bool refused;
    return fy_async_open_uring(&mode, loop, cfg, log, &refused, err, errlen);
}

const struct fy_backend_ops fy_backend_uring = {
    .name = "io-uring",
    .engine = FY_ENGINE_IO_URING,
    .create = uring_create,
    .send = fy_async_send,
    .cancel = fy_async_cancel,
    .pause = fy_async_pause,
    .stats = fy_async_stats_op,
    .destroy = uring_destroy,
    .lookup = uring_lookup,
    .lookup_cancel = uring_lookup_cancel,
};
