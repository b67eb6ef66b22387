/* Hidden paths; see hidden.h. */
#include "file/hidden.h"

#include <string.h>

#include "file/rules.h"

#define WELL_KNOWN "/.well-known"

bool fy_url_is_hidden(const char *url)
{
    size_t n = sizeof WELL_KNOWN - 1;
    if (strncmp(url, WELL_KNOWN, n) == 0 && (url[n] == '/' || url[n] == '\0'))
        url += n;
    return strstr(url, "/.") != NULL;
}

bool fy_hidden_refused(const struct fy_hidden_scope *s, const char *url)
{
    if (!fy_url_is_hidden(url))
        return false;
    /* Only /PREFIX rules can match: hidden-files is refused in *.EXT ones. */
    struct fy_rule_subject subj = {.host = s->host, .url = url};
    struct fy_path_settings set;
    fy_rules_resolve(s->cfg, &subj, &set);
    return !set.hidden_files;
}
