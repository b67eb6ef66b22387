/* The credentials of HTTP Basic authentication (RFC 7617): the request's
 * "Authorization: Basic BASE64(user:password)", decoded.  A pure function
 * of the request: which realm asks, and whether the password is right, are
 * src/file/auth.c's business. */
#ifndef FY_BASIC_AUTH_H
#define FY_BASIC_AUTH_H

#include <stddef.h>

#include "http/http_parse.h"

/* The longest "user:password" taken, decoded; a longer one is malformed. */
#define FY_BASIC_AUTH_MAX 1024

enum fy_basic_auth_result {
    FY_BASIC_NONE,               /* no Authorization header */
    FY_BASIC_OK,                 /* user and password are set */
    FY_BASIC_MALFORMED,          /* another scheme, bad base64, no ':', too long, several headers... */
};

struct fy_basic_credentials {
    struct fy_str user;          /* not empty; no control characters, no ':' */
    struct fy_str password;      /* no NUL (crypt(3) would stop there) */
    char buf[FY_BASIC_AUTH_MAX]; /* the decoded bytes the two point into */
};

/* Reads the Authorization header of r into out.  The caller wipes out->buf
 * (explicit_bzero) when done: it holds a password. */
enum fy_basic_auth_result fy_basic_auth_parse(const struct fy_request *r, struct fy_basic_credentials *out);

/* Decodes base64 (RFC 4648 §4; the '=' padding may be left out) from
 * in[0..len) into out[0..cap).  Returns the decoded length, or -1 when in
 * is not base64 or does not fit. */
long fy_base64_decode(const char *in, size_t len, char *out, size_t cap);

#endif
