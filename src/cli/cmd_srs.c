/* fwdauth srs forward|reverse: SRS by hand, with the daemon's own engine. */
#include "cli.h"
#include "srs.h"
#include "srs_config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest address line read from stdin (fwdauthd's lookup key limit). */
#define SRS_LINE_MAX 2048

static void srs_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth srs forward|reverse [options] [ADDRESS...]\n"
               "\n"
               "forward rewrites each envelope sender into the SRS domain (SRS0, or SRS1\n"
               "for an address that is already SRS0 elsewhere, or an alias kept in the\n"
               "SRS store when it would not fit in 64 octets); reverse restores the\n"
               "original sender from an SRS address, checking its hash and age (and\n"
               "asking the store for an alias). Without ADDRESS, one address per line is\n"
               "read from standard input. One line per address: the result, or the\n"
               "address as given when it is left unchanged (the reason goes to stderr).\n"
               "\n"
               "options:\n"
               "  -c FILE               configuration file (srs_* settings, fwdauthd.conf(5))\n"
               "  --srs-domain DOMAIN   SRS domain (srs_domain)\n"
               "  --secrets FILE        secrets file, one per line, first signs (srs_secrets)\n"
               "  --hash-alphabet A     base64url (default) or base64 (srs_hash_alphabet)\n"
               "  --local-domains LIST  domains never rewritten (local_domains)\n"
               "  --store SPEC          SRS store: sqlite:/PATH, redis:unix:/PATH or\n"
               "                        redis:inet:HOST:PORT (srs_store)\n"
               "  --mode MODE           stateless, hybrid or database (srs_mode)\n"
               "  --rcpt ADDRESS        forward: a forwarded recipient, which chooses the SRS\n"
               "                        domain (srs_domain_map); repeatable\n"
               "  --now EPOCH           pretend the time is EPOCH (seconds since 1970)\n"
               "  --json                one JSON object per address\n"
               "\n"
               "exit status: 0 every address rewritten, 1 at least one left unchanged,\n"
               "2 usage, configuration or I/O error, or the store failed for an address\n");
}

struct srs_run {
    const srs *s;
    int forward, json;
    time_t now;
    char **rcpts;
    size_t nrcpts;
    int status;
};

/* One address: print its result; fold the outcome into r->status.
 * Returns -1 on an SRS_ERROR (a bug: stop). */
static int one(struct srs_run *r, const char *in, size_t len)
{
    char out[SRS_ADDR_MAX];
    struct srs_why why;
    int rc = r->forward ? srs_forward_ex(r->s, r->rcpts, r->nrcpts, in, len, r->now, out,
                                         sizeof(out), &why)
                        : srs_reverse_ex(r->s, in, len, r->now, out, sizeof(out), &why);
    if (rc == SRS_ERROR) {
        fprintf(stderr, "fwdauth srs: %s: %s\n", in, why.text);
        r->status = EXIT_TROUBLE;
        return -1;
    }
    const char *result = rc == SRS_OK ? out : in;
    if (r->json) {
        fputs("{\"address\":", stdout);
        cli_json_string(stdout, in, len);
        fputs(",\"result\":", stdout);
        cli_json_string(stdout, result, strlen(result));
        printf(",\"rewritten\":%s", rc == SRS_OK ? "true" : "false");
        if (rc != SRS_OK) {
            fputs(",\"reason\":", stdout);
            cli_json_string(stdout, why.text, strlen(why.text));
            if (rc == SRS_TEMP)
                fputs(",\"temporary\":true", stdout);
        }
        fputs("}\n", stdout);
    } else {
        puts(result);
        if (rc == SRS_TEMP)
            fprintf(stderr, "fwdauth srs: %s: temporary failure: %s\n", in, why.text);
        else if (rc != SRS_OK)
            fprintf(stderr, "fwdauth srs: %s: left unchanged: %s\n", in, why.text);
    }
    if (rc == SRS_TEMP)
        r->status = EXIT_TROUBLE;
    else if (rc != SRS_OK && r->status == EXIT_POSITIVE)
        r->status = EXIT_NEGATIVE;
    fflush(stdout);
    return 0;
}

/* Every line of stdin is an address (CR LF or LF; blank lines skipped). */
static void from_stdin(struct srs_run *r)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)n;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        line[len] = '\0';
        if (len == 0)
            continue;
        if (len > SRS_LINE_MAX || memchr(line, '\0', len)) {
            fprintf(stderr, "fwdauth srs: stdin line %lu: %s\n", lineno,
                    len > SRS_LINE_MAX ? "longer than 2048 octets" : "NUL byte");
            r->status = EXIT_TROUBLE;
            continue;
        }
        if (one(r, line, len) < 0)
            break;
    }
    if (ferror(stdin)) {
        fprintf(stderr, "fwdauth srs: reading stdin: %s\n", strerror(errno));
        r->status = EXIT_TROUBLE;
    }
    free(line);
}

