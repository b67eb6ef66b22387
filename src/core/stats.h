/* The counters of the status endpoint, shared by every process of one
 * ferry: an anonymous MAP_SHARED region the first process maps before it
 * forks.  Each serving process owns one slot and is its only writer
 * (relaxed atomic stores: no lock, no read-modify-write); any process sums
 * the slots to answer a status request.  When a worker exits, the master
 * folds its cumulative counters into `retired`, so totals survive reloads
 * and respawns; a sequence number lets readers skip that moment.
 *
 * Counters only grow; gauges describe now and are refreshed by their
 * worker once a second (and by the worker answering a status request). */
#ifndef FY_STATS_H
#define FY_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend/backend.h"
#include "core/config.h"

enum fy_counter {
    FY_C_ACCEPTED,               /* connections accepted */
    FY_C_REFUSED,                /* answered 503 at max-connections */
    FY_C_REFUSED_PER_IP,         /* answered 503 at max-connections-per-ip */
    FY_C_REQ_1XX, FY_C_REQ_2XX, FY_C_REQ_3XX, FY_C_REQ_4XX, FY_C_REQ_5XX,
    FY_C_BYTES_1XX, FY_C_BYTES_2XX, FY_C_BYTES_3XX, FY_C_BYTES_4XX, FY_C_BYTES_5XX,
    FY_C_READS_SUBMITTED, FY_C_READS_COMPLETED, FY_C_BYTES_READ, FY_C_SHORT_READS, FY_C_READ_ERRORS,
    FY_C_PLAIN_FILES, FY_C_CACHED_BLOCKS, FY_C_LOOKUPS,
    FY_C_TLS_HANDSHAKES,         /* TLS handshakes finished */
    FY_C_TLS_RESUMED,            /* ... of them by a session ticket */
    FY_C_TLS_KTLS,               /* ... of them with the kernel encrypting */
    /* Handshakes that failed, by reason (the order of enum fy_tls_failure). */
    FY_C_TLS_FAIL_TIMEOUT, FY_C_TLS_FAIL_PROTOCOL, FY_C_TLS_FAIL_PLAIN_HTTP, FY_C_TLS_FAIL_CLOSED,
    FY_C_AUTH_CHECKS,            /* auth-basic: passwords hashed (off the loop) */
    FY_C_AUTH_CACHE_HITS,        /* requests let in by a remembered password, no hash */
    FY_C_AUTH_REFUSED,           /* 401s for credentials given: wrong, unknown user, malformed */
    FY_C_AUTH_BUSY,              /* 503s: too many checks waiting */
    FY_C_FALLBACKS,              /* missing files answered with the fallback file */
    FY_C_REDIRECTS,              /* answered by redirect or redirect-host */
    FY_C_DENIED,                 /* refused (403) by allow/deny or status-allow */
    FY_C_COMPRESSED,             /* responses sent from a compressed copy (compress) */
    FY_C_COMPRESSIONS,           /* compressed copies made */
    /* file digests (etag = digest, Repr-Digest) */
    FY_C_DIGESTS_HASHED, FY_C_DIGEST_BYTES, FY_C_DIGESTS_FROM_XATTR, FY_C_DIGESTS_XATTR_STORED,
    FY_C_DIGESTS_CHANGED, FY_C_DIGESTS_FAILED, FY_C_DIGESTS_EVICTED,
    FY_C_BODY_HITS,              /* responses sent from a kept body (file/body_cache.h) */
    FY_C_BODY_FILLS,             /* bodies read to be kept */
    FY_C_BODY_EVICTIONS,         /* bodies dropped for room */
    /* HTTP/2 (http2/h2.c) */
    FY_C_H2_CONNECTIONS,         /* connections that spoke HTTP/2 */
    FY_C_H2_STREAMS,             /* requests received on streams */
    FY_C_H2_RESETS_RECEIVED,     /* streams the client reset (RST_STREAM) */
    FY_C_H2_RESETS_SENT,         /* streams ferry reset */
    FY_C_H2_GOAWAYS,             /* GOAWAY frames sent (shutdown, idle, errors) */
    FY_C_H2_FLOODS,              /* connections ended for a flood of frames that carry no request */
    FY_C_H2_STALLS,              /* streams reset after write-timeout without progress (window kept shut) */
    FY_C_H2_PROTOCOL_ERRORS,     /* connections ended for breaking the protocol */
    FY_NCOUNTERS
};

