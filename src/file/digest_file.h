/* The SHA-256 of one file, the slow way: what the digest thread runs
 * (digest.h), never the loop.  It blocks on the disk and on the CPU.
 *
 * A digest is remembered in the file's extended attribute
 * user.ferry.sha256 ("SIZE MTIME_NS HEX", ASCII) where the file system and
 * the file's permissions allow, so other workers, a restarted ferry and
 * copies made with their attributes (rsync -X, cp -a) read it instead of
 * hashing again.  Size and mtime in it must equal the file's, or it is
 * ignored: a file changed since has another digest. */
#ifndef FY_DIGEST_FILE_H
#define FY_DIGEST_FILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "http/repr_digest.h"

#define FY_DIGEST_XATTR "user.ferry.sha256"

/* A version of a file: what its digest is valid for. */
struct fy_digest_key {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
};

enum fy_digest_outcome {
    FY_DIGEST_HASHED,            /* read and hashed */
    FY_DIGEST_FROM_XATTR,        /* the attribute held it */
    FY_DIGEST_CHANGED,           /* the file is not (or no longer) that version: no digest */
    FY_DIGEST_FAILED,            /* a read error, or stopped */
};

struct fy_digest_result {
    enum fy_digest_outcome outcome;
    unsigned char sha[FY_SHA256_LEN];
    uint64_t bytes;              /* hashed */
    bool xattr_stored;           /* hashed and written to the attribute */
    int err;                     /* FY_DIGEST_FAILED: errno */
};

void fy_digest_key_of(const struct stat *st, struct fy_digest_key *k);
bool fy_digest_key_eq(const struct fy_digest_key *a, const struct fy_digest_key *b);

/* Finds the digest of the file open at fd, which must be the version
 * `key` before and after the read.  buf[bufsize] is scratch space for the
 * reads.  *stop set (by another thread) cuts a long hash short: FAILED. */
void fy_digest_file(int fd, const struct fy_digest_key *key, const atomic_bool *stop, char *buf, size_t bufsize,
                    struct fy_digest_result *out);

#endif
