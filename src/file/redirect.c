/* Configured redirects; see redirect.h. */
#include "file/redirect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "core/stats.h"
#include "request/exchange.h"
#include "http/escape.h"
#include "http/http_response.h"

/* Whether a (FROM of n bytes, exact or not) beats the best so far. */
static bool better(bool exact, size_t n, bool best_exact, size_t best_len)
{
    if (exact != best_exact)
        return exact;
    return exact || n >= best_len; /* equal: the later one */
}

const struct fy_redirect_config *fy_redirect_find(const struct fy_config *cfg, const struct fy_rule_subject *subj)
{
    const struct fy_redirect_config *best = NULL;
    size_t best_len = 0;
    bool best_exact = false;
    for (unsigned i = 0; i < cfg->nredirects; i++) {
        const struct fy_redirect_config *r = &cfg->redirects[i];
        const char *from = fy_config_text(cfg, r->from);
        size_t n = strlen(from);
        bool exact = strcmp(subj->url, from) == 0;
        if (!exact && (from[n - 1] != '/' || strncmp(subj->url, from, n) != 0))
            continue;
        if ((best && !better(exact, n, best_exact, best_len)) || !fy_rule_matches(cfg, &cfg->rules[r->rule], subj))
            continue;
        best = r, best_len = n, best_exact = exact;
    }
    return best;
}

/* A Location of at most cap bytes, appended to. */
struct location {
    char *p;
    size_t len, cap;
};

static void put(struct location *l, const char *s, size_t n)
{
    memcpy(l->p + l->len, s, n);
    l->len += n;
    l->p[l->len] = '\0';
}

/* Makes room for fixed text, the url percent-encoded (up to 3 bytes a
 * byte) and the query. */
static bool location_init(struct location *l, size_t fixed, const char *url, struct fy_str query)
{
    l->cap = sizeof "Location: ?\r\n" + fixed + 3 * strlen(url) + query.len;
    l->len = 0;
    l->p = malloc(l->cap);
    if (l->p)
        put(l, "Location: ", 10);
    return l->p != NULL;
}

static void put_encoded(struct location *l, const char *url)
{
    l->len += fy_url_encode(url, l->p + l->len, true);
}

/* The query, after '&' when the target already holds one. */
static void put_query(struct location *l, bool target_has_query, struct fy_str query)
{
    if (query.len == 0)
        return;
    put(l, target_has_query ? "&" : "?", 1);
    put(l, query.p, query.len);
}

char *fy_redirect_location(const struct fy_config *cfg, const struct fy_redirect_config *r, const char *url,
                           struct fy_str query)
{
    const char *to = fy_config_text(cfg, r->to), *from = fy_config_text(cfg, r->from);
    size_t from_len = strlen(from);
    /* A prefix's remainder is appended; an exact match has none. */
    const char *rest = strcmp(url, from) == 0 ? "" : url + from_len;
    const char *hash = strchr(to, '#');
    size_t base = hash ? (size_t)(hash - to) : strlen(to);
    struct location l;
    if (!location_init(&l, strlen(to), rest, query))
        return NULL;
    put(&l, to, base);
    put_encoded(&l, rest);
    put_query(&l, memchr(to, '?', base) != NULL, query);
    if (hash)
        put(&l, hash, strlen(hash)); /* the fragment goes last */
    put(&l, "\r\n", 2);
    return l.p;
}

/* The ":PORT" of a Host value ("" when it names none). */
static struct fy_str host_port(struct fy_str host)
{
    struct fy_str name, port;
    fy_http_host_split(host, &name, &port);
    return port;
}

static bool name_has_port(const char *name)
{
    const char *after = name[0] == '[' ? strchr(name, ']') : name;
    return after && strchr(after, ':');
}

/* "//NAME[:PORT]/path?query": the port of NAME, else the one the request's
 * Host named (a www → apex move on the same port). */
static char *host_location(const char *name, struct fy_str host, const char *url, struct fy_str query)
{
    struct fy_str port = name_has_port(name) ? (struct fy_str){"", 0} : host_port(host);
    struct location l;
    if (!location_init(&l, 2 + strlen(name) + port.len, url, query))
        return NULL;
    put(&l, "//", 2);
    put(&l, name, strlen(name));
    put(&l, port.p, port.len);
    put_encoded(&l, url);
    put_query(&l, false, query);
    put(&l, "\r\n", 2);
    return l.p;
}

