/* The transport: how one connection's bytes reach the wire and come back.
 *
 * Plain TCP is the socket itself.  TLS (src/net/tls.c) puts OpenSSL in
 * between; with kernel TLS the kernel encrypts, and for sending the
 * connection is plain TCP again.  Everything above — the HTTP code and the
 * backends — reads and writes through these calls and never learns which
 * one it is; the choice is made here, in one place.
 *
 * The calls behave like the system calls they are named after: a count of
 * bytes moved, or -1 with errno (EAGAIN: try again when the socket is
 * ready).  A TLS transport may hold encrypted bytes that the socket has
 * not taken yet; fy_transport_flush() pushes them, and every write pushes
 * them first. */
#ifndef FY_TRANSPORT_H
#define FY_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fy_tls_conn;
struct fy_transport;

/* A transport carried inside another connection's protocol: an HTTP/2
 * stream (http2/h2.c), whose bytes become DATA frames.  It is written to
 * only; reading, flushing and closing are its connection's. */
struct fy_transport_layer {
    ssize_t (*writev)(struct fy_transport *t, const struct iovec *iov, int iovcnt);
    ssize_t (*sendfile)(struct fy_transport *t, int fd, off_t offset, size_t len);
    bool (*zero_copy)(const struct fy_transport *t);
};

struct fy_transport {
    int fd;                      /* the connected socket, non-blocking (-1 for a layer) */
    struct fy_tls_conn *tls;     /* NULL: plain TCP */
    bool corked;                 /* see fy_transport_cork() */
    const struct fy_transport_layer *layer; /* set: a stream of a connection, not a socket */
};

/* Reads up to len bytes: the count, 0 at the peer's end, or -1 with errno.
 * A count below len means the socket had no more for now. */
ssize_t fy_transport_read(struct fy_transport *t, void *buf, size_t len);

/* Writes the iovecs in order; `more`: further bytes follow at once (lets
 * plain TCP coalesce them, MSG_MORE). */
ssize_t fy_transport_writev(struct fy_transport *t, const struct iovec *iov, int iovcnt, bool more);

/* Writes len bytes of fd from offset: zero-copy with sendfile(2) where the
 * kernel sees the bytes it sends, else through a bounded buffer.  0 means
 * the file ended before offset + len. */
ssize_t fy_transport_sendfile(struct fy_transport *t, int fd, off_t offset, size_t len);

/* Whether fy_transport_sendfile() is zero-copy: the kernel puts the file's
 * pages on the wire (plain TCP, kernel TLS).  Otherwise a backend that has
 * the bytes mapped should rather write them from memory. */
bool fy_transport_zero_copy(const struct fy_transport *t);

/* A body that goes out in several calls (sendfile() a budget at a time,
 * or as the socket drains): `on` holds back the partial segment each call
 * would end with (TCP_CORK), so the kernel sends full ones — measured 15 %
 * fewer segments and ACKs on a hot 1 GiB download; off again when the
 * response ends, which pushes what is held. */
void fy_transport_cork(struct fy_transport *t, bool on);

/* Pushes bytes the transport still holds: 0 when none is left, -1 with
 * errno (EAGAIN: call again when the socket is writable). */
int fy_transport_flush(struct fy_transport *t);

/* Ends our side gracefully: a TLS close_notify (best effort), then a TCP
 * half-close.  Reading may go on (to drain what the client still sends). */
void fy_transport_shutdown(struct fy_transport *t);

/* Before a close(2) that needs no half-close first: TLS says it is
 * closing (close_notify, best effort); plain TCP needs nothing, the close
 * sends its FIN. */
void fy_transport_close_notify(struct fy_transport *t);

#endif
