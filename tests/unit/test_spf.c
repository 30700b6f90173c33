/* Unit tests for spf: term and CIDR parsing, processing limits, identities
 * (the macros are in test_spf_macro.c; the full RFC 7208 suite runs in
 * tests/integration/test_spf_suite.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_zone.h"

#include "dns.h"
#include "spf.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- terms */

static void term_ok(const char *s, int kind, char q, const char *spec, int c4, int c6)
{
    struct spf_term t;
    fa_err err = {{0}};
    if (spf_term_parse(s, strlen(s), &t, NULL, &err) < 0)
        fail_msg("%s: %s", s, err.msg);
    assert_int_equal(t.kind, kind);
    assert_int_equal(t.qualifier, q);
    if (spec) {
        assert_non_null(t.spec);
        if (t.spec_len != strlen(spec) || memcmp(t.spec, spec, t.spec_len) != 0)
            fail_msg("%s: spec \"%.*s\", want \"%s\"", s, (int)t.spec_len, t.spec, spec);
    } else if (kind != SPF_T_IP4 && kind != SPF_T_IP6) {
        assert_null(t.spec);
    }
    assert_int_equal(t.cidr4, c4);
    assert_int_equal(t.cidr6, c6);
}

static void test_terms_and_cidr(void **state)
{
    (void)state;
    term_ok("-all", SPF_T_ALL, '-', NULL, 32, 128);
    term_ok("a/24//64", SPF_T_A, '+', NULL, 24, 64);
    term_ok("a//0", SPF_T_A, '+', NULL, 32, 0);
    term_ok("~mx:foo.example.com/24", SPF_T_MX, '~', "foo.example.com", 24, 128);
    term_ok("a:foo:bar/baz.example.com", SPF_T_A, '+', "foo:bar/baz.example.com", 32, 128);
    term_ok("a:%{d}", SPF_T_A, '+', "%{d}", 32, 128);
    term_ok("?ip4:192.0.2.0/24", SPF_T_IP4, '?', "192.0.2.0", 24, 128);
    term_ok("ip6:2001:db8::/33", SPF_T_IP6, '+', "2001:db8::", 32, 33);
    term_ok("ip6:::1.1.1.1/0", SPF_T_IP6, '+', "::1.1.1.1", 32, 0);
    term_ok("PTR:Example.COM", SPF_T_PTR, '+', "Example.COM", 32, 128);
    term_ok("include:_spf.example.com.", SPF_T_INCLUDE, '+', "_spf.example.com.", 32, 128);
    term_ok("exists:%{i}.bl.example.org", SPF_T_EXISTS, '+', "%{i}.bl.example.org", 32, 128);
    term_ok("redirect=_spf.example.com", SPF_T_REDIRECT, '+', "_spf.example.com", 32, 128);
    term_ok("exp=explain.%{d}", SPF_T_EXP, '+', "explain.%{d}", 32, 128);
    term_ok("moo.cow-far_out=man:dog/cat", SPF_T_UNKNOWN_MOD, '+', "man:dog/cat", 32, 128);
    term_ok("a:foo.xn--zckzah", SPF_T_A, '+', "foo.xn--zckzah", 32, 128);

    static const char *const bad[] = {
        "all.",
        "-all:foo",
        "all/8",
        "a/33",
        "a//129",
        "a/24/64",
        "a/024",
        "a:",
        "a:foo-bar",
        "a:example.com:8080",
        "a:abc.123",
        "a:museum",
        "a:museum.",
        "a:example.-com",
        "mx:",
        "ptr/0",
        "ptr:",
        "include",
        "include:",
        "include:a.com/24",
        "exists",
        "exists:",
        "exists:a.com/24",
        "ip4",
        "ip4:1.2.3",
        "ip4:1.2.3.4/33",
        "ip4:1.2.3.4/032",
        "ip4:1.2.3.4//32",
        "ip4:1.2.3.4:8080",
        "ip6",
        "ip6::CAFE::BABE",
        "ip6:::1/129",
        "ip6:::1//33",
        "redirect=",
        "redirect=-all",
        "exp=",
        "exp=-all",
        "exp=%{r}.example.com",
        "foo=%abc",
        "1up=foo",
        "=all",
        "moo",
        "redirect:a.com",
        "-",
        "a:foo.example.com\x01",
        "a:\xc3\xa9.example.com",
        "mx/0/0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct spf_term t;
        fa_err err = {{0}};
        if (spf_term_parse(bad[i], strlen(bad[i]), &t, NULL, &err) == 0)
            fail_msg("\"%s\" parsed", bad[i]);
    }
    int unknown = 0;
    struct spf_term t;
    fa_err err;
    assert_int_equal(spf_term_parse("moo", 3, &t, &unknown, &err), -1);
    assert_true(unknown);
    assert_int_equal(spf_term_parse("all.", 4, &t, &unknown, &err), -1);
    assert_false(unknown);
}

