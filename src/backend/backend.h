/* Network backends: the ways ferry moves a file's bytes to a socket.
 *
 * The HTTP code builds the response head, then hands head and body to the
 * configured backend as a struct fy_transfer and calls send() whenever the
 * socket may take more.  Bytes leave through the connection's transport
 * (src/net/transport.h), so a backend never knows whether TLS is on.  The backend sends the head first or together with
 * the first body bytes (fy_transfer_send_head() serves those that don't
 * coalesce).  A backend never parses HTTP; the HTTP code never
 * knows which backend runs.  The table of backends is in backend.c.
 *
 * Synchronous backends (writev, sendfile) do all their work inside send().
 *
 * Asynchronous backends (linux-aio-sendfile, io-uring, auto) start disk reads
 * inside send() and return FY_SEND_WAIT.  At init they register their
 * completion fd (an eventfd signalled by io_set_eventfd / a ring's registered
 * eventfd) with the loop as a plain fy_io.  When it turns readable they reap
 * completions and call t->wake(t) for each transfer whose data is ready; the
 * connection then calls send() again.  cancel() is called when a connection
 * closes with a transfer still attached: the backend must not touch t after
 * it returns, so in-flight reads are cancelled or left to drain into memory
 * the backend owns. */
#ifndef FY_BACKEND_H
#define FY_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct fy_loop;
struct fy_transport;
struct fy_config;
struct fy_log;

enum fy_send_result {
    FY_SEND_DONE,    /* the whole range has been written to the socket */
    FY_SEND_AGAIN,   /* the socket is full: call again when it is writable */
    FY_SEND_YIELD,   /* this turn's budget is spent: call again next turn */
    FY_SEND_WAIT,    /* waiting for the disk: t->wake() will be called */
    FY_SEND_ERROR,   /* give up; t->error says why; the connection closes */
};

struct fy_transfer {
    struct fy_transport *out; /* destination: the connection's socket, maybe TLS */
    const char *head;       /* response head bytes not yet sent */
    size_t head_len;
    int file_fd;            /* source, opened O_RDONLY */
    off_t offset;           /* next byte of the file to send */
    off_t end;              /* one past the last byte to send */
    int error;              /* errno of the failure after FY_SEND_ERROR */
    size_t read_max;        /* async backends: bytes per read at most (a paced response
                             * holds a pool buffer about a second), 0: aio-block-size */
    void *state;            /* the backend's per-transfer state, NULL at start */
    /* When set, the whole file's bytes in memory (the body cache): the body
     * is sent from mem + offset, without the backend (fy_transfer_send_mem). */
    const char *mem;
    /* Async backends: waiting for a buffer that other transfers hold.  Time
     * spent so is not the client's stall (see the write timeout). */
    bool queued;
    void (*wake)(struct fy_transfer *t); /* async backends: data is ready */
};

struct fy_backend;

/* A file name looked up off the loop (see the lookup op).  Embedded in its
 * requester; state belongs to the backend while the lookup runs. */
struct fy_lookup {
    void (*done)(struct fy_lookup *l);  /* called from the loop when it has finished */
    void *state;                        /* non-NULL while in flight */
};

/* What a backend tells the status endpoint (src/core/status.c).  The
 * cumulative counters only grow; the rest describe this moment. */
struct fy_backend_stats {
    bool async;                             /* the fields below mean something */
    unsigned long long reads_submitted, reads_completed, bytes_read, short_reads, read_errors;
    unsigned long long plain_files;         /* fallbacks: files O_DIRECT refused, sent plain */
    unsigned long long cached_blocks;       /* blocks sent straight from the page cache (auto) */
    unsigned long long lookups;             /* names looked up off the loop before opening */
    unsigned reads_in_flight;
    unsigned queued;                        /* transfers waiting for a buffer or a read slot */
    unsigned pool_buffers, pool_free;       /* the /dev/shm buffer pool */
    size_t buffer_size;
    unsigned long long pool_resident;      /* bytes of the tmpfs the pool holds now */
};

/* What moves a running backend's bytes, for the status page: auto runs on
 * one of the others' (auto.c). */
enum fy_engine {
    FY_ENGINE_SENDFILE,  /* sendfile() from the page cache */
    FY_ENGINE_WRITEV,    /* pread() and writev() */
    FY_ENGINE_LIBAIO,    /* the async pipeline on Linux native AIO */
    FY_ENGINE_IO_URING,  /* the async pipeline on io_uring */
    FY_NENGINES
};

