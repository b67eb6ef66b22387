/* Accept-Encoding q-values; see accept_encoding.h. */
#include "http/accept_encoding.h"

#include <stdbool.h>
#include <string.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct fy_str trim(const char *s, const char *e)
{
    while (s < e && is_ows(*s))
        s++;
    while (e > s && is_ows(e[-1]))
        e--;
    return (struct fy_str){s, (size_t)(e - s)};
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; -1 when malformed. */
static int parse_qvalue(struct fy_str v)
{
    if (v.len == 0 || (v.p[0] != '0' && v.p[0] != '1') || v.len > 5 || (v.len > 1 && v.p[1] != '.'))
        return -1;
    int q = 0, scale = 100;
    for (size_t i = 2; i < v.len; i++, scale /= 10) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return -1;
        q += (v.p[i] - '0') * scale;
    }
    if (v.p[0] == '1')
        return q == 0 ? 1000 : -1;
    return q;
}

/* The q of one element's parameters ";q=0.5" (1000 when there is none). */
static unsigned element_q(const char *params, const char *end)
{
    const char *p = params;
    while (p < end) {
        const char *semi = memchr(p + 1, ';', (size_t)(end - p - 1));
        const char *stop = semi ? semi : end;
        struct fy_str param = trim(p + 1, stop);
        if (param.len >= 2 && (param.p[0] | 0x20) == 'q' && param.p[1] == '=') {
            int q = parse_qvalue((struct fy_str){param.p + 2, param.len - 2});
            return q < 0 ? 0 : (unsigned)q;
        }
        p = stop;
    }
    return 1000;
}

static bool coding_is(struct fy_str name, const char *coding)
{
    if (fy_str_eq_nocase(name, coding))
        return true;
    return strcmp(coding, "gzip") == 0 && fy_str_eq_nocase(name, "x-gzip");
}

/* The q-values one line gives coding and "*", each left as it was when
 * the line has no entry for it: a later entry wins, as in a joined list. */
static void scan_line(struct fy_str line, const char *coding, int *own, int *star)
{
    const char *p = line.p, *end = line.p + line.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *semi = memchr(p, ';', (size_t)(stop - p));
        struct fy_str name = trim(p, semi ? semi : stop);
        unsigned q = semi ? element_q(semi, stop) : 1000;
        if (coding_is(name, coding))
            *own = (int)q;
        else if (name.len == 1 && name.p[0] == '*')
            *star = (int)q;
        p = comma ? comma + 1 : end;
    }
}

unsigned fy_accept_encoding_q(struct fy_field_lines header, const char *coding)
{
    struct fy_str line;
    int own = -1, star = -1;
    while (fy_field_next_line(&header, &line))
        scan_line(line, coding, &own, &star);
    if (own >= 0)
        return (unsigned)own;
    return star >= 0 ? (unsigned)star : 0;
}
