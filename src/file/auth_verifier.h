/* Password checks off the event loop.
 *
 * A check is crypt(3) of the password with the stored hash's settings:
 * deliberately slow (bcrypt cost 5: 2.3 ms of CPU on this project's test
 * machine, cost 10: 67 ms; SHA-512-crypt 2.1 ms; yescrypt 17 ms).  Done on
 * the loop, every other client of the process would wait that long per
 * check, and a flood of wrong passwords would stop the server.  So one
 * thread per serving process does them, one at a time, and tells the loop
 * through an eventfd, like an asynchronous disk backend does; a request
 * waits the way it waits for an off-loop file lookup (FY_HANDLER_WAIT).
 * The thread runs at a lower priority (nice 10) than the loop.
 *
 * Bounded: at most max_jobs checks queued or running; beyond that a
 * submission is refused (the caller answers 503), so a flood costs a
 * bounded queue, never memory or the loop's time.  Requests that carry the
 * same credentials while a check of them runs wait for that one check.  A
 * queued check whose every requester went away is dropped unrun. */
#ifndef FY_AUTH_VERIFIER_H
#define FY_AUTH_VERIFIER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/sha256.h"
#include "event/loop.h"
#include "http/http_parse.h"

struct fy_verify_job;

/* Embedded in the requester.  done() is called from the loop with the
 * verdict; job is non-NULL while it waits. */
struct fy_verify_wait {
    void (*done)(struct fy_verify_wait *w, bool ok);
    struct fy_verify_job *job;
    struct fy_verify_wait *next; /* the job's other requesters */
};

struct fy_verifier {
    struct fy_io io;             /* the eventfd the thread signals */
    struct fy_loop *loop;
    unsigned max_jobs;
    /* Told of every check done (even when nobody waits for it any more),
     * on the loop, before its requesters: the credential cache's chance to
     * keep a right one. */
    void (*finished)(struct fy_verifier *v, const unsigned char key[FY_SHA256_LEN], const void *tag, bool ok);

    /* The loop's own. */
    struct fy_verify_job *inflight; /* every job submitted and not yet announced */
    unsigned njobs;

    /* Shared with the thread, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct fy_verify_job *queue, *queue_tail; /* waiting for the thread */
    struct fy_verify_job *done_list;          /* checked, to be announced */
    bool stop;

    pthread_t thread;
    bool started;
    struct crypt_data *scratch;  /* the thread's crypt_rn() state (32 KiB) */
};

/* Starts the thread and registers the eventfd with loop.  Returns 0, or
 * -1 with a message in err. */
int  fy_verifier_init(struct fy_verifier *v, struct fy_loop *loop, unsigned max_jobs, char *err, size_t errlen);
/* Stops the thread (the check it runs finishes first) and frees the jobs. */
void fy_verifier_close(struct fy_verifier *v);

/* Starts checking password against hash (both copied... the hash must
 * outlive the check), or joins the check in flight with the same key.
 * fail: the answer is no whatever the password (a check run only to take
 * the time a real one would).  tag goes to finished().  Returns 0 (w->done
 * will be called), or -1 when max_jobs are in flight or memory ran out. */
int  fy_verifier_submit(struct fy_verifier *v, struct fy_verify_wait *w, const unsigned char key[FY_SHA256_LEN],
                        const char *hash, struct fy_str password, bool fail, const void *tag);

/* The requester goes away: done() will not be called. */
void fy_verifier_cancel(struct fy_verifier *v, struct fy_verify_wait *w);

#endif
