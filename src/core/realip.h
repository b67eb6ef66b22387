/* The client's address behind a proxy: `real-ip-from` names the peers
 * (load balancers, caches) whose X-Forwarded-For is believed.  What the
 * access log, the status page's status-allow and the per-address limits
 * see (the PROXY protocol, proxy_protocol.h, has replaced the peer by
 * then when the listener takes it). */
#ifndef FY_REALIP_H
#define FY_REALIP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/config.h"
#include "http/http_parse.h"

/* The request's client into out: peer, unless peer is one of
 * cfg->real_ip_from; then X-Forwarded-For (all its lines, one list) is
 * walked from its right end, each hop's address believed while the hop
 * before it is trusted: the first address that is not one of
 * real-ip-from is the client (all of them are: the leftmost).  An entry
 * that is not an address ends the walk at the last good one. */
void fy_realip(const struct fy_config *cfg, const struct sockaddr_storage *peer, const struct fy_request *req,
               struct sockaddr_storage *out);

#endif
