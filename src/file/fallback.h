/* fallback = /index.html: a request for a file that does not exist is
 * answered with another file of its host, with status 200 and that file's
 * own validators, so a single-page application's deep links load its
 * page.  Only a missing file falls back: a 403, or a directory that exists,
 * answers as always.
 *
 * Which fallback applies is a per-path setting of the request's own path
 * (so "[path *.js] fallback = off" keeps 404s for missing scripts); the
 * answer then carries the per-path headers of the fallback file's path. */
#ifndef FY_FALLBACK_H
#define FY_FALLBACK_H

#include <stdbool.h>

#include "file/respond.h"

struct fy_exchange;

/* The request's file was not found (`file`, under *root).  Returns false
 * when no fallback applies.  Else true, with *root, *file and x->subj
 * naming the fallback file, to be opened as the request's would have
 * been, and c->fallback set: the handler, called again for this request
 * after a lookup off the loop, goes straight to the fallback. */
bool fy_fallback_map(struct fy_exchange *ex, struct fy_file_request *x, const struct fy_docroot **root,
                     struct fy_path *file);

#endif
