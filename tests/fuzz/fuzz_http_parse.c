/* libFuzzer target: the request parser (fy_http_parse + fy_http_analyse).
 *
 * The input is a byte stream as a client might send it.  It is copied into a
 * buffer of exactly its size, so AddressSanitizer sees any read past the
 * end.  Besides "no crash, no UB", the target checks properties the
 * connection code relies on; a violation aborts, which libFuzzer reports as
 * a crash:
 *   - results are 0, FY_HTTP_INCOMPLETE or an error status the server knows;
 *   - every view of a parsed request lies inside the buffer and the head;
 *   - a head is complete at head_len: parsing exactly head_len bytes gives
 *     the same answer, and no shorter prefix parses as a complete request
 *     (the next pipelined request starts exactly at head_len);
 *   - a smaller head limit never turns an error into a success;
 *   - the parser keeps no state between calls (same input, same answer);
 *   - HTTP/1.1 requests that pass analysis have a Host; Transfer-Encoding
 *     never passes.
 * A parsed origin-form path also goes through fy_path_resolve, as the
 * handler does. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file/path.h"
#include "http/http_parse.h"

#define MAX_HEAD 8192

#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "fuzz_http_parse: property failed: %s (line %d)\n", \
                    #cond, __LINE__);                                              \
            abort();                                                               \
        }                                                                          \
    } while (0)

static const char *g_buf;
static size_t g_len;

static void check_view(struct fy_str s, size_t head_len)
{
    if (s.len == 0)
        return;
    REQUIRE(s.p != NULL);
    REQUIRE(s.p >= g_buf && s.p + s.len <= g_buf + head_len);
}

static int parse_status_ok(int status)
{
    return status == 0 || status == FY_HTTP_INCOMPLETE || status == 400 || status == 414 ||
           status == 431 || status == 501 || status == 505;
}

static void check_parsed(const struct fy_request *r, size_t max_head)
{
    REQUIRE(r->head_len >= 4 && r->head_len <= g_len && r->head_len <= max_head);
    REQUIRE(memcmp(g_buf + r->head_len - 4, "\r\n\r\n", 4) == 0);
    REQUIRE(r->version_minor == 0 || r->version_minor == 1);
    REQUIRE(r->nheaders <= FY_HTTP_MAX_HEADERS);
    REQUIRE(r->method_name.len > 0 && r->target.len > 0);
    check_view(r->method_name, r->head_len);
    check_view(r->target, r->head_len);
    /* path and query may point at literals ("/" for "http://host"), but
     * when they point into the buffer they stay inside the head. */
    if (r->path.p >= g_buf && r->path.p < g_buf + g_len)
        check_view(r->path, r->head_len);
    if (r->query.p >= g_buf && r->query.p <= g_buf + g_len)
        REQUIRE(r->query.p + r->query.len <= g_buf + r->head_len);
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct fy_header *h = &r->headers[i];
        REQUIRE(h->name.len > 0);
        check_view(h->name, r->head_len);
        check_view(h->value, r->head_len);
        for (size_t j = 0; j < h->name.len; j++)
            REQUIRE(h->name.p[j] != ':' && h->name.p[j] != ' ' && h->name.p[j] != '\t');
        for (size_t j = 0; j < h->value.len; j++)
            REQUIRE(h->value.p[j] != '\r' && h->value.p[j] != '\n' && h->value.p[j] != '\0');
        if (h->value.len > 0) {
            REQUIRE(h->value.p[0] != ' ' && h->value.p[0] != '\t');
            REQUIRE(h->value.p[h->value.len - 1] != ' ' && h->value.p[h->value.len - 1] != '\t');
        }
    }
    for (size_t j = 0; j < r->target.len; j++)
        REQUIRE((unsigned char)r->target.p[j] > 0x20 && (unsigned char)r->target.p[j] < 0x7f);
}

static int has_header(const struct fy_request *r, const char *lower_name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (fy_str_eq_nocase(r->headers[i].name, lower_name))
            return 1;
    return 0;
}

static struct fy_request req, req2;

/* One parse at the given limit; returns the parse status (before analysis). */
static int run(size_t max_head)
{
    int status = fy_http_parse(g_buf, g_len, max_head, &req);
    REQUIRE(parse_status_ok(status));
    if (status == FY_HTTP_INCOMPLETE)
        REQUIRE(g_len < max_head);
    if (status != 0)
        return status;
    check_parsed(&req, max_head);

    /* Stateless: the same input gives the same answer. */
    REQUIRE(fy_http_parse(g_buf, g_len, max_head, &req2) == 0);
    REQUIRE(req2.head_len == req.head_len && req2.nheaders == req.nheaders);

    /* The head ends at head_len, not before. */
    REQUIRE(fy_http_parse(g_buf, req.head_len, max_head, &req2) == 0);
    REQUIRE(req2.head_len == req.head_len);
    size_t shorter[] = {req.head_len - 1, req.head_len - 2, req.head_len / 2, 1};
    for (size_t i = 0; i < sizeof shorter / sizeof shorter[0]; i++)
        REQUIRE(fy_http_parse(g_buf, shorter[i], max_head, &req2) != 0);

    int a = fy_http_analyse(&req);
    REQUIRE(a == 0 || a == 400 || a == 501);
    REQUIRE(fy_http_analyse(&req) == a); /* analysis is repeatable too */
    if (a == 0) {
        REQUIRE(!has_header(&req, "transfer-encoding"));
        if (req.version_minor == 1)
            REQUIRE(req.host.len > 0);
        REQUIRE(req.content_length <= (uint64_t)INT64_MAX);
        REQUIRE(req.has_content_length || req.content_length == 0);
        if (req.path.len > 0 && req.path.p[0] == '/') {
            static struct fy_path path;
            int rc = fy_path_resolve(req.path.p, req.path.len, &path);
            REQUIRE(rc == 0 || rc == 400 || rc == 404 || rc == 414);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size)
        memcpy(buf, data, size);
    g_buf = buf;
    g_len = size;

    int full = run(MAX_HEAD);
    /* A limit derived from the input reaches the 414/431 paths with any
     * input; a head that fails at the large limit never passes at a small
     * one. */
    size_t small = size / 2 + 1;
    int part = run(small);
    if (full != 0 && full != FY_HTTP_INCOMPLETE)
        REQUIRE(part != 0);
    run(1);

    free(buf);
    return 0;
}
