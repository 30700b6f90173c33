/* Unit tests for spf_macro: the RFC 7208 section 7.4 macro vectors, escapes
 * and URL encoding, syntax errors in both modes, and the bounded output
 * (the window over a domain's tail, explanation text cut at the buffer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "spf_macro.h"

#include <arpa/inet.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7208_74_vectors),
        cmocka_unit_test(test_escapes_and_url_encoding),
        cmocka_unit_test(test_macro_syntax_errors),
        cmocka_unit_test(test_output_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
