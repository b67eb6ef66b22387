/* libFuzzer target: HTTP/2 frames into a real ferry connection.
 *
 * LLVMFuzzerInitialize starts one in-process server (ferry's own
 * fy_config / fy_server_start, as `ferry -X` does, with no listener) on a
 * temporary docroot: small files, one larger than the initial 64 KiB flow
 * window, a directory with a listing, a precompressed copy, a hidden file;
 * status and health pages; the access log formatted into /dev/null;
 * backend sendfile (FERRY_FUZZ_BACKEND=writev, say, for another).
 *
 * Each input is one connection: a socketpair whose one end is handed to
 * the server by the accept path (fy_server_adopt, as from 127.0.0.1 on a
 * plain listener); the other end is the client.  The client writes the
 * preface and the input, the loop is stepped with fy_loop_turn (never
 * sleeping) while what the server writes is read, then the client shuts
 * its side and the loop runs until the server closes, or a turn limit; a
 * connection still open is closed.
 *
 * The input's first byte is a mode, the rest is what the client sends:
 *   0x01 raw: the bytes as they are, and no preface written first (so the
 *        preface itself, or HTTP/1.1, or garbage may be what comes);
 *        otherwise the rest is a sequence of frames, each a 9-byte header
 *        and its payload, whose length field is rewritten to what the
 *        input has left (mutations keep the framing), after the preface;
 *   0x02 shut at once: the write side is shut right after the last byte;
 *        otherwise the server first answers until it is quiet (an EOF
 *        ends an HTTP/2 connection at once, with its answers unsent);
 *   0x04 piecewise: a loop turn after each frame (raw: each chunk of
 *        1 + 8 * (mode >> 5) bytes), so frames arrive split over reads;
 *   0x08 stop: then a graceful stop (fy_link_shutdown: GOAWAY);
 *   0x10 timeout: then the connection's timer fires (keep-alive, header
 *        or write timeout, whichever is armed), as if its time had come.
 * 0x08 and 0x10 act once the server is quiet, before the write side is
 * shut; the loop runs until it is quiet again after each.
 *
 * FUZZ_H2_WAIT_MS (default 0): how long a quiet turn may wait while
 * streams are under way, for backends that work off the loop (io-uring,
 * linux-aio-sendfile: lookups and reads complete in a later turn); with
 * it, what a closed connection left in flight completes before the input
 * ends (its only pointer is in the kernel's ring, where LeakSanitizer
 * does not look).  io-uring wants 20 or so: its name lookups (statx, done
 * by the kernel's workers) may take more than a few ms on a busy machine,
 * and one still in flight when the input ends is reported as a leak.
 *
 * Besides "no crash, no leak, no UB", what the server sends on an HTTP/2
 * connection is checked, and a violation aborts:
 *   - it is a sequence of frames (the last may be cut short by a close)
 *     that starts with SETTINGS, of types a server sends, on the streams
 *     their type allows, none larger than the client's max frame size;
 *   - DATA stays within the flow-control windows the client gave: per
 *     stream and on the connection, at most the largest initial window it
 *     announced (65535 by default) plus its WINDOW_UPDATE increments.
 *
 * FUZZ_H2_TRACE=1 prints a line per input: the bytes each way and the
 * server's frames (type/stream:length), to see what a seed reaches:
 *   FUZZ_H2_TRACE=1 build/fuzz/fuzz_h2 -runs=0 tests/fuzz/corpus/h2 */
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
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
#include "http/link.h"
#include "http2/h2.h"

#define MODE_RAW 0x01
#define MODE_SHUT_AT_ONCE 0x02
#define MODE_PIECEWISE 0x04
#define MODE_STOP 0x08
#define MODE_TIMEOUT 0x10

#define MAX_TURNS 200        /* per phase: answering, then closing */
#define QUIET_TURNS 2        /* turns with nothing done that make "quiet" */
#define MAX_SENT (1 << 20)   /* preface + input, reframed */
#define MAX_STREAMS 512      /* streams whose DATA is counted */

