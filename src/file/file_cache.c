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

int fy_file_cache_init(struct fy_file_cache *c, size_t max, int64_t ttl_ms, size_t body_bytes)
{
    *c = (struct fy_file_cache){.max = max, .ttl_ms = ttl_ms};
    fy_body_cache_init(&c->bodies, body_bytes);
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

/* The LRU and the expiry order share their list code; links_of says
 * which of an entry's links a list runs through. */
typedef struct fy_file_cache_links *links_of(struct fy_file_cache_entry *e);

static struct fy_file_cache_links *lru_links(struct fy_file_cache_entry *e) { return &e->lru; }
static struct fy_file_cache_links *age_links(struct fy_file_cache_entry *e) { return &e->age; }

static void list_unlink(struct fy_file_cache_list *l, struct fy_file_cache_entry *e, links_of *links)
{
    struct fy_file_cache_links *k = links(e);
    if (k->prev)
        links(k->prev)->next = k->next;
    else
        l->head = k->next;
    if (k->next)
        links(k->next)->prev = k->prev;
    else
        l->tail = k->prev;
    k->prev = k->next = NULL;
}

static void list_push_front(struct fy_file_cache_list *l, struct fy_file_cache_entry *e, links_of *links)
{
    *links(e) = (struct fy_file_cache_links){.next = l->head};
    if (l->head)
        links(l->head)->prev = e;
    else
        l->tail = e;
    l->head = e;
}

static void list_push_back(struct fy_file_cache_list *l, struct fy_file_cache_entry *e, links_of *links)
{
    *links(e) = (struct fy_file_cache_links){.prev = l->tail};
    if (l->tail)
        links(l->tail)->next = e;
    else
        l->head = e;
    l->tail = e;
}

static void table_remove(struct fy_file_cache *c, struct fy_file_cache_entry *e)
{
    struct fy_file_cache_entry **link = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*link != e)
        link = &(*link)->hash_next;
    *link = e->hash_next;
    list_unlink(&c->lru, e, lru_links);
    list_unlink(&c->age, e, age_links);
    e->in_table = false;
    fy_body_cache_detach(e); /* trusted as long as the entry, no longer */
    c->count--;
    entry_unref(e);
}

void fy_file_cache_free(struct fy_file_cache *c)
{
    while (c->lru.head)
        table_remove(c, c->lru.head);
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
    list_unlink(&c->lru, e, lru_links);
    list_push_front(&c->lru, e, lru_links);
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
        table_remove(c, c->lru.tail);
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
    list_push_front(&c->lru, e, lru_links);
    list_push_back(&c->age, e, age_links);
    c->count++;
    return e;
}

void fy_file_cache_expire(struct fy_file_cache *c, int64_t now_ms)
{
    while (c->age.head && now_ms >= c->age.head->expires_ms)
        table_remove(c, c->age.head);
}

void fy_file_cache_release(struct fy_file_cache_entry *e)
{
    entry_unref(e);
}
