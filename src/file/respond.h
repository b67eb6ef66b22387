/* The responses of the static-file handler, built into the connection's
 * head buffer and transfer: a file (200, 206 with one range or several,
 * 304, 412, 416) and an error (the host's error page, or the built-in
 * one).  handler.c decides which; these build them. */
#ifndef FY_RESPOND_H
#define FY_RESPOND_H

#include "file/rules.h"
#include "file/site.h"

struct fy_exchange;

/* What the handler found out about a request for a file. */
struct fy_file_request {
    const struct fy_site *site;
    struct fy_rule_subject subj;     /* for the per-path rules */
    struct fy_path_settings set;
    const char *encoding;            /* a precompressed sibling's or a compressed copy's coding, else NULL */
    bool vary;                       /* the answer depends on Accept-Encoding (compress) */
};

/* c->file is open on a regular file: answers it, with the conditions
 * and ranges of the request.  Returns 0 (response ready in c). */
int fy_respond_file(struct fy_exchange *ex, const struct fy_file_request *x);

/* The headers every successful answer about the file carries (200, 206,
 * 304, listings): Cache-Control, Expires, Vary, Content-Disposition (for
 * a file), the add-header lines. */
void fy_put_path_headers(struct fy_buf *b, const struct fy_exchange *ex, const struct fy_file_request *x);

/* Answers with an error status: the site's error page for it when one is
 * configured and can be opened, else the built-in page.  `extra` holds
 * header lines (CRLF-terminated) or is NULL; site may be NULL.  Closes
 * the connection after it when the status asks so.  Returns 0. */
int fy_respond_error(struct fy_exchange *ex, const struct fy_site *site, int status, const char *extra);

#endif
