/* Unit tests for lint (the rules of fwdauth check-dns), one or more cases
 * per rule, answered from zone files (test_zone.h). Besides the finding a
 * rule gives, each case checks the verdict (enum lint_state, the DMARC
 * policy), and the DMARC cases compare it with dmarc_evaluate itself for
 * mail that passes nothing: lint must never conclude other than the
 * verifier. A zone owner "TIMEOUT" makes a query fail temporarily: used to
 * prove a name is NOT asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_zone.h"

#include "dmarc.h"
#include "keys.h"
#include "lint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M7 DMARC_MODE_RFC7489
#define M9 DMARC_MODE_RFC9989

static struct lint_finding F[128];
static struct lint_report R;

static void reset(void)
{
    lint_report_init(&R, F, sizeof(F) / sizeof(F[0]));
}

static void dump(void)
{
    for (size_t i = 0; i < R.n; i++)
        print_message("  %s: %s: %s\n", lint_level_name(F[i].level), lint_check_name(F[i].check),
                      F[i].text);
}

static int has(int level, const char *needle)
{
    for (size_t i = 0; i < R.n; i++)
        if ((level < 0 || F[i].level == level) && strstr(F[i].text, needle))
            return 1;
    return 0;
}

static void want(int level, const char *needle)
{
    if (!has(level, needle)) {
        dump();
        fail_msg("no %s finding with \"%s\"", level < 0 ? "" : lint_level_name(level), needle);
    }
}

static void want_none(const char *needle)
{
    if (has(-1, needle)) {
        dump();
        fail_msg("unexpected finding with \"%s\"", needle);
    }
}

static void want_count(int level, size_t n)
{
    if (R.count[level] != n) {
        dump();
        fail_msg("%zu %s findings, want %zu", R.count[level], lint_level_name(level), n);
    }
}

/* ---------------------------------------------------------------- SPF */

static int spf(const char *zone, const char *domain, struct lint_spf *out)
{
    struct dns *d = test_zone(zone);
    reset();
    int st = lint_spf(d, domain, &R, out);
    dns_free(d);
    assert_int_equal(st, out->state);
    return st;
}

static void test_spf_good(void **state)
{
    (void)state;
    struct lint_spf s;
    assert_int_equal(spf("good.test TXT \"v=spf1 ip4:192.0.2.0/24 mx include:p.test -all\"\n"
                         "good.test MX 10 mx.good.test\n"
                         "mx.good.test A 192.0.2.1\n"
                         "p.test TXT \"v=spf1 ip6:2001:db8::/32 ~all\"\n",
                         "good.test", &s),
                     LINT_USABLE);
    assert_int_equal(s.lookups, 2);
    assert_int_equal(s.voids, 0);
    want(LINT_OK, "one record at good.test");
    want(LINT_OK, "ends with -all");
    want(LINT_OK, "2 of at most 10 DNS lookups");
    want_count(LINT_WARNING, 0);
    want_count(LINT_PROBLEM, 0);
}

static void test_spf_absent_and_several(void **state)
{
    (void)state;
    struct lint_spf s;
    assert_int_equal(spf("x.test TXT \"hello\"\n", "x.test", &s), LINT_ABSENT);
    want(LINT_PROBLEM, "no SPF record at x.test");
    assert_int_equal(spf("x.test TXT \"hello\"\n", "gone.test", &s), LINT_ABSENT);
    want(LINT_PROBLEM, "gone.test does not exist in DNS (NXDOMAIN)");
    /* Selection is the evaluator's: "v=spf1" then a space or the end, any case. */
    assert_int_equal(
        spf("x.test TXT \"V=SPF1 -all\"\nx.test TXT \"v=spf1 a -all\"\n", "x.test", &s),
        LINT_BROKEN);
    want(LINT_PROBLEM, "more than one v=spf1 TXT record");
    assert_int_equal(spf("x.test TXT \"v=spf10 -all\"\n", "x.test", &s), LINT_ABSENT);
}

static void test_spf_bad_terms(void **state)
{
    (void)state;
    struct lint_spf s;
    /* Every bad term is reported, not only the first. */
    assert_int_equal(spf("x.test TXT \"v=spf1 foo:bar ip4:192.0.2.300 =x redirect=a.test "
                         "redirect=b.test -all\"\n",
                         "x.test", &s),
                     LINT_BROKEN);
    want(LINT_PROBLEM, "unknown mechanism \"foo:bar\" in the record of x.test");
    want(LINT_PROBLEM, "\"ip4:192.0.2.300\" in the record of x.test is malformed");
    want(LINT_PROBLEM, "\"=x\" in the record of x.test is not an SPF term");
    want(LINT_PROBLEM, "redirect= appears twice");
    want_count(LINT_PROBLEM, 4);
    /* An unknown modifier is ignored, with a warning. */
    assert_int_equal(spf("x.test TXT \"v=spf1 foo=bar -all\"\n", "x.test", &s), LINT_USABLE);
    want(LINT_WARNING, "unknown modifier \"foo=bar\"");
}

