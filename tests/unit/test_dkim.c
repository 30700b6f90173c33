/* Unit tests for dkim, signing and verification: round trips with keys made
 * here (RSA and Ed25519, several signatures in one pass), the four
 * canonicalizations against changes each must or must not survive, l=, t=
 * and x= on a fake clock, every syntax refusal with its reason, the key
 * record's verdicts (strict, testing, revoked, missing, timeout), the
 * signer's refusals, and the published vectors of RFC 8463 (verified, and
 * Ed25519 signed byte for byte) and RFC 6376 Appendix A.2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "b64.h"
#include "dkim.h"

#include "test_mail.h"
#include "test_zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1767225600 /* 2026-01-01: the fake clock */

static const char msg_text[] = "From: Alice <alice@example.org>\r\n"
                               "To: bob@example.net\r\n"
                               "Subject: hello  world\r\n"
                               "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
                               "Message-ID: <1@example.org>\r\n"
                               "\r\n"
                               "Hello  Bob, \r\n"
                               "\r\n"
                               "second line\r\n"
                               "\r\n";

/* Two keys, published: sel1 (RSA) and sel2 (Ed25519) of example.org. */
struct fixture {
    struct fa_key *rsa, *ed;
    struct dns *dns;
    char zone[8192];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->rsa = test_key(KEY_RSA);
    f->ed = test_key(KEY_ED25519);
    zone_add_key(f->zone, sizeof(f->zone), f->rsa, "sel1", "example.org");
    zone_add_key(f->zone, sizeof(f->zone), f->ed, "sel2", "example.org");
    f->dns = test_zone(f->zone);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dns_free(f->dns);
    key_free(f->rsa);
    key_free(f->ed);
    free(f);
    return 0;
}

static struct dkim_sign_spec spec_of(const struct fa_key *k, const char *selector)
{
    return (struct dkim_sign_spec){.domain = "example.org",
                                   .selector = selector,
                                   .key = k,
                                   .alg = -1,
                                   .hcanon = CANON_RELAXED,
                                   .bcanon = CANON_RELAXED,
                                   .timestamp = T0};
}

static void assert_result(const struct dkim_sig_result *r, int result, const char *reason)
{
    if (r->result != result || strcmp(r->reason, reason) != 0)
        fail_msg("got %s (%s), want %s (%s)", dkim_result_name(r->result), r->reason,
                 dkim_result_name(result), reason);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct dkim_sign_spec sp[2] = {spec_of(f->rsa, "sel1"), spec_of(f->ed, "sel2")};
    sp[1].hcanon = sp[1].bcanon = CANON_SIMPLE;
    char *signed_text = dkim_sign_text(msg_text, sp, 2);
    /* Tags in the order v a c d i q s t x l h bh b, h= the default list
     * oversigned (each present field once more than it occurs). */
    assert_non_null(strstr(signed_text, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
                                        "d=example.org; s=sel1;\r\n\tt=1767225600;\r\n"
                                        "\th=From:From:Subject:Subject:Date:Date:To:To:Message-ID:"
                                        "Message-ID;\r\n\tbh="));
    assert_non_null(strstr(signed_text, "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; "
                                        "d=example.org;\r\n\ts=sel2; t=1767225600;\r\n"));
    struct dkim_sig_result r[DKIM_MAX_SIGS];
    assert_int_equal(dkim_verify_text(signed_text, f->dns, T0, r), 2);
    assert_result(&r[0], DKIM_PASS, "");
    assert_result(&r[1], DKIM_PASS, "");
    assert_string_equal(r[0].domain, "example.org");
    assert_string_equal(r[0].selector, "sel1");
    assert_string_equal(r[1].selector, "sel2");
    assert_string_equal(r[0].identity, "@example.org");
    assert_int_equal(r[0].alg, DKIM_RSA_SHA256);
    assert_int_equal(r[1].alg, DKIM_ED25519_SHA256);
    assert_int_equal(r[0].key_bits, 1024);
    assert_int_equal(r[1].key_bits, 256);
    assert_int_equal(r[0].header_index, 0);
    assert_int_equal(r[1].header_index, 1);
    assert_int_equal(r[0].testing, 0);
    /* header.b: the first 8 characters of b= */
    const char *b = strstr(signed_text, "\tb=");
    assert_non_null(b);
    assert_int_equal(strlen(r[0].b_prefix), 8);
    assert_memory_equal(r[0].b_prefix, b + 3, 8);
    /* The same message with LF line ends: signed as if CRLF. */
    char *lf = replace(signed_text, "\r\n", "\n");
    assert_int_equal(dkim_verify_text(lf, f->dns, T0, r), 2);
    assert_result(&r[0], DKIM_PASS, "");
    assert_result(&r[1], DKIM_PASS, "");
    free(lf);
    free(signed_text);
}

