/* Escaping text for HTML and for URLs: what a server writes back of names
 * it did not choose (file names in listings, paths in Location). */
#ifndef FY_ESCAPE_H
#define FY_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* & < > " ' as entities.  out needs 6 bytes per byte of s, plus the NUL.
 * Returns the length written. */
size_t fy_html_escape(const char *s, char *out);

/* Percent-encodes every byte but RFC 3986's unreserved characters (and
 * '/' when keep_slash): a file name then reads as one relative segment,
 * never a scheme, a query or an authority.  out needs 3 bytes per byte of
 * s, plus the NUL.  Returns the length written. */
size_t fy_url_encode(const char *s, char *out, bool keep_slash);

#endif
