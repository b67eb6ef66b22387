/* htpasswd files; see htpasswd.h. */
#include "core/htpasswd.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The hashes taken, and how long the part after their last '$' is (the
 * hash proper; bcrypt has no '$' before it, so its whole length). */
struct kind {
    const char *prefix, *name;
    size_t tail, total;
};

static const struct kind accepted[] = {
    {"$2y$", "bcrypt", 0, 60}, {"$2b$", "bcrypt", 0, 60}, {"$2a$", "bcrypt", 0, 60},
    {"$5$", "SHA-256-crypt", 43, 0}, {"$6$", "SHA-512-crypt", 86, 0}, {"$y$", "yescrypt", 43, 0},
};

/* What the refused ones are, for the message. */
static const struct {
    const char *prefix, *what;
} refused[] = {
    {"$apr1$", "an MD5 hash ($apr1$, htpasswd's default or -m)"},
    {"$1$", "an MD5-crypt hash ($1$)"},
    {"{SHA}", "an unsalted SHA-1 hash ({SHA}, htpasswd -s)"},
};

#define HOW_TO "; make it again with htpasswd -B (bcrypt) or -5 (SHA-512-crypt)"

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct kind *find_kind(const char *hash)
{
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++)
        if (strncmp(hash, accepted[i].prefix, strlen(accepted[i].prefix)) == 0)
            return &accepted[i];
    return NULL;
}

const char *fy_htpasswd_kind(const char *hash)
{
    const struct kind *k = find_kind(hash);
    return k ? k->name : NULL;
}

static bool crypt_chars(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("./$=,", *s))
            return false;
    return true;
}

/* Why the hash cannot be used, or NULL when it can.  Never quotes it: a
 * "hash" that is a plain password would end up in a log. */
static const char *check_hash(const char *hash, char *why, size_t len)
{
    const struct kind *k = find_kind(hash);
    if (!k) {
        for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
            if (strncmp(hash, refused[i].prefix, strlen(refused[i].prefix)) == 0) {
                snprintf(why, len, "%s is refused as weak" HOW_TO, refused[i].what);
                return why;
            }
        if (hash[0] == '$') {
            size_t id = strcspn(hash + 1, "$");
            snprintf(why, len, "the hash kind $%.*s$ is not one ferry takes" HOW_TO, id > 8 ? 8 : (int)id,
                     hash + 1);
            return why;
        }
        snprintf(why, len, "the password is not hashed (plain text, or DES crypt) and is refused" HOW_TO);
        return why;
    }
    const char *last = strrchr(hash, '$');
    bool ok = crypt_chars(hash) && (k->total ? strlen(hash) == k->total : strlen(last + 1) == k->tail);
    int salt = ok ? crypt_checksalt(hash) : CRYPT_SALT_INVALID;
    if (salt == CRYPT_SALT_METHOD_DISABLED) {
        snprintf(why, len, "this system's libcrypt has %s turned off", k->name);
        return why;
    }
    if (salt != CRYPT_SALT_OK && salt != CRYPT_SALT_METHOD_LEGACY && salt != CRYPT_SALT_TOO_CHEAP) {
        snprintf(why, len, "malformed %s hash (cut short or edited?)", k->name);
        return why;
    }
    return NULL;
}

static int read_all(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(err, errlen, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || st.st_size > FY_HTPASSWD_MAX_SIZE) {
        close(fd);
        return fail(err, errlen, "%s: %s", path, S_ISREG(st.st_mode) ? "larger than 16 MiB" : "not a regular file");
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (buf && n < (size_t)st.st_size && (r = read(fd, buf + n, (size_t)st.st_size - n)) > 0)
        n += (size_t)r;
    int e = !buf ? ENOMEM : r < 0 ? errno : 0;
    close(fd);
    if (e) {
        free(buf);
        return fail(err, errlen, "%s: %s", path, strerror(e));
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

/* A user name: what a Basic credential can carry (no ':', no control
 * characters, RFC 7617 §2), at most FY_HTPASSWD_MAX_USER bytes. */
static bool good_name(const char *s, size_t n)
{
    if (n == 0 || n > FY_HTPASSWD_MAX_USER)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct fy_htpasswd_user *)a)->name, ((const struct fy_htpasswd_user *)b)->name);
}

/* Cuts one line (at text, NUL-terminated in place) into a user.  Returns 1
 * for a user, 0 for a line to skip, -1 with a message. */
static int parse_line(char *line, const char *path, int lineno, struct fy_htpasswd_user *u, char *err,
                      size_t errlen)
{
    size_t n = strlen(line);
    if (n > 0 && line[n - 1] == '\r')
        line[--n] = '\0';
    if (line[0] == '\0' || line[0] == '#')
        return 0;
    char *colon = strchr(line, ':');
    if (!colon)
        return fail(err, errlen, "%s:%d: not \"user:hash\"", path, lineno);
    *colon = '\0';
    if (!good_name(line, (size_t)(colon - line)))
        return fail(err, errlen, "%s:%d: bad user name (empty, longer than %d bytes, or a control character)",
                    path, lineno, FY_HTPASSWD_MAX_USER);
    char *hash = colon + 1, *more = strchr(hash, ':');
    if (more)
        *more = '\0';
    char why[256];
    if (check_hash(hash, why, sizeof why))
        return fail(err, errlen, "%s:%d: user \"%s\": %s", path, lineno, line, why);
    *u = (struct fy_htpasswd_user){.name = line, .hash = hash};
    return 1;
}

/* Names twice: the second is refused (Apache would take the first, and a
 * stale line is then easy to miss). */
static int check_duplicates(const struct fy_htpasswd *h, const char *path, char *err, size_t errlen)
{
    for (size_t i = 1; i < h->n; i++)
        if (strcmp(h->users[i - 1].name, h->users[i].name) == 0)
            return fail(err, errlen, "%s: user \"%s\" is listed twice", path, h->users[i].name);
    return 0;
}

int fy_htpasswd_load(struct fy_htpasswd *h, const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    *h = (struct fy_htpasswd){0};
    if (read_all(path, &h->text, &len, err, errlen) < 0)
        return -1;
    h->text_len = len;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += h->text[i] == '\n';
    if (memchr(h->text, '\0', len)) {
        fy_htpasswd_free(h);
        return fail(err, errlen, "%s: NUL byte in the file", path);
    }
    h->users = calloc(lines, sizeof *h->users);
    if (!h->users) {
        fy_htpasswd_free(h);
        return fail(err, errlen, "%s: out of memory", path);
    }
    char *line = h->text;
    for (int lineno = 1; line; lineno++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        int r = parse_line(line, path, lineno, &h->users[h->n], err, errlen);
        if (r < 0) {
            fy_htpasswd_free(h);
            return -1;
        }
        h->n += (size_t)r;
        line = nl ? nl + 1 : NULL;
    }
    qsort(h->users, h->n, sizeof *h->users, by_name);
    if (check_duplicates(h, path, err, errlen) < 0) {
        fy_htpasswd_free(h);
        return -1;
    }
    return 0;
}

void fy_htpasswd_free(struct fy_htpasswd *h)
{
    if (h->text)
        explicit_bzero(h->text, h->text_len); /* hashes: not worth leaving in freed memory */
    free(h->text);
    free(h->users);
    *h = (struct fy_htpasswd){0};
}

const struct fy_htpasswd_user *fy_htpasswd_find(const struct fy_htpasswd *h, const char *name, size_t len)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = h->users[mid].name;
        int c = strncmp(m, name, len);
        if (c == 0)
            c = m[len] == '\0' ? 0 : 1;
        if (c == 0)
            return &h->users[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
