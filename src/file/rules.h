/* Per-path settings: which [path] rules of the configuration apply to a
 * request, and what they add up to.
 *
 * The rules of the top level are taken first, then those of the request's
 * [host], each in file order; for every setting the last matching rule that
 * sets it wins, and the add-header lines of all matching rules are sent.  A
 * rule matches when one of its patterns does: "/prefix" a prefix of the
 * URL path (decoded and normalised, so no encoding dodges a rule), "*.ext"
 * the extension of the file served (the index file for a directory). */
#ifndef FY_RULES_H
#define FY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/config.h"
#include "http/http_response.h"

struct fy_rule_subject {
    unsigned host;               /* index in cfg->hosts */
    const char *url;             /* "/dir/file.html", "/dir/" */
    const char *file_name;       /* the served file's name (for *.ext), or NULL */
};

/* The file name a request's URL names, for *.EXT patterns before the file
 * is opened: NULL for a directory ("/dir/"). */
static inline const char *fy_url_file_name(const char *url)
{
    size_t n = strlen(url);
    return n == 0 || url[n - 1] == '/' ? NULL : url + 1;
}

struct fy_path_settings {
    const char *cache_control;   /* NULL: none */
    int64_t expires_s;           /* 0: none */
    bool listing, listing_dotfiles, precompressed;
    bool hidden_files;           /* hidden paths are served (see hidden.h) */
    const char *auth_realm;      /* auth-basic: NULL when none is asked */
    const char *auth_user_file;  /* auth-basic-user-file, or NULL */
    const char *fallback;        /* a URL path of the host, or NULL */
    const struct fy_acl_entry *acl; /* allow/deny: the last matching rule's list */
    size_t nacl;
    bool download;               /* Content-Disposition: attachment */
    const char *default_type;    /* for unknown extensions, or NULL */
    unsigned compress;           /* codings, packed as in fy_rule_config; 0: off */
    const char *compress_types;  /* NULL: the default list */
    uint64_t compress_min_size;
};

/* Whether rule r applies to subj: its host, and one of its patterns. */
bool fy_rule_matches(const struct fy_config *cfg, const struct fy_rule_config *r, const struct fy_rule_subject *subj);

void fy_rules_resolve(const struct fy_config *cfg, const struct fy_rule_subject *subj,
                      struct fy_path_settings *out);

/* Appends the add-header lines of every matching rule to b. */
void fy_rules_put_headers(const struct fy_config *cfg, const struct fy_rule_subject *subj, struct fy_buf *b);

#endif
