/* Unit tests for fromhdr: every state and repair of the From reading, the
 * display-name decoding, and the rewrite's encoding, folding and limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "addrlist.h"
#include "fromhdr.h"
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIA "example.net"
#define FWD "forwarder@example.net"

/* ---- reading ---- */

static void expect_read(const char *value, int state, const char *domain, unsigned repairs)
{
    struct from_info fi;
    int st = from_read_value(value, strlen(value), &fi);
    if (st != state || fi.state != state)
        fail_msg("\"%s\": %s (%s %s), wanted %s", value, from_state_name(st), fi.why, fi.detail,
                 from_state_name(state));
    if (strcmp(fi.domain, domain) != 0)
        fail_msg("\"%s\": domain \"%s\", wanted \"%s\"", value, fi.domain, domain);
    if (fi.repairs != repairs)
        fail_msg("\"%s\": repairs %u, wanted %u", value, fi.repairs, repairs);
    assert_non_null(fi.why);
    assert_true(fi.why[0] != '\0');
    assert_int_equal(fi.fields, 1);
}

static void test_ok(void **state)
{
    (void)state;
    expect_read("a@example.org", FROM_OK, "example.org", 0);
    expect_read(" The CEO <ceo@Bank.Example>", FROM_OK, "Bank.Example", 0);
    expect_read("\"Smith, =?UTF-8?Q?J=C3=B6rg?=\" <joerg@example.org>", FROM_OK, "example.org", 0);
    expect_read("a@example.org (comment x@evil.test)", FROM_OK, "example.org", 0);
    expect_read("(c) \"x@evil.test\" <a@example.org> (c)", FROM_OK, "example.org", 0);
    expect_read("<@relay.test,@r2.test:u@example.org>", FROM_OK, "example.org", 0);
    expect_read("john . doe @ example . org", FROM_OK, "example.org", 0);
    expect_read("a@example.org,", FROM_OK, "example.org", 0); /* obs-mbox-list */
    expect_read(", ,a@example.org", FROM_OK, "example.org", 0);
    expect_read("\"folded\r\n name\" <a@example.org>\r\n", FROM_OK, "example.org", 0);
    expect_read("J\xc3\xb6rg <j@b\xc3\xbc"
                "cher.example>",
                FROM_OK,
                "b\xc3\xbc"
                "cher.example",
                0);
}

static void test_repaired(void **state)
{
    (void)state;
    /* The issue's three attacks. */
    expect_read("The CEO <ceo@reject-spf.test.>", FROM_REPAIRED, "reject-spf.test",
                FROM_FIX_TRAILING_DOT);
    expect_read("CEO: <ceo@reject-spf.test>", FROM_REPAIRED, "reject-spf.test", FROM_FIX_GROUP);
    expect_read("The CEO <ceo@reject-spf.test>;", FROM_REPAIRED, "reject-spf.test",
                FROM_FIX_SEMICOLON);
    /* Variants. */
    expect_read("ceo@reject-spf.test.", FROM_REPAIRED, "reject-spf.test", FROM_FIX_TRAILING_DOT);
    expect_read("ceo@reject-spf.test. (x)", FROM_REPAIRED, "reject-spf.test",
                FROM_FIX_TRAILING_DOT);
    expect_read("<ceo@reject-spf.test . >", FROM_REPAIRED, "reject-spf.test",
                FROM_FIX_TRAILING_DOT);
    expect_read("CEO: <ceo@reject-spf.test>;", FROM_REPAIRED, "reject-spf.test", FROM_FIX_GROUP);
    expect_read("CEO: ceo@reject-spf.test;", FROM_REPAIRED, "reject-spf.test", FROM_FIX_GROUP);
    expect_read("CEO: ceo@reject-spf.test", FROM_REPAIRED, "reject-spf.test", FROM_FIX_GROUP);
    expect_read("empty:;, <ceo@reject-spf.test>", FROM_REPAIRED, "reject-spf.test", FROM_FIX_GROUP);
    expect_read(";<ceo@reject-spf.test>", FROM_REPAIRED, "reject-spf.test", FROM_FIX_SEMICOLON);
    expect_read("CEO: <ceo@reject-spf.test.>", FROM_REPAIRED, "reject-spf.test",
                FROM_FIX_GROUP | FROM_FIX_TRAILING_DOT);
    expect_read("The CEO <ceo@reject-spf.test.>;", FROM_REPAIRED, "reject-spf.test",
                FROM_FIX_TRAILING_DOT | FROM_FIX_SEMICOLON);
    struct from_info fi;
    from_read_value("CEO: <ceo@x.test.>", 18, &fi);
    assert_string_equal(fi.why, "trailing dot on the domain"); /* the first repair */
}

