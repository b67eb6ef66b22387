/* Request path → relative file name; see path.h.
 *
 * One pass over the raw path, one segment at a time: each segment is
 * percent-decoded straight into out->name, and only then is it compared with
 * "." and "..".  Deciding after decoding is what makes "%2e%2e" a "..", and
 * deciding per decoded segment is what keeps a decoded "%2f" from ever acting
 * as a separator: separators are only ever the raw '/' bytes of the input. */
#include "file/path.h"

#include <string.h>

enum { PATH_OK = 0, PATH_BAD = 400, PATH_NOT_FOUND = 404, PATH_TOO_LONG = 414 };

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the byte at raw[*i] (advancing *i past it, or past its escape)
 * into *byte. */
static int decode_byte(const char *raw, size_t len, size_t *i, unsigned char *byte)
{
    unsigned char c = (unsigned char)raw[*i];
    if (c != '%') {
        *byte = c;
        *i += 1;
    } else {
        int hi = *i + 2 < len ? hex_value((unsigned char)raw[*i + 1]) : -1;
        int lo = hi >= 0 ? hex_value((unsigned char)raw[*i + 2]) : -1;
        if (lo < 0)
            return PATH_BAD;
        *byte = (unsigned char)(hi << 4 | lo);
        *i += 3;
    }
    /* A NUL would silently cut the name short at open(). */
    if (*byte == '\0')
        return PATH_BAD;
    /* Only raw '/' separates; a decoded one names a file that cannot exist. */
    if (*byte == '/')
        return PATH_NOT_FOUND;
    return PATH_OK;
}

/* Decodes raw[*i] up to the next raw '/' (or the end) onto out->name at
 * out->len.  Leaves *i on that '/' or at len. */
static int decode_segment(const char *raw, size_t len, size_t *i, struct fy_path *out)
{
    while (*i < len && raw[*i] != '/') {
        unsigned char byte;
        int rc = decode_byte(raw, len, i, &byte);
        if (rc != PATH_OK)
            return rc;
        /* Keep one byte for the terminating NUL. */
        if (out->len >= sizeof out->name - 1)
            return PATH_TOO_LONG;
        out->name[out->len++] = (char)byte;
    }
    return PATH_OK;
}

/* Removes the last segment of name[0..end) and returns the new length. */
static size_t pop_segment(const char *name, size_t end)
{
    while (end > 0 && name[end - 1] != '/')
        end--;
    /* Drop the separator too, unless we are back at the root. */
    return end > 0 ? end - 1 : 0;
}

/* Acts on the segment just decoded at name[start..out->len), where `base` is
 * the length before it (and its separator) was appended.  Sets *is_dir when
 * the segment leaves the path naming a directory ("", ".", ".."). */
static int apply_segment(struct fy_path *out, size_t base, size_t start, bool *is_dir)
{
    const char *seg = out->name + start;
    size_t n = out->len - start;

    *is_dir = true;
    if (n == 0 || (n == 1 && seg[0] == '.')) {
        out->len = base;
    } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
        /* Clamping to the root would hide an attack behind a plausible 200;
         * refusing it is both safer and more honest. */
        if (base == 0)
            return PATH_BAD;
        out->len = pop_segment(out->name, base);
    } else {
        *is_dir = false;
    }
    return PATH_OK;
}

static int resolve(const char *path, size_t len, struct fy_path *out)
{
    size_t i = 1;
    bool is_dir = true; /* "/" alone names the root directory */

    if (len == 0 || path[0] != '/')
        return PATH_BAD;
    while (i <= len) {
        size_t base = out->len;
        if (base > 0) {
            if (base >= sizeof out->name - 1)
                return PATH_TOO_LONG;
            out->name[out->len++] = '/';
        }
        int rc = decode_segment(path, len, &i, out);
        if (rc == PATH_OK)
            rc = apply_segment(out, base, base > 0 ? base + 1 : 0, &is_dir);
        if (rc != PATH_OK)
            return rc;
        i++; /* past the '/' that ended the segment, or past the end */
    }
    out->trailing_slash = is_dir;
    return PATH_OK;
}

int fy_path_resolve(const char *path, size_t len, struct fy_path *out)
{
    out->len = 0;
    out->trailing_slash = false;
    int rc = resolve(path, len, out);
    if (rc != PATH_OK)
        out->len = 0;
    out->name[out->len] = '\0';
    return rc;
}
