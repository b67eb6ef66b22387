/* Inside one HTTP/2 connection: what the session (h2.c), a stream's body
 * (h2_stream.c: the transport a backend writes to, DATA frames) and the
 * connection's output (h2_out.c) share.  Not for use outside src/http2/. */
#ifndef FY_H2_CONN_H
#define FY_H2_CONN_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "event/loop.h"
#include "http2/h2_head.h"
#include "net/transport.h"

struct fy_conn;
struct fy_link;
struct fy_server;

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define H2_OUT_HIGH (64 * 1024)          /* write out once this much is buffered */
#define H2_OUT_CAP (H2_OUT_HIGH + 32 * 1024) /* a frame more, and control frames */
#define H2_READ_CHUNK (16 * 1024)
#define H2_FILE_CHUNK (64 * 1024)        /* file bytes read at once for a stream over user-space TLS */
#define H2_READ_BUDGET (256 * 1024)      /* bytes read per run: other connections' turn */
#define H2_STREAM_SLICE (64 * 1024)      /* a stream's share of a turn before the next one's */
#define H2_URGENCIES 8                   /* RFC 9218: 0 (highest) to 7 */
#define H2_DEFAULT_URGENCY 3
#define H2_MAX_FIELDS 64                 /* of a response head */
/* Frames that carry no request and no response data (PING, SETTINGS,
 * WINDOW_UPDATE, PRIORITY, RST_STREAM, empty DATA): a client may send a
 * burst of H2_JUNK_BURST, then H2_JUNK_RATE a second. */
#define H2_JUNK_BURST 1000
#define H2_JUNK_RATE 100

/* What a backend hands the stream in one write: memory, or a file range. */
struct fy_h2_offer {
    const struct iovec *iov;
    int iovcnt;
    int fd;                          /* >= 0: the bytes are fd's from offset */
    off_t offset;
    size_t len, taken;
};

enum fy_h2_stream_state {
    FY_H2_HEADERS,                   /* the request's fields are arriving */
    FY_H2_WAITING,                   /* the handler waits off the loop */
    FY_H2_SENDING,                   /* the response's body is going out */
    FY_H2_SENT,                      /* all of it handed to nghttp2 */
};

struct fy_h2_stream {
    struct fy_transport tp;          /* the backend writes here: DATA frames of this stream */
    struct fy_h2 *h2;
    int32_t id;
    enum fy_h2_stream_state state;
    struct fy_conn *c;               /* the request's buffers and exchange, from the server's free list */
    struct fy_h2_request_head head;
    struct fy_h2_stream *prev, *next;        /* the connection's streams */
    struct fy_h2_stream *ready_next;         /* in ready[urgency] */
    bool ready;                      /* on a ready list */
    bool window_shut;                /* waits for a WINDOW_UPDATE */
    bool closed;                     /* nghttp2 closed it: on the dead list */
    bool started;                    /* the exchange began (it must be ended) */
    bool first_slice;                /* its response's first DATA is still to go (h2_send_bodies) */
    uint8_t urgency;
    struct fy_h2_offer *offer;          /* during a backend's write only */
    int64_t body_left;               /* DATA bytes still to send; -1: until the exchange is done */
    struct fy_timer timer;           /* the write timeout while its body goes out */
    struct fy_h2_stream *dead_next;
};

struct fy_h2 {
    struct fy_link *link;
    struct fy_server *srv;
    nghttp2_session *ng;
    struct fy_h2_stream *streams;
    unsigned nstreams;
    unsigned nheaders;               /* streams whose request's fields are still arriving */
    bool out_moved;                  /* bytes reached the socket in this run */
    bool requests_begun;             /* a request began in this run */
    struct fy_h2_stream *ready_head[H2_URGENCIES], *ready_tail[H2_URGENCIES];
    struct fy_h2_stream *dead;
    int depth;                       /* nested calls that may close streams */
    char *out;                       /* H2_OUT_CAP bytes while a stream is open; else NULL */
    char *chunk;                     /* H2_FILE_CHUNK: file bytes on their way into out (TLS); or NULL */
    size_t out_off, out_len;
    bool going_away;
    bool failed;                     /* the connection must close */
    bool ended;                      /* GOAWAY for an error: read no more, close once it went */
    double junk_tokens;
    int64_t junk_ms;
};

/* h2_out.c: the output buffer `out`. */
/* Writes out all it holds: 0, or -1 with errno (EAGAIN: when writable). */
int fy_h2_out_flush(struct fy_h2 *h);
/* A full buffer in the middle of a run: whole multiples of H2_OUT_HIGH
 * only (over TLS: full records); the rest waits for more. */
int fy_h2_out_drain(struct fy_h2 *h);
bool fy_h2_out_put(struct fy_h2 *h, const void *p, size_t len);
/* Copies len bytes of the offer, from `from` on. */
bool fy_h2_out_put_offer(struct fy_h2 *h, const struct fy_h2_offer *o, size_t from, size_t len);
/* A DATA frame of a file range on a zero-copy transport: header, then
 * sendfile(); what the socket does not take is copied into `out`. */
int fy_h2_out_file_frame(struct fy_h2 *h, const uint8_t *framehd, struct fy_h2_offer *o, size_t len);
/* nghttp2's send callback: every frame but DATA's payload. */
ssize_t fy_h2_on_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *user);

/* h2_stream.c: a stream's body. */
/* The transport a stream's backend writes to (fy_h2_stream.tp.layer). */
extern const struct fy_transport_layer fy_h2_stream_layer;
/* nghttp2's data source and NO_COPY DATA frame callbacks. */
ssize_t fy_h2_on_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                           nghttp2_data_source *source, void *user);
int fy_h2_on_send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                       nghttp2_data_source *source, void *user);
/* The ready lists: streams with body to send, by urgency. */
void fy_h2_ready_push(struct fy_h2_stream *s);
struct fy_h2_stream *fy_h2_ready_pop(struct fy_h2 *h);
void fy_h2_ready_remove(struct fy_h2_stream *s);

#endif
