/* Per-path settings; see rules.h. */
#include "file/rules.h"

#include <string.h>
#include <strings.h>

static bool ext_matches(const char *file_name, const char *ext, size_t len)
{
    if (!file_name)
        return false;
    const char *slash = strrchr(file_name, '/');
    const char *dot = strrchr(slash ? slash + 1 : file_name, '.');
    return dot && strlen(dot + 1) == len && strncasecmp(dot + 1, ext, len) == 0;
}

static bool rule_matches(const struct fy_config *cfg, const struct fy_rule_config *r,
                         const struct fy_rule_subject *subj)
{
    const char *w = fy_config_text(cfg, r->patterns);
    while (*w) {
        size_t len = strcspn(w, " \t");
        if (w[0] == '*' ? ext_matches(subj->file_name, w + 2, len - 2) : strncmp(subj->url, w, len) == 0)
            return true;
        w += len;
        w += strspn(w, " \t");
    }
    return false;
}

static void take_switch(enum fy_tristate t, bool *out)
{
    if (t != FY_INHERIT)
        *out = t == FY_ON;
}

/* A text setting: unset leaves *out, "" (off) clears it. */
static void take_text(const struct fy_config *cfg, fy_text t, const char **out)
{
    if (t) {
        const char *s = fy_config_text(cfg, t);
        *out = s[0] ? s : NULL;
    }
}

static void apply_rule(const struct fy_config *cfg, const struct fy_rule_config *r, struct fy_path_settings *out)
{
    take_text(cfg, r->cache_control, &out->cache_control);
    take_text(cfg, r->fallback, &out->fallback);
    take_text(cfg, r->default_type, &out->default_type);
    take_switch(r->download, &out->download);
    take_text(cfg, r->compress_types, &out->compress_types);
    if (r->compress)
        out->compress = r->compress & ~FY_COMPRESS_SET;
    if (r->compress_min_size >= 0)
        out->compress_min_size = (uint64_t)r->compress_min_size;
    if (r->nacl > 0) {
        out->acl = &cfg->acl[r->acl_first];
        out->nacl = r->nacl;
    }
    if (r->expires_s >= 0)
        out->expires_s = r->expires_s;
    take_switch(r->listing, &out->listing);
    take_switch(r->listing_dotfiles, &out->listing_dotfiles);
    take_switch(r->precompressed, &out->precompressed);
    take_switch(r->hidden_files, &out->hidden_files);
    if (r->auth_realm) {
        const char *realm = fy_config_text(cfg, r->auth_realm);
        out->auth_realm = realm[0] ? realm : NULL;
    }
    if (r->auth_user_file)
        out->auth_user_file = fy_config_text(cfg, r->auth_user_file);
}

bool fy_rule_matches(const struct fy_config *cfg, const struct fy_rule_config *r, const struct fy_rule_subject *subj)
{
    return (r->host == 0 || r->host == subj->host) && rule_matches(cfg, r, subj);
}

/* Runs the statement after it for every rule that applies to subj, as r:
 * the top level's first, then the host's, each in file order. */
#define FOR_EACH_MATCH(cfg, subj, r)                                                         \
    for (unsigned pass_ = 0; pass_ < ((subj)->host ? 2u : 1u); pass_++)                      \
        for (const struct fy_rule_config *r = (cfg)->rules; r < (cfg)->rules + (cfg)->nrules; r++) \
            if (r->host == (pass_ ? (subj)->host : 0) && rule_matches(cfg, r, subj))

void fy_rules_resolve(const struct fy_config *cfg, const struct fy_rule_subject *subj,
                      struct fy_path_settings *out)
{
    *out = (struct fy_path_settings){.compress_min_size = FY_COMPRESS_MIN_SIZE};
    FOR_EACH_MATCH(cfg, subj, r)
        apply_rule(cfg, r, out);
}

void fy_rules_put_headers(const struct fy_config *cfg, const struct fy_rule_subject *subj, struct fy_buf *b)
{
    FOR_EACH_MATCH(cfg, subj, r)
        if (r->headers)
            fy_buf_puts(b, fy_config_text(cfg, r->headers));
}
