/* A multipart/byteranges body (RFC 9110 §14.6), produced part by part so
 * that every range still travels through the backend as a plain file range:
 *
 *   [head of part 0][range 0][head of part 1][range 1] ... [trailer]
 *
 * Each part head ("\r\n--BOUNDARY\r\nContent-Type: ...\r\nContent-Range:
 * bytes a-b/size\r\n\r\n") is written into the connection's head buffer just
 * before its range is sent; the trailer is a last part with an empty range.
 * The backends never learn that a response has parts. */
#ifndef FY_MULTIPART_H
#define FY_MULTIPART_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/http_response.h"
#include "http/range.h"

#define FY_BOUNDARY_LEN 21     /* "ferry" and 16 hex digits */

struct fy_multipart {
    struct fy_range ranges[FY_RANGE_MAX];
    unsigned nranges;
    unsigned next;             /* the part to start next; nranges is the trailer */
    off_t size;                /* of the whole file, for Content-Range */
    const char *content_type;  /* of the file; lives as long as the response */
    char boundary[FY_BOUNDARY_LEN + 1];
};

/* Sets up mp for ranges[0..n) of a file; `seed` varies the boundary. */
void fy_multipart_init(struct fy_multipart *mp, const struct fy_range *ranges, unsigned n, off_t size,
                       const char *content_type, uint64_t seed);

/* The Content-Length of the whole body. */
uint64_t fy_multipart_length(const struct fy_multipart *mp);

/* Appends the head of the next part to b and gives its file range
 * [*offset, *end) (empty for the trailer).  Returns false when every part,
 * trailer included, has been started. */
bool fy_multipart_next(struct fy_multipart *mp, struct fy_buf *b, off_t *offset, off_t *end);

#endif
