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
#include <sys/stat.h>
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
 * mounted without huge= (the usual /dev/shm) still lets us collapse an
 * extent's pages into huge ones (MADV_COLLAPSE, Linux 6.1) once its space
 * is taken; the kernel collapses only the huge pages wholly inside the
 * range, so no space beyond the extent is taken.  Best effort: on an older
 * kernel, or with memory too fragmented, the extent stays in 4 KiB pages
 * and works the same.  Not with aio-send = sendfile, whose punched buffers
 * come back as fresh small pages anyway. */
static void use_huge_pages(char *addr, size_t len)
{
    madvise(addr, len, MADV_COLLAPSE);
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

/* After sendfile(), a released buffer gets fresh pages (see shm_pool.h),
 * always: in an extent without space too, else the next read would fill
 * the pages a socket still sends.  The punch gives its space back to the
 * tmpfs; taking it again at once keeps the extent's reservation, so
 * another tmpfs user cannot fill it (a read into a buffer without space
 * fails with EFAULT).  Returns false when the tmpfs refused it. */
static bool refresh_pages(struct fy_shm_pool *p, unsigned block, bool reserve)
{
    off_t off = fy_shm_pool_offset(p, block);
    fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, (off_t)p->block_size);
    return !reserve || fallocate(p->fd, FALLOC_FL_KEEP_SIZE, off, (off_t)p->block_size) == 0;
}

/* An extent neither the first nor with a block out holds space for
 * nothing: it is counted, to be given back once it has been idle a while. */
static bool is_idle(const struct fy_shm_pool *p, unsigned e)
{
    return e != 0 && p->extents[e].reserved && p->extents[e].used == 0;
}

/* Moves extent e's blocks from one free stack to the top of the other,
 * keeping the order of both. */
static void move_blocks(struct fy_shm_pool *p, unsigned e, unsigned *from, unsigned *nfrom, unsigned *to,
                        unsigned *nto)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < *nfrom; i++) {
        if (fy_shm_pool_extent(p, from[i]) == e)
            to[(*nto)++] = from[i];
        else
            from[kept++] = from[i];
    }
    *nfrom = kept;
}

static void mark_reserved(struct fy_shm_pool *p, unsigned e)
{
    p->extents[e].reserved = true;
    move_blocks(p, e, p->spare, &p->nspare, p->ready, &p->nready);
    if (is_idle(p, e)) /* until fy_shm_pool_get() takes its block, a moment later */
        p->nidle++;
    if (p->watch.reserved)
        p->watch.reserved(p->watch.ctx, e);
}

static void mark_unreserved(struct fy_shm_pool *p, unsigned e)
{
    p->extents[e].reserved = false;
    move_blocks(p, e, p->ready, &p->nready, p->spare, &p->nspare);
}

/* Takes extent e's space (only its holes: after a failed refresh part of
 * it is still there).  Returns 0, or -errno (ENOSPC: the tmpfs is full). */
static int reserve_extent(struct fy_shm_pool *p, unsigned e)
{
    size_t len = fy_shm_pool_extent_len(p, e);
    if (fallocate(p->fd, FALLOC_FL_KEEP_SIZE, (off_t)e * (off_t)p->extent_size, (off_t)len) != 0)
        return -errno;
    if (p->huge)
        use_huge_pages(fy_shm_pool_extent_addr(p, e), len);
    mark_reserved(p, e);
    return 0;
}

/* Gives extent e's space back; none of its blocks is out.  The watcher
 * lets go first: pages it pinned would otherwise outlive the file's. */
static void release_extent(struct fy_shm_pool *p, unsigned e)
{
    if (p->watch.releasing)
        p->watch.releasing(p->watch.ctx, e);
    fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)e * (off_t)p->extent_size,
              (off_t)fy_shm_pool_extent_len(p, e));
    p->nidle--;
    mark_unreserved(p, e);
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

/* Blocks of whole huge pages are extents of their own; smaller ones are
 * grouped so an extent covers a huge page (aligned when the block size
 * divides 2 MiB, as powers of two do). */
static void size_extents(struct fy_shm_pool *p)
{
    p->per_extent = p->block_size >= HUGE_PAGE ? 1 : (unsigned)((HUGE_PAGE + p->block_size - 1) / p->block_size);
    p->extent_size = p->per_extent * p->block_size;
    p->nextents = (p->nblocks + p->per_extent - 1) / p->per_extent;
}

