/* The health check of load balancers: `health-path` (off by default)
 * answers 200 "ok" while this ferry serves, and 503 "draining" from the
 * moment it has been told to stop (SIGTERM), through the `drain-delay` in
 * which it still accepts and answers everything else, so that a balancer
 * takes the replica out before it stops accepting.  The old workers of a
 * reload do not say 503: the replica goes on serving (from the new ones).
 * Cheap (no file, no counter), and open to every client: it says nothing
 * a request for any file would not.
 *
 * The handler calls it first:  if (fy_health_wants(c)) return fy_health_respond(c); */
#ifndef FY_HEALTH_H
#define FY_HEALTH_H

#include <stdbool.h>

struct fy_exchange;

/* The request names the health path. */
bool fy_health_wants(const struct fy_exchange *ex);

/* Builds the answer into c, or returns the error status to answer with (405). */
int  fy_health_respond(struct fy_exchange *ex);

#endif
