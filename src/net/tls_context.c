/* The configured certificates as OpenSSL contexts; see tls.h.  Every
 * context gets the same protocol settings, so the one SNI picks differs
 * only in its certificate and key. */
#include "net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* The Mozilla "intermediate" profile without its finite-field DHE: ECDHE
 * with AEAD ciphers only (TLS 1.2); every TLS 1.3 suite. */
#define DEFAULT_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
                        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
                        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define DEFAULT_GROUPS "X25519:P-256:P-384"

/* OpenSSL's reason for the last failure, and its queue emptied. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    const char *r = strrchr(buf, ':'); /* "error:0A00018F:SSL routines::ee key too small" */
    return r && r[1] ? r + 1 : buf;
}

static int apply_protocols(SSL_CTX *ctx, const struct fy_config *cfg, char *err, size_t errlen)
{
    int min = cfg->tls_protocols & FY_TLS_1_2 ? TLS1_2_VERSION : TLS1_3_VERSION;
    int max = cfg->tls_protocols & FY_TLS_1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    char why[256];
    if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max) ||
        !SSL_CTX_set1_groups_list(ctx, DEFAULT_GROUPS)) {
        snprintf(err, errlen, "tls: %s", ssl_reason(why, sizeof why));
        return -1;
    }
    const char *ciphers = cfg->tls_ciphers[0] ? cfg->tls_ciphers : DEFAULT_CIPHERS;
    if (!SSL_CTX_set_cipher_list(ctx, ciphers)) {
        snprintf(err, errlen, "tls-ciphers: no usable cipher in \"%s\" (%s)", ciphers, ssl_reason(why, sizeof why));
        return -1;
    }
    if (cfg->tls_ciphersuites[0] && !SSL_CTX_set_ciphersuites(ctx, cfg->tls_ciphersuites)) {
        snprintf(err, errlen, "tls-ciphersuites: no usable suite in \"%s\" (%s)", cfg->tls_ciphersuites,
                 ssl_reason(why, sizeof why));
        return -1;
    }
    return 0;
}

/* No compression, no renegotiation, the client's cipher order (every
 * cipher offered is strong), buffers released while idle. */
static void apply_options(SSL_CTX *ctx, const struct fy_config *cfg)
{
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Resumption is by tickets only: a server-side cache would be one per
     * worker, and lost on reload. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"ferry", 5);
    if (cfg->tls_session_tickets) {
        SSL_CTX_set_num_tickets(ctx, 1);
    } else {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
    }
}

/* The leaf's end of validity against now and FY_TLS_WARN_DAYS. */
static int check_dates(SSL_CTX *ctx, const char *file, char *warn, size_t warnlen, char *err, size_t errlen)
{
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    int days = 0, secs = 0;
    if (!leaf || !ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(leaf))) {
        snprintf(err, errlen, "%s: cannot read the certificate's validity", file);
        return -1;
    }
    if (days < 0 || secs < 0 || (days == 0 && secs == 0)) {
        snprintf(err, errlen, "%s: the certificate has expired", file);
        return -1;
    }
    if (days < FY_TLS_WARN_DAYS) {
        size_t used = strlen(warn);
        snprintf(warn + used, warnlen - used, "%s%s: the certificate expires in %d day%s", used ? "; " : "", file,
                 days, days == 1 ? "" : "s");
    }
    return 0;
}

/* OpenSSL says "system lib" of a file it cannot open; errno says more. */
static int check_readable(const char *file, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

static SSL_CTX *load_one(const struct fy_config *cfg, const char *cert, const char *key, char *warn,
                         size_t warnlen, char *err, size_t errlen)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "tls: %s", ssl_reason(why, sizeof why));
        return NULL;
    }
    if (apply_protocols(ctx, cfg, err, errlen) < 0)
        goto fail;
    apply_options(ctx, cfg);
    if (check_readable(cert, err, errlen) < 0 || check_readable(key, err, errlen) < 0)
        goto fail;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(err, errlen, "%s: cannot load the certificate chain (%s)", cert, ssl_reason(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "%s: cannot load the private key (%s)", key, ssl_reason(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "%s: the key does not match the certificate in %s", key, cert);
        ERR_clear_error();
        goto fail;
    }
    if (check_dates(ctx, cert, warn, warnlen, err, errlen) < 0)
        goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static bool any_tls_listener(const struct fy_config *cfg)
{
    for (size_t i = 0; i < cfg->nlisten; i++)
        if (cfg->listen[i].tls)
            return true;
    return false;
}

int fy_tls_contexts_load(struct fy_tls_contexts *out, const struct fy_config *cfg, char *warn, size_t warnlen,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (warnlen)
        warn[0] = '\0';
    if (!any_tls_listener(cfg)) {
        if (cfg->redirect_to_https)
            snprintf(warn, warnlen, "redirect-to-https is on, but no listener is TLS: it does nothing");
        return 0;
    }
    out->any = true;
    for (unsigned i = 0; i < cfg->nhosts; i++) {
        const char *cert = fy_config_text(cfg, cfg->hosts[i].tls_certificate);
        const char *key = fy_config_text(cfg, cfg->hosts[i].tls_key);
        if (i == 0 && (!*cert || !*key)) {
            snprintf(err, errlen, "a listener is TLS, but tls-certificate and tls-key are not both set at the "
                                  "top level");
            goto fail;
        }
        if (!*cert && !*key)
            continue; /* the host uses the top level's */
        if (!*cert || !*key) {
            snprintf(err, errlen, "[host] at line %d: tls-certificate and tls-key go together",
                     cfg->hosts[i].line);
            goto fail;
        }
        if (!(out->ctx[i] = load_one(cfg, cert, key, warn, warnlen, err, errlen)))
            goto fail;
    }
    return 0;
fail:
    fy_tls_contexts_free(out);
    return -1;
}

void fy_tls_contexts_free(struct fy_tls_contexts *c)
{
    for (unsigned i = 0; i < FY_CONFIG_MAX_HOSTS; i++) {
        SSL_CTX_free(c->ctx[i]);
        c->ctx[i] = NULL;
    }
    c->any = false;
}
