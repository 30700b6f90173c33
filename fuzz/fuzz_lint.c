/* libFuzzer target: the check-dns rules (lint.h) over hostile records, and
 * through them the lint entry points of the parsers they use
 * (dmarc_parse_record_specs and dmarc_uri_next, dkim_key_record_read with
 * alg -1, spf_record_parse_each, spf_record_fetch, dmarc_discover).
 *
 * Input: byte 0 picks the DMARC mode and the finding array size; the rest
 * is up to four records separated by "\n", published as the TXT records of
 * lint.example (SPF), _dmarc.lint.example (DMARC), s._domainkey.lint.example
 * (DKIM) and inc.lint.example (an include:/redirect= target, and a second
 * DMARC record at _dmarc.sub.lint.example) beside a fixed zone. Each record
 * is also given to lint_dmarc_record and lint_dkim_record as it is (NULs
 * and all). Findings must be bounded, one line, and counted. */
#include "dmarc.h"
#include "dns.h"
#include "fuzz_zone.h"
#include "lint.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char fixed[] = "lint.example A 192.0.2.1\n"
                            "lint.example MX 10 mx.lint.example.\n"
                            "mx.lint.example A 192.0.2.2\n"
                            "six.lint.example AAAA 2001:db8::1\n"
                            "slow.lint.example TIMEOUT\n"
                            "_dmarc.slow.lint.example TIMEOUT\n"
                            "lint.example._report._dmarc.other.example TXT \"v=DMARC1\"\n"
                            "loop.lint.example TXT \"v=spf1 include:lint.example -all\"\n"
                            "_dmarc.example TXT \"v=DMARC1; p=reject; psd=y\"\n";

static const char *const owners[] = {"lint.example", "_dmarc.lint.example",
                                     "s._domainkey.lint.example", "inc.lint.example"};

static void check(const struct lint_report *r)
{
    size_t total = 0;
    for (int l = LINT_OK; l <= LINT_ERROR; l++)
        total += r->count[l];
    if (r->n > r->max || total != r->n + r->dropped)
        abort();
    for (size_t i = 0; i < r->n; i++) {
        size_t len = strnlen(r->f[i].text, LINT_TEXT_MAX);
        if (len == LINT_TEXT_MAX || strchr(r->f[i].text, '\n') || r->f[i].level < LINT_OK ||
            r->f[i].level > LINT_ERROR)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    int mode = sel & 1 ? DMARC_MODE_RFC9989 : DMARC_MODE_RFC7489;
    size_t max = sel & 2 ? 3 : 64;
    struct lint_finding *f = calloc(max, sizeof(*f));
    char *z = malloc(sizeof(fixed) + 2 * (4 * size + 64) + 64);
    if (!f || !z) {
        free(f);
        free(z);
        return 0;
    }
    struct lint_report r;
    size_t o = (size_t)sprintf(z, "%s", fixed);
    const uint8_t *p = data, *end = data + size;
    for (size_t k = 0; k < 4 && p <= end; k++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        fuzz_zone_add_txt(z, &o, owners[k], p, n < 1000 ? n : 1000);
        if (k == 3)
            fuzz_zone_add_txt(z, &o, "_dmarc.sub.lint.example", p, n < 1000 ? n : 1000);
        /* The record-level rules on the raw octets. */
        lint_report_init(&r, f, max);
        lint_dmarc_record(NULL, mode, (const char *)p, n, "lint.example", &r);
        check(&r);
        struct lint_dkim dk;
        lint_report_init(&r, f, max);
        lint_dkim_record((const char *)p, n, "s._domainkey.lint.example", "s", NULL, NULL, &r, &dk);
        check(&r);
        if (!nl)
            break;
        p = nl + 1;
    }
    fa_err err = {{0}};
    struct dns_zone *zone = dns_zone_parse("fuzz", z, o, &err);
    free(z);
    struct dns *d = zone ? dns_new_from_zone(zone) : NULL;
    if (d) {
        lint_report_init(&r, f, max);
        struct lint_spf s;
        struct lint_dmarc m;
        struct lint_dkim k;
        if (lint_spf(d, "lint.example", &r, &s) != s.state || s.state > LINT_UNKNOWN)
            abort();
        if (lint_dmarc(d, mode, "lint.example", &r, &m) != m.state)
            abort();
        lint_dmarc(d, mode, "a.sub.lint.example", &r, &m);
        /* The verdict is the verifier's. */
        struct dmarc_result res;
        dmarc_evaluate(d, mode, "a.sub.lint.example", NULL, &res);
        if (res.result != m.result || (m.state == LINT_USABLE && res.policy != m.policy))
            abort();
        lint_dkim(d, "lint.example", "s", NULL, NULL, &r, &k);
        check(&r);
        dns_free(d);
    }
    free(f);
    return 0;
}
