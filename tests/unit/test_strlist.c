/* Unit tests for strlist: Postfix's list syntax (commas and white space,
 * empty items dropped), and strlist_free leaving an empty list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "strlist.h"

#include <stdio.h>
#include <string.h>

static void test_split(void **state)
{
    (void)state;
    struct fa_list l;
    fa_err err = {{0}};
    assert_int_equal(strlist_split("a.example, b.example c.example", &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "a.example");
    assert_string_equal(l.v[1], "b.example");
    assert_string_equal(l.v[2], "c.example");
    strlist_free(&l);
    assert_null(l.v);
    assert_int_equal(l.n, 0);
    strlist_free(&l); /* again: harmless */

    /* Runs of separators, tabs and newlines (a folded main.cf line), and
     * separators at both ends give no empty item. */
    assert_int_equal(strlist_split(" ,,\tone,\n\t two ,, ", &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "one");
    assert_string_equal(l.v[1], "two");
    strlist_free(&l);

    /* Nothing but separators, and the empty value: an empty list. */
    assert_int_equal(strlist_split(" , \t", &l, &err), 0);
    assert_int_equal(l.n, 0);
    strlist_free(&l);
    assert_int_equal(strlist_split("", &l, &err), 0);
    assert_int_equal(l.n, 0);
    strlist_free(&l);

    /* Items keep every other character as written (no case folding, no
     * quote handling: "=" and "@" are ordinary). */
    assert_int_equal(strlist_split("@Fwd.Example;x=\"y\"", &l, &err), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0], "@Fwd.Example;x=\"y\"");
    strlist_free(&l);
}

static void test_long_list(void **state)
{
    (void)state;
    /* Many items: the array grows by doubling; every item is kept in order. */
    enum { N = 1000 };
    static char value[N * 8];
    size_t o = 0;
    for (int i = 0; i < N; i++)
        o += (size_t)snprintf(value + o, sizeof(value) - o, "d%d,", i);
    struct fa_list l;
    fa_err err = {{0}};
    assert_int_equal(strlist_split(value, &l, &err), 0);
    assert_int_equal(l.n, N);
    assert_string_equal(l.v[0], "d0");
    assert_string_equal(l.v[N - 1], "d999");
    strlist_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_long_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
