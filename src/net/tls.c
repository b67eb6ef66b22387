/* A process's TLS engine and its connections; see tls.h. */
#include "net/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "net/tls_tickets.h"

#define TLS_RECORD_BYTE 0x16     /* the first byte of a TLS handshake record */
#define STAGING_SLACK 4096       /* record headers and tags around FY_TLS_CHUNK */

struct fy_tls_conn {
    struct fy_tls *e;
    SSL *ssl;
    int fd;
    bool checked_first_byte;     /* it said TLS, not plain HTTP */
    bool kernel_sends;           /* kernel TLS encrypts what we write */
    bool socket_drained;         /* the last read from the socket got less than it asked */
    char *pending;               /* encrypted bytes the socket has not taken */
    size_t pending_off, pending_len;
    int sys_errno;               /* of a failed read in the BIO */
};

/* --- the BIO: OpenSSL's records to the staging buffer, reads from the socket */

static int bio_write(BIO *b, const char *data, int len)
{
    struct fy_tls_conn *tc = BIO_get_data(b);
    struct fy_tls *e = tc->e;
    size_t need = e->staging_len + (size_t)len;
    if (need > e->staging_cap) {
        size_t cap = need + STAGING_SLACK;
        char *p = realloc(e->staging, cap);
        if (!p)
            return -1;
        e->staging = p;
        e->staging_cap = cap;
    }
    memcpy(e->staging + e->staging_len, data, (size_t)len);
    e->staging_len = need;
    return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
    struct fy_tls_conn *tc = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do
        n = read(tc->fd, buf, (size_t)len);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        BIO_set_retry_read(b);
    else if (n < 0)
        tc->sys_errno = errno;
    tc->socket_drained = n >= 0 && n < len;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *bio_method_new(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ferry socket");
    if (m && (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
              !BIO_meth_set_ctrl(m, bio_ctrl))) {
        BIO_meth_free(m);
        m = NULL;
    }
    return m;
}

/* --- moving encrypted bytes to the socket ----------------------------------- */

/* Sends what it can of buf; returns the count taken, or -1 on an error
 * other than a full socket. */
static ssize_t send_some(int fd, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? (ssize_t)done : -1;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int fy_tls_flush(struct fy_tls_conn *tc)
{
    if (tc->pending_len == 0)
        return 0;
    ssize_t n = send_some(tc->fd, tc->pending + tc->pending_off, tc->pending_len);
    if (n < 0)
        return -1;
    tc->pending_off += (size_t)n;
    tc->pending_len -= (size_t)n;
    if (tc->pending_len > 0) {
        errno = EAGAIN;
        return -1;
    }
    free(tc->pending); /* a connection keeps no buffer while its socket keeps up */
    tc->pending = NULL;
    tc->pending_off = 0;
    return 0;
}

/* After every OpenSSL call: the records it made go to the socket, behind
 * any still pending; the rest waits in a buffer of the connection's own.
 * Returns -1 only if the socket failed. */
static int stage_out(struct fy_tls_conn *tc)
{
    struct fy_tls *e = tc->e;
    const char *p = e->staging;
    size_t len = e->staging_len;
    e->staging_len = 0;
    if (len == 0)
        return 0;
    if (tc->pending_len == 0) {
        ssize_t n = send_some(tc->fd, p, len);
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
        if (len == 0)
            return 0;
    }
    char *q = malloc(tc->pending_len + len);
    if (!q)
        return -1;
    if (tc->pending_len)
        memcpy(q, tc->pending + tc->pending_off, tc->pending_len);
    memcpy(q + tc->pending_len, p, len);
    free(tc->pending);
    tc->pending = q;
    tc->pending_off = 0;
    tc->pending_len += len;
    return 0;
}

/* --- callbacks: SNI, ALPN, session tickets ---------------------------------- */

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    struct fy_tls *e = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_OK; /* no SNI: the default certificate */
    unsigned host = fy_config_match_host(e->cfg, name, strlen(name));
    if (host && e->ctxs->ctx[host])
        SSL_set_SSL_CTX(ssl, e->ctxs->ctx[host]);
    return SSL_TLSEXT_ERR_OK;
}

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned inlen, void *arg)
{
    (void)ssl;
    const struct fy_tls *e = arg;
    /* In our order of preference: h2 first, as browsers expect. */
    static const unsigned char with_h2[] = "\x02h2\x08http/1.1";
    static const unsigned char http11[] = "\x08http/1.1";
    const unsigned char *ours = e->cfg->http2 ? with_h2 : http11;
    unsigned ours_len = e->cfg->http2 ? sizeof with_h2 - 1 : sizeof http11 - 1;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, ours, ours_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 7301: no_application_protocol */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int ticket_cipher(EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, const struct fy_tls_ticket_key *k,
                         unsigned char *iv, int enc)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof k->hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv, enc) || !EVP_MAC_CTX_set_params(hctx, params))
        return -1;
    return 0;
}

