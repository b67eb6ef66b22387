/* The master process; see master.h. */
#include "core/master.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/control.h"
#include "core/log.h"
#include "core/pidfile.h"
#include "core/privileges.h"
#include "core/server.h"
#include "core/sockets.h"
#include "core/stats.h"
#include "core/systemd.h"
#include "net/tls.h"
#include "net/tls_tickets.h"
#include "file/auth.h"

#define MASTER_PROCS (3 * FY_CONFIG_MAX_WORKERS) /* two generations, and old ones finishing */
#define START_TIMEOUT_MS 30000                   /* for a generation to serve */
#define RESPAWN_DELAY_MS 1000                    /* for a worker that died young */
#define KILL_GRACE_MS 5000                       /* after shutdown-timeout: SIGKILL */
#define TICKET_CHECK_MS 60000                    /* how often the ticket keys' age is looked at */

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

enum worker_state { W_FREE, W_STARTING, W_SERVING, W_STOPPING, W_RESPAWN };

struct master;

struct worker {
    struct master *m;
    enum worker_state state;
    pid_t pid;
    unsigned gen;                /* the generation number it serves */
    unsigned index;              /* its place in the generation: 0 .. n-1 */
    int slot;                    /* its stats slot */
    bool failed;                 /* said FAILED: its exit is no news */
    bool closing;                /* stopped with the others: its CLOSED is awaited (drain_together) */
    bool closed;                 /* said CLOSED: waits for DRAIN */
    int64_t started_ms;
    struct fy_io ctl;            /* the master's end of its channel */
    struct fy_timer respawn;     /* W_RESPAWN: start it again when this fires */
};

/* A configuration and what the master opened for it. */
struct generation {
    struct fy_config cfg;
    struct fy_log log;
    struct fy_sockets socks;
    struct fy_identity id;
    struct fy_tls_contexts tls;  /* certificates, read here so workers need no access */
    unsigned n;                  /* workers */
    unsigned number;
};

enum master_state { M_STARTING, M_RUNNING, M_RELOADING, M_STOPPING };

struct master {
    struct fy_loop loop;
    struct fy_io signals;
    struct generation gens[2];
    int cur;                     /* gens[cur] serves; gens[1 - cur] is a reload's */
    enum master_state state;
    bool reload_pending, reopen_pending, pid_file_written;
    struct worker w[MASTER_PROCS];
    struct fy_stats_shm *stats;
    struct fy_tls_tickets *tickets; /* shared with every worker, of every generation */
    struct fy_timer_queue ticket_queue;
    struct fy_timer ticket_check;
    fy_config_loader *load;
    void *load_ctx;
    struct fy_timer_queue respawn_queue, deadline_queue, kill_queue;
    struct fy_timer deadline, kill;
    char error[FY_CONFIG_ERR_LEN]; /* why start-up failed */
    int exit_code;
};

static struct generation *cur_gen(struct master *m) { return &m->gens[m->cur]; }
static struct generation *next_gen(struct master *m) { return &m->gens[1 - m->cur]; }
static struct fy_log *mlog(struct master *m) { return &cur_gen(m)->log; }

static void begin_stop(struct master *m);
static void spawn(struct master *m, struct worker *w, struct generation *g, unsigned index);

unsigned fy_master_worker_count(const struct fy_config *cfg)
{
    if (cfg->workers)
        return cfg->workers;
    cpu_set_t set;
    long n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > FY_CONFIG_MAX_WORKERS ? FY_CONFIG_MAX_WORKERS : (unsigned)n;
}

