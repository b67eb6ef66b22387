/* SHA-256 through libcrypto's EVP interface; see sha256.h. */
#include "core/sha256.h"

#include <openssl/evp.h>

static void fail(struct fy_sha256 *s)
{
    EVP_MD_CTX_free(s->ctx);
    s->ctx = NULL;
}

void fy_sha256_init(struct fy_sha256 *s)
{
    s->ctx = EVP_MD_CTX_new();
    if (s->ctx && EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1)
        fail(s);
}

void fy_sha256_update(struct fy_sha256 *s, const void *data, size_t len)
{
    if (s->ctx && EVP_DigestUpdate(s->ctx, data, len) != 1)
        fail(s);
}

int fy_sha256_final(struct fy_sha256 *s, unsigned char out[FY_SHA256_LEN])
{
    unsigned len = 0;
    int ok = s->ctx && EVP_DigestFinal_ex(s->ctx, out, &len) == 1 && len == FY_SHA256_LEN;
    fail(s);
    return ok ? 0 : -1;
}