static void test_spf_all_qualifiers(void **state)
{
    (void)state;
    struct lint_spf s;
    spf("x.test TXT \"v=spf1 ~all\"\n", "x.test", &s);
    want(LINT_OK, "ends with ~all");
    spf("x.test TXT \"v=spf1 ?all\"\n", "x.test", &s);
    want(LINT_WARNING, "ends with ?all (neutral)");
    spf("x.test TXT \"v=spf1 +all\"\n", "x.test", &s);
    want(LINT_WARNING, "ends with +all: every host on the Internet passes SPF for x.test");
    spf("x.test TXT \"v=spf1 ip4:192.0.2.1\"\n", "x.test", &s);
    want(LINT_WARNING, "no \"all\" at the end");
    assert_int_equal(s.state, LINT_USABLE);
}

static void test_spf_after_all_not_counted(void **state)
{
    (void)state;
    struct lint_spf s;
    /* The evaluator stops at "all": what follows is never looked up, so
     * neither its lookups nor a missing include target count. */
    assert_int_equal(
        spf("x.test TXT \"v=spf1 -all include:nothing.test a:b.test\"\n", "x.test", &s),
        LINT_USABLE);
    assert_int_equal(s.lookups, 0);
    want(LINT_WARNING, "terms after \"all\" in the record of x.test are never reached");
    want_none("nothing.test has no SPF record");
    /* redirect= is ignored when there is all. */
    spf("x.test TXT \"v=spf1 redirect=r.test -all\"\n", "x.test", &s);
    want(LINT_WARNING, "redirect= in the record of x.test is ignored because the record has all");
    assert_int_equal(s.lookups, 0);
}

static void test_spf_lookup_limit(void **state)
{
    (void)state;
    struct lint_spf s;
    const char *z =
        "many.test TXT \"v=spf1 include:i1.test include:i2.test include:i3.test -all\"\n"
        "i1.test TXT \"v=spf1 a:h.test mx:h.test a:h.test mx:h.test ~all\"\n"
        "i2.test TXT \"v=spf1 a:h.test mx:h.test a:h.test mx:h.test ~all\"\n"
        "i3.test TXT \"v=spf1 include:i1.test ~all\"\n"
        "h.test A 192.0.2.5\n"
        "h.test MX 10 h.test\n";
    assert_int_equal(spf(z, "many.test", &s), LINT_BROKEN);
    assert_int_equal(s.lookups, 16);
    want(LINT_PROBLEM, "16 DNS lookups");
    /* Exactly 10 is allowed. */
    assert_int_equal(spf("ten.test TXT \"v=spf1 a:h.test a:h.test a:h.test a:h.test a:h.test "
                         "a:h.test a:h.test a:h.test a:h.test redirect=r.test\"\n"
                         "r.test TXT \"v=spf1 -all\"\nh.test A 192.0.2.1\n",
                         "ten.test", &s),
                     LINT_USABLE);
    assert_int_equal(s.lookups, 10);
    want(LINT_OK, "10 of at most 10 DNS lookups");
}

static void test_spf_void_lookups(void **state)
{
    (void)state;
    struct lint_spf s;
    assert_int_equal(
        spf("v.test TXT \"v=spf1 a:gone1.test a:gone2.test mx:gone3.test -all\"\n", "v.test", &s),
        LINT_BROKEN);
    assert_int_equal(s.voids, 3);
    want(LINT_WARNING, "a in the record of v.test finds nothing at gone1.test");
    want(LINT_PROBLEM, "3 lookups find nothing (void lookups");
    /* a: an AAAA-only host is not void; exists asks only A, so it is. */
    assert_int_equal(spf("v.test TXT \"v=spf1 a:six.test exists:six.test -all\"\n"
                         "six.test AAAA 2001:db8::1\n",
                         "v.test", &s),
                     LINT_USABLE);
    assert_int_equal(s.voids, 1);
    want(LINT_WARNING, "exists in the record of v.test finds nothing at six.test");
}

