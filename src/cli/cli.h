/*
 * NAME
 *   cli - shared pieces of the fwdauth command's front end
 * SUMMARY
 *   Each subcommand is a function `int cmd_X(int argc, char **argv)` that
 *   parses its own options (argv[0] is the subcommand name) and returns the
 *   exit status: 0 success or positive result, 1 negative result, 2 usage,
 *   configuration or I/O error. Only the front end prints.
 */
#ifndef FWDAUTH_CLI_H
#define FWDAUTH_CLI_H

#include "config.h"

#include <stdio.h>
#include <sys/types.h>
#include <time.h>

enum { EXIT_POSITIVE = 0, EXIT_NEGATIVE = 1, EXIT_TROUBLE = 2 };

/* Error messages start with the command as typed, "fwdauth COMMAND: " or
 * "fwdauth COMMAND ACTION: ": cli_prog is that prefix (without the colon)
 * for shared helpers that do not know which command runs them. A
 * dispatcher calls cli_enter(argv) with argv[0] the command or action it
 * is about to run: cli_prog gains " argv[0]", and argv[0] becomes cli_prog
 * so that getopt's own messages carry the same prefix. */
extern const char *cli_prog;
void cli_enter(char **argv);

int cmd_srs(int argc, char **argv);
int cmd_dkim(int argc, char **argv);        /* cmd_dkim.c: sign|verify|keygen */
int cmd_dkim_sign(int argc, char **argv);   /* cmd_dkim_sign.c (argv[0] = "sign") */
int cmd_dkim_verify(int argc, char **argv); /* cmd_dkim_verify.c (argv[0] = "verify") */
int cmd_dkim_keygen(int argc, char **argv); /* cmd_keygen.c (argv[0] = "keygen") */
int cmd_check_dns(int argc, char **argv);   /* cmd_checkdns.c */
int cmd_doctor(int argc, char **argv);      /* cmd_doctor.c */
int cmd_send(int argc, char **argv);        /* cmd_send.c */
int cmd_arc(int argc, char **argv);         /* cmd_arc.c: verify|sign */
int cmd_dmarc(int argc, char **argv);       /* cmd_dmarc.c: check */
int cmd_spf(int argc, char **argv);         /* cmd_spf.c: check */
int cmd_logscan(int argc, char **argv);     /* cmd_logscan.c */

/* Start from defaults, then read FILE when given; prints errors. 0 or -1. */
int cli_load_config(struct fa_config *cfg, const char *file);

/* Whose secret files (srs_secrets) to accept besides root's: the daemon's
 * `user` when we run as root (so `fwdauth -c fwdauthd.conf` reads what the
 * daemon reads), else ourselves. */
uid_t cli_secrets_owner(const struct fa_config *cfg);

/* The resolver the config (and --dns-zone / --dns-server, when not NULL)
 * asks for; prints errors. NULL on error. */
struct dns;
struct dns *cli_dns_open(const struct fa_config *cfg, const char *zone, const char *server);

/* The options of every command that asks DNS: --dns-zone, --dns-server and
 * -c (whose dns_* settings they override). Use like CLI_SIGN_LONGOPTS. */
enum { CLI_DNS_OPT_ZONE = 0x2000, CLI_DNS_OPT_SERVER };
/* clang-format off */
#define CLI_DNS_LONGOPTS                                            \
    {"dns-zone", required_argument, NULL, CLI_DNS_OPT_ZONE},        \
    {"dns-server", required_argument, NULL, CLI_DNS_OPT_SERVER},    \
    {"config", required_argument, NULL, 'c'}
/* clang-format on */
struct cli_dns_args {
    const char *zone, *server, *config;
    const char *mode; /* --mode of the commands that take it: overrides dmarc_mode */
};
/* Take getopt's option c if it is one of those: 1 taken, 0 not. */
int cli_dns_option(struct cli_dns_args *a, int c, const char *v);
/* Load the configuration into cfg (defaults without -c) and open the
 * resolver. NULL on error (printed; cfg is then freed); otherwise the caller
 * frees cfg with config_free when it no longer needs it. */
struct dns *cli_dns_setup(const struct cli_dns_args *a, struct fa_config *cfg);

/* A count of seconds (a time since 1970, or a duration) given on the
 * command line: digits only, no sign. 0, or -1 when it is not one. */
int cli_parse_seconds(const char *arg, long long *out);

/* A time option (--now, --timestamp) of command prog: seconds since 1970.
 * 0, or -1 after printing "PROG: OPT wants seconds since 1970, not ARG". */
int cli_time_option(const char *prog, const char *opt, const char *arg, time_t *out);

/* Print s as a JSON string (with quotes) to f. */
void cli_json_string(FILE *f, const char *s, size_t n);

#endif
