/* Unit tests for stagehdr, the stage-1 results header of a two-stage
 * deployment: round trip, forgery of every part, replay onto other
 * messages, truncation, expiry on a fake clock, key rotation, refolding by
 * a filter, the identity's stability, strict parsing and key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arc.h"
#include "authres.h"
#include "b64.h"
#include "msg.h"
#include "stagehdr.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The fake clock: every call passes "now" explicitly. */
#define T0 1767225600 /* 2026-01-01 */

static const char secret_a[] = "first-secret-0123456789abcdef";
static const char secret_b[] = "second-secret-0123456789abcdef";

static stagehdr_keys *keys_of(const char *const *s, size_t n)
{
    size_t lens[8];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(s[i]);
    fa_err err;
    stagehdr_keys *k = stagehdr_keys_new(s, lens, n, &err);
    if (!k)
        fail_msg("stagehdr_keys_new: %s", err.msg);
    return k;
}

static stagehdr_keys *key_a(void)
{
    const char *s[] = {secret_a};
    return keys_of(s, 1);
}

/* Stage 1's Authentication-Results, as the milter renders it. */
static void sample_results(struct stagehdr *r, const char *eol)
{
    struct authres *ar = malloc(sizeof(*ar));
    assert_non_null(ar);
    authres_begin(ar, "mx.example.net");
    authres_add(ar, "spf", "pass", NULL, "smtp.mailfrom", "alice@sender.example", NULL);
    authres_add(ar, "dkim", "pass", NULL, "header.d", "sender.example", "header.s", "sel",
                "header.b", "AbCd+/12", NULL);
    authres_add(ar, "dmarc", "pass", NULL, "header.from", "sender.example", "policy.dmarc",
                "reject", NULL);
    authres_add(ar, "arc", "none", NULL, NULL);
    snprintf(r->authres, sizeof(r->authres), "%s", authres_value(ar, eol));
    free(ar);
}

static struct stagehdr *sample(void)
{
    struct stagehdr *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->t = T0;
    r->flags = STAGE_FORWARDED | STAGE_SIGN_FORWARDER | STAGE_SEAL | STAGE_SRS | STAGE_REPORT_DMARC;
    r->arc_cv = ARC_CV_NONE;
    snprintf(r->authserv_id, sizeof(r->authserv_id), "mx.example.net");
    sample_results(r, "\n");
    return r;
}

static const char msg_a[] = "Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\n"
                            "Message-ID: <abc.123@sender.example>\n"
                            "From: Alice <alice@sender.example>\n"
                            "To: list@example.net\n"
                            "Subject: hello\n"
                            "Date: Thu, 01 Jan 2026 00:00:00 +0000\n"
                            "\n"
                            "body\n";

static void identity_of(const char *text, const char *mail_from, uint8_t id[STAGEHDR_ID_LEN])
{
    struct msg_headers hs = {0};
    size_t body;
    fa_err err;
    assert_int_equal(msg_parse(text, strlen(text), &hs, &body, &err), 0);
    assert_int_equal(stagehdr_identity(hs.h, hs.n, mail_from, id), 0);
    free(hs.h);
}

static const uint8_t *id_a(void)
{
    static uint8_t id[STAGEHDR_ID_LEN];
    identity_of(msg_a, "alice@sender.example", id);
    return id;
}

static char *build(const struct stagehdr *r, const uint8_t *id, const stagehdr_keys *k,
                   const char *eol)
{
    char *v = malloc(STAGEHDR_VALUE_MAX);
    assert_non_null(v);
    fa_err err;
    int n = stagehdr_build(r, id, k, eol, v, STAGEHDR_VALUE_MAX, &err);
    if (n < 0)
        fail_msg("stagehdr_build: %s", err.msg);
    assert_int_equal((size_t)n, strlen(v));
    assert_true(n <= STAGEHDR_BUILD_MAX);
    return v;
}

static int verify_at(const char *v, size_t n, const uint8_t *id, const stagehdr_keys *k, time_t now,
                     struct stagehdr *out, const char **why)
{
    return stagehdr_verify(v, n, id, k, now, STAGEHDR_MAX_AGE, out, why);
}

static int verify(const char *v, const uint8_t *id, const stagehdr_keys *k, struct stagehdr *out)
{
    const char *why = NULL;
    int r = verify_at(v, strlen(v), id, k, T0 + 10, out, &why);
    if (r != STAGEHDR_OK && !why)
        fail_msg("no reason for status %d", r);
    return r;
}

static void assert_same(const struct stagehdr *a, const struct stagehdr *b)
{
    assert_int_equal(a->t, b->t);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->arc_cv, b->arc_cv);
    assert_string_equal(a->authserv_id, b->authserv_id);
    assert_string_equal(a->authres, b->authres);
}

static int all_zero(const struct stagehdr *r)
{
    const unsigned char *p = (const unsigned char *)r;
    for (size_t i = 0; i < sizeof(*r); i++)
        if (p[i])
            return 0;
    return 1;
}

