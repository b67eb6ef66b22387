/* The request parser: RFC 9112 syntax, RFC 9110 semantics, no allocation.
 *
 * A head is only parsed once it has fully arrived: until then a call costs
 * one memmem() for the blank line that ends it (plus a memchr() pass that
 * rejects a stray CR or LF early), when resumed over just the bytes that
 * arrived since the last call, so a head trickling in over many reads is
 * neither re-parsed nor re-scanned.  Every byte is then classified through
 * one constant table, since a branch per character class would dominate
 * the parse. */
#include "http/http_parse.h"

#include <string.h>

enum {
    C_TOKEN = 1,  /* tchar (RFC 9110 §5.6.2): methods and field names */
    C_TARGET = 2, /* visible ASCII: what a request-target may hold */
    C_VALUE = 4,  /* field-vchar, SP, HTAB, obs-text (RFC 9110 §5.5) */
    C_HOST = 8,   /* reg-name: unreserved, sub-delims, '%' (RFC 3986 §3.2.2) */
};

#define NONE 0
#define V C_VALUE
#define RV (C_TARGET | C_VALUE)
#define RVH (C_TARGET | C_VALUE | C_HOST)
#define TRV (C_TOKEN | C_TARGET | C_VALUE)
#define TRVH (C_TOKEN | C_TARGET | C_VALUE | C_HOST)

static const unsigned char char_class[256] = {
    NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,   V,NONE,NONE,NONE,NONE,NONE,NONE, /* 0x00 */
    NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE,NONE, /* 0x10 */
       V,TRVH,  RV, TRV,TRVH,TRVH,TRVH,TRVH, RVH, RVH,TRVH,TRVH, RVH,TRVH,TRVH,  RV, /* 0x20 */
    TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,  RV, RVH,  RV, RVH,  RV,  RV, /* 0x30 */
      RV,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH, /* 0x40 */
    TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,  RV,  RV,  RV, TRV,TRVH, /* 0x50 */
     TRV,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH, /* 0x60 */
    TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,TRVH,  RV, TRV,  RV,TRVH,NONE, /* 0x70 */
       V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V, /* 0x80 */
       V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V, /* 0x90 */
       V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V, /* 0xa0 */
       V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V, /* 0xb0 */
       V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V, /* 0xc0 */
       V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V, /* 0xd0 */
       V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V, /* 0xe0 */
       V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V,   V, /* 0xf0 */
};

#undef NONE
#undef V
#undef RV
#undef RVH
#undef TRV
#undef TRVH

static bool in_class(char c, unsigned cls)
{
    return (char_class[(unsigned char)c] & cls) != 0;
}

