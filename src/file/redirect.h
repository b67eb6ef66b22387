/* Redirects the configuration asks for, before any file is opened:
 *
 *   redirect-host = NAME   ([host] only) every request for the host goes to
 *                          the same path and query on NAME, as
 *                          "//NAME/path": a scheme-relative Location, so
 *                          the client keeps the scheme it used;
 *   redirect = FROM TO [STATUS]
 *                          a path equal to FROM, or under FROM when FROM
 *                          ends in '/' (the rest appended to TO), goes to
 *                          TO with the query kept; 301 unless STATUS says.
 *
 * Of the redirects whose rule applies (host, [path] patterns), an exact
 * FROM wins over a prefix, a longer prefix over a shorter one, and of
 * equal ones the last read (a [host]'s over the top level's). */
#ifndef FY_REDIRECT_H
#define FY_REDIRECT_H

#include <stdbool.h>

#include "core/config.h"
#include "file/respond.h"
#include "file/rules.h"

struct fy_exchange;

/* The redirect for subj (whose url is decoded and normalised), or NULL. */
const struct fy_redirect_config *fy_redirect_find(const struct fy_config *cfg, const struct fy_rule_subject *subj);

/* "Location: ...\r\n" for r and the request's url and query: malloc'd, NULL
 * when out of memory. */
char *fy_redirect_location(const struct fy_config *cfg, const struct fy_redirect_config *r, const char *url,
                           struct fy_str query);

/* When a redirect-host or a redirect applies to the request, builds its
 * response in c and returns true. */
bool fy_redirect_try(struct fy_exchange *ex, const struct fy_file_request *x);

/* redirect-to-https: a request on a plain listener (ACME http-01
 * challenges excepted) is answered 301 to the same host and target on the
 * first TLS listener's port.  Returns true when it answered. */
bool fy_redirect_to_https(struct fy_exchange *ex, const struct fy_site *site);

/* A redirect response with `location` ("Location: ...\r\n") and a small
 * page; a long Location gets a head buffer of its own.  Returns 0. */
int fy_respond_redirect(struct fy_exchange *ex, const struct fy_site *site, int status, const char *location);

#endif
