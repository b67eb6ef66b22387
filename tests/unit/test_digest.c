/* Unit tests of file digests: Want-Repr-Digest and the Repr-Digest value
 * (src/http/repr_digest.c), hashing a file and its user.ferry.sha256
 * attribute (src/file/digest_file.c). */
#include "check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "file/digest_file.h"
#include "http/repr_digest.h"

/* SHA-256("abc"), FIPS 180-2's example. */
static const unsigned char ABC[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

/* Want-Repr-Digest lines as a parsed request holds them. */
static int want(const char *a, const char *b)
{
    struct fy_request r = {0};
    const char *lines[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        if (!lines[i])
            continue;
        r.headers[r.nheaders].name = (struct fy_str){"Want-Repr-Digest", 16};
        r.headers[r.nheaders].value = (struct fy_str){lines[i], strlen(lines[i])};
        r.nheaders++;
    }
    r.headers[r.nheaders].name = (struct fy_str){"Accept", 6};
    r.headers[r.nheaders].value = (struct fy_str){"sha-256=9", 9};
    r.nheaders++;
    return fy_want_sha256(&r);
}

static void test_want_repr_digest(void)
{
    CHECK_INT(want(NULL, NULL), -1);
    CHECK_INT(want("sha-256=10", NULL), 10);
    CHECK_INT(want("sha-512=3, sha-256=5", NULL), 5);
    CHECK_INT(want("sha-512=3", NULL), 0);        /* not named: not wanted */
    CHECK_INT(want("sha-256=0", NULL), 0);
    CHECK_INT(want("sha-256", NULL), 1);          /* a boolean true */
    CHECK_INT(want("sha-256=3;x=\"a,b\", md5=1", NULL), 3);
    CHECK_INT(want("sha-256=1", "sha-256=0"), 0); /* the last member wins, over lines */
    CHECK_INT(want("sha-256=0", "unixsum=2"), 0);
    CHECK_INT(want("", NULL), 0);                 /* an empty dictionary */
    CHECK_INT(want("SHA-256=1", NULL), -1);       /* keys are lowercase: ignored */
    CHECK_INT(want("sha-256=1,", NULL), -1);      /* trailing comma */
    CHECK_INT(want("sha-256=1.5", NULL), -1);     /* not an integer */
    CHECK_INT(want("sha-256=\"x\"", NULL), -1);
    CHECK_INT(want("sha-256=99", NULL), 10);
    CHECK_INT(want("a=\"unterminated, sha-256=1", NULL), -1);
}

static void test_repr_digest_value(void)
{
    char out[FY_REPR_DIGEST_MAX];
    CHECK_INT(fy_repr_digest_value(ABC, out), 54);
    CHECK_STR(out, "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:");
}

static int temp_file(char *path, const char *data)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
    struct timespec t[2] = {{1600000000, 5}, {1600000000, 5}};
    futimens(fd, t);
    return fd;
}

static void key_of_fd(int fd, struct fy_digest_key *k)
{
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    fy_digest_key_of(&st, k);
}

static void test_hash_and_xattr(void)
{
    char path[] = "/tmp/ferry_test_digest_XXXXXX", buf[2];
    atomic_bool stop = false;
    int fd = temp_file(path, "abc");
    struct fy_digest_key k;
    struct fy_digest_result r;
    key_of_fd(fd, &k);
    fy_digest_file(fd, &k, &stop, buf, sizeof buf, &r); /* reads of 2 bytes: several rounds */
    CHECK_INT(r.outcome, FY_DIGEST_HASHED);
    CHECK_INT(r.bytes, 3);
    CHECK(memcmp(r.sha, ABC, 32) == 0);
    if (r.xattr_stored) {
        char v[160];
        ssize_t n = fgetxattr(fd, FY_DIGEST_XATTR, v, sizeof v - 1);
        CHECK(n > 0);
        v[n > 0 ? n : 0] = '\0';
        CHECK_STR(v, "3 1600000000000000005 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        fy_digest_file(fd, &k, &stop, buf, sizeof buf, &r);
        CHECK_INT(r.outcome, FY_DIGEST_FROM_XATTR);
        CHECK(memcmp(r.sha, ABC, 32) == 0);
        /* an attribute for another version is not believed */
        CHECK(fsetxattr(fd, FY_DIGEST_XATTR, "3 1600000000000000006 00", 24, 0) == 0);
        fy_digest_file(fd, &k, &stop, buf, sizeof buf, &r);
        CHECK_INT(r.outcome, FY_DIGEST_HASHED);
    } else {
        printf("  (no user attributes here: the attribute half is not tested)\n");
    }
    /* the file is not the version asked about */
    struct fy_digest_key other = k;
    other.mtime_ns++;
    fy_digest_file(fd, &other, &stop, buf, sizeof buf, &r);
    CHECK_INT(r.outcome, FY_DIGEST_CHANGED);
    /* stopped */
    atomic_store(&stop, true);
    fy_digest_file(fd, &k, &stop, buf, sizeof buf, &r);
    CHECK_INT(r.outcome == FY_DIGEST_FAILED || r.outcome == FY_DIGEST_FROM_XATTR, 1);
    close(fd);
    unlink(path);
}

int main(void)
{
    RUN(test_want_repr_digest);
    RUN(test_repr_digest_value);
    RUN(test_hash_and_xattr);
    return CHECK_SUMMARY();
}
