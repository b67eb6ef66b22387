/* Start-up, accept, the connection pool, signals and graceful stop. */
#include "core/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/control.h"
#include "file/auth.h"
#include "file/compress.h"
#include "http1/conn.h"
#include "net/tls_tickets.h"

#define ACCEPT_RETRY_MS 100
#define LINGER_MS 2000
#define TICK_MS 1000

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

const char *fy_server_date(struct fy_server *srv)
{
    time_t now = time(NULL);
    if (now != srv->date_second) {
        fy_http_date(now, srv->date);
        srv->date_second = now;
    }
    return srv->date;
}

/* --- the connection pool ------------------------------------------------- */

/* Spares kept past a tick: what one second of churn takes again, without
 * holding the memory of a past crowd. */
#define SPARE_LINKS 64
#define SPARE_CONNS 8

static void list_push(struct fy_link **head, struct fy_link *l)
{
    l->prev = NULL;
    l->next = *head;
    if (*head)
        (*head)->prev = l;
    *head = l;
}

static void list_unlink(struct fy_link **head, struct fy_link *l)
{
    if (l->prev)
        l->prev->next = l->next;
    else
        *head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
}

static struct fy_link *link_take(struct fy_server *srv)
{
    struct fy_link *l = srv->free_links;
    if (!l)
        return calloc(1, sizeof *l);
    list_unlink(&srv->free_links, l);
    srv->nfree_links--;
    return l;
}

static void link_put(struct fy_server *srv, struct fy_link *l)
{
    list_push(&srv->free_links, l);
    srv->nfree_links++;
}

bool fy_server_count_peer(struct fy_server *srv, struct fy_link *l)
{
    if (srv->cfg.max_connections_per_ip == 0)
        return true;
    l->ip_counted = fy_per_ip_take(&srv->per_ip, &l->peer, srv->cfg.max_connections_per_ip);
    if (!l->ip_counted)
        fy_stats_add(srv->slot, FY_C_REFUSED_PER_IP, 1);
    return l->ip_counted;
}

void fy_server_conn_closed(struct fy_server *srv, struct fy_link *l)
{
    if (l->ip_counted)
        fy_per_ip_put(&srv->per_ip, &l->peer);
    l->ip_counted = false;
    list_unlink(&srv->conns, l);
    link_put(srv, l);
    srv->nconns--;
    if (srv->stopping && srv->nconns == 0)
        fy_loop_stop(&srv->loop);
}

struct fy_conn *fy_server_take_conn(struct fy_server *srv)
{
    struct fy_conn *c = srv->free_conns;
    if (c) {
        srv->free_conns = c->next;
        srv->nfree_conns--;
        return c;
    }
    c = malloc(fy_conn_size(&srv->cfg));
    if (!c)
        return NULL;
    fy_conn_init_buffers(c, &srv->cfg);
    srv->nconn_buffers++;
    return c;
}

void fy_server_put_conn(struct fy_server *srv, struct fy_conn *c)
{
    c->next = srv->free_conns;
    srv->free_conns = c;
    srv->nfree_conns++;
}

/* Frees the spares beyond `keep` (the most recently used stay).  Only on
 * the tick: a connection closed deep in a call is still looked at by its
 * callers, so nothing given back in this turn may go. */
static void trim_spares(struct fy_server *srv, unsigned keep_links, unsigned keep_conns)
{
    while (srv->nfree_links > keep_links) {
        struct fy_link *l = srv->free_links;
        list_unlink(&srv->free_links, l);
        srv->nfree_links--;
        free(l);
    }
    while (srv->nfree_conns > keep_conns) {
        struct fy_conn *c = srv->free_conns;
        srv->free_conns = c->next;
        srv->nfree_conns--;
        srv->nconn_buffers--;
        free(c);
    }
}

/* --- accepting ------------------------------------------------------------ */

