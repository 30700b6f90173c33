/* fwdauth dmarc check: SPF, DKIM and DMARC of a message, as a receiver sees it. */
#include "arrival.h"
#include "cli.h"
#include "input.h"
#include "keytable.h"
#include "policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
               "  -c FILE            configuration file (dns_*, dmarc_mode; with --explain\n"
               "                     every setting of the milter's policy)\n"
               "  --explain          also print what fwdauthd's milter would do with the\n"
               "                     message under -c FILE (the same policy function), as\n"
               "                     \"decision: continue|reject|tempfail [REPLY] hold=..\n"
               "                     drop_forwarded=.. sign=.. seal=.. rewrite_from=..\n"
               "                     srs=.. (why)\"; with --json, a \"decision\" member\n"
               "  --rcpt ADDR        with --explain: a recipient (repeatable; classified\n"
               "                     by forward_recipients; default: one local recipient)\n"
               "  --originating      with --explain: the message comes from our users\n"
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

/* One line, or one JSON object (left open when close is 0: --explain adds to it). */
static void print(const struct arrival *a, int close, int json)
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
    if (close)
        fputs("}\n", stdout);
}

/* The domain of the KeyTable entry forward_signing_key names, for the
 * policy's alignment question; "" when there is none. */
static int forward_key_domain(const struct fa_config *cfg, char *out, size_t outsz)
{
    out[0] = '\0';
    if (!cfg->forward_signing_key[0] || !cfg->dkim_key_table[0])
        return 0;
    fa_err err;
    struct keytable *kt =
        keytable_load(cfg->dkim_key_table, cfg->dkim_signing_table, cli_secrets_owner(cfg), &err);
    if (!kt) {
        fprintf(stderr, "fwdauth dmarc check: %s\n", err.msg);
        return -1;
    }
    struct keytable_match m;
    if (keytable_find_name(kt, cfg->forward_signing_key, "", &m))
        snprintf(out, outsz, "%s", m.domain);
    keytable_free(kt);
    return 0;
}

struct explain {
    int on, originating;
    const char *rcpt[64];
    size_t nrcpt;
};

static const char *verdict_name(int v)
{
    return v == POLICY_REJECT ? "reject" : v == POLICY_TEMPFAIL ? "tempfail" : "continue";
}

/* What the milter would do: the policy function it calls, on the same
 * arrival results, with the recipients classified as it classifies them. */
static int explain(const struct explain *x, const struct fa_config *cfg, struct dns *dns,
                   const struct arrival *a, const char *mail_from, int json)
{
    struct policy_input in = {
        .a = x->originating ? NULL : a,
        .from_state = a->from_state,
        .originating = x->originating,
        .null_sender = mail_from[0] == '\0',
        .have_forward_key = cfg->forward_signing_key[0] != '\0',
        .have_user_key = cfg->dkim_signing_table[0] != '\0',
        .have_arc_key = cfg->arc_key[0] != '\0',
        .have_srs = cfg->srs_domain[0] != '\0',
    };
    for (size_t i = 0; i < x->nrcpt; i++) {
        if (policy_forwarded_rcpt(cfg, x->rcpt[i]))
            in.forwarded = 1;
        else
            in.local = 1;
    }
    if (!x->nrcpt)
        in.local = 1;
    char kd[256];
    if (forward_key_domain(cfg, kd, sizeof(kd)) < 0)
        return -1;
    in.fwd_key_aligned = kd[0] && arrival_aligns(dns, cfg->dmarc_mode, a, kd);
    struct policy_decision d;
    policy_decide(&in, cfg, &d);
    const char *flags[][2] = {
        {"hold", d.hold ? "yes" : "no"},
        {"drop_forwarded", d.drop_forwarded ? "yes" : "no"},
        {"sign", d.sign_user || d.sign_forwarder ? "yes" : "no"},
        {"seal", d.seal ? "yes" : "no"},
        {"rewrite_from", d.rewrite_from ? "yes" : "no"},
        {"srs", d.srs ? "yes" : "no"},
    };
    if (!json) {
        printf("decision: %s%s%s", verdict_name(d.verdict), d.reply[0] ? " " : "", d.reply);
        for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
            printf(" %s=%s", flags[i][0], flags[i][1]);
        if (d.why[0])
            printf(" (%s)", d.why);
        putchar('\n');
        return 0;
    }
    printf(",\"decision\":{\"verdict\":\"%s\",\"reply\":", verdict_name(d.verdict));
    cli_json_string(stdout, d.reply, strlen(d.reply));
    printf(",\"why\":");
    cli_json_string(stdout, d.why, strlen(d.why));
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        printf(",\"%s\":%s", flags[i][0], flags[i][1][0] == 'y' ? "true" : "false");
    putchar('}');
    return 0;
}

static int dmarc_check(int argc, char **argv)
{
    enum {
        OPT_IP = 256,
        OPT_FROM,
        OPT_HELO,
        OPT_MODE,
        OPT_NOW,
        OPT_JSON,
        OPT_EXPLAIN,
        OPT_RCPT,
        OPT_ORIG
    };
    static const struct option longopts[] = {
        {"ip", required_argument, NULL, OPT_IP},
        {"mail-from", required_argument, NULL, OPT_FROM},
        {"helo", required_argument, NULL, OPT_HELO},
        {"mode", required_argument, NULL, OPT_MODE},
        CLI_DNS_LONGOPTS,
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        {"rcpt", required_argument, NULL, OPT_RCPT},
        {"originating", no_argument, NULL, OPT_ORIG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ip = NULL, *from = NULL, *helo = "";
    struct cli_dns_args da = {0};
    time_t now = time(NULL);
    struct explain x = {0};
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
            da.mode = optarg;
            break;
        case OPT_NOW:
            if (cli_time_option("fwdauth dmarc check", "--now", optarg, &now) < 0)
                return EXIT_TROUBLE;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_EXPLAIN:
            x.on = 1;
            break;
        case OPT_RCPT:
            if (x.nrcpt == sizeof(x.rcpt) / sizeof(x.rcpt[0])) {
                fprintf(stderr, "fwdauth dmarc check: at most %zu --rcpt\n", x.nrcpt);
                return EXIT_TROUBLE;
            }
            x.rcpt[x.nrcpt++] = optarg;
            break;
        case OPT_ORIG:
            x.originating = 1;
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
    int dmarc_mode = cfg.dmarc_mode;
    if ((x.nrcpt || x.originating) && !x.on) {
        fprintf(stderr, "fwdauth dmarc check: --rcpt and --originating go with --explain\n");
        config_free(&cfg);
        dns_free(dns);
        return EXIT_TROUBLE;
    }

    struct cli_input in;
    if (cli_input_open(&in, optind < argc ? argv[optind] : NULL, 0) < 0) {
        config_free(&cfg);
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
        print(a, json && !x.on, json);
        if (x.on && explain(&x, &cfg, dns, a, from, json) < 0)
            status = EXIT_TROUBLE;
        else
            status = a->dmarc.result == DMARC_PASS ? EXIT_POSITIVE : EXIT_NEGATIVE;
        if (json && x.on)
            fputs("}\n", stdout);
    }
    free(a);
    arrival_free(ctx.check);
    msg_reader_free(&r);
    cli_input_close(&in);
    config_free(&cfg);
    dns_free(dns);
    return status;
}

int cmd_dmarc(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        cli_enter(argv + 1);
        return dmarc_check(argc - 1, argv + 1);
    }
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        dmarc_usage(stdout);
        return EXIT_POSITIVE;
    }
    dmarc_usage(stderr);
    return EXIT_TROUBLE;
}
