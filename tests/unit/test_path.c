/* fy_path_resolve: decoding, normalisation, and traversal attempts. */
#include "file/path.h"

#include "check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct path_case {
    const char *in;
    int rc;
    const char *name;    /* when rc == 0 */
    bool trailing_slash; /* when rc == 0 */
};

static const struct path_case cases[] = {
    /* plain and nested */
    {"/", 0, "", true},
    {"/index.html", 0, "index.html", false},
    {"/a/b/c.txt", 0, "a/b/c.txt", false},
    {"/dir/", 0, "dir", true},
    {"/a/b/", 0, "a/b", true},
    /* collapsing */
    {"//", 0, "", true},
    {"//a//b", 0, "a/b", false},
    {"/a//", 0, "a", true},
    {"/./a/./b", 0, "a/b", false},
    {"/a/.", 0, "a", true},
    {"/.", 0, "", true},
    {"/a/./", 0, "a", true},
    /* dot-dot */
    {"/a/../b", 0, "b", false},
    {"/a/b/../../c", 0, "c", false},
    {"/a/..", 0, "", true},
    {"/a/b/..", 0, "a", true},
    {"/a/b/../", 0, "a", true},
    {"/..", 400, NULL, false},
    {"/../etc/passwd", 400, NULL, false},
    {"/a/../../etc/passwd", 400, NULL, false},
    {"/a/./../..", 400, NULL, false},
    /* names that merely contain dots */
    {"/...", 0, "...", false},
    {"/..a", 0, "..a", false},
    {"/a..", 0, "a..", false},
    {"/.hidden", 0, ".hidden", false},
    /* percent-decoding happens before dot segments are recognised */
    {"/%61%62c", 0, "abc", false},
    {"/%7e%7E", 0, "~~", false},
    {"/a%20b", 0, "a b", false},
    {"/%2e%2e", 400, NULL, false},
    {"/%2E%2e/etc/passwd", 400, NULL, false},
    {"/a/%2e%2e/b", 0, "b", false},
    {"/.%2e", 400, NULL, false},
    {"/a/.%2E", 0, "", true},
    {"/a/%2e", 0, "a", true},
    {"/a/%2e/b", 0, "a/b", false},
    /* an encoded '/' never separates */
    {"/%2E%2e%2f", 404, NULL, false},
    {"/a%2fb", 404, NULL, false},
    {"/a%2Fb", 404, NULL, false},
    {"/%2e%2e%2fetc%2fpasswd", 404, NULL, false},
    /* decoded exactly once */
    {"/%252e%252e", 0, "%2e%2e", false},
    {"/%252e%252e/%252e%252e/etc", 0, "%2e%2e/%2e%2e/etc", false},
    {"/%252f", 0, "%2f", false},
    /* backslashes and non-ASCII bytes are plain name bytes */
    {"/..\\..\\", 0, "..\\..\\", false},
    {"/..%5c..%5cwindows", 0, "..\\..\\windows", false},
    {"/%c0%ae%c0%ae", 0, "\xc0\xae\xc0\xae", false},
    {"/%c0%ae%c0%ae/%c0%afetc", 0, "\xc0\xae\xc0\xae/\xc0\xaf" "etc", false},
    {"/caf\xc3\xa9", 0, "caf\xc3\xa9", false},
    /* NUL and malformed escapes */
    {"/%00", 400, NULL, false},
    {"/a%00.html", 400, NULL, false},
    {"/%", 400, NULL, false},
    {"/a%", 400, NULL, false},
    {"/%4", 400, NULL, false},
    {"/%4/", 400, NULL, false},
    {"/%zz", 400, NULL, false},
    {"/%4g", 400, NULL, false},
    {"/%g4", 400, NULL, false},
    {"/%%32%65", 400, NULL, false},
    /* not an origin-form path */
    {"", 400, NULL, false},
    {"a/b", 400, NULL, false},
    {"%2fa", 400, NULL, false},
    {"*", 400, NULL, false},
};

