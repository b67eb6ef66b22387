/* Error responses of the file handler: the host's configured page for the
 * status (error-page = STATUS PATH, the [host]'s own before the top
 * level's), sent with the error status like any file, or the built-in page
 * when none is configured or it cannot be opened. */
#include <string.h>
#include <sys/stat.h>

#include "core/server.h"
#include "file/respond.h"
#include "request/exchange.h"
#include "http/http_response.h"

static const char *find_page(const struct fy_config *cfg, unsigned host, int status)
{
    const char *fallback = NULL;
    for (unsigned i = 0; i < cfg->nerror_pages; i++) {
        const struct fy_error_page_config *e = &cfg->error_pages[i];
        if (e->status != status)
            continue;
        if (e->host == host)
            return fy_config_text(cfg, e->path);
        if (e->host == 0)
            fallback = fy_config_text(cfg, e->path);
    }
    return fallback;
}

/* Opens the page into ex->file; false if it is not a readable regular file. */
static bool open_page(struct fy_exchange *ex, const struct fy_site *site, const char *page)
{
    struct fy_path url, file;
    if (fy_path_resolve(page, strlen(page), &url) != 0)
        return false;
    const struct fy_docroot *root = fy_site_map(site, &url, &file);
    if (fy_file_open(root, &file, ex->srv->loop.now_ms, &ex->file) != 0)
        return false;
    if (!S_ISREG(ex->file.st.st_mode)) {
        fy_file_close(&ex->file);
        return false;
    }
    return true;
}

static bool respond_page(struct fy_exchange *ex, const struct fy_site *site, int status, const char *extra)
{
    const char *page = site ? find_page(&ex->srv->cfg, site->host, status) : NULL;
    if (!page || !open_page(ex, site, page))
        return false;
    struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    fy_response_start(&b, status, fy_server_date(ex->srv));
    fy_buf_puts(&b, "Content-Type: ");
    fy_buf_puts(&b, ex->file.content_type);
    fy_buf_puts(&b, "\r\nContent-Length: ");
    fy_buf_put_u64(&b, (uint64_t)ex->file.st.st_size);
    fy_buf_put(&b, "\r\n", 2);
    if (extra)
        fy_buf_puts(&b, extra);
    fy_response_end(&b, ex->keep_alive, ex->req.version_minor);
    if (b.overflow) {
        fy_file_close(&ex->file);
        return false;
    }
    ex->status = status;
    ex->xfer.head_len = b.len;
    ex->head_nonbody = b.len;
    if (ex->req.method == FY_METHOD_HEAD || ex->file.st.st_size == 0) {
        fy_file_close(&ex->file);
        return true;
    }
    ex->xfer.file_fd = ex->file.fd;
    ex->xfer.offset = 0;
    ex->xfer.end = ex->file.st.st_size;
    return true;
}

int fy_respond_error(struct fy_exchange *ex, const struct fy_site *site, int status, const char *extra)
{
    if (fy_status_closes(status))
        ex->keep_alive = false;
    /* Whatever an earlier step prepared goes: the error replaces it. */
    fy_file_close(&ex->file);
    ex->mp.nranges = 0;
    ex->xfer.file_fd = -1;
    ex->xfer.offset = ex->xfer.end = 0;
    if (respond_page(ex, site, status, extra))
        return 0;
    struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    size_t body = fy_response_error(&b, status, fy_server_date(ex->srv), extra, ex->keep_alive,
                                    ex->req.version_minor, ex->req.method == FY_METHOD_HEAD);
    ex->status = status;
    ex->xfer.head_len = b.len;
    ex->head_nonbody = b.len - body;
    return 0;
}
