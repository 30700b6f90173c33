/* libFuzzer target: the Postfix-style config parser with every typed check
 * (config_set), the trailing-comment rule, where-tracking and the dump.
 * Properties checked (abort on failure):
 *   - the stop-at-first loader and the report-every-problem loader agree on
 *     whether the input is good, and every reported problem has text;
 *   - every error names a position (FILE:LINE) of the input;
 *   - a good input's dumps (-n and -a) load back, and dump again to the same
 *     text (postconf round trip). */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void count(void *ctx, const char *problem)
{
    if (!problem[0] || strncmp(problem, "fuzz:", 5) != 0)
        abort();
    (*(unsigned *)ctx)++;
}

static void round_trip(const struct fa_config *cfg, int all)
{
    char *text = config_dump(cfg, all);
    if (!text)
        return; /* out of memory */
    struct fa_config again;
    fa_err err;
    config_init(&again);
    if (config_load_buf(&again, "dump", text, strlen(text), &err) < 0)
        abort();
    char *text2 = config_dump(&again, all);
    if (text2 && strcmp(text, text2) != 0)
        abort();
    free(text2);
    free(text);
    config_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fa_config cfg;
    fa_err err;
    config_init(&cfg);
    int rc = config_load_buf(&cfg, "fuzz", (const char *)data, size, &err);
    if (rc == 0) {
        (void)config_check_srs(&cfg, &err);
        (void)config_where(&cfg, "srs_domain");
        (void)config_fail(&cfg, "trusted_authserv_ids", &err, "x");
        round_trip(&cfg, 0);
        round_trip(&cfg, 1);
    } else if (strncmp(err.msg, "fuzz:", 5) != 0 && strcmp(err.msg, "out of memory") != 0) {
        abort();
    }
    config_free(&cfg);

    unsigned problems = 0;
    config_init(&cfg);
    int rc2 = config_load_buf_each(&cfg, "fuzz", (const char *)data, size, count, &problems, &err);
    if ((rc == 0) != (rc2 == 0) || (rc2 == 0) != (problems == 0))
        abort();
    config_free(&cfg);
    return 0;
}
