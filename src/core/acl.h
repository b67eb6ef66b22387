/* Access lists: who may ask, by client address.  One list is a sequence of
 * "allow NETWORK" and "deny NETWORK" entries, checked in order: the first
 * entry whose network holds the client decides.  When none does, a list
 * that allows anyone refuses everyone else (an allowlist), and a list of
 * denials only lets everyone else in (a blocklist).
 *
 * Used by the status page (status-allow: a list of allows) and by the
 * per-path allow/deny keys (file/access.c).  An IPv4-mapped IPv6 client
 * (::ffff:a.b.c.d, on a dual-stack socket) is taken as IPv4. */
#ifndef FY_ACL_H
#define FY_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* A network: "127.0.0.0/8", "::1" (a /128), or every address ("all"). */
struct fy_cidr {
    sa_family_t family;          /* AF_INET, AF_INET6, or AF_UNSPEC: all */
    unsigned char addr[16];      /* network byte order; 4 bytes for IPv4 */
    unsigned prefix;             /* bits that must match */
};

struct fy_acl_entry {
    bool deny;
    struct fy_cidr net;
};

/* "ADDR" or "ADDR/BITS", IPv4 or IPv6; with all_ok, also "all".  Returns 0
 * or -1 with a message. */
int fy_cidr_parse(const char *text, bool all_ok, struct fy_cidr *out, char *err, size_t errlen);

bool fy_cidr_contains(const struct fy_cidr *net, const struct sockaddr_storage *peer);

/* Whether the list lets peer in (see above). */
bool fy_acl_allows(const struct fy_acl_entry *list, size_t n, const struct sockaddr_storage *peer);

#endif
