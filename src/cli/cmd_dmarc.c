/* fwdauth dmarc check: SPF, DKIM and DMARC of a message, as a receiver sees it. */
#include "arrival.h"
#include "cli.h"
#include "input.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void dmarc_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth dmarc check --ip IP --mail-from ADDR [--helo NAME] [options]\n"
               "                           [FILE | < message]\n"
               "\n"
               "Evaluates SPF for the client IP and MAIL FROM, every DKIM signature, the ARC\n"
               "chain and DMARC for the message's From: domain, as a receiver would, and\n"
               "prints one line:\n"
               "  dmarc=RESULT policy=none|quarantine|reject from=DOMAIN spf=RESULT dkim=RESULT\n"
               "(policy is the one the domain's record asks receivers to apply to mail that\n"
               "fails; dkim is the best result among signatures aligned with From:, else the\n"
               "best of all).\n"
               "\n"
               "  --ip IP            the client address the message came from\n"
               "  --mail-from ADDR   the envelope sender (\"\" for the null sender)\n"
               "  --helo NAME        the client's HELO/EHLO name\n"
               "  --mode M           rfc7489 (Public Suffix List, default) or rfc9989\n"
               "                     (DMARCbis DNS tree walk); config dmarc_mode\n"
               "  --dns-zone FILE    answer DNS from this zone file (offline, tests)\n"
               "  --dns-server ADDR  ask this resolver (ADDR or ADDR@PORT)\n"
               "  --now EPOCH        check signature times against this time\n"
               "  --json             one JSON object: dmarc, policy, from, spf, spf_domain,\n"
               "                     dkim, arc, aligned (spf, dkim), reason\n"
               "  -c FILE            configuration file (dns_*, dmarc_mode)\n"
               "\n"
               "exit status: 0 DMARC pass, 1 any other result, 2 usage or I/O error\n");
}

struct dmarc_ctx {
    struct arrival_input in;
    struct arrival_check *check;
    const char *name;
};

static int on_headers(void *ctx, struct msg_reader *r)
{
    struct dmarc_ctx *c = ctx;
    fa_err err;
    c->check = arrival_begin(r->headers.h, r->headers.n, &c->in, &err);
    if (!c->check)
        fprintf(stderr, "fwdauth dmarc check: %s: %s\n", c->name, err.msg);
    return c->check ? 0 : -1;
}

static void on_body(void *ctx, const uint8_t *p, size_t n)
{
    struct dmarc_ctx *c = ctx;
    arrival_body(c->check, p, n);
}

static void print(const struct arrival *a, int json)
{
    const char *policy =
        a->dmarc.have_record ? dmarc_policy_name(a->dmarc.policy) : dmarc_policy_name(0);
    const char *dmarc = dmarc_result_name(a->dmarc.result);
    if (!json) {
        printf("dmarc=%s policy=%s from=%s spf=%s dkim=%s", dmarc, policy,
               a->from_domain[0] ? a->from_domain : "-", spf_result_name(a->spf.result),
               dkim_result_name(a->dkim_summary));
        if (a->dmarc.result != DMARC_PASS && a->dmarc.reason && a->dmarc.reason[0])
            printf(" (%s)", a->dmarc.reason);
        putchar('\n');
        return;
    }
    printf("{\"dmarc\":\"%s\",\"policy\":\"%s\",\"from\":", dmarc, policy);
    cli_json_string(stdout, a->from_domain, strlen(a->from_domain));
    printf(",\"spf\":\"%s\",\"spf_domain\":", spf_result_name(a->spf.result));
    cli_json_string(stdout, a->spf.domain, strlen(a->spf.domain));
    printf(",\"dkim\":\"%s\",\"arc\":\"%s\",\"aligned\":{\"spf\":%s,\"dkim\":%s},\"reason\":",
           dkim_result_name(a->dkim_summary), arc_cv_name(a->arc.cv),
           a->dmarc.spf_aligned ? "true" : "false", a->dmarc.dkim_aligned ? "true" : "false");
    const char *reason = a->dmarc.reason ? a->dmarc.reason : "";
    cli_json_string(stdout, reason, strlen(reason));
    fputs("}\n", stdout);
}

static int dmarc_check(int argc, char **argv)
{
    enum { OPT_IP = 256, OPT_FROM, OPT_HELO, OPT_MODE, OPT_NOW, OPT_JSON };
    static const struct option longopts[] = {
        {"ip", required_argument, NULL, OPT_IP},
        {"mail-from", required_argument, NULL, OPT_FROM},
        {"helo", required_argument, NULL, OPT_HELO},
        {"mode", required_argument, NULL, OPT_MODE},
        CLI_DNS_LONGOPTS,
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ip = NULL, *from = NULL, *helo = "", *mode = NULL;
    struct cli_dns_args da = {0};
    time_t now = time(NULL);
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        if (cli_dns_option(&da, c, optarg))
            continue;
        switch (c) {
        case OPT_IP:
            ip = optarg;
            break;
        case OPT_FROM:
            from = optarg;
            break;
        case OPT_HELO:
            helo = optarg;
            break;
        case OPT_MODE:
            mode = optarg;
            break;
        case OPT_NOW:
            if (cli_time_option("fwdauth dmarc check", "--now", optarg, &now) < 0)
                return EXIT_TROUBLE;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            dmarc_usage(stdout);
            return EXIT_POSITIVE;
        default:
            dmarc_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    if (!ip || !from || argc - optind > 1) {
        fprintf(stderr, "fwdauth dmarc check: --ip and --mail-from are required; one message\n");
        return EXIT_TROUBLE;
    }
    struct fa_config cfg;
    struct dns *dns = cli_dns_setup(&da, &cfg);
    if (!dns)
        return EXIT_TROUBLE;
    fa_err err;
    int bad_mode = mode && config_set(&cfg, "dmarc_mode", mode, "--mode", &err) < 0;
    int dmarc_mode = cfg.dmarc_mode;
    config_free(&cfg);
    if (bad_mode) {
        fprintf(stderr, "fwdauth dmarc check: %s\n", err.msg);
        dns_free(dns);
        return EXIT_TROUBLE;
    }

    struct cli_input in;
    if (cli_input_open(&in, optind < argc ? argv[optind] : NULL, 0) < 0) {
        dns_free(dns);
        return EXIT_TROUBLE;
    }
    struct dmarc_ctx ctx = {
        .in = {.ip = ip, .mail_from = from, .helo = helo, .dmarc_mode = dmarc_mode, .now = now},
        .name = in.name,
    };
    struct msg_reader r;
    msg_reader_init(&r);
    int status = EXIT_TROUBLE;
    struct arrival *a = malloc(sizeof(*a));
    if (a && cli_input_read(&in, &r, on_headers, on_body, &ctx) == 0) {
        arrival_finish(ctx.check, dns, a);
        print(a, json);
        status = a->dmarc.result == DMARC_PASS ? EXIT_POSITIVE : EXIT_NEGATIVE;
    }
    free(a);
    arrival_free(ctx.check);
    msg_reader_free(&r);
    cli_input_close(&in);
    dns_free(dns);
    return status;
}

int cmd_dmarc(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return dmarc_check(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        dmarc_usage(stdout);
        return EXIT_POSITIVE;
    }
    dmarc_usage(stderr);
    return EXIT_TROUBLE;
}
