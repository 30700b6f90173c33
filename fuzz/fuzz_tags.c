/* libFuzzer target: RFC 6376 tag-list parsing and value copying. */
#include "tags.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tag_list l;
    const char *why;
    if (tags_parse((const char *)data, size, &l, &why) < 0)
        return 0;
    char out[256];
    for (size_t i = 0; i < l.n; i++) {
        const struct tag *t = &l.t[i];
        /* Spans stay inside the input and in order. */
        if (t->value_off > t->value_end || t->value_end > size || t->value < (const char *)data ||
            t->value + t->value_len > (const char *)data + size)
            abort();
        (void)tags_copy_nows(t, out, sizeof(out));
    }
    return 0;
}
