/* Unit tests of src/event/loop.c: an io removed by a handler gets no more
 * events from the turn being dispatched, even when its memory is reused at
 * once (a closed connection's struct taken by the next accepted one); the
 * same holds for the deferred ios of one batch. */
#include "check.h"

#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "event/loop.h"

struct probe {
    struct fy_io io;
    struct fy_loop *loop;
    struct probe *victim;  /* removed (and "reused") by this probe's handler */
    int calls;
};

static void on_event(struct fy_io *io, uint32_t events)
{
    struct probe *p = (struct probe *)io;
    (void)events;
    p->calls++;
    p->loop->stop = true;
    if (p->victim && p->victim->io.fd >= 0) {
        fy_loop_remove(p->loop, &p->victim->io);
        close(p->victim->io.fd);
        p->victim->io.fd = -1;
    }
}

static int ready_eventfd(void)
{
    int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC); /* readable from the start */
    return fd;
}

static void test_removed_io_gets_no_stale_event(void)
{
    struct fy_loop loop;
    CHECK_INT(fy_loop_init(&loop), 0);
    struct probe a = {.io = {.fd = ready_eventfd(), .handler = on_event}, .loop = &loop};
    struct probe b = {.io = {.fd = ready_eventfd(), .handler = on_event}, .loop = &loop};
    a.victim = &b; /* whichever runs first removes the other */
    b.victim = &a;
    CHECK_INT(fy_loop_add(&loop, &a.io, EPOLLIN), 0);
    CHECK_INT(fy_loop_add(&loop, &b.io, EPOLLIN), 0);
    CHECK_INT(fy_loop_run(&loop), 0);
    /* Both were ready in the same turn; only the first handler ran. */
    CHECK_INT(a.calls + b.calls, 1);
    if (a.io.fd >= 0)
        close(a.io.fd);
    if (b.io.fd >= 0)
        close(b.io.fd);
    fy_loop_close(&loop);
}

static void test_other_events_of_the_turn_still_run(void)
{
    struct fy_loop loop;
    CHECK_INT(fy_loop_init(&loop), 0);
    struct probe p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = (struct probe){.io = {.fd = ready_eventfd(), .handler = on_event}, .loop = &loop};
        CHECK_INT(fy_loop_add(&loop, &p[i].io, EPOLLIN), 0);
    }
    CHECK_INT(fy_loop_run(&loop), 0);
    CHECK_INT(p[0].calls + p[1].calls + p[2].calls, 3);
    for (int i = 0; i < 3; i++)
        close(p[i].io.fd);
    fy_loop_close(&loop);
}

/* A deferred io whose handler removes other deferred ios, as closing a
 * connection does (fy_loop_remove undefers it), and frees them. */
struct deferred_probe {
    struct fy_io io;
    struct fy_loop *loop;
    struct deferred_probe *victims[2];
    bool defer_again;            /* re-deferred before removing its victims */
    int *calls;                  /* outlives the probe */
};

static void on_deferred(struct fy_io *io, uint32_t events)
{
    struct deferred_probe *p = (struct deferred_probe *)io;
    (void)events;
    (*p->calls)++;
    p->loop->stop = true;
    if (p->defer_again)
        fy_loop_defer(p->loop, &p->io);
    for (int i = 0; i < 2; i++) {
        if (!p->victims[i])
            continue;
        fy_loop_remove(p->loop, &p->victims[i]->io);
        free(p->victims[i]);
        p->victims[i] = NULL;
    }
}

static struct deferred_probe *deferred_probe_new(struct fy_loop *loop, int *calls)
{
    struct deferred_probe *p = malloc(sizeof *p);
    *p = (struct deferred_probe){.io = {.fd = -1, .handler = on_deferred}, .loop = loop, .calls = calls};
    return p;
}

/* Four ios deferred in one batch; the first frees the second and the
 * fourth, so only the first and the third may run (under ASan a freed
 * one followed would also be reported).  With defer_again the first is on
 * the next batch's list while it removes them. */
static void deferred_batch_with_removal(bool defer_again)
{
    struct fy_loop loop;
    CHECK_INT(fy_loop_init(&loop), 0);
    int calls[4] = {0};
    struct deferred_probe *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = deferred_probe_new(&loop, &calls[i]);
    p[0]->victims[0] = p[1];
    p[0]->victims[1] = p[3];
    p[0]->defer_again = defer_again;
    for (int i = 0; i < 4; i++)
        fy_loop_defer(&loop, &p[i]->io);
    CHECK_INT(fy_loop_run(&loop), 0);
    CHECK_INT(calls[0], 1);
    CHECK_INT(calls[1], 0);
    CHECK_INT(calls[2], 1);
    CHECK_INT(calls[3], 0);
    /* Only the re-deferred first one waits for the next turn. */
    CHECK(loop.deferred_head == (defer_again ? &p[0]->io : NULL));
    CHECK(loop.deferred_tail == loop.deferred_head);
    fy_loop_undefer(&loop, &p[0]->io);
    CHECK(loop.deferred_head == NULL);
    free(p[0]);
    free(p[2]);
    fy_loop_close(&loop);
}

