/* Opening the file a request names, under the docroot and never above it.
 *
 * Names are resolved with openat2(RESOLVE_BENEATH) on the docroot's
 * directory fd, so neither '..' nor a symlink can lead outside it; the
 * kernel enforces what path.c already checked.  With follow-symlinks on, a
 * symlink may lead anywhere (path.c still keeps '..' out of the name).  A
 * directory is answered by its first index file that exists.  Files opened
 * recently come from the open-file cache all docroots share (keyed by the
 * docroot's id and the name). */
#ifndef FY_FILE_H
#define FY_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/config.h"
#include "file/file_cache.h"
#include "file/mime.h"
#include "file/path.h"

struct fy_docroot {
    int fd;                          /* the directory, O_DIRECTORY */
    uint16_t id;                     /* its part of the cache keys */
    bool follow_symlinks;
    const char (*index)[256];        /* index-file names */
    size_t nindex;
    const struct fy_mime_table *mime;
    struct fy_file_cache *cache;     /* shared by every docroot */
};

struct fy_file {
    int fd;                          /* -1 when not open */
    struct stat st;
    const char *content_type;
    const char *index_name;          /* the index file a directory was answered with, or NULL */
    struct fy_file_cache_entry *cached; /* owns fd when set */
};

/* Opens path (from fy_path_resolve).  Returns 0 with f->fd open on a
 * regular file, or on the directory itself when it has no index file (the
 * caller lists it or answers 403; directories are never cached); or the
 * status to answer with: 301 (a directory named without its trailing
 * slash), 403, 404, 414, 500 or 503 (out of file descriptors). */
int fy_file_open(const struct fy_docroot *root, const struct fy_path *path, int64_t now_ms, struct fy_file *f);

void fy_file_close(struct fy_file *f);

/* fy_file_open() in two halves, for a caller that does something between
 * them (the handler looks the name up off the loop).  _cached: from the
 * open-file cache only: true with f filled in when path is there, false (f
 * closed) when opening it would touch the disk.  _uncached: the rest, an
 * open() from the disk whose result the cache keeps. */
bool fy_file_open_cached(const struct fy_docroot *root, const struct fy_path *path, int64_t now_ms,
                         struct fy_file *f);
int  fy_file_open_uncached(const struct fy_docroot *root, const struct fy_path *path, int64_t now_ms,
                           struct fy_file *f);

/* openat2() under dirfd: beneath it, or, with follow, wherever symlinks lead. */
int fy_open_under(int dirfd, const char *name, int flags, bool follow);

/* A strong validator, quoted, as `mode` says: "SIZE-MTIME" (hex; mtime
 * in nanoseconds), which identical copies of a file on other machines
 * share (cp -p, rsync -t), or "INODE-SIZE-MTIME", which they do not.
 * out needs FY_ETAG_MAX bytes.  Returns its length; 0 (out "") for
 * FY_ETAG_OFF.  FY_ETAG_DIGEST gives SIZE-MTIME (what it stands for until
 * the digest is known). */
#define FY_ETAG_MAX 80
size_t fy_file_etag(const struct stat *st, enum fy_etag_mode mode, char *out);

/* The strong validator of etag = digest: the SHA-256 in hex, quoted, as
 * sha256sum(1) prints it.  Returns its length. */
size_t fy_file_etag_digest(const unsigned char sha[32], char *out);

#endif
