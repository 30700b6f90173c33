/* libFuzzer target: DKIM key records (RFC 6376 section 3.6.1), for every
 * algorithm, as the verifier parses them from DNS. */
#include "dkim.h"
#include "keys.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int algs[] = {DKIM_RSA_SHA256, DKIM_ED25519_SHA256, DKIM_RSA_SHA1};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        int testing, strict, result;
        const char *why = NULL;
        struct fa_key *k = dkim_parse_key_record((const char *)data, size, algs[i], &testing,
                                                 &strict, &result, &why);
        key_free(k);
    }
    return 0;
}
