/* Building a response head: status line, the headers every response
 * carries, dates in the HTTP format, and the small HTML body of errors.
 * Everything is written into a caller-provided fixed buffer (no allocation);
 * a head that does not fit marks the buffer as overflowed. */
#ifndef FY_HTTP_RESPONSE_H
#define FY_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct fy_buf {
    char *p;
    size_t len, cap;
    bool overflow;
};

void fy_buf_put(struct fy_buf *b, const char *s, size_t len);
void fy_buf_puts(struct fy_buf *b, const char *s);
void fy_buf_put_u64(struct fy_buf *b, uint64_t v);

#define FY_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Formats t as an IMF-fixdate into out (FY_HTTP_DATE_LEN + 1 bytes). */
void fy_http_date(time_t t, char *out);

/* Parses an HTTP date (IMF-fixdate; also the obsolete RFC 850 and asctime
 * forms, as RFC 9110 §5.6.7 asks recipients to accept).  Returns 0 or -1. */
int fy_http_date_parse(const char *s, size_t len, time_t *out);

const char *fy_http_reason(int status);

/* Whether answering with status must close the connection: the errors
 * after which the request stream cannot be trusted (400, 408, 413, 414,
 * 431, 501, 505) and the server's own failures (500, 503). */
bool fy_status_closes(int status);

/* "HTTP/1.1 <status> <reason>\r\nServer: ferry\r\nDate: <date>\r\n" */
void fy_response_start(struct fy_buf *b, int status, const char *date);

/* Ends the head with "Connection: ..." as needed and the blank line.
 * keep_alive on HTTP/1.0 needs an explicit "Connection: keep-alive". */
void fy_response_end(struct fy_buf *b, bool keep_alive, int version_minor);

/* A whole error response: head and, unless head_only, a small HTML body.
 * `extra` holds additional header lines (each ending in CRLF) or is NULL.
 * Returns the length of the body written (0 for head_only). */
size_t fy_response_error(struct fy_buf *b, int status, const char *date, const char *extra,
                       bool keep_alive, int version_minor, bool head_only);

#endif
