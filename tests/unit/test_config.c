/* Unit tests of src/core/config.c: defaults, every key, the file grammar and
 * the exact text of every kind of error. */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/config.h"

/* Writes `text` to a fresh /tmp file; its name goes to path. */
static void write_temp(char path[64], const char *text)
{
    strcpy(path, "/tmp/ferry_test_config_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    size_t len = strlen(text);
    CHECK(write(fd, text, len) == (ssize_t)len);
    close(fd);
}

/* Loads `text` as a file over defaults; returns fy_config_load's result and
 * the message with the temp file name replaced by "F". */
static int load_text(struct fy_config *c, const char *text, char *msg, size_t msglen)
{
    char path[64], err[FY_CONFIG_ERR_LEN] = "";
    fy_config_defaults(c);
    write_temp(path, text);
    int r = fy_config_load(c, path, err, sizeof err);
    unlink(path);
    size_t plen = strlen(path);
    if (strncmp(err, path, plen) == 0)
        snprintf(msg, msglen, "F%s", err + plen);
    else
        snprintf(msg, msglen, "%s", err);
    return r;
}

/* The message of a one-line file that must fail. */
static const char *load_error(const char *text)
{
    static char msg[FY_CONFIG_ERR_LEN];
    struct fy_config c;
    msg[0] = '\0';
    CHECK_INT(load_text(&c, text, msg, sizeof msg), -1);
    return msg;
}

static void load_ok(struct fy_config *c, const char *text)
{
    char msg[FY_CONFIG_ERR_LEN] = "";
    CHECK_INT(load_text(c, text, msg, sizeof msg), 0);
    CHECK_STR(msg, "");
}

static unsigned port_of(const struct fy_listen *l)
{
    if (l->addr.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
}

static void test_defaults(void)
{
    struct fy_config c;
    fy_config_defaults(&c);
    CHECK_INT(c.nlisten, 1);
    CHECK_STR(c.listen[0].text, "127.0.0.1:8080");
    CHECK_INT(c.listen[0].addr.ss_family, AF_INET);
    CHECK_INT(c.listen[0].addrlen, sizeof(struct sockaddr_in));
    CHECK_INT(port_of(&c.listen[0]), 8080);
    CHECK_STR(c.docroot, ".");
    CHECK_STR(c.backend, "auto");
    CHECK_INT(c.nindex, 1);
    CHECK_STR(c.index_files[0], "index.html");
    CHECK_STR(c.mime_types_file, "/etc/mime.types");
    CHECK_STR(c.access_log, "off");
    CHECK_STR(c.error_log, "stderr");
    CHECK_INT(c.log_level, FY_LOG_INFO);
    CHECK_INT(c.max_connections, 1024);
    CHECK_INT(c.keepalive_timeout_ms, 15000);
    CHECK_INT(c.header_timeout_ms, 10000);
    CHECK_INT(c.write_timeout_ms, 30000);
    CHECK_INT(c.shutdown_timeout_ms, 10000);
    CHECK_INT(c.max_request_header_size, 8192);
    CHECK_INT(c.max_keepalive_requests, 1000);
    CHECK_INT(c.max_request_body_discard, 1 << 20);
    CHECK_INT(c.send_chunk_size, 512 * 1024);
}

static void test_every_key(void)
{
    struct fy_config c;
    load_ok(&c,
            "listen = 0.0.0.0:80\n"
            "listen = [::1]:8443\n"
            "docroot = /srv/www\n"
            "backend = writev\n"
            "index-files = index.html index.htm\n"
            "mime-types-file = /usr/share/mime.types\n"
            "access-log = /var/log/ferry/access.log\n"
            "error-log = /var/log/ferry/error.log\n"
            "log-level = debug\n"
            "max-connections = 50000\n"
            "keepalive-timeout = 5s\n"
            "header-timeout = 2500ms\n"
            "write-timeout = 2m\n"
            "shutdown-timeout = 1h\n"
            "max-request-header-size = 16k\n"
            "max-keepalive-requests = 0\n"
            "max-request-body-discard = 64K\n"
            "send-chunk-size = 1M\n");
    CHECK_INT(c.nlisten, 2);
    CHECK_STR(c.listen[0].text, "0.0.0.0:80");
    CHECK_STR(c.listen[1].text, "[::1]:8443");
    CHECK_INT(c.listen[1].addr.ss_family, AF_INET6);
    CHECK_INT(c.listen[1].addrlen, sizeof(struct sockaddr_in6));
    CHECK_INT(port_of(&c.listen[1]), 8443);
    CHECK_STR(c.docroot, "/srv/www");
    CHECK_STR(c.backend, "writev");
    CHECK_INT(c.nindex, 2);
    CHECK_STR(c.index_files[0], "index.html");
    CHECK_STR(c.index_files[1], "index.htm");
    CHECK_STR(c.mime_types_file, "/usr/share/mime.types");
    CHECK_STR(c.access_log, "/var/log/ferry/access.log");
    CHECK_STR(c.error_log, "/var/log/ferry/error.log");
    CHECK_INT(c.log_level, FY_LOG_DEBUG);
    CHECK_INT(c.max_connections, 50000);
    CHECK_INT(c.keepalive_timeout_ms, 5000);
    CHECK_INT(c.header_timeout_ms, 2500);
    CHECK_INT(c.write_timeout_ms, 120000);
    CHECK_INT(c.shutdown_timeout_ms, 3600000);
    CHECK_INT(c.max_request_header_size, 16384);
    CHECK_INT(c.max_keepalive_requests, 0);
    CHECK_INT(c.max_request_body_discard, 65536);
    CHECK_INT(c.send_chunk_size, 1 << 20);
}

static void test_off_values(void)
{
    struct fy_config c;
    load_ok(&c, "mime-types-file = off\naccess-log = stderr\nerror-log = stderr\n"
                "log-level = error\n");
    CHECK_STR(c.mime_types_file, "");
    CHECK_STR(c.access_log, "stderr");
    CHECK_INT(c.log_level, FY_LOG_ERROR);
    load_ok(&c, "mime-types-file = \"\"\naccess-log = off\nlog-level = warn\n");
    CHECK_STR(c.mime_types_file, "");
    CHECK_STR(c.access_log, "off");
    CHECK_INT(c.log_level, FY_LOG_WARN);
    CHECK_STR(load_error("error-log = off\n"), "F:1: error-log: cannot be off (want stderr or a file)");
    CHECK_STR(load_error("docroot =\n"), "F:1: docroot: must not be empty");
    CHECK_STR(load_error("log-level = loud\n"),
              "F:1: log-level: unknown level \"loud\" (want error, warn, info or debug)");
}

static void test_durations(void)
{
    struct fy_config c;
    load_ok(&c, "write-timeout = 7\nheader-timeout = 1ms\nkeepalive-timeout = 24h\n"
                "shutdown-timeout = 1440m\n");
    CHECK_INT(c.write_timeout_ms, 7000);
    CHECK_INT(c.header_timeout_ms, 1);
    CHECK_INT(c.keepalive_timeout_ms, 86400000);
    CHECK_INT(c.shutdown_timeout_ms, 86400000);
    CHECK_STR(load_error("# one\n\nwrite-timeout = 0\n"),
              "F:3: write-timeout: \"0\" is out of range (1ms to 24h)");
    CHECK_STR(load_error("write-timeout = 0s\n"),
              "F:1: write-timeout: \"0s\" is out of range (1ms to 24h)");
    CHECK_STR(load_error("header-timeout = 25h\n"),
              "F:1: header-timeout: \"25h\" is out of range (1ms to 24h)");
    CHECK_STR(load_error("header-timeout = 86400001ms\n"),
              "F:1: header-timeout: \"86400001ms\" is out of range (1ms to 24h)");
    CHECK_STR(load_error("keepalive-timeout = 10x\n"),
              "F:1: keepalive-timeout: bad suffix \"x\" in \"10x\" (want ms, s, m or h)");
    CHECK_STR(load_error("keepalive-timeout = 10 s\n"),
              "F:1: keepalive-timeout: bad suffix \" s\" in \"10 s\" (want ms, s, m or h)");
    CHECK_STR(load_error("keepalive-timeout = -5s\n"),
              "F:1: keepalive-timeout: \"-5s\" is not a number");
    CHECK_STR(load_error("keepalive-timeout = s\n"),
              "F:1: keepalive-timeout: \"s\" is not a number");
    /* n * 3600000 overflows 64 bits */
    CHECK_STR(load_error("shutdown-timeout = 9999999999999999h\n"),
              "F:1: shutdown-timeout: \"9999999999999999h\" is out of range (1ms to 24h)");
}

static void test_sizes(void)
{
    struct fy_config c;
    load_ok(&c, "max-request-header-size = 1m\nmax-request-body-discard = 1G\n"
                "send-chunk-size = 4096\n");
    CHECK_INT(c.max_request_header_size, 1 << 20);
    CHECK_INT(c.max_request_body_discard, 1 << 30);
    CHECK_INT(c.send_chunk_size, 4096);
    load_ok(&c, "max-request-body-discard = 0\nsend-chunk-size = 64m\n");
    CHECK_INT(c.max_request_body_discard, 0);
    CHECK_INT(c.send_chunk_size, 64 << 20);
    CHECK_STR(load_error("max-request-header-size = 1023\n"),
              "F:1: max-request-header-size: \"1023\" is out of range (1k to 1m)");
    CHECK_STR(load_error("max-request-body-discard = 2g\n"),
              "F:1: max-request-body-discard: \"2g\" is out of range (0 to 1g)");
    CHECK_STR(load_error("send-chunk-size = 4095\n"),
              "F:1: send-chunk-size: \"4095\" is out of range (4k to 64m)");
    CHECK_STR(load_error("send-chunk-size = 8kb\n"),
              "F:1: send-chunk-size: bad suffix \"kb\" in \"8kb\" (want k, m or g)");
    CHECK_STR(load_error("send-chunk-size = 99999999999999999999999k\n"),
              "F:1: send-chunk-size: \"99999999999999999999999k\" is out of range (4k to 64m)");
    CHECK_STR(load_error("send-chunk-size = 18014398509481984k\n"), /* 2^54 k */
              "F:1: send-chunk-size: \"18014398509481984k\" is out of range (4k to 64m)");
}

static void test_plain_numbers(void)
{
    struct fy_config c;
    load_ok(&c, "max-connections = 1000000\nmax-keepalive-requests = 100000000\n");
    CHECK_INT(c.max_connections, 1000000);
    CHECK_INT(c.max_keepalive_requests, 100000000);
    CHECK_STR(load_error("max-connections = 0\n"),
              "F:1: max-connections: \"0\" is out of range (1 to 1000000)");
    CHECK_STR(load_error("max-connections = 1000001\n"),
              "F:1: max-connections: \"1000001\" is out of range (1 to 1000000)");
    CHECK_STR(load_error("max-connections = 12abc\n"),
              "F:1: max-connections: \"12abc\" is not a number");
    CHECK_STR(load_error("max-connections = 1k\n"),
              "F:1: max-connections: \"1k\" is not a number");
    CHECK_STR(load_error("max-connections = -1\n"),
              "F:1: max-connections: \"-1\" is not a number");
    CHECK_STR(load_error("max-connections = +1\n"),
              "F:1: max-connections: \"+1\" is not a number");
    CHECK_STR(load_error("max-connections =\n"),
              "F:1: max-connections: \"\" is not a number");
    CHECK_STR(load_error("max-keepalive-requests = 18446744073709551616\n"),
              "F:1: max-keepalive-requests: \"18446744073709551616\" is out of range (0 to 100000000)");
    CHECK_STR(load_error("max-keepalive-requests = 4294967296\n"),
              "F:1: max-keepalive-requests: \"4294967296\" is out of range (0 to 100000000)");
}

static void test_grammar_errors(void)
{
    CHECK_STR(load_error("docroot = /a\n\n# c\nnosuch = 1\n"), "F:4: nosuch: unknown key");
    CHECK_STR(load_error("docroot = /a\ndocroot /b\n"),
              "F:2: missing '=' (want \"key = value\")");
    CHECK_STR(load_error("docroot # = /b\n"), "F:1: missing '=' (want \"key = value\")");
    CHECK_STR(load_error("  = /b\n"), "F:1: missing key before '='");
    CHECK_STR(load_error("docroot = \"/a\n"), "F:1: docroot: missing closing '\"'");
    CHECK_STR(load_error("docroot = \"/a\" b\n"),
              "F:1: docroot: unexpected text after closing '\"'");
    CHECK_STR(load_error("docroot = \"/a\"#b\n"),
              "F:1: docroot: unexpected text after closing '\"'");
    CHECK_STR(load_error("docroot = \"/a\\n\"\n"),
              "F:1: docroot: unknown escape in quoted value (want \\\" or \\\\)");
    CHECK_STR(load_error("DocRoot = /a\n"), "F:1: DocRoot: unknown key");
}

static void test_long_line(void)
{
    char *text = malloc(9000);
    struct fy_config c;
    char msg[FY_CONFIG_ERR_LEN];
    /* exactly 8192 bytes before the newline is accepted */
    memset(text, ' ', 8192);
    memcpy(text, "docroot = /x", 12);
    strcpy(text + 8192, "\n");
    CHECK_INT(load_text(&c, text, msg, sizeof msg), 0);
    CHECK_STR(c.docroot, "/x");
    memset(text, ' ', 8193);
    memcpy(text, "docroot = /x", 12);
    strcpy(text + 8193, "\n");
    CHECK_STR(load_error(text), "F:1: line longer than 8192 bytes");
    free(text);
}

static void test_comments_and_quotes(void)
{
    struct fy_config c;
    load_ok(&c, "# a comment\n"
                "   # indented comment\n"
                "\n"
                "  \t \n"
                "  docroot   =   /srv/a#b   # trailing comment\n"
                "access-log = \"  /tmp/lead # not a comment\"   # comment\n"
                "error-log = \"/tmp/q\\\"uo\\\\te\"\n"
                "log-level=debug\r\n"
                "backend =writev");
    CHECK_STR(c.docroot, "/srv/a#b");
    CHECK_STR(c.access_log, "  /tmp/lead # not a comment");
    CHECK_STR(c.error_log, "/tmp/q\"uo\\te");
    CHECK_INT(c.log_level, FY_LOG_DEBUG);
    CHECK_STR(c.backend, "writev");
    load_ok(&c, "docroot = a \"b\" c\n");
    CHECK_STR(c.docroot, "a \"b\" c");
    load_ok(&c, "docroot =#x\n");
    CHECK_STR(c.docroot, "#x");
    CHECK_STR(load_error("docroot = # nothing\n"), "F:1: docroot: must not be empty");
}

static void test_listen_parse(void)
{
    struct fy_listen l;
    char err[FY_CONFIG_ERR_LEN];
    CHECK_INT(fy_listen_parse("8080", &l, err, sizeof err), 0);
    CHECK_STR(l.text, "0.0.0.0:8080");
    CHECK_INT(l.addr.ss_family, AF_INET);
    CHECK_INT(((struct sockaddr_in *)&l.addr)->sin_addr.s_addr, htonl(INADDR_ANY));
    CHECK_INT(fy_listen_parse("10.1.2.3:1", &l, err, sizeof err), 0);
    CHECK_STR(l.text, "10.1.2.3:1");
    CHECK_INT(((struct sockaddr_in *)&l.addr)->sin_addr.s_addr, htonl(0x0a010203));
    CHECK_INT(fy_listen_parse("localhost:65535", &l, err, sizeof err), 0);
    CHECK_STR(l.text, "127.0.0.1:65535");
    CHECK_INT(port_of(&l), 65535);
    CHECK_INT(fy_listen_parse("[::]:80", &l, err, sizeof err), 0);
    CHECK_STR(l.text, "[::]:80");
    CHECK_INT(l.addr.ss_family, AF_INET6);
    CHECK_INT(fy_listen_parse("[0:0::1]:443", &l, err, sizeof err), 0);
    CHECK_STR(l.text, "[::1]:443");
    CHECK(memcmp(&((struct sockaddr_in6 *)&l.addr)->sin6_addr, &in6addr_loopback, 16) == 0);
}

static void check_listen_error(const char *text, const char *want)
{
    struct fy_listen l;
    char err[FY_CONFIG_ERR_LEN] = "";
    CHECK_INT(fy_listen_parse(text, &l, err, sizeof err), -1);
    CHECK_STR(err, want);
}

static void test_listen_errors(void)
{
    check_listen_error("0", "bad port \"0\" in \"0\" (want 1 to 65535)");
    check_listen_error("65536", "bad port \"65536\" in \"65536\" (want 1 to 65535)");
    check_listen_error("1.2.3.4:0", "bad port \"0\" in \"1.2.3.4:0\" (want 1 to 65535)");
    check_listen_error("1.2.3.4:99999999999999999999",
                       "bad port \"99999999999999999999\" in \"1.2.3.4:99999999999999999999\" "
                       "(want 1 to 65535)");
    check_listen_error("garbage", "bad port \"garbage\" in \"garbage\" (want 1 to 65535)");
    check_listen_error("1.2.3.4:80x", "bad port \"80x\" in \"1.2.3.4:80x\" (want 1 to 65535)");
    check_listen_error("1.2.3.4:", "bad port \"\" in \"1.2.3.4:\" (want 1 to 65535)");
    check_listen_error("1.2.3.4:-1", "bad port \"-1\" in \"1.2.3.4:-1\" (want 1 to 65535)");
    check_listen_error("example.com:80", "bad IPv4 address \"example.com\" in \"example.com:80\" "
                       "(want PORT, ADDR:PORT or [IPv6]:PORT)");
    check_listen_error("1.2.3:80", "bad IPv4 address \"1.2.3\" in \"1.2.3:80\" "
                       "(want PORT, ADDR:PORT or [IPv6]:PORT)");
    check_listen_error(":80", "bad IPv4 address \"\" in \":80\" "
                       "(want PORT, ADDR:PORT or [IPv6]:PORT)");
    check_listen_error("::1:80", "IPv6 address needs brackets: \"[ADDR]:PORT\", not \"::1:80\"");
    check_listen_error("[::1]80", "missing \":PORT\" after ']' in \"[::1]80\"");
    check_listen_error("[::1", "missing ']' in \"[::1\"");
    check_listen_error("[1.2.3.4]:80", "bad IPv6 address \"1.2.3.4\" in \"[1.2.3.4]:80\"");
    check_listen_error("[::1]:0", "bad port \"0\" in \"[::1]:0\" (want 1 to 65535)");
    check_listen_error("", "empty address (want PORT, ADDR:PORT or [IPv6]:PORT)");
}

static void test_listen_in_file(void)
{
    CHECK_STR(load_error("docroot = /a\nlisten = 127.0.0.1:65536\n"),
              "F:2: listen: bad port \"65536\" in \"127.0.0.1:65536\" (want 1 to 65535)");
    CHECK_STR(load_error("listen = ::1:80\n"),
              "F:1: listen: IPv6 address needs brackets: \"[ADDR]:PORT\", not \"::1:80\"");
    CHECK_STR(load_error("listen = 80\nlisten = 0.0.0.0:80\n"),
              "F:2: listen: duplicate address 0.0.0.0:80");
    CHECK_STR(load_error("listen = [::1]:80\nlisten = [0::1]:80\n"),
              "F:2: listen: duplicate address [::1]:80");
}

static void test_listen_replace(void)
{
    struct fy_config c;
    char err[FY_CONFIG_ERR_LEN] = "";
    /* the first listen of a file replaces the default, the next ones add */
    load_ok(&c, "listen = 127.0.0.1:8080\nlisten = 9000\n");
    CHECK_INT(c.nlisten, 2);
    CHECK_STR(c.listen[0].text, "127.0.0.1:8080");
    CHECK_STR(c.listen[1].text, "0.0.0.0:9000");
    /* without replace, the command line adds */
    CHECK_INT(fy_config_set(&c, "listen", "[::1]:9000", "command line", 0, false, err, sizeof err), 0);
    CHECK_INT(c.nlisten, 3);
    CHECK_STR(c.listen[2].text, "[::1]:9000");
    /* with replace, it drops them all */
    CHECK_INT(fy_config_set(&c, "listen", "9001", "command line", 0, true, err, sizeof err), 0);
    CHECK_INT(c.nlisten, 1);
    CHECK_STR(c.listen[0].text, "0.0.0.0:9001");
    /* a failed replace leaves the values as they were */
    CHECK_INT(fy_config_set(&c, "listen", "x", "command line", 0, true, err, sizeof err), -1);
    CHECK_STR(err, "command line: listen: bad port \"x\" in \"x\" (want 1 to 65535)");
    CHECK_INT(c.nlisten, 1);
    /* a second file's first listen replaces again */
    char path[64], err2[FY_CONFIG_ERR_LEN] = "";
    write_temp(path, "listen = 1.1.1.1:1\n");
    CHECK_INT(fy_config_load(&c, path, err2, sizeof err2), 0);
    unlink(path);
    CHECK_INT(c.nlisten, 1);
    CHECK_STR(c.listen[0].text, "1.1.1.1:1");
}

static void test_too_many_listens(void)
{
    char text[2048] = "";
    struct fy_config c;
    for (int i = 0; i < FY_CONFIG_MAX_LISTEN; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "listen = %d\n", 1000 + i);
    load_ok(&c, text);
    CHECK_INT(c.nlisten, FY_CONFIG_MAX_LISTEN);
    strcat(text, "listen = 2000\n");
    CHECK_STR(load_error(text), "F:17: listen: too many addresses (at most 16)");
}

static void test_backend(void)
{
    struct fy_config c;
    load_ok(&c, "backend = sendfile\n");
    CHECK_STR(c.backend, "sendfile");
    char names[256], want[512];
    fy_backend_names(names, sizeof names);
    CHECK(strstr(names, "sendfile") && strstr(names, "writev"));
    snprintf(want, sizeof want,
             "F:2: backend: unknown backend \"carrier-pigeon\" (want one of: %s)", names);
    CHECK_STR(load_error("\nbackend = carrier-pigeon\n"), want);
}

static void test_aio_send(void)
{
    struct fy_config c;
    fy_config_defaults(&c);
    CHECK_INT(c.aio_send, FY_AIO_SEND_COPY);
    load_ok(&c, "aio-send = sendfile\n");
    CHECK_INT(c.aio_send, FY_AIO_SEND_SENDFILE);
    load_ok(&c, "aio-send = copy\n");
    CHECK_INT(c.aio_send, FY_AIO_SEND_COPY);
    CHECK_STR(load_error("aio-send = splice\n"),
              "F:1: aio-send: unknown way \"splice\" (want copy or sendfile)");
}

static void test_index_files(void)
{
    struct fy_config c;
    char err[FY_CONFIG_ERR_LEN] = "";
    load_ok(&c, "index-files = a.html\tb.html\nindex-files = c.html\n");
    CHECK_INT(c.nindex, 3);
    CHECK_STR(c.index_files[0], "a.html");
    CHECK_STR(c.index_files[1], "b.html");
    CHECK_STR(c.index_files[2], "c.html");
    CHECK_INT(fy_config_set(&c, "index-files", "d.html", "command line", 0, true, err, sizeof err), 0);
    CHECK_INT(c.nindex, 1);
    CHECK_STR(c.index_files[0], "d.html");
    CHECK_INT(fy_config_set(&c, "index-files", "e.html", "command line", 0, false, err, sizeof err), 0);
    CHECK_INT(c.nindex, 2);
    CHECK_STR(load_error("index-files = index.html sub/index.html\n"),
              "F:1: index-files: \"sub/index.html\" contains '/' (want a file name)");
    CHECK_STR(load_error("index-files = ..\n"), "F:1: index-files: \"..\" is not a file name");
    CHECK_STR(load_error("index-files =   \n"), "F:1: index-files: needs at least one file name");
    CHECK_STR(load_error("index-files = a b c d e\nindex-files = f g h i\n"),
              "F:2: index-files: too many names (at most 8)");
}

static void test_command_line(void)
{
    struct fy_config c;
    char err[FY_CONFIG_ERR_LEN] = "";
    fy_config_defaults(&c);
    CHECK_INT(fy_config_set(&c, "max-connections", "77", "command line", 0, true, err, sizeof err), 0);
    CHECK_INT(c.max_connections, 77);
    CHECK_INT(fy_config_set(&c, "max-connections", "0", "command line", 0, true, err, sizeof err), -1);
    CHECK_STR(err, "command line: max-connections: \"0\" is out of range (1 to 1000000)");
    CHECK_INT(c.max_connections, 77);
    CHECK_INT(fy_config_set(&c, "bogus", "1", "command line", 0, true, err, sizeof err), -1);
    CHECK_STR(err, "command line: bogus: unknown key");
    CHECK_INT(fy_config_set(&c, "docroot", "/x", "my.conf", 12, true, err, sizeof err), 0);
    CHECK_INT(fy_config_set(&c, "docroot", "", "my.conf", 12, true, err, sizeof err), -1);
    CHECK_STR(err, "my.conf:12: docroot: must not be empty");
    CHECK_STR(c.docroot, "/x");
}

static void test_missing_file(void)
{
    struct fy_config c;
    char err[FY_CONFIG_ERR_LEN] = "";
    fy_config_defaults(&c);
    CHECK_INT(fy_config_load(&c, "/nonexistent/ferry.conf", err, sizeof err), -1);
    CHECK_STR(err, "/nonexistent/ferry.conf: No such file or directory");
    CHECK_INT(fy_config_load(&c, "/tmp", err, sizeof err), -1);
    CHECK_STR(err, "/tmp: Is a directory");
}

static void test_small_err_buffer(void)
{
    struct fy_config c;
    char err[8];
    fy_config_defaults(&c);
    CHECK_INT(fy_config_set(&c, "nosuch", "1", "command line", 0, true, err, sizeof err), -1);
    CHECK_STR(err, "command");
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_every_key);
    RUN(test_off_values);
    RUN(test_durations);
    RUN(test_sizes);
    RUN(test_plain_numbers);
    RUN(test_grammar_errors);
    RUN(test_long_line);
    RUN(test_comments_and_quotes);
    RUN(test_listen_parse);
    RUN(test_listen_errors);
    RUN(test_listen_in_file);
    RUN(test_listen_replace);
    RUN(test_too_many_listens);
    RUN(test_backend);
    RUN(test_aio_send);
    RUN(test_index_files);
    RUN(test_command_line);
    RUN(test_missing_file);
    RUN(test_small_err_buffer);
    return CHECK_SUMMARY();
}
