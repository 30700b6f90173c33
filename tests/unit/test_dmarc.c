/* Unit tests for dmarc: record parsing, RFC 7489 and RFC 9989 policy
 * discovery, alignment and results, answered from zone files. Each case
 * names the section of the RFC its expected outcome comes from. A zone
 * owner "TIMEOUT" makes any query for it fail temporarily (dns.h): used to
 * prove a name is NOT queried (the result would be temperror otherwise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_zone.h"

#include "dmarc.h"

#include <stdio.h>
#include <string.h>

#define M7 DMARC_MODE_RFC7489
#define M9 DMARC_MODE_RFC9989

static int eval(const char *zt, int mode, const char *from, const struct dmarc_auth *a,
                struct dmarc_result *r)
{
    struct dns *d = test_zone(zt);
    int res = dmarc_evaluate(d, mode, from, a, r);
    dns_free(d);
    assert_int_equal(res, r->result);
    assert_non_null(r->reason);
    return res;
}

/* Authentication inputs. */
static struct dmarc_dkim_auth sigs[4];

static struct dmarc_auth none_auth(void)
{
    struct dmarc_auth a = {0};
    return a;
}

static struct dmarc_auth spf(int result, const char *domain)
{
    struct dmarc_auth a = {.spf_result = result, .spf_domain = domain};
    return a;
}

static struct dmarc_auth dkim(int result, const char *domain)
{
    sigs[0].result = result;
    sigs[0].domain = domain;
    struct dmarc_auth a = {.dkim = sigs, .ndkim = 1};
    return a;
}

static void expect(const struct dmarc_result *r, int result, int disposition)
{
    if (r->result != result || r->disposition != disposition)
        fail_msg("got %s/%s (%s), want %s/%s", dmarc_result_name(r->result),
                 dmarc_policy_name(r->disposition), r->reason, dmarc_result_name(result),
                 dmarc_policy_name(disposition));
}

/* ---- parsing ------------------------------------------------------------- */

static struct dmarc_record parse_ok(const char *s, int mode)
{
    struct dmarc_record r;
    const char *why = NULL;
    if (dmarc_parse_record(s, strlen(s), mode, &r, &why) != 0)
        fail_msg("not parsed: %s (%s)", s, why);
    return r;
}

static void parse_not(const char *s)
{
    struct dmarc_record r;
    const char *why = NULL;
    assert_int_equal(dmarc_parse_record(s, strlen(s), M7, &r, &why), -1);
    assert_int_equal(dmarc_parse_record(s, strlen(s), M9, &r, &why), -1);
    assert_non_null(why);
}

/* RFC 7489 6.3: every tag of a full record. */
static void test_parse_full_7489(void **state)
{
    (void)state;
    struct dmarc_record r = parse_ok("v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50; "
                                     "fo=1:d; rua=mailto:a@example.com, mailto:b@example.net!10m; "
                                     "ruf=mailto:f@example.com; rf=afrf; ri=3600",
                                     M7);
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    assert_int_equal(r.sp, DMARC_POLICY_QUARANTINE);
    assert_int_equal(r.np, DMARC_POLICY_ABSENT);
    assert_int_equal(r.adkim, DMARC_ALIGN_STRICT);
    assert_int_equal(r.aspf, DMARC_ALIGN_RELAXED);
    assert_int_equal(r.pct, 50);
    assert_int_equal(r.fo, DMARC_FO_1 | DMARC_FO_D);
    assert_int_equal(r.rua_valid, 2);
    assert_string_equal(r.rua, "mailto:a@example.com,mailto:b@example.net!10m");
    assert_int_equal(r.ruf_valid, 1);
    assert_int_equal(r.rf_afrf, 1);
    assert_int_equal(r.ri, 3600);
    assert_int_equal(r.psd, 'u');
    assert_false(r.p_invalid || r.sp_invalid || r.np_invalid);
}

/* RFC 9989 4.7: np, psd, t; pct/rf/ri are no longer tags (unknown: ignored). */
static void test_parse_full_9989(void **state)
{
    (void)state;
    struct dmarc_record r =
        parse_ok("v=DMARC1;p=quarantine;np=reject;psd=y;t=y;pct=10;ri=5;rf=iodef", M9);
    assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
    assert_int_equal(r.np, DMARC_POLICY_REJECT);
    assert_int_equal(r.psd, 'y');
    assert_int_equal(r.testing, 1);
    assert_int_equal(r.pct, 100);
    assert_int_equal(r.ri, 86400);
    assert_int_equal(r.rf_afrf, 1);
    /* And in RFC 7489 mode np, psd and t are the unknown ones. */
    r = parse_ok("v=DMARC1;p=quarantine;np=reject;psd=y;t=y;pct=10", M7);
    assert_int_equal(r.np, DMARC_POLICY_ABSENT);
    assert_int_equal(r.psd, 'u');
    assert_int_equal(r.testing, 0);
    assert_int_equal(r.pct, 10);
}

