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
#include "request/exchange.h"
#include "http/http_response.h"
#include "http/multipart.h"
#include "http/range.h"
#include "http/repr_digest.h"

#define MULTIPART_TYPE_MAX 200 /* longer Content-Types get the whole file instead of parts */
#define RATE_READ_MIN (64 * 1024) /* the smallest read of a paced response (limit-rate) */

static void put_header(struct fy_buf *b, const char *name, const char *value, size_t len)
{
    fy_buf_puts(b, name);
    fy_buf_put(b, value, len);
    fy_buf_put(b, "\r\n", 2);
}

void fy_put_path_headers(struct fy_buf *b, const struct fy_exchange *ex, const struct fy_file_request *x)
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
    fy_rules_put_headers(&ex->srv->cfg, &x->subj, b);
}

/* What the heads of one file response say about the file. */
struct about {
    struct fy_validators v;      /* ETag (and the one it replaced), Last-Modified */
    char etag[FY_ETAG_MAX], alt[FY_ETAG_MAX];
    char digest[FY_REPR_DIGEST_MAX]; /* the Repr-Digest value, or "" */
    struct fy_str lines;         /* the Last-Modified and ETag header lines */
    char text[sizeof "Last-Modified: \r\nETag: \r\n" + FY_HTTP_DATE_LEN + FY_ETAG_MAX];
    size_t etag_off;             /* where the ETag's value starts in text */
};

/* Last-Modified and ETag (a->v.etag; none with etag = off), the
 * validators a cache revalidates with, as header lines in a->text. */
static void make_lines(const struct stat *st, struct about *a)
{
    char date[FY_HTTP_DATE_LEN + 1];
    struct fy_buf b = {.p = a->text, .cap = sizeof a->text};
    fy_http_date(st->st_mtim.tv_sec, date);
    put_header(&b, "Last-Modified: ", date, FY_HTTP_DATE_LEN);
    a->etag_off = b.len + strlen("ETag: ");
    if (a->v.etag.len)
        put_header(&b, "ETag: ", a->v.etag.p, a->v.etag.len);
    a->lines = (struct fy_str){a->text, b.len};
}

/* The lines of a file kept open are made once, with its entry, for the
 * etag mode they were asked in: they follow from its stat alone, which the
 * entry does not change.  a->v.etag points into them. */
static void file_lines(const struct fy_file *f, enum fy_etag_mode mode, struct about *a)
{
    struct fy_file_cache_entry *e = f->cached;
    if (e && e->validators_len && e->validators_mode == (unsigned char)mode) {
        a->v.etag = (struct fy_str){e->validators + e->etag_off, e->etag_len};
        a->lines = (struct fy_str){e->validators, e->validators_len};
        return;
    }
    a->v.etag = (struct fy_str){a->etag, fy_file_etag(&f->st, mode, a->etag)};
    make_lines(&f->st, a);
    if (e && a->lines.len <= sizeof e->validators) {
        memcpy(e->validators, a->lines.p, a->lines.len);
        e->validators_len = (unsigned short)a->lines.len;
        e->validators_mode = (unsigned char)mode;
        e->etag_off = (unsigned short)a->etag_off;
        e->etag_len = (unsigned short)a->v.etag.len;
    }
}

/* The file's SHA-256 when this response needs it and it is known; asking
 * starts computing it off the loop (digest.h).  Needed for etag = digest
 * and for a client whose Want-Repr-Digest asks for sha-256. */
static bool find_digest(struct fy_exchange *ex, const struct fy_file_request *x, int want, unsigned char *sha)
{
    if (x->set.etag != FY_ETAG_DIGEST && want <= 0)
        return false;
    return fy_digests_get(&ex->srv->digests, ex->file.fd, &ex->file.st, sha);
}

/* The validators and the Repr-Digest of c->file.  etag = digest: the
 * SHA-256 in hex once known, with the size-mtime tag, which it replaces,
 * still matching in conditions (a download begun before the hash was
 * known resumes); until then size-mtime alone.  Repr-Digest goes with
 * etag = digest, unless Want-Repr-Digest refuses sha-256, and whenever
 * Want-Repr-Digest asks for it; only once known, never waited for. */
