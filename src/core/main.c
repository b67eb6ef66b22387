/* ferry: the command line, then the master process (master.c) — or, with
 * -X, one process that serves by itself. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/config.h"
#include "core/master.h"
#include "core/pidfile.h"
#include "core/privileges.h"
#include "core/server.h"
#include "core/sockets.h"
#include "core/stats.h"
#include "core/systemd.h"
#include "core/version.h"
#include "net/tls.h"
#include "net/tls_tickets.h"
#include "file/auth.h"

static void usage(FILE *out)
{
    char names[256];
    fy_backend_names(names, sizeof names);
    fprintf(out,
            "usage: ferry [-c FILE] [-r DOCROOT] [-l [ADDR:]PORT] [--tls-cert FILE --tls-key FILE] [-B BACKEND]\n"
            "             [-w N] [-u USER] [-X] [-t] [-h] [-V]\n"
            "  -c, --config FILE      read the configuration file FILE (see ferry.conf(5))\n"
            "  -r, --root DIR         serve files from DIR (default .)\n"
            "  -l, --listen [ADDR:]PORT  listen there (default 127.0.0.1:8080); repeatable\n"
            "      --tls-cert FILE    serve HTTPS on every -l address: the certificate chain (PEM,\n"
            "                         leaf first)...\n"
            "      --tls-key FILE     ...and its private key (PEM)\n"
            "  -B, --backend NAME     how to send files: %s (default auto)\n"
            "  -w, --workers N        worker processes, or auto: one per CPU (default)\n"
            "  -u, --user USER        serve as USER (root starts, binds, then drops to it)\n"
            "  -X, --single-process   serve in this process: no master, no workers (no reload)\n"
            "  -t, --test-config      check the configuration and exit (0 valid, 1 not)\n"
            "      --defaults         print every key with its default and exit\n"
            "  -h, --help             this help\n"
            "  -V, --version          print the version\n"
            "Command-line values override the configuration file.  Signals: TERM/INT stop\n"
            "gracefully, HUP reloads the configuration, USR1 reopens the log files.\n",
            names);
}

struct cli_override {
    const char *key, *value;
};

/* The command line: kept for a reload, which reads the file again and
 * applies the same overrides. */
struct cli {
    const char *config_path;
    int test_only, single, defaults;
    bool tls;                    /* --tls-cert or --tls-key: the -l listeners are TLS */
    struct cli_override ov[64];
    size_t nov;
};

/* Parses argv into cli.  Returns -1 to exit 0 (help/version), 1 on a usage
 * error, else 0. */
