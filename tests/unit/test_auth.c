/* Unit tests of auth-basic's pure parts: SHA-256 (FIPS 180-4 vectors),
 * base64 and the Basic credentials (RFC 7617), htpasswd files (what is
 * taken, what is refused, with which line), the cache of verified
 * credentials, the config keys and fy_auth_validate's messages. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/htpasswd.h"
#include "core/sha256.h"
#include "file/auth.h"
#include "file/auth_cache.h"
#include "file/rules.h"
#include "http/basic_auth.h"

/* Hashes made by htpasswd 2.4 (-B, -2, -5) and mkpasswd (yescrypt), all of "pw". */
#define BCRYPT "$2y$05$LvGHkVZIwoRLXNqDONWMmO7UxkAIcRn2QtBSXk7qjuXiyDky57DxW"
#define SHA256C "$5$boAhxV53W5EUoVKK$yfbEv.v6ks/BiEjLk1iaqWgvkRhgjsfdS8LPw04n7H9"
#define SHA512C "$6$taRtvhrrHmCbB3xb$MK95DBVPpa/0Vgpbq1eO4dlVzMrzq.aDsWvjKAqah2i6ihuIG6T89VswAjBdlG84w.f7x9YqnXaavFlnHne1P1"

static void write_file(char path[64], const char *text)
{
    strcpy(path, "/tmp/ferry_test_auth_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static const char *hex(const unsigned char *d, size_t n)
{
    static char out[2 * 64 + 1];
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    return out;
}

static const char *sha256_hex(const char *data, size_t len, size_t chunk)
{
    struct fy_sha256 s;
    unsigned char d[FY_SHA256_LEN];
    fy_sha256_init(&s);
    for (size_t at = 0; at < len; at += chunk)
        fy_sha256_update(&s, data + at, len - at < chunk ? len - at : chunk);
    CHECK(fy_sha256_final(&s, d) == 0);
    return hex(d, sizeof d);
}

static void test_sha256_vectors(void)
{
    CHECK_STR(sha256_hex("", 0, 1), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR(sha256_hex("abc", 3, 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: two blocks of padding */
    CHECK_STR(sha256_hex(two, strlen(two), 56), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK_STR(sha256_hex(two, strlen(two), 5), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    static char million[1000000];
    memset(million, 'a', sizeof million);
    CHECK_STR(sha256_hex(million, sizeof million, 4096),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static long b64(const char *in, char *out, size_t cap)
{
    long n = fy_base64_decode(in, strlen(in), out, cap);
    if (n >= 0 && (size_t)n < cap)
        out[n] = '\0';
    return n;
}

static void test_base64(void)
{
    char out[64];
    CHECK_INT(b64("YWxpY2U6cHc=", out, sizeof out), 8);
    CHECK_STR(out, "alice:pw");
    CHECK_INT(b64("YWxpY2U6cHc", out, sizeof out), 8); /* padding left out */
    CHECK_STR(out, "alice:pw");
    CHECK_INT(b64("YQ==", out, sizeof out), 1);
    CHECK_INT(b64("YQ", out, sizeof out), 1);
    CHECK_INT(b64("", out, sizeof out), 0);
    CHECK_INT(b64("Y", out, sizeof out), -1);      /* 6 bits are no byte */
    CHECK_INT(b64("YQ=", out, sizeof out), -1);    /* padding that does not fill the quantum */
    CHECK_INT(b64("YW=x", out, sizeof out), -1);   /* '=' inside */
    CHECK_INT(b64("YW-x", out, sizeof out), -1);   /* base64url is not base64 */
    CHECK_INT(b64("YWxp Y2U=", out, sizeof out), -1);
    CHECK_INT(b64("YWxpY2U6cHc=", out, 7), -1);    /* does not fit */
}

/* The credentials of a request with these Authorization lines. */
static enum fy_basic_auth_result parse(const char *v1, const char *v2, struct fy_basic_credentials *cr)
{
    struct fy_request r = {0};
    const char *values[2] = {v1, v2};
    r.headers[r.nheaders++] = (struct fy_header){{"Host", 4}, {"x", 1}};
    for (int i = 0; i < 2; i++)
        if (values[i])
            r.headers[r.nheaders++] =
                (struct fy_header){{i ? "AUTHORIZATION" : "Authorization", 13}, {values[i], strlen(values[i])}};
    return fy_basic_auth_parse(&r, cr);
}

static bool creds_are(const struct fy_basic_credentials *cr, const char *user, const char *pw, size_t pwlen)
{
    return cr->user.len == strlen(user) && memcmp(cr->user.p, user, cr->user.len) == 0 &&
           cr->password.len == pwlen && memcmp(cr->password.p, pw, pwlen) == 0;
}

static void test_basic_credentials(void)
{
    static struct fy_basic_credentials cr;
    CHECK_INT(parse(NULL, NULL, &cr), FY_BASIC_NONE);
    CHECK_INT(parse("Basic YWxpY2U6cHc=", NULL, &cr), FY_BASIC_OK);
    CHECK(creds_are(&cr, "alice", "pw", 2));
    CHECK_INT(parse("bAsIc   YWxpY2U6cHc=", NULL, &cr), FY_BASIC_OK); /* scheme any case, several spaces */
    CHECK(creds_are(&cr, "alice", "pw", 2));
    CHECK_INT(parse("Basic YWxpY2U6YTpiOg==", NULL, &cr), FY_BASIC_OK); /* "alice:a:b:": the first ':' splits */
    CHECK(creds_are(&cr, "alice", "a:b:", 4));
    CHECK_INT(parse("Basic YWxpY2U6", NULL, &cr), FY_BASIC_OK); /* "alice:": an empty password is a password */
    CHECK(creds_are(&cr, "alice", "", 0));
    CHECK_INT(parse("Basic w6lsb8OvZTrDqQ==", NULL, &cr), FY_BASIC_OK); /* UTF-8 "éloïe:é" */
    CHECK(creds_are(&cr, "\xc3\xa9lo\xc3\xaf" "e", "\xc3\xa9", 2));

    CHECK_INT(parse("Basic YWxpY2U6cHc=", "Basic YWxpY2U6cHc=", &cr), FY_BASIC_MALFORMED); /* two lines */
    CHECK_INT(parse("Bearer abc", NULL, &cr), FY_BASIC_MALFORMED);
    CHECK_INT(parse("Basic", NULL, &cr), FY_BASIC_MALFORMED);
    CHECK_INT(parse("BasicYWxpY2U6cHc=", NULL, &cr), FY_BASIC_MALFORMED);
    CHECK_INT(parse("Basic !!!!", NULL, &cr), FY_BASIC_MALFORMED);
    CHECK_INT(parse("Basic YWxpY2U=", NULL, &cr), FY_BASIC_MALFORMED);     /* "alice": no ':' */
    CHECK_INT(parse("Basic OnB3", NULL, &cr), FY_BASIC_MALFORMED);         /* ":pw": no user */
    CHECK_INT(parse("Basic YWwJaWNlOnB3", NULL, &cr), FY_BASIC_MALFORMED); /* a tab in the user */
    CHECK_INT(parse("Basic YWxpY2U6cAB3", NULL, &cr), FY_BASIC_MALFORMED); /* "p\0w": crypt() would stop at NUL */
    char big[4 * FY_BASIC_AUTH_MAX];
    strcpy(big, "Basic ");
    memset(big + 6, 'Q', 2 * FY_BASIC_AUTH_MAX);
    big[6 + 2 * FY_BASIC_AUTH_MAX] = '\0';
    CHECK_INT(parse(big, NULL, &cr), FY_BASIC_MALFORMED); /* longer than FY_BASIC_AUTH_MAX decoded */
}

/* Loads text as an htpasswd file: the result, and the message with the
 * temporary name replaced by "F". */
static int load_users(struct fy_htpasswd *h, const char *text, char *msg, size_t len)
{
    char path[64], err[512] = "";
    write_file(path, text);
    int r = fy_htpasswd_load(h, path, err, sizeof err);
    unlink(path);
    size_t plen = strlen(path);
    snprintf(msg, len, "%s%s", strncmp(err, path, plen) == 0 ? "F" : "", err + (strncmp(err, path, plen) == 0 ? plen : 0));
    return r;
}

static const char *users_error(const char *text)
{
    static char msg[512];
    struct fy_htpasswd h;
    CHECK_INT(load_users(&h, text, msg, sizeof msg), -1);
    return msg;
}

static void test_htpasswd_taken(void)
{
    struct fy_htpasswd h;
    char msg[512];
    const char *text = "# made by htpasswd\n"
                       "zoe:" BCRYPT "\n"
                       "\n"
                       "bob:" SHA256C "\r\n"
                       "alice:" SHA512C ":extra fields, ignored as Apache does\n"
                       "carl:$2b$05$LvGHkVZIwoRLXNqDONWMmO7UxkAIcRn2QtBSXk7qjuXiyDky57DxW";
    CHECK_INT(load_users(&h, text, msg, sizeof msg), 0);
    CHECK_STR(msg, "");
    CHECK_INT(h.n, 4);
    const struct fy_htpasswd_user *u = fy_htpasswd_find(&h, "alice", 5);
    CHECK(u && strcmp(u->hash, SHA512C) == 0);
    CHECK(fy_htpasswd_find(&h, "bob", 3) && strcmp(fy_htpasswd_find(&h, "bob", 3)->hash, SHA256C) == 0);
    CHECK(fy_htpasswd_find(&h, "zoe", 3) != NULL);
    CHECK(fy_htpasswd_find(&h, "carl", 4) != NULL);
    CHECK(fy_htpasswd_find(&h, "ali", 3) == NULL);        /* a prefix is not the name */
    CHECK(fy_htpasswd_find(&h, "alicex", 6) == NULL);
    CHECK(fy_htpasswd_find(&h, "alice\0", 6) == NULL);
    CHECK(fy_htpasswd_find(&h, "", 0) == NULL);
    CHECK_STR(fy_htpasswd_kind(BCRYPT), "bcrypt");
    CHECK_STR(fy_htpasswd_kind(SHA512C), "SHA-512-crypt");
    CHECK(fy_htpasswd_kind("$apr1$x$y") == NULL);
    fy_htpasswd_free(&h);

    CHECK_INT(load_users(&h, "", msg, sizeof msg), 0); /* nobody: every password is wrong */
    CHECK_INT(h.n, 0);
    fy_htpasswd_free(&h);
}

static void test_htpasswd_refused(void)
{
    const char *how = "; make it again with htpasswd -B (bcrypt) or -5 (SHA-512-crypt)";
    char want[512];
    snprintf(want, sizeof want, "F:2: user \"carol\": an MD5 hash ($apr1$, htpasswd's default or -m) is refused as weak%s", how);
    CHECK_STR(users_error("a:" BCRYPT "\ncarol:$apr1$J3i9FiNG$3cIRWvCip1SedX.5lP6yC/\n"), want);
    snprintf(want, sizeof want, "F:1: user \"dave\": the password is not hashed (plain text, or DES crypt) and is refused%s", how);
    CHECK_STR(users_error("dave:secret\n"), want);
    CHECK(strstr(users_error("dave:secret\n"), "secret\"") == NULL); /* the password is never quoted */
    CHECK_STR(users_error("dave:dNHxg5eP7H9eU\n"), want);            /* DES crypt (htpasswd -d) */
    CHECK_STR(users_error("dave:\n"), want);
    snprintf(want, sizeof want, "F:1: user \"x\": an MD5-crypt hash ($1$) is refused as weak%s", how);
    CHECK_STR(users_error("x:$1$abcdefgh$0123456789012345678901\n"), want);
    snprintf(want, sizeof want, "F:1: user \"x\": an unsalted SHA-1 hash ({SHA}, htpasswd -s) is refused as weak%s", how);
    CHECK_STR(users_error("x:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=\n"), want);
    snprintf(want, sizeof want, "F:1: user \"x\": the hash kind $7$ is not one ferry takes%s", how);
    CHECK_STR(users_error("x:$7$CU..../....abc$def\n"), want);
    CHECK_STR(users_error("x:$2y$05$LvGHkVZIwoRLXNqDONWMmO7UxkAIcRn2QtBSXk7qjuXiyDky57Dx\n"),
              "F:1: user \"x\": malformed bcrypt hash (cut short or edited?)");
    CHECK_STR(users_error("x:$6$taRtvhrrHmCbB3xb$MK95DBVP\n"), "F:1: user \"x\": malformed SHA-512-crypt hash (cut short or edited?)");
    CHECK_STR(users_error("x:$2y$05$LvGHkVZIwoRLXNqDONWMmO7UxkAIcRn2QtBSXk7qjuXiyDky5 DxW\n"),
              "F:1: user \"x\": malformed bcrypt hash (cut short or edited?)");
    CHECK_STR(users_error("x " BCRYPT "\n"), "F:1: not \"user:hash\"");
    CHECK_STR(users_error(":" BCRYPT "\n"), "F:1: bad user name (empty, longer than 255 bytes, or a control character)");
    CHECK_STR(users_error("a\tb:" BCRYPT "\n"), "F:1: bad user name (empty, longer than 255 bytes, or a control character)");
    CHECK_STR(users_error("b:" BCRYPT "\na:" SHA256C "\nb:" SHA512C "\n"), "F: user \"b\" is listed twice");

    struct fy_htpasswd h;
    char msg[512], path[64];
    write_file(path, "");
    FILE *f = fopen(path, "w");
    fwrite("a:" BCRYPT "\0\n", 1, sizeof "a:" BCRYPT "\0\n" - 1, f);
    fclose(f);
    CHECK_INT(fy_htpasswd_load(&h, path, msg, sizeof msg), -1);
    CHECK(strstr(msg, ": NUL byte in the file") != NULL);
    unlink(path);
    CHECK_INT(fy_htpasswd_load(&h, "/nonexistent/users", msg, sizeof msg), -1);
    CHECK_STR(msg, "/nonexistent/users: No such file or directory");
    CHECK_INT(fy_htpasswd_load(&h, "/tmp", msg, sizeof msg), -1);
    CHECK_STR(msg, "/tmp: not a regular file");
}

static struct fy_str str(const char *s)
{
    return (struct fy_str){s, strlen(s)};
}

static void test_cache(void)
{
    static struct fy_auth_cache c;
    unsigned char d1[FY_SHA256_LEN], d2[FY_SHA256_LEN], d3[FY_SHA256_LEN], d4[FY_SHA256_LEN];
    CHECK_INT(fy_auth_cache_init(&c), 0);
    fy_auth_cache_digest(&c, 0, str("alice"), str("pw"), d1);
    fy_auth_cache_digest(&c, 1, str("alice"), str("pw"), d2);  /* another user file */
    fy_auth_cache_digest(&c, 0, str("alic"), str("epw"), d3);  /* the same bytes split elsewhere */
    fy_auth_cache_digest(&c, 0, str("alice"), str("pw2"), d4);
    CHECK(memcmp(d1, d2, sizeof d1) != 0 && memcmp(d1, d3, sizeof d1) != 0 && memcmp(d1, d4, sizeof d1) != 0);
    int a = 1, b = 2;
    CHECK(fy_auth_cache_find(&c, d1) == NULL);
    fy_auth_cache_add(&c, d1, &a);
    CHECK(fy_auth_cache_find(&c, d1) == &a);
    CHECK(fy_auth_cache_find(&c, d2) == NULL);
    fy_auth_cache_add(&c, d1, &b); /* again: replaced in place, not twice */
    CHECK(fy_auth_cache_find(&c, d1) == &b);

    /* A key of its own per cache: the same credentials, another digest. */
    static struct fy_auth_cache other;
    unsigned char o1[FY_SHA256_LEN];
    CHECK_INT(fy_auth_cache_init(&other), 0);
    fy_auth_cache_digest(&other, 0, str("alice"), str("pw"), o1);
    CHECK(memcmp(d1, o1, sizeof d1) != 0);

    /* Bounded: a set holds FY_AUTH_CACHE_WAYS; the least recently used goes. */
    unsigned char same_set[FY_AUTH_CACHE_WAYS + 1][FY_SHA256_LEN];
    int n = 0;
    for (unsigned i = 0; n < FY_AUTH_CACHE_WAYS + 1 && i < 100000; i++) {
        char pw[16];
        snprintf(pw, sizeof pw, "p%u", i);
        unsigned char d[FY_SHA256_LEN];
        fy_auth_cache_digest(&other, 7, str("u"), str(pw), d);
        if (d[0] % FY_AUTH_CACHE_SETS == 0)
            memcpy(same_set[n++], d, sizeof d);
    }
    CHECK_INT(n, FY_AUTH_CACHE_WAYS + 1);
    for (int i = 0; i < FY_AUTH_CACHE_WAYS; i++)
        fy_auth_cache_add(&other, same_set[i], &a);
    CHECK(fy_auth_cache_find(&other, same_set[0]) == &a); /* now the most recent: [1] is the oldest */
    fy_auth_cache_add(&other, same_set[FY_AUTH_CACHE_WAYS], &b);
    CHECK(fy_auth_cache_find(&other, same_set[FY_AUTH_CACHE_WAYS]) == &b);
    CHECK(fy_auth_cache_find(&other, same_set[0]) == &a);
    CHECK(fy_auth_cache_find(&other, same_set[1]) == NULL);
    for (int i = 2; i < FY_AUTH_CACHE_WAYS; i++)
        CHECK(fy_auth_cache_find(&other, same_set[i]) == &a);
}

/* A configuration file: fy_config_load, then fy_auth_validate (as -t does);
 * the message with the temporary names replaced by "CONF" and "USERS". */
static int load_config(const char *conf_fmt, const char *users, char *msg, size_t len, struct fy_config *cfg)
{
    char upath[64], cpath[64], text[2048], err[FY_CONFIG_ERR_LEN] = "";
    write_file(upath, users);
    snprintf(text, sizeof text, conf_fmt, upath);
    write_file(cpath, text);
    fy_config_defaults(cfg);
    int r = fy_config_load(cfg, cpath, err, sizeof err);
    if (r == 0)
        r = fy_auth_validate(cfg, cpath, err, sizeof err);
    unlink(upath);
    unlink(cpath);
    /* Replace the temporary names. */
    size_t n = 0;
    for (const char *p = err; *p && n + 6 < len;) {
        if (strncmp(p, cpath, strlen(cpath)) == 0)
            n += (size_t)sprintf(msg + n, "CONF"), p += strlen(cpath);
        else if (strncmp(p, upath, strlen(upath)) == 0)
            n += (size_t)sprintf(msg + n, "USERS"), p += strlen(upath);
        else
            msg[n++] = *p++;
    }
    msg[n] = '\0';
    return r;
}

static void test_config_keys(void)
{
    static struct fy_config cfg;
    char msg[FY_CONFIG_ERR_LEN];
    const char *users = "alice:" BCRYPT "\n";

    CHECK_INT(load_config("auth-basic = \"Team \\\"A\\\"\"\nauth-basic-user-file = %s\n"
                          "[path /public/]\nauth-basic = off\n"
                          "[host example.com]\ndocroot = /tmp\n[path /x/]\nauth-basic = X\n",
                          users, msg, sizeof msg, &cfg), 0);
    CHECK_STR(msg, "");
    struct fy_path_settings set;
    struct fy_rule_subject s = {0, "/a.html", "a.html"};
    fy_rules_resolve(&cfg, &s, &set);
    CHECK(set.auth_realm && strcmp(set.auth_realm, "Team \"A\"") == 0);
    CHECK(set.auth_user_file && strncmp(set.auth_user_file, "/tmp/ferry_test_auth_", 21) == 0);
    s.url = "/public/a.html";
    fy_rules_resolve(&cfg, &s, &set);
    CHECK(set.auth_realm == NULL); /* off */
    s = (struct fy_rule_subject){1, "/x/y", "y"};
    fy_rules_resolve(&cfg, &s, &set);
    CHECK(set.auth_realm && strcmp(set.auth_realm, "X") == 0); /* the host's rule, the top level's file */
    CHECK(set.auth_user_file != NULL);

    CHECK_INT(load_config("[path /p/]\nauth-basic = R\n# %s\n", users, msg, sizeof msg, &cfg), -1);
    CHECK_STR(msg, "CONF:2: auth-basic: no auth-basic-user-file for this realm (set one in the same section, "
                   "or for every path of the host or the top level)");
    CHECK_INT(load_config("[path /q/]\nauth-basic-user-file = %s\n[path /p/]\nauth-basic = R\n", users, msg, sizeof msg, &cfg), -1);
    CHECK_STR(msg, "CONF:4: auth-basic: no auth-basic-user-file for this realm (set one in the same section, "
                   "or for every path of the host or the top level)");
    CHECK_INT(load_config("auth-basic = \"\"\n# %s\n", users, msg, sizeof msg, &cfg), -1);
    CHECK_STR(msg, "CONF:1: auth-basic: needs a realm (or off)");
    CHECK_INT(load_config("auth-basic-user-file = \"\"\n# %s\n", users, msg, sizeof msg, &cfg), -1);
    CHECK_STR(msg, "CONF:1: auth-basic-user-file: must not be empty");
    char long_realm[300];
    memset(long_realm, 'r', 201);
    long_realm[201] = '\0';
    char fmt[512];
    snprintf(fmt, sizeof fmt, "auth-basic = %s\nauth-basic-user-file = %%s\n", long_realm);
    CHECK_INT(load_config(fmt, users, msg, sizeof msg, &cfg), -1);
    CHECK_STR(msg, "CONF:1: auth-basic: the realm is longer than 200 bytes");

    CHECK_INT(load_config("docroot = /tmp\n\n[path /p/]\nauth-basic = R\nauth-basic-user-file = %s\n",
                          "alice:$apr1$J3i9FiNG$3cIRWvCip1SedX.5lP6yC/\n", msg, sizeof msg, &cfg), -1);
    CHECK_STR(msg, "CONF:5: auth-basic-user-file: USERS:1: user \"alice\": an MD5 hash ($apr1$, htpasswd's "
                   "default or -m) is refused as weak; make it again with htpasswd -B (bcrypt) or -5 (SHA-512-crypt)");
    /* A file named but not used by any realm is checked all the same. */
    CHECK_INT(load_config("auth-basic-user-file = %s\n", "bob:plain\n", msg, sizeof msg, &cfg), -1);
    CHECK_STR(msg, "CONF:1: auth-basic-user-file: USERS:1: user \"bob\": the password is not hashed (plain text, "
                   "or DES crypt) and is refused; make it again with htpasswd -B (bcrypt) or -5 (SHA-512-crypt)");
}

int main(void)
{
    RUN(test_sha256_vectors);
    RUN(test_base64);
    RUN(test_basic_credentials);
    RUN(test_htpasswd_taken);
    RUN(test_htpasswd_refused);
    RUN(test_cache);
    RUN(test_config_keys);
    return CHECK_SUMMARY();
}
