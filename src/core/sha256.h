/* SHA-256, incremental, by libcrypto (linked for TLS already).  Not for
 * passwords at rest (those are libcrypt's slow hashes): ferry uses it to
 * key its cache of verified credentials, where it must be fast and
 * collision-free. */
#ifndef FY_SHA256_H
#define FY_SHA256_H

#include <stddef.h>

#define FY_SHA256_LEN 32

typedef struct evp_md_ctx_st EVP_MD_CTX;

struct fy_sha256 {
    EVP_MD_CTX *ctx;             /* NULL once anything failed */
};

void fy_sha256_init(struct fy_sha256 *s);
void fy_sha256_update(struct fy_sha256 *s, const void *data, size_t len);
/* Writes the digest and frees the state.  Returns 0, or -1 when libcrypto
 * failed anywhere on the way (out of memory): out is then not a digest. */
int  fy_sha256_final(struct fy_sha256 *s, unsigned char out[FY_SHA256_LEN]);

#endif
