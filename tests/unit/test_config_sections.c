/* Unit tests of the section grammar of src/core/config.c: [host] and
 * [path] sections, the keys scoped by them, and their error messages. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"

/* One config at a time: it is large (the section arena). */
static struct fy_config cfg;

/* Loads `text` over defaults; 0 or -1, with the message (temp file name
 * replaced by "F") in msg. */
static int load(const char *text, char *msg, size_t msglen)
{
    char path[64] = "/tmp/ferry_test_sections_XXXXXX", err[FY_CONFIG_ERR_LEN] = "";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return -2;
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    fy_config_defaults(&cfg);
    int r = fy_config_load(&cfg, path, err, sizeof err);
    unlink(path);
    size_t plen = strlen(path);
    snprintf(msg, msglen, "%s%s", strncmp(err, path, plen) == 0 ? "F" : "", err + (strncmp(err, path, plen) == 0 ? plen : 0));
    return r;
}

static void load_ok(const char *text)
{
    char msg[FY_CONFIG_ERR_LEN];
    CHECK_INT(load(text, msg, sizeof msg), 0);
    CHECK_STR(msg, "");
}

static const char *load_error(const char *text)
{
    static char msg[FY_CONFIG_ERR_LEN];
    CHECK_INT(load(text, msg, sizeof msg), -1);
    return msg;
}

static const char *T(fy_text t)
{
    return fy_config_text(&cfg, t);
}

static void test_defaults(void)
{
    fy_config_defaults(&cfg);
    CHECK_INT(cfg.nhosts, 1);
    CHECK_INT(cfg.hosts[0].follow_symlinks, FY_OFF);
    CHECK_INT(cfg.nrules, 0);
    CHECK_INT(cfg.naliases, 0);
    CHECK_INT(cfg.nerror_pages, 0);
}

static void test_hosts(void)
{
    load_ok("docroot = /srv/default\n"
            "[host example.com WWW.Example.com]\n"
            "docroot = /srv/example\n"
            "follow-symlinks = on\n"
            "alias = /static/ /srv/static files\n"
            "error-page = 404 /errors/404.html\n"
            "\n"
            "[host *.example.org]  # wildcard\n"
            "docroot = /srv/org\n");
    CHECK_STR(cfg.docroot, "/srv/default");
    CHECK_INT(cfg.nhosts, 3);
    CHECK_STR(T(cfg.hosts[1].names), "example.com www.example.com");
    CHECK_STR(T(cfg.hosts[1].docroot), "/srv/example");
    CHECK_INT(cfg.hosts[1].follow_symlinks, FY_ON);
    CHECK_INT(cfg.hosts[1].line, 2);
    CHECK_STR(T(cfg.hosts[2].names), "*.example.org");
    CHECK_INT(cfg.hosts[2].follow_symlinks, FY_INHERIT);
    CHECK_INT(cfg.naliases, 1);
    CHECK_INT(cfg.aliases[0].host, 1);
    CHECK_STR(T(cfg.aliases[0].prefix), "/static");
    CHECK_STR(T(cfg.aliases[0].dir), "/srv/static files");
    CHECK_INT(cfg.nerror_pages, 1);
    CHECK_INT(cfg.error_pages[0].status, 404);
    CHECK_STR(T(cfg.error_pages[0].path), "/errors/404.html");
    /* the command line is at the top level again after the file */
    char err[FY_CONFIG_ERR_LEN];
    CHECK_INT(fy_config_set(&cfg, "docroot", "/cli", "command line", 0, true, err, sizeof err), 0);
    CHECK_STR(cfg.docroot, "/cli");
    CHECK_STR(T(cfg.hosts[2].docroot), "/srv/org");
}

static void test_paths(void)
{
    load_ok("precompressed = on\n"
            "[path /downloads/ /pub]\n"
            "directory-listing = on\n"
            "listing-dotfiles = off\n"
            "cache-control = \"public, max-age=60\"\n"
            "expires = 2d\n"
            "add-header = X-Frame-Options: DENY\n"
            "add-header = X-Test:  two words \n"
            "[path *.css *.JS]\n"
            "cache-control = off\n"
            "expires = off\n"
            "[host a.test]\n"
            "docroot = /a\n"
            "cache-control = no-store\n"
            "[path /x]\n"
            "precompressed = off\n");
    CHECK_INT(cfg.nrules, 5);
    const struct fy_rule_config *r = cfg.rules;
    CHECK(r[0].implicit);
    CHECK_INT(r[0].host, 0);
    CHECK_STR(T(r[0].patterns), "/");
    CHECK_INT(r[0].precompressed, FY_ON);
    CHECK_INT(r[0].expires_s, -1);
    CHECK_STR(T(r[1].patterns), "/downloads/ /pub");
    CHECK_INT(r[1].listing, FY_ON);
    CHECK_INT(r[1].listing_dotfiles, FY_OFF);
    CHECK_STR(T(r[1].cache_control), "public, max-age=60");
    CHECK_INT(r[1].expires_s, 2 * 86400);
    CHECK_STR(T(r[1].headers), "X-Frame-Options: DENY\r\nX-Test: two words\r\n");
    CHECK_STR(T(r[2].patterns), "*.css *.JS");
    CHECK(r[2].cache_control != 0);
    CHECK_STR(T(r[2].cache_control), "");
    CHECK_INT(r[2].expires_s, 0);
    CHECK(r[3].implicit);
    CHECK_INT(r[3].host, 1);
    CHECK_STR(T(r[3].cache_control), "no-store");
    CHECK_INT(r[4].host, 1);
    CHECK_INT(r[4].precompressed, FY_OFF);
}

