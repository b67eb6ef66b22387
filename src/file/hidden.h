/* Hidden paths: a URL path with a segment that starts with '.' ("/.git/config",
 * "/a/.env", "/.htpasswd") names what a docroot that is a checkout or a
 * project directory holds without meaning to publish it.  By default such a
 * request gets the 404 of a missing file, decided before anything is asked
 * of the disk, so neither the answer nor its timing says whether the name
 * exists; `hidden-files = allow` in a rule lets paths through.
 *
 * "/.well-known" at the root is not hidden (RFC 8615: ACME challenges,
 * security.txt); a dot segment below it is.  The test is on the URL path,
 * decoded and normalised by fy_path_resolve (so "/%2egit", "//.git" and
 * "/x/../.git" are "/.git"), whatever docroot or alias serves it: the
 * segments of a file under an alias directory are the URL's last ones.
 * Names the configuration gives (index files, error pages) are not request
 * paths and are not tested. */
#ifndef FY_HIDDEN_H
#define FY_HIDDEN_H

#include <stdbool.h>

#include "core/config.h"

/* Whether url ("/a/.b/c", normalised, starting with '/') has a hidden segment. */
bool fy_url_is_hidden(const char *url);

/* Where a URL path is asked for: the rules of the configuration for a host. */
struct fy_hidden_scope {
    const struct fy_config *cfg;
    unsigned host;               /* index in cfg->hosts */
};

/* Whether ferry refuses url as hidden: it is, and the matching rules leave
 * hidden-files at deny.  url ends in '/' for a directory, as [path]
 * prefixes see it. */
bool fy_hidden_refused(const struct fy_hidden_scope *s, const char *url);

#endif