static void describe(struct fy_exchange *ex, const struct fy_file_request *x, struct about *a)
{
    const struct stat *st = &ex->file.st;
    unsigned char sha[FY_SHA256_LEN];
    int want = fy_want_sha256(&ex->req);
    bool known = find_digest(ex, x, want, sha);
    a->v = (struct fy_validators){.mtime = st->st_mtim.tv_sec};
    a->digest[0] = '\0';
    if (known && x->set.etag == FY_ETAG_DIGEST) {
        a->v.alt = (struct fy_str){a->alt, fy_file_etag(st, FY_ETAG_SIZE_MTIME, a->alt)};
        a->v.etag = (struct fy_str){a->etag, fy_file_etag_digest(sha, a->etag)};
        make_lines(st, a);
    } else {
        file_lines(&ex->file, x->set.etag == FY_ETAG_DIGEST ? FY_ETAG_SIZE_MTIME : x->set.etag, a);
    }
    if (known && (want > 0 || (want < 0 && x->set.etag == FY_ETAG_DIGEST)))
        fy_repr_digest_value(sha, a->digest);
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
static int finish_file_head(struct fy_exchange *ex, const struct fy_file_request *x, struct fy_buf *b, int status,
                            off_t offset, off_t end)
{
    fy_put_path_headers(b, ex, x);
    fy_response_end(b, ex->keep_alive, ex->req.version_minor);
    if (b->overflow) {
        fy_file_close(&ex->file);
        return fy_respond_error(ex, x->site, 500, NULL);
    }
    ex->status = status;
    ex->xfer.head_len = b->len;
    ex->head_nonbody = b->len;
    if (ex->req.method == FY_METHOD_HEAD || offset >= end) {
        fy_file_close(&ex->file);
        return 0;
    }
    ex->xfer.file_fd = ex->file.fd;
    ex->xfer.offset = offset;
    ex->xfer.end = end;
    ex->rate = (struct fy_rate){.rate = x->set.limit_rate, .after = x->set.limit_rate_after};
    if (ex->rate.rate) /* a second's worth per read, so a buffer is not held for long */
        ex->xfer.read_max = ex->rate.rate < RATE_READ_MIN ? RATE_READ_MIN : (size_t)ex->rate.rate;
    if (ex->file.cached && (ex->body = fy_body_cache_get(&ex->srv->sites.cache.bodies, ex->file.cached)))
        ex->xfer.mem = ex->body->bytes;
    return 0;
}

static void start_head(struct fy_exchange *ex, const struct fy_file_request *x, struct fy_buf *b, int status,
                       const struct about *a)
{
    fy_response_start(b, status, fy_server_date(ex->srv));
    fy_buf_put(b, a->lines.p, a->lines.len);
    if (status != 304)
        fy_buf_puts(b, "Accept-Ranges: bytes\r\n");
    if (status != 304 && a->digest[0])
        put_header(b, "Repr-Digest: ", a->digest, strlen(a->digest));
    if (x->encoding && status != 304) {
        fy_buf_puts(b, "Content-Encoding: ");
        fy_buf_puts(b, x->encoding);
        fy_buf_put(b, "\r\n", 2);
    }
}

static int respond_single(struct fy_exchange *ex, const struct fy_file_request *x, struct fy_buf *b,
                          const struct about *a, struct fy_range r)
{
    start_head(ex, x, b, 206, a);
    put_body_headers(b, ex->file.content_type, (uint64_t)(r.last - r.first + 1));
    fy_buf_puts(b, "Content-Range: bytes ");
    fy_buf_put_u64(b, (uint64_t)r.first);
    fy_buf_put(b, "-", 1);
    fy_buf_put_u64(b, (uint64_t)r.last);
    fy_buf_put(b, "/", 1);
    fy_buf_put_u64(b, (uint64_t)ex->file.st.st_size);
    fy_buf_put(b, "\r\n", 2);
    return finish_file_head(ex, x, b, 206, r.first, r.last + 1);
}

/* The head, then the first part's head in the same buffer (so they leave
 * together); the exchange starts the other parts and the trailer. */
static int respond_multipart(struct fy_exchange *ex, const struct fy_file_request *x, struct fy_buf *b,
                             const struct about *a, const struct fy_range *ranges, size_t n)
{
    struct fy_multipart *mp = &ex->mp;
    uint64_t seed = (uint64_t)ex->srv->loop.now_ms ^ ((uint64_t)ex->nrequests << 40) ^ (uint64_t)ex->file.st.st_ino;
    fy_multipart_init(mp, ranges, (unsigned)n, ex->file.st.st_size, ex->file.content_type, seed);
    start_head(ex, x, b, 206, a);
    fy_buf_puts(b, "Content-Type: multipart/byteranges; boundary=");
    fy_buf_puts(b, mp->boundary);
    fy_buf_puts(b, "\r\nContent-Length: ");
    fy_buf_put_u64(b, fy_multipart_length(mp));
    fy_buf_put(b, "\r\n", 2);
    int status = finish_file_head(ex, x, b, 206, ranges[0].first, ranges[0].last + 1);
    if (status || ex->status != 206 || ex->req.method == FY_METHOD_HEAD) {
        mp->nranges = 0;
        return status;
    }
    size_t head_len = b->len;
    fy_multipart_next(mp, b, &ex->xfer.offset, &ex->xfer.end);
    if (b->overflow) {
        mp->nranges = 0;
        fy_file_close(&ex->file);
        return fy_respond_error(ex, x->site, 500, NULL);
    }
    ex->xfer.head_len = b->len;
    ex->head_nonbody = head_len;
    return 0;
}

static int respond_unsatisfiable(struct fy_exchange *ex, const struct fy_file_request *x)
{
    char extra[64];
    struct fy_buf b = {.p = extra, .cap = sizeof extra};
    fy_buf_puts(&b, "Content-Range: bytes */");
    fy_buf_put_u64(&b, (uint64_t)ex->file.st.st_size);
    fy_buf_put(&b, "\r\n", 2);
    extra[b.len] = '\0';
    fy_file_close(&ex->file);
    return fy_respond_error(ex, x->site, 416, extra);
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
static bool try_ranges(struct fy_exchange *ex, const struct fy_file_request *x, struct fy_buf *b,
                       const struct about *a)
{
    const struct fy_validators *v = &a->v;
    const struct fy_request *r = &ex->req;
    struct fy_range ranges[FY_RANGE_MAX];
    size_t n = 0;
    if (!wants_ranges(r, v))
        return false;
    switch (fy_range_parse(r->range, ex->file.st.st_size, ranges, &n)) {
    case FY_RANGE_IGNORE:
        return false;
    case FY_RANGE_UNSATISFIABLE:
        respond_unsatisfiable(ex, x);
        return true;
    case FY_RANGE_OK:
        break;
    }
    if (n == 1) {
        respond_single(ex, x, b, a, ranges[0]);
        return true;
    }
    if (strlen(ex->file.content_type) > MULTIPART_TYPE_MAX)
        return false;
    respond_multipart(ex, x, b, a, ranges, n);
    return true;
}

static int respond_not_modified(struct fy_exchange *ex, const struct fy_file_request *x, struct fy_buf *b,
                                const struct about *a)
{
    start_head(ex, x, b, 304, a);
    return finish_file_head(ex, x, b, 304, 0, 0);
}

int fy_respond_file(struct fy_exchange *ex, const struct fy_file_request *x)
{
    const struct stat *st = &ex->file.st;
    struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    struct about a;
    describe(ex, x, &a);

    int cond = fy_cond_evaluate(&ex->req, true, &a.v);
    if (cond == 304)
        return respond_not_modified(ex, x, &b, &a);
    if (cond == 412) {
        fy_file_close(&ex->file);
        return fy_respond_error(ex, x->site, 412, NULL);
    }
    if (try_ranges(ex, x, &b, &a))
        return 0;
    start_head(ex, x, &b, 200, &a);
    put_body_headers(&b, ex->file.content_type, (uint64_t)st->st_size);
    return finish_file_head(ex, x, &b, 200, 0, st->st_size);
}
