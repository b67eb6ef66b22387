/* The listening sockets; see sockets.h. */
#include "core/sockets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/systemd.h"

/* What to do about the usual failures, after strerror(). */
static const char *bind_hint(int err)
{
    switch (err) {
    case EADDRINUSE: return " (another process listens there)";
    case EACCES: return " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    case EADDRNOTAVAIL: return " (no network interface has this address)";
    default: return "";
    }
}

static int fail_errno(const struct fy_listen *addr, const char *what, char *err, size_t errlen)
{
    int e = errno;
    snprintf(err, errlen, "listen %s: %s%s%s", addr->text, what, strerror(e), bind_hint(e));
    return -1;
}

/* A socket bound to addr.  The process that serves on it calls listen()
 * once it is ready (fy_server_start), so that a connection accepted by the
 * kernel means a server that answers. */
static int open_one(const struct fy_listen *addr, bool reuseport, char *err, size_t errlen)
{
    int fd = socket(addr->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail_errno(addr, "socket: ", err, errlen);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        bind(fd, (const struct sockaddr *)&addr->addr, addr->addrlen) < 0) {
        fail_errno(addr, "", err, errlen);
        close(fd);
        return -1;
    }
    return fd;
}

/* An SO_REUSEPORT group would silently share the port with any other
 * group of the same user (a second ferry, say): a plain bind first makes
 * "address in use" an error, as it is without reuseport. */
static int probe_free(const struct fy_listen *addr, char *err, size_t errlen)
{
    int fd = open_one(addr, false, err, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Grows g to nfd sockets (a shared group has one). */
static int group_fill(struct fy_socket_group *g, unsigned nfd, char *err, size_t errlen)
{
    if (!g->reuseport)
        nfd = 1;
    if (g->nfd == 0 && g->reuseport && !g->join && probe_free(&g->addr, err, errlen) < 0)
        return -1;
    while (g->nfd < nfd) {
        int fd = open_one(&g->addr, g->reuseport, err, errlen);
        if (fd < 0)
            return -1;
        g->fd[g->nfd++] = fd;
    }
    return 0;
}

static bool set_holds(const struct fy_sockets *s, int fd)
{
    for (size_t i = 0; s && i < s->n; i++)
        for (unsigned j = 0; j < s->group[i].nfd; j++)
            if (s->group[i].fd[j] == fd)
                return true;
    return false;
}

void fy_sockets_close_except(struct fy_sockets *s, const struct fy_sockets *other)
{
    for (size_t i = 0; i < s->n; i++)
        for (unsigned j = 0; j < s->group[i].nfd; j++)
            if (!set_holds(other, s->group[i].fd[j]))
                close(s->group[i].fd[j]);
    s->n = 0;
}

/* --- socket activation ------------------------------------------------------ */

static int adopt_one(struct fy_socket_group *g, int fd, char *err, size_t errlen)
{
    int type = 0, listening = 0;
    socklen_t len = sizeof type;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &(socklen_t){sizeof listening}) < 0 ||
        !listening || getsockname(fd, (struct sockaddr *)&ss, &slen) < 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        snprintf(err, errlen, "socket activation: descriptor %d is not a listening TCP socket", fd);
        return -1;
    }
    *g = (struct fy_socket_group){.nfd = 1, .fd = {fd}};
    g->addr.addr = ss;
    g->addr.addrlen = slen;
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        port = ntohs(sin->sin_port);
        snprintf(g->addr.text, sizeof g->addr.text, "%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        port = ntohs(sin6->sin6_port);
        snprintf(g->addr.text, sizeof g->addr.text, "[%s]:%u", host, port);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

static int adopt_activated(struct fy_sockets *s, int n, char *err, size_t errlen)
{
    if (n > FY_CONFIG_MAX_LISTEN) {
        snprintf(err, errlen, "socket activation: %d sockets passed (at most %d)", n, FY_CONFIG_MAX_LISTEN);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (adopt_one(&s->group[i], FY_SD_LISTEN_FDS_START + i, err, errlen) < 0) {
            for (int j = 0; j < n; j++)
                close(FY_SD_LISTEN_FDS_START + j);
            return -1;
        }
    }
    s->n = (size_t)n;
    s->activated = true;
    return 0;
}

/* --- opening ------------------------------------------------------------------ */

/* Sockets systemd passed take the options (tls, proxy-protocol) the
 * configuration gives their address. */
static void mark_options(struct fy_sockets *s, const struct fy_config *cfg)
{
    for (size_t i = 0; i < s->n; i++) {
        struct fy_listen *a = &s->group[i].addr;
        a->tls = a->proxy_protocol = false;
        for (size_t j = 0; j < cfg->nlisten; j++) {
            if (cfg->listen[j].addrlen == a->addrlen && memcmp(&cfg->listen[j].addr, &a->addr, a->addrlen) == 0) {
                a->tls = cfg->listen[j].tls;
                a->proxy_protocol = cfg->listen[j].proxy_protocol;
            }
        }
    }
}

int fy_sockets_open(struct fy_sockets *s, const struct fy_config *cfg, bool reuseport, unsigned nsock,
                    char *err, size_t errlen)
{
    *s = (struct fy_sockets){0};
    int n = fy_sd_listen_fds(err, errlen);
    if (n < 0)
        return -1;
    if (n > 0) {
        if (adopt_activated(s, n, err, errlen) < 0)
            return -1;
        mark_options(s, cfg);
        return 0;
    }
    return fy_sockets_prepare(s, NULL, cfg, reuseport, nsock, err, errlen);
}

static const struct fy_socket_group *find_group(const struct fy_sockets *s, const struct fy_listen *addr,
                                                bool reuseport)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const struct fy_socket_group *g = &s->group[i];
        if (g->reuseport == reuseport && g->addr.addrlen == addr->addrlen &&
            memcmp(&g->addr.addr, &addr->addr, addr->addrlen) == 0)
            return g;
    }
    return NULL;
}

