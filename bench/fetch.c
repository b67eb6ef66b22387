/*
 * bench/fetch.c — the download client of the benchmark suite (bench/run.sh).
 *
 *   fetch [-t TIMEOUT_S] [-n N] [-s CAFILE [-r]] HOST:PORT PATH:BYTES...
 *
 * Downloads every PATH over its own TCP connection, all at once, from one
 * thread and one epoll loop, and prints one line per argument, in argument
 * order: "SIZE CODE" (body bytes received, HTTP status; the format of
 * curl -w '%{size_download} %{http_code}\n'), or "SIZE 000 REASON" when the
 * download failed (REASON is one word: refused, timeout, short-body, ...).
 * Exit status 0 when every download got status 200 and exactly BYTES bytes,
 * 1 otherwise, 2 on a usage error.
 *
 * Why not curl: at ~1.3 GB/s one curl per client, all pinned to the load
 * generator's CPU, kept that CPU 100 % busy while the server's was 38 % busy;
 * the benchmark measured curl copying the bodies into user space.  fetch
 * reads only the response headers into memory; the body is discarded inside
 * the kernel with recv(..., MSG_TRUNC), which on a TCP socket drops the
 * queued bytes without copying them (man 7 tcp), so the client costs almost
 * nothing per byte and the server's throughput is what gets measured.
 *
 * -n N groups the arguments N by N: each group is one client that downloads
 * its files one after the other (a new connection for each), the groups run
 * concurrently.  The default, 1, downloads every argument at once.
 *
 * SIGTERM or SIGINT stops every download and prints the lines right away:
 * finished downloads as usual, one in progress as "SIZE 000 interrupted"
 * (SIZE includes the body bytes the kernel has received but fetch has not
 * yet read), one never started as "0 000 not-started".
 *
 * -s CAFILE speaks HTTPS (the TLS workloads of bench/run.sh): every
 * connection does a full handshake (no session is offered), verifies the
 * server's certificate against CAFILE and HOST (a name, or an address for a
 * certificate's IP SAN), offers ALPN "http/1.1", then sends the same
 * request.  TLS bodies cannot be dropped in the kernel: they are decrypted
 * into one scratch buffer and discarded, the least a TLS client can do; the
 * decryption is the client's whole cost per byte.  An interrupted TLS
 * download counts the ciphertext still queued in the kernel (it exceeds the
 * body bytes by the records' overhead, ~0.1 %).  A TLS failure's reason is
 * "tls-handshake" or "tls-error" (OpenSSL's message on stderr).
 *
 * -r (with -s): each client offers the session of its previous connection,
 * as wrk does when it reconnects, and fetch ends with the line
 * "fetch: tls: R of H handshakes resumed" on stderr: how often the server
 * accepted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Room for a response's status line and headers: a static file's response
 * has a few hundred bytes; common servers refuse more than 8 KiB anyway. */
#define HEAD_MAX 8192

/* The most one recv(MSG_TRUNC) may discard; the kernel caps a single call
 * near 2 GiB, and one call per wake-up already empties the receive queue. */
#define TRUNC_MAX (1L << 30)

enum state {
    WAITING,     /* not started: an earlier file of its group is running */
    CONNECTING,  /* non-blocking connect() in progress */
    HANDSHAKE,   /* -s: the TLS handshake in progress */
    SENDING,     /* writing the request */
    HEADERS,     /* reading the status line and headers */
    BODY,        /* discarding the body */
    DONE,        /* finished, ok or not (error says which) */
};

struct download {
    const char *path;      /* request target, from PATH:BYTES */
    long long want;        /* BYTES: the body size the caller expects */
    enum state state;
    int fd;
    SSL *ssl;              /* -s: the TLS session on fd; NULL for plain TCP */
    uint32_t events;       /* what fd waits for in the epoll set */
    size_t sent;           /* request bytes written so far */
    int status;            /* HTTP status; 0 until the status line is read */
    long long length;      /* Content-Length; -1: the body ends at close */
    long long got;         /* body bytes received */
    const char *error;     /* the reason word of a failure; NULL if none */
    size_t head_len;       /* header bytes consumed into head[] */
    char *head;            /* HEAD_MAX + 1 bytes while running: thousands of short downloads may wait */
};

