/* Unit tests for err: fa_err_set and fa_err_errno return -1, format, append
 * the errno text, truncate at FA_ERR_MAX without overflowing, and accept a
 * NULL err. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void test_set(void **state)
{
    (void)state;
    fa_err err;
    assert_int_equal(fa_err_set(&err, "line %d: %s", 7, "bad"), -1);
    assert_string_equal(err.msg, "line 7: bad");
    assert_int_equal(fa_err_set(NULL, "ignored %d", 1), -1);
}

static void test_errno(void **state)
{
    (void)state;
    fa_err err;
    assert_int_equal(fa_err_errno(&err, ENOENT, "cannot open %s", "/x"), -1);
    char want[FA_ERR_MAX];
    snprintf(want, sizeof(want), "cannot open /x: %s", strerror(ENOENT));
    assert_string_equal(err.msg, want);
    assert_int_equal(fa_err_errno(NULL, EACCES, "ignored"), -1);
}

static void test_truncated(void **state)
{
    (void)state;
    /* Guard octets after the struct show that nothing is written past it. */
    struct {
        fa_err err;
        char guard[16];
    } g;
    memset(&g, 'G', sizeof(g));
    char longtext[FA_ERR_MAX * 2];
    memset(longtext, 'a', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    assert_int_equal(fa_err_set(&g.err, "%s", longtext), -1);
    assert_int_equal(strlen(g.err.msg), FA_ERR_MAX - 1);
    for (size_t i = 0; i < sizeof(g.guard); i++)
        assert_int_equal(g.guard[i], 'G');
    memset(&g, 'G', sizeof(g));
    assert_int_equal(fa_err_errno(&g.err, ENOENT, "%s", longtext), -1);
    assert_int_equal(strlen(g.err.msg), FA_ERR_MAX - 1);
    for (size_t i = 0; i < sizeof(g.guard); i++)
        assert_int_equal(g.guard[i], 'G');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_errno),
        cmocka_unit_test(test_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
