/* The Range header (RFC 9110 §14): from "bytes=0-99,200-" and a file size
 * to the list of byte ranges to send.
 *
 * The policy, documented in doc/config.md ("Range requests"):
 *   - a header that is not "bytes=" with a valid range-set (unknown unit,
 *     bad syntax, first > last) is ignored: the answer is 200 with the
 *     whole file, as the RFC asks;
 *   - ranges that start at or after the end are dropped; when none is left
 *     the answer is 416;
 *   - ends are clipped to the size; "-N" is the last N bytes;
 *   - overlapping ranges, or more than FY_RANGE_MAX once sorted and merged
 *     where they touch, are ignored (200 with the whole file): a client
 *     can never make the server send more than the file plus the small
 *     per-part overhead of a multipart body. */
#ifndef FY_RANGE_H
#define FY_RANGE_H

#include <stddef.h>
#include <sys/types.h>

#include "http/http_parse.h"

#define FY_RANGE_MAX 16        /* ranges in one response, after merging */

struct fy_range {
    off_t first, last;         /* inclusive, 0 <= first <= last < size */
};

enum fy_range_result {
    FY_RANGE_IGNORE,           /* answer 200 with the whole file */
    FY_RANGE_OK,               /* answer 206 with out[0..*n), ascending */
    FY_RANGE_UNSATISFIABLE,    /* answer 416 */
};

enum fy_range_result fy_range_parse(struct fy_str value, off_t size, struct fy_range out[FY_RANGE_MAX],
                                    size_t *n);

#endif