static void test_spf_includes(void **state)
{
    (void)state;
    struct lint_spf s;
    assert_int_equal(spf("d.test TXT \"v=spf1 include:nothing.test -all\"\n", "d.test", &s),
                     LINT_BROKEN);
    want(LINT_PROBLEM, "include:nothing.test in the record of d.test: nothing.test has no SPF "
                       "record (NXDOMAIN)");
    assert_int_equal(spf("d.test TXT \"v=spf1 include:two.test -all\"\n"
                         "two.test TXT \"v=spf1 -all\"\ntwo.test TXT \"v=spf1 ~all\"\n",
                         "d.test", &s),
                     LINT_BROKEN);
    want(LINT_PROBLEM, "two.test publishes more than one SPF record");
    /* A syntax error in an included record is permerror too. */
    assert_int_equal(spf("d.test TXT \"v=spf1 include:bad.test -all\"\n"
                         "bad.test TXT \"v=spf1 ip4:1.2.3 -all\"\n",
                         "d.test", &s),
                     LINT_BROKEN);
    want(LINT_PROBLEM, "\"ip4:1.2.3\" in the record of bad.test is malformed");
    /* Loops. */
    assert_int_equal(spf("loop.test TXT \"v=spf1 include:loop2.test -all\"\n"
                         "loop2.test TXT \"v=spf1 redirect=loop.test\"\n",
                         "loop.test", &s),
                     LINT_BROKEN);
    want(LINT_PROBLEM, "(a loop)");
    /* Macros: not followed, said once. */
    assert_int_equal(
        spf("m.test TXT \"v=spf1 include:%{d}.x.test include:%{i}.y.test -all\"\n", "m.test", &s),
        LINT_USABLE);
    want(LINT_WARNING, "uses macros: not followed");
    want_count(LINT_WARNING, 1);
}

static void test_spf_mx_limit_and_ptr(void **state)
{
    (void)state;
    char zone[2048] = "mx.test TXT \"v=spf1 mx ptr -all\"\n";
    for (int i = 0; i < 11; i++)
        snprintf(zone + strlen(zone), sizeof(zone) - strlen(zone), "mx.test MX %d m%d.mx.test\n", i,
                 i);
    struct lint_spf s;
    assert_int_equal(spf(zone, "mx.test", &s), LINT_BROKEN);
    want(LINT_PROBLEM, "has 11 MX records, more than the 10 SPF may look at");
    want(LINT_WARNING, "uses ptr");
}

static void test_spf_dns_errors(void **state)
{
    (void)state;
    struct lint_spf s;
    assert_int_equal(
        spf("slow.test TXT \"v=spf1 include:t.test -all\"\nt.test TIMEOUT\n", "slow.test", &s),
        LINT_UNKNOWN);
    want(LINT_ERROR, "could not look up the TXT records of t.test");
    want_none("of at most 10 DNS lookups");
    assert_int_equal(spf("t.test TIMEOUT\n", "t.test", &s), LINT_UNKNOWN);
    assert_int_equal(spf("a.test TXT \"v=spf1 a:t.test -all\"\nt.test TIMEOUT\n", "a.test", &s),
                     LINT_UNKNOWN);
    want(LINT_ERROR, "could not look up t.test (for a in the record of a.test)");
}

/* -------------------------------------------------------------- DMARC */

static int dmarc(const char *zone, int mode, const char *domain, struct lint_dmarc *out)
{
    struct dns *d = test_zone(zone);
    reset();
    int st = lint_dmarc(d, mode, domain, &R, out);
    /* The verdict is the verifier's: dmarc_evaluate for mail that passes nothing. */
    struct dmarc_result res;
    struct dmarc_auth none = {0};
    dmarc_evaluate(d, mode, domain, &none, &res);
    dns_free(d);
    assert_int_equal(st, out->state);
    if (out->result != res.result) {
        dump();
        fail_msg("lint says %s, dmarc_evaluate %s (%s)", dmarc_result_name(out->result),
                 dmarc_result_name(res.result), res.reason);
    }
    int want_state = res.result == DMARC_FAIL        ? LINT_USABLE
                     : res.result == DMARC_NONE      ? LINT_ABSENT
                     : res.result == DMARC_PERMERROR ? LINT_BROKEN
                                                     : LINT_UNKNOWN;
    assert_int_equal(st, want_state);
    if (st == LINT_USABLE)
        assert_int_equal(out->policy, res.policy);
    assert_string_equal(out->record_domain, res.record_domain);
    return st;
}

