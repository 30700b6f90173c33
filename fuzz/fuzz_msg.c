/* libFuzzer target: message parsing (whole and streamed in two parts),
 * canonicalization of every field and of the body, and DKIM verification of
 * whatever DKIM-Signature fields the input carries, against a fixed zone. */
#include "canon.h"
#include "dkim.h"
#include "dns.h"
#include "fuzz_zone.h"
#include "msg.h"

#include <stdlib.h>
#include <string.h>

static const char zone_text[] = "sel._domainkey.example.org. IN TXT \"v=DKIM1; k=ed25519; "
                                "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n"
                                "bad._domainkey.example.org. IN TXT \"v=DKIM1; p=\"\n"
                                "slow._domainkey.example.org. TIMEOUT\n";

static struct dns *fuzz_dns(void)
{
    return fuzz_zone_dns(zone_text, sizeof(zone_text) - 1);
}

static void null_sink(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct msg_headers hs;
    size_t body;
    fa_err err;
    if (msg_parse((const char *)data, size, &hs, &body, &err) < 0)
        return 0;
    for (size_t i = 0; i < hs.n; i++)
        for (int alg = 0; alg < 2; alg++)
            canon_header(alg, &hs.h[i], 1, 0, 0, null_sink, NULL);
    struct dkim_verifier *v = dkim_verifier_new(hs.h, hs.n, 1700000000, &err);
    if (v) {
        /* The body in two uneven parts, to cross chunk boundaries. */
        size_t half = (size - body) / 3;
        dkim_verifier_body(v, data + body, half);
        dkim_verifier_body(v, data + body + half, size - body - half);
        struct dkim_sig_result r[DKIM_MAX_SIGS];
        (void)dkim_verifier_finish(v, fuzz_dns(), r, DKIM_MAX_SIGS);
        dkim_verifier_free(v);
    }
    free(hs.h);

    /* The streaming reader must agree with the whole-buffer parser. */
    struct msg_reader rd;
    msg_reader_init(&rd);
    size_t cut = size / 2, used = msg_reader_feed(&rd, data, cut, &err);
    if (used != (size_t)-1 && rd.state == MSG_HEADERS)
        used = msg_reader_feed(&rd, data + cut, size - cut, &err);
    if (used != (size_t)-1)
        (void)msg_reader_eof(&rd, &err);
    msg_reader_free(&rd);
    return 0;
}
