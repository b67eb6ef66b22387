/* The configuration: one table row per key (name, default, setter, field,
 * range), the file reader, and the listen-address parser.
 *
 * fy_config_set is the only place a key is interpreted: the file reader
 * calls it once per line and the command line calls it with origin
 * "command line" and line 0.  A setter validates the whole value before it
 * changes the config, so a failed set leaves the config as it was. */
#include "core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend/backend.h"
#include "file/encoder.h"

#define LINE_LIMIT 8192               /* longest line, newline excluded */
#define MAX_DURATION_MS (24LL * 3600 * 1000)

/* --- messages ------------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static int fail(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* --- numbers ------------------------------------------------------------- */

struct unit {
    const char *suffix;
    uint64_t mul;
};

static const struct unit plain_units[] = {{"", 1}, {NULL, 0}};
static const struct unit size_units[] = {
    {"", 1}, {"k", 1ULL << 10}, {"m", 1ULL << 20}, {"g", 1ULL << 30}, {NULL, 0},
};
static const struct unit time_units[] = {
    {"ms", 1}, {"", 1000}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {NULL, 0},
};
static const struct unit expires_units[] = { /* in seconds: HTTP dates have no finer grain */
    {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {NULL, 0},
};

/* Reads the decimal digits at *s.  Returns 0, 1 when there are none, or 2
 * when they do not fit in 64 bits; *s is left after the digits. */
static int read_digits(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    int overflow = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = 1;
        else
            v = v * 10 + d;
    }
    if (p == *s)
        return 1;
    *s = p;
    *out = v;
    return overflow ? 2 : 0;
}

static const struct unit *find_unit(const struct unit *units, const char *suffix)
{
    for (; units->suffix; units++)
        if (strcasecmp(units->suffix, suffix) == 0)
            return units;
    return NULL;
}

static const char *unit_list(const struct unit *units)
{
    if (units == expires_units)
        return "s, m, h or d";
    return units == size_units ? "k, m or g" : "ms, s, m or h";
}

/* Writes n in the largest unit that divides it: 1024 -> "1k", 86400000 -> "24h". */
static void format_amount(char *buf, size_t len, uint64_t n, const struct unit *units)
{
    const struct unit *best = NULL;
    for (const struct unit *u = units; u->suffix; u++) {
        if (n % u->mul != 0)
            continue;
        if (!best || u->mul > best->mul || (u->mul == best->mul && u->suffix[0]))
            best = u;
    }
    if (n == 0 || !best)
        snprintf(buf, len, "%llu", (unsigned long long)n);
    else
        snprintf(buf, len, "%llu%s", (unsigned long long)(n / best->mul), best->suffix);
}

static int out_of_range(const char *text, uint64_t min, uint64_t max,
                        const struct unit *units, char *msg, size_t len)
{
    char lo[32], hi[32];
    format_amount(lo, sizeof lo, min, units);
    format_amount(hi, sizeof hi, max, units);
    return fail(msg, len, "\"%s\" is out of range (%s to %s)", text, lo, hi);
}

/* Parses "DIGITS[SUFFIX]" strictly and checks min <= value <= max. */
static int parse_amount(const char *text, const struct unit *units, uint64_t min,
                        uint64_t max, uint64_t *out, char *msg, size_t len)
{
    const char *p = text;
    uint64_t n = 0;
    int r = read_digits(&p, &n);
    if (r == 1)
        return fail(msg, len, "\"%s\" is not a number", text);
    if (r == 2)
        return out_of_range(text, min, max, units, msg, len);
    const struct unit *u = find_unit(units, p);
    if (!u && units == plain_units)
        return fail(msg, len, "\"%s\" is not a number", text);
    if (!u)
        return fail(msg, len, "bad suffix \"%s\" in \"%s\" (want %s)", p, text, unit_list(units));
    if (n > UINT64_MAX / u->mul || n * u->mul < min || n * u->mul > max)
        return out_of_range(text, min, max, units, msg, len);
    *out = n * u->mul;
    return 0;
}

/* --- listen addresses ---------------------------------------------------- */

static int parse_port(const char *s, const char *text, unsigned *port, char *err, size_t len)
{
    const char *p = s;
    uint64_t n = 0;
    if (read_digits(&p, &n) != 0 || *p != '\0' || n < 1 || n > 65535)
        return fail(err, len, "bad port \"%s\" in \"%s\" (want 1 to 65535)", s, text);
    *port = (unsigned)n;
    return 0;
}

static int listen_v4(const char *host, unsigned port, const char *text,
                     struct fy_listen *out, char *err, size_t len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return fail(err, len, "bad IPv4 address \"%s\" in \"%s\" "
                    "(want PORT, ADDR:PORT or [IPv6]:PORT)", host, text);
    out->addrlen = sizeof *sin;
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sin->sin_addr, a, sizeof a);
    snprintf(out->text, sizeof out->text, "%s:%u", a, port);
    return 0;
}

static int listen_v6(const char *host, unsigned port, const char *text,
                     struct fy_listen *out, char *err, size_t len)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
        return fail(err, len, "bad IPv6 address \"%s\" in \"%s\"", host, text);
    out->addrlen = sizeof *sin6;
    char a[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof a);
    snprintf(out->text, sizeof out->text, "[%s]:%u", a, port);
    return 0;
}

/* "[v6]:PORT": splits in place into host and port. */
static int split_bracketed(char *s, const char *text, char **port, char *err, size_t len)
{
    char *close = strchr(s, ']');
    if (!close)
        return fail(err, len, "missing ']' in \"%s\"", text);
    if (close[1] != ':')
        return fail(err, len, "missing \":PORT\" after ']' in \"%s\"", text);
    *close = '\0';
    *port = close + 2;
    return 0;
}

int fy_listen_parse(const char *text, struct fy_listen *out, char *err, size_t errlen)
{
    char buf[128];
    char *port = buf, *colon;
    unsigned portnum;

    memset(out, 0, sizeof *out);
    if (text[0] == '\0')
        return fail(err, errlen, "empty address (want PORT, ADDR:PORT or [IPv6]:PORT)");
    if (strlen(text) >= sizeof buf)
        return fail(err, errlen, "address \"%.40s...\" is too long", text);
    strcpy(buf, text);
    if (buf[0] == '[') {
        if (split_bracketed(buf + 1, text, &port, err, errlen) < 0 ||
            parse_port(port, text, &portnum, err, errlen) < 0)
            return -1;
        return listen_v6(buf + 1, portnum, text, out, err, errlen);
    }
    colon = strrchr(buf, ':');
    if (colon && colon != strchr(buf, ':'))
        return fail(err, errlen, "IPv6 address needs brackets: \"[ADDR]:PORT\", not \"%s\"", text);
    if (colon) {
        *colon = '\0';
        port = colon + 1;
    }
    if (parse_port(port, text, &portnum, err, errlen) < 0)
        return -1;
    return listen_v4(colon ? buf : "0.0.0.0", portnum, text, out, err, errlen);
}

/* --- the keys ------------------------------------------------------------ */

static const char *next_word(const char **p, size_t *wlen);

struct key;
typedef int setter(struct fy_config *c, const struct key *k, const char *v,
                   bool replace, char *msg, size_t len);

/* Where a key may appear, and so which struct its field is in. */
enum key_scope {
    SERVER,                          /* the top level only: struct fy_config */
    HOST,                            /* the top level or [host]: struct fy_host_config */
    PATH,                            /* anywhere: struct fy_rule_config */
};

struct key {
    const char *name;
    const char *def;                 /* the default, as it would be written */
    setter *set;
    size_t off, size;                /* the field in its scope's struct */
    uint64_t min, max;               /* numbers: the valid range */
    const struct unit *units;        /* numbers: the suffixes allowed */
    enum key_scope scope;
};

#define FIELD(f) offsetof(struct fy_config, f), sizeof(((struct fy_config *)0)->f)
#define HFIELD(f) offsetof(struct fy_host_config, f), sizeof(((struct fy_host_config *)0)->f)
#define RFIELD(f) offsetof(struct fy_rule_config, f), sizeof(((struct fy_rule_config *)0)->f)

/* fy_config_set has made the scope's struct exist (see current_rule). */
static void *field(struct fy_config *c, const struct key *k)
{
    char *base = (char *)c;
    if (k->scope == HOST)
        base = (char *)&c->hosts[c->scope_host];
    else if (k->scope == PATH)
        base = (char *)&c->rules[c->scope_rule];
    return base + k->off;
}

/* Defined with the sections, used by some keys too. */
static int check_host_name(const char *w, size_t n, char *msg, size_t len);
static bool word_in_list(const char *list, size_t n, const char *w, size_t wlen);

/* --- the text arena ------------------------------------------------------ */

/* Copies s[0..n) into the arena; 0 in *out would mean "unset", so even ""
 * gets an offset of its own. */
