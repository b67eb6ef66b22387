/* max-connections-per-ip: the connections each client address holds open
 * in this worker.  A hash table of counts, an entry only while its address
 * holds a connection (so its size follows the connections, never the
 * addresses ever seen).  IPv4-mapped IPv6 counts as the IPv4 address. */
#ifndef FY_PER_IP_H
#define FY_PER_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct fy_ip_count;

struct fy_per_ip {
    struct fy_ip_count **buckets;
    size_t nbuckets;             /* a power of two */
    size_t naddrs;               /* addresses holding a connection */
};

/* Room for about `expected` addresses.  Returns 0 or -ENOMEM. */
int  fy_per_ip_init(struct fy_per_ip *t, size_t expected);
void fy_per_ip_free(struct fy_per_ip *t);

/* One more connection of addr, unless it holds max already (or memory
 * runs out): then false and nothing counted. */
bool fy_per_ip_take(struct fy_per_ip *t, const struct sockaddr_storage *addr, unsigned max);

/* One connection of addr (counted by fy_per_ip_take) fewer. */
void fy_per_ip_put(struct fy_per_ip *t, const struct sockaddr_storage *addr);

#endif
