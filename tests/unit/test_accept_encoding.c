/* Unit tests of src/http/accept_encoding.c: q-values, "*", x-gzip. */
#include "check.h"

#include "http/accept_encoding.h"

/* The q of a header of one line, or of none when header is NULL. */
static unsigned q(const char *header, const char *coding)
{
    struct fy_header line = {.value = {header, header ? strlen(header) : 0}};
    return fy_accept_encoding_q((struct fy_field_lines){&line, header ? 1 : 0}, coding);
}

static void test_plain_lists(void)
{
    CHECK_INT(q("gzip, deflate, br", "br"), 1000);
    CHECK_INT(q("gzip, deflate, br", "gzip"), 1000);
    CHECK_INT(q("gzip", "br"), 0);
    CHECK_INT(q("GZIP", "gzip"), 1000);
    CHECK_INT(q("x-gzip", "gzip"), 1000);
    CHECK_INT(q("identity", "gzip"), 0);
}

static void test_absent_and_empty(void)
{
    CHECK_INT(q(NULL, "gzip"), 0);
    CHECK_INT(q("", "gzip"), 0);
}

static void test_qvalues(void)
{
    CHECK_INT(q("br;q=0.5, gzip;q=0.8", "br"), 500);
    CHECK_INT(q("br;q=0.5, gzip;q=0.8", "gzip"), 800);
    CHECK_INT(q("br ; q=0", "br"), 0);
    CHECK_INT(q("br;q=0.000", "br"), 0);
    CHECK_INT(q("br;q=1", "br"), 1000);
    CHECK_INT(q("br;q=1.000", "br"), 1000);
    CHECK_INT(q("br;Q=0.25", "br"), 250);
    CHECK_INT(q("br;level=3;q=0.7", "br"), 700);
    /* malformed q counts as 0 */
    CHECK_INT(q("br;q=2", "br"), 0);
    CHECK_INT(q("br;q=0.5555", "br"), 0);
    CHECK_INT(q("br;q=abc", "br"), 0);
    CHECK_INT(q("br;q=1.5", "br"), 0);
}

static void test_star(void)
{
    CHECK_INT(q("*", "br"), 1000);
    CHECK_INT(q("*;q=0.3", "gzip"), 300);
    CHECK_INT(q("gzip;q=0, *", "gzip"), 0);
    CHECK_INT(q("*;q=0, br", "br"), 1000);
    CHECK_INT(q("*;q=0, br", "gzip"), 0);
}

/* The q of coding in the request raw, parsed as the server does. */
static unsigned q_raw(const char *raw, const char *coding)
{
    static struct fy_request req;
    if (fy_http_parse(raw, strlen(raw), 8192, &req) != 0 || fy_http_analyse(&req) != 0)
        return 9999;
    return fy_accept_encoding_q(req.accept_encoding, coding);
}

#define GET_HEAD "GET / HTTP/1.1\r\nHost: h\r\n"

/* Repeated Accept-Encoding lines are one list, as if joined with commas
 * (RFC 9110 §5.3): the same answers as q("br;q=0, gzip", ...). */
static void test_several_lines(void)
{
    static const char two[] = GET_HEAD "Accept-Encoding: br;q=0\r\nAccept-Encoding: gzip\r\n\r\n";
    CHECK_INT(q_raw(two, "gzip"), 1000);
    CHECK_INT(q_raw(two, "br"), 0);
    static const char three[] = GET_HEAD "Accept-Encoding: identity\r\nAccept-Encoding:\r\n"
                                         "accept-encoding: *;q=0.2, gzip;q=0.5\r\n\r\n";
    CHECK_INT(q_raw(three, "gzip"), 500);
    CHECK_INT(q_raw(three, "br"), 200);
    /* a later entry for the same coding wins, across lines as within one */
    CHECK_INT(q_raw(GET_HEAD "Accept-Encoding: gzip\r\nAccept-Encoding: gzip;q=0.1\r\n\r\n", "gzip"), 100);
    CHECK_INT(q("gzip, gzip;q=0.1", "gzip"), 100);
}

int main(void)
{
    RUN(test_plain_lists);
    RUN(test_absent_and_empty);
    RUN(test_qvalues);
    RUN(test_star);
    RUN(test_several_lines);
    return CHECK_SUMMARY();
}
