/* Unit tests for addrlist: display names, quoting, comments, groups, folding, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "addr.h"
#include "addrlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse s; expect exactly the addresses in want (NULL-terminated). */
static void expect(const char *s, const char *const *want)
{
    struct addrlist l;
    fa_err err = {{0}};
    addrlist_init(&l);
    int rc = addrlist_parse(&l, s, strlen(s), &err);
    if (rc != 0)
        fail_msg("\"%s\": %s", s, err.msg);
    size_t n = 0;
    while (want[n])
        n++;
    if (l.n != n)
        fail_msg("\"%s\": %zu addresses, wanted %zu", s, l.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l.addr[i], want[i]);
    addrlist_free(&l);
}

static void expect_error(const char *s, const char *why)
{
    struct addrlist l;
    fa_err err = {{0}};
    addrlist_init(&l);
    assert_int_equal(addrlist_add(&l, "keep@example.org", 16, &err), 0);
    if (addrlist_parse(&l, s, strlen(s), &err) == 0)
        fail_msg("\"%s\" parsed, wanted an error", s);
    if (!strstr(err.msg, why))
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", s, err.msg, why);
    /* Nothing of a refused field is kept; what was there stays. */
    assert_int_equal(l.n, 1);
    assert_string_equal(l.addr[0], "keep@example.org");
    addrlist_free(&l);
}

#define EXPECT(s, ...)                                                                             \
    do {                                                                                           \
        const char *const w_[] = {__VA_ARGS__, NULL};                                              \
        expect(s, w_);                                                                             \
    } while (0)
#define EXPECT_NONE(s)                                                                             \
    do {                                                                                           \
        const char *const w_[] = {NULL};                                                           \
        expect(s, w_);                                                                             \
    } while (0)

static void test_simple(void **state)
{
    (void)state;
    EXPECT("a@example.org", "a@example.org");
    EXPECT(" a@example.org ", "a@example.org");
    EXPECT("a@example.org, b@example.net", "a@example.org", "b@example.net");
    EXPECT("first.last+tag@sub.example.org", "first.last+tag@sub.example.org");
    EXPECT("A@Example.ORG", "A@Example.ORG"); /* case kept */
    EXPECT_NONE("");
    EXPECT_NONE("   ");
}

static void test_display_names(void **state)
{
    (void)state;
    EXPECT("Joe Q. Public <john.q.public@example.com>", "john.q.public@example.com");
    EXPECT("\"Doe, John\" <jd@example.org>, Mary <m@example.org>", "jd@example.org",
           "m@example.org");
    EXPECT("\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>", "sysservices@example.net");
    EXPECT("=?UTF-8?Q?J=C3=B6rg?= <j@example.de>", "j@example.de");
    EXPECT("J\xc3\xb6rg <j@example.de>", "j@example.de"); /* RFC 6532 */
    EXPECT("<bare@example.org>", "bare@example.org");
    EXPECT("Mr. Smith <s@example.org>", "s@example.org"); /* obs-phrase with "." */
}

static void test_comments(void **state)
{
    (void)state;
    EXPECT("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", "pete@silly.test");
    EXPECT("a@example.org (Alice (the (deeply) nested) one)", "a@example.org");
    EXPECT("(only a comment) b@example.org", "b@example.org");
    EXPECT("c@example.org (a, b; c: <d@e>)", "c@example.org");
}

static void test_quoted_local(void **state)
{
    (void)state;
    EXPECT("\"john doe\"@example.org", "\"john doe\"@example.org");
    EXPECT("\"a\\\"b\"@example.org", "\"a\\\"b\"@example.org");
    EXPECT("\"plain\"@example.org", "plain@example.org"); /* quotes not needed */
    EXPECT("\"a\".\"b\"@example.org", "a.b@example.org");
    EXPECT("john . doe @ example . org", "john.doe@example.org"); /* obs forms */
    EXPECT("\"a@b\"@example.org", "\"a@b\"@example.org");
    EXPECT("x@[192.0.2.1], y@[IPv6:2001:db8::1]", "x@[192.0.2.1]", "y@[IPv6:2001:db8::1]");
}

