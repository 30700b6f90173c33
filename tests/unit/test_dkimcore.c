/* Unit tests for dkimcore, the mechanics DKIM and ARC share: the one
 * signature-field parser (each check alone, what it fills in, the order
 * deciding), the default signed-field list, the body-hash check,
 * shared body hashes, the header hash's field selection (bottom-most
 * instance first, RFC 6376 section 5.4.2) checked against a digest made
 * here by hand, signing into base64, and folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "b64.h"
#include "dkimcore.h"

#include "test_mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One signature field through dkimcore_sig_parse with the given checks. */
static int parse_with(const char *value, const unsigned char *checks, size_t n, int strict,
                      time_t now, struct dkimcore_sig *s, const char **reason)
{
    static const char *const required[] = {"a", "b", NULL};
    const struct dkimcore_sig_rules rules = {.strict_tags = strict,
                                             .required = required,
                                             .hcanon = CANON_SIMPLE,
                                             .bcanon = CANON_RELAXED,
                                             .checks = checks,
                                             .nchecks = n};
    char text[1024];
    snprintf(text, sizeof(text), "X-Sig: %s\r\n\r\n", value);
    struct tmsg m;
    tmsg_parse(&m, text);
    *reason = "unset";
    int r = dkimcore_sig_parse(&m.hs.h[0], &rules, now, 300, s, reason);
    tmsg_free(&m); /* s->tags and s->h point into it: the caller reads only the copies */
    return r;
}

