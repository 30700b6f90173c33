/* libFuzzer target: the zone-file parser, then a few questions of every type. */
#include "dns.h"
#include "dns_zone.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"example.org",           "EXAMPLE.ORG.", "a.example.org",
                                        "www.example.org",       "t.example",    "loop.example",
                                        "1.2.0.192.in-addr.arpa"};
    static const int types[] = {DNS_T_A,   DNS_T_AAAA, DNS_T_MX,   DNS_T_TXT,
                                DNS_T_SPF, DNS_T_PTR,  DNS_T_CNAME};
    fa_err err;
    struct dns_zone *z = dns_zone_parse("fuzz", (const char *)data, size, &err);
    if (!z)
        return 0;
    struct dns *d = dns_new_from_zone(z);
    if (!d)
        return 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
            struct dns_answer a;
            if (dns_query(d, names[i], types[t], &a) == DNS_OK)
                for (size_t k = 0; k < a.n; k++)
                    if (a.rr[k].data[a.rr[k].len] != 0)
                        __builtin_trap(); /* data is always NUL-terminated */
            dns_answer_free(&a);
        }
    dns_free(d);
    return 0;
}