static void test_multiple(void **state)
{
    (void)state;
    expect_read("a@example.org, b@example.org", FROM_MULTIPLE, "", 0);
    expect_read("a@example.org, a@example.org", FROM_MULTIPLE, "", 0); /* duplicates count */
    expect_read("A <a@example.org>, a@example.org", FROM_MULTIPLE, "", 0);
    expect_read("a@example.org; b@evil.test", FROM_MULTIPLE, "", 0);
    expect_read("<a@example.org>;<b@evil.test>;", FROM_MULTIPLE, "", 0);
    expect_read("G: a@example.org, b@evil.test;", FROM_MULTIPLE, "", 0);
    expect_read("G: a@example.org, b@evil.test", FROM_MULTIPLE, "", 0);
    expect_read("G: a@example.org;, H: b@evil.test;", FROM_MULTIPLE, "", 0);
    struct from_info fi;
    from_read_value("a@x.test, b@x.test, c@x.test", 28, &fi);
    assert_int_equal(fi.mailboxes, 3);
    assert_string_equal(fi.local, "");
}

static void test_unreadable(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "   ",
        "undisclosed-recipients:;",
        "G:",
        "just a name",
        "Smith, John <j@example.org>",
        "<a@example.org> junk",
        "<a@example.org>.",
        "<a@example.org>>",
        "a@example.org b@example.org",
        "ceo@bank.example <a@evil.test>",
        "<>",
        "a@",
        "@example.org",
        "a@example..org",
        "a@example.org..",
        "a@.example.org",
        "<a@example.org.",
        "a@exa!mple.org",
        "a@[192.0.2.1]",
        "\"unterminated <a@example.org>",
        "a@example.org (open",
        "G: H: a@example.org;;",
        "a@example.org\x01",
        "\"a\\\r\"@example.org",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct from_info fi;
        memset(&fi, 'x', sizeof(fi));
        int st = from_read_value(bad[i], strlen(bad[i]), &fi);
        if (st != FROM_UNREADABLE)
            fail_msg("\"%s\": %s, wanted unreadable", bad[i], from_state_name(st));
        assert_string_equal(fi.domain, "");
        assert_string_equal(fi.local, "");
        assert_int_equal(fi.repairs, 0);
        assert_non_null(fi.why);
    }
    /* A NUL inside: not read past. */
    struct from_info fi;
    assert_int_equal(from_read_value("a@exa\0mple.org", 15, &fi), FROM_UNREADABLE);
    /* The parser's message and offset for the log. */
    from_read_value("<a@example.org> junk", 20, &fi);
    assert_non_null(strstr(fi.detail, "offset 16"));
    assert_string_equal(fi.why, "the From field does not parse as a mailbox");
    from_read_value("a@[192.0.2.1]", 13, &fi);
    assert_non_null(strstr(fi.why, "literal"));
    from_read_value("g:;", 3, &fi);
    assert_string_equal(fi.why, "no mailbox in the From field");
}

static void test_local(void **state)
{
    (void)state;
    struct from_info fi;
    const char *v = "\"john doe\"@example.org";
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_OK);
    assert_string_equal(fi.local, "\"john doe\"");
    v = "\"a@b\" <\"x@y\"@example.org.>";
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_REPAIRED);
    assert_string_equal(fi.local, "\"x@y\"");
    assert_string_equal(fi.domain, "example.org");
    v = "Name <\"plain\"@example.org>";
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_OK);
    assert_string_equal(fi.local, "plain");
}

static int read_section(const char *s, struct from_info *fi)
{
    struct msg_headers hs;
    size_t body;
    fa_err err;
    assert_int_equal(msg_parse(s, strlen(s), &hs, &body, &err), 0);
    int st = from_read(hs.h, hs.n, fi);
    free(hs.h);
    return st;
}

