/* The channel between the master and one worker: a SOCK_SEQPACKET
 * socketpair, one message per datagram, descriptors passed alongside.
 *
 *   worker → master   READY (serving), FAILED "why" (start-up failed),
 *                     CLOSED (stopping: my listening sockets are closed)
 *   master → worker   LOGS + descriptors (the log files, reopened)
 *                     RETIRE (a reload replaces you: stop, without drain-delay)
 *                     DRAIN (every worker has closed its sockets: drain now)
 *
 * The master stops a worker with SIGTERM when ferry stops (the worker then
 * drains: health 503 for drain-delay first), with RETIRE when a reload
 * replaces it; a worker that sees the channel close knows the master is
 * gone and stops too. */
#ifndef FY_CONTROL_H
#define FY_CONTROL_H

#include <stddef.h>

#include "core/config.h"

enum fy_ctl_type { FY_CTL_READY = 1, FY_CTL_FAILED, FY_CTL_LOGS, FY_CTL_RETIRE, FY_CTL_CLOSED, FY_CTL_DRAIN };

#define FY_CTL_MAX_FDS 2

struct fy_ctl_msg {
    enum fy_ctl_type type;
    char text[FY_CONFIG_ERR_LEN];
};

/* A connected pair, close-on-exec: [0] for the master, [1] for the worker. */
int fy_ctl_pair(int fds[2]);

/* Sends a message with nfds descriptors.  Returns 0 or -errno. */
int fy_ctl_send(int sock, enum fy_ctl_type type, const char *text, const int *fds, size_t nfds);

/* Receives one message; the descriptors that came with it go to fds
 * (*nfds of them, the caller owns them).  Returns 1, 0 at the end of the
 * channel, -EAGAIN when nothing waits, or -errno. */
int fy_ctl_recv(int sock, struct fy_ctl_msg *msg, int *fds, size_t *nfds);

#endif
