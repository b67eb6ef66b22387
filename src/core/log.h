/* The error log (levels, one line per message) and the access log (the
 * combined log format, buffered in memory, written when the buffer fills,
 * at least once a second, and on exit). */
#ifndef FY_LOG_H
#define FY_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "core/config.h"
#include "http/http_parse.h"

#define FY_ACCESS_LOG_BUFFER (64 * 1024)

struct fy_log {
    int error_fd;                /* -1: none */
    enum fy_log_level level;
    int access_fd;               /* -1: access log off */
    size_t access_len;
    char *access_buf;            /* FY_ACCESS_LOG_BUFFER bytes */
    time_t stamp_second;         /* the second access_stamp describes */
    char access_stamp[32];       /* "10/Oct/2000:13:55:36 +0000" */
    /* Told of every finished response, access log or not (the status
     * counters); NULL: nobody listens. */
    void (*observe)(void *ctx, int status, uint64_t body_bytes);
    void *observe_ctx;
};

/* Opens the logs named in cfg.  Returns 0, or -1 with a message in err. */
int  fy_log_open(struct fy_log *log, const struct fy_config *cfg, char *err, size_t errlen);
void fy_log_close(struct fy_log *log);

/* Opens the files of cfg anew (logrotate moved them) and puts them in place
 * of the old ones, keeping the descriptor numbers; "stderr" stays.  On
 * failure nothing changes.  Returns 0, or -1 with a message in err. */
int  fy_log_reopen(struct fy_log *log, const struct fy_config *cfg, char *err, size_t errlen);

/* The same with files another process opened: fds[0] for the error log,
 * fds[1] (if nfds > 1) for the access log.  Takes the descriptors. */
void fy_log_replace(struct fy_log *log, const int *fds, size_t nfds);

void fy_log(struct fy_log *log, enum fy_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct fy_access_entry {
    const struct sockaddr_storage *peer;
    const struct fy_request *req;  /* NULL when no request line was parsed */
    int status;
    uint64_t body_bytes;
    const char *user;              /* the user auth-basic let in, or NULL */
};

void fy_log_access(struct fy_log *log, const struct fy_access_entry *e);
void fy_log_flush(struct fy_log *log);

#endif
