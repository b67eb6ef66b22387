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
#include "core/per_ip.h"
#include "core/privileges.h"
#include "core/sockets.h"
#include "core/stats.h"
#include "event/loop.h"
#include "file/digest.h"
#include "file/mime.h"
#include "file/site.h"
#include "http/http_response.h"
#include "net/tls.h"

struct fy_auth;
struct fy_compressor;
struct fy_conn;
struct fy_link;
struct fy_server;

struct fy_listener {
    struct fy_io io;
    struct fy_server *srv;
    char text[64];               /* its address, for messages */
    bool tls;                    /* its connections speak TLS */
    bool proxy_protocol;         /* they start with a PROXY header (before TLS, when both) */
};

struct fy_server {
    struct fy_config cfg;
    struct fy_loop loop;
    struct fy_log log;
    struct fy_mime_table mime;
    struct fy_backend *backend;
    struct fy_sites sites;       /* the docroots of every host, and their aliases */
    struct fy_tls tls;           /* the TLS engine, when a listener is TLS */
    int tls_port;                /* redirect-to-https goes there (0: 443) */
    struct fy_auth *auth;        /* auth-basic: user files, password checker; NULL: none asked */
    struct fy_compressor *compressor; /* compress: copies made off the loop; NULL when unused */
    struct fy_digests digests;   /* files' SHA-256, computed off the loop */

    struct fy_listener *listeners; /* the sockets handed to this process */
    size_t nlisteners;
    bool accept_paused;          /* out of fds: retry when the timer fires */
    int spare_fd;                /* given up on EMFILE to accept-and-close */
    struct fy_timer accept_retry;
    struct fy_timer_queue accept_retry_queue;

    struct fy_io signals;        /* a signalfd for SIGTERM, SIGINT (alone: SIGHUP, SIGUSR1) */
    struct fy_io control;        /* a worker's channel to its master; fd -1 when alone */
    bool draining;               /* told to stop: health-path says 503 (drain-delay, then stopping) */
    bool closed;                 /* stopping: the listeners are closed (the drain may wait for the master) */
    bool stopping;               /* graceful shutdown under way: connections drain */
    struct fy_timer drain_delay;
    struct fy_timer_queue drain_delay_queue;
    struct fy_timer shutdown_deadline;
    struct fy_timer_queue shutdown_queue;

    /* Once a second: flush the access log, refresh the gauges, close the
     * cached files whose ttl has passed. */
    struct fy_timer tick;
    struct fy_timer_queue tick_queue;

    /* Connection timeouts; a connection's timer sits in one of these.
     * drain_timeouts: stopping, how long an idle connection may stay silent. */
    struct fy_timer_queue header_timeouts, keepalive_timeouts, write_timeouts, linger_timeouts,
                          handshake_timeouts, drain_timeouts;
    struct fy_timer_queue rate_ticks;  /* responses paused by limit-rate */
    struct fy_per_ip per_ip;     /* connections per client address (max-connections-per-ip) */

    unsigned nconns;
    struct fy_link *conns;       /* active connections, doubly linked */
    struct fy_link *free_links;  /* closed ones, for the next to come (up to a few; see on_tick) */
    unsigned nfree_links;
    struct fy_conn *free_conns;  /* request buffers no connection uses now (up to a few) */
    unsigned nfree_conns;
    unsigned nconn_buffers;      /* allocated: the ones in use and the free ones */

    struct fy_stats_shm *stats;  /* the counters every process shares */
    struct fy_stats_slot *slot;  /* this process's */

    time_t date_second;
    char date[FY_HTTP_DATE_LEN + 1]; /* the Date header, refreshed each second */
};

/* What the process that starts a server has opened for it already. */
struct fy_server_env {
    const struct fy_listen_fd *listen; /* the sockets to accept on; the server takes them */
    size_t nlisten;
    struct fy_log *log;          /* the open logs; moved into the server */
    const struct fy_identity *identity; /* who to serve as */
    struct fy_stats_shm *stats;
    int stats_slot;
    int control;                 /* a worker's channel to its master (the server takes it), or -1 */
    bool others_hold_pools;      /* workers of another generation still run (see aio_pool_may_wait) */
    unsigned workers;            /* this generation's serving processes (see aio_pool_sharers); 0: 1 */
    const struct fy_tls_contexts *tls; /* the certificates, loaded before privileges drop; may be NULL */
    struct fy_tls_tickets *tickets;    /* session-ticket keys shared by every process; may be NULL */
};

/* Opens what else cfg names (docroots, MIME table, backend), then enters
 * the chroot and drops privileges.  Returns 0, or -1 with a one-line
 * message in err. */
int  fy_server_start(struct fy_server *srv, const struct fy_config *cfg, const struct fy_server_env *env,
                     char *err, size_t errlen);

/* For -t: opens what fy_server_start would open of cfg's files (the MIME
 * table, every docroot and alias directory, the chroot directory) and
 * closes it again.  Returns 0, or -1 with start's one-line message. */
int  fy_server_check(const struct fy_config *cfg, char *err, size_t errlen);

/* The accept path from the accepted socket on: fd (non-blocking) becomes
 * a connection of the server, as if accepted from `peer` on a listener
 * that is `tls` / `proxy` (PROXY protocol), under the same limits
 * (max-connections, max-connections-per-ip).  The server owns fd from now
 * on: it is closed when refused or on failure.  Returns 0 when it became
 * a connection (it may still be answered 503 and closed by the limit per
 * address), -1 when refused or failed.  Tests and harnesses use it to hand
 * the server one end of a socketpair (tests/fuzz/fuzz_h2.c). */
int  fy_server_adopt(struct fy_server *srv, int fd, const struct sockaddr_storage *peer, bool tls, bool proxy);

/* Serves until SIGTERM/SIGINT and the graceful stop that follows. */
int  fy_server_run(struct fy_server *srv);
void fy_server_free(struct fy_server *srv);

/* Writes this process's gauges and backend counters to its stats slot
 * (once a second, and before a status page is made). */
void fy_server_refresh_stats(struct fy_server *srv);

/* The cached Date header value for now. */
const char *fy_server_date(struct fy_server *srv);

/* The connection pool, used by the accept path and by link.c.  What a
 * connection gives back stays readable until the next tick. */
void fy_server_conn_closed(struct fy_server *srv, struct fy_link *l);
/* A fy_conn with its buffers for a connection that has bytes to read
 * (NULL: out of memory); and back when the connection has none. */
struct fy_conn *fy_server_take_conn(struct fy_server *srv);
void fy_server_put_conn(struct fy_server *srv, struct fy_conn *c);

/* max-connections-per-ip: counts l under its peer; false (counted as
 * refused) when the address holds the most already.  For a connection
 * whose peer the PROXY header has just named, from link.c. */
bool fy_server_count_peer(struct fy_server *srv, struct fy_link *l);

#endif