static void notify(struct master *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void notify(struct master *m, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int rc = fy_sd_notify(msg);
    if (rc < 0)
        fy_log(mlog(m), FY_LOG_WARN, "sd_notify: %s", strerror(-rc));
}

/* "exited with status 3", "was killed by signal 9" */
static void describe_exit(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* --- the workers of a generation ------------------------------------------ */

static unsigned count(struct master *m, unsigned gen, enum worker_state state)
{
    unsigned n = 0;
    for (size_t i = 0; i < MASTER_PROCS; i++)
        n += m->w[i].state == state && m->w[i].gen == gen;
    return n;
}

static bool any_alive(struct master *m)
{
    for (size_t i = 0; i < MASTER_PROCS; i++)
        if (m->w[i].pid > 0)
            return true;
    return false;
}

static struct worker *free_entry(struct master *m)
{
    for (size_t i = 0; i < MASTER_PROCS; i++)
        if (m->w[i].state == W_FREE)
            return &m->w[i];
    return NULL;
}

/* Asks a worker to finish its requests and exit: when ferry stops, with
 * SIGTERM (the worker drains, drain-delay first); when another generation
 * replaces it (retire), over its channel, so that it stops at once and its
 * health check does not say the replica is going away. */
static void stop_worker(struct worker *w, bool retire)
{
    if (w->state == W_RESPAWN) {
        fy_timer_disarm(&w->respawn);
        w->state = W_FREE;
        return;
    }
    if (w->pid > 0 && w->state != W_STOPPING) {
        if (!retire || w->ctl.fd < 0 || fy_ctl_send(w->ctl.fd, FY_CTL_RETIRE, NULL, NULL, 0) < 0)
            kill(w->pid, SIGTERM);
        w->state = W_STOPPING;
    }
}

static void stop_generation(struct master *m, unsigned gen, bool all_but)
{
    for (size_t i = 0; i < MASTER_PROCS; i++)
        if (m->w[i].state != W_FREE && (all_but ? m->w[i].gen != gen : m->w[i].gen == gen))
            stop_worker(&m->w[i], true);
}

/* Starts a generation's n workers.  Returns 0, or -1 when none could start. */
static int spawn_generation(struct master *m, struct generation *g)
{
    for (unsigned i = 0; i < g->n; i++) {
        struct worker *w = free_entry(m);
        if (!w) {
            fy_log(mlog(m), FY_LOG_ERROR, "too many processes still finishing; cannot start more");
            return -1;
        }
        spawn(m, w, g, i);
    }
    return 0;
}

/* --- start-up -------------------------------------------------------------- */

static void start_failed(struct master *m, const char *why)
{
    if (!m->error[0])
        snprintf(m->error, sizeof m->error, "%s", why);
    m->exit_code = 1;
    begin_stop(m);
}

static void log_listening(struct master *m)
{
    struct generation *g = cur_gen(m);
    for (size_t i = 0; i < g->socks.n; i++)
        fy_log(&g->log, FY_LOG_INFO, "listening on %s://%s/ (backend %s, docroot %s, %u workers, %s)",
               g->socks.group[i].addr.tls ? "https" : "http", g->socks.group[i].addr.text, g->cfg.backend, g->cfg.docroot, g->n,
               g->socks.group[i].reuseport ? "SO_REUSEPORT" : "one shared socket");
}

static void serving(struct master *m)
{
    struct generation *g = cur_gen(m);
    char err[FY_CONFIG_ERR_LEN];
    fy_timer_disarm(&m->deadline);
    atomic_store(&m->stats->generation, g->number);
    atomic_store(&m->stats->workers, g->n);
    notify(m, "READY=1\nMAINPID=%ld\nSTATUS=serving with %u workers (generation %u)", (long)getpid(), g->n,
           g->number);
    fy_auth_warn(&g->cfg, &g->log);
    if (m->state == M_STARTING) {
        log_listening(m);
        if (g->cfg.pid_file[0]) {
            if (fy_pidfile_write(g->cfg.pid_file, getpid(), err, sizeof err) < 0)
                fy_log(&g->log, FY_LOG_ERROR, "%s", err);
            else
                m->pid_file_written = true;
        }
    }
    m->state = M_RUNNING;
}

/* --- reloading --------------------------------------------------------------- */

static void discard_next(struct master *m)
{
    struct generation *g = next_gen(m);
    fy_sockets_close_except(&g->socks, &cur_gen(m)->socks);
    fy_tls_contexts_free(&g->tls);
    fy_log_close(&g->log);
}

static void after_reload(struct master *m);

static void abort_reload(struct master *m, const char *why)
{
    if (m->state != M_RELOADING)
        return;
    fy_log(mlog(m), FY_LOG_ERROR, "reload failed: %s; still serving with the old configuration", why);
    stop_generation(m, next_gen(m)->number, false);
    discard_next(m);
    m->state = M_RUNNING;
    fy_timer_disarm(&m->deadline);
    notify(m, "READY=1\nSTATUS=reload failed: %.200s", why);
    after_reload(m);
}

static void commit_reload(struct master *m)
{
    struct generation *old = cur_gen(m), *g = next_gen(m);
    stop_generation(m, g->number, true);
    fy_sockets_close_except(&old->socks, &g->socks);
    fy_tls_contexts_free(&old->tls); /* the old workers have their copies */
    fy_log_close(&old->log);
    m->cur = 1 - m->cur;
    atomic_fetch_add(&m->stats->reloads, 1);
    fy_log(&g->log, FY_LOG_INFO, "reloaded: generation %u, %u workers; the old ones finish their requests",
           g->number, g->n);
    serving(m);
    after_reload(m);
}

/* The certificates of g, read now (as the user ferry starts as); one
 * that expires soon is a warning in g's log. */
static int load_tls(struct generation *g, char *err, size_t errlen)
{
    char warn[FY_CONFIG_ERR_LEN];
    if (fy_tls_contexts_load(&g->tls, &g->cfg, warn, sizeof warn, err, errlen) < 0)
        return -1;
    if (warn[0])
        fy_log(&g->log, FY_LOG_WARN, "%s", warn);
    return 0;
}

/* Opens what the new configuration needs besides the workers. */
static int prepare_next(struct master *m, char *err, size_t errlen)
{
    struct generation *old = cur_gen(m), *g = next_gen(m);
    if (m->load(&g->cfg, m->load_ctx, err, errlen) < 0)
        return -1;
    if (g->cfg.reuseport != old->cfg.reuseport && !old->socks.activated && g->cfg.nlisten) {
        snprintf(err, errlen, "reuseport: switching it needs a restart");
        return -1;
    }
    g->n = fy_master_worker_count(&g->cfg);
    g->number = old->number + 1;
    if (fy_privileges_resolve(&g->cfg, &g->id, err, errlen) < 0)
        return -1;
    if (fy_log_open(&g->log, &g->cfg, err, errlen) < 0)
        return -1;
    if (load_tls(g, err, errlen) < 0) {
        fy_log_close(&g->log);
        return -1;
    }
    if (fy_sockets_prepare(&g->socks, &old->socks, &g->cfg, g->cfg.reuseport, g->n, err, errlen) < 0) {
        fy_tls_contexts_free(&g->tls);
        fy_log_close(&g->log);
        return -1;
    }
    return 0;
}

static void reload(struct master *m)
{
    char err[FY_CONFIG_ERR_LEN];
    if (m->state != M_RUNNING) {
        m->reload_pending = m->state != M_STOPPING; /* once the current change is done */
        return;
    }
    fy_log(mlog(m), FY_LOG_INFO, "SIGHUP: reloading the configuration");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    notify(m, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)ts.tv_sec * 1000000ULL +
                                                    (unsigned long long)ts.tv_nsec / 1000);
    if (prepare_next(m, err, sizeof err) < 0) {
        fy_log(mlog(m), FY_LOG_ERROR, "reload: %s; still serving with the old configuration", err);
        notify(m, "READY=1\nSTATUS=reload failed: %.200s", err);
        return;
    }
    m->state = M_RELOADING;
    fy_timer_arm(&m->loop, &m->deadline_queue, &m->deadline);
    if (spawn_generation(m, next_gen(m)) < 0)
        abort_reload(m, "cannot start the new workers");
}

/* --- log files --------------------------------------------------------------- */

static void reopen_logs(struct master *m)
{
    char err[FY_CONFIG_ERR_LEN];
    if (m->state == M_RELOADING || m->state == M_STARTING) {
        m->reopen_pending = true;
        return;
    }
    struct generation *g = cur_gen(m);
    if (fy_log_reopen(&g->log, &g->cfg, err, sizeof err) < 0) {
        fy_log(&g->log, FY_LOG_ERROR, "reopening the logs: %s; writing to the old files", err);
        return;
    }
    int fds[2] = {g->log.error_fd, g->log.access_fd};
    size_t nfds = fds[1] >= 0 ? 2 : 1;
    for (size_t i = 0; i < MASTER_PROCS; i++) {
        struct worker *w = &m->w[i];
        if (w->pid > 0 && w->ctl.fd >= 0 && fy_ctl_send(w->ctl.fd, FY_CTL_LOGS, NULL, fds, nfds) < 0)
            fy_log(&g->log, FY_LOG_WARN, "worker %ld: cannot pass the reopened logs", (long)w->pid);
    }
    fy_log(&g->log, FY_LOG_INFO, "log files reopened");
}

static void after_reload(struct master *m)
{
    if (m->reopen_pending) {
        m->reopen_pending = false;
        reopen_logs(m);
    }
    if (m->reload_pending) {
        m->reload_pending = false;
        reload(m);
    }
}

/* --- what workers say and do ------------------------------------------------ */

static void worker_ready(struct master *m, struct worker *w)
{
    if (w->state != W_STARTING)
        return;
    w->state = W_SERVING;
    fy_log(mlog(m), FY_LOG_DEBUG, "worker %ld (generation %u) serving", (long)w->pid, w->gen);
    if (m->state == M_STARTING && count(m, cur_gen(m)->number, W_SERVING) == cur_gen(m)->n) {
        serving(m);
        after_reload(m); /* a SIGHUP or SIGUSR1 that came while starting */
    } else if (m->state == M_RELOADING && w->gen == next_gen(m)->number &&
             count(m, w->gen, W_SERVING) == next_gen(m)->n)
        commit_reload(m);
}

static void worker_failed(struct master *m, struct worker *w, const char *why)
{
    w->failed = true;
    if (m->state == M_STOPPING || (m->state == M_RUNNING && w->gen > cur_gen(m)->number))
        return; /* the first failure said it already (start-up, or a reload given up) */
    if (m->state == M_STARTING)
        start_failed(m, why);
    else if (m->state == M_RELOADING && w->gen == next_gen(m)->number)
        abort_reload(m, why);
    else
        fy_log(mlog(m), FY_LOG_ERROR, "worker %ld could not start: %s", (long)w->pid, why);
}

/* Stopping, the workers drain together: none answers a request with
 * "Connection: close" (which sends its client to connect again) until
 * every worker of this instance has closed its listening sockets, so that
 * no new connection lands on a socket about to close and is reset (see
 * begin_stop in server.c).  A worker that exits, or whose channel breaks,
 * is waited for no more; a worker's own shutdown-timeout bounds the wait,
 * and the kill timer a worker that hangs. */
static void drain_together(struct master *m)
{
    for (size_t i = 0; i < MASTER_PROCS; i++)
        if (m->w[i].closing)
            return;
    for (size_t i = 0; i < MASTER_PROCS; i++) {
        struct worker *w = &m->w[i];
        if (w->closed && w->ctl.fd >= 0)
            fy_ctl_send(w->ctl.fd, FY_CTL_DRAIN, NULL, NULL, 0);
        w->closed = false;
    }
}

static void close_ctl(struct master *m, struct worker *w)
{
    if (w->ctl.fd >= 0) {
        fy_loop_remove(&m->loop, &w->ctl);
        close(w->ctl.fd);
        w->ctl.fd = -1;
    }
    bool awaited = w->closing;
    w->closing = w->closed = false;
    if (awaited)
        drain_together(m); /* it will not say CLOSED now */
}

static void on_ctl(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct worker *w = container_of(io, struct worker, ctl);
    struct master *m = w->m;
    struct fy_ctl_msg msg;
    int fds[FY_CTL_MAX_FDS];
    size_t nfds;
    for (;;) {
        int rc = fy_ctl_recv(io->fd, &msg, fds, &nfds);
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        if (rc == -EAGAIN)
            return;
        if (rc <= 0) { /* it exited (or broke the channel): SIGCHLD tells the rest */
            close_ctl(m, w);
            return;
        }
        if (msg.type == FY_CTL_READY)
            worker_ready(m, w);
        else if (msg.type == FY_CTL_FAILED)
            worker_failed(m, w, msg.text);
        else if (msg.type == FY_CTL_CLOSED) {
            w->closing = false;
            w->closed = true;
            drain_together(m); /* stopped alone (SIGTERM to this worker): at once */
        }
    }
}

static void on_respawn(struct fy_timer *t)
{
    struct worker *w = container_of(t, struct worker, respawn);
    struct master *m = w->m;
    w->state = W_FREE;
    if (m->state == M_STOPPING || w->gen != cur_gen(m)->number)
        return;
    atomic_fetch_add(&m->stats->respawns, 1);
    spawn(m, w, cur_gen(m), w->index);
}

/* A worker of the serving generation died without being asked to. */
static void replace(struct master *m, struct worker *w, const char *how)
{
    bool young = m->loop.now_ms - w->started_ms < RESPAWN_DELAY_MS;
    fy_log(mlog(m), FY_LOG_WARN, "worker %ld %s; starting a new one%s", (long)w->pid, how,
           young ? " in a second" : "");
    w->pid = 0;
    w->state = W_RESPAWN;
    w->respawn.handler = on_respawn;
    if (young)
        fy_timer_arm(&m->loop, &m->respawn_queue, &w->respawn);
    else
        on_respawn(&w->respawn);
}

static void worker_exited(struct master *m, struct worker *w, int status)
{
    char how[96], why[160];
    /* What it said before dying comes first: the reason a start failed is
     * on the channel, and its SIGCHLD may be read before the channel is. */
    if (w->ctl.fd >= 0)
        on_ctl(&w->ctl, 0);
    describe_exit(status, how, sizeof how);
    fy_stats_retire(m->stats, w->slot);
    close_ctl(m, w);
    bool expected = w->state == W_STOPPING || m->state == M_STOPPING, news = !w->failed;
    bool starting = m->state == M_STARTING;
    bool reloading = m->state == M_RELOADING && w->gen == next_gen(m)->number;
    w->state = W_FREE;
    if (!expected && !starting && w->gen == cur_gen(m)->number) {
        replace(m, w, how);
        return;
    }
    w->pid = 0;
    if (!expected && news && (starting || reloading)) {
        snprintf(why, sizeof why, "a %sworker %s while starting", reloading ? "new " : "", how);
        if (starting)
            start_failed(m, why);
        else
            abort_reload(m, why);
    }
    if (m->state == M_STOPPING && !any_alive(m))
        fy_loop_stop(&m->loop);
}

static struct worker *find_pid(struct master *m, pid_t pid)
{
    for (size_t i = 0; i < MASTER_PROCS; i++)
        if (m->w[i].pid == pid)
            return &m->w[i];
    return NULL;
}

static void reap(struct master *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct worker *w = find_pid(m, pid);
        if (w)
            worker_exited(m, w, status);
    }
}

