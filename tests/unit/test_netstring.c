/* Unit tests for netstring: complete, partial and malformed input, limits,
 * pipelined netstrings in one buffer, and encode/parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "netstring.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *s, const uint8_t **data, size_t *len, size_t *used)
{
    return netstring_parse((const uint8_t *)s, strlen(s), data, len, used);
}

static void test_complete(void **state)
{
    (void)state;
    const uint8_t *d;
    size_t len, used;
    assert_int_equal(parse("12:hello world!,", &d, &len, &used), NETSTRING_COMPLETE);
    assert_int_equal(len, 12);
    assert_int_equal(used, 16);
    assert_memory_equal(d, "hello world!", 12);
    assert_int_equal(parse("0:,", &d, &len, &used), NETSTRING_COMPLETE);
    assert_int_equal(len, 0);
    assert_int_equal(used, 3);
}

static void test_need_more(void **state)
{
    (void)state;
    const char *full = "19:forward a@b.example,";
    const uint8_t *d;
    size_t len, used;
    for (size_t i = 0; i < strlen(full); i++)
        assert_int_equal(netstring_parse((const uint8_t *)full, i, &d, &len, &used),
                         NETSTRING_NEED_MORE);
    assert_int_equal(parse(full, &d, &len, &used), NETSTRING_COMPLETE);
    assert_int_equal(parse("100000:", &d, &len, &used), NETSTRING_NEED_MORE);
}

static void test_malformed(void **state)
{
    (void)state;
    const uint8_t *d;
    size_t len, used;
    const char *bad[] = {
        ":abc,",      /* no length */
        "x3:abc,",    /* leading garbage */
        " 3:abc,",    /* leading space */
        "3:abc;",     /* missing comma */
        "3:abcd,",    /* length too short for the data */
        "100001:",    /* over the maximum */
        "1000000",    /* seven digits */
        "0000001:a,", /* too many digits, leading zeros */
        "01:a,",      /* leading zero */
        "-1:a,",      /* sign */
        "3a:abc,",    /* junk in the length */
        "\xff\xfe",   /* binary */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &d, &len, &used), NETSTRING_MALFORMED);
    /* refused at once, before the data arrives */
    assert_int_equal(parse("999999", &d, &len, &used), NETSTRING_MALFORMED);
}

static void test_maximum(void **state)
{
    (void)state;
    size_t n = NETSTRING_FRAMED_MAX;
    uint8_t *buf = malloc(n);
    uint8_t *payload = malloc(NETSTRING_MAX);
    assert_non_null(buf);
    assert_non_null(payload);
    memset(payload, 'x', NETSTRING_MAX);
    int m = netstring_encode(payload, NETSTRING_MAX, buf, n);
    assert_int_equal(m, (int)n); /* "100000:" + data + "," */
    const uint8_t *d;
    size_t len, used;
    assert_int_equal(netstring_parse(buf, (size_t)m, &d, &len, &used), NETSTRING_COMPLETE);
    assert_int_equal(len, NETSTRING_MAX);
    assert_int_equal(netstring_encode(payload, NETSTRING_MAX + 1, buf, n), -1);
    free(buf);
    free(payload);
}

static void test_pipelined(void **state)
{
    (void)state;
    const char *s = "3:abc,0:,5:hello,2:x";
    const uint8_t *p = (const uint8_t *)s, *d;
    size_t n = strlen(s), len, used;
    const char *want[] = {"abc", "", "hello"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(netstring_parse(p, n, &d, &len, &used), NETSTRING_COMPLETE);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(d, want[i], len);
        p += used;
        n -= used;
    }
    assert_int_equal(netstring_parse(p, n, &d, &len, &used), NETSTRING_NEED_MORE);
}

static void test_encode(void **state)
{
    (void)state;
    uint8_t out[32];
    int m = netstring_encode((const uint8_t *)"NOTFOUND ", 9, out, sizeof(out));
    assert_int_equal(m, 12);
    assert_memory_equal(out, "9:NOTFOUND ,", 12);
    assert_int_equal(netstring_encode((const uint8_t *)"NOTFOUND ", 9, out, 11), -1);
    m = netstring_encode((const uint8_t *)"", 0, out, sizeof(out));
    assert_int_equal(m, 3);
    assert_memory_equal(out, "0:,", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete),  cmocka_unit_test(test_need_more),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_maximum),
        cmocka_unit_test(test_pipelined), cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
