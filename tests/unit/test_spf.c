/* Unit tests for spf and spf_macro: RFC 7208 section 7.4 macro vectors,
 * term and CIDR parsing, processing limits, identities (the full RFC 7208
 * suite runs in tests/integration/test_spf_suite.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_zone.h"

#include "dns.h"
#include "spf.h"
#include "spf_macro.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ macros */

static void env_74(struct spf_macro_env *e, const char *ip)
{
    memset(e, 0, sizeof(*e));
    e->sender = "strong-bad@email.example.com";
    e->local = "strong-bad";
    e->sender_domain = "email.example.com";
    e->domain = "email.example.com";
    e->helo = "mx.example.org";
    e->now = 1700000000;
    if (inet_pton(AF_INET, ip, e->ip) != 1) {
        assert_int_equal(inet_pton(AF_INET6, ip, e->ip), 1);
        e->ip_v6 = 1;
    }
}

static void expect(const struct spf_macro_env *e, int mode, const char *in, const char *want)
{
    char out[SPF_MACRO_OUT_MAX];
    size_t len;
    int cut;
    if (spf_macro_expand(e, in, strlen(in), mode, out, sizeof(out), &len, &cut) < 0)
        fail_msg("%s: syntax error", in);
    if (strcmp(out, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", in, out, want);
    assert_int_equal(len, strlen(want));
    assert_int_equal(cut, 0);
}

static void test_rfc7208_74_vectors(void **state)
{
    (void)state;
    struct spf_macro_env e;
    env_74(&e, "192.0.2.3");
    static const char *const v[][2] = {
        {"%{s}", "strong-bad@email.example.com"},
        {"%{o}", "email.example.com"},
        {"%{d}", "email.example.com"},
        {"%{d4}", "email.example.com"},
        {"%{d3}", "email.example.com"},
        {"%{d2}", "example.com"},
        {"%{d1}", "com"},
        {"%{dr}", "com.example.email"},
        {"%{d2r}", "example.email"},
        {"%{l}", "strong-bad"},
        {"%{l-}", "strong.bad"},
        {"%{lr}", "strong-bad"},
        {"%{lr-}", "bad.strong"},
        {"%{l1r-}", "strong"},
        {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
        {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
        {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
        {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
        {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        expect(&e, SPF_MACRO_DOMAIN, v[i][0], v[i][1]);

    env_74(&e, "2001:db8::cb01");
    expect(&e, SPF_MACRO_DOMAIN, "%{ir}.%{v}._spf.%{d2}",
           "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
    expect(&e, SPF_MACRO_EXP, "%{c}", "2001:db8::cb01");
}

static void test_escapes_and_url_encoding(void **state)
{
    (void)state;
    struct spf_macro_env e;
    env_74(&e, "192.0.2.3");
    expect(&e, SPF_MACRO_DOMAIN, "a%%b%_c%-d", "a%b c%20d");
    e.local = "~jack&jill=up-a_b3.c";
    expect(&e, SPF_MACRO_EXP, "l=%{L}", "l=~jack%26jill%3Dup-a_b3.c");
    expect(&e, SPF_MACRO_DOMAIN, "%{D2}", "example.com");
    /* several delimiters, reversal, more parts than there are */
    e.local = "foo-bar+zip+quux";
    expect(&e, SPF_MACRO_DOMAIN, "%{l2r+-}", "bar.foo");
    expect(&e, SPF_MACRO_DOMAIN, "%{l99}", "foo-bar+zip+quux");
    expect(&e, SPF_MACRO_DOMAIN, "%{l99999999999999999999-}", "foo.bar+zip+quux");
    /* exp-only letters */
    expect(&e, SPF_MACRO_EXP, "%{c} %{r} %{t}", "192.0.2.3 unknown 1700000000");
    e.receiver = "mx.example.net";
    expect(&e, SPF_MACRO_EXP, "%{r}", "mx.example.net");
    /* p without a resolver */
    expect(&e, SPF_MACRO_DOMAIN, "%{p}", "unknown");
    expect(&e, SPF_MACRO_DOMAIN, "%{v}", "in-addr");
}

static void test_macro_syntax_errors(void **state)
{
    (void)state;
    static const char *const bad_domain[] = {
        "%",    "a%",   "%{",     "%{d",      "%{x}",     "%{d0}", "%(ir).x",
        "%{c}", "%{r}", "%{t}",   "%{d2r+x}", "foo%.sbl", "a b",   "%{}",
        "\x01", "\xc3", "%{dr2}", "%{d-r}",   "%{ d}",    "%{d }", "{d}%",
    };
    for (size_t i = 0; i < sizeof(bad_domain) / sizeof(bad_domain[0]); i++) {
        char out[64];
        struct spf_macro_env e;
        env_74(&e, "192.0.2.3");
        if (spf_macro_check(bad_domain[i], strlen(bad_domain[i]), SPF_MACRO_DOMAIN, NULL) == 0)
            fail_msg("\"%s\" passed the syntax check", bad_domain[i]);
        assert_int_equal(spf_macro_expand(&e, bad_domain[i], strlen(bad_domain[i]),
                                          SPF_MACRO_DOMAIN, out, sizeof(out), NULL, NULL),
                         -1);
    }
    int ends = 0;
    assert_int_equal(spf_macro_check("%{c} %{r} %{t}.", 15, SPF_MACRO_EXP, &ends), 0);
    assert_int_equal(ends, 0);
    assert_int_equal(spf_macro_check("x.%{d}", 6, SPF_MACRO_DOMAIN, &ends), 0);
    assert_int_equal(ends, 1);
    assert_int_equal(spf_macro_check("x.%%", 4, SPF_MACRO_DOMAIN, &ends), 0);
    assert_int_equal(ends, 1);
}

static void test_output_bounded(void **state)
{
    (void)state;
    struct spf_macro_env e;
    env_74(&e, "192.0.2.3");
    char big[4096];
    size_t n = 0;
    while (n + 8 < sizeof(big)) {
        memcpy(big + n, "%{S}.", 5); /* 28 octets, escaped to 30, per macro */
        n += 5;
    }
    memcpy(big + n, "x.com", 5);
    n += 5;
    /* domain mode: a window over the tail, never past the buffer */
    char out[300];
    size_t len;
    int cut;
    assert_int_equal(spf_macro_expand(&e, big, n, SPF_MACRO_DOMAIN, out, sizeof(out), &len, &cut),
                     0);
    assert_true(cut);
    assert_true(len < sizeof(out));
    assert_int_equal(strlen(out), len);
    assert_int_equal(strcmp(out + len - 6, ".x.com"), 0);
    /* exp mode: cut at the end */
    assert_int_equal(spf_macro_expand(&e, big, n, SPF_MACRO_EXP, out, sizeof(out), &len, &cut), 0);
    assert_true(cut);
    assert_int_equal(len, sizeof(out) - 1);
    assert_int_equal(strncmp(out, "strong-bad%40email.example.com.", 31), 0);
    /* tiny buffers */
    char tiny[2];
    assert_int_equal(spf_macro_expand(&e, "%{s}", 4, SPF_MACRO_EXP, tiny, sizeof(tiny), &len, &cut),
                     0);
    assert_int_equal(len, 1);
    assert_int_equal(spf_macro_expand(&e, "%{s}", 4, SPF_MACRO_EXP, tiny, 1, &len, &cut), -1);
}

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
        cmocka_unit_test(test_rfc7208_74_vectors),
        cmocka_unit_test(test_escapes_and_url_encoding),
        cmocka_unit_test(test_macro_syntax_errors),
        cmocka_unit_test(test_output_bounded),
        cmocka_unit_test(test_terms_and_cidr),
        cmocka_unit_test(test_records),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_identities_and_results),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