/* --- the worker process ------------------------------------------------------- */

/* Closes every socket of both generations that the worker does not keep. */
static void close_foreign_sockets(struct master *m, struct generation *g, const struct fy_listen_fd *keep,
                                  size_t nkeep)
{
    struct generation *other = g == cur_gen(m) ? next_gen(m) : cur_gen(m);
    static struct fy_sockets mine;
    mine = g->socks;
    fy_sockets_close_except(&other->socks, &mine);
    fy_sockets_keep_only(&mine, keep, nkeep);
}

/* In the child: what the master holds is not ours to use. */
static void leave_master(struct master *m, struct generation *g)
{
    struct generation *other = g == cur_gen(m) ? next_gen(m) : cur_gen(m);
    for (size_t i = 0; i < MASTER_PROCS; i++)
        if (m->w[i].ctl.fd >= 0)
            close(m->w[i].ctl.fd);
    if (m->signals.fd >= 0)
        close(m->signals.fd);
    fy_loop_close(&m->loop);
    if (other->log.error_fd >= 0 || other->log.access_fd >= 0)
        fy_log_close(&other->log);
    unsetenv("NOTIFY_SOCKET"); /* only the master speaks to systemd */
}

/* Workers of another generation (a reload's old ones, still finishing)
 * hold their /dev/shm pools until they exit. */
