/* libFuzzer target: SRS address parsing (forward and reverse), with a fixed
 * secret. Whatever forward produces must reverse to an address again. */
#include "fuzz_srs_engine.h"
#include "srs.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const srs *s = daemon_fuzz_srs();
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