static void test_dmarc_version_case(void **state)
{
    (void)state;
    struct lint_dmarc m;
    /* The tag name in any case, the value DMARC1 exactly (dmarc.h). */
    assert_int_equal(dmarc("_dmarc.a.test TXT \"v=dmarc1; p=reject\"\n", M7, "a.test", &m),
                     LINT_ABSENT);
    want(LINT_PROBLEM, "\"v=dmarc1; p=reject\" at _dmarc.a.test is not a DMARC record (v= must be "
                       "DMARC1 exactly, in upper case)");
    want(LINT_PROBLEM, "no DMARC record at _dmarc.a.test");
    assert_int_equal(dmarc("_dmarc.a.test TXT \"V=DMARC1; p=reject\"\n", M7, "a.test", &m),
                     LINT_USABLE);
    assert_int_equal(m.policy, DMARC_POLICY_REJECT);
    want(LINT_OK, "p=reject: receivers reject mail that fails DMARC");
    assert_int_equal(dmarc("_dmarc.a.test TXT \"p=reject; v=DMARC1\"\n", M9, "a.test", &m),
                     LINT_ABSENT);
    want(LINT_PROBLEM, "is not a DMARC record (does not start with v=DMARC1)");
    assert_int_equal(dmarc("_dmarc.a.test TXT \"v=DMARC1 p=reject\"\n", M7, "a.test", &m),
                     LINT_ABSENT);
    want(LINT_PROBLEM, "v=DMARC1 is not followed by \";\"");
}

static void test_dmarc_tag_case_and_whitespace(void **state)
{
    (void)state;
    struct lint_dmarc m;
    assert_int_equal(dmarc("_dmarc.a.test TXT \"  v = DMARC1 ;P=Quarantine ;  RUA = "
                           "mailto:d@a.test \"\n",
                           M7, "a.test", &m),
                     LINT_USABLE);
    assert_int_equal(m.policy, DMARC_POLICY_QUARANTINE);
    want(LINT_OK, "p=quarantine: receivers quarantine");
    want_none("no rua=");
    want_count(LINT_PROBLEM, 0);
    want_count(LINT_WARNING, 0);
}

static void test_dmarc_org_domain_psl(void **state)
{
    (void)state;
    struct lint_dmarc m;
    const char *z = "_dmarc.example.co.uk TXT \"v=DMARC1; p=reject; sp=quarantine\"\n"
                    "_dmarc.co.uk TXT \"v=DMARC1; p=none\"\n"
                    "_dmarc.github.io TXT \"v=DMARC1; p=reject\"\n"
                    "_dmarc.user.github.io TXT \"v=DMARC1; p=quarantine\"\n";
    /* RFC 7489: the Organizational Domain from the PSL. */
    assert_int_equal(dmarc(z, M7, "mail.example.co.uk", &m), LINT_USABLE);
    assert_int_equal(m.policy, DMARC_POLICY_QUARANTINE);
    assert_int_equal(m.policy_source, DMARC_FROM_SP);
    assert_string_equal(m.org_domain, "example.co.uk");
    want(LINT_OK, "receivers use the one at _dmarc.example.co.uk");
    want(LINT_OK, "sp=quarantine of _dmarc.example.co.uk applies");
    /* co.uk is a public suffix: never the org domain of other.co.uk. */
    assert_int_equal(dmarc(z, M7, "other.co.uk", &m), LINT_ABSENT);
    want(LINT_PROBLEM, "no DMARC record at _dmarc.other.co.uk:");
    /* A private suffix (github.io) likewise. */
    assert_int_equal(dmarc(z, M7, "x.other.github.io", &m), LINT_ABSENT);
    want(LINT_PROBLEM, "or at _dmarc.other.github.io, its Organizational Domain");
    assert_int_equal(dmarc(z, M7, "a.user.github.io", &m), LINT_USABLE);
    assert_int_equal(m.policy, DMARC_POLICY_QUARANTINE);
    /* RFC 9989: the DNS Tree Walk does find _dmarc.co.uk. */
    assert_int_equal(dmarc(z, M9, "other.co.uk", &m), LINT_USABLE);
    assert_string_equal(m.record_domain, "co.uk");
    assert_int_equal(m.policy, DMARC_POLICY_NONE);
}

static void test_dmarc_several(void **state)
{
    (void)state;
    struct lint_dmarc m;
    const char *z = "_dmarc.two.test TXT \"v=DMARC1; p=reject\"\n"
                    "_dmarc.two.test TXT \"v=DMARC1; p=none\"\n"
                    "_dmarc.sub.org.test TXT \"v=DMARC1; p=none\"\n"
                    "_dmarc.sub.org.test TXT \"v=DMARC1; p=quarantine\"\n"
                    "_dmarc.org.test TXT \"v=DMARC1; p=reject\"\n";
    assert_int_equal(dmarc(z, M7, "two.test", &m), LINT_ABSENT);
    want(LINT_PROBLEM, "_dmarc.two.test has 2 v=DMARC1 records");
    want_none("no DMARC record at");
    /* RFC 7489 stops at the From domain; RFC 9989 walks on. */
    assert_int_equal(dmarc(z, M7, "sub.org.test", &m), LINT_ABSENT);
    assert_int_equal(dmarc(z, M9, "sub.org.test", &m), LINT_USABLE);
    want(LINT_PROBLEM, "_dmarc.sub.org.test has 2 v=DMARC1 records");
    assert_int_equal(m.policy, DMARC_POLICY_REJECT);
}