static bool other_generations_run(const struct master *m, unsigned gen)
{
    for (size_t i = 0; i < MASTER_PROCS; i++)
        if (m->w[i].state != W_FREE && m->w[i].gen != gen)
            return true;
    return false;
}

static int worker_main(struct master *m, struct generation *g, unsigned index, int ctl, int slot)
{
    static struct fy_server srv;
    char err[FY_CONFIG_ERR_LEN];
    leave_master(m, g);
    size_t nkeep = fy_sockets_pick(&g->socks, index, g->n, NULL, 0);
    struct fy_listen_fd *keep = calloc(nkeep ? nkeep : 1, sizeof *keep);
    if (!keep) {
        fy_ctl_send(ctl, FY_CTL_FAILED, "out of memory", NULL, 0);
        return 1;
    }
    fy_sockets_pick(&g->socks, index, g->n, keep, nkeep);
    close_foreign_sockets(m, g, keep, nkeep);
    atomic_store(&m->stats->slot[slot].pid, (uint64_t)getpid());
    struct fy_server_env env = {.listen = keep, .nlisten = nkeep, .log = &g->log, .identity = &g->id,
                                .stats = m->stats, .stats_slot = slot, .control = ctl,
                                .others_hold_pools = other_generations_run(m, g->number), .workers = g->n,
                                .tls = &g->tls, .tickets = m->tickets};
    int rc = 1;
    if (fy_server_start(&srv, &g->cfg, &env, err, sizeof err) < 0) {
        fy_ctl_send(ctl, FY_CTL_FAILED, err, NULL, 0);
    } else {
        fy_ctl_send(ctl, FY_CTL_READY, NULL, NULL, 0);
        rc = fy_server_run(&srv) < 0 ? 1 : 0;
    }
    fy_server_free(&srv); /* closes ctl too */
    free(keep);
    return rc;
}

