/* Conditional requests; see cond.h. */
#include "http/cond.h"

#include <string.h>

#include "http/http_response.h"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void skip_ows(const char **p, const char *end)
{
    while (*p < end && is_ows(**p))
        (*p)++;
}

/* One entity-tag at *p: [W/] DQUOTE *etagc DQUOTE.  Returns false on bad
 * syntax, which makes the whole list match nothing. */
static bool next_etag(const char **p, const char *end, struct fy_str *tag, bool *is_weak)
{
    const char *s = *p;
    *is_weak = end - s >= 2 && s[0] == 'W' && s[1] == '/';
    if (*is_weak)
        s += 2;
    if (s == end || *s != '"')
        return false;
    const char *close = memchr(s + 1, '"', (size_t)(end - s - 1));
    if (!close)
        return false;
    *tag = (struct fy_str){s, (size_t)(close - s + 1)};
    *p = close + 1;
    return true;
}

/* What a scan of one line of an entity-tag list found. */
enum etag_scan {
    ETAGS_NO_MATCH,  /* the line is well-formed, the tag is not in it */
    ETAGS_MATCH,
    ETAGS_MALFORMED, /* the scan stops there, having found no match */
};

/* One line of 1#entity-tag, left to right up to a match or a syntax error,
 * so a line scans as its part of the joined list would. */
static enum etag_scan scan_etag_line(struct fy_str line, struct fy_str etag, bool weak)
{
    const char *p = line.p, *end = line.p + line.len;
    for (;;) {
        skip_ows(&p, end);
        if (p == end)
            return ETAGS_NO_MATCH;
        if (*p == ',') { /* empty list elements are allowed */
            p++;
            continue;
        }
        struct fy_str tag;
        bool is_weak;
        if (!next_etag(&p, end, &tag, &is_weak))
            return ETAGS_MALFORMED;
        if ((weak || !is_weak) && tag.len == etag.len && memcmp(tag.p, etag.p, tag.len) == 0)
            return ETAGS_MATCH;
        skip_ows(&p, end);
        if (p < end && *p != ',')
            return ETAGS_MALFORMED;
    }
}

/* "*" is the whole field or nothing: beside a tag, in any line, it is bad
 * syntax like any other non-tag. */
static bool is_lone_star(struct fy_field_lines list)
{
    struct fy_str line;
    if (!fy_field_next_line(&list, &line) || fy_field_present(list))
        return false;
    const char *p = line.p, *end = line.p + line.len;
    skip_ows(&p, end);
    while (end > p && is_ows(end[-1]))
        end--;
    return end - p == 1 && *p == '*';
}

bool fy_etag_list_match(struct fy_field_lines list, struct fy_str etag, bool weak)
{
    struct fy_str line;
    if (is_lone_star(list))
        return true;
    while (fy_field_next_line(&list, &line)) {
        enum etag_scan found = scan_etag_line(line, etag, weak);
        if (found != ETAGS_NO_MATCH)
            return found == ETAGS_MATCH;
    }
    return false;
}

/* An HTTP date in s; false when absent or invalid (then the header is
 * ignored, RFC 9110 §13.1.3 and §13.1.4). */
static bool header_date(struct fy_str s, time_t *t)
{
    return s.p != NULL && fy_http_date_parse(s.p, s.len, t) == 0;
}

/* Whether the list names the file's ETag, or its other tag. */
static bool list_matches(struct fy_field_lines list, const struct fy_validators *v, bool weak)
{
    return fy_etag_list_match(list, v->etag, weak) || (v->alt.len && fy_etag_list_match(list, v->alt, weak));
}

static bool same_tag(struct fy_str tag, struct fy_str etag)
{
    return etag.len && tag.len == etag.len && memcmp(tag.p, etag.p, tag.len) == 0;
}

int fy_cond_evaluate(const struct fy_request *req, bool safe, const struct fy_validators *v)
{
    time_t t;
    /* Steps 1 and 2: the preconditions a client sets before changing a
     * resource; a static file can only fail them. */
    if (fy_field_present(req->if_match)) {
        if (!list_matches(req->if_match, v, false))
            return 412;
    } else if (header_date(req->if_unmodified_since, &t) && v->mtime > t) {
        return 412;
    }
    /* Steps 3 and 4: cache revalidation. */
    if (fy_field_present(req->if_none_match)) {
        if (list_matches(req->if_none_match, v, true))
            return safe ? 304 : 412;
    } else if (safe && header_date(req->if_modified_since, &t) && v->mtime <= t) {
        return 304;
    }
    return 0;
}

/* An entity-tag starts with DQUOTE or "W/" DQUOTE (RFC 9110 §8.8.3); a
 * mere 'W' is not enough, since "Wed, ..." is a date. */
static bool starts_like_etag(const char *p, const char *end)
{
    if (p < end && *p == '"')
        return true;
    return end - p >= 3 && p[0] == 'W' && p[1] == '/' && p[2] == '"';
}

bool fy_cond_if_range(struct fy_str if_range, const struct fy_validators *v)
{
    if (!if_range.p)
        return true;
    const char *p = if_range.p, *end = if_range.p + if_range.len;
    if (starts_like_etag(p, end)) {
        struct fy_str tag;
        bool is_weak;
        return next_etag(&p, end, &tag, &is_weak) && p == end && !is_weak &&
               (same_tag(tag, v->etag) || same_tag(tag, v->alt));
    }
    time_t t;
    return header_date(if_range, &t) && t == v->mtime;
}
