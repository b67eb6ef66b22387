/* The /dev/shm buffer pool; see shm_pool.h. */
#include "backend/shm_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
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

/* Whether tmpfs at `dir` gives its files huge pages without being asked
 * (mounted huge=always or huge=within_size, or shmem forced system-wide).
 * Returns 1, 0, or -1 when /proc is not there to say. */
static int fs_uses_huge_pages(const char *dir)
{
    char line[512];
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
    if (f) {
        bool forced = fgets(line, sizeof line, f) && strstr(line, "[force]");
        fclose(f);
        if (forced)
            return 1;
    }
    char real[PATH_MAX];
    if (!realpath(dir, real) || !(f = fopen("/proc/self/mountinfo", "r")))
        return -1;
    /* The mount that holds dir is the last one whose point is a prefix of
     * it (later mounts hide earlier ones). */
    size_t best = 0;
    bool huge = false;
    while (fgets(line, sizeof line, f)) {
        char point[PATH_MAX];
        const char *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
            continue;
        size_t n = strlen(point);
        bool covers = strncmp(real, point, n) == 0 && (real[n] == '/' || real[n] == '\0' || n == 1);
        if (covers && n >= best) {
            best = n;
            huge = strstr(sep, "huge=always") || strstr(sep, "huge=within_size");
        }
    }
    fclose(f);
    return huge;
}

/* Punching a hole inside a huge page zeroes it in place, under the socket
 * that still sends from it (aio-send = sendfile).  Whole aligned huge
 * pages are detached like small ones: blocks that are multiples of one
 * are safe, smaller ones are refused. */
static int check_punch_safe(const char *dir, size_t block_size, char *err, size_t errlen)
{
    if (block_size % HUGE_PAGE == 0 || fs_uses_huge_pages(dir) != 1)
        return 0;
    snprintf(err, errlen, "buffer pool in %s: the file system uses huge pages (tmpfs huge=), and aio-send = sendfile "
             "would punch %zu KiB holes inside them, zeroing bytes still being sent; use aio-block-size = 2m (or a "
             "multiple), aio-send = copy, or a tmpfs without huge=", dir, block_size >> 10);
    return -1;
}

/* After sendfile(), a released buffer gets fresh pages (see shm_pool.h).
 * The punch gives its space back to the tmpfs; taking it again at once
 * keeps the reservation made at start, so another tmpfs user cannot fill
 * it (a read into a buffer without space fails with EFAULT). */
static bool refresh_pages(struct fy_shm_pool *p, unsigned block)
{
    off_t off = fy_shm_pool_offset(p, block);
    fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)p->block_size);
    return fallocate(p->fd, FALLOC_FL_KEEP_SIZE, off, (off_t)p->block_size) == 0;
}

int fy_shm_pool_room(const char *dir, struct fy_shm_pool_room *room)
{
    struct statvfs vfs;
    if (statvfs(dir, &vfs) < 0)
        return -errno;
    *room = (struct fy_shm_pool_room){.size = (uint64_t)vfs.f_blocks * vfs.f_frsize,
                                      .avail = (uint64_t)vfs.f_bavail * vfs.f_frsize};
    return 0;
}

unsigned fy_shm_pool_fit(const struct fy_shm_pool_room *room, size_t block_size, unsigned want, unsigned sharers,
                         bool free_comes_back)
{
    uint64_t bytes = room->size / 4 * 3 / (sharers ? sharers : 1);
    if (!free_comes_back && room->avail / 4 * 3 < bytes)
        bytes = room->avail / 4 * 3;
    uint64_t blocks = bytes / block_size;
    return blocks < want ? (unsigned)blocks : want;
}

int fy_shm_pool_init(struct fy_shm_pool *p, const char *dir, size_t block_size, unsigned nblocks,
                     bool punch_on_put, char *err, size_t errlen)
{
    *p = (struct fy_shm_pool){.fd = -1, .block_size = block_size, .nblocks = nblocks,
                              .punch_on_put = punch_on_put};
    if (punch_on_put && check_punch_safe(dir, block_size, err, errlen) < 0)
        return -EINVAL;
    size_t total = block_size * nblocks;
    char path[256];
    snprintf(path, sizeof path, "%s/ferry-XXXXXX", dir);
    p->fd = mkostemp(path, O_CLOEXEC);
    if (p->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "buffer pool in %s: %s", dir, strerror(e));
        return -e;
    }
    unlink(path);
    int rc = fallocate(p->fd, 0, 0, (off_t)total);
    if (rc != 0) {
        int e = errno;
        bool mib = total >= (1u << 20);
        snprintf(err, errlen, "buffer pool: cannot reserve %zu %s in %s: %s", mib ? total >> 20 : total >> 10,
                 mib ? "MiB" : "KiB", dir, strerror(e));
        fy_shm_pool_free(p);
        return -e;
    }
    p->base = map_aligned(p->fd, total);
    p->free_stack = malloc(nblocks * sizeof *p->free_stack);
    p->unreserved = punch_on_put ? malloc(nblocks * sizeof *p->unreserved) : NULL;
    if (!p->base || !p->free_stack || (punch_on_put && !p->unreserved)) {
        snprintf(err, errlen, "buffer pool: %s", strerror(errno ? errno : ENOMEM));
        fy_shm_pool_free(p);
        return -ENOMEM;
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
    free(p->unreserved);
    *p = (struct fy_shm_pool){.fd = -1};
}

int fy_shm_pool_get(struct fy_shm_pool *p)
{
    return p->nfree ? (int)p->free_stack[--p->nfree] : -1;
}

void fy_shm_pool_put(struct fy_shm_pool *p, unsigned block)
{
    if (p->punch_on_put && !refresh_pages(p, block)) {
        p->unreserved[p->nunreserved++] = block;
        return;
    }
    p->free_stack[p->nfree++] = block;
}

unsigned fy_shm_pool_retry_unreserved(struct fy_shm_pool *p)
{
    while (p->nunreserved > 0 && refresh_pages(p, p->unreserved[p->nunreserved - 1]))
        p->free_stack[p->nfree++] = p->unreserved[--p->nunreserved];
    return p->nunreserved;
}