int cmd_srs(int argc, char **argv)
{
    enum {
        OPT_DOMAIN = 256,
        OPT_SECRETS,
        OPT_ALPHABET,
        OPT_LOCAL,
        OPT_STORE,
        OPT_MODE,
        OPT_NOW,
        OPT_JSON,
        OPT_RCPT
    };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"srs-domain", required_argument, NULL, OPT_DOMAIN},
        {"secrets", required_argument, NULL, OPT_SECRETS},
        {"hash-alphabet", required_argument, NULL, OPT_ALPHABET},
        {"local-domains", required_argument, NULL, OPT_LOCAL},
        {"store", required_argument, NULL, OPT_STORE},
        {"mode", required_argument, NULL, OPT_MODE},
        {"rcpt", required_argument, NULL, OPT_RCPT},
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    const char *overrides[16][2] = {{0}};
    size_t noverrides = 0;
    char *rcpts[64];
    static char secrets_abs[PATH_MAX + 256];
    struct srs_run run = {.now = time(NULL), .rcpts = rcpts, .status = EXIT_POSITIVE};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case OPT_DOMAIN:
        case OPT_SECRETS:
        case OPT_ALPHABET:
        case OPT_LOCAL:
        case OPT_STORE:
        case OPT_MODE: {
            static const char *const keys[] = {"srs_domain",    "srs_secrets", "srs_hash_alphabet",
                                               "local_domains", "srs_store",   "srs_mode"};
            if (noverrides == sizeof(overrides) / sizeof(overrides[0])) {
                fprintf(stderr, "fwdauth srs: too many options\n");
                return EXIT_TROUBLE;
            }
            overrides[noverrides][0] = keys[c - OPT_DOMAIN];
            overrides[noverrides][1] = optarg;
            /* srs_secrets is an absolute path in the file; on the command
             * line a relative one means the current folder (the manual's
             * example: --secrets secret). */
            if (c == OPT_SECRETS && optarg[0] != '/') {
                char cwd[PATH_MAX];
                int n = getcwd(cwd, sizeof(cwd))
                            ? snprintf(secrets_abs, sizeof(secrets_abs), "%s/%s", cwd, optarg)
                            : -1;
                if (n < 0 || (size_t)n >= sizeof(secrets_abs)) {
                    fprintf(stderr, "fwdauth srs: --secrets %s: cannot make it absolute\n", optarg);
                    return EXIT_TROUBLE;
                }
                overrides[noverrides][1] = secrets_abs;
            }
            noverrides++;
            break;
        }
        case OPT_RCPT:
            if (run.nrcpts == sizeof(rcpts) / sizeof(rcpts[0])) {
                fprintf(stderr, "fwdauth srs: at most 64 --rcpt\n");
                return EXIT_TROUBLE;
            }
            rcpts[run.nrcpts++] = optarg;
            break;
        case OPT_NOW:
            if (cli_time_option("fwdauth srs", "--now", optarg, &run.now) < 0)
                return EXIT_TROUBLE;
            break;
        case OPT_JSON:
            run.json = 1;
            break;
        case 'h':
            srs_usage(stdout);
            return EXIT_POSITIVE;
        default:
            srs_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    if (optind >= argc ||
        (strcmp(argv[optind], "forward") != 0 && strcmp(argv[optind], "reverse") != 0)) {
        srs_usage(stderr);
        return EXIT_TROUBLE;
    }
    run.forward = strcmp(argv[optind], "forward") == 0;
    if (!run.forward && run.nrcpts) {
        fprintf(stderr, "fwdauth srs reverse: --rcpt is for forward\n");
        return EXIT_TROUBLE;
    }

    struct fa_config cfg;
    if (cli_load_config(&cfg, file) < 0)
        return EXIT_TROUBLE;
    fa_err err;
    for (size_t i = 0; i < noverrides; i++) {
        if (config_set(&cfg, overrides[i][0], overrides[i][1], "command line", &err) < 0) {
            fprintf(stderr, "fwdauth srs: %s\n", err.msg);
            config_free(&cfg);
            return EXIT_TROUBLE;
        }
    }
    srs *s = srs_from_config(&cfg, cli_secrets_owner(&cfg), &err);
    config_free(&cfg);
    if (!s) {
        fprintf(stderr, "fwdauth srs: %s\n", err.msg);
        return EXIT_TROUBLE;
    }
    run.s = s;
    if (optind + 1 >= argc) {
        from_stdin(&run);
    } else {
        for (int i = optind + 1; i < argc; i++)
            if (one(&run, argv[i], strlen(argv[i])) < 0)
                break;
    }
    srs_free(s);
    return run.status;
}
