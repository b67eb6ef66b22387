/* Unit tests of src/http/cond.c: entity-tag lists, the order of RFC 9110
 * §13.2.2, invalid dates ignored, If-Range. */
#include "check.h"

#include "http/cond.h"

#define ETAG "\"abc-12-34\""
#define MTIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define DATE_EQ "Sun, 06 Nov 1994 08:49:37 GMT"
#define DATE_BEFORE "Sun, 06 Nov 1994 08:49:36 GMT"
#define DATE_AFTER "Sun, 06 Nov 1994 08:49:38 GMT"

static const struct fy_validators v = {{ETAG, sizeof ETAG - 1}, MTIME, {NULL, 0}};

static struct fy_str S(const char *s)
{
    return (struct fy_str){s, s ? strlen(s) : 0};
}

/* The field whose lines are values[0..n), kept in h[]; no line when
 * values[0] is NULL. */
static struct fy_field_lines lines_of(struct fy_header h[], const char *const values[], size_t n)
{
    struct fy_field_lines f = {h, 0};
    for (size_t i = 0; i < n && values[i]; i++) {
        h[i].value = S(values[i]);
        f.which |= (uint64_t)1 << i;
    }
    return f;
}

static bool match(const char *list, bool weak)
{
    struct fy_header h[1];
    return fy_etag_list_match(lines_of(h, &list, 1), v.etag, weak);
}

/* An array of line values and its length, for match_lines(). */
#define LINES(...) (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

static bool match_lines(bool weak, const char *const values[], size_t n)
{
    struct fy_header h[8];
    return fy_etag_list_match(lines_of(h, values, n), v.etag, weak);
}

static void test_etag_lists(void)
{
    CHECK(match(ETAG, false));
    CHECK(match(ETAG, true));
    CHECK(match("*", false));
    CHECK(match(" * ", true));
    CHECK(match("\"x\", " ETAG, false));
    CHECK(match("\"x\"," ETAG ",\"y\"", true));
    CHECK(match(", ," ETAG, true));
    CHECK(!match("\"x\"", true));
    CHECK(!match("", true));
    CHECK(!match("\"abc-12-3\"", true));
    /* weak tags: the weak comparison ignores W/, the strong one never matches */
    CHECK(match("W/" ETAG, true));
    CHECK(!match("W/" ETAG, false));
    /* bad syntax matches nothing */
    CHECK(!match("abc-12-34", true));
    CHECK(!match("\"x\" " ETAG, true));
    CHECK(!match("\"unterminated, " ETAG, true));
}

/* A list over several lines means the list they make joined with commas
 * (RFC 9110 §5.3): the answers are those of the joined list. */
static void test_etag_list_over_several_lines(void)
{
    CHECK(match_lines(false, LINES("\"x\"", ETAG)));        /* "x", ETAG */
    CHECK(match_lines(true, LINES("\"x\"", "", "W/" ETAG))); /* "x", , W/ETAG */
    CHECK(match_lines(true, LINES(ETAG, "\"x\"")));
    CHECK(!match_lines(true, LINES("\"x\"", "\"y\"")));
    CHECK(!match_lines(false, LINES("\"x\"", "W/" ETAG)));
    /* bad syntax in an earlier line stops the scan, as in one line */
    CHECK(!match_lines(true, LINES("\"x\" junk", ETAG)));
    CHECK(match_lines(true, LINES(ETAG, "junk")));
    /* "*" only as the whole field: "*, \"x\"" is no valid list */
    CHECK(!match_lines(true, LINES("*", "\"x\"")));
    CHECK(!match_lines(true, LINES("\"x\"", "*")));
    CHECK(!match_lines(true, LINES("*", "*")));
    CHECK(match_lines(true, LINES(ETAG, "*")));
    /* no line, no match */
    CHECK(!match_lines(true, LINES(NULL)));
}

/* Only the field's own lines count, wherever they are among the others. */
static void test_etag_list_skips_other_lines(void)
{
    struct fy_header h[4] = {{.value = S("\"x\"")}, {.value = S(ETAG)}, {.value = S("\"y\"")}, {.value = S(ETAG)}};
    CHECK(!fy_etag_list_match((struct fy_field_lines){h, 0x5}, v.etag, true));
    CHECK(fy_etag_list_match((struct fy_field_lines){h, 0x9}, v.etag, true));
    CHECK(fy_etag_list_match((struct fy_field_lines){h, 0x2}, v.etag, true));
}

