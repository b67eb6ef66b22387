/* Virtual hosts and aliases at run time: every host of the configuration
 * (the top level, the default, included) with its docroot and aliases
 * opened once at start, and the two lookups of a request:
 *
 *   Host header ──fy_sites_lookup──► site ──fy_site_map(path)──► docroot + name
 *
 * A Host is matched without its port, trailing dot or case: an exact name
 * first, then the wildcard "*.suffix" with the longest suffix, then the
 * top level.  A path is matched against the aliases (the host's own, then
 * the top level's) by whole segments, the longest prefix winning. */
#ifndef FY_SITE_H
#define FY_SITE_H

#include <stddef.h>

#include "core/config.h"
#include "file/file.h"
#include "file/mime.h"
#include "file/path.h"
#include "http/http_parse.h"

struct fy_alias {
    const char *prefix;          /* "static/files": normalised, relative like fy_path.name */
    size_t len;
    struct fy_docroot root;
};

struct fy_site {
    unsigned host;               /* index in cfg->hosts */
    struct fy_docroot root;
    struct fy_alias *aliases;    /* longest prefix first */
    size_t naliases;
};

struct fy_sites {
    const struct fy_config *cfg;
    struct fy_site *sites;       /* sites[i] serves cfg->hosts[i] */
    size_t nsites;
    struct fy_file_cache cache;  /* shared by every docroot */
};

/* Opens every docroot and alias directory of cfg (which must outlive s).
 * Returns 0, or -1 with a message in err. */
int  fy_sites_open(struct fy_sites *s, const struct fy_config *cfg, const struct fy_mime_table *mime,
                   char *err, size_t errlen);
void fy_sites_close(struct fy_sites *s);

const struct fy_site *fy_sites_lookup(const struct fy_sites *s, struct fy_str host);

/* The docroot a URL path lives in, with `file` set to the name under it. */
const struct fy_docroot *fy_site_map(const struct fy_site *site, const struct fy_path *url,
                                     struct fy_path *file);

#endif
