/* The asynchronous-read pipeline; see async.h. */
#include "backend/async.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "net/transport.h"

#define ASYNC_ALIGN 4096
/* A resident block is sent straight from the page cache; should its pages
 * be evicted between the probe and the send, sendfile waits for the disk.
 * Small blocks keep that rare risk short. */
#define ASYNC_RESIDENT_MAX (2u << 20)
/* How soon a read the engine refused with nothing in flight is retried. */
#define ASYNC_RETRY_MS 10
/* How often a pool that did not fit yet (see aio_pool_may_wait) is tried. */
#define ASYNC_POOL_RETRY_MS 1000
/* The fewest buffers a pool may be cut down to where the tmpfs is small: a
 * few reads in flight, and blocks read waiting for their sockets.  Fewer,
 * and cold downloads would mostly queue: sendfile serves them better. */
#define ASYNC_POOL_MIN_BLOCKS 4
/* An extent of the pool whose blocks have all been back this long gives
 * its space back (checked each ASYNC_TRIM_MS, so 2 to 3 s after).  Long
 * enough that the gaps of a steady load — a client's next request, a
 * burst every second — keep their memory (taking an extent again costs a
 * fallocate, a huge-page collapse and zeroing 2 MiB); short enough that
 * an idle worker holds nothing for long. */
#define ASYNC_POOL_IDLE_MS 2000
#define ASYNC_TRIM_MS 1000

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct fy_async_xfer {
    struct fy_transfer *t;     /* NULL once cancelled */
    int fd;                    /* our own descriptor of the file, O_DIRECT */
    bool plain;                /* O_DIRECT refused: send from the page cache */
    bool paced;                /* limit-rate: buffered reads (see fill in async.h) */
    off_t next_read;           /* the first range byte no block covers yet */
    unsigned front, count;     /* the ring of blocks, in range order */
    unsigned inflight;
    bool waiting, woken;
    struct fy_async_xfer *wait_next;   /* in the wait FIFO */
    struct fy_async_xfer *wake_next;   /* in the wake list */
    struct fy_async_xfer *orphan_next; /* cancelled, reads in flight */
    /* In the stalled list: its socket is full and it holds blocks behind
     * the one being sent, which it gives back when others need buffers. */
    struct fy_async_xfer *stalled_prev, *stalled_next;
    struct fy_async_block blocks[];    /* aio-read-ahead of them, then engine data */
};

/* --- fault injection (test builds only) ---------------------------------- */

#ifdef FY_TEST_HOOKS
/* FERRY_FAULT_READ="eio:N" fails the Nth completed read with EIO;
 * "short:N" makes it return half of what it asked for; "again:N" makes the
 * engine refuse the Nth read it is given (-EAGAIN), as when the kernel is
 * out of room. */
static void fault_init(struct fy_async *a)
{
    const char *spec = getenv("FERRY_FAULT_READ");
    unsigned long n;
    char kind[8];
    if (spec && sscanf(spec, "%7[a-z]:%lu", kind, &n) == 2) {
        a->fault_short = strcmp(kind, "short") == 0;
        a->fault_again = strcmp(kind, "again") == 0;
        a->fault_at = n;
    }
}

static int fault_submit(struct fy_async *a)
{
    return a->fault_again && ++a->attempts == a->fault_at ? -EAGAIN : 0;
}

static long fault_inject(struct fy_async *a, struct fy_async_block *blk, long res)
{
    if (a->fault_at == 0 || a->fault_again || a->stats.completed + 1 != a->fault_at)
        return res;
    return a->fault_short ? (long)(blk->skip + blk->want) / 2 : -EIO;
}
#else
static void fault_init(struct fy_async *a) { (void)a; }
static int fault_submit(struct fy_async *a)
{
    (void)a;
    return 0;
}
static long fault_inject(struct fy_async *a, struct fy_async_block *blk, long res)
{
    (void)a, (void)blk;
    return res;
}
#endif

/* --- the wait FIFO ------------------------------------------------------- */

/* A transfer joins it when it has no block to send and cannot start one
 * (no free buffer or read slot).  While anyone waits, nobody else takes a
 * buffer: new transfers and those that just sent a block join the back,
 * so the longest-waiting go first. */
