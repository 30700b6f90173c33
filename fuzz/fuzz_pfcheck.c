/* libFuzzer target: Postfix check-table text and table lists (pfcheck.h).
 * Invariants: a reported line exists in the input; lists end. */
#include "pfcheck.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned line = 0;
    if (pfcheck_table_modifies((const char *)data, size, &line) == 1) {
        unsigned lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        if (line < 1 || line > lines)
            abort();
    }
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    const char *p = s;
    struct pfcheck_map m;
    size_t n = 0;
    while (pfcheck_next_map(&p, &m) == 1)
        if (++n > size + 1)
            abort(); /* every entry consumes input */
    free(s);
    return 0;
}