static void test_round_trip(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    const char *eols[] = {"\n", "\r\n"};
    for (int e = 0; e < 2; e++) {
        sample_results(r, eols[e]);
        for (int cv = ARC_CV_NONE; cv <= ARC_CV_FAIL; cv++) {
            r->arc_cv = cv;
            char *v = build(r, id_a(), k, eols[e]);
            assert_true(v[0] == ' ');
            assert_non_null(strstr(v, e ? "\r\n\t" : "\n\t"));
            assert_int_equal(verify(v, id_a(), k, out), STAGEHDR_OK);
            assert_same(r, out);
            free(v);
        }
    }
    /* Our users' mail: no arrival results, sign with their key. */
    r->authres[0] = '\0';
    r->flags = STAGE_ORIGINATING | STAGE_SIGN_USER;
    char *v = build(r, id_a(), k, "\n");
    assert_int_equal(verify(v, id_a(), k, out), STAGEHDR_OK);
    assert_same(r, out);
    free(v);
    /* The format, as documented. */
    r->flags = 21;
    r->arc_cv = ARC_CV_PASS;
    v = build(r, id_a(), k, "\n");
    static const char head[] =
        " v=1; t=1767225600; f=21; c=pass;\n\ti=mx.example.net;\n\ta=;\n\tb=";
    assert_true(strncmp(v, head, strlen(head)) == 0);
    assert_int_equal(strlen(v), strlen(head) + 44);
    free(v);
    free(r);
    free(out);
    stagehdr_keys_free(k);
}

/* A known answer computed outside this code (Python's hashlib and hmac,
 * following the format in stagehdr.h): the identity of msg_a and the MAC
 * of a field are what the documentation says they are. */
static void test_known_answer(void **state)
{
    (void)state;
    static const uint8_t want_id[STAGEHDR_ID_LEN] = {
        0x08, 0x7e, 0x6e, 0xcc, 0x86, 0xcb, 0x1a, 0x96, 0x55, 0x3c, 0x68,
        0xe4, 0x40, 0xbd, 0x2b, 0x64, 0xc8, 0x65, 0xf1, 0x91, 0x14, 0xee,
        0xd5, 0x68, 0xd4, 0xc8, 0xc3, 0x1c, 0x9b, 0x27, 0x0f, 0x3d};
    assert_memory_equal(id_a(), want_id, STAGEHDR_ID_LEN);
    stagehdr_keys *k = key_a();
    struct stagehdr *r = calloc(1, sizeof(*r)), *out = malloc(sizeof(*out));
    r->t = T0;
    r->flags = 21;
    r->arc_cv = ARC_CV_PASS;
    strcpy(r->authserv_id, "mx.example.net");
    strcpy(r->authres, " mx.example.net;\n\tspf=pass smtp.mailfrom=alice@sender.example");
    char *v = build(r, want_id, k, "\n");
    assert_string_equal(
        v, " v=1; t=1767225600; f=21; c=pass;\n"
           "\ti=mx.example.net;\n"
           "\ta=IG14LmV4YW1wbGUubmV0OwoJc3BmPXBhc3Mgc210cC5tYWlsZnJvbT1hbGljZUBzZW5kZXIu\n"
           "\tZXhhbXBsZQ==;\n"
           "\tb=BWsJymAOTSGXmRkOAqYwulRmTHHBSfRDoxHxjawOA8c=");
    assert_int_equal(verify(v, want_id, k, out), STAGEHDR_OK);
    free(v);
    free(r);
    free(out);
    stagehdr_keys_free(k);
}

static void test_check_message(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    char *v = build(r, id_a(), k, "\n");
    /* Stage 2's view: the field on top, the Subject tagged and a footer added
     * by the filter, its own fields added, the identity fields refolded. */
    static char text[32768];
    snprintf(text, sizeof(text),
             "%s:%s\n"
             "X-Virus-Scanned: amavis\n"
             "Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\n"
             "Message-ID:\n  <abc.123@sender.example>  \n"
             "From: Alice\n\t<alice@sender.example>\n"
             "To: list@example.net\n"
             "Subject: [fwd] hello\n"
             "Date: Thu, 01 Jan 2026\n 00:00:00   +0000\n"
             "\n"
             "body\n-- \nfooter\n",
             STAGEHDR_FIELD, v);
    struct msg_headers hs = {0};
    size_t body;
    fa_err err;
    assert_int_equal(msg_parse(text, strlen(text), &hs, &body, &err), 0);
    const char *why = NULL;
    assert_int_equal(stagehdr_check(hs.h, hs.n, "<Alice@Sender.Example>", k, T0 + 60,
                                    STAGEHDR_MAX_AGE, out, &why),
                     STAGEHDR_OK);
    assert_same(r, out);
    /* Another sender: a replay. */
    assert_int_equal(stagehdr_check(hs.h, hs.n, "mallory@sender.example", k, T0 + 60,
                                    STAGEHDR_MAX_AGE, out, &why),
                     STAGEHDR_FORGED);
    assert_true(all_zero(out));
    free(hs.h);

    /* No field; two fields (one added from outside). */
    assert_int_equal(msg_parse(msg_a, strlen(msg_a), &hs, &body, &err), 0);
    assert_int_equal(
        stagehdr_check(hs.h, hs.n, "alice@sender.example", k, T0, STAGEHDR_MAX_AGE, out, &why),
        STAGEHDR_ABSENT);
    assert_non_null(why);
    free(hs.h);
    snprintf(text, sizeof(text), "%s:%s\n%s:%s\n%s", STAGEHDR_FIELD, v, STAGEHDR_FIELD, v, msg_a);
    assert_int_equal(msg_parse(text, strlen(text), &hs, &body, &err), 0);
    assert_int_equal(
        stagehdr_check(hs.h, hs.n, "alice@sender.example", k, T0, STAGEHDR_MAX_AGE, out, &why),
        STAGEHDR_BAD);
    free(hs.h);
    free(v);
    free(r);
    free(out);
    stagehdr_keys_free(k);
}

