/* The SHA-256 of one file; see digest_file.h. */
#include "file/digest_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <openssl/evp.h>

void fy_digest_key_of(const struct stat *st, struct fy_digest_key *k)
{
    *k = (struct fy_digest_key){
        .dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino, .size = (uint64_t)st->st_size,
        .mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
    };
}

bool fy_digest_key_eq(const struct fy_digest_key *a, const struct fy_digest_key *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* Whether fd is still the version key (device and inode cannot change
 * under an open descriptor; size and mtime can). */
static bool still(int fd, const struct fy_digest_key *key)
{
    struct stat st;
    struct fy_digest_key now;
    if (fstat(fd, &st) < 0)
        return false;
    fy_digest_key_of(&st, &now);
    return fy_digest_key_eq(&now, key);
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* "SIZE MTIME_NS HEX" for exactly this size and mtime into sha. */
static bool parse_xattr(const char *v, size_t len, const struct fy_digest_key *key, unsigned char *sha)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "%" PRIu64 " %" PRId64 " ", key->size, key->mtime_ns);
    if (n < 0 || len != (size_t)n + 2 * FY_SHA256_LEN || memcmp(v, prefix, (size_t)n) != 0)
        return false;
    for (size_t i = 0; i < FY_SHA256_LEN; i++) {
        int hi = hex_value(v[n + 2 * i]), lo = hex_value(v[n + 2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        sha[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static bool read_xattr(int fd, const struct fy_digest_key *key, unsigned char *sha)
{
    char v[160];
    ssize_t n = fgetxattr(fd, FY_DIGEST_XATTR, v, sizeof v);
    return n > 0 && parse_xattr(v, (size_t)n, key, sha);
}

/* Best effort: a read-only file system, a file of someone else's, tmpfs
 * without user attributes all say no, and the digest lives in memory only. */
static bool write_xattr(int fd, const struct fy_digest_key *key, const unsigned char *sha)
{
    char v[160];
    int n = snprintf(v, sizeof v, "%" PRIu64 " %" PRId64 " ", key->size, key->mtime_ns);
    for (size_t i = 0; i < FY_SHA256_LEN; i++)
        n += snprintf(v + n, sizeof v - (size_t)n, "%02x", sha[i]);
    return fsetxattr(fd, FY_DIGEST_XATTR, v, (size_t)n, 0) == 0;
}

#ifdef FY_TEST_HOOKS
/* FERRY_DIGEST_DELAY_MS=N: each read of a file being hashed takes N ms
 * longer, as on a slow disk or a huge file (test builds only). */
static void test_delay(void)
{
    const char *ms = getenv("FERRY_DIGEST_DELAY_MS");
    if (ms)
        usleep((useconds_t)atoi(ms) * 1000);
}
#else
static void test_delay(void) {}
#endif

/* Reads the whole file through the hash.  0, or an errno. */
static int hash_all(int fd, const struct fy_digest_key *key, const atomic_bool *stop, char *buf, size_t bufsize,
                    struct fy_digest_result *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return ENOMEM;
    }
    int err = 0;
    uint64_t off = 0;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    while (off < key->size && !err) {
        if (atomic_load_explicit(stop, memory_order_relaxed)) {
            err = ECANCELED;
            break;
        }
        test_delay();
        ssize_t n = pread(fd, buf, bufsize, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = errno;
        else if (n == 0)
            err = ENODATA; /* shorter than its size: it changed */
        else if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
            err = EIO;
        else
            off += (uint64_t)n;
    }
    unsigned len = 0;
    if (!err && (EVP_DigestFinal_ex(ctx, out->sha, &len) != 1 || len != FY_SHA256_LEN))
        err = EIO;
    EVP_MD_CTX_free(ctx);
    out->bytes = off;
    return err;
}

void fy_digest_file(int fd, const struct fy_digest_key *key, const atomic_bool *stop, char *buf, size_t bufsize,
                    struct fy_digest_result *out)
{
    *out = (struct fy_digest_result){.outcome = FY_DIGEST_FAILED};
    if (!still(fd, key)) {
        out->outcome = FY_DIGEST_CHANGED;
        return;
    }
    if (read_xattr(fd, key, out->sha)) {
        out->outcome = FY_DIGEST_FROM_XATTR;
        return;
    }
    out->err = hash_all(fd, key, stop, buf, bufsize, out);
    if (out->err == ENODATA || (!out->err && !still(fd, key))) {
        out->outcome = FY_DIGEST_CHANGED; /* written to while read: the bytes are of no one version */
        return;
    }
    if (out->err)
        return;
    out->outcome = FY_DIGEST_HASHED;
    out->xattr_stored = write_xattr(fd, key, out->sha);
}