static struct download *dls;
static size_t ndl;
static size_t group = 1;       /* -n: files per client, fetched in turn */
static size_t active;          /* downloads between CONNECTING and BODY */
static int ep = -1;
static struct addrinfo *addr;  /* where to connect */
static char *host_header;      /* the Host header's value */
static volatile sig_atomic_t stop_signal;
static SSL_CTX *tls;           /* -s: every connection speaks TLS; NULL: plain TCP */
static char tls_host[256];     /* what the certificate must name (HOST) */
static SSL_SESSION **resume;   /* -r: per client (group), its last connection's session */
static size_t handshakes, resumed;
static bool tls_host_is_ip;    /* HOST is an address: no SNI, match an IP SAN */
/* TLS bodies are decrypted here and dropped; the size of a few records, so
 * one SSL_read can hand over what read-ahead brought in. */
static unsigned char scratch[256 * 1024];

static void on_signal(int sig)
{
    stop_signal = sig;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(void)
{
    fputs("usage: fetch [-t TIMEOUT_S] [-n N] [-s CAFILE [-r]] HOST:PORT PATH:BYTES...\n"
          "  one TCP connection per PATH, all at once; one line per argument:\n"
          "  \"SIZE CODE\", or \"SIZE 000 REASON\" on a failure\n"
          "  -t S       give up after S seconds in all (default 600)\n"
          "  -n N       N files per client, one after the other (default 1)\n"
          "  -s CAFILE  HTTPS: verify the server's certificate against CAFILE and HOST\n"
          "  -r         with -s: offer each client's previous session; report how many resumed\n", stderr);
    exit(2);
}

/* The end of download d, a failure if error is set (a reason word; err the
 * errno behind it, or 0).  Closing the socket also removes it from the epoll
 * set.  The caller moves on to the next file of the group (launch). */
static void finish(struct download *d, const char *error, int err)
{
    if (d->ssl) {
        /* Past the handshake: count it and, with -r, keep its session (by
         * now updated with the tickets read with the response) for the
         * client's next connection. */
        if (SSL_is_init_finished(d->ssl)) {
            /* A whole response ends with close_notify, as wrk's and curl's
             * do; OpenSSL also marks the session of a connection freed
             * without it "not resumable". Non-blocking: not waited for. */
            if (!error)
                SSL_shutdown(d->ssl);
            handshakes++;
            resumed += SSL_session_reused(d->ssl) ? 1 : 0;
            if (resume) {
                SSL_SESSION *sess = SSL_get1_session(d->ssl), **slot = &resume[(size_t)(d - dls) / group];
                if (sess && SSL_SESSION_is_resumable(sess)) {
                    SSL_SESSION_free(*slot);
                    *slot = sess;
                } else {
                    SSL_SESSION_free(sess);
                }
            }
        }
        SSL_free(d->ssl);
        d->ssl = NULL;
    }
    if (d->fd >= 0) {
        close(d->fd);
        d->fd = -1;
    }
    free(d->head);
    d->head = NULL;
    d->state = DONE;
    d->error = error;
    active--;
    if (error)
        fprintf(stderr, "fetch: %s: %s%s%s\n", d->path, error, err ? ": " : "", err ? strerror(err) : "");
}

/* Wait for events on d's socket (EPOLLIN or EPOLLOUT). */
static bool wait_for(struct download *d, uint32_t events)
{
    if (d->events == events)
        return true;
    struct epoll_event ev = { .events = events, .data.ptr = d };
    if (epoll_ctl(ep, EPOLL_CTL_MOD, d->fd, &ev) < 0) {
        finish(d, "epoll-error", errno);
        return false;
    }
    d->events = events;
    return true;
}

/* OpenSSL's queued errors, printed for download d; its reason word. */
static const char *tls_failed(struct download *d, const char *reason)
{
    unsigned long e;
    char msg[256];
    bool any = false;
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, msg, sizeof msg);
        fprintf(stderr, "fetch: %s: %s\n", d->path, msg);
        any = true;
    }
    if (!any && d->ssl && SSL_get_verify_result(d->ssl) != X509_V_OK)
        fprintf(stderr, "fetch: %s: certificate: %s\n", d->path,
                X509_verify_cert_error_string(SSL_get_verify_result(d->ssl)));
    return reason;
}