static void wait_link(struct fy_async *a, struct fy_async_xfer *x, bool first)
{
    if (x->waiting)
        return;
    x->waiting = true;
    x->t->queued = true;
    a->queued++;
    if (!a->wait_head) {
        x->wait_next = NULL;
        a->wait_head = a->wait_tail = x;
    } else if (first) {
        x->wait_next = a->wait_head;
        a->wait_head = x;
    } else {
        x->wait_next = NULL;
        a->wait_tail->wait_next = x;
        a->wait_tail = x;
    }
}

static void wait_enqueue(struct fy_async *a, struct fy_async_xfer *x) { wait_link(a, x, false); }

/* Its turn came but the engine refused the read: it stays first. */
static void wait_push_front(struct fy_async *a, struct fy_async_xfer *x) { wait_link(a, x, true); }

static void wait_remove(struct fy_async *a, struct fy_async_xfer *x)
{
    if (!x->waiting)
        return;
    struct fy_async_xfer **link = &a->wait_head, *prev = NULL;
    while (*link != x) {
        prev = *link;
        link = &(*link)->wait_next;
    }
    *link = x->wait_next;
    if (a->wait_tail == x)
        a->wait_tail = prev;
    x->waiting = false;
    x->wait_next = NULL;
    if (x->t)
        x->t->queued = false;
    a->queued--;
}

/* --- the wake list ------------------------------------------------------- */

/* A block of x became ready outside x's own send(): its connection is
 * called back from on_completions(), never from inside another
 * transfer's send() or cancel(), where it could close that transfer's
 * connection under it.  Signalling our own eventfd gets us there. */
static void wake_later(struct fy_async *a, struct fy_async_xfer *x)
{
    if (x->woken)
        return;
    x->woken = true;
    x->wake_next = a->wake;
    a->wake = x;
    uint64_t one = 1;
    if (write(a->completions.fd, &one, sizeof one) < 0) {
        /* The counter is full, so the eventfd is readable anyway. */
    }
}

static void wake_remove(struct fy_async *a, struct fy_async_xfer *x)
{
    if (!x->woken)
        return;
    struct fy_async_xfer **link = &a->wake;
    while (*link != x)
        link = &(*link)->wake_next;
    *link = x->wake_next;
    x->woken = false;
    x->wake_next = NULL;
}

/* --- the stalled list ---------------------------------------------------- */

static bool is_stalled(const struct fy_async *a, const struct fy_async_xfer *x)
{
    return x->stalled_prev || a->stalled == x;
}

static void stalled_add(struct fy_async *a, struct fy_async_xfer *x)
{
    if (is_stalled(a, x))
        return;
    x->stalled_next = a->stalled;
    if (a->stalled)
        a->stalled->stalled_prev = x;
    a->stalled = x;
}

static void stalled_remove(struct fy_async *a, struct fy_async_xfer *x)
{
    if (!is_stalled(a, x))
        return;
    if (x->stalled_prev)
        x->stalled_prev->stalled_next = x->stalled_next;
    else
        a->stalled = x->stalled_next;
    if (x->stalled_next)
        x->stalled_next->stalled_prev = x->stalled_prev;
    x->stalled_prev = x->stalled_next = NULL;
}

/* --- blocks -------------------------------------------------------------- */

static struct fy_async_block *front_block(struct fy_async *a, struct fy_async_xfer *x)
{
    return x->count ? &x->blocks[x->front % a->read_ahead] : NULL;
}

static struct fy_async_block *tail_block(struct fy_async *a, struct fy_async_xfer *x)
{
    return &x->blocks[(x->front + x->count - 1) % a->read_ahead];
}

/* The pool's tmpfs had no room for another extent: reads take the blocks
 * of the extents the pool has, and the others are tried again by the pool
 * timer, once a second (the tmpfs stays full for a while, and a
 * fallocate() on every turn would not empty it sooner). */
static void note_pool_short(struct fy_async *a)
{
    if (!fy_timer_armed(&a->pool_retry))
        fy_timer_arm(a->loop, &a->pool_retry_queue, &a->pool_retry);
    if (a->warned_pool_space)
        return;
    fy_log(a->log, FY_LOG_WARN, "%s: the buffer pool's tmpfs is full (other users, or other workers); reads wait "
           "for the buffers the pool holds until it has room again", a->name);
    a->warned_pool_space = true;
}

/* Armed only while an extent of the pool has no block out: an idle server
 * wakes up for this at most until all is given back. */
static void pool_put(struct fy_async *a, unsigned buf)
{
    fy_shm_pool_put(&a->pool, buf, a->loop->now_ms);
    if (a->pool.nidle && !fy_timer_armed(&a->pool_trim))
        fy_timer_arm(a->loop, &a->pool_trim_queue, &a->pool_trim);
}

