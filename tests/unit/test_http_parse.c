/* Unit tests of the request parser: syntax (fy_http_parse) and semantics
 * (fy_http_analyse), mostly as tables of raw requests and expected status. */
#include "http/http_parse.h"

#include "check.h"

#include <stdlib.h>

#define MAX_HEAD 8192

/* Lengths come from sizeof, so a case may hold NUL bytes. */
struct status_case {
    const char *name;
    const char *raw;
    size_t len;
    int want;
};

#define CASE(name, raw, want) { name, raw, sizeof(raw) - 1, want }
#define TABLE_LEN(t) (sizeof(t) / sizeof((t)[0]))

static struct fy_request req;

/* Parse then analyse, as the server does: the first non-zero status. */
static int parse_all(const char *raw, size_t len, size_t max_head, struct fy_request *r)
{
    int status = fy_http_parse(raw, len, max_head, r);
    return status != 0 ? status : fy_http_analyse(r);
}

#define PARSE(lit) parse_all(lit, sizeof(lit) - 1, MAX_HEAD, &req)

static void run_status_table(const struct status_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int got = parse_all(cases[i].raw, cases[i].len, MAX_HEAD, &req);
        if (got != cases[i].want)
            printf("  case \"%s\":\n", cases[i].name);
        CHECK_INT(got, cases[i].want);
    }
}

/* A NUL-terminated copy for CHECK_STR; a few rotating buffers so that one
 * CHECK may show two strings. */
static const char *cstr(struct fy_str s)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    size_t n = s.len < sizeof bufs[0] - 1 ? s.len : sizeof bufs[0] - 1;
    if (n)
        memcpy(b, s.p, n);
    b[n] = '\0';
    return b;
}

/* A list-based field's lines joined with ", ", as RFC 9110 §5.3 reads them;
 * "(absent)" when it has none. */
static const char *joined(struct fy_field_lines f)
{
    static char buf[512];
    struct fy_str line;
    size_t len = 0;
    if (!fy_field_present(f))
        return "(absent)";
    buf[0] = '\0';
    for (bool first = true; len < sizeof buf && fy_field_next_line(&f, &line); first = false)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%.*s", first ? "" : ", ", (int)line.len, line.p);
    return buf;
}

static void test_simple_get(void)
{
    static const char raw[] = "GET /index.html?lang=en HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "User-Agent:   curl/8.0 \t\r\n"
                              "Accept: */*\r\n"
                              "\r\n";
    CHECK_INT(PARSE(raw), 0);
    CHECK_INT(req.method, FY_METHOD_GET);
    CHECK_STR(cstr(req.method_name), "GET");
    CHECK_STR(cstr(req.target), "/index.html?lang=en");
    CHECK_STR(cstr(req.path), "/index.html");
    CHECK_STR(cstr(req.query), "lang=en");
    CHECK_INT(req.version_minor, 1);
    CHECK_INT(req.head_len, sizeof(raw) - 1);
    CHECK_INT(req.nheaders, 3);
    CHECK_STR(cstr(req.headers[0].name), "Host");
    CHECK_STR(cstr(req.headers[0].value), "example.com");
    CHECK_STR(cstr(req.headers[1].name), "User-Agent");
    CHECK_STR(cstr(req.headers[1].value), "curl/8.0");
    CHECK_STR(cstr(req.headers[2].value), "*/*");
    CHECK_STR(cstr(req.host), "example.com");
    CHECK_STR(cstr(req.user_agent), "curl/8.0");
    CHECK(req.keep_alive);
    CHECK(!req.has_content_length);
    CHECK(!fy_field_present(req.if_none_match));
}

static void test_head_http10(void)
{
    static const char raw[] = "HEAD / HTTP/1.0\r\n\r\n";
    CHECK_INT(PARSE(raw), 0);
    CHECK_INT(req.method, FY_METHOD_HEAD);
    CHECK_INT(req.version_minor, 0);
    CHECK_STR(cstr(req.path), "/");
    CHECK_INT(req.query.len, 0);
    CHECK_INT(req.nheaders, 0);
    CHECK_INT(req.host.len, 0);
    CHECK(!req.keep_alive);
    CHECK_INT(req.head_len, sizeof(raw) - 1);
}

