/* Responses of the static-file handler; see respond.h.
 *
 * For a file, in the order of RFC 9110 §13.2.2: the conditions (304, 412),
 * then, for GET, Range (206, 416) unless If-Range says the client's copy is
 * stale, else 200.  Every file response carries its validators and the
 * per-path headers; a 304 carries those and nothing about a body. */
#include "file/respond.h"

#include <string.h>
#include <time.h>

#include "core/server.h"
#include "file/download.h"
#include "http/cond.h"
#include "http/conn.h"
#include "http/http_response.h"
#include "http/multipart.h"
#include "http/range.h"

#define MULTIPART_TYPE_MAX 200 /* longer Content-Types get the whole file instead of parts */

static void put_header(struct fy_buf *b, const char *name, const char *value, size_t len)
{
    fy_buf_puts(b, name);
    fy_buf_put(b, value, len);
    fy_buf_put(b, "\r\n", 2);
}

void fy_put_path_headers(struct fy_buf *b, const struct fy_conn *c, const struct fy_file_request *x)
{
    if (x->set.cache_control)
        put_header(b, "Cache-Control: ", x->set.cache_control, strlen(x->set.cache_control));
    if (x->set.expires_s > 0) {
        char date[FY_HTTP_DATE_LEN + 1];
        fy_http_date(time(NULL) + (time_t)x->set.expires_s, date);
        put_header(b, "Expires: ", date, FY_HTTP_DATE_LEN);
    }
    if (x->set.precompressed || x->vary)
        fy_buf_puts(b, "Vary: Accept-Encoding\r\n");
    if (x->set.download && x->subj.file_name)
        fy_download_put_header(b, x->subj.file_name);
    fy_rules_put_headers(&c->srv->cfg, &x->subj, b);
}

/* Last-Modified and ETag, the validators a cache revalidates with, as
 * header lines; *etag points at the ETag's value in them. */
struct validators {
    char text[FY_FILE_CACHE_VALIDATORS];
    struct fy_buf b;
    struct fy_str etag;
};

static void make_validators(const struct stat *st, struct validators *v)
{
    char date[FY_HTTP_DATE_LEN + 1], etag[FY_ETAG_MAX];
    size_t etag_len = fy_file_etag(st, etag);
    fy_http_date(st->st_mtim.tv_sec, date);
    v->b = (struct fy_buf){.p = v->text, .cap = sizeof v->text};
    put_header(&v->b, "Last-Modified: ", date, FY_HTTP_DATE_LEN);
    fy_buf_puts(&v->b, "ETag: ");
    v->etag = (struct fy_str){v->text + v->b.len, etag_len};
    put_header(&v->b, "", etag, etag_len);
}

/* A file kept open has them made once, with its entry: they follow from
 * its stat alone, which the entry does not change. */
static struct fy_str file_validators(const struct fy_file *f, struct validators *v, struct fy_str *etag)
{
    struct fy_file_cache_entry *e = f->cached;
    if (e && e->validators_len) {
        *etag = (struct fy_str){e->validators + e->etag_off, e->etag_len};
        return (struct fy_str){e->validators, e->validators_len};
    }
    make_validators(&f->st, v);
    *etag = v->etag;
    if (e && !v->b.overflow) {
        memcpy(e->validators, v->text, v->b.len);
        e->validators_len = (unsigned short)v->b.len;
        e->etag_off = (unsigned short)(v->etag.p - v->text);
        e->etag_len = (unsigned short)v->etag.len;
    }
    return (struct fy_str){v->text, v->b.len};
}

static void put_body_headers(struct fy_buf *b, const char *type, uint64_t length)
{
    fy_buf_puts(b, "Content-Type: ");
    fy_buf_puts(b, type);
    fy_buf_puts(b, "\r\nContent-Length: ");
    fy_buf_put_u64(b, length);
    fy_buf_put(b, "\r\n", 2);
}

/* Ends the head; the body is [offset, end) of the file (nothing for HEAD). */
static int finish_file_head(struct fy_conn *c, const struct fy_file_request *x, struct fy_buf *b, int status,
                            off_t offset, off_t end)
{
    fy_put_path_headers(b, c, x);
    fy_response_end(b, c->keep_alive, c->req.version_minor);
    if (b->overflow) {
        fy_file_close(&c->file);
        return fy_respond_error(c, x->site, 500, NULL);
    }
    c->status = status;
    c->xfer.head_len = b->len;
    c->head_nonbody = b->len;
    if (c->req.method == FY_METHOD_HEAD || offset >= end) {
        fy_file_close(&c->file);
        return 0;
    }
    c->xfer.file_fd = c->file.fd;
    c->xfer.offset = offset;
    c->xfer.end = end;
    if (c->file.cached && (c->body = fy_body_cache_get(&c->srv->sites.cache.bodies, c->file.cached)))
        c->xfer.mem = c->body->bytes;
    return 0;
}

static void start_head(struct fy_conn *c, const struct fy_file_request *x, struct fy_buf *b, int status,
                       struct fy_str validators)
{
    fy_response_start(b, status, fy_server_date(c->srv));
    fy_buf_put(b, validators.p, validators.len);
    if (status != 304)
        fy_buf_puts(b, "Accept-Ranges: bytes\r\n");
    if (x->encoding && status != 304) {
        fy_buf_puts(b, "Content-Encoding: ");
        fy_buf_puts(b, x->encoding);
        fy_buf_put(b, "\r\n", 2);
    }
}

