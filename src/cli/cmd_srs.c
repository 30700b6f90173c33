/* fwdauth srs forward|reverse: SRS by hand, with the daemon's own engine. */
#include "cli.h"
#include "srs.h"
#include "srs_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void srs_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth srs forward|reverse [options] ADDRESS...\n"
               "\n"
               "forward rewrites each envelope sender into the SRS domain (SRS0, or SRS1\n"
               "for an address that is already SRS0 elsewhere); reverse restores the\n"
               "original sender from an SRS address, checking its hash and age.\n"
               "One line per address: the result, or the address as given when it is\n"
               "left unchanged (the reason goes to stderr).\n"
               "\n"
               "options:\n"
               "  -c FILE               configuration file (srs_* settings, fwdauthd.conf(5))\n"
               "  --srs-domain DOMAIN   SRS domain (srs_domain)\n"
               "  --secrets FILE        secrets file, one per line, first signs (srs_secrets)\n"
               "  --hash-alphabet A     base64url (default) or base64 (srs_hash_alphabet)\n"
               "  --local-domains LIST  domains never rewritten (local_domains)\n"
               "  --now EPOCH           pretend the time is EPOCH (seconds since 1970)\n"
               "  --json                one JSON object per address\n"
               "\n"
               "exit status: 0 every address rewritten, 1 at least one left unchanged,\n"
               "2 usage, configuration or I/O error\n");
}

int cmd_srs(int argc, char **argv)
{
    enum { OPT_DOMAIN = 256, OPT_SECRETS, OPT_ALPHABET, OPT_LOCAL, OPT_NOW, OPT_JSON };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"srs-domain", required_argument, NULL, OPT_DOMAIN},
        {"secrets", required_argument, NULL, OPT_SECRETS},
        {"hash-alphabet", required_argument, NULL, OPT_ALPHABET},
        {"local-domains", required_argument, NULL, OPT_LOCAL},
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    const char *overrides[16][2] = {{0}};
    size_t noverrides = 0;
    time_t now = time(NULL);
    int json = 0, c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case OPT_DOMAIN:
        case OPT_SECRETS:
        case OPT_ALPHABET:
        case OPT_LOCAL: {
            static const char *const keys[] = {"srs_domain", "srs_secrets", "srs_hash_alphabet",
                                               "local_domains"};
            if (noverrides == sizeof(overrides) / sizeof(overrides[0])) {
                fprintf(stderr, "fwdauth srs: too many options\n");
                return EXIT_TROUBLE;
            }
            overrides[noverrides][0] = keys[c - OPT_DOMAIN];
            overrides[noverrides][1] = optarg;
            noverrides++;
            break;
        }
        case OPT_NOW:
            if (cli_time_option("fwdauth srs", "--now", optarg, &now) < 0)
                return EXIT_TROUBLE;
            break;
        case OPT_JSON:
            json = 1;
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
    int forward = strcmp(argv[optind], "forward") == 0;
    if (optind + 1 >= argc) {
        fprintf(stderr, "fwdauth srs %s: no address given\n", argv[optind]);
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

    int status = EXIT_POSITIVE;
    for (int i = optind + 1; i < argc; i++) {
        const char *in = argv[i], *why = NULL;
        char out[SRS_ADDR_MAX];
        int r = forward ? srs_forward(s, in, strlen(in), now, out, sizeof(out), &why)
                        : srs_reverse(s, in, strlen(in), now, out, sizeof(out), &why);
        if (r == SRS_ERROR) {
            fprintf(stderr, "fwdauth srs: %s: %s\n", in, why);
            status = EXIT_TROUBLE;
            break;
        }
        const char *result = r == SRS_OK ? out : in;
        if (json) {
            fputs("{\"address\":", stdout);
            cli_json_string(stdout, in, strlen(in));
            fputs(",\"result\":", stdout);
            cli_json_string(stdout, result, strlen(result));
            printf(",\"rewritten\":%s", r == SRS_OK ? "true" : "false");
            if (r != SRS_OK) {
                fputs(",\"reason\":", stdout);
                cli_json_string(stdout, why, strlen(why));
            }
            fputs("}\n", stdout);
        } else {
            puts(result);
            if (r != SRS_OK)
                fprintf(stderr, "fwdauth srs: %s: left unchanged: %s\n", in, why);
        }
        if (r != SRS_OK)
            status = EXIT_NEGATIVE;
    }
    srs_free(s);
    return status;
}