/* Each check alone: what holds, what fails with which reason. */
static void test_sig_checks(void **state)
{
    (void)state;
    static const struct {
        unsigned char check;
        const char *value;
        int result;
        const char *reason; /* NULL: the check holds */
    } cases[] = {
        {DKIMCORE_CHECK_REQUIRED, "a=1; b=2", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_REQUIRED, "a=1; bh=2", DKIM_PERMERROR, "missing required tag"},
        {DKIMCORE_CHECK_VERSION, "v=1", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_VERSION, "v=2", DKIM_PERMERROR, "unsupported version"},
        {DKIMCORE_CHECK_VERSION, "a=1", DKIM_PERMERROR, "unsupported version"},
        {DKIMCORE_CHECK_CV, "cv=none", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_CV, "cv=Pass", DKIM_PERMERROR, "invalid cv="},
        {DKIMCORE_CHECK_CV, "a=1", DKIM_PERMERROR, "invalid cv="},
        {DKIMCORE_CHECK_NO_H, "a=1", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_NO_H, "h=from", DKIM_PERMERROR, "h= is not allowed in an ARC-Seal"},
        {DKIMCORE_CHECK_DS, "d=mail-1.Example_x.org; s=s1", DKIM_NONE, NULL},
        /* 8-bit octets: the tag list refuses them before any check */
        {DKIMCORE_CHECK_DS, "d=b\xc3\xbc.example; s=s1", DKIM_PERMERROR,
         "forbidden character in tag value"},
        {DKIMCORE_CHECK_DS, "d=a b; s=s1", DKIM_PERMERROR, "invalid d= or s="},
        {DKIMCORE_CHECK_DS, "d=a/b; s=s1", DKIM_PERMERROR, "invalid d= or s="},
        {DKIMCORE_CHECK_DS, "d=; s=s1", DKIM_PERMERROR, "invalid d= or s="},
        {DKIMCORE_CHECK_DS, "d=example.org", DKIM_PERMERROR, "invalid d= or s="},
        {DKIMCORE_CHECK_ALG, "a=RSA-SHA256", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_ALG, "a=rsa-sha1", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_ALG, "a=rsa-md5", DKIM_PERMERROR, "unknown algorithm"},
        {DKIMCORE_CHECK_ALG_EXACT, "a=ed25519-sha256", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_ALG_EXACT, "a=RSA-SHA256", DKIM_PERMERROR, "unsupported algorithm"},
        {DKIMCORE_CHECK_ALG_EXACT, "a=rsa-sha1", DKIM_PERMERROR, "unsupported algorithm"},
        {DKIMCORE_CHECK_CANON, "a=1", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_CANON, "c=Relaxed/SIMPLE", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_CANON, "c=", DKIM_PERMERROR, "unknown canonicalization"},
        {DKIMCORE_CHECK_CANON, "c=relaxed/", DKIM_PERMERROR, "unknown canonicalization"},
        {DKIMCORE_CHECK_CANON, "c=/relaxed", DKIM_PERMERROR, "unknown canonicalization"},
        {DKIMCORE_CHECK_CANON, "c=relaxed/relaxed/x", DKIM_PERMERROR, "unknown canonicalization"},
        {DKIMCORE_CHECK_CANON, "c=nofws", DKIM_PERMERROR, "unknown canonicalization"},
        {DKIMCORE_CHECK_QUERY, "a=1", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_QUERY, "q=dns/other:DNS/TXT", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_QUERY, "q=dns", DKIM_PERMERROR, "unsupported query method"},
        {DKIMCORE_CHECK_H_FROM, "h=To :\r\n FROM ", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_H_FROM, "h=from-x:to", DKIM_PERMERROR, "From field not signed"},
        {DKIMCORE_CHECK_H_FROM, "a=1", DKIM_PERMERROR, "From field not signed"},
        {DKIMCORE_CHECK_H_NO_SEAL, "h=from:ARC-Seal", DKIM_PERMERROR, "h= lists ARC-Seal"},
        {DKIMCORE_CHECK_H_NO_SEAL, "h=from:arc-seals", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_LENGTH, "a=1", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_LENGTH, "l=0", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_LENGTH, "l=999999999999999999", DKIM_NONE, NULL}, /* 18 digits */
        {DKIMCORE_CHECK_LENGTH, "l=1000000000000000000", DKIM_PERMERROR, "invalid l="},
        {DKIMCORE_CHECK_LENGTH, "l=-1", DKIM_PERMERROR, "invalid l="},
        {DKIMCORE_CHECK_LENGTH, "l=+1", DKIM_PERMERROR, "invalid l="},
        {DKIMCORE_CHECK_LENGTH, "l=1x", DKIM_PERMERROR, "invalid l="},
        {DKIMCORE_CHECK_LENGTH, "l=1 2", DKIM_PERMERROR, "invalid l="},
        {DKIMCORE_CHECK_LENGTH, "l=", DKIM_PERMERROR, "invalid l="},
        {DKIMCORE_CHECK_TIMES, "t=5; x=6", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_TIMES, "x=soon", DKIM_PERMERROR, "invalid t= or x="},
        {DKIMCORE_CHECK_X_AFTER_T, "t=5; x=4", DKIM_NONE, NULL}, /* without TIMES: not read */
        {DKIMCORE_CHECK_BH, "bh=", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_BH, "bh=AQ*D", DKIM_PERMERROR, "malformed bh="},
        {DKIMCORE_CHECK_BH, "a=1", DKIM_PERMERROR, "malformed bh="},
        {DKIMCORE_CHECK_BH_NONEMPTY, "bh=", DKIM_PERMERROR, "malformed bh="},
        {DKIMCORE_CHECK_BH_NONEMPTY, "bh=AQID", DKIM_NONE, NULL},
        {DKIMCORE_CHECK_B, "b=", DKIM_PERMERROR, "malformed b="},
        {DKIMCORE_CHECK_B, "b=AQ=D", DKIM_PERMERROR, "malformed b="},
        {DKIMCORE_CHECK_NOT_SHA1, "a=rsa-sha1", DKIM_NONE, NULL}, /* without ALG: not read */
        {DKIMCORE_CHECK_CLOCK, "x=1", DKIM_NONE, NULL},           /* without TIMES: not read */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dkimcore_sig *s = malloc(sizeof(*s));
        const char *reason;
        int r = parse_with(cases[i].value, &cases[i].check, 1, 0, 1000, s, &reason);
        const char *want = cases[i].reason ? cases[i].reason : "unset";
        if (r != cases[i].result || strcmp(reason, want) != 0)
            fail_msg("check %d on \"%s\": %s (%s)", cases[i].check, cases[i].value,
                     dkim_result_name(r), reason);
        free(s);
    }
}

