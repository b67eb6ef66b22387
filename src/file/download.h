/* download = on: files are sent as attachments, to be saved rather than
 * shown: "Content-Disposition: attachment" with the file's name twice
 * (RFC 6266): filename*=UTF-8''... percent-encoded (RFC 8187), which
 * current clients read, and before it a plain filename="..." for those
 * that do not, where every byte outside printable ASCII, and '"', '\',
 * '%', becomes '_'. */
#ifndef FY_DOWNLOAD_H
#define FY_DOWNLOAD_H

#include "http/http_response.h"

/* Appends the header line for a file named `name` (a path: its last
 * segment is the name). */
void fy_download_put_header(struct fy_buf *b, const char *name);

#endif