#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_h2: property failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static struct fy_server srv;
static struct fy_stats_shm *stats;
static int quiet_wait_ms;        /* FUZZ_H2_WAIT_MS */
static char tmpdir[] = "/tmp/ferry-fuzz-h2-XXXXXX";

/* --- the server, once --------------------------------------------------------- */

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_h2: %s: %s\n", what, detail);
    exit(1);
}

static void put_file(const char *name, size_t size, char fill)
{
    char path[512];
    snprintf(path, sizeof path, "%s/www/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        die(path, strerror(errno));
    for (size_t i = 0; i < size; i++)
        fputc(i % 64 == 63 ? '\n' : fill, f);
    fclose(f);
}

static void make_docroot(void)
{
    if (!mkdtemp(tmpdir))
        die("mkdtemp", strerror(errno));
    char path[512];
    const char *dirs[] = {"www", "www/dir", "www/dir/sub"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, dirs[i]);
        if (mkdir(path, 0755) < 0)
            die(path, strerror(errno));
    }
    put_file("index.html", 200, 'i');
    put_file("small.txt", 6, 's');
    put_file("page.html", 4096, 'p');
    put_file("page.html.gz", 100, 'z');  /* not gzip: precompressed serves it as it is */
    put_file("style.css", 3000, 'c');
    put_file("big.bin", 100 * 1024, 'b'); /* beyond the initial 64 KiB windows */
    put_file("dir/a.txt", 1500, 'a');
    put_file("dir/b.js", 700, 'j');
    put_file("dir/sub/c.txt", 10, 'c');
    put_file(".hidden", 10, 'h');
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_docroot(void)
{
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void set(struct fy_config *cfg, const char *key, const char *value)
{
    char err[FY_CONFIG_ERR_LEN];
    if (fy_config_set(cfg, key, value, "fuzz_h2", 0, true, err, sizeof err) < 0)
        die(key, err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    make_docroot();
    atexit(remove_docroot);

    static struct fy_config cfg;
    char www[512], err[FY_CONFIG_ERR_LEN];
    snprintf(www, sizeof www, "%s/www", tmpdir);
    const char *backend = getenv("FERRY_FUZZ_BACKEND");
    fy_config_defaults(&cfg);
    set(&cfg, "docroot", www);
    set(&cfg, "backend", backend && backend[0] ? backend : "sendfile");
    set(&cfg, "mime-types-file", "off");
    set(&cfg, "log-level", "error");
    set(&cfg, "access-log", "/dev/null");
    set(&cfg, "status-path", "/status");
    set(&cfg, "health-path", "/health");
    set(&cfg, "directory-listing", "on");
    set(&cfg, "precompressed", "on");
    set(&cfg, "add-header", "X-Fuzz: h2");
    if (geteuid() == 0)
        set(&cfg, "user", "root"); /* ferry refuses to serve as root unless told to */

    static struct fy_identity id;
    static struct fy_log log = {.error_fd = -1, .access_fd = -1};
    if (fy_privileges_resolve(&cfg, &id, err, sizeof err) < 0 || fy_log_open(&log, &cfg, err, sizeof err) < 0)
        die("start", err);
    if (!(stats = fy_stats_create()))
        die("start", "status counters: out of memory");
    int slot = fy_stats_claim(stats, 1);
    struct fy_server_env env = {.log = &log, .identity = &id, .stats = stats, .stats_slot = slot,
                                .control = -1};
    if (fy_server_start(&srv, &cfg, &env, err, sizeof err) < 0)
        die("start", err);
    /* The server took SIGINT and SIGTERM into its signalfd; libFuzzer's
     * own handlers (Ctrl-C: stop and print the stats) get them back. */
    sigset_t set_;
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &set_, NULL);
    const char *wait = getenv("FUZZ_H2_WAIT_MS");
    quiet_wait_ms = wait ? atoi(wait) : 0;
    return 0;
}

/* --- what the client sends ------------------------------------------------------ */

struct sent {
    uint8_t *p;
    size_t len;
    size_t cuts[4096];           /* ends of the pieces written one at a time */
    size_t ncuts;
};

static void sent_put(struct sent *s, const void *p, size_t n)
{
    memcpy(s->p + s->len, p, n);
    s->len += n;
}

static void sent_cut(struct sent *s)
{
    if (s->ncuts < sizeof s->cuts / sizeof s->cuts[0] && (s->ncuts == 0 || s->cuts[s->ncuts - 1] < s->len))
        s->cuts[s->ncuts++] = s->len;
}

static uint32_t get24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t get31(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) & 0x7fffffffu;
}

/* The preface, then each frame with its length made to fit the input. */
static void build_frames(struct sent *s, const uint8_t *data, size_t size, bool piecewise)
{
    sent_put(s, FY_H2_PREFACE, FY_H2_PREFACE_LEN);
    sent_cut(s);
    while (size >= 9) {
        uint8_t hd[9];
        memcpy(hd, data, 9);
        size_t len = get24(hd);
        if (len > size - 9)
            len = size - 9;
        hd[0] = (uint8_t)(len >> 16), hd[1] = (uint8_t)(len >> 8), hd[2] = (uint8_t)len;
        sent_put(s, hd, 9);
        sent_put(s, data + 9, len);
        if (piecewise)
            sent_cut(s);
        data += 9 + len;
        size -= 9 + len;
    }
    sent_put(s, data, size); /* a header cut short, if any */
    sent_cut(s);
}

static void build_raw(struct sent *s, const uint8_t *data, size_t size, bool piecewise, size_t chunk)
{
    for (size_t off = 0; off < size;) {
        size_t n = piecewise && chunk < size - off ? chunk : size - off;
        sent_put(s, data + off, n);
        sent_cut(s);
        off += n;
    }
}

/* --- the properties of what the server sends ------------------------------------ */

/* What the client's frames allow the server: per stream and on the
 * connection, DATA up to the largest initial window plus the increments;
 * frames up to the largest max frame size it announced. */
struct allowance {
    uint64_t initial, conn, max_frame;
    uint32_t ids[MAX_STREAMS];
    uint64_t incr[MAX_STREAMS], data[MAX_STREAMS];
    size_t nids;
    uint64_t conn_data;
};

static size_t stream_slot(struct allowance *a, uint32_t id)
{
    for (size_t i = 0; i < a->nids; i++)
        if (a->ids[i] == id)
            return i;
    if (a->nids == MAX_STREAMS)
        return MAX_STREAMS;
    a->ids[a->nids] = id;
    return a->nids++;
}

/* Reads the client's frames as the server would, in order from the
 * preface; bytes nghttp2 would refuse only loosen the bounds. */
static void client_allowance(struct allowance *a, const uint8_t *p, size_t len)
{
    *a = (struct allowance){.initial = 65535, .conn = 65535, .max_frame = 16384};
    for (size_t off = FY_H2_PREFACE_LEN; off + 9 <= len;) {
        uint32_t flen = get24(p + off), id = get31(p + off + 5);
        uint8_t type = p[off + 3];
        const uint8_t *pl = p + off + 9;
        if (flen > len - off - 9)
            break;
        if (type == 8 && flen >= 4) { /* WINDOW_UPDATE */
            if (id == 0)
                a->conn += get31(pl);
            else {
                size_t i = stream_slot(a, id);
                if (i < MAX_STREAMS)
                    a->incr[i] += get31(pl);
            }
        } else if (type == 4 && !(p[off + 4] & 1)) { /* SETTINGS */
            for (size_t i = 0; i + 6 <= flen; i += 6) {
                uint16_t key = (uint16_t)(pl[i] << 8 | pl[i + 1]);
                uint32_t v = (uint32_t)pl[i + 2] << 24 | (uint32_t)pl[i + 3] << 16 | (uint32_t)pl[i + 4] << 8 | pl[i + 5];
                if (key == 4 && v > a->initial)
                    a->initial = v;
                if (key == 5 && v > a->max_frame)
                    a->max_frame = v;
            }
        }
        off += 9 + flen;
    }
}

/* What the server wrote so far, for checking once the connection ends. */
struct received {
    uint8_t *p;
    size_t len, cap;
};

static void trace(const struct received *r, const struct sent *s)
{
    static const char *const names[] = {"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE",
                                        "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"};
    fprintf(stderr, "fuzz_h2: sent %zu, received %zu:", s->len, r->len);
    bool frames = r->len >= 9 && r->p[3] == 4;
    for (size_t off = 0; frames && r->len - off >= 9; off += 9 + get24(r->p + off)) {
        const uint8_t *hd = r->p + off;
        fprintf(stderr, " %s/%u:%u", hd[3] < 10 ? names[hd[3]] : "?", get31(hd + 5), get24(hd));
    }
    if (!frames)
        fprintf(stderr, " \"%.*s\"", (int)(r->len < 40 ? r->len : 40), (const char *)r->p);
    fprintf(stderr, "\n");
}

static void check_server_frames(const struct received *r, const struct sent *s)
{
    static int tracing = -1;
    if (tracing < 0)
        tracing = getenv("FUZZ_H2_TRACE") != NULL;
    if (tracing)
        trace(r, s);
    /* Only an HTTP/2 connection: in raw mode the client may have spoken
     * HTTP/1.1, or garbage. */
    if (s->len < FY_H2_PREFACE_LEN || memcmp(s->p, FY_H2_PREFACE, FY_H2_PREFACE_LEN) != 0 || r->len == 0)
        return;
    static struct allowance a;
    client_allowance(&a, s->p, s->len);
    size_t off = 0;
    bool first = true;
    while (r->len - off >= 9) {
        const uint8_t *hd = r->p + off;
        uint32_t flen = get24(hd), id = get31(hd + 5);
        uint8_t type = hd[3];
        if (first)
            REQUIRE(type == 4 && id == 0 && !(hd[4] & 1)); /* the server's preface: SETTINGS */
        first = false;
        REQUIRE(flen <= a.max_frame);
        switch (type) {
        case 0: /* DATA */
        case 1: /* HEADERS */
        case 3: /* RST_STREAM */
        case 9: /* CONTINUATION */
            REQUIRE(id != 0 && id % 2 == 1); /* streams the client opened */
            break;
        case 4: /* SETTINGS */
        case 6: /* PING */
        case 7: /* GOAWAY */
            REQUIRE(id == 0);
            break;
        case 8: /* WINDOW_UPDATE */
            break;
        default:
            REQUIRE(!"a frame type the server does not send");
        }
        if (type == 0) {
            a.conn_data += flen;
            REQUIRE(a.conn_data <= a.conn);
            size_t i = stream_slot(&a, id);
            if (i < MAX_STREAMS) {
                a.data[i] += flen;
                REQUIRE(a.data[i] <= a.initial + a.incr[i]);
            }
        }
        if (flen > r->len - off - 9)
            break; /* cut short by the close */
        off += 9 + flen;
    }
}

/* --- one connection ------------------------------------------------------------- */

struct client {
    int fd;
    bool eof;                    /* read to the end: the server closed its end */
    bool closed;                 /* the server closed the connection (its bytes may wait unread) */
    struct received got;
};

/* Reads what the server wrote; returns the bytes read now. */
static size_t client_read(struct client *c)
{
    size_t total = 0;
    while (!c->eof) {
        if (c->got.cap - c->got.len < 65536) {
            size_t cap = c->got.cap ? c->got.cap * 2 : 262144;
            uint8_t *p = realloc(c->got.p, cap);
            if (!p)
                abort();
            c->got.p = p, c->got.cap = cap;
        }
        ssize_t n = read(c->fd, c->got.p + c->got.len, c->got.cap - c->got.len);
        if (n > 0) {
            c->got.len += (size_t)n;
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        c->eof = c->closed = true; /* EOF, or a reset */
    }
    return total;
}

/* One turn of the server's loop, waiting at most wait_ms, and what it
 * wrote; true if anything happened (an event, deferred work, bytes). */
static bool step_waiting(struct client *c, int wait_ms)
{
    int events = fy_loop_turn(&srv.loop, wait_ms);
    REQUIRE(events >= 0);
    size_t n = client_read(c);
    if (srv.nconns == 0)
        c->closed = true;
    return events > 0 || n > 0 || srv.loop.deferred_head != NULL;
}

static bool step(struct client *c)
{
    return step_waiting(c, 0);
}

static bool streams_under_way(void)
{
    return srv.conns && srv.conns->state == FY_LINK_H2 && fy_h2_busy(srv.conns->h2);
}

/* Runs the loop until the server is quiet or closed, or MAX_TURNS. */
static void run_until_quiet(struct client *c)
{
    int quiet = 0;
    for (int i = 0; i < MAX_TURNS && !c->closed && quiet < QUIET_TURNS; i++)
        quiet = step_waiting(c, quiet > 0 && streams_under_way() ? quiet_wait_ms : 0) ? 0 : quiet + 1;
}

/* Writes p[0, len), stepping the server while the socket is full. */
static void client_write(struct client *c, const uint8_t *p, size_t len)
{
    int stuck = 0;
    while (len > 0 && !c->closed && stuck < MAX_TURNS) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n, len -= (size_t)n;
            stuck = 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN) {
            c->closed = true; /* the server closed; what it wrote is read at the end */
            return;
        }
        step(c);
        stuck++;
    }
}

