/* Unit tests of the operations code: the process, privilege and status
 * keys of the configuration, status-allow networks, how reuseport sockets
 * are shared out to workers, and the shared counters. */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include "core/config.h"
#include "core/sockets.h"
#include "core/stats.h"
#include "core/status.h"

static const char *set_error(const char *key, const char *value)
{
    static char err[FY_CONFIG_ERR_LEN];
    struct fy_config c;
    fy_config_defaults(&c);
    err[0] = '\0';
    CHECK_INT(fy_config_set(&c, key, value, "f.conf", 3, true, err, sizeof err), -1);
    return err;
}

static void test_defaults(void)
{
    struct fy_config c;
    fy_config_defaults(&c);
    CHECK_INT(c.workers, 0);
    CHECK(c.reuseport);
    CHECK_STR(c.user, "");
    CHECK_STR(c.group, "");
    CHECK_STR(c.chroot_dir, "");
    CHECK_STR(c.pid_file, "");
    CHECK_STR(c.status_path, "");
    CHECK_INT(c.nstatus_allow, 2);
    CHECK_INT(c.status_allow[0].net.family, AF_INET);
    CHECK_INT(c.status_allow[0].net.prefix, 8);
    CHECK_INT(c.status_allow[1].net.family, AF_INET6);
    CHECK_INT(c.status_allow[1].net.prefix, 128);
}

static void test_keys(void)
{
    struct fy_config c;
    char err[FY_CONFIG_ERR_LEN];
    fy_config_defaults(&c);
    CHECK_INT(fy_config_set(&c, "workers", "12", "f", 1, true, err, sizeof err), 0);
    CHECK_INT(c.workers, 12);
    CHECK_INT(fy_config_set(&c, "workers", "auto", "f", 1, true, err, sizeof err), 0);
    CHECK_INT(c.workers, 0);
    CHECK_INT(fy_config_set(&c, "reuseport", "off", "f", 1, true, err, sizeof err), 0);
    CHECK(!c.reuseport);
    CHECK_INT(fy_config_set(&c, "user", "www-data", "f", 1, true, err, sizeof err), 0);
    CHECK_STR(c.user, "www-data");
    CHECK_INT(fy_config_set(&c, "group", "65534", "f", 1, true, err, sizeof err), 0);
    CHECK_STR(c.group, "65534");
    CHECK_INT(fy_config_set(&c, "chroot", "/var/empty", "f", 1, true, err, sizeof err), 0);
    CHECK_STR(c.chroot_dir, "/var/empty");
    CHECK_INT(fy_config_set(&c, "chroot", "off", "f", 1, true, err, sizeof err), 0);
    CHECK_STR(c.chroot_dir, "");
    CHECK_INT(fy_config_set(&c, "pid-file", "/run/ferry.pid", "f", 1, true, err, sizeof err), 0);
    CHECK_STR(c.pid_file, "/run/ferry.pid");
    CHECK_INT(fy_config_set(&c, "status-path", "/_ferry/status", "f", 1, true, err, sizeof err), 0);
    CHECK_STR(c.status_path, "/_ferry/status");
    CHECK_INT(fy_config_set(&c, "status-path", "off", "f", 1, true, err, sizeof err), 0);
    CHECK_STR(c.status_path, "");
}

static void test_key_errors(void)
{
    CHECK_STR(set_error("workers", "0"), "f.conf:3: workers: \"0\" is out of range (1 to 256)");
    CHECK_STR(set_error("workers", "257"), "f.conf:3: workers: \"257\" is out of range (1 to 256)");
    CHECK_STR(set_error("workers", "many"), "f.conf:3: workers: \"many\" is not a number");
    CHECK_STR(set_error("reuseport", "yes"), "f.conf:3: reuseport: \"yes\" is neither on nor off");
    CHECK_STR(set_error("user", "a b"), "f.conf:3: user: \"a b\" is not a user or group name");
    CHECK_STR(set_error("group", "-g"), "f.conf:3: group: \"-g\" is not a user or group name");
    CHECK_STR(set_error("status-path", "status"), "f.conf:3: status-path: \"status\" does not start with '/'");
    CHECK_STR(set_error("status-path", "/s?x=1"),
              "f.conf:3: status-path: \"/s?x=1\" holds a character a plain path cannot ('?', '#', '%', space)");
    CHECK_STR(set_error("status-allow", ""), "f.conf:3: status-allow: needs at least one address, network or all");
    CHECK_STR(set_error("status-allow", "10.0.0.0/33"),
              "f.conf:3: status-allow: bad prefix length in \"10.0.0.0/33\" (want 0 to 32)");
    CHECK_STR(set_error("status-allow", "localhost"),
              "f.conf:3: status-allow: \"localhost\" is not an IPv4 or IPv6 address (or all)");
}

static void test_status_allow_replace_then_add(void)
{
    struct fy_config c;
    char err[FY_CONFIG_ERR_LEN];
    fy_config_defaults(&c);
    CHECK_INT(fy_config_set(&c, "status-allow", "10.0.0.0/8", "f", 1, true, err, sizeof err), 0);
    CHECK_INT(c.nstatus_allow, 1);
    CHECK_INT(fy_config_set(&c, "status-allow", "fd00::/8 192.168.1.7", "f", 2, false, err, sizeof err), 0);
    CHECK_INT(c.nstatus_allow, 3);
    CHECK_INT(c.status_allow[2].net.prefix, 32);
    CHECK(!c.status_allow[2].deny);
}

