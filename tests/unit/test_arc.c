/* Unit tests for arc, the Authenticated Received Chain (RFC 8617): chains
 * of several sets sealed here by three forwarders (RSA and Ed25519 keys
 * made in the test), validated after each hop; cv=fail for a changed
 * body, a forged set, a broken structure and a key lookup that times out;
 * a seal that vouches for the status on arrival (the oldest pass); what
 * the AAR carries; sealing refused on top of cv=fail and at
 * ARC_MAX_INSTANCE sets; the sealer's own refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arc.h"

#include "test_mail.h"
#include "test_zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1767225600

static const char msg_text[] = "Authentication-Results: mx.fwd1.example; spf=pass "
                               "smtp.mailfrom=alice@example.org; dkim=none\r\n"
                               "Authentication-Results: other.example; spf=fail\r\n"
                               "From: Alice <alice@example.org>\r\n"
                               "To: list@fwd1.example\r\n"
                               "Subject: hello\r\n"
                               "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
                               "Message-ID: <1@example.org>\r\n"
                               "\r\n"
                               "Hello Bob,\r\n"
                               "second line\r\n";

/* Three forwarders: fwd1 (RSA), fwd2 and fwd3 (Ed25519), selector "arc". */
struct fixture {
    struct fa_key *k[3];
    struct dns *dns;
};

static const char *const fwd_domains[] = {"fwd1.example", "fwd2.example", "fwd3.example"};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char zone[8192] = "";
    for (int i = 0; i < 3; i++) {
        f->k[i] = test_key(i == 0 ? KEY_RSA : KEY_ED25519);
        zone_add_key(zone, sizeof(zone), f->k[i], "arc", fwd_domains[i]);
    }
    strcat(zone, "slow._domainkey.fwd1.example. TIMEOUT\n");
    f->dns = test_zone(zone);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dns_free(f->dns);
    for (int i = 0; i < 3; i++)
        key_free(f->k[i]);
    free(f);
    return 0;
}

static struct arc_seal_spec spec_of(const struct fixture *f, int hop)
{
    static char ids[3][64];
    snprintf(ids[hop], sizeof(ids[hop]), "mx.%s", fwd_domains[hop]);
    return (struct arc_seal_spec){.domain = fwd_domains[hop],
                                  .selector = "arc",
                                  .key = f->k[hop],
                                  .alg = -1,
                                  .timestamp = T0,
                                  .authserv_id = ids[hop]};
}

/* text sealed by hop; the test fails unless a set was added. */
static char *seal(const struct fixture *f, const char *text, int hop, struct arc_result *chain)
{
    struct arc_seal_spec sp = spec_of(f, hop);
    char *out;
    fa_err err = {{0}};
    if (arc_seal_text(text, &sp, f->dns, T0, &out, chain, &err) != ARC_SEALED)
        fail_msg("not sealed: %s", err.msg);
    return out;
}

static void assert_chain(const struct arc_result *r, int cv, const char *reason)
{
    if (r->cv != cv || strcmp(r->reason, reason) != 0)
        fail_msg("got cv=%s (%s), want cv=%s (%s)", arc_cv_name(r->cv), r->reason, arc_cv_name(cv),
                 reason);
}

static void test_no_chain(void **state)
{
    struct fixture *f = *state;
    struct arc_result r;
    arc_verify_text(msg_text, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_NONE, "");
    assert_int_equal(r.nsets, 0);
    assert_int_equal(r.temperror, 0);
}

