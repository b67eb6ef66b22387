/* The directory of compressed copies; see compress_cache.h. */
#include "file/compress_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLAIM_STALE_S 300     /* a temporary file untouched this long is abandoned */

static const char *suffix_of(enum fy_coding c)
{
    switch (c) {
    case FY_CODING_GZIP: return "gz";
    case FY_CODING_BR: return "br";
    case FY_CODING_ZSTD: return "zst";
    default: return "x";
    }
}

struct fy_zkey fy_zkey_of(const struct stat *st, enum fy_coding coding)
{
    return (struct fy_zkey){
        .dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino, .size = (uint64_t)st->st_size,
        .mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec,
        .coding = coding,
    };
}

void fy_zcache_name(const struct fy_zkey *k, char out[FY_ZCACHE_NAME_MAX])
{
    snprintf(out, FY_ZCACHE_NAME_MAX, "%llx-%llx-%llx-%llx.%s", (unsigned long long)k->dev,
             (unsigned long long)k->ino, (unsigned long long)k->size, (unsigned long long)k->mtime_ns,
             suffix_of(k->coding));
}

int fy_zcache_open(int dirfd, const struct fy_zkey *k, struct stat *st)
{
    char name[FY_ZCACHE_NAME_MAX];
    fy_zcache_name(k, name);
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size == 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool is_version(const struct stat *st, const struct fy_zkey *k)
{
    struct fy_zkey now = fy_zkey_of(st, k->coding);
    return now.dev == k->dev && now.ino == k->ino && now.size == k->size && now.mtime_ns == k->mtime_ns;
}

/* The copy in tmp (open in fd) goes in under `name`: linked, unless
 * another process was first, whose copy is then used.  Returns the
 * descriptor to serve, with *st. */
static int link_in(int dirfd, const char *tmp, const char *name, int fd, struct stat *st)
{
    int r = linkat(dirfd, tmp, dirfd, name, 0);
    int err = errno;
    unlinkat(dirfd, tmp, 0);
    if (r == 0)
        return fstat(fd, st) == 0 ? fd : (close(fd), -1);
    close(fd);
    if (err != EEXIST)
        return -1;
    fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && fstat(fd, st) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Creates the temporary file of a copy, which claims its making: when it
 * exists already, another process is making the copy (BUSY), unless it
 * has not been written to for CLAIM_STALE_S (its maker died). */
static int claim(int dirfd, const char *tmp)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
        struct stat st;
        if (fstatat(dirfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 && time(NULL) - st.st_mtim.tv_sec <= CLAIM_STALE_S)
            return FY_ZCACHE_BUSY;
        unlinkat(dirfd, tmp, 0);
    }
    return FY_ZCACHE_BUSY;
}

int fy_zcache_make(int dirfd, const struct fy_zkey *k, int plain_fd, const atomic_bool *stop, struct stat *st,
                   char *err, size_t errlen)
{
    struct stat before, after;
    if (fstat(plain_fd, &before) < 0 || !is_version(&before, k))
        return FY_ZCACHE_STALE;
    char name[FY_ZCACHE_NAME_MAX], tmp[FY_ZCACHE_NAME_MAX + 8];
    fy_zcache_name(k, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int fd = claim(dirfd, tmp);
    if (fd == FY_ZCACHE_BUSY)
        return fd;
    if (fd < 0) {
        snprintf(err, errlen, "creating %s: %s", tmp, strerror(errno));
        return -1;
    }
    int64_t len = fy_encode(k->coding, plain_fd, k->size, fd, stop, err, errlen);
    int rc = -1;
    if (len >= 0 && (fstat(plain_fd, &after) < 0 || !is_version(&after, k)))
        rc = FY_ZCACHE_STALE;
    else if (len >= 0 && (uint64_t)len >= k->size)
        rc = FY_ZCACHE_NOT_SMALLER;
    if (len < 0 || rc != -1) {
        close(fd);
        unlinkat(dirfd, tmp, 0);
        return rc;
    }
    /* Last-Modified of the copy is the file's; atime is its last use. */
    struct timespec times[2] = {{.tv_nsec = UTIME_NOW}, before.st_mtim};
    futimens(fd, times);
    fd = link_in(dirfd, tmp, name, fd, st);
    if (fd < 0)
        snprintf(err, errlen, "storing %s: %s", name, strerror(errno));
    return fd;
}

void fy_zcache_touch(int dirfd, const struct fy_zkey *k)
{
    char name[FY_ZCACHE_NAME_MAX];
    fy_zcache_name(k, name);
    struct timespec times[2] = {{.tv_nsec = UTIME_NOW}, {.tv_nsec = UTIME_OMIT}};
    utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW);
}

/* "hex-hex-hex-hex.(gz|br|zst)", optionally followed by ".tmp":
 * 1 for a copy, 2 for a temporary file, 0 for anything else. */
static int name_kind(const char *s)
{
    for (int part = 0; part < 4; part++) {
        const char *start = s;
        while ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))
            s++;
        if (s == start || s - start > 16 || *s != (part < 3 ? '-' : '.'))
            return 0;
        s++;
    }
    size_t n = strcmp(s, "gz") == 0 || strncmp(s, "gz.", 3) == 0 ? 2
             : strcmp(s, "br") == 0 || strncmp(s, "br.", 3) == 0 ? 2
             : strcmp(s, "zst") == 0 || strncmp(s, "zst.", 4) == 0 ? 3 : 0;
    if (n == 0)
        return 0;
    if (s[n] == '\0')
        return 1;
    return strcmp(s + n, ".tmp") == 0 ? 2 : 0;
}