/* One change of the message under each canonicalization: which survive it. */
static void test_canonicalization(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *from, *to;
        int survives[2][2]; /* [header relaxed][body relaxed] */
    } changes[] = {
        /* refolded and spaced header: only relaxed header canonicalization */
        {"Subject: hello  world\r\n", "Subject:   hello \r\n\t  world  \r\n", {{0, 0}, {1, 1}}},
        /* a field name's case */
        {"\nSubject:", "\nSUBJECT:", {{0, 0}, {1, 1}}},
        /* white space inside and at the end of a body line: only relaxed body */
        {"Hello  Bob, \r\n", "Hello Bob,\r\n", {{0, 1}, {0, 1}}},
        {"Hello  Bob, \r\n", "Hello \t Bob,\t\r\n", {{0, 1}, {0, 1}}},
        /* trailing empty lines added: every body canonicalization */
        {"second line\r\n\r\n", "second line\r\n\r\n\r\n\r\n", {{1, 1}, {1, 1}}},
        /* one letter of the body: none */
        {"second line", "Second line", {{0, 0}, {0, 0}}},
        /* one letter of a signed field: none */
        {"To: bob@", "To: rob@", {{0, 0}, {0, 0}}},
        /* a field the signature does not cover: every one */
        {"\nSubject:", "\nX-Mailer: t\r\nSubject:", {{1, 1}, {1, 1}}},
    };
    for (int hc = 0; hc < 2; hc++)
        for (int bc = 0; bc < 2; bc++) {
            struct dkim_sign_spec sp = spec_of(f->rsa, "sel1");
            sp.hcanon = hc ? CANON_RELAXED : CANON_SIMPLE;
            sp.bcanon = bc ? CANON_RELAXED : CANON_SIMPLE;
            char *signed_text = dkim_sign_text(msg_text, &sp, 1);
            struct dkim_sig_result r = dkim_verify_one(signed_text, f->dns, T0);
            assert_result(&r, DKIM_PASS, "");
            for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
                char *t = replace(signed_text, changes[i].from, changes[i].to);
                r = dkim_verify_one(t, f->dns, T0);
                int want = changes[i].survives[hc][bc];
                int body_changed =
                    strstr(changes[i].from, "Hello") || strstr(changes[i].from, "second") != NULL;
                if (want)
                    assert_result(&r, DKIM_PASS, "");
                else
                    assert_result(&r, DKIM_FAIL,
                                  body_changed ? "body hash did not verify"
                                               : "signature did not verify");
                free(t);
            }
            free(signed_text);
        }
}

static void test_body_length(void **state)
{
    struct fixture *f = *state;
    for (int bc = 0; bc < 2; bc++) {
        struct dkim_sign_spec sp = spec_of(f->rsa, "sel1");
        sp.bcanon = bc ? CANON_RELAXED : CANON_SIMPLE;
        sp.body_length = 1;
        char *signed_text = dkim_sign_text(msg_text, &sp, 1);
        /* l= counts the canonical body: "Hello  Bob, " CRLF CRLF "second
         * line" CRLF, trailing empty lines left out; relaxed drops "  "→" ". */
        assert_non_null(strstr(signed_text, bc ? "; l=27;" : "; l=29;"));
        struct dkim_sig_result r = dkim_verify_one(signed_text, f->dns, T0);
        assert_result(&r, DKIM_PASS, "");
        /* Content appended after the signed length still passes (why l= is
         * not advised), */
        char *longer = malloc(strlen(signed_text) + 64);
        sprintf(longer, "%sappended by a list\r\n", signed_text);
        r = dkim_verify_one(longer, f->dns, T0);
        assert_result(&r, DKIM_PASS, "");
        free(longer);
        /* a body cut short does not. */
        char *shorter = replace(signed_text, "second line\r\n\r\n", "second\r\n");
        r = dkim_verify_one(shorter, f->dns, T0);
        assert_result(&r, DKIM_FAIL, "body shorter than l=");
        free(shorter);
        free(signed_text);
    }
}

