/* From a request path to a file name under the docroot.
 *
 * The path is percent-decoded first and normalised second ('.', '..', '//'),
 * so no encoding of a dot or a slash can climb out of the docroot: a '..'
 * that would leave the root is an error, not clamped.  A decoded "%2F" is
 * not a separator: a file name cannot contain '/', so such a path is 404.
 * The result is relative ("dir/file.html", or "" for the root) and is meant
 * for openat() on the docroot's directory fd. */
#ifndef FY_PATH_H
#define FY_PATH_H

#include <stdbool.h>
#include <stddef.h>

struct fy_path {
    size_t len;              /* of name, without the NUL */
    bool trailing_slash;     /* the request named a directory: "/dir/" */
    char name[4096];         /* NUL-terminated, relative, no leading '/' */
};

/* Decodes and normalises path[0..len) (which must start with '/').
 * Returns 0, or 400 (bad escape, %00, '..' above the root, not starting
 * with '/'), 404 (an encoded '/'), or 414 (longer than fy_path.name). */
int fy_path_resolve(const char *path, size_t len, struct fy_path *out);

#endif