/* OpenSSL's ticket-key callback: enc 1 makes a ticket with the current
 * key, enc 0 opens one; 2 says "good, but renew it". */
static int on_ticket_key(SSL *ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                         EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct fy_tls *e = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    struct fy_tls_ticket_key k;
    if (enc) {
        if (!fy_tls_tickets_current(e->tickets, &k) || RAND_bytes(iv, 16) != 1)
            return -1;
        memcpy(name, k.name, sizeof k.name);
        return ticket_cipher(cctx, hctx, &k, iv, 1) < 0 ? -1 : 1;
    }
    int found = fy_tls_tickets_find(e->tickets, name, &k);
    if (!found)
        return 0;
    return ticket_cipher(cctx, hctx, &k, iv, 0) < 0 ? -1 : found;
}

/* --- the engine ------------------------------------------------------------- */

static bool kernel_has_tls(void)
{
#ifdef FY_TEST_HOOKS
    /* Tests take the kernel-TLS road on a kernel without it: the handshake
     * on OpenSSL's socket BIO, then the switch to ours when the kernel
     * declines. */
    if (getenv("FERRY_TEST_KTLS_ROAD"))
        return true;
#endif
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_ulp", "r");
    char line[256] = "";
    if (!f)
        return false;
    bool has = fgets(line, sizeof line, f) && strstr(line, "tls");
    fclose(f);
    return has;
}

int fy_tls_init(struct fy_tls *e, const struct fy_config *cfg, const struct fy_tls_contexts *ctxs,
                struct fy_tls_tickets *tickets, char *err, size_t errlen)
{
    *e = (struct fy_tls){.cfg = cfg, .ctxs = ctxs, .tickets = cfg->tls_session_tickets ? tickets : NULL};
    if (!ctxs || !ctxs->any)
        return 0;
    e->kernel_tls = kernel_has_tls();
    e->bio_method = bio_method_new();
    e->bounce = malloc(FY_TLS_CHUNK);
    if (!e->bio_method || !e->bounce) {
        snprintf(err, errlen, "tls: out of memory");
        fy_tls_free(e);
        return -1;
    }
    for (unsigned i = 0; i < FY_CONFIG_MAX_HOSTS; i++) {
        SSL_CTX *ctx = ctxs->ctx[i];
        if (!ctx)
            continue;
        SSL_CTX_set_app_data(ctx, e);
        SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
        SSL_CTX_set_tlsext_servername_arg(ctx, e);
        SSL_CTX_set_alpn_select_cb(ctx, on_alpn, e);
        if (e->tickets)
            SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
        if (e->kernel_tls)
            SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    }
    return 0;
}

void fy_tls_free(struct fy_tls *e)
{
    BIO_meth_free(e->bio_method);
    free(e->staging);
    free(e->bounce);
    *e = (struct fy_tls){0};
}

/* --- a connection ----------------------------------------------------------- */

