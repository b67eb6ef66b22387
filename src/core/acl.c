/* Access lists; see acl.h. */
#include "core/acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fy_cidr_parse(const char *text, bool all_ok, struct fy_cidr *out, char *err, size_t errlen)
{
    char addr[64];
    *out = (struct fy_cidr){0};
    if (all_ok && strcmp(text, "all") == 0) {
        out->family = AF_UNSPEC;
        return 0;
    }
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    if (alen == 0 || alen >= sizeof addr) {
        snprintf(err, errlen, "\"%s\" is not an address or network", text);
        return -1;
    }
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET, addr, out->addr) == 1) {
        out->family = AF_INET;
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        out->family = AF_INET6;
    } else {
        snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address%s", addr, all_ok ? " (or all)" : "");
        return -1;
    }
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->prefix = max;
    if (slash) {
        const char *p = slash + 1;
        char *end;
        unsigned long bits = strtoul(p, &end, 10);
        if (p[0] < '0' || p[0] > '9' || *end != '\0' || bits > max || end - p > 3) {
            snprintf(err, errlen, "bad prefix length in \"%s\" (want 0 to %u)", text, max);
            return -1;
        }
        out->prefix = (unsigned)bits;
    }
    return 0;
}

/* The address bytes of peer, IPv4-mapped IPv6 taken as IPv4; NULL for
 * another family. */
static const unsigned char *peer_bytes(const struct sockaddr_storage *peer, sa_family_t *family)
{
    if (peer->ss_family == AF_INET) {
        *family = AF_INET;
        return (const unsigned char *)&((const struct sockaddr_in *)peer)->sin_addr;
    }
    if (peer->ss_family != AF_INET6)
        return NULL;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
        *family = AF_INET;
        return a6->s6_addr + 12;
    }
    *family = AF_INET6;
    return a6->s6_addr;
}

bool fy_cidr_contains(const struct fy_cidr *net, const struct sockaddr_storage *peer)
{
    sa_family_t family;
    if (net->family == AF_UNSPEC)
        return true;
    const unsigned char *addr = peer_bytes(peer, &family);
    if (!addr || net->family != family)
        return false;
    unsigned full = net->prefix / 8, rest = net->prefix % 8;
    if (memcmp(net->addr, addr, full) != 0)
        return false;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return rest == 0 || (net->addr[full] & mask) == (addr[full] & mask);
}

bool fy_acl_allows(const struct fy_acl_entry *list, size_t n, const struct sockaddr_storage *peer)
{
    bool any_allow = false;
    for (size_t i = 0; i < n; i++) {
        if (fy_cidr_contains(&list[i].net, peer))
            return !list[i].deny;
        any_allow |= !list[i].deny;
    }
    return !any_allow;
}
