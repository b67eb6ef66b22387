/* The event loop: one epoll set, edge-triggered, plus timer queues and a
 * "deferred" list for work that yielded its turn.
 *
 * Anything that owns a file descriptor embeds a struct fy_io and registers it;
 * epoll hands the struct back and the loop calls its handler.  An asynchronous
 * disk backend plugs in the same way: its completion eventfd (or ring fd) is
 * just another fy_io whose handler reaps completions and wakes connections.
 *
 * Sending shares one budget per turn (fy_loop_allowance): a response that
 * goes on from an earlier turn takes its bytes from it, and one that finds
 * it spent, or others waiting before it, defers itself (a response's first
 * bytes go at once, bounded by the requests that came).  The deferred run
 * stops when the budget is spent and goes on in the same order next turn.
 * So a turn stays short however many downloads run, a new request waits
 * for at most one such turn, and the downloads take their turns in a ring.
 *
 * Timers come in queues of one fixed duration (header timeout, keep-alive
 * timeout, ...).  Re-arming moves a timer to the tail, so each queue stays
 * sorted by deadline and every operation is O(1): no heap, no allocation. */
#ifndef FY_LOOP_H
#define FY_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct fy_loop;
struct fy_io;

typedef void fy_io_handler(struct fy_io *io, uint32_t events);

struct fy_io {
    int fd;
    fy_io_handler *handler;
    struct fy_io *deferred_next; /* on the loop's deferred list when queued */
    bool deferred;
};

struct fy_timer;
typedef void fy_timer_handler(struct fy_timer *t);

struct fy_timer {
    struct fy_timer *prev, *next;
    struct fy_timer_queue *queue; /* NULL when not armed */
    int64_t deadline_ms;
    fy_timer_handler *handler;
};

struct fy_timer_queue {
    struct fy_timer *head, *tail;
    int64_t duration_ms;
    struct fy_timer_queue *next_queue; /* the loop's list of queues */
};

struct fy_loop {
    int epfd;
    int64_t now_ms;          /* CLOCK_MONOTONIC, refreshed once per turn */
    bool stop;
    struct fy_timer_queue *queues;
    struct fy_io *deferred_head, *deferred_tail;
    /* The rest of the batch of deferred ios being run, detached from the
     * list above: fy_loop_undefer() unlinks from it too, so an io that an
     * earlier handler of the batch removed (and maybe freed) is neither
     * run nor followed.  Its tail: the run that stops for the budget puts
     * what is left before the list above at once. */
    struct fy_io *deferred_running, *deferred_running_tail;
    /* The events of the turn being dispatched: fy_loop_remove() clears an
     * io's pending ones, so a handler that frees an io (whose memory a new
     * connection may take at once) never sees a stale event for it. */
    struct epoll_event *batch;
    int batch_next, batch_len;
    bool running_deferred;   /* the turn's I/O events are done */
    size_t turn_budget;      /* bytes a turn may send (0: no bound) */
    size_t turn_left;        /* what this turn has left of it */
};

int  fy_loop_init(struct fy_loop *loop);
void fy_loop_close(struct fy_loop *loop);

/* Registers io->fd edge-triggered for `events` (EPOLLIN, EPOLLOUT, ...). */
int  fy_loop_add(struct fy_loop *loop, struct fy_io *io, uint32_t events);
int  fy_loop_modify(struct fy_loop *loop, struct fy_io *io, uint32_t events);
void fy_loop_remove(struct fy_loop *loop, struct fy_io *io);

/* Calls io's handler with events == 0 at the start of the next turn, after
 * the turn's I/O events.  Used by work that stopped only to be fair. */
void fy_loop_defer(struct fy_loop *loop, struct fy_io *io);
void fy_loop_undefer(struct fy_loop *loop, struct fy_io *io);

/* The bytes a sender going on from an earlier turn may move now: up to
 * want, 0 when the turn's budget is spent or when deferred ios wait their
 * turn before it (then it defers itself).  fy_loop_spend() takes what it
 * moved. */
size_t fy_loop_allowance(const struct fy_loop *loop, size_t want);
void fy_loop_spend(struct fy_loop *loop, size_t bytes);

void fy_timer_queue_init(struct fy_loop *loop, struct fy_timer_queue *q, int64_t duration_ms);
/* Unlinks an (empty) queue whose memory is about to go. */
void fy_timer_queue_remove(struct fy_loop *loop, struct fy_timer_queue *q);
void fy_timer_arm(struct fy_loop *loop, struct fy_timer_queue *q, struct fy_timer *t);
void fy_timer_disarm(struct fy_timer *t);
static inline bool fy_timer_armed(const struct fy_timer *t) { return t->queue != 0; }

/* Runs until fy_loop_stop(); returns 0, or -errno if epoll_wait fails. */
int  fy_loop_run(struct fy_loop *loop);

/* One turn of fy_loop_run: waits for events as long as the timers allow,
 * but at most max_wait_ms (-1: no cap of its own; 0: only what is ready
 * now), dispatches them, runs the deferred ios, expires the timers.
 * Returns the number of I/O events dispatched, or -errno if epoll_wait
 * fails.  For tests and harnesses that step a server (tests/fuzz/fuzz_h2.c);
 * it ignores fy_loop_stop(). */
int  fy_loop_turn(struct fy_loop *loop, int max_wait_ms);
static inline void fy_loop_stop(struct fy_loop *loop) { loop->stop = true; }

int64_t fy_clock_ms(void);

#endif