static const char *skip_class(const char *p, const char *end, unsigned cls)
{
    while (p < end && in_class(*p, cls))
        p++;
    return p;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex_digit(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Only ASCII letters fold: tolower() would follow the locale. */
static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static struct fy_str trim_ows(const char *p, const char *end)
{
    while (p < end && is_ows(*p))
        p++;
    while (end > p && is_ows(end[-1]))
        end--;
    return (struct fy_str){p, (size_t)(end - p)};
}

bool fy_str_eq_nocase(struct fy_str s, const char *lit)
{
    size_t i;
    for (i = 0; i < s.len; i++)
        if (lit[i] == '\0' || ascii_lower(s.p[i]) != lit[i])
            return false;
    return lit[i] == '\0';
}

static const char *const method_names[] = {
    [FY_METHOD_UNKNOWN] = "UNKNOWN",
    [FY_METHOD_GET] = "GET",
    [FY_METHOD_HEAD] = "HEAD",
    [FY_METHOD_POST] = "POST",
    [FY_METHOD_PUT] = "PUT",
    [FY_METHOD_DELETE] = "DELETE",
    [FY_METHOD_CONNECT] = "CONNECT",
    [FY_METHOD_OPTIONS] = "OPTIONS",
    [FY_METHOD_TRACE] = "TRACE",
    [FY_METHOD_PATCH] = "PATCH",
};

#define METHOD_COUNT (sizeof method_names / sizeof method_names[0])

const char *fy_method_name(enum fy_method m)
{
    return (size_t)m < METHOD_COUNT ? method_names[m] : method_names[FY_METHOD_UNKNOWN];
}

/* Method names are case-sensitive (RFC 9110 §9.1): "get" is some other,
 * unknown, method. */
static enum fy_method method_from_name(const char *p, size_t len)
{
    for (size_t m = FY_METHOD_UNKNOWN + 1; m < METHOD_COUNT; m++)
        if (strncmp(method_names[m], p, len) == 0 && method_names[m][len] == '\0')
            return (enum fy_method)m;
    return FY_METHOD_UNKNOWN;
}

/* port = 1*5DIGIT within 0..65535.  RFC 3986 allows an empty port, but a
 * "host:" is far more likely a broken client than a meaningful request. */
static bool port_is_valid(const char *p, const char *end)
{
    unsigned long port = 0;
    if (p == end || end - p > 5)
        return false;
    for (; p < end; p++) {
        if (!is_digit(*p))
            return false;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    return port <= 65535;
}

static bool pct_escapes_are_valid(const char *p, const char *end)
{
    while ((p = memchr(p, '%', (size_t)(end - p))) != NULL) {
        if (end - p < 3 || !is_hex_digit(p[1]) || !is_hex_digit(p[2]))
            return false;
        p += 3;
    }
    return true;
}

/* A plausible uri-host [":" port] (RFC 3986 §3.2.2): a reg-name or an IPv4
 * address, or an IPv6 literal in brackets.  The Host value ends up in logs
 * and perhaps in Location headers, so nothing else gets through. */
static bool host_is_valid(struct fy_str h, bool port_required)
{
    const char *p = h.p, *end = h.p + h.len;
    if (p == end)
        return false;
    if (*p == '[') {
        const char *close = memchr(p, ']', h.len);
        if (close == NULL || close - p < 3)
            return false;
        for (const char *q = p + 1; q < close; q++)
            if (!is_hex_digit(*q) && *q != ':' && *q != '.')
                return false;
        p = close + 1;
    } else {
        const char *name_end = skip_class(p, end, C_HOST);
        if (name_end == p || !pct_escapes_are_valid(p, name_end))
            return false;
        p = name_end;
    }
    if (p == end)
        return !port_required;
    return *p == ':' && port_is_valid(p + 1, end);
}

void fy_http_host_split(struct fy_str host, struct fy_str *name, struct fy_str *port)
{
    const char *p = host.p, *end = host.p + host.len;
    const char *after = host.len > 0 && p[0] == '[' ? memchr(p, ']', host.len) : p; /* IPv6 holds ':' */
    const char *colon = after && after < end ? memchr(after, ':', (size_t)(end - after)) : NULL;
    size_t n = colon ? (size_t)(colon - p) : host.len;
    *name = (struct fy_str){p, n};
    *port = colon ? (struct fy_str){colon, (size_t)(end - colon)} : (struct fy_str){"", 0};
}

/* The authority of an absolute-form target ("http://host:port/path"): the
 * scheme is case-insensitive (RFC 3986 §3.1); any other scheme is not ours
 * to serve. */
static bool absolute_form_authority(struct fy_str t, struct fy_str *authority)
{
    size_t scheme_len;
    if (t.len >= 7 && fy_str_eq_nocase((struct fy_str){t.p, 7}, "http://"))
        scheme_len = 7;
    else if (t.len >= 8 && fy_str_eq_nocase((struct fy_str){t.p, 8}, "https://"))
        scheme_len = 8;
    else
        return false;
    const char *a = t.p + scheme_len, *a_end = a, *end = t.p + t.len;
    while (a_end < end && *a_end != '/' && *a_end != '?')
        a_end++;
    *authority = (struct fy_str){a, (size_t)(a_end - a)};
    return true;
}

/* The query's pointer stays inside the buffer even when it is empty, so
 * callers may hand it to memcmp() and friends without a NULL check. */
static void split_path_query(const char *p, const char *end, struct fy_request *req)
{
    const char *q = memchr(p, '?', (size_t)(end - p));
    const char *path_end = q ? q : end;
    req->path = (struct fy_str){p, (size_t)(path_end - p)};
    req->query = q ? (struct fy_str){q + 1, (size_t)(end - q - 1)} : (struct fy_str){end, 0};
}

/* Which of the four forms of RFC 9112 §3.2 the target has, and whether the
 * method allows it.  CONNECT takes the authority-form and nothing else
 * (RFC 9110 §9.3.6); the server then answers 501 anyway. */
static int classify_target(struct fy_request *req)
{
    struct fy_str t = req->target, authority;
    const char *end = t.p + t.len;

    /* A client never sends the fragment (RFC 9110 §7.1): one here means a
     * confused client or an attempt to make two parties disagree on the
     * path. */
    if (memchr(t.p, '#', t.len))
        return 400;
    if (req->method == FY_METHOD_CONNECT) {
        if (!host_is_valid(t, true))
            return 400;
        req->path = t;
        req->query = (struct fy_str){end, 0};
        return 0;
    }
    if (t.p[0] == '/') {
        split_path_query(t.p, end, req);
        return 0;
    }
    if (t.len == 1 && t.p[0] == '*') {
        if (req->method != FY_METHOD_OPTIONS)
            return 400;
        req->path = t;
        req->query = (struct fy_str){end, 0};
        return 0;
    }
    if (absolute_form_authority(t, &authority)) {
        const char *rest = authority.p + authority.len;
        if (!host_is_valid(authority, false))
            return 400;
        if (rest < end && *rest == '/') {
            split_path_query(rest, end, req);
        } else {
            req->path = (struct fy_str){"/", 1};
            req->query = rest < end ? (struct fy_str){rest + 1, (size_t)(end - rest - 1)}
                                    : (struct fy_str){end, 0};
        }
        return 0;
    }
    return 400;
}

/* Exactly "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3): "HTTP/1.10" or
 * "http/1.1" is malformed, not merely unsupported. */
static int parse_version(const char *p, const char *end, int *minor)
{
    if (end - p != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) || p[6] != '.' ||
        !is_digit(p[7]))
        return 400;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return 505;
    *minor = p[7] - '0';
    return 0;
}

/* method SP request-target SP HTTP-version, with exactly one space at each
 * separator: RFC 9112 §3 lets a server be lenient here, but a lenient
 * parser behind a strict proxy is how requests get smuggled. */
static int parse_request_line(const char *p, const char *end, struct fy_request *req)
{
    const char *method_end = skip_class(p, end, C_TOKEN);
    if (method_end == p || method_end == end || *method_end != ' ')
        return 400;
    req->method_name = (struct fy_str){p, (size_t)(method_end - p)};
    req->method = method_from_name(p, req->method_name.len);

    const char *target = method_end + 1;
    const char *target_end = skip_class(target, end, C_TARGET);
    if (target_end == target || target_end == end || *target_end != ' ')
        return 400;
    req->target = (struct fy_str){target, (size_t)(target_end - target)};

    int status = parse_version(target_end + 1, end, &req->version_minor);
    if (status != 0)
        return status;
    return classify_target(req);
}

static int parse_field_line(const char *p, const char *end, struct fy_request *req)
{
    /* obs-fold (RFC 9112 §5.2): rejecting it is allowed and removes a
     * classic source of disagreement between parsers. */
    if (p < end && is_ows(*p))
        return 400;
    const char *colon = skip_class(p, end, C_TOKEN);
    if (colon == p || colon == end || *colon != ':')
        return 400;
    for (const char *v = colon + 1; v < end; v++)
        if (!in_class(*v, C_VALUE))
            return 400;
    if (req->nheaders == FY_HTTP_MAX_HEADERS)
        return 431;
    struct fy_header *h = &req->headers[req->nheaders++];
    h->name = (struct fy_str){p, (size_t)(colon - p)};
    h->value = trim_ows(colon + 1, end);
    return 0;
}

/* Past the CRLF CRLF that ends the head in buf[from..to), or 0. */
static size_t find_head_end(const char *buf, size_t from, size_t to)
{
    if (to - from < 4)
        return 0;
    const char *m = memmem(buf + from, to - from, "\r\n\r\n", 4);
    return m ? (size_t)(m - buf) + 4 : 0;
}

/* A client that ends its lines with a lone LF never sends CRLF CRLF: left
 * alone it would wait for the head limit or a timeout, so a stray line
 * break in a partial head is an error right away.  Looks at buf[from..to)
 * of the head that starts at `head`.  A CR as the last byte may yet be
 * followed by its LF. */
static bool has_bare_line_break(const char *buf, size_t head, size_t from, size_t to)
{
    const char *first = buf + head, *end = buf + to, *p;
    for (p = buf + from; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        if (p == first || p[-1] != '\r')
            return true;
    for (p = buf + from; (p = memchr(p, '\r', (size_t)(end - p))) != NULL; p++)
        if (p + 1 < end && p[1] != '\n')
            return true;
    return false;
}

/* Where a resumed search starts: a few bytes back, so that a CRLF CRLF, or
 * a CR and what follows it, split across two reads is still seen whole. */
static size_t resume_point(const struct fy_http_scan *scan)
{
    size_t back = scan->scanned - scan->start < 3 ? scan->scanned - scan->start : 3;
    return scan->scanned - back;
}

/* The head overflowed the limit: the request line's fault if it did not
 * even end within it. */
static int oversize_status(const char *buf, size_t from, size_t to)
{
    return from < to && memchr(buf + from, '\n', to - from) ? 431 : 414;
}

static void reset_parse_fields(struct fy_request *req)
{
    req->method = FY_METHOD_UNKNOWN;
    req->method_name = (struct fy_str){NULL, 0};
    req->target = (struct fy_str){NULL, 0};
    req->path = (struct fy_str){NULL, 0};
    req->query = (struct fy_str){NULL, 0};
    req->version_minor = 0;
    req->http2 = false; /* HTTP/2 says so after parsing */
    req->head_len = 0;
    req->nheaders = 0;
}

int fy_http_parse(const char *buf, size_t len, size_t max_head, struct fy_request *req)
{
    struct fy_http_scan scan = {0};
    return fy_http_parse_resume(buf, len, max_head, &scan, req);
}

int fy_http_parse_resume(const char *buf, size_t len, size_t max_head, struct fy_http_scan *scan,
                         struct fy_request *req)
{
    size_t limit = len < max_head ? len : max_head;
    if (scan->scanned > limit)
        *scan = (struct fy_http_scan){0}; /* not the buffer it was: start over */
    size_t start = scan->start;

    reset_parse_fields(req);
    /* RFC 9112 §2.2: empty lines before the request line are ignored, for
     * clients that send a CRLF after a POST body. */
    while (start + 2 <= limit && buf[start] == '\r' && buf[start + 1] == '\n')
        start += 2;
    if (start != scan->start)
        *scan = (struct fy_http_scan){.start = start, .scanned = start};

    size_t from = resume_point(scan);
    size_t head_end = find_head_end(buf, from, limit);
    if (head_end == 0) {
        if (has_bare_line_break(buf, start, from, limit))
            return 400;
        scan->scanned = limit;
        if (len < max_head)
            return FY_HTTP_INCOMPLETE;
        return oversize_status(buf, start, limit);
    }
    req->head_len = head_end;

    /* Every line up to lines_end ends in CRLF, the last one at lines_end - 2,
     * so memchr() always finds a CR and cr[1] is always in bounds. */
    const char *lines_end = buf + head_end - 2;
    const char *line = buf + start;
    const char *cr = memchr(line, '\r', (size_t)(lines_end - line));
    if (cr[1] != '\n')
        return 400;
    int status = parse_request_line(line, cr, req);
    if (status != 0)
        return status;
    for (line = cr + 2; line < lines_end; line = cr + 2) {
        cr = memchr(line, '\r', (size_t)(lines_end - line));
        if (cr[1] != '\n')
            return 400;
        status = parse_field_line(line, cr, req);
        if (status != 0)
            return status;
    }
    return 0;
}

/* Walks a comma-separated list (RFC 9110 §5.6.1), one OWS-trimmed element,
 * possibly empty, per call. */
struct list_walk {
    const char *p, *end;
    bool done;
};

static bool next_list_element(struct list_walk *w, struct fy_str *elem)
{
    if (w->done)
        return false;
    const char *comma = memchr(w->p, ',', (size_t)(w->end - w->p));
    const char *elem_end = comma ? comma : w->end;
    *elem = trim_ows(w->p, elem_end);
    if (comma)
        w->p = comma + 1;
    else
        w->done = true;
    return true;
}

/* 1*DIGIT up to 2^63-1: a length the server could not represent as off_t
 * is as wrong as a malformed one. */
static bool parse_length(struct fy_str s, uint64_t *out)
{
    uint64_t n = 0;
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.p[i]))
            return false;
        uint64_t d = (uint64_t)(s.p[i] - '0');
        if (n > ((uint64_t)INT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

/* Several Content-Length lines, or a list in one, are tolerated only when
 * they all agree (RFC 9110 §8.6); any disagreement is a smuggling attempt
 * or a broken intermediary, and either way the body length is unknown. */
static int add_content_length(struct fy_request *req, struct fy_str value)
{
    struct list_walk w = {value.p, value.p + value.len, false};
    struct fy_str elem;
    uint64_t n;
    while (next_list_element(&w, &elem)) {
        if (!parse_length(elem, &n))
            return 400;
        if (req->has_content_length && n != req->content_length)
            return 400;
        req->has_content_length = true;
        req->content_length = n;
    }
    return 0;
}

struct connection_options {
    bool close, keep_alive;
};

static void add_connection_options(struct connection_options *opts, struct fy_str value)
{
    struct list_walk w = {value.p, value.p + value.len, false};
    struct fy_str elem;
    while (next_list_element(&w, &elem)) {
        if (fy_str_eq_nocase(elem, "close"))
            opts->close = true;
        else if (fy_str_eq_nocase(elem, "keep-alive"))
            opts->keep_alive = true;
    }
}

/* One bit per header line in struct fy_field_lines. */
_Static_assert(FY_HTTP_MAX_HEADERS <= 64, "a field's lines are a uint64_t bit set");

bool fy_field_present(struct fy_field_lines f)
{
    return f.which != 0;
}

bool fy_field_next_line(struct fy_field_lines *f, struct fy_str *value)
{
    if (f->which == 0)
        return false;
    *value = f->headers[__builtin_ctzll(f->which)].value;
    f->which &= f->which - 1; /* the lowest bit, the line just taken, off */
    return true;
}

/* The list-based headers the server acts on, every line kept; NULL for any
 * other name. */
static struct fy_field_lines *list_field(struct fy_request *req, struct fy_str name)
{
    switch (name.len) {
    case 8:
        return fy_str_eq_nocase(name, "if-match") ? &req->if_match : NULL;
    case 13:
        return fy_str_eq_nocase(name, "if-none-match") ? &req->if_none_match : NULL;
    case 15:
        return fy_str_eq_nocase(name, "accept-encoding") ? &req->accept_encoding : NULL;
    default:
        return NULL;
    }
}

/* The singleton headers kept as they are, first occurrence winning (a
 * repeated Range, If-Range or date has no meaning as a list); NULL for any
 * other name.  The length switch keeps this to one comparison or two. */
static struct fy_str *picked_field(struct fy_request *req, struct fy_str name)
{
    switch (name.len) {
    case 5:
        return fy_str_eq_nocase(name, "range") ? &req->range : NULL;
    case 7:
        return fy_str_eq_nocase(name, "referer") ? &req->referer : NULL;
    case 8:
        return fy_str_eq_nocase(name, "if-range") ? &req->if_range : NULL;
    case 10:
        return fy_str_eq_nocase(name, "user-agent") ? &req->user_agent : NULL;
    case 17:
        return fy_str_eq_nocase(name, "if-modified-since") ? &req->if_modified_since : NULL;
    case 19:
        return fy_str_eq_nocase(name, "if-unmodified-since") ? &req->if_unmodified_since
                                                               : NULL;
    default:
        return NULL;
    }
}

/* A NULL pointer, not a zero length, marks a singleton header as absent, so
 * that an empty first occurrence still wins over later ones; a list-based
 * one is absent when it has no line. */
static void reset_analyse_fields(struct fy_request *req)
{
    const struct fy_str none = {NULL, 0};
    req->host = none;
    req->has_content_length = false;
    req->content_length = 0;
    req->keep_alive = false;
    const struct fy_field_lines no_lines = {req->headers, 0};
    req->if_modified_since = req->if_unmodified_since = none;
    req->if_none_match = req->if_match = no_lines;
    req->range = req->if_range = none;
    req->accept_encoding = no_lines;
    req->user_agent = req->referer = none;
}

/* RFC 9112 §3.2: exactly one Host line, with a valid value (which HTTP/1.1
 * may not leave empty), and an absolute-form target's authority overrides
 * it. */
static int settle_host(struct fy_request *req, size_t host_lines)
{
    struct fy_str authority;
    if (host_lines > 1)
        return 400;
    if (req->host.len == 0 && req->version_minor == 1)
        return 400;
    if (req->host.len > 0 && !host_is_valid(req->host, false))
        return 400;
    if (absolute_form_authority(req->target, &authority))
        req->host = authority;
    return 0;
}

int fy_http_analyse(struct fy_request *req)
{
    struct connection_options conn = {false, false};
    size_t host_lines = 0;
    bool chunked_or_other_te = false;
    int status;

    reset_analyse_fields(req);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct fy_header *h = &req->headers[i];
        struct fy_str *field;
        struct fy_field_lines *lines;
        if (fy_str_eq_nocase(h->name, "host")) {
            if (host_lines++ == 0)
                req->host = h->value;
        } else if (fy_str_eq_nocase(h->name, "content-length")) {
            status = add_content_length(req, h->value);
            if (status != 0)
                return status;
        } else if (fy_str_eq_nocase(h->name, "transfer-encoding")) {
            chunked_or_other_te = true;
        } else if (fy_str_eq_nocase(h->name, "connection")) {
            add_connection_options(&conn, h->value);
        } else if ((lines = list_field(req, h->name)) != NULL) {
            lines->which |= (uint64_t)1 << i;
        } else if ((field = picked_field(req, h->name)) != NULL && field->p == NULL) {
            *field = h->value;
        }
    }

    status = settle_host(req, host_lines);
    if (status != 0)
        return status;
    /* Transfer-Encoding did not exist in HTTP/1.0, and beside a
     * Content-Length it leaves the body length ambiguous (RFC 9112 §6.1):
     * both are malformed.  Otherwise the request is fine, but this server
     * reads no chunked bodies. */
    if (chunked_or_other_te)
        return req->version_minor == 0 || req->has_content_length ? 400 : 501;

    req->keep_alive = req->version_minor == 1 ? !conn.close : conn.keep_alive && !conn.close;
    return 0;
}
