/* Content-Disposition for downloads; see download.h. */
#include "file/download.h"

#include <stdbool.h>
#include <string.h>

/* RFC 8187's attr-char: what goes unencoded in an ext-value. */
static bool is_attr_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$&+-.^_`|~", ch));
}

/* A character of the plain fallback name: printable ASCII, no quoting
 * needed, and no '%' an old client might decode. */
static bool is_plain_char(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '%';
}

void fy_download_put_header(struct fy_buf *b, const char *name)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *slash = strrchr(name, '/');
    const unsigned char *s = (const unsigned char *)(slash ? slash + 1 : name);
    fy_buf_puts(b, "Content-Disposition: attachment; filename=\"");
    for (const unsigned char *p = s; *p; p++)
        fy_buf_put(b, is_plain_char(*p) ? (const char *)p : "_", 1);
    fy_buf_puts(b, "\"; filename*=UTF-8''");
    for (const unsigned char *p = s; *p; p++) {
        if (is_attr_char(*p)) {
            fy_buf_put(b, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            fy_buf_put(b, esc, 3);
        }
    }
    fy_buf_put(b, "\r\n", 2);
}
