/* Unit tests for pfcheck: Postfix check tables that change mail, and table lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pfcheck.h"

#include <string.h>

static int modifies(const char *text, unsigned *line)
{
    return pfcheck_table_modifies(text, strlen(text), line);
}

static void test_tables(void **state)
{
    (void)state;
    unsigned line = 0;
    /* regexp and pcre tables, the actions header_checks(5) lists. */
    assert_int_equal(modifies("/^Subject:/ REPLACE Subject: [fwd] ${1}\n", &line), 1);
    assert_int_equal(line, 1);
    assert_int_equal(modifies("# tag\n\n/^X-Spam: yes/ DISCARD\n"
                              "!/^Subject: \\/ok/i prepend X-Tag: yes\n",
                              &line),
                     1);
    assert_int_equal(line, 4);
    assert_int_equal(modifies("/^Subject:.*viagra/ REJECT no\n/^Received:/ IGNORE\n"
                              "/^X-Mailer: / WARN old\n",
                              &line),
                     0);
    /* The action is the first word after the pattern, not any word. */
    assert_int_equal(modifies("/REPLACE PREPEND/ REJECT with REPLACE in the text\n", &line), 0);
    /* A slash inside the pattern, escaped. */
    assert_int_equal(modifies("/^Subject: a\\/b/ REPLACE Subject: c\n", &line), 1);
    /* Continuation lines and if/endif blocks are not rules. */
    assert_int_equal(modifies("/^Subject:/ WARN x\n REPLACE continued text\n"
                              "if /^Subject:/\n/x/ DUNNO\nendif\n",
                              &line),
                     0);
    /* An indexed table's source text: key, then action. */
    assert_int_equal(modifies("oldsubject REPLACE Subject: y\n", &line), 1);
    assert_int_equal(modifies("", &line), 0);
    assert_int_equal(pfcheck_table_modifies("/x/ REPLACE", 3, &line), 0); /* cut before action */
}

static void test_lists(void **state)
{
    (void)state;
    const char *p = "regexp:/etc/postfix/header_checks, pcre:/etc/postfix/x.pcre\n"
                    "  inline:{ /a/=REPLACE }  hash:/etc/postfix/h proxy:mysql:/etc/m.cf";
    struct pfcheck_map m;
    assert_int_equal(pfcheck_next_map(&p, &m), 1);
    assert_string_equal(m.type, "regexp");
    assert_string_equal(m.path, "/etc/postfix/header_checks");
    assert_int_equal(pfcheck_next_map(&p, &m), 1);
    assert_string_equal(m.path, "/etc/postfix/x.pcre");
    assert_int_equal(pfcheck_next_map(&p, &m), 1);
    assert_string_equal(m.type, "inline");
    assert_string_equal(m.path, ""); /* no file of its own */
    while (pfcheck_next_map(&p, &m) == 1 && strcmp(m.type, "hash") != 0)
        ;
    assert_string_equal(m.path, "/etc/postfix/h");
    assert_int_equal(pfcheck_next_map(&p, &m), 1);
    assert_string_equal(m.type, "proxy");
    assert_string_equal(m.path, "");
    assert_int_equal(pfcheck_next_map(&p, &m), 0);
    const char *empty = "  ,\n";
    assert_int_equal(pfcheck_next_map(&empty, &m), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
