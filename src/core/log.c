/* Error and access logs; see log.h. */
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static int log_open_target(const char *target, char *err, size_t errlen)
{
    if (strcmp(target, "stderr") == 0)
        return dup(STDERR_FILENO);
    int fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        snprintf(err, errlen, "%s: %s", target, strerror(errno));
    return fd;
}

int fy_log_open(struct fy_log *log, const struct fy_config *cfg, char *err, size_t errlen)
{
    *log = (struct fy_log){.error_fd = -1, .access_fd = -1, .level = cfg->log_level};
    log->error_fd = log_open_target(cfg->error_log, err, errlen);
    if (log->error_fd < 0)
        return -1;
    if (cfg->access_log[0] == '\0' || strcmp(cfg->access_log, "off") == 0)
        return 0;
    log->access_buf = malloc(FY_ACCESS_LOG_BUFFER);
    if (!log->access_buf) {
        snprintf(err, errlen, "access log: out of memory");
        fy_log_close(log);
        return -1;
    }
    log->access_fd = log_open_target(cfg->access_log, err, errlen);
    if (log->access_fd < 0) {
        fy_log_close(log);
        return -1;
    }
    return 0;
}

void fy_log_close(struct fy_log *log)
{
    fy_log_flush(log);
    if (log->access_fd >= 0)
        close(log->access_fd);
    if (log->error_fd >= 0)
        close(log->error_fd);
    free(log->access_buf);
    *log = (struct fy_log){.error_fd = -1, .access_fd = -1};
}

/* Puts fd in place of *slot (same number), closing fd. */
static void replace_fd(int *slot, int fd)
{
    if (fd < 0)
        return;
    if (*slot < 0 || dup3(fd, *slot, O_CLOEXEC) < 0) {
        close(fd);
        return;
    }
    close(fd);
}

static bool is_file_target(const char *target)
{
    return strcmp(target, "stderr") != 0 && strcmp(target, "off") != 0 && target[0] != '\0';
}

int fy_log_reopen(struct fy_log *log, const struct fy_config *cfg, char *err, size_t errlen)
{
    int fds[2] = {-1, -1};
    if (is_file_target(cfg->error_log) && (fds[0] = log_open_target(cfg->error_log, err, errlen)) < 0)
        return -1;
    if (log->access_fd >= 0 && is_file_target(cfg->access_log) &&
        (fds[1] = log_open_target(cfg->access_log, err, errlen)) < 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        return -1;
    }
    fy_log_flush(log);
    replace_fd(&log->error_fd, fds[0]);
    replace_fd(&log->access_fd, fds[1]);
    return 0;
}

void fy_log_replace(struct fy_log *log, const int *fds, size_t nfds)
{
    fy_log_flush(log); /* what was written before the rotation goes to the old file */
    if (nfds > 0)
        replace_fd(&log->error_fd, fds[0]);
    if (nfds > 1) {
        if (log->access_fd >= 0)
            replace_fd(&log->access_fd, fds[1]);
        else
            close(fds[1]);
    }
}

/* Writes everything, retrying short writes; a log that cannot be written
 * must not stop the server, so errors end the attempt quietly. */
static void write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

void fy_log(struct fy_log *log, enum fy_log_level level, const char *fmt, ...)
{
    if (level > log->level || log->error_fd < 0)
        return;
    char line[1024];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S ", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, "[%s] ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n = (m < 0) ? n : (n + (size_t)m < sizeof line - 1 ? n + (size_t)m : sizeof line - 2);
    line[n++] = '\n';
    write_all(log->error_fd, line, n);
}

void fy_log_flush(struct fy_log *log)
{
    if (log->access_fd >= 0 && log->access_len > 0)
        write_all(log->access_fd, log->access_buf, log->access_len);
    log->access_len = 0;
}

/* Room left in the access buffer, flushing first when a line might not fit. */
static void access_reserve(struct fy_log *log, size_t need)
{
    if (FY_ACCESS_LOG_BUFFER - log->access_len < need)
        fy_log_flush(log);
}

static void access_put(struct fy_log *log, const char *p, size_t len)
{
    memcpy(log->access_buf + log->access_len, p, len);
    log->access_len += len;
}

/* A line's fixed fields (address, user, time, status, bytes, quotes) fit
 * in this; the rest of the buffer is shared by the four client strings,
 * each cut at a quarter of it, so the line of any request fits. */
#define ACCESS_USER_MAX 255          /* FY_HTPASSWD_MAX_USER */
#define ACCESS_FIXED_MAX (256 + 4 * ACCESS_USER_MAX)
#define ACCESS_FIELD_MAX ((FY_ACCESS_LOG_BUFFER - ACCESS_FIXED_MAX) / 4)
#define ACCESS_CUT_MARK "...[truncated]"

