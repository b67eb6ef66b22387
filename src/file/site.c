/* Virtual hosts and aliases; see site.h. */
#include "file/site.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void init_root(struct fy_docroot *root, uint16_t id, bool follow, struct fy_sites *s,
                      const struct fy_mime_table *mime)
{
    *root = (struct fy_docroot){
        .fd = -1, .id = id, .follow_symlinks = follow, .index = s->cfg->index_files,
        .nindex = s->cfg->nindex, .mime = mime, .cache = &s->cache,
    };
}

static int open_dir(struct fy_docroot *root, const char *dir)
{
    root->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return root->fd < 0 ? -1 : 0;
}

/* A [host] section that leaves follow-symlinks unset takes the top level's. */
static bool host_follows(const struct fy_config *cfg, unsigned h)
{
    enum fy_tristate t = cfg->hosts[h].follow_symlinks;
    if (t == FY_INHERIT)
        t = cfg->hosts[0].follow_symlinks;
    return t == FY_ON;
}

/* Whether a top-level alias is shadowed by one of host h with the same prefix. */
static bool alias_shadowed(const struct fy_config *cfg, const struct fy_alias_config *a, unsigned h)
{
    if (a->host != 0 || h == 0)
        return false;
    for (unsigned i = 0; i < cfg->naliases; i++)
        if (cfg->aliases[i].host == h &&
            strcmp(fy_config_text(cfg, cfg->aliases[i].prefix), fy_config_text(cfg, a->prefix)) == 0)
            return true;
    return false;
}

static int longer_prefix_first(const void *a, const void *b)
{
    size_t la = ((const struct fy_alias *)a)->len, lb = ((const struct fy_alias *)b)->len;
    return la < lb ? 1 : la > lb ? -1 : 0;
}

static int open_aliases(struct fy_sites *s, struct fy_site *site, uint16_t *next_id,
                        const struct fy_mime_table *mime, char *err, size_t errlen)
{
    const struct fy_config *cfg = s->cfg;
    site->aliases = calloc(cfg->naliases ? cfg->naliases : 1, sizeof *site->aliases);
    if (!site->aliases) {
        snprintf(err, errlen, "aliases: out of memory");
        return -1;
    }
    for (unsigned i = 0; i < cfg->naliases; i++) {
        const struct fy_alias_config *a = &cfg->aliases[i];
        if ((a->host != 0 && a->host != site->host) || alias_shadowed(cfg, a, site->host))
            continue;
        struct fy_alias *out = &site->aliases[site->naliases++];
        out->prefix = fy_config_text(cfg, a->prefix) + 1; /* relative, like fy_path.name */
        out->len = strlen(out->prefix);
        init_root(&out->root, (*next_id)++, host_follows(cfg, site->host), s, mime);
        if (open_dir(&out->root, fy_config_text(cfg, a->dir)) < 0) {
            snprintf(err, errlen, "alias %s %s: %s", fy_config_text(cfg, a->prefix), fy_config_text(cfg, a->dir),
                     strerror(errno));
            return -1;
        }
    }
    qsort(site->aliases, site->naliases, sizeof *site->aliases, longer_prefix_first);
    return 0;
}

static int open_site(struct fy_sites *s, struct fy_site *site, unsigned h, uint16_t *next_id,
                     const struct fy_mime_table *mime, char *err, size_t errlen)
{
    const struct fy_config *cfg = s->cfg;
    site->host = h;
    init_root(&site->root, (*next_id)++, host_follows(cfg, h), s, mime);
    const char *dir = h == 0 ? cfg->docroot : fy_config_text(cfg, cfg->hosts[h].docroot);
    if (open_dir(&site->root, dir) < 0) {
        if (h == 0)
            snprintf(err, errlen, "docroot %s: %s", dir, strerror(errno));
        else
            snprintf(err, errlen, "[host %s] docroot %s: %s", fy_config_text(cfg, cfg->hosts[h].names), dir,
                     strerror(errno));
        return -1;
    }
    return open_aliases(s, site, next_id, mime, err, errlen);
}

int fy_sites_open(struct fy_sites *s, const struct fy_config *cfg, const struct fy_mime_table *mime,
                  char *err, size_t errlen)
{
    *s = (struct fy_sites){.cfg = cfg};
    if (fy_file_cache_init(&s->cache, cfg->open_file_cache_size, cfg->open_file_cache_ttl_ms,
                           cfg->body_cache_size) ||
        !(s->sites = calloc(cfg->nhosts, sizeof *s->sites))) {
        snprintf(err, errlen, "open-file cache: out of memory");
        return -1;
    }
    uint16_t next_id = 0;
    for (unsigned h = 0; h < cfg->nhosts; h++) {
        s->nsites = h + 1;
        if (open_site(s, &s->sites[h], h, &next_id, mime, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void fy_sites_close(struct fy_sites *s)
{
    fy_file_cache_free(&s->cache);
    for (size_t i = 0; i < s->nsites; i++) {
        struct fy_site *site = &s->sites[i];
        if (site->root.fd >= 0)
            close(site->root.fd);
        for (size_t j = 0; j < site->naliases; j++)
            if (site->aliases[j].root.fd >= 0)
                close(site->aliases[j].root.fd);
        free(site->aliases);
    }
    free(s->sites);
    s->sites = NULL;
    s->nsites = 0;
}

const struct fy_site *fy_sites_lookup(const struct fy_sites *s, struct fy_str host)
{
    struct fy_str name, port;
    if (!host.p || host.len == 0)
        return &s->sites[0];
    fy_http_host_split(host, &name, &port);
    return &s->sites[fy_config_match_host(s->cfg, name.p, name.len)];
}

const struct fy_docroot *fy_site_map(const struct fy_site *site, const struct fy_path *url,
                                     struct fy_path *file)
{
    for (size_t i = 0; i < site->naliases; i++) {
        const struct fy_alias *a = &site->aliases[i];
        if (url->len < a->len || memcmp(url->name, a->prefix, a->len) != 0 ||
            (url->len > a->len && url->name[a->len] != '/'))
            continue;
        size_t skip = url->len == a->len ? a->len : a->len + 1;
        file->len = url->len - skip;
        memcpy(file->name, url->name + skip, file->len + 1);
        file->trailing_slash = url->trailing_slash;
        return &a->root;
    }
    file->len = url->len;
    memcpy(file->name, url->name, url->len + 1);
    file->trailing_slash = url->trailing_slash;
    return &site->root;
}
