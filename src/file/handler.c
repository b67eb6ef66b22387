/* The static-file handler; see handler.h.
 *
 *   method ─► Host → site ─► path ─► hidden? 404 ─► docroot + name (aliases) ─► open
 *     ─► a directory: listing or 403 ─► per-path settings ─► OPTIONS
 *     ─► precompressed sibling ─► respond.c: conditions, ranges, head */
#include "file/handler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/health.h"
#include "core/server.h"
#include "core/stats.h"
#include "core/status.h"
#include "file/auth.h"
#include "file/access.h"
#include "file/compress.h"
#include "file/fallback.h"
#include "file/file.h"
#include "file/hidden.h"
#include "file/listing.h"
#include "file/path.h"
#include "file/precompressed.h"
#include "file/redirect.h"
#include "file/respond.h"
#include "file/site.h"
#include "request/exchange.h"
#include "http/escape.h"
#include "http/http_response.h"

#define ALLOW "Allow: GET, HEAD, OPTIONS\r\n"

/* "Location: <url>/[?query]\r\n", the url percent-encoded: up to 3 bytes
 * a byte of it, and the query as long as the request head allowed; so
 * malloc'd to fit.  NULL when out of memory. */
static char *redirect_location(const char *url, struct fy_str query)
{
    size_t cap = sizeof "Location: /?\r\n" + 3 * strlen(url) + query.len;
    char *location = malloc(cap);
    if (!location)
        return NULL;
    size_t n = (size_t)snprintf(location, cap, "Location: ");
    n += fy_url_encode(url, location + n, true);
    snprintf(location + n, cap - n, "/%s%.*s\r\n", query.len ? "?" : "", (int)query.len, query.p);
    return location;
}

/* "/dir" names a directory: send the client to "/dir/", query kept.  The
 * Location is built from the normalised path, re-encoded, never from the
 * raw target: "//evil.example/" would send a browser to another host. */
static int respond_redirect(struct fy_exchange *ex, const struct fy_site *site, const char *url)
{
    char *location = redirect_location(url, ex->req.query);
    if (!location)
        return fy_respond_error(ex, site, 503, NULL);
    fy_respond_redirect(ex, site, 301, location);
    free(location);
    return 0;
}

/* OPTIONS: what the resource (or, for "*", the server) allows. */
static int respond_options(struct fy_exchange *ex)
{
    struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    fy_file_close(&ex->file);
    fy_response_start(&b, 200, fy_server_date(ex->srv));
    fy_buf_puts(&b, ALLOW "Content-Length: 0\r\n");
    fy_response_end(&b, ex->keep_alive, ex->req.version_minor);
    ex->status = 200;
    ex->xfer.head_len = b.len;
    return 0;
}

/* The page goes after the head as a body held in memory. */
static int respond_listing(struct fy_exchange *ex, const struct fy_file_request *x, const struct fy_docroot *root,
                           const struct fy_path *dir)
{
    struct fy_hidden_scope hidden = {.cfg = &ex->srv->cfg, .host = x->subj.host};
    struct fy_listing_options opt = {
        .dotfiles = x->set.listing_dotfiles, .follow_symlinks = root->follow_symlinks,
        .root_fd = root->fd, .dir_name = dir->name, .hidden = &hidden,
    };
    size_t len = 0;
    char *page = fy_listing_build(ex->file.fd, x->subj.url, &opt, &len);
    fy_file_close(&ex->file);
    if (!page)
        return fy_respond_error(ex, x->site, errno == ENOMEM ? 503 : 403, NULL);
    struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    fy_response_start(&b, 200, fy_server_date(ex->srv));
    fy_buf_puts(&b, "Content-Type: text/html; charset=utf-8\r\nContent-Length: ");
    fy_buf_put_u64(&b, len);
    fy_buf_puts(&b, "\r\n");
    fy_put_path_headers(&b, ex, x);
    fy_response_end(&b, ex->keep_alive, ex->req.version_minor);
    if (b.overflow) {
        free(page);
        return fy_respond_error(ex, x->site, 500, NULL);
    }
    ex->status = 200;
    ex->xfer.head_len = b.len;
    if (ex->req.method == FY_METHOD_HEAD)
        free(page);
    else
        ex->body_mem = page, ex->body_mem_len = len;
    return 0;
}

/* "/" + name, and a '/' after a directory's: what [path] prefixes match. */
static int url_of(const struct fy_path *p, char *out, size_t cap)
{
    bool slash = p->trailing_slash && p->len;
    if (1 + p->len + slash + 1 > cap)
        return -1;
    out[0] = '/';
    memcpy(out + 1, p->name, p->len); /* on every request: no printf */
    out[1 + p->len] = '/';
    out[1 + p->len + slash] = '\0';
    return 0;
}

/* Swaps c->file for a precompressed sibling when the rules and the client
 * allow it. */
static void choose_encoding(struct fy_exchange *ex, struct fy_file_request *x, const struct fy_docroot *root,
                            const struct fy_path *file)
{
    struct fy_file sibling;
    if (!x->set.precompressed)
        return;
    x->encoding = fy_precompressed_open(root, file, &ex->file, ex->req.accept_encoding, ex->srv->loop.now_ms,
                                        &sibling);
    if (x->encoding) {
        sibling.content_type = ex->file.content_type; /* the original's type, not application/gzip */
        fy_file_close(&ex->file);
        ex->file = sibling;
    }
}

