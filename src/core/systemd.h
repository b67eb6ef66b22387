/* The two systemd protocols ferry speaks, written by hand (no libsystemd):
 *
 *  - readiness: sd_notify(3) — a datagram such as "READY=1" sent to the
 *    AF_UNIX socket named by $NOTIFY_SOCKET ('@' first: abstract name);
 *  - socket activation: sd_listen_fds(3) — when $LISTEN_PID is this
 *    process, $LISTEN_FDS sockets start at descriptor 3.
 *
 * Both are no-ops when the variables are absent. */
#ifndef FY_SYSTEMD_H
#define FY_SYSTEMD_H

#include <stddef.h>

#define FY_SD_LISTEN_FDS_START 3

/* Sends `state` ("READY=1\nSTATUS=...") to the service manager.  Returns 1
 * when sent, 0 when ferry does not run under one, -errno on failure. */
int fy_sd_notify(const char *state);

/* Descriptors passed by socket activation: returns how many (from
 * FY_SD_LISTEN_FDS_START on), 0 if none, or -1 with a message in err.
 * Unsets the variables, so that no child takes them for its own. */
int fy_sd_listen_fds(char *err, size_t errlen);

#endif
