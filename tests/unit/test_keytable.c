/* Unit tests for keytable: OpenDKIM's formats, lookup order, "%" and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "keytable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64], keypath[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/fwdauth-kt-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(keypath, sizeof(keypath), "%s/k.pem", dir);
    fa_err err;
    struct fa_key *k = key_generate(KEY_ED25519, 0, &err);
    if (!k || key_write_private(k, keypath, &err) < 0)
        return -1;
    key_free(k);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct keytable *load(const char *st, int regex, fa_err *err)
{
    char kt[512];
    snprintf(
        kt, sizeof(kt),
        "# comment\nk1 example.org:s1:%s\nk2 %%:s2:%s  # any domain\nk3 sub.example.org:s3:%s\n",
        keypath, keypath, keypath);
    return keytable_parse("KeyTable", kt, strlen(kt), "SigningTable", st, strlen(st), regex,
                          geteuid(), err);
}

static void test_regex_table(void **state)
{
    (void)state;
    fa_err err;
    struct keytable *kt = load("*@example.org k1 @example.org\n*@*.example.org k3\n"
                               "*@* k2 %\n",
                               1, &err);
    assert_non_null(kt);
    struct keytable_match m;
    assert_true(keytable_find(kt, "alice", "Example.ORG", &m));
    assert_string_equal(m.domain, "example.org");
    assert_string_equal(m.selector, "s1");
    assert_string_equal(m.identity, "@example.org");
    assert_non_null(m.key);
    assert_true(keytable_find(kt, "bob", "a.example.org", &m));
    assert_string_equal(m.selector, "s3");
    /* "%" is the sender's domain, in the key domain and the signer. */
    assert_true(keytable_find(kt, "carol", "other.example", &m));
    assert_string_equal(m.domain, "other.example");
    assert_string_equal(m.identity, "other.example");
    assert_true(keytable_find_name(kt, "k3", "ignored.example", &m));
    assert_string_equal(m.domain, "sub.example.org");
    assert_string_equal(m.identity, "");
    assert_true(keytable_find_name(kt, "k2", "fwd.example", &m));
    assert_string_equal(m.domain, "fwd.example");
    assert_false(keytable_find_name(kt, "k9", "x", &m));
    keytable_free(kt);
}

static void test_plain_table_order(void **state)
{
    (void)state;
    fa_err err;
    struct keytable *kt =
        load("alice@example.org k3\nexample.org k1\nbob@.org k2\n.org k3\n", 0, &err);
    assert_non_null(kt);
    struct keytable_match m;
    assert_true(keytable_find(kt, "alice", "example.org", &m)); /* full address first */
    assert_string_equal(m.selector, "s3");
    assert_true(keytable_find(kt, "zed", "example.org", &m)); /* then host */
    assert_string_equal(m.selector, "s1");
    assert_true(keytable_find(kt, "bob", "x.example.org", &m)); /* user@.parent */
    assert_string_equal(m.selector, "s2");
    assert_true(keytable_find(kt, "zed", "x.example.org", &m)); /* .parent */
    assert_string_equal(m.selector, "s3");
    assert_false(keytable_find(kt, "zed", "example.net", &m));
    keytable_free(kt);
}

static void test_errors(void **state)
{
    (void)state;
    fa_err err;
    assert_null(load("*@x nosuchkey\n", 1, &err));
    assert_non_null(strstr(err.msg, "SigningTable:1: key \"nosuchkey\" is not in the KeyTable"));
    const char *bad_kt = "k1 example.org:s1\n";
    assert_null(keytable_parse("KT", bad_kt, strlen(bad_kt), "ST", "", 0, 1, geteuid(), &err));
    assert_non_null(strstr(err.msg, "KT:1:"));
    const char *missing = "k1 example.org:s1:/nonexistent/key.pem\n";
    assert_null(keytable_parse("KT", missing, strlen(missing), "ST", "", 0, 1, geteuid(), &err));
    assert_non_null(strstr(err.msg, "/nonexistent/key.pem"));
    const char *inline_key = "k1 example.org:s1:MIIEvQIBADANBg\n";
    assert_null(
        keytable_parse("KT", inline_key, strlen(inline_key), "ST", "", 0, 1, geteuid(), &err));
}

/* A loader (keys.h) gets each key file's path once, however many entries
 * name it, and its error names the KeyTable line. */
struct counting {
    int calls;
    char last[256];
    int fail;
};

static struct fa_key *count_load(void *arg, const char *path, fa_err *err)
{
    struct counting *c = arg;
    c->calls++;
    snprintf(c->last, sizeof(c->last), "%s", path);
    if (c->fail) {
        fa_err_set(err, "not for you");
        return NULL;
    }
    return key_generate(KEY_ED25519, 0, err);
}

static void test_loader(void **state)
{
    (void)state;
    char kt[512];
    snprintf(kt, sizeof(kt), "k1 example.org:s1:%s\nk2 %%:s2:%s\nk3 x.example:s3:/elsewhere.pem\n",
             keypath, keypath);
    const char *st = "*@example.org k1\n";
    struct counting c = {0, "", 0};
    struct key_loader ld = {count_load, &c};
    fa_err err;
    struct keytable *t =
        keytable_parse_with("KT", kt, strlen(kt), "ST", st, strlen(st), 1, &ld, &err);
    assert_non_null(t);
    assert_int_equal(c.calls, 2);
    assert_string_equal(c.last, "/elsewhere.pem");
    struct keytable_match m;
    assert_true(keytable_find(t, "a", "example.org", &m));
    assert_int_equal(key_type(m.key), KEY_ED25519);
    keytable_free(t);
    c.fail = 1;
    assert_null(keytable_parse_with("KT", kt, strlen(kt), "ST", st, strlen(st), 1, &ld, &err));
    assert_string_equal(err.msg, "KT:1: not for you");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_table),
        cmocka_unit_test(test_plain_table_order),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_loader),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