/* What an SSL call's failure (rc <= 0) means. */
enum tls_outcome {
    TLS_RETRY,    /* try again once the socket is ready: wait_for is done (or d finished on its failure) */
    TLS_EOF,      /* the end of the stream: close_notify, or a bare FIN (IGNORE_UNEXPECTED_EOF) */
    TLS_SYSCALL,  /* a socket error, in errno (ECONNRESET, EPIPE) */
    TLS_FAILED,   /* a TLS failure: OpenSSL's error queue says which */
};

static enum tls_outcome tls_outcome(struct download *d, int rc)
{
    switch (SSL_get_error(d->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        wait_for(d, EPOLLIN);
        return TLS_RETRY;
    case SSL_ERROR_WANT_WRITE:
        wait_for(d, EPOLLOUT);
        return TLS_RETRY;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_EOF;
    case SSL_ERROR_SYSCALL:
        return errno ? TLS_SYSCALL : TLS_FAILED;
    default:
        return TLS_FAILED;
    }
}

/* send() or SSL_write(): bytes written, or -1 with errno (EAGAIN: try again
 * once the socket is ready, which tls_outcome arranged for TLS; EPROTO: a
 * TLS failure, printed). */
static ssize_t io_send(struct download *d, const void *buf, size_t len)
{
    if (!d->ssl)
        return send(d->fd, buf, len, MSG_NOSIGNAL);
    size_t n = 0;
    int rc = SSL_write_ex(d->ssl, buf, len, &n);
    if (rc == 1)
        return (ssize_t)n;
    switch (tls_outcome(d, rc)) {
    case TLS_RETRY: errno = EAGAIN; break;
    case TLS_SYSCALL: break;
    case TLS_EOF: errno = EPIPE; break;
    case TLS_FAILED: tls_failed(d, NULL); errno = EPROTO; break;
    }
    return -1;
}

static void send_request(struct download *d);

/* -s: a TLS session on the connected socket, then the handshake. */
static void tls_begin(struct download *d)
{
    d->ssl = SSL_new(tls);
    if (!d->ssl || SSL_set_fd(d->ssl, d->fd) != 1) {
        finish(d, tls_failed(d, "tls-error"), 0);
        return;
    }
    X509_VERIFY_PARAM *param = SSL_get0_param(d->ssl);
    if (tls_host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, tls_host) != 1
                       : (SSL_set1_host(d->ssl, tls_host) != 1 ||
                          SSL_set_tlsext_host_name(d->ssl, tls_host) != 1)) {
        finish(d, tls_failed(d, "tls-error"), 0);
        return;
    }
    SSL_SESSION *sess = resume ? resume[(size_t)(d - dls) / group] : NULL;
    if (sess && SSL_set_session(d->ssl, sess) != 1) {
        finish(d, tls_failed(d, "tls-error"), 0);
        return;
    }
    SSL_set_connect_state(d->ssl);
    d->state = HANDSHAKE;
}

