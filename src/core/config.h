/* The configuration: its defaults, the file grammar, and validation.
 *
 * The file is line-based: "key = value", '#' starts a comment, blank lines
 * are ignored, a key may be repeated only where the reference says so
 * (listen, index-files, status-allow and the section keys alias,
 * error-page, add-header, redirect add; every other key replaces).  Sizes
 * take a k/m/g suffix (powers of 1024), durations ms/s/m/h (no suffix:
 * seconds).
 * doc/config.md is the reference of every key; keep the two in step.
 *
 * Two kinds of section line scope the keys after them: "[host NAME ...]"
 * starts a virtual host, "[path PATTERN ...]" a set of per-path settings
 * (of the host it follows, or of every host before any [host]).  Their
 * strings live in one arena inside the struct, referred to by offset, so
 * a struct fy_config stays a plain value: copied, never freed.
 *
 * Every error message names "FILE:LINE: key: what is wrong"; the caller
 * prints it and refuses to start. */
#ifndef FY_CONFIG_H
#define FY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/acl.h"

#define FY_CONFIG_MAX_LISTEN 16
#define FY_CONFIG_MAX_INDEX  8
#define FY_CONFIG_ERR_LEN    512
#define FY_CONFIG_MAX_WORKERS 256
#define FY_CONFIG_MAX_ALLOW  16      /* status-allow networks */
#define FY_CONFIG_MAX_ACL    1024    /* allow/deny networks, all scopes together */
#define FY_CONFIG_MAX_HOSTS  64      /* [host] sections, plus the top level */
#define FY_CONFIG_MAX_RULES  256     /* [path] sections, plus implicit ones */
#define FY_CONFIG_MAX_ALIASES 64
#define FY_CONFIG_MAX_ERROR_PAGES 64
#define FY_CONFIG_MAX_REDIRECTS 512
#define FY_CONFIG_TEXT_SIZE  (64 * 1024) /* the arena of section strings */

/* compress = CODING ...: the codings (enum fy_coding, file/encoder.h) in
 * the order written, 4 bits each from the lowest, after a bit that says
 * the key was set (FY_COMPRESS_SET alone: off). */
#define FY_COMPRESS_SET (1u << 16)
#define FY_COMPRESS_CODING(v, i) (((v) >> (4 * (i))) & 15u)
#define FY_COMPRESS_MIN_SIZE 256     /* compress-min-size unless set */

/* A string in fy_config.text, by offset; 0 means "not set here" (text[0]
 * is ""), any other offset is set, possibly to "" (a key set to off). */
typedef uint32_t fy_text;

/* A setting a narrower scope may leave to a wider one. */
enum fy_tristate { FY_INHERIT = 0, FY_OFF, FY_ON };

/* hosts[0] is the top level: the default host, and the fallback of every
 * setting a [host] section leaves unset. */
struct fy_host_config {
    fy_text names;               /* lowercase, space-separated; "" for hosts[0] */
    fy_text docroot;             /* hosts[0] uses fy_config.docroot */
    enum fy_tristate follow_symlinks;
    fy_text tls_certificate;     /* PEM chain, leaf first; unset: the top level's */
    fy_text tls_key;
    fy_text redirect_host;       /* "NAME[:PORT]" every request goes to; [host] only */
    int line;                    /* of the section line, for messages */
};

struct fy_alias_config {
    unsigned host;               /* index in hosts */
    fy_text prefix;              /* "/static": a normalised URL path, no trailing '/' */
    fy_text dir;
};

struct fy_error_page_config {
    unsigned host;
    int status;
    fy_text path;                /* a URL path of the host: "/errors/404.html" */
};

/* What a file's ETag is made of (doc/config.md#etag).  0 is unset, so a
 * rule that does not name it leaves it to the rules before. */
enum fy_etag_mode {
    FY_ETAG_UNSET = 0,
    FY_ETAG_SIZE_MTIME,          /* the default: agrees across replicas of a tree */
    FY_ETAG_INODE_SIZE_MTIME,    /* the inode too: one machine's copy only */
    FY_ETAG_OFF,                 /* no ETag; Last-Modified alone validates */
    FY_ETAG_DIGEST,              /* the file's SHA-256: agrees wherever the bytes do */
};

/* Per-path settings: a [path] section, or the path keys written directly
 * at the top level or in a [host] section (pattern "/"). */
