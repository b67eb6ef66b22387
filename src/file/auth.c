/* Basic authentication; see auth.h. */
#include "file/auth.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/htpasswd.h"
#include "core/server.h"
#include "core/stats.h"
#include "file/auth_cache.h"
#include "file/handler.h"
#include "file/respond.h"
#include "http/basic_auth.h"
#include "request/exchange.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Checks queued or running per process.  A flood of wrong passwords fills
 * it and is answered 503 beyond: bcrypt at cost 5 drains it in about
 * 150 ms, at cost 10 in about 4 s. */
#define AUTH_MAX_CHECKS 64

struct auth_file {
    const char *path;            /* in the configuration's text */
    struct fy_htpasswd table;
};

struct fy_auth {
    struct fy_log *log;
    struct fy_stats_slot *slot;  /* the status counters (auth_*) */
    struct auth_file *files;
    unsigned nfiles;
    struct fy_auth_cache cache;
    struct fy_verifier verifier;
};

/* --- the configuration ------------------------------------------------------ */

static bool asks_password(const struct fy_rule_config *r, const struct fy_config *cfg)
{
    return r->auth_realm && fy_config_text(cfg, r->auth_realm)[0];
}

static bool any_realm(const struct fy_config *cfg)
{
    for (unsigned i = 0; i < cfg->nrules; i++)
        if (asks_password(&cfg->rules[i], cfg))
            return true;
    return false;
}

/* Whether the keys written outside [path] sections of that host (every
 * path of it) name a user file. */
static bool host_has_file(const struct fy_config *cfg, unsigned host)
{
    for (unsigned i = 0; i < cfg->nrules; i++)
        if (cfg->rules[i].implicit && cfg->rules[i].host == host && cfg->rules[i].auth_user_file)
            return true;
    return false;
}

/* The first rule naming the same user file as rules[i], or i itself. */
static unsigned first_naming(const struct fy_config *cfg, unsigned i)
{
    const char *path = fy_config_text(cfg, cfg->rules[i].auth_user_file);
    for (unsigned j = 0; j < i; j++)
        if (cfg->rules[j].auth_user_file && strcmp(fy_config_text(cfg, cfg->rules[j].auth_user_file), path) == 0)
            return j;
    return i;
}

