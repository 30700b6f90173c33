/* Unit tests for addr: splitting at the right "@", quoting, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "addr.h"

#include <string.h>

static void test_split(void **state)
{
    (void)state;
    struct addr a;
    assert_int_equal(addr_split("user@example.org", 16, &a), 0);
    assert_string_equal(a.local, "user");
    assert_string_equal(a.domain, "example.org");
    const char *q = "\"a@b\"@Example.org";
    assert_int_equal(addr_split(q, strlen(q), &a), 0);
    assert_string_equal(a.local, "a@b");
    assert_string_equal(a.domain, "Example.org");
    const char *internal = "a@b@example.org";
    assert_int_equal(addr_split(internal, strlen(internal), &a), 0);
    assert_string_equal(a.local, "a@b");
    const char *esc = "\"x\\\"y\\\\z\"@d.example";
    assert_int_equal(addr_split(esc, strlen(esc), &a), 0);
    assert_string_equal(a.local, "x\"y\\z");
    const char *utf8 = "j\xc3\xb6rg@d.example";
    assert_int_equal(addr_split(utf8, strlen(utf8), &a), 0);
    assert_string_equal(a.local, "j\xc3\xb6rg");
}

static void test_refused(void **state)
{
    (void)state;
    struct addr a;
    const char *bad[] = {"",
                         "nodomain",
                         "user@",
                         "@d.example",
                         "a\x01@d.example",
                         "a@d example",
                         "\"\"@d.example",
                         "a@d=x.example",
                         "a@[1.2.3.4",
                         "\"a\"b\"@d.example",
                         "\"a\\\"@d.example"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(addr_split(bad[i], strlen(bad[i]), &a), -1);
        assert_non_null(a.why);
    }
    assert_int_equal(addr_split("a\0b@d.example", 13, &a), -1);
    char big[ADDR_LOCAL_MAX + 20];
    memset(big, 'x', ADDR_LOCAL_MAX + 1);
    strcpy(big + ADDR_LOCAL_MAX + 1, "@d");
    assert_int_equal(addr_split(big, strlen(big), &a), -1);
}

static void test_quote(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(addr_quote_local("a.b+c", 5, out, sizeof(out)), 5);
    assert_string_equal(out, "a.b+c");
    assert_int_equal(addr_quote_local("a b", 3, out, sizeof(out)), 5);
    assert_string_equal(out, "\"a b\"");
    addr_quote_local("a\"b\\", 4, out, sizeof(out));
    assert_string_equal(out, "\"a\\\"b\\\\\"");
    addr_quote_local(".a", 2, out, sizeof(out));
    assert_string_equal(out, "\".a\"");
    addr_quote_local("a..b", 4, out, sizeof(out));
    assert_string_equal(out, "\"a..b\"");
    assert_int_equal(addr_quote_local("a b", 3, out, 5), -1);
    assert_false(addr_is_dot_atom("", 0));
    assert_true(addr_is_dot_atom("SRS0=ab+/=2W=x.example=u", 24));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