enum fy_gauge {
    FY_G_ACTIVE, FY_G_READING, FY_G_WRITING, FY_G_IDLE,
    FY_G_READS_IN_FLIGHT, FY_G_QUEUED, FY_G_POOL_BUFFERS, FY_G_POOL_FREE, FY_G_BUFFER_SIZE,
    FY_G_POOL_RESIDENT,          /* bytes of the tmpfs the pools hold now (their extents with space) */
    FY_G_AUTH_WAITING,           /* password checks queued or running */
    FY_G_DIGEST_ENTRIES, FY_G_DIGESTS_PENDING,
    FY_G_REQ_BUFFERS,            /* a request's buffers (struct fy_conn), allocated */
    FY_G_REQ_BUFFERS_FREE,       /* ... of them on the free list */
    FY_G_REQ_BUFFER_BYTES,       /* ... the bytes they take */
    FY_G_BODY_ENTRIES,           /* bodies kept */
    FY_G_BODY_BYTES,             /* ... their bytes */
    /* One per engine (enum fy_engine): 1 for the one this process's backend
     * runs on, so that the sums count the processes on each. */
    FY_G_ENGINE,
    FY_NGAUGES = FY_G_ENGINE + FY_NENGINES
};

/* Room for two generations of the most workers, and respawns between. */
#define FY_STATS_SLOTS (4 * FY_CONFIG_MAX_WORKERS)

struct fy_stats_slot {
    _Atomic uint64_t pid;        /* 0: free */
    _Atomic uint64_t generation;
    _Atomic uint64_t counter[FY_NCOUNTERS];
    _Atomic uint64_t gauge[FY_NGAUGES];
};

struct fy_stats_shm {
    _Atomic uint64_t seq;        /* odd while the master folds a slot */
    _Atomic uint64_t pid;        /* of the process that made it (the master) */
    _Atomic uint64_t started;    /* its start, Unix time */
    _Atomic uint64_t generation; /* of the configuration serving now */
    _Atomic uint64_t workers;    /* configured */
    _Atomic uint64_t reloads;    /* successful ones */
    _Atomic uint64_t respawns;   /* workers started again after dying */
    _Atomic uint64_t retired[FY_NCOUNTERS];
    struct fy_stats_slot slot[FY_STATS_SLOTS];
};

/* A consistent sum of every slot. */
struct fy_stats_total {
    uint64_t counter[FY_NCOUNTERS];
    uint64_t gauge[FY_NGAUGES];
    unsigned processes;          /* serving processes with a slot */
};

struct fy_stats_shm *fy_stats_create(void);
void fy_stats_destroy(struct fy_stats_shm *s);

/* Master: a free slot, zeroed and marked taken; -1 if none. */
int  fy_stats_claim(struct fy_stats_shm *s, uint64_t generation);
/* Master: the slot's process has exited: keep its counters, free it. */
void fy_stats_retire(struct fy_stats_shm *s, int slot);

static inline void fy_stats_add(struct fy_stats_slot *slot, enum fy_counter c, uint64_t n)
{
    uint64_t v = atomic_load_explicit(&slot->counter[c], memory_order_relaxed);
    atomic_store_explicit(&slot->counter[c], v + n, memory_order_relaxed);
}

static inline void fy_stats_set(struct fy_stats_slot *slot, enum fy_counter c, uint64_t v)
{
    atomic_store_explicit(&slot->counter[c], v, memory_order_relaxed);
}

static inline void fy_stats_gauge(struct fy_stats_slot *slot, enum fy_gauge g, uint64_t v)
{
    atomic_store_explicit(&slot->gauge[g], v, memory_order_relaxed);
}

static inline uint64_t fy_stats_get(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* Anyone: the sum of the retired counters and every live slot. */
void fy_stats_sum(struct fy_stats_shm *s, struct fy_stats_total *out);

#endif
