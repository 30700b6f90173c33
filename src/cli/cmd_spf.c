/* fwdauth spf check: evaluate SPF (RFC 7208) for a client IP and sender. */
#include "cli.h"
#include "dns.h"
#include "spf.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void spf_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth spf check [options]\n"
               "\n"
               "  check    evaluate the SPF record of a sender for a client IP (RFC 7208)\n"
               "\n"
               "'fwdauth spf check --help' describes the options.\n");
}

static void check_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth spf check --ip IP --mail-from ADDR [--helo NAME] [options]\n"
               "\n"
               "Evaluates SPF (RFC 7208) for mail from ADDR (the MAIL FROM address, without\n"
               "<>; \"\" for the null sender, then postmaster@NAME is checked) sent by the\n"
               "client at IP (IPv4 or IPv6) that said HELO NAME. Prints one line:\n"
               "  RESULT domain=DOMAIN [mechanism=TERM] [explanation=\"TEXT\"] (REASON)\n"
               "where RESULT is pass, fail, softfail, neutral, none, temperror or permerror,\n"
               "DOMAIN the domain checked, TERM the term that decided, TEXT the domain's\n"
               "exp= explanation (fail only) and REASON why, in words.\n"
               "\n"
               "  --ip IP            the SMTP client's address (required)\n"
               "  --mail-from ADDR   the MAIL FROM address (required unless --check-helo)\n"
               "  --helo NAME        the HELO/EHLO name (for %%{h}, and the null sender)\n"
               "  --check-helo       check the HELO identity (RFC 7208 section 2.3) instead\n"
               "  --receiver NAME    this host's name for %%{r} in explanations\n"
               "  --now EPOCH        the time for %%{t} in explanations\n"
               "  --dns-zone FILE    answer DNS from this zone file (offline, tests)\n"
               "  --dns-server ADDR  ask this resolver (ADDR or ADDR@PORT)\n"
               "  -c FILE            configuration file (dns_* settings)\n"
               "  --json             one JSON object with the keys result, domain, identity\n"
               "                     (\"mailfrom\" or \"helo\"), sender, ip, helo, mechanism,\n"
               "                     explanation (\"\" unless fail with exp=), reason, lookups\n"
               "                     (DNS-querying terms evaluated) and void_lookups\n"
               "\n"
               "exit status: 0 pass, 1 any other result, 2 usage, configuration or I/O error\n");
}

static void json_key(const char *key, const char *v, int first)
{
    printf("%s\"%s\":", first ? "{" : ",", key);
    cli_json_string(stdout, v, strlen(v));
}

static int cmd_spf_check(int argc, char **argv)
{
    enum { OPT_IP = 256, OPT_FROM, OPT_HELO, OPT_CHECK_HELO, OPT_RECEIVER, OPT_NOW, OPT_JSON };
    static const struct option longopts[] = {
        {"ip", required_argument, NULL, OPT_IP},
        {"mail-from", required_argument, NULL, OPT_FROM},
        {"helo", required_argument, NULL, OPT_HELO},
        {"check-helo", no_argument, NULL, OPT_CHECK_HELO},
        {"receiver", required_argument, NULL, OPT_RECEIVER},
        {"now", required_argument, NULL, OPT_NOW},
        CLI_DNS_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct spf_request rq = {0};
    struct cli_dns_args da = {0};
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        if (cli_dns_option(&da, c, optarg))
            continue;
        switch (c) {
        case OPT_IP:
            rq.ip = optarg;
            break;
        case OPT_FROM:
            rq.mail_from = optarg;
            break;
        case OPT_HELO:
            rq.helo = optarg;
            break;
        case OPT_CHECK_HELO:
            rq.helo_identity = 1;
            break;
        case OPT_RECEIVER:
            rq.receiver = optarg;
            break;
        case OPT_NOW:
            if (cli_time_option("fwdauth spf check", "--now", optarg, &rq.now) < 0)
                return EXIT_TROUBLE;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            check_usage(stdout);
            return EXIT_POSITIVE;
        default:
            check_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fwdauth spf check: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_TROUBLE;
    }
    if (!rq.ip) {
        fprintf(stderr, "fwdauth spf check: --ip is required\n");
        check_usage(stderr);
        return EXIT_TROUBLE;
    }
    if (!rq.mail_from && !rq.helo_identity) {
        fprintf(stderr, "fwdauth spf check: --mail-from is required (\"\" for the null "
                        "sender), or --check-helo\n");
        return EXIT_TROUBLE;
    }
    if (rq.helo_identity && !rq.helo) {
        fprintf(stderr, "fwdauth spf check: --check-helo needs --helo\n");
        return EXIT_TROUBLE;
    }
    struct fa_config cfg;
    struct dns *dns = cli_dns_setup(&da, &cfg);
    if (!dns)
        return EXIT_TROUBLE;
    config_free(&cfg);
    struct spf_result *r = malloc(sizeof(*r));
    if (!r) {
        fprintf(stderr, "fwdauth spf check: out of memory\n");
        dns_free(dns);
        return EXIT_TROUBLE;
    }
    int res = spf_check_request(dns, &rq, r);
    dns_free(dns);
    if (res < 0) {
        fprintf(stderr, "fwdauth spf check: %s\n", r->reason);
        free(r);
        return EXIT_TROUBLE;
    }
    if (json) {
        json_key("result", spf_result_name(res), 1);
        json_key("domain", r->domain, 0);
        json_key("identity", rq.helo_identity ? "helo" : "mailfrom", 0);
        json_key("sender", r->sender, 0);
        json_key("ip", rq.ip, 0);
        json_key("helo", rq.helo ? rq.helo : "", 0);
        json_key("mechanism", r->mechanism, 0);
        json_key("explanation", r->explanation, 0);
        json_key("reason", r->reason, 0);
        printf(",\"lookups\":%u,\"void_lookups\":%u}\n", r->lookups, r->void_lookups);
    } else {
        printf("%s domain=%s", spf_result_name(res), r->domain[0] ? r->domain : "-");
        if (r->mechanism[0])
            printf(" mechanism=%s", r->mechanism);
        if (r->explanation[0]) {
            fputs(" explanation=", stdout);
            cli_json_string(stdout, r->explanation, strlen(r->explanation));
        }
        printf(" (%s)\n", r->reason);
    }
    free(r);
    return res == SPF_PASS ? EXIT_POSITIVE : EXIT_NEGATIVE;
}

int cmd_spf(int argc, char **argv)
{
    if (argc < 2) {
        spf_usage(stderr);
        return EXIT_TROUBLE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        spf_usage(stdout);
        return EXIT_POSITIVE;
    }
    if (strcmp(argv[1], "check") == 0) {
        cli_enter(argv + 1);
        return cmd_spf_check(argc - 1, argv + 1);
    }
    fprintf(stderr, "fwdauth spf: unknown action \"%s\"\n\n", argv[1]);
    spf_usage(stderr);
    return EXIT_TROUBLE;
}
