/* The health check; see health.h. */
#include "core/health.h"

#include <string.h>

#include "core/server.h"
#include "http/conn.h"
#include "http/http_response.h"

bool fy_health_wants(const struct fy_conn *c)
{
    const char *path = c->srv->cfg.health_path;
    size_t len = strlen(path);
    return len > 0 && c->req.path.len == len && memcmp(c->req.path.p, path, len) == 0;
}

int fy_health_respond(struct fy_conn *c)
{
    const struct fy_request *r = &c->req;
    if (r->method != FY_METHOD_GET && r->method != FY_METHOD_HEAD)
        return 405;
    bool draining = c->srv->draining;
    const char *body = draining ? "draining\n" : "ok\n";
    size_t len = strlen(body);
    struct fy_buf b = {.p = c->wbuf, .cap = FY_CONN_HEAD_BUFFER};
    fy_response_start(&b, draining ? 503 : 200, fy_server_date(c->srv));
    fy_buf_puts(&b, "Content-Type: text/plain\r\nCache-Control: no-store\r\nContent-Length: ");
    fy_buf_put_u64(&b, len);
    fy_buf_puts(&b, "\r\n");
    fy_response_end(&b, c->keep_alive, r->version_minor);
    size_t head = b.len;
    if (r->method == FY_METHOD_GET)
        fy_buf_puts(&b, body);
    if (b.overflow)
        return 500;
    c->status = draining ? 503 : 200;
    c->xfer.head_len = b.len;
    c->head_nonbody = head;
    return 0;
}
