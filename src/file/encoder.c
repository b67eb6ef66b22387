/* gzip, br and zstd by streaming; see encoder.h.
 *
 * Each coding is one "step" function over a common loop: read a block of
 * the file, hand it to the library, write what comes out; at the end of
 * the input, flush the library's last bytes. */
#include "file/encoder.h"

#include <brotli/encode.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IN_BLOCK  (128 * 1024)
#define OUT_BLOCK (128 * 1024)
#define STRONG_MAX (1 << 20)       /* files up to this get the slowest levels */

const char *fy_coding_name(enum fy_coding c)
{
    switch (c) {
    case FY_CODING_GZIP: return "gzip";
    case FY_CODING_BR: return "br";
    case FY_CODING_ZSTD: return "zstd";
    default: return NULL;
    }
}

enum fy_coding fy_coding_from_name(const char *name, size_t len)
{
    for (enum fy_coding c = FY_CODING_GZIP; c < FY_NCODINGS; c++) {
        const char *n = fy_coding_name(c);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return c;
    }
    return FY_CODING_NONE;
}

/* One coding's library state, the input block being fed (in, in_left)
 * and the output block just produced. */
struct stream {
    enum fy_coding coding;
    z_stream z;
    BrotliEncoderState *br;
    ZSTD_CCtx *zstd;
    const unsigned char *in;
    size_t in_left;
    unsigned char out[OUT_BLOCK];
    size_t out_len;
};

static int stream_init(struct stream *s, enum fy_coding c, uint64_t size)
{
    bool strong = size <= STRONG_MAX;
    s->coding = c;
    switch (c) {
    case FY_CODING_GZIP:
        /* windowBits 15 + 16: the gzip wrapper, not zlib's */
        return deflateInit2(&s->z, strong ? 9 : 6, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK ? 0 : -1;
    case FY_CODING_BR:
        s->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
        if (!s->br)
            return -1;
        BrotliEncoderSetParameter(s->br, BROTLI_PARAM_QUALITY, strong ? 11 : 7);
        BrotliEncoderSetParameter(s->br, BROTLI_PARAM_SIZE_HINT, size > UINT32_MAX ? 0 : (uint32_t)size);
        return 0;
    case FY_CODING_ZSTD:
        s->zstd = ZSTD_createCCtx();
        if (!s->zstd)
            return -1;
        ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_compressionLevel, strong ? 19 : 12);
        /* Browsers decode windows of up to 8 MiB only (RFC 8878 §3). */
        ZSTD_CCtx_setParameter(s->zstd, ZSTD_c_windowLog, size > (8u << 20) ? 23 : 0);
        ZSTD_CCtx_setPledgedSrcSize(s->zstd, size);
        return 0;
    default:
        return -1;
    }
}

static void stream_free(struct stream *s)
{
    if (s->coding == FY_CODING_GZIP)
        deflateEnd(&s->z);
    if (s->br)
        BrotliEncoderDestroyInstance(s->br);
    if (s->zstd)
        ZSTD_freeCCtx(s->zstd);
}

/* Feeds s->in[0..in_left) (all of it, or with `finish` until the end);
 * fills s->out.  Returns 1 while there is more to do with this input, 0
 * when it is taken (and, finishing, the stream is complete), -1 on error. */
static int stream_step(struct stream *s, bool finish)
{
    switch (s->coding) {
    case FY_CODING_GZIP: {
        s->z.next_in = (unsigned char *)s->in;
        s->z.avail_in = (uInt)s->in_left;
        s->z.next_out = s->out;
        s->z.avail_out = OUT_BLOCK;
        int r = deflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (r == Z_STREAM_ERROR)
            return -1;
        s->in = s->z.next_in;
        s->in_left = s->z.avail_in;
        s->out_len = OUT_BLOCK - s->z.avail_out;
        return finish ? r != Z_STREAM_END : s->in_left > 0 || s->z.avail_out == 0;
    }
    case FY_CODING_BR: {
        size_t avail_out = OUT_BLOCK;
        uint8_t *next_out = s->out;
        if (!BrotliEncoderCompressStream(s->br, finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS,
                                         &s->in_left, &s->in, &avail_out, &next_out, NULL))
            return -1;
        s->out_len = OUT_BLOCK - avail_out;
        if (finish)
            return !BrotliEncoderIsFinished(s->br);
        return s->in_left > 0 || BrotliEncoderHasMoreOutput(s->br);
    }
    case FY_CODING_ZSTD: {
        ZSTD_inBuffer in = {s->in, s->in_left, 0};
        ZSTD_outBuffer out = {s->out, OUT_BLOCK, 0};
        size_t r = ZSTD_compressStream2(s->zstd, &out, &in, finish ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(r))
            return -1;
        s->in += in.pos;
        s->in_left -= in.pos;
        s->out_len = out.pos;
        return finish ? r != 0 : s->in_left > 0;
    }
    default:
        return -1;
    }
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Runs the stream over one block of input (or the end); adds what it
 * wrote to *written. */
static int drive(struct stream *s, int out_fd, bool finish, int64_t *written, char *err, size_t errlen)
{
    int more;
    do {
        more = stream_step(s, finish);
        if (more < 0) {
            snprintf(err, errlen, "%s: the encoder failed", fy_coding_name(s->coding));
            return -1;
        }
        if (s->out_len > 0 && write_all(out_fd, s->out, s->out_len) < 0) {
            snprintf(err, errlen, "writing the %s copy: %s", fy_coding_name(s->coding), strerror(errno));
            return -1;
        }
        *written += (int64_t)s->out_len;
    } while (more);
    return 0;
}

int64_t fy_encode(enum fy_coding c, int in_fd, uint64_t size, int out_fd, const atomic_bool *stop,
                  char *err, size_t errlen)
{
    struct stream *s = calloc(1, sizeof *s);
    unsigned char *in = malloc(IN_BLOCK);
    int64_t written = 0;
    int rc = -1;
    if (!s || !in || stream_init(s, c, size) < 0) {
        snprintf(err, errlen, "%s: out of memory", fy_coding_name(c) ? fy_coding_name(c) : "coding");
        goto out;
    }
    for (uint64_t off = 0; off < size;) {
        if (atomic_load_explicit(stop, memory_order_relaxed)) {
            snprintf(err, errlen, "stopped");
            goto out;
        }
        size_t want = size - off < IN_BLOCK ? (size_t)(size - off) : IN_BLOCK;
        ssize_t n = pread(in_fd, in, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "reading the file: %s", n < 0 ? strerror(errno) : "it became shorter");
            goto out;
        }
        s->in = in;
        s->in_left = (size_t)n;
        if (drive(s, out_fd, false, &written, err, errlen) < 0)
            goto out;
        off += (uint64_t)n;
    }
    s->in = in;
    s->in_left = 0;
    if (drive(s, out_fd, true, &written, err, errlen) == 0)
        rc = 0;
out:
    if (s)
        stream_free(s);
    free(s);
    free(in);
    return rc < 0 ? -1 : written;
}