/* fork() or its preparations failed: as a worker that could not start,
 * except that a replacement is tried again a second later. */
static void spawn_failed(struct master *m, struct worker *w, int err)
{
    char why[128];
    snprintf(why, sizeof why, "cannot start a worker: %s", strerror(err));
    if (m->state == M_RUNNING && w->gen == cur_gen(m)->number) {
        fy_log(mlog(m), FY_LOG_ERROR, "%s; trying again in a second", why);
        w->state = W_RESPAWN;
        w->respawn.handler = on_respawn;
        fy_timer_arm(&m->loop, &m->respawn_queue, &w->respawn);
        return;
    }
    w->state = W_FREE;
    worker_failed(m, w, why);
}

static void spawn(struct master *m, struct worker *w, struct generation *g, unsigned index)
{
    int ctl[2], slot = fy_stats_claim(m->stats, g->number), rc = slot < 0 ? -ENOSPC : fy_ctl_pair(ctl);
    *w = (struct worker){.m = m, .gen = g->number, .index = index, .slot = slot, .ctl = {.fd = -1},
                         .started_ms = m->loop.now_ms};
    pid_t pid = rc < 0 ? -1 : (fflush(NULL), fork());
    if (pid == 0) {
        close(ctl[0]);
        exit(worker_main(m, g, index, ctl[1], slot));
    }
    if (pid < 0) {
        int err = rc < 0 ? -rc : errno;
        if (rc == 0) {
            close(ctl[0]);
            close(ctl[1]);
        }
        if (slot >= 0)
            fy_stats_retire(m->stats, slot);
        spawn_failed(m, w, err);
        return;
    }
    close(ctl[1]);
    atomic_store(&m->stats->slot[slot].pid, (uint64_t)pid);
    w->pid = pid;
    w->state = W_STARTING;
    w->ctl = (struct fy_io){.fd = ctl[0], .handler = on_ctl};
    if (fy_loop_add(&m->loop, &w->ctl, EPOLLIN) < 0)
        fy_log(mlog(m), FY_LOG_ERROR, "worker %ld: epoll: %s", (long)pid, strerror(errno));
}