int fy_auth_validate(const struct fy_config *cfg, const char *config_path, char *err, size_t errlen)
{
    const char *origin = config_path ? config_path : "command line";
    for (unsigned i = 0; i < cfg->nrules; i++) {
        const struct fy_rule_config *r = &cfg->rules[i];
        if (asks_password(r, cfg) && !r->auth_user_file && !host_has_file(cfg, r->host) && !host_has_file(cfg, 0)) {
            snprintf(err, errlen, "%s:%d: auth-basic: no auth-basic-user-file for this realm (set one in the "
                     "same section, or for every path of the host or the top level)", origin, r->auth_realm_line);
            return -1;
        }
    }
    for (unsigned i = 0; i < cfg->nrules; i++) {
        const struct fy_rule_config *r = &cfg->rules[i];
        if (!r->auth_user_file || first_naming(cfg, i) != i)
            continue;
        struct fy_htpasswd t;
        char msg[FY_CONFIG_ERR_LEN];
        if (fy_htpasswd_load(&t, fy_config_text(cfg, r->auth_user_file), msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s:%d: auth-basic-user-file: %s", origin, r->auth_user_file_line, msg);
            return -1;
        }
        fy_htpasswd_free(&t);
    }
    return 0;
}

/* Whether the file at real path `file` is under directory dir. */
static bool inside(const char *file, const char *dir)
{
    char real[PATH_MAX];
    if (!realpath(dir, real))
        return false;
    size_t n = strlen(real);
    return strncmp(file, real, n) == 0 && (file[n] == '/' || (n == 1 && real[0] == '/'));
}

static void warn_served(const struct fy_config *cfg, struct fy_log *log, const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return;
    const char *dir = inside(real, cfg->docroot) ? cfg->docroot : NULL;
    for (unsigned i = 1; !dir && i < cfg->nhosts; i++)
        if (inside(real, fy_config_text(cfg, cfg->hosts[i].docroot)))
            dir = fy_config_text(cfg, cfg->hosts[i].docroot);
    for (unsigned i = 0; !dir && i < cfg->naliases; i++)
        if (inside(real, fy_config_text(cfg, cfg->aliases[i].dir)))
            dir = fy_config_text(cfg, cfg->aliases[i].dir);
    if (dir)
        fy_log(log, FY_LOG_WARN, "auth-basic-user-file %s is inside %s, which is served: anyone may download "
               "it and guess its passwords offline; move it out", path, dir);
}

void fy_auth_warn(const struct fy_config *cfg, struct fy_log *log)
{
    if (!any_realm(cfg))
        return;
    bool plain = false; /* a listener where a password would cross the network readable */
    for (size_t i = 0; i < cfg->nlisten; i++)
        plain |= !cfg->listen[i].tls && !cfg->redirect_to_https;
    if (plain)
        fy_log(log, FY_LOG_WARN, "auth-basic: passwords are asked over plain HTTP, where anyone on the way "
               "reads them (Basic credentials are not encrypted); serve these paths over HTTPS");
    for (unsigned i = 0; i < cfg->nrules; i++)
        if (cfg->rules[i].auth_user_file && first_naming(cfg, i) == i)
            warn_served(cfg, log, fy_config_text(cfg, cfg->rules[i].auth_user_file));
}

/* --- the process's tables ----------------------------------------------------- */

static void count_waiting(struct fy_auth *a)
{
    fy_stats_gauge(a->slot, FY_G_AUTH_WAITING, a->verifier.njobs);
}

static void on_finished(struct fy_verifier *v, const unsigned char key[FY_SHA256_LEN], const void *tag, bool ok)
{
    struct fy_auth *a = container_of(v, struct fy_auth, verifier);
    fy_stats_add(a->slot, FY_C_AUTH_CHECKS, 1);
    count_waiting(a);
    if (ok)
        fy_auth_cache_add(&a->cache, key, tag);
}

static int load_files(struct fy_auth *a, const struct fy_config *cfg, char *err, size_t errlen)
{
    a->files = calloc(cfg->nrules, sizeof *a->files);
    if (!a->files) {
        snprintf(err, errlen, "auth-basic: out of memory");
        return -1;
    }
    for (unsigned i = 0; i < cfg->nrules; i++) {
        if (!cfg->rules[i].auth_user_file || first_naming(cfg, i) != i)
            continue;
        struct auth_file *f = &a->files[a->nfiles];
        f->path = fy_config_text(cfg, cfg->rules[i].auth_user_file);
        if (fy_htpasswd_load(&f->table, f->path, err, errlen) < 0)
            return -1;
        a->nfiles++;
    }
    return 0;
}

int fy_auth_open(struct fy_auth **out, const struct fy_config *cfg, struct fy_loop *loop, struct fy_log *log,
                 struct fy_stats_slot *slot, char *err, size_t errlen)
{
    *out = NULL;
    if (!any_realm(cfg))
        return 0;
    struct fy_auth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "auth-basic: out of memory");
        return -1;
    }
    a->log = log;
    a->slot = slot;
    a->verifier.io.fd = -1;
    if (load_files(a, cfg, err, errlen) < 0) {
        fy_auth_close(a);
        return -1;
    }
    if (fy_auth_cache_init(&a->cache) < 0) {
        snprintf(err, errlen, "auth-basic: no random bytes for the credential cache: %m");
        fy_auth_close(a);
        return -1;
    }
    if (fy_verifier_init(&a->verifier, loop, AUTH_MAX_CHECKS, err, errlen) < 0) {
        fy_auth_close(a);
        return -1;
    }
    a->verifier.finished = on_finished;
    *out = a;
    return 0;
}

void fy_auth_close(struct fy_auth *a)
{
    if (!a)
        return;
    if (a->verifier.io.fd >= 0 || a->verifier.started)
        fy_verifier_close(&a->verifier);
    for (unsigned i = 0; i < a->nfiles; i++)
        fy_htpasswd_free(&a->files[i].table);
    free(a->files);
    explicit_bzero(&a->cache, sizeof a->cache);
    free(a);
}

