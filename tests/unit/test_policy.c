/* Unit tests for policy: internal networks, originating mail, forwarded recipients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"

#include <string.h>

static void test_nets(void **state)
{
    (void)state;
    char *items[] = {"192.0.2.0/24", "10.1.2.3", "2001:db8::/32", "::1"};
    struct policy_nets nets;
    fa_err err;
    assert_int_equal(policy_nets_parse(items, 4, &nets, &err), 0);
    assert_true(policy_nets_match(&nets, "192.0.2.77"));
    assert_false(policy_nets_match(&nets, "192.0.3.1"));
    assert_true(policy_nets_match(&nets, "10.1.2.3"));
    assert_false(policy_nets_match(&nets, "10.1.2.4"));
    assert_true(policy_nets_match(&nets, "IPv6:2001:db8:1::5"));
    assert_true(policy_nets_match(&nets, "::ffff:192.0.2.1"));
    assert_true(policy_nets_match(&nets, "::1"));
    assert_false(policy_nets_match(&nets, "2001:db9::1"));
    assert_false(policy_nets_match(&nets, "not an address"));
    assert_false(policy_nets_match(&nets, NULL));
    char *odd[] = {"192.0.2.0/23"};
    assert_int_equal(policy_nets_parse(odd, 1, &nets, &err), 0);
    assert_true(policy_nets_match(&nets, "192.0.3.9"));
    char *bad[] = {"192.0.2.0/33"};
    assert_int_equal(policy_nets_parse(bad, 1, &nets, &err), -1);
    char *bad2[] = {"host.example"};
    assert_int_equal(policy_nets_parse(bad2, 1, &nets, &err), -1);
    assert_non_null(strstr(err.msg, "host.example"));
}

static void test_originating_and_forwarded(void **state)
{
    (void)state;
    struct fa_config cfg;
    fa_err err;
    config_init(&cfg);
    assert_int_equal(
        config_set(&cfg, "forward_recipients", "alias@example.net, @fwd.example", NULL, &err), 0);
    struct policy_nets nets;
    assert_int_equal(policy_nets_parse(cfg.internal_hosts.v, cfg.internal_hosts.n, &nets, &err), 0);
    assert_true(policy_originating(&nets, &cfg, "alice", "203.0.113.5", NULL));
    assert_true(policy_originating(&nets, &cfg, NULL, "127.0.0.1", NULL));
    assert_true(policy_originating(&nets, &cfg, "", "203.0.113.5", "ORIGINATING"));
    assert_false(policy_originating(&nets, &cfg, "", "203.0.113.5", "smtpd"));
    assert_true(policy_forwarded_rcpt(&cfg, "<Alias@Example.NET>"));
    assert_true(policy_forwarded_rcpt(&cfg, "anyone@fwd.example"));
    assert_false(policy_forwarded_rcpt(&cfg, "<other@example.net>"));
    assert_false(policy_forwarded_rcpt(&cfg, "<>"));
    assert_false(policy_forwarded_rcpt(&cfg, NULL));
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nets),
        cmocka_unit_test(test_originating_and_forwarded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
