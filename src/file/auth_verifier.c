/* Password checks off the loop; see auth_verifier.h. */
#include "file/auth_verifier.h"

#include <crypt.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/const_time.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct fy_verify_job {
    /* The loop's. */
    struct fy_verify_job *inflight_next, **inflight_prev;
    struct fy_verify_wait *waiters;
    unsigned char key[FY_SHA256_LEN];
    const void *tag;
    /* Handed over under the lock: the queue, then the done list. */
    struct fy_verify_job *next;
    bool queued;                 /* in the queue (not yet taken by the thread) */
    bool ok;                     /* the thread's verdict, set before it lists the job as done */
    /* The thread reads these while it checks. */
    const char *hash;
    bool fail;
    size_t password_len;
    char password[];             /* NUL-terminated; wiped once checked */
};

/* --- the thread ------------------------------------------------------------ */

static bool check(struct crypt_data *scratch, const struct fy_verify_job *j)
{
    const char *out = crypt_rn(j->password, j->hash, scratch, sizeof *scratch);
    size_t n = strlen(j->hash);
    /* crypt_rn() answers NULL or a short "*0"-like string on failure; the
     * hash's length is no secret (it is fixed by its kind). */
    bool same = out && strlen(out) == n && fy_const_time_equal(out, j->hash, n);
    return same && !j->fail;
}

static struct fy_verify_job *take(struct fy_verifier *v)
{
    pthread_mutex_lock(&v->lock);
    while (!v->queue && !v->stop)
        pthread_cond_wait(&v->wake, &v->lock);
    struct fy_verify_job *j = v->stop ? NULL : v->queue;
    if (j) {
        v->queue = j->next;
        if (!v->queue)
            v->queue_tail = NULL;
        j->queued = false;
    }
    pthread_mutex_unlock(&v->lock);
    return j;
}

/* The thread's nice value, above the loop's 0: when the CPUs are short
 * (a flood of guesses on every worker), serving files goes first and the
 * checks take the time left.  Measured on the 2-core test machine, a flood
 * of wrong passwords (bcrypt cost 10, 40 clients) against 2 workers cut the
 * static requests of wrk -c20 from 65-104k/s to 39-58k/s at equal priority,
 * to 50-107k/s at this one (3 runs each; a shared, noisy machine). */
#define VERIFIER_NICE 10

static void *verifier_main(void *arg)
{
    struct fy_verifier *v = arg;
    struct fy_verify_job *j;
    /* Linux: a thread's own nice value; raising it needs no privilege.
     * Should it fail, the checks merely compete as equals. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), VERIFIER_NICE);
    while ((j = take(v))) {
        bool ok = check(v->scratch, j);
        explicit_bzero(j->password, j->password_len);
        explicit_bzero(v->scratch, sizeof *v->scratch); /* holds state derived from the password */
        pthread_mutex_lock(&v->lock);
        j->ok = ok;
        j->next = v->done_list;
        v->done_list = j;
        pthread_mutex_unlock(&v->lock);
        uint64_t one = 1;
        ssize_t n = write(v->io.fd, &one, sizeof one); /* only fails when the counter is full: it is read */
        (void)n;
    }
    return NULL;
}

/* --- the loop --------------------------------------------------------------- */

static void inflight_unlink(struct fy_verifier *v, struct fy_verify_job *j)
{
    *j->inflight_prev = j->inflight_next;
    if (j->inflight_next)
        j->inflight_next->inflight_prev = j->inflight_prev;
    v->njobs--;
}

static void job_free(struct fy_verify_job *j)
{
    explicit_bzero(j->password, j->password_len);
    free(j);
}

/* Announces one finished job: the cache first, then every requester, each
 * taken off the list before it is told (telling one may close another,
 * which then cancels itself from what is left of the list). */
static void announce(struct fy_verifier *v, struct fy_verify_job *j)
{
    inflight_unlink(v, j);
    if (v->finished)
        v->finished(v, j->key, j->tag, j->ok);
    struct fy_verify_wait *w;
    while ((w = j->waiters)) {
        j->waiters = w->next;
        w->job = NULL;
        w->next = NULL;
        w->done(w, j->ok);
    }
    job_free(j);
}

static void on_done(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct fy_verifier *v = container_of(io, struct fy_verifier, io);
    uint64_t count;
    ssize_t n = read(io->fd, &count, sizeof count); /* resets it; EAGAIN: nothing new */
    (void)n;
    pthread_mutex_lock(&v->lock);
    struct fy_verify_job *list = v->done_list;
    v->done_list = NULL;
    pthread_mutex_unlock(&v->lock);
    while (list) {
        struct fy_verify_job *j = list;
        list = j->next;
        announce(v, j);
    }
}

/* The thread takes no signal: they are the loop's (a signalfd), and one
 * delivered to the thread would be handled by default — SIGTERM would kill
 * the process without its graceful stop. */
