/* Access by client address; see access.h. */
#include "file/access.h"

#include "core/acl.h"
#include "core/server.h"
#include "core/stats.h"
#include "request/exchange.h"

bool fy_access_allowed(struct fy_exchange *ex, const struct fy_file_request *x)
{
    const struct fy_config *cfg = &ex->srv->cfg;
    if (cfg->nacl == 0)
        return true;
    struct fy_rule_subject subj = x->subj;
    subj.file_name = fy_url_file_name(subj.url);
    struct fy_path_settings set;
    fy_rules_resolve(cfg, &subj, &set);
    if (fy_acl_allows(set.acl, set.nacl, &ex->client))
        return true;
    fy_stats_add(ex->srv->slot, FY_C_DENIED, 1);
    return false;
}