static void test_fields(void **state)
{
    (void)state;
    struct from_info fi;
    assert_int_equal(read_section("Subject: x\r\nFrom: a@example.org\r\n\r\nbody", &fi), FROM_OK);
    assert_string_equal(fi.domain, "example.org");
    assert_string_equal(fi.local, "a");
    assert_int_equal(fi.fields, 1);
    assert_int_equal(fi.mailboxes, 1);
    assert_int_equal(read_section("Subject: x\n\nFrom: a@example.org\n", &fi), FROM_ABSENT);
    assert_int_equal(fi.fields, 0);
    assert_string_equal(fi.why, "no From field");
    assert_int_equal(read_section("Sender: a@example.org\nResent-From: b@x.test\n\n", &fi),
                     FROM_ABSENT);
    /* Two fields, whatever they hold (issue 10, finding 3). */
    assert_int_equal(read_section("From: alice@example.org\nFrom: CEO <ceo@bank.example>\n\n", &fi),
                     FROM_MULTIPLE);
    assert_int_equal(fi.fields, 2);
    assert_string_equal(fi.why, "several From fields");
    assert_string_equal(fi.domain, "");
    assert_int_equal(read_section("From: a@example.org\nfrom : a@example.org\n\n", &fi),
                     FROM_MULTIPLE);
    assert_int_equal(read_section("FROM: x\nfrom: y\nFrom: z\n\n", &fi), FROM_MULTIPLE);
    assert_int_equal(fi.fields, 3);
    assert_int_equal(read_section("From: The CEO\n <ceo@reject-spf.test.>\n\n", &fi),
                     FROM_REPAIRED);
    assert_string_equal(fi.domain, "reject-spf.test");
    assert_int_equal(read_section("From:\n\n", &fi), FROM_UNREADABLE);
}

static void test_limits(void **state)
{
    (void)state;
    /* The longest domain name (253 octets) is read, with or without a
     * trailing dot; a longer one (past ADDR_DOMAIN_MAX) is not. */
    char v[2 * ADDR_LOCAL_MAX + 64];
    char dom[301];
    for (size_t i = 0; i < sizeof(dom); i++)
        dom[i] = (i % 10 == 9) ? '.' : 'a';
    dom[253] = '\0';
    snprintf(v, sizeof(v), "<a@%s>", dom);
    struct from_info fi;
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_OK);
    assert_int_equal(strlen(fi.domain), 253);
    snprintf(v, sizeof(v), "<a@%s.>", dom);
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_REPAIRED);
    assert_int_equal(strlen(fi.domain), 253);
    dom[253] = 'a';
    dom[300] = '\0';
    snprintf(v, sizeof(v), "<a@%s>", dom);
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_UNREADABLE);
    snprintf(v, sizeof(v), "<a@%s.>", dom);
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_UNREADABLE);

    /* Local parts: ADDR_LOCAL_MAX octets as written; a quoted one that
     * needs quotes and escapes beyond it is refused, not cut. */
    memset(v, 'l', ADDR_LOCAL_MAX);
    strcpy(v + ADDR_LOCAL_MAX, "@x.test");
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_OK);
    assert_int_equal(strlen(fi.local), ADDR_LOCAL_MAX);
    v[0] = '"';
    v[1] = ' ';
    v[ADDR_LOCAL_MAX - 1] = '"';
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_OK);
    assert_int_equal(strlen(fi.local), ADDR_LOCAL_MAX);
    /* 300 quotes: 300 octets unquoted, 602 in envelope form. */
    char *w = v;
    *w++ = '"';
    for (int i = 0; i < 300; i++) {
        *w++ = '\\';
        *w++ = '"';
    }
    strcpy(w, "\"@x.test");
    assert_int_equal(from_read_value(v, strlen(v), &fi), FROM_UNREADABLE);
    assert_string_equal(fi.why, "local part too long");

    /* Many mailboxes: never read as one, whatever the count. */
    size_t cap = 3000 * 16;
    char *big = malloc(cap);
    assert_non_null(big);
    size_t len = 0;
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(big + len, cap - len, "u%d@x.test,", i);
    int st = from_read_value(big, len, &fi);
    assert_true(st == FROM_MULTIPLE || st == FROM_UNREADABLE);
    len = 0;
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(big + len, cap - len, "u@x.test,");
    assert_int_equal(from_read_value(big, len, &fi), FROM_MULTIPLE);
    assert_int_equal(fi.mailboxes, 3000);
    free(big);
}

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(from_state_name(FROM_OK), "ok");
    assert_string_equal(from_state_name(FROM_REPAIRED), "repaired");
    assert_string_equal(from_state_name(FROM_ABSENT), "absent");
    assert_string_equal(from_state_name(FROM_MULTIPLE), "multiple");
    assert_string_equal(from_state_name(FROM_UNREADABLE), "unreadable");
    assert_string_equal(from_state_name(42), "unreadable");
}

