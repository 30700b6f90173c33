/* libFuzzer target: the RFC 5322 address-list parser (addrlist). */
#include "addrlist.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct addrlist l;
    fa_err err;
    addrlist_init(&l);
    if (addrlist_parse(&l, (const char *)data, size, &err) == 0) {
        for (size_t i = 0; i < l.n; i++) {
            /* Every address has an "@", no control characters, and parses
             * again to itself. */
            size_t len = strlen(l.addr[i]);
            if (!strchr(l.addr[i], '@'))
                abort();
            for (size_t j = 0; j < len; j++)
                if ((unsigned char)l.addr[i][j] < 0x20 || l.addr[i][j] == 0x7f)
                    abort();
            struct addrlist again;
            addrlist_init(&again);
            if (addrlist_parse(&again, l.addr[i], len, &err) != 0 || again.n != 1 ||
                strcmp(again.addr[0], l.addr[i]) != 0)
                abort();
            addrlist_free(&again);
        }
    }
    addrlist_free(&l);
    return 0;
}
