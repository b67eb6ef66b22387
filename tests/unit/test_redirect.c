/* Unit tests of src/file/redirect.c (which redirect applies, and its
 * Location) and of the redirect keys' validation in src/core/config.c. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "file/redirect.h"

static struct fy_config cfg;

/* Loads text over the defaults: 0, or -1 with the message ("F:LINE: ...") in err. */
static int load(const char *text, char *err, size_t errlen)
{
    char path[64] = "/tmp/ferry_test_redirect_XXXXXX", msg[FY_CONFIG_ERR_LEN] = "";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    fy_config_defaults(&cfg);
    int r = fy_config_load(&cfg, path, msg, sizeof msg);
    unlink(path);
    size_t plen = strlen(path);
    snprintf(err, errlen, "%s%s", strncmp(msg, path, plen) == 0 ? "F" : "", msg + (strncmp(msg, path, plen) == 0 ? plen : 0));
    return r;
}

static void load_ok(const char *text)
{
    char err[FY_CONFIG_ERR_LEN];
    CHECK_INT(load(text, err, sizeof err), 0);
    CHECK_STR(err, "");
}

static const char *load_error(const char *text)
{
    static char err[FY_CONFIG_ERR_LEN];
    CHECK_INT(load(text, err, sizeof err), -1);
    return err;
}

/* "STATUS Location" for a request on host h, or "none". */
static const char *go(unsigned h, const char *url, const char *query)
{
    static char out[1024];
    struct fy_rule_subject subj = {h, url, fy_url_file_name(url)};
    const struct fy_redirect_config *r = fy_redirect_find(&cfg, &subj);
    if (!r)
        return "none";
    char *loc = fy_redirect_location(&cfg, r, url, (struct fy_str){query, query ? strlen(query) : 0});
    CHECK(loc != NULL);
    size_t len = strlen(loc);
    CHECK(len > 12 && memcmp(loc, "Location: ", 10) == 0 && strcmp(loc + len - 2, "\r\n") == 0);
    snprintf(out, sizeof out, "%d %.*s", r->status, (int)(len - 12), loc + 10);
    free(loc);
    return out;
}

static void test_exact_and_prefix(void)
{
    load_ok("redirect = /old.html /new.html\n"
            "redirect = /blog/ https://blog.example.com/ 308\n"
            "redirect = /blog/archive/ /archive/ 302\n"
            "redirect = /blog/about /about 307\n"
            "redirect = /q /search?src=old 303\n"
            "redirect = /anchor /docs/#install\n");
    CHECK_STR(go(0, "/old.html", NULL), "301 /new.html");
    CHECK_STR(go(0, "/old.html", "a=1&b=2"), "301 /new.html?a=1&b=2");
    CHECK_STR(go(0, "/old.htm", NULL), "none");
    CHECK_STR(go(0, "/old.html/", NULL), "none");
    CHECK_STR(go(0, "/blog/", NULL), "308 https://blog.example.com/");
    CHECK_STR(go(0, "/blog", NULL), "none"); /* a prefix needs its '/' */
    CHECK_STR(go(0, "/blog/2020/caf\xc3\xa9 menu.html", "x"),
              "308 https://blog.example.com/2020/caf%C3%A9%20menu.html?x");
    CHECK_STR(go(0, "/blog/archive/1", NULL), "302 /archive/1"); /* the longer prefix */
    CHECK_STR(go(0, "/blog/about", NULL), "307 /about");          /* exact beats any prefix */
    CHECK_STR(go(0, "/q", "term=x"), "303 /search?src=old&term=x");
    CHECK_STR(go(0, "/anchor", "v=2"), "301 /docs/?v=2#install");
}

static void test_scopes(void)
{
    load_ok("redirect = /a /top-a\n"
            "redirect = /b/ /top-b/\n"
            "[path /only/]\n"
            "redirect = /only/x /only-x\n"
            "redirect = /elsewhere /never\n" /* outside its section's paths: never applies */
            "[path *.php]\n"
            "redirect = / https://legacy.example.com/ 302\n"
            "[host h.test]\n"
            "docroot = /h\n"
            "redirect = /a /host-a\n");
    CHECK_STR(go(0, "/a", NULL), "301 /top-a");
    CHECK_STR(go(1, "/a", NULL), "301 /host-a"); /* the host's, read last */
    CHECK_STR(go(1, "/b/c", NULL), "301 /top-b/c");
    CHECK_STR(go(0, "/only/x", NULL), "301 /only-x");
    CHECK_STR(go(0, "/elsewhere", NULL), "none");
    CHECK_STR(go(0, "/old/index.php", NULL), "302 https://legacy.example.com/old/index.php");
    CHECK_STR(go(0, "/old/index.html", NULL), "none");
}