static void test_cases(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct path_case *c = &cases[i];
        struct fy_path p;
        int rc = fy_path_resolve(c->in, strlen(c->in), &p);
        if (rc != c->rc) {
            printf("  case \"%s\": rc %d, want %d\n", c->in, rc, c->rc);
            check_failed_now = 1;
            continue;
        }
        if (rc != 0)
            continue;
        if (strcmp(p.name, c->name) != 0 || p.len != strlen(c->name) || p.trailing_slash != c->trailing_slash) {
            printf("  case \"%s\": name \"%s\" (len %zu, slash %d), want \"%s\" (slash %d)\n", c->in,
                   p.name, p.len, p.trailing_slash, c->name, c->trailing_slash);
            check_failed_now = 1;
        }
    }
}

static void test_embedded_nul(void)
{
    struct fy_path p;
    CHECK_INT(fy_path_resolve("/a\0b", 4, &p), 400);
    /* Only [0, len) counts: bytes after it are never read. */
    CHECK_INT(fy_path_resolve("/ab/../../x", 3, &p), 0);
    CHECK_STR(p.name, "ab");
}

static void test_long(void)
{
    static char buf[3 * sizeof(((struct fy_path *)0)->name)];
    struct fy_path p;
    size_t max = sizeof p.name - 1;

    buf[0] = '/';
    memset(buf + 1, 'a', max);
    CHECK_INT(fy_path_resolve(buf, 1 + max, &p), 0);
    CHECK_INT(p.len, max);
    CHECK_INT(p.name[max], '\0');

    memset(buf + 1, 'a', max + 1);
    CHECK_INT(fy_path_resolve(buf, 1 + max + 1, &p), 414);
    CHECK_INT(p.len, 0);
    CHECK_STR(p.name, "");

    /* Encoded bytes count once decoded: 4095 x "%61" fits. */
    for (size_t i = 0; i < max; i++)
        memcpy(buf + 1 + 3 * i, "%61", 3);
    CHECK_INT(fy_path_resolve(buf, 1 + 3 * max, &p), 0);
    CHECK_INT(p.len, max);

    /* A separator that would be the 4096th byte does not fit either. */
    memset(buf + 1, 'a', max);
    memcpy(buf + 1 + max, "/b", 2);
    CHECK_INT(fy_path_resolve(buf, 1 + max + 2, &p), 414);

    /* Many short segments that overflow. */
    for (size_t i = 0; i + 2 < sizeof buf; i += 2)
        memcpy(buf + i, "/x", 2);
    CHECK_INT(fy_path_resolve(buf, sizeof buf - 2, &p), 414);
}

/* An accepted name that could still climb out of the docroot. */
static bool escapes(const struct fy_path *p)
{
    const char *n = p->name;
    size_t len = strlen(n);
    return n[0] == '/' || strcmp(n, "..") == 0 || strncmp(n, "../", 3) == 0 || strstr(n, "/../") != NULL ||
           (len >= 3 && strcmp(n + len - 3, "/..") == 0) || len != p->len;
}

static FILE *open_testdata(const char *rel, const char **found)
{
    /* From the project root (how tests/run.sh runs us), or anywhere. */
    static const char *const dirs[] = {"../shared/testdata/", "/work/shared/testdata/"};
    static char path[512];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", dirs[i], rel);
        FILE *f = fopen(path, "r");
        if (f) {
            *found = path;
            return f;
        }
    }
    return NULL;
}

static void test_dotdotpwn(void)
{
    const char *file = NULL;
    FILE *f = open_testdata("traversal/dotdotpwn.txt", &file);
    if (!f) {
        printf("  note: traversal/dotdotpwn.txt not found; test_dotdotpwn skipped\n");
        return;
    }
    char line[8192], req[8200];
    size_t lines = 0, accepted = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "?\r\n");
        req[0] = '/';
        memcpy(req + 1, line, n);
        lines++;
        struct fy_path p;
        if (fy_path_resolve(req, n + 1, &p) != 0)
            continue;
        accepted++;
        if (escapes(&p)) {
            printf("  %s:%zu: \"%.*s\" resolved to \"%s\"\n", file, lines, (int)n, line, p.name);
            check_failed_now = 1;
        }
    }
    fclose(f);
    CHECK(lines > 20000);
    printf("  dotdotpwn: %zu payloads, %zu resolved to a name\n", lines, accepted);
}

int main(void)
{
    RUN(test_cases);
    RUN(test_embedded_nul);
    RUN(test_long);
    RUN(test_dotdotpwn);
    return CHECK_SUMMARY();
}