/* "sendfile", "writev", "libaio", "io_uring" */
const char *fy_engine_name(enum fy_engine e);

struct fy_backend_ops {
    const char *name;
    enum fy_engine engine;  /* of its instances */
    /* Creates the process's instance.  Returns NULL with a message in err.
     * The instance may be another entry's (auto's is that of the engine
     * it could have, auto.c): its own ops are what the server calls. */
    struct fy_backend *(*create)(struct fy_loop *loop, const struct fy_config *cfg,
                                 struct fy_log *log, char *err, size_t errlen);
    /* Sends at most `budget` bytes of t's range. */
    enum fy_send_result (*send)(struct fy_backend *b, struct fy_transfer *t, size_t budget);
    /* The transfer ends before FY_SEND_DONE (client gone, error, shutdown). */
    void (*cancel)(struct fy_backend *b, struct fy_transfer *t);
    void (*destroy)(struct fy_backend *b);
    /* Optional (NULL: the backend keeps no counters): fills *out. */
    void (*stats)(const struct fy_backend *b, struct fy_backend_stats *out);
    /* Optional (NULL: files are opened on the loop, as the kernel allows):
     * looks `path` up under dirfd without blocking the loop, so that the
     * open() that follows finds the kernel's dentry and inode caches warm,
     * then calls l->done(l).  Returns false when no lookup could start;
     * the caller then simply opens.  lookup_cancel: the requester goes away
     * first; done() is then never called. */
    bool (*lookup)(struct fy_backend *b, struct fy_lookup *l, int dirfd, const char *path);
    void (*lookup_cancel)(struct fy_backend *b, struct fy_lookup *l);
    /* Optional: t will send nothing for a while (limit-rate holds it back):
     * it keeps at most the block it is sending, like a client whose socket
     * is full, so that others waiting for buffers are not kept waiting. */
    void (*pause)(struct fy_backend *b, struct fy_transfer *t);
};

/* Every instance starts with this, so generic code can reach its ops. */
struct fy_backend {
    const struct fy_backend_ops *ops;
};

/* The table's entries, one file each. */
extern const struct fy_backend_ops fy_backend_sendfile;
extern const struct fy_backend_ops fy_backend_writev;
extern const struct fy_backend_ops fy_backend_aio;
extern const struct fy_backend_ops fy_backend_uring;
extern const struct fy_backend_ops fy_backend_auto;

/* Sends what is left of t->head (with MSG_MORE when `more` body follows).
 * Returns FY_SEND_DONE once it is all out, FY_SEND_AGAIN or FY_SEND_ERROR. */
enum fy_send_result fy_transfer_send_head(struct fy_transfer *t, bool more);

/* Copies through user space: pread() up to bufsize bytes of the file into
 * buf, then writev() what is left of the head with them.  The offset only
 * advances by bytes the socket took, so buf may be shared by every
 * transfer.  Same results as send(). */
enum fy_send_result fy_transfer_send_copy(struct fy_transfer *t, char *buf, size_t bufsize, size_t budget);

/* Zero-copy: sendfile() len bytes of fd from fd_offset, advancing
 * t->offset by what was sent and *budget down.  fd is t->file_fd itself, or
 * a buffer holding t's bytes (the /dev/shm pool).  Same results as send(). */
enum fy_send_result fy_transfer_send_fd(struct fy_transfer *t, int fd, off_t fd_offset, size_t len,
                                        size_t *budget);

/* Copies len bytes at buf into the socket with send(), advancing t->offset
 * and *budget like fy_transfer_send_fd(); buf is free again on return. */
enum fy_send_result fy_transfer_send_buf(struct fy_transfer *t, const char *buf, size_t len, size_t *budget);

/* The body from t->mem: writev() of what is left of the head with the
 * bytes [offset, end) of mem, up to budget per call.  Same results as send(). */
enum fy_send_result fy_transfer_send_mem(struct fy_transfer *t, size_t budget);

/* The sendfile backend's way, for any backend that sends from the page
 * cache: a body of at most small_size bytes leaves with its head through
 * fy_transfer_send_copy(small); a larger one as head, then sendfile(). */
enum fy_send_result fy_transfer_send_plain(struct fy_transfer *t, char *small, size_t small_size,
                                           size_t budget);

/* The backend named `name` in the table, or NULL. */
const struct fy_backend_ops *fy_backend_find(const char *name);

/* Writes the names in the table, comma-separated, for help and errors. */
void fy_backend_names(char *buf, size_t len);

#endif