/* --- a request ------------------------------------------------------------------ */

static unsigned file_index(const struct fy_auth *a, const char *path)
{
    for (unsigned i = 0; i < a->nfiles; i++)
        if (strcmp(a->files[i].path, path) == 0)
            return i;
    return a->nfiles;
}

/* 401, with the challenge: the realm as a quoted-string (RFC 9110 §5.6.4)
 * and the charset browsers should encode the credentials in (RFC 7617 §2.1). */
static int challenge(struct fy_exchange *ex, const struct fy_file_request *x, const char *realm)
{
    char h[sizeof "WWW-Authenticate: Basic realm=\"\", charset=\"UTF-8\"\r\n" + 2 * 200];
    size_t n = (size_t)snprintf(h, sizeof h, "WWW-Authenticate: Basic realm=\"");
    for (const char *p = realm; *p && n + 2 < sizeof h; p++) {
        if (*p == '"' || *p == '\\')
            h[n++] = '\\';
        h[n++] = *p;
    }
    snprintf(h + n, sizeof h - n, "\", charset=\"UTF-8\"\r\n");
    return fy_respond_error(ex, x->site, 401, h);
}

/* Who failed, for the error log (fail2ban reads such lines); never the password. */
static void log_refusal(struct fy_exchange *ex, bool known_user)
{
    struct fy_basic_credentials cr;
    char addr[INET6_ADDRSTRLEN] = "?";
    if (ex->client.ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&ex->client)->sin_addr, addr, sizeof addr);
    else if (ex->client.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&ex->client)->sin6_addr, addr, sizeof addr);
    if (fy_basic_auth_parse(&ex->req, &cr) == FY_BASIC_OK)
        fy_log(&ex->srv->log, FY_LOG_INFO, "auth-basic: %s: %s \"%.*s\"", addr,
               known_user ? "wrong password for user" : "no such user", (int)(cr.user.len > 64 ? 64 : cr.user.len),
               cr.user.p);
    explicit_bzero(&cr, sizeof cr);
}

static void on_checked(struct fy_verify_wait *w, bool ok)
{
    struct fy_auth_request *ar = container_of(w, struct fy_auth_request, wait);
    struct fy_exchange *ex = container_of(ar, struct fy_exchange, auth);
    for (int s = 0; s < 2; s++)
        if (ar->stage[s].verdict == FY_AUTH_PENDING)
            ar->stage[s].verdict = ok ? FY_AUTH_GRANTED : FY_AUTH_DENIED;
    if (ok) {
        ar->user = ((const struct fy_htpasswd_user *)ar->pending_user)->name;
    } else {
        fy_stats_add(ex->srv->slot, FY_C_AUTH_REFUSED, 1);
        log_refusal(ex, ar->pending_user != NULL);
    }
    fy_exchange_resume(ex);
}

/* Well-formed credentials: known from the cache, or checked off the loop. */
static int check_credentials(struct fy_exchange *ex, const struct fy_file_request *x, enum fy_auth_stage stage,
                             unsigned file, const struct fy_basic_credentials *cr, const char *realm)
{
    struct fy_auth *a = ex->srv->auth;
    struct fy_auth_request *ar = &ex->auth;
    unsigned char d[FY_SHA256_LEN];
    if (fy_auth_cache_digest(&a->cache, file, cr->user, cr->password, d) < 0)
        return fy_respond_error(ex, x->site, 503, "Retry-After: 1\r\n"); /* no key for the cache or a check */
    const struct fy_htpasswd_user *u = fy_auth_cache_find(&a->cache, d);
    if (u) {
        fy_stats_add(ex->srv->slot, FY_C_AUTH_CACHE_HITS, 1);
        ar->stage[stage].file = file;
        ar->stage[stage].verdict = FY_AUTH_GRANTED;
        ar->user = u->name;
        return FY_AUTH_PASS;
    }
    /* An unknown user is checked against someone's hash all the same, and
     * refused whatever the password: the answer takes as long either way. */
    const struct fy_htpasswd *t = &a->files[file].table;
    u = fy_htpasswd_find(t, cr->user.p, cr->user.len);
    const char *hash = u ? u->hash : t->n ? t->users[0].hash : NULL;
    if (!hash) { /* nobody is in the file */
        fy_stats_add(ex->srv->slot, FY_C_AUTH_REFUSED, 1);
        return challenge(ex, x, realm);
    }
    ar->wait.done = on_checked;
    if (fy_verifier_submit(&a->verifier, &ar->wait, d, hash, cr->password, u == NULL, u) < 0) {
        fy_stats_add(ex->srv->slot, FY_C_AUTH_BUSY, 1);
        fy_log(&ex->srv->log, FY_LOG_WARN, "auth-basic: %d password checks waiting already; answering 503",
               AUTH_MAX_CHECKS);
        return fy_respond_error(ex, x->site, 503, "Retry-After: 1\r\n");
    }
    count_waiting(a);
    ar->stage[stage].file = file;
    ar->stage[stage].verdict = FY_AUTH_PENDING;
    ar->pending_user = u;
    if (stage == FY_AUTH_INDEX)
        fy_file_close(&ex->file); /* opened again when the handler runs again */
    return FY_HANDLER_WAIT;
}

