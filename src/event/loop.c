/* The event loop; see loop.h for the model. */
#include "event/loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 256

int64_t fy_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fy_loop_init(struct fy_loop *loop)
{
    *loop = (struct fy_loop){0};
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    loop->now_ms = fy_clock_ms();
    return 0;
}

void fy_loop_close(struct fy_loop *loop)
{
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
}

static int loop_ctl(struct fy_loop *loop, int op, struct fy_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLET, .data.ptr = io};
    return epoll_ctl(loop->epfd, op, io->fd, &ev) < 0 ? -errno : 0;
}

int fy_loop_add(struct fy_loop *loop, struct fy_io *io, uint32_t events)
{
    return loop_ctl(loop, EPOLL_CTL_ADD, io, events);
}

int fy_loop_modify(struct fy_loop *loop, struct fy_io *io, uint32_t events)
{
    return loop_ctl(loop, EPOLL_CTL_MOD, io, events);
}

void fy_loop_remove(struct fy_loop *loop, struct fy_io *io)
{
    fy_loop_undefer(loop, io);
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    for (int i = loop->batch_next; i < loop->batch_len; i++)
        if (loop->batch[i].data.ptr == io)
            loop->batch[i].data.ptr = NULL;
}

void fy_loop_defer(struct fy_loop *loop, struct fy_io *io)
{
    if (io->deferred)
        return;
    io->deferred = true;
    io->deferred_next = NULL;
    if (loop->deferred_tail)
        loop->deferred_tail->deferred_next = io;
    else
        loop->deferred_head = io;
    loop->deferred_tail = io;
}

/* Unlinks io from the list at *head (tail: its tail pointer, or NULL);
 * false when io is not on it. */
static bool deferred_unlink(struct fy_io **head, struct fy_io **tail, struct fy_io *io)
{
    struct fy_io **link = head, *prev = NULL;
    while (*link && *link != io) {
        prev = *link;
        link = &(*link)->deferred_next;
    }
    if (!*link)
        return false;
    *link = io->deferred_next;
    if (tail && *tail == io)
        *tail = prev;
    return true;
}

void fy_loop_undefer(struct fy_loop *loop, struct fy_io *io)
{
    if (!io->deferred)
        return;
    /* Deferred before this turn and not run yet, or for the next turn. */
    if (!deferred_unlink(&loop->deferred_running, &loop->deferred_running_tail, io))
        deferred_unlink(&loop->deferred_head, &loop->deferred_tail, io);
    io->deferred = false;
    io->deferred_next = NULL;
}

size_t fy_loop_allowance(const struct fy_loop *loop, size_t want)
{
    if (!loop->running_deferred && loop->deferred_head)
        return 0;
    if (loop->turn_budget && want > loop->turn_left)
        return loop->turn_left;
    return want;
}

void fy_loop_spend(struct fy_loop *loop, size_t bytes)
{
    loop->turn_left = bytes < loop->turn_left ? loop->turn_left - bytes : 0;
}

static bool loop_budget_spent(const struct fy_loop *loop)
{
    return loop->turn_budget && loop->turn_left == 0;
}

/* The deferred ios not run this turn go first in the next, in their order. */
static void loop_keep_running_for_next_turn(struct fy_loop *loop)
{
    loop->deferred_running_tail->deferred_next = loop->deferred_head;
    if (!loop->deferred_head)
        loop->deferred_tail = loop->deferred_running_tail;
    loop->deferred_head = loop->deferred_running;
    loop->deferred_running = loop->deferred_running_tail = NULL;
}

/* Runs the ios deferred before this turn's end while the turn's budget
 * lasts; those they defer again wait for the next turn, so a busy
 * connection cannot monopolise one.  The next io is read from the loop
 * after each handler, which may have undeferred it. */
