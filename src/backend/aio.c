/* linux-aio-sendfile: the backend of the 2006 lighttpd post, done right.
 *
 * A large body is read from the disk with Linux native AIO (libaio, O_DIRECT
 * by default) into a buffer of the /dev/shm pool, then sent with sendfile()
 * from the pool's tmpfs file to the socket: the data never enters user
 * space, and the event loop never waits for the disk.
 *
 *   send() ──► schedule: up to aio-read-ahead blocks per transfer, at most
 *              aio-max-inflight reads in all; without a free buffer or slot
 *              the transfer waits in a FIFO (never a blocking fallback)
 *   eventfd ─► reap completions (io_set_eventfd: no helper thread, no
 *              signal), then wake the transfers whose next block is ready
 *   send() ──► sendfile() the front block from /dev/shm; a block fully sent
 *              goes back to the pool, which starts the next read
 *
 * O_DIRECT needs aligned offsets and lengths: a block starts at the range's
 * offset rounded down to 4 KiB and the bytes before it are skipped when
 * sending, so Range requests and odd file sizes take the same path.  A file
 * on a filesystem that refuses O_DIRECT (tmpfs) is already in memory: it is
 * sent with plain sendfile, with one warning in the error log.
 *
 * A transfer cancelled while its reads are in flight stays with the backend
 * until they complete, so no read ever lands in a buffer given to another. */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/shm_pool.h"
#include "core/config.h"
#include "core/log.h"
#include "event/loop.h"

#define AIO_ALIGN 4096
#define AIO_SMALL (16 * 1024)
#define AIO_REAP_BATCH 64

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

enum block_state { BLOCK_FREE, BLOCK_READING, BLOCK_READY };

struct aio_block {
    struct iocb iocb;
    struct aio_xfer *owner;
    enum block_state state;
    unsigned buf;              /* its buffer in the pool */
    off_t file_off;            /* where the read starts: aligned */
    size_t skip;               /* bytes read before the range's next byte */
    size_t want;               /* bytes of the range the block carries */
    long result;               /* bytes read, or -errno */
};

struct aio_xfer {
    struct fy_transfer *t;     /* NULL once cancelled */
    int fd;                    /* our own descriptor of the file, O_DIRECT */
    bool plain;                /* O_DIRECT refused: send from the page cache */
    off_t next_read;           /* the first range byte no block covers yet */
    unsigned front, count;     /* the ring of blocks, in range order */
    unsigned inflight;
    bool waiting, woken;
    struct aio_xfer *wait_next;  /* in the backend's wait FIFO */
    struct aio_xfer *wake_next;  /* in a completion batch's wake list */
    struct aio_xfer *orphan_next;
    struct aio_block blocks[]; /* aio-read-ahead of them */
};

struct aio_stats {
    unsigned long long submitted, completed, bytes, short_reads, errors, plain_files;
};

struct aio_backend {
    struct fy_backend base;
    struct fy_loop *loop;
    struct fy_log *log;
    io_context_t ctx;
    struct fy_io completions;  /* the eventfd the kernel signals */
    struct fy_shm_pool pool;
    unsigned inflight, max_inflight, read_ahead;
    size_t block_size, min_size;
    bool direct, warned_plain;
    struct aio_xfer *wait_head, *wait_tail;
    struct aio_xfer *orphans;  /* cancelled, reads still in flight */
    struct aio_stats stats;
    char small[AIO_SMALL];
};

/* --- blocks and buffers -------------------------------------------------- */

static struct aio_block *front_block(struct aio_backend *b, struct aio_xfer *x)
{
    return x->count ? &x->blocks[x->front % b->read_ahead] : NULL;
}

static void block_release(struct aio_backend *b, struct aio_block *blk)
{
    fy_shm_pool_put(&b->pool, blk->buf);
    blk->state = BLOCK_FREE;
}

static void wait_enqueue(struct aio_backend *b, struct aio_xfer *x)
{
    if (x->waiting)
        return;
    x->waiting = true;
    x->wait_next = NULL;
    if (b->wait_tail)
        b->wait_tail->wait_next = x;
    else
        b->wait_head = x;
    b->wait_tail = x;
}

