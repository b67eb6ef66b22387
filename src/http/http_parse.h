/* The HTTP/1.1 request parser (RFC 9112), strict and allocation-free.
 *
 * fy_http_parse() reads a request head out of a byte buffer and fills a
 * struct fy_request whose strings are views into that buffer: nothing is
 * copied, nothing is allocated.  fy_http_analyse() then applies the
 * semantic rules (Host, Content-Length, Transfer-Encoding, Connection) and
 * picks out the headers the server acts on.
 *
 * Both return 0 on success or the HTTP status of the error to answer with
 * (400, 414, 431, 501, 505).  fy_http_parse() returns FY_HTTP_INCOMPLETE
 * when the head has not fully arrived yet; call it again on the longer
 * buffer (it is cheap: it first looks for the blank line that ends a head),
 * or, for a head that trickles in, fy_http_parse_resume(), which looks only
 * at what arrived since the last call. */
#ifndef FY_HTTP_PARSE_H
#define FY_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FY_HTTP_INCOMPLETE 1
#define FY_HTTP_MAX_HEADERS 64

struct fy_str {
    const char *p;
    size_t len;
};

enum fy_method {
    FY_METHOD_UNKNOWN = 0, /* a valid token we do not implement: 501 */
    FY_METHOD_GET,
    FY_METHOD_HEAD,
    FY_METHOD_POST,
    FY_METHOD_PUT,
    FY_METHOD_DELETE,
    FY_METHOD_CONNECT,
    FY_METHOD_OPTIONS,
    FY_METHOD_TRACE,
    FY_METHOD_PATCH,
};

struct fy_header {
    struct fy_str name;  /* as sent; compare case-insensitively */
    struct fy_str value; /* leading and trailing whitespace removed */
};

/* A list-based field (RFC 9110 §5.6.1), which a client may split over
 * several field lines: together they mean the one list they make joined
 * with commas (§5.3).  A view of the request's header lines, so no copy and
 * no allocation; walk it with fy_field_next_line().  It points into the
 * request it was taken from: valid as long as that one, not in a copy. */
struct fy_field_lines {
    const struct fy_header *headers; /* the request's headers[] */
    uint64_t which;                  /* bit i: headers[i] is one of the lines */
};

struct fy_request {
    /* Filled by fy_http_parse(). */
    enum fy_method method;
    struct fy_str method_name;
    struct fy_str target;       /* the raw request-target, still percent-encoded */
    struct fy_str path;         /* target's path part: "/..." (absolute-form: host removed) */
    struct fy_str query;        /* after '?', without it; len 0 if none */
    int version_minor;          /* HTTP/1.<minor>: 0 or 1 */
    bool http2;                 /* it came over HTTP/2 (as the HTTP/1.1 head it means: http2/h2_head.h) */
    size_t head_len;            /* bytes of request line + headers + blank line */
    size_t nheaders;
    struct fy_header headers[FY_HTTP_MAX_HEADERS];

    /* Filled by fy_http_analyse(); strings have len 0 when absent.  A
     * singleton field keeps its first line, a list-based one all of them. */
    struct fy_str host;
    bool has_content_length;
    uint64_t content_length;
    bool keep_alive;            /* after Connection and the version's default */
    struct fy_str if_modified_since, if_unmodified_since;
    struct fy_field_lines if_none_match, if_match;
    struct fy_str range, if_range;
    struct fy_field_lines accept_encoding;
    struct fy_str user_agent, referer;
};

/* Parses the head at buf[0..len).  max_head is the largest head accepted:
 * when the head is not complete within it the answer is 414 (request line
 * too long) or 431 (header section too large).  Empty lines (CRLF) before
 * the request line are skipped and counted in head_len. */
int fy_http_parse(const char *buf, size_t len, size_t max_head, struct fy_request *req);

/* How far a head that has not fully arrived was searched for its end. */
struct fy_http_scan {
    size_t start;   /* past the empty lines before the request line */
    size_t scanned; /* buf[start..scanned) holds no end and no stray line break */
};

/* fy_http_parse(), resuming the search where the last call on the same
 * (grown) buffer left it, so that a head arriving in n pieces costs O(n)
 * bytes scanned, not O(n²).  Zero *scan before the first call for each
 * head, and whenever the buffer's bytes move. */
int fy_http_parse_resume(const char *buf, size_t len, size_t max_head, struct fy_http_scan *scan,
                         struct fy_request *req);

/* Semantic checks on a parsed request; see the file comment. */
int fy_http_analyse(struct fy_request *req);

/* Whether the field came in at least one line (perhaps an empty one). */
bool fy_field_present(struct fy_field_lines f);

/* The value of f's next line, in the order they came, taken off f; false
 * when none is left. */
bool fy_field_next_line(struct fy_field_lines *f, struct fy_str *value);

/* Case-insensitive comparison of s with the NUL-terminated lowercase lit. */
bool fy_str_eq_nocase(struct fy_str s, const char *lit);

const char *fy_method_name(enum fy_method m);

/* A Host value (valid, as fy_http_analyse leaves it) split at its port:
 * "example.org:8080" → "example.org" and ":8080", "[::1]:80" → "[::1]"
 * and ":80"; port.len is 0 when none is named. */
void fy_http_host_split(struct fy_str host, struct fy_str *name, struct fy_str *port);

#endif