/* Over max-connections: a fast, complete answer beats a silent stall. */
static void refuse(struct fy_server *srv, int fd)
{
    char buf[512];
    struct fy_buf b = {.p = buf, .cap = sizeof buf};
    fy_response_error(&b, 503, fy_server_date(srv), "Retry-After: 1\r\n", false, 1, false);
    ssize_t n = send(fd, buf, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    close(fd);
}

int fy_server_adopt(struct fy_server *srv, int fd, const struct sockaddr_storage *peer, bool tls, bool proxy)
{
    if (srv->nconns >= srv->cfg.max_connections) {
        fy_stats_add(srv->slot, FY_C_REFUSED, 1);
        if (tls)
            close(fd); /* a TLS client could not read a plain 503 */
        else
            refuse(srv, fd);
        return -1;
    }
    fy_stats_add(srv->slot, FY_C_ACCEPTED, 1);
    struct fy_link *c = link_take(srv);
    if (!c) {
        close(fd);
        return -1;
    }
    int err = fy_link_open(srv, c, fd, peer, tls, proxy);
    if (err) {
        fy_log(&srv->log, FY_LOG_ERROR, "cannot take a connection: %s", strerror(-err));
        close(fd);
        link_put(srv, c);
        return -1;
    }
    list_push(&srv->conns, c);
    srv->nconns++;
    if (!c->proxy_pending && !fy_server_count_peer(srv, c))
        fy_link_refuse(c); /* that address holds max-connections-per-ip already */
    return 0;
}

/* Out of descriptors: stop accepting for a moment instead of spinning on a
 * listening socket that stays readable. */
static void pause_accepting(struct fy_server *srv, int err)
{
    fy_log(&srv->log, FY_LOG_WARN, "accept: %s; pausing for %d ms", strerror(err), ACCEPT_RETRY_MS);
    srv->accept_paused = true;
    fy_timer_arm(&srv->loop, &srv->accept_retry_queue, &srv->accept_retry);
}

static void accept_all(struct fy_server *srv, struct fy_listener *l)
{
    while (!srv->accept_paused && !srv->closed) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(l->io.fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            fy_server_adopt(srv, fd, &peer, l->tls, l->proxy_protocol);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            pause_accepting(srv, errno);
        else if (errno != EAGAIN)
            fy_log(&srv->log, FY_LOG_ERROR, "accept: %s", strerror(errno));
        return;
    }
}

static void on_listener(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct fy_listener *l = container_of(io, struct fy_listener, io);
    accept_all(l->srv, l);
}

static void on_accept_retry(struct fy_timer *t)
{
    struct fy_server *srv = container_of(t, struct fy_server, accept_retry);
    srv->accept_paused = false;
    /* Edge-triggered: connections that queued meanwhile raise no new event. */
    for (size_t i = 0; i < srv->nlisteners; i++)
        accept_all(srv, &srv->listeners[i]);
}

/* Takes the sockets opened for this process (sockets.c).  One that other
 * workers share wakes one of them per connection, not all (EPOLLEXCLUSIVE).
 * They listen once the server is ready (start_listening). */
static int adopt_listeners(struct fy_server *srv, const struct fy_server_env *env, char *err, size_t errlen)
{
    srv->listeners = calloc(env->nlisten ? env->nlisten : 1, sizeof *srv->listeners);
    if (!srv->listeners) {
        snprintf(err, errlen, "listeners: out of memory");
        return -1;
    }
    for (size_t i = 0; i < env->nlisten; i++) {
        const struct fy_listen_fd *lf = &env->listen[i];
        struct fy_listener *l = &srv->listeners[srv->nlisteners++];
        *l = (struct fy_listener){.io = {.fd = lf->fd, .handler = on_listener}, .srv = srv, .tls = lf->tls,
                                  .proxy_protocol = lf->proxy_protocol};
        snprintf(l->text, sizeof l->text, "%s", lf->text);
        int rc = fy_loop_add(&srv->loop, &l->io, EPOLLIN | (lf->shared ? EPOLLEXCLUSIVE : 0));
        if (rc < 0) {
            snprintf(err, errlen, "listen %s: epoll: %s", lf->text, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

static void close_listeners(struct fy_server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        fy_loop_remove(&srv->loop, &srv->listeners[i].io);
        close(srv->listeners[i].io.fd);
    }
    srv->nlisteners = 0;
}

/* --- stopping ------------------------------------------------------------- */

static void close_all_conns(struct fy_server *srv)
{
    while (srv->conns)
        fy_link_close(srv->conns);
}

/* The connections drain: each one answers its next request with
 * "Connection: close", and one that stays silent is closed after
 * drain-idle-timeout (fy_link_shutdown); then the loop is left. */
static void drain_conns(struct fy_server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    for (struct fy_link *c = srv->conns, *next; c; c = next) {
        next = c->next;
        fy_link_shutdown(c);
    }
    if (srv->nconns == 0)
        fy_loop_stop(&srv->loop);
}

/* Stop accepting, let the connections finish, then leave the loop.
 *
 * The connections the kernel queued on a listening socket were promised an
 * answer, and closing the socket would reset them (unless it is shared, or
 * held by the master for the next workers): they are taken first.  Then no
 * connection is closed under a client that may be sending (drain_conns).
 *
 * `together`: ferry stops, and the sockets of its other workers close too.
 * A client whose connection drains connects again at once, and the kernel
 * may give that connection to a socket of this instance that is still
 * open: one of another worker that has not closed it yet.  That worker
 * takes what is queued before closing, but a connection that arrives in
 * the instant between its last accept and its close is reset (with
 * reuseport = join the client would get that reset instead of the other
 * instance).  So the drain waits until the master has heard from every
 * worker that its sockets are closed (FY_CTL_CLOSED, then FY_CTL_DRAIN):
 * until then the connections are served as before, with keep-alive, and
 * nothing sends a client to reconnect.  The shutdown deadline is armed
 * now: the whole stop stays bounded. */
static void begin_stop(struct fy_server *srv, bool together)
{
    if (!srv->closed) {
        for (size_t i = 0; i < srv->nlisteners; i++)
            accept_all(srv, &srv->listeners[i]);
        srv->closed = true;
        fy_log(&srv->log, srv->control.fd >= 0 ? FY_LOG_DEBUG : FY_LOG_INFO,
               "stopping: %u connection(s) to finish", srv->nconns);
        close_listeners(srv);
        fy_timer_arm(&srv->loop, &srv->shutdown_queue, &srv->shutdown_deadline);
        if (together && srv->control.fd >= 0 && fy_ctl_send(srv->control.fd, FY_CTL_CLOSED, NULL, NULL, 0) == 0)
            return; /* on_control drains on FY_CTL_DRAIN */
    }
    drain_conns(srv);
}

/* SIGTERM: the health check says 503 from now on; with drain-delay the
 * server goes on accepting and answering for that long (a load balancer
 * takes the replica out meanwhile), then stops.  A second signal does not
 * wait. */
static void begin_drain(struct fy_server *srv)
{
    if (srv->draining || srv->cfg.drain_delay_ms == 0) {
        srv->draining = true;
        begin_stop(srv, true);
        return;
    }
    srv->draining = true;
    fy_log(&srv->log, srv->control.fd >= 0 ? FY_LOG_DEBUG : FY_LOG_INFO,
           "draining: health check 503, stopping in %lld ms", (long long)srv->cfg.drain_delay_ms);
    fy_timer_arm(&srv->loop, &srv->drain_delay_queue, &srv->drain_delay);
}

static void on_drain_delay(struct fy_timer *t)
{
    begin_stop(container_of(t, struct fy_server, drain_delay), true);
}

static void on_shutdown_deadline(struct fy_timer *t)
{
    struct fy_server *srv = container_of(t, struct fy_server, shutdown_deadline);
    fy_log(&srv->log, FY_LOG_WARN, "stopping: closing %u connection(s) still busy", srv->nconns);
    close_all_conns(srv);
    fy_loop_stop(&srv->loop);
}

/* Serving alone (no master): SIGUSR1 reopens the logs here. */
static void reopen_logs(struct fy_server *srv)
{
    char err[FY_CONFIG_ERR_LEN];
    if (fy_log_reopen(&srv->log, &srv->cfg, err, sizeof err) < 0)
        fy_log(&srv->log, FY_LOG_ERROR, "reopening the logs: %s; writing to the old files", err);
    else
        fy_log(&srv->log, FY_LOG_INFO, "log files reopened");
}

static void on_signal(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct fy_server *srv = container_of(io, struct fy_server, signals);
    struct signalfd_siginfo si;
    while (read(io->fd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            begin_drain(srv);
        else if (si.ssi_signo == SIGUSR1)
            reopen_logs(srv);
        else if (si.ssi_signo == SIGHUP)
            fy_log(&srv->log, FY_LOG_WARN, "SIGHUP: reloading needs the master process "
                   "(ferry runs with -X); ignored");
    }
}

/* A worker leaves SIGHUP and SIGUSR1 to its master (they stay blocked). */
static int watch_signals(struct fy_server *srv, bool alone, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (alone) {
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGUSR1);
    }
    signal(SIGPIPE, SIG_IGN);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
        (srv->signals.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
        fy_loop_add(&srv->loop, &srv->signals, EPOLLIN) < 0) {
        snprintf(err, errlen, "signals: %s", strerror(errno));
        return -1;
    }
    srv->signals.handler = on_signal;
    return 0;
}

/* --- the master channel and the counters ------------------------------------ */

static void on_control(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct fy_server *srv = container_of(io, struct fy_server, control);
    struct fy_ctl_msg msg;
    int fds[FY_CTL_MAX_FDS];
    size_t nfds;
    for (;;) {
        int rc = fy_ctl_recv(io->fd, &msg, fds, &nfds);
        if (rc == -EAGAIN)
            return;
        if (rc <= 0) { /* the master is gone: nobody would respawn or stop us */
            fy_log(&srv->log, FY_LOG_WARN, "the master process is gone; stopping");
            fy_loop_remove(&srv->loop, io);
            close(io->fd);
            io->fd = -1;
            begin_stop(srv, false);
            return;
        }
        if (msg.type == FY_CTL_RETIRE) /* the master keeps the sockets for the new workers */
            begin_stop(srv, false);
        if (msg.type == FY_CTL_DRAIN)
            drain_conns(srv);
        if (msg.type == FY_CTL_LOGS)
            fy_log_replace(&srv->log, fds, nfds);
        else
            for (size_t i = 0; i < nfds; i++)
                close(fds[i]);
    }
}

/* Responses by status class, as the access log sees them. */
static void count_response(void *ctx, int status, uint64_t body_bytes)
{
    struct fy_server *srv = ctx;
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        return;
    fy_stats_add(srv->slot, (enum fy_counter)(FY_C_REQ_1XX + cls - 1), 1);
    fy_stats_add(srv->slot, (enum fy_counter)(FY_C_BYTES_1XX + cls - 1), body_bytes);
}

static void refresh_digest_stats(struct fy_server *srv)
{
    struct fy_stats_slot *slot = srv->slot;
    struct fy_digest_stats d;
    fy_digests_stats(&srv->digests, &d);
    fy_stats_set(slot, FY_C_DIGESTS_HASHED, d.hashed);
    fy_stats_set(slot, FY_C_DIGEST_BYTES, d.bytes_hashed);
    fy_stats_set(slot, FY_C_DIGESTS_FROM_XATTR, d.from_xattr);
    fy_stats_set(slot, FY_C_DIGESTS_XATTR_STORED, d.xattr_stored);
    fy_stats_set(slot, FY_C_DIGESTS_CHANGED, d.changed);
    fy_stats_set(slot, FY_C_DIGESTS_FAILED, d.failed);
    fy_stats_set(slot, FY_C_DIGESTS_EVICTED, d.evicted);
    fy_stats_gauge(slot, FY_G_DIGEST_ENTRIES, d.entries);
    fy_stats_gauge(slot, FY_G_DIGESTS_PENDING, d.pending);
}

void fy_server_refresh_stats(struct fy_server *srv)
{
    struct fy_stats_slot *slot = srv->slot;
    uint64_t reading = 0, writing = 0, idle = 0;
    for (const struct fy_link *c = srv->conns; c; c = c->next) {
        enum fy_link_activity a = fy_link_activity(c);
        idle += a == FY_LINK_IDLE;
        reading += a == FY_LINK_READS;
        writing += a == FY_LINK_WRITES;
    }
    fy_stats_gauge(slot, FY_G_ACTIVE, srv->nconns);
    fy_stats_gauge(slot, FY_G_READING, reading);
    fy_stats_gauge(slot, FY_G_WRITING, writing);
    fy_stats_gauge(slot, FY_G_IDLE, idle);
    fy_stats_gauge(slot, FY_G_REQ_BUFFERS, srv->nconn_buffers);
    fy_stats_gauge(slot, FY_G_REQ_BUFFERS_FREE, srv->nfree_conns);
    fy_stats_gauge(slot, FY_G_REQ_BUFFER_BYTES, (uint64_t)srv->nconn_buffers * fy_conn_size(&srv->cfg));
    const struct fy_body_cache *bc = &srv->sites.cache.bodies;
    fy_stats_set(slot, FY_C_BODY_HITS, bc->hits);
    fy_stats_set(slot, FY_C_BODY_FILLS, bc->fills);
    fy_stats_set(slot, FY_C_BODY_EVICTIONS, bc->evictions);
    fy_stats_gauge(slot, FY_G_BODY_ENTRIES, bc->count);
    fy_stats_gauge(slot, FY_G_BODY_BYTES, bc->bytes);
    struct fy_backend_stats b = {0};
    if (srv->backend && srv->backend->ops->stats)
        srv->backend->ops->stats(srv->backend, &b);
    fy_stats_set(slot, FY_C_READS_SUBMITTED, b.reads_submitted);
    fy_stats_set(slot, FY_C_READS_COMPLETED, b.reads_completed);
    fy_stats_set(slot, FY_C_BYTES_READ, b.bytes_read);
    fy_stats_set(slot, FY_C_SHORT_READS, b.short_reads);
    fy_stats_set(slot, FY_C_READ_ERRORS, b.read_errors);
    fy_stats_set(slot, FY_C_PLAIN_FILES, b.plain_files);
    fy_stats_set(slot, FY_C_CACHED_BLOCKS, b.cached_blocks);
    fy_stats_set(slot, FY_C_LOOKUPS, b.lookups);
    fy_stats_gauge(slot, FY_G_READS_IN_FLIGHT, b.reads_in_flight);
    fy_stats_gauge(slot, FY_G_QUEUED, b.queued);
    fy_stats_gauge(slot, FY_G_POOL_BUFFERS, b.pool_buffers);
    fy_stats_gauge(slot, FY_G_POOL_FREE, b.pool_free);
    fy_stats_gauge(slot, FY_G_BUFFER_SIZE, b.buffer_size);
    fy_stats_gauge(slot, FY_G_POOL_RESIDENT, b.pool_resident);
    for (int e = 0; e < FY_NENGINES; e++)
        fy_stats_gauge(slot, FY_G_ENGINE + e, srv->backend && srv->backend->ops->engine == (enum fy_engine)e);
    refresh_digest_stats(srv);
}

static void on_tick(struct fy_timer *t)
{
    struct fy_server *srv = container_of(t, struct fy_server, tick);
    fy_log_flush(&srv->log);
    fy_server_refresh_stats(srv);
    /* Here, not only on a lookup of the same name: a file deleted or
     * rotated away would otherwise keep its disk space held. */
    fy_file_cache_expire(&srv->sites.cache, srv->loop.now_ms);
    trim_spares(srv, SPARE_LINKS, SPARE_CONNS);
    if (srv->control.fd < 0 && srv->tls.tickets) /* alone: no master rotates them */
        fy_tls_tickets_tick(srv->tls.tickets, srv->loop.now_ms / 1000);
    fy_timer_arm(&srv->loop, &srv->tick_queue, &srv->tick);
}

/* --- start and run -------------------------------------------------------- */

static void init_timers(struct fy_server *srv)
{
    struct fy_loop *loop = &srv->loop;
    const struct fy_config *cfg = &srv->cfg;
    fy_timer_queue_init(loop, &srv->header_timeouts, cfg->header_timeout_ms);
    fy_timer_queue_init(loop, &srv->keepalive_timeouts, cfg->keepalive_timeout_ms);
    fy_timer_queue_init(loop, &srv->write_timeouts, cfg->write_timeout_ms);
    fy_timer_queue_init(loop, &srv->linger_timeouts, LINGER_MS);
    fy_timer_queue_init(loop, &srv->handshake_timeouts, cfg->tls_handshake_timeout_ms);
    fy_timer_queue_init(loop, &srv->accept_retry_queue, ACCEPT_RETRY_MS);
    fy_timer_queue_init(loop, &srv->shutdown_queue, cfg->shutdown_timeout_ms);
    fy_timer_queue_init(loop, &srv->drain_timeouts, cfg->drain_idle_timeout_ms);
    fy_timer_queue_init(loop, &srv->rate_ticks, FY_RATE_TICK_MS);
    fy_timer_queue_init(loop, &srv->drain_delay_queue, cfg->drain_delay_ms ? cfg->drain_delay_ms : 1);
    srv->drain_delay.handler = on_drain_delay;
    fy_timer_queue_init(loop, &srv->tick_queue, TICK_MS);
    srv->accept_retry.handler = on_accept_retry;
    srv->shutdown_deadline.handler = on_shutdown_deadline;
    srv->tick.handler = on_tick;
    fy_timer_arm(loop, &srv->tick_queue, &srv->tick);
}

static int open_docroot(struct fy_server *srv, char *err, size_t errlen)
{
    return fy_sites_open(&srv->sites, &srv->cfg, &srv->mime, err, errlen);
}

static int open_per_ip(struct fy_server *srv, char *err, size_t errlen)
{
    if (srv->cfg.max_connections_per_ip == 0)
        return 0;
    if (fy_per_ip_init(&srv->per_ip, srv->cfg.max_connections) < 0) {
        snprintf(err, errlen, "max-connections-per-ip: out of memory");
        return -1;
    }
    return 0;
}

static int open_digests(struct fy_server *srv, char *err, size_t errlen)
{
    int rc = fy_digests_init(&srv->digests, &srv->loop, &srv->log, srv->cfg.digest_cache_size);
    if (rc < 0)
        snprintf(err, errlen, "digest cache: %s", strerror(-rc));
    return rc < 0 ? -1 : 0;
}

/* Connections and cached files each hold a descriptor: take all the
 * kernel allows this process, as nginx's worker_rlimit_nofile would. */
static void raise_fd_limit(struct fy_server *srv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fy_log(&srv->log, FY_LOG_WARN, "cannot raise the file descriptor limit: %s", strerror(errno));
    }
}

static int open_mime(struct fy_server *srv, char *err, size_t errlen)
{
    const char *file = srv->cfg.mime_types_file;
    bool builtin_only = file[0] == '\0' || strcmp(file, "off") == 0;
    /* The default file may be absent on a minimal system; one named by the
     * administrator may not. */
    bool optional = strcmp(file, "/etc/mime.types") == 0;
    return fy_mime_load(&srv->mime, builtin_only ? NULL : file, optional, err, errlen);
}

/* The port of the first TLS listener: where redirect-to-https sends. */
static int first_tls_port(const struct fy_config *cfg)
{
    for (size_t i = 0; i < cfg->nlisten; i++) {
        if (!cfg->listen[i].tls)
            continue;
        const struct sockaddr_storage *a = &cfg->listen[i].addr;
        return ntohs(a->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)a)->sin6_port
                                              : ((const struct sockaddr_in *)a)->sin_port);
    }
    return 0;
}

static int open_tls(struct fy_server *srv, const struct fy_server_env *env, char *err, size_t errlen)
{
    srv->tls_port = first_tls_port(&srv->cfg);
    bool tls_listener = false;
    for (size_t i = 0; i < srv->nlisteners; i++)
        tls_listener |= srv->listeners[i].tls;
    if (tls_listener && (!env->tls || !env->tls->any)) {
        snprintf(err, errlen, "a listener is TLS, but no certificate was loaded");
        return -1;
    }
    return fy_tls_init(&srv->tls, &srv->cfg, env->tls, env->tickets, err, errlen);
}

static int open_backend(struct fy_server *srv, char *err, size_t errlen)
{
    const struct fy_backend_ops *ops = fy_backend_find(srv->cfg.backend);
    if (!ops) {
        snprintf(err, errlen, "unknown backend \"%s\"", srv->cfg.backend);
        return -1;
    }
    srv->backend = ops->create(&srv->loop, &srv->cfg, &srv->log, err, errlen);
    return srv->backend ? 0 : -1;
}

/* The chroot leaves /proc behind, which the asynchronous backends use to
 * reopen a file for O_DIRECT (/proc/self/fd). */
static int check_chroot(struct fy_server *srv, char *err, size_t errlen)
{
    if (!srv->cfg.chroot_dir[0] || !srv->backend->ops->stats || access("/proc/self/fd", X_OK) == 0)
        return 0;
    snprintf(err, errlen, "chroot %s: the %s backend needs /proc inside it (mount proc at %s/proc, "
             "or use backend = sendfile)", srv->cfg.chroot_dir, srv->cfg.backend, srv->cfg.chroot_dir);
    return -1;
}

/* Serving as someone else from now on; a worker should not outlive its
 * master (set after the drop, which clears it). */
static int drop_privileges(struct fy_server *srv, const struct fy_server_env *env, char *err, size_t errlen)
{
    if (fy_privileges_apply(env->identity, srv->cfg.chroot_dir, err, errlen) < 0 || check_chroot(srv, err, errlen) < 0)
        return -1;
    if (env->control >= 0)
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    return 0;
}

static int watch_control(struct fy_server *srv, char *err, size_t errlen)
{
    if (srv->control.fd < 0)
        return 0;
    int rc = fy_loop_add(&srv->loop, &srv->control, EPOLLIN | EPOLLRDHUP);
    if (rc < 0)
        snprintf(err, errlen, "control channel: epoll: %s", strerror(-rc));
    return rc < 0 ? -1 : 0;
}

/* Bound sockets become listening ones (already listening: no change but
 * the backlog): from now on a connection the kernel accepts is served. */
static int start_listening(struct fy_server *srv, char *err, size_t errlen)
{
    for (size_t i = 0; i < srv->nlisteners; i++) {
        if (listen(srv->listeners[i].io.fd, FY_LISTEN_BACKLOG) < 0) {
            snprintf(err, errlen, "listen %s: %s", srv->listeners[i].text, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* After the privileges are dropped: its directory belongs to whom serves.
 * Compression is an optimisation: without it, files go as they are. */
static void start_compressor(struct fy_server *srv)
{
    char err[512];
    srv->compressor = fy_compressor_start(&srv->cfg, &srv->loop, &srv->log, srv->slot, err, sizeof err);
    if (!srv->compressor && err[0])
        fy_log(&srv->log, FY_LOG_WARN, "compress: %s; files are sent uncompressed", err);
}

static void give_up_listeners(const struct fy_server_env *env)
{
    for (size_t i = 0; i < env->nlisten; i++)
        close(env->listen[i].fd);
}

int fy_server_check(const struct fy_config *cfg, char *err, size_t errlen)
{
    struct fy_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    srv->cfg = *cfg;
    struct stat st;
    int rc = open_mime(srv, err, errlen) || open_docroot(srv, err, errlen) ? -1 : 0;
    if (rc == 0 && cfg->chroot_dir[0] && (stat(cfg->chroot_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
        snprintf(err, errlen, "chroot %s: %s", cfg->chroot_dir, errno ? strerror(errno) : "not a directory");
        rc = -1;
    }
    fy_sites_close(&srv->sites);
    fy_mime_free(&srv->mime);
    free(srv);
    return rc;
}

int fy_server_start(struct fy_server *srv, const struct fy_config *cfg, const struct fy_server_env *env,
                    char *err, size_t errlen)
{
    *srv = (struct fy_server){.cfg = *cfg, .signals = {.fd = -1}, .log = *env->log,
                              .control = {.fd = env->control, .handler = on_control},
                              .stats = env->stats, .slot = &env->stats->slot[env->stats_slot]};
    *env->log = (struct fy_log){.error_fd = -1, .access_fd = -1};
    srv->cfg.aio_pool_may_wait = env->others_hold_pools;
    srv->cfg.aio_pool_sharers = env->workers ? env->workers : 1;
    srv->log.observe = count_response;
    srv->log.observe_ctx = srv;
    int rc = fy_loop_init(&srv->loop);
    if (rc < 0) {
        give_up_listeners(env);
        snprintf(err, errlen, "epoll: %s", strerror(-rc));
        return -1;
    }
    srv->loop.turn_budget = srv->cfg.send_chunk_size;
    if (adopt_listeners(srv, env, err, errlen) < 0)
        return -1;
    init_timers(srv);
    raise_fd_limit(srv);
    /* The user files are read before privileges drop: they may be root's. */
    if (open_tls(srv, env, err, errlen) || open_mime(srv, err, errlen) || open_docroot(srv, err, errlen) ||
        open_digests(srv, err, errlen) || open_per_ip(srv, err, errlen) || open_backend(srv, err, errlen) ||
        fy_auth_open(&srv->auth, &srv->cfg, &srv->loop, &srv->log, srv->slot, err, errlen) ||
        watch_signals(srv, env->control < 0, err, errlen) || watch_control(srv, err, errlen) ||
        drop_privileges(srv, env, err, errlen) || start_listening(srv, err, errlen)) {
        srv->log.level = FY_LOG_ERROR; /* the caller says the one line that matters, not the teardown */
        return -1;
    }
    start_compressor(srv);
    fy_server_refresh_stats(srv);
    return 0;
}

int fy_server_run(struct fy_server *srv)
{
    /* A worker's master says it once for all. */
    enum fy_log_level level = srv->control.fd >= 0 ? FY_LOG_DEBUG : FY_LOG_INFO;
    for (size_t i = 0; i < srv->nlisteners; i++)
        fy_log(&srv->log, level, "listening on %s://%s/ (backend %s, docroot %s)",
               srv->listeners[i].tls ? "https" : "http", srv->listeners[i].text, srv->cfg.backend, srv->cfg.docroot);
    if (srv->control.fd < 0)
        fy_auth_warn(&srv->cfg, &srv->log);
    int rc = fy_loop_run(&srv->loop);
    if (rc < 0)
        fy_log(&srv->log, FY_LOG_ERROR, "event loop: %s", strerror(-rc));
    fy_log(&srv->log, srv->control.fd >= 0 ? FY_LOG_DEBUG : FY_LOG_INFO, "stopped");
    fy_server_refresh_stats(srv);
    return rc < 0 ? -1 : 0;
}

void fy_server_free(struct fy_server *srv)
{
    close_all_conns(srv);
    fy_compressor_stop(srv->compressor);
    srv->compressor = NULL;
    close_listeners(srv);
    trim_spares(srv, 0, 0);
    fy_auth_close(srv->auth); /* after the connections: they wait on its checks */
    srv->auth = NULL;
    if (srv->backend)
        srv->backend->ops->destroy(srv->backend);
    srv->backend = NULL;
    fy_digests_free(&srv->digests);
    fy_per_ip_free(&srv->per_ip);
    fy_sites_close(&srv->sites);
    fy_tls_free(&srv->tls);
    fy_mime_free(&srv->mime);
    if (srv->signals.fd >= 0)
        close(srv->signals.fd);
    if (srv->control.fd >= 0)
        close(srv->control.fd);
    free(srv->listeners);
    srv->listeners = NULL;
    fy_log_close(&srv->log);
    fy_loop_close(&srv->loop);
}