static void test_dmarc_bad_policy(void **state)
{
    (void)state;
    struct lint_dmarc m;
    /* Bad p with a valid rua: read as p=none (RFC 7489 6.6.3 step 6). */
    assert_int_equal(
        dmarc("_dmarc.a.test TXT \"v=DMARC1; p=block; rua=mailto:d@a.test\"\n", M7, "a.test", &m),
        LINT_USABLE);
    assert_int_equal(m.policy, DMARC_POLICY_NONE);
    assert_true(m.as_none);
    want(LINT_PROBLEM, "p=block is not a policy");
    want(LINT_PROBLEM, "receivers read the record as \"v=DMARC1; p=none\"");
    /* Without: unusable (permerror). */
    assert_int_equal(dmarc("_dmarc.a.test TXT \"v=DMARC1; p=block\"\n", M7, "a.test", &m),
                     LINT_BROKEN);
    assert_int_equal(m.result, DMARC_PERMERROR);
    want(LINT_PROBLEM, "the record is unusable");
    /* An invalid rua does not count. */
    assert_int_equal(
        dmarc("_dmarc.a.test TXT \"v=DMARC1; p=block; rua=d@a.test\"\n", M7, "a.test", &m),
        LINT_BROKEN);
    want(LINT_PROBLEM, "rua=d@a.test is not a URI");
    /* Missing p: RFC 7489 requires it; RFC 9989 reads p=none. */
    assert_int_equal(
        dmarc("_dmarc.a.test TXT \"v=DMARC1; rua=mailto:d@a.test\"\n", M7, "a.test", &m),
        LINT_USABLE);
    want(LINT_PROBLEM, "no p= tag");
    assert_true(m.as_none);
    assert_int_equal(dmarc("_dmarc.a.test TXT \"v=DMARC1\"\n", M7, "a.test", &m), LINT_BROKEN);
    assert_int_equal(dmarc("_dmarc.a.test TXT \"v=DMARC1\"\n", M9, "a.test", &m), LINT_USABLE);
    want(LINT_WARNING, "no p= tag: receivers read it as p=none");
    want(LINT_WARNING, "p=none asks receivers to do nothing");
    assert_false(m.as_none);
    /* A bad sp= spoils the whole record too. */
    assert_int_equal(
        dmarc("_dmarc.a.test TXT \"v=DMARC1; p=reject; sp=maybe\"\n", M7, "a.test", &m),
        LINT_BROKEN);
    want(LINT_PROBLEM, "sp=maybe is not a policy");
}

static void test_dmarc_tags(void **state)
{
    (void)state;
    struct lint_dmarc m;
    assert_int_equal(dmarc("_dmarc.a.test TXT \"v=DMARC1; adkim=x; p=reject; p=none; foo=bar; "
                           "aspf=y; pct=150; fo=2; ri=soon; rf=x!; bogus; rua=mailto:d@a.test\"\n",
                           M7, "a.test", &m),
                     LINT_USABLE);
    /* The first p= counts, as in the verifier. */
    assert_int_equal(m.policy, DMARC_POLICY_REJECT);
    want(LINT_WARNING, "p= should come right after v=DMARC1");
    want(LINT_WARNING, "p= is given more than once: receivers use the first one and ignore "
                       "\"p=none\"");
    want(LINT_WARNING, "unknown tag \"foo\"");
    want(LINT_PROBLEM, "adkim=x is not valid");
    want(LINT_PROBLEM, "aspf=y is not valid");
    want(LINT_PROBLEM, "pct=150 is not a number from 0 to 100");
    want(LINT_PROBLEM, "fo=2 is not valid");
    want(LINT_PROBLEM, "ri=soon is not a number of seconds");
    want(LINT_PROBLEM, "rf=x! is not valid");
    want(LINT_PROBLEM, "\"bogus\" is not a tag=value pair");
    /* Tags of RFC 9989 in RFC 7489 mode: ignored by the verifier, values
     * still checked with RFC 9989's rules. */
    dmarc("_dmarc.a.test TXT \"v=DMARC1; p=reject; np=bogus; psd=x; t=maybe; "
          "rua=mailto:d@a.test\"\n",
          M7, "a.test", &m);
    assert_int_equal(m.state, LINT_USABLE);
    want(LINT_PROBLEM, "np=bogus is not a policy");
    want(LINT_PROBLEM, "psd=x is not valid");
    want(LINT_PROBLEM, "t=maybe is not valid");
    /* pct: a warning under 100 in RFC 7489; RFC 9989 has none. */
    dmarc("_dmarc.a.test TXT \"v=DMARC1; p=reject; pct=20; rua=mailto:d@a.test\"\n", M7, "a.test",
          &m);
    want(LINT_WARNING, "pct=20: the policy applies to only 20% of failing mail");
    dmarc("_dmarc.a.test TXT \"v=DMARC1; p=reject; pct=20; rua=mailto:d@a.test\"\n", M9, "a.test",
          &m);
    want(LINT_WARNING, "RFC 9989 (dmarc_mode rfc9989) has no pct=");
    /* t=y in RFC 9989 mode. */
    dmarc("_dmarc.a.test TXT \"v=DMARC1; p=reject; t=y; rua=mailto:d@a.test\"\n", M9, "a.test", &m);
    want(LINT_WARNING, "t=y (testing): receivers apply one step less than reject");
}

