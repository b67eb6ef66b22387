/* Parsing Range; see range.h for the policy. */
#include "http/range.h"

#include <stdbool.h>
#include <stdint.h>

#define RAW_MAX (4 * FY_RANGE_MAX) /* satisfiable ranges read before the header counts as abuse */
#define POS_MAX INT64_MAX

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 1*DIGIT; a number too large for off_t saturates: as a first position it
 * lies past any file, as a last position it means "to the end". */
static bool parse_pos(const char **p, const char *end, off_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    for (; s < end && is_digit(*s); s++) {
        int d = *s - '0';
        v = v > (POS_MAX - d) / 10 ? POS_MAX : v * 10 + d;
    }
    if (s == *p)
        return false;
    *p = s;
    *out = (off_t)v;
    return true;
}

/* One range-spec in [s, e), whitespace already trimmed.  Returns -1 for bad
 * syntax, 0 for a valid but unsatisfiable spec, 1 with *r filled. */
static int parse_spec(const char *s, const char *e, off_t size, struct fy_range *r)
{
    off_t first, last;
    if (s < e && *s == '-') { /* suffix-range: the last N bytes */
        s++;
        if (!parse_pos(&s, e, &last) || s != e)
            return -1;
        if (last == 0 || size == 0)
            return 0;
        r->first = last >= size ? 0 : size - last;
        r->last = size - 1;
        return 1;
    }
    if (!parse_pos(&s, e, &first) || s == e || *s++ != '-')
        return -1;
    last = POS_MAX;
    if (s != e && (!parse_pos(&s, e, &last) || s != e))
        return -1;
    if (last < first)
        return -1;
    if (first >= size)
        return 0;
    r->first = first;
    r->last = last >= size ? size - 1 : last;
    return 1;
}

static void sort_ranges(struct fy_range *r, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct fy_range x = r[i];
        size_t j = i;
        for (; j > 0 && r[j - 1].first > x.first; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
}

/* Sorted ranges: merges those that touch; overlap means the client asked
 * for some bytes twice, which is refused (see range.h).  Returns the new
 * count, or 0 on overlap. */
static size_t merge_ranges(struct fy_range *r, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out > 0 && r[i].first <= r[out - 1].last)
            return 0;
        if (out > 0 && r[i].first == r[out - 1].last + 1)
            r[out - 1].last = r[i].last;
        else
            r[out++] = r[i];
    }
    return out;
}

static bool unit_is_bytes(const char **p, const char *end)
{
    static const char unit[] = "bytes=";
    const char *s = *p;
    for (size_t i = 0; i < sizeof unit - 1; i++, s++) {
        if (s == end || (*s | 0x20) != unit[i])
            return false;
    }
    *p = s;
    return true;
}

enum fy_range_result fy_range_parse(struct fy_str value, off_t size, struct fy_range out[FY_RANGE_MAX],
                                    size_t *n)
{
    const char *p = value.p, *end = value.p + value.len;
    struct fy_range raw[RAW_MAX];
    size_t nraw = 0, nspecs = 0;
    if (!p || !unit_is_bytes(&p, end))
        return FY_RANGE_IGNORE;
    while (p <= end) { /* one list element per turn; empty ones are allowed */
        const char *comma = p;
        while (comma < end && *comma != ',')
            comma++;
        const char *s = p, *e = comma;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        p = comma + 1;
        if (s == e)
            continue;
        nspecs++;
        int r = parse_spec(s, e, size, &raw[nraw]);
        if (r < 0)
            return FY_RANGE_IGNORE;
        if (r > 0 && ++nraw == RAW_MAX)
            return FY_RANGE_IGNORE;
    }
    if (nspecs == 0)
        return FY_RANGE_IGNORE;
    if (nraw == 0)
        return FY_RANGE_UNSATISFIABLE;
    sort_ranges(raw, nraw);
    nraw = merge_ranges(raw, nraw);
    if (nraw == 0 || nraw > FY_RANGE_MAX)
        return FY_RANGE_IGNORE;
    for (size_t i = 0; i < nraw; i++)
        out[i] = raw[i];
    *n = nraw;
    return FY_RANGE_OK;
}
