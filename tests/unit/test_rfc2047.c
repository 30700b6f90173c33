/* Unit tests for rfc2047: encoded words (Q and B, charsets, RFC 2231
 * languages, malformed words), charset conversion (UTF-8 as is, Latin-1
 * by hand, others by iconv with U+FFFD for what does not convert), the
 * output bound, and UTF-8 sequences (overlong, surrogates, cut). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rfc2047.h"

#include <string.h>

/* Decode s and compare with want (want NULL: -1 expected). */
static void word(const char *s, const char *want)
{
    char out[256];
    long n = rfc2047_decode_word(s, strlen(s), out, sizeof(out));
    if (!want) {
        if (n != -1)
            fail_msg("%s: decoded as \"%.*s\", want -1", s, n > 0 ? (int)n : 0, out);
        return;
    }
    if (n < 0)
        fail_msg("%s: -1, want \"%s\"", s, want);
    if ((size_t)n != strlen(want) || memcmp(out, want, (size_t)n) != 0)
        fail_msg("%s: got \"%.*s\", want \"%s\"", s, (int)n, out, want);
}

static void test_decode_word(void **state)
{
    (void)state;
    word("=?UTF-8?Q?J=C3=B6rg?=", "J\xC3\xB6rg");
    word("=?utf-8?q?J=c3=b6rg?=", "J\xC3\xB6rg"); /* any case: charset, Q, hex */
    word("=?UTF-8?B?SsO2cmc=?=", "J\xC3\xB6rg");
    word("=?UTF-8?b?SsO2cmc?=", "J\xC3\xB6rg"); /* missing padding accepted */
    word("=?US-ASCII?Q?a_b?=", "a b");          /* "_" is a space */
    word("=?UTF-8?Q?a=3Db?=", "a=b");
    word("=?UTF-8?Q?50=?=", "50=");  /* a lone "=" is kept */
    word("=?UTF-8?Q?=4?=", "=4");    /* so is one with a single digit */
    word("=?UTF-8*en?Q?Hi?=", "Hi"); /* RFC 2231 language ignored */
    word("=?ISO-8859-1?Q?J=F6rg?=", "J\xC3\xB6rg");
    word("=?latin1?B?SvZyZw==?=", "J\xC3\xB6rg");
    word("=?windows-1252?Q?=80?=", "\xE2\x82\xAC"); /* iconv: the euro sign */
    word("=?UTF-8?Q?"
         "?=",
         ""); /* empty text */

    word("=?UTF-8?X?abc?=", NULL);      /* neither Q nor B */
    word("=?UTF-8?Q?a b?=", NULL);      /* white space inside */
    word("=?UTF-8?Q?a?b?=", NULL);      /* "?" inside the text */
    word("=?UTF-8?Q?\xC3\xB6?=", NULL); /* 8-bit octets inside */
    word("=??Q?abc?=", NULL);           /* no charset */
    word("=?UTF 8?Q?abc?=", NULL);      /* a charset character outside the set */
    word("=?UTF-8//TRANSLIT?Q?a?=", NULL);
    word("=?no-such-charset-x?Q?abc?=", NULL);
    word("=?UTF-8?B?S$?=", NULL); /* malformed base64 */
    word("=?UTF-8?Q?abc?", NULL); /* not closed */
    word("?UTF-8?Q?abc?=", NULL);
    word("=?UTF-8?Q?=", NULL);
    /* A charset name of 41 octets is refused before iconv sees it. */
    word("=?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?Q?x?=", NULL);
}