/* addrlist_parse_report with allow 0 reads what addrlist_parse reads. */
static void test_addrlist_report(void **state)
{
    (void)state;
    const char *v[] = {"a@x.test.", "G: a@x.test", "a@x.test;", "G: a@x.test;, b@y.test"};
    for (size_t i = 0; i < 4; i++) {
        struct addrlist l1, l2;
        addrlist_init(&l1);
        addrlist_init(&l2);
        struct addrlist_report rep;
        int a = addrlist_parse(&l1, v[i], strlen(v[i]), NULL);
        int b = addrlist_parse_report(&l2, v[i], strlen(v[i]), 0, &rep, NULL);
        assert_int_equal(a, b);
        assert_int_equal(l1.n, l2.n);
        addrlist_free(&l1);
        addrlist_free(&l2);
    }
    struct addrlist l;
    addrlist_init(&l);
    struct addrlist_report rep;
    const char *s = "G: (c) Name <a@x.test>, b@x.test;, c@x.test";
    assert_int_equal(addrlist_parse_report(&l, s, strlen(s), 0, &rep, NULL), 0);
    assert_int_equal(rep.mailboxes, 3);
    assert_int_equal(rep.groups, 1);
    assert_int_equal(rep.in_group, 2);
    assert_int_equal(rep.repairs, 0);
    assert_int_equal(rep.name_end - rep.name_off, strlen(" (c) Name "));
    assert_memory_equal(s + rep.name_off, " (c) Name ", rep.name_end - rep.name_off);
    addrlist_free(&l);
}

/* ---- the display name ---- */

static void expect_name(const char *value, size_t n, const char *want)
{
    char out[FROM_NAME_MAX + 1];
    int len = from_display_name(value, n, out, sizeof(out));
    if (len < 0)
        fail_msg("\"%s\": refused", value);
    if (strcmp(out, want) != 0 || (size_t)len != strlen(want))
        fail_msg("\"%s\": name \"%s\", wanted \"%s\"", value, out, want);
}
#define NAME(v, want) expect_name(v, sizeof(v) - 1, want)

static void test_names(void **state)
{
    (void)state;
    NAME("Joe Doe <a@x.test>", "Joe Doe");
    NAME(" Joe \t\r\n  Doe  <a@x.test>", "Joe Doe");
    NAME("\"Doe, Joe\" <a@x.test>", "Doe, Joe");
    NAME("\"a   b\" <a@x.test>", "a   b");
    NAME("\"q\\\"uote \\\\ back\" <a@x.test>", "q\"uote \\ back");
    NAME("\"folded\r\n name\" <a@x.test>", "folded name");
    NAME("Joe (the boss) Doe <a@x.test>", "Joe Doe");
    NAME("(lead) Joe (nested (c) \\) ) <a@x.test>", "Joe");
    NAME("J. R. Doe <a@x.test>", "J. R. Doe");
    NAME("\"a\"\"b\" <a@x.test>", "ab");
    NAME("a@x.test (Comment Name)", "a@x.test");
    NAME("a@x.test", "a@x.test");
    NAME("<a@x.test>", "a@x.test");
    NAME("\"\" <a@x.test>", "a@x.test");
    NAME("\" \" () <a@x.test>", "a@x.test");
    NAME("\"john doe\"@x.test", "\"john doe\"@x.test");
    NAME("G: <a@x.test>;", "a@x.test");
    NAME("G: Name <a@x.test.>", "Name");
}