static void handshake(struct download *d)
{
    int rc = SSL_do_handshake(d->ssl);
    if (rc == 1) {
        d->state = SENDING;
        send_request(d);
        return;
    }
    switch (tls_outcome(d, rc)) {
    case TLS_RETRY: break;
    case TLS_SYSCALL: finish(d, errno == ECONNRESET ? "reset" : "tls-handshake", errno); break;
    case TLS_EOF:
    case TLS_FAILED: finish(d, tls_failed(d, "tls-handshake"), 0); break;
    }
}

/* The request is the same for every file but the path; Connection: close,
 * so every file is one connection and the server's part ends with it. */
static void send_request(struct download *d)
{
    char req[HEAD_MAX];
    int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                       d->path, host_header);
    if (len < 0 || (size_t)len >= sizeof req) {
        finish(d, "request-too-long", 0);
        return;
    }
    while (d->sent < (size_t)len) {
        ssize_t n = io_send(d, req + d->sent, (size_t)len - d->sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;             /* EPOLLOUT (or, for TLS, what it waits for) brings us back */
        if (n < 0) {
            finish(d, errno == EPROTO ? "tls-error" :
                      errno == ECONNRESET || errno == EPIPE ? "reset" : "send-error", errno);
            return;
        }
        d->sent += (size_t)n;
    }
    if (!wait_for(d, EPOLLIN))
        return;
    d->state = HEADERS;
}

static void connected(struct download *d);

static void start(struct download *d)
{
    active++;
    d->state = CONNECTING;
    d->head = malloc(HEAD_MAX + 1);
    if (!d->head) {
        finish(d, "out-of-memory", errno);
        return;
    }
    d->fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (d->fd < 0) {
        finish(d, "socket-error", errno);
        return;
    }
    /* As curl and browsers do: a request or a TLS flight written after
     * another would otherwise wait behind the server's delayed ACK (40 ms
     * per resumed TLS 1.3 connection: the client's Finished, then its
     * request). */
    setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = d };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, d->fd, &ev) < 0) {
        finish(d, "epoll-error", errno);
        return;
    }
    d->events = EPOLLOUT;
    if (connect(d->fd, addr->ai_addr, addr->ai_addrlen) == 0) {
        connected(d);
    } else if (errno != EINPROGRESS) {
        finish(d, errno == ECONNREFUSED ? "refused" : "connect-error", errno);
    }
    /* else: EPOLLOUT (or EPOLLERR) says when the connect is done */
}

/* Start file i and, while one fails at once (refused, say), the next file
 * of its group: a group runs its files one after the other. */
static void launch(size_t i)
{
    for (; i < ndl && !stop_signal; i++) {
        start(&dls[i]);
        if (dls[i].state != DONE || (i + 1) % group == 0)
            return;
    }
}

static void connected(struct download *d)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        finish(d, err == ECONNREFUSED ? "refused" : "connect-error", err);
        return;
    }
    if (tls) {
        tls_begin(d);
        if (d->state == HANDSHAKE)
            handshake(d);
        return;
    }
    d->state = SENDING;
    send_request(d);
}

/* A header field's value, if line (NAME ":" VALUE, no CRLF) is that field;
 * leading and trailing blanks trimmed in place. */
static char *field(char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    char *v = line + n + 1, *end = v + strlen(v);
    while (*v == ' ' || *v == '\t')
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return v;
}

/* Parse head[] (the complete header block, NUL-terminated); on success the
 * download moves on to its body. */