/* v2 with v's b= tag: another field presented with a genuine MAC. */
static char *with_mac_of(const char *v2, const char *v)
{
    const char *b = strstr(v, "b="), *b2 = strstr(v2, "b=");
    assert_non_null(b);
    assert_non_null(b2);
    char *s = malloc(strlen(v2) + strlen(b) + 1);
    memcpy(s, v2, (size_t)(b2 - v2));
    strcpy(s + (b2 - v2), b);
    return s;
}

static void test_forgery_each_part(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *r2 = malloc(sizeof(*r2)), *out = malloc(sizeof(*out));
    char *v = build(r, id_a(), k, "\n");
    assert_int_equal(verify(v, id_a(), k, out), STAGEHDR_OK);
    for (int part = 0; part < 7; part++) {
        *r2 = *r;
        switch (part) {
        case 0: /* time: made later, to live longer */
            r2->t -= 3600;
            break;
        case 1: /* each flag */
            for (unsigned bit = 1; bit <= STAGE_FLAGS_ALL; bit <<= 1) {
                r2->flags = r->flags ^ bit;
                char *v2 = build(r2, id_a(), k, "\n"), *f = with_mac_of(v2, v);
                assert_int_equal(verify(f, id_a(), k, out), STAGEHDR_FORGED);
                free(v2);
                free(f);
            }
            continue;
        case 2: /* the ARC chain status */
            r2->arc_cv = ARC_CV_PASS;
            break;
        case 3: /* the results: a dkim=fail made a pass */
            memcpy(strstr(r2->authres, "spf=pass"), "spf=fail", 8);
            break;
        case 4: /* the authserv-id (results empty, so it is the only change) */
            r->authres[0] = r2->authres[0] = '\0';
            free(v);
            v = build(r, id_a(), k, "\n");
            snprintf(r2->authserv_id, sizeof(r2->authserv_id), "mx.example.neu");
            break;
        case 5: { /* the identity */
            uint8_t id2[STAGEHDR_ID_LEN];
            memcpy(id2, id_a(), sizeof(id2));
            for (size_t i = 0; i < STAGEHDR_ID_LEN * 8; i++) {
                id2[i / 8] ^= (uint8_t)(1u << (i % 8));
                assert_int_equal(verify(v, id2, k, out), STAGEHDR_FORGED);
                id2[i / 8] ^= (uint8_t)(1u << (i % 8));
            }
            continue;
        }
        case 6: { /* the MAC itself, every bit */
            uint8_t mac[STAGEHDR_MAC_LEN + 2];
            char *b = strstr(v, "b=") + 2;
            /* decode, flip, encode back in place (same length) */
            assert_int_equal(b64_decode(b, strlen(b), mac, sizeof(mac)), STAGEHDR_MAC_LEN);
            for (size_t i = 0; i < STAGEHDR_MAC_LEN * 8; i++) {
                char *f = strdup(v);
                char *fb = strstr(f, "b=") + 2;
                mac[i / 8] ^= (uint8_t)(1u << (i % 8));
                b64_encode(mac, STAGEHDR_MAC_LEN, fb, strlen(fb) + 1);
                mac[i / 8] ^= (uint8_t)(1u << (i % 8));
                assert_int_equal(verify(f, id_a(), k, out), STAGEHDR_FORGED);
                assert_true(all_zero(out));
                free(f);
            }
            continue;
        }
        }
        char *v2 = build(r2, id_a(), k, "\n"), *f = with_mac_of(v2, v);
        assert_int_equal(verify(v2, id_a(), k, out), STAGEHDR_OK); /* a genuine one would do */
        assert_int_equal(verify(f, id_a(), k, out), STAGEHDR_FORGED);
        assert_true(all_zero(out));
        free(v2);
        free(f);
    }
    free(v);
    free(r);
    free(r2);
    free(out);
    stagehdr_keys_free(k);
}

static int is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Every single-bit change of the field text: never OK, except white space
 * that stays white space (the MAC covers decoded values), and then the
 * results are the same. */
