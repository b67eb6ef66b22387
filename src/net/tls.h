/* TLS on a connection, through OpenSSL 3.
 *
 * Two halves:
 * - struct fy_tls_contexts: the configured certificates, one SSL_CTX per
 *   host that has its own (hosts[0], the top level, is the default).  The
 *   master builds them before it forks, so the workers inherit keys they
 *   could not read themselves, and a reload that cannot load a certificate
 *   fails before anything changes.
 * - struct fy_tls: a process's TLS engine (the contexts, the shared
 *   session-ticket keys, one staging and one bounce buffer for every
 *   connection), and struct fy_tls_conn, one connection's TLS state.
 *
 * OpenSSL writes through a BIO of ours that never refuses bytes: the
 * records of one call land in the engine's staging buffer and go to the
 * socket as soon as the call returns; whatever the socket does not take
 * waits in a buffer of the connection's own, sized to what is left.  So
 * SSL_write() never asks to be retried with the same arguments, a
 * connection holds no buffer while the socket keeps up, and the caller
 * sees the familiar -1/EAGAIN when the socket is full.
 *
 * Kernel TLS: where the kernel has it, a connection reads and writes the
 * socket through OpenSSL's own socket BIO with SSL_OP_ENABLE_KTLS; once
 * OpenSSL reports the kernel encrypting (BIO_get_ktls_send), bodies take
 * the plain-TCP path (fy_tls_kernel_sends()).  If it does not, the write
 * side moves to our BIO after the handshake, like every other connection. */
#ifndef FY_TLS_H
#define FY_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "core/config.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_method_st BIO_METHOD;

struct fy_tls_tickets;

#define FY_TLS_CHUNK (64 * 1024)  /* plaintext per SSL_write: four full records */
#define FY_TLS_WARN_DAYS 14       /* a certificate closer to its end than this: a warning */

struct fy_tls_contexts {
    SSL_CTX *ctx[FY_CONFIG_MAX_HOSTS];  /* NULL: the host uses ctx[0] */
    bool any;                           /* some listener is TLS */
};

/* Builds the contexts cfg asks for (none when no listener is TLS).
 * Returns 0, or -1 with "FILE: what is wrong" in err.  Certificates that
 * expire within FY_TLS_WARN_DAYS are described in warn ("" if none). */
int  fy_tls_contexts_load(struct fy_tls_contexts *out, const struct fy_config *cfg,
                          char *warn, size_t warnlen, char *err, size_t errlen);
void fy_tls_contexts_free(struct fy_tls_contexts *c);

/* Why a handshake did not finish; each has a counter. */
enum fy_tls_failure {
    FY_TLS_FAIL_NONE,
    FY_TLS_FAIL_TIMEOUT,         /* tls-handshake-timeout passed */
    FY_TLS_FAIL_PROTOCOL,        /* not TLS we accept: bad record, version, cipher, alert */
    FY_TLS_FAIL_PLAIN_HTTP,      /* plain HTTP on a TLS port */
    FY_TLS_FAIL_CLOSED,          /* the client left (FIN, RST) */
};

struct fy_tls {
    const struct fy_config *cfg;
    const struct fy_tls_contexts *ctxs;
    struct fy_tls_tickets *tickets;     /* shared with every process; NULL: tickets off */
    BIO_METHOD *bio_method;
    bool kernel_tls;                    /* the kernel offers the "tls" ULP */
    char *staging;                      /* records of the call under way */
    size_t staging_len, staging_cap;
    char *bounce;                       /* FY_TLS_CHUNK: file bytes on their way to SSL_write */
};

/* Per process, after fork: ties the contexts to this engine.  Returns 0 or
 * -1 with a message in err. */
int  fy_tls_init(struct fy_tls *e, const struct fy_config *cfg, const struct fy_tls_contexts *ctxs,
                 struct fy_tls_tickets *tickets, char *err, size_t errlen);
void fy_tls_free(struct fy_tls *e);

struct fy_tls_conn;

/* A connection accepted on a TLS listener; NULL when out of memory. */
struct fy_tls_conn *fy_tls_conn_new(struct fy_tls *e, int fd);
void fy_tls_conn_free(struct fy_tls_conn *tc);

/* Moves the handshake on: 1 done, 0 not yet (call again when the socket is
 * ready), -1 failed (*why says how). */
int  fy_tls_handshake(struct fy_tls_conn *tc, enum fy_tls_failure *why);

/* After a finished handshake: what the counters want to know. */
bool fy_tls_resumed(const struct fy_tls_conn *tc);
bool fy_tls_kernel_sends(const struct fy_tls_conn *tc);
/* ALPN chose HTTP/2 ("h2"). */
bool fy_tls_alpn_h2(const struct fy_tls_conn *tc);

/* As fy_transport_read/writev/sendfile/flush (see transport.h). */
ssize_t fy_tls_read(struct fy_tls_conn *tc, void *buf, size_t len);
ssize_t fy_tls_writev(struct fy_tls_conn *tc, const struct iovec *iov, int iovcnt);
ssize_t fy_tls_sendfile(struct fy_tls_conn *tc, int fd, off_t offset, size_t len);
int     fy_tls_flush(struct fy_tls_conn *tc);

/* Queues a close_notify and pushes what the socket takes now. */
void fy_tls_close_notify(struct fy_tls_conn *tc);

#endif