static void test_deferred_io_removed_by_its_batch_does_not_run(void)
{
    deferred_batch_with_removal(false);
}

static void test_deferred_io_removed_by_its_batch_after_a_redefer_does_not_run(void)
{
    deferred_batch_with_removal(true);
}

/* Undeferred and deferred again by an earlier handler of the batch: it
 * runs once, in the next turn, not in this one too. */
static void on_deferred_requeue(struct fy_io *io, uint32_t events)
{
    struct deferred_probe *p = (struct deferred_probe *)io;
    (void)events;
    (*p->calls)++;
    p->loop->stop = true;
    fy_loop_undefer(p->loop, &p->victims[0]->io);
    fy_loop_defer(p->loop, &p->victims[0]->io);
}

static void test_deferred_io_requeued_by_its_batch_waits_a_turn(void)
{
    struct fy_loop loop;
    CHECK_INT(fy_loop_init(&loop), 0);
    int calls[2] = {0};
    struct deferred_probe *a = deferred_probe_new(&loop, &calls[0]);
    struct deferred_probe *b = deferred_probe_new(&loop, &calls[1]);
    a->io.handler = on_deferred_requeue;
    a->victims[0] = b;
    fy_loop_defer(&loop, &a->io);
    fy_loop_defer(&loop, &b->io);
    CHECK_INT(fy_loop_run(&loop), 0);
    CHECK_INT(calls[0], 1);
    CHECK_INT(calls[1], 0);
    CHECK(loop.deferred_head == &b->io);
    loop.stop = false;
    CHECK_INT(fy_loop_run(&loop), 0);
    CHECK_INT(calls[1], 1);
    CHECK(loop.deferred_head == NULL);
    free(a);
    free(b);
    fy_loop_close(&loop);
}

/* fy_loop_turn: one turn at a time, waiting no longer than asked even
 * with no timer armed; the count of I/O events it dispatched; a timer
 * that is due expires in the turn. */
static int turn_timer_fired;

static void on_turn_timer(struct fy_timer *t)
{
    (void)t;
    turn_timer_fired++;
}

static void test_turn_runs_one_turn_within_its_wait(void)
{
    struct fy_loop loop;
    CHECK_INT(fy_loop_init(&loop), 0);
    /* Nothing registered, no timer: returns at once instead of sleeping forever. */
    int64_t t0 = fy_clock_ms();
    CHECK_INT(fy_loop_turn(&loop, 0), 0);
    CHECK_INT(fy_loop_turn(&loop, 20), 0);
    CHECK(fy_clock_ms() - t0 < 1000);

    struct probe a = {.io = {.fd = ready_eventfd(), .handler = on_event}, .loop = &loop};
    CHECK_INT(fy_loop_add(&loop, &a.io, EPOLLIN), 0);
    CHECK_INT(fy_loop_turn(&loop, 0), 1);
    CHECK_INT(a.calls, 1);
    CHECK_INT(fy_loop_turn(&loop, 0), 0); /* edge-triggered: no new event */
    CHECK_INT(a.calls, 1);

    struct fy_timer_queue q;
    struct fy_timer t = {.handler = on_turn_timer};
    fy_timer_queue_init(&loop, &q, 5);
    fy_timer_arm(&loop, &q, &t);
    CHECK_INT(fy_loop_turn(&loop, 0), 0); /* not due yet */
    CHECK_INT(turn_timer_fired, 0);
    for (int i = 0; i < 100 && !turn_timer_fired; i++)
        CHECK(fy_loop_turn(&loop, 1000) >= 0); /* sleeps until the deadline, not 1 s */
    CHECK_INT(turn_timer_fired, 1);
    CHECK(fy_clock_ms() - t0 < 1000);
    fy_timer_queue_remove(&loop, &q);
    fy_loop_remove(&loop, &a.io);
    close(a.io.fd);
    fy_loop_close(&loop);
}

/* The turn's sending budget: senders going on from earlier turns take
 * their bytes from it in the order they deferred; the run stops when it is
 * spent and the next turn goes on where it stopped, so none is passed over
 * for long. */
struct sender {
    struct fy_io io;
    struct fy_loop *loop;
    int id;
    int *order, *norder; /* who ran, in turn */
};

static void on_sender(struct fy_io *io, uint32_t events)
{
    struct sender *s = (struct sender *)io;
    (void)events;
    size_t n = fy_loop_allowance(s->loop, 60);
    if (n > 0)
        s->order[(*s->norder)++] = s->id;
    fy_loop_spend(s->loop, n);
    fy_loop_defer(s->loop, &s->io); /* always more to send */
}