static void test_every_bit_flip(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    char *v = build(r, id_a(), k, "\r\n");
    size_t n = strlen(v), ok_flips = 0;
    char *f = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(f, v, n + 1);
            f[i] = (char)(f[i] ^ (1 << bit));
            const char *why = NULL;
            int st = verify_at(f, n, id_a(), k, T0, out, &why);
            if (st == STAGEHDR_OK) {
                if (!is_fws(v[i]) || !is_fws(f[i]))
                    fail_msg("flip of bit %d at %zu (%c) verified", bit, i, v[i]);
                assert_same(r, out);
                ok_flips++;
            } else {
                assert_true(st == STAGEHDR_BAD || st == STAGEHDR_FORGED);
                assert_non_null(why);
            }
        }
    assert_true(ok_flips > 0); /* TAB <-> CR in folding */
    free(f);
    free(v);
    free(r);
    free(out);
    stagehdr_keys_free(k);
}

static void test_keys(void **state)
{
    (void)state;
    stagehdr_keys *ka = key_a();
    const char *sb[] = {secret_b};
    stagehdr_keys *kb = keys_of(sb, 1);
    /* rotation: the new secret signs, the old one still verifies */
    const char *rot[] = {secret_b, secret_a};
    stagehdr_keys *kr = keys_of(rot, 2);
    assert_int_equal(stagehdr_keys_count(kr), 2);
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    char *va = build(r, id_a(), ka, "\n"), *vr = build(r, id_a(), kr, "\n");
    assert_int_equal(verify(va, id_a(), kb, out), STAGEHDR_FORGED); /* wrong key */
    assert_int_equal(verify(va, id_a(), kr, out), STAGEHDR_OK);     /* old key verifies */
    assert_same(r, out);
    assert_int_equal(verify(vr, id_a(), kr, out), STAGEHDR_OK);
    assert_int_equal(verify(vr, id_a(), kb, out), STAGEHDR_OK);     /* new key signed */
    assert_int_equal(verify(vr, id_a(), ka, out), STAGEHDR_FORGED); /* old alone cannot */
    /* no key */
    const char *why = NULL;
    assert_int_equal(verify_at(va, strlen(va), id_a(), NULL, T0, out, &why), STAGEHDR_FORGED);
    assert_non_null(why);
    fa_err err;
    char buf[STAGEHDR_VALUE_MAX];
    assert_int_equal(stagehdr_build(r, id_a(), NULL, "\n", buf, sizeof(buf), &err), -1);
    assert_int_equal(stagehdr_keys_count(NULL), 0);
    /* secrets that are refused, and never named */
    const char *shortone[] = {"short-secret"};
    size_t shortlen = strlen(shortone[0]);
    assert_null(stagehdr_keys_new(shortone, &shortlen, 1, &err));
    assert_null(strstr(err.msg, shortone[0]));
    assert_null(stagehdr_keys_new(shortone, &shortlen, 0, &err));
    free(va);
    free(vr);
    free(r);
    free(out);
    stagehdr_keys_free(ka);
    stagehdr_keys_free(kb);
    stagehdr_keys_free(kr);
}

static void test_replay(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    char *v = build(r, id_a(), k, "\n");
    struct {
        const char *from, *to, *sender;
    } other[] = {
        {"<abc.123@sender.example>", "<abc.124@sender.example>", NULL},
        {"Alice <alice@sender.example>", "Alice <boss@sender.example>", NULL},
        {"Alice <alice@sender.example>", "Alice <alice@sender.example>, b@c.example", NULL},
        {"Date: Thu, 01 Jan 2026 00:00:00", "Date: Thu, 01 Jan 2026 00:00:01", NULL},
        {NULL, NULL, "mallory@sender.example"},
        {NULL, NULL, ""},
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        char text[1024];
        snprintf(text, sizeof(text), "%s", msg_a);
        if (other[i].from) {
            char *p = strstr(text, other[i].from);
            assert_non_null(p);
            char rest[1024];
            snprintf(rest, sizeof(rest), "%s", p + strlen(other[i].from));
            snprintf(p, sizeof(text) - (size_t)(p - text), "%s%s", other[i].to, rest);
        }
        uint8_t id[STAGEHDR_ID_LEN];
        identity_of(text, other[i].sender ? other[i].sender : "alice@sender.example", id);
        assert_memory_not_equal(id, id_a(), STAGEHDR_ID_LEN);
        assert_int_equal(verify(v, id, k, out), STAGEHDR_FORGED);
    }
    /* A field missing is not the same as a field present and empty, and a
     * second From: is a change. */
    uint8_t id1[STAGEHDR_ID_LEN], id2[STAGEHDR_ID_LEN], id3[STAGEHDR_ID_LEN];
    identity_of("From: a@b.example\n\nx\n", "", id1);
    identity_of("From: a@b.example\nMessage-ID:\n\nx\n", "", id2);
    identity_of("From: a@b.example\nFrom: a@b.example\n\nx\n", "", id3);
    assert_memory_not_equal(id1, id2, STAGEHDR_ID_LEN);
    assert_memory_not_equal(id1, id3, STAGEHDR_ID_LEN);
    /* Length prefixes: fields cannot run into each other. */
    identity_of("Message-ID: ab\nFrom: c\n\n", "", id1);
    identity_of("Message-ID: a\nFrom: bc\n\n", "", id2);
    assert_memory_not_equal(id1, id2, STAGEHDR_ID_LEN);
    identity_of("Date: x\n\n", "y", id1);
    identity_of("Date: xy\n\n", "", id2);
    assert_memory_not_equal(id1, id2, STAGEHDR_ID_LEN);
    free(v);
    free(r);
    free(out);
    stagehdr_keys_free(k);
}

