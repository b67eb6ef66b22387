/* Integrity fields (RFC 9530): the client's Want-Repr-Digest, and the
 * value of the Repr-Digest field ferry sends.  Pure functions.
 *
 * Only sha-256 is offered: the one algorithm RFC 9530 lists as active
 * that every client can check (sha-512 would cost a second pass over the
 * file for nothing a client asks for in practice). */
#ifndef FY_REPR_DIGEST_H
#define FY_REPR_DIGEST_H

#include <stddef.h>

#include "http/http_parse.h"

#define FY_SHA256_LEN 32
#define FY_REPR_DIGEST_MAX 64    /* "sha-256=:" base64 ":" and a NUL */

/* What Want-Repr-Digest (all its lines, one Structured Fields dictionary,
 * the last member of a name winning) says about sha-256: -1 without the
 * field (or a field that does not parse, which RFC 8941 says to ignore),
 * else its preference from 0 (not acceptable, also when it is not named)
 * to 10.  A bare "sha-256" (a boolean) counts as 1. */
int fy_want_sha256(const struct fy_request *req);

/* "sha-256=:BASE64:" into out (FY_REPR_DIGEST_MAX bytes); returns the length. */
size_t fy_repr_digest_value(const unsigned char sha[FY_SHA256_LEN], char *out);

#endif
