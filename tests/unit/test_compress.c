/* Unit tests of the compression pieces that need no server: the encoders
 * (gzip and zstd decoded back here; br is checked by the integration
 * tests, with Python's brotli), the directory of copies (keys, names,
 * stale and useless copies, trimming), and the media-type lists. */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "file/compress.h"
#include "file/compress_cache.h"
#include "file/encoder.h"

static atomic_bool no_stop;

/* A file of n bytes of text that compresses well. */
static int text_file(const char *dir, const char *name, size_t n, unsigned seed)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    static const char *const words[] = {"ferry ", "static ", "server ", "loop ", "disk ", "copy "};
    for (size_t i = 0; i < n;) {
        const char *w = words[(seed = seed * 1103515245 + 12345) >> 16 & 3 ? (seed >> 20) % 6 : 0];
        size_t len = strlen(w) < n - i ? strlen(w) : n - i;
        CHECK(write(fd, w, len) == (ssize_t)len);
        i += len;
    }
    return fd;
}

static char *read_all(int fd, size_t *n)
{
    struct stat st;
    fstat(fd, &st);
    char *p = malloc((size_t)st.st_size + 1);
    *n = (size_t)pread(fd, p, (size_t)st.st_size, 0);
    return p;
}

static char *mkdtemp_dir(void)
{
    static char dir[64];
    strcpy(dir, "/tmp/ferry_test_compress_XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    return dir;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

static void roundtrip(enum fy_coding c, size_t size)
{
    char *dir = mkdtemp_dir(), err[256] = "";
    int in = text_file(dir, "in.txt", size, 7);
    int out = open(dir, O_TMPFILE | O_RDWR, 0600);
    int64_t len = fy_encode(c, in, size, out, &no_stop, err, sizeof err);
    CHECK(len > 0 && (uint64_t)len < size / 2);
    CHECK_STR(err, "");
    size_t zn, pn;
    char *z = read_all(out, &zn), *plain = read_all(in, &pn);
    CHECK_INT(zn, len);
    char *back = malloc(size + 1);
    size_t got = 0;
    if (c == FY_CODING_GZIP) {
        z_stream s = {0};
        CHECK(inflateInit2(&s, 15 + 16) == Z_OK); /* gzip only */
        s.next_in = (unsigned char *)z, s.avail_in = (uInt)zn;
        s.next_out = (unsigned char *)back, s.avail_out = (uInt)size + 1;
        CHECK_INT(inflate(&s, Z_FINISH), Z_STREAM_END);
        got = s.total_out;
        inflateEnd(&s);
    } else {
        CHECK_INT(ZSTD_getFrameContentSize(z, zn), size); /* the size is in the frame */
        got = ZSTD_decompress(back, size + 1, z, zn);
    }
    CHECK_INT(got, size);
    CHECK(memcmp(back, plain, size) == 0);
    free(z), free(plain), free(back);
    close(in), close(out);
    rm_dir(dir);
}

static void test_encoders(void)
{
    roundtrip(FY_CODING_GZIP, 300000);
    roundtrip(FY_CODING_ZSTD, 300000);
    roundtrip(FY_CODING_ZSTD, (1 << 20) + 4097); /* the faster level, several blocks */
    CHECK_STR(fy_coding_name(FY_CODING_BR), "br");
    CHECK_INT(fy_coding_from_name("zstd", 4), FY_CODING_ZSTD);
    CHECK_INT(fy_coding_from_name("deflate", 7), FY_CODING_NONE);
}

static void test_stop(void)
{
    char *dir = mkdtemp_dir(), err[256] = "";
    atomic_bool stop = true;
    int in = text_file(dir, "in.txt", 500000, 3);
    int out = open(dir, O_TMPFILE | O_RDWR, 0600);
    CHECK_INT(fy_encode(FY_CODING_BR, in, 500000, out, &stop, err, sizeof err), -1);
    CHECK_STR(err, "stopped");
    close(in), close(out);
    rm_dir(dir);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_cache(void)
{
    char *dir = mkdtemp_dir(), err[256] = "";
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY);
    int in = text_file(dir, "plain.txt", 100000, 11);
    struct stat st, copy;
    fstat(in, &st);
    struct fy_zkey k = fy_zkey_of(&st, FY_CODING_GZIP);
    char name[FY_ZCACHE_NAME_MAX];
    fy_zcache_name(&k, name);
    CHECK(strstr(name, ".gz") && strchr(name, '/') == NULL);
    CHECK_INT(fy_zcache_open(dirfd, &k, &copy), -1);
    int fd = fy_zcache_make(dirfd, &k, in, &no_stop, &copy, err, sizeof err);
    CHECK(fd >= 0);
    CHECK(copy.st_size > 0 && copy.st_size < st.st_size);
    CHECK(copy.st_mtim.tv_sec == st.st_mtim.tv_sec && copy.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
    close(fd);
    fd = fy_zcache_open(dirfd, &k, &copy); /* found by any process now */
    CHECK(fd >= 0);
    close(fd);
    CHECK_INT(count_files(dir), 2);           /* plain.txt and the copy: no temporary left */

    /* another process is making a copy: its temporary file says so */
    struct fy_zkey zk = fy_zkey_of(&st, FY_CODING_ZSTD);
    char tmp[FY_ZCACHE_NAME_MAX + 8];
    fy_zcache_name(&zk, tmp);
    strcat(tmp, ".tmp");
    int claim = openat(dirfd, tmp, O_CREAT | O_WRONLY, 0600);
    CHECK_INT(fy_zcache_make(dirfd, &zk, in, &no_stop, &copy, err, sizeof err), FY_ZCACHE_BUSY);
    struct timespec long_ago[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}}; /* unless it was abandoned */
    futimens(claim, long_ago);
    close(claim);
    fd = fy_zcache_make(dirfd, &zk, in, &no_stop, &copy, err, sizeof err);
    CHECK(fd >= 0);
    close(fd);
    CHECK(faccessat(dirfd, tmp, F_OK, 0) < 0);
    CHECK_INT(count_files(dir), 3);

    /* a key for another version of the file: stale, nothing kept */
    struct fy_zkey old = k;
    old.mtime_ns -= 1;
    CHECK_INT(fy_zcache_make(dirfd, &old, in, &no_stop, &copy, err, sizeof err), FY_ZCACHE_STALE);
    CHECK_INT(count_files(dir), 3);

    /* random bytes do not get smaller: not kept */
    int rnd = open(dir, O_TMPFILE | O_RDWR, 0600);
    unsigned x = 1;
    for (int i = 0; i < 4096; i++) {
        x = x * 1664525 + 1013904223;
        unsigned char b[4] = {(unsigned char)(x >> 24), (unsigned char)(x >> 16), (unsigned char)(x >> 8),
                              (unsigned char)x};
        CHECK(write(rnd, b, 4) == 4);
    }
    struct stat rst;
    fstat(rnd, &rst);
    struct fy_zkey rk = fy_zkey_of(&rst, FY_CODING_ZSTD);
    CHECK_INT(fy_zcache_make(dirfd, &rk, rnd, &no_stop, &copy, err, sizeof err), FY_ZCACHE_NOT_SMALLER);
    CHECK_INT(count_files(dir), 3);
    close(rnd);
    close(in);
    close(dirfd);
    rm_dir(dir);
}

static void test_trim(void)
{
    char *dir = mkdtemp_dir(), err[256] = "";
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY);
    close(text_file(dir, "keep.me", 200000, 1));              /* not a copy's name: never removed */
    close(text_file(dir, "1-2-3-4.gz.tmp", 10, 1));        /* a fresh temporary: kept for now */
    uint64_t sizes[6];
    for (unsigned i = 0; i < 6; i++) {
        char n[512];
        snprintf(n, sizeof n, "src%u", i);
        int in = text_file(dir, n, 60000, 100 + i * 7919);
        struct stat st, copy;
        fstat(in, &st);
        struct fy_zkey k = fy_zkey_of(&st, FY_CODING_GZIP);
        int fd = fy_zcache_make(dirfd, &k, in, &no_stop, &copy, err, sizeof err);
        CHECK(fd >= 0);
        sizes[i] = (uint64_t)copy.st_blocks * 512;
        struct timespec t[2] = {{.tv_sec = 1000000 + i}, {.tv_nsec = UTIME_OMIT}}; /* used in this order */
        futimens(fd, t);
        close(fd);
        close(in);
        snprintf(n, sizeof n, "%s/src%u", dir, i);
        unlink(n);
    }
    uint64_t all = 0;
    for (int i = 0; i < 6; i++)
        all += sizes[i];
    CHECK_INT(fy_zcache_trim(dirfd, all), all);              /* fits: nothing goes */
    CHECK_INT(count_files(dir), 8);
    uint64_t left = fy_zcache_trim(dirfd, all - 1);
    CHECK(left <= (all - 1) / 10 * 9);
    CHECK(count_files(dir) < 8 && count_files(dir) >= 3);
    char keep[512];
    snprintf(keep, sizeof keep, "%s/keep.me", dir);
    CHECK(access(keep, F_OK) == 0);
    snprintf(keep, sizeof keep, "%s/1-2-3-4.gz.tmp", dir);
    CHECK(access(keep, F_OK) == 0);
    close(dirfd);
    rm_dir(dir);
}

static void test_types(void)
{
    CHECK(fy_compress_type_matches(NULL, "text/html; charset=utf-8"));
    CHECK(fy_compress_type_matches(NULL, "TEXT/CSS"));
    CHECK(fy_compress_type_matches(NULL, "image/svg+xml"));
    CHECK(!fy_compress_type_matches(NULL, "image/png"));
    CHECK(!fy_compress_type_matches(NULL, "application/octet-stream"));
    CHECK(!fy_compress_type_matches(NULL, "text/htmlx"));
    CHECK(fy_compress_type_matches("text/* application/json", "text/x-anything; charset=utf-8"));
    CHECK(fy_compress_type_matches("text/* application/json", "application/json"));
    CHECK(!fy_compress_type_matches("text/* application/json", "texts/plain"));
    CHECK(!fy_compress_type_matches("text/* application/json", "application/jsonx"));
}

int main(void)
{
    RUN(test_encoders);
    RUN(test_stop);
    RUN(test_cache);
    RUN(test_trim);
    RUN(test_types);
    return CHECK_SUMMARY();
}