static void block_release(struct fy_async *a, struct fy_async_block *blk)
{
    blk->state = FY_BLOCK_FREE;
    if (!blk->from_file)
        pool_put(a, blk->buf);
}

/* A client that stops reading keeps the block being sent and gives back
 * the ones read ahead behind it (they are read again when it goes on), so
 * while others wait for buffers, it holds one at most. */
static void give_back_read_ahead(struct fy_async *a, struct fy_async_xfer *x)
{
    while (x->count > 1 && tail_block(a, x)->state == FY_BLOCK_READY) {
        struct fy_async_block *tail = tail_block(a, x);
        x->next_read = tail->file_off + (off_t)tail->skip;
        block_release(a, tail);
        x->count--;
    }
    if (x->count <= 1 && x->inflight == 0)
        stalled_remove(a, x);
}

/* Someone joined the queue with no buffer free: take back what stalled
 * clients read ahead. */
static void reclaim_from_stalled(struct fy_async *a)
{
    struct fy_async_xfer *x = a->stalled;
    while (x) {
        struct fy_async_xfer *next = x->stalled_next;
        give_back_read_ahead(a, x);
        x = next;
    }
}

/* cachestat(2) (Linux 6.5): how many of a range's pages are cached,
 * without touching them.  Older kernels: look at the first and the last
 * byte with a read that refuses to wait. */
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
struct cachestat_range { uint64_t off, len; };
struct cachestat_counts { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; };

static bool probe_byte(int fd, off_t off)
{
    char byte;
    struct iovec iov = {&byte, 1};
    return preadv2(fd, &iov, 1, off, RWF_NOWAIT) == 1;
}

static bool range_resident(int fd, off_t off, size_t len)
{
    struct cachestat_range range = {(uint64_t)off, len};
    struct cachestat_counts cs;
    if (syscall(SYS_cachestat, fd, &range, &cs, 0) == 0) {
        uint64_t first = (uint64_t)off / 4096, last = ((uint64_t)off + len - 1) / 4096;
        return cs.nr_cache >= last - first + 1;
    }
    return probe_byte(fd, off) && probe_byte(fd, off + (off_t)len - 1);
}

/* The next block is in the page cache: no read, no buffer. */
static bool start_resident(struct fy_async *a, struct fy_async_xfer *x)
{
    struct fy_async_block *blk = &x->blocks[(x->front + x->count) % a->read_ahead];
    size_t want = a->block_size < ASYNC_RESIDENT_MAX ? a->block_size : ASYNC_RESIDENT_MAX;
    off_t left = x->t->end - x->next_read;
    if ((off_t)want > left)
        want = (size_t)left;
    if (!range_resident(x->t->file_fd, x->next_read, want))
        return false;
    void *engine_data = blk->engine_data;
    *blk = (struct fy_async_block){
        .owner = x, .state = FY_BLOCK_READY, .from_file = true, .file_off = x->next_read,
        .want = want, .result = (long)want, .engine_data = engine_data,
    };
    x->count++;
    x->next_read += (off_t)want;
    a->stats.cached_blocks++;
    return true;
}

static bool can_read(const struct fy_async *a)
{
    return a->inflight < a->max_inflight && fy_shm_pool_may_get(&a->pool);
}

/* Starts reading the next block into a pool buffer.  Returns false when
 * out of buffers or read slots, or when the engine has no room now. */
static bool start_read(struct fy_async *a, struct fy_async_xfer *x)
{
    if (!can_read(a))
        return false;
    int buf = fy_shm_pool_get(&a->pool);
    if (buf < 0) { /* the tmpfs has no room for another extent */
        note_pool_short(a);
        return false;
    }
    struct fy_async_block *blk = &x->blocks[(x->front + x->count) % a->read_ahead];
    off_t aligned = x->paced ? x->next_read : x->next_read & ~(off_t)(ASYNC_ALIGN - 1);
    off_t left = x->t->end - x->next_read;
    void *engine_data = blk->engine_data;
    *blk = (struct fy_async_block){
        .owner = x, .state = FY_BLOCK_READING, .buf = (unsigned)buf, .fill = x->paced,
        .file_off = aligned, .skip = (size_t)(x->next_read - aligned), .engine_data = engine_data,
    };
    size_t block = x->t->read_max && x->t->read_max < a->block_size ? x->t->read_max : a->block_size;
    blk->want = block - blk->skip;
    if ((off_t)blk->want > left)
        blk->want = (size_t)left;
    size_t len = x->paced ? blk->want : (blk->skip + blk->want + ASYNC_ALIGN - 1) & ~(size_t)(ASYNC_ALIGN - 1);
    int rc = fault_submit(a);
    if (rc == 0)
        rc = a->engine->submit(a, blk, x->paced ? x->t->file_fd : x->fd, fy_shm_pool_addr(&a->pool, blk->buf), len,
                               aligned);
    if (rc == -EAGAIN) {
        block_release(a, blk);
        if (a->inflight == 0)
            fy_timer_arm(a->loop, &a->retry_queue, &a->retry);
        return false;
    }
    x->count++;
    x->next_read += (off_t)blk->want;
    if (rc < 0) { /* the read failed to start: the transfer fails when it gets there */
        blk->state = FY_BLOCK_READY;
        blk->result = rc;
        a->stats.errors++;
        return true;
    }
    x->inflight++;
    a->inflight++;
    a->stats.submitted++;
    return true;
}

