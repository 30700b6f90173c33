/* Unit tests for listenaddr: Postfix listener address syntax (inet, inet
 * with IPv6 brackets, inet:PORT, unix), refusals with a reason, format and
 * parse round trips, the output bound, ports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "listenaddr.h"

#include <string.h>

static int parse(const char *s, struct listen_addr *a, fa_err *err)
{
    return listen_parse(s, strlen(s), a, err);
}

static void test_good(void **state)
{
    (void)state;
    struct listen_addr a;
    fa_err err;
    assert_int_equal(parse("inet:127.0.0.1:10001", &a, &err), 0);
    assert_int_equal(a.kind, LISTEN_INET);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 10001);
    assert_int_equal(parse("inet:[::1]:25", &a, &err), 0);
    assert_int_equal(a.kind, LISTEN_INET);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 25);
    assert_int_equal(parse("inet:localhost:65535", &a, &err), 0);
    assert_string_equal(a.host, "localhost");
    assert_int_equal(parse("inet:10002", &a, &err), 0);
    assert_int_equal(a.kind, LISTEN_INET_ANY);
    assert_int_equal(a.port, 10002);
    assert_int_equal(parse("unix:/run/fwdauth/srs.sock", &a, &err), 0);
    assert_int_equal(a.kind, LISTEN_UNIX);
    assert_string_equal(a.path, "/run/fwdauth/srs.sock");
}

static void test_bad(void **state)
{
    (void)state;
    struct listen_addr a;
    fa_err err;
    const char *bad[] = {
        "",
        "inet:",
        "inet:127.0.0.1:",
        "inet:127.0.0.1:0",
        "inet:127.0.0.1:65536",
        "inet:127.0.0.1:123456",
        "inet:127.0.0.1:01",
        "inet:127.0.0.1:port",
        "inet::1:25",
        "inet:[::1]25",
        "inet:[]:25",
        "inet:[::1",
        "inet::25",
        "inet:host name:25",
        "inet:h\x01:25",
        "tcp:127.0.0.1:25",
        "127.0.0.1:25",
        "unix:",
        "unix:relative/path",
        "unix:/has space",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        assert_int_equal(parse(bad[i], &a, &err), -1);
        assert_true(err.msg[0] != '\0');
    }
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'a', 150);
    longpath[156] = '\0';
    assert_int_equal(parse(longpath, &a, &err), -1);
    assert_non_null(strstr(err.msg, "longer"));
}

static void test_format_round_trip(void **state)
{
    (void)state;
    const char *in[] = {"inet:127.0.0.1:10001", "inet:[::1]:25", "inet:10002", "unix:/tmp/x.sock",
                        "inet:mail.example.org:587"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        struct listen_addr a, b;
        fa_err err;
        char out[400];
        assert_int_equal(parse(in[i], &a, &err), 0);
        assert_true(listen_format(&a, out, sizeof(out)) > 0);
        assert_string_equal(out, in[i]);
        assert_int_equal(parse(out, &b, &err), 0);
        assert_memory_equal(&a, &b, sizeof(a));
    }
}

static void test_parse_port(void **state)
{
    (void)state;
    unsigned p = 0;
    assert_int_equal(listen_parse_port("1", 1, &p), 0);
    assert_int_equal(p, 1);
    assert_int_equal(listen_parse_port("65535", 5, &p), 0);
    assert_int_equal(p, 65535);
    assert_int_equal(listen_parse_port("65536", 5, &p), -1);
    assert_int_equal(listen_parse_port("0", 1, &p), -1);
    assert_int_equal(listen_parse_port("053", 3, &p), -1);
    assert_int_equal(listen_parse_port("", 0, &p), -1);
    assert_int_equal(listen_parse_port("5x", 2, &p), -1);
}

static void test_bounds(void **state)
{
    (void)state;
    struct listen_addr a;
    fa_err err;
    /* A host of LISTEN_HOST_MAX octets is taken, one more is refused. */
    char host[LISTEN_HOST_MAX + 32];
    memcpy(host, "inet:", 5);
    memset(host + 5, 'h', LISTEN_HOST_MAX);
    memcpy(host + 5 + LISTEN_HOST_MAX, ":25", 4);
    assert_int_equal(parse(host, &a, &err), 0);
    memset(host + 5, 'h', LISTEN_HOST_MAX + 1);
    memcpy(host + 5 + LISTEN_HOST_MAX + 1, ":25", 4);
    assert_int_equal(parse(host, &a, &err), -1);
    /* listen_format: -1 when out is too small, the length otherwise. */
    assert_int_equal(parse("inet:127.0.0.1:10001", &a, &err), 0);
    char out[LISTEN_TEXT_MAX];
    assert_int_equal(listen_format(&a, out, sizeof(out)), 20);
    assert_int_equal(listen_format(&a, out, 20), -1);
    assert_int_equal(listen_format(&a, out, 21), 20);
    assert_string_equal(out, "inet:127.0.0.1:10001");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_parse_port),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