static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"root", required_argument, NULL, 'r'},
        {"listen", required_argument, NULL, 'l'},  {"backend", required_argument, NULL, 'B'},
        {"workers", required_argument, NULL, 'w'}, {"user", required_argument, NULL, 'u'},
        {"single-process", no_argument, NULL, 'X'}, {"test-config", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {"tls-cert", required_argument, NULL, 'C'}, {"tls-key", required_argument, NULL, 'K'},
        {"defaults", no_argument, NULL, 'D'},
        {NULL, 0, NULL, 0},
    };
    static const char *const keys[128] = {['r'] = "docroot", ['l'] = "listen", ['B'] = "backend",
                                          ['w'] = "workers", ['u'] = "user", ['C'] = "tls-certificate",
                                          ['K'] = "tls-key"};
    int opt;
    while ((opt = getopt_long(argc, argv, "c:r:l:B:w:u:XthV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': cli->config_path = optarg; break;
        case 'C': case 'K':
            cli->tls = true;
            /* fall through */
        case 'r': case 'l': case 'B': case 'w': case 'u':
            cli->ov[cli->nov++] = (struct cli_override){keys[opt], optarg};
            break;
        case 'X': cli->single = 1; break;
        case 't': cli->test_only = 1; break;
        case 'D': cli->defaults = 1; break;
        case 'h': usage(stdout); return -1;
        case 'V': printf("ferry %s\n", FY_VERSION); return -1;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ferry: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    bool listens = false;
    for (size_t i = 0; i < cli->nov; i++)
        listens |= strcmp(cli->ov[i].key, "listen") == 0;
    if (cli->tls && !listens) {
        fprintf(stderr, "ferry: --tls-cert and --tls-key make the -l addresses TLS ones: give at least one -l\n");
        return 1;
    }
    return 0;
}

/* Defaults, then the file, then the command line.  The first -l replaces
 * the listen addresses of the file; further ones add to it. */
static int build_config(struct fy_config *cfg, void *ctx, char *err, size_t errlen)
{
    const struct cli *cli = ctx;
    fy_config_defaults(cfg);
    if (cli->config_path && fy_config_load(cfg, cli->config_path, err, errlen))
        return -1;
    bool listen_replaced = false;
    for (size_t i = 0; i < cli->nov; i++) {
        bool replace = true;
        const char *value = cli->ov[i].value;
        char tls_listen[256];
        if (strcmp(cli->ov[i].key, "listen") == 0) {
            replace = !listen_replaced;
            listen_replaced = true;
            if (cli->tls && snprintf(tls_listen, sizeof tls_listen, "%s tls", value) < (int)sizeof tls_listen)
                value = tls_listen;
        }
        if (fy_config_set(cfg, cli->ov[i].key, value, "command line", 0, replace, err, errlen))
            return -1;
    }
    /* The files the configuration names whose content it depends on. */
    return fy_auth_validate(cfg, cli->config_path, err, errlen);
}

/* -t: the file parses, the user and group it names exist, every
 * certificate loads, matches its key and has not expired, and the files
 * and directories a start opens can be opened: -t refuses what start
 * would (a docroot that does not exist, say). */
static int test_config(const struct cli *cli, const struct fy_config *cfg)
{
    struct fy_identity id;
    char err[FY_CONFIG_ERR_LEN];
    if (fy_privileges_resolve(cfg, &id, err, sizeof err) < 0 || fy_server_check(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "ferry: %s\n", err);
        return 1;
    }
    struct fy_tls_contexts tls;
    char warn[FY_CONFIG_ERR_LEN];
    if (fy_tls_contexts_load(&tls, cfg, warn, sizeof warn, err, sizeof err) < 0) {
        fprintf(stderr, "ferry: %s\n", err);
        return 1;
    }
    fy_tls_contexts_free(&tls);
    if (warn[0])
        fprintf(stderr, "ferry: warning: %s\n", warn);
    printf("ferry: configuration %s is valid\n", cli->config_path ? cli->config_path : "(built-in defaults)");
    return 0;
}

/* What one process serving alone opens before its server starts. */
struct alone {
    struct fy_identity id;
    struct fy_log log;
    struct fy_sockets socks;
    struct fy_listen_fd listen[FY_CONFIG_MAX_LISTEN];
    size_t nlisten;
    struct fy_stats_shm *stats;
    struct fy_tls_contexts tls;
    struct fy_tls_tickets *tickets;
};

static int alone_open(struct alone *a, const struct fy_config *cfg, char *err, size_t errlen)
{
    char warn[FY_CONFIG_ERR_LEN];
    if (fy_privileges_resolve(cfg, &a->id, err, errlen) < 0 || fy_log_open(&a->log, cfg, err, errlen) < 0 ||
        fy_tls_contexts_load(&a->tls, cfg, warn, sizeof warn, err, errlen) < 0 ||
        !(a->tickets = fy_tls_tickets_create(err, errlen)) ||
        fy_sockets_open(&a->socks, cfg, false, 1, err, errlen) < 0)
        return -1;
    if (warn[0])
        fy_log(&a->log, FY_LOG_WARN, "%s", warn);
    a->nlisten = fy_sockets_pick(&a->socks, 0, 1, a->listen, FY_CONFIG_MAX_LISTEN);
    a->socks.n = 0; /* the server owns them now */
    if (!(a->stats = fy_stats_create())) {
        snprintf(err, errlen, "status counters: out of memory");
        return -1;
    }
    int slot = fy_stats_claim(a->stats, 1);
    atomic_store(&a->stats->slot[slot].pid, (uint64_t)getpid());
    atomic_store(&a->stats->workers, 1);
    atomic_store(&a->stats->generation, 1);
    return 0;
}

/* -X: this process serves; SIGHUP cannot reload (there is no one to start
 * new workers), SIGUSR1 reopens the logs. */
static int run_alone(const struct fy_config *cfg)
{
    static struct alone a;
    static struct fy_server srv;
    char err[FY_CONFIG_ERR_LEN];
    a.log = (struct fy_log){.error_fd = -1, .access_fd = -1};
    if (alone_open(&a, cfg, err, sizeof err) < 0) {
        fprintf(stderr, "ferry: %s\n", err);
        fy_sockets_close_except(&a.socks, NULL);
        fy_log_close(&a.log);
        fy_tls_contexts_free(&a.tls);
        fy_tls_tickets_destroy(a.tickets);
        return 1;
    }
    struct fy_server_env env = {.listen = a.listen, .nlisten = a.nlisten, .log = &a.log, .identity = &a.id,
                                .stats = a.stats, .stats_slot = 0, .control = -1, .tls = &a.tls,
                                .tickets = a.tickets};
    int rc = 1;
    if (fy_server_start(&srv, cfg, &env, err, sizeof err) < 0) {
        fprintf(stderr, "ferry: %s\n", err);
    } else {
        fy_sd_notify("READY=1");
        bool pid_file = cfg->pid_file[0] && fy_pidfile_write(cfg->pid_file, getpid(), err, sizeof err) == 0;
        if (cfg->pid_file[0] && !pid_file)
            fy_log(&srv.log, FY_LOG_ERROR, "%s", err);
        rc = fy_server_run(&srv) < 0 ? 1 : 0;
        fy_sd_notify("STOPPING=1");
        if (pid_file)
            fy_pidfile_remove(cfg->pid_file);
    }
    fy_server_free(&srv);
    fy_stats_destroy(a.stats);
    fy_tls_contexts_free(&a.tls);
    fy_tls_tickets_destroy(a.tickets);
    return rc;
}

/* --defaults: "key = default" per key, as a configuration file says it. */
static int print_defaults(void)
{
    const char *name, *def;
    for (size_t i = 0; (name = fy_config_key(i, &def)); i++) {
        if (def)
            printf("%s = %s\n", name, def);
        else
            printf("# %s: no default (repeatable, or per path: unset is off)\n", name);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct cli cli;
    if (argc > (int)(sizeof cli.ov / sizeof cli.ov[0])) {
        fprintf(stderr, "ferry: too many arguments\n");
        return 1;
    }
    int rc = parse_args(argc, argv, &cli);
    if (rc)
        return rc < 0 ? 0 : 1;
    if (cli.defaults)
        return print_defaults();

    static struct fy_config cfg;
    char err[FY_CONFIG_ERR_LEN];
    if (build_config(&cfg, &cli, err, sizeof err)) {
        fprintf(stderr, "ferry: %s\n", err);
        return 1;
    }
    if (cli.test_only)
        return test_config(&cli, &cfg);
    if (cli.single)
        return run_alone(&cfg);
    return fy_master_run(&cfg, build_config, &cli);
}
