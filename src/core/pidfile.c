/* The pid file; see pidfile.h. */
#include "core/pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int fy_pidfile_write(const char *path, pid_t pid, char *err, size_t errlen)
{
    char tmp[4200], text[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(text, sizeof text, "%ld\n", (long)pid);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "pid-file %s: %s", path, strerror(errno));
        return -1;
    }
    bool ok = write(fd, text, (size_t)n) == n;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errlen, "pid-file %s: %s", path, strerror(errno ? errno : EIO));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void fy_pidfile_remove(const char *path)
{
    if (path[0])
        unlink(path);
}
