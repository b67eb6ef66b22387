/* sd_notify and socket activation without libsystemd; see systemd.h. */
#include "core/systemd.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int fy_sd_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || path[0] == '\0')
        return 0;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sun.sun_path)
        return -EINVAL;
    memcpy(sun.sun_path, path, len);
    if (path[0] == '@')
        sun.sun_path[0] = '\0'; /* an abstract socket */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, alen);
    int err = n < 0 ? -errno : 1;
    close(fd);
    return err;
}

/* A decimal number that fills the whole string. */
static int parse_ulong(const char *s, unsigned long *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return errno || *end ? -1 : 0;
}

int fy_sd_listen_fds(char *err, size_t errlen)
{
    const char *pid_text = getenv("LISTEN_PID"), *fds_text = getenv("LISTEN_FDS");
    unsigned long pid, n;
    int rc = 0;
    if (!pid_text || !fds_text)
        rc = 0;
    else if (parse_ulong(pid_text, &pid) < 0 || parse_ulong(fds_text, &n) < 0 || n > 1024) {
        snprintf(err, errlen, "socket activation: bad LISTEN_PID=\"%s\" or LISTEN_FDS=\"%s\"", pid_text,
                 fds_text);
        rc = -1;
    } else if (pid == (unsigned long)getpid())
        rc = (int)n; /* else: meant for the process that set them, not us */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return rc;
}