/* The file name a URL stands for, before anything is opened. */
static const char *url_file_name(const char *url)
{
    size_t n = strlen(url);
    return n == 0 || url[n - 1] == '/' ? NULL : strrchr(url, '/') + 1;
}

int fy_auth_check(struct fy_exchange *ex, const struct fy_file_request *x, enum fy_auth_stage stage)
{
    struct fy_auth *a = ex->srv->auth;
    if (!a)
        return FY_AUTH_PASS;
    struct fy_rule_subject subj = x->subj;
    struct fy_path_settings set;
    if (stage == FY_AUTH_URL)
        subj.file_name = url_file_name(subj.url);
    fy_rules_resolve(&ex->srv->cfg, &subj, &set);
    if (!set.auth_realm)
        return FY_AUTH_PASS;

    struct fy_auth_request *ar = &ex->auth;
    if (ar->request != ex->nrequests) {
        ar->request = ex->nrequests;
        ar->stage[0].verdict = ar->stage[1].verdict = FY_AUTH_UNKNOWN;
        ar->user = NULL;
    }
    unsigned file = set.auth_user_file ? file_index(a, set.auth_user_file) : a->nfiles;
    if (file == a->nfiles) { /* fy_auth_validate() makes it unreachable */
        fy_log(&ex->srv->log, FY_LOG_ERROR, "auth-basic: no user file for realm \"%s\"", set.auth_realm);
        return fy_respond_error(ex, x->site, 500, NULL);
    }
    if (stage == FY_AUTH_INDEX && ar->stage[FY_AUTH_URL].verdict == FY_AUTH_GRANTED &&
        ar->stage[FY_AUTH_URL].file == file)
        return FY_AUTH_PASS;
    enum fy_auth_verdict v = ar->stage[stage].file == file ? ar->stage[stage].verdict : FY_AUTH_UNKNOWN;
    if (v == FY_AUTH_GRANTED)
        return FY_AUTH_PASS;
    if (v == FY_AUTH_DENIED)
        return challenge(ex, x, set.auth_realm);

    struct fy_basic_credentials cr;
    enum fy_basic_auth_result got = fy_basic_auth_parse(&ex->req, &cr);
    if (got == FY_BASIC_MALFORMED)
        fy_stats_add(ex->srv->slot, FY_C_AUTH_REFUSED, 1);
    int r = got == FY_BASIC_OK ? check_credentials(ex, x, stage, file, &cr, set.auth_realm)
                               : challenge(ex, x, set.auth_realm);
    explicit_bzero(&cr, sizeof cr);
    return r;
}

void fy_auth_cancel(struct fy_exchange *ex)
{
    if (ex->auth.wait.job && ex->srv->auth) {
        fy_verifier_cancel(&ex->srv->auth->verifier, &ex->auth.wait);
        count_waiting(ex->srv->auth);
    }
}

bool fy_auth_waiting(const struct fy_exchange *ex)
{
    return ex->auth.wait.job != NULL;
}

const char *fy_auth_user(const struct fy_exchange *ex)
{
    return ex->auth.request == ex->nrequests ? ex->auth.user : NULL;
}
