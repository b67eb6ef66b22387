/* libFuzzer target: request path → file name (fy_path_resolve).
 *
 * The input is the raw path bytes, copied into a buffer of exactly that size
 * so AddressSanitizer sees any read past the end.  Every result is checked
 * against the properties that keep requests inside the docroot (a failed
 * check aborts, which libFuzzer reports as a crash):
 *   - the status is 0, 400, 404 or 414, and on an error the name is "";
 *   - a name is NUL-terminated at len, relative, and has no empty, "." or
 *     ".." segment, no NUL and no trailing '/';
 * and against a deliberately naive reference implementation written from
 * path.h alone (decode each raw segment, then apply "." and ".."), which
 * must agree on the status, the name and trailing_slash. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file/path.h"

#define REQUIRE(cond)                                                         \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_path: property failed: %s (line %d)\n",     \
                    #cond, __LINE__);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)

#define NAME_MAX_LEN (sizeof(((struct fy_path *)0)->name) - 1)

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The reference: a stack of decoded segments kept as one string. */
struct model {
    char name[NAME_MAX_LEN + 2];
    size_t len;
    bool trailing_slash;
};

static int model_resolve(const unsigned char *p, size_t n, struct model *m)
{
    m->len = 0;
    m->trailing_slash = false;
    if (n == 0 || p[0] != '/')
        return 400;
    bool is_dir = true;
    size_t i = 1;
    for (;;) {
        /* one raw segment: p[i .. j) */
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        size_t base = m->len;
        if (base > 0) {
            if (m->len >= NAME_MAX_LEN)
                return 414;
            m->name[m->len++] = '/';
        }
        size_t start = m->len;
        for (size_t k = i; k < j;) {
            unsigned char b;
            if (p[k] == '%') {
                if (k + 2 >= n)
                    return 400;
                int hi = hexval(p[k + 1]), lo = hexval(p[k + 2]);
                if (hi < 0 || lo < 0)
                    return 400;
                b = (unsigned char)(hi << 4 | lo);
                k += 3;
            } else {
                b = p[k];
                k++;
            }
            if (b == 0)
                return 400;
            if (b == '/')
                return 404;
            if (m->len >= NAME_MAX_LEN)
                return 414;
            m->name[m->len++] = (char)b;
        }
        size_t seg = m->len - start;
        const char *s = m->name + start;
        if (seg == 0 || (seg == 1 && s[0] == '.')) {
            m->len = base;
            is_dir = true;
        } else if (seg == 2 && s[0] == '.' && s[1] == '.') {
            if (base == 0)
                return 400;
            /* drop the last segment of name[0..base) */
            char *slash = memrchr(m->name, '/', base);
            m->len = slash ? (size_t)(slash - m->name) : 0;
            is_dir = true;
        } else {
            is_dir = false;
        }
        if (j >= n)
            break;
        i = j + 1;
    }
    m->trailing_slash = is_dir;
    return 0;
}

static void check_name(const struct fy_path *out)
{
    REQUIRE(out->len <= NAME_MAX_LEN);
    REQUIRE(out->name[out->len] == '\0');
    REQUIRE(strlen(out->name) == out->len);
    if (out->len == 0)
        return;
    REQUIRE(out->name[0] != '/');
    REQUIRE(out->name[out->len - 1] != '/');
    const char *s = out->name, *end = out->name + out->len;
    while (s <= end) {
        const char *e = memchr(s, '/', (size_t)(end - s));
        if (e == NULL)
            e = end;
        size_t n = (size_t)(e - s);
        REQUIRE(n > 0);
        REQUIRE(!(n == 1 && s[0] == '.'));
        REQUIRE(!(n == 2 && s[0] == '.' && s[1] == '.'));
        s = e + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size)
        memcpy(buf, data, size);

    static struct fy_path out;
    static struct model m;
    memset(&out, 0xa5, sizeof out); /* no reliance on a zeroed struct */
    int rc = fy_path_resolve(buf, size, &out);
    REQUIRE(rc == 0 || rc == 400 || rc == 404 || rc == 414);
    if (rc != 0) {
        REQUIRE(out.len == 0 && out.name[0] == '\0');
    } else {
        check_name(&out);
        /* "/" always names a directory; a name ending in "/." or "/.." too */
        if (out.len == 0)
            REQUIRE(out.trailing_slash);
    }

    int mrc = model_resolve((const unsigned char *)buf, size, &m);
    if (mrc != rc) {
        fprintf(stderr, "fuzz_path: status %d, reference says %d\n", rc, mrc);
        abort();
    }
    if (rc == 0) {
        REQUIRE(m.len == out.len && memcmp(m.name, out.name, m.len) == 0);
        REQUIRE(m.trailing_slash == out.trailing_slash);
    }
    free(buf);
    return 0;
}