static void test_encoded_words(void **state)
{
    (void)state;
    NAME("=?UTF-8?Q?J=C3=B6rg?= <a@x.test>", "J\xc3\xb6rg");
    NAME("=?utf-8?q?J=c3=b6rg_M=C3=BCller?= <a@x.test>", "J\xc3\xb6rg M\xc3\xbcller");
    NAME("=?UTF-8?B?SsO2cmc=?= <a@x.test>", "J\xc3\xb6rg");
    NAME("=?UTF-8?B?SsO2cmc?= <a@x.test>", "J\xc3\xb6rg"); /* padding missing */
    NAME("=?ISO-8859-1?Q?J=F6rg?= <a@x.test>", "J\xc3\xb6rg");
    NAME("=?latin1?B?SvZyZw==?= <a@x.test>", "J\xc3\xb6rg");
    NAME("=?UTF-8*de?Q?J=C3=B6rg?= <a@x.test>", "J\xc3\xb6rg"); /* RFC 2231 language */
    NAME("=?us-ascii?q?plain?= <a@x.test>", "plain");
    /* iconv: KOI8-R, Windows-1252 (0x80 is the euro sign), ISO-2022-JP. */
    NAME("=?KOI8-R?B?8NLJ18XU?= <a@x.test>", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
    NAME("=?windows-1252?Q?=80_5?= <a@x.test>", "\xe2\x82\xac 5");
    NAME("=?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <a@x.test>", "\xe5\xb1\xb1\xe7\x94\xb0");
    /* White space between adjacent encoded words goes (RFC 2047 6.2), not
     * between an encoded word and a plain word. */
    NAME("=?UTF-8?Q?a?= =?UTF-8?Q?b?= c <a@x.test>", "ab c");
    NAME("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?= <a@x.test>", "ab");
    NAME("x =?UTF-8?Q?a?= (c) =?UTF-8?Q?_b?= y <a@x.test>", "x a b y");
    /* Inside quotes, delimited by white space or the quotes (as MUAs do). */
    NAME("\"Smith, =?UTF-8?Q?J=C3=B6rg?=\" <joerg@example.org>", "Smith, J\xc3\xb6rg");
    NAME("\"=?UTF-8?Q?J=C3=B6rg?= =?UTF-8?Q?_M?=\" <a@x.test>", "J\xc3\xb6rg M");
    NAME("\"x=?UTF-8?Q?J=C3=B6rg?=\" <a@x.test>", "x=?UTF-8?Q?J=C3=B6rg?=");
    /* Not encoded words, or not decodable: the raw text. */
    NAME("=?x-unknown?Q?abc?= <a@x.test>", "=?x-unknown?Q?abc?=");
    NAME("=?UTF-8//TRANSLIT?Q?abc?= <a@x.test>", "=?UTF-8//TRANSLIT?Q?abc?=");
    NAME("=?UTF-8?X?abc?= <a@x.test>", "=?UTF-8?X?abc?=");
    NAME("=?UTF-8?B?!!!!?= <a@x.test>", "=?UTF-8?B?!!!!?=");
    NAME("=??Q?abc?= <a@x.test>", "=??Q?abc?=");
    NAME("=?UTF-8?Q?a?=b <a@x.test>", "=?UTF-8?Q?a?=b");
    /* A lone "=" in Q is kept. */
    NAME("=?UTF-8?Q?a=ZZ=?= <a@x.test>", "a=ZZ=");
    /* Encoded specials stay text. */
    NAME("=?UTF-8?Q?Evil=2C_Inc=2E_=3Cceo=40bank=2Eexample=3E?= <a@x.test>",
         "Evil, Inc. <ceo@bank.example>");
}

static void test_name_cleanup(void **state)
{
    (void)state;
    /* Invalid UTF-8: each octet becomes U+FFFD. */
    NAME("\xff\xfe Name <a@x.test>", "\xef\xbf\xbd\xef\xbf\xbd Name");
    NAME("=?UTF-8?B?/w==?= x <a@x.test>", "\xef\xbf\xbd x");
    NAME("=?UTF-8?Q?=C0=AF?= <a@x.test>", "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
    NAME("=?UTF-8?Q?=ED=A0=80?= <a@x.test>",
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    /* iconv: an octet that is no character in the charset. */
    NAME("=?ISO-2022-JP?Q?=1B$B=FF=FF?= <a@x.test>", "\xef\xbf\xbd\xef\xbf\xbd");
    /* Controls become spaces; bidi controls go. */
    NAME("=?UTF-8?Q?a=0D=0Ab=00c=7Fd=C2=85e?= <a@x.test>", "a  b c d e");
    NAME("\"a\tb\" <a@x.test>", "a b");
    NAME("=?UTF-8?Q?PayPal_=E2=80=AE?= <a@x.test>", "PayPal");
    NAME("=?UTF-8?Q?a=E2=80=8Fb=E2=81=A6c=D8=9Cd?= <a@x.test>", "abcd");
    NAME("=?UTF-8?Q?=E2=80=AE?= <a@x.test>", "a@x.test"); /* nothing left: the address */
    NAME("=?UTF-8?Q?a=E2=80=A8b?= <a@x.test>", "a b");
}

static void test_name_limits(void **state)
{
    (void)state;
    char v[4096], out[FROM_NAME_MAX + 1];
    /* ASCII: cut at FROM_NAME_MAX, trailing space removed. */
    memset(v, 'a', 300);
    strcpy(v + 300, " <a@x.test>");
    assert_int_equal(from_display_name(v, strlen(v), out, sizeof(out)), FROM_NAME_MAX);
    for (size_t i = 0; i < FROM_NAME_MAX; i++)
        assert_int_equal(out[i], 'a');
    memset(v, 'a', FROM_NAME_MAX - 1);
    v[FROM_NAME_MAX - 1] = ' ';
    strcpy(v + FROM_NAME_MAX, "\"b\" <a@x.test>");
    assert_int_equal(from_display_name(v, strlen(v), out, sizeof(out)), FROM_NAME_MAX - 1);
    /* 3-octet characters: cut at the character boundary below the limit. */
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        memcpy(v + n, "\xe5\xb1\xb1", 3);
        n += 3;
    }
    strcpy(v + n, " <a@x.test>");
    int len = from_display_name(v, strlen(v), out, sizeof(out));
    assert_int_equal(len, (FROM_NAME_MAX / 3) * 3);
    /* A huge encoded word and a huge quoted string: bounded work, cut. */
    char *big = malloc(700000);
    assert_non_null(big);
    strcpy(big, "=?UTF-8?Q?");
    n = strlen(big);
    for (int i = 0; i < 100000; i++) {
        memcpy(big + n, "=C3=B6", 6);
        n += 6;
    }
    strcpy(big + n, "?= <a@x.test>");
    len = from_display_name(big, strlen(big), out, sizeof(out));
    assert_int_equal(len, FROM_NAME_MAX);
    big[0] = '"';
    memset(big + 1, 'q', 500000);
    strcpy(big + 500001, "\" <a@x.test>");
    assert_int_equal(from_display_name(big, strlen(big), out, sizeof(out)), FROM_NAME_MAX);
    free(big);
    /* A small buffer: refused, not cut. */
    char tiny[4];
    assert_int_equal(from_display_name("abc <a@x.test>", 14, tiny, sizeof(tiny)), 3);
    assert_int_equal(from_display_name("abcd <a@x.test>", 15, tiny, sizeof(tiny)), -1);
    /* Not one readable mailbox. */
    assert_int_equal(from_display_name("a@x.test, b@x.test", 18, out, sizeof(out)), -1);
    assert_int_equal(from_display_name("Smith, J <a@x.test>", 19, out, sizeof(out)), -1);
}

/* ---- the rewrite ---- */

/* Rewrite value; check the invariants; return the output (static). */
static const char *rewrite(const char *value, size_t n)
{
    static char out[FROM_REWRITE_MAX];
    fa_err err = {{0}};
    int len = from_rewrite_value(value, n, VIA, FWD, out, sizeof(out), &err);
    if (len < 0)
        fail_msg("\"%s\": %s", value, err.msg);
    assert_int_equal((size_t)len, strlen(out));
    assert_true(out[0] == ' ');
    /* Printable ASCII and "\n " folds only; lines within 78 octets
     * (the first counting "From:"); encoded words within 75. */
    size_t col = strlen("From:");
    for (int i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '\n') {
            assert_true(out[i + 1] == ' ');
            assert_true(col <= 78);
            col = 0;
            continue;
        }
        assert_true(c >= 0x20 && c < 0x7f);
        col++;
    }
    assert_true(col <= 78);
    for (const char *p = out; *p;) {
        size_t wl = strcspn(p, " \n");
        if (wl >= 2 && p[0] == '=' && p[1] == '?')
            assert_true(wl <= 75);
        p += wl;
        p += strspn(p, " \n");
    }
    /* The result reads as one mailbox: the forwarder's address. */
    struct from_info fi;
    assert_int_equal(from_read_value(out, (size_t)len, &fi), FROM_OK);
    assert_string_equal(fi.local, "forwarder");
    assert_string_equal(fi.domain, "example.net");
    assert_non_null(strstr(out, " <" FWD ">"));
    return out;
}
#define REWRITE(v) rewrite(v, sizeof(v) - 1)

/* The name in a rewritten value, read back by our own decoder. */
static void expect_round_trip(const char *value, size_t n, const char *name)
{
    const char *out = rewrite(value, n);
    char back[FROM_NAME_MAX + 1], want[FROM_NAME_MAX + 1];
    snprintf(want, sizeof(want), "%s via " VIA, name);
    assert_true(from_display_name(out, strlen(out), back, sizeof(back)) >= 0);
    if (strcmp(back, want) != 0)
        fail_msg("\"%s\" -> \"%s\": reads \"%s\", wanted \"%s\"", value, out, back, want);
}
#define ROUND(v, name) expect_round_trip(v, sizeof(v) - 1, name)

static void test_rewrite_exact(void **state)
{
    (void)state;
    assert_string_equal(REWRITE("Joe Doe <joe@example.org>"),
                        " \"Joe Doe via example.net\" <forwarder@example.net>");
    assert_string_equal(REWRITE("joe@example.org"),
                        " \"joe@example.org via example.net\" <forwarder@example.net>");
    assert_string_equal(REWRITE("\"Doe, \\\"J\\\" \\\\ x\" <joe@example.org>"),
                        " \"Doe, \\\"J\\\" \\\\ x via example.net\" <forwarder@example.net>");
    /* The issue's example: one mailbox, the name decoded and encoded again. */
    assert_string_equal(
        REWRITE("\"Smith, =?UTF-8?Q?J=C3=B6rg?=\" <joerg@example.org>"),
        " =?UTF-8?Q?Smith=2C_J=C3=B6rg_via_example=2Enet?= <forwarder@example.net>");
    /* B when shorter. */
    assert_string_equal(REWRITE("=?UTF-8?B?5bGx55Sw?= <a@x.test>"),
                        " =?UTF-8?B?5bGx55SwIHZpYSBleGFtcGxlLm5ldA==?= <forwarder@example.net>");
    /* "=?" in a name never goes into a quoted string. */
    assert_string_equal(REWRITE("\"a =?b\" <a@x.test>"),
                        " =?UTF-8?Q?a_=3D=3Fb_via_example=2Enet?= <forwarder@example.net>");
    /* Repaired forms. */
    assert_string_equal(REWRITE("The CEO <ceo@reject-spf.test.>;"),
                        " \"The CEO via example.net\" <forwarder@example.net>");
}

static void test_rewrite_round_trip(void **state)
{
    (void)state;
    ROUND("\"Smith, =?UTF-8?Q?J=C3=B6rg?=\" <joerg@example.org>", "Smith, J\xc3\xb6rg");
    ROUND("=?ISO-8859-1?Q?J=F6rg?= <a@x.test>", "J\xc3\xb6rg");
    ROUND("\"a\\\"b\\\\c (d) <e@f>\" <a@x.test>", "a\"b\\c (d) <e@f>");
    ROUND("\"ceo@bank.example, x\" <a@x.test>", "ceo@bank.example, x");
    ROUND("\xff Name <a@x.test>", "\xef\xbf\xbd Name");
    ROUND("=?UTF-8?Q?a=0D=0A=00b?= <a@x.test>", "a   b");
    ROUND("\"a   b\" <a@x.test>", "a   b");
}

static void test_rewrite_long(void **state)
{
    (void)state;
    char v[2048];
    /* A long ASCII name folds inside the quoted string, at spaces. */
    size_t n = 0;
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(v + n, sizeof(v) - n, "%sWord%02d", i ? " " : "\"", i);
    strcpy(v + n, "\" <a@x.test>");
    const char *out = rewrite(v, strlen(v));
    assert_true(out[1] == '"');
    assert_non_null(strchr(out, '\n'));
    /* An ASCII name with no place to fold: encoded words. */
    memset(v, 'x', 150);
    strcpy(v + 150, " <a@x.test>");
    out = rewrite(v, strlen(v));
    assert_true(strncmp(out, " =?UTF-8?", 9) == 0);
    char back[FROM_NAME_MAX + 1];
    assert_int_equal(from_display_name(out, strlen(out), back, sizeof(back)), 150 + 16);
    /* Long non-ASCII names: several words, never a character split (each
     * word decodes on its own to valid UTF-8: checked by the round trip,
     * which would show U+FFFD otherwise). */
    n = 0;
    for (int i = 0; i < 60; i++) {
        memcpy(v + n, "\xe5\xb1\xb1", 3);
        n += 3;
    }
    strcpy(v + n, " <a@x.test>");
    out = rewrite(v, strlen(v));
    assert_null(strstr(out, "\xef\xbf\xbd"));
    assert_true(from_display_name(out, strlen(out), back, sizeof(back)) > 0);
    assert_null(strstr(back, "\xef\xbf\xbd"));
    assert_int_equal(memcmp(back, v, 180), 0);
    assert_string_equal(back + 180, " via example.net");
    for (int i = 0; i < 50; i++)
        memcpy(v + 2 * i, "\xc3\xb6", 2);
    memcpy(v + 100, "a_b=c?d", 7);
    strcpy(v + 107, " <a@x.test>");
    out = rewrite(v, strlen(v));
    assert_true(from_display_name(out, strlen(out), back, sizeof(back)) > 0);
    assert_int_equal(memcmp(back, v, 107), 0);
    /* The longest: the longest via domain and address, and names that
     * grow most when written (quotes and backslashes doubled, 4-octet
     * characters in base64). */
    char via[ADDR_DOMAIN_MAX + 1];
    for (size_t i = 0; i < ADDR_DOMAIN_MAX; i++)
        via[i] = i % 20 == 19 ? '.' : 'v';
    via[ADDR_DOMAIN_MAX] = '\0';
    char addr[FROM_ADDRESS_MAX + 1];
    memset(addr, 'f', FROM_ADDRESS_MAX);
    addr[10] = '@';
    addr[FROM_ADDRESS_MAX] = '\0';
    char big[FROM_REWRITE_MAX];
    fa_err err;
    char *w = v;
    *w++ = '"';
    for (int i = 0; i < 250; i++) {
        *w++ = '\\';
        *w++ = i % 2 ? '\\' : '"';
    }
    strcpy(w, "\" <a@x.test>");
    int len = from_rewrite_value(v, strlen(v), via, addr, big, sizeof(big), &err);
    assert_true(len > 0 && len < FROM_REWRITE_MAX);
    n = 0;
    for (int i = 0; i < 250; i++) {
        memcpy(v + n, "\xf0\x9f\x98\x80", 4);
        n += 4;
    }
    strcpy(v + n, " <a@x.test>");
    len = from_rewrite_value(v, strlen(v), via, addr, big, sizeof(big), &err);
    assert_true(len > 0 && len < FROM_REWRITE_MAX);
    /* The address line is the only one allowed past 78, within 998. */
    const char *line = strrchr(big, '\n');
    assert_non_null(line);
    assert_true(strlen(line + 1) <= 998);
    assert_true(strlen(line + 1) == FROM_ADDRESS_MAX + 3);
}

static void test_rewrite_errors(void **state)
{
    (void)state;
    char out[FROM_REWRITE_MAX];
    fa_err err;
    const char *v = "Joe <a@x.test>";
    size_t n = strlen(v);
    assert_int_equal(from_rewrite_value(v, n, "", FWD, out, sizeof(out), &err), -1);
    assert_int_equal(from_rewrite_value(v, n, "ex ample.net", FWD, out, sizeof(out), &err), -1);
    assert_int_equal(from_rewrite_value(v, n, "ex\rample.net", FWD, out, sizeof(out), &err), -1);
    assert_string_equal(err.msg, "bad domain for the From rewrite");
    assert_int_equal(from_rewrite_value(v, n, VIA, "forwarder", out, sizeof(out), &err), -1);
    assert_int_equal(from_rewrite_value(v, n, VIA, "<f@x.test>", out, sizeof(out), &err), -1);
    assert_int_equal(from_rewrite_value(v, n, VIA, "f@x.test\n", out, sizeof(out), &err), -1);
    assert_string_equal(err.msg, "bad address for the From rewrite");
    char longaddr[FROM_ADDRESS_MAX + 2];
    memset(longaddr, 'a', sizeof(longaddr) - 1);
    longaddr[1] = '@';
    longaddr[FROM_ADDRESS_MAX + 1] = '\0';
    assert_int_equal(from_rewrite_value(v, n, VIA, longaddr, out, sizeof(out), &err), -1);
    /* Never a rewrite of what cannot be read. */
    const char *bad[] = {"a@x.test, b@x.test", "Smith, J <a@x.test>", "", "g:;", "a@[1.2.3.4]"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(
            from_rewrite_value(bad[i], strlen(bad[i]), VIA, FWD, out, sizeof(out), &err), -1);
        assert_string_equal(err.msg, "the From value is not one readable mailbox");
    }
    /* A buffer too small: refused with a message, NUL-terminated. */
    for (size_t sz = 0; sz < 45; sz++) {
        memset(out, 'x', sizeof(out));
        assert_int_equal(from_rewrite_value(v, n, VIA, FWD, out, sz, &err), -1);
        if (sz)
            assert_true(memchr(out, '\0', sz) != NULL);
        assert_int_equal(out[sz], 'x');
    }
    int len = from_rewrite_value(v, n, VIA, FWD, out, sizeof(out), &err);
    assert_int_equal(len, strlen(" \"Joe via example.net\" <" FWD ">"));
    assert_int_equal(from_rewrite_value(v, n, VIA, FWD, out, (size_t)len, &err), -1);
    assert_non_null(strstr(err.msg, "longer than"));
    assert_int_equal(from_rewrite_value(v, n, VIA, FWD, out, (size_t)len + 1, &err), len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_repaired),
        cmocka_unit_test(test_multiple),
        cmocka_unit_test(test_unreadable),
        cmocka_unit_test(test_local),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_addrlist_report),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_encoded_words),
        cmocka_unit_test(test_name_cleanup),
        cmocka_unit_test(test_name_limits),
        cmocka_unit_test(test_rewrite_exact),
        cmocka_unit_test(test_rewrite_round_trip),
        cmocka_unit_test(test_rewrite_long),
        cmocka_unit_test(test_rewrite_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