static void parse_head(struct download *d)
{
    char *p = d->head;
    /* "HTTP/1.x NNN" then a space or the end of the line. */
    if (strncmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ' ||
        p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
        (p[12] != ' ' && p[12] != '\r')) {
        finish(d, "bad-status", 0);
        return;
    }
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    char *line = strstr(p, "\r\n");
    if (!line) {                /* a NUL byte in the status line */
        finish(d, "bad-status", 0);
        return;
    }
    line += 2;
    d->length = -1;
    for (char *eol; (eol = strstr(line, "\r\n")) != NULL && eol != line; line = eol + 2) {
        *eol = '\0';
        char *v;
        if ((v = field(line, "Content-Length")) != NULL) {
            char *end;
            errno = 0;
            long long len = strtoll(v, &end, 10);
            if (*v < '0' || *v > '9' || *end != '\0' || errno || (d->length >= 0 && len != d->length)) {
                finish(d, "bad-length", 0);
                return;
            }
            d->length = len;
        } else if ((v = field(line, "Transfer-Encoding")) != NULL && strcasecmp(v, "identity") != 0) {
            /* Static files always get a Content-Length; no need to decode chunks. */
            finish(d, "transfer-encoding", 0);
            return;
        }
    }
    /* Only 1xx, 204 and 304 have no body whatever the headers say; a GET
     * without Expect never gets a 1xx, so one is a broken response. */
    if (status < 200) {
        finish(d, "bad-status", 0);
        return;
    }
    if (status == 204 || status == 304)
        d->length = 0;
    d->status = status;
    d->state = BODY;
    if (d->length == 0)
        finish(d, NULL, 0);
}

/* Read the status line and headers.  The bytes are only peeked at first and
 * then exactly the header bytes consumed, so body bytes that arrived in the
 * same segment stay in the socket and are counted with the rest of the body. */
static void read_head(struct download *d)
{
    size_t room = HEAD_MAX - d->head_len;
    if (room == 0) {
        finish(d, "headers-too-long", 0);
        return;
    }
    ssize_t n = recv(d->fd, d->head + d->head_len, room, MSG_PEEK);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            finish(d, errno == ECONNRESET ? "reset" : "recv-error", errno);
        return;
    }
    if (n == 0) {
        finish(d, d->head_len ? "short-headers" : "no-response", 0);
        return;
    }
    /* The blank line may straddle what was consumed before and what is new. */
    size_t from = d->head_len >= 3 ? d->head_len - 3 : 0, upto = d->head_len + (size_t)n, take = (size_t)n;
    bool complete = false;
    for (size_t i = from; i + 4 <= upto; i++) {
        if (memcmp(d->head + i, "\r\n\r\n", 4) == 0) {
            take = i + 4 - d->head_len;
            complete = true;
            break;
        }
    }
    /* The peeked bytes are still queued: this returns exactly take bytes. */
    n = recv(d->fd, d->head + d->head_len, take, 0);
    if (n < 0) {
        finish(d, errno == ECONNRESET ? "reset" : "recv-error", errno);
        return;
    }
    d->head_len += (size_t)n;
    d->head[d->head_len] = '\0';
    if (complete && (size_t)n == take)
        parse_head(d);
}

/* Discard body bytes in the kernel: with MSG_TRUNC a TCP recv() drops up to
 * len queued bytes without copying them and returns how many it dropped, so
 * no buffer is needed.  Never more than the rest of the body. */
static void read_body(struct download *d)
{
    long long left = d->length >= 0 ? d->length - d->got : TRUNC_MAX;
    ssize_t n = recv(d->fd, NULL, (size_t)(left < TRUNC_MAX ? left : TRUNC_MAX), MSG_TRUNC);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            finish(d, errno == ECONNRESET ? "reset" : "recv-error", errno);
        return;
    }
    if (n == 0) {
        /* The server closed: the end of a body without Content-Length,
         * otherwise a body cut short. */
        finish(d, d->length >= 0 ? "short-body" : NULL, 0);
        return;
    }
    d->got += n;
    if (d->got == d->length)
        finish(d, NULL, 0);
}

/* The reason word of a failed receive. */
static const char *recv_reason(int err)
{
    return err == EPROTO ? "tls-error" : err == ECONNRESET ? "reset" : "recv-error";
}

/* SSL_read(): bytes read, 0 at the end of the stream, -1 with errno
 * (EAGAIN: tls_outcome arranged the wait; ECONNRESET; EPROTO: a TLS failure,
 * printed). */
