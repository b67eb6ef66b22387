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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "http/conn.h"

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

static void list_push(struct fy_conn **head, struct fy_conn *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void list_unlink(struct fy_conn **head, struct fy_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static struct fy_conn *conn_take(struct fy_server *srv)
{
    struct fy_conn *c = srv->free_conns;
    if (c)
        list_unlink(&srv->free_conns, c);
    else
        c = calloc(1, sizeof *c);
    return c;
}

void fy_server_conn_closed(struct fy_server *srv, struct fy_conn *c)
{
    list_unlink(&srv->conns, c);
    list_push(&srv->free_conns, c);
    srv->nconns--;
    if (srv->stopping && srv->nconns == 0)
        fy_loop_stop(&srv->loop);
}

static void free_conn_list(struct fy_conn *c)
{
    while (c) {
        struct fy_conn *next = c->next;
        free(c->rbuf);
        free(c->wbuf);
        free(c);
        c = next;
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

static void admit(struct fy_server *srv, int fd, const struct sockaddr_storage *peer)
{
    if (srv->nconns >= srv->cfg.max_connections) {
        refuse(srv, fd);
        return;
    }
    struct fy_conn *c = conn_take(srv);
    if (!c) {
        close(fd);
        return;
    }
    int err = fy_conn_open(srv, c, fd, peer);
    if (err) {
        fy_log(&srv->log, FY_LOG_ERROR, "cannot take a connection: %s", strerror(-err));
        close(fd);
        list_push(&srv->free_conns, c);
        return;
    }
    list_push(&srv->conns, c);
    srv->nconns++;
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
    while (!srv->accept_paused && !srv->stopping) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        int fd = accept4(l->io.fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            admit(srv, fd, &peer);
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

static int listen_on(struct fy_server *srv, const struct fy_listen *addr, char *err, size_t errlen)
{
    int fd = socket(addr->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "listen %s: socket: %s", addr->text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&addr->addr, addr->addrlen) < 0 || listen(fd, 4096) < 0) {
        snprintf(err, errlen, "listen %s: %s", addr->text, strerror(errno));
        close(fd);
        return -1;
    }
    struct fy_listener *l = &srv->listeners[srv->nlisteners];
    *l = (struct fy_listener){.io = {.fd = fd, .handler = on_listener}, .srv = srv};
    if (fy_loop_add(&srv->loop, &l->io, EPOLLIN) < 0) {
        snprintf(err, errlen, "listen %s: epoll: %s", addr->text, strerror(errno));
        close(fd);
        return -1;
    }
    srv->nlisteners++;
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
        fy_conn_close(srv->conns);
}

/* Stop accepting, let responses in flight finish, then leave the loop. */
static void begin_stop(struct fy_server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    fy_log(&srv->log, FY_LOG_INFO, "stopping: %u connection(s) to finish", srv->nconns);
    close_listeners(srv);
    for (struct fy_conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        fy_conn_shutdown(c);
    }
    if (srv->nconns == 0)
        fy_loop_stop(&srv->loop);
    else
        fy_timer_arm(&srv->loop, &srv->shutdown_queue, &srv->shutdown_deadline);
}

static void on_shutdown_deadline(struct fy_timer *t)
{
    struct fy_server *srv = container_of(t, struct fy_server, shutdown_deadline);
    fy_log(&srv->log, FY_LOG_WARN, "stopping: closing %u connection(s) still busy", srv->nconns);
    close_all_conns(srv);
    fy_loop_stop(&srv->loop);
}

static void on_signal(struct fy_io *io, uint32_t events)
{
    (void)events;
    struct fy_server *srv = container_of(io, struct fy_server, signals);
    struct signalfd_siginfo si;
    while (read(io->fd, &si, sizeof si) == sizeof si)
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            begin_stop(srv);
}

static int watch_signals(struct fy_server *srv, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
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

static void on_tick(struct fy_timer *t)
{
    struct fy_server *srv = container_of(t, struct fy_server, tick);
    fy_log_flush(&srv->log);
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
    fy_timer_queue_init(loop, &srv->accept_retry_queue, ACCEPT_RETRY_MS);
    fy_timer_queue_init(loop, &srv->shutdown_queue, cfg->shutdown_timeout_ms);
    fy_timer_queue_init(loop, &srv->tick_queue, TICK_MS);
    srv->accept_retry.handler = on_accept_retry;
    srv->shutdown_deadline.handler = on_shutdown_deadline;
    srv->tick.handler = on_tick;
    fy_timer_arm(loop, &srv->tick_queue, &srv->tick);
}

static int open_docroot(struct fy_server *srv, char *err, size_t errlen)
{
    const struct fy_config *cfg = &srv->cfg;
    struct fy_docroot *root = &srv->root;
    root->index = cfg->index_files;
    root->nindex = cfg->nindex;
    root->mime = &srv->mime;
    root->fd = open(cfg->docroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root->fd < 0) {
        snprintf(err, errlen, "docroot %s: %s", cfg->docroot, strerror(errno));
        return -1;
    }
    if (fy_file_cache_init(&root->cache, cfg->open_file_cache_size, cfg->open_file_cache_ttl_ms)) {
        snprintf(err, errlen, "open-file cache: out of memory");
        return -1;
    }
    return 0;
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

int fy_server_start(struct fy_server *srv, const struct fy_config *cfg, char *err, size_t errlen)
{
    *srv = (struct fy_server){.cfg = *cfg, .root = {.fd = -1}, .signals = {.fd = -1}, .log = {.error_fd = -1, .access_fd = -1}};
    int rc = fy_loop_init(&srv->loop);
    if (rc < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(-rc));
        return -1;
    }
    init_timers(srv);
    if (fy_log_open(&srv->log, &srv->cfg, err, errlen))
        return -1;
    raise_fd_limit(srv);
    if (open_mime(srv, err, errlen) || open_docroot(srv, err, errlen) || open_backend(srv, err, errlen) || watch_signals(srv, err, errlen))
        return -1;
    for (size_t i = 0; i < cfg->nlisten; i++)
        if (listen_on(srv, &cfg->listen[i], err, errlen))
            return -1;
    return 0;
}

int fy_server_run(struct fy_server *srv)
{
    for (size_t i = 0; i < srv->nlisteners; i++)
        fy_log(&srv->log, FY_LOG_INFO, "listening on http://%s/ (backend %s, docroot %s)",
               srv->cfg.listen[i].text, srv->cfg.backend, srv->cfg.docroot);
    int rc = fy_loop_run(&srv->loop);
    if (rc < 0)
        fy_log(&srv->log, FY_LOG_ERROR, "event loop: %s", strerror(-rc));
    fy_log(&srv->log, FY_LOG_INFO, "stopped");
    return rc < 0 ? -1 : 0;
}

void fy_server_free(struct fy_server *srv)
{
    close_all_conns(srv);
    close_listeners(srv);
    free_conn_list(srv->free_conns);
    srv->free_conns = NULL;
    if (srv->backend)
        srv->backend->ops->destroy(srv->backend);
    srv->backend = NULL;
    fy_file_cache_free(&srv->root.cache);
    fy_mime_free(&srv->mime);
    if (srv->root.fd >= 0)
        close(srv->root.fd);
    if (srv->signals.fd >= 0)
        close(srv->signals.fd);
    fy_log_close(&srv->log);
    fy_loop_close(&srv->loop);
}
