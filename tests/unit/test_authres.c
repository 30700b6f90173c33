/* Unit tests for authres: rendering, quoting, folding, authserv-id parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "authres.h"

#include <stdlib.h>
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

static void test_parse(void **state)
{
    (void)state;
    struct authres_parsed *p = malloc(sizeof(*p));
    const char *why = NULL;
    const char *v =
        " lists.example.org 1 (ours); arc=none;\r\n  spf=pass smtp.mfrom=jqd@d1.example;"
        "\r\n  dkim/1=pass (1024-bit key) header.i=@d1.example header.b=\"ab/c+\";"
        "\r\n  auth=fail reason=\"bad \\\"pw\\\"\" smtp.auth=u (why)";
    assert_int_equal(authres_parse(v, strlen(v), p, &why), 0);
    assert_string_equal(p->serv_id, "lists.example.org");
    assert_int_equal(p->version, 1);
    assert_int_equal(p->n, 4);
    assert_string_equal(p->r[0].method, "arc");
    assert_string_equal(p->r[0].result, "none");
    assert_string_equal(p->r[1].props[0].ptype, "smtp");
    assert_string_equal(p->r[1].props[0].property, "mfrom");
    assert_string_equal(p->r[1].props[0].value, "jqd@d1.example");
    assert_int_equal(p->r[2].method_version, 1);
    assert_int_equal(p->r[2].nprops, 2);
    assert_string_equal(p->r[2].props[0].value, "@d1.example");
    assert_string_equal(p->r[2].props[1].value, "ab/c+");
    /* The raw span keeps comments, as ARC-Authentication-Results copies it. */
    assert_int_equal(p->r[2].raw_len, strlen("dkim/1=pass (1024-bit key) header.i=@d1.example "
                                             "header.b=\"ab/c+\""));
    assert_memory_equal(v + p->r[2].raw_off, "dkim/1=pass (1024-bit key)", 26);
    assert_string_equal(p->r[3].reason, "bad \"pw\"");
    assert_memory_equal(v + p->r[3].raw_off + p->r[3].raw_len - 5, "(why)", 5);

    v = " \"mx example\" (c (nested)); none";
    assert_int_equal(authres_parse(v, strlen(v), p, &why), 0);
    assert_string_equal(p->serv_id, "mx example");
    assert_true(p->none);
    assert_int_equal(p->n, 0);

    const char *bad[] = {"",
                         " mx",
                         " mx; =pass",
                         " mx; spf",
                         " mx; spf=pass header",
                         " mx; spf=pass x.y=\"open",
                         " mx spf=pass",
                         " mx; spf=pass; none"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(authres_parse(bad[i], strlen(bad[i]), p, &why), -1);
        assert_non_null(why);
    }
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),  cmocka_unit_test(test_no_line_breaks_injected),
        cmocka_unit_test(test_serv_id), cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