static void test_records(void **state)
{
    (void)state;
    struct spf_record r;
    fa_err err = {{0}};
    const char *s = "v=spf1  a mx  include:x.example.com redirect=y.example.com exp=z.example.com ";
    assert_int_equal(spf_record_parse(s, strlen(s), &r, &err), 0);
    assert_int_equal(r.n, 5);
    assert_non_null(r.redirect);
    assert_non_null(r.exp);
    spf_record_free(&r);
    s = "v=spf1 redirect=a.example.com redirect=a.example.com";
    assert_int_equal(spf_record_parse(s, strlen(s), &r, &err), -1);
    s = "v=spf1 exp=a.example.com exp=b.example.com";
    assert_int_equal(spf_record_parse(s, strlen(s), &r, &err), -1);
    s = "v=spf1 ip4:1.2.3.4 -all moo";
    assert_int_equal(spf_record_parse(s, strlen(s), &r, &err), -1);
    assert_non_null(strstr(err.msg, "moo"));
    s = "v=spf1";
    assert_int_equal(spf_record_parse(s, strlen(s), &r, &err), 0);
    assert_int_equal(r.n, 0);
    spf_record_free(&r);
    assert_true(spf_is_record("V=SpF1 -all", 11));
    assert_false(spf_is_record("v=spf10", 7));
    assert_false(spf_is_record("v=spf1\t-all", 11));
    const char nul[] = "v=spf1 a:foo.example.com\0";
    assert_int_equal(spf_record_parse(nul, sizeof(nul) - 1, &r, &err), -1);
}

/* ------------------------------------------------------------ checks */

static int check(struct dns *d, const char *ip, const char *from, const char *helo,
                 struct spf_result *r)
{
    return spf_check(d, ip, from, helo, r);
}

