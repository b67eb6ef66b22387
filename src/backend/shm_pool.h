/* The /dev/shm buffer pool of the asynchronous backends.
 *
 * One tmpfs file, created once, unlinked at once, its space reserved with
 * fallocate (a full /dev/shm is an error at start, not a SIGBUS later) and
 * mapped MAP_SHARED: a disk read lands in the mapping, and the block leaves
 * for the socket from there — copied by send(), or as the same pages by
 * sendfile() from the file (aio-send); user space never touches the bytes.
 *
 * Why, after sendfile(), a released buffer gets fresh pages: sendfile()
 * hands the socket references to the tmpfs pages, not copies.  Until the
 * peer has read them (on loopback, they sit in its receive queue) the pages
 * are still in use, and a new read into them would change bytes already
 * "sent".  Punching a hole detaches the old pages — the network keeps them
 * alive as long as it needs — and the next read fills new ones.  That costs
 * a page allocation and a page of zeroes per 4 KiB (measured: about four
 * times the CPU of send()'s copy), which is why copying is the default.
 * The punched space is reserved again at once, so the pool keeps the
 * /dev/shm space it took at start.  On a tmpfs that uses huge pages only
 * blocks of whole huge pages may be punched (a smaller hole is zeroed in
 * place, under the socket): other block sizes are refused at start.
 *
 * When blocks leave by copy, the pool's pages are collapsed into huge pages
 * at start (best effort): every read pins its buffer, and one 2 MiB page is
 * cheaper to pin, and to hand to the disk, than 512 small ones. */
#ifndef FY_SHM_POOL_H
#define FY_SHM_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fy_shm_pool {
    int fd;                /* the unlinked tmpfs file, for sendfile() */
    char *base;            /* its mapping, where reads land */
    size_t block_size;
    unsigned nblocks;
    unsigned nfree;
    unsigned *free_stack;  /* indexes of free blocks */
    /* Released blocks whose space the tmpfs could not give back (someone
     * else filled it between punch and reserve): out of use until it can. */
    unsigned *unreserved, nunreserved;
    bool punch_on_put;     /* blocks were sendfile()d: give them fresh pages */
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

/* Creates nblocks buffers of block_size bytes in `dir` (normally /dev/shm).
 * Returns 0, or -errno with a message in err (-ENOSPC: the tmpfs is full). */
int  fy_shm_pool_init(struct fy_shm_pool *p, const char *dir, size_t block_size, unsigned nblocks,
                      bool punch_on_put, char *err, size_t errlen);
void fy_shm_pool_free(struct fy_shm_pool *p);

/* A free block's index, or -1 when all are taken. */
int  fy_shm_pool_get(struct fy_shm_pool *p);
void fy_shm_pool_put(struct fy_shm_pool *p, unsigned block);
/* Tries again to reserve the space of unreserved blocks; returns how many
 * are still without. */
unsigned fy_shm_pool_retry_unreserved(struct fy_shm_pool *p);

static inline char *fy_shm_pool_addr(const struct fy_shm_pool *p, unsigned block)
{
    return p->base + (size_t)block * p->block_size;
}

static inline off_t fy_shm_pool_offset(const struct fy_shm_pool *p, unsigned block)
{
    return (off_t)block * (off_t)p->block_size;
}

#endif