/* Three hops, each validating what the one before sealed. */
static void test_three_hops(void **state)
{
    struct fixture *f = *state;
    struct arc_result chain, r;
    char *t1 = seal(f, msg_text, 0, &chain);
    assert_chain(&chain, ARC_CV_NONE, "");
    /* The first set: cv=none, the AAR carries our own results with arc=none first. */
    assert_non_null(strstr(t1, "ARC-Seal: a=rsa-sha256;\r\n\tb="));
    assert_non_null(strstr(t1, "cv=none; d=fwd1.example; i=1; s=arc; t=1767225600\r\n"));
    assert_non_null(strstr(t1, "ARC-Message-Signature: a=rsa-sha256;\r\n\tb="));
    assert_non_null(strstr(t1, "h=From:From:Subject:Subject:Date:Date:To:To:Message-ID:Message-ID; "
                               "i=1;\r\n\ts=arc; t=1767225600\r\n"));
    assert_non_null(strstr(t1, "ARC-Authentication-Results: i=1; mx.fwd1.example; arc=none;\r\n"
                               "\tspf=pass smtp.mailfrom=alice@example.org;\r\n\tdkim=none\r\n"));
    /* Another authserv-id's results are not copied. */
    const char *aar = strstr(t1, "ARC-Authentication-Results:");
    const char *end = strstr(aar, "\r\nAuthentication-Results:");
    assert_non_null(end);
    assert_null(memmem(aar, (size_t)(end - aar), "spf=fail", 8));
    arc_verify_text(t1, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_PASS, "");
    assert_int_equal(r.nsets, 1);
    assert_int_equal(r.oldest_pass, 0);
    assert_int_equal(r.sets[0].instance, 1);
    assert_int_equal(r.sets[0].cv, ARC_CV_NONE);
    assert_int_equal(r.sets[0].ams_result, DKIM_PASS);
    assert_int_equal(r.sets[0].as_result, DKIM_PASS);
    assert_string_equal(r.sets[0].ams_domain, "fwd1.example");
    assert_string_equal(r.sets[0].as_selector, "arc");
    assert_int_equal(r.sets[0].as_index, 0);
    assert_int_equal(r.sets[0].ams_index, 1);
    assert_int_equal(r.sets[0].aar_index, 2);

    char *t2 = seal(f, t1, 1, &chain);
    assert_chain(&chain, ARC_CV_PASS, "");
    assert_non_null(strstr(t2, "ARC-Seal: a=ed25519-sha256;\r\n\tb="));
    assert_non_null(strstr(t2, "cv=pass; d=fwd2.example; i=2; s=arc;"));
    /* No result of mx.fwd2.example in the message: the AAR says arc= only. */
    assert_non_null(strstr(t2, "ARC-Authentication-Results: i=2; mx.fwd2.example; arc=pass\r\n"));
    char *t3 = seal(f, t2, 2, &chain);
    assert_chain(&chain, ARC_CV_PASS, "");
    arc_verify_text(t3, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_PASS, "");
    assert_int_equal(r.nsets, 3);
    assert_int_equal(r.oldest_pass, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.sets[i].instance, i + 1);
        assert_int_equal(r.sets[i].cv, i == 0 ? ARC_CV_NONE : ARC_CV_PASS);
        assert_int_equal(r.sets[i].ams_result, DKIM_PASS);
        assert_int_equal(r.sets[i].as_result, DKIM_PASS);
        assert_string_equal(r.sets[i].as_domain, fwd_domains[i]);
    }
    /* The sets may be in any order in the message: grouped by i=. */
    char *moved = replace(t3, "\r\nFrom: Alice", "\r\nX-Moved: 1\r\nFrom: Alice");
    arc_verify_text(moved, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_PASS, "");
    free(moved);
    /* LF line ends: the same chain. */
    char *lf = replace(t3, "\r\n", "\n");
    arc_verify_text(lf, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_PASS, "");
    free(lf);
    free(t1);
    free(t2);
    free(t3);
}

