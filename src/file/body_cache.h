/* The bytes of small hot files, kept in memory with their open-file cache
 * entries (issue 16, W1): a hot 1 KiB response then costs one writev() of
 * head and body, not a pread() of the body first.
 *
 * A body hangs on its entry, so it is trusted exactly as long as the entry
 * is (open-file-cache-ttl): when the entry leaves the open-file cache
 * (expired, evicted, replaced) its body goes with it, and the file is read
 * afresh by the entry that follows.  A body is kept from the second
 * request for its entry (hot, not a file asked for once), for files of at
 * most FY_BODY_MAX bytes, and all bodies together hold at most
 * body-cache-size bytes, the least recently used going first.  Bodies are
 * reference-counted: one a response still sends from stays (and counts)
 * until that response ends. */
#ifndef FY_BODY_CACHE_H
#define FY_BODY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define FY_BODY_MAX (16 * 1024) /* larger files: sendfile's zero copy is worth its set-up */

struct fy_file_cache_entry;
struct fy_body_cache;

struct fy_body {
    struct fy_body *prev, *next;        /* the cache's LRU while attached */
    struct fy_body_cache *cache;
    struct fy_file_cache_entry *entry;  /* NULL once detached */
    unsigned refs;                      /* the entry's while attached, plus one per response */
    size_t len;
    char bytes[];
};

struct fy_body_cache {
    size_t max_bytes;                   /* 0: off */
    size_t bytes;                       /* held now, detached bodies still in use too */
    size_t count;
    struct fy_body *head, *tail;        /* head: the most recently used */
    uint64_t hits, fills, evictions;
};

void fy_body_cache_init(struct fy_body_cache *bc, size_t max_bytes);

/* The bytes of e's file, which is open in e (regular, e->st.st_size bytes),
 * with a reference for the caller; read now if e's file is hot and small
 * enough.  NULL: not kept (then read it as usual). */
struct fy_body *fy_body_cache_get(struct fy_body_cache *bc, struct fy_file_cache_entry *e);

void fy_body_release(struct fy_body *b);

/* e leaves the open-file cache: its body, if any, with it. */
void fy_body_cache_detach(struct fy_file_cache_entry *e);

#endif