static void serve_waiters(struct fy_async *a);

static bool wants_block(const struct fy_async *a, const struct fy_async_xfer *x)
{
    return x->count < a->read_ahead && x->next_read < x->t->end;
}

/* Starts what x may have now: blocks from the page cache always (they
 * take no buffer); reads while nobody waits for a buffer.  Without a
 * block to send and unable to read, x joins the queue. */
static void schedule(struct fy_async *a, struct fy_async_xfer *x)
{
    while (wants_block(a, x)) {
        if (a->probe_residency && start_resident(a, x)) {
            wait_remove(a, x); /* it has a block again: no longer waiting */
            continue;
        }
        if (!x->waiting && !a->wait_head && start_read(a, x))
            continue;
        if (x->count == 0 && !x->waiting) {
            wait_enqueue(a, x);
            if (!fy_shm_pool_may_get(&a->pool)) {
                reclaim_from_stalled(a);
                serve_waiters(a);
            }
        }
        return;
    }
}

/* Buffers or slots came free: the longest-waiting transfers go first, one
 * block each. */
static void serve_waiters(struct fy_async *a)
{
    while (a->wait_head && can_read(a)) {
        struct fy_async_xfer *x = a->wait_head;
        wait_remove(a, x);
        if (!start_read(a, x)) { /* the engine refused: a completion or the timer retries */
            wait_push_front(a, x);
            return;
        }
        if (front_block(a, x)->state == FY_BLOCK_READY) /* a read that failed to start */
            wake_later(a, x);
    }
}

/* --- transfers ----------------------------------------------------------- */

static void xfer_free(struct fy_async *a, struct fy_async_xfer *x)
{
    wait_remove(a, x);
    wake_remove(a, x);
    stalled_remove(a, x);
    if (x->fd >= 0)
        close(x->fd);
    free(x);
}

/* The device's O_DIRECT alignment (STATX_DIOALIGN, Linux 6.1), where the
 * file system reports it; 0 where it has no O_DIRECT at all.  Reads here
 * are 4 KiB-aligned in file and memory: a device that needs more would
 * fail every read, so its files go plain instead. */
static bool direct_alignment_fits(int fd)
{
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0 || !(stx.stx_mask & STATX_DIOALIGN))
        return true; /* not reported: 4 KiB, as before the kernel could say */
    return stx.stx_dio_offset_align != 0 && stx.stx_dio_offset_align <= ASYNC_ALIGN &&
           stx.stx_dio_mem_align <= ASYNC_ALIGN;
}

/* Our own O_DIRECT descriptor of the file: the connection's is shared with
 * the page-cache paths (and may close while our reads are in flight).
 * Returns it, -EINVAL when the file cannot be read O_DIRECT, or -errno. */
static int reopen(struct fy_async *a, int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int copy = open(path, O_RDONLY | O_CLOEXEC | (a->direct ? O_DIRECT : 0));
    if (copy < 0)
        return -errno;
    if (a->direct && !direct_alignment_fits(copy)) {
        close(copy);
        return -EINVAL;
    }
    return copy;
}

/* The file goes plain, from the page cache with the connection's own
 * descriptor, as the sendfile backend sends it: a file system without
 * (4 KiB-aligned) O_DIRECT, or no descriptor left for our copy. */