static void test_dmarc_report_uris(void **state)
{
    (void)state;
    struct lint_dmarc m;
    const char *z =
        "_dmarc.a.test TXT \"v=DMARC1; p=reject; rua=mailto:d@a.test, mailto:nobody, "
        "https://r.test/x, mailto:r@yes.test!10m, mailto:r@no.test; ruf=mailto:f@sub.a.test\"\n"
        "a.test._report._dmarc.yes.test TXT \"V=DMARC1\"\n"
        /* the same org domain needs no authorization: never asked */
        "a.test._report._dmarc.sub.a.test TIMEOUT\n";
    assert_int_equal(dmarc(z, M7, "a.test", &m), LINT_USABLE);
    want(LINT_PROBLEM, "rua=mailto:nobody is not a valid mailto: address");
    want(LINT_WARNING, "rua=https://r.test/x: receivers send reports only to mailto:");
    want(LINT_WARNING, "no.test has not agreed to receive reports for a.test");
    want_none("yes.test has not agreed");
    want_count(LINT_ERROR, 0);
    /* A failed authorization lookup is an error: no conclusion. */
    dmarc("_dmarc.a.test TXT \"v=DMARC1; p=reject; rua=mailto:r@slow.test\"\n"
          "a.test._report._dmarc.slow.test TIMEOUT\n",
          M7, "a.test", &m);
    want(LINT_ERROR, "could not look up a.test._report._dmarc.slow.test");
}

static void test_dmarc_dns_errors(void **state)
{
    (void)state;
    struct lint_dmarc m;
    assert_int_equal(dmarc("_dmarc.a.test TIMEOUT\n", M7, "a.test", &m), LINT_UNKNOWN);
    want(LINT_ERROR, "could not look up _dmarc.a.test");
    assert_int_equal(dmarc("_dmarc.a.test TIMEOUT\n", M9, "x.a.test", &m), LINT_UNKNOWN);
    /* The org domain's lookup fails after the From domain has none. */
    assert_int_equal(dmarc("_dmarc.b.test TIMEOUT\n", M7, "x.b.test", &m), LINT_UNKNOWN);
    want(LINT_ERROR, "could not look up _dmarc.b.test");
}

static void test_dmarc_record_only(void **state)
{
    (void)state;
    reset();
    const char *rec = "v=DMARC1; p=reject; rua=mailto:x@elsewhere.test";
    lint_dmarc_record(NULL, M7, rec, strlen(rec), "a.test", &R);
    want_count(LINT_PROBLEM, 0);
    want_count(LINT_ERROR, 0); /* no resolver: destinations not looked up */
    reset();
    lint_dmarc_record(NULL, M7, "hello", 5, "a.test", &R);
    want(LINT_PROBLEM, "not a DMARC record");
}

/* --------------------------------------------------------------- DKIM */

static char ed_p[128], rsa_rec[1024], rsa1024_rec[1024];
static struct fa_key *ed_key, *rsa_key;

static int setup_keys(void **state)
{
    (void)state;
    fa_err err;
    ed_key = key_generate(KEY_ED25519, 0, &err);
    rsa_key = key_generate(KEY_RSA, 2048, &err);
    struct fa_key *small = key_generate(KEY_RSA, 1024, &err);
    if (!ed_key || !rsa_key || !small)
        return -1;
    if (key_public_b64(ed_key, ed_p, sizeof(ed_p)) < 0 ||
        key_dns_record(rsa_key, rsa_rec, sizeof(rsa_rec)) < 0 ||
        key_dns_record(small, rsa1024_rec, sizeof(rsa1024_rec)) < 0)
        return -1;
    key_free(small);
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    key_free(ed_key);
    key_free(rsa_key);
    return 0;
}

static int dkim_rec(const char *rec, struct lint_dkim *out)
{
    reset();
    return lint_dkim_record(rec, strlen(rec), "s._domainkey.a.test", "s", NULL, NULL, &R, out);
}