struct fy_tls_conn *fy_tls_conn_new(struct fy_tls *e, int fd)
{
    struct fy_tls_conn *tc = calloc(1, sizeof *tc);
    if (!tc)
        return NULL;
    /* TLS writes several small pieces in a row (the handshake's tickets,
     * then a response): Nagle would hold the second behind the client's
     * delayed ACK of the first, 40 ms. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    tc->e = e;
    tc->fd = fd;
    tc->ssl = SSL_new(e->ctxs->ctx[0]);
    BIO *bio = !tc->ssl ? NULL : e->kernel_tls ? BIO_new_socket(fd, BIO_NOCLOSE) : BIO_new(e->bio_method);
    if (!bio) {
        SSL_free(tc->ssl);
        free(tc);
        return NULL;
    }
    if (!e->kernel_tls)
        BIO_set_data(bio, tc), BIO_set_init(bio, 1);
    SSL_set_bio(tc->ssl, bio, bio);
    SSL_set_accept_state(tc->ssl);
    SSL_set_read_ahead(tc->ssl, 1); /* a record and what follows it in one read */
    return tc;
}

void fy_tls_conn_free(struct fy_tls_conn *tc)
{
    if (!tc)
        return;
    SSL_free(tc->ssl);
    free(tc->pending);
    free(tc);
}

/* Kernel TLS was possible, so the handshake ran on OpenSSL's socket BIO.
 * If the kernel encrypts now, bodies go the plain way; if not, writing
 * moves to our BIO, as on every other connection (the socket BIO holds
 * nothing once the handshake is done). */
static int settle_kernel_tls(struct fy_tls_conn *tc)
{
    if (BIO_get_ktls_send(SSL_get_wbio(tc->ssl))) {
        tc->kernel_sends = true;
        return 0;
    }
    BIO *ours = BIO_new(tc->e->bio_method);
    if (!ours)
        return -1;
    BIO_set_data(ours, tc);
    BIO_set_init(ours, 1);
    /* The read side stays; SSL_set_bio drops the socket BIO's write reference. */
    SSL_set_bio(tc->ssl, SSL_get_rbio(tc->ssl), ours);
    return 0;
}

/* Plain HTTP starts with a method's letters, TLS with a handshake record. */
static int check_first_byte(struct fy_tls_conn *tc, enum fy_tls_failure *why)
{
    unsigned char b;
    ssize_t n;
    do
        n = recv(tc->fd, &b, 1, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n <= 0) {
        *why = FY_TLS_FAIL_CLOSED;
        return -1;
    }
    if (b != TLS_RECORD_BYTE) {
        *why = FY_TLS_FAIL_PLAIN_HTTP;
        return -1;
    }
    tc->checked_first_byte = true;
    return 1;
}

/* What a failed SSL call means: 0 wait for the socket, -1 failed. */
static int failed_call(struct fy_tls_conn *tc, int rc, enum fy_tls_failure *why)
{
    int e = SSL_get_error(tc->ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return 0;
    }
    *why = e == SSL_ERROR_SSL ? FY_TLS_FAIL_PROTOCOL : FY_TLS_FAIL_CLOSED;
    ERR_clear_error();
    return -1;
}

int fy_tls_handshake(struct fy_tls_conn *tc, enum fy_tls_failure *why)
{
    *why = FY_TLS_FAIL_NONE;
    if (fy_tls_flush(tc) < 0)
        return errno == EAGAIN ? 0 : (*why = FY_TLS_FAIL_CLOSED, -1);
    if (!tc->checked_first_byte) {
        int r = check_first_byte(tc, why);
        if (r <= 0)
            return r;
    }
    int rc = SSL_do_handshake(tc->ssl);
    int r = rc == 1 ? 1 : failed_call(tc, rc, why);
    if (stage_out(tc) < 0 && r >= 0) {
        *why = FY_TLS_FAIL_CLOSED;
        return -1;
    }
    if (r == 1 && tc->e->kernel_tls && settle_kernel_tls(tc) < 0) {
        *why = FY_TLS_FAIL_CLOSED;
        return -1;
    }
    /* The last flight may still be pending: the first read pushes it. */
    return r;
}

bool fy_tls_resumed(const struct fy_tls_conn *tc)
{
    return SSL_session_reused(tc->ssl);
}

bool fy_tls_kernel_sends(const struct fy_tls_conn *tc)
{
    return tc->kernel_sends;
}

