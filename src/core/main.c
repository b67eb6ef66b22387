/* ferry: the command line, then the server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/server.h"

#define FERRY_VERSION "0.1.0"

static void usage(FILE *out)
{
    char names[256];
    fy_backend_names(names, sizeof names);
    fprintf(out,
            "usage: ferry [-c FILE] [-r DOCROOT] [-l [ADDR:]PORT] [-B BACKEND] [-t] [-h] [-V]\n"
            "  -c, --config FILE      read the configuration file FILE (see doc/config.md)\n"
            "  -r, --root DIR         serve files from DIR (default .)\n"
            "  -l, --listen [ADDR:]PORT  listen there (default 127.0.0.1:8080); repeatable\n"
            "  -B, --backend NAME     how to send files: %s (default sendfile)\n"
            "  -t, --test-config      check the configuration and exit (0 valid, 1 not)\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version\n"
            "Command-line values override the configuration file.\n",
            names);
}

struct cli_override {
    const char *key, *value;
};

/* Parses argv into the config path, the -t flag and overrides for the
 * config.  Returns -1 to exit 0 (help/version), 1 on a usage error, else 0. */
static int parse_args(int argc, char **argv, const char **config_path, int *test_only,
                      struct cli_override *ov, size_t *nov)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"root", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'l'},  {"backend", required_argument, NULL, 'B'},
        {"test-config", no_argument, NULL, 't'},   {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:r:l:B:thV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': *config_path = optarg; break;
        case 'r': ov[(*nov)++] = (struct cli_override){"docroot", optarg}; break;
        case 'l': ov[(*nov)++] = (struct cli_override){"listen", optarg}; break;
        case 'B': ov[(*nov)++] = (struct cli_override){"backend", optarg}; break;
        case 't': *test_only = 1; break;
        case 'h': usage(stdout); return -1;
        case 'V': printf("ferry %s\n", FERRY_VERSION); return -1;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferry: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    return 0;
}

/* Defaults, then the file, then the command line.  The first -l replaces
 * the listen addresses of the file; further ones add to it. */
static int build_config(struct fy_config *cfg, const char *path, const struct cli_override *ov,
                        size_t nov, char *err, size_t errlen)
{
    fy_config_defaults(cfg);
    if (path && fy_config_load(cfg, path, err, errlen))
        return -1;
    bool listen_replaced = false;
    for (size_t i = 0; i < nov; i++) {
        bool replace = true;
        if (strcmp(ov[i].key, "listen") == 0) {
            replace = !listen_replaced;
            listen_replaced = true;
        }
        if (fy_config_set(cfg, ov[i].key, ov[i].value, "command line", 0, replace, err, errlen))
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int test_only = 0;
    struct cli_override ov[64];
    size_t nov = 0;
    if (argc > (int)(sizeof ov / sizeof ov[0])) {
        fprintf(stderr, "ferry: too many arguments\n");
        return 1;
    }
    int rc = parse_args(argc, argv, &config_path, &test_only, ov, &nov);
    if (rc)
        return rc < 0 ? 0 : 1;

    static struct fy_config cfg;
    char err[FY_CONFIG_ERR_LEN];
    if (build_config(&cfg, config_path, ov, nov, err, sizeof err)) {
        fprintf(stderr, "ferry: %s\n", err);
        return 1;
    }
    if (test_only) {
        printf("ferry: configuration %s is valid\n", config_path ? config_path : "(built-in defaults)");
        return 0;
    }

    static struct fy_server srv;
    if (fy_server_start(&srv, &cfg, err, sizeof err)) {
        fprintf(stderr, "ferry: %s\n", err);
        fy_server_free(&srv);
        return 1;
    }
    rc = fy_server_run(&srv);
    fy_server_free(&srv);
    return rc ? 1 : 0;
}