/* What the checks fill in, in order; what stays unset after a failure. */
static void test_sig_values(void **state)
{
    (void)state;
    struct dkimcore_sig *s = malloc(sizeof(*s));
    const char *reason;
    static const unsigned char all[] = {
        DKIMCORE_CHECK_REQUIRED, DKIMCORE_CHECK_DS,     DKIMCORE_CHECK_ALG,
        DKIMCORE_CHECK_CANON,    DKIMCORE_CHECK_H_FROM, DKIMCORE_CHECK_IDENTITY,
        DKIMCORE_CHECK_LENGTH,   DKIMCORE_CHECK_TIMES,  DKIMCORE_CHECK_X_AFTER_T,
        DKIMCORE_CHECK_BH,       DKIMCORE_CHECK_B,      DKIMCORE_CHECK_NOT_SHA1,
        DKIMCORE_CHECK_CLOCK,
    };
    static const char good[] = "a=ed25519-sha256; d=Example.org; s=sel; c=relaxed; h=from:to; "
                               "i=joe@mail.example.org; l=12; t=900; x=2000; bh=AQID; "
                               "b=AQID\r\n\tBA== ";
    assert_int_equal(parse_with(good, all, sizeof(all), 0, 1000, s, &reason), DKIM_NONE);
    assert_string_equal(s->domain, "Example.org");
    assert_string_equal(s->selector, "sel");
    assert_string_equal(s->identity, "joe@mail.example.org");
    assert_string_equal(s->b_prefix, "AQIDBA==");
    assert_int_equal(s->alg, DKIM_ED25519_SHA256);
    assert_int_equal(s->hcanon, CANON_RELAXED);
    assert_int_equal(s->bcanon, CANON_SIMPLE);
    assert_true(s->limit == 12);
    assert_int_equal(s->t, 900);
    assert_int_equal(s->x, 2000);
    assert_int_equal(s->bhash_len, 3);
    assert_int_equal(s->b_len, 4);
    assert_memory_equal(s->b, "\x01\x02\x03\x04", 4);
    /* b_off..b_end: the raw value of b= in the field, from after "=". */
    assert_int_equal(s->b_off, strlen("X-Sig: ") + (size_t)(strstr(good, "b=AQID") - good) + 2);
    assert_int_equal(s->b_end - s->b_off, strlen("AQID\r\n\tBA== "));
    /* Without i=: "@" d=; without c=, l=, t=, x=: the defaults. */
    assert_int_equal(parse_with("a=rsa-sha256; d=example.org; s=s; h=from; bh=; b=AQID", all,
                                sizeof(all), 0, 1000, s, &reason),
                     DKIM_NONE);
    assert_string_equal(s->identity, "@example.org");
    assert_int_equal(s->hcanon, CANON_SIMPLE);
    assert_int_equal(s->bcanon, CANON_RELAXED); /* rules' default */
    assert_true(s->limit == CANON_NO_LIMIT);
    assert_int_equal(s->t, -1);
    assert_int_equal(s->x, -1);
    /* A failing check: d= and s= and b='s prefix are still reported; what
     * later checks set stays unset. */
    assert_int_equal(parse_with("a=rsa-sha256; d=exa mple.org; s=s; h=from; bh=; b=AQID", all,
                                sizeof(all), 0, 1000, s, &reason),
                     DKIM_PERMERROR);
    assert_string_equal(reason, "invalid d= or s=");
    assert_string_equal(s->domain, "exa mple.org");
    assert_string_equal(s->b_prefix, "AQID");
    assert_int_equal(s->alg, -1);
    assert_string_equal(s->identity, "");
    /* The order decides: the first failing check is reported. */
    assert_int_equal(parse_with("a=rsa-sha1; d=example.org; s=s; h=from; x=5; bh=; b=AQID", all,
                                sizeof(all), 0, 1000, s, &reason),
                     DKIM_POLICY);
    assert_string_equal(reason, "rsa-sha1 is not accepted (RFC 8301)");
    assert_int_equal(parse_with("a=rsa-sha256; d=example.org; s=s; h=from; x=5; bh=; b=AQID", all,
                                sizeof(all), 0, 1000, s, &reason),
                     DKIM_FAIL);
    assert_string_equal(reason, "signature expired");
    assert_int_equal(parse_with("a=rsa-sha256; d=example.org; s=s; h=from; t=1301; bh=; b=AQID",
                                all, sizeof(all), 0, 1000, s, &reason),
                     DKIM_FAIL);
    assert_string_equal(reason, "signature timestamp in the future");
    assert_int_equal(parse_with("a=rsa-sha256; d=example.org; s=s; h=from; t=1300; bh=; b=AQID",
                                all, sizeof(all), 0, 1000, s, &reason),
                     DKIM_NONE); /* within the skew */
    assert_int_equal(parse_with("a=rsa-sha256; d=example.org; s=s; h=from; t=6; x=5; bh=; b=AQID",
                                all, sizeof(all), 0, 1000, s, &reason),
                     DKIM_PERMERROR);
    assert_string_equal(reason, "x= earlier than t=");
    assert_int_equal(parse_with("a=rsa-sha256; d=example.org; s=s; h=from; i=x@other.org; b=AQID",
                                all, sizeof(all), 0, 1000, s, &reason),
                     DKIM_PERMERROR);
    assert_string_equal(reason, "i= domain not within d=");
    /* Tag lists: empty tag-specs only where strict; a bad list is permerror. */
    static const unsigned char req[] = {DKIMCORE_CHECK_REQUIRED};
    assert_int_equal(parse_with("a=1;; b=2", req, 1, 0, 1000, s, &reason), DKIM_NONE);
    assert_int_equal(parse_with("a=1;; b=2", req, 1, 1, 1000, s, &reason), DKIM_PERMERROR);
    assert_string_equal(reason, "empty tag-spec");
    assert_int_equal(parse_with("a=1; a=2; b=3; d=x", req, 1, 0, 1000, s, &reason), DKIM_PERMERROR);
    assert_string_equal(reason, "duplicate tag");
    assert_string_equal(s->domain, ""); /* nothing read from a list that does not parse */
    /* cv= values are arc.h's enum arc_cv. */
    static const unsigned char cv[] = {DKIMCORE_CHECK_CV};
    static const char *const cvs[] = {"cv=none", "cv=pass", "cv=fail"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(parse_with(cvs[i], cv, 1, 1, 1000, s, &reason), DKIM_NONE);
        assert_int_equal(s->cv, i);
    }
    free(s);
}