static int text_add(struct fy_config *c, const char *s, size_t n, fy_text *out, char *msg, size_t len)
{
    if (n + 1 > sizeof c->text - c->text_len)
        return fail(msg, len, "the configuration's hosts, aliases and paths hold more than %d bytes of text",
                    FY_CONFIG_TEXT_SIZE);
    *out = (fy_text)c->text_len;
    memcpy(c->text + c->text_len, s, n);
    c->text[c->text_len + n] = '\0';
    c->text_len += n + 1;
    return 0;
}

static int store_string(struct fy_config *c, const struct key *k, const char *v,
                        char *msg, size_t len)
{
    if (strlen(v) >= k->size)
        return fail(msg, len, "too long (at most %zu bytes)", k->size - 1);
    memcpy(field(c, k), v, strlen(v) + 1);
    return 0;
}

static int set_path(struct fy_config *c, const struct key *k, const char *v,
                    bool replace, char *msg, size_t len)
{
    (void)replace;
    if (v[0] == '\0')
        return fail(msg, len, "must not be empty");
    return store_string(c, k, v, msg, len);
}

/* Free text for another library to judge (OpenSSL's cipher lists). */
static int set_string(struct fy_config *c, const struct key *k, const char *v,
                      bool replace, char *msg, size_t len)
{
    (void)replace;
    return store_string(c, k, v, msg, len);
}

/* A file named in a [host] section (or at the top level, hosts[0]). */
static int set_host_path(struct fy_config *c, const struct key *k, const char *v,
                         bool replace, char *msg, size_t len)
{
    (void)replace;
    if (v[0] == '\0')
        return fail(msg, len, "must not be empty");
    return text_add(c, v, strlen(v), (fy_text *)field(c, k), msg, len);
}

/* A path, or "" / "off" for none (stored as ""). */
static int set_path_or_off(struct fy_config *c, const struct key *k, const char *v,
                           bool replace, char *msg, size_t len)
{
    (void)replace;
    return store_string(c, k, strcmp(v, "off") == 0 ? "" : v, msg, len);
}

/* "off" (also written ""), "stderr", or a path. */
static int set_access_log(struct fy_config *c, const struct key *k, const char *v,
                          bool replace, char *msg, size_t len)
{
    (void)replace;
    return store_string(c, k, v[0] == '\0' ? "off" : v, msg, len);
}

/* "stderr" or a path: the error log cannot be switched off. */
static int set_error_log(struct fy_config *c, const struct key *k, const char *v,
                         bool replace, char *msg, size_t len)
{
    if (strcmp(v, "off") == 0)
        return fail(msg, len, "cannot be off (want stderr or a file)");
    return set_path(c, k, v, replace, msg, len);
}

static int set_backend(struct fy_config *c, const struct key *k, const char *v,
                       bool replace, char *msg, size_t len)
{
    (void)replace;
    if (!fy_backend_find(v)) {
        char names[256];
        fy_backend_names(names, sizeof names);
        return fail(msg, len, "unknown backend \"%s\" (want one of: %s)", v, names);
    }
    return store_string(c, k, v, msg, len);
}

static int set_log_level(struct fy_config *c, const struct key *k, const char *v,
                         bool replace, char *msg, size_t len)
{
    static const char *const names[] = {
        [FY_LOG_ERROR] = "error", [FY_LOG_WARN] = "warn",
        [FY_LOG_INFO] = "info", [FY_LOG_DEBUG] = "debug",
    };
    (void)k, (void)replace;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(v, names[i]) == 0) {
            c->log_level = (enum fy_log_level)i;
            return 0;
        }
    }
    return fail(msg, len, "unknown level \"%s\" (want error, warn, info or debug)", v);
}

static int set_aio_send(struct fy_config *c, const struct key *k, const char *v,
                        bool replace, char *msg, size_t len)
{
    (void)k, (void)replace;
    if (strcmp(v, "copy") == 0)
        c->aio_send = FY_AIO_SEND_COPY;
    else if (strcmp(v, "sendfile") == 0)
        c->aio_send = FY_AIO_SEND_SENDFILE;
    else
        return fail(msg, len, "unknown way \"%s\" (want copy or sendfile)", v);
    return 0;
}

static int set_bool(struct fy_config *c, const struct key *k, const char *v,
                    bool replace, char *msg, size_t len)
{
    (void)replace;
    bool on = strcmp(v, "on") == 0;
    if (!on && strcmp(v, "off") != 0)
        return fail(msg, len, "\"%s\" is neither on nor off", v);
    *(bool *)field(c, k) = on;
    return 0;
}

/* Stores n in a number field of whatever width the row names: unsigned
 * counts, size_t sizes, int64_t durations (all ranges fit every width). */
static void store_number(struct fy_config *c, const struct key *k, uint64_t n)
{
    if (k->size == sizeof(unsigned)) {
        unsigned u = (unsigned)n;
        memcpy(field(c, k), &u, sizeof u);
    } else {
        memcpy(field(c, k), &n, sizeof n);
    }
}

/* Counts, sizes and durations: the row's units and range say which. */
static int set_number(struct fy_config *c, const struct key *k, const char *v,
                      bool replace, char *msg, size_t len)
{
    uint64_t n;
    (void)replace;
    if (parse_amount(v, k->units, k->min, k->max, &n, msg, len) < 0)
        return -1;
    store_number(c, k, n);
    return 0;
}

/* A number or duration, or "off" (stored as 0). */
static int set_number_or_off(struct fy_config *c, const struct key *k, const char *v,
                               bool replace, char *msg, size_t len)
{
    if (strcmp(v, "off") == 0) {
        store_number(c, k, 0);
        return 0;
    }
    return set_number(c, k, v, replace, msg, len);
}

/* O_DIRECT reads need page-aligned lengths. */
static int set_block_size(struct fy_config *c, const struct key *k, const char *v,
                          bool replace, char *msg, size_t len)
{
    if (set_number(c, k, v, replace, msg, len) < 0)
        return -1;
    size_t n;
    memcpy(&n, field(c, k), sizeof n);
    if (n % 4096 != 0)
        return fail(msg, len, "\"%s\" is not a multiple of 4k", v);
    return 0;
}

static int set_tls_protocols(struct fy_config *c, const struct key *k, const char *v,
                             bool replace, char *msg, size_t len)
{
    (void)k, (void)replace;
    unsigned set = 0;
    size_t wlen;
    for (const char *w, *p = v; (w = next_word(&p, &wlen));) {
        if (wlen == 7 && strncmp(w, "TLSv1.2", 7) == 0)
            set |= FY_TLS_1_2;
        else if (wlen == 7 && strncmp(w, "TLSv1.3", 7) == 0)
            set |= FY_TLS_1_3;
        else
            return fail(msg, len, "\"%.*s\" is not offered (want TLSv1.2, TLSv1.3 or both)", (int)wlen, w);
    }
    if (!set)
        return fail(msg, len, "empty (want TLSv1.2, TLSv1.3 or both)");
    c->tls_protocols = set;
    return 0;
}

/* "ADDRESS [tls] [proxy-protocol]", the options in any order. */
static int set_listen(struct fy_config *c, const struct key *k, const char *v,
                      bool replace, char *msg, size_t len)
{
    struct fy_listen l;
    size_t n = replace ? 0 : c->nlisten, alen, olen;
    const char *p = v, *addr = next_word(&p, &alen), *opt;
    char text[128];
    (void)k;
    if (addr && alen >= sizeof text)
        return fail(msg, len, "address \"%.40s...\" is too long", addr);
    snprintf(text, sizeof text, "%.*s", addr ? (int)alen : 0, addr ? addr : "");
    if (fy_listen_parse(text, &l, msg, len) < 0)
        return -1;
    while ((opt = next_word(&p, &olen))) {
        bool *flag = olen == 14 && memcmp(opt, "proxy-protocol", 14) == 0 ? &l.proxy_protocol
                   : olen == 3 && memcmp(opt, "tls", 3) == 0             ? &l.tls
                                                                         : NULL;
        if (!flag)
            return fail(msg, len, "unknown option \"%.*s\" after %s (want tls, proxy-protocol or both)",
                        (int)olen, opt, text);
        if (*flag)
            return fail(msg, len, "option \"%.*s\" given twice after %s", (int)olen, opt, text);
        *flag = true;
    }
    for (size_t i = 0; i < n; i++)
        if (c->listen[i].addrlen == l.addrlen && memcmp(&c->listen[i].addr, &l.addr, l.addrlen) == 0)
            return fail(msg, len, "duplicate address %s", l.text);
    if (n == FY_CONFIG_MAX_LISTEN)
        return fail(msg, len, "too many addresses (at most %d)", FY_CONFIG_MAX_LISTEN);
    c->listen[n] = l;
    c->nlisten = n + 1;
    return 0;
}

/* The next whitespace-separated word of *p, or NULL at the end. */
static const char *next_word(const char **p, size_t *wlen)
{
    const char *s = *p;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '\0')
        return NULL;
    const char *e = s;
    while (*e && !isspace((unsigned char)*e))
        e++;
    *wlen = (size_t)(e - s);
    *p = e;
    return s;
}

