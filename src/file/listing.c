/* Directory listings; see listing.h. */
#include "file/listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file/file.h"
#include "file/hidden.h"
#include "http/escape.h"

struct entry {
    char *name;
    bool dir;
    off_t size;
    time_t mtime;
};

struct entries {
    struct entry *v;
    size_t n, cap;
    bool truncated;
};

/* A growing buffer; after a failed allocation every put is a no-op. */
struct text {
    char *p;
    size_t len, cap;
    bool failed;
};

static void text_put(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->failed = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
}

static void text_puts(struct text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

/* The entry's own metadata, or for a symlink its target's when the server
 * would follow it there (opened from the docroot, as a request would be). */
static bool entry_stat(int dirfd, const char *name, const struct fy_listing_options *opt, struct stat *st)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return false;
    if (!S_ISLNK(st->st_mode))
        return true;
    char path[8192];
    int n = snprintf(path, sizeof path, "%s%s%s", opt->dir_name, opt->dir_name[0] ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof path)
        return false;
    int fd = fy_open_under(opt->root_fd, path, O_PATH, opt->follow_symlinks);
    if (fd < 0)
        return false;
    bool ok = fstat(fd, st) == 0;
    close(fd);
    return ok;
}

static bool entries_add(struct entries *es, const char *name, const struct stat *st)
{
    if (es->n == FY_LISTING_MAX_ENTRIES) {
        es->truncated = true;
        return true;
    }
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 64;
        struct entry *v = realloc(es->v, cap * sizeof *v);
        if (!v)
            return false;
        es->v = v;
        es->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return false;
    es->v[es->n++] = (struct entry){copy, S_ISDIR(st->st_mode), st->st_size, st->st_mtim.tv_sec};
    return true;
}

static void entries_free(struct entries *es)
{
    for (size_t i = 0; i < es->n; i++)
        free(es->v[i].name);
    free(es->v);
}

/* Whether the server would refuse url + name (+ "/" for a directory) as
 * hidden: a link to it would lead to a 404. */
static bool entry_refused(const struct fy_listing_options *opt, const char *url, const char *name, bool dir)
{
    char entry_url[8192];
    if (!opt->hidden)
        return false;
    int n = snprintf(entry_url, sizeof entry_url, "%s%s%s", url, name, dir ? "/" : "");
    return n < 0 || (size_t)n >= sizeof entry_url || fy_hidden_refused(opt->hidden, entry_url);
}

/* The same for the parent of the directory url (not "/"): "/a/b/" → "/a/". */
static bool parent_refused(const struct fy_listing_options *opt, const char *url)
{
    char parent[8192];
    size_t n = strlen(url) - 1;
    while (n > 0 && url[n - 1] != '/')
        n--;
    if (!opt->hidden || n >= sizeof parent)
        return false;
    memcpy(parent, url, n);
    parent[n] = '\0';
    return fy_hidden_refused(opt->hidden, parent);
}

static int read_entries(int dirfd, const char *url, const struct fy_listing_options *opt, struct entries *es)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rewinddir(d);
    struct dirent *de;
    struct stat st;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || (name[0] == '.' && !opt->dotfiles))
            continue;
        if (!entry_stat(dirfd, name, opt, &st))
            continue; /* vanished, or a symlink leading where we do not go */
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            continue; /* FIFOs, sockets, devices: nothing to serve */
        if (entry_refused(opt, url, name, S_ISDIR(st.st_mode)))
            continue;
        if (!entries_add(es, name, &st))
            rc = -1;
    }
    closedir(d);
    return rc;
}

static int entry_order(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->dir != y->dir)
        return x->dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* As HTML text, or (url) as a link to a name in this directory. */
static void put_escaped(struct text *t, const char *s, bool url)
{
    char stack[1024];
    size_t need = strlen(s) * (url ? 3 : 6) + 1;
    char *buf = need <= sizeof stack ? stack : malloc(need);
    if (!buf) {
        t->failed = true;
        return;
    }
    text_put(t, buf, url ? fy_url_encode(s, buf, false) : fy_html_escape(s, buf));
    if (buf != stack)
        free(buf);
}

static void put_entry(struct text *t, const struct entry *e)
{
    char date[32], size[32];
    struct tm tm;
    gmtime_r(&e->mtime, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M", &tm);
    snprintf(size, sizeof size, "%lld", (long long)e->size);
    text_puts(t, "<tr><td><a href=\"");
    put_escaped(t, e->name, true);
    text_puts(t, e->dir ? "/\">" : "\">");
    put_escaped(t, e->name, false);
    text_puts(t, e->dir ? "/</a></td><td>" : "</a></td><td>");
    text_puts(t, date);
    text_puts(t, "</td><td>");
    text_puts(t, e->dir ? "-" : size);
    text_puts(t, "</td></tr>\n");
}

static void put_page(struct text *t, const char *url, const struct fy_listing_options *opt,
                     const struct entries *es)
{
    text_puts(t, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    put_escaped(t, url, false);
    text_puts(t, "</title></head>\n<body><h1>Index of ");
    put_escaped(t, url, false);
    text_puts(t, "</h1>\n<table>\n<tr><th>Name</th><th>Last modified (UTC)</th><th>Size</th></tr>\n");
    if (strcmp(url, "/") != 0 && !parent_refused(opt, url))
        text_puts(t, "<tr><td><a href=\"../\">../</a></td><td></td><td>-</td></tr>\n");
    for (size_t i = 0; i < es->n; i++)
        put_entry(t, &es->v[i]);
    text_puts(t, "</table>\n");
    if (es->truncated)
        text_puts(t, "<p>(listing truncated)</p>\n");
    text_puts(t, "</body></html>\n");
}

char *fy_listing_build(int dirfd, const char *url, const struct fy_listing_options *opt, size_t *len)
{
    struct entries es = {0};
    struct text t = {0};
    if (read_entries(dirfd, url, opt, &es) < 0) {
        entries_free(&es);
        return NULL;
    }
    qsort(es.v, es.n, sizeof *es.v, entry_order);
    put_page(&t, url, opt, &es);
    entries_free(&es);
    if (t.failed) {
        free(t.p);
        errno = ENOMEM;
        return NULL;
    }
    *len = t.len;
    return t.p;
}
