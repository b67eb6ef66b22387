/* The table of network backends, by the name used in the config file. */
#include "backend/backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/transport.h"

static const struct fy_backend_ops *const backends[] = {
    &fy_backend_sendfile,
    &fy_backend_writev,
    &fy_backend_aio,
    &fy_backend_uring,
    &fy_backend_auto,
};

const struct fy_backend_ops *fy_backend_find(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

const char *fy_engine_name(enum fy_engine e)
{
    static const char *const names[FY_NENGINES] = {
        [FY_ENGINE_SENDFILE] = "sendfile", [FY_ENGINE_WRITEV] = "writev",
        [FY_ENGINE_LIBAIO] = "libaio", [FY_ENGINE_IO_URING] = "io_uring",
    };
    return (unsigned)e < FY_NENGINES ? names[e] : "none";
}

void fy_backend_names(char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i < sizeof backends / sizeof backends[0] && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", backends[i]->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* What a failed socket write (not EINTR) means for the transfer. */
static enum fy_send_result write_failed(struct fy_transfer *t)
{
    if (errno == EAGAIN)
        return FY_SEND_AGAIN;
    t->error = errno;
    return FY_SEND_ERROR;
}

enum fy_send_result fy_transfer_send_head(struct fy_transfer *t, bool more)
{
    while (t->head_len > 0) {
        struct iovec iov = {(void *)t->head, t->head_len};
        ssize_t n = fy_transport_writev(t->out, &iov, 1, more);
        if (n < 0)
            return write_failed(t);
        t->head += n;
        t->head_len -= (size_t)n;
    }
    return FY_SEND_DONE;
}

/* Moves the head and body cursors past n written bytes. */
static void transfer_advance(struct fy_transfer *t, size_t n)
{
    size_t from_head = n < t->head_len ? n : t->head_len;
    t->head += from_head;
    t->head_len -= from_head;
    t->offset += (off_t)(n - from_head);
}

enum fy_send_result fy_transfer_send_copy(struct fy_transfer *t, char *buf, size_t bufsize, size_t budget)
{
    while (t->offset < t->end || t->head_len > 0) {
        if (budget == 0)
            return FY_SEND_YIELD;
        off_t left = t->end - t->offset;
        size_t want = budget < bufsize ? budget : bufsize;
        if ((off_t)want > left)
            want = (size_t)left;
        ssize_t got = want ? pread(t->file_fd, buf, want, t->offset) : 0;
        if (got < 0) {
            if (errno == EINTR)
                continue;
            t->error = errno;
            return FY_SEND_ERROR;
        }
        if (got == 0 && want > 0) { /* the file shrank under us */
            t->error = ENODATA;
            return FY_SEND_ERROR;
        }
        struct iovec iov[2] = {{(void *)t->head, t->head_len}, {buf, (size_t)got}};
        ssize_t n = fy_transport_writev(t->out, iov, 2, false);
        if (n < 0)
            return write_failed(t);
        transfer_advance(t, (size_t)n);
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
    }
    return FY_SEND_DONE;
}

/* A small response goes out of one buffer: send() takes it for less than
 * sendmsg() takes two iovecs (no iovec array to copy in and check). */
#define SEND_MEM_JOIN 4096

enum fy_send_result fy_transfer_send_mem(struct fy_transfer *t, size_t budget)
{
    char joined[SEND_MEM_JOIN];
    while (t->offset < t->end || t->head_len > 0) {
        if (budget == 0)
            return FY_SEND_YIELD;
        size_t want = (size_t)(t->end - t->offset);
        if (want > budget)
            want = budget;
        struct iovec iov[2] = {{(void *)t->head, t->head_len}, {(void *)(t->mem + t->offset), want}};
        int iovcnt = 2;
        if (t->head_len + want <= sizeof joined && t->head_len > 0) {
            memcpy(joined, t->head, t->head_len);
            memcpy(joined + t->head_len, t->mem + t->offset, want);
            iov[0] = (struct iovec){joined, t->head_len + want};
            iovcnt = 1;
        }
        ssize_t n = fy_transport_writev(t->out, iov, iovcnt, false);
        if (n < 0)
            return write_failed(t);
        transfer_advance(t, (size_t)n);
        budget = (size_t)n < budget ? budget - (size_t)n : 0;
    }
    return FY_SEND_DONE;
}

/* The body loop shared by the zero-copy and the copying way: from buf when
 * it is set, else from fd at fd_offset. */
static enum fy_send_result send_body(struct fy_transfer *t, int fd, off_t fd_offset, const char *buf,
                                     size_t len, size_t *budget)
{
    while (len > 0) {
        if (*budget == 0)
            return FY_SEND_YIELD;
        size_t want = len < *budget ? len : *budget;
        struct iovec iov = {(void *)buf, want};
        ssize_t n = buf ? fy_transport_writev(t->out, &iov, 1, false)
                        : fy_transport_sendfile(t->out, fd, fd_offset, want);
        if (n < 0)
            return write_failed(t);
        if (n == 0) { /* sendfile: the file ended early, it shrank under us */
            t->error = ENODATA;
            return FY_SEND_ERROR;
        }
        if (buf)
            buf += n;
        fd_offset += n;
        t->offset += n;
        len -= (size_t)n;
        *budget -= (size_t)n;
    }
    return FY_SEND_DONE;
}

enum fy_send_result fy_transfer_send_fd(struct fy_transfer *t, int fd, off_t fd_offset, size_t len,
                                        size_t *budget)
{
    return send_body(t, fd, fd_offset, NULL, len, budget);
}

enum fy_send_result fy_transfer_send_buf(struct fy_transfer *t, const char *buf, size_t len, size_t *budget)
{
    return send_body(t, -1, 0, buf, len, budget);
}

enum fy_send_result fy_transfer_send_plain(struct fy_transfer *t, char *small, size_t small_size,
                                           size_t budget)
{
    if (t->head_len > 0 && t->end - t->offset <= (off_t)small_size)
        return fy_transfer_send_copy(t, small, small_size, budget);
    enum fy_send_result r = fy_transfer_send_head(t, true);
    if (r != FY_SEND_DONE)
        return r;
    return fy_transfer_send_fd(t, t->file_fd, t->offset, (size_t)(t->end - t->offset), &budget);
}
