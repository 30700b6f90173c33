/* libFuzzer target: listener address parsing. Whatever parses must format
 * to a text that parses back to the same address. */
#include "listenaddr.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct listen_addr a, b;
    fa_err err;
    if (listen_parse((const char *)data, size, &a, &err) < 0)
        return 0;
    if (a.kind == LISTEN_UNIX && strlen(a.path) > LISTEN_PATH_MAX)
        abort();
    if (a.kind != LISTEN_UNIX && (a.port == 0 || a.port > 65535))
        abort();
    char out[LISTEN_TEXT_MAX];
    int n = listen_format(&a, out, sizeof(out));
    if (n < 0)
        abort();
    if (listen_parse(out, (size_t)n, &b, &err) < 0 || memcmp(&a, &b, sizeof(a)) != 0)
        abort();
    return 0;
}