static int respond_single(struct fy_conn *c, const struct fy_file_request *x, struct fy_buf *b,
                          struct fy_str validators, struct fy_range r)
{
    start_head(c, x, b, 206, validators);
    put_body_headers(b, c->file.content_type, (uint64_t)(r.last - r.first + 1));
    fy_buf_puts(b, "Content-Range: bytes ");
    fy_buf_put_u64(b, (uint64_t)r.first);
    fy_buf_put(b, "-", 1);
    fy_buf_put_u64(b, (uint64_t)r.last);
    fy_buf_put(b, "/", 1);
    fy_buf_put_u64(b, (uint64_t)c->file.st.st_size);
    fy_buf_put(b, "\r\n", 2);
    return finish_file_head(c, x, b, 206, r.first, r.last + 1);
}

/* The head, then the first part's head in the same buffer (so they leave
 * together); conn.c starts the other parts and the trailer. */
static int respond_multipart(struct fy_conn *c, const struct fy_file_request *x, struct fy_buf *b,
                             struct fy_str validators, const struct fy_range *ranges, size_t n)
{
    struct fy_multipart *mp = &c->mp;
    uint64_t seed = (uint64_t)c->srv->loop.now_ms ^ ((uint64_t)c->nrequests << 40) ^ (uint64_t)c->file.st.st_ino;
    fy_multipart_init(mp, ranges, (unsigned)n, c->file.st.st_size, c->file.content_type, seed);
    start_head(c, x, b, 206, validators);
    fy_buf_puts(b, "Content-Type: multipart/byteranges; boundary=");
    fy_buf_puts(b, mp->boundary);
    fy_buf_puts(b, "\r\nContent-Length: ");
    fy_buf_put_u64(b, fy_multipart_length(mp));
    fy_buf_put(b, "\r\n", 2);
    int status = finish_file_head(c, x, b, 206, ranges[0].first, ranges[0].last + 1);
    if (status || c->status != 206 || c->req.method == FY_METHOD_HEAD) {
        mp->nranges = 0;
        return status;
    }
    size_t head_len = b->len;
    fy_multipart_next(mp, b, &c->xfer.offset, &c->xfer.end);
    if (b->overflow) {
        mp->nranges = 0;
        fy_file_close(&c->file);
        return fy_respond_error(c, x->site, 500, NULL);
    }
    c->xfer.head_len = b->len;
    c->head_nonbody = head_len;
    return 0;
}

static int respond_unsatisfiable(struct fy_conn *c, const struct fy_file_request *x)
{
    char extra[64];
    struct fy_buf b = {.p = extra, .cap = sizeof extra};
    fy_buf_puts(&b, "Content-Range: bytes */");
    fy_buf_put_u64(&b, (uint64_t)c->file.st.st_size);
    fy_buf_put(&b, "\r\n", 2);
    extra[b.len] = '\0';
    fy_file_close(&c->file);
    return fy_respond_error(c, x->site, 416, extra);
}

/* Range handling is defined for GET alone, and a server must ignore Range
 * with any other method (RFC 9110 §14.2): HEAD describes the whole file,
 * whatever Range and If-Range say. */
static bool wants_ranges(const struct fy_request *r, const struct fy_validators *v)
{
    return r->method == FY_METHOD_GET && r->range.p && fy_cond_if_range(r->if_range, v);
}

/* Whether the Range header decided the answer (206 or 416, built);
 * false for the whole file. */
static bool try_ranges(struct fy_conn *c, const struct fy_file_request *x, struct fy_buf *b,
                       const struct fy_validators *v, struct fy_str validators)
{
    const struct fy_request *r = &c->req;
    struct fy_range ranges[FY_RANGE_MAX];
    size_t n = 0;
    if (!wants_ranges(r, v))
        return false;
    switch (fy_range_parse(r->range, c->file.st.st_size, ranges, &n)) {
    case FY_RANGE_IGNORE:
        return false;
    case FY_RANGE_UNSATISFIABLE:
        respond_unsatisfiable(c, x);
        return true;
    case FY_RANGE_OK:
        break;
    }
    if (n == 1) {
        respond_single(c, x, b, validators, ranges[0]);
        return true;
    }
    if (strlen(c->file.content_type) > MULTIPART_TYPE_MAX)
        return false;
    respond_multipart(c, x, b, validators, ranges, n);
    return true;
}

static int respond_not_modified(struct fy_conn *c, const struct fy_file_request *x, struct fy_buf *b,
                                struct fy_str validators)
{
    start_head(c, x, b, 304, validators);
    return finish_file_head(c, x, b, 304, 0, 0);
}

int fy_respond_file(struct fy_conn *c, const struct fy_file_request *x)
{
    const struct stat *st = &c->file.st;
    struct fy_buf b = {.p = c->wbuf, .cap = FY_CONN_HEAD_BUFFER};
    struct validators made;
    struct fy_validators v = {.mtime = st->st_mtim.tv_sec};
    struct fy_str validators = file_validators(&c->file, &made, &v.etag);

    int cond = fy_cond_evaluate(&c->req, true, &v);
    if (cond == 304)
        return respond_not_modified(c, x, &b, validators);
    if (cond == 412) {
        fy_file_close(&c->file);
        return fy_respond_error(c, x->site, 412, NULL);
    }
    if (try_ranges(c, x, &b, &v, validators))
        return 0;
    start_head(c, x, &b, 200, validators);
    put_body_headers(&b, c->file.content_type, (uint64_t)st->st_size);
    return finish_file_head(c, x, &b, 200, 0, st->st_size);
}
