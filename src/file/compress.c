/* The compressor: the worker's table of copies, and its helper thread;
 * see compress.h.
 *
 * Loop and thread share only two lists, under one mutex that neither
 * holds while doing anything slow: jobs to do, and jobs done.  The loop
 * owns the table; the thread owns the directory. */
#include "file/compress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/server.h"
#include "file/compress_cache.h"
#include "file/encoder.h"
#include "file/respond.h"
#include "http/accept_encoding.h"
#include "request/exchange.h"

#define TABLE_MAX 1024          /* copies (and jobs) the table remembers */
#define BUCKETS 2048
#define QUEUE_MAX 64            /* jobs waiting: beyond, files go plain untracked */
#define TOUCH_EVERY_MS 10000    /* how often a copy in use is marked used on disk */
#define THREAD_NICE 10          /* compressing yields to serving */

enum job_kind { JOB_MAKE, JOB_TOUCH };

struct job {
    struct job *next;
    enum job_kind kind;
    struct fy_zkey key;
    int plain_fd;               /* MAKE: a dup of the file; the thread closes it */
    int result;                 /* >= 0: a descriptor of the copy; else FY_ZCACHE_* or -1 */
    bool made;                  /* the thread compressed it (not found ready) */
    struct stat st;
    char err[200];
};

enum state {
    QUEUED,                     /* a job is on its way */
    READY,                      /* the copy is open in fd */
    SKIP,                       /* not worth it, or failed: the file goes plain */
    ELSEWHERE,                  /* another process makes it: ask again at retry_ms */
};

#define ELSEWHERE_RETRY_MS 500

struct entry {
    struct fy_zkey key;
    enum state state;
    int fd;                     /* READY: the copy, O_RDONLY */
    struct stat st;
    int64_t touched_ms;
    int64_t retry_ms;           /* ELSEWHERE: when to look again */
    struct entry *hnext;        /* hash chain */
    struct entry *prev, *next;  /* least recently used order, most recent first */
};

struct fy_compressor {
    struct fy_io io;            /* the eventfd the thread rings when jobs are done */
    struct fy_loop *loop;
    struct fy_log *log;
    struct fy_stats_slot *slot;
    int dirfd;
    uint64_t max_bytes;         /* compress-cache-size */
    uint64_t max_file;          /* larger files are not compressed */

    struct entry *buckets[BUCKETS];
    struct entry *lru_head, *lru_tail;
    unsigned nentries;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *todo_head, *todo_tail;
    unsigned ntodo;
    struct job *done;
    atomic_bool stop;
    pthread_t thread;
    bool thread_started;
};

/* --- the table ------------------------------------------------------------- */

static bool same_key(const struct fy_zkey *a, const struct fy_zkey *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
           a->coding == b->coding;
}

static unsigned bucket_of(const struct fy_zkey *k)
{
    uint64_t h = k->ino * 0x9e3779b97f4a7c15ull ^ k->mtime_ns ^ (k->size << 7) ^ k->dev ^ (uint64_t)k->coding << 3;
    h ^= h >> 29;
    return (unsigned)(h % BUCKETS);
}

static struct entry *find(struct fy_compressor *z, const struct fy_zkey *k)
{
    for (struct entry *e = z->buckets[bucket_of(k)]; e; e = e->hnext)
        if (same_key(&e->key, k))
            return e;
    return NULL;
}

