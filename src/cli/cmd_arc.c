/* fwdauth arc verify|sign: validate a message's ARC chain, or add the next ARC set. */
#include "arc.h"
#include "cli.h"
#include "dkim.h"
#include "input.h"
#include "signing.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void arc_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth arc verify [--dns-zone FILE] [--dns-server ADDR] [--now EPOCH]\n"
               "                          [--json] [FILE | < message]\n"
               "       fwdauth arc sign -d DOMAIN -s SELECTOR -k KEYFILE --authserv-id ID\n"
               "                        [options] [FILE | < message]\n"
               "\n"
               "verify validates the ARC chain (RFC 8617 section 5.2) and prints\n"
               "  cv=none|pass|fail [reason]\n"
               "  i=N as=RESULT ams=RESULT d=DOMAIN s=SELECTOR [(reason)]   one line per set\n"
               "sign validates the chain, then writes the message with the next ARC set\n"
               "(ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) on top. The\n"
               "ARC-Authentication-Results copies the message's Authentication-Results for\n"
               "--authserv-id, with arc=<chain status>. A chain whose latest seal says\n"
               "cv=fail is not extended: the message is written unchanged (exit 1).\n"
               "\n"
               "  -d DOMAIN          sealing domain (d=)\n"
               "  -s SELECTOR        selector (s=); the key is at SELECTOR._domainkey.DOMAIN\n"
               "  -k KEYFILE         PEM private key (RSA 1024-4096 bits or Ed25519)\n"
               "  -a ALG             rsa-sha256 (default for RSA keys) or ed25519-sha256\n"
               "  --authserv-id ID   our authserv-id: whose Authentication-Results to copy\n"
               "  -H h1:h2:...       fields the ARC-Message-Signature signs (default: the\n"
               "                     usual ones, oversigned, and any DKIM-Signature)\n"
               "  --timestamp T      t= value (seconds since 1970; default now)\n"
               "  --dns-zone FILE    answer DNS from this zone file (offline, tests)\n"
               "  --dns-server ADDR  ask this resolver (ADDR or ADDR@PORT)\n"
               "  --now EPOCH        check t= and x= against this time\n"
               "  --json             verify: one JSON object for the message\n"
               "  -c FILE            configuration file (dns_* settings)\n"
               "\n"
               "exit status: verify 0 pass, 1 none or fail; sign 0 sealed, 1 not sealed;\n"
               "2 usage, key, DNS or I/O error\n");
}

struct arc_opts {
    struct cli_dns_args dns;
    const char *domain, *selector, *keyfile, *servid, *headers;
    time_t now, ts;
    int json, alg;
};

/* Parse the options of either action; 0, 1 (help printed) or -1 (usage error printed). */
static int parse_opts(int argc, char **argv, struct arc_opts *o, const char *prog)
{
    enum { OPT_NOW = 256, OPT_JSON, OPT_SERVID, OPT_TS };
    static const struct option longopts[] = {
        CLI_DNS_LONGOPTS,
        {"now", required_argument, NULL, OPT_NOW},
        {"json", no_argument, NULL, OPT_JSON},
        {"authserv-id", required_argument, NULL, OPT_SERVID},
        {"timestamp", required_argument, NULL, OPT_TS},
        {"domain", required_argument, NULL, 'd'},
        {"selector", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"algorithm", required_argument, NULL, 'a'},
        {"headers", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->now = time(NULL);
    o->alg = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:s:k:a:H:c:h", longopts, NULL)) != -1) {
        if (cli_dns_option(&o->dns, c, optarg))
            continue;
        switch (c) {
        case OPT_NOW:
        case OPT_TS:
            if (cli_time_option(prog, c == OPT_NOW ? "--now" : "--timestamp", optarg,
                                c == OPT_NOW ? &o->now : &o->ts) < 0)
                return -1;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_SERVID:
            o->servid = optarg;
            break;
        case 'd':
            o->domain = optarg;
            break;
        case 's':
            o->selector = optarg;
            break;
        case 'k':
            o->keyfile = optarg;
            break;
        case 'H':
            o->headers = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "rsa-sha256") == 0)
                o->alg = DKIM_RSA_SHA256;
            else if (strcmp(optarg, "ed25519-sha256") == 0)
                o->alg = DKIM_ED25519_SHA256;
            else {
                fprintf(stderr, "%s: -a wants rsa-sha256 or ed25519-sha256\n", prog);
                return -1;
            }
            break;
        case 'h':
            arc_usage(stdout);
            return 1;
        default:
            arc_usage(stderr);
            return -1;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "%s: one message at a time\n", prog);
        return -1;
    }
    return 0;
}