static void test_groups(void **state)
{
    (void)state;
    EXPECT_NONE("undisclosed-recipients:;");
    EXPECT_NONE("Undisclosed recipients: ;");
    EXPECT("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", "c@a.test",
           "joe@where.test", "jdoe@one.test");
    EXPECT("team: a@x.example;, b@y.example", "a@x.example", "b@y.example");
    EXPECT("one: a@x.example; , two: ;", "a@x.example");
    EXPECT("g: , a@x.example, ;", "a@x.example");
}

static void test_folding_and_empty(void **state)
{
    (void)state;
    EXPECT(" a@example.org,\r\n b@example.org,\n\tc@example.org\r\n", "a@example.org",
           "b@example.org", "c@example.org");
    EXPECT("\"folded\r\n name\" <f@example.org>", "f@example.org");
    EXPECT("\"a\r\n b\"@example.org", "\"a b\"@example.org");
    EXPECT("a@example.org,,, ,b@example.org,", "a@example.org", "b@example.org");
    EXPECT("<@relay1.test,@relay2.test:u@d.example>", "u@d.example"); /* obs-route */
}

static void test_duplicates(void **state)
{
    (void)state;
    EXPECT("a@example.org, A <a@example.org>, b@example.org", "a@example.org", "b@example.org");
    struct addrlist l;
    fa_err err;
    addrlist_init(&l);
    assert_int_equal(addrlist_parse(&l, "a@x.test", 8, &err), 0);
    assert_int_equal(addrlist_parse(&l, "b@x.test, a@x.test", 18, &err), 0);
    assert_int_equal(addrlist_add(&l, "c@x.test", 8, &err), 0);
    assert_int_equal(addrlist_add(&l, "a@x.test", 8, &err), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(addrlist_add(&l, "bad\r\n@x.test", 12, &err), -1);
    assert_int_equal(addrlist_add(&l, "", 0, &err), -1);
    addrlist_free(&l);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("just a name", "no \"@\"");
    expect_error("joe", "no \"@\"");
    expect_error("a@example.org b@example.org", "expected \",\"");
    expect_error("<a@example.org", "expected \">\"");
    expect_error("Name <a@example.org", "expected \">\"");
    expect_error("\"unterminated@example.org", "unterminated quoted string");
    expect_error("a@example.org (open comment", "unterminated comment");
    expect_error("a@example.org)", "unbalanced");
    expect_error("a@", "no domain");
    expect_error("@example.org", "empty local part");
    expect_error("a..b@example.org", "empty word");
    expect_error("a@example..org", "empty label");
    expect_error("a@exa!mple.org", "invalid domain");
    expect_error("<>", "empty address");
    expect_error("g: a@x.test", "group without");
    expect_error("g: h: a@x.test;;", "group inside a group");
    expect_error("a@x.test;", "expected \",\"");
    expect_error(";", "outside a group");
    expect_error("\"a\\\r\"@x.test", "control character");
    expect_error("a@x.test\x01", "unexpected character");
    expect_error("a@[1.2[3]", "inside a domain literal");
}

static void test_limits(void **state)
{
    (void)state;
    /* A local part just over the limit is refused, not truncated. */
    size_t n = ADDR_LOCAL_MAX + 1;
    char *s = malloc(n + 16);
    assert_non_null(s);
    memset(s, 'a', n);
    strcpy(s + n, "@x.test");
    struct addrlist l;
    fa_err err;
    addrlist_init(&l);
    assert_int_equal(addrlist_parse(&l, s, strlen(s), &err), -1);
    s[n - 1] = '@';
    s[n] = 'x';
    assert_int_equal(addrlist_parse(&l, s, n + 1, &err), 0);
    free(s);
    addrlist_free(&l);

    /* At most ADDRLIST_MAX addresses. */
    size_t cap = (ADDRLIST_MAX + 1) * 16;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t len = 0;
    for (int i = 0; i <= ADDRLIST_MAX; i++)
        len += (size_t)snprintf(big + len, cap - len, "u%d@x.test,", i);
    assert_int_equal(addrlist_parse(&l, big, len, &err), -1);
    assert_non_null(strstr(err.msg, "more than"));
    assert_int_equal(l.n, 0);
    free(big);
    addrlist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),     cmocka_unit_test(test_display_names),
        cmocka_unit_test(test_comments),   cmocka_unit_test(test_quoted_local),
        cmocka_unit_test(test_groups),     cmocka_unit_test(test_folding_and_empty),
        cmocka_unit_test(test_duplicates), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
