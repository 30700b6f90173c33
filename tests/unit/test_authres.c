/* Unit tests for authres: rendering, quoting, folding, authserv-id parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "authres.h"

#include <string.h>

static void test_render(void **state)
{
    (void)state;
    struct authres ar;
    authres_begin(&ar, "mx.example.net");
    assert_string_equal(authres_value(&ar, "\r\n"), " mx.example.net; none");
    assert_int_equal(authres_add(&ar, "dkim", "pass", NULL, "header.d", "example.org", "header.s",
                                 "sel", "header.b", "ab/+cd12", NULL),
                     0);
    assert_int_equal(authres_add(&ar, "dkim", "fail", "body hash (did) not verify", "header.d",
                                 "x.example", "header.s", "", NULL),
                     0);
    assert_string_equal(authres_value(&ar, "\n"),
                        " mx.example.net;\n\tdkim=pass header.d=example.org header.s=sel "
                        "header.b=\"ab/+cd12\";\n\tdkim=fail (body hash \\(did\\) not verify) "
                        "header.d=x.example");
}

static void test_no_line_breaks_injected(void **state)
{
    (void)state;
    struct authres ar;
    authres_begin(&ar, "mx");
    authres_add(&ar, "dkim", "pass", "evil\r\nX-Injected: 1", "header.d", "a\"b\nc", NULL);
    const char *v = authres_value(&ar, "\r\n");
    assert_null(strstr(v, "\r\nX-Injected"));
    assert_non_null(strstr(v, "header.d=\"a\\\"b c\""));
}

static void test_serv_id(void **state)
{
    (void)state;
    char id[64];
    struct {
        const char *in, *want;
    } cases[] = {
        {" mx.example.net; dkim=pass", "mx.example.net"},
        {"mx.example.net 1; none", "mx.example.net"},
        {" (comment (nested)) \r\n\tmx.example.net;spf=pass", "mx.example.net"},
        {" \"quoted id\"; none", "quoted id"},
        {"mx.example.net", "mx.example.net"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(authres_serv_id(cases[i].in, strlen(cases[i].in), id, sizeof(id)),
                         (int)strlen(cases[i].want));
        assert_string_equal(id, cases[i].want);
    }
    assert_int_equal(authres_serv_id("  (only a comment)", 18, id, sizeof(id)), -1);
    assert_int_equal(authres_serv_id(" \"unterminated", 14, id, sizeof(id)), -1);
    assert_int_equal(authres_serv_id(" ;x", 3, id, sizeof(id)), -1);
}

static void test_bounded(void **state)
{
    (void)state;
    struct authres ar;
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    authres_begin(&ar, "mx");
    assert_int_equal(authres_add(&ar, "dkim", "pass", big, NULL), -1);
    for (int i = 0; i < AUTHRES_MAX_RESULTS; i++)
        assert_int_equal(authres_add(&ar, "dkim", "pass", NULL, "header.d", "d.example", NULL), 0);
    assert_int_equal(authres_add(&ar, "dkim", "pass", NULL, NULL), -1);
    assert_true(strlen(authres_value(&ar, "\r\n")) < AUTHRES_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_no_line_breaks_injected),
        cmocka_unit_test(test_serv_id),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