/* FUZZ_H2_WAIT_MS: the completions of what the closed connection left in
 * flight are reaped, until a turn has none. */
static void settle(void)
{
    for (int i = 0; quiet_wait_ms > 0 && i < MAX_TURNS; i++)
        if (fy_loop_turn(&srv.loop, quiet_wait_ms) == 0)
            break;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    data++, size--;

    static struct sent s;
    static uint8_t sent_buf[MAX_SENT];
    if (size + FY_H2_PREFACE_LEN > MAX_SENT)
        return 0;
    s.p = sent_buf, s.len = 0, s.ncuts = 0;
    if (mode & MODE_RAW)
        build_raw(&s, data, size, mode & MODE_PIECEWISE, 1 + 8 * (size_t)(mode >> 5));
    else
        build_frames(&s, data, size, mode & MODE_PIECEWISE);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_storage ss = {0};
    memcpy(&ss, &peer, sizeof peer);
    REQUIRE(srv.nconns == 0);
    if (fy_server_adopt(&srv, sv[0], &ss, false, false) < 0) {
        close(sv[1]);
        return 0;
    }
    struct client c = {.fd = sv[1]};
    size_t from = 0;
    for (size_t i = 0; i < s.ncuts && !c.closed; i++) {
        client_write(&c, s.p + from, s.cuts[i] - from);
        from = s.cuts[i];
        if (mode & MODE_PIECEWISE)
            step(&c);
    }
    client_write(&c, s.p + from, s.len - from); /* past the last cut, when there were too many */
    if (mode & MODE_SHUT_AT_ONCE)
        shutdown(c.fd, SHUT_WR);
    run_until_quiet(&c);
    if ((mode & MODE_STOP) && srv.conns) {
        fy_link_shutdown(srv.conns);
        run_until_quiet(&c);
    }
    if ((mode & MODE_TIMEOUT) && srv.conns && fy_timer_armed(&srv.conns->timer)) {
        struct fy_timer *t = &srv.conns->timer; /* as loop.c expires it */
        fy_timer_disarm(t);
        t->handler(t);
        run_until_quiet(&c);
    }
    shutdown(c.fd, SHUT_WR);
    for (int i = 0; i < MAX_TURNS && !c.closed; i++)
        step(&c);
    while (srv.conns) /* still open after the turns: closed as a timeout would */
        fy_link_close(srv.conns);
    client_read(&c);
    close(c.fd);
    settle();
    check_server_frames(&c.got, &s);
    free(c.got.p);
    return 0;
}