bool fy_tls_alpn_h2(const struct fy_tls_conn *tc)
{
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(tc->ssl, &p, &len);
    return len == 2 && memcmp(p, "h2", 2) == 0;
}

/* Reads until buf is full or the socket is empty, so that a short count
 * means what it means for read(2).  A socket read that came back short
 * says it is empty without one more read(2) to hear EAGAIN (edge-triggered
 * epoll tells of what arrives later). */
ssize_t fy_tls_read(struct fy_tls_conn *tc, void *buf, size_t len)
{
    size_t got = 0;
    int rc = 1;
    tc->socket_drained = false;
    while (got < len) {
        size_t n = 0;
        rc = SSL_read_ex(tc->ssl, (char *)buf + got, len - got, &n);
        if (rc != 1)
            break;
        got += n;
        if (tc->socket_drained && !SSL_has_pending(tc->ssl))
            break;
    }
    int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(tc->ssl, rc);
    ERR_clear_error();
    if (stage_out(tc) < 0 && got == 0) /* an alert or a key update answered */
        return -1;
    if (fy_tls_flush(tc) < 0 && errno != EAGAIN && got == 0)
        return -1;
    if (got > 0)
        return (ssize_t)got;
    switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        errno = tc->sys_errno ? tc->sys_errno : ECONNRESET;
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}

/* Encrypts len bytes at p (at most FY_TLS_CHUNK), once the socket has
 * taken what was pending. */
static ssize_t write_plain(struct fy_tls_conn *tc, const void *p, size_t len)
{
    size_t n = 0;
    if (SSL_write_ex(tc->ssl, p, len, &n) != 1) {
        ERR_clear_error();
        tc->e->staging_len = 0;
        errno = EPROTO;
        return -1;
    }
    if (stage_out(tc) < 0)
        return -1;
    return (ssize_t)n;
}

ssize_t fy_tls_writev(struct fy_tls_conn *tc, const struct iovec *iov, int iovcnt)
{
    if (fy_tls_flush(tc) < 0)
        return -1;
    int first = 0;
    while (first < iovcnt && iov[first].iov_len == 0)
        first++;
    if (first == iovcnt)
        return 0;
    /* One buffer: encrypted where it is, in full records. */
    bool one = first == iovcnt - 1 || (first == iovcnt - 2 && iov[iovcnt - 1].iov_len == 0);
    if (one || iov[first].iov_len >= FY_TLS_CHUNK) {
        size_t len = iov[first].iov_len < FY_TLS_CHUNK ? iov[first].iov_len : FY_TLS_CHUNK;
        return write_plain(tc, iov[first].iov_base, len);
    }
    /* Several: gathered, so a small response is one record. */
    size_t len = 0;
    for (int i = first; i < iovcnt && len < FY_TLS_CHUNK; i++) {
        size_t take = iov[i].iov_len < FY_TLS_CHUNK - len ? iov[i].iov_len : FY_TLS_CHUNK - len;
        memcpy(tc->e->bounce + len, iov[i].iov_base, take);
        len += take;
    }
    return write_plain(tc, tc->e->bounce, len);
}

ssize_t fy_tls_sendfile(struct fy_tls_conn *tc, int fd, off_t offset, size_t len)
{
    if (fy_tls_flush(tc) < 0)
        return -1;
    if (len > FY_TLS_CHUNK)
        len = FY_TLS_CHUNK;
    ssize_t got;
    do
        got = pread(fd, tc->e->bounce, len, offset);
    while (got < 0 && errno == EINTR);
    if (got <= 0)
        return got;
    return write_plain(tc, tc->e->bounce, (size_t)got);
}

void fy_tls_close_notify(struct fy_tls_conn *tc)
{
    if (SSL_is_init_finished(tc->ssl) && !(SSL_get_shutdown(tc->ssl) & SSL_SENT_SHUTDOWN)) {
        SSL_shutdown(tc->ssl);
        ERR_clear_error();
        stage_out(tc);
    }
    fy_tls_flush(tc);
}
