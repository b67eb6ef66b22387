/* Unit tests of fy_server_adopt (src/core/server.c) and fy_loop_turn: a
 * server started in this process, with no listener, is handed one end of a
 * socketpair and answers on it as on an accepted connection, stepped one
 * loop turn at a time; max-connections refuses a connection over the
 * limit with a 503, as the accept path does. */
#include "check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "in_process.h"

static struct fy_server srv;
static struct fy_stats_shm *stats;
static char dir[] = "/tmp/ferry_test_adopt_XXXXXX";
static char file[sizeof dir + 16];

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
    if (in_process_set(&cfg, "max-connections", "1") < 0)
        return -1;
    return in_process_start(&srv, &cfg, dir, &stats);
}

static void stop(void)
{
    in_process_stop(&srv, stats);
    unlink(file);
    rmdir(dir);
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
    struct sockaddr_storage peer = in_process_peer();
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
    CHECK_INT(in_process_settle(&srv), 0);
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
