/* Unit tests for domlist: exact names, ".parent" patterns for proper
 * subdomains, case and trailing dots, names given by length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "domlist.h"

#include <string.h>

static void test_domlist(void **state)
{
    (void)state;
    char *list[] = {"Example.NET", ".sub.example"};
    assert_true(domlist_match(list, 2, "example.net", 11));
    assert_true(domlist_match(list, 2, "example.net.", 12));
    assert_false(domlist_match(list, 2, "a.example.net", 13));
    assert_true(domlist_match(list, 2, "a.sub.example", 13));
    assert_false(domlist_match(list, 2, "sub.example", 11));
    assert_false(domlist_match(list, 2, "xsub.example", 12));
    assert_false(domlist_match(list, 0, "example.net", 11));
    assert_true(domain_equal("A.b", 3, "a.B.", 4));
    assert_false(domain_equal("", 0, ".", 1));
}

static void test_edges(void **state)
{
    (void)state;
    /* "." and "" match nothing, not even an empty name. */
    char *odd[] = {".", ""};
    assert_false(domlist_match(odd, 2, "", 0));
    assert_false(domlist_match(odd, 2, "example.net", 11));
    assert_false(domlist_match(odd, 2, ".", 1));
    /* Names are taken by length: what follows is not read. */
    char *list[] = {"example.net"};
    assert_true(domlist_match(list, 1, "example.netXYZ", 11));
    assert_false(domlist_match(list, 1, "example.net", 10));
    /* ".example.net" with a trailing dot on either side. */
    char *parent[] = {".example.net."};
    assert_true(domlist_match(parent, 1, "mx.EXAMPLE.net", 14));
    assert_true(domlist_match(parent, 1, "mx.example.net.", 15));
    assert_false(domlist_match(parent, 1, "example.net.", 12));
    /* The label before the parent must not be empty. */
    assert_false(domlist_match(parent, 1, ".example.net", 12));
    /* domain_equal: lengths differ, empty names, one trailing dot only. */
    assert_false(domain_equal("example.net", 11, "example.ne", 10));
    assert_false(domain_equal("", 0, "", 0));
    assert_true(domain_equal("a.", 2, "a", 1));
    assert_false(domain_equal("a..", 3, "a", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domlist),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
