/* fwdauth check-dns: is a domain's SPF, DMARC and DKIM published right?
 * With -c and no domain: every domain and key the configuration names
 * (cfgkeys.h, doctor.h's plan), without naming them.
 *
 * A front end over lint.h, whose rules read the records with the
 * verifier's own parsers and policy discovery (so check-dns and `fwdauth
 * dmarc check`, `dkim verify`, `spf check` agree on what is published):
 * this file parses options, opens the resolver and the key, prints the
 * findings one line each (ok:, warning:, problem:, error:) or as JSON, and
 * turns them into the exit status. */
#include "cfgkeys.h"
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
#include <strings.h>
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
            "       fwdauth check-dns -c FILE [options]\n"
            "\n"
            "Checks that DOMAIN publishes SPF, DMARC and (for each -s) DKIM records\n"
            "that receivers can use, and says how to fix what is wrong: one line per\n"
            "finding, starting \"ok:\", \"warning:\", \"problem:\" or \"error:\" (could not\n"
            "look it up).\n"
            "With -c FILE and no DOMAIN, checks every domain and key FILE names:\n"
            "srs_domain (SPF, MX), from_rewrite_address's domain (SPF, DMARC), each\n"
            "KeyTable entry (its domain's SPF and DMARC, its key against the private\n"
            "key file) and the ARC key; a line \"DOMAIN (what names it):\" heads each.\n"
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
            "                       dns_timeout, dmarc_mode: fwdauthd.conf(5)); without\n"
            "                       DOMAIN, what it names is checked\n"
            "  --json               one JSON object: domain, status, counts, findings,\n"
            "                       verdicts (with -c alone: config, status, counts and\n"
            "                       domains, one such object each)\n"
            "\n"
            "exit status: 0 no problems (warnings allowed), 1 problems found,\n"
            "2 usage error, or a DNS lookup failed so the domain could not be checked\n");
}