static int check_index_name(const char *w, size_t wlen, size_t max, char *msg, size_t len)
{
    if (memchr(w, '/', wlen))
        return fail(msg, len, "\"%.*s\" contains '/' (want a file name)", (int)wlen, w);
    if ((wlen == 1 && w[0] == '.') || (wlen == 2 && w[0] == '.' && w[1] == '.'))
        return fail(msg, len, "\"%.*s\" is not a file name", (int)wlen, w);
    if (wlen >= max)
        return fail(msg, len, "\"%.40s...\" is too long (at most %zu bytes)", w, max - 1);
    return 0;
}

static int set_index(struct fy_config *c, const struct key *k, const char *v,
                     bool replace, char *msg, size_t len)
{
    const char *words[FY_CONFIG_MAX_INDEX], *w, *p = v;
    size_t lens[FY_CONFIG_MAX_INDEX], wlen, base = replace ? 0 : c->nindex, n = 0;
    (void)k;
    while ((w = next_word(&p, &wlen))) {
        if (base + n == FY_CONFIG_MAX_INDEX)
            return fail(msg, len, "too many names (at most %d)", FY_CONFIG_MAX_INDEX);
        if (check_index_name(w, wlen, sizeof c->index_files[0], msg, len) < 0)
            return -1;
        words[n] = w;
        lens[n++] = wlen;
    }
    if (n == 0)
        return fail(msg, len, "needs at least one file name");
    for (size_t i = 0; i < n; i++) {
        memcpy(c->index_files[base + i], words[i], lens[i]);
        c->index_files[base + i][lens[i]] = '\0';
    }
    c->nindex = base + n;
    return 0;
}

/* --- hosts, aliases, error pages, paths ---------------------------------- */

/* The top level's docroot is a plain field (the -r option sets it too); a
 * [host] section's goes to the arena. */
static int set_docroot(struct fy_config *c, const struct key *k, const char *v,
                       bool replace, char *msg, size_t len)
{
    (void)k, (void)replace;
    if (v[0] == '\0')
        return fail(msg, len, "must not be empty");
    if (c->scope_host > 0)
        return text_add(c, v, strlen(v), &c->hosts[c->scope_host].docroot, msg, len);
    if (strlen(v) >= sizeof c->docroot)
        return fail(msg, len, "too long (at most %zu bytes)", sizeof c->docroot - 1);
    strcpy(c->docroot, v);
    return 0;
}

/* on/off into an enum fy_tristate field. */
static int set_switch(struct fy_config *c, const struct key *k, const char *v,
                      bool replace, char *msg, size_t len)
{
    (void)replace;
    bool on = strcmp(v, "on") == 0;
    if (!on && strcmp(v, "off") != 0)
        return fail(msg, len, "\"%s\" is neither on nor off", v);
    *(enum fy_tristate *)field(c, k) = on ? FY_ON : FY_OFF;
    return 0;
}

/* hidden-files = deny|allow into an enum fy_tristate field (allow is on).
 * Hidden paths are refused by URL before any file is looked at, so a rule
 * that names files by extension could never match: refused rather than
 * silently ignored. */
static int set_hidden_files(struct fy_config *c, const struct key *k, const char *v,
                            bool replace, char *msg, size_t len)
{
    (void)replace;
    bool allow = strcmp(v, "allow") == 0;
    if (!allow && strcmp(v, "deny") != 0)
        return fail(msg, len, "\"%s\" is neither deny nor allow", v);
    const char *p = fy_config_text(c, c->rules[c->scope_rule].patterns), *w;
    size_t wlen;
    while ((w = next_word(&p, &wlen)))
        if (w[0] == '*')
            return fail(msg, len, "not allowed in a [path] section with a *.EXT pattern "
                                  "(hidden paths are refused by their URL, before a file is known)");
    *(enum fy_tristate *)field(c, k) = allow ? FY_ON : FY_OFF;
    return 0;
}

/* Request paths are matched after decoding and normalisation, so a prefix
 * must be normalised too: absolute, without empty, "." or ".." segments.
 * *n becomes its length without a trailing '/'. */
static int check_url_path(const char *w, size_t *n, char *msg, size_t len)
{
    size_t wlen = *n;
    if (wlen == 0 || w[0] != '/')
        return fail(msg, len, "\"%.*s\" does not start with '/'", (int)wlen, w);
    while (wlen > 1 && w[wlen - 1] == '/')
        wlen--;
    for (size_t i = 0; i < wlen;) {
        size_t j = i + 1;
        while (j < wlen && w[j] != '/')
            j++;
        size_t seg = j - i - 1;
        if ((seg == 0 && wlen > 1) || (seg == 1 && w[i + 1] == '.') ||
            (seg == 2 && w[i + 1] == '.' && w[i + 2] == '.'))
            return fail(msg, len, "\"%.*s\" is not a normalised path (empty, '.' or '..' segment)",
                        (int)*n, w);
        i = j;
    }
    *n = wlen;
    return 0;
}

/* alias = PREFIX DIR: URL paths under PREFIX are files under DIR. */
static int set_alias(struct fy_config *c, const struct key *k, const char *v,
                     bool replace, char *msg, size_t len)
{
    const char *p = v, *w;
    size_t wlen;
    (void)k, (void)replace;
    if (!(w = next_word(&p, &wlen)))
        return fail(msg, len, "needs a URL prefix and a directory");
    size_t plen = wlen;
    if (check_url_path(w, &plen, msg, len) < 0)
        return -1;
    if (plen == 1)
        return fail(msg, len, "\"/\" cannot be an alias (it is the docroot)");
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0')
        return fail(msg, len, "needs a directory after \"%.*s\"", (int)wlen, w);
    if (c->naliases == FY_CONFIG_MAX_ALIASES)
        return fail(msg, len, "too many aliases (at most %d)", FY_CONFIG_MAX_ALIASES);
    for (unsigned i = 0; i < c->naliases; i++) {
        const struct fy_alias_config *a = &c->aliases[i];
        const char *other = fy_config_text(c, a->prefix);
        if (a->host == c->scope_host && strlen(other) == plen && memcmp(other, w, plen) == 0)
            return fail(msg, len, "duplicate alias %.*s", (int)plen, w);
    }
    struct fy_alias_config a = {.host = c->scope_host};
    if (text_add(c, w, plen, &a.prefix, msg, len) < 0 || text_add(c, p, strlen(p), &a.dir, msg, len) < 0)
        return -1;
    c->aliases[c->naliases++] = a;
    return 0;
}

/* error-page = STATUS PATH */
static int set_error_page(struct fy_config *c, const struct key *k, const char *v,
                          bool replace, char *msg, size_t len)
{
    const char *p = v, *w, *path;
    size_t wlen, plen, extra;
    (void)k, (void)replace;
    if (!(w = next_word(&p, &wlen)))
        return fail(msg, len, "needs a status and a path");
    int status = wlen == 3 && isdigit((unsigned char)w[0]) && isdigit((unsigned char)w[1]) &&
                 isdigit((unsigned char)w[2]) ? atoi(w) : 0;
    if (status < 400 || status > 599)
        return fail(msg, len, "\"%.*s\" is not a status from 400 to 599", (int)wlen, w);
    if (!(path = next_word(&p, &plen)) || path[0] != '/' || next_word(&p, &extra))
        return fail(msg, len, "needs one path starting with '/' after the status");
    if (c->nerror_pages == FY_CONFIG_MAX_ERROR_PAGES)
        return fail(msg, len, "too many error pages (at most %d)", FY_CONFIG_MAX_ERROR_PAGES);
    for (unsigned i = 0; i < c->nerror_pages; i++)
        if (c->error_pages[i].host == c->scope_host && c->error_pages[i].status == status)
            return fail(msg, len, "duplicate error page for %d", status);
    struct fy_error_page_config e = {.host = c->scope_host, .status = status};
    if (text_add(c, path, plen, &e.path, msg, len) < 0)
        return -1;
    c->error_pages[c->nerror_pages++] = e;
    return 0;
}

static bool has_control_char(const char *v)
{
    for (; *v; v++)
        if (((unsigned char)*v < 0x20 && *v != '\t') || *v == 0x7f)
            return true;
    return false;
}

/* A header value kept as text; "off" (or "") sends none. */
static int set_header_text(struct fy_config *c, const struct key *k, const char *v,
                           bool replace, char *msg, size_t len)
{
    (void)replace;
    if (has_control_char(v))
        return fail(msg, len, "control character in value");
    if (strcmp(v, "off") == 0)
        v = "";
    return text_add(c, v, strlen(v), (fy_text *)field(c, k), msg, len);
}

/* A URL path naming a file of the host, as fallback takes it: normalised,
 * no trailing '/', nothing that decoding would change; "off" (stored as "")
 * for none. */
