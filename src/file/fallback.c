/* The fallback file of missing files; see fallback.h. */
#include "file/fallback.h"

#include <string.h>

#include "core/server.h"
#include "request/exchange.h"

bool fy_fallback_map(struct fy_exchange *ex, struct fy_file_request *x, const struct fy_docroot **root,
                     struct fy_path *file)
{
    struct fy_path_settings set;
    x->subj.file_name = file->trailing_slash ? NULL : file->name;
    fy_rules_resolve(&ex->srv->cfg, &x->subj, &set);
    x->subj.file_name = NULL;
    struct fy_path url;
    /* The setting is a normalised path: it resolves to itself. */
    if (!set.fallback || fy_path_resolve(set.fallback, strlen(set.fallback), &url) != 0)
        return false;
    if (!ex->fallback) {
        ex->fallback = true;
        ex->looked_up = false; /* the fallback's name may need a lookup of its own */
    }
    x->subj.url = set.fallback;
    *root = fy_site_map(x->site, &url, file);
    return true;
}