static ssize_t tls_recv(struct download *d, void *buf, size_t len)
{
    size_t n = 0;
    int rc = SSL_read_ex(d->ssl, buf, len, &n);
    if (rc == 1)
        return (ssize_t)n;
    switch (tls_outcome(d, rc)) {
    case TLS_RETRY: errno = EAGAIN; return -1;
    case TLS_EOF: return 0;
    case TLS_SYSCALL: return -1;
    case TLS_FAILED: break;
    }
    tls_failed(d, NULL);
    errno = EPROTO;
    return -1;
}

/* Decrypt body bytes into the scratch buffer and drop them.  Up to 8 MiB
 * per wake-up, so one fast download cannot starve the others; beyond that
 * only while OpenSSL holds decrypted or read-ahead bytes, which epoll cannot
 * see (what is left in the socket wakes us again). */
static void read_body_tls(struct download *d)
{
    long long budget = 8LL << 20;
    while (d->state == BODY) {
        long long left = d->length >= 0 ? d->length - d->got : (long long)sizeof scratch;
        ssize_t n = tls_recv(d, scratch, left < (long long)sizeof scratch ? (size_t)left : sizeof scratch);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                finish(d, recv_reason(errno), errno);
            return;
        }
        if (n == 0) {
            finish(d, d->length >= 0 ? "short-body" : NULL, 0);
            return;
        }
        d->got += n;
        if (d->got == d->length) {
            finish(d, NULL, 0);
            return;
        }
        budget -= n;
        if (budget <= 0 && !SSL_has_pending(d->ssl))
            return;
    }
}

/* The status line and headers through TLS: there is no peeking at
 * decrypted bytes, so what follows the blank line is the body's start and
 * counted as such. */
static void read_head_tls(struct download *d)
{
    while (d->state == HEADERS) {
        size_t room = HEAD_MAX - d->head_len;
        if (room == 0) {
            finish(d, "headers-too-long", 0);
            return;
        }
        ssize_t n = tls_recv(d, d->head + d->head_len, room);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                finish(d, recv_reason(errno), errno);
            return;
        }
        if (n == 0) {
            finish(d, d->head_len ? "short-headers" : "no-response", 0);
            return;
        }
        size_t from = d->head_len >= 3 ? d->head_len - 3 : 0, upto = d->head_len + (size_t)n, end = 0;
        for (size_t i = from; i + 4 <= upto; i++) {
            if (memcmp(d->head + i, "\r\n\r\n", 4) == 0) {
                end = i + 4;
                break;
            }
        }
        d->head_len = end ? end : upto;
        d->head[d->head_len] = '\0';
        if (!end)
            continue;
        parse_head(d);
        if (d->state != BODY)
            return;
        d->got = (long long)(upto - end);
        if (d->length >= 0 && d->got >= d->length) {
            finish(d, d->got == d->length ? NULL : "long-body", 0);
            return;
        }
    }
    read_body_tls(d);    /* OpenSSL may hold the rest of the record */
}

static void step(struct download *d)
{
    if (d->state == WAITING || d->state == DONE)
        return;                 /* no socket: cannot happen, but cheap to rule out */
    switch (d->state) {
    case CONNECTING: connected(d); break;
    case HANDSHAKE: handshake(d); break;
    case SENDING: send_request(d); break;
    case HEADERS: d->ssl ? read_head_tls(d) : read_head(d); break;
    case BODY: d->ssl ? read_body_tls(d) : read_body(d); break;
    case WAITING:
    case DONE: break;
    }
    /* Finished: the next file of the group, if any, gets its turn. */
    size_t next = (size_t)(d - dls) + 1;
    if (d->state == DONE && next % group != 0)
        launch(next);
}