struct fy_rule_config {
    unsigned host;               /* 0: every host; else hosts[host] only */
    bool implicit;               /* keys outside a [path] section */
    fy_text patterns;            /* "/prefix" and "*.ext", space-separated */
    fy_text cache_control;       /* the Cache-Control value; "" = none */
    int64_t expires_s;           /* -1: not set; 0: off; else seconds */
    enum fy_tristate listing, listing_dotfiles, precompressed;
    enum fy_tristate hidden_files;   /* FY_ON: allow, FY_OFF: deny (doc/config.md#hidden-files) */
    enum fy_etag_mode etag;
    int64_t limit_rate;          /* bytes per second; -1: not set; 0: off */
    int64_t limit_rate_after;    /* -1: not set */
    fy_text headers;             /* "Name: value\r\n" lines, accumulated */
    fy_text auth_realm;          /* auth-basic: the realm; "" = off (no password asked) */
    fy_text auth_user_file;      /* auth-basic-user-file: an htpasswd file */
    int auth_realm_line, auth_user_file_line; /* where they were set, for messages */
    fy_text fallback;            /* a URL path served for missing files; "" = off */
    unsigned acl_first, nacl;    /* its allow/deny entries: acl[acl_first..+nacl) */
    enum fy_tristate download;   /* Content-Disposition: attachment */
    fy_text default_type;        /* Content-Type of unknown extensions; "" = the built-in */
    unsigned compress;           /* 0: not set here; else FY_COMPRESS_SET | codings */
    fy_text compress_types;      /* media types, subtype "*" for any; "" = the default list */
    int64_t compress_min_size;   /* -1: not set here */
};

/* redirect = FROM TO [STATUS], kept with the rule of the scope it was
 * written in (an implicit one outside [path]): that rule says for which
 * host and paths it holds. */
struct fy_redirect_config {
    unsigned rule;               /* index in rules */
    fy_text from;                /* "/old.html" (exact) or "/old/" (a prefix) */
    fy_text to;                  /* "/new/" or "https://host/new/" */
    int status;                  /* 301, 302, 303, 307 or 308 */
};

struct fy_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[64];               /* as written, for messages: "127.0.0.1:8080" */
    bool tls;                    /* "ADDR:PORT tls": connections speak TLS */
    bool proxy_protocol;         /* "ADDR:PORT proxy-protocol": connections start with a PROXY header
                                    (before the TLS handshake when both are given) */
};

/* tls-protocols, a set. */
enum { FY_TLS_1_2 = 1, FY_TLS_1_3 = 2 };

enum fy_log_level { FY_LOG_ERROR, FY_LOG_WARN, FY_LOG_INFO, FY_LOG_DEBUG };

/* How an asynchronous backend sends a block from the /dev/shm pool
 * (doc/config.md#aio-send). */