static void test_times(void **state)
{
    struct fixture *f = *state;
    struct dkim_sign_spec sp = spec_of(f->ed, "sel2");
    sp.expire = T0 + 100;
    char *t = dkim_sign_text(msg_text, &sp, 1);
    assert_non_null(strstr(t, "; t=1767225600; x=1767225700;"));
    struct dkim_sig_result r = dkim_verify_one(t, f->dns, T0 + 100);
    assert_result(&r, DKIM_PASS, "");
    r = dkim_verify_one(t, f->dns, T0 + 101);
    assert_result(&r, DKIM_FAIL, "signature expired");
    /* t= in the future: within DKIM_CLOCK_SKEW passes, beyond fails. */
    r = dkim_verify_one(t, f->dns, T0 - DKIM_CLOCK_SKEW);
    assert_result(&r, DKIM_PASS, "");
    r = dkim_verify_one(t, f->dns, T0 - DKIM_CLOCK_SKEW - 1);
    assert_result(&r, DKIM_FAIL, "signature timestamp in the future");
    free(t);
    /* x= before t= is a broken signature, whatever the clock says. */
    sp.expire = T0 - 1;
    t = dkim_sign_text(msg_text, &sp, 1);
    r = dkim_verify_one(t, f->dns, T0 - 10);
    assert_result(&r, DKIM_PERMERROR, "x= earlier than t=");
    free(t);
    /* timestamp -1: no t= at all, and no clock check. */
    sp.expire = 0;
    sp.timestamp = -1;
    t = dkim_sign_text(msg_text, &sp, 1);
    assert_null(strstr(t, "t="));
    r = dkim_verify_one(t, f->dns, 0);
    assert_result(&r, DKIM_PASS, "");
    free(t);
}

static void test_several_signatures(void **state)
{
    struct fixture *f = *state;
    struct fa_key *other = test_key(KEY_RSA);
    struct dkim_sign_spec sp[4] = {spec_of(f->rsa, "sel1"), spec_of(f->ed, "sel2"),
                                   spec_of(other, "unpublished"), spec_of(other, "sel1")};
    sp[3].domain = "sub.example.org"; /* not published there */
    sp[1].identity = "list@lists.example.org";
    sp[0].headers = "from:to:subject";
    sp[2].query_tag = 1;
    char *t = dkim_sign_text(msg_text, sp, 4);
    assert_non_null(strstr(t, "i=list@lists.example.org;"));
    assert_non_null(strstr(t, "q=dns/txt;"));
    struct dkim_sig_result r[DKIM_MAX_SIGS];
    assert_int_equal(dkim_verify_text(t, f->dns, T0, r), 4);
    assert_result(&r[0], DKIM_PASS, "");
    assert_result(&r[1], DKIM_PASS, "");
    assert_string_equal(r[1].identity, "list@lists.example.org");
    assert_result(&r[2], DKIM_PERMERROR, "no key for signature");
    assert_result(&r[3], DKIM_PERMERROR, "no key for signature");
    assert_string_equal(r[3].domain, "sub.example.org");

    /* The signer's key published for sel1 of sub.example.org: passes; the
     * wrong key under the right name: fail. */
    char zone[8192];
    snprintf(zone, sizeof(zone), "%s", f->zone);
    zone_add_key(zone, sizeof(zone), other, "sel1", "sub.example.org");
    zone_add_key(zone, sizeof(zone), f->rsa, "unpublished", "example.org");
    struct dns *d2 = test_zone(zone);
    assert_int_equal(dkim_verify_text(t, d2, T0, r), 4);
    assert_result(&r[2], DKIM_FAIL, "signature did not verify");
    assert_result(&r[3], DKIM_PASS, "");
    dns_free(d2);
    free(t);

    /* At most DKIM_MAX_SIGS signatures are checked. */
    struct dkim_sign_spec one = spec_of(f->rsa, "sel1");
    t = dkim_sign_text(msg_text, &one, 1);
    for (int i = 0; i < DKIM_MAX_SIGS; i++) {
        char *u = dkim_sign_text(t, &one, 1);
        free(t);
        t = u;
    }
    assert_int_equal(dkim_verify_text(t, f->dns, T0, r), DKIM_MAX_SIGS);
    for (int i = 0; i < DKIM_MAX_SIGS; i++)
        assert_result(&r[i], DKIM_PASS, "");
    free(t);
    key_free(other);
}

