/* libFuzzer target: Authentication-Results parsing (RFC 8601 section 2.2):
 * authres_parse and authres_serv_id over arbitrary field values; every span
 * and string it reports must stay within bounds and agree with the input. */
#include "authres.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data;
    char id[256];
    int idn = authres_serv_id(v, size, id, sizeof(id));
    struct authres_parsed *p = malloc(sizeof(*p));
    if (!p)
        abort();
    const char *why = NULL;
    if (authres_parse(v, size, p, &why) == 0) {
        if (p->n > AUTHRES_MAX_RESULTS || (p->n == 0 && !p->none) || idn < 0)
            abort();
        for (size_t i = 0; i < p->n; i++) {
            const struct authres_resinfo *r = &p->r[i];
            if (r->raw_off > size || r->raw_len > size - r->raw_off ||
                r->nprops > AUTHRES_MAX_PROPS)
                abort();
            if (!r->method[0] || !r->result[0] || strlen(r->method) >= sizeof(r->method))
                abort();
            /* The raw span starts with the method name as written. */
            if (strncasecmp(v + r->raw_off, r->method, strlen(r->method)) != 0)
                abort();
        }
    } else if (!why) {
        abort();
    }
    free(p);
    return 0;
}
