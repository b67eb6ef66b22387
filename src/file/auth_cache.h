/* A bounded cache of credentials that passed a password check, so that a
 * client that sends the same Authorization header with every request (as
 * browsers do, on every connection) costs one slow hash, not one per
 * request: bcrypt at htpasswd's default cost 5 takes 2.3 ms of CPU here,
 * at cost 10 67 ms, SHA-512-crypt 2.1 ms, yescrypt 17 ms (doc/config.md#auth-basic).
 *
 * An entry is a digest, never the password: SHA-256 over a key drawn at
 * start, the user file's number, the user and the password.  Only
 * successful checks are added, so a client cannot fill the cache with
 * guesses; wrong passwords are checked every time.  Set-associative
 * (64 sets of 4), least recently used out: bounded memory, O(1) work. */
#ifndef FY_AUTH_CACHE_H
#define FY_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sha256.h"
#include "http/http_parse.h"

#define FY_AUTH_CACHE_SETS 64
#define FY_AUTH_CACHE_WAYS 4

struct fy_auth_cache_entry {
    unsigned char digest[FY_SHA256_LEN];
    const void *user;            /* what the caller stored with it; NULL: a free entry */
    uint64_t used;               /* the cache's clock when last found or added */
};

struct fy_auth_cache {
    unsigned char key[FY_SHA256_LEN];
    uint64_t clock;
    struct fy_auth_cache_entry e[FY_AUTH_CACHE_SETS][FY_AUTH_CACHE_WAYS];
};

/* Empties c and draws its key.  Returns 0, or -1 (errno) when no random
 * bytes can be had. */
int fy_auth_cache_init(struct fy_auth_cache *c);

/* The digest that stands for these credentials of user file `file`.
 * Returns 0, or -1 when none could be made (out of memory). */
int  fy_auth_cache_digest(const struct fy_auth_cache *c, unsigned file, struct fy_str user, struct fy_str password,
                          unsigned char out[FY_SHA256_LEN]);

/* What was stored with digest d, or NULL when it is not cached. */
const void *fy_auth_cache_find(struct fy_auth_cache *c, const unsigned char d[FY_SHA256_LEN]);

/* Stores user (not NULL) with d, pushing out the set's least recently used. */
void fy_auth_cache_add(struct fy_auth_cache *c, const unsigned char d[FY_SHA256_LEN], const void *user);

#endif