static int set_url_file(struct fy_config *c, const struct key *k, const char *v,
                        bool replace, char *msg, size_t len)
{
    (void)replace;
    if (strcmp(v, "off") == 0)
        v = "";
    size_t n = strlen(v);
    if (n > 0 && check_url_path(v, &n, msg, len) < 0)
        return -1;
    if (n != strlen(v) || (n == 1 && v[0] == '/'))
        return fail(msg, len, "\"%s\" names a directory (want a file, e.g. /index.html)", v);
    if (has_control_char(v) || strpbrk(v, "?#%"))
        return fail(msg, len, "\"%s\" holds a character a plain path cannot ('?', '#', '%%', control)", v);
    return text_add(c, v, n, (fy_text *)field(c, k), msg, len);
}

/* Bytes a URL may hold as written: RFC 3986's unreserved and reserved
 * characters and '%' (anything else must be percent-encoded). */
static bool is_url_char(char ch)
{
    return isalnum((unsigned char)ch) || (ch && strchr("-._~:/?#[]@!$&'()*+,;=%", ch));
}

/* redirect's TO: "/path..." or "http(s)://authority/...". */
static int check_redirect_target(const char *w, size_t n, char *msg, size_t len)
{
    size_t skip = n >= 8 && strncasecmp(w, "https://", 8) == 0 ? 8
                : n >= 7 && strncasecmp(w, "http://", 7) == 0 ? 7 : 0;
    if (skip > 0 && (skip == n || strchr("/?#", w[skip])))
        return fail(msg, len, "\"%.*s\" has no host after the scheme", (int)n, w);
    if (skip == 0 && (w[0] != '/' || (n > 1 && w[1] == '/')))
        return fail(msg, len, "\"%.*s\" is not a target (want /PATH or http(s)://HOST/PATH)", (int)n, w);
    for (size_t i = 0; i < n; i++)
        if (!is_url_char(w[i]))
            return fail(msg, len, "\"%.*s\" holds '%c', which a URL cannot (percent-encode it)", (int)n, w,
                        w[i]);
    return 0;
}

/* redirect's FROM: a normalised path as requests are matched (decoded),
 * exact, or a prefix when it ends in '/'. */
static int check_redirect_source(const char *w, size_t n, char *msg, size_t len)
{
    size_t m = n;
    if (check_url_path(w, &m, msg, len) < 0)
        return -1;
    if ((n > 1 && memmem(w, n, "//", 2)) || memchr(w, '?', n) || memchr(w, '#', n) || memchr(w, '%', n))
        return fail(msg, len, "\"%.*s\" is not a plain path (no '//', '?', '#' or '%%': it is matched decoded)",
                    (int)n, w);
    return 0;
}

/* redirect = FROM TO [301|302|303|307|308]; repeatable.  The rule of the
 * scope says for which host and paths it holds. */
static int set_redirect(struct fy_config *c, const struct key *k, const char *v,
                        bool replace, char *msg, size_t len)
{
    const char *p = v, *from, *to, *code;
    size_t from_len, to_len, code_len, extra;
    int status = 301;
    (void)k, (void)replace;
    if (!(from = next_word(&p, &from_len)) || !(to = next_word(&p, &to_len)))
        return fail(msg, len, "needs a path and a target (FROM TO [301|302|303|307|308])");
    if (check_redirect_source(from, from_len, msg, len) < 0 || check_redirect_target(to, to_len, msg, len) < 0)
        return -1;
    if ((code = next_word(&p, &code_len))) {
        bool digits = code_len == 3 && isdigit((unsigned char)code[0]) && isdigit((unsigned char)code[1]) &&
                      isdigit((unsigned char)code[2]);
        status = digits ? atoi(code) : 0;
        if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
            return fail(msg, len, "\"%.*s\" is not a redirect status (want 301, 302, 303, 307 or 308)",
                        (int)code_len, code);
        if (next_word(&p, &extra))
            return fail(msg, len, "unexpected text after the status");
    }
    /* A path target the FROM would match again redirects forever. */
    size_t to_path = 0;
    while (to_path < to_len && to[to_path] != '?' && to[to_path] != '#')
        to_path++;
    if (to[0] == '/' && ((from[from_len - 1] == '/' && to_path >= from_len && memcmp(to, from, from_len) == 0) ||
                         (to_path == from_len && memcmp(to, from, from_len) == 0)))
        return fail(msg, len, "%.*s would be redirected again by this line (a loop)", (int)to_len, to);
    if (c->nredirects == FY_CONFIG_MAX_REDIRECTS)
        return fail(msg, len, "too many redirects (at most %d)", FY_CONFIG_MAX_REDIRECTS);
    for (unsigned i = 0; i < c->nredirects; i++) {
        const char *other = fy_config_text(c, c->redirects[i].from);
        if (c->redirects[i].rule == (unsigned)c->scope_rule && strlen(other) == from_len &&
            memcmp(other, from, from_len) == 0)
            return fail(msg, len, "duplicate redirect for %.*s", (int)from_len, from);
    }
    struct fy_redirect_config r = {.rule = (unsigned)c->scope_rule, .status = status};
    if (text_add(c, from, from_len, &r.from, msg, len) < 0 || text_add(c, to, to_len, &r.to, msg, len) < 0)
        return -1;
    c->redirects[c->nredirects++] = r;
    return 0;
}

/* redirect-host = NAME[:PORT], in a [host] section: every request for the
 * host goes to the same path on NAME. */
static int set_redirect_host(struct fy_config *c, const struct key *k, const char *v,
                             bool replace, char *msg, size_t len)
{
    (void)replace;
    if (c->scope_host == 0)
        return fail(msg, len, "only allowed in a [host] section");
    const char *colon = v[0] == '[' ? strstr(v, "]:") : strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) + (v[0] == '[') : strlen(v);
    if (colon && v[0] == '[')
        colon++;
    if (n == 0 || check_host_name(v, n, msg, len) < 0 || v[0] == '*')
        return fail(msg, len, "\"%s\" is not a host name (want NAME or NAME:PORT)", v);
    if (colon) {
        const char *port = colon + 1;
        uint64_t num = 0;
        if (read_digits(&port, &num) != 0 || *port != '\0' || num < 1 || num > 65535)
            return fail(msg, len, "bad port in \"%s\" (want 1 to 65535)", v);
    }
    char lower[256];
    if (n >= sizeof lower)
        return fail(msg, len, "\"%.40s...\" is too long", v);
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)tolower((unsigned char)v[i]);
    if (!colon && word_in_list(fy_config_text(c, c->hosts[c->scope_host].names),
                               strlen(fy_config_text(c, c->hosts[c->scope_host].names)), lower, n))
        return fail(msg, len, "%s is a name of this section: every request would be sent to itself", v);
    return text_add(c, v, strlen(v), (fy_text *)field(c, k), msg, len);
}

/* etag = size-mtime | inode-size-mtime | digest | off */
static int set_etag(struct fy_config *c, const struct key *k, const char *v,
                    bool replace, char *msg, size_t len)
{
    static const char *const names[] = {
        [FY_ETAG_SIZE_MTIME] = "size-mtime", [FY_ETAG_INODE_SIZE_MTIME] = "inode-size-mtime",
        [FY_ETAG_OFF] = "off", [FY_ETAG_DIGEST] = "digest",
    };
    (void)replace;
    for (size_t i = 1; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(v, names[i]) == 0) {
            *(enum fy_etag_mode *)field(c, k) = (enum fy_etag_mode)i;
            return 0;
        }
    }
    return fail(msg, len, "unknown kind \"%s\" (want size-mtime, inode-size-mtime, digest or off)", v);
}

/* expires = DURATION | off */
static int set_expires(struct fy_config *c, const struct key *k, const char *v,
                       bool replace, char *msg, size_t len)
{
    uint64_t n = 0;
    (void)replace;
    if (strcmp(v, "off") != 0 && parse_amount(v, k->units, k->min, k->max, &n, msg, len) < 0)
        return -1;
    *(int64_t *)field(c, k) = (int64_t)n;
    return 0;
}

