/* Unit tests of src/file/body_cache.c: a body is kept from the second ask
 * of its entry, goes with the entry, stays while a response sends from it,
 * and all bodies together stay within the budget. */
#include "check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file/file_cache.h"

static char dir[] = "/tmp/test_body_cache.XXXXXX";

/* A file of n bytes ('a' + i % 26), kept under its name. */
static struct fy_file_cache_entry *put_file(struct fy_file_cache *c, const char *name, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < n; i++)
        fputc('a' + (int)(i % 26), f);
    fclose(f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    fstat(fd, &st);
    return fy_file_cache_put(c, name, strlen(name), fd, &st, 0);
}

static bool body_is(const struct fy_body *b, size_t n)
{
    if (!b || b->len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (b->bytes[i] != 'a' + (int)(i % 26))
            return false;
    return true;
}

static void test_kept_from_the_second_ask(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 1 << 20), 0);
    struct fy_file_cache_entry *e = put_file(&c, "a", 1000);
    CHECK(fy_body_cache_get(&c.bodies, e) == NULL); /* asked once: not hot yet */
    struct fy_body *b = fy_body_cache_get(&c.bodies, e);
    CHECK(body_is(b, 1000));
    CHECK_INT(c.bodies.fills, 1);
    struct fy_body *again = fy_body_cache_get(&c.bodies, e);
    CHECK(again == b);
    CHECK_INT(c.bodies.hits, 1);
    CHECK_INT(c.bodies.bytes, 1000);
    fy_body_release(b);
    fy_body_release(again);
    fy_file_cache_release(e);
    fy_file_cache_free(&c);
    CHECK_INT(c.bodies.bytes, 0);
    CHECK_INT(c.bodies.count, 0);
}

static void test_too_large_empty_or_off_are_not_kept(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 1 << 20), 0);
    struct fy_file_cache_entry *big = put_file(&c, "big", FY_BODY_MAX + 1);
    struct fy_file_cache_entry *empty = put_file(&c, "empty", 0);
    for (int i = 0; i < 3; i++) {
        CHECK(fy_body_cache_get(&c.bodies, big) == NULL);
        CHECK(fy_body_cache_get(&c.bodies, empty) == NULL);
    }
    fy_file_cache_release(big);
    fy_file_cache_release(empty);
    fy_file_cache_free(&c);

    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 0), 0); /* body-cache-size = 0 */
    struct fy_file_cache_entry *e = put_file(&c, "a", 100);
    for (int i = 0; i < 3; i++)
        CHECK(fy_body_cache_get(&c.bodies, e) == NULL);
    fy_file_cache_release(e);
    fy_file_cache_free(&c);
}

/* The body is trusted as long as its entry: an entry that expires (or is
 * replaced) takes it along, once the response sending from it is done. */
static void test_body_goes_with_its_entry(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 1 << 20), 0);
    struct fy_file_cache_entry *e = put_file(&c, "a", 500);
    CHECK(fy_body_cache_get(&c.bodies, e) == NULL);
    struct fy_body *b = fy_body_cache_get(&c.bodies, e);
    CHECK(body_is(b, 500));
    fy_file_cache_expire(&c, 2000);
    CHECK(e->body == NULL);
    CHECK(body_is(b, 500)); /* still being sent: still there, still counted */
    CHECK_INT(c.bodies.bytes, 500);
    fy_body_release(b);
    CHECK_INT(c.bodies.bytes, 0);
    /* The entry, gone from the table, takes no new body. */
    CHECK(fy_body_cache_get(&c.bodies, e) == NULL);
    CHECK(fy_body_cache_get(&c.bodies, e) == NULL);
    fy_file_cache_release(e);

    e = put_file(&c, "b", 300);
    fy_body_cache_get(&c.bodies, e);
    fy_body_release(fy_body_cache_get(&c.bodies, e));
    CHECK_INT(c.bodies.count, 1);
    struct fy_file_cache_entry *e2 = put_file(&c, "b", 200); /* the name opened afresh */
    CHECK_INT(c.bodies.count, 0);
    fy_file_cache_release(e);
    fy_file_cache_release(e2);
    fy_file_cache_free(&c);
}

static void test_budget_evicts_the_least_recently_used(void)
{
    struct fy_file_cache c;
    CHECK_INT(fy_file_cache_init(&c, 10, 1000, 2500), 0);
    struct fy_file_cache_entry *e[3];
    const char *names[] = {"x", "y", "z"};
    for (int i = 0; i < 3; i++) {
        e[i] = put_file(&c, names[i], 1000);
        CHECK(fy_body_cache_get(&c.bodies, e[i]) == NULL);
    }
    fy_body_release(fy_body_cache_get(&c.bodies, e[0]));
    fy_body_release(fy_body_cache_get(&c.bodies, e[1]));
    fy_body_release(fy_body_cache_get(&c.bodies, e[0])); /* x used last */
    struct fy_body *z = fy_body_cache_get(&c.bodies, e[2]); /* y goes for it */
    CHECK(body_is(z, 1000));
    CHECK(e[0]->body != NULL && e[1]->body == NULL);
    CHECK_INT(c.bodies.evictions, 1);
    CHECK(c.bodies.bytes <= 2500);
    /* A body in use is not freed for room: with z and x busy, w cannot fit. */
    struct fy_body *x = fy_body_cache_get(&c.bodies, e[0]);
    struct fy_file_cache_entry *w = put_file(&c, "w", 1000);
    fy_body_cache_get(&c.bodies, w);
    struct fy_body *wb = fy_body_cache_get(&c.bodies, w);
    CHECK(wb == NULL);
    CHECK(c.bodies.bytes <= 2500);
    CHECK(e[0]->body == x && e[2]->body == z); /* dropping them would have freed nothing now */
    CHECK(body_is(x, 1000) && body_is(z, 1000));
    fy_body_release(x);
    fy_body_release(z);
    for (int i = 0; i < 3; i++)
        fy_file_cache_release(e[i]);
    fy_file_cache_release(w);
    fy_file_cache_free(&c);
    CHECK_INT(c.bodies.bytes, 0);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_kept_from_the_second_ask);
    RUN(test_too_large_empty_or_off_are_not_kept);
    RUN(test_body_goes_with_its_entry);
    RUN(test_budget_evicts_the_least_recently_used);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return CHECK_SUMMARY();
}
