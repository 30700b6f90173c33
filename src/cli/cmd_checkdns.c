/* fwdauth check-dns: is a domain's SPF, DMARC and DKIM published right?
 *
 * A front end over lint.h, whose rules read the records with the
 * verifier's own parsers and policy discovery (so check-dns and `fwdauth
 * dmarc check`, `dkim verify`, `spf check` agree on what is published):
 * this file parses options, opens the resolver and the key, prints the
 * findings one line each (ok:, warning:, problem:, error:) or as JSON, and
 * turns them into the exit status. */
#include "cli.h"
#include "dmarc.h"
#include "dns.h"
#include "keys.h"
#include "lint.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SELECTORS 32
#define NAME_MAX_LEN 256

/* How the text output names a check: "SPF", "DMARC", "DKIM". */
static void print_upper(const char *s)
{
    for (; *s; s++)
        putchar(toupper((unsigned char)*s));
}

static void checkdns_usage(FILE *f)
{
    fprintf(f,
            "usage: fwdauth check-dns DOMAIN [options]\n"
            "\n"
            "Checks that DOMAIN publishes SPF, DMARC and (for each -s) DKIM records\n"
            "that receivers can use, and says how to fix what is wrong: one line per\n"
            "finding, starting \"ok:\", \"warning:\", \"problem:\" or \"error:\" (could not\n"
            "look it up).\n"
            "\n"
            "options:\n"
            "  -s, --selector SEL   check the DKIM key at SEL._domainkey.DOMAIN (repeat\n"
            "                       for several selectors)\n"
            "  -k, --key FILE       private key (PEM): does the published key match it?\n"
            "                       needs -s\n"
            "  --mode M             DMARC policy discovery: rfc7489 (Public Suffix List,\n"
            "                       default) or rfc9989 (DNS Tree Walk); config dmarc_mode\n"
            "  --dns-zone FILE      answer DNS from this zone file, not the network\n"
            "  --dns-server ADDR    ask this resolver (ADDR or ADDR@PORT), not /etc/resolv.conf\n"
            "  -c FILE              configuration file (dns_zone_file, dns_server,\n"
            "                       dns_timeout, dmarc_mode: fwdauthd.conf(5))\n"
            "  --json               one JSON object: domain, status, counts, findings,\n"
            "                       verdicts\n"
            "\n"
            "exit status: 0 no problems (warnings allowed), 1 problems found,\n"
            "2 usage error, or a DNS lookup failed so the domain could not be checked\n");
}

struct verdicts {
    int mode;
    struct lint_spf spf;
    struct lint_dmarc dmarc;
    const char *const *selectors;
    size_t nsel;
    struct lint_dkim dkim[MAX_SELECTORS];
};

static void json_str(const char *s)
{
    cli_json_string(stdout, s, strlen(s));
}

/* "verdicts": what the verifier makes of each record (lint_state names). */
static void print_verdicts(const struct verdicts *v)
{
    printf(",\"verdicts\":{\"spf\":{\"state\":\"%s\",\"lookups\":%u,\"void_lookups\":%u}",
           lint_state_name(v->spf.state), v->spf.lookups, v->spf.voids);
    printf(",\"dmarc\":{\"state\":\"%s\",\"mode\":\"%s\",\"result\":\"%s\",\"policy\":",
           lint_state_name(v->dmarc.state), dmarc_mode_name(v->mode),
           dmarc_result_name(v->dmarc.result));
    json_str(dmarc_policy_name(v->dmarc.policy));
    printf(",\"as_none\":%s,\"record_domain\":", v->dmarc.as_none ? "true" : "false");
    json_str(v->dmarc.record_domain);
    fputs(",\"org_domain\":", stdout);
    json_str(v->dmarc.org_domain);
    fputs("},\"dkim\":[", stdout);
    for (size_t i = 0; i < v->nsel; i++) {
        const struct lint_dkim *k = &v->dkim[i];
        printf("%s{\"selector\":", i ? "," : "");
        json_str(v->selectors[i]);
        printf(",\"state\":\"%s\",\"key_type\":\"%s\",\"bits\":%u,\"testing\":%s",
               lint_state_name(k->state),
               k->key_type == KEY_RSA       ? "rsa"
               : k->key_type == KEY_ED25519 ? "ed25519"
                                            : "",
               k->bits, k->testing ? "true" : "false");
        if (k->matches >= 0)
            printf(",\"matches_key\":%s", k->matches ? "true" : "false");
        fputc('}', stdout);
    }
    fputs("]}", stdout);
}