static bool is_tchar(char ch)
{
    return isalnum((unsigned char)ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The length of the token at s (RFC 9110 §5.6.2). */
static size_t token_len(const char *s)
{
    size_t n = 0;
    while (is_tchar(s[n]))
        n++;
    return n;
}

/* default-type = TYPE/SUBTYPE[; PARAMETERS] | off: a media type as
 * Content-Type carries it. */
static int set_media_type(struct fy_config *c, const struct key *k, const char *v,
                          bool replace, char *msg, size_t len)
{
    (void)replace;
    if (strcmp(v, "off") == 0)
        v = "";
    size_t type = token_len(v), sub = v[type] == '/' ? token_len(v + type + 1) : 0;
    const char *rest = v + type + 1 + sub;
    if (sub > 0)
        while (*rest == ' ' || *rest == '\t')
            rest++;
    if (v[0] && (type == 0 || sub == 0 || (*rest && *rest != ';')))
        return fail(msg, len, "\"%s\" is not a media type (want TYPE/SUBTYPE, e.g. text/plain)", v);
    if (has_control_char(v))
        return fail(msg, len, "control character in value");
    return text_add(c, v, strlen(v), (fy_text *)field(c, k), msg, len);
}

/* compress = off | CODING ... (zstd, br, gzip), each once. */
static int set_compress(struct fy_config *c, const struct key *k, const char *v,
                        bool replace, char *msg, size_t len)
{
    const char *p = v, *w;
    size_t wlen, n = 0;
    unsigned packed = FY_COMPRESS_SET;
    (void)replace;
    if (strcmp(v, "off") != 0) {
        while ((w = next_word(&p, &wlen))) {
            enum fy_coding cd = fy_coding_from_name(w, wlen);
            if (cd == FY_CODING_NONE)
                return fail(msg, len, "unknown coding \"%.*s\" (want zstd, br or gzip, or off)", (int)wlen, w);
            for (size_t i = 0; i < n; i++)
                if (FY_COMPRESS_CODING(packed, i) == (unsigned)cd)
                    return fail(msg, len, "%.*s is named twice", (int)wlen, w);
            packed |= (unsigned)cd << (4 * n++);
        }
        if (n == 0)
            return fail(msg, len, "needs codings (zstd, br, gzip) or off");
    }
    *(unsigned *)field(c, k) = packed;
    return 0;
}

/* compress-types = TYPE/SUBTYPE ...; a subtype "*" stands for any. */
static int set_media_types(struct fy_config *c, const struct key *k, const char *v,
                           bool replace, char *msg, size_t len)
{
    const char *p = v, *w;
    size_t wlen;
    char list[LINE_LIMIT + 1];
    size_t used = 0;
    (void)replace;
    while ((w = next_word(&p, &wlen))) {
        size_t type = 0;
        while (type < wlen && is_tchar(w[type]))
            type++;
        size_t sub = type < wlen && w[type] == '/' ? wlen - type - 1 : 0;
        const char *subtype = w + type + 1;
        bool ok = type > 0 && sub > 0 && !(type == 1 && w[0] == '*') &&
                  ((sub == 1 && subtype[0] == '*') || token_len(subtype) >= sub);
        if (!ok)
            return fail(msg, len, "\"%.*s\" is not a media type (want TYPE/SUBTYPE or TYPE/*)", (int)wlen, w);
        for (size_t i = 0; i < wlen; i++)
            list[used + i + (used ? 1 : 0)] = (char)tolower((unsigned char)w[i]);
        if (used)
            list[used++] = ' ';
        used += wlen;
    }
    if (used == 0)
        return fail(msg, len, "needs at least one media type");
    return text_add(c, list, used, (fy_text *)field(c, k), msg, len);
}

/* compress-min-size = SIZE, into a rule's int64_t (-1 there: unset). */
static int set_rule_size(struct fy_config *c, const struct key *k, const char *v,
                         bool replace, char *msg, size_t len)
{
    uint64_t n;
    (void)replace;
    if (parse_amount(v, k->units, k->min, k->max, &n, msg, len) < 0)
        return -1;
    *(int64_t *)field(c, k) = (int64_t)n;
    return 0;
}

/* A size into an int64_t path field; "off" is 0. */
static int set_path_size(struct fy_config *c, const struct key *k, const char *v,
                         bool replace, char *msg, size_t len)
{
    if (strcmp(v, "off") != 0)
        return set_rule_size(c, k, v, replace, msg, len);
    *(int64_t *)field(c, k) = 0;
    return 0;
}

/* Headers ferry writes itself, or that frame the message: adding them
 * would send them twice or break the response. */
static bool header_is_reserved(const char *name, size_t n)
{
    static const char *const reserved[] = {
        "accept-ranges", "allow", "connection", "content-encoding", "content-length",
        "content-range", "content-type", "date", "etag", "keep-alive", "last-modified",
        "location", "server", "te", "trailer", "transfer-encoding", "upgrade", "vary",
    };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strlen(reserved[i]) == n && strncasecmp(reserved[i], name, n) == 0)
            return true;
    return false;
}

/* add-header = "Name: value"; every line adds one header. */
static int set_add_header(struct fy_config *c, const struct key *k, const char *v,
                          bool replace, char *msg, size_t len)
{
    (void)replace;
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar(v[i]))
            n = 0;
    if (n == 0)
        return fail(msg, len, "\"%s\" is not \"Name: value\"", v);
    if (header_is_reserved(v, n))
        return fail(msg, len, "ferry sets %.*s itself", (int)n, v);
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (has_control_char(value))
        return fail(msg, len, "control character in value");
    fy_text *t = (fy_text *)field(c, k);
    char line[LINE_LIMIT * 2 + 8];
    int total = snprintf(line, sizeof line, "%s%.*s: %s\r\n", fy_config_text(c, *t), (int)n, v, value);
    if (total < 0 || (size_t)total >= sizeof line)
        return fail(msg, len, "too many headers in one section");
    return text_add(c, line, (size_t)total, t, msg, len);
}

/* auth-basic = REALM | off.  The realm is sent quoted in WWW-Authenticate
 * (and shown by browsers), so it is text without control characters;
 * quotes and backslashes in it are escaped there. */
static int set_auth_realm(struct fy_config *c, const struct key *k, const char *v,
                          bool replace, char *msg, size_t len)
{
    (void)replace;
    if (strcmp(v, "off") == 0)
        v = "";
    else if (v[0] == '\0')
        return fail(msg, len, "needs a realm (or off)");
    if (has_control_char(v))
        return fail(msg, len, "control character in the realm");
    if (strlen(v) > 200)
        return fail(msg, len, "the realm is longer than 200 bytes");
    c->rules[c->scope_rule].auth_realm_line = c->line;
    return text_add(c, v, strlen(v), (fy_text *)field(c, k), msg, len);
}

/* auth-basic-user-file = PATH: read and checked by src/file/auth.c once
 * the whole configuration is known (fy_auth_validate). */
static int set_auth_user_file(struct fy_config *c, const struct key *k, const char *v,
                              bool replace, char *msg, size_t len)
{
    (void)replace;
    if (v[0] == '\0')
        return fail(msg, len, "must not be empty");
    c->rules[c->scope_rule].auth_user_file_line = c->line;
    return text_add(c, v, strlen(v), (fy_text *)field(c, k), msg, len);
}

/* --- processes, privileges, status ------------------------------------- */

/* "auto" (stored as 0: one per CPU) or 1 to FY_CONFIG_MAX_WORKERS. */
static int set_workers(struct fy_config *c, const struct key *k, const char *v,
                       bool replace, char *msg, size_t len)
{
    if (strcmp(v, "auto") == 0) {
        c->workers = 0;
        return 0;
    }
    return set_number(c, k, v, replace, msg, len);
}

/* A user or group: a name or a numeric id; "" keeps the starting one. */
static int set_account(struct fy_config *c, const struct key *k, const char *v,
                       bool replace, char *msg, size_t len)
{
    (void)replace;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-$", *p))
            return fail(msg, len, "\"%s\" is not a user or group name", v);
    if (v[0] == '-')
        return fail(msg, len, "\"%s\" is not a user or group name", v);
    return store_string(c, k, v, msg, len);
}

/* on, off, or join: on, and a port another ferry's group holds is shared
 * instead of refused (a second instance started beside the first). */
static int set_reuseport(struct fy_config *c, const struct key *k, const char *v,
                         bool replace, char *msg, size_t len)
{
    (void)k, (void)replace;
    bool join = strcmp(v, "join") == 0;
    if (!join && strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
        return fail(msg, len, "\"%s\" is not on, off or join", v);
    c->reuseport = join || strcmp(v, "on") == 0;
    c->reuseport_join = join;
    return 0;
}

/* "off" (or "") or an absolute URL path without query or spaces. */
static int set_status_path(struct fy_config *c, const struct key *k, const char *v,
                           bool replace, char *msg, size_t len)
{
    (void)replace;
    if (v[0] == '\0' || strcmp(v, "off") == 0)
        return store_string(c, k, "", msg, len);
    if (v[0] != '/')
        return fail(msg, len, "\"%s\" does not start with '/'", v);
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == '%' || *p == 0x7f)
            return fail(msg, len, "\"%s\" holds a character a plain path cannot ('?', '#', '%%', space)", v);
    return store_string(c, k, v, msg, len);
}

/* Whitespace-separated networks (or "all") into out[0..*n), at most max. */
static int parse_networks(const char *v, bool deny, struct fy_acl_entry *out, size_t max, size_t *n,
                          char *msg, size_t len)
{
    const char *w, *p = v;
    size_t wlen;
    char word[128];
    *n = 0;
    while ((w = next_word(&p, &wlen))) {
        if (*n == max)
            return fail(msg, len, "too many networks (at most %zu)", max);
        if (wlen >= sizeof word)
            return fail(msg, len, "\"%.40s...\" is too long", w);
        memcpy(word, w, wlen);
        word[wlen] = '\0';
        out[*n].deny = deny;
        if (fy_cidr_parse(word, true, &out[*n].net, msg, len) < 0)
            return -1;
        (*n)++;
    }
    return *n ? 0 : fail(msg, len, "needs at least one address, network or all");
}