/* --- stopping ------------------------------------------------------------------ */

static void begin_stop(struct master *m)
{
    if (m->state == M_STOPPING)
        return;
    bool starting = m->state == M_STARTING;
    if (m->state == M_RELOADING)
        discard_next(m);
    m->state = M_STOPPING;
    if (!starting || !m->error[0])
        notify(m, "STOPPING=1");
    /* The kernel refuses new connections once the workers close theirs too. */
    fy_sockets_close_except(&cur_gen(m)->socks, NULL);
    for (size_t i = 0; i < MASTER_PROCS; i++) {
        struct worker *w = &m->w[i];
        w->closing = w->pid > 0 && w->state != W_STOPPING && w->state != W_RESPAWN; /* it gets SIGTERM */
        stop_worker(w, false);
    }
    fy_timer_disarm(&m->deadline);
    m->kill_queue.duration_ms = cur_gen(m)->cfg.drain_delay_ms + cur_gen(m)->cfg.shutdown_timeout_ms + KILL_GRACE_MS;
    fy_timer_arm(&m->loop, &m->kill_queue, &m->kill);
    if (!any_alive(m))
        fy_loop_stop(&m->loop);
}

static void on_kill(struct fy_timer *t)
{
    struct master *m = container_of(t, struct master, kill);
    for (size_t i = 0; i < MASTER_PROCS; i++) {
        if (m->w[i].pid > 0) {
            fy_log(mlog(m), FY_LOG_WARN, "worker %ld still running; killing it", (long)m->w[i].pid);
            kill(m->w[i].pid, SIGKILL);
        }
    }
}

