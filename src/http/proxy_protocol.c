/* The PROXY protocol; see proxy_protocol.h. */
#include "http/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const char V2_SIG[12] = "\r\n\r\n\0\r\nQUIT\n";

/* A decimal port 0..65535 without leading zeros. */
static bool parse_port(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* The words of a v1 line (without its CRLF), split at single spaces. */
static size_t split_words(const char *line, size_t n, const char *w[6], size_t wl[6])
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != ' ')
            continue;
        if (k == 6)
            return 7;
        w[k] = line + start;
        wl[k++] = i - start;
        start = i + 1;
    }
    return k;
}

static bool v1_address(const char *s, size_t n, int family, void *out)
{
    char text[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof text)
        return false;
    memcpy(text, s, n);
    text[n] = '\0';
    return inet_pton(family, text, out) == 1;
}

static long parse_v1(const char *buf, size_t len, struct sockaddr_storage *src)
{
    const char *crlf = NULL;
    size_t scan = len < FY_PROXY_V1_MAX ? len : FY_PROXY_V1_MAX;
    for (size_t i = 0; i < scan && !crlf; i++) {
        if (buf[i] == '\r' && i + 1 == len)
            return 0;
        if (buf[i] == '\r' && buf[i + 1] == '\n')
            crlf = buf + i;
        else if (buf[i] == '\r' || buf[i] == '\n' || buf[i] == '\0')
            return -1;
    }
    if (!crlf)
        return len >= FY_PROXY_V1_MAX ? -1 : 0;
    long total = (long)(crlf - buf) + 2;
    const char *w[6];
    size_t wl[6];
    size_t k = split_words(buf, (size_t)(crlf - buf), w, wl);
    memset(src, 0, sizeof *src);
    src->ss_family = AF_UNSPEC;
    if (k >= 2 && wl[1] == 7 && memcmp(w[1], "UNKNOWN", 7) == 0)
        return total; /* whatever follows is to be ignored */
    bool v4 = k == 6 && wl[1] == 4 && memcmp(w[1], "TCP4", 4) == 0;
    bool v6 = k == 6 && wl[1] == 4 && memcmp(w[1], "TCP6", 4) == 0;
    uint16_t sport, dport;
    if ((!v4 && !v6) || !parse_port(w[4], wl[4], &sport) || !parse_port(w[5], wl[5], &dport))
        return -1;
    unsigned char dst[16];
    if (v4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)src;
        if (!v1_address(w[2], wl[2], AF_INET, &sin->sin_addr) || !v1_address(w[3], wl[3], AF_INET, dst))
            return -1;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(sport);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)src;
        if (!v1_address(w[2], wl[2], AF_INET6, &sin6->sin6_addr) || !v1_address(w[3], wl[3], AF_INET6, dst))
            return -1;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(sport);
    }
    return total;
}

static long parse_v2(const unsigned char *b, size_t len, size_t max, struct sockaddr_storage *src)
{
    if (len < 16)
        return 0;
    unsigned ver = b[12] >> 4, cmd = b[12] & 15, fam = b[13] >> 4, proto = b[13] & 15;
    size_t body = (size_t)b[14] << 8 | b[15];
    if (ver != 2 || cmd > 1 || 16 + body > max)
        return -1;
    if (len < 16 + body)
        return 0;
    memset(src, 0, sizeof *src);
    src->ss_family = AF_UNSPEC;
    if (cmd == 0 || proto != 1) /* LOCAL (the balancer's own check), or not a stream: the peer stays */
        return (long)(16 + body);
    if (fam == 1) {
        if (body < 12)
            return -1;
        struct sockaddr_in *sin = (struct sockaddr_in *)src;
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, b + 16, 4);
        memcpy(&sin->sin_port, b + 24, 2);
    } else if (fam == 2) {
        if (body < 36)
            return -1;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)src;
        sin6->sin6_family = AF_INET6;
        memcpy(&sin6->sin6_addr, b + 16, 16);
        memcpy(&sin6->sin6_port, b + 48, 2);
    }
    return (long)(16 + body);
}

long fy_proxy_parse(const char *buf, size_t len, size_t max, struct sockaddr_storage *src)
{
    size_t n = len < sizeof V2_SIG ? len : sizeof V2_SIG;
    if (memcmp(buf, V2_SIG, n) == 0)
        return n < sizeof V2_SIG ? 0 : parse_v2((const unsigned char *)buf, len, max, src);
    n = len < 6 ? len : 6;
    if (memcmp(buf, "PROXY ", n) != 0)
        return -1;
    return n < 6 ? 0 : parse_v1(buf, len, src);
}
