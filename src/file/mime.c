/* Extension → Content-Type; see mime.h.
 *
 * Every string lives in one arena and the hash slots hold offsets into it,
 * so growing the arena with realloc() never leaves a slot dangling.  Offset 0
 * is a reserved empty string, which lets ext == 0 mark a free slot. */
#include "file/mime.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct fy_mime_entry {
    size_t ext;  /* arena offset of the lowercase extension; 0: free slot */
    size_t type; /* arena offset of the Content-Type value */
};

static const char default_type[] = "application/octet-stream";
static const char text_charset[] = "; charset=utf-8";

/* The built-in types, written as mime.types lines so they go through the
 * same parser as the file.  Where IANA and browsers disagree, this follows
 * what browsers act on (e.g. text/javascript per RFC 9239). */
static const char *const builtin_lines[] = {
    "text/html html htm",
    "text/css css",
    "text/javascript js mjs",
    "text/plain txt text log",
    "text/csv csv",
    "text/markdown md markdown",
    "text/calendar ics",
    "text/vtt vtt",
    "application/json json map",
    "application/ld+json jsonld",
    "application/manifest+json webmanifest",
    "application/xml xml xsl",
    "application/xhtml+xml xhtml",
    "application/atom+xml atom",
    "application/rss+xml rss",
    "application/yaml yaml yml",
    "application/wasm wasm",
    "application/pdf pdf",
    "application/rtf rtf",
    "image/svg+xml svg",
    "image/png png",
    "image/apng apng",
    "image/jpeg jpg jpeg",
    "image/gif gif",
    "image/webp webp",
    "image/avif avif",
    "image/jxl jxl",
    "image/heic heic",
    "image/x-icon ico",
    "image/bmp bmp",
    "image/tiff tif tiff",
    "font/woff woff",
    "font/woff2 woff2",
    "font/ttf ttf",
    "font/otf otf",
    "application/vnd.ms-fontobject eot",
    "application/zip zip",
    "application/gzip gz tgz",
    "application/x-bzip2 bz2",
    "application/x-xz xz",
    "application/zstd zst",
    "application/x-tar tar",
    "application/x-7z-compressed 7z",
    "application/vnd.rar rar",
    "video/mp4 mp4",
    "video/x-m4v m4v",
    "video/webm webm",
    "video/ogg ogv",
    "video/quicktime mov",
    "video/x-msvideo avi",
    "video/x-matroska mkv",
    "video/mp2t ts",
    "audio/mpeg mp3",
    "audio/mp4 m4a",
    "audio/ogg ogg oga opus",
    "audio/wav wav",
    "audio/flac flac",
    "audio/aac aac",
    "audio/webm weba",
    "audio/midi mid midi",
    "application/msword doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document docx",
    "application/vnd.ms-excel xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet xlsx",
    "application/vnd.ms-powerpoint ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation pptx",
    "application/vnd.oasis.opendocument.text odt",
    "application/vnd.oasis.opendocument.spreadsheet ods",
    "application/vnd.oasis.opendocument.presentation odp",
    "application/epub+zip epub",
    "application/vnd.android.package-archive apk",
    "application/java-archive jar",
    "application/x-msdownload exe",
    "application/x-apple-diskimage dmg",
    "application/x-iso9660-image iso",
    "application/vnd.debian.binary-package deb",
    "application/x-rpm rpm",
    "application/pgp-signature asc sig",
};

/* Locale-independent, so a setlocale() elsewhere cannot change matching. */
static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* FNV-1a over the lowercased bytes, so lookups need no lowercase copy. */
static uint64_t hash_ext(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= lower((unsigned char)s[i]);
        h *= 1099511628211ULL;
    }
    return h;
}

/* s[0..n) equals the (lowercase, NUL-terminated) key, ignoring case. */
static int ext_equal(const char *key, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (key[i] == '\0' || key[i] != (char)lower((unsigned char)s[i]))
            return 0;
    return key[n] == '\0';
}