static void test_limits(void **state)
{
    (void)state;
    struct dns *d = test_zone(
        /* 10 DNS-querying terms: at the limit */
        "ten.example.com TXT \"v=spf1 a a a a a a a a a include:inc.example.com -all\"\n"
        "inc.example.com TXT \"v=spf1 ip4:192.0.2.9\"\n"
        "eleven.example.com TXT \"v=spf1 a a a a a a a a a a a ip4:192.0.2.9\"\n"
        "ten.example.com A 192.0.2.1\n"
        "eleven.example.com A 192.0.2.1\n"
        /* void lookups */
        "void2.example.com TXT \"v=spf1 a:nx1.example.com a:nx2.example.com ?all\"\n"
        "void3.example.com TXT \"v=spf1 a:nx1.example.com a:nx2.example.com "
        "a:nx3.example.com ?all\"\n"
        /* more than 10 MX names */
        "mx11.example.com TXT \"v=spf1 mx -all\"\n"
        "mx11.example.com MX 1 a.example.com.\n"
        "mx11.example.com MX 2 a.example.com.\n"
        "mx11.example.com MX 3 a.example.com.\n"
        "mx11.example.com MX 4 a.example.com.\n"
        "mx11.example.com MX 5 a.example.com.\n"
        "mx11.example.com MX 6 a.example.com.\n"
        "mx11.example.com MX 7 a.example.com.\n"
        "mx11.example.com MX 8 a.example.com.\n"
        "mx11.example.com MX 9 a.example.com.\n"
        "mx11.example.com MX 10 a.example.com.\n"
        "mx11.example.com MX 11 a.example.com.\n"
        "a.example.com A 192.0.2.9\n"
        /* loops */
        "loop.example.com TXT \"v=spf1 include:loop.example.com\"\n"
        "rloop.example.com TXT \"v=spf1 redirect=rloop.example.com\"\n");
    struct spf_result r;
    assert_int_equal(check(d, "192.0.2.9", "x@ten.example.com", "h.example.com", &r), SPF_PASS);
    assert_int_equal(r.lookups, 10);
    assert_int_equal(check(d, "192.0.2.9", "x@eleven.example.com", "h.example.com", &r),
                     SPF_PERMERROR);
    assert_int_equal(check(d, "192.0.2.9", "x@void2.example.com", "h.example.com", &r),
                     SPF_NEUTRAL);
    assert_int_equal(r.void_lookups, 2);
    assert_int_equal(check(d, "192.0.2.9", "x@void3.example.com", "h.example.com", &r),
                     SPF_PERMERROR);
    assert_int_equal(check(d, "192.0.2.9", "x@mx11.example.com", "h.example.com", &r),
                     SPF_PERMERROR);
    assert_int_equal(check(d, "192.0.2.9", "x@loop.example.com", "h.example.com", &r),
                     SPF_PERMERROR);
    assert_int_equal(check(d, "192.0.2.9", "x@rloop.example.com", "h.example.com", &r),
                     SPF_PERMERROR);
    dns_free(d);
}

static void test_identities_and_results(void **state)
{
    (void)state;
    struct dns *d = test_zone("example.org TXT \"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 "
                              "~ip4:198.51.100.1 ?ip4:198.51.100.2 -all exp=why.example.org\"\n"
                              "why.example.org TXT \"%{i} may not send for %{d} (%{s}, %{h})\"\n"
                              "mx.example.net TXT \"v=spf1 a -all\"\n"
                              "mx.example.net A 203.0.113.5\n"
                              "slow.example.org TIMEOUT\n"
                              "two.example.org TXT \"v=spf1 -all\"\n"
                              "two.example.org TXT \"v=spf1 +all\"\n");
    struct spf_result r;
    assert_int_equal(check(d, "192.0.2.7", "Alice@Example.org", "mx.example.net", &r), SPF_PASS);
    assert_string_equal(r.domain, "Example.org");
    assert_string_equal(r.mechanism, "ip4:192.0.2.0/24");
    assert_int_equal(check(d, "::ffff:192.0.2.7", "a@example.org", "x", &r), SPF_PASS);
    assert_int_equal(check(d, "2001:db8::1", "a@example.org", "x", &r), SPF_PASS);
    assert_int_equal(check(d, "198.51.100.1", "a@example.org", "x", &r), SPF_SOFTFAIL);
    assert_string_equal(r.explanation, "");
    assert_int_equal(check(d, "198.51.100.2", "a@example.org", "x", &r), SPF_NEUTRAL);
    assert_int_equal(check(d, "203.0.113.5", "a@example.org", "mx.example.net", &r), SPF_FAIL);
    assert_string_equal(r.explanation, "203.0.113.5 may not send for example.org "
                                       "(a@example.org, mx.example.net)");
    assert_string_equal(spf_result_name(r.result), "fail");
    /* null sender: postmaster@helo */
    assert_int_equal(check(d, "203.0.113.5", "", "mx.example.net", &r), SPF_PASS);
    assert_string_equal(r.sender, "postmaster@mx.example.net");
    assert_int_equal(spf_check_helo(d, "203.0.113.6", "mx.example.net", &r), SPF_FAIL);
    assert_true(r.helo_identity);
    /* empty local-part */
    assert_int_equal(check(d, "192.0.2.7", "@example.org", "x", &r), SPF_PASS);
    assert_string_equal(r.sender, "postmaster@example.org");
    /* none, temperror, permerror */
    assert_int_equal(check(d, "192.0.2.7", "a@nothere.example.org", "x", &r), SPF_NONE);
    assert_int_equal(check(d, "192.0.2.7", "a@slow.example.org", "x", &r), SPF_TEMPERROR);
    assert_int_equal(check(d, "192.0.2.7", "a@two.example.org", "x", &r), SPF_PERMERROR);
    /* malformed domains: none without asking DNS */
    assert_int_equal(check(d, "192.0.2.7", "a@[192.0.2.7]", "x", &r), SPF_NONE);
    assert_int_equal(check(d, "192.0.2.7", "a@localhost", "x", &r), SPF_NONE);
    assert_int_equal(check(d, "192.0.2.7", "a@a..example.org", "x", &r), SPF_NONE);
    /* a bad IP is the caller's error */
    assert_int_equal(check(d, "192.0.2", "a@example.org", "x", &r), -1);
    assert_int_equal(check(d, NULL, "a@example.org", "x", &r), -1);
    assert_string_equal(spf_result_name(99), "unknown");
    dns_free(d);
}