/* rec with "KEY" replaced by the Ed25519 key's p= value. */
static int dkim_ed(const char *rec, struct lint_dkim *out)
{
    char buf[512];
    const char *k = strstr(rec, "KEY");
    assert_non_null(k);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(k - rec), rec, ed_p, k + 3);
    return dkim_rec(buf, out);
}

static void test_dkim_good(void **state)
{
    (void)state;
    struct lint_dkim k;
    assert_int_equal(dkim_ed("v=DKIM1; k=ed25519; p=KEY", &k), LINT_USABLE);
    assert_int_equal(k.key_type, KEY_ED25519);
    assert_int_equal(k.bits, 256);
    want(LINT_OK, "s._domainkey.a.test publishes an Ed25519 key of 256 bits");
    want_count(LINT_WARNING, 0);
    assert_int_equal(dkim_rec(rsa_rec, &k), LINT_USABLE);
    want(LINT_OK, "publishes an RSA key of 2048 bits");
    /* k= in any case, white space inside p=, lists with spaces. */
    char rec[600];
    snprintf(rec, sizeof(rec), "v=DKIM1; k=ED25519; h=sha1 : sha256; s=tlsrpt : email; p=%.20s %s",
             ed_p, ed_p + 20);
    assert_int_equal(dkim_rec(rec, &k), LINT_USABLE);
    want_count(LINT_PROBLEM, 0);
    assert_int_equal(dkim_rec(rsa1024_rec, &k), LINT_USABLE);
    want(LINT_WARNING, "the RSA key has only 1024 bits");
}