/* Makes room for n more bytes at the end of the arena; returns their offset
 * (the caller advances strings_len), or 0 when out of memory. */
static size_t arena_reserve(struct fy_mime_table *t, size_t n)
{
    if (t->strings_len == 0)
        n++; /* the reserved empty string at offset 0 */
    if (n > SIZE_MAX / 2 - t->strings_len)
        return 0;
    if (t->strings_len + n > t->strings_cap) {
        size_t cap = t->strings_cap ? t->strings_cap : 4096;
        while (cap < t->strings_len + n)
            cap *= 2;
        char *s = realloc(t->strings, cap);
        if (!s)
            return 0;
        t->strings = s;
        t->strings_cap = cap;
    }
    if (t->strings_len == 0)
        t->strings[t->strings_len++] = '\0';
    return t->strings_len;
}

/* Copies s[0..n) into the arena, lowercased if asked, with `suffix` appended
 * and a NUL.  Returns the offset, or 0 when out of memory. */
static size_t arena_add(struct fy_mime_table *t, const char *s, size_t n, int fold, const char *suffix)
{
    size_t slen = suffix ? strlen(suffix) : 0;
    if (n > SIZE_MAX / 4)
        return 0;
    size_t off = arena_reserve(t, n + slen + 1);
    if (!off)
        return 0;
    char *dst = t->strings + off;
    for (size_t i = 0; i < n; i++)
        dst[i] = fold ? (char)lower((unsigned char)s[i]) : s[i];
    if (slen)
        memcpy(dst + n, suffix, slen);
    dst[n + slen] = '\0';
    t->strings_len = off + n + slen + 1;
    return off;
}

/* The slot holding s[0..n), or the free slot where it belongs.  The table
 * always has a free slot, because it grows before it gets full. */
static struct fy_mime_entry *find_slot(const struct fy_mime_table *t, const char *s, size_t n)
{
    size_t mask = t->nslots - 1;
    size_t i = (size_t)hash_ext(s, n) & mask;
    while (t->slots[i].ext && !ext_equal(t->strings + t->slots[i].ext, s, n))
        i = (i + 1) & mask;
    return &t->slots[i];
}