struct job {
    struct dns *d;
    int bad;
};

static void *worker(void *arg)
{
    struct job *j = arg;
    struct spf_result r;
    for (int i = 0; i < 200; i++) {
        if (spf_check(j->d, "192.0.2.7", "a@example.org", "h.example.org", &r) != SPF_PASS)
            j->bad++;
        if (spf_check(j->d, "192.0.2.8", "a@example.org", "h.example.org", &r) != SPF_FAIL)
            j->bad++;
    }
    return NULL;
}

/* The identity's domain as spf_check_request names it, which
 * arrival_prefetch asks for ahead: a trailing dot left out. */
static void test_identity_domain(void **state)
{
    (void)state;
    struct {
        const char *mail_from, *helo;
        int helo_identity;
        const char *dom;
        size_t llen;
    } v[] = {
        {"alice@example.org", "mx.example.net", 0, "example.org", 5},
        {"alice@example.org.", "mx.example.net", 0, "example.org", 5},
        {"", "mx.example.net.", 0, "mx.example.net", 0},
        {NULL, "mx.example.net", 0, "mx.example.net", 0},
        {"alice@example.org", "mx.example.net", 1, "mx.example.net", 0},
        {"example.org", NULL, 0, "example.org", 0},
        {NULL, NULL, 0, "", 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct spf_request rq = {
            .mail_from = v[i].mail_from, .helo = v[i].helo, .helo_identity = v[i].helo_identity};
        const char *dom;
        size_t llen, n = spf_identity(&rq, &dom, &llen);
        assert_int_equal(n, strlen(v[i].dom));
        assert_memory_equal(dom, v[i].dom, n);
        assert_int_equal(llen, v[i].llen);
    }
}

static void test_threads(void **state)
{
    (void)state;
    struct dns *d = test_zone("example.org TXT \"v=spf1 include:i.example.org -all\"\n"
                              "i.example.org TXT \"v=spf1 exists:%{ir}.x.example.org\"\n"
                              "7.2.0.192.x.example.org A 127.0.0.2\n");
    pthread_t t[4];
    struct job j[4];
    for (int i = 0; i < 4; i++) {
        j[i] = (struct job){d, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker, &j[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(j[i].bad, 0);
    }
    dns_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_and_cidr), cmocka_unit_test(test_records),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_identities_and_results),
        cmocka_unit_test(test_threads),        cmocka_unit_test(test_identity_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
