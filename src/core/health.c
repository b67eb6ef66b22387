/* The health check; see health.h. */
#include "core/health.h"

#include <string.h>

#include "core/server.h"
#include "request/exchange.h"
#include "http/http_response.h"

bool fy_health_wants(const struct fy_exchange *ex)
{
    const char *path = ex->srv->cfg.health_path;
    size_t len = strlen(path);
    return len > 0 && ex->req.path.len == len && memcmp(ex->req.path.p, path, len) == 0;
}

int fy_health_respond(struct fy_exchange *ex)
{
    const struct fy_request *r = &ex->req;
    if (r->method != FY_METHOD_GET && r->method != FY_METHOD_HEAD)
        return 405;
    bool draining = ex->srv->draining;
    const char *body = draining ? "draining\n" : "ok\n";
    size_t len = strlen(body);
    struct fy_buf b = {.p = ex->wbuf, .cap = FY_EXCHANGE_HEAD_BUFFER};
    fy_response_start(&b, draining ? 503 : 200, fy_server_date(ex->srv));
    fy_buf_puts(&b, "Content-Type: text/plain\r\nCache-Control: no-store\r\nContent-Length: ");
    fy_buf_put_u64(&b, len);
    fy_buf_puts(&b, "\r\n");
    fy_response_end(&b, ex->keep_alive, r->version_minor);
    size_t head = b.len;
    if (r->method == FY_METHOD_GET)
        fy_buf_puts(&b, body);
    if (b.overflow)
        return 500;
    ex->status = draining ? 503 : 200;
    ex->xfer.head_len = b.len;
    ex->head_nonbody = head;
    return 0;
}
