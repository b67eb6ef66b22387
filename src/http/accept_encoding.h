/* Accept-Encoding (RFC 9110 §12.5.3): how much a client wants a content
 * coding, from its q-values. */
#ifndef FY_ACCEPT_ENCODING_H
#define FY_ACCEPT_ENCODING_H

#include "http/http_parse.h"

/* The quality, 0 to 1000, the header (all its lines, as one list) gives
 * `coding` (lowercase, e.g. "br", "gzip"): its own entry ("x-gzip" counts
 * as "gzip"; the last one when there are several), else "*", else 0.
 * An absent header gives 0: ferry then sends the file as it is, as nginx's
 * gzip_static does, although the RFC would allow any coding.  A malformed
 * q-value makes its entry count as q=0. */
unsigned fy_accept_encoding_q(struct fy_field_lines header, const char *coding);

#endif