static void test_identity_stable(void **state)
{
    (void)state;
    static const char *const same[] = {
        /* refolded, other white space, fields moved, Subject and body changed */
        "Date: Thu, 01 Jan 2026 00:00:00 +0000\n"
        "Subject: [fwd] hello\n"
        "Message-ID:\n\t<abc.123@sender.example>\n"
        "X-Spam-Status: No\n"
        "From:   Alice\n  <alice@sender.example>   \n"
        "\n"
        "other body\n",
        "message-id: <abc.123@sender.example>\r\n"
        "FROM: Alice <alice@sender.example>\r\n"
        "date: Thu, 01 Jan 2026\r\n\t00:00:00\t+0000\r\n"
        "\r\n",
    };
    uint8_t id[STAGEHDR_ID_LEN];
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        identity_of(same[i], "alice@sender.example", id);
        assert_memory_equal(id, id_a(), STAGEHDR_ID_LEN);
    }
    identity_of(msg_a, "<ALICE@sender.example>", id);
    assert_memory_equal(id, id_a(), STAGEHDR_ID_LEN);
    identity_of(msg_a, NULL, id);
    uint8_t id0[STAGEHDR_ID_LEN];
    identity_of(msg_a, "<>", id0);
    assert_memory_equal(id, id0, STAGEHDR_ID_LEN);
    /* Case inside a value is kept: a Message-ID is case-sensitive. */
    identity_of("Message-ID: <ABC.123@sender.example>\n"
                "From: Alice <alice@sender.example>\n"
                "Date: Thu, 01 Jan 2026 00:00:00 +0000\n\n",
                "alice@sender.example", id);
    assert_memory_not_equal(id, id_a(), STAGEHDR_ID_LEN);
}

static void test_refolding(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    char *v = build(r, id_a(), k, "\n");
    size_t n = strlen(v);
    char *f = malloc(4 * n + 64);
    for (int mode = 0; mode < 6; mode++) {
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            char c = v[i];
            switch (mode) {
            case 0: /* all folding white space dropped */
                if (!is_fws(c))
                    f[o++] = c;
                break;
            case 1: /* CRLF and spaces instead of LF TAB */
                if (c == '\n') {
                    f[o++] = '\r';
                    f[o++] = '\n';
                } else if (c == '\t') {
                    f[o++] = ' ';
                    f[o++] = ' ';
                } else {
                    f[o++] = c;
                }
                break;
            case 2: /* white space around every = and ; */
                if (c == '=' || c == ';') {
                    f[o++] = ' ';
                    f[o++] = c;
                    f[o++] = '\t';
                } else {
                    f[o++] = c;
                }
                break;
            case 3: /* one line */
                f[o++] = c == '\n' ? ' ' : c;
                break;
            case 4: { /* a= and b= refolded anywhere, every 17 characters */
                size_t a = (size_t)(strstr(v, "a=") - v) + 2, b = (size_t)(strstr(v, "b=") - v) + 2;
                f[o++] = c;
                if (((i > a && i < b - 4) || (i > b && i + 1 < n)) && i % 17 == 0 && !is_fws(c) &&
                    c != ';' && v[i + 1] != ';') {
                    f[o++] = '\n';
                    f[o++] = ' ';
                }
                break;
            }
            case 5: /* a trailing ";" and white space at the end */
                f[o++] = c;
                if (i + 1 == n) {
                    f[o++] = ';';
                    f[o++] = ' ';
                }
                break;
            }
        }
        f[o] = '\0';
        const char *why = NULL;
        int st = verify_at(f, o, id_a(), k, T0, out, &why);
        if (st != STAGEHDR_OK)
            fail_msg("refolding %d: %s\n%s", mode, why, f);
        assert_same(r, out);
    }
    free(f);
    free(v);
    free(r);
    free(out);
    stagehdr_keys_free(k);
}

