/* HTTP Basic authentication for the file handler: auth-basic = "Realm"
 * and auth-basic-user-file = FILE, per path (doc/config.md#auth-basic).
 *
 *   request ─► rules: a realm for this path? ─► Authorization: Basic ...
 *     ─► cache of verified credentials (auth_cache.c): hit → serve
 *     ─► miss: the password checked off the loop (auth_verifier.c), the
 *        request waiting like for an off-loop lookup (FY_HANDLER_WAIT)
 *     ─► right: serve, and cache it; wrong, unknown user, malformed,
 *        none: 401 with WWW-Authenticate
 *
 * The check comes before the file is opened, on the URL (its last segment
 * standing for the file name of *.EXT rules), so a client without the
 * password learns nothing of what exists behind it (no 404 or 301 there);
 * a directory's index file is checked again by its own name, so
 * "[path *.html]" protects "/" served as index.html too.
 *
 * The user files are read when a process starts: SIGHUP (a reload, new
 * workers) reads them again.  An unknown user costs a check against
 * another user's hash all the same, so the time of the answer does not
 * tell which users exist. */
#ifndef FY_AUTH_H
#define FY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "file/auth_verifier.h"

struct fy_auth;
struct fy_config;
struct fy_exchange;
struct fy_file_request;
struct fy_log;
struct fy_loop;
struct fy_stats_slot;

enum fy_auth_verdict { FY_AUTH_UNKNOWN, FY_AUTH_PENDING, FY_AUTH_GRANTED, FY_AUTH_DENIED };

/* The two moments a request is checked (see above). */
enum fy_auth_stage { FY_AUTH_URL, FY_AUTH_INDEX };

/* A connection's: where its current request stands. */
struct fy_auth_request {
    struct fy_verify_wait wait;
    unsigned request;            /* the connection's nrequests the rest is about */
    struct {
        unsigned file;           /* index of the user file checked */
        enum fy_auth_verdict verdict;
    } stage[2];
    const void *pending_user;    /* the user of the check in flight */
    const char *user;            /* the verified user, for the access log */
};

/* The whole configuration is read: every realm has a user file, and every
 * user file reads and holds only hashes ferry takes.  For -t, start and
 * reload.  config_path names the file in messages.  Returns 0, or -1 with
 * "FILE:LINE: key: what is wrong" in err. */
int  fy_auth_validate(const struct fy_config *cfg, const char *config_path, char *err, size_t errlen);

/* A serving process: reads the user files of cfg (which must outlive *out)
 * and starts the password checker; *out stays NULL when cfg asks for no
 * password anywhere.  slot gets the auth_* status counters.  Returns 0, or
 * -1 with a message in err. */
int  fy_auth_open(struct fy_auth **out, const struct fy_config *cfg, struct fy_loop *loop, struct fy_log *log,
                  struct fy_stats_slot *slot, char *err, size_t errlen);
void fy_auth_close(struct fy_auth *a);

/* At start (the master, or a process serving alone), when cfg asks for
 * passwords: Basic credentials travel as plain text, so over plain HTTP
 * anyone on the way reads them; and a user file inside a docroot or alias
 * directory is served to whoever asks for it, hashes and all. */
void fy_auth_warn(const struct fy_config *cfg, struct fy_log *log);

/* The file handler's step.  x->subj says what is asked for (at
 * FY_AUTH_INDEX: the index file served, open in c->file).  Returns
 * FY_AUTH_PASS to go on; FY_HANDLER_WAIT when the password is being
 * checked (the handler is called again for the same request; c->file is
 * closed); 0 when the answer (401, or 503 when too many checks wait) is
 * ready in c. */
#define FY_AUTH_PASS 1
int  fy_auth_check(struct fy_exchange *ex, const struct fy_file_request *x, enum fy_auth_stage stage);

/* The connection closes: a check in flight is no longer waited for. */
void fy_auth_cancel(struct fy_exchange *ex);

/* Whether c's request waits for its password check. */
bool fy_auth_waiting(const struct fy_exchange *ex);

/* The user whose password this request carried and that was right; NULL
 * when none was asked or it was not right. */
const char *fy_auth_user(const struct fy_exchange *ex);

#endif
