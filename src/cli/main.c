/* fwdauth - command-line front end: a table of subcommands over libfwdauth. */
#include "cli.h"
#include "dns.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"srs", cmd_srs, "rewrite (forward) or restore (reverse) envelope senders with SRS"},
    {"dkim", cmd_dkim, "sign or verify messages, make keys (sign, verify, keygen)"},
    {"check-dns", cmd_check_dns, "check a domain's published SPF, DMARC and DKIM records"},
    {"doctor", cmd_doctor, "check the whole set-up: Postfix, fwdauthd, keys, DNS, the daemon"},
    {"dmarc", cmd_dmarc, "evaluate SPF, DKIM and DMARC of a message as a receiver would (check)"},
    {"spf", cmd_spf, "evaluate SPF for a client IP and sender (check)"},
    {"send", cmd_send, "DKIM-sign (optionally) and submit a message over SMTP with TLS"},
    {"arc", cmd_arc, "validate a message's ARC chain or add the next ARC set (verify, sign)"},
    {"logscan", cmd_logscan, "report DMARC, SPF and DKIM rejections found in Postfix logs"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* "fwdauth", then "fwdauth dkim", "fwdauth dkim sign" as cli_enter goes down. */
static char prog_buf[64] = "fwdauth";
const char *cli_prog = prog_buf;

void cli_enter(char **argv)
{
    size_t n = strlen(prog_buf);
    snprintf(prog_buf + n, sizeof(prog_buf) - n, " %s", argv[0]);
    argv[0] = prog_buf; /* getopt's own messages ("unrecognized option") use it */
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fwdauth <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'fwdauth help <command>' or 'fwdauth <command> --help' describes a command;\n"
               "-c FILE always names the configuration file (fwdauthd.conf(5)). Exit status: 0 "
               "success or positive\n"
               "result, 1 negative result, 2 usage, configuration or I/O error.\n");
}

int cli_load_config(struct fa_config *cfg, const char *file)
{
    fa_err err;
    config_init(cfg);
    if (file && config_load_file(cfg, file, &err) < 0) {
        fprintf(stderr, "%s: %s\n", cli_prog, err.msg);
        config_free(cfg);
        return -1;
    }
    return 0;
}

uid_t cli_secrets_owner(const struct fa_config *cfg)
{
    if (geteuid() == 0 && cfg->user && cfg->user[0]) {
        struct passwd *pw = getpwnam(cfg->user);
        if (pw)
            return pw->pw_uid;
    }
    return geteuid();
}

struct dns *cli_dns_open(const struct fa_config *cfg, const char *zone, const char *server)
{
    struct dns_opts o = {
        /* The command line wins: --dns-server overrides the config's zone file. */
        .zone_file = zone ? zone : (!server && cfg->dns_zone_file[0] ? cfg->dns_zone_file : NULL),
        .server = server ? server : (cfg->dns_server[0] ? cfg->dns_server : NULL),
        .timeout_ms = cfg->dns_timeout * 1000,
    };
    fa_err err;
    struct dns *d = dns_new(&o, &err);
    if (!d)
        fprintf(stderr, "%s: %s\n", cli_prog, err.msg);
    return d;
}

int cli_dns_option(struct cli_dns_args *a, int c, const char *v)
{
    switch (c) {
    case CLI_DNS_OPT_ZONE:
        a->zone = v;
        return 1;
    case CLI_DNS_OPT_SERVER:
        a->server = v;
        return 1;
    case 'c':
        a->config = v;
        return 1;
    default:
        return 0;
    }
}

struct dns *cli_dns_setup(const struct cli_dns_args *a, struct fa_config *cfg)
{
    if (cli_load_config(cfg, a->config) < 0)
        return NULL;
    fa_err err;
    if (a->mode && config_set(cfg, "dmarc_mode", a->mode, "--mode", &err) < 0) {
        fprintf(stderr, "%s: %s\n", cli_prog, err.msg);
        config_free(cfg);
        return NULL;
    }
    struct dns *d = cli_dns_open(cfg, a->zone, a->server);
    if (!d)
        config_free(cfg);
    return d;
}

int cli_parse_seconds(const char *arg, long long *out)
{
    if (arg[0] < '0' || arg[0] > '9')
        return -1; /* no sign, no white space */
    char *end;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int cli_time_option(const char *prog, const char *opt, const char *arg, time_t *out)
{
    long long v;
    if (cli_parse_seconds(arg, &v) < 0) {
        fprintf(stderr, "%s: %s wants seconds since 1970, not \"%s\"\n", prog, opt, arg);
        return -1;
    }
    *out = (time_t)v;
    return 0;
}

void cli_json_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_TROUBLE;
    }
    if (strcmp(argv[1], "help") == 0 && argc > 2) {
        /* fwdauth help COMMAND [ACTION]: that command's own --help. */
        const struct command *c = NULL;
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (strcmp(argv[2], commands[i].name) == 0)
                c = &commands[i];
        if (!c || argc > 4) {
            if (!c)
                fprintf(stderr, "fwdauth help: unknown command \"%s\"\n\n", argv[2]);
            else
                fprintf(stderr, "fwdauth help: use fwdauth help COMMAND [ACTION]\n\n");
            usage(stderr);
            return EXIT_TROUBLE;
        }
        char help[] = "--help";
        char *hargv[4] = {argv[2], argc > 3 ? argv[3] : help, argc > 3 ? help : NULL, NULL};
        cli_enter(hargv);
        return c->run(argc > 3 ? 3 : 2, hargv);
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_POSITIVE;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("fwdauth %s\n", FWDAUTH_VERSION);
        return EXIT_POSITIVE;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            cli_enter(argv + 1);
            return commands[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "fwdauth: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return EXIT_TROUBLE;
}
