/* Unit tests of the client's address behind balancers: the PROXY protocol
 * parser (src/http/proxy_protocol.c) and X-Forwarded-For with real-ip-from
 * (src/core/realip.c). */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/config.h"
#include "core/realip.h"
#include "http/proxy_protocol.h"

static const char *addr_text(const struct sockaddr_storage *a)
{
    static char buf[INET6_ADDRSTRLEN + 8];
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
        snprintf(buf + strlen(buf), 8, ":%u", ntohs(s->sin_port));
    } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
        snprintf(buf + strlen(buf), 8, ":%u", ntohs(s->sin6_port));
    } else {
        snprintf(buf, sizeof buf, "unspec");
    }
    return buf;
}

static long parse(const char *s, size_t len, struct sockaddr_storage *src)
{
    return fy_proxy_parse(s, len, 8192, src);
}

#define P(s, src) parse(s, sizeof s - 1, src)

static void test_v1(void)
{
    struct sockaddr_storage a;
    CHECK_INT(P("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET", &a), 45);
    CHECK_STR(addr_text(&a), "192.0.2.1:56324");
    CHECK_INT(P("PROXY TCP6 2001:db8::1 2001:db8::2 1 80\r\n", &a), 41);
    CHECK_STR(addr_text(&a), "2001:db8::1:1");
    CHECK_INT(P("PROXY UNKNOWN\r\n", &a), 15);
    CHECK_STR(addr_text(&a), "unspec");
    CHECK_INT(P("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &a), 35);
    /* incomplete, then invalid */
    CHECK_INT(P("PRO", &a), 0);
    CHECK_INT(P("PROXY TCP4 192.0.2.1", &a), 0);
    CHECK_INT(P("GET / HTTP/1.1\r\n", &a), -1);
    CHECK_INT(P("PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n", &a), -1);
    CHECK_INT(P("PROXY TCP4 192.0.2.1 198.51.100.2 56324 65536\r\n", &a), -1);
    CHECK_INT(P("PROXY TCP4 192.0.2.1 198.51.100.2 056 443\r\n", &a), -1);
    CHECK_INT(P("PROXY TCP4 2001:db8::1 198.51.100.2 1 443\r\n", &a), -1);
    CHECK_INT(P("PROXY TCP4  192.0.2.1 198.51.100.2 1 443\r\n", &a), -1);
    CHECK_INT(P("PROXY TCP4 192.0.2.1 198.51.100.2 1 443\n", &a), -1);
    char long_line[200];
    memset(long_line, 'x', sizeof long_line);
    memcpy(long_line, "PROXY ", 6);
    CHECK_INT(parse(long_line, sizeof long_line, &a), -1);
}

static void test_v2(void)
{
    struct sockaddr_storage a;
    static const unsigned char v4[] = {
        0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0f,
        192, 0, 2, 7, 198, 51, 100, 2, 0x12, 0x34, 0x01, 0xbb, /* then a TLV of 3 bytes */ 0x04, 0x00, 0x00, 'G',
    };
    CHECK_INT(parse((const char *)v4, sizeof v4, &a), 31);
    CHECK_STR(addr_text(&a), "192.0.2.7:4660");
    CHECK_INT(parse((const char *)v4, 20, &a), 0);
    CHECK_INT(parse((const char *)v4, 5, &a), 0);
    CHECK_INT(fy_proxy_parse((const char *)v4, sizeof v4, 30, &a), -1); /* longer than the room */
    unsigned char local[16];
    memcpy(local, v4, 16);
    local[12] = 0x20, local[13] = 0x00, local[14] = 0, local[15] = 0;
    CHECK_INT(parse((const char *)local, 16, &a), 16);
    CHECK_STR(addr_text(&a), "unspec");
    unsigned char bad[sizeof v4];
    memcpy(bad, v4, sizeof v4);
    bad[12] = 0x31; /* version 3 */
    CHECK_INT(parse((const char *)bad, sizeof bad, &a), -1);
    memcpy(bad, v4, sizeof v4);
    bad[15] = 4; /* too short for its addresses */
    CHECK_INT(parse((const char *)bad, sizeof bad, &a), -1);
    unsigned char v6[16 + 36] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x21, 0, 36};
    v6[16] = 0x20, v6[17] = 0x01, v6[18] = 0x0d, v6[19] = 0xb8, v6[31] = 9;
    v6[48] = 0, v6[49] = 80;
    CHECK_INT(parse((const char *)v6, sizeof v6, &a), 52);
    CHECK_STR(addr_text(&a), "2001:db8::9:80");
}

static struct fy_config cfg;

/* The client of a request from peer with these X-Forwarded-For lines. */
static const char *client(const char *peer, const char *xff1, const char *xff2)
{
    struct sockaddr_storage p = {0}, out;
    struct sockaddr_in *sin = (struct sockaddr_in *)&p;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, peer, &sin->sin_addr);
    struct fy_request r = {0};
    const char *lines[2] = {xff1, xff2};
    for (int i = 0; i < 2; i++) {
        if (!lines[i])
            continue;
        r.headers[r.nheaders].name = (struct fy_str){"X-Forwarded-For", 15};
        r.headers[r.nheaders].value = (struct fy_str){lines[i], strlen(lines[i])};
        r.nheaders++;
    }
    fy_realip(&cfg, &p, &r, &out);
    static char buf[64];
    snprintf(buf, sizeof buf, "%s", addr_text(&out));
    *strrchr(buf, ':') = '\0';
    return buf;
}