static void test_dkim_broken(void **state)
{
    (void)state;
    struct lint_dkim k;
    assert_int_equal(dkim_rec("v=DKIM1; k=rsa; p=", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "has an empty p=: the key is revoked and signatures with s=s fail");
    assert_int_equal(dkim_rec("v=DKIM1; k=rsa; p= ", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "the key is revoked");
    assert_int_equal(dkim_rec("v=DKIM1; k=rsa; p=bm90IGEga2V5", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "p= holds no usable RSA key");
    assert_int_equal(dkim_rec("v=DKIM1; k=rsa; p=!!!notbase64", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "not valid base64");
    assert_int_equal(dkim_rec("v=DKIM1; k=dsa; p=AAAA", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "k=dsa is not a key type verifiers know");
    assert_int_equal(dkim_ed("k=ed25519; v=DKIM1; p=KEY", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "v= must be first and say DKIM1");
    assert_int_equal(dkim_ed("v=dkim1; k=ed25519; p=KEY", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "v= must be first and say DKIM1");
    assert_int_equal(dkim_ed("v=DKIM1; h=sha1; k=ed25519; p=KEY", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "h=sha1 leaves out sha256");
    assert_int_equal(dkim_ed("v=DKIM1; s=tlsrpt; k=ed25519; p=KEY", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "s=tlsrpt excludes email");
    assert_int_equal(dkim_rec("v=DKIM1; k=rsa; p", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "the record at s._domainkey.a.test is malformed");
    assert_int_equal(dkim_ed("v=DKIM1; k=ed25519; p=KEY; p=AAAA", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "is malformed");
    /* Tag names are case-sensitive: P= is an unknown tag, so no p=. */
    assert_int_equal(dkim_ed("v=DKIM1; k=ed25519; P=KEY", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "has no p= tag");
    want(LINT_WARNING, "unknown tag \"P\" is ignored by verifiers: tag names are case-sensitive, "
                       "write p=");
    /* An Ed25519 key under k=rsa. */
    assert_int_equal(dkim_ed("v=DKIM1; k=rsa; p=KEY", &k), LINT_BROKEN);
    want(LINT_PROBLEM, "p= holds no usable RSA key");
}

static void test_dkim_warnings(void **state)
{
    (void)state;
    struct lint_dkim k;
    assert_int_equal(dkim_ed("v=DKIM1; t=y; k=ed25519; p=KEY", &k), LINT_USABLE);
    assert_true(k.testing);
    want(LINT_WARNING, "t=y marks the key as testing");
    assert_int_equal(dkim_ed("v=DKIM1; k=ed25519; n=notes; x=1; p=KEY", &k), LINT_USABLE);
    want(LINT_WARNING, "unknown tag \"x\" is ignored by verifiers");
    want_none("unknown tag \"n\"");
}

static void test_dkim_lookup_and_key_match(void **state)
{
    (void)state;
    char zone[4096];
    snprintf(zone, sizeof(zone),
             "ed._domainkey.a.test TXT \"v=DKIM1; k=ed25519; p=%s\"\n"
             "two._domainkey.a.test TXT \"v=DKIM1; k=rsa; p=\"\n"
             "two._domainkey.a.test TXT \"v=DKIM1; k=ed25519; p=%s\"\n"
             "slow._domainkey.a.test TIMEOUT\n",
             ed_p, ed_p);
    struct dns *d = test_zone(zone);
    struct lint_dkim k;
    reset();
    assert_int_equal(lint_dkim(d, "a.test", "ed", ed_key, "ed.private", &R, &k), LINT_USABLE);
    assert_int_equal(k.matches, 1);
    want(LINT_OK, "ed._domainkey.a.test matches the private key in ed.private");
    reset();
    assert_int_equal(lint_dkim(d, "a.test", "ed", rsa_key, "rsa.private", &R, &k), LINT_USABLE);
    assert_int_equal(k.matches, 0);
    want(LINT_PROBLEM, "ed._domainkey.a.test does not match the private key in rsa.private: "
                       "signatures made with it fail; publish \"v=DKIM1; k=rsa; p=");
    reset();
    assert_int_equal(lint_dkim(d, "a.test", "missing", NULL, NULL, &R, &k), LINT_ABSENT);
    want(LINT_PROBLEM, "no key record at missing._domainkey.a.test (NXDOMAIN)");
    reset();
    assert_int_equal(lint_dkim(d, "a.test", "slow", NULL, NULL, &R, &k), LINT_UNKNOWN);
    want(LINT_ERROR, "could not look up slow._domainkey.a.test");
    /* Several records: the verifier takes the first usable key. */
    reset();
    assert_int_equal(lint_dkim(d, "a.test", "two", NULL, NULL, &R, &k), LINT_USABLE);
    want(LINT_WARNING, "two._domainkey.a.test has 2 TXT records");
    want_none("revoked");
    dns_free(d);
}

/* ------------------------------------------------------------- report */

static void test_report_bounds(void **state)
{
    (void)state;
    struct lint_finding two[2];
    struct lint_report r;
    lint_report_init(&r, two, 2);
    struct dns *d = test_zone("v.test TXT \"v=spf1 a:g1.test a:g2.test a:g3.test a:g4.test\"\n");
    struct lint_spf s;
    lint_spf(d, "v.test", &r, &s);
    dns_free(d);
    assert_int_equal(r.n, 2);
    assert_true(r.dropped > 0);
    assert_int_equal(r.count[LINT_OK] + r.count[LINT_WARNING] + r.count[LINT_PROBLEM] +
                         r.count[LINT_ERROR],
                     r.n + r.dropped);
    /* Long texts are cut with "...", control octets become '?'. */
    char big[4000];
    memset(big, 'a', sizeof(big));
    memcpy(big, "v=DMARC1; p=reject; x=\n", 23);
    big[sizeof(big) - 1] = '\0';
    reset();
    lint_dmarc_record(NULL, M7, big, strlen(big), "a.test", &R);
    for (size_t i = 0; i < R.n; i++) {
        assert_true(strlen(F[i].text) < LINT_TEXT_MAX);
        assert_null(strchr(F[i].text, '\n'));
    }
    assert_string_equal(lint_state_name(LINT_BROKEN), "broken");
    assert_string_equal(lint_level_name(LINT_ERROR), "error");
    assert_string_equal(lint_check_name(LINT_DKIM), "dkim");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spf_good),
        cmocka_unit_test(test_spf_absent_and_several),
        cmocka_unit_test(test_spf_bad_terms),
        cmocka_unit_test(test_spf_all_qualifiers),
        cmocka_unit_test(test_spf_after_all_not_counted),
        cmocka_unit_test(test_spf_lookup_limit),
        cmocka_unit_test(test_spf_void_lookups),
        cmocka_unit_test(test_spf_includes),
        cmocka_unit_test(test_spf_mx_limit_and_ptr),
        cmocka_unit_test(test_spf_dns_errors),
        cmocka_unit_test(test_dmarc_version_case),
        cmocka_unit_test(test_dmarc_tag_case_and_whitespace),
        cmocka_unit_test(test_dmarc_org_domain_psl),
        cmocka_unit_test(test_dmarc_several),
        cmocka_unit_test(test_dmarc_bad_policy),
        cmocka_unit_test(test_dmarc_tags),
        cmocka_unit_test(test_dmarc_report_uris),
        cmocka_unit_test(test_dmarc_dns_errors),
        cmocka_unit_test(test_dmarc_record_only),
        cmocka_unit_test(test_dkim_good),
        cmocka_unit_test(test_dkim_broken),
        cmocka_unit_test(test_dkim_warnings),
        cmocka_unit_test(test_dkim_lookup_and_key_match),
        cmocka_unit_test(test_report_bounds),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
