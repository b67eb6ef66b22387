/* The /dev/shm buffer pool of the asynchronous backends.
 *
 * One tmpfs file, created once, unlinked at once, mapped MAP_SHARED: a
 * disk read lands in the mapping, and the block leaves for the socket from
 * there — copied by send(), or as the same pages by sendfile() from the
 * file (aio-send); user space never touches the bytes.
 *
 * Its memory follows the reads in flight.  The file has the pool's full
 * size from the start, but its space is taken (fallocate) one extent at a
 * time — max(block, 2 MiB huge page), a whole number of blocks — when a
 * block of an extent without space is handed out; an extent whose blocks
 * have all been back for a while is given back (a punched hole).  A block
 * is only ever handed out with its space taken: a full tmpfs makes the
 * pool wait (no buffer now), never a read into a hole (EFAULT) or a fault
 * on the mapping (SIGBUS).  Free blocks go out most recently freed first,
 * those of extents with space before the others, so a steady load keeps a
 * small working set and the rest of the pool stays a hole.  The first
 * extent is taken at start — a tmpfs that cannot give even that is an
 * error at start — and kept: an idle worker holds one extent, and a tmpfs
 * filled by others can slow the pool down but not stop it.
 *
 * Why, after sendfile(), a released buffer gets fresh pages: sendfile()
 * hands the socket references to the tmpfs pages, not copies.  Until the
 * peer has read them (on loopback, they sit in its receive queue) the pages
 * are still in use, and a new read into them would change bytes already
 * "sent".  Punching a hole detaches the old pages — the network keeps them
 * alive as long as it needs — and the next read fills new ones.  That costs
 * a page allocation and a page of zeroes per 4 KiB (measured: about four
 * times the CPU of send()'s copy), which is why copying is the default.
 * The punched space is taken again at once, so the extent keeps its space;
 * should the tmpfs refuse it, the extent counts as one without space, and
 * its next block out takes it again.  On a tmpfs that uses huge pages only
 * blocks of whole huge pages may be punched (a smaller hole is zeroed in
 * place, under the socket): other block sizes are refused at start.
 *
 * When blocks leave by copy, each extent's pages are collapsed into huge
 * pages when its space is taken (best effort): every read pins its buffer,
 * and one 2 MiB page is cheaper to pin, and to hand to the disk, than 512
 * small ones. */
#ifndef FY_SHM_POOL_H
#define FY_SHM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Told when an extent's space is taken, and before it is given back: an
 * engine that registers the pool's memory with the kernel (io_uring's
 * fixed buffers pin its pages) registers what has space, and lets go of an
 * extent before its pages leave the file. */
struct fy_shm_pool_watch {
    void (*reserved)(void *ctx, unsigned extent);
    void (*releasing)(void *ctx, unsigned extent);
    void *ctx;
};

struct fy_shm_extent {
    unsigned used;         /* its blocks handed out */
    bool reserved;         /* its space is taken in the tmpfs */
    int64_t idle_since;    /* ms: when its last block came back */
};

struct fy_shm_pool {
    int fd;                /* the unlinked tmpfs file, for sendfile() */
    char *base;            /* its mapping, where reads land */
    size_t block_size;
    unsigned nblocks;
    size_t extent_size;    /* per_extent blocks: max(block, huge page) */
    unsigned per_extent, nextents;
    struct fy_shm_extent *extents;
    unsigned nfree;        /* nready + nspare */
    /* Free blocks, most recently freed on top: those of extents with
     * space (handed out first), and those of extents without. */
    unsigned *ready, nready;
    unsigned *spare, nspare;
    unsigned nidle;        /* of them, those with no block out (the first one aside): to give back */
    /* A reservation failed (the tmpfs is full): only blocks of extents
     * with space go out until fy_shm_pool_try_again(). */
    bool short_of_space;
    bool punch_on_put;     /* blocks were sendfile()d: give them fresh pages */
    bool huge;             /* collapse extents into huge pages (aio-send = copy) */
    struct fy_shm_pool_watch watch;
};

/* The file system a pool would live in, in bytes (statvfs). */
struct fy_shm_pool_room {
    uint64_t size;         /* all of it */
    uint64_t avail;        /* free now */
};

/* Measures dir's file system.  Returns 0, or -errno. */
int fy_shm_pool_room(const char *dir, struct fy_shm_pool_room *room);

/* How many of `want` blocks of block_size one worker's pool may take in
 * `room`: its part (one of `sharers` workers) of three quarters of the
 * file system, the last quarter being headroom for the tmpfs's other
 * users (Docker's /dev/shm is 64 MiB in all); and three quarters of what
 * is free now, unless that space is only held for a while
 * (free_comes_back: a reload's old workers hold their pools).  May be 0. */
unsigned fy_shm_pool_fit(const struct fy_shm_pool_room *room, size_t block_size, unsigned want, unsigned sharers,
                         bool free_comes_back);

/* Creates nblocks buffers of block_size bytes in `dir` (normally /dev/shm),
 * with the space of the first extent taken.  Returns 0, or -errno with a
 * message in err (-ENOSPC: the tmpfs is full). */
int  fy_shm_pool_init(struct fy_shm_pool *p, const char *dir, size_t block_size, unsigned nblocks,
                      bool punch_on_put, char *err, size_t errlen);
void fy_shm_pool_free(struct fy_shm_pool *p);

/* A free block's index, its space taken; -1 when all are out, or when the
 * tmpfs has no room for the extent of any free one (short_of_space). */
int  fy_shm_pool_get(struct fy_shm_pool *p);
/* A block comes back, at now_ms (CLOCK_MONOTONIC). */
void fy_shm_pool_put(struct fy_shm_pool *p, unsigned block, int64_t now_ms);
/* Gives back the space of the extents idle for idle_ms or more at now_ms.
 * Returns how many extents are idle still (to try again later). */
unsigned fy_shm_pool_trim(struct fy_shm_pool *p, int64_t now_ms, int64_t idle_ms);
/* Bytes of the tmpfs the pool holds now (its file's blocks). */
uint64_t fy_shm_pool_resident(const struct fy_shm_pool *p);

/* Whether fy_shm_pool_get() may give a block: one of an extent with space
 * is free, or one of another and the tmpfs did not refuse the last time. */
static inline bool fy_shm_pool_may_get(const struct fy_shm_pool *p)
{
    return p->nready > 0 || (p->nspare > 0 && !p->short_of_space);
}

/* The tmpfs may have room again: extents without space are tried. */
static inline void fy_shm_pool_try_again(struct fy_shm_pool *p)
{
    p->short_of_space = false;
}

static inline unsigned fy_shm_pool_extent(const struct fy_shm_pool *p, unsigned block)
{
    return block / p->per_extent;
}

/* Where an extent starts in the mapping, and its length (the last one may
 * be short). */
static inline char *fy_shm_pool_extent_addr(const struct fy_shm_pool *p, unsigned extent)
{
    return p->base + (size_t)extent * p->extent_size;
}

static inline size_t fy_shm_pool_extent_len(const struct fy_shm_pool *p, unsigned extent)
{
    size_t total = p->block_size * p->nblocks, off = (size_t)extent * p->extent_size;
    return total - off < p->extent_size ? total - off : p->extent_size;
}

static inline char *fy_shm_pool_addr(const struct fy_shm_pool *p, unsigned block)
{
    return p->base + (size_t)block * p->block_size;
}

static inline off_t fy_shm_pool_offset(const struct fy_shm_pool *p, unsigned block)
{
    return (off_t)block * (off_t)p->block_size;
}

#endif