static struct dns *open_dns(const struct arc_opts *o)
{
    struct fa_config cfg;
    struct dns *dns = cli_dns_setup(&o->dns, &cfg);
    if (dns)
        config_free(&cfg);
    return dns;
}

static void print_result(const char *name, const struct arc_result *r, int json)
{
    if (!json) {
        printf("cv=%s%s%s\n", arc_cv_name(r->cv), r->reason[0] ? " " : "", r->reason);
        for (unsigned i = 0; i < r->nsets; i++) {
            const struct arc_set_result *s = &r->sets[i];
            printf("i=%u as=%s ams=%s d=%s s=%s", s->instance, dkim_result_name(s->as_result),
                   dkim_result_name(s->ams_result), s->as_domain, s->as_selector);
            if (strcmp(s->as_domain, s->ams_domain) != 0 ||
                strcmp(s->as_selector, s->ams_selector) != 0)
                printf(" ams.d=%s ams.s=%s", s->ams_domain, s->ams_selector);
            if (s->as_reason && s->as_reason[0])
                printf(" (as: %s)", s->as_reason);
            if (s->ams_reason && s->ams_reason[0])
                printf(" (ams: %s)", s->ams_reason);
            putchar('\n');
        }
        return;
    }
    fputs("{\"file\":", stdout);
    cli_json_string(stdout, name, strlen(name));
    printf(",\"cv\":\"%s\",\"reason\":", arc_cv_name(r->cv));
    cli_json_string(stdout, r->reason, strlen(r->reason));
    printf(",\"temperror\":%s,\"oldest_pass\":%u,\"sets\":[", r->temperror ? "true" : "false",
           r->oldest_pass);
    for (unsigned i = 0; i < r->nsets; i++) {
        const struct arc_set_result *s = &r->sets[i];
        const char *fields[][2] = {
            {"as_domain", s->as_domain},   {"as_selector", s->as_selector},
            {"ams_domain", s->ams_domain}, {"ams_selector", s->ams_selector},
            {"as_reason", s->as_reason},   {"ams_reason", s->ams_reason},
        };
        printf("%s{\"instance\":%u,\"as\":\"%s\",\"ams\":\"%s\",\"cv\":\"%s\"", i ? "," : "",
               s->instance, dkim_result_name(s->as_result), dkim_result_name(s->ams_result),
               s->cv < 0 ? "" : arc_cv_name(s->cv));
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
            const char *v = fields[k][1] ? fields[k][1] : "";
            printf(",\"%s\":", fields[k][0]);
            cli_json_string(stdout, v, strlen(v));
        }
        putchar('}');
    }
    fputs("]}\n", stdout);
}

/* One pass over the message for both actions. */
struct pass_ctx {
    struct arc_verifier *v;
    struct arc_sealer *s;
    const struct arc_seal_spec *spec;
    time_t now;
    const char *prog, *name;
};

static int on_headers(void *ctx, struct msg_reader *r)
{
    struct pass_ctx *c = ctx;
    fa_err err;
    if (c->spec && cli_check_signable(r, c->prog, c->name) < 0)
        return -1;
    if (c->spec)
        c->s = arc_sealer_new(c->spec, r->headers.h, r->headers.n, c->now, &err);
    else
        c->v = arc_verifier_new(r->headers.h, r->headers.n, c->now, &err);
    if (!c->s && !c->v)
        fprintf(stderr, "%s: %s: %s\n", c->prog, c->name, err.msg);
    return c->s || c->v ? 0 : -1;
}

static void on_body(void *ctx, const uint8_t *p, size_t n)
{
    struct pass_ctx *c = ctx;
    if (c->s)
        arc_sealer_body(c->s, p, n);
    else
        arc_verifier_body(c->v, p, n);
}

