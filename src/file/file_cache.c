/* The open-file cache; see file_cache.h. */
#include "file/file_cache.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t hash_key(const char *key, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a: short keys, good enough spread */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h;
}

int fy_file_cache_init(struct fy_file_cache *c, size_t max, int64_t ttl_ms)
{
    *c = (struct fy_file_cache){.max = max, .ttl_ms = ttl_ms};
    if (max == 0)
        return 0;
    c->nbuckets = 16;
    while (c->nbuckets < max * 2)
        c->nbuckets *= 2;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    return c->buckets ? 0 : -1;
}

static void entry_unref(struct fy_file_cache_entry *e)
{
    if (--e->refs > 0)
        return;
    close(e->fd);
    free(e);
}

static void lru_unlink(struct fy_file_cache *c, struct fy_file_cache_entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct fy_file_cache *c, struct fy_file_cache_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    else
        c->lru_tail = e;
    c->lru_head = e;
}

static void table_remove(struct fy_file_cache *c, struct fy_file_cache_entry *e)
{
    struct fy_file_cache_entry **link = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*link != e)
        link = &(*link)->hash_next;
    *link = e->hash_next;
    lru_unlink(c, e);
    e->in_table = false;
    c->count--;
    entry_unref(e);
}

void fy_file_cache_free(struct fy_file_cache *c)
{
    while (c->lru_head)
        table_remove(c, c->lru_head);
    free(c->buckets);
    c->buckets = NULL;
}

static struct fy_file_cache_entry *table_find(const struct fy_file_cache *c, uint32_t h, const char *key,
                                              size_t key_len)
{
    struct fy_file_cache_entry *e = c->buckets[h & (c->nbuckets - 1)];
    while (e && !(e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0))
        e = e->hash_next;
    return e;
}

struct fy_file_cache_entry *fy_file_cache_get(struct fy_file_cache *c, const char *key,
                                              size_t key_len, int64_t now_ms)
{
    if (!c->buckets)
        return NULL;
    struct fy_file_cache_entry *e = table_find(c, hash_key(key, key_len), key, key_len);
    if (!e)
        return NULL;
    if (now_ms >= e->expires_ms) {
        table_remove(c, e);
        return NULL;
    }
    lru_unlink(c, e);
    lru_push_front(c, e);
    e->refs++;
    return e;
}

struct fy_file_cache_entry *fy_file_cache_put(struct fy_file_cache *c, const char *key,
                                              size_t key_len, int fd, const struct stat *st,
                                              int64_t now_ms)
{
    if (!c->buckets)
        return NULL;
    struct fy_file_cache_entry *e = malloc(sizeof *e + key_len + 1);
    if (!e)
        return NULL;
    uint32_t h = hash_key(key, key_len);
    /* Requests that missed the same name at once (their lookups ran off
     * the loop) each put it: the latest open wins, and the entry it
     * replaces closes when its users are done, not at eviction. */
    struct fy_file_cache_entry *old = table_find(c, h, key, key_len);
    if (old)
        table_remove(c, old);
    if (c->count >= c->max)
        table_remove(c, c->lru_tail);
    *e = (struct fy_file_cache_entry){
        .hash = h,
        .refs = 2, /* the table's and the caller's */
        .in_table = true,
        .fd = fd,
        .st = *st,
        .expires_ms = now_ms + c->ttl_ms,
        .key_len = key_len,
    };
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    struct fy_file_cache_entry **bucket = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->hash_next = *bucket;
    *bucket = e;
    lru_push_front(c, e);
    c->count++;
    return e;
}

void fy_file_cache_release(struct fy_file_cache_entry *e)
{
    entry_unref(e);
}
