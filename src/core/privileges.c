/* Dropping privileges; see privileges.h. */
#include "core/privileges.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int resolve_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
    if (all_digits(name)) {
        *gid = (gid_t)strtoul(name, NULL, 10);
        return 0;
    }
    errno = 0;
    struct group *gr = getgrnam(name);
    if (!gr) {
        snprintf(err, errlen, "group %s: %s", name, errno ? strerror(errno) : "no such group");
        return -1;
    }
    *gid = gr->gr_gid;
    return 0;
}

/* The user's passwd entry by name or number; NULL (errno 0) if none. */
static struct passwd *lookup_user(const char *name)
{
    errno = 0;
    return all_digits(name) ? getpwuid((uid_t)strtoul(name, NULL, 10)) : getpwnam(name);
}

int fy_privileges_resolve(const struct fy_config *cfg, struct fy_identity *id, char *err, size_t errlen)
{
    *id = (struct fy_identity){0};
    if (cfg->user[0] == '\0') {
        if (cfg->group[0] == '\0')
            return 0;
        snprintf(err, errlen, "group %s: set user too (group alone changes nothing)", cfg->group);
        return -1;
    }
    id->change = true;
    snprintf(id->user, sizeof id->user, "%s", cfg->user);
    struct passwd *pw = lookup_user(cfg->user);
    if (!pw && !all_digits(cfg->user)) {
        snprintf(err, errlen, "user %s: %s", cfg->user, errno ? strerror(errno) : "no such user");
        return -1;
    }
    if (!pw && cfg->group[0] == '\0') {
        snprintf(err, errlen, "user %s: no such user; name a group too to run as a bare number", cfg->user);
        return -1;
    }
    id->uid = pw ? pw->pw_uid : (uid_t)strtoul(cfg->user, NULL, 10);
    id->gid = pw ? pw->pw_gid : 0;
    if (cfg->group[0] && resolve_group(cfg->group, &id->gid, err, errlen) < 0)
        return -1;
    id->groups[0] = id->gid;
    id->ngroups = 1;
    if (pw) {
        int n = FY_MAX_GROUPS;
        if (getgrouplist(pw->pw_name, id->gid, id->groups, &n) < 0)
            n = FY_MAX_GROUPS; /* more than fit: keep the first ones */
        id->ngroups = n;
    }
    return 0;
}

static int enter_chroot(const char *dir, char *err, size_t errlen)
{
    tzset(); /* /etc/localtime is not inside the new root: read it now */
    if (chroot(dir) < 0 || chdir("/") < 0) {
        snprintf(err, errlen, "chroot %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int become(const struct fy_identity *id, char *err, size_t errlen)
{
    const char *step = "setgroups";
    if (setgroups((size_t)id->ngroups, id->groups) == 0) {
        step = "setgid";
        if (setresgid(id->gid, id->gid, id->gid) == 0) {
            step = "setuid";
            if (setresuid(id->uid, id->uid, id->uid) == 0)
                step = NULL;
        }
    }
    if (step) {
        snprintf(err, errlen, "user %s: %s: %s", id->user, step, strerror(errno));
        return -1;
    }
    if (id->uid != 0 && setuid(0) == 0) {
        snprintf(err, errlen, "user %s: root privileges could be regained; refusing to serve", id->user);
        return -1;
    }
    return 0;
}

int fy_privileges_apply(const struct fy_identity *id, const char *chroot_dir, char *err, size_t errlen)
{
    bool root = geteuid() == 0;
    if (chroot_dir[0] && enter_chroot(chroot_dir, err, errlen) < 0)
        return -1;
    if (!id->change) {
        if (!root)
            return 0;
        snprintf(err, errlen, "refusing to serve as root: set user = NAME (an unprivileged account such "
                 "as www-data), or user = root to allow it");
        return -1;
    }
    if (root)
        return become(id, err, errlen);
    if (id->uid == geteuid() && id->gid == getegid())
        return 0;
    snprintf(err, errlen, "user %s: ferry must start as root to switch users", id->user);
    return -1;
}
