/* SHA-256 (FIPS 180-4), incremental.  Not for passwords at rest (those
 * are libcrypt's slow hashes): ferry uses it to key its cache of verified
 * credentials, where it must be fast and collision-free. */
#ifndef FY_SHA256_H
#define FY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define FY_SHA256_LEN 32

struct fy_sha256 {
    uint32_t h[8];
    uint64_t total;              /* bytes fed so far */
    unsigned char block[64];
    size_t used;                 /* bytes waiting in block */
};

void fy_sha256_init(struct fy_sha256 *s);
void fy_sha256_update(struct fy_sha256 *s, const void *data, size_t len);
/* Writes the digest and wipes the state. */
void fy_sha256_final(struct fy_sha256 *s, unsigned char out[FY_SHA256_LEN]);

#endif