/* A list of allows (status-allow, real-ip-from): v's networks after what
 * list holds (unless replace), checked like every access list (core/acl.h). */
static int set_allow_list(struct fy_acl_entry *list, size_t *count, const char *v, bool replace,
                          char *msg, size_t len)
{
    size_t base = replace ? 0 : *count, n;
    struct fy_acl_entry nets[FY_CONFIG_MAX_ALLOW];
    if (parse_networks(v, false, nets, FY_CONFIG_MAX_ALLOW, &n, msg, len) < 0)
        return -1;
    if (base + n > FY_CONFIG_MAX_ALLOW)
        return fail(msg, len, "too many networks (at most %d)", FY_CONFIG_MAX_ALLOW);
    memcpy(&list[base], nets, n * sizeof nets[0]);
    *count = base + n;
    return 0;
}

/* Networks allowed to read the status page. */
static int set_status_allow(struct fy_config *c, const struct key *k, const char *v,
                            bool replace, char *msg, size_t len)
{
    (void)k;
    return set_allow_list(c->status_allow, &c->nstatus_allow, v, replace, msg, len);
}

/* Peers whose X-Forwarded-For is believed; "off" for none. */
static int set_real_ip_from(struct fy_config *c, const struct key *k, const char *v,
                            bool replace, char *msg, size_t len)
{
    (void)k;
    if (strcmp(v, "off") == 0) {
        c->nreal_ip_from = 0;
        return 0;
    }
    return set_allow_list(c->real_ip_from, &c->nreal_ip_from, v, replace, msg, len);
}

/* allow = / deny = NETWORK ...: appended, in order, to the list of the
 * scope's rule (a narrower scope's list replaces a wider one's). */
static int set_access(struct fy_config *c, const struct key *k, const char *v,
                      bool replace, char *msg, size_t len)
{
    struct fy_rule_config *r = &c->rules[c->scope_rule];
    size_t n;
    (void)replace;
    if (r->nacl > 0 && r->acl_first + r->nacl != c->nacl)
        return fail(msg, len, "the allow and deny lines of a scope must be written together");
    if (parse_networks(v, strcmp(k->name, "deny") == 0, &c->acl[c->nacl], FY_CONFIG_MAX_ACL - c->nacl, &n,
                       msg, len) < 0)
        return -1;
    if (r->nacl == 0)
        r->acl_first = c->nacl;
    r->nacl += (unsigned)n;
    c->nacl += (unsigned)n;
    return 0;
}

#define NUMBER(name, def, set, f, min, max, units) \
    {name, def, set, FIELD(f), min, max, units, SERVER}
#define STRING(name, def, set, f) {name, def, set, FIELD(f), 0, 0, NULL, SERVER}
#define OTHER(name, def, set) {name, def, set, 0, 0, 0, 0, NULL, SERVER}
#define HOST_KEY(name, def, set, f) {name, def, set, HFIELD(f), 0, 0, NULL, HOST}
#define PATH_KEY(name, def, set, f) {name, def, set, RFIELD(f), 0, 0, NULL, PATH}

/* One row per key; doc/config.md describes each. */
static const struct key keys[] = {
    OTHER("listen", "127.0.0.1:8080", set_listen),
    {"docroot", ".", set_docroot, 0, 0, 0, 0, NULL, HOST},
    STRING("backend", "auto", set_backend, backend),
    OTHER("index-files", "index.html", set_index),
    STRING("mime-types-file", "/etc/mime.types", set_path_or_off, mime_types_file),
    STRING("access-log", "off", set_access_log, access_log),
    STRING("error-log", "stderr", set_error_log, error_log),
    OTHER("log-level", "info", set_log_level),
    NUMBER("max-connections", "1024", set_number, max_connections,
           1, 1000000, plain_units),
    NUMBER("max-connections-per-ip", "off", set_number_or_off, max_connections_per_ip,
           1, 1000000, plain_units),
    NUMBER("keepalive-timeout", "15s", set_number, keepalive_timeout_ms,
           1, MAX_DURATION_MS, time_units),
    NUMBER("header-timeout", "10s", set_number, header_timeout_ms,
           1, MAX_DURATION_MS, time_units),
    NUMBER("write-timeout", "30s", set_number, write_timeout_ms,
           1, MAX_DURATION_MS, time_units),
    NUMBER("shutdown-timeout", "10s", set_number, shutdown_timeout_ms,
           1, MAX_DURATION_MS, time_units),
    NUMBER("drain-idle-timeout", "1s", set_number, drain_idle_timeout_ms,
           1, MAX_DURATION_MS, time_units),
    NUMBER("max-request-header-size", "8k", set_number, max_request_header_size,
           1ULL << 10, 1ULL << 20, size_units),
    NUMBER("max-keepalive-requests", "1000", set_number, max_keepalive_requests,
           0, 100000000, plain_units),
    NUMBER("max-request-body-discard", "1m", set_number, max_request_body_discard,
           0, 1ULL << 30, size_units),
    NUMBER("send-chunk-size", "512k", set_number, send_chunk_size,
           4ULL << 10, 64ULL << 20, size_units),
    NUMBER("open-file-cache-size", "1000", set_number, open_file_cache_size,
           0, 100000, plain_units),
    NUMBER("open-file-cache-ttl", "1s", set_number, open_file_cache_ttl_ms,
           1, 3600 * 1000, time_units),
    NUMBER("digest-cache-size", "10000", set_number, digest_cache_size, 1, 1000000, plain_units),
    NUMBER("body-cache-size", "8m", set_number, body_cache_size, 0, 1ULL << 30, size_units),
    NUMBER("aio-block-size", "1m", set_block_size, aio_block_size,
           64ULL << 10, 16ULL << 20, size_units),
    NUMBER("aio-read-ahead", "2", set_number, aio_read_ahead, 1, 16, plain_units),
    NUMBER("aio-max-inflight", "32", set_number, aio_max_inflight, 1, 1024, plain_units),
    NUMBER("aio-min-size", "64k", set_number, aio_min_size, 0, 1ULL << 30, size_units),
    STRING("aio-direct", "on", set_bool, aio_direct),
    OTHER("aio-send", "copy", set_aio_send),
    STRING("aio-pool-dir", "/dev/shm", set_path, aio_pool_dir),
    /* TLS */
    OTHER("tls-protocols", "TLSv1.2 TLSv1.3", set_tls_protocols),
    STRING("tls-ciphers", "", set_string, tls_ciphers),
    STRING("tls-ciphersuites", "", set_string, tls_ciphersuites),
    STRING("tls-session-tickets", "on", set_bool, tls_session_tickets),
    NUMBER("tls-handshake-timeout", "10s", set_number, tls_handshake_timeout_ms,
           1, MAX_DURATION_MS, time_units),
    STRING("redirect-to-https", "off", set_bool, redirect_to_https),
    STRING("http2", "on", set_bool, http2),
    NUMBER("http2-max-concurrent-streams", "128", set_number, http2_max_concurrent_streams,
           1, 1000, plain_units),
    HOST_KEY("tls-certificate", NULL, set_host_path, tls_certificate),
    HOST_KEY("tls-key", NULL, set_host_path, tls_key),
    /* processes, privileges, status */
    NUMBER("workers", "auto", set_workers, workers, 1, FY_CONFIG_MAX_WORKERS, plain_units),
    OTHER("reuseport", "on", set_reuseport),
    STRING("user", "", set_account, user),
    STRING("group", "", set_account, group),
    STRING("chroot", "off", set_path_or_off, chroot_dir),
    STRING("pid-file", "off", set_path_or_off, pid_file),
    STRING("status-path", "off", set_status_path, status_path),
    OTHER("status-allow", "127.0.0.0/8 ::1", set_status_allow),
    OTHER("real-ip-from", "off", set_real_ip_from),
    STRING("health-path", "off", set_status_path, health_path),
    NUMBER("drain-delay", "off", set_number_or_off, drain_delay_ms, 1, MAX_DURATION_MS, time_units),
    /* virtual hosts: the top level, or a [host] section */
    HOST_KEY("follow-symlinks", "off", set_switch, follow_symlinks),
    {"alias", NULL, set_alias, 0, 0, 0, 0, NULL, HOST},
    {"error-page", NULL, set_error_page, 0, 0, 0, 0, NULL, HOST},
    /* per path: anywhere; the defaults are those of an empty rule */
    PATH_KEY("directory-listing", NULL, set_switch, listing),
    PATH_KEY("listing-dotfiles", NULL, set_switch, listing_dotfiles),
    PATH_KEY("precompressed", NULL, set_switch, precompressed),
    PATH_KEY("hidden-files", NULL, set_hidden_files, hidden_files),
    PATH_KEY("cache-control", NULL, set_header_text, cache_control),
    {"expires", NULL, set_expires, RFIELD(expires_s), 1, 10ULL * 366 * 86400, expires_units, PATH},
    PATH_KEY("add-header", NULL, set_add_header, headers),
    PATH_KEY("auth-basic", NULL, set_auth_realm, auth_realm),
    PATH_KEY("auth-basic-user-file", NULL, set_auth_user_file, auth_user_file),
    PATH_KEY("fallback", NULL, set_url_file, fallback),
    {"redirect", NULL, set_redirect, 0, 0, 0, 0, NULL, PATH},
    HOST_KEY("redirect-host", NULL, set_redirect_host, redirect_host),
    {"allow", NULL, set_access, 0, 0, 0, 0, NULL, PATH},
    {"deny", NULL, set_access, 0, 0, 0, 0, NULL, PATH},
    PATH_KEY("download", NULL, set_switch, download),
    PATH_KEY("default-type", NULL, set_media_type, default_type),
    PATH_KEY("compress", NULL, set_compress, compress),
    PATH_KEY("compress-types", NULL, set_media_types, compress_types),
    {"compress-min-size", NULL, set_rule_size, RFIELD(compress_min_size), 0, 1ULL << 30, size_units, PATH},
    STRING("compress-cache-dir", "", set_path_or_off, compress_cache_dir),
    NUMBER("compress-cache-size", "64m", set_number, compress_cache_size, 1ULL << 20, 1ULL << 40, size_units),
    PATH_KEY("etag", NULL, set_etag, etag),
    {"limit-rate", NULL, set_path_size, RFIELD(limit_rate), 1, 1ULL << 40, size_units, PATH},
    {"limit-rate-after", NULL, set_path_size, RFIELD(limit_rate_after), 0, 1ULL << 50, size_units, PATH},
};

