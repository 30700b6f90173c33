/* libFuzzer target: DMARC records (RFC 7489 6.3, RFC 9989 4.7) and a
 * whole evaluation against a fixed zone. Input: byte 0 picks the mode and
 * the authentication results; up to the first LF is a DMARC record that is
 * parsed in both modes and published at _dmarc.fuzz.example and
 * _dmarc.a.b.fuzz.example; the rest is the RFC5322.From domain (any bytes)
 * and, after a second LF, the authenticated domain. */
#include "dmarc.h"
#include "dns_zone.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char base_zone[] =
    "_dmarc.bank TXT \"v=DMARC1; p=reject; sp=quarantine; np=reject; psd=y\"\n"
    "_dmarc.example.bank TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.fuzz.example TXT \"v=DMARC1; p=quarantine\"\n"
    "_dmarc.uz TIMEOUT\n"
    "_dmarc.x.fuzz.example TIMEOUT\n"
    "exists.fuzz.example A 192.0.2.1\n"
    "_dmarc.l7.l6.l5.l4.l3.fuzz.example TXT \"v=DMARC1; p=reject; psd=n\"\n";

/* The record as a zone-file TXT string: every octet as \DDD. */
static char *zone_with(const uint8_t *rec, size_t n)
{
    size_t cap = sizeof(base_zone) + 2 * (n * 4 + 64);
    char *z = malloc(cap);
    if (!z)
        return NULL;
    size_t o = (size_t)snprintf(z, cap, "%s", base_zone);
    static const char *const owners[] = {"_dmarc.a.b.fuzz.example", "_dmarc.fuzz.example"};
    for (size_t k = 0; k < 2; k++) {
        o += (size_t)snprintf(z + o, cap - o, "%s TXT \"", owners[k]);
        for (size_t i = 0; i < n && i < 255; i++)
            o += (size_t)snprintf(z + o, cap - o, "\\%03u", rec[i]);
        o += (size_t)snprintf(z + o, cap - o, "\"\n");
    }
    return z;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    data++;
    size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t rn = nl ? (size_t)(nl - data) : size;

    struct dmarc_record r;
    const char *why;
    dmarc_parse_record((const char *)data, rn, DMARC_MODE_RFC7489, &r, &why);
    dmarc_parse_record((const char *)data, rn, DMARC_MODE_RFC9989, &r, &why);
    if (!nl)
        return 0;

    char from[320] = "", id[320] = "";
    const uint8_t *p = nl + 1, *end = data + size;
    const uint8_t *nl2 = memchr(p, '\n', (size_t)(end - p));
    size_t fn = (size_t)((nl2 ? nl2 : end) - p);
    memcpy(from, p, fn < sizeof(from) - 1 ? fn : sizeof(from) - 1);
    if (nl2) {
        size_t in = (size_t)(end - nl2 - 1);
        memcpy(id, nl2 + 1, in < sizeof(id) - 1 ? in : sizeof(id) - 1);
    }

    char *zt = zone_with(data, rn);
    if (!zt)
        return 0;
    fa_err err = {{0}};
    struct dns_zone *z = dns_zone_parse("fuzz", zt, strlen(zt), &err);
    free(zt);
    if (!z)
        return 0;
    struct dns *d = dns_new_from_zone(z);
    if (!d)
        return 0;
    struct dmarc_dkim_auth sig[2] = {{(int)(flags >> 2) & 3, id}, {1, "fuzz.example"}};
    struct dmarc_auth a = {.spf_result = (int)(flags >> 4) & 3,
                           .spf_domain = (flags & 0x40) ? id : NULL,
                           .dkim = sig,
                           .ndkim = (flags & 0x80) ? 2 : 1,
                           .pct_roll = flags};
    struct dmarc_result res;
    int mode = flags & 1 ? DMARC_MODE_RFC9989 : DMARC_MODE_RFC7489;
    dmarc_evaluate(d, mode, from, &a, &res);
    if (res.result < DMARC_NONE || res.result > DMARC_PERMERROR || !res.reason)
        abort();
    if (res.result != DMARC_FAIL && res.disposition != DMARC_POLICY_NONE)
        abort();
    char org[DMARC_DOMAIN_MAX];
    dmarc_org_domain(d, mode, from, org, (flags & 2) ? sizeof(org) : 8);
    dns_free(d);
    return 0;
}
