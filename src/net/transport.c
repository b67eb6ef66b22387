/* The transport; see transport.h.  Each call picks plain TCP or TLS here,
 * so no other file needs to. */
#include "net/transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls.h"

/* Whether OpenSSL encrypts this connection's bytes in user space; with
 * kernel TLS sending, the socket takes plaintext as for plain TCP. */
static bool encrypts(const struct fy_transport *t)
{
    return t->tls && !fy_tls_kernel_sends(t->tls);
}

ssize_t fy_transport_read(struct fy_transport *t, void *buf, size_t len)
{
    if (t->tls)
        return fy_tls_read(t->tls, buf, len);
    ssize_t n;
    do
        n = read(t->fd, buf, len);
    while (n < 0 && errno == EINTR);
    return n;
}

ssize_t fy_transport_writev(struct fy_transport *t, const struct iovec *iov, int iovcnt, bool more)
{
    if (t->layer)
        return t->layer->writev(t, iov, iovcnt);
    if (encrypts(t))
        return fy_tls_writev(t->tls, iov, iovcnt);
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
    if (t->layer)
        return t->layer->sendfile(t, fd, offset, len);
    if (encrypts(t))
        return fy_tls_sendfile(t->tls, fd, offset, len);
    ssize_t n;
    do
        n = sendfile(t->fd, fd, &offset, len);
    while (n < 0 && errno == EINTR);
    return n;
}

bool fy_transport_zero_copy(const struct fy_transport *t)
{
    if (t->layer)
        return t->layer->zero_copy(t);
    return !encrypts(t);
}

void fy_transport_cork(struct fy_transport *t, bool on)
{
    if (t->corked == on || t->layer)
        return;
    /* Best effort: a socket that refuses it sends as it did. */
    setsockopt(t->fd, IPPROTO_TCP, TCP_CORK, &(int){on}, sizeof(int));
    t->corked = on;
}

int fy_transport_flush(struct fy_transport *t)
{
    return t->tls ? fy_tls_flush(t->tls) : 0;
}

void fy_transport_close_notify(struct fy_transport *t)
{
    if (t->tls)
        fy_tls_close_notify(t->tls);
}

void fy_transport_shutdown(struct fy_transport *t)
{
    fy_transport_close_notify(t);
    shutdown(t->fd, SHUT_WR);
}
