/* libFuzzer target: key_from_dns_p, the public key in a DKIM key record's p=.
 * The first octet picks the type (even: RSA, odd: Ed25519), the rest is the
 * base64 text. A key that parses must publish itself again, parse back from
 * what it publishes, equal its copy, and turn away a garbage signature; an
 * RSA key must be the one OpenSSL's own (slower) decoder finds in the same
 * octets, which checks keys.c's DER fast path against it. */
#include "b64.h"
#include "keys.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int type = data[0] & 1 ? KEY_ED25519 : KEY_RSA;
    fa_err err;
    struct fa_key *k = key_from_dns_p(type, (const char *)data + 1, size - 1, &err);
    if (!k)
        return 0;
    if (key_type(k) != type || key_is_private(k))
        abort();
    char p[4096];
    int n = key_public_b64(k, p, sizeof(p));
    if (n <= 0)
        abort();
    struct fa_key *again = key_from_dns_p(type, p, (size_t)n, &err);
    if (!again || !key_public_equal(k, again))
        abort();
    uint8_t digest[32] = {0}, sig[KEY_SIG_MAX];
    memset(sig, 0x5a, sizeof(sig));
    size_t siglen = type == KEY_RSA ? key_bits(k) / 8 : 64;
    if (key_verify_digest(k, KEY_MD_SHA256, digest, 32, sig, siglen, &err) != 0)
        abort();
    if (type == KEY_RSA) {
        uint8_t der[4096];
        int dn = b64_decode((const char *)data + 1, size - 1, der, sizeof(der));
        const unsigned char *q = der;
        EVP_PKEY *o = dn > 0 ? d2i_PUBKEY(NULL, &q, dn) : NULL;
        if (o && q != der + dn) {
            EVP_PKEY_free(o);
            o = NULL;
        }
        if (!o) {
            q = der;
            o = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, dn);
        }
        if (!o)
            abort(); /* we accepted what OpenSSL refuses */
        unsigned char *spki = NULL;
        int sn = i2d_PUBKEY(o, &spki);
        char theirs[4096];
        if (sn <= 0 || b64_encode(spki, (size_t)sn, theirs, sizeof(theirs)) != n ||
            memcmp(theirs, p, (size_t)n) != 0)
            abort(); /* a different key than OpenSSL reads */
        OPENSSL_free(spki);
        EVP_PKEY_free(o);
        ERR_clear_error();
    }
    key_free(again);
    key_free(k);
    return 0;
}