static void print_report(const struct lint_report *r, const struct verdicts *v, const char *domain,
                         int json, int status)
{
    if (!json) {
        for (size_t i = 0; i < r->n; i++) {
            printf("%s: ", lint_level_name(r->f[i].level));
            print_upper(lint_check_name(r->f[i].check));
            printf(": %s\n", r->f[i].text);
        }
        if (r->dropped)
            printf("(%zu more findings not shown: at most %zu are kept)\n", r->dropped, r->max);
        return;
    }
    static const char *const statuses[] = {"ok", "problems", "error"};
    fputs("{\"domain\":", stdout);
    json_str(domain);
    printf(",\"status\":\"%s\",\"problems\":%zu,\"warnings\":%zu,\"errors\":%zu,\"findings\":[",
           statuses[status], r->count[LINT_PROBLEM], r->count[LINT_WARNING], r->count[LINT_ERROR]);
    for (size_t i = 0; i < r->n; i++) {
        printf("%s{\"level\":\"%s\",\"check\":\"%s\",\"text\":", i ? "," : "",
               lint_level_name(r->f[i].level), lint_check_name(r->f[i].check));
        json_str(r->f[i].text);
        fputc('}', stdout);
    }
    fputc(']', stdout);
    if (r->dropped)
        printf(",\"dropped\":%zu", r->dropped);
    print_verdicts(v);
    fputs("}\n", stdout);
}

int cmd_check_dns(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_MODE };
    static const struct option longopts[] = {
        {"selector", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"mode", required_argument, NULL, OPT_MODE},
        CLI_DNS_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *selectors[MAX_SELECTORS];
    size_t nsel = 0;
    const char *keyfile = NULL;
    struct cli_dns_args da = {0};
    int json = 0, c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "s:k:c:h", longopts, NULL)) != -1) {
        if (cli_dns_option(&da, c, optarg))
            continue;
        switch (c) {
        case 's':
            if (nsel == MAX_SELECTORS) {
                fprintf(stderr, "fwdauth check-dns: at most %d selectors\n", MAX_SELECTORS);
                return EXIT_TROUBLE;
            }
            if (!*optarg || strlen(optarg) >= NAME_MAX_LEN) {
                fprintf(stderr, "fwdauth check-dns: bad selector \"%s\"\n", optarg);
                return EXIT_TROUBLE;
            }
            selectors[nsel++] = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case OPT_MODE:
            da.mode = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            checkdns_usage(stdout);
            return EXIT_POSITIVE;
        default:
            checkdns_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, optind >= argc ? "fwdauth check-dns: no domain given\n"
                                       : "fwdauth check-dns: one domain at a time\n");
        checkdns_usage(stderr);
        return EXIT_TROUBLE;
    }
    char domain[NAME_MAX_LEN];
    size_t dl = strlen(argv[optind]);
    if (dl > 0 && argv[optind][dl - 1] == '.')
        dl--;
    if (dl == 0 || dl > 253 || memchr(argv[optind], ' ', dl) || memchr(argv[optind], '/', dl)) {
        fprintf(stderr, "fwdauth check-dns: \"%s\" is not a domain name\n", argv[optind]);
        return EXIT_TROUBLE;
    }
    memcpy(domain, argv[optind], dl);
    domain[dl] = '\0';
    if (keyfile && nsel == 0) {
        fprintf(stderr, "fwdauth check-dns: -k needs the selector (-s) it is published under\n");
        return EXIT_TROUBLE;
    }
    struct fa_config cfg;
    struct dns *d = cli_dns_setup(&da, &cfg);
    if (!d)
        return EXIT_TROUBLE;
    fa_err err;
    int dmarc_mode = cfg.dmarc_mode;
    config_free(&cfg);
    struct fa_key *mine = NULL;
    if (keyfile && !(mine = key_load_private(keyfile, geteuid(), &err))) {
        fprintf(stderr, "fwdauth check-dns: %s\n", err.msg);
        dns_free(d);
        return EXIT_TROUBLE;
    }
    if (nsel == 0 && !json)
        fprintf(stderr, "fwdauth check-dns: no -s SELECTOR given: DKIM keys not checked\n");

    struct lint_finding *f = calloc(LINT_FINDINGS_MAX, sizeof(*f));
    struct verdicts *v = calloc(1, sizeof(*v));
    if (!f || !v) {
        fprintf(stderr, "fwdauth check-dns: out of memory\n");
        free(f);
        free(v);
        key_free(mine);
        dns_free(d);
        return EXIT_TROUBLE;
    }
    struct lint_report r;
    lint_report_init(&r, f, LINT_FINDINGS_MAX);
    v->mode = dmarc_mode;
    v->selectors = selectors;
    v->nsel = nsel;
    lint_spf(d, domain, &r, &v->spf);
    lint_dmarc(d, dmarc_mode, domain, &r, &v->dmarc);
    for (size_t i = 0; i < nsel; i++)
        lint_dkim(d, domain, selectors[i], mine, keyfile, &r, &v->dkim[i]);
    dns_free(d);
    key_free(mine);

    int status = r.count[LINT_ERROR]     ? EXIT_TROUBLE
                 : r.count[LINT_PROBLEM] ? EXIT_NEGATIVE
                                         : EXIT_POSITIVE;
    print_report(&r, v, domain, json, status);
    if (status == EXIT_TROUBLE && !json)
        fprintf(stderr,
                "fwdauth check-dns: %s could not be checked completely: DNS lookups failed\n",
                domain);
    free(f);
    free(v);
    return status;
}