static void no_room_message(struct fy_shm_pool *p, const char *dir, int e, char *err, size_t errlen)
{
    size_t len = fy_shm_pool_extent_len(p, 0);
    bool mib = len >= (1u << 20);
    snprintf(err, errlen, "buffer pool: cannot reserve %zu %s in %s: %s", mib ? len >> 20 : len >> 10,
             mib ? "MiB" : "KiB", dir, strerror(e));
}

int fy_shm_pool_init(struct fy_shm_pool *p, const char *dir, size_t block_size, unsigned nblocks,
                     bool punch_on_put, char *err, size_t errlen)
{
    *p = (struct fy_shm_pool){.fd = -1, .block_size = block_size, .nblocks = nblocks,
                              .punch_on_put = punch_on_put, .huge = !punch_on_put};
    if (punch_on_put && check_punch_safe(dir, block_size, err, errlen) < 0)
        return -EINVAL;
    size_extents(p);
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
    /* The whole size, no space: a tmpfs file may be larger than its room. */
    if (ftruncate(p->fd, (off_t)total) != 0) {
        int e = errno;
        snprintf(err, errlen, "buffer pool in %s: %s", dir, strerror(e));
        fy_shm_pool_free(p);
        return -e;
    }
    p->base = map_aligned(p->fd, total);
    p->ready = malloc(nblocks * sizeof *p->ready);
    p->spare = malloc(nblocks * sizeof *p->spare);
    p->extents = calloc(p->nextents, sizeof *p->extents);
    if (!p->base || !p->ready || !p->spare || !p->extents) {
        snprintf(err, errlen, "buffer pool: %s", strerror(errno ? errno : ENOMEM));
        fy_shm_pool_free(p);
        return -ENOMEM;
    }
    if (p->huge) /* khugepaged keeps what was collapsed huge */
        madvise(p->base, total, MADV_HUGEPAGE);
    for (unsigned i = 0; i < nblocks; i++) /* block 0 on top */
        p->spare[i] = nblocks - 1 - i;
    p->nspare = p->nfree = nblocks;
    /* The first extent proves the tmpfs gives space, and stays. */
    int rc = reserve_extent(p, 0);
    if (rc < 0) {
        no_room_message(p, dir, -rc, err, errlen);
        fy_shm_pool_free(p);
        return rc;
    }
    return 0;
}

void fy_shm_pool_free(struct fy_shm_pool *p)
{
    if (p->base)
        munmap(p->base, p->block_size * p->nblocks);
    if (p->fd >= 0)
        close(p->fd);
    free(p->ready);
    free(p->spare);
    free(p->extents);
    *p = (struct fy_shm_pool){.fd = -1};
}

/* No free block of an extent with space: the extent of the most recently
 * freed other one gets its space, if the tmpfs has it. */
static bool reserve_spare(struct fy_shm_pool *p)
{
    if (p->nspare == 0)
        return false;
    if (reserve_extent(p, fy_shm_pool_extent(p, p->spare[p->nspare - 1])) == 0)
        return true;
    p->short_of_space = true;
    return false;
}

int fy_shm_pool_get(struct fy_shm_pool *p)
{
    if (p->nready == 0 && !reserve_spare(p))
        return -1;
    unsigned block = p->ready[--p->nready], e = fy_shm_pool_extent(p, block);
    if (is_idle(p, e))
        p->nidle--;
    p->extents[e].used++;
    p->nfree--;
    return (int)block;
}

void fy_shm_pool_put(struct fy_shm_pool *p, unsigned block, int64_t now_ms)
{
    unsigned e = fy_shm_pool_extent(p, block);
    struct fy_shm_extent *x = &p->extents[e];
    x->used--;
    p->nfree++;
    if (p->punch_on_put && !refresh_pages(p, block, x->reserved))
        mark_unreserved(p, e); /* someone filled the hole: the next block out takes it again */
    if (x->reserved)
        p->ready[p->nready++] = block;
    else
        p->spare[p->nspare++] = block;
    if (is_idle(p, e)) {
        x->idle_since = now_ms;
        p->nidle++;
    }
}

unsigned fy_shm_pool_trim(struct fy_shm_pool *p, int64_t now_ms, int64_t idle_ms)
{
    for (unsigned e = 1; e < p->nextents && p->nidle > 0; e++)
        if (is_idle(p, e) && now_ms - p->extents[e].idle_since >= idle_ms)
            release_extent(p, e);
    return p->nidle;
}

uint64_t fy_shm_pool_resident(const struct fy_shm_pool *p)
{
    struct stat st;
    if (p->fd < 0 || fstat(p->fd, &st) != 0)
        return 0;
    return (uint64_t)st.st_blocks * 512;
}
