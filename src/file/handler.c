/* The static-file handler; see handler.h. */
#include "file/handler.h"

#include <stdio.h>

#include "core/server.h"
#include "file/file.h"
#include "file/path.h"
#include "http/conn.h"
#include "http/http_response.h"

/* "/dir" names a directory: send the client to "/dir/", query kept. */
static int respond_redirect(struct fy_conn *c)
{
    const struct fy_request *r = &c->req;
    char location[FY_CONN_HEAD_BUFFER / 2];
    int n = snprintf(location, sizeof location, "Location: %.*s/%s%.*s\r\n", (int)r->path.len, r->path.p,
                     r->query.len ? "?" : "", (int)r->query.len, r->query.p);
    if (n < 0 || (size_t)n >= sizeof location)
        return 414;
    struct fy_buf b = {.p = c->wbuf, .cap = FY_CONN_HEAD_BUFFER};
    c->body_bytes = fy_response_error(&b, 301, fy_server_date(c->srv), location, c->keep_alive,
                                      r->version_minor, r->method == FY_METHOD_HEAD);
    if (b.overflow)
        return 414;
    c->status = 301;
    c->xfer.head_len = b.len;
    return 0;
}

static void put_header(struct fy_buf *b, const char *name, const char *value, size_t len)
{
    fy_buf_puts(b, name);
    fy_buf_put(b, value, len);
    fy_buf_put(b, "\r\n", 2);
}

static int respond_file(struct fy_conn *c)
{
    const struct fy_request *r = &c->req;
    const struct stat *st = &c->file.st;
    struct fy_buf b = {.p = c->wbuf, .cap = FY_CONN_HEAD_BUFFER};
    char date[FY_HTTP_DATE_LEN + 1], etag[FY_ETAG_MAX];

    fy_response_start(&b, 200, fy_server_date(c->srv));
    fy_buf_puts(&b, "Content-Type: ");
    fy_buf_puts(&b, c->file.content_type);
    fy_buf_puts(&b, "\r\nContent-Length: ");
    fy_buf_put_u64(&b, (uint64_t)st->st_size);
    fy_buf_put(&b, "\r\n", 2);
    fy_http_date(st->st_mtim.tv_sec, date);
    put_header(&b, "Last-Modified: ", date, FY_HTTP_DATE_LEN);
    put_header(&b, "ETag: ", etag, fy_file_etag(st, etag));
    fy_response_end(&b, c->keep_alive, r->version_minor);
    if (b.overflow) {
        fy_file_close(&c->file);
        return 500;
    }
    c->status = 200;
    c->xfer.head_len = b.len;
    if (r->method == FY_METHOD_HEAD || st->st_size == 0) {
        fy_file_close(&c->file);
        return 0;
    }
    c->xfer.file_fd = c->file.fd;
    c->xfer.offset = 0;
    c->xfer.end = st->st_size;
    return 0;
}

int fy_handler_respond(struct fy_conn *c)
{
    const struct fy_request *r = &c->req;
    if (r->method == FY_METHOD_UNKNOWN)
        return 501;
    if (r->method != FY_METHOD_GET && r->method != FY_METHOD_HEAD)
        return 405;

    struct fy_path path;
    int status = fy_path_resolve(r->path.p, r->path.len, &path);
    if (status)
        return status;
    status = fy_file_open(&c->srv->root, &path, c->srv->loop.now_ms, &c->file);
    if (status == 301)
        return respond_redirect(c);
    if (status)
        return status;
    return respond_file(c);
}
