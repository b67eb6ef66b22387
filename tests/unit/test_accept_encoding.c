/* Unit tests of src/http/accept_encoding.c: q-values, "*", x-gzip. */
#include "check.h"

#include "http/accept_encoding.h"

static unsigned q(const char *header, const char *coding)
{
    return fy_accept_encoding_q((struct fy_str){header, header ? strlen(header) : 0}, coding);
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

int main(void)
{
    RUN(test_plain_lists);
    RUN(test_absent_and_empty);
    RUN(test_qvalues);
    RUN(test_star);
    return CHECK_SUMMARY();
}