/* The most of the buffer a client string takes: four bytes a byte when
 * every one is escaped (and the mark, should the last escape not fit),
 * never more than ACCESS_FIELD_MAX. */
static size_t access_field_room(struct fy_str s)
{
    if (s.len >= ACCESS_FIELD_MAX / 4)
        return ACCESS_FIELD_MAX;
    size_t room = 4 * s.len + (sizeof ACCESS_CUT_MARK - 1);
    return room < ACCESS_FIELD_MAX ? room : ACCESS_FIELD_MAX;
}

/* Client-supplied strings are escaped, so a request cannot forge log lines
 * or break the quoting.  One too long for its room is cut between escapes
 * and marked, so what is left still reads back. */
static void access_put_escaped(struct fy_log *log, struct fy_str s)
{
    static const char hex[] = "0123456789abcdef";
    size_t end = log->access_len + ACCESS_FIELD_MAX - (sizeof ACCESS_CUT_MARK - 1);
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.p[i];
        char *out = log->access_buf + log->access_len;
        bool escaped = ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\';
        if (log->access_len + (escaped ? 4 : 1) > end) {
            access_put(log, ACCESS_CUT_MARK, sizeof ACCESS_CUT_MARK - 1);
            return;
        }
        if (escaped) {
            out[0] = '\\';
            out[1] = 'x';
            out[2] = hex[ch >> 4];
            out[3] = hex[ch & 15];
            log->access_len += 4;
        } else {
            *out = (char)ch;
            log->access_len += 1;
        }
    }
}

/* The user field: a name from a user file (auth-basic), escaped like the
 * client strings, spaces too (the field is not quoted); "-" for none. */
static void access_put_user(struct fy_log *log, const char *user)
{
    static const char hex[] = "0123456789abcdef";
    if (!user || !user[0]) {
        access_put(log, "-", 1);
        return;
    }
    for (size_t i = 0; user[i] && i < ACCESS_USER_MAX; i++) {
        unsigned char ch = (unsigned char)user[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
            access_put(log, esc, 4);
        } else {
            access_put(log, (const char *)&ch, 1);
        }
    }
}

static void access_put_quoted_or_dash(struct fy_log *log, struct fy_str s)
{
    if (s.len == 0) {
        access_put(log, "\"-\"", 3);
        return;
    }
    access_put(log, "\"", 1);
    access_put_escaped(log, s);
    access_put(log, "\"", 1);
}

static void access_refresh_stamp(struct fy_log *log)
{
    time_t now = time(NULL);
    if (now == log->stamp_second)
        return;
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(log->access_stamp, sizeof log->access_stamp, "%d/%b/%Y:%H:%M:%S %z", &tm);
    log->stamp_second = now;
}

static void peer_text(const struct sockaddr_storage *peer, char *buf, size_t len)
{
    const void *addr = peer->ss_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)peer)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)peer)->sin_addr;
    if (!inet_ntop(peer->ss_family, addr, buf, (socklen_t)len))
        snprintf(buf, len, "-");
}

void fy_log_access(struct fy_log *log, const struct fy_access_entry *e)
{
    if (log->observe)
        log->observe(log->observe_ctx, e->status, e->body_bytes);
    if (log->access_fd < 0)
        return;
    const struct fy_request *r = e->req;
    struct fy_str none = {0};
    size_t need = ACCESS_FIXED_MAX;
    if (r)
        need += access_field_room(r->method_name) + access_field_room(r->target) +
                access_field_room(r->referer) + access_field_room(r->user_agent);
    access_reserve(log, need);
    access_refresh_stamp(log);

    char head[160];
    char addr[INET6_ADDRSTRLEN];
    peer_text(e->peer, addr, sizeof addr);
    access_put(log, addr, strlen(addr));
    access_put(log, " - ", 3);
    access_put_user(log, e->user);
    int n = snprintf(head, sizeof head, " [%s] \"", log->access_stamp);
    access_put(log, head, (size_t)n);
    if (r) {
        access_put_escaped(log, r->method_name);
        access_put(log, " ", 1);
        access_put_escaped(log, r->target);
        access_put(log, r->http2 ? " HTTP/2.0" : r->version_minor ? " HTTP/1.1" : " HTTP/1.0", 9);
    } else {
        access_put(log, "-", 1);
    }
    n = snprintf(head, sizeof head, "\" %d %llu ", e->status, (unsigned long long)e->body_bytes);
    access_put(log, head, (size_t)n);
    access_put_quoted_or_dash(log, r ? r->referer : none);
    access_put(log, " ", 1);
    access_put_quoted_or_dash(log, r ? r->user_agent : none);
    access_put(log, "\n", 1);
}
