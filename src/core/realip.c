/* The client's address behind a proxy; see realip.h. */
#include "core/realip.h"

#include <arpa/inet.h>
#include <string.h>

/* Whether addr is one of the peers real-ip-from names. */
static bool trusted(const struct fy_config *cfg, const struct sockaddr_storage *addr)
{
    return cfg->nreal_ip_from > 0 && fy_acl_allows(cfg->real_ip_from, cfg->nreal_ip_from, addr);
}

/* One list element as an address ("192.0.2.1", "2001:db8::1", "[2001:db8::1]"). */
static bool parse_addr(const char *p, size_t n, struct sockaddr_storage *out)
{
    char text[INET6_ADDRSTRLEN + 2];
    if (n >= 2 && p[0] == '[' && p[n - 1] == ']')
        p++, n -= 2;
    if (n == 0 || n >= sizeof text)
        return false;
    memcpy(text, p, n);
    text[n] = '\0';
    memset(out, 0, sizeof *out);
    struct sockaddr_in *sin = (struct sockaddr_in *)out;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

/* The last element of value[0..*end), trimmed; *end moves before it (and
 * its comma).  False when none is left. */
static bool last_element(const char *value, size_t *end, const char **el, size_t *len)
{
    size_t e = *end;
    while (e > 0 && (value[e - 1] == ' ' || value[e - 1] == '\t' || value[e - 1] == ','))
        e--;
    if (e == 0)
        return false;
    size_t s = e;
    while (s > 0 && value[s - 1] != ',')
        s--;
    size_t t = s;
    while (t < e && (value[t] == ' ' || value[t] == '\t'))
        t++;
    *el = value + t;
    *len = e - t;
    *end = s;
    return true;
}

void fy_realip(const struct fy_config *cfg, const struct sockaddr_storage *peer, const struct fy_request *req,
               struct sockaddr_storage *out)
{
    *out = *peer;
    if (!trusted(cfg, out))
        return;
    /* The lines from the last to the first, each from its right end. */
    for (size_t i = req->nheaders; i-- > 0;) {
        const struct fy_header *h = &req->headers[i];
        if (!fy_str_eq_nocase(h->name, "x-forwarded-for"))
            continue;
        size_t end = h->value.len;
        const char *el;
        size_t len;
        while (last_element(h->value.p, &end, &el, &len)) {
            struct sockaddr_storage a;
            if (!parse_addr(el, len, &a))
                return;
            *out = a;
            if (!trusted(cfg, out))
                return;
        }
    }
}