enum fy_aio_send {
    FY_AIO_SEND_COPY,            /* send() from the mapping: the buffer is free at once */
    FY_AIO_SEND_SENDFILE,        /* sendfile() from the pool file: zero-copy, fresh pages per read */
};

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
    unsigned max_connections_per_ip; /* 0: no limit */
    unsigned max_keepalive_requests;
    size_t max_request_header_size;
    size_t max_request_body_discard; /* larger bodies: answer, then close */
    int64_t header_timeout_ms;   /* whole request head must arrive within */
    int64_t keepalive_timeout_ms;/* idle between requests */
    int64_t write_timeout_ms;    /* no progress sending a response */
    int64_t shutdown_timeout_ms; /* graceful stop: longest wait for responses */
    int64_t drain_idle_timeout_ms; /* graceful stop: how long an idle connection may stay silent */
    size_t send_chunk_size;      /* bytes a worker sends per loop turn (event/loop.h) */
    unsigned open_file_cache_size; /* open files kept for reuse; 0: none */
    unsigned digest_cache_size;  /* file versions whose SHA-256 is remembered */
    int64_t open_file_cache_ttl_ms;/* how long a kept file is trusted unchecked */
    size_t body_cache_size;      /* bytes of small hot files kept in memory; 0: none */

    /* linux-aio-sendfile */
    size_t aio_block_size;       /* bytes per read */
    unsigned aio_read_ahead;     /* blocks read ahead per connection */
    unsigned aio_max_inflight;   /* reads in flight, all connections together */
    size_t aio_min_size;         /* smaller bodies go through plain sendfile */
    bool aio_direct;             /* O_DIRECT reads (bypass the page cache) */
    enum fy_aio_send aio_send;   /* how a block leaves the pool for the socket */
    char aio_pool_dir[4096];     /* a tmpfs directory for the buffer pool */
    /* Not a key: set for the workers of a reload, while the previous
     * generation may still hold its pools.  A pool that does not fit yet
     * is waited for (files go plain meanwhile) instead of refused. */
    bool aio_pool_may_wait;
    /* Not a key: the processes whose pools share aio-pool-dir, the
     * workers of a generation (1 with -X); each fits its pool to its part. */
    unsigned aio_pool_sharers;

    /* TLS (doc/config.md#tls); certificates are per host */
    unsigned tls_protocols;      /* FY_TLS_1_2 | FY_TLS_1_3 */
    char tls_ciphers[1024];      /* TLS 1.2, OpenSSL syntax; "" = ferry's default */
    char tls_ciphersuites[512];  /* TLS 1.3; "" = OpenSSL's default */
    bool tls_session_tickets;
    int64_t tls_handshake_timeout_ms;
    bool redirect_to_https;      /* plain listeners answer 301 to https:// */
    /* HTTP/2 (doc/config.md#http2) */
    bool http2;                  /* offered by ALPN on TLS listeners; prior knowledge on plain ones */
    unsigned http2_max_concurrent_streams;
    /* compression (doc/config.md#compress): where the copies go, how much */
    char compress_cache_dir[4096]; /* "" = aio_pool_dir/ferry-compress */
    size_t compress_cache_size;

    /* processes, privileges, status (doc/config.md#processes) */
    unsigned workers;            /* worker processes; 0: one per CPU */
    bool reuseport;              /* one listening socket per worker, else one shared */
    bool reuseport_join;         /* reuseport = join: share the port with another ferry's group */
    char user[64], group[64];    /* "" = keep the user ferry starts as */
    char chroot_dir[4096];       /* "" = none */
    char pid_file[4096];         /* "" = none */
    char status_path[256];       /* "" = no status endpoint */
    char health_path[256];       /* "" = no health check endpoint */
    int64_t drain_delay_ms;      /* SIGTERM: serving on, health 503, this long before stopping; 0: none */
    struct fy_acl_entry status_allow[FY_CONFIG_MAX_ALLOW]; /* allows only */
    size_t nstatus_allow;
    struct fy_acl_entry real_ip_from[FY_CONFIG_MAX_ALLOW]; /* allows only: peers whose X-Forwarded-For is believed */
    size_t nreal_ip_from;

    /* Virtual hosts, aliases, error pages, per-path rules (see above). */
    struct fy_host_config hosts[FY_CONFIG_MAX_HOSTS];
    unsigned nhosts;             /* at least 1: the top level */
    struct fy_alias_config aliases[FY_CONFIG_MAX_ALIASES];
    unsigned naliases;
    struct fy_error_page_config error_pages[FY_CONFIG_MAX_ERROR_PAGES];
    unsigned nerror_pages;
    struct fy_rule_config rules[FY_CONFIG_MAX_RULES];
    unsigned nrules;
    struct fy_redirect_config redirects[FY_CONFIG_MAX_REDIRECTS];
    unsigned nredirects;
    struct fy_acl_entry acl[FY_CONFIG_MAX_ACL]; /* the rules' allow/deny lists, each contiguous */
    unsigned nacl;
    char text[FY_CONFIG_TEXT_SIZE];
    size_t text_len;
    /* Where the file reader is: the scope keys go to. */
    unsigned scope_host;         /* index in hosts */
    int scope_rule;              /* index in rules of a [path] section, or -1 */
    int line;                    /* of the key being set (0: not from a file) */
};

/* The string t of c ("" for 0). */
static inline const char *fy_config_text(const struct fy_config *c, fy_text t)
{
    return c->text + t;
}

/* Fills the built-in defaults (listen 127.0.0.1:8080, docroot ".", ...). */
void fy_config_defaults(struct fy_config *c);

/* Reads `path` over the values already in c.  Returns 0, or -1 with
 * "FILE:LINE: key: message" (or "FILE: message") in err. */
int fy_config_load(struct fy_config *c, const char *path, char *err, size_t errlen);

/* Sets one key as if read from `origin` (a file name, or "command line"),
 * in the current scope (the top level, except while a file is read).
 * For listen, replace drops earlier values instead of adding to them.
 * Returns 0, or -1 with a message in err. */
int fy_config_set(struct fy_config *c, const char *key, const char *value,
                  const char *origin, int line, bool replace, char *err, size_t errlen);

/* The keys, for `ferry --defaults` (and the test that keeps the documents
 * in step): the name of key i and its default as it would be written, or
 * NULL past the last key.  *def is NULL for keys without one (repeatable
 * ones, and the per-path keys: unset, their setting is off). */
const char *fy_config_key(size_t i, const char **def);

/* "[ADDR:]PORT", "[v6addr]:PORT"; a bare PORT listens on every IPv4 address.
 * Returns 0 or -1 with a message in err. */
int fy_listen_parse(const char *text, struct fy_listen *out, char *err, size_t errlen);

/* The [host] that serves the name host[0..n) (no port): an exact name
 * first, then the longest "*.suffix"; 0, the top level, when none does. */
unsigned fy_config_match_host(const struct fy_config *c, const char *host, size_t n);

#endif
