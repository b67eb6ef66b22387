/* The configuration: its defaults, the file grammar, and validation.
 *
 * The file is line-based: "key = value", '#' starts a comment, blank lines
 * are ignored, a key may be repeated only where the reference says so
 * (listen, index-files add; every other key replaces).  Sizes take a k/m/g
 * suffix (powers of 1024), durations ms/s/m/h (no suffix: seconds).
 * doc/config.md is the reference of every key; keep the two in step.
 *
 * Every error message names "FILE:LINE: key: what is wrong"; the caller
 * prints it and refuses to start. */
#ifndef FY_CONFIG_H
#define FY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define FY_CONFIG_MAX_LISTEN 16
#define FY_CONFIG_MAX_INDEX  8
#define FY_CONFIG_ERR_LEN    512

struct fy_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[64];               /* as written, for messages: "127.0.0.1:8080" */
};

enum fy_log_level { FY_LOG_ERROR, FY_LOG_WARN, FY_LOG_INFO, FY_LOG_DEBUG };

struct fy_config {
    struct fy_listen listen[FY_CONFIG_MAX_LISTEN];
    size_t nlisten;
    char docroot[4096];
    char backend[32];
    char index_files[FY_CONFIG_MAX_INDEX][256];
    size_t nindex;
    char mime_types_file[4096];  /* "" = built-in table only */
    char access_log[4096];       /* "" or "off" = none; "stderr" or a file */
    char error_log[4096];        /* "stderr" or a file */
    enum fy_log_level log_level;

    unsigned max_connections;
    unsigned max_keepalive_requests;
    size_t max_request_header_size;
    size_t max_request_body_discard; /* larger bodies: answer, then close */
    int64_t header_timeout_ms;   /* whole request head must arrive within */
    int64_t keepalive_timeout_ms;/* idle between requests */
    int64_t write_timeout_ms;    /* no progress sending a response */
    int64_t shutdown_timeout_ms; /* graceful stop: longest wait for responses */
    size_t send_chunk_size;      /* bytes one connection may send per loop turn */
    unsigned open_file_cache_size; /* open files kept for reuse; 0: none */
    int64_t open_file_cache_ttl_ms;/* how long a kept file is trusted unchecked */

    /* linux-aio-sendfile */
    size_t aio_block_size;       /* bytes per read */
    unsigned aio_read_ahead;     /* blocks read ahead per connection */
    unsigned aio_max_inflight;   /* reads in flight, all connections together */
    size_t aio_min_size;         /* smaller bodies go through plain sendfile */
    bool aio_direct;             /* O_DIRECT reads (bypass the page cache) */
    char aio_pool_dir[4096];     /* a tmpfs directory for the buffer pool */
};

/* Fills the built-in defaults (listen 127.0.0.1:8080, docroot ".", ...). */
void fy_config_defaults(struct fy_config *c);

/* Reads `path` over the values already in c.  Returns 0, or -1 with
 * "FILE:LINE: key: message" (or "FILE: message") in err. */
int fy_config_load(struct fy_config *c, const char *path, char *err, size_t errlen);

/* Sets one key as if read from `origin` (a file name, or "command line").
 * For listen, replace drops earlier values instead of adding to them.
 * Returns 0, or -1 with a message in err. */
int fy_config_set(struct fy_config *c, const char *key, const char *value,
                  const char *origin, int line, bool replace, char *err, size_t errlen);

/* "[ADDR:]PORT", "[v6addr]:PORT"; a bare PORT listens on every IPv4 address.
 * Returns 0 or -1 with a message in err. */
int fy_listen_parse(const char *text, struct fy_listen *out, char *err, size_t errlen);

#endif