static void test_truncation(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    for (int e = 0; e < 2; e++) {
        char *v = build(r, id_a(), k, e ? "\r\n" : "\n");
        size_t n = strlen(v);
        for (size_t len = 0; len < n; len++) {
            const char *why = NULL;
            int st = verify_at(v, len, id_a(), k, T0, out, &why);
            if (st != STAGEHDR_BAD && st != STAGEHDR_FORGED)
                fail_msg("cut at %zu of %zu: status %d", len, n, st);
            assert_non_null(why);
            assert_true(all_zero(out));
        }
        /* also cut from the front */
        for (size_t off = 1; off < n; off++) {
            int st = verify_at(v + off, n - off, id_a(), k, T0, out, NULL);
            if (st == STAGEHDR_OK && !is_fws(v[off - 1]))
                fail_msg("suffix from %zu verified", off);
        }
        free(v);
    }
    free(r);
    free(out);
    stagehdr_keys_free(k);
}

/* Replace the first occurrence of from in v by to. */
static char *edit(const char *v, const char *from, const char *to)
{
    const char *p = strstr(v, from);
    if (!p)
        fail_msg("%s not in %s", from, v);
    char *s = malloc(strlen(v) + strlen(to) + 1);
    memcpy(s, v, (size_t)(p - v));
    strcpy(s + (p - v), to);
    strcat(s, p + strlen(from));
    return s;
}

static void test_expiry(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    char *v = build(r, id_a(), k, "\n");
    size_t n = strlen(v);
    const char *why;
    unsigned age = 3600;
    assert_int_equal(stagehdr_verify(v, n, id_a(), k, T0, age, out, &why), STAGEHDR_OK);
    assert_int_equal(stagehdr_verify(v, n, id_a(), k, T0 + 3600, age, out, &why), STAGEHDR_OK);
    assert_int_equal(stagehdr_verify(v, n, id_a(), k, T0 + 3601, age, out, &why), STAGEHDR_EXPIRED);
    assert_true(all_zero(out));
    assert_int_equal(stagehdr_verify(v, n, id_a(), k, T0 - STAGEHDR_FUTURE_SKEW, age, out, &why),
                     STAGEHDR_OK);
    assert_int_equal(
        stagehdr_verify(v, n, id_a(), k, T0 - STAGEHDR_FUTURE_SKEW - 1, age, out, &why),
        STAGEHDR_EXPIRED);
    assert_non_null(why);
    /* extreme clocks do not overflow */
    assert_int_equal(stagehdr_verify(v, n, id_a(), k, (time_t)INT64_MIN, age, out, &why),
                     STAGEHDR_EXPIRED);
    assert_int_equal(stagehdr_verify(v, n, id_a(), k, (time_t)INT64_MAX, age, out, &why),
                     STAGEHDR_EXPIRED);
    assert_int_equal(stagehdr_verify(v, n, id_a(), k, (time_t)INT64_MAX, UINT32_MAX, out, &why),
                     STAGEHDR_EXPIRED);
    /* the default covers a message that waited days for the filter */
    assert_int_equal(stagehdr_verify(v, n, id_a(), k, T0 + 4 * 86400, STAGEHDR_MAX_AGE, out, &why),
                     STAGEHDR_OK);
    /* a forged field is forged, whatever its age */
    const char *sb[] = {secret_b};
    stagehdr_keys *kb = keys_of(sb, 1);
    assert_int_equal(stagehdr_verify(v, n, id_a(), kb, T0 + 99999, age, out, &why),
                     STAGEHDR_FORGED);
    /* t=0 and the largest t are accepted by the format */
    r->t = 0;
    free(v);
    v = build(r, id_a(), k, "\n");
    assert_int_equal(stagehdr_verify(v, strlen(v), id_a(), k, 0, age, out, &why), STAGEHDR_OK);
    r->t = (time_t)999999999999999999LL;
    free(v);
    v = build(r, id_a(), k, "\n");
    assert_int_equal(stagehdr_verify(v, strlen(v), id_a(), k, r->t, age, out, &why), STAGEHDR_OK);
    assert_int_equal(out->t, r->t);
    /* 19 digits: neither built nor read */
    r->t = (time_t)1000000000000000000LL;
    fa_err err;
    char buf[STAGEHDR_VALUE_MAX];
    assert_int_equal(stagehdr_build(r, id_a(), k, "\n", buf, sizeof(buf), &err), -1);
    char *v19 = edit(v, "t=999999999999999999", "t=1000000000000000000");
    assert_int_equal(stagehdr_verify(v19, strlen(v19), id_a(), k, r->t, age, out, &why),
                     STAGEHDR_BAD);
    free(v19);
    free(v);
    free(r);
    free(out);
    stagehdr_keys_free(k);
    stagehdr_keys_free(kb);
}

