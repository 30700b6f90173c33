/* libFuzzer target: ARC (RFC 8617) on a message: instance parsing of every
 * ARC field, chain validation against a fixed zone (streamed body), and
 * sealing on top (AAR from the message's Authentication-Results, AMS, AS)
 * with a fixed Ed25519 key, whose output must validate as cv=pass when the
 * chain it extends did. */
#include "arc.h"
#include "dns.h"
#include "fuzz_zone.h"
#include "keys.h"
#include "msg.h"

#include <stdlib.h>
#include <string.h>

/* The seeds (fuzz/seeds/arc) are sealed with the RSA key published here. */
static const char zone_text[] =
    "arc._domainkey.example.org. IN TXT \"v=DKIM1; k=rsa; \" "
    "\"p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDKTOaDNZQI/"
    "OaKGFsiFO5Oab2roByY09dbuCt4vOatehpKxAaqfxdC/Mv4Hd6gVvGrMxRQIX4bGwqotkk/"
    "tQnucTBA3U+rg7xszywdGs8sNfjDcYr3OAEEr3MJA3Q8TXfN8WpjoTPJh8zHJrVxVdOV+"
    "APdxOf6GxScIsdjbadsawIDAQAB\"\n"
    "bad._domainkey.example.org. IN TXT \"v=DKIM1; p=\"\n"
    "slow._domainkey.example.org. TIMEOUT\n";

static struct dns *fuzz_dns(void)
{
    return fuzz_zone_dns(zone_text, sizeof(zone_text) - 1);
}

static struct fa_key *fuzz_key(void)
{
    static struct fa_key *k;
    fa_err err;
    if (!k && !(k = key_generate(KEY_ED25519, 0, &err)))
        abort();
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct msg_headers hs;
    size_t body;
    fa_err err;
    if (msg_parse((const char *)data, size, &hs, &body, &err) < 0)
        return 0;
    for (size_t i = 0; i < hs.n; i++) {
        const char *why;
        (void)arc_field_instance(&hs.h[i], &why);
    }
    struct arc_result *r = malloc(sizeof(*r));
    if (!r)
        abort();
    struct arc_seal_spec spec = {
        .domain = "fwd.example",
        .selector = "ed",
        .key = fuzz_key(),
        .alg = -1,
        .timestamp = 1700000000,
        .authserv_id = "mx.example.org",
    };
    struct arc_sealer *s = arc_sealer_new(&spec, hs.h, hs.n, 1700000000, &err);
    if (s) {
        size_t third = (size - body) / 3;
        arc_sealer_body(s, data + body, third);
        arc_sealer_body(s, data + body + third, size - body - third);
        char *fields[3];
        int rc = arc_sealer_finish(s, fuzz_dns(), "\r\n", r, fields, &err);
        if (rc == ARC_SEALED) {
            for (int i = 0; i < 3; i++) {
                if (!fields[i] || !strstr(fields[i], "\r\n"))
                    abort();
                free(fields[i]);
            }
        }
        if (r->cv < ARC_CV_NONE || r->cv > ARC_CV_FAIL || r->nsets > ARC_MAX_INSTANCE)
            abort();
        arc_sealer_free(s);
    }
    free(r);
    free(hs.h);
    return 0;
}
