/* The status endpoint: `status-path` (off by default) answers, to the
 * networks of `status-allow` only (loopback by default), with the counters
 * of every process of this ferry (stats.h) as JSON, or in the Prometheus
 * text exposition format when asked with ?format=prometheus or by an
 * Accept header naming text/plain or OpenMetrics (what Prometheus sends).
 *
 * The handler calls it first:  if (fy_status_wants(c)) return fy_status_respond(c); */
#ifndef FY_STATUS_H
#define FY_STATUS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/config.h"

struct fy_exchange;

/* The request names the status path. */
bool fy_status_wants(const struct fy_exchange *ex);

/* Builds the status response into c (as the handler does), or returns
 * the error status to answer with (403, 405, 400, 503). */
int  fy_status_respond(struct fy_exchange *ex);

/* Whether peer is in one of cfg's status-allow networks (core/acl.h). */
bool fy_status_allowed(const struct fy_config *cfg, const struct sockaddr_storage *peer);

#endif