/* RFC 7489 6.3 / 9989 4.7 "v": first tag, value DMARC1 exactly (ABNF
 * %x44.4d... in 7489, %s"DMARC1" in 9989); the tag name "v" is an ABNF
 * literal, so case-insensitive, and *WSP is allowed around "=". */
static void test_parse_version(void **state)
{
    (void)state;
    parse_not("");
    parse_not("v=DMARC2; p=none");
    parse_not("p=none; v=DMARC1");
    parse_not("v=dmarc1; p=none");
    parse_not("v=DMARC1x; p=none");
    parse_not("v=DMARC1 p=none");
    parse_not("v=spf1 -all");
    assert_int_equal(parse_ok("V = DMARC1 ;p=none", M9).p, DMARC_POLICY_NONE);
    assert_int_equal(parse_ok("v=DMARC1", M9).p, DMARC_POLICY_ABSENT);
    assert_int_equal(parse_ok("v=DMARC1;", M7).p, DMARC_POLICY_ABSENT);
}

/* RFC 7489 6.3: "Unknown tags MUST be ignored. Syntax errors in the
 * remainder of the record SHOULD be discarded in favor of default values
 * (if any) or ignored outright" (9989 4.7: MUST). */
static void test_parse_errors_default(void **state)
{
    (void)state;
    struct dmarc_record r = parse_ok("v=DMARC1; p=reject; foo=bar; x_y=1; =x; junk; "
                                     "adkim=x; aspf=; pct=101; fo=2; ri=abc; rf=:; "
                                     "rua=mailto:r@example.org",
                                     M7);
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    assert_int_equal(r.adkim, DMARC_ALIGN_RELAXED);
    assert_int_equal(r.aspf, DMARC_ALIGN_RELAXED);
    assert_int_equal(r.pct, 100);
    assert_int_equal(r.fo, DMARC_FO_0);
    assert_int_equal(r.ri, 86400);
    assert_int_equal(r.rf_afrf, 1);
    assert_int_equal(r.rua_valid, 1);
    assert_int_equal(parse_ok("v=DMARC1; p=none; pct=-1", M7).pct, 100);
    assert_int_equal(parse_ok("v=DMARC1; p=none; pct=0", M7).pct, 0);
    assert_int_equal(parse_ok("v=DMARC1; psd=x; t=maybe", M9).psd, 'u');
    assert_int_equal(parse_ok("v=DMARC1; psd=x; t=maybe", M9).testing, 0);
}

/* Keyword values and tag names are ABNF literals: case-insensitive
 * (RFC 5234 2.3; RFC 7489 6.4, RFC 9989 4.8). */
static void test_parse_case(void **state)
{
    (void)state;
    struct dmarc_record r = parse_ok("v=DMARC1; P=Reject; SP=NONE; ADKIM=S; Aspf=s; Fo=D:S", M7);
    assert_int_equal(r.p, DMARC_POLICY_REJECT);
    assert_int_equal(r.sp, DMARC_POLICY_NONE);
    assert_int_equal(r.adkim, DMARC_ALIGN_STRICT);
    assert_int_equal(r.aspf, DMARC_ALIGN_STRICT);
    assert_int_equal(r.fo, DMARC_FO_D | DMARC_FO_S);
    assert_int_equal(parse_ok("v=DMARC1; PSD=Y; T=Y", M9).psd, 'y');
}

/* A repeated tag is a syntax error in the remainder: ignored, the first
 * occurrence stays (RFC 7489 6.3, RFC 9989 4.7). */
static void test_parse_duplicates(void **state)
{
    (void)state;
    struct dmarc_record r =
        parse_ok("v=DMARC1; p=none; p=reject; P=quarantine; adkim=s; adkim=r", M7);
    assert_int_equal(r.p, DMARC_POLICY_NONE);
    assert_int_equal(r.adkim, DMARC_ALIGN_STRICT);
}

/* Bad p/sp/np are kept as "invalid" for 6.6.3 step 6 / 4.10.1. */
static void test_parse_invalid_policy(void **state)
{
    (void)state;
    struct dmarc_record r =
        parse_ok("v=DMARC1; p=block; sp=; np=x; rua=mailto:a@example.com,bogus", M9);
    assert_int_equal(r.p, DMARC_POLICY_ABSENT);
    assert_true(r.p_invalid);
    assert_true(r.sp_invalid); /* an empty value is not a policy either */
    assert_true(r.np_invalid);
    assert_int_equal(r.rua_valid, 1);
    assert_string_equal(r.rua, "mailto:a@example.com");
}