/* Signatures that fail their syntax checks, each with its reason: no key
 * is ever fetched for them (the zone is empty). */
static void test_syntax_refusals(void **state)
{
    (void)state;
    static const char ok_tags[] = "a=rsa-sha256; d=example.org; s=sel; h=from:to; "
                                  "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA";
    static const struct {
        const char *value;
        int result;
        const char *reason;
    } cases[] = {
        {"v=1; %s", DKIM_PERMERROR, "no key for signature"}, /* syntax fine: the key decides */
        {"%s", DKIM_PERMERROR, "missing required tag"},
        {"v=2; %s", DKIM_PERMERROR, "unsupported version"},
        {"v=1; %s; c=fancy/relaxed", DKIM_PERMERROR, "unknown canonicalization"},
        {"v=1; %s; c=relaxed/fancy", DKIM_PERMERROR, "unknown canonicalization"},
        {"v=1; %s; q=dns/other", DKIM_PERMERROR, "unsupported query method"},
        {"v=1; %s; i=joe@other.example", DKIM_PERMERROR, "i= domain not within d="},
        {"v=1; %s; i=joe@badexample.org", DKIM_PERMERROR, "i= domain not within d="},
        {"v=1; %s; i=joe", DKIM_PERMERROR, "i= domain not within d="},
        {"v=1; %s; l=-1", DKIM_PERMERROR, "invalid l="},
        {"v=1; %s; l=1234567890123456789", DKIM_PERMERROR, "invalid l="},
        {"v=1; %s; t=soon", DKIM_PERMERROR, "invalid t= or x="},
        {"v=1; %s; x=", DKIM_PERMERROR, "invalid t= or x="},
        {"v=1; %s; t=200; x=100", DKIM_PERMERROR, "x= earlier than t="},
        {"v=1; %s; x=100", DKIM_FAIL, "signature expired"},
        {"v=1; %s; t=99999999999", DKIM_FAIL, "signature timestamp in the future"},
        {"v=1; %s; a=rsa-sha1", DKIM_PERMERROR, "duplicate tag"},
    };
    struct dns *empty = test_zone("; nothing\n");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *field = replace(cases[i].value, "%s", ok_tags), text[2048];
        snprintf(text, sizeof(text), "DKIM-Signature: %s\r\n%s", field, msg_text);
        struct dkim_sig_result r = dkim_verify_one(text, empty, T0);
        if (r.result != cases[i].result || strcmp(r.reason, cases[i].reason) != 0)
            fail_msg("%s: got %s (%s)", field, dkim_result_name(r.result), r.reason);
        free(field);
    }
    /* Tag by tag, what a signature without it or with a bad value gives. */
    static const struct {
        const char *from, *to;
        int result;
        const char *reason;
    } edits[] = {
        {"a=rsa-sha256", "a=RSA-SHA256", DKIM_PERMERROR, "no key for signature"},
        {"a=rsa-sha256", "a=rsa-sha1", DKIM_POLICY, "rsa-sha1 is not accepted (RFC 8301)"},
        {"a=rsa-sha256", "a=rsa-md5", DKIM_PERMERROR, "unknown algorithm"},
        {"a=rsa-sha256; ", "", DKIM_PERMERROR, "missing required tag"},
        {"d=example.org", "d=exa mple.org", DKIM_PERMERROR, "invalid d= or s="},
        {"d=example.org", "d=", DKIM_PERMERROR, "invalid d= or s="},
        {"s=sel", "s=se/l", DKIM_PERMERROR, "invalid d= or s="},
        {"h=from:to", "h=to:subject", DKIM_PERMERROR, "From field not signed"},
        {"h=from:to", "h=To : FROM ", DKIM_PERMERROR, "no key for signature"},
        {"bh=2jUS", "bh=!jUS", DKIM_PERMERROR, "malformed bh="},
        {"b=AAAA", "b=", DKIM_PERMERROR, "malformed b="},
        {"b=AAAA", "b=A A\r\n\tA A", DKIM_PERMERROR, "no key for signature"},
        {"; b=AAAA", ";; b=AAAA", DKIM_PERMERROR, "no key for signature"},
        {"d=example.org", "d=example.org d", DKIM_PERMERROR, "invalid d= or s="},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char field[1024];
        snprintf(field, sizeof(field), "DKIM-Signature: v=1; %s\r\n%s", ok_tags, msg_text);
        char *text = replace(field, edits[i].from, edits[i].to);
        struct dkim_sig_result r = dkim_verify_one(text, empty, T0);
        if (r.result != edits[i].result || strcmp(r.reason, edits[i].reason) != 0)
            fail_msg("%s -> %s: got %s (%s)", edits[i].from, edits[i].to,
                     dkim_result_name(r.result), r.reason);
        free(text);
    }
    dns_free(empty);
}

