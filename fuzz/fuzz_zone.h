/* A resolver answering from a fixed zone text, made once per process: for
 * fuzz targets whose DNS answers do not come from the fuzz input. */
#ifndef FWDAUTH_FUZZ_ZONE_H
#define FWDAUTH_FUZZ_ZONE_H

#include "dns.h"

#include <stdlib.h>

static struct dns *fuzz_zone_dns(const char *text, size_t len)
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

#endif
