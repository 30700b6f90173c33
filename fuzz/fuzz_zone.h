/* A resolver answering from a fixed zone text, made once per process: for
 * fuzz targets whose DNS answers do not come from the fuzz input. */
#ifndef FWDAUTH_FUZZ_ZONE_H
#define FWDAUTH_FUZZ_ZONE_H

#include "dns.h"
#include "dns_zone.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline struct dns *fuzz_zone_dns(const char *text, size_t len)
{
    static struct dns *d;
    if (!d) {
        fa_err err;
        struct dns_zone *z = dns_zone_parse("fuzz", text, len, &err);
        if (!z || !(d = dns_new_from_zone(z)))
            abort();
    }
    return d;
}

/* Append "OWNER TXT \"...\"\n" for fuzz bytes p[0..n) to zone text z at *o:
 * printable octets as they are, others as \DDD (the caller sizes z for
 * 4 octets per input octet plus the owner). */
static inline void fuzz_zone_add_txt(char *z, size_t *o, const char *owner, const uint8_t *p,
                                     size_t n)
{
    *o += (size_t)sprintf(z + *o, "%s TXT \"", owner);
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
            z[(*o)++] = (char)p[i];
        else
            *o += (size_t)sprintf(z + *o, "\\%03u", p[i]);
    }
    *o += (size_t)sprintf(z + *o, "\"\n");
}

#endif
