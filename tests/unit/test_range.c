/* Unit tests of src/http/range.c: the Range header against a file size,
 * and the policy of range.h (ignore, 416, clip, merge, refuse overlap). */
#include "check.h"

#include "http/range.h"

static struct fy_range got[FY_RANGE_MAX];
static size_t ngot;

static enum fy_range_result parse(const char *v, off_t size)
{
    ngot = 0;
    return fy_range_parse((struct fy_str){v, strlen(v)}, size, got, &ngot);
}

#define CHECK_RANGE(i, a, b)                                                 \
    do {                                                                     \
        CHECK_INT(got[i].first, a);                                          \
        CHECK_INT(got[i].last, b);                                           \
    } while (0)

static void test_single_forms(void)
{
    CHECK_INT(parse("bytes=0-99", 1000), FY_RANGE_OK);
    CHECK_INT(ngot, 1);
    CHECK_RANGE(0, 0, 99);
    CHECK_INT(parse("bytes=500-", 1000), FY_RANGE_OK);
    CHECK_RANGE(0, 500, 999);
    CHECK_INT(parse("bytes=-100", 1000), FY_RANGE_OK);
    CHECK_RANGE(0, 900, 999);
    CHECK_INT(parse("bytes=999-999", 1000), FY_RANGE_OK);
    CHECK_RANGE(0, 999, 999);
    CHECK_INT(parse("bytes=0-0", 1), FY_RANGE_OK);
    CHECK_RANGE(0, 0, 0);
}

static void test_end_is_clipped(void)
{
    CHECK_INT(parse("bytes=900-5000", 1000), FY_RANGE_OK);
    CHECK_RANGE(0, 900, 999);
    CHECK_INT(parse("bytes=-5000", 1000), FY_RANGE_OK);
    CHECK_RANGE(0, 0, 999);
    CHECK_INT(parse("bytes=0-99999999999999999999999", 1000), FY_RANGE_OK);
    CHECK_RANGE(0, 0, 999);
}

static void test_unit_and_whitespace(void)
{
    CHECK_INT(parse("BYTES=0-1", 10), FY_RANGE_OK);
    CHECK_INT(parse("bytes=0-1 , 5-6", 10), FY_RANGE_OK);
    CHECK_INT(ngot, 2);
    CHECK_INT(parse("bytes=,0-1,,", 10), FY_RANGE_OK);
    CHECK_INT(ngot, 1);
}

static void test_syntax_errors_are_ignored(void)
{
    const char *bad[] = {"", "bytes", "bytes=", "bytes=,", "bytes 0-1", "bytes= =0-1", "items=0-1",
                         "bytes=a-b", "bytes=1", "bytes=-", "bytes=5-1", "bytes=0-1,x", "bytes=0-1-2",
                         "bytes=--1", "bytes=0 -1", "bytes=+1-2", "bytes=0-1;", "byte=0-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(bad[i], 100) != FY_RANGE_IGNORE)
            printf("  \"%s\" not ignored\n", bad[i]);
        CHECK_INT(parse(bad[i], 100), FY_RANGE_IGNORE);
    }
    CHECK_INT(fy_range_parse((struct fy_str){NULL, 0}, 100, got, &ngot), FY_RANGE_IGNORE);
}

static void test_unsatisfiable(void)
{
    CHECK_INT(parse("bytes=1000-", 1000), FY_RANGE_UNSATISFIABLE);
    CHECK_INT(parse("bytes=1000-2000", 1000), FY_RANGE_UNSATISFIABLE);
    CHECK_INT(parse("bytes=-0", 1000), FY_RANGE_UNSATISFIABLE);
    CHECK_INT(parse("bytes=0-", 0), FY_RANGE_UNSATISFIABLE);
    CHECK_INT(parse("bytes=-5", 0), FY_RANGE_UNSATISFIABLE);
    CHECK_INT(parse("bytes=99999999999999999999-", 1000), FY_RANGE_UNSATISFIABLE);
    /* the satisfiable ones of a list are kept */
    CHECK_INT(parse("bytes=2000-3000,0-4", 1000), FY_RANGE_OK);
    CHECK_INT(ngot, 1);
    CHECK_RANGE(0, 0, 4);
}

static void test_several_sorted_and_merged(void)
{
    CHECK_INT(parse("bytes=50-59,0-9,20-29", 100), FY_RANGE_OK);
    CHECK_INT(ngot, 3);
    CHECK_RANGE(0, 0, 9);
    CHECK_RANGE(1, 20, 29);
    CHECK_RANGE(2, 50, 59);
    /* touching ranges become one */
    CHECK_INT(parse("bytes=0-9,10-19", 100), FY_RANGE_OK);
    CHECK_INT(ngot, 1);
    CHECK_RANGE(0, 0, 19);
    CHECK_INT(parse("bytes=-10,0-89", 100), FY_RANGE_OK);
    CHECK_INT(ngot, 1);
    CHECK_RANGE(0, 0, 99);
}

static void test_overlap_is_refused(void)
{
    CHECK_INT(parse("bytes=0-9,5-14", 100), FY_RANGE_IGNORE);
    CHECK_INT(parse("bytes=0-9,0-9", 100), FY_RANGE_IGNORE);
    CHECK_INT(parse("bytes=0-,-1", 100), FY_RANGE_IGNORE);
    CHECK_INT(parse("bytes=10-20,15-", 100), FY_RANGE_IGNORE);
}

static void test_count_is_bounded(void)
{
    char buf[2048] = "bytes=";
    for (int i = 0; i < FY_RANGE_MAX; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d-%d", i ? "," : "", i * 10, i * 10 + 1);
    CHECK_INT(parse(buf, 10000), FY_RANGE_OK);
    CHECK_INT(ngot, FY_RANGE_MAX);
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ",%d-%d", 9000, 9001);
    CHECK_INT(parse(buf, 10000), FY_RANGE_IGNORE);
    /* many touching ranges merge to one: fine */
    strcpy(buf, "bytes=");
    for (int i = 0; i < 40; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d-%d", i ? "," : "", i * 2, i * 2 + 1);
    CHECK_INT(parse(buf, 10000), FY_RANGE_OK);
    CHECK_INT(ngot, 1);
    CHECK_RANGE(0, 0, 79);
    /* but not hundreds of specs */
    strcpy(buf, "bytes=");
    for (int i = 0; i < 100; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d-%d", i ? "," : "", i * 2, i * 2 + 1);
    CHECK_INT(parse(buf, 10000), FY_RANGE_IGNORE);
}

int main(void)
{
    RUN(test_single_forms);
    RUN(test_end_is_clipped);
    RUN(test_unit_and_whitespace);
    RUN(test_syntax_errors_are_ignored);
    RUN(test_unsatisfiable);
    RUN(test_several_sorted_and_merged);
    RUN(test_overlap_is_refused);
    RUN(test_count_is_bounded);
    return CHECK_SUMMARY();
}
