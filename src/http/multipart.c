/* multipart/byteranges bodies; see multipart.h. */
#include "http/multipart.h"

#include <string.h>

static void put_hex16(char *out, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = hex[v & 15];
}

/* splitmix64: spreads a seed over all bits, so boundaries differ even for
 * neighbouring seeds. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void fy_multipart_init(struct fy_multipart *mp, const struct fy_range *ranges, unsigned n, off_t size,
                       const char *content_type, uint64_t seed)
{
    mp->nranges = n;
    memcpy(mp->ranges, ranges, n * sizeof *ranges);
    mp->next = 0;
    mp->size = size;
    mp->content_type = content_type;
    memcpy(mp->boundary, "ferry", 5);
    put_hex16(mp->boundary + 5, mix(seed));
    mp->boundary[FY_BOUNDARY_LEN] = '\0';
}

/* The first part head has no leading CRLF: it follows the response head's
 * blank line directly. */
static void put_part_head(const struct fy_multipart *mp, unsigned i, struct fy_buf *b)
{
    if (i > 0)
        fy_buf_put(b, "\r\n", 2);
    fy_buf_put(b, "--", 2);
    fy_buf_puts(b, mp->boundary);
    fy_buf_puts(b, "\r\nContent-Type: ");
    fy_buf_puts(b, mp->content_type);
    fy_buf_puts(b, "\r\nContent-Range: bytes ");
    fy_buf_put_u64(b, (uint64_t)mp->ranges[i].first);
    fy_buf_put(b, "-", 1);
    fy_buf_put_u64(b, (uint64_t)mp->ranges[i].last);
    fy_buf_put(b, "/", 1);
    fy_buf_put_u64(b, (uint64_t)mp->size);
    fy_buf_puts(b, "\r\n\r\n");
}

static void put_trailer(const struct fy_multipart *mp, struct fy_buf *b)
{
    fy_buf_puts(b, "\r\n--");
    fy_buf_puts(b, mp->boundary);
    fy_buf_puts(b, "--\r\n");
}

uint64_t fy_multipart_length(const struct fy_multipart *mp)
{
    char scratch[512];
    uint64_t total = 0;
    for (unsigned i = 0; i <= mp->nranges; i++) {
        struct fy_buf b = {.p = scratch, .cap = sizeof scratch};
        if (i < mp->nranges) {
            put_part_head(mp, i, &b);
            total += (uint64_t)(mp->ranges[i].last - mp->ranges[i].first + 1);
        } else {
            put_trailer(mp, &b);
        }
        total += b.len;
    }
    return total;
}

bool fy_multipart_next(struct fy_multipart *mp, struct fy_buf *b, off_t *offset, off_t *end)
{
    if (mp->next > mp->nranges)
        return false;
    unsigned i = mp->next++;
    if (i == mp->nranges) {
        put_trailer(mp, b);
        *offset = *end = 0;
        return true;
    }
    put_part_head(mp, i, b);
    *offset = mp->ranges[i].first;
    *end = mp->ranges[i].last + 1;
    return true;
}