/* DMARC URIs: RFC 3986 URI with an optional "!size" (RFC 7489 6.2, 6.4). */
static void test_parse_uris(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("v=DMARC1; rua=foo", M7).rua_valid, 0);
    assert_int_equal(parse_ok("v=DMARC1; rua=mailto:", M7).rua_valid, 0);
    assert_int_equal(parse_ok("v=DMARC1; rua=mailto:a@b!10x", M7).rua_valid, 0);
    assert_int_equal(parse_ok("v=DMARC1; rua=mailto:a@b!", M7).rua_valid, 0);
    assert_int_equal(parse_ok("v=DMARC1; rua=1mailto:a@b", M7).rua_valid, 0);
    assert_int_equal(parse_ok("v=DMARC1; rua=mailto:a@b!10", M7).rua_valid, 1);
    assert_int_equal(parse_ok("v=DMARC1; rua=https://r.example/x, mailto:a@b", M7).rua_valid, 2);
}

/* ---- RFC 7489 policy discovery -------------------------------------------- */

static const char *Z7 =
    "_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com\"\n"
    "_dmarc.example.com TXT \"v=spf1 -all\"\n"
    "_dmarc.own.example.com TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.example.co.uk TXT \"v=DMARC1; p=quarantine\"\n"
    "_dmarc.two.example.com TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.two.example.com TXT \"v=DMARC1; p=reject\"\n"
    "_dmarc.dup.example TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.dup.example TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.slow.example TIMEOUT\n"
    "_dmarc.b.example.com TIMEOUT\n"
    "_dmarc.bad.example TXT \"v=DMARC1; p=block; rua=mailto:x@bad.example\"\n"
    "_dmarc.badnorua.example TXT \"v=DMARC1; p=block\"\n"
    "_dmarc.nop.example TXT \"v=DMARC1; rua=mailto:x@nop.example\"\n"
    "_dmarc.nopnorua.example TXT \"v=DMARC1; adkim=s\"\n"
    "_dmarc.strict.example TXT \"v=DMARC1; p=reject; adkim=s; aspf=s\"\n"
    "_dmarc.pct.example TXT \"v=DMARC1; p=reject; pct=25\"\n"
    "_dmarc.pctq.example TXT \"v=DMARC1; p=quarantine; pct=50\"\n"
    "_dmarc.pct0.example TXT \"v=DMARC1; p=reject; pct=0\"\n"
    "_dmarc.bis.example TXT \"v=DMARC1; p=reject; sp=reject; np=none; t=y; psd=n\"\n"
    "_dmarc.co.uk TXT \"v=DMARC1; p=reject\"\n";

/* 6.6.3 step 1, 3.1.1 relaxed DKIM alignment: record at the From domain. */
static void test_7489_record_at_from(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = dkim(DMARC_AUTH_PASS, "mail.example.com");
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    assert_true(r.dkim_aligned);
    assert_false(r.spf_aligned);
    assert_string_equal(r.dkim_domain, "mail.example.com");
    assert_string_equal(r.record_domain, "example.com");
    assert_string_equal(r.org_domain, "example.com");
    assert_true(r.from_is_org);
    assert_int_equal(r.policy, DMARC_POLICY_REJECT);
    assert_int_equal(r.policy_source, DMARC_FROM_P);
    /* Non-DMARC TXT at the same name is discarded (6.6.3 step 2). */
    assert_true(r.have_record);
}

/* 6.6.3 step 3 and 6.3 "sp": no record at the From domain, the
 * Organizational Domain's sp applies; a failing message gets sp. */