/* Stop every running download (timeout or signal) with reason why. */
static void stop_all(const char *why)
{
    for (size_t i = 0; i < ndl; i++) {
        struct download *d = &dls[i];
        if (d->state == WAITING || d->state == DONE)
            continue;
        /* Count the body bytes already queued in the kernel: a download
         * stopped from outside then reports what it received up to the stop,
         * as the kernel's counters would. */
        int queued = 0;
        if (d->state == BODY && ioctl(d->fd, SIOCINQ, &queued) == 0 && queued > 0) {
            long long q = queued + (d->ssl ? SSL_pending(d->ssl) : 0);
            if (d->length >= 0 && q > d->length - d->got)
                q = d->length - d->got;
            d->got += q;
        }
        finish(d, why, 0);
    }
}

/* PATH:BYTES, split at the last colon; the path goes into the request line
 * as is, so it must be one token. */
static void parse_spec(char *arg, struct download *d)
{
    char *colon = strrchr(arg, ':'), *end;
    if (!colon || arg[0] != '/') {
        fprintf(stderr, "fetch: '%s' is not PATH:BYTES (PATH starts with /)\n", arg);
        usage();
    }
    *colon = '\0';
    errno = 0;
    d->want = strtoll(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno) {
        fprintf(stderr, "fetch: '%s': BYTES must be a number\n", colon + 1);
        usage();
    }
    for (const char *c = arg; *c; c++) {
        if (*c <= ' ' || *c == 0x7f) {
            fprintf(stderr, "fetch: '%s': spaces and control characters not allowed in PATH\n", arg);
            usage();
        }
    }
    d->path = arg;
}

/* HOST:PORT ([V6ADDR]:PORT for IPv6), resolved once: every connection goes
 * to the same address. */
static const char *resolve(char *hostport)
{
    static char host[256];
    char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || colon[1] == '\0' || (size_t)(colon - hostport) >= sizeof host) {
        fprintf(stderr, "fetch: '%s' is not HOST:PORT\n", hostport);
        usage();
    }
    const char *h = hostport;
    size_t hlen = (size_t)(colon - hostport);
    if (h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(tls_host, host, hlen + 1);
    unsigned char ip[16];
    tls_host_is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    int rc = getaddrinfo(host, colon + 1, &hints, &addr);
    if (rc != 0) {
        fprintf(stderr, "fetch: %s: %s\n", hostport, gai_strerror(rc));
        return "resolve-error";
    }
    return NULL;
}

/* -s CAFILE: the one TLS context of every connection.  No session cache:
 * every connection does a full handshake, as a new client would. */