static int eval(const char *im, const char *ius, const char *inm, const char *ims, bool safe)
{
    struct fy_request req = {0};
    struct fy_header im_line[1], inm_line[1];
    req.if_match = lines_of(im_line, &im, 1);
    req.if_unmodified_since = S(ius);
    req.if_none_match = lines_of(inm_line, &inm, 1);
    req.if_modified_since = S(ims);
    return fy_cond_evaluate(&req, safe, &v);
}

static void test_none(void)
{
    CHECK_INT(eval(NULL, NULL, NULL, NULL, true), 0);
}

static void test_if_none_match(void)
{
    CHECK_INT(eval(NULL, NULL, ETAG, NULL, true), 304);
    CHECK_INT(eval(NULL, NULL, "W/" ETAG, NULL, true), 304);
    CHECK_INT(eval(NULL, NULL, "*", NULL, true), 304);
    CHECK_INT(eval(NULL, NULL, "\"other\"", NULL, true), 0);
    CHECK_INT(eval(NULL, NULL, ETAG, NULL, false), 412);
}

static void test_if_modified_since(void)
{
    CHECK_INT(eval(NULL, NULL, NULL, DATE_EQ, true), 304);
    CHECK_INT(eval(NULL, NULL, NULL, DATE_AFTER, true), 304);
    CHECK_INT(eval(NULL, NULL, NULL, DATE_BEFORE, true), 0);
    CHECK_INT(eval(NULL, NULL, NULL, "Sunday, 06-Nov-94 08:49:37 GMT", true), 304);
    CHECK_INT(eval(NULL, NULL, NULL, "Sun Nov  6 08:49:37 1994", true), 304);
    /* an invalid date is ignored */
    CHECK_INT(eval(NULL, NULL, NULL, "yesterday", true), 0);
    CHECK_INT(eval(NULL, NULL, NULL, "", true), 0);
    /* only for GET and HEAD */
    CHECK_INT(eval(NULL, NULL, NULL, DATE_AFTER, false), 0);
    /* ignored when If-None-Match is there */
    CHECK_INT(eval(NULL, NULL, "\"other\"", DATE_AFTER, true), 0);
}

static void test_if_match(void)
{
    CHECK_INT(eval(ETAG, NULL, NULL, NULL, true), 0);
    CHECK_INT(eval("*", NULL, NULL, NULL, true), 0);
    CHECK_INT(eval("\"other\"", NULL, NULL, NULL, true), 412);
    CHECK_INT(eval("W/" ETAG, NULL, NULL, NULL, true), 412); /* strong comparison */
    /* If-Unmodified-Since is ignored when If-Match is there */
    CHECK_INT(eval(ETAG, DATE_BEFORE, NULL, NULL, true), 0);
}

static void test_if_unmodified_since(void)
{
    CHECK_INT(eval(NULL, DATE_EQ, NULL, NULL, true), 0);
    CHECK_INT(eval(NULL, DATE_AFTER, NULL, NULL, true), 0);
    CHECK_INT(eval(NULL, DATE_BEFORE, NULL, NULL, true), 412);
    CHECK_INT(eval(NULL, "not a date", NULL, NULL, true), 0);
}

static void test_order(void)
{
    /* a failed If-Match wins over a matching If-None-Match */
    CHECK_INT(eval("\"other\"", NULL, ETAG, NULL, true), 412);
    /* If-Match passes, then If-None-Match decides */
    CHECK_INT(eval(ETAG, NULL, ETAG, NULL, true), 304);
    CHECK_INT(eval(NULL, DATE_EQ, NULL, DATE_EQ, true), 304);
    CHECK_INT(eval(NULL, DATE_BEFORE, NULL, DATE_EQ, true), 412);
}

static void test_if_range(void)
{
    CHECK(fy_cond_if_range(S(NULL), &v));
    CHECK(fy_cond_if_range(S(ETAG), &v));
    CHECK(!fy_cond_if_range(S("\"other\""), &v));
    CHECK(!fy_cond_if_range(S("W/" ETAG), &v));
    CHECK(!fy_cond_if_range(S(ETAG ", \"x\""), &v));
    CHECK(fy_cond_if_range(S(DATE_EQ), &v));
    CHECK(!fy_cond_if_range(S(DATE_AFTER), &v)); /* only an exact match */
    CHECK(!fy_cond_if_range(S(DATE_BEFORE), &v));
    CHECK(!fy_cond_if_range(S("garbage"), &v));
    CHECK(!fy_cond_if_range(S(""), &v));
}

