/* Unit tests of src/file/file_cache.c: one entry per name, and descriptors
 * closed once neither the table nor a user holds them. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "file/file_cache.h"

#define KEY "\0\1gone.bin"
#define KEY_LEN (sizeof KEY - 1)

static int open_null(struct stat *st)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fstat(fd, st);
    return fd;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* What two requests that both missed the cache for one name do. */
static void test_second_put_of_a_name_replaces_the_first(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 10, 1000), 0);
    struct stat st;
    int first = open_null(&st), second = open_null(&st);
    struct fy_file_cache_entry *a = fy_file_cache_put(&c, KEY, KEY_LEN, first, &st, 0);
    struct fy_file_cache_entry *b = fy_file_cache_put(&c, KEY, KEY_LEN, second, &st, 0);
    CHECK(a && b && a != b);
    CHECK_INT(c.count, 1);
    CHECK(fd_is_open(first)); /* its user still sends from it */
    fy_file_cache_release(a);
    CHECK(!fd_is_open(first));
    struct fy_file_cache_entry *got = fy_file_cache_get(&c, KEY, KEY_LEN, 1);
    CHECK(got == b);
    if (got)
        fy_file_cache_release(got);
    fy_file_cache_release(b);
    CHECK(fd_is_open(second)); /* the table's */
    fy_file_cache_free(&c);
    CHECK(!fd_is_open(second));
}

static void test_replaced_entry_leaves_the_lru_list(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 10, 1000), 0);
    struct stat st;
    for (int i = 0; i < 3; i++) {
        int fd = open_null(&st);
        fy_file_cache_release(fy_file_cache_put(&c, KEY, KEY_LEN, fd, &st, 0));
    }
    CHECK_INT(c.count, 1);
    CHECK(c.lru_head && c.lru_head == c.lru_tail);
    fy_file_cache_free(&c);
    CHECK(c.lru_head == NULL);
}

int main(void)
{
    RUN(test_second_put_of_a_name_replaces_the_first);
    RUN(test_replaced_entry_leaves_the_lru_list);
    return CHECK_SUMMARY();
}