static void test_changes_break_the_chain(void **state)
{
    struct fixture *f = *state;
    struct arc_result chain, r;
    char *t1 = seal(f, msg_text, 0, &chain);
    char *t2 = seal(f, t1, 1, &chain);
    /* The body changed after the last hop: its AMS fails. */
    char *body = replace(t2, "second line", "second  line!");
    arc_verify_text(body, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_FAIL, "ARC-Message-Signature i=2: body hash did not verify");
    assert_int_equal(r.sets[0].ams_result, DKIM_FAIL);
    assert_int_equal(r.sets[1].ams_result, DKIM_FAIL);
    assert_int_equal(r.sets[1].as_result, DKIM_PASS);
    assert_int_equal(r.oldest_pass, 3); /* no AMS verifies */
    /* A signed field changed: the AMS fails on the header hash. */
    char *subj = replace(t2, "Subject: hello", "Subject: hello!");
    arc_verify_text(subj, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_FAIL, "ARC-Message-Signature i=2: signature did not verify");
    free(subj);
    /* The first AAR changed: both seals cover it, the newest is named. */
    char *aar = replace(t2, "i=1; mx.fwd1.example; arc=none", "i=1; mx.fwd1.example; arc=pass");
    arc_verify_text(aar, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_FAIL, "ARC-Seal i=2: signature did not verify");
    assert_int_equal(r.sets[0].as_result, DKIM_FAIL);
    assert_int_equal(r.sets[1].as_result, DKIM_FAIL);
    free(aar);
    /* A seal's cv= changed: the chain's cv= order is checked first. */
    char *cv = replace(t2, "cv=none", "cv=pass");
    arc_verify_text(cv, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_FAIL, "ARC-Seal i=1 says cv=pass");
    free(cv);

    /* Sealing a failed chain: a set with cv=fail that covers itself only. */
    char *t3 = seal(f, body, 2, &chain);
    assert_chain(&chain, ARC_CV_FAIL, "ARC-Message-Signature i=2: body hash did not verify");
    assert_non_null(strstr(t3, "cv=fail; d=fwd3.example; i=3;"));
    assert_non_null(strstr(t3, "ARC-Authentication-Results: i=3; mx.fwd3.example; arc=fail\r\n"));
    arc_verify_text(t3, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_FAIL, "ARC-Seal i=3 says cv=fail");
    assert_int_equal(r.sets[2].as_result, DKIM_PASS); /* its seal verifies over its own set */
    assert_int_equal(r.sets[2].cv, ARC_CV_FAIL);
    /* Nothing is added on top of cv=fail. */
    struct arc_seal_spec sp = spec_of(f, 0);
    char *t4 = (char *)"unset";
    fa_err err = {{0}};
    assert_int_equal(arc_seal_text(t3, &sp, f->dns, T0, &t4, &chain, &err), ARC_NOT_SEALED);
    assert_null(t4);
    assert_non_null(strstr(err.msg, "cv=fail: no set is added"));
    free(t3);
    free(body);
    free(t1);
    free(t2);
}

/* A forwarder that validated the chain on arrival, then added a footer,
 * vouches for the status it verified (arrival_cv): the chain passes, and
 * the oldest pass names its set. */
static void test_arrival_status_and_oldest_pass(void **state)
{
    struct fixture *f = *state;
    struct arc_result chain, r;
    char *t1 = seal(f, msg_text, 0, &chain);
    arc_verify_text(t1, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_PASS, "");
    int on_arrival = r.cv;
    char *footer = replace(t1, "second line\r\n", "second line\r\n-- \r\nthe list's footer\r\n");
    struct arc_seal_spec sp = spec_of(f, 1);
    sp.arrival_cv = &on_arrival;
    char *t2;
    fa_err err;
    assert_int_equal(arc_seal_text(footer, &sp, f->dns, T0, &t2, &chain, &err), ARC_SEALED);
    assert_chain(&chain, ARC_CV_FAIL, "ARC-Message-Signature i=1: body hash did not verify");
    assert_non_null(strstr(t2, "cv=pass; d=fwd2.example; i=2;"));
    arc_verify_text(t2, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_PASS, "");
    assert_int_equal(r.sets[0].ams_result, DKIM_FAIL);
    assert_int_equal(r.sets[1].ams_result, DKIM_PASS);
    assert_int_equal(r.oldest_pass, 2);
    free(t2);
    free(footer);
    free(t1);
}

/* The chain's structure is checked before any signature: each case is a
 * cv=fail with its reason, and no set is checked. */