static void test_domain_within(void **state)
{
    (void)state;
    assert_true(dkimcore_domain_within("example.org", "example.org"));
    assert_true(dkimcore_domain_within("Mail.EXAMPLE.org", "example.org"));
    assert_false(dkimcore_domain_within("badexample.org", "example.org"));
    assert_false(dkimcore_domain_within("example.org", "mail.example.org"));
    assert_false(dkimcore_domain_within("org", "example.org"));
}

static void test_default_hlist(void **state)
{
    (void)state;
    struct tmsg m;
    tmsg_parse(&m, "To: a@example.net\nTo: b@example.net\nX-Other: 1\nsubject: s\n"
                   "DKIM-Signature: v=1\nDKIM-Signature: v=1\nList-Id: <l.example>\n\nbody\n");
    char out[512];
    /* From always (once: there is none to oversign), then each present
     * field once more than it occurs, in the list's order. */
    assert_int_equal(dkimcore_default_hlist(m.hs.h, m.hs.n, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "From:Subject:Subject:To:To:To:List-Id:List-Id");
    /* For an AMS: each DKIM-Signature once more. */
    assert_int_equal(dkimcore_default_hlist(m.hs.h, m.hs.n, 1, out, sizeof(out)), 0);
    assert_string_equal(
        out, "From:Subject:Subject:To:To:To:List-Id:List-Id:DKIM-Signature:DKIM-Signature");
    assert_int_equal(dkimcore_default_hlist(m.hs.h, m.hs.n, 0, out, 20), -1);
    assert_int_equal(dkimcore_default_hlist(m.hs.h, 0, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "From");
    tmsg_free(&m);
}

static void test_body_hashes(void **state)
{
    (void)state;
    struct dkimcore_hashes hs;
    fa_err err;
    assert_int_equal(dkimcore_hashes_init(&hs, &err), 0);
    int a = dkimcore_hashes_get(&hs, CANON_RELAXED, CANON_NO_LIMIT, KEY_MD_SHA256, &err);
    int b = dkimcore_hashes_get(&hs, CANON_SIMPLE, CANON_NO_LIMIT, KEY_MD_SHA256, &err);
    int c = dkimcore_hashes_get(&hs, CANON_SIMPLE, 5, KEY_MD_SHA256, &err);
    int d = dkimcore_hashes_get(&hs, CANON_SIMPLE, CANON_NO_LIMIT, KEY_MD_SHA1, &err);
    /* The same canonicalization, length and digest share one hash. */
    assert_int_equal(dkimcore_hashes_get(&hs, CANON_RELAXED, CANON_NO_LIMIT, KEY_MD_SHA256, &err),
                     a);
    assert_int_equal(dkimcore_hashes_get(&hs, CANON_SIMPLE, 5, KEY_MD_SHA256, &err), c);
    assert_int_equal(hs.n, 4);
    assert_true(a != b && b != c && c != d);
    for (int i = (int)hs.n; i < DKIMCORE_MAX_BODY_HASHES; i++)
        assert_int_equal(dkimcore_hashes_get(&hs, CANON_RELAXED, (uint64_t)i, KEY_MD_SHA256, &err),
                         i);
    assert_int_equal(dkimcore_hashes_get(&hs, CANON_RELAXED, 999, KEY_MD_SHA256, &err), -1);
    assert_string_equal(err.msg, "too many body hashes");
    /* "a  b \n" in pieces: relaxed "a b\r\n", simple "a  b \r\n". */
    dkimcore_hashes_update(&hs, (const uint8_t *)"a  ", 3);
    dkimcore_hashes_update(&hs, (const uint8_t *)"b \n\n", 4);
    dkimcore_hashes_final(&hs);
    dkimcore_hashes_final(&hs); /* a second time changes nothing */
    uint8_t want[EVP_MAX_MD_SIZE];
    unsigned wlen;
    EVP_Digest("a b\r\n", 5, want, &wlen, EVP_sha256(), NULL);
    assert_int_equal(hs.bh[a]->dlen, 32);
    assert_memory_equal(hs.bh[a]->digest, want, 32);
    assert_null(dkimcore_check_body(hs.bh[a], CANON_NO_LIMIT, want, 32));
    assert_string_equal(dkimcore_check_body(hs.bh[a], CANON_NO_LIMIT, want, 31),
                        "body hash did not verify");
    assert_string_equal(dkimcore_check_body(hs.bh[a], 6, want, 32), "body shorter than l=");
    assert_null(dkimcore_check_body(hs.bh[a], 5, want, 32) ? "x" : NULL);
    EVP_Digest("a  b \r\n", 7, want, &wlen, EVP_sha256(), NULL);
    assert_memory_equal(hs.bh[b]->digest, want, 32);
    EVP_Digest("a  b ", 5, want, &wlen, EVP_sha256(), NULL); /* cut at l=5 */
    assert_memory_equal(hs.bh[c]->digest, want, 32);
    EVP_Digest("a  b \r\n", 7, want, &wlen, EVP_sha1(), NULL);
    assert_int_equal(hs.bh[d]->dlen, 20);
    assert_memory_equal(hs.bh[d]->digest, want, 20);
    assert_true(dkimcore_md(&hs, KEY_MD_SHA1) == hs.sha1);
    assert_true(dkimcore_md(&hs, KEY_MD_SHA256) == hs.sha256);
    dkimcore_hashes_free(&hs);
}

/* h= takes, per name, the bottom-most instance not used yet; a name with
 * none left adds nothing; extra fields follow; the signature's own field
 * comes last with its b= blanked and without CRLF. */
static void test_header_hash(void **state)
{
    (void)state;
    struct tmsg m;
    tmsg_parse(&m, "X: first\r\nFrom: a@example.org\r\nX:  second \r\n"
                   "Sig: a=1; b=SECRET; c=2\r\n\r\nbody\r\n");
    struct dkimcore_hashes hs;
    fa_err err;
    assert_int_equal(dkimcore_hashes_init(&hs, &err), 0);
    const struct msg_header *self = &m.hs.h[3];
    const char *b = strstr(self->raw, "SECRET");
    size_t boff = (size_t)(b - self->raw);
    const struct msg_header *extra[] = {&m.hs.h[1]};
    uint8_t got[EVP_MAX_MD_SIZE], want[EVP_MAX_MD_SIZE];
    unsigned glen = 0, wlen = 0;
    assert_int_equal(dkimcore_header_hash(hs.sha256, CANON_RELAXED, m.hs.h, m.hs.n,
                                          "x : from:x:x:absent", 19, extra, 1, self, boff, boff + 6,
                                          got, &glen),
                     0);
    static const char relaxed[] = "x:second\r\nfrom:a@example.org\r\nx:first\r\n"
                                  "from:a@example.org\r\nsig:a=1; b=; c=2";
    EVP_Digest(relaxed, strlen(relaxed), want, &wlen, EVP_sha256(), NULL);
    assert_int_equal(glen, 32);
    assert_memory_equal(got, want, 32);
    /* simple: the raw fields; no list, no extra. */
    assert_int_equal(dkimcore_header_hash(hs.sha1, CANON_SIMPLE, m.hs.h, m.hs.n, NULL, 0, NULL, 0,
                                          self, boff, boff + 6, got, &glen),
                     0);
    EVP_Digest("Sig: a=1; b=; c=2", 17, want, &wlen, EVP_sha1(), NULL);
    assert_int_equal(glen, 20);
    assert_memory_equal(got, want, 20);
    dkimcore_hashes_free(&hs);
    tmsg_free(&m);
}

static void test_sign_b64(void **state)
{
    (void)state;
    struct fa_key *k = test_key(KEY_ED25519);
    uint8_t digest[32] = {1, 2, 3};
    char out[200];
    fa_err err;
    assert_int_equal(dkimcore_sign_b64(k, digest, 32, out, sizeof(out), &err), 0);
    uint8_t sig[100];
    assert_int_equal(b64_decode(out, strlen(out), sig, sizeof(sig)), 64);
    assert_int_equal(key_verify_digest(k, KEY_MD_SHA256, digest, 32, sig, 64, &err), 1);
    assert_int_equal(dkimcore_sign_b64(k, digest, 32, out, 80, &err), -1);
    assert_string_equal(err.msg, "signature too long");
    key_free(k);
}

static void test_fold(void **state)
{
    (void)state;
    struct dkimcore_fold *f = malloc(sizeof(*f));
    assert_non_null(f);
    dkimcore_fold_init(f);
    dkimcore_fold_raw(f, "X-Sig: ", 7);
    dkimcore_fold_tag(f, "a", "1", 1);
    /* A tag that would pass column 76 starts a new line, never splits. */
    char v[80];
    memset(v, 'v', 66);
    v[66] = '\0';
    dkimcore_fold_tag(f, "bb", v, 0);
    dkimcore_fold_tag(f, "c", "3", 0);
    dkimcore_fold_raw(f, ";", 1);
    dkimcore_fold_break(f);
    dkimcore_fold_raw(f, "h=", 2);
    /* A long list breaks after a separator. */
    dkimcore_fold_long(f,
                       "From:Subject:Date:To:Cc:Message-ID:In-Reply-To:References:"
                       "MIME-Version:Content-Type",
                       ':');
    dkimcore_fold_raw(f, "; b=", 4);
    /* base64 breaks anywhere. */
    char b[200];
    memset(b, 'B', 150);
    b[150] = '\0';
    dkimcore_fold_long(f, b, 0);
    fa_err err;
    char *crlf = dkimcore_fold_finish(f, "\r\n", &err);
    char *lf = dkimcore_fold_finish(f, "\n", &err);
    assert_non_null(crlf);
    assert_non_null(lf);
    char want[1024];
    snprintf(want, sizeof(want),
             "X-Sig: a=1;\r\n\tbb=%s; c=3;\r\n"
             "\th=From:Subject:Date:To:Cc:Message-ID:In-Reply-To:References:MIME-Version:\r\n"
             "\tContent-Type; b=%.*s\r\n\t%.*s\r\n\t%.*s\r\n",
             v, 59, b, 75, b, 150 - 59 - 75, b);
    assert_string_equal(crlf, want);
    /* Every line at most 76 octets. */
    for (const char *p = crlf, *e; (e = strstr(p, "\r\n")); p = e + 2)
        assert_true(e - p <= 76);
    char *want_lf = replace(want, "\r\n", "\n");
    assert_string_equal(lf, want_lf);
    free(want_lf);
    free(crlf);
    free(lf);
    /* Overflow is reported, never truncated silently. */
    dkimcore_fold_init(f);
    char big[4096];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 5; i++)
        dkimcore_fold_long(f, big, 0);
    assert_true(f->overflow);
    assert_null(dkimcore_fold_finish(f, "\r\n", &err));
    assert_string_equal(err.msg, "signature field too long");
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sig_checks),    cmocka_unit_test(test_sig_values),
        cmocka_unit_test(test_domain_within), cmocka_unit_test(test_default_hlist),
        cmocka_unit_test(test_body_hashes),   cmocka_unit_test(test_header_hash),
        cmocka_unit_test(test_sign_b64),      cmocka_unit_test(test_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
