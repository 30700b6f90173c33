/* srs_store - the SRS store interface, key scheme and value check; see srs_store.h. */
#include "srs_store.h"

#include "addr.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

static const char b32hex[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

int srs_store_key(const char *addr, size_t len, char key[SRS_STORE_KEY_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_Digest(addr, len, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return -1;
    /* RFC 4648 base32hex, 5 octets to 8 characters, as PostSRSd's b32h_encode. */
    for (size_t i = 0, o = 0; i < 20; i += 5) {
        uint64_t v = 0;
        for (size_t k = 0; k < 5; k++)
            v = (v << 8) | md[i + k];
        for (int s = 35; s >= 0; s -= 5)
            key[o++] = b32hex[(v >> s) & 31];
    }
    memcpy(key + SRS_STORE_HASH_LEN, "@" SRS_STORE_HOST, 3);
    return 0;
}

int srs_store_key_valid(const char *s, size_t n)
{
    if (n != SRS_STORE_HASH_LEN)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'V') || (c >= 'a' && c <= 'v')))
            return 0;
    }
    return 1;
}

int srs_store_value_check(const char *key, const char *value, size_t len, const char **why)
{
    if (len == 0 || len > SRS_STORE_VALUE_MAX) {
        *why = "stored sender empty or too long";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x20 || c == 0x7f) {
            *why = "stored sender holds a control character";
            return -1;
        }
    }
    struct addr a;
    if (addr_split(value, len, &a) < 0) {
        *why = "stored sender is not an address";
        return -1;
    }
    char want[SRS_STORE_KEY_LEN + 1];
    if (srs_store_key(value, len, want) < 0) {
        *why = "SHA-1 failed";
        return -1;
    }
    /* Keys come back in either case (relays change case, PostSRSd upper-cases). */
    for (size_t i = 0; i < SRS_STORE_KEY_LEN; i++) {
        char k = key[i];
        if (k >= 'a' && k <= 'z')
            k = (char)(k - 32);
        if (k != want[i]) {
            *why = "stored sender does not hash to its key";
            return -1;
        }
    }
    return 0;
}