struct copy {
    struct timespec atime;
    uint64_t size;
    char name[FY_ZCACHE_NAME_MAX];
};

static int older_first(const void *a, const void *b)
{
    const struct timespec *x = &((const struct copy *)a)->atime, *y = &((const struct copy *)b)->atime;
    if (x->tv_sec != y->tv_sec)
        return x->tv_sec < y->tv_sec ? -1 : 1;
    return x->tv_nsec < y->tv_nsec ? -1 : x->tv_nsec > y->tv_nsec;
}

/* The copies in the directory (temporary files too old are removed). */
static struct copy *list_copies(int dirfd, size_t *n, uint64_t *total)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct copy *list = NULL;
    size_t cap = 0;
    *n = 0;
    *total = 0;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    rewinddir(d);
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        int kind = strlen(e->d_name) < FY_ZCACHE_NAME_MAX ? name_kind(e->d_name) : 0;
        struct stat st;
        if (kind == 0 || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (kind == 2) {
            if (now - st.st_mtim.tv_sec > CLAIM_STALE_S)
                unlinkat(dirfd, e->d_name, 0);
            continue;
        }
        if (*n == cap) {
            struct copy *more = realloc(list, (cap = cap ? 2 * cap : 64) * sizeof *list);
            if (!more)
                break;
            list = more;
        }
        struct copy *c = &list[(*n)++];
        c->atime = st.st_atim;
        c->size = (uint64_t)st.st_blocks * 512; /* what it holds of the file system */
        memcpy(c->name, e->d_name, strlen(e->d_name) + 1); /* fits: checked above */
        *total += c->size;
    }
    closedir(d);
    return list;
}

uint64_t fy_zcache_trim(int dirfd, uint64_t max)
{
    size_t n;
    uint64_t total;
    struct copy *list = list_copies(dirfd, &n, &total);
    if (total > max) {
        qsort(list, n, sizeof *list, older_first);
        for (size_t i = 0; i < n && total > max / 10 * 9; i++)
            if (unlinkat(dirfd, list[i].name, 0) == 0 || errno == ENOENT)
                total -= list[i].size;
    }
    free(list);
    return total;
}
