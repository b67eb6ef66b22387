/* File digests: the table, the thread and the hand-over; see digest.h. */
#include "file/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define READ_SIZE (1 << 20)      /* bytes per read of a file being hashed */

enum entry_state { ENTRY_PENDING, ENTRY_KNOWN };

struct fy_digest_entry {
    struct fy_digest_entry *hash_next, *lru_prev, *lru_next;
    struct fy_digest_key key;
    enum entry_state state;
    unsigned char sha[FY_SHA256_LEN];
};

struct fy_digest_job {
    struct fy_digest_job *next;
    int fd;                      /* a dup of the connection's: the response may end first */
    struct fy_digest_key key;
    struct fy_digest_result result;
};

/* --- the table (the loop's alone) -------------------------------------------- */

static size_t bucket_of(const struct fy_digests *d, const struct fy_digest_key *k)
{
    uint64_t h = k->ino * 0x9e3779b97f4a7c15ull ^ k->dev ^ k->size * 31 ^ (uint64_t)k->mtime_ns;
    h ^= h >> 29;
    return (size_t)(h & (d->nbuckets - 1));
}

static struct fy_digest_entry *find(const struct fy_digests *d, const struct fy_digest_key *k)
{
    for (struct fy_digest_entry *e = d->buckets[bucket_of(d, k)]; e; e = e->hash_next)
        if (fy_digest_key_eq(&e->key, k))
            return e;
    return NULL;
}

static void lru_unlink(struct fy_digests *d, struct fy_digest_entry *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        d->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        d->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct fy_digests *d, struct fy_digest_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = d->lru_head;
    if (d->lru_head)
        d->lru_head->lru_prev = e;
    else
        d->lru_tail = e;
    d->lru_head = e;
}

static void remove_entry(struct fy_digests *d, struct fy_digest_entry *e)
{
    struct fy_digest_entry **link = &d->buckets[bucket_of(d, &e->key)];
    while (*link != e)
        link = &(*link)->hash_next;
    *link = e->hash_next;
    lru_unlink(d, e);
    d->count--;
    free(e);
}

/* A new entry for k at the front, the least recently used one making
 * room.  NULL when out of memory. */
static struct fy_digest_entry *insert(struct fy_digests *d, const struct fy_digest_key *k, enum entry_state state)
{
    if (d->count >= d->max && d->lru_tail) {
        remove_entry(d, d->lru_tail);
        d->stats.evicted++;
    }
    struct fy_digest_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->key = *k;
    e->state = state;
    size_t b = bucket_of(d, k);
    e->hash_next = d->buckets[b];
    d->buckets[b] = e;
    lru_push_front(d, e);
    d->count++;
    return e;
}

/* --- the thread ---------------------------------------------------------------- */

static struct fy_digest_job *next_job(struct fy_digests *d)
{
    pthread_mutex_lock(&d->lock);
    while (!d->todo_head && !atomic_load(&d->stop))
        pthread_cond_wait(&d->wake, &d->lock);
    struct fy_digest_job *j = atomic_load(&d->stop) ? NULL : d->todo_head;
    if (j) {
        d->todo_head = j->next;
        if (!d->todo_head)
            d->todo_tail = NULL;
    }
    pthread_mutex_unlock(&d->lock);
    return j;
}

static void *digest_thread(void *arg)
{
    struct fy_digests *d = arg;
    char *buf = malloc(READ_SIZE);
    struct fy_digest_job *j;
    while ((j = next_job(d))) {
        if (buf)
            fy_digest_file(j->fd, &j->key, &d->stop, buf, READ_SIZE, &j->result);
        else
            j->result = (struct fy_digest_result){.outcome = FY_DIGEST_FAILED, .err = ENOMEM};
        pthread_mutex_lock(&d->lock);
        j->next = d->done;
        d->done = j;
        pthread_mutex_unlock(&d->lock);
        uint64_t one = 1;
        ssize_t n = write(d->done_io.fd, &one, sizeof one); /* cannot fail but at 2^64-1 unread */
        (void)n;
    }
    free(buf);
    return NULL;
}

/* --- the loop's side of the hand-over ------------------------------------------- */

/* Files what the thread found: a digest becomes known, or the entry waiting
 * for it goes (the next request asks again). */
