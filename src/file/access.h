/* allow = NETWORK ... / deny = NETWORK ...: per host and path, who may ask.
 * The list of the last matching rule that has one applies (a narrower
 * scope's replaces a wider one's), checked as core/acl.h says: first match
 * wins, and a client no entry names is refused by a list that allows some,
 * let in by a list that only denies.  The check comes before the file is
 * looked at, so a refused client learns nothing of what exists (403 for
 * every path), and *.EXT patterns see the requested name. */
#ifndef FY_ACCESS_H
#define FY_ACCESS_H

#include <stdbool.h>

#include "file/respond.h"

struct fy_exchange;

/* Whether the client of c may have what x asks for; counts refusals. */
bool fy_access_allowed(struct fy_exchange *ex, const struct fy_file_request *x);

#endif