static void tls_setup(const char *cafile)
{
    tls = SSL_CTX_new(TLS_client_method());
    if (!tls || SSL_CTX_load_verify_locations(tls, cafile, NULL) != 1 ||
        SSL_CTX_set_alpn_protos(tls, (const unsigned char *)"\x08http/1.1", 9) != 0) {
        unsigned long e;
        char msg[256];
        while ((e = ERR_get_error()) != 0) {
            ERR_error_string_n(e, msg, sizeof msg);
            fprintf(stderr, "fetch: -s %s: %s\n", cafile, msg);
        }
        exit(2);
    }
    SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(tls, SSL_SESS_CACHE_OFF);
    /* A bare FIN ends the stream like close_notify: the body's length says
     * whether it came whole. */
    SSL_CTX_set_options(tls, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* send_request rebuilds its request on the stack for every retry. */
    SSL_CTX_set_mode(tls, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Fewer, larger reads from the socket. */
    SSL_CTX_set_read_ahead(tls, 1);
    SSL_CTX_set_default_read_buffer_len(tls, sizeof scratch);
}

int main(int argc, char **argv)
{
    double timeout_s = 600;
    const char *cafile = NULL;
    bool reuse = false;
    int opt;
    while ((opt = getopt(argc, argv, "+t:n:s:rh")) != -1) {
        char *end;
        switch (opt) {
        case 't':
            timeout_s = strtod(optarg, &end);
            if (*end != '\0' || !(timeout_s > 0 && timeout_s <= 1e9)) {   /* NaN and inf fail too */
                fprintf(stderr, "fetch: -t wants a positive number of seconds, got '%s'\n", optarg);
                usage();
            }
            break;
        case 'n': {
            long n = strtol(optarg, &end, 10);
            if (*end != '\0' || n < 1 || n > INT_MAX) {
                fprintf(stderr, "fetch: -n wants a positive number, got '%s'\n", optarg);
                usage();
            }
            group = (size_t)n;
            break;
        }
        case 's':
            cafile = optarg;
            break;
        case 'r':
            reuse = true;
            break;
        default:
            usage();
        }
    }
    if (argc - optind < 2)
        usage();
    host_header = argv[optind];    /* Host: HOST:PORT, as curl sends it */
    ndl = (size_t)(argc - optind - 1);
    dls = calloc(ndl, sizeof *dls);
    if (!dls) {
        perror("fetch: calloc");
        return 2;
    }
    char **specs = argv + optind + 1;
    for (size_t i = 0; i < ndl; i++) {
        parse_spec(specs[i], &dls[i]);
        dls[i].fd = -1;
        dls[i].state = WAITING;
    }
    const char *resolve_error = resolve(argv[optind]);
    if (reuse && !cafile) {
        fputs("fetch: -r needs -s\n", stderr);
        usage();
    }
    if (cafile) {
        /* OpenSSL writes with write(), not send(MSG_NOSIGNAL): a server that
         * reset the connection must not kill us with SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        tls_setup(cafile);
    }
    if (reuse) {
        resume = calloc(ndl / group + 1, sizeof *resume);
        if (!resume) {
            perror("fetch: calloc");
            return 2;
        }
    }

    /* A few hundred sockets may exceed a soft limit of 1024 with the rest:
     * take what the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < ndl + 16) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* The signals are blocked except inside epoll_pwait(), so a stop request
     * can neither be lost between the check and the wait nor cut a step
     * short. */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("fetch: epoll_create1");
        return 2;
    }
    long long deadline = now_ms() + (long long)(timeout_s * 1000);
    if (resolve_error) {
        for (size_t i = 0; i < ndl; i++) {
            dls[i].state = DONE;
            dls[i].error = resolve_error;
        }
    } else {
        for (size_t i = 0; i < ndl; i += group)
            launch(i);
    }

    struct epoll_event evs[64];
    while (active > 0) {
        if (stop_signal) {
            stop_all("interrupted");
            break;
        }
        long long left = deadline - now_ms();
        if (left <= 0) {
            stop_all("timeout");
            break;
        }
        int n = epoll_pwait(ep, evs, 64, left > INT_MAX ? INT_MAX : (int)left, &waitmask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("fetch: epoll_pwait");
            stop_all("epoll-error");
            break;
        }
        for (int i = 0; i < n; i++)
            step(evs[i].data.ptr);
    }

    int rc = 0;
    for (size_t i = 0; i < ndl; i++) {
        struct download *d = &dls[i];
        if (d->state == WAITING) {
            printf("0 000 not-started\n");
            rc = 1;
        } else if (d->error) {
            printf("%lld 000 %s\n", d->got, d->error);
            rc = 1;
        } else {
            /* A complete response.  Another status is reported as it came
             * (curl's way: "1234 404"); a 200 is a success only with the
             * size the caller expects. */
            if (d->status == 200 && d->got != d->want)
                printf("%lld 000 wrong-size\n", d->got);
            else
                printf("%lld %03d\n", d->got, d->status);
            if (d->status != 200 || d->got != d->want)
                rc = 1;
        }
    }
    if (resume)
        fprintf(stderr, "fetch: tls: %zu of %zu handshakes resumed\n", resumed, handshakes);
    if (fflush(stdout) != 0 || ferror(stdout))
        return 1;
    return rc;
}
