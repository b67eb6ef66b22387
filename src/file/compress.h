/* compress = zstd br gzip: files a client takes compressed are compressed
 * once, off the loop, and then sent compressed like any file.
 *
 *   request ─► compressible? (compress-types, compress-min-size, size bound)
 *     ─► the codings the client accepts, best q first (ties: the order of
 *        the compress key)
 *     ─► the worker's table: a copy READY ─► c->file becomes the copy
 *                                           (Content-Encoding, its ETag)
 *                            none yet    ─► a job for the helper thread;
 *                                           this response goes plain
 *
 * The helper thread (one per worker, niced) finds the copy in
 * compress-cache-dir (another worker may have made it) or makes it there
 * (compress_cache.h), then hands back an open descriptor through an
 * eventfd the loop watches.  The loop never reads, compresses or opens
 * anything for it: it only dups the descriptors the table keeps.  The
 * table is bounded (least recently used out); the directory too. */
#ifndef FY_COMPRESS_H
#define FY_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/log.h"
#include "core/stats.h"
#include "event/loop.h"

struct fy_compressor;
struct fy_exchange;
struct fy_file_request;

/* Whether any rule of cfg compresses. */
bool fy_compress_wanted(const struct fy_config *cfg);

/* Opens (making it, mode 0700) the cache directory and starts the helper
 * thread.  Returns NULL with a message in err when it cannot; files are
 * then sent as they are. */
struct fy_compressor *fy_compressor_start(const struct fy_config *cfg, struct fy_loop *loop, struct fy_log *log,
                                          struct fy_stats_slot *slot, char *err, size_t errlen);

/* Stops the thread (a copy being made is dropped within one block) and
 * closes everything; z may be NULL. */
void fy_compressor_stop(struct fy_compressor *z);

/* c->file is the regular file to answer with, x->set its path settings:
 * swaps c->file for its compressed copy (x->encoding set) when one is
 * ready in a coding the client takes, queues its making when not.  Sets
 * x->vary for every compressible file. */
void fy_compress_choose(struct fy_compressor *z, struct fy_exchange *ex, struct fy_file_request *x);

/* The media type (before any ';') is in the list (NULL: the default one,
 * FY_COMPRESS_TYPES); an entry whose subtype is "*" matches its whole type. */
bool fy_compress_type_matches(const char *list, const char *content_type);

#define FY_COMPRESS_TYPES                                                                           \
    "text/html text/css text/javascript application/javascript application/json application/ld+json " \
    "application/manifest+json application/xml text/xml application/xhtml+xml text/plain text/markdown " \
    "text/csv image/svg+xml application/wasm"

#endif