static void note_plain(struct fy_async *a, int err)
{
    a->stats.plain_files++;
    bool *warned = err == EINVAL ? &a->warned_plain : &a->warned_descriptors;
    if (*warned)
        return;
    if (err == EINVAL)
        fy_log(a->log, FY_LOG_WARN, "%s: a file system refuses O_DIRECT; its files are sent with plain sendfile",
               a->name);
    else
        fy_log(a->log, FY_LOG_WARN, "%s: cannot open a file for asynchronous reads (%s); it is sent with plain "
               "sendfile", a->name, strerror(err));
    *warned = true;
}

static struct fy_async_xfer *xfer_start(struct fy_async *a, struct fy_transfer *t)
{
    size_t block_bytes = a->read_ahead * sizeof(struct fy_async_block);
    struct fy_async_xfer *x = calloc(1, sizeof *x + block_bytes + a->read_ahead * a->engine->block_data_size);
    if (!x)
        return NULL;
    char *engine_data = (char *)x->blocks + block_bytes;
    for (unsigned i = 0; i < a->read_ahead; i++)
        x->blocks[i].engine_data = engine_data + i * a->engine->block_data_size;
    x->t = t;
    x->next_read = t->offset;
    x->paced = t->read_max && a->engine->buffered_reads;
    x->fd = x->paced ? -1 : reopen(a, t->file_fd); /* paced: reads through the page cache */
    if (x->fd < 0 && !x->paced) {
        note_plain(a, -x->fd);
        x->plain = true;
        x->fd = -1;
    }
    return x;
}

/* Sends the front block's bytes; releases the block once they are out. */
static enum fy_send_result send_front(struct fy_async *a, struct fy_async_xfer *x, struct fy_async_block *blk,
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
    enum fy_send_result r;
    size_t in_buf = blk->skip + done;
    if (blk->from_file)
        r = fy_transfer_send_fd(t, t->file_fd, t->offset, blk->want - done, budget);
    else if (a->pool.punch_on_put && fy_transport_zero_copy(t->out))
        r = fy_transfer_send_fd(t, a->pool.fd, fy_shm_pool_offset(&a->pool, blk->buf) + (off_t)in_buf,
                                blk->want - done, budget);
    else
        r = fy_transfer_send_buf(t, fy_shm_pool_addr(&a->pool, blk->buf) + in_buf, blk->want - done, budget);
    if (r == FY_SEND_DONE) {
        block_release(a, blk);
        x->front++;
        x->count--;
    }
    return r;
}

/* The socket is full.  Until it drains, x needs only the block it is
 * sending; what it read ahead goes back at once if others wait, or when
 * someone comes to wait. */
static void note_stall(struct fy_async *a, struct fy_async_xfer *x)
{
    if (a->wait_head)
        give_back_read_ahead(a, x);
    if (x->count > 1 || x->inflight > 0)
        stalled_add(a, x);
    serve_waiters(a);
}

static enum fy_send_result send_blocks(struct fy_async *a, struct fy_async_xfer *x, size_t budget)
{
    struct fy_transfer *t = x->t;
    stalled_remove(a, x);
    schedule(a, x); /* the disk works while the head goes out */
    enum fy_send_result r = fy_transfer_send_head(t, true);
    while (r == FY_SEND_DONE && t->offset < t->end) {
        struct fy_async_block *blk = front_block(a, x);
        if (!blk || blk->state != FY_BLOCK_READY)
            return FY_SEND_WAIT;
        r = send_front(a, x, blk, &budget);
        if (r == FY_SEND_DONE) {
            serve_waiters(a); /* the freed buffer goes to the first in line, */
            schedule(a, x);   /* and x asks again behind it */
        }
    }
    if (r == FY_SEND_AGAIN)
        note_stall(a, x);
    return r;
}

enum fy_send_result fy_async_send(struct fy_backend *b, struct fy_transfer *t, size_t budget)
{
    struct fy_async *a = (struct fy_async *)b;
    if (!t->state && (t->end - t->offset < (off_t)a->min_size || a->pool_pending))
        return fy_transfer_send_plain(t, a->small, sizeof a->small, budget);
    struct fy_async_xfer *x = t->state;
    if (!x && !(x = xfer_start(a, t))) {
        t->error = ENOMEM;
        return FY_SEND_ERROR;
    }
    t->state = x;
    enum fy_send_result r = x->plain ? fy_transfer_send_plain(t, a->small, sizeof a->small, budget)
                                     : send_blocks(a, x, budget);
    if (r == FY_SEND_DONE) {
        xfer_free(a, x);
        t->state = NULL;
    }
    return r;
}

