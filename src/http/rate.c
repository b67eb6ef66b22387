/* limit-rate; see rate.h. */
#include "http/rate.h"

size_t fy_rate_allowance(struct fy_rate *r, uint64_t sent, int64_t now_ms, size_t cap)
{
    if (r->rate == 0)
        return cap;
    if (sent < r->after) {
        uint64_t left = r->after - sent;
        return left < cap ? (size_t)left : cap;
    }
    if (!r->started) {
        r->started = true;
        r->t0_ms = now_ms;
        r->base = sent;
    }
    uint64_t elapsed = now_ms > r->t0_ms ? (uint64_t)(now_ms - r->t0_ms) : 0;
    uint64_t allowed = r->rate * (elapsed + FY_RATE_TICK_MS) / 1000;
    uint64_t done = sent - r->base;
    if (allowed <= done)
        return 0;
    uint64_t n = allowed - done;
    return n < cap ? (size_t)n : cap;
}
