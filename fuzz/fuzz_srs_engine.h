/* The srs object shared by the SRS and table fuzz targets: a fixed secret, made
 * once per process. */
#ifndef FWDAUTH_FUZZ_SRS_ENGINE_H
#define FWDAUTH_FUZZ_SRS_ENGINE_H

#include "srs.h"

#include <stdlib.h>

static srs *daemon_fuzz_srs(void)
{
    static srs *s;
    if (!s) {
        static const char *const secrets[] = {"tops3cr3t", "older"};
        static const size_t lens[] = {9, 5};
        char *locals[] = {"example.net", ".corp.example"};
        struct srs_params p = {.domain = "example.com",
                               .local_domains = locals,
                               .n_local_domains = 2,
                               .hash_length = 4,
                               .max_age = 21,
                               .separator = '=',
                               .alphabet = FA_SRS_BASE64URL};
        s = srs_new(&p, secrets, lens, 2, NULL);
        if (!s)
            abort();
    }
    return s;
}

#endif
