/* Integrity fields; see repr_digest.h. */
#include "http/repr_digest.h"

#include <stdbool.h>
#include <string.h>

static bool is_lcalpha(char ch) { return ch >= 'a' && ch <= 'z'; }
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

/* A dictionary key (RFC 8941 §3.2): ( lcalpha / "*" ) *( lcalpha / DIGIT /
 * "_" / "-" / "." / "*" ).  Returns its length, 0 when there is none. */
static size_t key_len(const char *p, const char *end)
{
    if (p == end || !(is_lcalpha(*p) || *p == '*'))
        return 0;
    size_t n = 1;
    while (p + n < end && (is_lcalpha(p[n]) || is_digit(p[n]) || strchr("_-.*", p[n])))
        n++;
    return n;
}

/* Skips a member's value other than an integer (a token, a string, a
 * decimal, parameters) up to the next ',' outside quotes.  False on an
 * unterminated string. */
static bool skip_value(const char **p, const char *end)
{
    bool quoted = false;
    for (; *p < end; (*p)++) {
        char ch = **p;
        if (quoted && ch == '\\' && *p + 1 < end)
            (*p)++;
        else if (ch == '"')
            quoted = !quoted;
        else if (ch == ',' && !quoted)
            return true;
    }
    return !quoted;
}

/* An integer of at most 15 digits (RFC 8941 §3.3.1); false otherwise. */
static bool read_integer(const char **p, const char *end, long long *out)
{
    const char *s = *p;
    bool neg = s < end && *s == '-';
    if (neg)
        s++;
    long long v = 0;
    int n = 0;
    for (; s < end && is_digit(*s); s++, n++) {
        if (n == 15)
            return false;
        v = v * 10 + (*s - '0');
    }
    if (n == 0 || (s < end && *s == '.'))
        return false;
    *p = s;
    *out = neg ? -v : v;
    return true;
}

/* One field line, members left to right; *weight becomes each sha-256
 * member's preference.  False when the line does not parse. */
static bool scan_line(struct fy_str line, int *weight)
{
    const char *p = line.p, *end = line.p + line.len;
    for (;;) {
        while (p < end && is_ows(*p))
            p++;
        size_t n = key_len(p, end);
        if (n == 0)
            return p == end; /* an empty line is an empty dictionary */
        bool sha256 = n == 7 && memcmp(p, "sha-256", 7) == 0;
        p += n;
        if (p < end && *p == '=') {
            p++;
            long long v;
            const char *num = p;
            if (read_integer(&p, end, &v)) {
                if (sha256)
                    *weight = v < 0 ? 0 : v > 10 ? 10 : (int)v;
            } else if (sha256) {
                return false; /* a preference must be an integer */
            } else {
                p = num;
            }
        } else if (sha256) {
            *weight = 1;
        }
        if (!skip_value(&p, end)) /* parameters, or another member's value */
            return false;
        if (p == end)
            return true;
        p++; /* the ',' */
        while (p < end && is_ows(*p))
            p++;
        if (p == end)
            return false; /* a trailing comma */
    }
}

int fy_want_sha256(const struct fy_request *req)
{
    int weight = 0;
    bool present = false;
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct fy_header *h = &req->headers[i];
        if (!fy_str_eq_nocase(h->name, "want-repr-digest"))
            continue;
        present = true;
        if (!scan_line(h->value, &weight))
            return -1;
    }
    return present ? weight : -1;
}

size_t fy_repr_digest_value(const unsigned char sha[FY_SHA256_LEN], char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 9;
    memcpy(out, "sha-256=:", n);
    for (size_t i = 0; i < FY_SHA256_LEN; i += 3) {
        unsigned v = (unsigned)sha[i] << 16;
        size_t have = FY_SHA256_LEN - i < 3 ? FY_SHA256_LEN - i : 3;
        if (have > 1)
            v |= (unsigned)sha[i + 1] << 8;
        if (have > 2)
            v |= sha[i + 2];
        out[n++] = b64[(v >> 18) & 63];
        out[n++] = b64[(v >> 12) & 63];
        out[n++] = have > 1 ? b64[(v >> 6) & 63] : '=';
        out[n++] = have > 2 ? b64[v & 63] : '=';
    }
    out[n++] = ':';
    out[n] = '\0';
    return n;
}
