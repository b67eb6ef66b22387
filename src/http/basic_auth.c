/* Basic credentials; see basic_auth.h. */
#include "http/basic_auth.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

static int b64_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

long fy_base64_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t pad = 0;
    while (pad < 2 && len > 0 && in[len - 1] == '=')
        len--, pad++;
    if (len % 4 == 1 || (pad && (len + pad) % 4 != 0))
        return -1;
    size_t n = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (long)n;
}

/* The one Authorization line, or false when there are several. */
static bool find_header(const struct fy_request *r, struct fy_str *value, bool *found)
{
    *found = false;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!fy_str_eq_nocase(r->headers[i].name, "authorization"))
            continue;
        if (*found)
            return false;
        *found = true;
        *value = r->headers[i].value;
    }
    return true;
}

static bool has_control(const char *p, size_t n, bool nul_only)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == 0 || (!nul_only && (ch < 0x20 || ch == 0x7f)))
            return true;
    }
    return false;
}

enum fy_basic_auth_result fy_basic_auth_parse(const struct fy_request *r, struct fy_basic_credentials *out)
{
    struct fy_str v = {0};
    bool found;
    out->user = out->password = (struct fy_str){0};
    if (!find_header(r, &v, &found))
        return FY_BASIC_MALFORMED;
    if (!found)
        return FY_BASIC_NONE;
    /* "Basic" 1*SP token68: the scheme is case-insensitive (RFC 9110 §11.1). */
    if (v.len < 6 || strncasecmp(v.p, "basic", 5) != 0 || v.p[5] != ' ')
        return FY_BASIC_MALFORMED;
    size_t at = 6;
    while (at < v.len && v.p[at] == ' ')
        at++;
    long n = fy_base64_decode(v.p + at, v.len - at, out->buf, sizeof out->buf);
    const char *colon = n > 0 ? memchr(out->buf, ':', (size_t)n) : NULL;
    if (!colon || colon == out->buf)
        return FY_BASIC_MALFORMED;
    size_t ulen = (size_t)(colon - out->buf), plen = (size_t)n - ulen - 1;
    if (has_control(out->buf, ulen, false) || has_control(colon + 1, plen, true))
        return FY_BASIC_MALFORMED;
    out->user = (struct fy_str){out->buf, ulen};
    out->password = (struct fy_str){colon + 1, plen};
    return FY_BASIC_OK;
}