static void test_structure(void **state)
{
    struct fixture *f = *state;
    struct arc_result chain, r;
    char *t1 = seal(f, msg_text, 0, &chain);
    char *t2 = seal(f, t1, 1, &chain);
    static const struct {
        const char *from, *to, *reason;
    } cases[] = {
        {"ARC-Message-Signature: a=rsa", "X-Was-AMS: a=rsa",
         "ARC set i=1 has no ARC-Message-Signature"},
        {"ARC-Authentication-Results: i=2;", "X-Was-AAR: i=2;",
         "ARC set i=2 has no ARC-Authentication-Results"},
        {"ARC-Authentication-Results: i=2;", "ARC-Authentication-Results: i=1;",
         "two ARC-Authentication-Results fields with i=1"},
        {"d=fwd2.example; i=2;", "d=fwd2.example; i=3;", "ARC set i=2 has no ARC-Seal"},
        {"d=fwd2.example; i=2;", "d=fwd2.example; i=0;",
         "ARC-Seal: i= missing, invalid or out of range"},
        {"d=fwd2.example; i=2;", "d=fwd2.example; i=51;",
         "ARC-Seal: i= missing, invalid or out of range"},
        {"d=fwd2.example; i=2;", "d=fwd2.example; i=2;;", "ARC-Seal: empty tag-spec"},
        {"d=fwd2.example; i=2;", "d=fwd2.example; i=2; d=x;", "ARC-Seal: duplicate tag"},
        {"ARC-Authentication-Results: i=2;", "ARC-Authentication-Results: mx;",
         "ARC-Authentication-Results: ARC-Authentication-Results does not start with i="},
        {"ARC-Authentication-Results: i=2;", "ARC-Authentication-Results: i=2 x;",
         "ARC-Authentication-Results: ARC-Authentication-Results: i= invalid or not followed "
         "by \";\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = replace(t2, cases[i].from, cases[i].to);
        arc_verify_text(t, f->dns, T0, &r);
        if (r.cv != ARC_CV_FAIL || strcmp(r.reason, cases[i].reason) != 0)
            fail_msg("%s -> %s: cv=%s (%s)", cases[i].from, cases[i].to, arc_cv_name(r.cv),
                     r.reason);
        for (unsigned k = 0; k < r.nsets; k++)
            assert_string_equal(r.sets[k].as_reason, "not checked");
        free(t);
    }
    free(t1);
    free(t2);
}

/* Tags an AMS or a seal must not have, or must have right. */
static void test_signature_tags(void **state)
{
    struct fixture *f = *state;
    struct arc_result chain, r;
    char *t1 = seal(f, msg_text, 0, &chain);
    static const struct {
        const char *from, *to, *reason;
    } cases[] = {
        {"ARC-Seal: a=rsa-sha256", "ARC-Seal: a=RSA-SHA256", "ARC-Seal i=1: unsupported algorithm"},
        {"ARC-Seal: a=rsa-sha256", "ARC-Seal: a=rsa-sha1", "ARC-Seal i=1: unsupported algorithm"},
        {"cv=none;", "cv=maybe;", "ARC-Seal i=1: invalid cv="},
        {"cv=none;", "", "ARC-Seal i=1: missing required tag"},
        {"cv=none;", "cv=none; h=from;", "ARC-Seal i=1: h= is not allowed in an ARC-Seal"},
        {"cv=none; d=fwd1.example", "cv=none; d=fwd1..ex ample", "ARC-Seal i=1: invalid d= or s="},
        {"i=1; s=arc; t=1767225600\r\n", "i=1; s=arc; t=x\r\n", "ARC-Seal i=1: invalid t= or x="},
        {"c=relaxed/relaxed", "c=relaxed/fancy",
         "ARC-Message-Signature i=1: unknown canonicalization"},
        {"h=From", "h=ARC-Seal:From", "ARC-Message-Signature i=1: h= lists ARC-Seal"},
        {"c=relaxed/relaxed", "c=relaxed/relaxed; l=x", "ARC-Message-Signature i=1: invalid l="},
        {"c=relaxed/relaxed", "c=relaxed/relaxed; x=100",
         "ARC-Message-Signature i=1: signature expired"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = replace(t1, cases[i].from, cases[i].to);
        arc_verify_text(t, f->dns, T0, &r);
        if (r.cv != ARC_CV_FAIL || strcmp(r.reason, cases[i].reason) != 0)
            fail_msg("%s -> %s: cv=%s (%s)", cases[i].from, cases[i].to, arc_cv_name(r.cv),
                     r.reason);
        free(t);
    }
    /* A seal's t= in the future fails it. */
    char *t = replace(t1, "i=1; s=arc; t=1767225600\r\n", "i=1; s=arc; t=1767229999\r\n");
    arc_verify_text(t, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_FAIL, "ARC-Seal i=1: signature timestamp in the future");
    free(t);
    free(t1);
}

static void test_key_lookups(void **state)
{
    struct fixture *f = *state;
    struct arc_seal_spec sp = spec_of(f, 0);
    sp.selector = "slow";
    char *t;
    struct arc_result chain, r;
    fa_err err;
    assert_int_equal(arc_seal_text(msg_text, &sp, f->dns, T0, &t, &chain, &err), ARC_SEALED);
    arc_verify_text(t, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_FAIL, "ARC-Message-Signature i=1: key lookup failed temporarily");
    assert_int_equal(r.temperror, 1);
    assert_int_equal(r.sets[0].as_result, DKIM_TEMPERROR);
    free(t);
    sp.selector = "unpublished";
    assert_int_equal(arc_seal_text(msg_text, &sp, f->dns, T0, &t, &chain, &err), ARC_SEALED);
    arc_verify_text(t, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_FAIL, "ARC-Message-Signature i=1: no key for signature");
    assert_int_equal(r.temperror, 0);
    free(t);
}

/* The AAR: spec->results instead of the message's fields; an arc= the
 * results already give is kept when it says the same. */
static void test_aar(void **state)
{
    struct fixture *f = *state;
    struct arc_seal_spec sp = spec_of(f, 0);
    sp.results = "arc=none; dkim=pass header.d=example.org; spf=pass smtp.mailfrom=a@example.org";
    char *t;
    struct arc_result chain;
    fa_err err;
    assert_int_equal(arc_seal_text(msg_text, &sp, f->dns, T0, &t, &chain, &err), ARC_SEALED);
    assert_non_null(strstr(t, "ARC-Authentication-Results: i=1; mx.fwd1.example;\r\n"
                              "\tarc=none;\r\n\tdkim=pass header.d=example.org;\r\n"
                              "\tspf=pass smtp.mailfrom=a@example.org\r\n"));
    free(t);
    sp.results = "arc=pass; dkim=pass header.d=example.org";
    assert_int_equal(arc_seal_text(msg_text, &sp, f->dns, T0, &t, &chain, &err), ARC_SEALED);
    assert_non_null(strstr(t, "ARC-Authentication-Results: i=1; mx.fwd1.example; arc=none;\r\n"
                              "\tdkim=pass header.d=example.org\r\n"));
    free(t);
    sp.results = "spf=pass; this is not a result";
    assert_int_equal(arc_seal_text(msg_text, &sp, f->dns, T0, &t, &chain, &err), -1);
    assert_non_null(strstr(err.msg, "results: "));
    /* The AMS covers the fields as they will leave (arc_sealer_outgoing). */
    struct tmsg in, out;
    tmsg_parse(&in, msg_text);
    char *changed = replace(msg_text, "Subject: hello", "Subject: [list] hello");
    tmsg_parse(&out, changed);
    sp = spec_of(f, 0);
    struct arc_sealer *s = arc_sealer_new(&sp, in.hs.h, in.hs.n, T0, &err);
    assert_non_null(s);
    arc_sealer_outgoing(s, out.hs.h, out.hs.n);
    TMSG_FEED(&in, arc_sealer_body, s);
    char *fields[3];
    assert_int_equal(arc_sealer_finish(s, f->dns, "\r\n", &chain, fields, &err), ARC_SEALED);
    char *sealed = prepend_fields(fields, 3, changed);
    struct arc_result r;
    arc_verify_text(sealed, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_PASS, "");
    for (int i = 0; i < 3; i++)
        free(fields[i]);
    free(sealed);
    arc_sealer_free(s);
    tmsg_free(&in);
    tmsg_free(&out);
    free(changed);
}

static void test_at_most_max_instance(void **state)
{
    struct fixture *f = *state;
    struct arc_result chain, r;
    char *t = strdup(msg_text);
    for (int i = 0; i < ARC_MAX_INSTANCE; i++) {
        char *u = seal(f, t, 1 + i % 2, &chain);
        free(t);
        t = u;
    }
    arc_verify_text(t, f->dns, T0, &r);
    assert_chain(&r, ARC_CV_PASS, "");
    assert_int_equal(r.nsets, ARC_MAX_INSTANCE);
    struct arc_seal_spec sp = spec_of(f, 2);
    char *over;
    fa_err err;
    assert_int_equal(arc_seal_text(t, &sp, f->dns, T0, &over, &chain, &err), ARC_NOT_SEALED);
    assert_string_equal(err.msg, "the chain already has 50 sets");
    free(t);
}

static void test_sealer_refusals(void **state)
{
    struct fixture *f = *state;
    struct tmsg m;
    tmsg_parse(&m, msg_text);
    char b64[1024];
    assert_true(key_public_b64(f->k[1], b64, sizeof(b64)) > 0);
    fa_err err;
    struct fa_key *pub = key_from_dns_p(KEY_ED25519, b64, strlen(b64), &err);
    assert_non_null(pub);
    static const struct {
        int what;
        const char *value, *want;
    } cases[] = {
        {0, "fwd example", "needs a valid domain, selector and key"},
        {0, "", "needs a valid domain, selector and key"},
        {1, "a;b", "needs a valid domain, selector and key"},
        {2, "mx (x)", "needs a valid authserv-id"},
        {3, "to:subject", "the AMS must sign From"},
        {3, "from:arc-seal", "must not sign ARC-Seal or Authentication-Results"},
        {3, "from:Authentication-Results", "must not sign ARC-Seal or Authentication-Results"},
        {4, NULL, "not a private key"},
        {5, NULL, "ARC signs with rsa-sha256 or ed25519-sha256"},
        {6, NULL, "ed25519-sha256 needs an Ed25519 key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arc_seal_spec sp = spec_of(f, 0);
        switch (cases[i].what) {
        case 0:
            sp.domain = cases[i].value;
            break;
        case 1:
            sp.selector = cases[i].value;
            break;
        case 2:
            sp.authserv_id = cases[i].value;
            break;
        case 3:
            sp.headers = cases[i].value;
            break;
        case 4:
            sp.key = pub;
            break;
        case 5:
            sp.alg = DKIM_RSA_SHA1;
            break;
        case 6:
            sp.alg = DKIM_ED25519_SHA256;
            break;
        }
        memset(&err, 0, sizeof(err));
        struct arc_sealer *s = arc_sealer_new(&sp, m.hs.h, m.hs.n, T0, &err);
        assert_null(s);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: %s", i, err.msg);
    }
    key_free(pub);
    tmsg_free(&m);
}

static void test_field_instance(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        int instance;
    } cases[] = {
        {"ARC-Seal: i=1; a=rsa-sha256", 1},
        {"ARC-Seal: a=x; i = 50 ", 50},
        {"ARC-Seal: i=51", -1},
        {"ARC-Seal: i=007", 7},
        {"ARC-Seal: i=0", -1},
        {"ARC-Seal: a=x", -1},
        {"ARC-Seal: i=1;;", -1},
        {"ARC-Message-Signature: i=3; a=x", 3},
        {"ARC-Authentication-Results: i=2; mx.example; spf=pass", 2},
        {"ARC-Authentication-Results:\r\n i = 12 ; mx.example", 12},
        {"ARC-Authentication-Results: i=2 mx.example", -1},
        {"ARC-Authentication-Results: mx.example; i=2", -1},
        {"ARC-Authentication-Results: i=", -1},
        {"Authentication-Results: i=1; mx", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "%s\r\n\r\n", cases[i].field);
        struct tmsg m;
        tmsg_parse(&m, text);
        const char *why = NULL;
        int got = arc_field_instance(&m.hs.h[0], &why);
        if (got != cases[i].instance)
            fail_msg("%s: %d", cases[i].field, got);
        if (got < 0)
            assert_non_null(why);
        tmsg_free(&m);
    }
    assert_string_equal(arc_cv_name(ARC_CV_NONE), "none");
    assert_string_equal(arc_cv_name(ARC_CV_PASS), "pass");
    assert_string_equal(arc_cv_name(ARC_CV_FAIL), "fail");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_no_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_hops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_break_the_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arrival_status_and_oldest_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signature_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_lookups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_at_most_max_instance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sealer_refusals, setup, teardown),
        cmocka_unit_test(test_field_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
