/* Unit tests of src/event/loop.c: an io removed by a handler gets no more
 * events from the turn being dispatched, even when its memory is reused at
 * once (a closed connection's struct taken by the next accepted one). */
#include "check.h"

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

int main(void)
{
    RUN(test_removed_io_gets_no_stale_event);
    RUN(test_other_events_of_the_turn_still_run);
    return CHECK_SUMMARY();
}
