/* Small hot files' bytes; see body_cache.h. */
#include "file/body_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "file/file_cache.h"

void fy_body_cache_init(struct fy_body_cache *bc, size_t max_bytes)
{
    *bc = (struct fy_body_cache){.max_bytes = max_bytes};
}

static void lru_unlink(struct fy_body_cache *bc, struct fy_body *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        bc->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        bc->tail = b->prev;
    b->prev = b->next = NULL;
}

static void lru_push_front(struct fy_body_cache *bc, struct fy_body *b)
{
    b->prev = NULL;
    b->next = bc->head;
    if (bc->head)
        bc->head->prev = b;
    else
        bc->tail = b;
    bc->head = b;
}

void fy_body_release(struct fy_body *b)
{
    if (--b->refs > 0)
        return;
    b->cache->bytes -= b->len;
    b->cache->count--;
    free(b);
}

/* Off its entry and out of the LRU; freed when no response uses it. */
static void detach(struct fy_body *b)
{
    lru_unlink(b->cache, b);
    b->entry->body = NULL;
    b->entry = NULL;
    fy_body_release(b);
}

void fy_body_cache_detach(struct fy_file_cache_entry *e)
{
    if (e->body)
        detach(e->body);
}

/* Room for len more bytes, the least recently used bodies going first.
 * A body a response still sends from would keep its bytes until that
 * response ends, so dropping it makes no room now: those stay, and the
 * room may not be there (false). */
static bool make_room(struct fy_body_cache *bc, size_t len)
{
    for (struct fy_body *b = bc->tail, *prev; b && bc->bytes + len > bc->max_bytes; b = prev) {
        prev = b->prev;
        if (b->refs > 1)
            continue;
        bc->evictions++;
        detach(b);
    }
    return bc->bytes + len <= bc->max_bytes;
}

/* Reads the whole file; a file that is not st_size long any more (it
 * changed under the entry) is not kept. */
static struct fy_body *fill(struct fy_body_cache *bc, struct fy_file_cache_entry *e)
{
    size_t len = (size_t)e->st.st_size;
    if (!make_room(bc, len))
        return NULL;
    struct fy_body *b = malloc(sizeof *b + len);
    if (!b)
        return NULL;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(e->fd, b->bytes + got, len - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(b);
            return NULL;
        }
        got += (size_t)n;
    }
    *b = (struct fy_body){.cache = bc, .entry = e, .refs = 1, .len = len};
    e->body = b;
    lru_push_front(bc, b);
    bc->bytes += len;
    bc->count++;
    bc->fills++;
    return b;
}

struct fy_body *fy_body_cache_get(struct fy_body_cache *bc, struct fy_file_cache_entry *e)
{
    struct fy_body *b = e->body;
    if (b) {
        bc->hits++;
        lru_unlink(bc, b);
        lru_push_front(bc, b);
    } else {
        if (e->st.st_size <= 0 || e->st.st_size > FY_BODY_MAX || (size_t)e->st.st_size > bc->max_bytes ||
            !e->in_table || e->body_asks++ < 1)
            return NULL;
        if (!(b = fill(bc, e)))
            return NULL;
    }
    b->refs++;
    return b;
}
