/* Connections per client address; see per_ip.h. */
#include "core/per_ip.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct fy_ip_count {
    struct fy_ip_count *next;
    unsigned char key[17];       /* family byte, then 4 or 16 address bytes */
    unsigned count;
};

/* The key of an address: [4, a.b.c.d] or [6, 16 bytes]. */
static void key_of(const struct sockaddr_storage *a, unsigned char key[17])
{
    memset(key, 0, 17);
    if (a->ss_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)a)->sin_addr, 4);
        return;
    }
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    if (a->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(a6)) {
        key[0] = 4;
        memcpy(key + 1, a6->s6_addr + 12, 4);
    } else if (a->ss_family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, a6->s6_addr, 16);
    }
}

static struct fy_ip_count **slot(struct fy_per_ip *t, const unsigned char key[17])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 16777619u;
    struct fy_ip_count **link = &t->buckets[h & (t->nbuckets - 1)];
    while (*link && memcmp((*link)->key, key, 17) != 0)
        link = &(*link)->next;
    return link;
}

int fy_per_ip_init(struct fy_per_ip *t, size_t expected)
{
    *t = (struct fy_per_ip){.nbuckets = 64};
    while (t->nbuckets < expected)
        t->nbuckets *= 2;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets ? 0 : -ENOMEM;
}

void fy_per_ip_free(struct fy_per_ip *t)
{
    for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
        while (t->buckets[i]) {
            struct fy_ip_count *e = t->buckets[i];
            t->buckets[i] = e->next;
            free(e);
        }
    }
    free(t->buckets);
    *t = (struct fy_per_ip){0};
}

bool fy_per_ip_take(struct fy_per_ip *t, const struct sockaddr_storage *addr, unsigned max)
{
    unsigned char key[17];
    key_of(addr, key);
    struct fy_ip_count **link = slot(t, key);
    if (*link) {
        if ((*link)->count >= max)
            return false;
        (*link)->count++;
        return true;
    }
    if (max == 0)
        return false;
    struct fy_ip_count *e = malloc(sizeof *e);
    if (!e)
        return false;
    *e = (struct fy_ip_count){.count = 1};
    memcpy(e->key, key, 17);
    *link = e;
    t->naddrs++;
    return true;
}

void fy_per_ip_put(struct fy_per_ip *t, const struct sockaddr_storage *addr)
{
    unsigned char key[17];
    key_of(addr, key);
    struct fy_ip_count **link = slot(t, key);
    struct fy_ip_count *e = *link;
    if (!e)
        return;
    if (--e->count == 0) {
        *link = e->next;
        free(e);
        t->naddrs--;
    }
}
