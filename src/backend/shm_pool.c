/* The /dev/shm buffer pool; see shm_pool.h. */
#include "backend/shm_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE (2u << 20)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* The file mapped at a huge-page boundary, so that huge pages can map it. */
static char *map_aligned(int fd, size_t total)
{
    char *area = mmap(NULL, total + HUGE_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return NULL;
    char *base = (char *)(((uintptr_t)area + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (mmap(base, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
        munmap(area, total + HUGE_PAGE);
        return NULL;
    }
    if (base > area)
        munmap(area, (size_t)(base - area));
    munmap(base + total, (size_t)(area + HUGE_PAGE - base));
    return base;
}

/* Every read pins its buffer's pages for the device (libaio does so per
 * read): 256 page references per MiB in 4 KiB pages, one per 2 MiB in huge
 * pages — measured as 13% of the server's CPU with cold downloads.  A tmpfs
 * mounted without huge= (the usual /dev/shm) still lets us collapse the
 * pool's pages into huge ones (MADV_COLLAPSE, Linux 6.1).  Best effort: on
 * an older kernel, or with memory too fragmented, the pool stays in 4 KiB
 * pages and works the same.  Not with aio-send = sendfile, whose punched
 * buffers come back as fresh small pages anyway. */
static void use_huge_pages(char *base, size_t total)
{
    madvise(base, total, MADV_HUGEPAGE);
    madvise(base, total, MADV_COLLAPSE);
}

int fy_shm_pool_init(struct fy_shm_pool *p, const char *dir, size_t block_size, unsigned nblocks,
                     bool punch_on_put, char *err, size_t errlen)
{
    *p = (struct fy_shm_pool){.fd = -1, .block_size = block_size, .nblocks = nblocks,
                              .punch_on_put = punch_on_put};
    size_t total = block_size * nblocks;
    char path[256];
    snprintf(path, sizeof path, "%s/ferry-XXXXXX", dir);
    p->fd = mkostemp(path, O_CLOEXEC);
    if (p->fd < 0) {
        snprintf(err, errlen, "buffer pool in %s: %s", dir, strerror(errno));
        return -1;
    }
    unlink(path);
    int rc = fallocate(p->fd, 0, 0, (off_t)total);
    if (rc != 0) {
        snprintf(err, errlen, "buffer pool: cannot reserve %zu MiB in %s: %s", total >> 20, dir,
                 strerror(errno));
        fy_shm_pool_free(p);
        return -1;
    }
    p->base = map_aligned(p->fd, total);
    p->free_stack = malloc(nblocks * sizeof *p->free_stack);
    if (!p->base || !p->free_stack) {
        snprintf(err, errlen, "buffer pool: %s", strerror(errno ? errno : ENOMEM));
        fy_shm_pool_free(p);
        return -1;
    }
    if (!punch_on_put)
        use_huge_pages(p->base, total);
    for (unsigned i = 0; i < nblocks; i++)
        p->free_stack[i] = nblocks - 1 - i;
    p->nfree = nblocks;
    return 0;
}

void fy_shm_pool_free(struct fy_shm_pool *p)
{
    if (p->base)
        munmap(p->base, p->block_size * p->nblocks);
    if (p->fd >= 0)
        close(p->fd);
    free(p->free_stack);
    *p = (struct fy_shm_pool){.fd = -1};
}

int fy_shm_pool_get(struct fy_shm_pool *p)
{
    return p->nfree ? (int)p->free_stack[--p->nfree] : -1;
}

void fy_shm_pool_put(struct fy_shm_pool *p, unsigned block)
{
    /* See shm_pool.h: pages the network may still hold must not be reused. */
    if (p->punch_on_put)
        fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, fy_shm_pool_offset(p, block),
                  (off_t)p->block_size);
    p->free_stack[p->nfree++] = block;
}