static void test_to_utf8(void **state)
{
    (void)state;
    char out[64];
    /* UTF-8 and US-ASCII are copied as they are (validation is the caller's). */
    const uint8_t raw[] = {'a', 0xFF, 'b'};
    assert_int_equal(rfc2047_to_utf8("UTF8", raw, 3, out, sizeof(out)), 3);
    assert_memory_equal(out, raw, 3);
    /* Latin-1 by hand: every octet at or above 0x80 becomes two. */
    const uint8_t l1[] = {0xE9, 'x', 0xFF};
    assert_int_equal(rfc2047_to_utf8("iso-8859-1", l1, 3, out, sizeof(out)), 5);
    assert_memory_equal(out, "\xC3\xA9x\xC3\xBF", 5);
    /* iconv: an octet that is no character becomes U+FFFD, and on. */
    const uint8_t u8bad[] = {'a', 0xFF, 'b'};
    long n = rfc2047_to_utf8("UTF-16BE", u8bad, 3, out, sizeof(out));
    assert_true(n > 0);
    /* "a\xFF" is U+61FF in UTF-16BE (3 octets of UTF-8); the lone "b" is
     * cut at the end: U+FFFD. */
    assert_int_equal(n, 6);
    assert_memory_equal(out, "\xE6\x87\xBF\xEF\xBF\xBD", 6);
    assert_int_equal(rfc2047_to_utf8("x-unknown-charset", l1, 3, out, sizeof(out)), -1);
}

static void test_output_bounded(void **state)
{
    (void)state;
    char out[4];
    /* UTF-8: at most outsz octets. */
    assert_int_equal(rfc2047_decode_word("=?UTF-8?Q?abcdefgh?=", 20, out, sizeof(out)), 4);
    assert_memory_equal(out, "abcd", 4);
    /* Latin-1: a two-octet character that does not fit whole is left out. */
    const uint8_t l1[] = {'a', 'b', 'c', 0xE9};
    assert_int_equal(rfc2047_to_utf8("latin1", l1, 4, out, sizeof(out)), 3);
    /* B text longer than the output: only what fits is decoded. */
    char big[64];
    const char *b = "=?UTF-8?B?YWJjZGVmZ2hpamtsbW5vcA==?=";
    long n = rfc2047_decode_word(b, strlen(b), big, 6);
    assert_true(n > 0 && n <= 6);
    assert_memory_equal(big, "abcdef", (size_t)n);
}

static void test_utf8_char(void **state)
{
    (void)state;
    uint32_t cp = 0;
    assert_int_equal(rfc2047_utf8_char((const unsigned char *)"A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(rfc2047_utf8_char((const unsigned char *)"\xC3\xB6", 2, &cp), 2);
    assert_int_equal(cp, 0xF6);
    assert_int_equal(rfc2047_utf8_char((const unsigned char *)"\xE2\x82\xAC", 3, &cp), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(rfc2047_utf8_char((const unsigned char *)"\xF0\x9F\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(rfc2047_utf8_char((const unsigned char *)"\xF4\x8F\xBF\xBF", 4, &cp), 4);
    assert_int_equal(cp, 0x10FFFF);

    static const char *const bad[] = {
        "\xC0\x80",         /* overlong NUL */
        "\xC1\xBF",         /* overlong */
        "\xE0\x80\x80",     /* overlong three-octet */
        "\xF0\x80\x80\x80", /* overlong four-octet */
        "\xED\xA0\x80",     /* surrogate U+D800 */
        "\xF4\x90\x80\x80", /* above U+10FFFF */
        "\xF5\x80\x80\x80", /* lead octet out of range */
        "\x80",             /* continuation first */
        "\xC3\x28",         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rfc2047_utf8_char((const unsigned char *)bad[i], strlen(bad[i]), &cp) != 0)
            fail_msg("bad sequence %zu accepted", i);
    /* Cut: fewer octets than the lead announces; and n == 0. */
    assert_int_equal(rfc2047_utf8_char((const unsigned char *)"\xE2\x82", 2, &cp), 0);
    assert_int_equal(rfc2047_utf8_char((const unsigned char *)"A", 0, &cp), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_word),
        cmocka_unit_test(test_to_utf8),
        cmocka_unit_test(test_output_bounded),
        cmocka_unit_test(test_utf8_char),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
