/* The server: the one struct that holds all of a process's state — config,
 * loop, logs, listening sockets, the connection pool, the backend — and the
 * accept path with its limits.  No other mutable state exists. */
#ifndef FY_SERVER_H
#define FY_SERVER_H

#include <stdbool.h>
#include <time.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/log.h"
#include "event/loop.h"
#include "file/file.h"
#include "file/mime.h"
#include "http/http_response.h"

struct fy_conn;
struct fy_server;

struct fy_listener {
    struct fy_io io;
    struct fy_server *srv;
};

struct fy_server {
    struct fy_config cfg;
    struct fy_loop loop;
    struct fy_log log;
    struct fy_mime_table mime;
    struct fy_backend *backend;
    struct fy_docroot root;

    struct fy_listener listeners[FY_CONFIG_MAX_LISTEN];
    size_t nlisteners;
    bool accept_paused;          /* out of fds: retry when the timer fires */
    int spare_fd;                /* given up on EMFILE to accept-and-close */
    struct fy_timer accept_retry;
    struct fy_timer_queue accept_retry_queue;

    struct fy_io signals;        /* a signalfd for SIGTERM, SIGINT */
    bool stopping;               /* graceful shutdown under way */
    struct fy_timer shutdown_deadline;
    struct fy_timer_queue shutdown_queue;

    struct fy_timer tick;        /* once a second: flush the access log */
    struct fy_timer_queue tick_queue;

    /* Connection timeouts; a connection's timer sits in one of these. */
    struct fy_timer_queue header_timeouts, keepalive_timeouts, write_timeouts, linger_timeouts;

    unsigned nconns;
    struct fy_conn *conns;       /* active connections, doubly linked */
    struct fy_conn *free_conns;  /* closed ones, kept with their buffers */

    time_t date_second;
    char date[FY_HTTP_DATE_LEN + 1]; /* the Date header, refreshed each second */
};

/* Opens everything cfg names (docroot, logs, MIME table, backend, sockets).
 * Returns 0, or -1 with a one-line message in err. */
int  fy_server_start(struct fy_server *srv, const struct fy_config *cfg, char *err, size_t errlen);

/* Serves until SIGTERM/SIGINT and the graceful stop that follows. */
int  fy_server_run(struct fy_server *srv);
void fy_server_free(struct fy_server *srv);

/* The cached Date header value for now. */
const char *fy_server_date(struct fy_server *srv);

/* The connection pool, used by the accept path and by conn.c. */
void fy_server_conn_closed(struct fy_server *srv, struct fy_conn *c);

#endif