static void test_7489_org_fallback_sp(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = spf(DMARC_AUTH_PASS, "other.example.net");
    eval(Z7, M7, "news.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_string_equal(r.record_domain, "example.com");
    assert_string_equal(r.org_domain, "example.com");
    assert_false(r.from_is_org);
    assert_int_equal(r.policy_source, DMARC_FROM_SP);
    /* Only the From domain and the Organizational Domain are asked:
     * _dmarc.b.example.com would time out (6.6.3; 3.2). */
    a = none_auth();
    eval(Z7, M7, "a.b.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_string_equal(r.record_domain, "example.com");
}

/* 3.2: Organizational Domain by the PSL: mail.example.co.uk -> example.co.uk. */
static void test_7489_psl(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = spf(DMARC_AUTH_PASS, "bounce.example.co.uk");
    eval(Z7, M7, "mail.example.co.uk", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    assert_string_equal(r.org_domain, "example.co.uk");
    assert_string_equal(r.record_domain, "example.co.uk");
    assert_true(r.spf_aligned);
    /* co.uk is a public suffix: example.co.uk and other.co.uk never align. */
    a = spf(DMARC_AUTH_PASS, "other.co.uk");
    eval(Z7, M7, "mail.example.co.uk", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    /* A From domain that is itself a public suffix is its own org domain. */
    char org[DMARC_DOMAIN_MAX];
    assert_int_equal(dmarc_org_domain(NULL, M7, "co.uk", org, sizeof(org)), 0);
    assert_string_equal(org, "co.uk");
    assert_int_equal(dmarc_org_domain(NULL, M7, "A.B.Example.CO.UK.", org, sizeof(org)), 0);
    assert_string_equal(org, "example.co.uk");
    assert_int_equal(dmarc_org_domain(NULL, M7, "a.b.example.com", org, 5), DMARC_PERMERROR);
    assert_int_equal(dmarc_org_domain(NULL, M7, "a..b", org, sizeof(org)), DMARC_PERMERROR);
}

/* 6.3 "sp": a record published at the From domain (a subdomain) applies
 * its own p. */
static void test_7489_record_at_subdomain(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z7, M7, "own.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    assert_string_equal(r.record_domain, "own.example.com");
    assert_int_equal(r.policy_source, DMARC_FROM_P);
}

/* 6.6.3 step 5: several DMARC records -> no DMARC processing; no fallback
 * to the Organizational Domain (step 3 only runs on an empty set). */
static void test_7489_multiple_records(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z7, M7, "two.example.com", &a, &r);
    expect(&r, DMARC_NONE, DMARC_POLICY_NONE);
    assert_string_equal(r.record_domain, "");
    eval(Z7, M7, "x.dup.example", &a, &r);
    expect(&r, DMARC_NONE, DMARC_POLICY_NONE);
}

/* 6.6.3 "Handling of DNS errors ... left to the discretion": temperror. */
static void test_7489_temperror(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = dkim(DMARC_AUTH_PASS, "slow.example");
    eval(Z7, M7, "slow.example", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    eval(Z7, M7, "x.slow.example", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
}

/* 6.6.3: no record anywhere -> none. */
static void test_7489_no_record(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = dkim(DMARC_AUTH_PASS, "nothing.example");
    eval(Z7, M7, "nothing.example", &a, &r);
    expect(&r, DMARC_NONE, DMARC_POLICY_NONE);
    assert_false(r.have_record);
    assert_int_equal(r.policy, DMARC_POLICY_ABSENT);
}

/* 6.6.3 step 6: invalid p with a valid rua -> "p=none"; without -> no
 * DMARC processing (permerror here); p is REQUIRED in 7489 (6.3). */
static void test_7489_invalid_p(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z7, M7, "bad.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    assert_int_equal(r.policy, DMARC_POLICY_NONE);
    eval(Z7, M7, "badnorua.example", &a, &r);
    expect(&r, DMARC_PERMERROR, DMARC_POLICY_NONE);
    eval(Z7, M7, "nop.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    eval(Z7, M7, "nopnorua.example", &a, &r);
    expect(&r, DMARC_PERMERROR, DMARC_POLICY_NONE);
}

/* 3.1.1 / 3.1.2 strict alignment: exact match only. */
static void test_7489_strict(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = spf(DMARC_AUTH_PASS, "bounces.strict.example");
    eval(Z7, M7, "strict.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    a = spf(DMARC_AUTH_PASS, "STRICT.example.");
    eval(Z7, M7, "strict.example", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    a = dkim(DMARC_AUTH_PASS, "mail.strict.example");
    eval(Z7, M7, "strict.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    a = dkim(DMARC_AUTH_PASS, "strict.example");
    eval(Z7, M7, "strict.example", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    /* The same pair under a relaxed record (3.1.1): aligned. */
    a = dkim(DMARC_AUTH_PASS, "example.com");
    eval(Z7, M7, "news.example.com", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
}

/* 4.2: only passing identifiers count; any aligned DKIM signature passes. */
static void test_7489_dkim_many(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_dkim_auth s[3] = {{DMARC_AUTH_OTHER, "example.com"},
                                   {DMARC_AUTH_PASS, "list.example.org"},
                                   {DMARC_AUTH_PASS, "news.example.com"}};
    struct dmarc_auth a = {.dkim = s, .ndkim = 2};
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    a.ndkim = 3;
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    assert_string_equal(r.dkim_domain, "news.example.com");
    /* SPF fail with an aligned domain does not count. */
    a = spf(DMARC_AUTH_OTHER, "example.com");
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
}

/* 6.6.4: pct sampling; outside the sample reject -> quarantine and
 * quarantine -> none. pct_roll decides (pass when roll < pct). */
static void test_7489_pct(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    a.pct_roll = 10;
    eval(Z7, M7, "pct.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_false(r.sampled_out);
    a.pct_roll = 25;
    eval(Z7, M7, "pct.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_true(r.sampled_out);
    assert_int_equal(r.policy, DMARC_POLICY_REJECT);
    a.pct_roll = 125; /* modulo 100 */
    eval(Z7, M7, "pct.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    a.pct_roll = 49;
    eval(Z7, M7, "pctq.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    a.pct_roll = 50;
    eval(Z7, M7, "pctq.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    a.pct_roll = 0;
    eval(Z7, M7, "pct0.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    /* Default record pct=100: every roll enacts. */
    a.pct_roll = 99;
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
}

/* RFC 9989 tags mean nothing in 7489 mode: t=y and np are ignored. */
static void test_7489_ignores_9989_tags(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z7, M7, "nx.bis.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_int_equal(r.from_exists, -1);
}

/* RFC 9989 "Determine Handling Policy": no aligned pass but a temporary
 * error on an identifier that would align -> the policy cannot be applied. */
static void test_identifier_temperror(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = dkim(DMARC_AUTH_TEMPERROR, "example.com");
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    a = dkim(DMARC_AUTH_TEMPERROR, "example.org"); /* would not align anyway */
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    a = spf(DMARC_AUTH_TEMPERROR, "bounce.example.com");
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    /* An aligned pass wins over another identifier's temporary error. */
    struct dmarc_dkim_auth s[2] = {{DMARC_AUTH_TEMPERROR, "example.com"},
                                   {DMARC_AUTH_PASS, "example.com"}};
    a.dkim = s;
    a.ndkim = 2;
    eval(Z7, M7, "example.com", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
}

/* Domains are case-insensitive (RFC 4343); a trailing dot is dropped;
 * an unusable From domain gives none. */
static void test_from_domain_forms(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = dkim(DMARC_AUTH_PASS, "Example.COM");
    eval(Z7, M7, "News.EXAMPLE.com.", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    assert_string_equal(r.from_domain, "news.example.com");
    const char *bad[] = {"", ".", "a..b", "exa mple.com", "\xc3\xa9.example", ".example.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eval(Z7, M7, bad[i], &a, &r);
        expect(&r, DMARC_NONE, DMARC_POLICY_NONE);
        eval(Z7, M9, bad[i], &a, &r);
        expect(&r, DMARC_NONE, DMARC_POLICY_NONE);
    }
    assert_int_equal(dmarc_evaluate(NULL, M7, NULL, NULL, &r), DMARC_NONE);
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    for (size_t i = 60; i < sizeof(long_name) - 1; i += 61)
        long_name[i] = '.';
    eval(Z7, M9, long_name, &a, &r);
    expect(&r, DMARC_NONE, DMARC_POLICY_NONE);
}

/* ---- RFC 9989 DNS Tree Walk ------------------------------------------------ */

static const char *Z9 =
    /* ordinary organization with a subdomain record */
    "_dmarc.example.com TXT \"v=DMARC1; p=reject; sp=quarantine\"\n"
    "_dmarc.b.example.com TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.own.example.com TXT \"v=DMARC1; p=none\"\n"
    /* PSD with psd=y; example.bank has no record, corp.bank has one */
    "_dmarc.bank TXT \"v=DMARC1; p=reject; sp=quarantine; psd=y\"\n"
    "_dmarc.corp.bank TXT \"v=DMARC1; p=none\"\n"
    /* psd=n stops the walk: _dmarc.uz would time out */
    "_dmarc.example.uz TXT \"v=DMARC1; p=reject; psd=n\"\n"
    "_dmarc.uz TIMEOUT\n"
    /* no psd anywhere: the fewest labels win */
    "_dmarc.example.zz TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.zz TXT \"v=DMARC1; p=reject; sp=reject\"\n"
    /* two records at one name are dropped, the walk goes on */
    "_dmarc.two.example.com TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.two.example.com TXT \"v=DMARC1; p=none\"\n"
    /* temporary errors */
    "_dmarc.slow.example.net TIMEOUT\n"
    "_dmarc.example.net TIMEOUT\n"
    "_dmarc.fast.example.net TXT \"v=DMARC1; p=reject\"\n"
    "_dmarc.t2.example.com TIMEOUT\n"
    /* np= and existence */
    "_dmarc.np.example TXT \"v=DMARC1; p=none; sp=quarantine; np=reject\"\n"
    "exists.np.example A 192.0.2.1\n"
    "txtonly.np.example TXT \"hello\"\n"
    "slow.np.example TIMEOUT\n"
    "_dmarc.nonp.example TXT \"v=DMARC1; p=none; sp=quarantine\"\n"
    "slow.nonp.example TIMEOUT\n"
    /* t=y, pct, p handling */
    "_dmarc.t.example TXT \"v=DMARC1; p=reject; t=y\"\n"
    "_dmarc.tq.example TXT \"v=DMARC1; p=quarantine; t=y\"\n"
    "_dmarc.pct.example TXT \"v=DMARC1; p=reject; pct=0\"\n"
    "_dmarc.nop.example TXT \"v=DMARC1; adkim=s\"\n"
    "_dmarc.badp.example TXT \"v=DMARC1; p=block\"\n"
    "_dmarc.badsp.example TXT \"v=DMARC1; p=reject; sp=x; rua=mailto:a@badsp.example\"\n"
    /* a suffix the PSL lists that publishes a record */
    "_dmarc.blogspot.com TXT \"v=DMARC1; p=reject\"\n";

/* 4.10.1: the Author Domain's own record; 4.10.2 rule 3: org domain is
 * the record with the fewest labels found by the walk. */
static void test_9989_record_at_from(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z9, M9, "own.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    assert_string_equal(r.record_domain, "own.example.com");
    assert_string_equal(r.org_domain, "example.com");
    assert_false(r.from_is_org);
    assert_int_equal(r.policy_source, DMARC_FROM_P);
}

/* 4.10.2's own example: records at mail.example.com and example.com ->
 * org example.com; 4.10.1: the org domain's record, sp for a subdomain. */
static void test_9989_walk_fewest_labels(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z9, M9, "a.b.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_string_equal(r.record_domain, "example.com");
    assert_string_equal(r.org_domain, "example.com");
    assert_int_equal(r.policy_source, DMARC_FROM_SP);
    eval(Z9, M9, "example.zz", &a, &r); /* own record, but org is zz */
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    assert_string_equal(r.org_domain, "zz");
    eval(Z9, M9, "mail.example.zz", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_string_equal(r.record_domain, "zz");
}

/* 4.10.2 rule 2 and 4.10.1: psd=y -> the org domain is one label below
 * the PSD; its policy applies when the org domain has no record. */
static void test_9989_psd_y(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z9, M9, "mail.example.bank", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_string_equal(r.org_domain, "example.bank");
    assert_string_equal(r.record_domain, "bank");
    assert_false(r.from_is_org);
    eval(Z9, M9, "example.bank", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_true(r.from_is_org);
    assert_int_equal(r.policy_source, DMARC_FROM_SP);
    /* The org domain's own record wins over the PSD's (4.10.1 note: PSD
     * policy is not used for org domains that publish one). */
    eval(Z9, M9, "mail.corp.bank", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    assert_string_equal(r.org_domain, "corp.bank");
    assert_string_equal(r.record_domain, "corp.bank");
    /* psd=y where the walk starts: rule 2 skips it, rule 3 -> itself. */
    eval(Z9, M9, "bank", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_string_equal(r.org_domain, "bank");
    assert_int_equal(r.policy_source, DMARC_FROM_P);
    /* Relaxed alignment under a PSD: siblings never align. */
    a = dkim(DMARC_AUTH_PASS, "other.bank");
    eval(Z9, M9, "mail.example.bank", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    a = dkim(DMARC_AUTH_PASS, "x.example.bank");
    eval(Z9, M9, "mail.example.bank", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
}

/* 4.10 steps 2/6 and 4.10.2 rule 1: psd=n stops the walk (the TIMEOUT at
 * _dmarc.uz is never reached) and names the org domain. */
static void test_9989_psd_n(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = dkim(DMARC_AUTH_PASS, "news.example.uz");
    eval(Z9, M9, "mail.example.uz", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    assert_string_equal(r.org_domain, "example.uz");
    assert_string_equal(r.record_domain, "example.uz");
    char org[DMARC_DOMAIN_MAX];
    struct dns *d = test_zone(Z9);
    assert_int_equal(dmarc_org_domain(d, M9, "a.b.example.uz", org, sizeof(org)), 0);
    assert_string_equal(org, "example.uz");
    /* Without psd=n the walk reaches _dmarc.uz and times out. */
    assert_int_equal(dmarc_org_domain(d, M9, "other.uz", org, sizeof(org)), DMARC_TEMPERROR);
    dns_free(d);
}

/* 4.10 step 4: a name of 8 or more labels goes straight to its 7
 * right-most labels after the first query. Every skipped name times out,
 * so any query for one would make the result temperror. */
static void test_9989_long_name_shortcut(void **state)
{
    (void)state;
    const char *zt = "_dmarc.l9.l8.l7.l6.l5.l4.l3.example.com TIMEOUT\n"
                     "_dmarc.l8.l7.l6.l5.l4.l3.example.com TIMEOUT\n"
                     "_dmarc.l7.l6.l5.l4.l3.example.com TXT \"v=DMARC1; p=reject; psd=n\"\n"
                     "_dmarc.example.com TXT \"v=DMARC1; p=none\"\n";
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    /* 10 labels: query 1 = the From domain, query 2 = 7 labels. */
    eval(zt, M9, "l10.l9.l8.l7.l6.l5.l4.l3.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_string_equal(r.org_domain, "l7.l6.l5.l4.l3.example.com");
    assert_string_equal(r.record_domain, "l7.l6.l5.l4.l3.example.com");
    /* 8 labels: the first query is the From domain itself (it times out). */
    eval(zt, M9, "l8.l7.l6.l5.l4.l3.example.com", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    /* Without the psd=n: 10 labels, 8 queries, org example.com. */
    const char *zt2 = "_dmarc.l9.l8.l7.l6.l5.l4.l3.example.com TIMEOUT\n"
                      "_dmarc.l8.l7.l6.l5.l4.l3.example.com TIMEOUT\n"
                      "_dmarc.l5.l4.l3.example.com TXT \"v=DMARC1; p=quarantine\"\n"
                      "_dmarc.example.com TXT \"v=DMARC1; p=none; sp=reject\"\n";
    eval(zt2, M9, "l10.l9.l8.l7.l6.l5.l4.l3.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_string_equal(r.org_domain, "example.com");
    /* 7 labels: no shortcut, each label in turn (psd=n at 6 labels found). */
    const char *zt3 = "_dmarc.l6.l5.l4.l3.example.com TXT \"v=DMARC1; p=reject; psd=n\"\n"
                      "_dmarc.example.com TIMEOUT\n";
    eval(zt3, M9, "l7.l6.l5.l4.l3.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_string_equal(r.org_domain, "l6.l5.l4.l3.example.com");
    /* A 100-label name costs 8 queries: only names of <= 7 labels (and
     * the name itself) are asked. */
    char big[400] = "";
    for (int i = 0; i < 93; i++)
        strcat(big, "x.");
    strcat(big, "l6.l5.l4.l3.example.com");
    eval(zt3, M9, big, &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
}

/* 4.10 steps 2/6: several DMARC records at a name are discarded and the
 * walk goes on (unlike RFC 7489 6.6.3 step 5). */
static void test_9989_multiple_records(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z9, M9, "two.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_string_equal(r.record_domain, "example.com");
    eval(Z9, M7, "two.example.com", &a, &r);
    expect(&r, DMARC_NONE, DMARC_POLICY_NONE);
}

/* 4.10.1: a DNS error during the walk before a policy is known ->
 * temperror; after the From domain's own record, only relaxed alignment
 * (which needs the org domain) is blocked. */
static void test_9989_temperror(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z9, M9, "slow.example.net", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    eval(Z9, M9, "x.other.example.net", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    /* fast.example.net has a record; its parent times out. */
    a = dkim(DMARC_AUTH_PASS, "fast.example.net");
    eval(Z9, M9, "fast.example.net", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    assert_string_equal(r.org_domain, "");
    a = dkim(DMARC_AUTH_PASS, "mail.fast.example.net");
    eval(Z9, M9, "fast.example.net", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    a = none_auth();
    eval(Z9, M9, "fast.example.net", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    /* An identifier's own walk timing out: alignment unknown ... */
    a = spf(DMARC_AUTH_PASS, "bounce.t2.example.com");
    eval(Z9, M9, "example.com", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    /* ... unless it is outside the From org domain: it cannot align, and
     * its walk is not even made. */
    a = spf(DMARC_AUTH_PASS, "bounce.slow.example.net");
    eval(Z9, M9, "example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
}

/* 4.7 "np" and 4.10.1: np applies to a From domain that does not exist
 * (NXDOMAIN, the RFC 8020 meaning RFC 9989 adopts); an existing name -
 * even one with only TXT - gets sp. */
static void test_9989_np(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z9, M9, "ghost.np.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_int_equal(r.policy_source, DMARC_FROM_NP);
    assert_int_equal(r.from_exists, 0);
    eval(Z9, M9, "exists.np.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_int_equal(r.policy_source, DMARC_FROM_SP);
    assert_int_equal(r.from_exists, 1);
    eval(Z9, M9, "txtonly.np.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    eval(Z9, M9, "slow.np.example", &a, &r);
    expect(&r, DMARC_TEMPERROR, DMARC_POLICY_NONE);
    /* np does not apply to the domain itself. */
    eval(Z9, M9, "np.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    /* np absent: sp (then p) for non-existent names, no existence query
     * (slow.nonp.example would time out). */
    eval(Z9, M9, "slow.nonp.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_int_equal(r.from_exists, -1);
    /* A passing message never needs the existence check. */
    a = dkim(DMARC_AUTH_PASS, "np.example");
    eval(Z9, M9, "slow.np.example", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
}

/* 4.7 "t": t=y lowers reject to quarantine and quarantine to none. */
static void test_9989_testing(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z9, M9, "t.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    assert_int_equal(r.policy, DMARC_POLICY_REJECT);
    assert_true(r.record.testing);
    eval(Z9, M9, "tq.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    /* pct is not a tag in RFC 9989: p=reject; pct=0 enacts reject. */
    eval(Z9, M9, "pct.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_REJECT);
    assert_false(r.sampled_out);
    /* ... while in RFC 7489 mode pct=0 samples every message out. */
    eval(Z9, M7, "pct.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
}

/* 4.7 "p": absent in an otherwise valid record = p=none (no rua needed);
 * 4.10.1: an invalid p/sp/np needs a valid rua to act as p=none. */
static void test_9989_p_handling(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = none_auth();
    eval(Z9, M9, "nop.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    assert_int_equal(r.policy, DMARC_POLICY_NONE);
    eval(Z9, M9, "badp.example", &a, &r);
    expect(&r, DMARC_PERMERROR, DMARC_POLICY_NONE);
    eval(Z9, M9, "x.badsp.example", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_NONE);
    assert_int_equal(r.record.p, DMARC_POLICY_NONE);
}

/* 3.2 vs 4.10.2: relaxed alignment under a PSL entry that publishes a
 * DMARC record. The PSL makes blogspot.com a suffix (so 7489 finds no
 * record for alice.blogspot.com); the Tree Walk makes it the org domain. */
static void test_psl_vs_walk(void **state)
{
    (void)state;
    struct dmarc_result r;
    struct dmarc_auth a = dkim(DMARC_AUTH_PASS, "bob.blogspot.com");
    eval(Z9, M9, "alice.blogspot.com", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    assert_string_equal(r.org_domain, "blogspot.com");
    eval(Z9, M7, "alice.blogspot.com", &a, &r);
    expect(&r, DMARC_NONE, DMARC_POLICY_NONE);
    assert_string_equal(r.org_domain, "alice.blogspot.com");
    /* Relaxed alignment through two walks: news.example.com and
     * mail.example.com share example.com; example.net does not. */
    a = dkim(DMARC_AUTH_PASS, "mail.example.com");
    eval(Z9, M9, "news.example.com", &a, &r);
    expect(&r, DMARC_PASS, DMARC_POLICY_NONE);
    a = spf(DMARC_AUTH_PASS, "bounce.example.org");
    eval(Z9, M9, "news.example.com", &a, &r);
    expect(&r, DMARC_FAIL, DMARC_POLICY_QUARANTINE);
    /* 9989: with no record anywhere a name is its own org domain. */
    char org[DMARC_DOMAIN_MAX];
    struct dns *d = test_zone(Z9);
    assert_int_equal(dmarc_org_domain(d, M9, "mail.example.co.uk", org, sizeof(org)), 0);
    assert_string_equal(org, "mail.example.co.uk");
    assert_int_equal(dmarc_org_domain(d, M9, "x.y.example.com", org, sizeof(org)), 0);
    assert_string_equal(org, "example.com");
    assert_int_equal(dmarc_org_domain(NULL, M9, "x.y.example.com", org, sizeof(org)),
                     DMARC_PERMERROR);
    dns_free(d);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(dmarc_result_name(DMARC_NONE), "none");
    assert_string_equal(dmarc_result_name(DMARC_PASS), "pass");
    assert_string_equal(dmarc_result_name(DMARC_FAIL), "fail");
    assert_string_equal(dmarc_result_name(DMARC_TEMPERROR), "temperror");
    assert_string_equal(dmarc_result_name(DMARC_PERMERROR), "permerror");
    assert_string_equal(dmarc_result_name(99), "?");
    assert_string_equal(dmarc_policy_name(DMARC_POLICY_NONE), "none");
    assert_string_equal(dmarc_policy_name(DMARC_POLICY_QUARANTINE), "quarantine");
    assert_string_equal(dmarc_policy_name(DMARC_POLICY_REJECT), "reject");
    assert_string_equal(dmarc_policy_name(DMARC_POLICY_ABSENT), "");
    assert_string_equal(dmarc_mode_name(M7), "rfc7489");
    assert_string_equal(dmarc_mode_name(M9), "rfc9989");
    assert_string_equal(dmarc_align_name(DMARC_ALIGN_STRICT), "s");
    assert_string_equal(dmarc_align_name(DMARC_ALIGN_RELAXED), "r");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full_7489),
        cmocka_unit_test(test_parse_full_9989),
        cmocka_unit_test(test_parse_version),
        cmocka_unit_test(test_parse_errors_default),
        cmocka_unit_test(test_parse_case),
        cmocka_unit_test(test_parse_duplicates),
        cmocka_unit_test(test_parse_invalid_policy),
        cmocka_unit_test(test_parse_uris),
        cmocka_unit_test(test_7489_record_at_from),
        cmocka_unit_test(test_7489_org_fallback_sp),
        cmocka_unit_test(test_7489_psl),
        cmocka_unit_test(test_7489_record_at_subdomain),
        cmocka_unit_test(test_7489_multiple_records),
        cmocka_unit_test(test_7489_temperror),
        cmocka_unit_test(test_7489_no_record),
        cmocka_unit_test(test_7489_invalid_p),
        cmocka_unit_test(test_7489_strict),
        cmocka_unit_test(test_7489_dkim_many),
        cmocka_unit_test(test_7489_pct),
        cmocka_unit_test(test_7489_ignores_9989_tags),
        cmocka_unit_test(test_identifier_temperror),
        cmocka_unit_test(test_from_domain_forms),
        cmocka_unit_test(test_9989_record_at_from),
        cmocka_unit_test(test_9989_walk_fewest_labels),
        cmocka_unit_test(test_9989_psd_y),
        cmocka_unit_test(test_9989_psd_n),
        cmocka_unit_test(test_9989_long_name_shortcut),
        cmocka_unit_test(test_9989_multiple_records),
        cmocka_unit_test(test_9989_temperror),
        cmocka_unit_test(test_9989_np),
        cmocka_unit_test(test_9989_testing),
        cmocka_unit_test(test_9989_p_handling),
        cmocka_unit_test(test_psl_vs_walk),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
