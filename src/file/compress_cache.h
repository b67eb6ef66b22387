/* The directory of compressed copies (compress-cache-dir), shared by every
 * worker and every ferry that names it: one file per (file version,
 * coding), named after the key, so any process finds what another made.
 *
 *   key = the plain file's device, inode, size and mtime (ns), the coding
 *   name = "DEV-INO-SIZE-MTIME.gz" (.br, .zst), in hex
 *
 * A file changed on disk has another key: its old copies are never found
 * for it, and age out.  A copy is written to a temporary name ("NAME.tmp",
 * created exclusively: the process that creates it makes the copy, the
 * others wait for it) and linked in under its own only when complete, so
 * a reader never sees half of one.  The
 * copy's mtime is the plain file's (its Last-Modified), its atime the last
 * use, the least recently used order in which trimming removes copies.
 * Only names of this form are ever removed.  All of this touches the disk:
 * the compressor's helper thread calls it, never the loop. */
#ifndef FY_COMPRESS_CACHE_H
#define FY_COMPRESS_CACHE_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "file/encoder.h"

struct fy_zkey {
    uint64_t dev, ino, size, mtime_ns;
    enum fy_coding coding;
};

#define FY_ZCACHE_NAME_MAX 96

/* The key of a plain file's copy in `coding`. */
struct fy_zkey fy_zkey_of(const struct stat *st, enum fy_coding coding);

void fy_zcache_name(const struct fy_zkey *k, char out[FY_ZCACHE_NAME_MAX]);

/* The copy for k, when it exists: an O_RDONLY descriptor with *st, or -1. */
int fy_zcache_open(int dirfd, const struct fy_zkey *k, struct stat *st);

/* fy_zcache_make(): the copy would not be smaller than the file; the
 * file is no longer the version k names (changed while compressed);
 * another process is making this copy now. */
#define FY_ZCACHE_NOT_SMALLER (-2)
#define FY_ZCACHE_STALE       (-3)
#define FY_ZCACHE_BUSY        (-4)

/* Makes the copy for k from plain_fd (the file k names).  Returns a
 * descriptor of the copy with *st, or -1 with a message in err, or one of
 * the two codes above. */
int fy_zcache_make(int dirfd, const struct fy_zkey *k, int plain_fd, const atomic_bool *stop, struct stat *st,
                   char *err, size_t errlen);

/* Marks the copy of k used now. */
void fy_zcache_touch(int dirfd, const struct fy_zkey *k);

/* Removes the least recently used copies until the directory holds at
 * most `max` bytes of them (down to 90% of it, so that not every new copy
 * trims), and temporary files untouched for five minutes (a process that
 * died while writing one).  Returns the bytes the copies left hold. */
uint64_t fy_zcache_trim(int dirfd, uint64_t max);

#endif
