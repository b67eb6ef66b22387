/* Unit tests of src/file/hidden.c: which URL paths are hidden, and how
 * hidden-files rules let them through. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "file/hidden.h"

static struct fy_config cfg;

static void load(const char *text)
{
    char path[64] = "/tmp/ferry_test_hidden_XXXXXX", err[FY_CONFIG_ERR_LEN] = "";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    fy_config_defaults(&cfg);
    CHECK_INT(fy_config_load(&cfg, path, err, sizeof err), 0);
    CHECK_STR(err, "");
    unlink(path);
}

static bool refused(unsigned host, const char *url)
{
    struct fy_hidden_scope s = {.cfg = &cfg, .host = host};
    return fy_hidden_refused(&s, url);
}

static void test_hidden_segments(void)
{
    CHECK(fy_url_is_hidden("/.git/config"));
    CHECK(fy_url_is_hidden("/.git/"));
    CHECK(fy_url_is_hidden("/.git"));
    CHECK(fy_url_is_hidden("/a/.env"));
    CHECK(fy_url_is_hidden("/a/b/.htpasswd"));
    CHECK(fy_url_is_hidden("/a/..b"));
    CHECK(fy_url_is_hidden("/a/.../b"));
    CHECK(fy_url_is_hidden("/a/.b/c.txt"));
    CHECK(!fy_url_is_hidden("/"));
    CHECK(!fy_url_is_hidden("/index.html"));
    CHECK(!fy_url_is_hidden("/a.b/c."));
    CHECK(!fy_url_is_hidden("/a/b.c/d..e/"));
    CHECK(!fy_url_is_hidden("/git."));
}

static void test_well_known(void)
{
    CHECK(!fy_url_is_hidden("/.well-known"));
    CHECK(!fy_url_is_hidden("/.well-known/"));
    CHECK(!fy_url_is_hidden("/.well-known/acme-challenge/tok-EN_1"));
    CHECK(!fy_url_is_hidden("/.well-known/security.txt"));
    CHECK(fy_url_is_hidden("/.well-known/.secret"));       /* only the root segment is exempt */
    CHECK(fy_url_is_hidden("/.well-known/a/.git/config"));
    CHECK(fy_url_is_hidden("/.well-knownx/a"));
    CHECK(fy_url_is_hidden("/.Well-Known/a"));              /* URL paths are case-sensitive */
    CHECK(fy_url_is_hidden("/a/.well-known/x"));            /* RFC 8615: at the root only */
}

static void test_refused_by_default(void)
{
    fy_config_defaults(&cfg);
    CHECK(refused(0, "/.git/config"));
    CHECK(refused(0, "/a/.env"));
    CHECK(!refused(0, "/a/env"));
    CHECK(!refused(0, "/.well-known/acme-challenge/x"));
}

static void test_rules_allow_and_deny(void)
{
    load("[path /pub/]\n"
         "hidden-files = allow\n"
         "[path /pub/.git]\n"
         "hidden-files = deny\n"
         "[host h.test]\n"
         "docroot = /h\n"
         "hidden-files = allow\n"
         "[path /.ssh/]\n"
         "hidden-files = deny\n");
    CHECK(!refused(0, "/pub/.env"));
    CHECK(!refused(0, "/pub/.config/x"));
    CHECK(refused(0, "/pub/.git/config"));   /* a later, narrower rule */
    CHECK(refused(0, "/pub/.git/"));
    CHECK(refused(0, "/.env"));              /* outside the rule */
    CHECK(refused(0, "/pubx/.env"));         /* "/pub/" is not a prefix of it */
    CHECK(!refused(1, "/.env"));             /* the host's implicit rule */
    CHECK(refused(1, "/.ssh/id_rsa"));
    CHECK(!refused(1, "/.ssh"));             /* "/.ssh/" is not a prefix of "/.ssh" */
    CHECK(!refused(1, "/pub/.git/config"));  /* the host's rules come after the top level's */
}

static void test_top_level_allow(void)
{
    load("hidden-files = allow\n");
    CHECK(!refused(0, "/.git/config"));
    load("hidden-files = allow\nhidden-files = deny\n");
    CHECK(refused(0, "/.git/config"));
}

int main(void)
{
    RUN(test_hidden_segments);
    RUN(test_well_known);
    RUN(test_refused_by_default);
    RUN(test_rules_allow_and_deny);
    RUN(test_top_level_allow);
    return CHECK_SUMMARY();
}
