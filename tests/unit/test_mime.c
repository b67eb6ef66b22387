/* fy_mime_*: built-in types, lookup rules, and mime.types files. */
#include "file/mime.h"

#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *look(const struct fy_mime_table *t, const char *name)
{
    return fy_mime_lookup(t, name, strlen(name));
}

/* Writes `text` to a new temporary file; its name goes to path[64]. */
static int write_temp(char *path, const char *text)
{
    strcpy(path, "/tmp/ferry-mime-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok ? 0 : -1;
}

static void test_builtins(void)
{
    struct fy_mime_table t;
    char err[256];
    CHECK_INT(fy_mime_load(&t, NULL, 0, err, sizeof err), 0);
    CHECK_STR(look(&t, "index.html"), "text/html; charset=utf-8");
    CHECK_STR(look(&t, "a.htm"), "text/html; charset=utf-8");
    CHECK_STR(look(&t, "style.css"), "text/css; charset=utf-8");
    CHECK_STR(look(&t, "app.js"), "text/javascript; charset=utf-8");
    CHECK_STR(look(&t, "mod.mjs"), "text/javascript; charset=utf-8");
    CHECK_STR(look(&t, "notes.txt"), "text/plain; charset=utf-8");
    CHECK_STR(look(&t, "data.json"), "application/json");
    CHECK_STR(look(&t, "app.js.map"), "application/json");
    CHECK_STR(look(&t, "site.webmanifest"), "application/manifest+json");
    CHECK_STR(look(&t, "logo.svg"), "image/svg+xml");
    CHECK_STR(look(&t, "p.png"), "image/png");
    CHECK_STR(look(&t, "p.jpeg"), "image/jpeg");
    CHECK_STR(look(&t, "p.jpg"), "image/jpeg");
    CHECK_STR(look(&t, "p.avif"), "image/avif");
    CHECK_STR(look(&t, "f.woff2"), "font/woff2");
    CHECK_STR(look(&t, "m.wasm"), "application/wasm");
    CHECK_STR(look(&t, "v.mp4"), "video/mp4");
    CHECK_STR(look(&t, "s.opus"), "audio/ogg");
    CHECK_STR(look(&t, "doc.pdf"), "application/pdf");
    CHECK_STR(look(&t, "x.docx"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
    CHECK_STR(look(&t, "x.unknownext"), "application/octet-stream");
    CHECK(t.nused >= 60);
    fy_mime_free(&t);
}

static void test_lookup_rules(void)
{
    struct fy_mime_table t;
    char err[256];
    CHECK_INT(fy_mime_load(&t, NULL, 0, err, sizeof err), 0);
    /* case-insensitive */
    CHECK_STR(look(&t, "A.HTML"), "text/html; charset=utf-8");
    CHECK_STR(look(&t, "photo.JpG"), "image/jpeg");
    /* last extension wins */
    CHECK_STR(look(&t, "a.tar.gz"), "application/gzip");
    CHECK_STR(look(&t, "a.html.bak"), "application/octet-stream");
    /* only the last segment counts */
    CHECK_STR(look(&t, "dir.html/readme"), "application/octet-stream");
    CHECK_STR(look(&t, "dir.d/page.css"), "text/css; charset=utf-8");
    CHECK_STR(look(&t, "a/.html"), "application/octet-stream");
    /* dotfiles and no extension */
    CHECK_STR(look(&t, ".bashrc"), "application/octet-stream");
    CHECK_STR(look(&t, ".txt"), "application/octet-stream");
    CHECK_STR(look(&t, ".config.json"), "application/json");
    CHECK_STR(look(&t, "Makefile"), "application/octet-stream");
    CHECK_STR(look(&t, "trailing."), "application/octet-stream");
    CHECK_STR(look(&t, ""), "application/octet-stream");
    /* only [0, len) counts */
    CHECK_STR(fy_mime_lookup(&t, "a.css.html", 5), "text/css; charset=utf-8");
    /* an embedded NUL does not match a shorter key */
    CHECK_STR(fy_mime_lookup(&t, "a.js\0x", 6), "application/octet-stream");
    fy_mime_free(&t);
}

static void test_file_overrides(void)
{
    char path[64], err[256];
    const char *text = "# a comment line\n"
                       "\n"
                       "   \t  \n"
                       "application/x-custom\tfoo   BAR  # trailing comment baz\n"
                       "text/x-special sp\r\n"
                       "TEXT/Upper up\n"
                       "image/png PNG\n"
                       "text/html html\n"
                       "application/vnd.empty\n"
                       "no-slash-here qqq\n"
                       "/nosubtype nst\n"
                       "types {\n"
                       "    application/odd odd;\n"
                       "}\n"
                       "video/mp4 last"; /* no final newline */
    CHECK_INT(write_temp(path, text), 0);

    struct fy_mime_table t;
    CHECK_INT(fy_mime_load(&t, path, 0, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK_STR(look(&t, "x.foo"), "application/x-custom");
    CHECK_STR(look(&t, "x.bar"), "application/x-custom");
    CHECK_STR(look(&t, "x.Bar"), "application/x-custom");
    CHECK_STR(look(&t, "x.baz"), "application/octet-stream");
    CHECK_STR(look(&t, "x.sp"), "text/x-special; charset=utf-8");
    CHECK_STR(look(&t, "x.up"), "TEXT/Upper; charset=utf-8");
    CHECK_STR(look(&t, "x.png"), "image/png");
    CHECK_STR(look(&t, "x.qqq"), "application/octet-stream");
    CHECK_STR(look(&t, "x.nst"), "application/octet-stream");
    CHECK_STR(look(&t, "x.odd;"), "application/odd");
    CHECK_STR(look(&t, "x.last"), "video/mp4");
    /* built-ins the file does not mention survive */
    CHECK_STR(look(&t, "x.css"), "text/css; charset=utf-8");
    fy_mime_free(&t);
    unlink(path);

    /* A file entry replaces the built-in type. */
    CHECK_INT(write_temp(path, "application/x-my-js js\nimage/x-png png\n"), 0);
    CHECK_INT(fy_mime_load(&t, path, 0, err, sizeof err), 0);
    CHECK_STR(look(&t, "a.js"), "application/x-my-js");
    CHECK_STR(look(&t, "a.PNG"), "image/x-png");
    CHECK_STR(look(&t, "a.mjs"), "text/javascript; charset=utf-8");
    fy_mime_free(&t);
    unlink(path);
}

static void test_grows(void)
{
    /* Enough entries to force several rehashes and arena reallocations. */
    size_t cap = 1 << 20, used = 0;
    char *text = malloc(cap);
    CHECK(text != NULL);
    if (!text)
        return;
    for (int i = 0; i < 5000; i++)
        used += (size_t)snprintf(text + used, cap - used, "application/x-t%d e%d E%dx\n", i, i, i);

    char path[64], err[256];
    CHECK_INT(write_temp(path, text), 0);
    free(text);
    struct fy_mime_table t;
    CHECK_INT(fy_mime_load(&t, path, 0, err, sizeof err), 0);
    CHECK_STR(look(&t, "f.e0"), "application/x-t0");
    CHECK_STR(look(&t, "f.E4999"), "application/x-t4999");
    CHECK_STR(look(&t, "f.e2500X"), "application/x-t2500");
    CHECK_STR(look(&t, "f.html"), "text/html; charset=utf-8");
    CHECK(t.nused >= 10000);
    CHECK(t.nused * 4 <= t.nslots * 3);
    CHECK((t.nslots & (t.nslots - 1)) == 0);
    fy_mime_free(&t);
    unlink(path);
}

static void test_missing_file(void)
{
    struct fy_mime_table t;
    char err[256];
    const char *missing = "/nonexistent-ferry-dir/mime.types";

    CHECK_INT(fy_mime_load(&t, missing, 1, err, sizeof err), 0);
    CHECK_STR(look(&t, "a.html"), "text/html; charset=utf-8");
    fy_mime_free(&t);

    CHECK_INT(fy_mime_load(&t, missing, 0, err, sizeof err), -1);
    CHECK_STR(err, "/nonexistent-ferry-dir/mime.types: No such file or directory");
    /* a failed load leaves nothing to free, and freeing again is harmless */
    CHECK(t.slots == NULL && t.strings == NULL);
    fy_mime_free(&t);
    CHECK_STR(fy_mime_lookup(&t, "a.html", 6), "application/octet-stream");

    /* Optional covers only a missing file, not an unreadable one. */
    CHECK_INT(fy_mime_load(&t, "/tmp", 1, err, sizeof err), -1);
    CHECK_STR(err, "/tmp: Is a directory");
    fy_mime_free(&t);
}

static void test_system_file(void)
{
    /* Whatever the host's mime.types holds, it must load cleanly. */
    struct fy_mime_table t;
    char err[256];
    CHECK_INT(fy_mime_load(&t, "/etc/mime.types", 1, err, sizeof err), 0);
    CHECK_STR(look(&t, "index.html"), "text/html; charset=utf-8");
    fy_mime_free(&t);
}

int main(void)
{
    RUN(test_builtins);
    RUN(test_lookup_rules);
    RUN(test_file_overrides);
    RUN(test_grows);
    RUN(test_missing_file);
    RUN(test_system_file);
    return CHECK_SUMMARY();
}