static int arc_verify(int argc, char **argv)
{
    const char *prog = "fwdauth arc verify";
    struct arc_opts o;
    int rc = parse_opts(argc, argv, &o, prog);
    if (rc != 0)
        return rc > 0 ? EXIT_POSITIVE : EXIT_TROUBLE;
    struct dns *dns = open_dns(&o);
    if (!dns)
        return EXIT_TROUBLE;
    struct cli_input in;
    if (cli_input_open(&in, optind < argc ? argv[optind] : NULL, 0) < 0) {
        dns_free(dns);
        return EXIT_TROUBLE;
    }
    struct msg_reader r;
    msg_reader_init(&r);
    struct pass_ctx pc = {.now = o.now, .prog = prog, .name = in.name};
    struct arc_result *res = malloc(sizeof(*res));
    int status = EXIT_TROUBLE;
    if (res && cli_input_read(&in, &r, on_headers, on_body, &pc) == 0) {
        arc_verifier_finish(pc.v, dns, res);
        print_result(in.name, res, o.json);
        status = res->cv == ARC_CV_PASS ? EXIT_POSITIVE : EXIT_NEGATIVE;
    }
    free(res);
    arc_verifier_free(pc.v);
    msg_reader_free(&r);
    cli_input_close(&in);
    dns_free(dns);
    return status;
}

static int arc_sign(int argc, char **argv)
{
    const char *prog = "fwdauth arc sign";
    struct arc_opts o;
    int rc = parse_opts(argc, argv, &o, prog);
    if (rc != 0)
        return rc > 0 ? EXIT_POSITIVE : EXIT_TROUBLE;
    if (o.json) {
        /* sign's output is the sealed message; JSON beside it would be
         * read as part of it. */
        fprintf(stderr, "%s: --json is for arc verify (sign writes the sealed message)\n", prog);
        return EXIT_TROUBLE;
    }
    if (!o.domain || !o.selector || !o.keyfile || !o.servid) {
        fprintf(stderr, "%s: -d, -s, -k and --authserv-id are required\n", prog);
        return EXIT_TROUBLE;
    }
    fa_err err;
    struct fa_key *key = key_load_private(o.keyfile, geteuid(), &err);
    if (!key) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return EXIT_TROUBLE;
    }
    struct arc_seal_spec spec = {
        .domain = o.domain,
        .selector = o.selector,
        .key = key,
        .alg = o.alg,
        .headers = o.headers,
        .timestamp = o.ts,
        .authserv_id = o.servid,
    };
    struct dns *dns = open_dns(&o);
    struct cli_input in;
    if (!dns || cli_input_open(&in, optind < argc ? argv[optind] : NULL, 1) < 0) {
        dns_free(dns);
        key_free(key);
        return EXIT_TROUBLE;
    }
    struct msg_reader r;
    msg_reader_init(&r);
    struct pass_ctx pc = {.spec = &spec, .now = o.now, .prog = prog, .name = in.name};
    struct arc_result *res = malloc(sizeof(*res));
    char *fields[3] = {NULL, NULL, NULL};
    int status = EXIT_TROUBLE;
    if (!res || cli_input_read(&in, &r, on_headers, on_body, &pc) < 0)
        goto done;
    rc =
        arc_sealer_finish(pc.s, dns, r.crlf || r.headers.n == 0 ? "\r\n" : "\n", res, fields, &err);
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, in.name, err.msg);
        goto done;
    }
    if (rc == ARC_NOT_SEALED)
        fprintf(stderr, "%s: %s: not sealed: %s\n", prog, in.name, err.msg);
    for (int i = 0; i < 3 && fields[0]; i++)
        fputs(fields[i], stdout);
    if (cli_input_copy(&in, stdout) < 0)
        goto done;
    if (fflush(stdout) != 0) {
        fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
        goto done;
    }
    status = rc == ARC_SEALED ? EXIT_POSITIVE : EXIT_NEGATIVE;
done:
    for (int i = 0; i < 3; i++)
        free(fields[i]);
    free(res);
    arc_sealer_free(pc.s);
    msg_reader_free(&r);
    cli_input_close(&in);
    dns_free(dns);
    key_free(key);
    return status;
}

int cmd_arc(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0) {
        cli_enter(argv + 1);
        return arc_verify(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "sign") == 0) {
        cli_enter(argv + 1);
        return arc_sign(argc - 1, argv + 1);
    }
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        arc_usage(stdout);
        return EXIT_POSITIVE;
    }
    if (argc >= 2)
        fprintf(stderr, "fwdauth arc: unknown action \"%s\"\n\n", argv[1]);
    arc_usage(stderr);
    return EXIT_TROUBLE;
}