static void wait_remove(struct aio_backend *b, struct aio_xfer *x)
{
    if (!x->waiting)
        return;
    struct aio_xfer **link = &b->wait_head, *prev = NULL;
    while (*link != x) {
        prev = *link;
        link = &(*link)->wait_next;
    }
    *link = x->wait_next;
    if (b->wait_tail == x)
        b->wait_tail = prev;
    x->waiting = false;
    x->wait_next = NULL;
}

static struct aio_xfer *wait_pop(struct aio_backend *b)
{
    struct aio_xfer *x = b->wait_head;
    if (x)
        wait_remove(b, x);
    return x;
}

/* Starts the read of the next block; returns false when out of buffers or
 * slots (the transfer then waits its turn). */
static bool start_read(struct aio_backend *b, struct aio_xfer *x)
{
    if (b->inflight >= b->max_inflight || b->pool.nfree == 0)
        return false;
    struct aio_block *blk = &x->blocks[(x->front + x->count) % b->read_ahead];
    off_t aligned = x->next_read & ~(off_t)(AIO_ALIGN - 1);
    off_t left = x->t->end - x->next_read;
    *blk = (struct aio_block){
        .owner = x,
        .state = BLOCK_READING,
        .buf = (unsigned)fy_shm_pool_get(&b->pool),
        .file_off = aligned,
        .skip = (size_t)(x->next_read - aligned),
    };
    blk->want = b->block_size - blk->skip;
    if ((off_t)blk->want > left)
        blk->want = (size_t)left;
    size_t len = (blk->skip + blk->want + AIO_ALIGN - 1) & ~(size_t)(AIO_ALIGN - 1);
    io_prep_pread(&blk->iocb, x->fd, fy_shm_pool_addr(&b->pool, blk->buf), len, aligned);
    io_set_eventfd(&blk->iocb, b->completions.fd);
    blk->iocb.data = blk;
    struct iocb *list[1] = {&blk->iocb};
    int rc = io_submit(b->ctx, 1, list);
    if (rc == -EAGAIN) {
        block_release(b, blk);
        return false;
    }
    x->count++;
    x->next_read += (off_t)blk->want;
    if (rc != 1) { /* the read failed to start: the transfer fails when it gets there */
        blk->state = BLOCK_READY;
        blk->result = rc < 0 ? rc : -EIO;
        b->stats.errors++;
        return true;
    }
    x->inflight++;
    b->inflight++;
    b->stats.submitted++;
    return true;
}

static void schedule(struct aio_backend *b, struct aio_xfer *x)
{
    while (x->count < b->read_ahead && x->next_read < x->t->end) {
        if (!start_read(b, x)) {
            wait_enqueue(b, x);
            return;
        }
    }
}

/* Buffers or slots came free: the longest-waiting transfers go first. */
static void serve_waiters(struct aio_backend *b)
{
    while (b->wait_head && b->inflight < b->max_inflight && b->pool.nfree > 0)
        schedule(b, wait_pop(b));
}

/* --- transfers ----------------------------------------------------------- */

static void xfer_free(struct aio_xfer *x)
{
    if (x->fd >= 0)
        close(x->fd);
    free(x);
}

/* Our own O_DIRECT descriptor of the file: the connection's is shared with
 * the page-cache paths (and may close while our reads are in flight). */
static int reopen_direct(struct aio_backend *b, int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return open(path, O_RDONLY | O_CLOEXEC | (b->direct ? O_DIRECT : 0));
}

static struct aio_xfer *xfer_start(struct aio_backend *b, struct fy_transfer *t)
{
    struct aio_xfer *x = calloc(1, sizeof *x + b->read_ahead * sizeof x->blocks[0]);
    if (!x)
        return NULL;
    x->t = t;
    x->next_read = t->offset;
    x->fd = reopen_direct(b, t->file_fd);
    if (x->fd < 0) {
        if (errno != EINVAL) {
            t->error = errno;
            free(x);
            return NULL;
        }
        x->plain = true;
        b->stats.plain_files++;
        if (!b->warned_plain) {
            fy_log(b->log, FY_LOG_WARN, "linux-aio-sendfile: a file system refuses O_DIRECT; "
                                        "its files are sent with plain sendfile");
            b->warned_plain = true;
        }
    }
    return x;
}