#define NKEYS (sizeof keys / sizeof keys[0])

const char *fy_config_key(size_t i, const char **def)
{
    if (i >= NKEYS)
        return NULL;
    *def = keys[i].def;
    return keys[i].name;
}

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

void fy_config_defaults(struct fy_config *c)
{
    char msg[FY_CONFIG_ERR_LEN];
    memset(c, 0, sizeof *c);
    c->nhosts = 1;
    c->scope_rule = -1;
    c->text_len = 1; /* text[0] is the "" of unset strings */
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].def)
            keys[i].set(c, &keys[i], keys[i].def, true, msg, sizeof msg);
}

/* A rule for path keys written outside a [path] section: one per scope,
 * matching every path, made on first use.  Returns its index or -1. */
static int implicit_rule(struct fy_config *c, char *msg, size_t len)
{
    for (unsigned i = 0; i < c->nrules; i++)
        if (c->rules[i].implicit && c->rules[i].host == c->scope_host)
            return (int)i;
    if (c->nrules == FY_CONFIG_MAX_RULES)
        return fail(msg, len, "too many [path] sections (at most %d)", FY_CONFIG_MAX_RULES);
    struct fy_rule_config r = {.host = c->scope_host, .implicit = true, .expires_s = -1, .compress_min_size = -1,
                               .limit_rate = -1, .limit_rate_after = -1};
    if (text_add(c, "/", 1, &r.patterns, msg, len) < 0)
        return -1;
    c->rules[c->nrules] = r;
    return (int)c->nrules++;
}

/* Checks that key k may appear where the reader is, and points the scope
 * at the struct its field is in. */
static int enter_scope(struct fy_config *c, const struct key *k, char *msg, size_t len)
{
    bool top = c->scope_host == 0 && c->scope_rule < 0;
    if (k->scope == SERVER && !top)
        return fail(msg, len, "only allowed at the top level, before any section");
    if (k->scope == HOST && c->scope_rule >= 0)
        return fail(msg, len, "not allowed in a [path] section");
    if (k->scope == PATH && c->scope_rule < 0) {
        int r = implicit_rule(c, msg, len);
        if (r < 0)
            return -1;
        c->scope_rule = r;
    }
    return 0;
}

int fy_config_set(struct fy_config *c, const char *key, const char *value,
                  const char *origin, int line, bool replace, char *err, size_t errlen)
{
    char msg[FY_CONFIG_ERR_LEN];
    char where[32] = "";
    const struct key *k = find_key(key);

    if (line > 0)
        snprintf(where, sizeof where, ":%d", line);
    if (!k)
        return fail(err, errlen, "%s%s: %s: unknown key", origin, where, key);
    int saved_rule = c->scope_rule;
    c->line = line;
    int r = enter_scope(c, k, msg, sizeof msg);
    if (r == 0)
        r = k->set(c, k, value, replace, msg, sizeof msg);
    c->scope_rule = saved_rule;
    if (r < 0)
        return fail(err, errlen, "%s%s: %s: %s", origin, where, key, msg);
    return 0;
}

/* --- the file ------------------------------------------------------------ */

