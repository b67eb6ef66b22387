/* Unit tests of src/file/rules.c: which [path] rules match, and how their
 * settings add up (last match wins, top level before the host). */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "file/rules.h"

static struct fy_config cfg;

static void load(const char *text)
{
    char path[64] = "/tmp/ferry_test_rules_XXXXXX", err[FY_CONFIG_ERR_LEN] = "";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    fy_config_defaults(&cfg);
    CHECK_INT(fy_config_load(&cfg, path, err, sizeof err), 0);
    CHECK_STR(err, "");
    unlink(path);
}

static struct fy_path_settings resolve(unsigned host, const char *url, const char *file)
{
    struct fy_rule_subject s = {host, url, file};
    struct fy_path_settings out;
    fy_rules_resolve(&cfg, &s, &out);
    return out;
}

static const char *headers(unsigned host, const char *url, const char *file)
{
    static char buf[1024];
    struct fy_rule_subject s = {host, url, file};
    struct fy_buf b = {.p = buf, .cap = sizeof buf - 1};
    fy_rules_put_headers(&cfg, &s, &b);
    buf[b.len] = '\0';
    return buf;
}

static const char *CC(struct fy_path_settings s)
{
    return s.cache_control ? s.cache_control : "(none)";
}

static const char config[] =
    "cache-control = max-age=60\n"
    "add-header = X-All: 1\n"
    "[path /static/]\n"
    "cache-control = max-age=3600\n"
    "expires = 1h\n"
    "[path *.html]\n"
    "cache-control = no-cache\n"
    "add-header = X-Html: 1\n"
    "[path /pub]\n"
    "directory-listing = on\n"
    "precompressed = on\n"
    "[path /pub/private/]\n"
    "directory-listing = off\n"
    "cache-control = off\n"
    "[host h.test]\n"
    "docroot = /h\n"
    "[path /static/]\n"
    "cache-control = private\n";

static void test_defaults_without_rules(void)
{
    fy_config_defaults(&cfg);
    struct fy_path_settings s = resolve(0, "/x", "x");
    CHECK(!s.cache_control && !s.listing && !s.precompressed && !s.listing_dotfiles);
    CHECK_INT(s.expires_s, 0);
}

static void test_prefixes_and_extensions(void)
{
    load(config);
    CHECK_STR(CC(resolve(0, "/a.txt", "a.txt")), "max-age=60");
    CHECK_STR(CC(resolve(0, "/static/a.css", "static/a.css")), "max-age=3600");
    CHECK_INT(resolve(0, "/static/a.css", "static/a.css").expires_s, 3600);
    CHECK_STR(CC(resolve(0, "/static", NULL)), "max-age=60"); /* "/static/" is not a prefix of "/static" */
    CHECK_STR(CC(resolve(0, "/static/a.HTML", "a.HTML")), "no-cache"); /* later rule, case-insensitive */
    CHECK_STR(CC(resolve(0, "/dir/", "index.html")), "no-cache"); /* the index file's extension */
    CHECK_STR(CC(resolve(0, "/dir/", NULL)), "max-age=60");
    CHECK_STR(CC(resolve(0, "/x.html.gz", "x.html.gz")), "max-age=60"); /* only the last extension */
}

static void test_switches_cascade(void)
{
    load(config);
    CHECK(resolve(0, "/pub/", NULL).listing);
    CHECK(resolve(0, "/public/", NULL).listing); /* a plain string prefix */
    CHECK(!resolve(0, "/pub/private/", NULL).listing);
    CHECK(resolve(0, "/pub/private/", NULL).precompressed);
    CHECK(!resolve(0, "/pub/private/x", "x").cache_control); /* off */
}

static void test_host_rules_come_last(void)
{
    load(config);
    CHECK_STR(CC(resolve(1, "/static/a.html", "a.html")), "private");
    CHECK_STR(CC(resolve(0, "/static/a.css", "a.css")), "max-age=3600");
}

static void test_headers_accumulate(void)
{
    load(config);
    CHECK_STR(headers(0, "/a.txt", "a.txt"), "X-All: 1\r\n");
    CHECK_STR(headers(0, "/a.html", "a.html"), "X-All: 1\r\nX-Html: 1\r\n");
    CHECK_STR(headers(1, "/a.html", "a.html"), "X-All: 1\r\nX-Html: 1\r\n");
}

static const char *FB(struct fy_path_settings s)
{
    return s.fallback ? s.fallback : "(none)";
}

static void test_fallback_cascades(void)
{
    load("fallback = /index.html\n"
         "[path /app/]\nfallback = /app/index.html\n"
         "[path /api/ *.js]\nfallback = off\n"
         "[host h.test]\ndocroot = /h\nfallback = /h.html\n");
    CHECK_STR(FB(resolve(0, "/deep/link", "deep/link")), "/index.html");
    CHECK_STR(FB(resolve(0, "/app/x/y", "app/x/y")), "/app/index.html");
    CHECK_STR(FB(resolve(0, "/app/x.js", "app/x.js")), "(none)");
    CHECK_STR(FB(resolve(0, "/api/users", "api/users")), "(none)");
    CHECK_STR(FB(resolve(1, "/api/users", "api/users")), "/h.html"); /* the host's rule comes last */
    fy_config_defaults(&cfg);
    CHECK_STR(FB(resolve(0, "/x", "x")), "(none)");
}

int main(void)
{
    RUN(test_defaults_without_rules);
    RUN(test_prefixes_and_extensions);
    RUN(test_switches_cascade);
    RUN(test_host_rules_come_last);
    RUN(test_headers_accumulate);
    RUN(test_fallback_cascades);
    return CHECK_SUMMARY();
}
