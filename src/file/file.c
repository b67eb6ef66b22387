/* Opening files under the docroot; see file.h. */
#include "file/file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* O_NONBLOCK so that a FIFO in the docroot cannot block the loop in open();
 * it changes nothing for regular files. */
static int open_beneath(int dirfd, const char *name)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, name[0] ? name : ".", &how, sizeof how);
}

static int status_of_errno(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return 404;
    case EACCES:
    case EPERM:
    case EXDEV:  /* a symlink leading out of the docroot */
    case ELOOP:
        return 403;
    case ENAMETOOLONG:
        return 414;
    case EMFILE:
    case ENFILE:
        return 503;
    default:
        return 500;
    }
}

static int open_and_stat(int dirfd, const char *name, struct fy_file *f)
{
    f->fd = open_beneath(dirfd, name);
    if (f->fd < 0)
        return status_of_errno(errno);
    if (fstat(f->fd, &f->st) < 0) {
        int err = errno;
        fy_file_close(f);
        return status_of_errno(err);
    }
    return 0;
}

/* Tries each index file in the directory `dir` ("" for the root). */
static int open_index(int docroot_fd, const struct fy_path *dir, const char (*index)[256],
                      size_t nindex, struct fy_file *f)
{
    char name[sizeof dir->name];
    for (size_t i = 0; i < nindex; i++) {
        int n = snprintf(name, sizeof name, "%s%s%s", dir->name, dir->len ? "/" : "", index[i]);
        if (n < 0 || (size_t)n >= sizeof name)
            return 414;
        int status = open_and_stat(docroot_fd, name, f);
        if (status == 404)
            continue;
        if (status)
            return status;
        if (S_ISREG(f->st.st_mode)) {
            f->name = index[i];
            f->name_len = strlen(index[i]);
            return 0;
        }
        fy_file_close(f);
    }
    return 403; /* a directory without an index, and listings are off */
}

int fy_file_open(int docroot_fd, const struct fy_path *path, const char (*index)[256],
                 size_t nindex, struct fy_file *f)
{
    *f = (struct fy_file){.fd = -1, .name = path->name, .name_len = path->len};
    int status = open_and_stat(docroot_fd, path->name, f);
    if (status)
        return status;
    if (S_ISDIR(f->st.st_mode)) {
        fy_file_close(f);
        if (!path->trailing_slash)
            return 301;
        return open_index(docroot_fd, path, index, nindex, f);
    }
    if (!S_ISREG(f->st.st_mode) || path->trailing_slash) {
        fy_file_close(f);
        return path->trailing_slash ? 404 : 403;
    }
    return 0;
}

void fy_file_close(struct fy_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

static size_t put_hex(char *out, unsigned long long v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t fy_file_etag(const struct stat *st, char *out)
{
    size_t n = 0;
    out[n++] = '"';
    n += put_hex(out + n, (unsigned long long)st->st_ino);
    out[n++] = '-';
    n += put_hex(out + n, (unsigned long long)st->st_size);
    out[n++] = '-';
    n += put_hex(out + n, (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                              (unsigned long long)st->st_mtim.tv_nsec);
    out[n++] = '"';
    out[n] = '\0';
    return n;
}
