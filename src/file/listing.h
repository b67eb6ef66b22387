/* Directory listings: an HTML page of a directory's entries, built in
 * memory when a [path] rule turns directory-listing on.
 *
 * Entries are sorted, directories first, then by name (bytewise).  Names
 * are HTML-escaped in the text and percent-encoded in the links, so no
 * file name can inject markup or a scheme ("javascript:...").  Dotfiles
 * are left out unless listing-dotfiles is on, and even then an entry (or
 * the parent) the server would refuse as hidden (hidden.h) is left out: no
 * link leads to that 404.  A symlink is listed only
 * when it leads somewhere the server would follow it to (resolved from the
 * docroot as a request would be): with follow-symlinks off, never outside
 * the docroot.  Only directories and regular files are listed. */
#ifndef FY_LISTING_H
#define FY_LISTING_H

#include <stdbool.h>
#include <stddef.h>

struct fy_hidden_scope;

#define FY_LISTING_MAX_ENTRIES 10000 /* more are left out, and the page says so */

struct fy_listing_options {
    bool dotfiles;
    bool follow_symlinks;
    int root_fd;                 /* the docroot the directory is in */
    const char *dir_name;        /* the directory under it ("" for the root) */
    const struct fy_hidden_scope *hidden; /* the rules for hidden paths; NULL: none is refused */
};

/* Builds the page for the directory open as dirfd (its URL path, decoded,
 * ending in '/', is url).  Returns a malloc'd body and its length in *len,
 * or NULL (out of memory, or the directory unreadable; errno says). */
char *fy_listing_build(int dirfd, const char *url, const struct fy_listing_options *opt, size_t *len);

#endif
