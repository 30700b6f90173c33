/* libFuzzer target: the Postfix-style config parser and every typed setter. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fa_config cfg;
    fa_err err;
    config_init(&cfg);
    if (config_load_buf(&cfg, "fuzz", (const char *)data, size, &err) == 0)
        (void)config_check_srs(&cfg, &err);
    config_free(&cfg);
    return 0;
}
