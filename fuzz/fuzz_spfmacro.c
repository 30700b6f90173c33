/* libFuzzer target: the SPF macro expander (RFC 7208 section 7).
 *
 * First octet: mode (bit 0), buffer size (bits 1-7 pick 2..508 octets);
 * second octet: IPv4 or IPv6 client; the rest is the macro string.
 * Checks that the syntax check and the expander agree, and that output
 * stays inside the buffer, NUL-terminated, with the length it reports. */
#include "spf_macro.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void get_p(void *ctx, const char *domain, char *out, size_t cap)
{
    (void)ctx;
    snprintf(out, cap, "mx.%s", domain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int mode = data[0] & 1 ? SPF_MACRO_EXP : SPF_MACRO_DOMAIN;
    size_t cap = 2 + (size_t)(data[0] >> 1) * 4;
    struct spf_macro_env e = {
        .sender = "strong-bad+x=y@email.example.com",
        .local = "strong-bad+x=y",
        .sender_domain = "email.example.com",
        .domain = "Sub.Email.Example.COM",
        .helo = "mail.example.org",
        .receiver = (data[1] & 2) ? "mx.example.net" : NULL,
        .now = 1700000000,
        .ip_v6 = data[1] & 1,
        .ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcb, 0x01},
        .get_p = (data[1] & 4) ? get_p : NULL,
    };
    if (!e.ip_v6)
        memcpy(e.ip, "\xc0\x00\x02\x03", 4);
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    char *out = malloc(cap + 1);
    if (!out)
        return 0;
    out[cap] = 0x5a; /* canary just past the buffer */
    size_t len = 0;
    int cut = 0, ends = 0;
    int ok_check = spf_macro_check(s, n, mode, &ends);
    int ok_expand = spf_macro_expand(&e, s, n, mode, out, cap, &len, &cut);
    if (ok_check != ok_expand)
        abort();
    if (ok_expand == 0) {
        if (len >= cap || out[len] != '\0' || strlen(out) != len)
            abort();
    }
    if (out[cap] != 0x5a)
        abort();
    free(out);
    return 0;
}
