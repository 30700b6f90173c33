/* Unit tests for nets: the internal_hosts list (IPv4 and IPv6 hosts and
 * networks, the forms Postfix passes client addresses in, the bounds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nets.h"

#include <string.h>

static void test_nets(void **state)
{
    (void)state;
    char *items[] = {"192.0.2.0/24", "10.1.2.3", "2001:db8::/32", "::1"};
    struct nets nets;
    fa_err err;
    assert_int_equal(nets_parse(items, 4, &nets, &err), 0);
    assert_true(nets_match(&nets, "192.0.2.77"));
    assert_false(nets_match(&nets, "192.0.3.1"));
    assert_true(nets_match(&nets, "10.1.2.3"));
    assert_false(nets_match(&nets, "10.1.2.4"));
    assert_true(nets_match(&nets, "IPv6:2001:db8:1::5"));
    assert_true(nets_match(&nets, "::ffff:192.0.2.1"));
    assert_true(nets_match(&nets, "::1"));
    assert_false(nets_match(&nets, "2001:db9::1"));
    assert_false(nets_match(&nets, "not an address"));
    assert_false(nets_match(&nets, NULL));
    char *odd[] = {"192.0.2.0/23"};
    assert_int_equal(nets_parse(odd, 1, &nets, &err), 0);
    assert_true(nets_match(&nets, "192.0.3.9"));
    char *bad[] = {"192.0.2.0/33"};
    assert_int_equal(nets_parse(bad, 1, &nets, &err), -1);
    char *bad2[] = {"host.example"};
    assert_int_equal(nets_parse(bad2, 1, &nets, &err), -1);
    assert_non_null(strstr(err.msg, "host.example"));
}

/* What the header promises beyond the list above: "[addr]" as Postfix
 * writes a literal, host bits below the prefix ignored, /0 matching every
 * address of its family only, and the bounds (NETS_MAX entries, prefix
 * lengths per family). */
static void test_forms_and_bounds(void **state)
{
    (void)state;
    struct nets nets;
    fa_err err = {{0}};
    char *items[] = {"[192.0.2.9]", "198.51.100.77/24", "IPv6:2001:db8:5::/48", "[2001:db8:9::1]"};
    assert_int_equal(nets_parse(items, 4, &nets, &err), 0);
    assert_int_equal(nets.n, 4);
    assert_true(nets_match(&nets, "192.0.2.9"));
    assert_false(nets_match(&nets, "192.0.2.10"));
    assert_true(nets_match(&nets, "198.51.100.1")); /* host bits of .77 ignored */
    assert_true(nets_match(&nets, "[198.51.100.254]"));
    assert_true(nets_match(&nets, "2001:db8:5:ffff::1"));
    assert_false(nets_match(&nets, "2001:db8:6::1"));
    assert_true(nets_match(&nets, "IPv6:2001:db8:9::1"));
    assert_false(nets_match(&nets, "2001:db8:9::2"));
    /* An IPv4 network does not match an IPv6 address that is not mapped. */
    assert_false(nets_match(&nets, "::192.0.2.9"));

    char *all4[] = {"0.0.0.0/0"};
    assert_int_equal(nets_parse(all4, 1, &nets, &err), 0);
    assert_true(nets_match(&nets, "203.0.113.200"));
    assert_true(nets_match(&nets, "::ffff:203.0.113.200"));
    assert_false(nets_match(&nets, "2001:db8::1"));

    char *v6max[] = {"2001:db8::1/128"};
    assert_int_equal(nets_parse(v6max, 1, &nets, &err), 0);
    char *v6over[] = {"2001:db8::/129"};
    assert_int_equal(nets_parse(v6over, 1, &nets, &err), -1);
    assert_non_null(strstr(err.msg, "prefix"));
    char *empty_prefix[] = {"192.0.2.0/"};
    assert_int_equal(nets_parse(empty_prefix, 1, &nets, &err), -1);
    char *junk_prefix[] = {"192.0.2.0/24x"};
    assert_int_equal(nets_parse(junk_prefix, 1, &nets, &err), -1);

    /* An empty list matches nothing. */
    assert_int_equal(nets_parse(NULL, 0, &nets, &err), 0);
    assert_false(nets_match(&nets, "127.0.0.1"));

    /* NETS_MAX entries are taken; one more is refused, and said so. */
    static char *many[NETS_MAX + 1];
    for (size_t i = 0; i <= NETS_MAX; i++)
        many[i] = "10.0.0.1";
    assert_int_equal(nets_parse(many, NETS_MAX, &nets, &err), 0);
    assert_int_equal(nets.n, NETS_MAX);
    assert_int_equal(nets_parse(many, NETS_MAX + 1, &nets, &err), -1);
    assert_non_null(strstr(err.msg, "more than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nets),
        cmocka_unit_test(test_forms_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
