/* Precompressed siblings: "style.css.br" and "style.css.gz" made ahead of
 * time next to "style.css", sent in its place (with Content-Encoding) to a
 * client whose Accept-Encoding takes them.  Off by default; the
 * `precompressed` key turns it on per path. */
#ifndef FY_PRECOMPRESSED_H
#define FY_PRECOMPRESSED_H

#include <stdint.h>

#include "file/file.h"
#include "file/path.h"
#include "http/http_parse.h"

/* Opens the sibling of `file` (as opened in `orig`, perhaps an index
 * file) in the coding the client prefers: "br" before "gzip" at equal
 * q-values, a coding with q=0 never.  Returns the coding's name with *out
 * open on a regular file, or NULL when there is none to send. */
const char *fy_precompressed_open(const struct fy_docroot *root, const struct fy_path *file,
                                  const struct fy_file *orig, struct fy_field_lines accept_encoding,
                                  int64_t now_ms, struct fy_file *out);

#endif