int fy_sockets_prepare(struct fy_sockets *next, const struct fy_sockets *cur, const struct fy_config *cfg,
                       bool reuseport, unsigned nsock, char *err, size_t errlen)
{
    if (cur && cur->activated) {
        *next = *cur;
        mark_options(next, cfg);
        return 0;
    }
    *next = (struct fy_sockets){0};
    for (size_t i = 0; i < cfg->nlisten; i++) {
        struct fy_socket_group *g = &next->group[next->n++];
        const struct fy_socket_group *old = find_group(cur, &cfg->listen[i], reuseport);
        if (old) {
            *g = *old;
            g->addr.tls = cfg->listen[i].tls; /* the new configuration says */
            g->addr.proxy_protocol = cfg->listen[i].proxy_protocol;
        } else
            *g = (struct fy_socket_group){.addr = cfg->listen[i], .reuseport = reuseport,
                                          .join = reuseport && cfg->reuseport_join};
        if (group_fill(g, nsock, err, errlen) < 0) {
            fy_sockets_close_except(next, cur);
            return -1;
        }
    }
    return 0;
}

/* --- handing out ---------------------------------------------------------------- */

size_t fy_sockets_pick(const struct fy_sockets *s, unsigned w, unsigned n, struct fy_listen_fd *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct fy_socket_group *g = &s->group[i];
        for (unsigned j = 0; j < g->nfd; j++) {
            if (g->nfd > 1 && j % n != w)
                continue;
            if (out && k < max) {
                out[k].fd = g->fd[j];
                out[k].shared = g->nfd == 1 && n > 1;
                out[k].tls = g->addr.tls;
                out[k].proxy_protocol = g->addr.proxy_protocol;
                snprintf(out[k].text, sizeof out[k].text, "%s", g->addr.text);
            }
            k++;
        }
    }
    return k;
}

void fy_sockets_keep_only(struct fy_sockets *s, const struct fy_listen_fd *keep, size_t nkeep)
{
    for (size_t i = 0; i < s->n; i++) {
        for (unsigned j = 0; j < s->group[i].nfd; j++) {
            bool kept = false;
            for (size_t k = 0; k < nkeep && !kept; k++)
                kept = keep[k].fd == s->group[i].fd[j];
            if (!kept)
                close(s->group[i].fd[j]);
        }
    }
    s->n = 0;
}
