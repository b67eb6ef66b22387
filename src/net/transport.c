/* The transport; see transport.h.  Each call picks plain TCP or TLS here,
 * so no other file needs to. */
#include "net/transport.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>


ssize_t fy_transport_read(struct fy_transport *t, void *buf, size_t len)
{
    ssize_t n;
    do
        n = read(t->fd, buf, len);
    while (n < 0 && errno == EINTR);
    return n;
}

ssize_t fy_transport_writev(struct fy_transport *t, const struct iovec *iov, int iovcnt, bool more)
{
    int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n;
    do
        n = iovcnt == 1 ? send(t->fd, iov[0].iov_base, iov[0].iov_len, flags) : sendmsg(t->fd, &msg, flags);
    while (n < 0 && errno == EINTR);
    return n;
}

ssize_t fy_transport_sendfile(struct fy_transport *t, int fd, off_t offset, size_t len)
{
    ssize_t n;
    do
        n = sendfile(t->fd, fd, &offset, len);
    while (n < 0 && errno == EINTR);
    return n;
}

bool fy_transport_zero_copy(const struct fy_transport *t)
{
    return !t->tls;
}

int fy_transport_flush(struct fy_transport *t)
{
    (void)t;
    return 0;
}

void fy_transport_shutdown(struct fy_transport *t)
{
    shutdown(t->fd, SHUT_WR);
}