static int start_thread(struct fy_verifier *v)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&v->thread, NULL, verifier_main, v);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int fy_verifier_init(struct fy_verifier *v, struct fy_loop *loop, unsigned max_jobs, char *err, size_t errlen)
{
    *v = (struct fy_verifier){.io = {.fd = -1, .handler = on_done}, .loop = loop, .max_jobs = max_jobs};
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->wake, NULL);
    v->scratch = calloc(1, sizeof *v->scratch);
    v->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = !v->scratch ? ENOMEM : v->io.fd < 0 ? errno : -fy_loop_add(loop, &v->io, EPOLLIN);
    if (rc == 0)
        rc = start_thread(v);
    if (rc) {
        snprintf(err, errlen, "auth-basic: cannot start the password checker: %s", strerror(rc));
        fy_verifier_close(v);
        return -1;
    }
    v->started = true;
    return 0;
}

void fy_verifier_close(struct fy_verifier *v)
{
    if (v->started) {
        pthread_mutex_lock(&v->lock);
        v->stop = true;
        pthread_cond_signal(&v->wake);
        pthread_mutex_unlock(&v->lock);
        pthread_join(v->thread, NULL);
        v->started = false;
    }
    /* The thread is gone: every job is the loop's, on the in-flight list. */
    while (v->inflight) {
        struct fy_verify_job *j = v->inflight;
        for (struct fy_verify_wait *w = j->waiters; w; w = w->next)
            w->job = NULL;
        inflight_unlink(v, j);
        job_free(j);
    }
    v->queue = v->queue_tail = v->done_list = NULL;
    if (v->io.fd >= 0) {
        fy_loop_remove(v->loop, &v->io);
        close(v->io.fd);
        v->io.fd = -1;
    }
    free(v->scratch);
    v->scratch = NULL;
    pthread_cond_destroy(&v->wake);
    pthread_mutex_destroy(&v->lock);
}

static struct fy_verify_job *find_inflight(struct fy_verifier *v, const unsigned char key[FY_SHA256_LEN])
{
    for (struct fy_verify_job *j = v->inflight; j; j = j->inflight_next)
        if (fy_const_time_equal(j->key, key, FY_SHA256_LEN))
            return j;
    return NULL;
}

static void wait_on(struct fy_verify_job *j, struct fy_verify_wait *w)
{
    w->job = j;
    w->next = j->waiters;
    j->waiters = w;
}

int fy_verifier_submit(struct fy_verifier *v, struct fy_verify_wait *w, const unsigned char key[FY_SHA256_LEN],
                       const char *hash, struct fy_str password, bool fail, const void *tag)
{
    struct fy_verify_job *j = find_inflight(v, key);
    if (j) {
        wait_on(j, w);
        return 0;
    }
    if (!v->started || v->njobs >= v->max_jobs)
        return -1;
    j = malloc(sizeof *j + password.len + 1);
    if (!j)
        return -1;
    *j = (struct fy_verify_job){.tag = tag, .hash = hash, .fail = fail, .password_len = password.len,
                                .queued = true};
    memcpy(j->key, key, FY_SHA256_LEN);
    memcpy(j->password, password.p, password.len);
    j->password[password.len] = '\0';
    j->inflight_next = v->inflight;
    j->inflight_prev = &v->inflight;
    if (v->inflight)
        v->inflight->inflight_prev = &j->inflight_next;
    v->inflight = j;
    v->njobs++;
    wait_on(j, w);
    pthread_mutex_lock(&v->lock);
    if (v->queue_tail)
        v->queue_tail->next = j;
    else
        v->queue = j;
    v->queue_tail = j;
    pthread_cond_signal(&v->wake);
    pthread_mutex_unlock(&v->lock);
    return 0;
}

/* Takes a job nobody waits for out of the queue, if the thread has not
 * started it yet.  Returns whether it did. */
static bool unqueue(struct fy_verifier *v, struct fy_verify_job *j)
{
    bool removed = false;
    pthread_mutex_lock(&v->lock);
    if (j->queued) {
        struct fy_verify_job **p = &v->queue, *prev = NULL;
        while (*p != j)
            prev = *p, p = &(*p)->next;
        *p = j->next;
        if (v->queue_tail == j)
            v->queue_tail = prev;
        removed = true;
    }
    pthread_mutex_unlock(&v->lock);
    return removed;
}

void fy_verifier_cancel(struct fy_verifier *v, struct fy_verify_wait *w)
{
    struct fy_verify_job *j = w->job;
    if (!j)
        return;
    struct fy_verify_wait **p = &j->waiters;
    while (*p && *p != w)
        p = &(*p)->next;
    if (*p)
        *p = w->next;
    w->job = NULL;
    w->next = NULL;
    if (!j->waiters && unqueue(v, j)) {
        inflight_unlink(v, j);
        job_free(j);
    }
}
