/* The pid file: the serving process's (the master's) pid and a newline,
 * written once ferry serves (atomically: a temporary file renamed over
 * it) and removed when it stops. */
#ifndef FY_PIDFILE_H
#define FY_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Returns 0, or -1 with a message in err. */
int  fy_pidfile_write(const char *path, pid_t pid, char *err, size_t errlen);
void fy_pidfile_remove(const char *path);

#endif