/* Sends the front block's bytes; releases the block once they are out. */
static enum fy_send_result send_front(struct aio_backend *b, struct aio_xfer *x, struct aio_block *blk,
                                      size_t *budget)
{
    struct fy_transfer *t = x->t;
    if (blk->result < 0) {
        t->error = (int)-blk->result;
        return FY_SEND_ERROR;
    }
    if ((size_t)blk->result < blk->skip + blk->want) { /* the file shrank since it was opened */
        t->error = ENODATA;
        return FY_SEND_ERROR;
    }
    size_t done = (size_t)(t->offset - (blk->file_off + (off_t)blk->skip));
    off_t at = fy_shm_pool_offset(&b->pool, blk->buf) + (off_t)(blk->skip + done);
    enum fy_send_result r = fy_transfer_send_fd(t, b->pool.fd, at, blk->want - done, budget);
    if (r == FY_SEND_DONE) {
        block_release(b, blk);
        x->front++;
        x->count--;
    }
    return r;
}

static enum fy_send_result aio_send(struct fy_backend *base, struct fy_transfer *t, size_t budget)
{
    struct aio_backend *b = (struct aio_backend *)base;
    if (!t->state && t->end - t->offset < (off_t)b->min_size)
        return fy_transfer_send_plain(t, b->small, sizeof b->small, budget);
    struct aio_xfer *x = t->state;
    if (!x && !(x = xfer_start(b, t))) {
        if (!t->error)
            t->error = ENOMEM;
        return FY_SEND_ERROR;
    }
    t->state = x;
    if (x->plain)
        return fy_transfer_send_plain(t, b->small, sizeof b->small, budget);

    schedule(b, x); /* the disk works while the head goes out */
    enum fy_send_result r = fy_transfer_send_head(t, true);
    while (r == FY_SEND_DONE && t->offset < t->end) {
        struct aio_block *blk = front_block(b, x);
        if (!blk || blk->state != BLOCK_READY)
            return FY_SEND_WAIT;
        r = send_front(b, x, blk, &budget);
        if (r == FY_SEND_DONE) {
            schedule(b, x);
            serve_waiters(b);
        }
    }
    if (r == FY_SEND_DONE) {
        xfer_free(x);
        t->state = NULL;
    }
    return r;
}

static void aio_cancel(struct fy_backend *base, struct fy_transfer *t)
{
    struct aio_backend *b = (struct aio_backend *)base;
    struct aio_xfer *x = t->state;
    t->state = NULL;
    if (!x)
        return;
    wait_remove(b, x);
    x->t = NULL;
    for (unsigned i = 0; i < x->count; i++) {
        struct aio_block *blk = &x->blocks[(x->front + i) % b->read_ahead];
        if (blk->state == BLOCK_READY)
            block_release(b, blk);
    }
    if (x->inflight == 0) {
        xfer_free(x);
    } else {
        x->orphan_next = b->orphans;
        b->orphans = x;
    }
    serve_waiters(b);
}

/* --- completions --------------------------------------------------------- */

static void orphan_done(struct aio_backend *b, struct aio_xfer *x)
{
    struct aio_xfer **link = &b->orphans;
    while (*link != x)
        link = &(*link)->orphan_next;
    *link = x->orphan_next;
    xfer_free(x);
}

/* Records one completion; returns the transfer to wake, if any. */
static struct aio_xfer *complete(struct aio_backend *b, const struct io_event *ev)
{
    struct aio_block *blk = ((struct iocb *)ev->obj)->data;
    struct aio_xfer *x = blk->owner;
    long res = (long)ev->res;
    blk->state = BLOCK_READY;
    blk->result = res;
    x->inflight--;
    b->inflight--;
    b->stats.completed++;
    if (res < 0)
        b->stats.errors++;
    else if ((size_t)res < blk->skip + blk->want)
        b->stats.short_reads++;
    else
        b->stats.bytes += (unsigned long long)res;
    if (!x->t) { /* cancelled: the buffer was only waiting for the read */
        block_release(b, blk);
        if (x->inflight == 0)
            orphan_done(b, x);
        return NULL;
    }
    return blk == front_block(b, x) ? x : NULL;
}

