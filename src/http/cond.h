/* Conditional requests (RFC 9110 §13): If-Match, If-Unmodified-Since,
 * If-None-Match, If-Modified-Since, evaluated in the order of §13.2.2, and
 * If-Range.  Pure functions of the request's header values and the
 * file's validators (its strong ETag and its modification time). */
#ifndef FY_COND_H
#define FY_COND_H

#include <stdbool.h>
#include <time.h>

#include "http/http_parse.h"

struct fy_validators {
    struct fy_str etag;        /* strong, quoted: "\"...\""; len 0: none (etag = off), no tag matches */
    time_t mtime;              /* seconds; HTTP dates have no finer grain */
    struct fy_str alt;         /* len 0, or another strong tag of the same version, which matches too
                                * (the size-mtime tag a digest ETag replaced) */
};

/* 0 to go on with the request, 304 (Not Modified) or 412 (Precondition
 * Failed).  `safe`: the method is GET or HEAD, the only ones for which a
 * matching If-None-Match or an unmodified If-Modified-Since gives 304. */
int fy_cond_evaluate(const struct fy_request *req, bool safe, const struct fy_validators *v);

/* Whether a Range request may be answered with ranges: true when there is
 * no If-Range, or when it names the current ETag (strong comparison) or
 * exactly the current Last-Modified date. */
bool fy_cond_if_range(struct fy_str if_range, const struct fy_validators *v);

/* Whether an entity-tag list ("*", or 1#entity-tag), over all its lines,
 * contains etag.  weak: the weak comparison (W/ prefixes ignored), else the
 * strong one (a weak tag never matches). */
bool fy_etag_list_match(struct fy_field_lines list, struct fy_str etag, bool weak);

#endif