static void test_methods(void)
{
    static const struct {
        const char *name;
        enum fy_method want;
    } cases[] = {
        {"GET", FY_METHOD_GET},         {"HEAD", FY_METHOD_HEAD},
        {"POST", FY_METHOD_POST},       {"PUT", FY_METHOD_PUT},
        {"DELETE", FY_METHOD_DELETE},   {"OPTIONS", FY_METHOD_OPTIONS},
        {"TRACE", FY_METHOD_TRACE},     {"PATCH", FY_METHOD_PATCH},
        {"get", FY_METHOD_UNKNOWN},     {"Get", FY_METHOD_UNKNOWN},
        {"GETS", FY_METHOD_UNKNOWN},    {"GE", FY_METHOD_UNKNOWN},
        {"FOO", FY_METHOD_UNKNOWN},     {"M-SEARCH", FY_METHOD_UNKNOWN},
        {"PROPFIND", FY_METHOD_UNKNOWN}, {"X!#$%&'*+.^_`|~9", FY_METHOD_UNKNOWN},
    };
    char raw[128];
    for (size_t i = 0; i < TABLE_LEN(cases); i++) {
        int n = snprintf(raw, sizeof raw, "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].name);
        int got = parse_all(raw, (size_t)n, MAX_HEAD, &req);
        if (got != 0 || req.method != cases[i].want)
            printf("  method \"%s\":\n", cases[i].name);
        CHECK_INT(got, 0);
        CHECK_INT(req.method, cases[i].want);
        CHECK_STR(cstr(req.method_name), cases[i].name);
    }
    /* CONNECT needs an authority-form target. */
    CHECK_INT(PARSE("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), 0);
    CHECK_INT(req.method, FY_METHOD_CONNECT);
    CHECK_STR(cstr(req.path), "example.com:443");
}

static void test_pipelined(void)
{
    static const char raw[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                              "HEAD /b?q HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n"
                              "GET /c HTTP/1.1\r\nHo";
    size_t len = sizeof(raw) - 1, off = 0;

    CHECK_INT(parse_all(raw, len, MAX_HEAD, &req), 0);
    CHECK_INT(req.head_len, strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
    CHECK_STR(cstr(req.path), "/a");
    CHECK_STR(cstr(req.host), "x");
    off += req.head_len;

    CHECK_INT(parse_all(raw + off, len - off, MAX_HEAD, &req), 0);
    CHECK_INT(req.method, FY_METHOD_HEAD);
    CHECK_STR(cstr(req.path), "/b");
    CHECK_STR(cstr(req.query), "q");
    CHECK_STR(cstr(req.host), "y");
    CHECK(!req.keep_alive);
    off += req.head_len;
    CHECK(memcmp(raw + off, "GET /c", 6) == 0);

    CHECK_INT(fy_http_parse(raw + off, len - off, MAX_HEAD, &req), FY_HTTP_INCOMPLETE);
    CHECK_INT(req.head_len, 0);
}

static void check_every_prefix_incomplete(const char *raw, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        /* A heap copy of exactly i bytes: ASan catches any read past it. */
        char *copy = malloc(i ? i : 1);
        if (i)
            memcpy(copy, raw, i);
        int got = fy_http_parse(copy, i, MAX_HEAD, &req);
        if (got != FY_HTTP_INCOMPLETE)
            printf("  prefix of %zu bytes:\n", i);
        CHECK_INT(got, FY_HTTP_INCOMPLETE);
        free(copy);
    }
    char *copy = malloc(len);
    memcpy(copy, raw, len);
    CHECK_INT(parse_all(copy, len, MAX_HEAD, &req), 0);
    CHECK_INT(req.head_len, len);
    free(copy);
}

static void test_incomplete_every_prefix(void)
{
    static const char raw[] = "GET /some/path?a=b HTTP/1.1\r\n"
                              "Host: example.com:8080\r\n"
                              "If-None-Match: \"abc\"\r\n"
                              "Connection: keep-alive\r\n"
                              "X-Empty:\r\n"
                              "\r\n";
    static const char leading[] = "\r\n\r\nHEAD / HTTP/1.0\r\nA: b\r\n\r\n";
    check_every_prefix_incomplete(raw, sizeof(raw) - 1);
    check_every_prefix_incomplete(leading, sizeof(leading) - 1);
}

static void test_leading_empty_lines(void)
{
    static const char raw[] = "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK_INT(PARSE(raw), 0);
    CHECK_INT(req.head_len, sizeof(raw) - 1);
    CHECK_STR(cstr(req.path), "/x");
    CHECK_STR(cstr(req.method_name), "GET");
    CHECK_INT(PARSE("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    CHECK_INT(PARSE("\r\n \r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    CHECK_INT(PARSE("\r\n\r\n\r\n"), FY_HTTP_INCOMPLETE);
}

/* A lone LF or CR is an error before the head is complete: a client that
 * ends lines with LF would otherwise wait for the limit. */
static void test_bare_line_break_in_partial_head(void)
{
    CHECK_INT(PARSE("GET / HTTP/1.1\n"), 400);
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: a\n\n"), 400);
    CHECK_INT(PARSE("GET / HTTP/1.1\rHost"), 400);
    CHECK_INT(PARSE("GET / HTTP/1.1\r"), FY_HTTP_INCOMPLETE);
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: a\r\n\r"), FY_HTTP_INCOMPLETE);
}

static void test_head_limits(void)
{
    char buf[512];
    /* 64 bytes */
    const char *line = "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n";
    size_t line_len = strlen(line);
    CHECK_INT(line_len, 64);

    /* The request line alone overflows the limit. */
    CHECK_INT(fy_http_parse(line, 40, 40, &req), 414);
    CHECK_INT(fy_http_parse(line, 50, 40, &req), 414);
    CHECK_INT(fy_http_parse(line, 39, 40, &req), FY_HTTP_INCOMPLETE);
    /* Its LF just past the limit: still the request line's fault. */
    CHECK_INT(fy_http_parse(line, line_len, line_len - 1, &req), 414);

    /* Request line within the limit, headers overflowing it. */
    int n = snprintf(buf, sizeof buf, "%sHost: a\r\nX-Long: %0100d", line, 0);
    CHECK_INT(fy_http_parse(buf, (size_t)n, 100, &req), 431);
    CHECK_INT(fy_http_parse(buf, 99, 100, &req), FY_HTTP_INCOMPLETE);

    /* A complete head: accepted at exactly the limit, 431 one byte under. */
    n = snprintf(buf, sizeof buf, "%sHost: a\r\nX-Pad: bbbbbbbbbb\r\n\r\n", line);
    CHECK_INT(parse_all(buf, (size_t)n, (size_t)n, &req), 0);
    CHECK_INT(req.head_len, n);
    CHECK_INT(fy_http_parse(buf, (size_t)n, (size_t)n - 1, &req), 431);
    CHECK_INT(fy_http_parse(buf, (size_t)n, 70, &req), 431);
    CHECK_INT(fy_http_parse(buf, (size_t)n, 30, &req), 414);
    /* Even with more data buffered behind it. */
    memcpy(buf + n, "GET / HTTP/1.1\r\n", 16);
    CHECK_INT(fy_http_parse(buf, (size_t)n + 16, (size_t)n - 1, &req), 431);
    CHECK_INT(fy_http_parse(buf, (size_t)n + 16, (size_t)n, &req), 0);

    /* Endless empty lines before any request line. */
    for (int i = 0; i < 100; i++)
        memcpy(buf + 2 * i, "\r\n", 2);
    CHECK_INT(fy_http_parse(buf, 200, 100, &req), 414);
    CHECK_INT(fy_http_parse(buf, 200, 300, &req), FY_HTTP_INCOMPLETE);
}

static int parse_with_headers(size_t count)
{
    static char buf[8192];
    size_t off = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (size_t i = 1; i < count; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "X-H%zu: %zu\r\n", i, i);
    off += (size_t)snprintf(buf + off, sizeof buf - off, "\r\n");
    return parse_all(buf, off, sizeof buf, &req);
}

static void test_header_count_limit(void)
{
    CHECK_INT(parse_with_headers(FY_HTTP_MAX_HEADERS), 0);
    CHECK_INT(req.nheaders, FY_HTTP_MAX_HEADERS);
    CHECK_STR(cstr(req.headers[FY_HTTP_MAX_HEADERS - 1].value), "63");
    CHECK_INT(parse_with_headers(FY_HTTP_MAX_HEADERS + 1), 431);
    CHECK_INT(parse_with_headers(FY_HTTP_MAX_HEADERS + 20), 431);
}

static const struct status_case syntax_cases[] = {
    /* request line */
    CASE("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("two spaces before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    CASE("tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("no version", "GET /\r\nHost: a\r\n\r\n", 400),
    CASE("no target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("method only", "GET\r\nHost: a\r\n\r\n", 400),
    CASE("space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("paren in method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("quote in method", "GE\"T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("comma in method", "G,ET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("slash in method", "GET/ / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("brackets in method", "[GET] / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("NUL in method", "G\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("UTF-8 in method", "G\xc3\xa9T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("NUL in target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("control in target", "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("high byte in target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    /* line endings */
    CASE("bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
    CASE("bare LF after header", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
    CASE("bare LF inside value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\nc\r\n\r\n", 400),
    CASE("LF LF end", "GET / HTTP/1.1\r\nHost: a\r\n\n\r\n\r\n", 400),
    CASE("bare CR after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400),
    CASE("bare CR inside value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n", 400),
    CASE("CR CR LF", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400),
    CASE("bare CR in target", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    /* field lines */
    CASE("no colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n", 400),
    CASE("no colon, spaces", "GET / HTTP/1.1\r\nHost: a\r\nFoo bar\r\n\r\n", 400),
    CASE("space before colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo : bar\r\n\r\n", 400),
    CASE("tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo\t: bar\r\n\r\n", 400),
    CASE("space before Host colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    CASE("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: bar\r\n\r\n", 400),
    CASE("obs-fold space", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400),
    CASE("obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400),
    CASE("first line folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    CASE("paren in name", "GET / HTTP/1.1\r\nHost: a\r\nFo(o: b\r\n\r\n", 400),
    CASE("quote in name", "GET / HTTP/1.1\r\nHost: a\r\nFo\"o: b\r\n\r\n", 400),
    CASE("at in name", "GET / HTTP/1.1\r\nHost: a\r\nFo@o: b\r\n\r\n", 400),
    CASE("slash in name", "GET / HTTP/1.1\r\nHost: a\r\nFo/o: b\r\n\r\n", 400),
    CASE("high byte in name", "GET / HTTP/1.1\r\nHost: a\r\nFo\xc3\xa9: b\r\n\r\n", 400),
    CASE("NUL in name", "GET / HTTP/1.1\r\nHost: a\r\nF\0o: b\r\n\r\n", 400),
    CASE("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\0c\r\n\r\n", 400),
    CASE("SOH in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x01" "c\r\n\r\n", 400),
    CASE("US in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x1f\r\n\r\n", 400),
    CASE("VT in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x0b\r\n\r\n", 400),
    CASE("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x7f\r\n\r\n", 400),
    CASE("ESC in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n", 400),
    /* accepted oddities */
    CASE("obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\xff\r\n\r\n", 0),
    CASE("tab inside value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n", 0),
    CASE("colon in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a:b::\r\n\r\n", 0),
    CASE("empty value", "GET / HTTP/1.1\r\nHost: a\r\nX:\r\n\r\n", 0),
    CASE("token chars in name", "GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09aZ: b\r\n\r\n", 0),
    CASE("all visible ASCII in target",
         "GET /!\"$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~ HTTP/1.1\r\nHost: a\r\n\r\n", 0),
};

static void test_syntax_errors(void)
{
    run_status_table(syntax_cases, TABLE_LEN(syntax_cases));
}

static const struct status_case version_cases[] = {
    CASE("1.0", "GET / HTTP/1.0\r\n\r\n", 0),
    CASE("1.1", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0),
    CASE("2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    CASE("1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
    CASE("1.9", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", 505),
    CASE("0.9", "GET / HTTP/0.9\r\n\r\n", 505),
    CASE("3.0", "GET / HTTP/3.0\r\n\r\n", 505),
    CASE("9.9", "GET / HTTP/9.9\r\n\r\n", 505),
    CASE("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    CASE("lowercase", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("mixed case", "GET / Http/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("two minor digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
    CASE("two major digits", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400),
    CASE("no dot", "GET / HTTP/11\r\nHost: a\r\n\r\n", 400),
    CASE("no minor", "GET / HTTP/1.\r\nHost: a\r\n\r\n", 400),
    CASE("major only", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
    CASE("comma", "GET / HTTP/1,1\r\nHost: a\r\n\r\n", 400),
    CASE("letter minor", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
    CASE("space after slash", "GET / HTTP/ 1.1\r\nHost: a\r\n\r\n", 400),
    CASE("HTTPS", "GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400),
    CASE("no slash", "GET / HTTP1.1\r\nHost: a\r\n\r\n", 400),
    CASE("suffix", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400),
    CASE("empty", "GET / \r\nHost: a\r\n\r\n", 400),
};

static void test_versions(void)
{
    run_status_table(version_cases, TABLE_LEN(version_cases));
    CHECK_INT(PARSE("GET / HTTP/1.0\r\n\r\n"), 0);
    CHECK_INT(req.version_minor, 0);
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    CHECK_INT(req.version_minor, 1);
}

static void test_origin_form(void)
{
    CHECK_INT(PARSE("GET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    CHECK_STR(cstr(req.path), "/a/b");
    CHECK_STR(cstr(req.query), "x=1&y");
    CHECK_STR(cstr(req.target), "/a/b?x=1&y");

    CHECK_INT(PARSE("GET /a?b?c HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    CHECK_STR(cstr(req.path), "/a");
    CHECK_STR(cstr(req.query), "b?c");

    CHECK_INT(PARSE("GET /? HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    CHECK_STR(cstr(req.path), "/");
    CHECK_INT(req.query.len, 0);
    CHECK(req.query.p != NULL);

    CHECK_INT(PARSE("GET /%2e%2E/x HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    CHECK_STR(cstr(req.path), "/%2e%2E/x");
    CHECK_INT(req.query.len, 0);
    CHECK(req.query.p != NULL);

    CHECK_INT(PARSE("GET ?x HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_INT(PARSE("GET a/b HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
}

static void test_absolute_form(void)
{
    CHECK_INT(PARSE("GET http://example.com/x?y HTTP/1.1\r\nHost: other\r\n\r\n"), 0);
    CHECK_STR(cstr(req.path), "/x");
    CHECK_STR(cstr(req.query), "y");
    CHECK_STR(cstr(req.host), "example.com"); /* the authority beats Host */
    CHECK_STR(cstr(req.target), "http://example.com/x?y");

    CHECK_INT(PARSE("GET HTTPS://Example.com:8443 HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    CHECK_STR(cstr(req.path), "/");
    CHECK_INT(req.query.len, 0);
    CHECK_STR(cstr(req.host), "Example.com:8443");

    CHECK_INT(PARSE("GET hTtP://h?q=1 HTTP/1.1\r\nHost: h\r\n\r\n"), 0);
    CHECK_STR(cstr(req.path), "/");
    CHECK_STR(cstr(req.query), "q=1");

    CHECK_INT(PARSE("GET http://[::1]:8080/p/ HTTP/1.0\r\n\r\n"), 0);
    CHECK_STR(cstr(req.host), "[::1]:8080");
    CHECK_STR(cstr(req.path), "/p/");

    /* HTTP/1.1 still requires the Host line (RFC 9112 §3.2). */
    CHECK_INT(PARSE("GET http://example.com/ HTTP/1.1\r\n\r\n"), 400);

    static const struct status_case bad[] = {
        CASE("empty authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("nothing after scheme", "GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("other scheme", "GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("one slash", "GET http:/h/x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("no scheme", "GET example.com/x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("bad port", "GET http://h:99999/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("empty port", "GET http://h:/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("fragment", "GET http://h/#x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("CONNECT absolute", "CONNECT http://h:1/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    };
    run_status_table(bad, TABLE_LEN(bad));
}

static void test_asterisk_and_authority_forms(void)
{
    CHECK_INT(PARSE("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    CHECK_INT(req.method, FY_METHOD_OPTIONS);
    CHECK_STR(cstr(req.path), "*");
    CHECK_INT(req.query.len, 0);

    static const struct status_case cases[] = {
        CASE("asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("asterisk with HEAD", "HEAD * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("asterisk with unknown", "FOO * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("asterisk and more", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        CASE("OPTIONS origin", "OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", 0),
        CASE("CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 0),
        CASE("CONNECT IPv6", "CONNECT [::1]:443 HTTP/1.1\r\nHost: a\r\n\r\n", 0),
        CASE("CONNECT without port", "CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        CASE("CONNECT origin form", "CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        CASE("CONNECT asterisk", "CONNECT * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        CASE("authority with GET", "GET h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        CASE("authority with OPTIONS", "OPTIONS h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    };
    run_status_table(cases, TABLE_LEN(cases));
}

/* The character classes, byte by byte, against their RFC definitions. */
static int is_tchar(int c)
{
    return c != 0 && strchr("!#$%&'*+-.^_`|~0123456789"
                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                            c) != NULL;
}

static void test_every_byte(void)
{
    char raw[64];
    size_t n;
    for (int c = 0; c < 256; c++) {
        n = (size_t)snprintf(raw, sizeof raw, "G?T / HTTP/1.1\r\nHost: a\r\n\r\n");
        raw[1] = (char)c;
        int got = parse_all(raw, n, MAX_HEAD, &req);
        if ((got == 0) != is_tchar(c))
            printf("  method byte 0x%02x gives %d\n", c, got);
        CHECK((got == 0) == is_tchar(c));
        if (got == 0)
            CHECK_INT(req.method, c == 'E' ? FY_METHOD_GET : FY_METHOD_UNKNOWN);

        n = (size_t)snprintf(raw, sizeof raw, "GET / HTTP/1.1\r\nHost: a\r\nX?y: v\r\n\r\n");
        raw[26] = (char)c;
        got = parse_all(raw, n, MAX_HEAD, &req);
        int want_ok = is_tchar(c) || c == ':';
        if ((got == 0) != want_ok)
            printf("  field-name byte 0x%02x gives %d\n", c, got);
        CHECK((got == 0) == want_ok);

        n = (size_t)snprintf(raw, sizeof raw, "GET / HTTP/1.1\r\nHost: a\r\nX: v?v\r\n\r\n");
        raw[29] = (char)c;
        got = parse_all(raw, n, MAX_HEAD, &req);
        want_ok = c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
        if ((got == 0) != want_ok)
            printf("  field-value byte 0x%02x gives %d\n", c, got);
        CHECK((got == 0) == want_ok);
        if (got == 0)
            CHECK_INT(req.headers[1].value.len, 3);

        n = (size_t)snprintf(raw, sizeof raw, "GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n");
        raw[6] = (char)c;
        got = parse_all(raw, n, MAX_HEAD, &req);
        want_ok = c >= 0x21 && c <= 0x7e && c != '#';
        if ((got == 0) != want_ok)
            printf("  target byte 0x%02x gives %d\n", c, got);
        CHECK((got == 0) == want_ok);
    }
}

static void test_header_values_trimmed(void)
{
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost:a\r\nX: \t b c \t \r\nY:   \r\nZ:\r\n\r\n"), 0);
    CHECK_INT(req.nheaders, 4);
    CHECK_STR(cstr(req.headers[0].value), "a");
    CHECK_STR(cstr(req.headers[1].value), "b c");
    CHECK_INT(req.headers[2].value.len, 0);
    CHECK_STR(cstr(req.headers[2].name), "Y");
    CHECK_INT(req.headers[3].value.len, 0);
}

static const struct status_case host_cases[] = {
    CASE("1.1 without Host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", 400),
    CASE("1.0 without Host", "GET / HTTP/1.0\r\nX: a\r\n\r\n", 0),
    CASE("two Host lines", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    CASE("two Host lines, other case", "GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n", 400),
    CASE("two Host lines on 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    CASE("empty Host on 1.1", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400),
    CASE("blank Host on 1.1", "GET / HTTP/1.1\r\nHost:   \r\n\r\n", 400),
    CASE("empty Host on 1.0", "GET / HTTP/1.0\r\nHost:\r\n\r\n", 0),
    CASE("name", "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", 0),
    CASE("name and port", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 0),
    CASE("IPv4", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 0),
    CASE("IPv6", "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", 0),
    CASE("IPv6 and port", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", 0),
    CASE("max port", "GET / HTTP/1.1\r\nHost: h:65535\r\n\r\n", 0),
    CASE("pct-encoded", "GET / HTTP/1.1\r\nHost: %41b\r\n\r\n", 0),
    CASE("empty port", "GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n", 400),
    CASE("port too big", "GET / HTTP/1.1\r\nHost: h:65536\r\n\r\n", 400),
    CASE("port too long", "GET / HTTP/1.1\r\nHost: h:000080\r\n\r\n", 400),
    CASE("letters in port", "GET / HTTP/1.1\r\nHost: h:http\r\n\r\n", 400),
    CASE("two ports", "GET / HTTP/1.1\r\nHost: h:1:2\r\n\r\n", 400),
    CASE("port only", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400),
    CASE("space inside", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    CASE("slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
    CASE("userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 400),
    CASE("bad escape", "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", 400),
    CASE("bad escape hex", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400),
    CASE("unclosed bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
    CASE("non-hex IPv6", "GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", 400),
    CASE("empty brackets", "GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400),
    CASE("junk after bracket", "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", 400),
    CASE("high bytes", "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400),
    CASE("invalid Host on 1.0", "GET / HTTP/1.0\r\nHost: a b\r\n\r\n", 400),
};

static void test_host_rules(void)
{
    run_status_table(host_cases, TABLE_LEN(host_cases));
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nhOsT:  example.com:81 \r\n\r\n"), 0);
    CHECK_STR(cstr(req.host), "example.com:81");
    CHECK_INT(PARSE("GET / HTTP/1.0\r\n\r\n"), 0);
    CHECK_INT(req.host.len, 0);
}

/* The start of a request head, for the tables below. */
#define POST11 "POST / HTTP/1.1\r\nHost: a\r\n"

static const struct status_case length_cases[] = {
    CASE("same twice", POST11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 0),
    CASE("different", POST11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    CASE("list same", POST11 "Content-Length: 5, 5,5\r\n\r\n", 0),
    CASE("list different", POST11 "Content-Length: 5, 6\r\n\r\n", 400),
    CASE("list then line", POST11 "Content-Length: 5,5\r\ncontent-length: 7\r\n\r\n", 400),
    CASE("trailing comma", POST11 "Content-Length: 5,\r\n\r\n", 400),
    CASE("leading comma", POST11 "Content-Length: ,5\r\n\r\n", 400),
    CASE("plus", POST11 "Content-Length: +5\r\n\r\n", 400),
    CASE("minus", POST11 "Content-Length: -5\r\n\r\n", 400),
    CASE("space inside", POST11 "Content-Length: 1 2\r\n\r\n", 400),
    CASE("empty", POST11 "Content-Length:\r\n\r\n", 400),
    CASE("blank", POST11 "Content-Length:  \r\n\r\n", 400),
    CASE("hex", POST11 "Content-Length: 0x10\r\n\r\n", 400),
    CASE("decimal point", POST11 "Content-Length: 1.0\r\n\r\n", 400),
    CASE("letters", POST11 "Content-Length: abc\r\n\r\n", 400),
    CASE("2^63", POST11 "Content-Length: 9223372036854775808\r\n\r\n", 400),
    CASE("2^64", POST11 "Content-Length: 18446744073709551616\r\n\r\n", 400),
    CASE("huge", POST11 "Content-Length: 99999999999999999999999999\r\n\r\n", 400),
    CASE("second one bad", POST11 "Content-Length: 5\r\nContent-Length: 5x\r\n\r\n", 400),
};

static void test_content_length(void)
{
    run_status_table(length_cases, TABLE_LEN(length_cases));

    CHECK_INT(PARSE(POST11 "Content-Length:  42 \r\n\r\n"), 0);
    CHECK(req.has_content_length);
    CHECK_INT(req.content_length, 42);

    CHECK_INT(PARSE(POST11 "content-LENGTH: 0\r\n\r\n"), 0);
    CHECK(req.has_content_length);
    CHECK_INT(req.content_length, 0);

    CHECK_INT(PARSE(POST11 "Content-Length: 007\r\nContent-Length: 7\r\n\r\n"), 0);
    CHECK_INT(req.content_length, 7);

    CHECK_INT(PARSE(POST11 "Content-Length: 9223372036854775807\r\n\r\n"), 0);
    CHECK(req.content_length == 9223372036854775807ULL);

    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    CHECK(!req.has_content_length);
    CHECK_INT(req.content_length, 0);
}

static const struct status_case te_cases[] = {
    CASE("chunked on 1.1", POST11 "Transfer-Encoding: chunked\r\n\r\n", 501),
    CASE("lowercase name", POST11 "transfer-encoding: chunked\r\n\r\n", 501),
    CASE("gzip, chunked", POST11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    CASE("on GET", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    CASE("on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    CASE("with Content-Length",
         POST11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    CASE("Content-Length after",
         POST11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
    CASE("and no Host", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
};

static void test_transfer_encoding(void)
{
    run_status_table(te_cases, TABLE_LEN(te_cases));
}

static void test_keep_alive(void)
{
    static const struct {
        const char *raw;
        int want;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nconnection: CLOSE\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo,close,bar\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: \r\n\r\n", 1},
        {"GET / HTTP/1.1\r\nHost: a\r\nX-Connection: close\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: TE, keep-alive ,x\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: ,,keep-alive,,\r\n\r\n", 1},
        {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: close\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: keep-alived\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nConnection: keep alive\r\n\r\n", 0},
        {"GET / HTTP/1.0\r\nKeep-Alive: timeout=5\r\n\r\n", 0},
    };
    for (size_t i = 0; i < TABLE_LEN(cases); i++) {
        int got = parse_all(cases[i].raw, strlen(cases[i].raw), MAX_HEAD, &req);
        if (got != 0 || req.keep_alive != cases[i].want)
            printf("  case %zu: %s", i, cases[i].raw);
        CHECK_INT(got, 0);
        CHECK_INT(req.keep_alive, cases[i].want);
    }
}

static void test_picked_headers(void)
{
    CHECK_INT(PARSE("GET / HTTP/1.1\r\n"
                    "HOST: h\r\n"
                    "if-modified-since: Sat, 29 Oct 1994 19:43:31 GMT\r\n"
                    "If-Unmodified-Since: Sun, 30 Oct 1994 19:43:31 GMT\r\n"
                    "If-None-Match: \"a\", W/\"b\"\r\n"
                    "If-None-Match: \"second\"\r\n"
                    "IF-MATCH: *\r\n"
                    "Range: bytes=0-99\r\n"
                    "If-Range: \"a\"\r\n"
                    "Accept-Encoding: gzip, br\r\n"
                    "User-Agent: t/1\r\n"
                    "Referer: http://r/\r\n"
                    "X-Range: nope\r\n"
                    "\r\n"),
              0);
    CHECK_STR(cstr(req.host), "h");
    CHECK_STR(cstr(req.if_modified_since), "Sat, 29 Oct 1994 19:43:31 GMT");
    CHECK_STR(cstr(req.if_unmodified_since), "Sun, 30 Oct 1994 19:43:31 GMT");
    CHECK_STR(joined(req.if_none_match), "\"a\", W/\"b\", \"second\"");
    CHECK_STR(joined(req.if_match), "*");
    CHECK_STR(cstr(req.range), "bytes=0-99");
    CHECK_STR(cstr(req.if_range), "\"a\"");
    CHECK_STR(joined(req.accept_encoding), "gzip, br");
    CHECK_STR(cstr(req.user_agent), "t/1");
    CHECK_STR(cstr(req.referer), "http://r/");

    /* An empty first occurrence still wins. */
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: h\r\nRange:\r\nRange: bytes=1-2\r\n\r\n"), 0);
    CHECK_INT(req.range.len, 0);
    CHECK(req.range.p != NULL);
}

/* Repeated lines of a list-based field are one list, as if joined with
 * commas (RFC 9110 §5.3); singletons keep their own rules. */
static void test_list_fields_over_several_lines(void)
{
    CHECK_INT(PARSE("GET / HTTP/1.1\r\n"
                    "If-None-Match: \"a\"\r\n"
                    "Accept-Encoding: br;q=0\r\n"
                    "Host: h\r\n"
                    "If-None-Match:\r\n"
                    "If-Match: \"m\"\r\n"
                    "IF-NONE-MATCH: \"b\", \"c\"\r\n"
                    "accept-encoding: gzip\r\n"
                    "X-If-None-Match: \"no\"\r\n"
                    "\r\n"),
              0);
    CHECK_STR(joined(req.if_none_match), "\"a\", , \"b\", \"c\"");
    CHECK_STR(joined(req.if_match), "\"m\"");
    CHECK_STR(joined(req.accept_encoding), "br;q=0, gzip");

    /* An empty line alone still makes the field present. */
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: h\r\nIf-Match:\r\n\r\n"), 0);
    CHECK(fy_field_present(req.if_match));
    CHECK_STR(joined(req.if_match), "");

    /* Singletons: the first line wins, or a repeat is an error. */
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: h\r\n"
                    "Range: bytes=0-1\r\nRange: bytes=5-6\r\n"
                    "If-Range: \"a\"\r\nIf-Range: \"b\"\r\n"
                    "If-Modified-Since: Sat, 29 Oct 1994 19:43:31 GMT\r\n"
                    "If-Modified-Since: Sun, 30 Oct 1994 19:43:31 GMT\r\n"
                    "If-Unmodified-Since: Mon, 31 Oct 1994 19:43:31 GMT\r\n"
                    "If-Unmodified-Since: Tue, 01 Nov 1994 19:43:31 GMT\r\n"
                    "Content-Length: 0\r\nContent-Length: 0\r\n\r\n"),
              0);
    CHECK_STR(cstr(req.range), "bytes=0-1");
    CHECK_STR(cstr(req.if_range), "\"a\"");
    CHECK_STR(cstr(req.if_modified_since), "Sat, 29 Oct 1994 19:43:31 GMT");
    CHECK_STR(cstr(req.if_unmodified_since), "Mon, 31 Oct 1994 19:43:31 GMT");
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n"), 400);
    CHECK_INT(PARSE("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
}

/* As many lines of one field as the header limit allows: the last one, the
 * 64th header, is kept like the first. */
static void test_list_field_at_the_header_limit(void)
{
    static char buf[8192];
    size_t off = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (size_t i = 1; i < FY_HTTP_MAX_HEADERS; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "If-None-Match: \"%zu\"\r\n", i);
    off += (size_t)snprintf(buf + off, sizeof buf - off, "\r\n");
    CHECK_INT(parse_all(buf, off, sizeof buf, &req), 0);
    struct fy_field_lines lines = req.if_none_match;
    struct fy_str line;
    size_t n = 0;
    while (fy_field_next_line(&lines, &line))
        n++;
    CHECK_INT(n, FY_HTTP_MAX_HEADERS - 1);
    CHECK_STR(cstr(line), "\"63\"");
}

/* The struct is reused across requests on a connection: nothing of the
 * previous request may leak into the next. */
static void test_struct_reuse(void)
{
    CHECK_INT(PARSE("POST /a?b HTTP/1.1\r\nHost: first\r\nContent-Length: 3\r\n"
                    "If-None-Match: x\r\nRange: bytes=0-1\r\nConnection: close\r\n"
                    "User-Agent: u\r\nReferer: r\r\nAccept-Encoding: gzip\r\n"
                    "If-Match: m\r\nIf-Range: r\r\nIf-Modified-Since: d\r\n"
                    "If-Unmodified-Since: d\r\n\r\n"),
              0);
    CHECK_INT(req.nheaders, 12);
    CHECK(!req.keep_alive);

    CHECK_INT(PARSE("GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
    CHECK_INT(req.nheaders, 1);
    CHECK_INT(req.method, FY_METHOD_GET);
    CHECK_INT(req.query.len, 0);
    CHECK_INT(req.version_minor, 0);
    CHECK_INT(req.host.len, 0);
    CHECK(!req.has_content_length);
    CHECK_INT(req.content_length, 0);
    CHECK(req.keep_alive);
    CHECK(!fy_field_present(req.if_none_match));
    CHECK(!fy_field_present(req.if_match));
    CHECK_INT(req.range.len, 0);
    CHECK_INT(req.if_range.len, 0);
    CHECK_INT(req.if_modified_since.len, 0);
    CHECK_INT(req.if_unmodified_since.len, 0);
    CHECK(!fy_field_present(req.accept_encoding));
    CHECK_INT(req.user_agent.len, 0);
    CHECK_INT(req.referer.len, 0);

    /* A failed or partial parse leaves no stale head_len behind. */
    CHECK_INT(fy_http_parse("GET / HT", 8, MAX_HEAD, &req), FY_HTTP_INCOMPLETE);
    CHECK_INT(req.head_len, 0);
    CHECK_INT(req.nheaders, 0);
}

static void test_str_eq_nocase(void)
{
    CHECK(fy_str_eq_nocase((struct fy_str){"Host", 4}, "host"));
    CHECK(fy_str_eq_nocase((struct fy_str){"HOST", 4}, "host"));
    CHECK(fy_str_eq_nocase((struct fy_str){"host", 4}, "host"));
    CHECK(fy_str_eq_nocase((struct fy_str){"", 0}, ""));
    CHECK(fy_str_eq_nocase((struct fy_str){"Keep-Alive", 10}, "keep-alive"));
    CHECK(!fy_str_eq_nocase((struct fy_str){"hos", 3}, "host"));
    CHECK(!fy_str_eq_nocase((struct fy_str){"hostx", 5}, "host"));
    CHECK(fy_str_eq_nocase((struct fy_str){"host", 3}, "hos"));
    CHECK(!fy_str_eq_nocase((struct fy_str){"h0st", 4}, "host"));
    CHECK(!fy_str_eq_nocase((struct fy_str){"", 0}, "a"));
    /* Only letters fold: '[' is not '{', '@' is not '`'. */
    CHECK(!fy_str_eq_nocase((struct fy_str){"[", 1}, "{"));
    CHECK(!fy_str_eq_nocase((struct fy_str){"@", 1}, "`"));
    CHECK(!fy_str_eq_nocase((struct fy_str){"\xc3\x89", 2}, "\xc3\xa9"));
}

static void test_method_name(void)
{
    CHECK_STR(fy_method_name(FY_METHOD_GET), "GET");
    CHECK_STR(fy_method_name(FY_METHOD_HEAD), "HEAD");
    CHECK_STR(fy_method_name(FY_METHOD_POST), "POST");
    CHECK_STR(fy_method_name(FY_METHOD_PUT), "PUT");
    CHECK_STR(fy_method_name(FY_METHOD_DELETE), "DELETE");
    CHECK_STR(fy_method_name(FY_METHOD_CONNECT), "CONNECT");
    CHECK_STR(fy_method_name(FY_METHOD_OPTIONS), "OPTIONS");
    CHECK_STR(fy_method_name(FY_METHOD_TRACE), "TRACE");
    CHECK_STR(fy_method_name(FY_METHOD_PATCH), "PATCH");
    CHECK_STR(fy_method_name(FY_METHOD_UNKNOWN), "UNKNOWN");
    CHECK_STR(fy_method_name((enum fy_method)99), "UNKNOWN");
}

/* --- a head arriving in pieces, the scan resumed ---------------------------- */

static void check_same_request(const struct fy_request *got, const struct fy_request *want)
{
    CHECK_INT(got->head_len, want->head_len);
    CHECK_INT(got->nheaders, want->nheaders);
    CHECK_INT(got->method, want->method);
    CHECK_STR(cstr(got->target), cstr(want->target));
}

/* Feeds raw in pieces of `piece` bytes to one resumed scan, as a
 * connection reading a trickling client does.  After every piece the
 * answer must be the one a fresh parse of the same bytes gives. */
static void check_resumed_like_fresh(const char *raw, size_t len, size_t max_head, size_t piece)
{
    struct fy_http_scan scan = {0};
    static struct fy_request fresh;
    for (size_t n = 0; n < len;) {
        n = len - n < piece ? len : n + piece;
        char *copy = malloc(n); /* exactly n bytes: ASan catches a read past them */
        memcpy(copy, raw, n);
        int got = fy_http_parse_resume(copy, n, max_head, &scan, &req);
        int want = fy_http_parse(copy, n, max_head, &fresh);
        if (got != want)
            printf("  %zu of %zu bytes in pieces of %zu:\n", n, len, piece);
        CHECK_INT(got, want);
        if (got == 0)
            check_same_request(&req, &fresh); /* views into copy */
        free(copy);
        if (got != FY_HTTP_INCOMPLETE)
            return;
    }
}

static void test_resumed_scan_matches_a_fresh_parse(void)
{
    static const struct status_case heads[] = {
        CASE("whole", "GET /a?b HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\nAccept: */*\r\n\r\n", 0),
        CASE("leading empty lines", "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0),
        CASE("bare LF", "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n", 400),
        CASE("bare LF first", "\r\n\nGET / HTTP/1.1\r\n\r\n", 400),
        CASE("bare CR", "GET / HTTP/1.1\r\nHost: x\rA: b\r\n\r\n", 400),
        CASE("CR CR LF", "GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", 400),
        CASE("LF LF", "GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
        CASE("header section too large",
             "GET / HTTP/1.1\r\nHost: x\r\nA: 0123456789012345678901234567890123456789\r\n"
             "B: 0123456789012345678901234567890123456789\r\n\r\n", 431),
        CASE("request line too long",
             "GET /0123456789012345678901234567890123456789012345678901234567890123456789"
             "01234567890123456789012345678901234567890123456789 HTTP/1.1\r\n\r\n", 414),
    };
    static const size_t pieces[] = {1, 2, 3, 4, 5, 7, 13, 64, 1000};
    for (size_t i = 0; i < TABLE_LEN(heads); i++) {
        size_t max_head = heads[i].want == 0 || heads[i].want == 400 ? MAX_HEAD : 100;
        for (size_t j = 0; j < TABLE_LEN(pieces); j++) {
            check_resumed_like_fresh(heads[i].raw, heads[i].len, max_head, pieces[j]);
            struct fy_http_scan scan = {0};
            CHECK_INT(fy_http_parse_resume(heads[i].raw, heads[i].len, max_head, &scan, &req), heads[i].want);
        }
    }
}

/* A long head trickling in: found where it ends, not sooner or later. */
static void test_resumed_scan_of_a_long_head(void)
{
    static const char first[] = "GET / HTTP/1.1\r\nHost: x\r\n";
    size_t nlines = 60, line_len = 5000; /* "A: vvv...v\r\n" */
    size_t len = sizeof first - 1 + nlines * line_len + 2;
    char *raw = malloc(len), *p = raw;
    memcpy(p, first, sizeof first - 1);
    p += sizeof first - 1;
    for (size_t i = 0; i < nlines; i++, p += line_len) {
        memset(p, 'v', line_len);
        memcpy(p, "A: ", 3);
        memcpy(p + line_len - 2, "\r\n", 2);
    }
    memcpy(p, "\r\n", 2);
    check_resumed_like_fresh(raw, len, len, 100);
    check_resumed_like_fresh(raw, len, len, 4093);
    struct fy_http_scan scan = {0};
    CHECK_INT(fy_http_parse_resume(raw, len - 1, len, &scan, &req), FY_HTTP_INCOMPLETE);
    CHECK_INT(fy_http_parse_resume(raw, len, len, &scan, &req), 0);
    CHECK_INT(req.head_len, len);
    CHECK_INT(req.nheaders, nlines + 1);
    free(raw);
}

int main(void)
{
    RUN(test_simple_get);
    RUN(test_head_http10);
    RUN(test_methods);
    RUN(test_pipelined);
    RUN(test_incomplete_every_prefix);
    RUN(test_leading_empty_lines);
    RUN(test_bare_line_break_in_partial_head);
    RUN(test_head_limits);
    RUN(test_header_count_limit);
    RUN(test_syntax_errors);
    RUN(test_versions);
    RUN(test_origin_form);
    RUN(test_absolute_form);
    RUN(test_asterisk_and_authority_forms);
    RUN(test_every_byte);
    RUN(test_header_values_trimmed);
    RUN(test_host_rules);
    RUN(test_content_length);
    RUN(test_transfer_encoding);
    RUN(test_keep_alive);
    RUN(test_picked_headers);
    RUN(test_list_fields_over_several_lines);
    RUN(test_list_field_at_the_header_limit);
    RUN(test_struct_reuse);
    RUN(test_str_eq_nocase);
    RUN(test_method_name);
    RUN(test_resumed_scan_matches_a_fresh_parse);
    RUN(test_resumed_scan_of_a_long_head);
    return CHECK_SUMMARY();
}
