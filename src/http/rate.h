/* limit-rate: how many bytes of a response may go out now (doc/config.md
 * #limit-rate).  A pure function of the bytes sent and the clock, so the
 * connection asks before each send and, when the answer is 0, waits for
 * the loop's rate tick (FY_RATE_TICK_MS) instead of a timer of its own
 * duration (the loop's timer queues have fixed durations).
 *
 * The first `after` bytes go at full speed; from the moment they are out
 * the body may be at most rate × elapsed + one tick's worth ahead, so a
 * download paced by ticks averages `rate` without bursts above it. */
#ifndef FY_RATE_H
#define FY_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FY_RATE_TICK_MS 50

struct fy_rate {
    uint64_t rate;               /* bytes per second; 0: not limited */
    uint64_t after;              /* bytes sent before the limit applies */
    bool started;                /* `after` bytes are out: t0 and base are set */
    int64_t t0_ms;
    uint64_t base;               /* bytes sent at t0 */
};

/* Bytes that may be sent now, at most cap, when `sent` bytes of the body
 * have gone; 0: wait for a tick. */
size_t fy_rate_allowance(struct fy_rate *r, uint64_t sent, int64_t now_ms, size_t cap);

#endif
