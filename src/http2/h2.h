/* HTTP/2 on one connection (RFC 9113), with libnghttp2 for framing, HPACK
 * and flow control.  ferry keeps the socket, the loop and the body path:
 *
 *   link (socket, TLS) ─► fy_h2: nghttp2 session ─► a stream per request
 *       ─► its exchange (request/exchange.h) ─► handler ─► backend
 *       ─► the stream's transport: each write becomes DATA frames
 *
 * A stream's response body is sent by the same backends as over HTTP/1.1:
 * they write to the stream's transport (see h2_stream.c), whose bytes
 * become DATA frames within the flow-control windows; a stream whose
 * window is shut, or whose disk read is under way, holds up no other.
 *
 * The link hands a connection over when TLS chose "h2" by ALPN, or when a
 * plain connection opens with the HTTP/2 preface (prior knowledge). */
#ifndef FY_H2_H
#define FY_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fy_link;
struct fy_h2;

/* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": how a prior-knowledge client starts. */
#define FY_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define FY_H2_PREFACE_LEN 24

/* Whether buf[0, len) is the preface or its beginning. */
bool fy_h2_preface_prefix(const char *buf, size_t len);

/* Speaks HTTP/2 on l from now on; `early`: bytes already read from the
 * connection (the preface, maybe more).  Returns 0, or -1 (no memory: the
 * caller closes). */
int fy_h2_start(struct fy_link *l, const char *early, size_t early_len);

/* The link's socket may be read or written (or a stream's disk read is
 * done): everything that can move, moves. */
void fy_h2_run(struct fy_h2 *h);

/* The link's timer fired. */
void fy_h2_timeout(struct fy_h2 *h);

/* Graceful stop: GOAWAY with the last stream taken; the streams under way
 * finish, then the connection closes. */
void fy_h2_shutdown(struct fy_h2 *h);

/* The link closes: every stream is cut short (logged, its reads
 * cancelled) and everything freed. */
void fy_h2_free(struct fy_h2 *h);

/* Whether it has any stream under way (for the status page's gauges). */
bool fy_h2_busy(const struct fy_h2 *h);

#endif
