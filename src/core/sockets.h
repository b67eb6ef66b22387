/* The listening sockets, opened once by the process that starts (as root,
 * before privileges are dropped) and handed to the processes that accept.
 *
 * Per listen address either one socket that every worker accepts on
 * (shared), or an SO_REUSEPORT group of sockets that the kernel balances
 * connections over, worker w of n taking the sockets j with j % n == w.
 * A group only grows: closing a member would reset the connections queued
 * on it, so after a reload to fewer workers some take two.
 *
 * Under socket activation the sockets systemd passes replace the
 * configured addresses (and are shared: there is one per address). */
#ifndef FY_SOCKETS_H
#define FY_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

struct fy_socket_group {
    struct fy_listen addr;
    bool reuseport;              /* nfd sockets in an SO_REUSEPORT group */
    bool join;                   /* the group may share the port with another process's */
    unsigned nfd;
    int fd[FY_CONFIG_MAX_WORKERS];
};

struct fy_sockets {
    struct fy_socket_group group[FY_CONFIG_MAX_LISTEN];
    size_t n;
    bool activated;              /* passed by systemd: cfg->listen is not used */
};

#define FY_LISTEN_BACKLOG 4096

/* A socket one process accepts on. */
struct fy_listen_fd {
    int fd;
    bool shared;                 /* other processes accept on it too */
    bool tls;                    /* its connections speak TLS */
    bool proxy_protocol;         /* its connections start with a PROXY protocol header */
    char text[64];               /* its address, for messages */
};

/* Takes the sockets of socket activation, or opens those cfg->listen names:
 * with reuseport, nsock per address.  They are bound, not yet listening:
 * the servers call listen() once ready.  Returns 0, or -1 with a one-line
 * message in err (nothing stays open). */
int  fy_sockets_open(struct fy_sockets *s, const struct fy_config *cfg, bool reuseport, unsigned nsock,
                     char *err, size_t errlen);

/* For a reload: next holds cur's sockets where an address (and its mode)
 * stays, new ones where not, groups grown to nsock.  cur is not changed;
 * afterwards close what one set holds and the other not. */
int  fy_sockets_prepare(struct fy_sockets *next, const struct fy_sockets *cur, const struct fy_config *cfg,
                        bool reuseport, unsigned nsock, char *err, size_t errlen);

/* Closes the sockets of s that other does not hold (other may be NULL). */
void fy_sockets_close_except(struct fy_sockets *s, const struct fy_sockets *other);

/* The sockets worker w of n accepts on, written to out (up to max; out
 * may be NULL to count them).  Returns how many there are. */
size_t fy_sockets_pick(const struct fy_sockets *s, unsigned w, unsigned n, struct fy_listen_fd *out,
                       size_t max);

/* In a new worker: closes every socket of s that is not in keep. */
void fy_sockets_keep_only(struct fy_sockets *s, const struct fy_listen_fd *keep, size_t nkeep);

#endif