static void test_real_ip(void)
{
    char err[FY_CONFIG_ERR_LEN];
    fy_config_defaults(&cfg);
    CHECK_STR(client("10.0.0.1", "192.0.2.1", NULL), "10.0.0.1"); /* real-ip-from off */
    CHECK_INT(fy_config_set(&cfg, "real-ip-from", "10.0.0.0/8 2001:db8::/32", "t", 1, true, err, sizeof err), 0);
    CHECK_STR(client("10.0.0.1", "192.0.2.1", NULL), "192.0.2.1");
    CHECK_STR(client("192.0.2.9", "192.0.2.1", NULL), "192.0.2.9"); /* an untrusted peer's header */
    CHECK_STR(client("10.0.0.1", NULL, NULL), "10.0.0.1");
    CHECK_STR(client("10.0.0.1", "203.0.113.5, 192.0.2.1, 10.0.0.7", NULL), "192.0.2.1");
    CHECK_STR(client("10.0.0.1", "203.0.113.5", "192.0.2.1 , 10.9.9.9"), "192.0.2.1");
    CHECK_STR(client("10.0.0.1", "10.1.1.1, 10.2.2.2", NULL), "10.1.1.1"); /* all trusted: the leftmost */
    CHECK_STR(client("10.0.0.1", "203.0.113.5, junk, 10.0.0.7", NULL), "10.0.0.7"); /* stops at junk */
    CHECK_STR(client("10.0.0.1", "[2001:db9::1]", NULL), "2001:db9::1");
    CHECK_STR(client("10.0.0.1", "", NULL), "10.0.0.1");
    CHECK_INT(fy_config_set(&cfg, "real-ip-from", "off", "t", 1, true, err, sizeof err), 0);
    CHECK_STR(client("10.0.0.1", "192.0.2.1", NULL), "10.0.0.1");
    /* the access-list parser of core/acl.c: "all", and its messages */
    CHECK_INT(fy_config_set(&cfg, "real-ip-from", "all", "t", 1, true, err, sizeof err), 0);
    CHECK_STR(client("192.0.2.9", "203.0.113.5, 198.51.100.1", NULL), "203.0.113.5");
    CHECK_INT(fy_config_set(&cfg, "real-ip-from", "10.0.0.0/33", "t", 2, true, err, sizeof err), -1);
    CHECK_STR(err, "t:2: real-ip-from: bad prefix length in \"10.0.0.0/33\" (want 0 to 32)");
    CHECK_INT(fy_config_set(&cfg, "real-ip-from", "lb.example", "t", 3, true, err, sizeof err), -1);
    CHECK_STR(err, "t:3: real-ip-from: \"lb.example\" is not an IPv4 or IPv6 address (or all)");
}

static void test_listen_option(void)
{
    char err[FY_CONFIG_ERR_LEN];
    fy_config_defaults(&cfg);
    CHECK_INT(fy_config_set(&cfg, "listen", "127.0.0.1:81  proxy-protocol", "t", 1, true, err, sizeof err), 0);
    CHECK(cfg.listen[0].proxy_protocol);
    CHECK_STR(cfg.listen[0].text, "127.0.0.1:81");
    CHECK_INT(fy_config_set(&cfg, "listen", "82", "t", 2, false, err, sizeof err), 0);
    CHECK(!cfg.listen[1].proxy_protocol);
    CHECK_INT(fy_config_set(&cfg, "listen", "83 tls proxy-protocol", "t", 3, false, err, sizeof err), 0);
    CHECK(cfg.listen[2].tls && cfg.listen[2].proxy_protocol);
    CHECK_INT(fy_config_set(&cfg, "listen", "84 proxy-protocol  tls", "t", 4, false, err, sizeof err), 0);
    CHECK(cfg.listen[3].tls && cfg.listen[3].proxy_protocol);
    CHECK_STR(cfg.listen[3].text, "0.0.0.0:84");
    CHECK_INT(fy_config_set(&cfg, "listen", "85 tls", "t", 5, false, err, sizeof err), 0);
    CHECK(cfg.listen[4].tls && !cfg.listen[4].proxy_protocol);
    CHECK_INT(fy_config_set(&cfg, "listen", "86 ssl", "t", 6, false, err, sizeof err), -1);
    CHECK_STR(err, "t:6: listen: unknown option \"ssl\" after 86 (want tls, proxy-protocol or both)");
    CHECK_INT(fy_config_set(&cfg, "listen", "86 tls tls", "t", 7, false, err, sizeof err), -1);
    CHECK_STR(err, "t:7: listen: option \"tls\" given twice after 86");
}

int main(void)
{
    RUN(test_v1);
    RUN(test_v2);
    RUN(test_real_ip);
    RUN(test_listen_option);
    return CHECK_SUMMARY();
}