void fy_async_pause(struct fy_backend *b, struct fy_transfer *t)
{
    struct fy_async *a = (struct fy_async *)b;
    struct fy_async_xfer *x = t->state;
    if (x && !x->plain)
        note_stall(a, x);
}

void fy_async_cancel(struct fy_backend *b, struct fy_transfer *t)
{
    struct fy_async *a = (struct fy_async *)b;
    struct fy_async_xfer *x = t->state;
    t->state = NULL;
    if (!x)
        return;
    wait_remove(a, x);
    wake_remove(a, x);
    stalled_remove(a, x);
    x->t = NULL;
    for (unsigned i = 0; i < x->count; i++) {
        struct fy_async_block *blk = &x->blocks[(x->front + i) % a->read_ahead];
        if (blk->state == FY_BLOCK_READY)
            block_release(a, blk);
    }
    if (x->inflight == 0) {
        xfer_free(a, x);
    } else {
        x->orphan_next = a->orphans;
        a->orphans = x;
    }
    serve_waiters(a);
}

/* --- completions --------------------------------------------------------- */

static void orphan_done(struct fy_async *a, struct fy_async_xfer *x)
{
    struct fy_async_xfer **link = &a->orphans;
    while (*link != x)
        link = &(*link)->orphan_next;
    *link = x->orphan_next;
    xfer_free(a, x);
}

void fy_async_complete(struct fy_async *a, struct fy_async_block *blk, long res)
{
    res = fault_inject(a, blk, res);
    struct fy_async_xfer *x = blk->owner;
    blk->state = FY_BLOCK_READY;
    blk->result = res;
    x->inflight--;
    a->inflight--;
    a->stats.completed++;
    if (res < 0)
        a->stats.errors++;
    else if ((size_t)res < blk->skip + blk->want)
        a->stats.short_reads++;
    else
        a->stats.bytes += (unsigned long long)res;
    if (!x->t) { /* cancelled: the buffer was only waiting for the read */
        block_release(a, blk);
        if (x->inflight == 0)
            orphan_done(a, x);
        return;
    }
    if (blk->fill && res == (long)blk->want) { /* the bytes are in the page cache: sent from there */
        pool_put(a, blk->buf);
        blk->from_file = true;
    }
    if (is_stalled(a, x)) {
        if (a->wait_head)
            give_back_read_ahead(a, x);
        return; /* its socket is full: it is called again when it drains */
    }
    if (blk == front_block(a, x) && !x->woken) {
        x->woken = true;
        x->wake_next = a->wake;
        a->wake = x;
    }
}

static void on_completions(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct fy_async *a = container_of(io, struct fy_async, completions);
    uint64_t signalled;
    while (read(io->fd, &signalled, sizeof signalled) > 0)
        ;
    a->engine->reap(a);
    serve_waiters(a);
    /* Woken last: a woken connection may finish or close its transfer, or
     * another's (which then leaves this list). */
    while (a->wake) {
        struct fy_async_xfer *x = a->wake;
        a->wake = x->wake_next;
        x->wake_next = NULL;
        x->woken = false;
        x->t->wake(x->t);
    }
}

static void on_retry(struct fy_timer *t)
{
    serve_waiters(container_of(t, struct fy_async, retry));
}

/* --- set-up -------------------------------------------------------------- */

static int reserve_pool(struct fy_async *a, char *err, size_t errlen)
{
    int rc = fy_shm_pool_init(&a->pool, a->cfg->aio_pool_dir, a->block_size, a->pool_blocks,
                              a->cfg->aio_send == FY_AIO_SEND_SENDFILE, err, errlen);
    if (rc == 0 && a->engine->pool_ready)
        a->engine->pool_ready(a);
    return rc;
}

/* "64 MiB", "8188 KiB" */
static const char *size_text(char *buf, size_t len, uint64_t bytes)
{
    if (bytes >= (16u << 20) || (bytes >= (1u << 20) && bytes % (1u << 20) == 0))
        snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
    else
        snprintf(buf, len, "%llu KiB", (unsigned long long)(bytes >> 10));
    return buf;
}

/* Every read in flight holds a buffer, and so does every block read and
 * waiting for its socket: twice the reads in flight keeps both busy.  A
 * small tmpfs (Docker's /dev/shm: 64 MiB for every process in the
 * container) gets fewer, down to ASYNC_POOL_MIN_BLOCKS: each worker its
 * part, with headroom (fy_shm_pool_fit).  Returns 0, or -errno with err:
 * -EFBIG when not even the fewest fit, which no waiting would change. */
