/* Open files kept for reuse, so a popular file costs no open(), fstat()
 * and close() per request.
 *
 * An entry is trusted for `ttl` (default one second, like lighttpd's stat
 * cache), then dropped and the file opened afresh: a file replaced on disk
 * is served new within a ttl.  The server's tick closes the entries whose
 * ttl has passed (fy_file_cache_expire), so a file deleted or rotated away
 * does not keep its disk space held until its name is asked for again.
 * Entries are reference-counted: one that is evicted or expired while a
 * transfer still sends from it keeps its fd until that transfer ends.
 * Bounded by `max` entries, least recently used first out.  The bytes of
 * small hot files are kept with their entries (file/body_cache.h). */
#ifndef FY_FILE_CACHE_H
#define FY_FILE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "file/body_cache.h"

struct fy_file_cache_entry;

#define FY_FILE_CACHE_VALIDATORS 128

/* An entry's place in one of the cache's two orders. */
struct fy_file_cache_links {
    struct fy_file_cache_entry *prev, *next;
};

struct fy_file_cache_list {
    struct fy_file_cache_entry *head, *tail;
};

struct fy_file_cache_entry {
    struct fy_file_cache_entry *hash_next;
    struct fy_file_cache_links lru, age;
    uint32_t hash;
    unsigned refs;               /* the table's, plus one per user */
    bool in_table;
    int fd;
    struct stat st;
    int64_t expires_ms;
    const char *content_type;    /* set by the caller on a miss */
    const char *index_name;      /* set by the caller on a miss */
    struct fy_body *body;        /* the file's bytes, when kept (body_cache.c) */
    unsigned body_asks;          /* responses that asked for them */
    /* The validator header lines (Last-Modified, ETag), which follow from
     * st alone: made by the first response (file/respond.c), reused by the
     * others asking in the same etag mode (validators_mode, an enum
     * fy_etag_mode).  validators_len 0: not made yet. */
    unsigned short validators_len, etag_off, etag_len;
    unsigned char validators_mode;
    char validators[FY_FILE_CACHE_VALIDATORS];
    size_t key_len;
    char key[];
};

struct fy_file_cache {
    struct fy_file_cache_entry **buckets;
    size_t nbuckets;             /* a power of two */
    size_t count, max;
    int64_t ttl_ms;
    struct fy_file_cache_list lru; /* head: the most recently used */
    /* Insertion order, which is expiry order (one ttl, a clock that does
     * not go back): head: the first to expire. */
    struct fy_file_cache_list age;
    struct fy_body_cache bodies; /* the bytes of small hot files, on their entries */
};

/* body_bytes: at most this much for the bodies of small hot files. */
int  fy_file_cache_init(struct fy_file_cache *c, size_t max, int64_t ttl_ms, size_t body_bytes);
void fy_file_cache_free(struct fy_file_cache *c);

/* A fresh entry for key, with a reference taken, or NULL. */
struct fy_file_cache_entry *fy_file_cache_get(struct fy_file_cache *c, const char *key,
                                              size_t key_len, int64_t now_ms);

/* Keeps fd (now owned by the cache) under key, in place of an entry
 * already there for key (whose users keep it until they release it).
 * Returns the entry with a reference taken for the caller, or NULL (cache
 * off or out of memory: the caller keeps fd). */
struct fy_file_cache_entry *fy_file_cache_put(struct fy_file_cache *c, const char *key,
                                              size_t key_len, int fd, const struct stat *st,
                                              int64_t now_ms);

/* Drops the entries whose ttl has passed at now_ms: those no transfer
 * uses close now.  Costs one comparison when none has. */
void fy_file_cache_expire(struct fy_file_cache *c, int64_t now_ms);

/* Drops a reference; the fd closes when the last one goes. */
void fy_file_cache_release(struct fy_file_cache_entry *e);

#endif
