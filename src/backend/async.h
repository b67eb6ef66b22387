/* The asynchronous-read pipeline shared by linux-aio-sendfile, io-uring and
 * auto: how a large body travels disk → /dev/shm pool → socket without the
 * event loop ever waiting for the disk.
 *
 *   send() ──► schedule: up to aio-read-ahead blocks per transfer, at most
 *              aio-max-inflight reads in all; without a free buffer or slot
 *              the transfer waits in a FIFO (never a blocking fallback).
 *              While anyone waits nobody jumps it, a freed buffer goes to
 *              its head, and a client whose socket is full gives back what
 *              was read ahead for it: it holds one buffer at most
 *   engine ──► reads a block into a pool buffer; its completions signal an
 *              eventfd in the loop (no helper thread, no signal)
 *   eventfd ─► the engine reaps, fy_async_complete() records each block,
 *              then the transfers whose next block is ready are woken
 *   send() ──► sendfile() the front block from the pool's tmpfs file; a
 *              block fully sent goes back to the pool: the next read starts
 *
 * With residency probing on (the auto backend) a block whose pages are all
 * in the page cache needs no read: it is sent with sendfile() straight from
 * the file, and only blocks that would wait for the disk take the async way.
 *
 * O_DIRECT needs aligned offsets and lengths: a block starts at the range's
 * offset rounded down to 4 KiB and the bytes before it are skipped when
 * sending, so Range requests and odd file sizes take the same path.
 *
 * An engine is three functions: submit one read, reap completions, stop.
 * A transfer cancelled while its reads are in flight stays with the
 * pipeline until they complete, so no read lands in a buffer given away.
 *
 * A backend on the pipeline is set up in three steps: fy_async_init() (the
 * eventfd), its engine (which the kernel may refuse), fy_async_reserve()
 * (the pool).  The engine comes before the pool so that a refused engine
 * costs no pool, and so that whoever tries another engine (auto, auto.c)
 * can tell the two failures apart: another engine may be allowed, while a
 * pool that does not fit fits no better under another engine. */
#ifndef FY_ASYNC_H
#define FY_ASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "backend/backend.h"
#include "backend/shm_pool.h"
#include "event/loop.h"

#define FY_ASYNC_SMALL (16 * 1024)

struct fy_async;
struct fy_async_xfer;

enum fy_async_block_state { FY_BLOCK_FREE, FY_BLOCK_READING, FY_BLOCK_READY };

struct fy_async_block {
    struct fy_async_xfer *owner;
    enum fy_async_block_state state;
    bool from_file;            /* resident: sent from the page cache, no buffer */
    bool fill;                 /* a paced transfer's buffered read: it fills the page cache, and
                                * its buffer goes back as soon as it completes (from_file then) */
    unsigned buf;              /* its buffer in the pool */
    off_t file_off;            /* where the read starts: aligned */
    size_t skip;               /* bytes read before the range's next byte */
    size_t want;               /* bytes of the range the block carries */
    long result;               /* bytes read, or -errno */
    void *engine_data;         /* the engine's per-read state (an iocb) */
};

struct fy_async_engine {
    /* Starts reading len bytes at off of fd into buf.  Returns 0, -EAGAIN
     * when the engine has no room now (the transfer waits), or -errno. */
    int  (*submit)(struct fy_async *a, struct fy_async_block *blk, int fd, void *buf, size_t len, off_t off);
    /* The eventfd fired: call fy_async_complete() for each finished read. */
    void (*reap)(struct fy_async *a);
    /* Ends the engine, waiting for or cancelling reads still in flight. */
    void (*stop)(struct fy_async *a);
    /* Optional: the pool is there (at start, or later: aio_pool_may_wait). */
    void (*pool_ready)(struct fy_async *a);
    /* Bytes of per-read state the engine keeps in blk->engine_data. */
    size_t block_data_size;
    /* A read of a descriptor without O_DIRECT does not block submit() (true
     * of io_uring, not of libaio): paced transfers then read through the
     * page cache and hold a buffer only while a read is in flight. */
    bool buffered_reads;
};

/* How a backend runs the pipeline, whatever its engine. */
struct fy_async_mode {
    const char *name;          /* the configured backend's, for messages */
    bool probe_residency;      /* cached blocks are sent from the page cache, unread (auto) */
};

struct fy_async_stats {
    unsigned long long submitted, completed, bytes, short_reads, errors, plain_files, cached_blocks, lookups;
};

