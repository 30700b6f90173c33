/* fwdauth dkim verify: check every DKIM signature of a message. */
#include "cli.h"
#include "dkim.h"
#include "input.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void verify_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth dkim verify [options] [FILE... | < message]\n"
               "\n"
               "Checks every DKIM-Signature of each message and prints one line per\n"
               "signature: RESULT d=DOMAIN s=SELECTOR a=ALGORITHM [(reason)], where RESULT\n"
               "is pass, fail, policy, temperror or permerror (RFC 8601). With several\n"
               "FILEs each line starts with \"FILE: \".\n"
               "\n"
               "  --dns-zone FILE    answer DNS from this zone file (offline, tests)\n"
               "  --dns-server ADDR  ask this resolver (ADDR or ADDR@PORT)\n"
               "  --now EPOCH        check t= and x= against this time\n"
               "  --json             one JSON object per message, one per line\n"
               "  -c FILE            configuration file (dns_* settings)\n"
               "\n"
               "exit status: 0 at least one signature passes, 1 none passes or there is\n"
               "no signature, 2 usage or I/O error; with several FILEs the worst of them\n");
}

struct verify_ctx {
    struct dkim_verifier *v;
    time_t now;
    const char *name;
};

static int on_headers(void *ctx, struct msg_reader *r)
{
    struct verify_ctx *c = ctx;
    fa_err err;
    c->v = dkim_verifier_new(r->headers.h, r->headers.n, c->now, &err);
    if (!c->v)
        fprintf(stderr, "%s: %s: %s\n", cli_prog, c->name, err.msg);
    return c->v ? 0 : -1;
}

static void on_body(void *ctx, const uint8_t *p, size_t n)
{
    struct verify_ctx *c = ctx;
    dkim_verifier_body(c->v, p, n);
}

static void print_json(const char *name, const struct dkim_sig_result *r, size_t n, int pass)
{
    fputs("{\"file\":", stdout);
    cli_json_string(stdout, name, strlen(name));
    printf(",\"pass\":%s,\"signatures\":[", pass ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"result\":\"%s\",\"domain\":", i ? "," : "", dkim_result_name(r[i].result));
        cli_json_string(stdout, r[i].domain, strlen(r[i].domain));
        fputs(",\"selector\":", stdout);
        cli_json_string(stdout, r[i].selector, strlen(r[i].selector));
        fputs(",\"identity\":", stdout);
        cli_json_string(stdout, r[i].identity, strlen(r[i].identity));
        printf(",\"algorithm\":\"%s\",\"key_bits\":%u,\"testing\":%s,\"reason\":",
               r[i].alg < 0 ? "" : dkim_alg_name(r[i].alg), r[i].key_bits,
               r[i].testing ? "true" : "false");
        cli_json_string(stdout, r[i].reason, strlen(r[i].reason));
        fputs("}", stdout);
    }
    fputs("]}\n", stdout);
}

/* Verify the message at path (NULL: standard input) and print its result
 * lines, each after "NAME: " when prefix is set. The exit status for it. */
static int verify_one(const char *path, struct dns *dns, time_t now, int json, int prefix)
{
    struct cli_input in;
    if (cli_input_open(&in, path, 0) < 0)
        return EXIT_TROUBLE;
    struct msg_reader r;
    msg_reader_init(&r);
    struct verify_ctx vc = {NULL, now, in.name};
    int status = EXIT_TROUBLE;
    if (cli_input_read(&in, &r, on_headers, on_body, &vc) == 0) {
        struct dkim_sig_result res[DKIM_MAX_SIGS];
        size_t n = dkim_verifier_finish(vc.v, dns, res, DKIM_MAX_SIGS);
        int pass = 0;
        for (size_t i = 0; i < n; i++)
            pass |= res[i].result == DKIM_PASS;
        if (json) {
            print_json(in.name, res, n, pass);
        } else if (n == 0) {
            printf("%s%snone (no DKIM-Signature field)\n", prefix ? in.name : "",
                   prefix ? ": " : "");
        } else {
            for (size_t i = 0; i < n; i++) {
                if (prefix)
                    printf("%s: ", in.name);
                printf("%s d=%s s=%s a=%s", dkim_result_name(res[i].result), res[i].domain,
                       res[i].selector, res[i].alg < 0 ? "?" : dkim_alg_name(res[i].alg));
                if (res[i].reason[0])
                    printf(" (%s)", res[i].reason);
                if (res[i].testing)
                    fputs(" [key in testing mode, t=y]", stdout);
                putchar('\n');
            }
        }
        status = pass ? EXIT_POSITIVE : EXIT_NEGATIVE;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: write error: %s\n", cli_prog, strerror(errno));
        status = EXIT_TROUBLE;
    }
    dkim_verifier_free(vc.v);
    msg_reader_free(&r);
    cli_input_close(&in);
    return status;
}

int cmd_dkim_verify(int argc, char **argv)
{
    enum { OPT_NOW = 256, OPT_JSON };
    static const struct option longopts[] = {
        CLI_DNS_LONGOPTS,
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_dns_args da = {0};
    time_t now = time(NULL);
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        if (cli_dns_option(&da, c, optarg))
            continue;
        switch (c) {
        case OPT_NOW:
            if (cli_time_option("fwdauth dkim verify", "--now", optarg, &now) < 0)
                return EXIT_TROUBLE;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            verify_usage(stdout);
            return EXIT_POSITIVE;
        default:
            verify_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    struct fa_config cfg;
    struct dns *dns = cli_dns_setup(&da, &cfg);
    if (!dns)
        return EXIT_TROUBLE;
    config_free(&cfg);

    /* One message (standard input) or each FILE in turn: the worst status
     * wins (2 over 1 over 0), as a script checking a batch wants. */
    int nfiles = argc - optind, status = EXIT_POSITIVE;
    for (int i = 0; i < (nfiles > 0 ? nfiles : 1); i++) {
        int s = verify_one(nfiles > 0 ? argv[optind + i] : NULL, dns, now, json, nfiles > 1);
        if (s > status)
            status = s;
    }
    dns_free(dns);
    return status;
}