static void loop_run_deferred(struct fy_loop *loop)
{
    loop->deferred_running = loop->deferred_head;
    loop->deferred_running_tail = loop->deferred_tail;
    loop->deferred_head = loop->deferred_tail = NULL;
    loop->running_deferred = true;
    struct fy_io *io;
    while ((io = loop->deferred_running)) {
        if (loop_budget_spent(loop)) {
            loop_keep_running_for_next_turn(loop);
            break;
        }
        loop->deferred_running = io->deferred_next;
        if (!loop->deferred_running)
            loop->deferred_running_tail = NULL;
        io->deferred = false;
        io->deferred_next = NULL;
        io->handler(io, 0);
    }
    loop->running_deferred = false;
}

void fy_timer_queue_init(struct fy_loop *loop, struct fy_timer_queue *q, int64_t duration_ms)
{
    *q = (struct fy_timer_queue){.duration_ms = duration_ms, .next_queue = loop->queues};
    loop->queues = q;
}

void fy_timer_queue_remove(struct fy_loop *loop, struct fy_timer_queue *q)
{
    struct fy_timer_queue **link = &loop->queues;
    while (*link && *link != q)
        link = &(*link)->next_queue;
    if (*link)
        *link = q->next_queue;
}

void fy_timer_disarm(struct fy_timer *t)
{
    struct fy_timer_queue *q = t->queue;
    if (!q)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        q->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        q->tail = t->prev;
    t->prev = t->next = NULL;
    t->queue = NULL;
}

void fy_timer_arm(struct fy_loop *loop, struct fy_timer_queue *q, struct fy_timer *t)
{
    fy_timer_disarm(t);
    t->deadline_ms = loop->now_ms + q->duration_ms;
    t->queue = q;
    t->prev = q->tail;
    t->next = NULL;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

static void loop_expire_timers(struct fy_loop *loop)
{
    for (struct fy_timer_queue *q = loop->queues; q; q = q->next_queue) {
        while (q->head && q->head->deadline_ms <= loop->now_ms) {
            struct fy_timer *t = q->head;
            fy_timer_disarm(t);
            t->handler(t);
        }
    }
}

/* How long epoll may sleep: until the earliest deadline, not at all when
 * deferred work waits, forever when nothing is armed. */
static int loop_wait_ms(const struct fy_loop *loop)
{
    if (loop->deferred_head)
        return 0;
    int64_t earliest = -1;
    for (const struct fy_timer_queue *q = loop->queues; q; q = q->next_queue)
        if (q->head && (earliest < 0 || q->head->deadline_ms < earliest))
            earliest = q->head->deadline_ms;
    if (earliest < 0)
        return -1;
    int64_t wait = earliest - loop->now_ms;
    return wait <= 0 ? 0 : wait > 60000 ? 60000 : (int)wait;
}

int fy_loop_turn(struct fy_loop *loop, int max_wait_ms)
{
    struct epoll_event events[LOOP_MAX_EVENTS];
    int wait = loop_wait_ms(loop);
    if (max_wait_ms >= 0 && (wait < 0 || wait > max_wait_ms))
        wait = max_wait_ms;
    int n = epoll_wait(loop->epfd, events, LOOP_MAX_EVENTS, wait);
    if (n < 0 && errno != EINTR)
        return -errno;
    loop->now_ms = fy_clock_ms();
    loop->turn_left = loop->turn_budget;
    loop->batch = events;
    loop->batch_len = n > 0 ? n : 0;
    for (loop->batch_next = 0; loop->batch_next < loop->batch_len;) {
        struct epoll_event *ev = &events[loop->batch_next++];
        struct fy_io *io = ev->data.ptr;
        if (io) /* NULL: removed by an earlier handler of this turn */
            io->handler(io, ev->events);
    }
    loop->batch_len = 0;
    loop->batch = NULL;
    loop_run_deferred(loop);
    loop_expire_timers(loop);
    return n > 0 ? n : 0;
}

int fy_loop_run(struct fy_loop *loop)
{
    while (!loop->stop) {
        int rc = fy_loop_turn(loop, -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}
