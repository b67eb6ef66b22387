/* Shared counters; see stats.h. */
#include "core/stats.h"

#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct fy_stats_shm *fy_stats_create(void)
{
    struct fy_stats_shm *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return NULL;
    atomic_store(&s->started, (uint64_t)time(NULL));
    atomic_store(&s->pid, (uint64_t)getpid());
    return s; /* the mapping starts zeroed: every slot free */
}

void fy_stats_destroy(struct fy_stats_shm *s)
{
    if (s)
        munmap(s, sizeof *s);
}

int fy_stats_claim(struct fy_stats_shm *s, uint64_t generation)
{
    for (int i = 0; i < FY_STATS_SLOTS; i++) {
        struct fy_stats_slot *slot = &s->slot[i];
        if (fy_stats_get(&slot->pid) != 0)
            continue;
        for (int c = 0; c < FY_NCOUNTERS; c++)
            atomic_store(&slot->counter[c], 0);
        for (int g = 0; g < FY_NGAUGES; g++)
            atomic_store(&slot->gauge[g], 0);
        atomic_store(&slot->generation, generation);
        atomic_store(&slot->pid, 1); /* taken; the real pid once forked */
        return i;
    }
    return -1;
}

void fy_stats_retire(struct fy_stats_shm *s, int i)
{
    struct fy_stats_slot *slot = &s->slot[i];
    atomic_fetch_add(&s->seq, 1);
    for (int c = 0; c < FY_NCOUNTERS; c++)
        atomic_fetch_add(&s->retired[c], fy_stats_get(&slot->counter[c]));
    atomic_store(&slot->pid, 0);
    atomic_fetch_add(&s->seq, 1);
}

/* One pass; returns false if the master folded a slot meanwhile. */
static bool sum_once(struct fy_stats_shm *s, struct fy_stats_total *out)
{
    uint64_t seq = atomic_load(&s->seq);
    if (seq & 1)
        return false;
    memset(out, 0, sizeof *out);
    for (int c = 0; c < FY_NCOUNTERS; c++)
        out->counter[c] = fy_stats_get(&s->retired[c]);
    for (int i = 0; i < FY_STATS_SLOTS; i++) {
        struct fy_stats_slot *slot = &s->slot[i];
        if (fy_stats_get(&slot->pid) == 0)
            continue;
        out->processes++;
        for (int c = 0; c < FY_NCOUNTERS; c++)
            out->counter[c] += fy_stats_get(&slot->counter[c]);
        for (int g = 0; g < FY_NGAUGES; g++) {
            uint64_t v = fy_stats_get(&slot->gauge[g]);
            if (g != FY_G_BUFFER_SIZE)
                out->gauge[g] += v;
            else if (v > out->gauge[g])
                out->gauge[g] = v; /* the same in every worker */
        }
    }
    return atomic_load(&s->seq) == seq;
}

void fy_stats_sum(struct fy_stats_shm *s, struct fy_stats_total *out)
{
    for (int tries = 0; tries < 100 && !sum_once(s, out); tries++)
        sched_yield();
}
