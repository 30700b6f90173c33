/* Unit tests for tags: RFC 6376 tag-lists, white space, offsets, refusals,
 * the strict reading, colon-separated lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tags.h"

#include <stdio.h>
#include <string.h>

static void test_parse(void **state)
{
    (void)state;
    const char *s = " v=1; a=rsa-sha256;\r\n\td=example.org ; b=ab cd\r\n ef ;h = From : To;";
    struct tag_list l;
    const char *why;
    assert_int_equal(tags_parse(s, strlen(s), &l, &why), 0);
    assert_int_equal(l.n, 5);
    assert_true(tags_value_is(tags_find(&l, "d"), "example.org"));
    const struct tag *b = tags_find(&l, "b");
    char out[16];
    assert_int_equal(tags_copy_nows(b, out, sizeof(out)), 6);
    assert_string_equal(out, "abcdef");
    /* The raw span of b= runs from after "=" to the ";". */
    assert_int_equal(s[b->value_off - 1], '=');
    assert_int_equal(s[b->value_end], ';');
    assert_true(tags_value_is(tags_find(&l, "h"), "From : To"));
    assert_null(tags_find(&l, "x"));
    assert_true(tags_value_is_nocase(tags_find(&l, "a"), "RSA-SHA256"));
}

static void test_empty_values_and_specs(void **state)
{
    (void)state;
    struct tag_list l;
    const char *why;
    assert_int_equal(tags_parse("p=; ;t=y;;", 10, &l, &why), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(tags_find(&l, "p")->value_len, 0);
    assert_int_equal(tags_parse("", 0, &l, &why), 0);
    assert_int_equal(l.n, 0);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {"v=1; v=1", "1v=x",       "novalue", "a=b c;=x",
                                      "a=\x01",   "a=\xc3\xa9", "a=b;c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tag_list l;
        const char *why = NULL;
        if (tags_parse(bad[i], strlen(bad[i]), &l, &why) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_non_null(why);
    }
    char many[TAGS_MAX * 8 + 16];
    size_t o = 0;
    for (int i = 0; i <= TAGS_MAX; i++)
        o += (size_t)snprintf(many + o, sizeof(many) - o, "t%d=x;", i);
    struct tag_list l;
    const char *why;
    assert_int_equal(tags_parse(many, o, &l, &why), -1);
}

/* The strict reading ARC uses: one trailing ";" only. */
static void test_strict(void **state)
{
    (void)state;
    struct tag_list l;
    const char *why;
    assert_int_equal(tags_parse_strict("a=1; b=2;", 9, &l, &why), 0);
    assert_int_equal(l.n, 2);
    static const char *const empty[] = {"a=1;; b=2", ";a=1", " ; a=1", "a=1;\r\n ;"};
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        why = NULL;
        if (tags_parse_strict(empty[i], strlen(empty[i]), &l, &why) != -1)
            fail_msg("accepted \"%s\"", empty[i]);
        assert_string_equal(why, "empty tag-spec");
        assert_int_equal(tags_parse(empty[i], strlen(empty[i]), &l, &why), 0);
    }
    assert_int_equal(tags_parse_strict("a=1; a=2", 8, &l, &why), -1);
    assert_string_equal(why, "duplicate tag");
}

/* Colon-separated lists inside values (h=, a key record's h= s= t=). */
static void test_list_has(void **state)
{
    (void)state;
    assert_true(tags_list_has("from:to", 7, "from"));
    assert_true(tags_list_has(" From \r\n\t: to", 14, "from"));
    assert_true(tags_list_has("to:FROM", 7, "from"));
    assert_true(tags_list_has("y:s", 3, "s"));
    assert_false(tags_list_has("from-x:to", 9, "from"));
    assert_false(tags_list_has("to:subject", 10, "from"));
    assert_false(tags_list_has("", 0, "from"));
    assert_true(tags_list_has("", 0, "")); /* one empty item */
    assert_true(tags_list_has("a::b", 4, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),    cmocka_unit_test(test_empty_values_and_specs),
        cmocka_unit_test(test_refused),  cmocka_unit_test(test_strict),
        cmocka_unit_test(test_list_has),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
