/* Shared session-ticket keys; see tls_tickets.h. */
#include "net/tls_tickets.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/rand.h>

#define SLOTS 2                  /* the current key and the previous one */

struct slot {
    atomic_uint seq;             /* odd while the master writes */
    struct fy_tls_ticket_key key;
    bool used;
};

struct fy_tls_tickets {
    atomic_uint current;         /* index of the current key's slot */
    long long rotated_s;         /* the master's alone: when it last rotated */
    struct slot slots[SLOTS];
};

static int fill(struct slot *s)
{
    struct fy_tls_ticket_key k;
    if (RAND_bytes((unsigned char *)&k, sizeof k) != 1)
        return -1;
    atomic_fetch_add_explicit(&s->seq, 1, memory_order_acq_rel);
    atomic_thread_fence(memory_order_release);
    s->key = k;
    s->used = true;
    atomic_fetch_add_explicit(&s->seq, 1, memory_order_release);
    return 0;
}

/* Copies slot s into *out, retrying while the master writes it. */
static bool read_slot(const struct slot *s, struct fy_tls_ticket_key *out)
{
    for (;;) {
        unsigned before = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (before & 1)
            continue;
        struct fy_tls_ticket_key k = s->key;
        bool used = s->used;
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) != before)
            continue;
        *out = k;
        return used;
    }
}

struct fy_tls_tickets *fy_tls_tickets_create(char *err, size_t errlen)
{
    struct fy_tls_tickets *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED) {
        snprintf(err, errlen, "session-ticket keys: %s", strerror(errno));
        return NULL;
    }
    if (fill(&t->slots[0]) < 0) {
        snprintf(err, errlen, "session-ticket keys: no random bytes");
        munmap(t, sizeof *t);
        return NULL;
    }
    return t;
}

void fy_tls_tickets_destroy(struct fy_tls_tickets *t)
{
    if (t)
        munmap(t, sizeof *t);
}

int fy_tls_tickets_rotate(struct fy_tls_tickets *t)
{
    unsigned next = (atomic_load(&t->current) + 1) % SLOTS;
    if (fill(&t->slots[next]) < 0)
        return -1;
    atomic_store_explicit(&t->current, next, memory_order_release);
    return 0;
}

void fy_tls_tickets_tick(struct fy_tls_tickets *t, long long now_s)
{
    if (t->rotated_s == 0)
        t->rotated_s = now_s;
    else if (now_s - t->rotated_s >= FY_TLS_TICKET_ROTATE_S && fy_tls_tickets_rotate(t) == 0)
        t->rotated_s = now_s;
}

bool fy_tls_tickets_current(const struct fy_tls_tickets *t, struct fy_tls_ticket_key *out)
{
    return read_slot(&t->slots[atomic_load_explicit(&t->current, memory_order_acquire)], out);
}

int fy_tls_tickets_find(const struct fy_tls_tickets *t, const unsigned char name[16],
                        struct fy_tls_ticket_key *out)
{
    unsigned cur = atomic_load_explicit(&t->current, memory_order_acquire);
    for (unsigned i = 0; i < SLOTS; i++) {
        unsigned s = (cur + SLOTS - i) % SLOTS;
        if (read_slot(&t->slots[s], out) && memcmp(out->name, name, sizeof out->name) == 0)
            return i == 0 ? 1 : 2;
    }
    return 0;
}