static int fit_pool(struct fy_async *a, unsigned want, unsigned least, struct fy_shm_pool_room *room, char *err,
                    size_t errlen)
{
    const struct fy_config *cfg = a->cfg;
    int rc = fy_shm_pool_room(cfg->aio_pool_dir, room);
    if (rc < 0) {
        snprintf(err, errlen, "buffer pool in %s: %s", cfg->aio_pool_dir, strerror(-rc));
        return rc;
    }
    a->pool_blocks = fy_shm_pool_fit(room, a->block_size, want, cfg->aio_pool_sharers, cfg->aio_pool_may_wait);
    if (a->pool_blocks >= least)
        return 0;
    char size[32], avail[32], block[32];
    snprintf(err, errlen, "buffer pool: %s has %s (%s free) for %u worker%s: not even %u buffers of %s fit "
             "(aio-pool-dir, aio-block-size)", cfg->aio_pool_dir, size_text(size, sizeof size, room->size),
             size_text(avail, sizeof avail, room->avail), cfg->aio_pool_sharers,
             cfg->aio_pool_sharers == 1 ? "" : "s", least, size_text(block, sizeof block, a->block_size));
    return -EFBIG;
}

/* Said once, at start: the pool is smaller than configured. */
static void note_small_pool(struct fy_async *a, unsigned want, const struct fy_shm_pool_room *room)
{
    const struct fy_config *cfg = a->cfg;
    char got[32], wanted[32], block[32], size[32], avail[32];
    fy_log(a->log, FY_LOG_WARN, "%s: buffer pool of %s (%u buffers of %s) instead of %s: %s has %s (%s free) "
           "for %u worker%s and its other users", a->name,
           size_text(got, sizeof got, (uint64_t)a->pool_blocks * a->block_size), a->pool_blocks,
           size_text(block, sizeof block, a->block_size), size_text(wanted, sizeof wanted, (uint64_t)want * a->block_size),
           cfg->aio_pool_dir, size_text(size, sizeof size, room->size), size_text(avail, sizeof avail, room->avail),
           cfg->aio_pool_sharers, cfg->aio_pool_sharers == 1 ? "" : "s");
}

/* Once a second while the pool lacks space: the whole pool (a reload's,
 * see wait_for_pool), or an extent for the reads that wait. */
static void on_pool_retry(struct fy_timer *t)
{
    struct fy_async *a = container_of(t, struct fy_async, pool_retry);
    char err[256];
    if (a->pool_pending && reserve_pool(a, err, sizeof err) == 0) {
        a->pool_pending = false;
        fy_log(a->log, FY_LOG_INFO, "%s: buffer pool reserved; asynchronous reads resume", a->name);
    } else if (!a->pool_pending) {
        fy_shm_pool_try_again(&a->pool);
        serve_waiters(a); /* should the tmpfs refuse again, note_pool_short() re-arms */
    }
    if (a->pool_pending)
        fy_timer_arm(a->loop, &a->pool_retry_queue, &a->pool_retry);
}

/* Gives back the space of the pool's extents idle long enough; again in a
 * while if some are idle but not yet long enough. */
static void on_pool_trim(struct fy_timer *t)
{
    struct fy_async *a = container_of(t, struct fy_async, pool_trim);
    if (fy_shm_pool_trim(&a->pool, a->loop->now_ms, ASYNC_POOL_IDLE_MS) > 0)
        fy_timer_arm(a->loop, &a->pool_trim_queue, &a->pool_trim);
}

/* A reload's worker whose pool does not fit while the old workers hold
 * theirs: it serves from the page cache, as the sendfile backend does,
 * until they exit and give the space back. */
static void wait_for_pool(struct fy_async *a, const char *why)
{
    a->pool_pending = true;
    fy_log(a->log, FY_LOG_WARN, "%s: %s; the previous workers still hold their pools, so files are sent from the "
           "page cache until they give the space back", a->name, why);
    fy_timer_arm(a->loop, &a->pool_retry_queue, &a->pool_retry);
}

