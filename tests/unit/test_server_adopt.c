/* Unit tests of fy_server_adopt (src/core/server.c) and fy_loop_turn: a
 * server started in this process, with no listener, is handed one end of a
 * socketpair and answers on it as on an accepted connection, stepped one
 * loop turn at a time; max-connections refuses a connection over the
 * limit with a 503, as the accept path does. */
#include "check.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/privileges.h"
#include "core/server.h"
#include "core/stats.h"

static struct fy_server srv;
static struct fy_stats_shm *stats;
static char dir[] = "/tmp/ferry_test_adopt_XXXXXX";
static char file[sizeof dir + 16];

static int set(struct fy_config *cfg, const char *key, const char *value)
{
    char err[FY_CONFIG_ERR_LEN];
    int rc = fy_config_set(cfg, key, value, "test", 0, true, err, sizeof err);
    if (rc < 0)
        printf("  %s: %s\n", key, err);
    return rc;
}

static int start(void)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(file, sizeof file, "%s/a.txt", dir);
    FILE *f = fopen(file, "w");
    if (!f)
        return -1;
    fputs("hello\n", f);
    fclose(f);

    static struct fy_config cfg;
    fy_config_defaults(&cfg);
    if (set(&cfg, "docroot", dir) || set(&cfg, "backend", "sendfile") || set(&cfg, "mime-types-file", "off") ||
        set(&cfg, "log-level", "error") || set(&cfg, "max-connections", "1") ||
        (geteuid() == 0 && set(&cfg, "user", "root")))
        return -1;
    static struct fy_identity id;
    static struct fy_log log = {.error_fd = -1, .access_fd = -1};
    char err[FY_CONFIG_ERR_LEN];
    if (fy_privileges_resolve(&cfg, &id, err, sizeof err) < 0 || fy_log_open(&log, &cfg, err, sizeof err) < 0 ||
        !(stats = fy_stats_create())) {
        printf("  start: %s\n", err);
        return -1;
    }
    struct fy_server_env env = {.log = &log, .identity = &id, .stats = stats,
                                .stats_slot = fy_stats_claim(stats, 1), .control = -1};
    if (fy_server_start(&srv, &cfg, &env, err, sizeof err) < 0) {
        printf("  start: %s\n", err);
        return -1;
    }
    return 0;
}

static void stop(void)
{
    fy_server_free(&srv);
    fy_stats_destroy(stats);
    sigset_t set_;
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set_, NULL); /* the server had taken them */
    unlink(file);
    rmdir(dir);
}

static struct sockaddr_storage loopback(void)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(40000);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ss;
}

/* Steps the loop, reading fd, until `want` has come or the turns run out;
 * what came is in buf. */
static size_t read_until(int fd, char *buf, size_t cap, const char *want)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int turn = 0; turn < 1000 && !strstr(buf, want); turn++) {
        CHECK(fy_loop_turn(&srv.loop, 10) >= 0);
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n > 0) {
            len += (size_t)n;
            buf[len] = '\0';
        } else if (n == 0 || errno != EAGAIN) {
            break;
        }
    }
    return len;
}

static void test_adopted_socket_is_served(void)
{
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    struct sockaddr_storage peer = loopback();
    CHECK_INT(fy_server_adopt(&srv, sv[0], &peer, false, false), 0);
    CHECK_INT(srv.nconns, 1);
    const char req[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_INT(write(sv[1], req, sizeof req - 1), sizeof req - 1);
    char buf[4096];
    read_until(sv[1], buf, sizeof buf, "hello\n");
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(buf, "\r\n\r\nhello\n") != NULL);

    /* max-connections = 1: a second one is refused with a 503, not kept. */
    int sv2[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv2), 0);
    CHECK_INT(fy_server_adopt(&srv, sv2[0], &peer, false, false), -1);
    CHECK_INT(srv.nconns, 1);
    read_until(sv2[1], buf, sizeof buf, "\r\n\r\n");
    CHECK(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    CHECK_INT(read(sv2[1], buf, 1), 0); /* and closed */
    close(sv2[1]);

    /* The client goes: so does the connection. */
    close(sv[1]);
    for (int turn = 0; turn < 100 && srv.nconns > 0; turn++)
        CHECK(fy_loop_turn(&srv.loop, 10) >= 0);
    CHECK_INT(srv.nconns, 0);
}

int main(void)
{
    if (start() < 0) {
        printf("  cannot start the server\n");
        return 1;
    }
    RUN(test_adopted_socket_is_served);
    stop();
    return CHECK_SUMMARY();
}
