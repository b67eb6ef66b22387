/* Content codings ferry can make itself (compress = ...): gzip (zlib), br
 * (libbrotli) and zstd (libzstd), each streamed from one file into
 * another in blocks, so a stop request takes effect within one block.
 * Called from the compressor's helper thread, never from the loop. */
#ifndef FY_ENCODER_H
#define FY_ENCODER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fy_coding {
    FY_CODING_NONE = 0,
    FY_CODING_GZIP,
    FY_CODING_BR,
    FY_CODING_ZSTD,
};

#define FY_NCODINGS 4

/* "gzip", "br", "zstd": the Content-Encoding name; NULL for NONE. */
const char *fy_coding_name(enum fy_coding c);

/* The coding a name ("gzip", "br", "zstd") stands for, or NONE. */
enum fy_coding fy_coding_from_name(const char *name, size_t len);

/* Compresses bytes [0, size) of in_fd into out_fd (written from its
 * current offset).  Levels: the strongest, since a copy is made once, up
 * to 1 MiB (gzip 9, br 11, zstd 19); beyond, levels that still go at tens
 * of MB/s (gzip 6, br 7, zstd 12), so a large file does not hold the queue
 * for minutes.  Returns the compressed length, or -1 with a message in err
 * ("stopped" when *stop became true). */
int64_t fy_encode(enum fy_coding c, int in_fd, uint64_t size, int out_fd, const atomic_bool *stop,
                  char *err, size_t errlen);

#endif
