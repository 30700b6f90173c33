/* libFuzzer target: the stage-1 results header (stagehdr.h). The first
 * byte picks a mode:
 *   'V' the rest is a field value, verified with a fixed key and identity:
 *       it must never verify (only stagehdr_build under the key makes one),
 *       a failure has a reason and leaves the output zeroed;
 *   'M' the rest is a message: stagehdr_check on its header section, the
 *       same invariants;
 *   other: the rest are results (time, flags, cv, authserv-id, the
 *       Authentication-Results value); when stagehdr_build takes them, the
 *       field verifies to exactly those results, never on another message,
 *       and a byte the fuzzer changes in it either breaks it or leaves the
 *       results the same (white space).
 * Seeds: fuzz/seeds/stagehdr/ (fields made under another key, messages,
 * results). */
#include "stagehdr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1767225600

static stagehdr_keys *fixed_keys(void)
{
    static stagehdr_keys *k;
    if (!k) {
        const char *s[] = {"fuzz-secret-0123456789abcdef"};
        size_t l = strlen(s[0]);
        k = stagehdr_keys_new(s, &l, 1, NULL);
        if (!k)
            abort();
    }
    return k;
}

static int all_zero(const struct stagehdr *r)
{
    const unsigned char *p = (const unsigned char *)r;
    for (size_t i = 0; i < sizeof(*r); i++)
        if (p[i])
            return 0;
    return 1;
}

static void must_not_verify(int st, const char *why, const struct stagehdr *out)
{
    if (st == STAGEHDR_OK || st < STAGEHDR_ERROR || st > STAGEHDR_ABSENT || !why || !all_zero(out))
        abort();
}

static void same(const struct stagehdr *a, const struct stagehdr *b)
{
    if (a->t != b->t || a->flags != b->flags || a->arc_cv != b->arc_cv ||
        strcmp(a->authserv_id, b->authserv_id) != 0 || strcmp(a->authres, b->authres) != 0)
        abort();
}

static uint64_t take(const uint8_t **p, size_t *n, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
        v = v << 8 | **p;
    return v;
}

static void round_trip(const uint8_t *p, size_t n)
{
    static struct stagehdr r, out;
    memset(&r, 0, sizeof(r));
    r.t = (time_t)(take(&p, &n, 8) % 1000000000000000000ULL);
    r.flags = (unsigned)take(&p, &n, 2) & 0x1ff; /* 0x100 is not a flag: build refuses */
    r.arc_cv = (int)(take(&p, &n, 1) % 4) - (n & 1 ? 1 : 0);
    size_t sidl = (size_t)take(&p, &n, 1) % 40;
    for (size_t i = 0; i < sidl && n; i++, p++, n--)
        r.authserv_id[i] = (char)*p;
    size_t mut = (size_t)take(&p, &n, 2);
    uint8_t xor = (uint8_t)take(&p, &n, 1);
    /* Results: " " authserv-id ";" and the rest, so that the build often succeeds. */
    size_t al = (size_t)snprintf(r.authres, sizeof(r.authres), " %s;", r.authserv_id);
    size_t take_n = n < sizeof(r.authres) - 1 - al ? n : sizeof(r.authres) - 1 - al;
    memcpy(r.authres + al, p, take_n);
    r.authres[al + take_n] = '\0';

    uint8_t id[STAGEHDR_ID_LEN], other[STAGEHDR_ID_LEN];
    memset(id, 0x5a, sizeof(id));
    memcpy(other, id, sizeof(id));
    other[mut % STAGEHDR_ID_LEN] ^= xor? xor : 1;
    static char v[STAGEHDR_VALUE_MAX];
    fa_err err;
    const char *eol = mut & 1 ? "\r\n" : "\n";
    int len = stagehdr_build(&r, id, fixed_keys(), eol, v, sizeof(v), &err);
    if (len < 0) {
        if (!err.msg[0])
            abort();
        return;
    }
    if ((size_t)len != strlen(v) || len > STAGEHDR_BUILD_MAX)
        abort();
    const char *why = NULL;
    if (stagehdr_verify(v, (size_t)len, id, fixed_keys(), r.t, 0, &out, &why) != STAGEHDR_OK)
        abort();
    same(&r, &out);
    if (stagehdr_verify(v, (size_t)len, other, fixed_keys(), r.t, 0, &out, &why) != STAGEHDR_FORGED)
        abort();
    /* One byte changed: broken, or the same results. */
    size_t at = mut % (size_t)len;
    v[at] = (char)(v[at] ^ (xor? xor : 0x20));
    int st = stagehdr_verify(v, (size_t)len, id, fixed_keys(), r.t, 0, &out, &why);
    if (st == STAGEHDR_OK)
        same(&r, &out);
    else if (!why || !all_zero(&out))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    static struct stagehdr out;
    const char *why = NULL;
    if (data[0] == 'V') {
        uint8_t id[STAGEHDR_ID_LEN];
        memset(id, 0x5a, sizeof(id));
        int st = stagehdr_verify((const char *)p, n, id, fixed_keys(), NOW, STAGEHDR_MAX_AGE, &out,
                                 &why);
        must_not_verify(st, why, &out);
    } else if (data[0] == 'M') {
        struct msg_headers hs = {0};
        size_t body;
        fa_err err;
        if (msg_parse((const char *)p, n, &hs, &body, &err) == 0) {
            int st = stagehdr_check(hs.h, hs.n, "a@b.example", fixed_keys(), NOW, STAGEHDR_MAX_AGE,
                                    &out, &why);
            must_not_verify(st, why, &out);
            /* The identity of any header section, with a sender from the input. */
            char sender[65];
            size_t sl = n < 64 ? n : 64;
            memcpy(sender, p, sl);
            sender[sl] = '\0';
            uint8_t id[STAGEHDR_ID_LEN];
            if (stagehdr_identity(hs.h, hs.n, sender, id) < 0)
                abort();
        }
        free(hs.h);
    } else {
        round_trip(p, n);
    }
    return 0;
}
