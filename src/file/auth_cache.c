/* The cache of verified credentials; see auth_cache.h. */
#include "file/auth_cache.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "core/const_time.h"

int fy_auth_cache_init(struct fy_auth_cache *c)
{
    memset(c, 0, sizeof *c);
    ssize_t n = getrandom(c->key, sizeof c->key, 0);
    if (n != (ssize_t)sizeof c->key) {
        if (n >= 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

int fy_auth_cache_digest(const struct fy_auth_cache *c, unsigned file, struct fy_str user, struct fy_str password,
                         unsigned char out[FY_SHA256_LEN])
{
    struct fy_sha256 s;
    unsigned char f[4] = {(unsigned char)(file >> 24), (unsigned char)(file >> 16), (unsigned char)(file >> 8),
                          (unsigned char)file};
    fy_sha256_init(&s);
    fy_sha256_update(&s, c->key, sizeof c->key);
    fy_sha256_update(&s, f, sizeof f);
    fy_sha256_update(&s, user.p, user.len);
    fy_sha256_update(&s, "", 1); /* a user name holds no NUL: "ab"+"c" is not "a"+"bc" */
    fy_sha256_update(&s, password.p, password.len);
    return fy_sha256_final(&s, out);
}

static struct fy_auth_cache_entry *set_of(struct fy_auth_cache *c, const unsigned char d[FY_SHA256_LEN])
{
    return c->e[d[0] % FY_AUTH_CACHE_SETS];
}

const void *fy_auth_cache_find(struct fy_auth_cache *c, const unsigned char d[FY_SHA256_LEN])
{
    struct fy_auth_cache_entry *set = set_of(c, d);
    for (int i = 0; i < FY_AUTH_CACHE_WAYS; i++) {
        if (set[i].user && fy_const_time_equal(set[i].digest, d, FY_SHA256_LEN)) {
            set[i].used = ++c->clock;
            return set[i].user;
        }
    }
    return NULL;
}

void fy_auth_cache_add(struct fy_auth_cache *c, const unsigned char d[FY_SHA256_LEN], const void *user)
{
    struct fy_auth_cache_entry *set = set_of(c, d), *victim = &set[0];
    for (int i = 0; i < FY_AUTH_CACHE_WAYS; i++) {
        if (set[i].user && fy_const_time_equal(set[i].digest, d, FY_SHA256_LEN)) {
            victim = &set[i]; /* already there: refresh it */
            break;
        }
        if (!set[i].user || set[i].used < victim->used)
            victim = &set[i];
        if (!set[i].user)
            break;
    }
    memcpy(victim->digest, d, FY_SHA256_LEN);
    victim->user = user;
    victim->used = ++c->clock;
}