/* The request's file is open in c->file (or its directory). */
static int respond_opened(struct fy_exchange *ex, struct fy_file_request *x, const struct fy_docroot *root,
                          const struct fy_path *file)
{
    const char *name = ex->file.index_name ? ex->file.index_name : file->name;
    x->subj.file_name = S_ISDIR(ex->file.st.st_mode) ? NULL : name;
    int auth = ex->file.index_name ? fy_auth_check(ex, x, FY_AUTH_INDEX) : FY_AUTH_PASS;
    if (auth != FY_AUTH_PASS)
        return auth;
    fy_rules_resolve(&ex->srv->cfg, &x->subj, &x->set);
    if (ex->req.method == FY_METHOD_OPTIONS)
        return respond_options(ex);
    if (S_ISDIR(ex->file.st.st_mode)) {
        if (x->set.listing)
            return respond_listing(ex, x, root, file);
        fy_file_close(&ex->file);
        return fy_respond_error(ex, x->site, 403, NULL);
    }
    if (x->set.default_type && fy_mime_is_unknown(ex->file.content_type))
        ex->file.content_type = x->set.default_type;
    choose_encoding(ex, x, root, file);
    if (!x->encoding)
        fy_compress_choose(ex->srv->compressor, ex, x);
    return fy_respond_file(ex, x);
}

/* Opens the request's file into c->file.  A name the open-file cache does
 * not know may need the disk to resolve (directories, inodes): it is looked
 * up off the loop first, when the backend can (FY_HANDLER_WAIT).  For a
 * directory the first index file is looked up, which walks the directory
 * too. */
static int open_file(struct fy_exchange *ex, const struct fy_docroot *root, const struct fy_path *file)
{
    int64_t now = ex->srv->loop.now_ms;
    if (fy_file_open_cached(root, file, now, &ex->file))
        return 0;
    char name[sizeof file->name + 256 + 1];
    bool index = file->trailing_slash && root->nindex > 0;
    snprintf(name, sizeof name, "%s%s%s", file->name, index && file->len ? "/" : "", index ? root->index[0] : "");
    if (fy_exchange_lookup(ex, root->fd, name))
        return FY_HANDLER_WAIT;
    return fy_file_open_uncached(root, file, now, &ex->file);
}

/* open_file() for the request, and for its fallback file when its own does
 * not exist.  The fallback must be a regular file: else the request's 404. */
static int open_request_file(struct fy_exchange *ex, struct fy_file_request *x, const struct fy_docroot **root,
                             struct fy_path *file)
{
    int status = ex->fallback ? 404 : open_file(ex, *root, file);
    if (status != 404 || !fy_fallback_map(ex, x, root, file))
        return status;
    status = open_file(ex, *root, file);
    if (status == 0 && !S_ISREG(ex->file.st.st_mode)) {
        fy_file_close(&ex->file);
        status = 404;
    }
    if (status == 0)
        fy_stats_add(ex->srv->slot, FY_C_FALLBACKS, 1);
    return status == 301 ? 404 : status;
}

int fy_handler_respond(struct fy_exchange *ex)
{
    /* Before redirect-to-https: a balancer checks the plain port too. */
    if (fy_health_wants(ex))
        return fy_health_respond(ex);
    const struct fy_request *r = &ex->req;
    struct fy_file_request x = {.site = fy_sites_lookup(&ex->srv->sites, r->host)};
    if (fy_redirect_to_https(ex, x.site))
        return 0;
    if (fy_status_wants(ex))
        return fy_status_respond(ex);
    if (r->method == FY_METHOD_UNKNOWN)
        return fy_respond_error(ex, x.site, 501, NULL);
    if (r->method != FY_METHOD_GET && r->method != FY_METHOD_HEAD && r->method != FY_METHOD_OPTIONS)
        return fy_respond_error(ex, x.site, 405, ALLOW);
    if (r->path.len == 1 && r->path.p[0] == '*')
        return respond_options(ex);

    struct fy_path url, file;
    char url_text[sizeof url.name + 2];
    int status = fy_path_resolve(r->path.p, r->path.len, &url);
    if (status == 0 && url_of(&url, url_text, sizeof url_text) < 0)
        status = 414;
    if (status)
        return fy_respond_error(ex, x.site, status, NULL);
    x.subj = (struct fy_rule_subject){.host = x.site->host, .url = url_text};
    /* A hidden path gets a missing file's 404, before the disk is asked
     * (no 301 or 403 of a directory either): whether it exists stays unsaid. */
    if (fy_hidden_refused(&(struct fy_hidden_scope){.cfg = &ex->srv->cfg, .host = x.site->host}, url_text))
        return fy_respond_error(ex, x.site, 404, NULL);
    if (fy_redirect_try(ex, &x))
        return 0;
    if (!fy_access_allowed(ex, &x))
        return fy_respond_error(ex, x.site, 403, NULL);
    int auth = fy_auth_check(ex, &x, FY_AUTH_URL); /* before anything is opened: see auth.h */
    if (auth != FY_AUTH_PASS)
        return auth;
    const struct fy_docroot *root = fy_site_map(x.site, &url, &file);
    status = open_request_file(ex, &x, &root, &file);
    if (status == FY_HANDLER_WAIT)
        return status;
    if (status == 301)
        return respond_redirect(ex, x.site, url_text);
    if (status)
        return fy_respond_error(ex, x.site, status, NULL);
    return respond_opened(ex, &x, root, &file);
}