static void test_strict(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    r->flags = 21;
    char *v = build(r, id_a(), k, "\n");
    struct {
        const char *from, *to;
    } bad[] = {
        {"v=1", "v=2"},
        {"v=1", "v=01"},
        {"v=1", "v= 1 x"},
        {"v=1;", ""},
        {"v=1", "v=1; v=1"},
        {"t=1767225600", "t=01767225600"},
        {"t=1767225600", "t=-1767225600"},
        {"t=1767225600", "t=1767 225600"},
        {"t=1767225600", "t="},
        {"t=1767225600", "t=1767225600; t=1767225600"},
        {"f=21", "f=256"},
        {"f=21", "f=021"},
        {"f=21", "f=99999999999"},
        {"f=21", "f=0x15"},
        {"c=none", "c=NONE"},
        {"c=none", "c=temperror"},
        {"c=none", "c="},
        {"i=mx.example.net", "i=mx. example.net"},
        {"i=mx.example.net", "i="},
        {"a=", "x=1; a="},
        {"a=", "a=!"},
        {"a=", "A="},
        {"b=", "bh=xx; b="},
        {" v=1;", " v=1; ;; garbage"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *f = edit(v, bad[i].from, bad[i].to);
        const char *why = NULL;
        int st = verify_at(f, strlen(f), id_a(), k, T0, out, &why);
        if (st != STAGEHDR_BAD)
            fail_msg("%s -> %s: status %d (%s)", bad[i].from, bad[i].to, st, why);
        assert_non_null(why);
        free(f);
    }
    /* base64 without its padding, or cut to a multiple of 4 */
    char *nopad = strdup(v);
    nopad[strlen(nopad) - 1] = '\0';
    assert_int_equal(verify(nopad, id_a(), k, out), STAGEHDR_BAD);
    nopad[strlen(nopad) - 3] = '\0';
    assert_int_equal(verify(nopad, id_a(), k, out), STAGEHDR_BAD);
    free(nopad);
    /* too long */
    char *big = malloc(STAGEHDR_VALUE_MAX + 2);
    memset(big, ' ', STAGEHDR_VALUE_MAX + 1);
    memcpy(big + STAGEHDR_VALUE_MAX + 1 - strlen(v), v, strlen(v));
    big[STAGEHDR_VALUE_MAX + 1] = '\0';
    assert_int_equal(verify(big, id_a(), k, out), STAGEHDR_BAD);
    assert_int_equal(verify(big + 1, id_a(), k, out), STAGEHDR_OK); /* at the limit */
    free(big);
    free(v);

    /* Results that decode but must not be written into a header: refused by
     * build and, should a stage 1 bug MAC them, by verify. */
    static const char *const badres[] = {
        " mx.example.net;\n spf=pass\n", " mx.example.net;\nspf=pass",
        " mx.example.net;\r spf=pass",   " mx.example.net;\r\rspf=pass",
        " mx.example.neu; spf=pass",     " ; spf=pass",
    };
    for (size_t i = 0; i < sizeof(badres) / sizeof(badres[0]); i++) {
        snprintf(r->authres, sizeof(r->authres), "%s", badres[i]);
        fa_err err;
        char buf[STAGEHDR_VALUE_MAX];
        if (stagehdr_build(r, id_a(), k, "\n", buf, sizeof(buf), &err) >= 0)
            fail_msg("built with results %zu", i);
        assert_non_null(strstr(err.msg, "results"));
    }
    free(r);
    free(out);
    stagehdr_keys_free(k);
}

static void test_build_errors(void **state)
{
    (void)state;
    stagehdr_keys *k = key_a();
    struct stagehdr *r = sample();
    char *buf = malloc(STAGEHDR_VALUE_MAX);
    fa_err err;
    struct stagehdr *r2 = malloc(sizeof(*r2));
#define BUILD(x) stagehdr_build(x, id_a(), k, "\n", buf, STAGEHDR_VALUE_MAX, &err)
    *r2 = *r;
    r2->flags = 256;
    assert_int_equal(BUILD(r2), -1);
    *r2 = *r;
    r2->t = -1;
    assert_int_equal(BUILD(r2), -1);
    *r2 = *r;
    r2->arc_cv = 3;
    assert_int_equal(BUILD(r2), -1);
    *r2 = *r;
    r2->authserv_id[0] = '\0';
    assert_int_equal(BUILD(r2), -1);
    *r2 = *r;
    snprintf(r2->authserv_id, sizeof(r2->authserv_id), "mx example.net");
    assert_int_equal(BUILD(r2), -1);
    *r2 = *r;
    memset(r2->authserv_id, 'a', sizeof(r2->authserv_id));
    assert_int_equal(BUILD(r2), -1);
    *r2 = *r;
    memset(r2->authres, 'a', sizeof(r2->authres));
    assert_int_equal(BUILD(r2), -1);
    assert_int_equal(stagehdr_build(r, id_a(), k, "\r", buf, STAGEHDR_VALUE_MAX, &err), -1);
#undef BUILD
    /* Every output size short of the need fails cleanly; the need succeeds. */
    int need = stagehdr_build(r, id_a(), k, "\n", buf, STAGEHDR_VALUE_MAX, &err);
    assert_true(need > 0);
    for (int sz = 0; sz <= need; sz++) {
        char *small = malloc((size_t)sz + 1);
        small[sz] = 'X';
        int got = stagehdr_build(r, id_a(), k, "\n", small, (size_t)sz, &err);
        assert_int_equal(got, -1);
        assert_true(small[sz] == 'X');
        if (sz)
            assert_true(small[0] == '\0');
        free(small);
    }
    assert_int_equal(stagehdr_build(r, id_a(), k, "\n", buf, (size_t)need + 1, &err), need);

    /* The largest results: the built field stays within STAGEHDR_BUILD_MAX
     * with CRLF folding, and verifies. */
    memset(r2, 0, sizeof(*r2));
    r2->t = (time_t)999999999999999999LL;
    r2->flags = STAGE_FLAGS_ALL;
    r2->arc_cv = ARC_CV_FAIL;
    memset(r2->authserv_id, 'i', STAGEHDR_AUTHSERV_MAX);
    r2->authserv_id[STAGEHDR_AUTHSERV_MAX] = '\0';
    r2->authres[0] = ' ';
    memcpy(r2->authres + 1, r2->authserv_id, STAGEHDR_AUTHSERV_MAX);
    memset(r2->authres + 1 + STAGEHDR_AUTHSERV_MAX, 'r',
           AUTHRES_MAX - 2 - 1 - STAGEHDR_AUTHSERV_MAX);
    r2->authres[1 + STAGEHDR_AUTHSERV_MAX] = ';';
    r2->authres[AUTHRES_MAX - 1] = '\0';
    int n = stagehdr_build(r2, id_a(), k, "\r\n", buf, STAGEHDR_VALUE_MAX, &err);
    if (n < 0)
        fail_msg("%s", err.msg);
    assert_true(n <= STAGEHDR_BUILD_MAX);
    assert_true(n > STAGEHDR_BUILD_MAX - 200); /* the constant is tight */
    struct stagehdr *out = malloc(sizeof(*out));
    const char *why;
    assert_int_equal(stagehdr_verify(buf, (size_t)n, id_a(), k, r2->t, 0, out, &why), STAGEHDR_OK);
    assert_same(r2, out);
    /* Lines stay short enough for any MTA. */
    size_t line = 0;
    for (int i = 0; i < n; i++) {
        line = buf[i] == '\n' ? 0 : line + 1;
        assert_true(line <= 300);
    }
    free(out);
    free(r2);
    free(buf);
    free(r);
    stagehdr_keys_free(k);
}

static char dir[64];

static int setup_dir(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/fwdauth-stagehdr-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/secrets", dir);
    fa_err err;
    /* CRLF, blank lines: two secrets, the first signs */
    char text[256];
    snprintf(text, sizeof(text), "\r\n%s\r\n\n%s\n", secret_b, secret_a);
    write_file(path, text, 0600);
    stagehdr_keys *kf = stagehdr_keys_load(path, getuid(), &err);
    if (!kf)
        fail_msg("%s", err.msg);
    assert_int_equal(stagehdr_keys_count(kf), 2);
    const char *sb[] = {secret_b};
    stagehdr_keys *kb = keys_of(sb, 1);
    struct stagehdr *r = sample(), *out = malloc(sizeof(*out));
    char *v = build(r, id_a(), kf, "\n");
    assert_int_equal(verify(v, id_a(), kb, out), STAGEHDR_OK);
    free(v);
    stagehdr_keys_free(kf);
    stagehdr_keys_free(kb);

    /* readable by others: refused */
    write_file(path, text, 0604);
    assert_null(stagehdr_keys_load(path, getuid(), &err));
    assert_non_null(strstr(err.msg, "others"));
    /* empty, a short secret (not named in the error), too many */
    write_file(path, "\n\n", 0600);
    assert_null(stagehdr_keys_load(path, getuid(), &err));
    assert_non_null(strstr(err.msg, "no secret"));
    write_file(path, "tooshort\n", 0600);
    assert_null(stagehdr_keys_load(path, getuid(), &err));
    assert_null(strstr(err.msg, "tooshort"));
    assert_non_null(strstr(err.msg, path));
    char many[40 * 40] = "";
    for (int i = 0; i < STAGEHDR_SECRETS_MAX + 1; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "secret-number-%02d-xxxxxx\n",
                 i);
    write_file(path, many, 0600);
    assert_null(stagehdr_keys_load(path, getuid(), &err));
    assert_non_null(strstr(err.msg, "more than"));
    assert_null(stagehdr_keys_load("/nonexistent/secrets", getuid(), &err));
    free(r);
    free(out);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(stagehdr_status_name(STAGEHDR_OK), "ok");
    assert_string_equal(stagehdr_status_name(STAGEHDR_ABSENT), "absent");
    assert_string_equal(stagehdr_status_name(STAGEHDR_BAD), "bad");
    assert_string_equal(stagehdr_status_name(STAGEHDR_FORGED), "forged");
    assert_string_equal(stagehdr_status_name(STAGEHDR_EXPIRED), "expired");
    assert_string_equal(stagehdr_status_name(STAGEHDR_ERROR), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_check_message),
        cmocka_unit_test(test_forgery_each_part),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_identity_stable),
        cmocka_unit_test(test_refolding),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test_setup_teardown(test_key_file, setup_dir, teardown_dir),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
