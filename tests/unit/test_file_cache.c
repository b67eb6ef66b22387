/* Unit tests of src/file/file_cache.c: one entry per name, entries closed
 * when their ttl has passed without their name being asked for again, and
 * descriptors closed once neither the table nor a user holds them. */
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
    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 0), 0);
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
    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 0), 0);
    struct stat st;
    for (int i = 0; i < 3; i++) {
        int fd = open_null(&st);
        fy_file_cache_release(fy_file_cache_put(&c, KEY, KEY_LEN, fd, &st, 0));
    }
    CHECK_INT(c.count, 1);
    CHECK(c.lru.head && c.lru.head == c.lru.tail);
    CHECK(c.age.head == c.lru.head && c.age.tail == c.lru.head);
    fy_file_cache_free(&c);
    CHECK(c.lru.head == NULL && c.age.head == NULL);
}

static struct fy_file_cache_entry *put_null(struct fy_file_cache *c, const char *key, int64_t now_ms,
                                            int *fd)
{
    struct stat st;
    *fd = open_null(&st);
    return fy_file_cache_put(c, key, strlen(key), *fd, &st, now_ms);
}

/* What the server's tick does: an entry is dropped by its age, however
 * recently it was used, and only once its ttl has passed. */
static void test_expire_closes_entries_whose_ttl_passed(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 0), 0);
    int old_fd, new_fd;
    fy_file_cache_release(put_null(&c, "old", 0, &old_fd));
    fy_file_cache_release(put_null(&c, "new", 500, &new_fd));
    fy_file_cache_release(fy_file_cache_get(&c, "old", 3, 900)); /* now the most recently used */
    fy_file_cache_expire(&c, 999);
    CHECK_INT(c.count, 2);
    fy_file_cache_expire(&c, 1000);
    CHECK_INT(c.count, 1);
    CHECK(!fd_is_open(old_fd));
    CHECK(fd_is_open(new_fd));
    CHECK(fy_file_cache_get(&c, "old", 3, 1000) == NULL);
    fy_file_cache_expire(&c, 1500);
    CHECK_INT(c.count, 0);
    CHECK(!fd_is_open(new_fd));
    CHECK(c.lru.head == NULL && c.age.head == NULL);
    fy_file_cache_free(&c);
}

static void test_expired_entry_in_use_closes_when_released(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 0), 0);
    int fd;
    struct fy_file_cache_entry *e = put_null(&c, "busy", 0, &fd);
    fy_file_cache_expire(&c, 2000);
    CHECK_INT(c.count, 0);
    CHECK(fd_is_open(fd)); /* a transfer still sends from it */
    fy_file_cache_release(e);
    CHECK(!fd_is_open(fd));
    fy_file_cache_free(&c);
}

static void test_expire_of_a_cache_turned_off_does_nothing(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 0, 1000, 0), 0);
    fy_file_cache_expire(&c, 5000);
    CHECK_INT(c.count, 0);
    fy_file_cache_free(&c);
}

int main(void)
{
    RUN(test_second_put_of_a_name_replaces_the_first);
    RUN(test_replaced_entry_leaves_the_lru_list);
    RUN(test_expire_closes_entries_whose_ttl_passed);
    RUN(test_expired_entry_in_use_closes_when_released);
    RUN(test_expire_of_a_cache_turned_off_does_nothing);
    return CHECK_SUMMARY();
}