bool fy_redirect_try(struct fy_exchange *ex, const struct fy_file_request *x)
{
    const struct fy_config *cfg = &ex->srv->cfg;
    const struct fy_request *req = &ex->req;
    const char *url = x->subj.url;
    char *location = NULL;
    int status = 301;
    fy_text host_target = cfg->hosts[x->site->host].redirect_host;
    if (host_target) {
        location = host_location(fy_config_text(cfg, host_target), req->host, url, req->query);
    } else {
        struct fy_rule_subject subj = x->subj;
        subj.file_name = fy_url_file_name(url);
        const struct fy_redirect_config *r = fy_redirect_find(cfg, &subj);
        if (!r)
            return false;
        status = r->status;
        location = fy_redirect_location(cfg, r, url, req->query);
    }
    fy_stats_add(ex->srv->slot, FY_C_REDIRECTS, 1);
    if (!location)
        fy_respond_error(ex, x->site, 503, NULL);
    else
        fy_respond_redirect(ex, x->site, status, location);
    free(location);
    return true;
}

/* ACME's http-01 challenge stays on plain HTTP: the first certificate
 * must be had before there is a TLS listener to redirect to. */
static bool is_acme_challenge(struct fy_str path)
{
    static const char prefix[] = "/.well-known/acme-challenge/";
    return path.len >= sizeof prefix - 1 && memcmp(path.p, prefix, sizeof prefix - 1) == 0;
}

bool fy_redirect_to_https(struct fy_exchange *ex, const struct fy_site *site)
{
    const struct fy_request *r = &ex->req;
    if (!fy_exchange_wants_https(ex) || is_acme_challenge(r->path))
        return false;
    struct fy_str name, port;
    fy_http_host_split(r->host, &name, &port); /* the parser let only a valid Host through */
    if (name.len == 0) {
        fy_respond_error(ex, site, 400, NULL); /* HTTP/1.0 without Host: no name to send it to */
        return true;
    }
    char tls_port[8] = "";
    if (ex->srv->tls_port != 443)
        snprintf(tls_port, sizeof tls_port, ":%d", ex->srv->tls_port);
    struct fy_str path = r->path.len && r->path.p[0] == '/' ? r->path : (struct fy_str){"/", 1}; /* OPTIONS * */
    struct location l;
    if (!location_init(&l, sizeof "https://" + name.len + sizeof tls_port + path.len, "", r->query)) {
        fy_respond_error(ex, site, 503, NULL);
        return true;
    }
    put(&l, "https://", 8);
    put(&l, name.p, name.len);
    put(&l, tls_port, strlen(tls_port));
    put(&l, path.p, path.len); /* as the client wrote it: already a valid target */
    put_query(&l, false, r->query);
    put(&l, "\r\n", 2);
    fy_respond_redirect(ex, site, 301, l.p);
    free(l.p);
    return true;
}

/* Where a redirect with this Location is built: wbuf, unless the Location
 * leaves too little of it for the rest (status line, Date, the page);
 * then a buffer of its own, which the connection frees. */
static struct fy_buf redirect_buffer(struct fy_exchange *ex, size_t location_len)
{
    size_t rest = FY_EXCHANGE_HEAD_BUFFER / 2; /* what a redirect holds besides its Location, with room */
    if (location_len + rest <= FY_EXCHANGE_HEAD_BUFFER)
        return (struct fy_buf){.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    ex->head_mem = malloc(location_len + rest);
    return (struct fy_buf){.p = ex->head_mem, .cap = ex->head_mem ? location_len + rest : 0};
}

int fy_respond_redirect(struct fy_exchange *ex, const struct fy_site *site, int status, const char *location)
{
    const struct fy_request *r = &ex->req;
    struct fy_buf b = redirect_buffer(ex, strlen(location));
    size_t body = fy_response_error(&b, status, fy_server_date(ex->srv), location, ex->keep_alive,
                                    r->version_minor, r->method == FY_METHOD_HEAD);
    if (b.overflow) {
        bool out_of_memory = b.p == NULL;
        free(ex->head_mem);
        ex->head_mem = NULL;
        return fy_respond_error(ex, site, out_of_memory ? 503 : 500, NULL);
    }
    ex->status = status;
    ex->head_nonbody = b.len - body;
    ex->xfer.head_len = b.len;
    return 0;
}
