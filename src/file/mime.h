/* File-name extension → Content-Type, from a mime.types file (the format of
 * /etc/mime.types: "type ext ext ...", '#' comments) over a built-in table
 * of the common types.  Types under text/ carry "; charset=utf-8". */
#ifndef FY_MIME_H
#define FY_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct fy_mime_entry;

struct fy_mime_table {
    struct fy_mime_entry *slots; /* open addressing, keyed by lowercase extension */
    size_t nslots, nused;
    char *strings;               /* one arena for every extension and type */
    size_t strings_len, strings_cap;
};

/* Builds the table: the built-in types, then those of `path` (which win).
 * path NULL: built-in types only.  A missing /etc/mime.types is not an error
 * when `optional` is set.  Returns 0, or -1 with a message in err. */
int  fy_mime_load(struct fy_mime_table *t, const char *path, int optional, char *err, size_t errlen);
void fy_mime_free(struct fy_mime_table *t);

/* The Content-Type for a file name (only its last extension counts,
 * case-insensitively); "application/octet-stream" when unknown. */
const char *fy_mime_lookup(const struct fy_mime_table *t, const char *name, size_t len);

/* Whether fy_mime_lookup() returned its answer for an unknown or missing
 * extension (not a type some table names, even the same one). */
bool fy_mime_is_unknown(const char *type);

#endif
