/* File digests (SHA-256) for etag = digest and Repr-Digest, computed once
 * per version of a file and never on the loop.
 *
 * fy_digests_get() answers from memory only: the digest when it is known
 * for exactly this version (device, inode, size, mtime in nanoseconds);
 * otherwise it hands the file (a dup of its descriptor) to the process's
 * digest thread and answers "not yet", so the response goes out without
 * it.  The thread reads the extended attribute or hashes the file
 * (digest_file.h), and reports back through an eventfd in the loop, which
 * files the result.  A result for a file that changed meanwhile is
 * dropped; a later request asks again, for the new version.
 *
 * Why a thread of our own and not the backends' off-loop machinery: the
 * io_uring lookups and reads take the waiting for the disk off the loop,
 * but hashing is CPU work (a GiB takes seconds) that would then run in
 * loop turns, and the sendfile and writev backends have no such machinery
 * at all.  One thread per worker process, started on first use (after the
 * privileges are dropped, so it is never left with other ones), signals
 * blocked; the table is the loop's alone, the thread touches only the two
 * job lists under the lock.
 *
 * Bounded: at most `max` versions remembered (least recently used out,
 * digest-cache-size) and FY_DIGEST_MAX_PENDING files waiting for the
 * thread; beyond that a request simply goes without. */
#ifndef FY_DIGEST_H
#define FY_DIGEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "core/log.h"
#include "event/loop.h"
#include "file/digest_file.h"

#define FY_DIGEST_MAX_PENDING 64

struct fy_digest_entry;
struct fy_digest_job;

/* What the status page shows; cumulative but for entries and pending. */
struct fy_digest_stats {
    unsigned long long hashed, bytes_hashed, from_xattr, xattr_stored, changed, failed, evicted;
    unsigned entries, pending;
};

struct fy_digests {
    /* The loop's side. */
    struct fy_loop *loop;
    struct fy_log *log;
    struct fy_digest_entry **buckets;
    size_t nbuckets, count, max;
    struct fy_digest_entry *lru_head, *lru_tail; /* head: the most recently used */
    unsigned pending;            /* jobs with the thread */
    struct fy_io done_io;        /* an eventfd the thread writes after each job */
    bool started, broken;        /* broken: the thread could not start; no digests */
    struct fy_digest_stats stats;

    /* Shared with the thread, under lock. */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct fy_digest_job *todo_head, *todo_tail, *done;
    atomic_bool stop;
};

/* max: versions remembered.  Starts no thread yet.  Returns 0 or -errno. */
int  fy_digests_init(struct fy_digests *d, struct fy_loop *loop, struct fy_log *log, size_t max);
/* Stops the thread (a hash under way is cut short), frees everything.
 * Safe on a zeroed struct. */
void fy_digests_free(struct fy_digests *d);

/* The digest of the file open at fd, whose fstat is st, into sha: true
 * when known; false when not (yet): then computing it is under way. */
bool fy_digests_get(struct fy_digests *d, int fd, const struct stat *st, unsigned char sha[FY_SHA256_LEN]);

void fy_digests_stats(const struct fy_digests *d, struct fy_digest_stats *out);

#endif
