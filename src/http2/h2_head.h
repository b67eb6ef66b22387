/* Between HTTP/2's header fields and the one request layer.
 *
 * A request that came as HPACK fields is written out as the HTTP/1.1 head
 * it means ("GET /x HTTP/1.1", Host from :authority, the fields as lines)
 * and parsed by the same parser as HTTP/1.1: one set of rules (sizes,
 * duplicates, ranges, conditions) for both protocols.  nghttp2 has already
 * refused what HTTP/2 forbids (uppercase names, CR/LF/NUL in values,
 * connection-specific fields, pseudo-fields out of place).
 *
 * A response head is built once, as HTTP/1.1 text (http/http_response.h);
 * for HTTP/2 its status line becomes :status and its field lines HPACK
 * fields, minus the hop-by-hop ones HTTP/2 has no use for. */
#ifndef FY_H2_HEAD_H
#define FY_H2_HEAD_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The head being written, into a buffer the caller owns: the request line
 * and Host go in front once the pseudo-fields are known, so those are kept
 * at the buffer's end meanwhile. */
struct fy_h2_request_head {
    char *buf;
    size_t cap;
    size_t len;                  /* field lines written (after room for the request line) */
    size_t tail;                 /* pseudo-field values stored at buf[cap - tail, cap) */
    const char *method, *path, *authority;
    size_t method_len, path_len, authority_len;
    bool fields_begun;           /* a regular field came: pseudo-fields are over */
    bool has_host;               /* a regular "host" field came */
    bool overflow;               /* more than cap: the answer is 431 */
};

void fy_h2_request_head_init(struct fy_h2_request_head *h, char *buf, size_t cap);

/* One field as nghttp2 delivers it (already validated). */
void fy_h2_request_head_add(struct fy_h2_request_head *h, const uint8_t *name, size_t namelen,
                            const uint8_t *value, size_t valuelen);

/* Writes the request line and the blank line: buf[0, *len) is then an
 * HTTP/1.1 head.  Returns 0, or 431 (too large) / 400 (no :method or
 * :path, which nghttp2 lets through only for CONNECT). */
int fy_h2_request_head_finish(struct fy_h2_request_head *h, size_t *len);

/* The response head head[0, len) (HTTP/1.1 text, writable: names are
 * lowercased in place) as at most max fields, :status first.  The fields
 * point into head (nghttp2 is told not to copy them): it must stay as it
 * is until the HEADERS frame has been written.  Returns the
 * count, or -1 when the head is not one ferry built (no status line) or
 * has more fields than max.  *content_length: the body's length, -1 when
 * the head has none. */
int fy_h2_response_fields(char *head, size_t len, nghttp2_nv *nv, size_t max, int64_t *content_length);

#endif
