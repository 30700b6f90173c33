/* libFuzzer target: srs_domain_map files (srs_config.h). Whatever is
 * accepted has two or three fields a line, each a domain name, ".domain"
 * or an absolute path as the format says; a refusal names its line. */
#include "srs_config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct srs_domain_map_entry *e;
    size_t n;
    fa_err err;
    if (srs_domain_map_parse("map", (const char *)data, size, &e, &n, &err) < 0) {
        if (strncmp(err.msg, "map:", 4) != 0 || e != NULL || n != 0)
            abort();
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const char *f = e[i].fwd[0] == '.' ? e[i].fwd + 1 : e[i].fwd;
        if (!config_valid_name(f, 0) || !config_valid_name(e[i].srs_domain, 0) ||
            (e[i].secrets && e[i].secrets[0] != '/') || e[i].line == 0)
            abort();
    }
    srs_domain_map_free(e, n);
    return 0;
}