static void test_errors(void)
{
    CHECK_STR(load_error("[host]\n"), "F:1: [host]: needs at least one host name");
    CHECK_STR(load_error("[host a.test\n"), "F:1: missing ']' at the end of the section line");
    CHECK_STR(load_error("[host a.test] x\n"), "F:1: unexpected text after ']'");
    CHECK_STR(load_error("[vhost a]\n"), "F:1: unknown section \"[vhost a]\" (want [host NAME ...] or [path PATTERN ...])");
    CHECK_STR(load_error("[host a.test]\nlisten = 80\n"),
              "F:2: listen: only allowed at the top level, before any section");
    CHECK_STR(load_error("\n[host a.test]\n"), "F:2: [host a.test]: no docroot");
    CHECK_STR(load_error("[host a/b]\n"), "F:1: [host]: \"a/b\" is not a host name (want NAME, *.NAME or [IPv6])");
    CHECK_STR(load_error("[host a.test]\ndocroot = /a\n[host A.test]\n"),
              "F:3: [host]: a.test is already a host of the section at line 1");
    CHECK_STR(load_error("[host a.test a.test]\n"), "F:1: [host]: a.test is named twice");
    CHECK_STR(load_error("[path]\n"), "F:1: [path]: needs at least one pattern (/PREFIX or *.EXT)");
    CHECK_STR(load_error("[path downloads]\n"), "F:1: [path]: \"downloads\" does not start with '/'");
    CHECK_STR(load_error("[path /a/../b]\n"),
              "F:1: [path]: \"/a/../b\" is not a normalised path (empty, '.' or '..' segment)");
    CHECK_STR(load_error("[path *.tar.gz]\n"), "F:1: [path]: \"*.tar.gz\" is not *.EXT");
    CHECK_STR(load_error("[path /a]\ndocroot = /x\n"), "F:2: docroot: not allowed in a [path] section");
    CHECK_STR(load_error("[path /a]\nalias = /b /c\n"), "F:2: alias: not allowed in a [path] section");
    CHECK_STR(load_error("directory-listing = yes\n"), "F:1: directory-listing: \"yes\" is neither on nor off");
    CHECK_STR(load_error("expires = 1w\n"), "F:1: expires: bad suffix \"w\" in \"1w\" (want s, m, h or d)");
    CHECK_STR(load_error("add-header = NoColon\n"), "F:1: add-header: \"NoColon\" is not \"Name: value\"");
    CHECK_STR(load_error("add-header = Bad Name: x\n"), "F:1: add-header: \"Bad Name: x\" is not \"Name: value\"");
    CHECK_STR(load_error("add-header = content-length: 5\n"), "F:1: add-header: ferry sets content-length itself");
    CHECK_STR(load_error("alias = /\n"), "F:1: alias: \"/\" cannot be an alias (it is the docroot)");
    CHECK_STR(load_error("alias = /a\n"), "F:1: alias: needs a directory after \"/a\"");
    CHECK_STR(load_error("alias = /a /x\nalias = /a/ /y\n"), "F:2: alias: duplicate alias /a");
    CHECK_STR(load_error("error-page = 200 /x.html\n"), "F:1: error-page: \"200\" is not a status from 400 to 599");
    CHECK_STR(load_error("error-page = 404 x.html\n"),
              "F:1: error-page: needs one path starting with '/' after the status");
    CHECK_STR(load_error("error-page = 404 /a\nerror-page = 404 /b\n"), "F:2: error-page: duplicate error page for 404");
    CHECK_STR(load_error("follow-symlinks = maybe\n"), "F:1: follow-symlinks: \"maybe\" is neither on nor off");
    CHECK_STR(load_error("hidden-files = on\n"), "F:1: hidden-files: \"on\" is neither deny nor allow");
    CHECK_STR(load_error("[path /a *.env]\nhidden-files = allow\n"),
              "F:2: hidden-files: not allowed in a [path] section with a *.EXT pattern "
              "(hidden paths are refused by their URL, before a file is known)");
    CHECK_STR(load_error("[path /a]\netag = inode\n"),
              "F:2: etag: unknown kind \"inode\" (want size-mtime, inode-size-mtime, digest or off)");
}

static void test_hidden_files(void)
{
    load_ok("hidden-files = deny\n"
            "[path /.well-known/ /pub/]\n"
            "hidden-files = allow\n"
            "[host a.test]\n"
            "docroot = /a\n"
            "hidden-files = allow\n");
    CHECK_INT(cfg.nrules, 3);
    CHECK_INT(cfg.rules[0].hidden_files, FY_OFF);
    CHECK_INT(cfg.rules[1].hidden_files, FY_ON);
    CHECK_INT(cfg.rules[2].hidden_files, FY_ON);
    CHECK_INT(cfg.rules[2].host, 1);
    load_ok("[path *.html]\ncache-control = no-cache\n");
    CHECK_INT(cfg.rules[0].hidden_files, FY_INHERIT);
}

static void test_same_alias_in_two_scopes(void)
{
    load_ok("alias = /a /x\n[host h.test]\ndocroot = /h\nalias = /a /y\nerror-page = 404 /e\n");
    CHECK_INT(cfg.naliases, 2);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_hosts);
    RUN(test_paths);
    RUN(test_errors);
    RUN(test_hidden_files);
    RUN(test_same_alias_in_two_scopes);
    return CHECK_SUMMARY();
}