static void lru_unlink(struct fy_compressor *z, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        z->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        z->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(struct fy_compressor *z, struct entry *e)
{
    if (z->lru_head == e)
        return;
    if (e->prev || e->next || z->lru_tail == e)
        lru_unlink(z, e);
    e->next = z->lru_head;
    if (z->lru_head)
        z->lru_head->prev = e;
    z->lru_head = e;
    if (!z->lru_tail)
        z->lru_tail = e;
}

static void forget(struct fy_compressor *z, struct entry *e)
{
    struct entry **p = &z->buckets[bucket_of(&e->key)];
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    lru_unlink(z, e);
    if (e->fd >= 0)
        close(e->fd);
    free(e);
    z->nentries--;
}

/* A new entry for k, the least recently used one going when the table is
 * full.  NULL when out of memory. */
static struct entry *remember(struct fy_compressor *z, const struct fy_zkey *k, enum state state)
{
    if (z->nentries >= TABLE_MAX && z->lru_tail)
        forget(z, z->lru_tail);
    struct entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    *e = (struct entry){.key = *k, .state = state, .fd = -1, .touched_ms = z->loop->now_ms};
    unsigned b = bucket_of(k);
    e->hnext = z->buckets[b];
    z->buckets[b] = e;
    lru_front(z, e);
    z->nentries++;
    return e;
}

/* --- jobs ------------------------------------------------------------------ */

static void free_job(struct job *j)
{
    if (j->plain_fd >= 0)
        close(j->plain_fd);
    if (j->result >= 0)
        close(j->result);
    free(j);
}

static void free_jobs(struct job *list)
{
    while (list) {
        struct job *j = list;
        list = j->next;
        free_job(j);
    }
}

/* Hands a job to the thread; false when the queue is full. */
static bool submit(struct fy_compressor *z, struct job *j)
{
    pthread_mutex_lock(&z->mu);
    bool room = z->ntodo < QUEUE_MAX;
    if (room) {
        if (z->todo_tail)
            z->todo_tail->next = j;
        else
            z->todo_head = j;
        z->todo_tail = j;
        z->ntodo++;
        pthread_cond_signal(&z->cv);
    }
    pthread_mutex_unlock(&z->mu);
    return room;
}

static struct job *new_job(enum job_kind kind, const struct fy_zkey *k)
{
    struct job *j = calloc(1, sizeof *j);
    if (j)
        *j = (struct job){.kind = kind, .key = *k, .plain_fd = -1, .result = -1};
    return j;
}

/* Queues the making of k's copy from plain_fd; its entry e (made when
 * NULL) says QUEUED. */
static void queue_make(struct fy_compressor *z, const struct fy_zkey *k, int plain_fd, struct entry *e)
{
    struct job *j = new_job(JOB_MAKE, k);
    if (!j)
        return;
    j->plain_fd = fcntl(plain_fd, F_DUPFD_CLOEXEC, 0);
    if (j->plain_fd < 0 || !submit(z, j)) {
        free_job(j);
        return;
    }
    if (e)
        e->state = QUEUED;
    else
        remember(z, k, QUEUED);
}

static void queue_touch(struct fy_compressor *z, struct entry *e)
{
    if (z->loop->now_ms - e->touched_ms < TOUCH_EVERY_MS)
        return;
    e->touched_ms = z->loop->now_ms;
    struct job *j = new_job(JOB_TOUCH, &e->key);
    if (j && !submit(z, j))
        free_job(j);
}

/* --- the thread ------------------------------------------------------------ */

static void make_copy(struct fy_compressor *z, struct job *j)
{
    j->result = fy_zcache_open(z->dirfd, &j->key, &j->st);
    if (j->result >= 0)
        return;
    j->result = fy_zcache_make(z->dirfd, &j->key, j->plain_fd, &z->stop, &j->st, j->err, sizeof j->err);
    j->made = j->result >= 0;
    if (j->made)
        fy_zcache_trim(z->dirfd, z->max_bytes);
}

static void *thread_main(void *arg)
{
    struct fy_compressor *z = arg;
    setpriority(PRIO_PROCESS, (id_t)gettid(), THREAD_NICE); /* this thread only, on Linux */
    fy_zcache_trim(z->dirfd, z->max_bytes); /* and what an earlier run left half-written */
    pthread_mutex_lock(&z->mu);
    for (;;) {
        while (!z->todo_head && !atomic_load(&z->stop))
            pthread_cond_wait(&z->cv, &z->mu);
        if (atomic_load(&z->stop))
            break;
        struct job *j = z->todo_head;
        z->todo_head = j->next;
        if (!z->todo_head)
            z->todo_tail = NULL;
        z->ntodo--;
        pthread_mutex_unlock(&z->mu);
        if (j->kind == JOB_TOUCH) {
            fy_zcache_touch(z->dirfd, &j->key);
            free_job(j);
            pthread_mutex_lock(&z->mu);
            continue;
        }
        make_copy(z, j);
        close(j->plain_fd);
        j->plain_fd = -1;
        pthread_mutex_lock(&z->mu);
        j->next = z->done;
        z->done = j;
        uint64_t one = 1;
        if (write(z->io.fd, &one, sizeof one) < 0) {
            /* the counter is far from full: cannot happen */
        }
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

/* --- back on the loop ------------------------------------------------------ */

static void apply(struct fy_compressor *z, struct job *j)
{
    struct entry *e = find(z, &j->key);
    if (j->result == FY_ZCACHE_STALE) {
        if (e)
            forget(z, e);
        return;
    }
    if (!e && !(e = remember(z, &j->key, QUEUED)))
        return;
    if (j->result >= 0) {
        if (e->fd >= 0)
            close(e->fd);
        e->state = READY;
        e->fd = j->result;
        e->st = j->st;
        j->result = -1;
        if (j->made)
            fy_stats_add(z->slot, FY_C_COMPRESSIONS, 1);
        return;
    }
    if (j->result == FY_ZCACHE_BUSY) {
        e->state = ELSEWHERE;
        e->retry_ms = z->loop->now_ms + ELSEWHERE_RETRY_MS;
        return;
    }
    e->state = SKIP;
    if (j->result == -1 && strcmp(j->err, "stopped") != 0)
        fy_log(z->log, FY_LOG_WARN, "compress: %s", j->err);
}

static void on_done(struct fy_io *io, uint32_t events)
{
    struct fy_compressor *z = (struct fy_compressor *)io;
    uint64_t n;
    (void)events;
    if (read(z->io.fd, &n, sizeof n) < 0 && errno != EAGAIN) {
        /* nothing to do: the list below is what counts */
    }
    pthread_mutex_lock(&z->mu);
    struct job *list = z->done;
    z->done = NULL;
    pthread_mutex_unlock(&z->mu);
    while (list) {
        struct job *j = list;
        list = j->next;
        apply(z, j);
        free_job(j);
    }
}

/* --- choosing -------------------------------------------------------------- */

bool fy_compress_type_matches(const char *list, const char *content_type)
{
    size_t tlen = strcspn(content_type, "; \t");
    const char *slash = memchr(content_type, '/', tlen);
    if (!slash)
        return false;
    size_t major = (size_t)(slash - content_type) + 1; /* "text/" */
    for (const char *w = list ? list : FY_COMPRESS_TYPES; *w;) {
        size_t n = strcspn(w, " ");
        bool any = n == major + 1 && w[n - 1] == '*';
        if ((any && strncasecmp(w, content_type, major) == 0) || (n == tlen && strncasecmp(w, content_type, n) == 0))
            return true;
        w += n;
        w += strspn(w, " ");
    }
    return false;
}

static bool compressible(const struct fy_compressor *z, const struct fy_file *f, const struct fy_path_settings *set)
{
    uint64_t size = (uint64_t)f->st.st_size;
    return size > 0 && size >= set->compress_min_size && size <= z->max_file &&
           fy_compress_type_matches(set->compress_types, f->content_type);
}

/* The codings of `packed` the client accepts, best q first, ties in the
 * configured order.  Returns how many. */
static size_t rank(unsigned packed, struct fy_field_lines accept, enum fy_coding out[FY_NCODINGS])
{
    unsigned q[FY_NCODINGS];
    size_t n = 0;
    for (size_t i = 0; i < FY_NCODINGS - 1 && FY_COMPRESS_CODING(packed, i); i++) {
        enum fy_coding c = (enum fy_coding)FY_COMPRESS_CODING(packed, i);
        unsigned qc = fy_accept_encoding_q(accept, fy_coding_name(c));
        if (qc == 0)
            continue;
        size_t at = n++;
        while (at > 0 && q[at - 1] < qc) { /* stable: equal q keeps the configured order */
            q[at] = q[at - 1];
            out[at] = out[at - 1];
            at--;
        }
        q[at] = qc;
        out[at] = c;
    }
    return n;
}

/* ex->file becomes the copy e holds. */
static bool serve_copy(struct fy_compressor *z, struct fy_exchange *ex, struct fy_file_request *x, struct entry *e)
{
    int fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const char *type = ex->file.content_type; /* the file's, not the coding's */
    fy_file_close(&ex->file);
    ex->file = (struct fy_file){.fd = fd, .st = e->st, .content_type = type};
    x->encoding = fy_coding_name(e->key.coding);
    fy_stats_add(z->slot, FY_C_COMPRESSED, 1);
    queue_touch(z, e);
    return true;
}

void fy_compress_choose(struct fy_compressor *z, struct fy_exchange *ex, struct fy_file_request *x)
{
    if (!z || !x->set.compress || !compressible(z, &ex->file, &x->set))
        return;
    x->vary = true;
    enum fy_coding order[FY_NCODINGS];
    size_t n = rank(x->set.compress, ex->req.accept_encoding, order);
    bool waiting = false;      /* a better copy is on its way */
    for (size_t i = 0; i < n; i++) {
        struct fy_zkey k = fy_zkey_of(&ex->file.st, order[i]);
        struct entry *e = find(z, &k);
        if (!e || (e->state == ELSEWHERE && z->loop->now_ms >= e->retry_ms)) {
            if (!waiting)
                queue_make(z, &k, ex->file.fd, e);
            waiting = true;
            continue;
        }
        lru_front(z, e);
        if (e->state == READY && serve_copy(z, ex, x, e))
            return;
        waiting |= e->state == QUEUED || e->state == ELSEWHERE;
    }
}

/* --- start and stop -------------------------------------------------------- */

bool fy_compress_wanted(const struct fy_config *cfg)
{
    for (unsigned i = 0; i < cfg->nrules; i++)
        if (cfg->rules[i].compress & ~FY_COMPRESS_SET)
            return true;
    return false;
}

static int open_dir(const struct fy_config *cfg, char *err, size_t errlen)
{
    char dir[sizeof cfg->compress_cache_dir + 32];
    if (cfg->compress_cache_dir[0])
        snprintf(dir, sizeof dir, "%s", cfg->compress_cache_dir);
    else
        snprintf(dir, sizeof dir, "%s/ferry-compress", cfg->aio_pool_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot make the cache directory %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
        snprintf(err, errlen, "cannot use the cache directory %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The thread takes no signals: the loop's signalfd gets them all. */
static int start_thread(struct fy_compressor *z)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&z->thread, NULL, thread_main, z);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    z->thread_started = rc == 0;
    return rc;
}

struct fy_compressor *fy_compressor_start(const struct fy_config *cfg, struct fy_loop *loop, struct fy_log *log,
                                          struct fy_stats_slot *slot, char *err, size_t errlen)
{
    err[0] = '\0';
    if (!fy_compress_wanted(cfg))
        return NULL;
    struct fy_compressor *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    z->io = (struct fy_io){.fd = -1, .handler = on_done};
    z->dirfd = -1;
    z->loop = loop;
    z->log = log;
    z->slot = slot;
    z->max_bytes = cfg->compress_cache_size;
    z->max_file = cfg->compress_cache_size / 4;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cv, NULL);
    z->dirfd = open_dir(cfg, err, errlen);
    if (z->dirfd < 0)
        goto fail;
    z->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = z->io.fd < 0 ? -errno : fy_loop_add(loop, &z->io, EPOLLIN);
    if (rc < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(-rc));
        goto fail;
    }
    rc = start_thread(z);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start its thread: %s", strerror(rc));
        goto fail;
    }
    return z;
fail:
    fy_compressor_stop(z);
    return NULL;
}

void fy_compressor_stop(struct fy_compressor *z)
{
    if (!z)
        return;
    if (z->thread_started) {
        pthread_mutex_lock(&z->mu);
        atomic_store(&z->stop, true);
        pthread_cond_broadcast(&z->cv);
        pthread_mutex_unlock(&z->mu);
        pthread_join(z->thread, NULL);
    }
    free_jobs(z->todo_head);
    free_jobs(z->done);
    while (z->lru_head)
        forget(z, z->lru_head);
    if (z->io.fd >= 0) {
        fy_loop_remove(z->loop, &z->io);
        close(z->io.fd);
    }
    if (z->dirfd >= 0)
        close(z->dirfd);
    pthread_mutex_destroy(&z->mu);
    pthread_cond_destroy(&z->cv);
    free(z);
}
