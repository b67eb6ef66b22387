/* The PROXY protocol (HAProxy's, versions 1 and 2): the header a load
 * balancer sends first on a connection to say whose it is.  A pure
 * parser; link.c reads the header before the first request on a listener
 * with `proxy-protocol`, and a connection whose first bytes are not a
 * valid header is closed.
 *
 *   v1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" (TCP6, or "PROXY UNKNOWN ...\r\n"), at most 107 bytes
 *   v2: a 12-byte signature, version and command, family, length, addresses, TLVs (ignored) */
#ifndef FY_PROXY_PROTOCOL_H
#define FY_PROXY_PROTOCOL_H

#include <stddef.h>
#include <sys/socket.h>

#define FY_PROXY_V1_MAX 107

/* The header at the start of buf[0..len): its length, with *src its source
 * address (family AF_UNSPEC when it names none: v1 UNKNOWN, v2 LOCAL, an
 * unspecified or non-IP family); 0 when more bytes are needed to tell;
 * -1 when buf does not start with a valid header.  A v2 header longer than
 * max (the room the caller has) is invalid. */
long fy_proxy_parse(const char *buf, size_t len, size_t max, struct sockaddr_storage *src);

#endif