int fy_async_init(struct fy_async *a, const struct fy_backend_ops *ops, const struct fy_async_mode *mode,
                  const struct fy_async_engine *engine, struct fy_loop *loop, const struct fy_config *cfg,
                  struct fy_log *log, char *err, size_t errlen)
{
    a->base.ops = ops;
    a->name = mode->name;
    a->engine = engine;
    a->loop = loop;
    a->log = log;
    a->cfg = cfg;
    a->completions = (struct fy_io){.fd = -1, .handler = on_completions};
    a->pool.fd = -1;
    a->max_inflight = cfg->aio_max_inflight;
    a->read_ahead = cfg->aio_read_ahead;
    a->block_size = cfg->aio_block_size;
    a->min_size = cfg->aio_min_size;
    a->direct = cfg->aio_direct;
    a->probe_residency = mode->probe_residency;
    fy_timer_queue_init(loop, &a->retry_queue, ASYNC_RETRY_MS);
    a->retry.handler = on_retry;
    fy_timer_queue_init(loop, &a->pool_retry_queue, ASYNC_POOL_RETRY_MS);
    a->pool_retry.handler = on_pool_retry;
    fy_timer_queue_init(loop, &a->pool_trim_queue, ASYNC_TRIM_MS);
    a->pool_trim.handler = on_pool_trim;
    a->completions.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (a->completions.fd < 0 || fy_loop_add(loop, &a->completions, EPOLLIN) < 0) {
        snprintf(err, errlen, "%s: eventfd: %s", a->name, strerror(errno));
        return -1;
    }
    fault_init(a);
    return 0;
}

int fy_async_reserve(struct fy_async *a, char *err, size_t errlen)
{
    unsigned want = 2 * a->max_inflight, least = want < ASYNC_POOL_MIN_BLOCKS ? want : ASYNC_POOL_MIN_BLOCKS;
    bool may_wait = a->cfg->aio_pool_may_wait;
    struct fy_shm_pool_room room;
    int rc = fit_pool(a, want, least, &room, err, errlen);
    /* Space taken since it was measured (the sibling workers start at the
     * same time): smaller again, while that is not fewer than the least. */
    while (rc == 0 && (rc = reserve_pool(a, err, errlen)) == -ENOSPC && !may_wait && a->pool_blocks / 2 >= least) {
        a->pool_blocks /= 2;
        rc = 0;
    }
    if (rc == -ENOSPC && may_wait) {
        wait_for_pool(a, err);
        rc = 0;
    }
    if (rc == 0 && a->pool_blocks < want)
        note_small_pool(a, want, &room);
    a->serving = rc == 0;
    return rc < 0 ? -1 : 0;
}

void fy_async_stats_op(const struct fy_backend *b, struct fy_backend_stats *out)
{
    const struct fy_async *a = (const struct fy_async *)b;
    const struct fy_async_stats *s = &a->stats;
    *out = (struct fy_backend_stats){
        .async = true,
        .reads_submitted = s->submitted, .reads_completed = s->completed, .bytes_read = s->bytes,
        .short_reads = s->short_reads, .read_errors = s->errors, .plain_files = s->plain_files,
        .cached_blocks = s->cached_blocks, .lookups = s->lookups, .reads_in_flight = a->inflight, .queued = a->queued,
        .pool_buffers = a->pool.nblocks, .pool_free = a->pool.nfree, .buffer_size = a->pool.block_size,
        .pool_resident = fy_shm_pool_resident(&a->pool),
    };
}

void fy_async_fini(struct fy_async *a, bool engine_started)
{
    const struct fy_async_stats *s = &a->stats;
    if (a->serving)
        fy_log(a->log, FY_LOG_INFO,
               "%s: %llu reads submitted, %llu completed, %llu bytes, %llu short, %llu errors, "
               "%llu files sent plain, %llu blocks sent from the page cache, %u of %u buffers free, "
               "%llu names looked up",
               a->name, s->submitted, s->completed, s->bytes, s->short_reads, s->errors,
               s->plain_files, s->cached_blocks, a->pool.nfree, a->pool.nblocks, s->lookups);
    if (engine_started)
        a->engine->stop(a); /* after this no read is in flight */
    fy_timer_disarm(&a->retry);
    fy_timer_queue_remove(a->loop, &a->retry_queue);
    fy_timer_disarm(&a->pool_retry);
    fy_timer_queue_remove(a->loop, &a->pool_retry_queue);
    fy_timer_disarm(&a->pool_trim);
    fy_timer_queue_remove(a->loop, &a->pool_trim_queue);
    while (a->orphans) {
        struct fy_async_xfer *x = a->orphans;
        a->orphans = x->orphan_next;
        xfer_free(a, x);
    }
    if (a->completions.fd >= 0) {
        fy_loop_remove(a->loop, &a->completions);
        close(a->completions.fd);
        a->completions.fd = -1;
    }
    fy_shm_pool_free(&a->pool);
}