static struct sockaddr_storage v4(const char *a)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, a, &sin->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *a)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, a, &sin6->sin6_addr);
    return ss;
}

static void test_status_allowed(void)
{
    struct fy_config c;
    char err[FY_CONFIG_ERR_LEN];
    fy_config_defaults(&c);
    struct sockaddr_storage a;
    CHECK(fy_status_allowed(&c, (a = v4("127.0.0.1"), &a)));
    CHECK(fy_status_allowed(&c, (a = v4("127.255.3.4"), &a)));
    CHECK(!fy_status_allowed(&c, (a = v4("128.0.0.1"), &a)));
    CHECK(fy_status_allowed(&c, (a = v6("::1"), &a)));
    CHECK(!fy_status_allowed(&c, (a = v6("::2"), &a)));
    CHECK(fy_status_allowed(&c, (a = v6("::ffff:127.0.0.1"), &a))); /* IPv4-mapped */
    CHECK_INT(fy_config_set(&c, "status-allow", "192.168.4.0/22 2001:db8::/33", "f", 1, true, err, sizeof err), 0);
    CHECK(fy_status_allowed(&c, (a = v4("192.168.7.255"), &a)));
    CHECK(!fy_status_allowed(&c, (a = v4("192.168.8.0"), &a)));
    CHECK(!fy_status_allowed(&c, (a = v4("127.0.0.1"), &a)));
    CHECK(fy_status_allowed(&c, (a = v6("2001:db8:7fff::1"), &a)));
    CHECK(!fy_status_allowed(&c, (a = v6("2001:db8:8000::1"), &a)));
    CHECK_INT(fy_config_set(&c, "status-allow", "0.0.0.0/0", "f", 1, true, err, sizeof err), 0);
    CHECK(fy_status_allowed(&c, (a = v4("8.8.8.8"), &a)));
    CHECK(!fy_status_allowed(&c, (a = v6("::1"), &a)));
    CHECK_INT(fy_config_set(&c, "status-allow", "all", "f", 1, true, err, sizeof err), 0);
    CHECK(fy_status_allowed(&c, (a = v6("2001:db8::1"), &a)));
}

/* A group of 6 reuseport sockets shared by 4 workers, then by 1; a shared socket goes to all. */
static void test_sockets_pick(void)
{
    struct fy_sockets s = {.n = 2};
    s.group[0] = (struct fy_socket_group){.reuseport = true, .nfd = 6, .fd = {10, 11, 12, 13, 14, 15}};
    s.group[1] = (struct fy_socket_group){.reuseport = false, .nfd = 1, .fd = {20}};
    struct fy_listen_fd out[16];
    CHECK_INT(fy_sockets_pick(&s, 1, 4, out, 16), 3);
    CHECK_INT(out[0].fd, 11);
    CHECK_INT(out[1].fd, 15);
    CHECK_INT(out[2].fd, 20);
    CHECK(!out[0].shared && out[2].shared);
    CHECK_INT(fy_sockets_pick(&s, 3, 4, out, 16), 2);
    CHECK_INT(fy_sockets_pick(&s, 0, 1, NULL, 0), 7);
    size_t seen = 0;
    for (unsigned w = 0; w < 4; w++)
        seen += fy_sockets_pick(&s, w, 4, NULL, 0) - 1;
    CHECK_INT(seen, 6); /* every socket of the group has exactly one worker */
}

static void test_stats_survive_retirement(void)
{
    struct fy_stats_shm *s = fy_stats_create();
    CHECK(s != NULL);
    if (!s)
        return;
    int a = fy_stats_claim(s, 1), b = fy_stats_claim(s, 1);
    CHECK(a >= 0 && b >= 0 && a != b);
    fy_stats_add(&s->slot[a], FY_C_REQ_2XX, 5);
    fy_stats_add(&s->slot[b], FY_C_REQ_2XX, 2);
    fy_stats_gauge(&s->slot[a], FY_G_ACTIVE, 3);
    fy_stats_gauge(&s->slot[b], FY_G_BUFFER_SIZE, 1 << 20);
    fy_stats_gauge(&s->slot[a], FY_G_BUFFER_SIZE, 1 << 20);
    struct fy_stats_total t;
    fy_stats_sum(s, &t);
    CHECK_INT(t.counter[FY_C_REQ_2XX], 7);
    CHECK_INT(t.gauge[FY_G_ACTIVE], 3);
    CHECK_INT(t.gauge[FY_G_BUFFER_SIZE], 1 << 20); /* the same everywhere: not added up */
    CHECK_INT(t.processes, 2);
    fy_stats_retire(s, a);
    fy_stats_sum(s, &t);
    CHECK_INT(t.counter[FY_C_REQ_2XX], 7); /* the counters stay, */
    CHECK_INT(t.gauge[FY_G_ACTIVE], 0);    /* the gauges go */
    CHECK_INT(t.processes, 1);
    int c = fy_stats_claim(s, 2);
    CHECK_INT(c, a); /* the slot is free again, and starts at zero */
    fy_stats_sum(s, &t);
    CHECK_INT(t.counter[FY_C_REQ_2XX], 7);
    fy_stats_destroy(s);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_keys);
    RUN(test_key_errors);
    RUN(test_status_allow_replace_then_add);
    RUN(test_status_allowed);
    RUN(test_sockets_pick);
    RUN(test_stats_survive_retirement);
    return CHECK_SUMMARY();
}