struct verdicts {
    int mode;
    int has_spf, has_dmarc, has_mx; /* what was checked (all but MX for one DOMAIN) */
    struct lint_spf spf;
    struct lint_dmarc dmarc;
    struct lint_mx mx;
    const char *const *selectors;
    const char *const *keyfiles; /* -c: each selector's key file; NULL otherwise */
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
    fputs(",\"verdicts\":{", stdout);
    if (v->has_spf)
        printf("\"spf\":{\"state\":\"%s\",\"lookups\":%u,\"void_lookups\":%u},",
               lint_state_name(v->spf.state), v->spf.lookups, v->spf.voids);
    if (v->has_dmarc) {
        printf("\"dmarc\":{\"state\":\"%s\",\"mode\":\"%s\",\"result\":\"%s\",\"policy\":",
               lint_state_name(v->dmarc.state), dmarc_mode_name(v->mode),
               dmarc_result_name(v->dmarc.result));
        json_str(dmarc_policy_name(v->dmarc.policy));
        printf(",\"as_none\":%s,\"record_domain\":", v->dmarc.as_none ? "true" : "false");
        json_str(v->dmarc.record_domain);
        fputs(",\"org_domain\":", stdout);
        json_str(v->dmarc.org_domain);
        fputs("},", stdout);
    }
    if (v->has_mx)
        printf("\"mx\":{\"state\":\"%s\",\"records\":%zu,\"null_mx\":%s,\"implicit\":%s},",
               lint_state_name(v->mx.state), v->mx.n, v->mx.null_mx ? "true" : "false",
               v->mx.implicit ? "true" : "false");
    fputs("\"dkim\":[", stdout);
    for (size_t i = 0; i < v->nsel; i++) {
        const struct lint_dkim *k = &v->dkim[i];
        printf("%s{\"selector\":", i ? "," : "");
        json_str(v->selectors[i]);
        if (v->keyfiles) {
            fputs(",\"key_file\":", stdout);
            json_str(v->keyfiles[i]);
        }
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

static const char *const statuses[] = {"ok", "problems", "error"};

static int status_of(const size_t *count)
{
    return count[LINT_ERROR] ? EXIT_TROUBLE : count[LINT_PROBLEM] ? EXIT_NEGATIVE : EXIT_POSITIVE;
}

/* One domain's findings: text lines, or one JSON object (roles: with -c,
 * what names the domain). */
static void print_report(const struct lint_report *r, const struct verdicts *v, const char *domain,
                         const char *roles, int json, int status)
{
    if (!json) {
        if (roles)
            printf("%s (%s):\n", domain, roles);
        for (size_t i = 0; i < r->n; i++) {
            printf("%s: ", lint_level_name(r->f[i].level));
            print_upper(lint_check_name(r->f[i].check));
            printf(": %s\n", r->f[i].text);
        }
        if (r->dropped)
            printf("(%zu more findings not shown: at most %zu are kept)\n", r->dropped, r->max);
        return;
    }
    fputs("{\"domain\":", stdout);
    json_str(domain);
    if (roles) {
        fputs(",\"roles\":[", stdout);
        const char *p = roles;
        for (int first = 1; *p; first = 0) {
            const char *e = strstr(p, ", ");
            size_t n = e ? (size_t)(e - p) : strlen(p);
            fputs(first ? "" : ",", stdout);
            cli_json_string(stdout, p, n);
            p += n + (e ? 2 : 0);
        }
        fputc(']', stdout);
    }
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
    fputs(roles ? "}" : "}\n", stdout);
}

/* check-dns -c FILE: every domain and key the configuration names. */
static int check_configured(struct dns *d, const struct fa_config *cfg, const char *conf, int json)
{
    struct cfgkeys ck;
    if (cfgkeys_load(cfg, &ck) < 0)
        return EXIT_TROUBLE;
    struct lint_finding *f = calloc(LINT_FINDINGS_MAX, sizeof(*f));
    struct verdicts *v = calloc(1, sizeof(*v));
    if (!f || !v) {
        fprintf(stderr, "fwdauth check-dns: out of memory\n");
        free(f);
        free(v);
        cfgkeys_free(&ck);
        return EXIT_TROUBLE;
    }
    size_t total[4] = {0, 0, 0, 0};
    const struct doctor_plan *p = &ck.plan;
    if (json) {
        fputs("{\"config\":", stdout);
        json_str(conf);
        fputs(",\"domains\":[", stdout);
    }
    for (size_t i = 0; i < p->ndom; i++) {
        const struct doctor_domain *dom = &p->dom[i];
        struct lint_report r;
        lint_report_init(&r, f, LINT_FINDINGS_MAX);
        memset(v, 0, sizeof(*v));
        v->mode = cfg->dmarc_mode;
        const char *sel[MAX_SELECTORS], *files[MAX_SELECTORS];
        v->selectors = sel;
        v->keyfiles = files;
        if ((v->has_spf = doctor_role_wants_spf(dom->roles)))
            lint_spf(d, dom->name, &r, &v->spf);
        if ((v->has_dmarc = doctor_role_wants_dmarc(dom->roles)))
            lint_dmarc(d, cfg->dmarc_mode, dom->name, &r, &v->dmarc);
        if ((v->has_mx = doctor_role_wants_mx(dom->roles)))
            lint_mx(d, dom->name, &r, &v->mx);
        for (size_t k = 0; k < p->nkeys && v->nsel < MAX_SELECTORS; k++) {
            const struct doctor_key *key = &p->keys[k];
            if (strcasecmp(key->domain, dom->name) != 0)
                continue;
            if (!key->key)
                lint_add(&r, LINT_WARNING, LINT_DKIM,
                         "%s (%s) could not be read, so it is not compared with what DNS "
                         "publishes: %s",
                         key->path, key->arc ? "arc_key" : key->name, key->load_error);
            sel[v->nsel] = key->selector;
            files[v->nsel] = key->path;
            lint_dkim(d, dom->name, key->selector, key->key, key->path, &r, &v->dkim[v->nsel]);
            v->nsel++;
        }
        char roles[160];
        doctor_role_names(dom->roles, roles, sizeof(roles));
        if (json && i)
            fputc(',', stdout);
        print_report(&r, v, dom->name, roles, json, status_of(r.count));
        for (int l = 0; l < 4; l++)
            total[l] += r.count[l];
    }
    /* What the configuration names but no domain block shows. */
    struct lint_report notes;
    lint_report_init(&notes, f, LINT_FINDINGS_MAX);
    if (ck.kt_error[0])
        lint_add(&notes, LINT_ERROR, LINT_DKIM, "the KeyTable could not be read: %s", ck.kt_error);
    if (p->wildcard_keys)
        lint_add(&notes, LINT_OK, LINT_DKIM,
                 "%zu KeyTable entr%s sign%s as the sender's domain (\"%%\"): check each such "
                 "domain with check-dns DOMAIN -s SELECTOR -k KEYFILE",
                 p->wildcard_keys, p->wildcard_keys == 1 ? "y" : "ies",
                 p->wildcard_keys == 1 ? "s" : "");
    if (p->dropped)
        lint_add(&notes, LINT_WARNING, LINT_DKIM,
                 "%zu more domains or keys not checked (at most %d domains and %d keys)",
                 p->dropped, DOCTOR_PLAN_DOMAINS, DOCTOR_PLAN_KEYS);
    if (p->ndom == 0)
        lint_add(&notes, LINT_WARNING, LINT_SPF,
                 "%s names no domain to check (srs_domain, from_rewrite_address, a KeyTable, "
                 "arc_domain)",
                 conf);
    for (int l = 0; l < 4; l++)
        total[l] += notes.count[l];
    int status = status_of(total);
    if (json) {
        fputs("],\"notes\":[", stdout);
        for (size_t i = 0; i < notes.n; i++) {
            printf("%s{\"level\":\"%s\",\"check\":\"%s\",\"text\":", i ? "," : "",
                   lint_level_name(notes.f[i].level), lint_check_name(notes.f[i].check));
            json_str(notes.f[i].text);
            fputc('}', stdout);
        }
        printf("],\"status\":\"%s\",\"problems\":%zu,\"warnings\":%zu,\"errors\":%zu}\n",
               statuses[status], total[LINT_PROBLEM], total[LINT_WARNING], total[LINT_ERROR]);
    } else {
        if (notes.n)
            printf("%s:\n", conf);
        for (size_t i = 0; i < notes.n; i++) {
            printf("%s: ", lint_level_name(notes.f[i].level));
            print_upper(lint_check_name(notes.f[i].check));
            printf(": %s\n", notes.f[i].text);
        }
    }
    free(f);
    free(v);
    cfgkeys_free(&ck);
    return status;
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
    if (optind == argc && da.config) {
        if (nsel || keyfile) {
            fprintf(stderr, "fwdauth check-dns: -s and -k go with a DOMAIN; with -c alone the "
                            "configuration names the keys\n");
            return EXIT_TROUBLE;
        }
        struct fa_config cfg;
        struct dns *d = cli_dns_setup(&da, &cfg);
        if (!d)
            return EXIT_TROUBLE;
        int status = check_configured(d, &cfg, da.config, json);
        dns_free(d);
        config_free(&cfg);
        if (status == EXIT_TROUBLE && !json)
            fprintf(stderr, "fwdauth check-dns: %s could not be checked completely\n", da.config);
        return status;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, optind >= argc ? "fwdauth check-dns: no domain given (or -c FILE)\n"
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
    v->has_spf = v->has_dmarc = 1;
    v->selectors = selectors;
    v->nsel = nsel;
    lint_spf(d, domain, &r, &v->spf);
    lint_dmarc(d, dmarc_mode, domain, &r, &v->dmarc);
    for (size_t i = 0; i < nsel; i++)
        lint_dkim(d, domain, selectors[i], mine, keyfile, &r, &v->dkim[i]);
    dns_free(d);
    key_free(mine);

    int status = status_of(r.count);
    print_report(&r, v, domain, NULL, json, status);
    if (status == EXIT_TROUBLE && !json)
        fprintf(stderr,
                "fwdauth check-dns: %s could not be checked completely: DNS lookups failed\n",
                domain);
    free(f);
    free(v);
    return status;
}
