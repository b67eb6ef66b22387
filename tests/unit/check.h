/* A tiny unit-test harness.  A test is a function; CHECK failures are
 * reported with file:line and mark the test failed.  main() lists tests with
 * RUN() and ends with CHECK_SUMMARY(), which prints "N passed, N failed"
 * (tests/run.sh adds these lines up) and returns the exit status. */
#ifndef FY_CHECK_H
#define FY_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_now, check_passed, check_failed;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            check_failed_now = 1;                                            \
        }                                                                    \
    } while (0)

#define CHECK_INT(got, want)                                                 \
    do {                                                                     \
        long long g_ = (long long)(got), w_ = (long long)(want);             \
        if (g_ != w_) {                                                      \
            printf("  %s:%d: %s is %lld, want %lld\n", __FILE__, __LINE__,   \
                   #got, g_, w_);                                            \
            check_failed_now = 1;                                            \
        }                                                                    \
    } while (0)

#define CHECK_STR(got, want)                                                 \
    do {                                                                     \
        const char *g_ = (got), *w_ = (want);                                \
        if (strcmp(g_, w_) != 0) {                                           \
            printf("  %s:%d: %s is \"%s\", want \"%s\"\n", __FILE__,         \
                   __LINE__, #got, g_, w_);                                  \
            check_failed_now = 1;                                            \
        }                                                                    \
    } while (0)

#define RUN(test)                                                            \
    do {                                                                     \
        check_failed_now = 0;                                                \
        test();                                                              \
        if (check_failed_now) {                                              \
            check_failed++;                                                  \
            printf("FAIL %s\n", #test);                                      \
        } else {                                                             \
            check_passed++;                                                  \
        }                                                                    \
    } while (0)

#define CHECK_SUMMARY()                                                      \
    (printf("%d passed, %d failed\n", check_passed, check_failed),           \
     check_failed ? 1 : 0)

#endif
