/* Who the serving processes run as: `user` and `group` are looked up
 * while the files naming them are still reachable (before fork and
 * chroot); then each serving process, once it has opened everything it
 * needs, enters the optional `chroot` and drops to that identity
 * (supplementary groups, group, user — in that order, all of real,
 * effective and saved).  Serving as root is refused unless the
 * configuration says `user = root`. */
#ifndef FY_PRIVILEGES_H
#define FY_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/config.h"

#define FY_MAX_GROUPS 64

struct fy_identity {
    bool change;                 /* `user` is set: become uid/gid */
    uid_t uid;
    gid_t gid;
    char user[64];               /* for messages */
    gid_t groups[FY_MAX_GROUPS]; /* supplementary groups */
    int ngroups;
};

/* Looks up cfg's user and group.  Returns 0, or -1 with a message. */
int fy_privileges_resolve(const struct fy_config *cfg, struct fy_identity *id, char *err, size_t errlen);

/* chroot (if chroot_dir is not ""), then the identity; refuses root
 * unless it was asked for.  Returns 0, or -1 with a message. */
int fy_privileges_apply(const struct fy_identity *id, const char *chroot_dir, char *err, size_t errlen);

#endif