static void test_errors(void)
{
    CHECK_STR(load_error("redirect = /a\n"), "F:1: redirect: needs a path and a target (FROM TO [301|302|303|307|308])");
    CHECK_STR(load_error("redirect = a /b\n"), "F:1: redirect: \"a\" does not start with '/'");
    CHECK_STR(load_error("redirect = /a/../b /c\n"),
              "F:1: redirect: \"/a/../b\" is not a normalised path (empty, '.' or '..' segment)");
    CHECK_STR(load_error("redirect = /a%20b /c\n"),
              "F:1: redirect: \"/a%20b\" is not a plain path (no '//', '?', '#' or '%': it is matched decoded)");
    CHECK_STR(load_error("redirect = /a b\n"),
              "F:1: redirect: \"b\" is not a target (want /PATH or http(s)://HOST/PATH)");
    CHECK_STR(load_error("redirect = /a //evil.example/\n"),
              "F:1: redirect: \"//evil.example/\" is not a target (want /PATH or http(s)://HOST/PATH)");
    CHECK_STR(load_error("redirect = /a https:///x\n"), "F:1: redirect: \"https:///x\" has no host after the scheme");
    CHECK_STR(load_error("redirect = /a /caf\xc3\xa9\n"),
              "F:1: redirect: \"/caf\xc3\xa9\" holds '\xc3', which a URL cannot (percent-encode it)");
    CHECK_STR(load_error("redirect = /a /b 200\n"),
              "F:1: redirect: \"200\" is not a redirect status (want 301, 302, 303, 307 or 308)");
    CHECK_STR(load_error("redirect = /a /b 301 x\n"), "F:1: redirect: unexpected text after the status");
    CHECK_STR(load_error("\nredirect = /a /b\nredirect = /a /c\n"), "F:3: redirect: duplicate redirect for /a");
    CHECK_STR(load_error("redirect = / /new/\n"), "F:1: redirect: /new/ would be redirected again by this line (a loop)");
    CHECK_STR(load_error("redirect = /a /a?x=1\n"), "F:1: redirect: /a?x=1 would be redirected again by this line (a loop)");
    load_ok("redirect = /a /b\n[host h.test]\ndocroot = /h\nredirect = /a /c\n"); /* another scope */
    load_ok("redirect = /a/ /a\n");                                             /* "/a" is not under "/a/" */
    CHECK_STR(load_error("redirect-host = apex.test\n"), "F:1: redirect-host: only allowed in a [host] section");
    CHECK_STR(load_error("[host www.a.test]\ndocroot = /h\nredirect-host = a/b\n"),
              "F:3: redirect-host: \"a/b\" is not a host name (want NAME or NAME:PORT)");
    CHECK_STR(load_error("[host www.a.test]\ndocroot = /h\nredirect-host = a.test:0\n"),
              "F:3: redirect-host: bad port in \"a.test:0\" (want 1 to 65535)");
    CHECK_STR(load_error("[host www.a.test a.test]\ndocroot = /h\nredirect-host = A.test\n"),
              "F:3: redirect-host: A.test is a name of this section: every request would be sent to itself");
    CHECK_STR(load_error("[host www.a.test]\ndocroot = /h\n[path /x]\nredirect-host = a.test\n"),
              "F:4: redirect-host: not allowed in a [path] section");
    load_ok("[host www.a.test]\ndocroot = /h\nredirect-host = a.test:8443\n");
    CHECK_STR(fy_config_text(&cfg, cfg.hosts[1].redirect_host), "a.test:8443");
    load_ok("[host www.a.test]\ndocroot = /h\nredirect-host = [::1]:8080\n");
}

int main(void)
{
    RUN(test_exact_and_prefix);
    RUN(test_scopes);
    RUN(test_errors);
    return CHECK_SUMMARY();
}
