/* A response's first bytes go in the turn its request came, over HTTP/2 as
 * over HTTP/1.1 (event/loop.h: the turn's sending budget): an in-process
 * server, stepped one loop turn at a time, sends a large file on one
 * connection (it spends every turn's budget and waits in the loop's ring
 * of deferred senders), while an HTTP/2 client on another asks for a small
 * file.  Its whole response must come in the turn that read the request,
 * not after the download's next turns. */
#include "check.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "in_process.h"

#define BIG_SIZE (4u << 20)
#define SMALL_TEXT "a small file, answered at once\n"

static struct fy_server srv;
static struct fy_stats_shm *stats;
static char dir[] = "/tmp/ferry_test_h2_first_XXXXXX";
static char big[sizeof dir + 16], small[sizeof dir + 16];

static int write_file(const char *path, const char *bytes, size_t len, size_t times)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < times; i++)
        fwrite(bytes, 1, len, f);
    return fclose(f);
}

static int start(void)
{
    static char block[64 * 1024];
    memset(block, 'x', sizeof block);
    if (!mkdtemp(dir))
        return -1;
    snprintf(big, sizeof big, "%s/big.bin", dir);
    snprintf(small, sizeof small, "%s/small.txt", dir);
    if (write_file(big, block, sizeof block, BIG_SIZE / sizeof block) < 0 ||
        write_file(small, SMALL_TEXT, strlen(SMALL_TEXT), 1) < 0)
        return -1;
    static struct fy_config cfg;
    fy_config_defaults(&cfg);
    /* 64 KiB a turn: the download spends the budget every turn. */
    if (in_process_set(&cfg, "send-chunk-size", "64k") < 0)
        return -1;
    return in_process_start(&srv, &cfg, dir, &stats);
}

static void stop(void)
{
    in_process_stop(&srv, stats);
    unlink(big);
    unlink(small);
    rmdir(dir);
}

/* A client end of a socketpair whose other end the server adopted. */
static int connect_in_process(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    struct sockaddr_storage peer = in_process_peer();
    if (fy_server_adopt(&srv, sv[0], &peer, false, false) < 0) { /* it took sv[0] all the same */
        close(sv[1]);
        return -1;
    }
    return sv[1];
}

/* Reads what the server sent to fd; returns the bytes, 0 for none yet. */
static size_t drain(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)n;
    return len;
}

/* --- the HTTP/2 client (libnghttp2) -------------------------------------- */

struct client {
    nghttp2_session *ng;
    char body[256];
    size_t body_len;
    int status;
    bool closed;
};

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    (void)ng, (void)frame, (void)flags;
    struct client *c = user;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0)
        c->status = valuelen == 3 ? atoi((const char *)value) : -1;
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
    (void)ng, (void)flags, (void)id;
    struct client *c = user;
    if (c->body_len + len <= sizeof c->body) {
        memcpy(c->body + c->body_len, data, len);
        c->body_len += len;
    }
    return 0;
}

static int on_close(nghttp2_session *ng, int32_t id, uint32_t code, void *user)
{
    (void)ng, (void)id, (void)code;
    ((struct client *)user)->closed = true;
    return 0;
}

/* The preface (libnghttp2 writes it), SETTINGS and a GET of path, ready to
 * write. */
static ssize_t client_request(struct client *c, const char *path, const uint8_t **out)
{
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_client_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
    const nghttp2_nv nv[] = {NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "x"),
                             NV(":path", path)};
#undef NV
    if (nghttp2_submit_request(c->ng, NULL, nv, sizeof nv / sizeof nv[0], NULL, NULL) < 0)
        return -1;
    static uint8_t bytes[4096];
    size_t len = 0;
    const uint8_t *frames;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->ng, &frames)) > 0 && len + (size_t)n <= sizeof bytes) {
        memcpy(bytes + len, frames, (size_t)n);
        len += (size_t)n;
    }
    *out = bytes;
    return (ssize_t)len;
}

/* --- the test ------------------------------------------------------------ */

static void test_first_data_goes_in_the_turn_of_its_request(void)
{
    static char buf[1 << 20];
    int download = connect_in_process();
    CHECK(download >= 0);
    const char get[] = "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_INT(write(download, get, sizeof get - 1), sizeof get - 1);
    /* A few turns: the download is under way, and defers itself each turn
     * once it has sent the turn's budget. */
    size_t got = 0;
    for (int turn = 0; turn < 4; turn++) {
        CHECK(fy_loop_turn(&srv.loop, 10) >= 0);
        got += drain(download, buf, sizeof buf);
    }
    CHECK(got > 0 && got < BIG_SIZE / 2);

    int h2 = connect_in_process();
    CHECK(h2 >= 0);
    struct client c = {0};
    const uint8_t *req;
    ssize_t req_len = client_request(&c, "/small.txt", &req);
    CHECK(req_len > 0);
    CHECK_INT(write(h2, req, (size_t)req_len), req_len);

    /* One turn reads the request: its whole response comes in it. */
    CHECK(fy_loop_turn(&srv.loop, 10) >= 0);
    got += drain(download, buf, sizeof buf);
    size_t len = drain(h2, buf, sizeof buf);
    CHECK(len > 0);
    CHECK(nghttp2_session_mem_recv(c.ng, (const uint8_t *)buf, len) == (ssize_t)len);
    CHECK_INT(c.status, 200);
    CHECK(c.closed);
    CHECK(c.body_len == strlen(SMALL_TEXT) && memcmp(c.body, SMALL_TEXT, c.body_len) == 0);

    /* And the download goes on to its last byte. */
    for (int turn = 0; turn < 10000 && got < BIG_SIZE; turn++) {
        CHECK(fy_loop_turn(&srv.loop, 10) >= 0);
        got += drain(download, buf, sizeof buf);
    }
    CHECK(got > BIG_SIZE); /* the head and every byte of the body */
    nghttp2_session_del(c.ng);
    close(h2);
    close(download);
    CHECK_INT(in_process_settle(&srv), 0);
}

int main(void)
{
    if (start() < 0) {
        printf("  cannot start the server\n");
        return 1;
    }
    RUN(test_first_data_goes_in_the_turn_of_its_request);
    stop();
    return CHECK_SUMMARY();
}