static char *skip_space(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

static char *trim(char *s)
{
    s = skip_space(s);
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* The first '#' at or after `from` that starts a comment: at the start of
 * the line or after whitespace. */
static char *comment_start(char *line, char *from)
{
    for (char *p = from; *p; p++)
        if (*p == '#' && (p == line || isspace((unsigned char)p[-1])))
            return p;
    return NULL;
}

/* Undoes the quotes of a value starting at '"' in place: \" and \\ are the
 * only escapes.  Only whitespace or a comment may follow the closing quote. */
static int unquote(char *v, char *msg, size_t len)
{
    char *in = v + 1, *out = v;
    for (; *in != '"'; in++) {
        if (*in == '\0')
            return fail(msg, len, "missing closing '\"'");
        if (*in == '\\') {
            in++;
            if (*in != '"' && *in != '\\')
                return fail(msg, len, "unknown escape in quoted value (want \\\" or \\\\)");
        }
        *out++ = *in;
    }
    *out = '\0';
    char *rest = skip_space(in + 1);
    if (*rest != '\0' && !(*rest == '#' && rest > in + 1))
        return fail(msg, len, "unexpected text after closing '\"'");
    return 0;
}

/* Reads the value after '=' in place: quoted, or up to a comment. */
static int parse_value(char *line, char *after_eq, char **value, char *msg, size_t len)
{
    char *v = skip_space(after_eq);
    if (*v == '"') {
        *value = v;
        return unquote(v, msg, len);
    }
    char *hash = comment_start(line, v);
    if (hash)
        *hash = '\0';
    *value = trim(v);
    return 0;
}

/* host[0..n) against one configured name (lowercase; "*.x" a wildcard).
 * Returns 0 for no match, SIZE_MAX for an exact one, else the length of
 * the wildcard suffix that matched. */
static size_t name_match(const char *host, size_t n, const char *name, size_t len)
{
    if (name[0] != '*')
        return len == n && strncasecmp(host, name, n) == 0 ? SIZE_MAX : 0;
    const char *suffix = name + 1; /* ".example.com" */
    size_t slen = len - 1;
    return n > slen && strncasecmp(host + n - slen, suffix, slen) == 0 ? slen : 0;
}

unsigned fy_config_match_host(const struct fy_config *c, const char *host, size_t n)
{
    size_t best = 0, best_len = 0;
    if (n > 0 && host[n - 1] == '.')
        n--;
    for (unsigned i = 1; i < c->nhosts; i++) {
        const char *names = fy_config_text(c, c->hosts[i].names);
        for (const char *w = names; *w;) {
            size_t len = strcspn(w, " ");
            size_t m = name_match(host, n, w, len);
            if (m == SIZE_MAX)
                return i;
            if (m > best_len)
                best = i, best_len = m;
            w += len + (w[len] == ' ');
        }
    }
    return (unsigned)best;
}

/* --- sections ------------------------------------------------------------ */

/* A host name as Host carries it (without the port): letters, digits, '-',
 * '.', '_', or an IPv6 literal in brackets; "*." in front makes it a
 * wildcard for every name ending in the rest. */
static int check_host_name(const char *w, size_t n, char *msg, size_t len)
{
    const char *s = w;
    size_t m = n;
    if (m > 2 && s[0] == '*' && s[1] == '.')
        s += 2, m -= 2;
    bool ok = m > 0 && s[0] != '.' && s[m - 1] != '.';
    bool v6 = ok && s[0] == '[';
    if (v6)
        ok = m > 2 && s[m - 1] == ']' && s == w;
    for (size_t i = v6 ? 1 : 0; ok && i < (v6 ? m - 1 : m); i++)
        ok = v6 ? (isxdigit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.')
                : (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_');
    return ok ? 0 : fail(msg, len, "\"%.*s\" is not a host name (want NAME, *.NAME or [IPv6])", (int)n, w);
}

/* The line of the [host] section that already names `name`, or 0. */
static int host_name_line(const struct fy_config *c, const char *name, size_t n)
{
    for (unsigned i = 1; i < c->nhosts; i++) {
        const char *p = fy_config_text(c, c->hosts[i].names), *w;
        size_t wlen;
        while ((w = next_word(&p, &wlen)))
            if (wlen == n && memcmp(w, name, n) == 0)
                return c->hosts[i].line;
    }
    return 0;
}

/* Whether the space-separated list[0..n) holds the word w[0..wlen). */
static bool word_in_list(const char *list, size_t n, const char *w, size_t wlen)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && list[j] != ' ')
            j++;
        if (j - i == wlen && memcmp(list + i, w, wlen) == 0)
            return true;
        i = j + 1;
    }
    return false;
}

/* Validated, lowercased, space-separated words of args into out. */
static int collect_host_names(const struct fy_config *c, const char *args, char *out, size_t cap,
                              char *msg, size_t len)
{
    const char *p = args, *w;
    size_t wlen, used = 0;
    while ((w = next_word(&p, &wlen))) {
        if (check_host_name(w, wlen, msg, len) < 0)
            return -1;
        char *dst = out + used + (used ? 1 : 0);
        if (used + wlen + 2 > cap)
            return fail(msg, len, "too many names");
        for (size_t i = 0; i < wlen; i++)
            dst[i] = (char)tolower((unsigned char)w[i]);
        int other = host_name_line(c, dst, wlen);
        if (other)
            return fail(msg, len, "%.*s is already a host of the section at line %d", (int)wlen, dst, other);
        if (word_in_list(out, used, dst, wlen))
            return fail(msg, len, "%.*s is named twice", (int)wlen, dst);
        if (used)
            out[used++] = ' ';
        used += wlen;
        out[used] = '\0';
    }
    return used ? 0 : fail(msg, len, "needs at least one host name");
}

static int open_host(struct fy_config *c, const char *args, int line, char *msg, size_t len)
{
    char names[LINE_LIMIT + 2] = "";
    if (c->nhosts == FY_CONFIG_MAX_HOSTS)
        return fail(msg, len, "too many [host] sections (at most %d)", FY_CONFIG_MAX_HOSTS - 1);
    if (collect_host_names(c, args, names, sizeof names, msg, len) < 0)
        return -1;
    struct fy_host_config h = {.line = line};
    if (text_add(c, names, strlen(names), &h.names, msg, len) < 0)
        return -1;
    c->hosts[c->nhosts] = h;
    c->scope_host = c->nhosts++;
    c->scope_rule = -1;
    return 0;
}

/* "/prefix" (matched as written, so "/img/" does not match "/img2") or
 * "*.ext" (one extension, matched case-insensitively). */
static int check_pattern(const char *w, size_t n, char *msg, size_t len)
{
    if (w[0] == '*') {
        bool ok = n > 2 && w[1] == '.';
        for (size_t i = 2; ok && i < n; i++)
            ok = w[i] != '/' && w[i] != '*' && w[i] != '.';
        return ok ? 0 : fail(msg, len, "\"%.*s\" is not *.EXT", (int)n, w);
    }
    size_t m = n;
    return check_url_path(w, &m, msg, len);
}

static int open_path(struct fy_config *c, const char *args, char *msg, size_t len)
{
    const char *p = args, *w;
    size_t wlen;
    if (c->nrules == FY_CONFIG_MAX_RULES)
        return fail(msg, len, "too many [path] sections (at most %d)", FY_CONFIG_MAX_RULES);
    if (!next_word(&p, &wlen))
        return fail(msg, len, "needs at least one pattern (/PREFIX or *.EXT)");
    for (p = args; (w = next_word(&p, &wlen));)
        if (check_pattern(w, wlen, msg, len) < 0)
            return -1;
    struct fy_rule_config r = {.host = c->scope_host, .expires_s = -1, .compress_min_size = -1, .limit_rate = -1,
                               .limit_rate_after = -1};
    while (isspace((unsigned char)*args))
        args++;
    if (text_add(c, args, strlen(args), &r.patterns, msg, len) < 0)
        return -1;
    c->rules[c->nrules] = r;
    c->scope_rule = (int)c->nrules++;
    return 0;
}

struct file_ctx {
    const char *path;
    int line;
    char *err;
    size_t errlen;
};

/* A section line "[host NAME ...]" or "[path PATTERN ...]" switches the
 * scope.  Returns 1 if the line was one, 0 if it is not, -1 on error. */
static int apply_section(struct fy_config *c, const struct file_ctx *f, char *line)
{
    char msg[FY_CONFIG_ERR_LEN];
    char *s = skip_space(line);
    if (*s != '[')
        return 0;
    char *close = strchr(s, ']');
    if (!close)
        return fail(f->err, f->errlen, "%s:%d: missing ']' at the end of the section line", f->path, f->line);
    char *rest = skip_space(close + 1);
    if (*rest != '\0' && !(*rest == '#' && rest > close + 1))
        return fail(f->err, f->errlen, "%s:%d: unexpected text after ']'", f->path, f->line);
    *close = '\0';
    char *inner = skip_space(s + 1), *args = inner;
    while (*args && !isspace((unsigned char)*args))
        args++;
    char kind[8];
    snprintf(kind, sizeof kind, "%.*s", (int)(args - inner), inner);
    int r;
    if (strcmp(kind, "host") == 0 && args - inner == 4)
        r = open_host(c, args, f->line, msg, sizeof msg);
    else if (strcmp(kind, "path") == 0 && args - inner == 4)
        r = open_path(c, args, msg, sizeof msg);
    else
        return fail(f->err, f->errlen, "%s:%d: unknown section \"[%s]\" (want [host NAME ...] or [path PATTERN ...])",
                    f->path, f->line, trim(inner));
    if (r < 0)
        return fail(f->err, f->errlen, "%s:%d: [%s]: %s", f->path, f->line, kind, msg);
    return 1;
}

/* The end of a file: every [host] needs its docroot, and what follows
 * (the command line) is at the top level again. */
static int finish_file(struct fy_config *c, const struct file_ctx *f)
{
    c->scope_host = 0;
    c->scope_rule = -1;
    for (unsigned i = 1; i < c->nhosts; i++)
        if (!c->hosts[i].docroot)
            return fail(f->err, f->errlen, "%s:%d: [host %s]: no docroot", f->path, c->hosts[i].line,
                        fy_config_text(c, c->hosts[i].names));
    return 0;
}

/* Splits one line in place.  Returns 1 for "key = value", 0 for a blank or
 * comment line, -1 with the message in err. */
static int split_line(const struct file_ctx *f, char *line, char **key, char **value)
{
    char msg[FY_CONFIG_ERR_LEN];
    char *s = skip_space(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    char *hash = comment_start(line, s);
    if (!eq || (hash && hash < eq))
        return fail(f->err, f->errlen, "%s:%d: missing '=' (want \"key = value\")", f->path, f->line);
    *eq = '\0';
    *key = trim(s);
    if (**key == '\0')
        return fail(f->err, f->errlen, "%s:%d: missing key before '='", f->path, f->line);
    if (parse_value(line, eq + 1, value, msg, sizeof msg) < 0)
        return fail(f->err, f->errlen, "%s:%d: %s: %s", f->path, f->line, *key, msg);
    return 1;
}

static int check_line(const struct file_ctx *f, const char *line, size_t n)
{
    size_t body = n > 0 && line[n - 1] == '\n' ? n - 1 : n;
    if (body > LINE_LIMIT)
        return fail(f->err, f->errlen, "%s:%d: line longer than %d bytes", f->path, f->line, LINE_LIMIT);
    if (memchr(line, '\0', n))
        return fail(f->err, f->errlen, "%s:%d: NUL byte in line", f->path, f->line);
    return 0;
}

/* Applies one line; the first listen or index-files line of a file replaces
 * the values before it, later ones add. */
static int apply_line(struct fy_config *c, const struct file_ctx *f, char *line, bool seen[])
{
    char *key = NULL, *value = NULL;
    int r = apply_section(c, f, line);
    if (r != 0)
        return r < 0 ? -1 : 0;
    r = split_line(f, line, &key, &value);
    if (r <= 0)
        return r;
    const struct key *k = find_key(key);
    bool first = k && !seen[k - keys];
    if (fy_config_set(c, key, value, f->path, f->line, first, f->err, f->errlen) < 0)
        return -1;
    if (k)
        seen[k - keys] = true;
    return 0;
}

static int read_lines(struct fy_config *c, struct file_ctx *f, FILE *fp)
{
    bool seen[NKEYS] = {false};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int r = 0;

    errno = 0;
    while (r == 0 && (n = getline(&line, &cap, fp)) >= 0) {
        f->line++;
        r = check_line(f, line, (size_t)n);
        if (r == 0)
            r = apply_line(c, f, line, seen);
    }
    if (r == 0 && ferror(fp))
        r = fail(f->err, f->errlen, "%s: %s", f->path, strerror(errno ? errno : EIO));
    free(line);
    return r;
}

int fy_config_load(struct fy_config *c, const char *path, char *err, size_t errlen)
{
    struct file_ctx f = {path, 0, err, errlen};
    FILE *fp = fopen(path, "r");
    if (!fp)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    int r = read_lines(c, &f, fp);
    fclose(fp);
    if (r < 0) {
        c->scope_host = 0;
        c->scope_rule = -1;
        return r;
    }
    return finish_file(c, &f);
}
