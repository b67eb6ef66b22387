/* A server started in the test's own process, with no listener, for unit
 * tests that step its loop one turn at a time (fy_loop_turn) and hand it
 * connections (fy_server_adopt): the set-up and tear-down they share. */
#ifndef FY_TEST_IN_PROCESS_H
#define FY_TEST_IN_PROCESS_H

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/privileges.h"
#include "core/server.h"
#include "core/stats.h"

static inline int in_process_set(struct fy_config *cfg, const char *key, const char *value)
{
    char err[FY_CONFIG_ERR_LEN];
    int rc = fy_config_set(cfg, key, value, "test", 0, true, err, sizeof err);
    if (rc < 0)
        printf("  %s: %s\n", key, err);
    return rc;
}

/* Starts srv on cfg (its defaults and the test's own settings) serving
 * docroot with the sendfile backend, quietly (as root: user root).
 * *stats is the shared memory it counts in.  0 or -1. */
static inline int in_process_start(struct fy_server *srv, struct fy_config *cfg, const char *docroot,
                                   struct fy_stats_shm **stats)
{
    if (in_process_set(cfg, "docroot", docroot) || in_process_set(cfg, "backend", "sendfile") ||
        in_process_set(cfg, "mime-types-file", "off") || in_process_set(cfg, "log-level", "error") ||
        (geteuid() == 0 && in_process_set(cfg, "user", "root")))
        return -1;
    static struct fy_identity id;
    static struct fy_log log = {.error_fd = -1, .access_fd = -1};
    char err[FY_CONFIG_ERR_LEN] = "";
    if (fy_privileges_resolve(cfg, &id, err, sizeof err) < 0 || fy_log_open(&log, cfg, err, sizeof err) < 0 ||
        !(*stats = fy_stats_create())) {
        printf("  start: %s\n", err);
        return -1;
    }
    struct fy_server_env env = {.log = &log, .identity = &id, .stats = *stats,
                                .stats_slot = fy_stats_claim(*stats, 1), .control = -1};
    if (fy_server_start(srv, cfg, &env, err, sizeof err) < 0) {
        printf("  start: %s\n", err);
        return -1;
    }
    return 0;
}

static inline void in_process_stop(struct fy_server *srv, struct fy_stats_shm *stats)
{
    fy_server_free(srv);
    fy_stats_destroy(stats);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &signals, NULL); /* the server had taken them */
}

/* Steps the loop until srv has no connection left, 100 turns at most;
 * returns how many are left. */
static inline unsigned in_process_settle(struct fy_server *srv)
{
    for (int turn = 0; turn < 100 && srv->nconns > 0; turn++)
        if (fy_loop_turn(&srv->loop, 10) < 0)
            break;
    return srv->nconns;
}

/* The peer address an adopted socketpair stands for: 127.0.0.1:40000. */
static inline struct sockaddr_storage in_process_peer(void)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(40000);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ss;
}

#endif