static void on_completions(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct aio_backend *b = container_of(io, struct aio_backend, completions);
    uint64_t signalled;
    while (read(io->fd, &signalled, sizeof signalled) > 0)
        ;
    struct aio_xfer *wake = NULL;
    struct io_event ev[AIO_REAP_BATCH];
    struct timespec now = {0, 0};
    int n;
    do {
        n = io_getevents(b->ctx, 0, AIO_REAP_BATCH, ev, &now);
        for (int i = 0; i < n; i++) {
            struct aio_xfer *x = complete(b, &ev[i]);
            if (x && !x->woken) {
                x->woken = true;
                x->wake_next = wake;
                wake = x;
            }
        }
    } while (n == AIO_REAP_BATCH);
    serve_waiters(b);
    /* Woken last: a woken connection may finish or close its transfer. */
    while (wake) {
        struct aio_xfer *x = wake;
        wake = x->wake_next;
        x->wake_next = NULL;
        x->woken = false;
        x->t->wake(x->t);
    }
}

/* --- the backend --------------------------------------------------------- */

static void aio_destroy(struct fy_backend *base)
{
    struct aio_backend *b = (struct aio_backend *)base;
    fy_log(b->log, FY_LOG_INFO,
           "linux-aio-sendfile: %llu reads submitted, %llu completed, %llu bytes, %llu short, "
           "%llu errors, %llu files sent plain",
           b->stats.submitted, b->stats.completed, b->stats.bytes, b->stats.short_reads,
           b->stats.errors, b->stats.plain_files);
    if (b->ctx)
        io_destroy(b->ctx); /* waits for reads still in flight */
    while (b->orphans) {
        struct aio_xfer *x = b->orphans;
        b->orphans = x->orphan_next;
        xfer_free(x);
    }
    if (b->completions.fd >= 0) {
        fy_loop_remove(b->loop, &b->completions);
        close(b->completions.fd);
    }
    fy_shm_pool_free(&b->pool);
    free(b);
}

static struct fy_backend *aio_create(struct fy_loop *loop, const struct fy_config *cfg, struct fy_log *log,
                                     char *err, size_t errlen)
{
    struct aio_backend *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "linux-aio-sendfile: out of memory");
        return NULL;
    }
    *b = (struct aio_backend){
        .base = {.ops = &fy_backend_aio},
        .loop = loop,
        .log = log,
        .completions = {.fd = -1, .handler = on_completions},
        .pool = {.fd = -1},
        .max_inflight = cfg->aio_max_inflight,
        .read_ahead = cfg->aio_read_ahead,
        .block_size = cfg->aio_block_size,
        .min_size = cfg->aio_min_size,
        .direct = cfg->aio_direct,
    };
    int rc = io_setup((int)b->max_inflight, &b->ctx);
    if (rc < 0) {
        b->ctx = 0;
        snprintf(err, errlen, "linux-aio-sendfile: io_setup(%u): %s (see /proc/sys/fs/aio-max-nr)",
                 b->max_inflight, strerror(-rc));
        goto fail;
    }
    b->completions.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->completions.fd < 0 || fy_loop_add(loop, &b->completions, EPOLLIN) < 0) {
        snprintf(err, errlen, "linux-aio-sendfile: eventfd: %s", strerror(errno));
        goto fail;
    }
    /* Every read in flight holds a buffer, and so does every block read and
     * waiting for its socket: twice the reads in flight keeps both busy. */
    if (fy_shm_pool_init(&b->pool, "/dev/shm", b->block_size, 2 * b->max_inflight, err, errlen) < 0)
        goto fail;
    return &b->base;
fail:
    aio_destroy(&b->base);
    return NULL;
}

const struct fy_backend_ops fy_backend_aio = {
    .name = "linux-aio-sendfile",
    .create = aio_create,
    .send = aio_send,
    .cancel = aio_cancel,
    .destroy = aio_destroy,
};