static int grow(struct fy_mime_table *t)
{
    size_t nslots = t->nslots ? t->nslots * 2 : 256;
    struct fy_mime_entry *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    struct fy_mime_table bigger = *t;
    bigger.slots = slots;
    bigger.nslots = nslots;
    for (size_t i = 0; i < t->nslots; i++) {
        const struct fy_mime_entry *e = &t->slots[i];
        if (e->ext) {
            const char *key = t->strings + e->ext;
            *find_slot(&bigger, key, strlen(key)) = *e;
        }
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

/* Maps ext[0..n) to the type at arena offset `type`; a later mapping of the
 * same extension replaces the earlier one. */
static int insert(struct fy_mime_table *t, const char *ext, size_t n, size_t type)
{
    /* Keep the load under 3/4 so probe runs stay short. */
    if ((t->nused + 1) * 4 > t->nslots * 3 && grow(t) < 0)
        return -1;
    struct fy_mime_entry *e = find_slot(t, ext, n);
    if (!e->ext) {
        size_t off = arena_add(t, ext, n, 1, NULL);
        if (!off)
            return -1;
        e->ext = off;
        t->nused++;
    }
    e->type = type;
    return 0;
}

/* Splits the next whitespace-separated token off [*p, end). */
static int next_token(const char **p, const char *end, const char **tok, size_t *n)
{
    const char *s = *p;
    while (s < end && is_space((unsigned char)*s))
        s++;
    const char *e = s;
    while (e < end && !is_space((unsigned char)*e))
        e++;
    *tok = s;
    *n = (size_t)(e - s);
    *p = e;
    return e > s;
}

/* A type goes verbatim into a response header, so it must look like one. */
static int type_ok(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);
    if (!slash || slash == s || slash == s + n - 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static int is_text(const char *s, size_t n)
{
    return n > 5 && strncasecmp(s, "text/", 5) == 0;
}

/* One "type ext ext ..." line.  Lines whose type is not a type are skipped:
 * real mime.types files carry odd lines, and none of them is worth failing
 * a server start over.  Returns -1 only when out of memory. */
static int parse_line(struct fy_mime_table *t, const char *line, size_t len)
{
    const char *hash = memchr(line, '#', len);
    const char *p = line, *end = hash ? hash : line + len;
    const char *tok;
    size_t n;

    if (!next_token(&p, end, &tok, &n) || !type_ok(tok, n))
        return 0;
    /* Added lazily: a line with no extensions costs no arena space. */
    const char *type = tok;
    size_t type_len = n, type_off = 0;
    while (next_token(&p, end, &tok, &n)) {
        if (!type_off) {
            type_off = arena_add(t, type, type_len, 0, is_text(type, type_len) ? text_charset : NULL);
            if (!type_off)
                return -1;
        }
        /* A NUL would cut the stored key short of what was hashed. */
        if (memchr(tok, '\0', n))
            continue;
        if (insert(t, tok, n, type_off) < 0)
            return -1;
    }
    return 0;
}

static int load_builtins(struct fy_mime_table *t)
{
    for (size_t i = 0; i < sizeof builtin_lines / sizeof builtin_lines[0]; i++)
        if (parse_line(t, builtin_lines[i], strlen(builtin_lines[i])) < 0)
            return -1;
    return 0;
}

static int load_file(struct fy_mime_table *t, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    while ((n = getline(&line, &cap, f)) >= 0)
        if (parse_line(t, line, (size_t)n) < 0) {
            rc = ENOMEM;
            break;
        }
    if (!rc && ferror(f))
        rc = errno ? errno : EIO;
    free(line);
    return rc;
}

static int fail(struct fy_mime_table *t, char *err, size_t errlen, const char *path, int errnum)
{
    if (errlen)
        snprintf(err, errlen, "%s: %s", path ? path : "mime types", strerror(errnum));
    fy_mime_free(t);
    return -1;
}

int fy_mime_load(struct fy_mime_table *t, const char *path, int optional, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (errlen)
        err[0] = '\0';
    if (load_builtins(t) < 0)
        return fail(t, err, errlen, NULL, ENOMEM);
    if (!path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT && optional)
            return 0;
        return fail(t, err, errlen, path, errno);
    }
    errno = 0;
    int rc = load_file(t, f);
    fclose(f);
    return rc ? fail(t, err, errlen, path, rc) : 0;
}

void fy_mime_free(struct fy_mime_table *t)
{
    free(t->slots);
    free(t->strings);
    memset(t, 0, sizeof *t);
}

/* The extension of the last path segment of name[0..len): after its last
 * '.', unless that dot starts the segment (".bashrc" has no extension). */
static const char *extension(const char *name, size_t len, size_t *n)
{
    size_t seg = len, dot = len;
    while (seg > 0 && name[seg - 1] != '/')
        seg--;
    for (size_t i = len; i > seg; i--)
        if (name[i - 1] == '.') {
            dot = i - 1;
            break;
        }
    if (dot == len || dot == seg) {
        *n = 0;
        return NULL;
    }
    *n = len - dot - 1;
    return name + dot + 1;
}

bool fy_mime_is_unknown(const char *type)
{
    return type == default_type;
}

const char *fy_mime_lookup(const struct fy_mime_table *t, const char *name, size_t len)
{
    size_t n;
    const char *ext = extension(name, len, &n);
    if (!ext || n == 0 || t->nslots == 0)
        return default_type;
    const struct fy_mime_entry *e = find_slot(t, ext, n);
    return e->ext ? t->strings + e->type : default_type;
}