/* A digest ETag with the size-mtime tag it replaced: both match, strong
 * and weak; an absent ETag (etag = off) matches no tag, only "*". */
static void test_alternative_and_absent_tags(void)
{
    const struct fy_validators d = {S("\"d1g\""), MTIME, S(ETAG)};
    struct fy_request r = {0};
    CHECK(fy_cond_if_range(S(ETAG), &d));
    CHECK(fy_cond_if_range(S("\"d1g\""), &d));
    CHECK(!fy_cond_if_range(S("\"x\""), &d));
    struct fy_header h[1] = {{.value = S(ETAG)}};
    r.if_match = (struct fy_field_lines){h, 1};
    CHECK_INT(fy_cond_evaluate(&r, true, &d), 0);
    r = (struct fy_request){0};
    r.if_none_match = (struct fy_field_lines){h, 1};
    CHECK_INT(fy_cond_evaluate(&r, true, &d), 304);
    const struct fy_validators none = {{"", 0}, MTIME, {NULL, 0}};
    CHECK_INT(fy_cond_evaluate(&r, true, &none), 0);
    CHECK(!fy_cond_if_range(S("\"\""), &none));
    h[0].value = S("*");
    CHECK_INT(fy_cond_evaluate(&r, true, &none), 304);
}

/* "Wed, ..." starts with W like a weak tag "W/\"...\"" does: a date on a
 * Wednesday is still a date. */
static void test_if_range_date_on_a_wednesday(void)
{
    const struct fy_validators wed = {{ETAG, sizeof ETAG - 1}, 1704283200, {NULL, 0}}; /* 2024-01-03 12:00:00 */
    CHECK(fy_cond_if_range(S("Wed, 03 Jan 2024 12:00:00 GMT"), &wed));
    CHECK(fy_cond_if_range(S("Wednesday, 03-Jan-24 12:00:00 GMT"), &wed));
    CHECK(fy_cond_if_range(S("Wed Jan  3 12:00:00 2024"), &wed));
    CHECK(!fy_cond_if_range(S("Wed, 03 Jan 2024 12:00:01 GMT"), &wed));
    CHECK(!fy_cond_if_range(S("W/" ETAG), &wed));
}

/* The request raw as a client sends it, parsed as the server does, then
 * evaluated; -1 when the parser refuses it. */
static int eval_raw(const char *raw)
{
    static struct fy_request req;
    if (fy_http_parse(raw, strlen(raw), 8192, &req) != 0 || fy_http_analyse(&req) != 0)
        return -1;
    return fy_cond_evaluate(&req, true, &v);
}

#define GET_HEAD "GET / HTTP/1.1\r\nHost: h\r\n"

/* Repeated lines of a list-based field are one list, as if joined with
 * commas (RFC 9110 §5.3). */
static void test_lists_over_several_lines(void)
{
    CHECK_INT(eval_raw(GET_HEAD "If-None-Match: \"x\"\r\nIf-None-Match: " ETAG "\r\n\r\n"), 304);
    CHECK_INT(eval_raw(GET_HEAD "If-None-Match: \"x\"\r\nIf-None-Match:\r\nif-none-match: W/" ETAG "\r\n\r\n"),
              304);
    CHECK_INT(eval_raw(GET_HEAD "If-None-Match: \"x\"\r\nIf-None-Match: \"y\"\r\n\r\n"), 0);
    CHECK_INT(eval_raw(GET_HEAD "If-Match: \"x\"\r\nIf-Match: " ETAG "\r\n\r\n"), 0);
    CHECK_INT(eval_raw(GET_HEAD "If-Match: \"x\"\r\nIf-Match: \"y\"\r\n\r\n"), 412);
    /* the lines of If-Match and If-None-Match interleaved */
    CHECK_INT(eval_raw(GET_HEAD "If-Match: \"x\"\r\nIf-None-Match: \"y\"\r\nIf-Match: " ETAG
                                "\r\nIf-None-Match: " ETAG "\r\n\r\n"),
              304);
}

int main(void)
{
    RUN(test_etag_lists);
    RUN(test_etag_list_over_several_lines);
    RUN(test_etag_list_skips_other_lines);
    RUN(test_none);
    RUN(test_if_none_match);
    RUN(test_if_modified_since);
    RUN(test_if_match);
    RUN(test_if_unmodified_since);
    RUN(test_order);
    RUN(test_if_range);
    RUN(test_if_range_date_on_a_wednesday);
    RUN(test_alternative_and_absent_tags);
    RUN(test_lists_over_several_lines);
    return CHECK_SUMMARY();
}
