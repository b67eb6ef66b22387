/* The /dev/shm buffer pool; see shm_pool.h. */
#include "backend/shm_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
    p->base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    p->free_stack = malloc(nblocks * sizeof *p->free_stack);
    if (p->base == MAP_FAILED || !p->free_stack) {
        p->base = p->base == MAP_FAILED ? NULL : p->base;
        snprintf(err, errlen, "buffer pool: %s", strerror(errno ? errno : ENOMEM));
        fy_shm_pool_free(p);
        return -1;
    }
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
