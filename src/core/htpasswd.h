/* htpasswd files, as Apache's htpasswd(1) writes them: one "user:hash"
 * line per user.  Only hashes that are slow and salted are taken: bcrypt
 * ($2y$, $2b$, $2a$: htpasswd -B), SHA-256-crypt and SHA-512-crypt ($5$,
 * $6$: htpasswd -2 / -5, mkpasswd -m sha-256 / sha-512) and yescrypt ($y$:
 * mkpasswd's default), all checked by libcrypt.  Plain text, DES crypt,
 * MD5 ($apr1$, $1$) and unsalted SHA-1 ({SHA}) are refused with the line
 * that holds them: a file that holds one is not loaded at all, so a weak
 * line cannot go unnoticed.
 *
 * Blank lines and lines starting with '#' are skipped; text after a second
 * ':' is ignored, as Apache does.  The table is sorted by name. */
#ifndef FY_HTPASSWD_H
#define FY_HTPASSWD_H

#include <stddef.h>

#define FY_HTPASSWD_MAX_USER 255
#define FY_HTPASSWD_MAX_SIZE (16 << 20) /* a larger file is refused */

struct fy_htpasswd_user {
    const char *name;            /* NUL-terminated, inside the table's copy of the file */
    const char *hash;            /* the crypt(3) string: "$2y$05$..." */
};

struct fy_htpasswd {
    struct fy_htpasswd_user *users; /* sorted by name (bytewise) */
    size_t n;
    char *text;                  /* the file's bytes, cut into strings */
    size_t text_len;
};

/* Reads and checks the file at path.  Returns 0, or -1 with
 * "PATH:LINE: what is wrong" (or "PATH: reason") in err; the message never
 * quotes a hash or a password. */
int fy_htpasswd_load(struct fy_htpasswd *h, const char *path, char *err, size_t errlen);
void fy_htpasswd_free(struct fy_htpasswd *h);

/* The user named name[0..len), or NULL. */
const struct fy_htpasswd_user *fy_htpasswd_find(const struct fy_htpasswd *h, const char *name, size_t len);

/* The kind of hash s is, for messages ("bcrypt", "SHA-512-crypt", ...), or
 * NULL when it is not one ferry accepts. */
const char *fy_htpasswd_kind(const char *hash);

#endif