static void on_deadline(struct fy_timer *t)
{
    struct master *m = container_of(t, struct master, deadline);
    char why[96];
    snprintf(why, sizeof why, "workers did not start within %d s", START_TIMEOUT_MS / 1000);
    if (m->state == M_STARTING)
        start_failed(m, why);
    else
        abort_reload(m, why);
}

static void on_signal(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct master *m = container_of(io, struct master, signals);
    struct signalfd_siginfo si;
    while (read(io->fd, &si, sizeof si) == sizeof si) {
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            if (m->state != M_STOPPING)
                fy_log(mlog(m), FY_LOG_INFO, "stopping on SIG%s", si.ssi_signo == SIGINT ? "INT" : "TERM");
            begin_stop(m);
            break;
        case SIGHUP: reload(m); break;
        case SIGUSR1: reopen_logs(m); break;
        case SIGCHLD: reap(m); break;
        }
    }
}

/* --- the whole ------------------------------------------------------------------ */

static int watch_signals(struct master *m, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    signal(SIGPIPE, SIG_IGN);
    m->signals = (struct fy_io){.fd = -1, .handler = on_signal};
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || (m->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        fy_loop_add(&m->loop, &m->signals, EPOLLIN) < 0) {
        snprintf(err, errlen, "signals: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void on_ticket_check(struct fy_timer *t)
{
    struct master *m = container_of(t, struct master, ticket_check);
    fy_tls_tickets_tick(m->tickets, m->loop.now_ms / 1000);
    fy_timer_arm(&m->loop, &m->ticket_queue, &m->ticket_check);
}

static void init_timers(struct master *m)
{
    const struct fy_config *cfg = &cur_gen(m)->cfg;
    fy_timer_queue_init(&m->loop, &m->respawn_queue, RESPAWN_DELAY_MS);
    fy_timer_queue_init(&m->loop, &m->deadline_queue, START_TIMEOUT_MS);
    fy_timer_queue_init(&m->loop, &m->kill_queue, cfg->shutdown_timeout_ms + KILL_GRACE_MS);
    fy_timer_queue_init(&m->loop, &m->ticket_queue, TICKET_CHECK_MS);
    m->deadline.handler = on_deadline;
    m->kill.handler = on_kill;
    m->ticket_check.handler = on_ticket_check;
}

/* What the first generation needs before any worker starts. */
static int open_first(struct master *m, char *err, size_t errlen)
{
    struct generation *g = cur_gen(m);
    g->n = fy_master_worker_count(&g->cfg);
    g->number = 1;
    if (fy_privileges_resolve(&g->cfg, &g->id, err, errlen) < 0 || fy_log_open(&g->log, &g->cfg, err, errlen) < 0)
        return -1;
    if (load_tls(g, err, errlen) < 0 || !(m->tickets = fy_tls_tickets_create(err, errlen)))
        return -1;
    if (fy_sockets_open(&g->socks, &g->cfg, g->cfg.reuseport, g->n, err, errlen) < 0)
        return -1;
    int rc = fy_loop_init(&m->loop);
    if (rc < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(-rc));
        return -1;
    }
    init_timers(m);
    if (watch_signals(m, err, errlen) < 0)
        return -1;
    if (!(m->stats = fy_stats_create())) {
        snprintf(err, errlen, "status counters: mmap: %s", strerror(errno));
        return -1;
    }
    fy_tls_tickets_tick(m->tickets, m->loop.now_ms / 1000);
    fy_timer_arm(&m->loop, &m->ticket_queue, &m->ticket_check);
    return 0;
}

static void close_all(struct master *m)
{
    for (int i = 0; i < 2; i++) {
        fy_sockets_close_except(&m->gens[i].socks, NULL);
        fy_tls_contexts_free(&m->gens[i].tls);
        fy_log_close(&m->gens[i].log);
    }
    fy_tls_tickets_destroy(m->tickets);
    if (m->signals.fd >= 0)
        close(m->signals.fd);
    fy_loop_close(&m->loop);
    fy_stats_destroy(m->stats);
}

int fy_master_run(const struct fy_config *cfg, fy_config_loader *load, void *load_ctx)
{
    static struct master master;
    struct master *m = &master;
    char err[FY_CONFIG_ERR_LEN];
    *m = (struct master){.signals = {.fd = -1}, .load = load, .load_ctx = load_ctx, .state = M_STARTING,
                         .loop = {.epfd = -1}};
    for (int i = 0; i < 2; i++)
        m->gens[i].log = (struct fy_log){.error_fd = -1, .access_fd = -1};
    for (size_t i = 0; i < MASTER_PROCS; i++)
        m->w[i] = (struct worker){.m = m, .ctl = {.fd = -1}};
    m->gens[0].cfg = *cfg;
    if (open_first(m, err, sizeof err) < 0) {
        fprintf(stderr, "ferry: %s\n", err);
        close_all(m);
        return 1;
    }
    fy_timer_arm(&m->loop, &m->deadline_queue, &m->deadline);
    if (spawn_generation(m, cur_gen(m)) == 0) {
        int rc = fy_loop_run(&m->loop);
        if (rc < 0)
            fy_log(mlog(m), FY_LOG_ERROR, "event loop: %s", strerror(-rc));
    }
    if (m->error[0])
        fprintf(stderr, "ferry: %s\n", m->error);
    else
        fy_log(mlog(m), FY_LOG_INFO, "stopped");
    if (m->pid_file_written)
        fy_pidfile_remove(cur_gen(m)->cfg.pid_file);
    close_all(m);
    return m->exit_code;
}