static void file_result(struct fy_digests *d, struct fy_digest_job *j)
{
    const struct fy_digest_result *r = &j->result;
    struct fy_digest_entry *e = find(d, &j->key);
    switch (r->outcome) {
    case FY_DIGEST_HASHED:
    case FY_DIGEST_FROM_XATTR:
        d->stats.hashed += r->outcome == FY_DIGEST_HASHED;
        d->stats.from_xattr += r->outcome == FY_DIGEST_FROM_XATTR;
        d->stats.xattr_stored += r->xattr_stored;
        if (!e)
            e = insert(d, &j->key, ENTRY_KNOWN);
        if (e) {
            e->state = ENTRY_KNOWN;
            memcpy(e->sha, r->sha, sizeof e->sha);
        }
        break;
    case FY_DIGEST_CHANGED:
    case FY_DIGEST_FAILED:
        if (r->outcome == FY_DIGEST_CHANGED)
            d->stats.changed++;
        else
            d->stats.failed++;
        if (r->outcome == FY_DIGEST_FAILED && r->err != ECANCELED)
            fy_log(d->log, FY_LOG_WARN, "digest: reading a file to hash it: %s", strerror(r->err));
        if (e && e->state == ENTRY_PENDING)
            remove_entry(d, e);
        break;
    }
    d->stats.bytes_hashed += r->bytes;
}

static void on_done(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct fy_digests *d = container_of(io, struct fy_digests, done_io);
    uint64_t n;
    while (read(io->fd, &n, sizeof n) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&d->lock);
    struct fy_digest_job *j = d->done;
    d->done = NULL;
    pthread_mutex_unlock(&d->lock);
    while (j) {
        struct fy_digest_job *next = j->next;
        file_result(d, j);
        close(j->fd);
        free(j);
        d->pending--;
        j = next;
    }
}

/* The eventfd and the thread, on first use.  False if they cannot be had
 * (said once; the server serves on without digests). */
static bool start(struct fy_digests *d)
{
    if (d->started || d->broken)
        return d->started;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int err = efd < 0 ? errno : 0;
    if (!err) {
        d->done_io = (struct fy_io){.fd = efd, .handler = on_done};
        err = -fy_loop_add(d->loop, &d->done_io, EPOLLIN);
    }
    if (!err) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread takes no signal: the loop's signalfd does */
        err = pthread_create(&d->thread, NULL, digest_thread, d);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (err) {
        fy_log(d->log, FY_LOG_ERROR, "digest: cannot start the digest thread: %s; serving without digests",
               strerror(err));
        if (efd >= 0) {
            fy_loop_remove(d->loop, &d->done_io);
            close(efd);
        }
        d->done_io.fd = -1;
        d->broken = true;
        return false;
    }
    d->started = true;
    return true;
}

static bool submit(struct fy_digests *d, int fd, const struct fy_digest_key *k)
{
    if (d->pending >= FY_DIGEST_MAX_PENDING || !start(d))
        return false;
    struct fy_digest_job *j = calloc(1, sizeof *j);
    if (!j)
        return false;
    j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (j->fd < 0 || !insert(d, k, ENTRY_PENDING)) {
        if (j->fd >= 0)
            close(j->fd);
        free(j);
        return false;
    }
    j->key = *k;
    pthread_mutex_lock(&d->lock);
    if (d->todo_tail)
        d->todo_tail->next = j;
    else
        d->todo_head = j;
    d->todo_tail = j;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    d->pending++;
    return true;
}

bool fy_digests_get(struct fy_digests *d, int fd, const struct stat *st, unsigned char sha[FY_SHA256_LEN])
{
    struct fy_digest_key k;
    if (!d->buckets)
        return false;
    fy_digest_key_of(st, &k);
    struct fy_digest_entry *e = find(d, &k);
    if (!e) {
        submit(d, fd, &k);
        return false;
    }
    lru_unlink(d, e);
    lru_push_front(d, e);
    if (e->state != ENTRY_KNOWN)
        return false;
    memcpy(sha, e->sha, FY_SHA256_LEN);
    return true;
}

/* --- life ------------------------------------------------------------------------ */

int fy_digests_init(struct fy_digests *d, struct fy_loop *loop, struct fy_log *log, size_t max)
{
    *d = (struct fy_digests){.loop = loop, .log = log, .max = max ? max : 1, .done_io = {.fd = -1}};
    d->nbuckets = 16;
    while (d->nbuckets < d->max)
        d->nbuckets *= 2;
    d->buckets = calloc(d->nbuckets, sizeof *d->buckets);
    if (!d->buckets)
        return -ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    return 0;
}

static void free_jobs(struct fy_digest_job *j)
{
    while (j) {
        struct fy_digest_job *next = j->next;
        close(j->fd);
        free(j);
        j = next;
    }
}

void fy_digests_free(struct fy_digests *d)
{
    if (!d->buckets)
        return;
    if (d->started) {
        pthread_mutex_lock(&d->lock);
        atomic_store(&d->stop, true);
        pthread_cond_signal(&d->wake);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
        fy_loop_remove(d->loop, &d->done_io);
        close(d->done_io.fd);
    }
    free_jobs(d->todo_head);
    free_jobs(d->done);
    while (d->lru_head)
        remove_entry(d, d->lru_head);
    free(d->buckets);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    *d = (struct fy_digests){.done_io = {.fd = -1}};
}

void fy_digests_stats(const struct fy_digests *d, struct fy_digest_stats *out)
{
    *out = d->stats;
    out->entries = (unsigned)d->count;
    out->pending = d->pending;
}
