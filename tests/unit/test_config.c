/* Unit tests for config: Postfix-style syntax, types, limits, FILE:LINE errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"

#include <string.h>

static int load(struct fa_config *cfg, const char *text, fa_err *err)
{
    config_init(cfg);
    return config_load_buf(cfg, "t.conf", text, strlen(text), err);
}

static void test_defaults(void **state)
{
    (void)state;
    struct fa_config c;
    config_init(&c);
    assert_int_equal(c.srs_hash_length, 4);
    assert_int_equal(c.srs_max_age, 21);
    assert_int_equal(c.srs_separator, '=');
    assert_int_equal(c.srs_hash_alphabet, FA_SRS_BASE64URL);
    assert_string_equal(c.user, "nobody");
    assert_int_equal(c.log_level, FA_LOG_INFO);
    assert_int_equal(c.local_domains.n, 0);
    config_free(&c);
}

static void test_syntax(void **state)
{
    (void)state;
    struct fa_config c;
    fa_err err;
    const char *text = "# comment\n"
                       "\n"
                       "srs_domain=srs.example.net\n"
                       "   # indented comment\n"
                       "local_domains = example.net,\n"
                       "    .example.org   example.com\n"
                       "srs_hash_alphabet = BASE64\n"
                       "srs_separator = +\n"
                       "log_level = debug   \r\n"
                       "srs_max_age = 7\n"
                       "srs_max_age = 10\n"; /* later wins, as in Postfix */
    assert_int_equal(load(&c, text, &err), 0);
    assert_string_equal(c.srs_domain, "srs.example.net");
    assert_int_equal(c.local_domains.n, 3);
    assert_string_equal(c.local_domains.v[0], "example.net");
    assert_string_equal(c.local_domains.v[1], ".example.org");
    assert_string_equal(c.local_domains.v[2], "example.com");
    assert_int_equal(c.srs_hash_alphabet, FA_SRS_BASE64);
    assert_int_equal(c.srs_separator, '+');
    assert_int_equal(c.log_level, FA_LOG_DEBUG);
    assert_int_equal(c.srs_max_age, 10);
    config_free(&c);
}

static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    struct {
        const char *text, *expect;
    } cases[] = {
        {"srs_domain = a\nbogus = 1\n", "t.conf:2: unknown parameter \"bogus\""},
        {"\n\nno equals sign\n", "t.conf:3: missing \"=\""},
        {"  srs_domain = x\n", "t.conf:1: continuation line without a parameter"},
        {"srs_hash_length = 0\n", "t.conf:1: srs_hash_length = \"0\": expected a whole number"},
        {"srs_hash_length = 4x\n", "t.conf:1: srs_hash_length"},
        {"srs_max_age = 99999999999999999999\n", "t.conf:1: srs_max_age"},
        {"srs_separator = /\n", "t.conf:1: srs_separator = \"/\": expected one of =, +, -"},
        {"log_level = loud\n", "expected one of error, warning, info, debug"},
        {" = x\n", "continuation line"},
        {"= x\n", "t.conf:1: missing parameter name"},
        {"srs domain = x\n", "t.conf:1: bad parameter name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fa_config c;
        fa_err err = {{0}};
        assert_int_equal(load(&c, cases[i].text, &err), -1);
        if (!strstr(err.msg, cases[i].expect))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].expect);
        config_free(&c);
    }
}

static void test_check_srs(void **state)
{
    (void)state;
    struct fa_config c;
    fa_err err;
    config_init(&c);
    assert_int_equal(config_check_srs(&c, &err), -1);
    assert_non_null(strstr(err.msg, "srs_domain"));
    config_set(&c, "srs_domain", "srs.example", NULL, &err);
    assert_int_equal(config_check_srs(&c, &err), -1);
    assert_non_null(strstr(err.msg, "srs_secrets"));
    config_set(&c, "srs_secrets", "/x", NULL, &err);
    assert_int_equal(config_check_srs(&c, &err), 0);
    config_set(&c, "srs_hash_minimum", "5", NULL, &err);
    assert_int_equal(config_check_srs(&c, &err), -1);
    config_set(&c, "srs_domain", "user@srs.example", NULL, &err);
    config_set(&c, "srs_hash_minimum", "0", NULL, &err);
    assert_int_equal(config_check_srs(&c, &err), -1);
    config_free(&c);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct fa_config c;
    fa_err err;
    config_init(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/fwdauthd.conf", &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/fwdauthd.conf"));
    assert_int_equal(config_load_file(&c, "/", &err), -1);
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_check_srs),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