struct fy_async {
    struct fy_backend base;
    const struct fy_async_engine *engine;
    const char *name;          /* see fy_async_mode */
    struct fy_loop *loop;
    struct fy_log *log;
    struct fy_io completions;  /* the eventfd the engine signals */
    struct fy_shm_pool pool;
    unsigned inflight, max_inflight, read_ahead;
    unsigned pool_blocks;      /* the pool's buffers: 2 × max_inflight, or fewer that fit (reserve_pool) */
    size_t block_size, min_size;
    bool direct, probe_residency, warned_plain, warned_descriptors, warned_pool_space;
    bool serving;              /* fy_async_reserve() succeeded (its pool may be pending) */
    struct fy_async_xfer *wait_head, *wait_tail;  /* transfers waiting for a buffer */
    unsigned queued;                              /* their number */
    struct fy_async_xfer *stalled;  /* sockets full, holding blocks read ahead */
    struct fy_async_xfer *orphans;
    struct fy_async_xfer *wake;  /* woken at the end of a completion batch */
    /* An engine refused a read (-EAGAIN) with none of ours in flight: no
     * completion will come to serve the FIFO, so this timer does. */
    struct fy_timer_queue retry_queue;
    struct fy_timer retry;
    /* A reload's pool that did not fit yet: tried again each second. */
    const struct fy_config *cfg;
    bool pool_pending;
    struct fy_timer_queue pool_retry_queue;
    struct fy_timer pool_retry;
    /* Armed while an extent of the pool is idle: its space goes back. */
    struct fy_timer_queue pool_trim_queue;
    struct fy_timer pool_trim;
    struct fy_async_stats stats;
#ifdef FY_TEST_HOOKS
    unsigned long fault_at;      /* see fault_init() in async.c */
    bool fault_short, fault_again;
    unsigned long attempts;      /* reads the pipeline tried to start */
#endif
    char small[FY_ASYNC_SMALL];
};

/* Sets up a (zeroed) pipeline: its eventfd in the loop.  The caller then
 * starts its engine on a->completions.fd, then calls fy_async_reserve().
 * ops: the instance's (the engine's own backend's, auto's too).  Returns 0,
 * or -1 with err. */
int  fy_async_init(struct fy_async *a, const struct fy_backend_ops *ops, const struct fy_async_mode *mode,
                   const struct fy_async_engine *engine, struct fy_loop *loop, const struct fy_config *cfg,
                   struct fy_log *log, char *err, size_t errlen);
/* Reserves the buffer pool, then tells the engine (pool_ready).  Returns 0
 * (also when a reload's pool waits for the old workers' space), or -1 with
 * err. */
int  fy_async_reserve(struct fy_async *a, char *err, size_t errlen);
/* Logs the counters (if it served), stops the engine (if started), frees
 * everything. */
void fy_async_fini(struct fy_async *a, bool engine_started);

enum fy_send_result fy_async_send(struct fy_backend *b, struct fy_transfer *t, size_t budget);
/* The backend's stats op: the counters above, reads in flight, the wait
 * FIFO's length, the pool's use. */
void fy_async_stats_op(const struct fy_backend *b, struct fy_backend_stats *out);
void fy_async_cancel(struct fy_backend *b, struct fy_transfer *t);
/* The pause op: as a client whose socket is full (note_stall). */
void fy_async_pause(struct fy_backend *b, struct fy_transfer *t);

/* For engines: one read finished with res bytes or -errno. */
void fy_async_complete(struct fy_async *a, struct fy_async_block *blk, long res);

/* The pipeline on each engine (uring.c, aio.c), for their own backends
 * and for auto: an instance whose ops are the engine's backend's
 * (fy_backend_uring, fy_backend_aio), run as `mode` says.  NULL with a
 * message in err; *refused then tells a refused engine (the kernel or its
 * settings: another engine may do) from a failed pipeline (no eventfd, no
 * pool: no engine would do better). */
struct fy_backend *fy_async_open_uring(const struct fy_async_mode *mode, struct fy_loop *loop,
                                       const struct fy_config *cfg, struct fy_log *log, bool *refused, char *err,
                                       size_t errlen);
struct fy_backend *fy_async_open_aio(const struct fy_async_mode *mode, struct fy_loop *loop,
                                     const struct fy_config *cfg, struct fy_log *log, bool *refused, char *err,
                                     size_t errlen);

#endif
