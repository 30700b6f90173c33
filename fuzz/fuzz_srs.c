/* libFuzzer target: SRS address parsing (forward and reverse), with a fixed
 * secret. Whatever forward produces must reverse to an address again. */
#include "srs.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static srs *engine(void)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const srs *s = engine();
    const time_t now = 1577836860;
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    const char *why;
    (void)srs_reverse(s, (const char *)data, size, now, out, sizeof(out), &why);
    if (srs_forward(s, (const char *)data, size, now, out, sizeof(out), &why) == SRS_OK) {
        /* Our own output is always a valid SRS address of ours. */
        if (srs_reverse(s, out, strlen(out), now, back, sizeof(back), &why) != SRS_OK)
            abort();
    }
    return 0;
}
