/* Unit tests of src/core/acl.c (networks, first match, the default of a
 * list) and of the allow/deny keys: their scopes and errors. */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/acl.h"
#include "core/config.h"
#include "file/rules.h"

static struct fy_config cfg;

static struct sockaddr_storage addr(const char *a)
{
    struct sockaddr_storage ss = {0};
    if (strchr(a, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        CHECK(inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        CHECK(inet_pton(AF_INET, a, &sin->sin_addr) == 1);
    }
    return ss;
}

/* A list from "allow NET" / "deny NET" words, checked for one address. */
static bool allows(const char *list, const char *peer)
{
    struct fy_acl_entry e[16];
    size_t n = 0;
    char buf[256], err[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *net = strtok_r(NULL, " ", &save);
        e[n].deny = strcmp(w, "deny") == 0;
        CHECK_INT(fy_cidr_parse(net, true, &e[n].net, err, sizeof err), 0);
        n++;
    }
    struct sockaddr_storage a = addr(peer);
    return fy_acl_allows(e, n, &a);
}

static void test_networks(void)
{
    struct fy_cidr c;
    char err[128];
    CHECK_INT(fy_cidr_parse("10.1.0.0/16", false, &c, err, sizeof err), 0);
    CHECK_INT(c.family, AF_INET);
    CHECK_INT(c.prefix, 16);
    CHECK_INT(fy_cidr_parse("2001:db8::/32", false, &c, err, sizeof err), 0);
    CHECK_INT(c.prefix, 32);
    CHECK_INT(fy_cidr_parse("::1", false, &c, err, sizeof err), 0);
    CHECK_INT(c.prefix, 128);
    CHECK_INT(fy_cidr_parse("all", true, &c, err, sizeof err), 0);
    CHECK_INT(c.family, AF_UNSPEC);
    CHECK_INT(fy_cidr_parse("all", false, &c, err, sizeof err), -1);
    CHECK_STR(err, "\"all\" is not an IPv4 or IPv6 address");
    CHECK_INT(fy_cidr_parse("10.0.0.0/33", true, &c, err, sizeof err), -1);
    CHECK_STR(err, "bad prefix length in \"10.0.0.0/33\" (want 0 to 32)");
    CHECK_INT(fy_cidr_parse("10.0.0.0/+8", true, &c, err, sizeof err), -1);
    CHECK_INT(fy_cidr_parse("10.0.0.0/", true, &c, err, sizeof err), -1);
    CHECK_INT(fy_cidr_parse("/8", true, &c, err, sizeof err), -1);
    CHECK_STR(err, "\"/8\" is not an address or network");
    CHECK_INT(fy_cidr_parse("::1/129", true, &c, err, sizeof err), -1);
}

static void test_first_match_and_default(void)
{
    CHECK(allows("allow 10.0.0.0/8", "10.200.1.1"));
    CHECK(!allows("allow 10.0.0.0/8", "11.0.0.1"));              /* an allowlist refuses the rest */
    CHECK(!allows("deny 10.0.0.0/8", "10.0.0.1"));
    CHECK(allows("deny 10.0.0.0/8", "11.0.0.1"));                 /* a blocklist lets the rest in */
    CHECK(!allows("deny 10.0.0.1 allow 10.0.0.0/8", "10.0.0.1"));  /* first match wins */
    CHECK(allows("deny 10.0.0.1 allow 10.0.0.0/8", "10.0.0.2"));
    CHECK(allows("allow 10.0.0.0/8 deny 10.0.0.1", "10.0.0.1"));
    CHECK(!allows("allow 10.0.0.0/8 deny 10.0.0.1", "192.168.0.1")); /* holds an allow */
    CHECK(!allows("allow 127.0.0.1 deny all", "::1"));
    CHECK(allows("deny 127.0.0.1 allow all", "::1"));
    CHECK(allows("allow 127.0.0.1", "::ffff:127.0.0.1"));          /* IPv4-mapped is IPv4 */
    CHECK(allows("allow fd00::/8", "fd12:3456::1"));
    CHECK(!allows("allow fd00::/8", "fe80::1"));
    CHECK(allows("allow 192.168.4.0/22", "192.168.7.255"));
    CHECK(!allows("allow 192.168.4.0/22", "192.168.8.0"));
    CHECK(allows("allow 0.0.0.0/0", "1.2.3.4"));
    CHECK(!allows("allow 0.0.0.0/0", "::2"));                      /* 0.0.0.0/0 is IPv4 only */
    CHECK(allows("", "1.2.3.4"));                                  /* no list: everyone */
}

static void load(const char *text, char *err, size_t errlen)
{
    char path[64] = "/tmp/ferry_test_acl_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    fy_config_defaults(&cfg);
    err[0] = '\0';
    fy_config_load(&cfg, path, err, errlen);
    unlink(path);
    size_t plen = strlen(path);
    if (strncmp(err, path, plen) == 0)
        memmove(err + 1, err + plen, strlen(err + plen) + 1), err[0] = 'F';
}

static bool path_allows(unsigned host, const char *url, const char *peer)
{
    struct fy_rule_subject subj = {host, url, fy_url_file_name(url)};
    struct fy_path_settings set;
    fy_rules_resolve(&cfg, &subj, &set);
    struct sockaddr_storage a = addr(peer);
    return fy_acl_allows(set.acl, set.nacl, &a);
}

static void test_scopes(void)
{
    char err[FY_CONFIG_ERR_LEN];
    load("allow = 10.0.0.0/8 127.0.0.1\n"
         "deny = all\n"
         "[path /public/]\n"
         "allow = all\n"
         "[path *.secret]\n"
         "deny = all\n"
         "[host h.test]\n"
         "docroot = /h\n"
         "deny = 10.9.0.0/16\n", err, sizeof err);
    CHECK_STR(err, "");
    CHECK(path_allows(0, "/a.html", "10.1.1.1"));
    CHECK(!path_allows(0, "/a.html", "192.168.1.1"));
    CHECK(path_allows(0, "/public/x", "192.168.1.1"));    /* the narrower list replaces */
    CHECK(!path_allows(0, "/public/x.secret", "10.1.1.1")); /* the later rule */
    CHECK(!path_allows(1, "/a.html", "10.9.1.1"));         /* the host's list comes last */
    CHECK(path_allows(1, "/a.html", "192.168.1.1"));       /* and it only denies */
    CHECK_INT(cfg.nacl, 6);
}

static void test_errors(void)
{
    char err[FY_CONFIG_ERR_LEN];
    load("allow =\n", err, sizeof err);
    CHECK_STR(err, "F:1: allow: needs at least one address, network or all");
    load("\n[path /x]\ndeny = 10.0.0.0/8 localhost\n", err, sizeof err);
    CHECK_STR(err, "F:3: deny: \"localhost\" is not an IPv4 or IPv6 address (or all)");
    load("allow = 10.0.0.0/40\n", err, sizeof err);
    CHECK_STR(err, "F:1: allow: bad prefix length in \"10.0.0.0/40\" (want 0 to 32)");
    load("status-allow = all\n", err, sizeof err);
    CHECK_STR(err, "");
}

int main(void)
{
    RUN(test_networks);
    RUN(test_first_match_and_default);
    RUN(test_scopes);
    RUN(test_errors);
    return CHECK_SUMMARY();
}
