/* Opening files under the docroot; see file.h. */
#include "file/file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int fy_open_under(int dirfd, const char *name, int flags, bool follow)
{
    struct open_how how = {
        .flags = (uint64_t)flags | O_CLOEXEC,
        .resolve = RESOLVE_NO_MAGICLINKS | (follow ? 0 : RESOLVE_BENEATH),
    };
    return (int)syscall(SYS_openat2, dirfd, name[0] ? name : ".", &how, sizeof how);
}

/* O_NONBLOCK so that a FIFO in the docroot cannot block the loop in open();
 * it changes nothing for regular files. */
static int open_beneath(const struct fy_docroot *root, const char *name)
{
    return fy_open_under(root->fd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY, root->follow_symlinks);
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

static int open_and_stat(const struct fy_docroot *root, const char *name, struct fy_file *f)
{
    f->fd = open_beneath(root, name);
    if (f->fd < 0)
        return status_of_errno(errno);
    if (fstat(f->fd, &f->st) < 0) {
        int err = errno;
        fy_file_close(f);
        return status_of_errno(err);
    }
    return 0;
}

/* Tries each index file in the directory `dir` ("" for the root); on
 * success *opened is the index name, for the MIME type. */
static int open_index(const struct fy_docroot *root, const struct fy_path *dir, struct fy_file *f,
                      const char **opened)
{
    char name[sizeof dir->name];
    for (size_t i = 0; i < root->nindex; i++) {
        int n = snprintf(name, sizeof name, "%s%s%s", dir->name, dir->len ? "/" : "", root->index[i]);
        if (n < 0 || (size_t)n >= sizeof name)
            return 414;
        int status = open_and_stat(root, name, f);
        if (status == 404)
            continue;
        if (status)
            return status;
        if (S_ISREG(f->st.st_mode)) {
            *opened = root->index[i];
            return 0;
        }
        fy_file_close(f);
    }
    return 403;
}

/* A directory: its index file, or the directory itself (kept open in f)
 * when it has none. */
static int open_directory(const struct fy_docroot *root, const struct fy_path *path, struct fy_file *f)
{
    if (!path->trailing_slash) {
        fy_file_close(f);
        return 301;
    }
    struct fy_file dir = *f;
    const char *index = NULL;
    int status = open_index(root, path, f, &index);
    if (status == 403) {
        *f = dir;
        return 0;
    }
    fy_file_close(&dir);
    if (status)
        return status;
    f->index_name = index;
    f->content_type = fy_mime_lookup(root->mime, index, strlen(index));
    return 0;
}

static int open_from_disk(const struct fy_docroot *root, const struct fy_path *path, struct fy_file *f)
{
    int status = open_and_stat(root, path->name, f);
    if (status)
        return status;
    if (S_ISDIR(f->st.st_mode))
        return open_directory(root, path, f);
    if (!S_ISREG(f->st.st_mode) || path->trailing_slash) {
        fy_file_close(f);
        return path->trailing_slash ? 404 : 403;
    }
    f->content_type = fy_mime_lookup(root->mime, path->name, path->len);
    return 0;
}

static void use_entry(struct fy_file *f, struct fy_file_cache_entry *e)
{
    f->cached = e;
    f->fd = e->fd;
    f->st = e->st;
    f->content_type = e->content_type;
    f->index_name = e->index_name;
}

#define CACHE_KEY_MAX (2 + sizeof ((struct fy_path *)0)->name + 1)

/* The docroot's id first; "dir" and "dir/" answer differently (301 and the
 * index): both in the key.  Returns its length. */
static size_t cache_key(const struct fy_docroot *root, const struct fy_path *path, char key[CACHE_KEY_MAX])
{
    key[0] = (char)(root->id >> 8);
    key[1] = (char)(root->id & 0xff);
    size_t key_len = 2 + path->len;
    memcpy(key + 2, path->name, path->len);
    if (path->trailing_slash)
        key[key_len++] = '/';
    return key_len;
}

bool fy_file_open_cached(const struct fy_docroot *root, const struct fy_path *path, int64_t now_ms,
                         struct fy_file *f)
{
    *f = (struct fy_file){.fd = -1};
    char key[CACHE_KEY_MAX];
    struct fy_file_cache_entry *e = fy_file_cache_get(root->cache, key, cache_key(root, path, key), now_ms);
    if (e)
        use_entry(f, e);
    return e != NULL;
}

int fy_file_open(const struct fy_docroot *root, const struct fy_path *path, int64_t now_ms, struct fy_file *f)
{
    return fy_file_open_cached(root, path, now_ms, f) ? 0 : fy_file_open_uncached(root, path, now_ms, f);
}

int fy_file_open_uncached(const struct fy_docroot *root, const struct fy_path *path, int64_t now_ms,
                          struct fy_file *f)
{
    char key[CACHE_KEY_MAX];
    size_t key_len = cache_key(root, path, key);
    int status = open_from_disk(root, path, f);
    if (status || S_ISDIR(f->st.st_mode))
        return status;
    struct fy_file_cache_entry *e = fy_file_cache_put(root->cache, key, key_len, f->fd, &f->st, now_ms);
    if (e) {
        e->content_type = f->content_type;
        e->index_name = f->index_name;
        use_entry(f, e);
    }
    return 0;
}

void fy_file_close(struct fy_file *f)
{
    if (f->cached)
        fy_file_cache_release(f->cached);
    else if (f->fd >= 0)
        close(f->fd);
    f->cached = NULL;
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

size_t fy_file_etag(const struct stat *st, enum fy_etag_mode mode, char *out)
{
    size_t n = 0;
    out[0] = '\0';
    if (mode == FY_ETAG_OFF)
        return 0;
    out[n++] = '"';
    if (mode == FY_ETAG_INODE_SIZE_MTIME) {
        n += put_hex(out + n, (unsigned long long)st->st_ino);
        out[n++] = '-';
    }
    n += put_hex(out + n, (unsigned long long)st->st_size);
    out[n++] = '-';
    n += put_hex(out + n, (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                              (unsigned long long)st->st_mtim.tv_nsec);
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

size_t fy_file_etag_digest(const unsigned char sha[32], char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    out[n++] = '"';
    for (size_t i = 0; i < 32; i++) {
        out[n++] = hex[sha[i] >> 4];
        out[n++] = hex[sha[i] & 15];
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}
