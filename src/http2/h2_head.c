/* HTTP/2 fields to and from the HTTP/1.1 head text; see h2_head.h. */
#include "http2/h2_head.h"

#include <string.h>

void fy_h2_request_head_init(struct fy_h2_request_head *h, char *buf, size_t cap)
{
    *h = (struct fy_h2_request_head){.buf = buf, .cap = cap};
}

static void put(struct fy_h2_request_head *h, const void *p, size_t n)
{
    if (h->overflow || n > h->cap - h->tail - h->len) {
        h->overflow = true;
        return;
    }
    memcpy(h->buf + h->len, p, n);
    h->len += n;
}

/* Keeps a pseudo-field's value at the buffer's end until the request line
 * is written. */
static const char *keep(struct fy_h2_request_head *h, const uint8_t *value, size_t n)
{
    if (h->overflow || n > h->cap - h->tail - h->len) {
        h->overflow = true;
        return NULL;
    }
    h->tail += n;
    char *at = h->buf + h->cap - h->tail;
    memcpy(at, value, n);
    return at;
}

/* The request line, and Host from :authority, once every pseudo-field is
 * known; their kept values are free again after. */
static void begin_fields(struct fy_h2_request_head *h)
{
    if (h->fields_begun)
        return;
    h->fields_begun = true;
    if (!h->method || !h->path)
        return; /* finish() answers 400 */
    put(h, h->method, h->method_len);
    put(h, " ", 1);
    put(h, h->path, h->path_len);
    put(h, " HTTP/1.1\r\n", 11);
    if (h->authority) {
        put(h, "host: ", 6);
        put(h, h->authority, h->authority_len);
        put(h, "\r\n", 2);
    }
    h->tail = 0;
}

static bool is(const uint8_t *name, size_t len, const char *literal)
{
    return len == strlen(literal) && memcmp(name, literal, len) == 0;
}

void fy_h2_request_head_add(struct fy_h2_request_head *h, const uint8_t *name, size_t namelen,
                            const uint8_t *value, size_t valuelen)
{
    if (namelen > 0 && name[0] == ':') {
        const char *kept = h->fields_begun ? NULL : keep(h, value, valuelen);
        if (is(name, namelen, ":method"))
            h->method = kept, h->method_len = valuelen;
        else if (is(name, namelen, ":path"))
            h->path = kept, h->path_len = valuelen;
        else if (is(name, namelen, ":authority"))
            h->authority = kept, h->authority_len = valuelen;
        return; /* :scheme: the connection says which it is */
    }
    begin_fields(h);
    if (is(name, namelen, "host")) {
        if (h->authority || h->has_host)
            return; /* :authority wins (RFC 9113 §8.3.1); the parser would refuse a second Host */
        h->has_host = true;
    }
    put(h, name, namelen);
    put(h, ": ", 2);
    put(h, value, valuelen);
    put(h, "\r\n", 2);
}

int fy_h2_request_head_finish(struct fy_h2_request_head *h, size_t *len)
{
    begin_fields(h);
    put(h, "\r\n", 2);
    if (h->overflow)
        return 431;
    if (!h->method || !h->path)
        return 400;
    *len = h->len;
    return 0;
}

/* Fields a response head may carry for HTTP/1.1 that mean nothing, or are
 * forbidden, in HTTP/2 (RFC 9113 §8.2.2). */
static bool hop_by_hop(const char *name, size_t len)
{
    switch (len) {
    case 7:
        return memcmp(name, "upgrade", 7) == 0;
    case 10:
        return memcmp(name, "connection", 10) == 0 || memcmp(name, "keep-alive", 10) == 0;
    case 16:
        return memcmp(name, "proxy-connection", 16) == 0;
    case 17:
        return memcmp(name, "transfer-encoding", 17) == 0;
    default:
        return false;
    }
}

static nghttp2_nv field(const char *name, size_t namelen, const char *value, size_t valuelen)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, namelen, valuelen,
                        NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

static int64_t parse_length(const char *p, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || v > INT64_MAX / 10 - 1)
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return n ? v : -1;
}

int fy_h2_response_fields(char *head, size_t len, nghttp2_nv *nv, size_t max, int64_t *content_length)
{
    *content_length = -1;
    const char *end = head + len;
    /* "HTTP/1.1 200 OK\r\n" */
    if (len < 14 || memcmp(head, "HTTP/1.", 7) != 0 || max == 0)
        return -1;
    char *line = memchr(head, '\n', len);
    if (!line)
        return -1;
    size_t n = 0;
    nv[n++] = field(":status", 7, head + 9, 3);
    for (char *p = line + 1; p < end;) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol || eol == p || (eol == p + 1 && p[0] == '\r'))
            break; /* the blank line: the head ends */
        char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon)
            return -1;
        size_t namelen = (size_t)(colon - p);
        for (size_t i = 0; i < namelen; i++)
            if (p[i] >= 'A' && p[i] <= 'Z')
                p[i] = (char)(p[i] - 'A' + 'a');
        const char *value = colon + 1;
        while (value < eol && (*value == ' ' || *value == '\t'))
            value++;
        const char *vend = eol;
        while (vend > value && (vend[-1] == '\r' || vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        if (!hop_by_hop(p, namelen)) {
            if (n == max)
                return -1;
            nv[n++] = field(p, namelen, value, (size_t)(vend - value));
            if (namelen == 14 && memcmp(p, "content-length", 14) == 0)
                *content_length = parse_length(value, (size_t)(vend - value));
        }
        p = eol + 1;
    }
    return (int)n;
}
