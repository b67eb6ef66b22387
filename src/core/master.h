/* The master process: it opens what needs privileges (listening sockets,
 * log files) once, forks `workers` processes that each run a server loop,
 * and then only supervises them:
 *
 *   SIGCHLD   a worker died unexpectedly: start another in its place (after
 *             a second if it lived less than that, so a crash loop cannot spin)
 *   SIGHUP    reload: read the configuration again; if it is valid, start a
 *             new generation of workers with it (on the same sockets, new
 *             ones for new addresses), and once every new worker is serving
 *             tell the old ones to finish their requests and exit.  A bad
 *             configuration, or new workers that fail to start, leave the
 *             old generation serving; the log says why.
 *   SIGUSR1   reopen the log files (after logrotate) and pass them to every
 *             worker over its control channel (control.h)
 *   SIGTERM,
 *   SIGINT    graceful stop: workers finish (shutdown-timeout), then exit 0
 *
 * No connection is refused during a reload: the listening sockets stay open
 * in the master the whole time, and old workers accept until the new ones
 * serve.  Under systemd (Type=notify) the master reports READY=1 once all
 * workers serve, RELOADING=1 / READY=1 around a reload, STOPPING=1. */
#ifndef FY_MASTER_H
#define FY_MASTER_H

#include <stddef.h>

#include "core/config.h"

/* Reads the configuration the way ferry started with (file, then command
 * line).  Returns 0, or -1 with a message in err. */
typedef int fy_config_loader(struct fy_config *cfg, void *ctx, char *err, size_t errlen);

/* Runs the master until it stops; returns the exit status.  A start-up
 * failure is one line on stderr ("ferry: ...") and status 1. */
int fy_master_run(const struct fy_config *cfg, fy_config_loader *load, void *load_ctx);

/* Workers for cfg: `workers`, or one per CPU this process may run on. */
unsigned fy_master_worker_count(const struct fy_config *cfg);

#endif
