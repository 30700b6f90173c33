/* libFuzzer target: SPF record parsing and check_host() evaluation.
 *
 * The input is up to three SPF records separated by "\n": they are served
 * as the TXT records of fuzz.example.com, f2.example.com and f3.example.com
 * beside a fixed zone (A, AAAA, MX, PTR, CNAME, TIMEOUT, more records), so
 * include:/redirect= between them, macros and every mechanism run against
 * DNS answers. The first octet picks the client address and identity. */
#include "dns.h"
#include "fuzz_zone.h"
#include "spf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char fixed[] =
    "example.com TXT \"v=spf1 a mx ptr include:f2.example.com ?all\"\n"
    "example.com A 192.0.2.1\n"
    "example.com AAAA 2001:db8::1\n"
    "example.com MX 10 mx.example.com.\n"
    "example.com MX 20 mx2.example.com.\n"
    "mx.example.com A 192.0.2.2\n"
    "mx.example.com AAAA 2001:db8::2\n"
    "mx2.example.com CNAME mx.example.com.\n"
    "1.2.0.192.in-addr.arpa PTR example.com.\n"
    "1.2.0.192.in-addr.arpa PTR mx.example.com.\n"
    "2.2.0.192.in-addr.arpa PTR mx.example.com.\n"
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR example.com.\n"
    "slow.example.com TIMEOUT\n"
    "loop.example.com CNAME loop.example.com.\n"
    "exp.example.com TXT \"%{i} is not %{p} for %{d} (%{c} %{r} %{t} %{L}) %%\"\n"
    "2.0.192.x.example.com A 127.0.0.2\n"
    "other.example.com TXT \"v=spf1 redirect=fuzz.example.com\"\n";

static const char *const ips[] = {"192.0.2.1",   "192.0.2.2",        "192.0.2.3",   "2001:db8::1",
                                  "2001:db8::2", "::ffff:192.0.2.1", "203.0.113.7", "::"};
static const char *const senders[] = {"user@fuzz.example.com", "", "a-b+c@fuzz.example.com",
                                      "@fuzz.example.com"};

/* Append `owner TXT "escaped"` for data[0..n) to z at *o. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    char *z = malloc(sizeof(fixed) + 4 * size + 200);
    if (!z)
        return 0;
    size_t o = 0;
    memcpy(z, fixed, sizeof(fixed) - 1);
    o = sizeof(fixed) - 1;
    static const char *const owners[] = {"fuzz.example.com", "f2.example.com", "f3.example.com"};
    const uint8_t *p = data, *end = data + size;
    for (int k = 0; k < 3 && p <= end; k++) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *e = k < 2 && nl ? nl : end;
        fuzz_zone_add_txt(z, &o, owners[k], p, (size_t)(e - p));
        p = e + 1;
    }
    fa_err err;
    struct dns_zone *zone = dns_zone_parse("fuzz", z, o, &err);
    free(z);
    if (!zone)
        abort(); /* every escaped record is valid zone text */
    struct dns *d = dns_new_from_zone(zone);
    if (!d)
        return 0;
    struct spf_result *r = malloc(sizeof(*r));
    if (!r) {
        dns_free(d);
        return 0;
    }
    struct spf_request rq = {
        .ip = ips[sel & 7],
        .mail_from = senders[(sel >> 3) & 3],
        .helo = (sel & 0x20) ? "fuzz.example.com" : "Helo With Spaces%",
        .helo_identity = (sel & 0x40) != 0,
        .receiver = (sel & 0x80) ? "mx.example.net" : NULL,
        .now = 1700000000,
    };
    int res = spf_check_request(d, &rq, r);
    if (res < SPF_NONE || res > SPF_PERMERROR || res != r->result)
        abort();
    if (strnlen(r->domain, sizeof(r->domain)) == sizeof(r->domain) ||
        strnlen(r->reason, sizeof(r->reason)) == sizeof(r->reason) ||
        strnlen(r->explanation, sizeof(r->explanation)) == sizeof(r->explanation) ||
        strnlen(r->mechanism, sizeof(r->mechanism)) == sizeof(r->mechanism))
        abort();
    if (r->lookups > SPF_LOOKUP_LIMIT + 1 || r->void_lookups > SPF_VOID_LIMIT + 1)
        abort();
    if (r->explanation[0] && res != SPF_FAIL)
        abort();
    free(r);
    dns_free(d);

    /* The parser alone, on the raw input. */
    struct spf_record rec;
    if (spf_record_parse((const char *)data, size, &rec, &err) == 0) {
        for (size_t i = 0; i < rec.n; i++)
            if (rec.t[i].text < (const char *)data ||
                rec.t[i].text + rec.t[i].text_len > (const char *)data + size)
                abort();
        spf_record_free(&rec);
    }
    return 0;
}