/* The key record decides: strict, testing, revoked, the wrong type, a
 * lookup that times out. */
static void test_key_records(void **state)
{
    struct fixture *f = *state;
    char p[1024], zone[16384];
    char rec[1200];
    assert_true(key_dns_record(f->rsa, rec, sizeof(rec)) > 0);
    const char *pv = strstr(rec, "p=");
    assert_non_null(pv);
    snprintf(p, sizeof(p), "%s", pv);
    snprintf(zone, sizeof(zone),
             "strict._domainkey.example.org. TXT \"v=DKIM1; t=s; %s\"\n"
             "testing._domainkey.example.org. TXT \"v=DKIM1; t=y; %s\"\n"
             "revoked._domainkey.example.org. TXT \"v=DKIM1; p=\"\n"
             "edtype._domainkey.example.org. TXT \"v=DKIM1; k=ed25519; %s\"\n"
             "sha1only._domainkey.example.org. TXT \"v=DKIM1; h=sha1; %s\"\n"
             "notmail._domainkey.example.org. TXT \"v=DKIM1; s=tlsrpt; %s\"\n"
             "two._domainkey.example.org. TXT \"v=DKIM1; p=\"\n"
             "two._domainkey.example.org. TXT \"v=DKIM1; %s\"\n"
             "slow._domainkey.example.org. TIMEOUT\n",
             p, p, p, p, p, p);
    struct dns *d = test_zone(zone);
    static const struct {
        const char *selector, *identity;
        int result;
        const char *reason;
        int testing;
    } cases[] = {
        {"strict", NULL, DKIM_PASS, "", 0},
        {"strict", "joe@example.org", DKIM_PASS, "", 0},
        {"strict", "joe@sub.example.org", DKIM_PERMERROR,
         "key is strict (t=s) but i= is a subdomain", 0},
        {"testing", NULL, DKIM_PASS, "", 1},
        {"revoked", NULL, DKIM_PERMERROR, "key revoked (empty p=)", 0},
        {"edtype", NULL, DKIM_PERMERROR, "key type does not match the signature algorithm", 0},
        {"sha1only", NULL, DKIM_PERMERROR, "key record h= excludes the signature's hash", 0},
        {"notmail", NULL, DKIM_PERMERROR, "key record is not for email (s=)", 0},
        {"two", NULL, DKIM_PASS, "", 0}, /* the first record that reads */
        {"slow", NULL, DKIM_TEMPERROR, "key lookup failed temporarily", 0},
        {"absent", NULL, DKIM_PERMERROR, "no key for signature", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dkim_sign_spec sp = spec_of(f->rsa, cases[i].selector);
        sp.identity = cases[i].identity;
        char *t = dkim_sign_text(msg_text, &sp, 1);
        struct dkim_sig_result r = dkim_verify_one(t, d, T0);
        if (r.result != cases[i].result || strcmp(r.reason, cases[i].reason) != 0)
            fail_msg("%s: got %s (%s)", cases[i].selector, dkim_result_name(r.result), r.reason);
        assert_int_equal(r.testing, cases[i].testing);
        free(t);
    }
    dns_free(d);
}

static void test_signer_refusals(void **state)
{
    struct fixture *f = *state;
    struct fa_key *pub = NULL;
    char b64[1024];
    assert_true(key_public_b64(f->rsa, b64, sizeof(b64)) > 0);
    fa_err err;
    pub = key_from_dns_p(KEY_RSA, b64, strlen(b64), &err);
    assert_non_null(pub);
    static const struct {
        int field;
        const char *value;
        const char *want;
    } bad[] = {
        {0, "", "domain, selector and key are required"},
        {1, "", "domain, selector and key are required"},
        {0, "exa mple.org", "invalid domain or selector"},
        {1, "s;1", "invalid domain or selector"},
        {2, "joe@other.example", "is not within d=example.org"},
        {2, "joe", "is not within d=example.org"},
        {3, "to:subject", "the signed fields must include From"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct dkim_sign_spec sp = spec_of(f->rsa, "sel1");
        const char **fld[] = {&sp.domain, &sp.selector, &sp.identity, &sp.headers};
        *fld[bad[i].field] = bad[i].value;
        memset(&err, 0, sizeof(err));
        assert_null(dkim_signer_new(&sp, 1, &err));
        if (!strstr(err.msg, bad[i].want))
            fail_msg("%s: %s", bad[i].value, err.msg);
    }
    struct dkim_sign_spec sp = spec_of(pub, "sel1");
    assert_null(dkim_signer_new(&sp, 1, &err));
    assert_non_null(strstr(err.msg, "not a private key"));
    sp = spec_of(f->rsa, "sel1");
    sp.alg = DKIM_RSA_SHA1;
    assert_null(dkim_signer_new(&sp, 1, &err));
    assert_non_null(strstr(err.msg, "rsa-sha1 must not be used"));
    sp.alg = DKIM_ED25519_SHA256;
    assert_null(dkim_signer_new(&sp, 1, &err));
    assert_non_null(strstr(err.msg, "ed25519-sha256 needs an Ed25519 key"));
    sp = spec_of(f->ed, "sel2");
    sp.alg = DKIM_RSA_SHA256;
    assert_null(dkim_signer_new(&sp, 1, &err));
    assert_non_null(strstr(err.msg, "rsa-sha256 needs an RSA key"));
    assert_null(dkim_signer_new(&sp, 0, &err));
    assert_null(dkim_signer_new(&sp, DKIM_MAX_SIGS + 1, &err));
    assert_non_null(strstr(err.msg, "need 1 to 16 signatures"));
    key_free(pub);
}

/* ---- published vectors ---- */

static char *data_file(const char *rel)
{
    const char *dir = getenv("FWDAUTH_TEST_DATA");
    if (!dir)
        fail_msg("FWDAUTH_TEST_DATA is not set");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

#define T8463 1528637909

static void test_rfc8463_verifies(void **state)
{
    (void)state;
    char *zone = data_file("rfc8463/keys.zone"), *msg = data_file("rfc8463/signed.eml");
    struct dns *d = test_zone(zone);
    struct dkim_sig_result r[DKIM_MAX_SIGS];
    assert_int_equal(dkim_verify_text(msg, d, T8463 + 60, r), 2);
    assert_result(&r[0], DKIM_PASS, "");
    assert_int_equal(r[0].alg, DKIM_ED25519_SHA256);
    assert_string_equal(r[0].selector, "brisbane");
    assert_result(&r[1], DKIM_PASS, "");
    assert_int_equal(r[1].alg, DKIM_RSA_SHA256);
    char *bad = replace(msg, "hungry", "Hungry");
    assert_int_equal(dkim_verify_text(bad, d, T8463 + 60, r), 2);
    assert_result(&r[0], DKIM_FAIL, "body hash did not verify");
    assert_result(&r[1], DKIM_FAIL, "body hash did not verify");
    free(bad);
    dns_free(d);
    free(zone);
    free(msg);
}

/* The b= value of the first field of text, white space removed. */
static void first_b(const char *text, char *out, size_t outsz)
{
    const char *b = text;
    while ((b = strstr(b + 1, "b=")) && !strchr(" \t;", b[-1]))
        ;
    assert_non_null(b);
    size_t o = 0;
    for (b += 2; *b && *b != ';' && o + 1 < outsz; b++) {
        if (*b == '\r' || *b == '\n') {
            if (b[1] != ' ' && b[1] != '\t' && *b == '\n')
                break;
            continue;
        }
        if (*b != ' ' && *b != '\t')
            out[o++] = *b;
    }
    out[o] = '\0';
}

static void test_rfc8463_ed25519_signs_byte_for_byte(void **state)
{
    (void)state;
    /* The Appendix A.1 seed as PKCS#8: a fixed DER prefix, then the seed. */
    char *seed64 = data_file("rfc8463/ed25519.seed");
    uint8_t der[48] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                       0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    assert_int_equal(b64_decode(seed64, strcspn(seed64, "\r\n"), der + 16, 32), 32);
    char pem[256], body[B64_ENCODED_LEN(48) + 1];
    assert_true(b64_encode(der, 48, body, sizeof(body)) > 0);
    snprintf(pem, sizeof(pem), "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n",
             body);
    fa_err err;
    struct fa_key *k = key_from_pem(pem, strlen(pem), &err);
    if (!k)
        fail_msg("key_from_pem: %s", err.msg);
    char *unsigned_msg = data_file("rfc8463/unsigned.eml");
    char *rfc = data_file("rfc8463/signed.eml");
    struct dkim_sign_spec sp = {
        .domain = "football.example.com",
        .selector = "brisbane",
        .key = k,
        .alg = DKIM_ED25519_SHA256,
        .hcanon = CANON_RELAXED,
        .bcanon = CANON_RELAXED,
        .headers = "from : to : subject : date : message-id : from : subject : date",
        .identity = "@football.example.com",
        .timestamp = T8463,
        .query_tag = 1,
    };
    char *ours = dkim_sign_text(unsigned_msg, &sp, 1);
    char b_ours[256], b_rfc[256];
    first_b(ours, b_ours, sizeof(b_ours));
    first_b(rfc, b_rfc, sizeof(b_rfc));
    assert_string_equal(b_ours, b_rfc);
    assert_non_null(strstr(ours, "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;"));
    free(ours);
    free(unsigned_msg);
    free(rfc);
    free(seed64);
    key_free(k);
}

static void test_rfc6376_a2(void **state)
{
    (void)state;
    char *zone = data_file("rfc6376/keys.zone"), *msg = data_file("rfc6376/a2-signed.eml");
    struct dns *d = test_zone(zone);
    struct dkim_sig_result r = dkim_verify_one(msg, d, T0);
    assert_result(&r, DKIM_PASS, "");
    assert_string_equal(r.domain, "example.com");
    assert_string_equal(r.identity, "joe@football.example.com");
    /* The figure as printed (two spaces after "game."): erratum 4926. */
    char *printed = replace(msg, "game. Are", "game.  Are");
    r = dkim_verify_one(printed, d, T0);
    assert_result(&r, DKIM_FAIL, "body hash did not verify");
    free(printed);
    dns_free(d);
    free(zone);
    free(msg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_canonicalization, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_signatures, setup, teardown),
        cmocka_unit_test(test_syntax_refusals),
        cmocka_unit_test_setup_teardown(test_key_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signer_refusals, setup, teardown),
        cmocka_unit_test(test_rfc8463_verifies),
        cmocka_unit_test(test_rfc8463_ed25519_signs_byte_for_byte),
        cmocka_unit_test(test_rfc6376_a2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