static void test_turn_budget_shared_in_a_ring(void)
{
    struct fy_loop loop;
    CHECK_INT(fy_loop_init(&loop), 0);
    loop.turn_budget = 100;
    int order[16], norder = 0;
    struct sender s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct sender){.io = {.fd = -1, .handler = on_sender}, .loop = &loop, .id = i,
                               .order = order, .norder = &norder};
        fy_loop_defer(&loop, &s[i].io);
    }
    /* 60 + 40 spend the turn's 100: two run a turn, the others wait in
     * their order, and the ring goes round. */
    for (int turn = 0; turn < 4; turn++)
        CHECK_INT(fy_loop_turn(&loop, 0), 0);
    CHECK_INT(norder, 8);
    int want[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    for (int i = 0; i < 8; i++)
        CHECK_INT(order[i], want[i]);
    for (int i = 0; i < 4; i++)
        fy_loop_undefer(&loop, &s[i].io);
    CHECK(loop.deferred_head == NULL && loop.deferred_tail == NULL);
    fy_loop_close(&loop);
}

/* A sender that takes the whole budget and, done with another one's
 * connection, undefers the last of the run (its tail): what is left of
 * the run goes first next turn, and the senders deferred meanwhile follow. */
struct dropper {
    struct sender s;
    struct fy_io *drop;
};

static void on_dropper(struct fy_io *io, uint32_t events)
{
    struct dropper *d = (struct dropper *)io;
    on_sender(io, events);
    if (d->drop) {
        fy_loop_spend(d->s.loop, 1000);
        fy_loop_undefer(d->s.loop, d->drop);
        d->drop = NULL;
    }
}

static void test_turn_budget_run_cut_after_its_tail_left(void)
{
    struct fy_loop loop;
    CHECK_INT(fy_loop_init(&loop), 0);
    loop.turn_budget = 100;
    int order[16], norder = 0;
    struct dropper d[4];
    for (int i = 0; i < 4; i++) {
        d[i] = (struct dropper){.s = {.io = {.fd = -1, .handler = on_dropper}, .loop = &loop, .id = i,
                                      .order = order, .norder = &norder}};
        fy_loop_defer(&loop, &d[i].s.io);
    }
    d[0].drop = &d[3].s.io;
    /* Turn 1: 0 spends it all and drops 3; 1 and 2 are kept, 0 behind them.
     * Then 60 + 40 a turn: 1 2, 0 1, 2 0. */
    for (int turn = 0; turn < 4; turn++)
        CHECK_INT(fy_loop_turn(&loop, 0), 0);
    int want[7] = {0, 1, 2, 0, 1, 2, 0};
    CHECK_INT(norder, 7);
    for (int i = 0; i < norder && i < 7; i++)
        CHECK_INT(order[i], want[i]);
    for (int i = 0; i < 4; i++)
        fy_loop_undefer(&loop, &d[i].s.io);
    CHECK(loop.deferred_head == NULL && loop.deferred_tail == NULL && loop.deferred_running == NULL);
    fy_loop_close(&loop);
}

/* A sender woken by an I/O event while others are deferred waits behind
 * them (0 now), and gets its share once the deferred run reaches it. */
static void test_turn_budget_event_sender_waits_behind_deferred(void)
{
    struct fy_loop loop;
    CHECK_INT(fy_loop_init(&loop), 0);
    loop.turn_budget = 100;
    loop.turn_left = 100;
    CHECK_INT((int)fy_loop_allowance(&loop, 60), 60);
    int order[4], norder = 0;
    struct sender a = {.io = {.fd = -1, .handler = on_sender}, .loop = &loop, .order = order, .norder = &norder};
    fy_loop_defer(&loop, &a.io);
    CHECK_INT((int)fy_loop_allowance(&loop, 60), 0);
    fy_loop_undefer(&loop, &a.io);
    fy_loop_spend(&loop, 70);
    CHECK_INT((int)fy_loop_allowance(&loop, 60), 30);
    fy_loop_spend(&loop, 50);
    CHECK_INT((int)fy_loop_allowance(&loop, 60), 0);
    CHECK_INT(fy_loop_turn(&loop, 0), 0); /* a new turn, a new budget */
    CHECK_INT((int)fy_loop_allowance(&loop, 60), 60);
    loop.turn_budget = 0; /* no bound */
    CHECK_INT((int)fy_loop_allowance(&loop, 1 << 20), 1 << 20);
    fy_loop_close(&loop);
}

int main(void)
{
    RUN(test_removed_io_gets_no_stale_event);
    RUN(test_other_events_of_the_turn_still_run);
    RUN(test_deferred_io_removed_by_its_batch_does_not_run);
    RUN(test_deferred_io_removed_by_its_batch_after_a_redefer_does_not_run);
    RUN(test_deferred_io_requeued_by_its_batch_waits_a_turn);
    RUN(test_turn_runs_one_turn_within_its_wait);
    RUN(test_turn_budget_shared_in_a_ring);
    RUN(test_turn_budget_event_sender_waits_behind_deferred);
    RUN(test_turn_budget_run_cut_after_its_tail_left);
    return CHECK_SUMMARY();
}
