/* Unit tests for config: Postfix-style syntax, every value type and its
 * errors (FILE:LINE, key, what was expected), the no-trailing-comments rule,
 * where each key was set, loading past bad lines, and the postconf-style
 * dump's round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    assert_int_equal(load(&c, "log_level = info\n", &err), 0);
    assert_int_equal(config_check_srs(&c, &err), -1);
    /* left at its default: the error names the file */
    assert_string_equal(err.msg, "t.conf: srs_domain is not set");
    config_set(&c, "srs_domain", "srs.example", "t.conf:7", &err);
    assert_int_equal(config_check_srs(&c, &err), -1);
    assert_non_null(strstr(err.msg, "t.conf: srs_secrets is not set"));
    config_set(&c, "srs_secrets", "/x", NULL, &err);
    assert_int_equal(config_check_srs(&c, &err), 0);
    config_set(&c, "srs_hash_minimum", "5", "t.conf:9", &err);
    assert_int_equal(config_check_srs(&c, &err), -1);
    assert_non_null(strstr(err.msg, "t.conf:9: srs_hash_minimum (5) exceeds srs_hash_length (4, "
                                    "default)"));
    /* an address is no SRS domain: refused when set, the old value stays */
    config_set(&c, "srs_hash_minimum", "0", NULL, &err);
    assert_int_equal(config_set(&c, "srs_domain", "user@srs.example", "t.conf:3", &err), -1);
    assert_non_null(strstr(err.msg, "t.conf:3: srs_domain = \"user@srs.example\": expected a "
                                    "domain name"));
    assert_string_equal(c.srs_domain, "srs.example");
    assert_string_equal(config_where(&c, "srs_domain"), "t.conf:7");
    config_free(&c);
}

/* One setting per case: its line must be refused with FILE:LINE, the key
 * and the expectation; the good ones load. */
struct typed_case {
    const char *key, *value, *expect; /* expect NULL: accepted */
};

static const struct typed_case typed[] = {
    /* domain names */
    {"srs_domain", "srs.example.net", NULL},
    {"srs_domain", "x-1.Example.NET", NULL},
    {"srs_domain", "localhost", NULL},
    {"srs_domain", "", NULL}, /* empty = unset */
    {"srs_domain", "srs.example.net.", "expected a domain name"},
    {"srs_domain", "-a.example", "expected a domain name"},
    {"srs_domain", "a-.example", "expected a domain name"},
    {"srs_domain", "a..example", "expected a domain name"},
    {"srs_domain", "a_b.example", "expected a domain name"},
    {"srs_domain", "a@b.example", "expected a domain name"},
    {"srs_domain", "b\xc3\xa9.example", "expected a domain name"},
    {"srs_domain", "a b.example", "expected a domain name"},
    {"arc_domain", "example.net", NULL},
    {"arc_domain", "example.net;", "expected a domain name"},
    {"local_domains", "example.net, .example.net, example.org.", NULL},
    {"local_domains", "example.net, ..example.net",
     "local_domains: entry \"..example.net\": "
     "expected a domain name, or .domain"},
    {"local_domains", "example.net, @example.org", "entry \"@example.org\""},
    /* authserv-ids (RFC 8601), compared as domain names */
    {"authserv_id", "mx.example.net", NULL},
    {"authserv_id", "mx.example.net;", "expected an authserv-id (RFC 8601)"},
    {"authserv_id", "\"mx.example.net\"", "expected an authserv-id"},
    {"authserv_id", "mx.example.net.", "expected an authserv-id"},
    {"trusted_authserv_ids", "gw.example.net, GW2.example.net.", NULL},
    {"trusted_authserv_ids", "gw.example.net; x",
     "entry \"gw.example.net;\": expected an "
     "authserv-id"},
    {"trusted_authserv_ids", "gw.example.net, (comment)", "entry \"(comment)\""},
    /* addresses */
    {"from_rewrite_address", "forwarder@example.net", NULL},
    {"from_rewrite_address", "a.b+c@example.net", NULL},
    {"from_rewrite_address", "example.net", "expected a plain address local@domain"},
    {"from_rewrite_address", "\"a b\"@example.net", "expected a plain address"},
    {"from_rewrite_address", "a..b@example.net", "expected a plain address"},
    {"from_rewrite_address", "<a@example.net>", "expected a plain address"},
    {"from_rewrite_address", "a@example.net.", "expected a plain address"},
    {"forward_recipients", "alias@example.net, @fwd.example.org, Team@Example.NET", NULL},
    {"forward_recipients", "alias@example.net, example.org",
     "entry \"example.org\": expected "
     "local@domain or @domain"},
    {"forward_recipients", "@", "entry \"@\""},
    {"forward_recipients", "a@b@example.net", "entry \"a@b@example.net\""},
    /* networks: nets_parse */
    {"internal_hosts", "127.0.0.0/8, ::1, 192.0.2.1, 2001:db8::/32, [::2]", NULL},
    {"internal_hosts", "", NULL},
    {"internal_hosts", "10.0.0.0/33",
     "internal_hosts: bad prefix length in \"10.0.0.0/33\"; "
     "expected IPv4 or IPv6 addresses or networks"},
    {"internal_hosts", "10.0.0.0/", "bad prefix length"},
    {"internal_hosts", "mail.example.net",
     "internal_hosts: \"mail.example.net\" is not an "
     "address or network"},
    {"internal_hosts", "2001:db8::/129", "bad prefix length"},
    /* file paths */
    {"srs_secrets", "/etc/fwdauth/srs-secrets", NULL},
    {"srs_secrets", "/etc/fwdauth/a#b", NULL}, /* "#" inside a word is a character */
    {"srs_secrets", "srs-secrets", "srs_secrets = \"srs-secrets\": expected an absolute path"},
    {"arc_key", "./arc.private", "expected an absolute path"},
    {"dns_zone_file", "zone.txt", "expected an absolute path"},
    {"chroot", "/var/lib/fwdauth", NULL},
    {"chroot", "var/lib", "expected an absolute path"},
    {"dkim_key_table", "/etc/fwdauth/KeyTable", NULL},
    {"dkim_key_table", "file:/etc/fwdauth/KeyTable", NULL},
    {"dkim_key_table", "refile:/etc/fwdauth/KeyTable", "expected an absolute path, or file:"},
    {"dkim_signing_table", "refile:/etc/fwdauth/SigningTable", NULL},
    {"dkim_signing_table", "file:/etc/fwdauth/SigningTable", NULL},
    {"dkim_signing_table", "/etc/fwdauth/SigningTable", NULL},
    {"dkim_signing_table", "refile:SigningTable",
     "expected an absolute path, file:/path or "
     "refile:/path"},
    /* listen addresses: listen_parse */
    {"socketmap_listen", "unix:/var/spool/postfix/srs", NULL},
    {"tcp_forward_listen", "inet:127.0.0.1:10001", NULL},
    {"tcp_reverse_listen", "inet:[::1]:10002", NULL},
    {"milter_listen", "inet:8891", NULL},
    {"milter_listen", "inet:localhost:8891", NULL},
    {"milter_listen", "tcp:127.0.0.1:8891",
     "milter_listen = \"tcp:127.0.0.1:8891\": expected "
     "inet:HOST:PORT"},
    {"milter_listen", "127.0.0.1:8891", "expected inet:HOST:PORT"},
    {"tcp_forward_listen", "inet:127.0.0.1:0", "expected inet:HOST:PORT"},
    {"socketmap_listen", "unix:srs", "expected inet:HOST:PORT"},
    {"metrics_listen", "inet:127.0.0.1:9478", NULL},
    {"metrics_listen", "unix:/run/m.sock", "Prometheus scrapes over TCP"},
    /* dns_server: as dns.c passes it to libunbound */
    {"dns_server", "127.0.0.1", NULL},
    {"dns_server", "127.0.0.1@5353, ::1 2001:db8::53@53", NULL},
    {"dns_server", "resolver.example.net", "expected numeric resolver addresses"},
    {"dns_server", "127.0.0.1@0", "expected numeric resolver addresses"},
    {"dns_server", "127.0.0.1@", "expected numeric resolver addresses"},
    {"dns_server", "[::1]", "expected numeric resolver addresses"},
    {"dns_server", ",", "expected numeric resolver addresses"},
    /* user */
    {"user", "fwdauth", NULL},
    {"user", "_fwd-auth.1", NULL},
    {"user", "", "user = \"\": expected a user name"},
    {"user", "-x", "expected a user name"},
    {"user", "a:b", "expected a user name"},
    {"user", "abcdefghijklmnopqrstuvwxyz0123456", "expected a user name"},
    /* DKIM selector, KeyTable name, daemon names */
    {"arc_selector", "arc2026", NULL},
    {"arc_selector", "arc.2026", NULL},
    {"arc_selector", "arc_2026", "arc_selector = \"arc_2026\": expected a DKIM selector"},
    {"arc_selector", "a;b", "expected a DKIM selector"},
    {"forward_signing_key", "forwarder", NULL},
    {"forward_signing_key", "fwd:key.1", NULL},
    {"forward_signing_key", "a\x01", "expected a KeyTable name"},
    {"forward_signing_key", "a b", "expected a KeyTable name"},
    {"originating_daemon_names", "ORIGINATING, submission/inet", NULL},
    {"originating_daemon_names", "ORIG\x7f", "entry \"ORIG?\": expected printable ASCII"},
    /* numbers, booleans, choices */
    {"dns_timeout", "60", NULL},
    {"dns_timeout", "61", "dns_timeout = \"61\": expected a whole number from 1 to 60"},
    {"dns_timeout", "-1", "expected a whole number"},
    {"dns_timeout", "+1", "expected a whole number"},
    {"dns_timeout", "", "expected a whole number"},
    {"milter_dns_budget", "1", NULL},
    {"milter_dns_budget", "0", "milter_dns_budget = \"0\": expected a whole number from 1 to 3600"},
    {"srs_forwarded_mail", "NO", NULL},
    {"srs_forwarded_mail", "true", "srs_forwarded_mail = \"true\": expected one of no, yes"},
    {"dmarc_enforce", "reject", NULL},
    {"dmarc_enforce", "enforce", "expected one of off, tag, quarantine, reject"},
    {"forward_dmarc_failure", "hold", NULL},
    {"forward_dmarc_failure", "tempfail", "expected one of reject, hold"},
    {"forward_dmarc_policies", "reject", NULL},
    {"forward_dmarc_policies", "quarantine", "expected one of reject, reject-and-quarantine"},
    {"from_unreadable", "accept-unsigned", NULL},
    {"from_unreadable", "accept", "expected one of reject, tempfail, accept-unsigned"},
    {"dmarc_mode", "rfc9989", NULL},
    {"dmarc_mode", "dmarcbis", "expected one of rfc7489, rfc9989"},
};

static void test_every_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
        const struct typed_case *t = &typed[i];
        char text[512];
        /* on line 3, after a comment and a good setting */
        snprintf(text, sizeof(text), "# x\nlog_level = info\n%s = %s\n", t->key, t->value);
        struct fa_config c;
        fa_err err = {{0}};
        int rc = load(&c, text, &err);
        if (!t->expect) {
            if (rc != 0)
                fail_msg("case %zu (%s = %s): refused: %s", i, t->key, t->value, err.msg);
            char where[32];
            snprintf(where, sizeof(where), "t.conf:3");
            assert_string_equal(config_where(&c, t->key), where);
        } else {
            char head[128];
            snprintf(head, sizeof(head), "t.conf:3: %s", t->key);
            if (rc != -1 || strncmp(err.msg, head, strlen(head)) != 0 ||
                !strstr(err.msg, t->expect))
                fail_msg("case %zu (%s = %s): rc %d, \"%s\" lacks \"%s\" or \"%s\"", i, t->key,
                         t->value, rc, err.msg, head, t->expect);
            /* a refused line changes nothing */
            assert_string_equal(config_where(&c, t->key), "default");
        }
        config_free(&c);
    }
}

static void test_trailing_comments(void **state)
{
    (void)state;
    /* The README lines of issue 10, and one of each kind. */
    const char *lines[] = {
        "trusted_authserv_ids = gw.example.net # upstream Authentication-Results we believe",
        "authserv_id = mx.example.net # our name",
        "forward_recipients = @alias.example.net   # mail to these is forwarded",
        "arc_domain = example.net\t# sealing domain",
        "from_rewrite_address = forwarder@example.net # ours",
        "srs_forwarded_mail = yes   # SRS",
        "dmarc_enforce = reject # enforce",
        "milter_timeout = 300 # seconds",
        "milter_listen = inet:127.0.0.1:8891 # the milter",
        "srs_secrets = /etc/fwdauth/srs-secrets #secrets",
        "internal_hosts = 127.0.0.0/8 #ours",
        "srs_domain = #srs.example.net",
        "srs_domain = #",
        "dns_server = 127.0.0.1 # local unbound",
        "originating_daemon_names = ORIGINATING,#submission",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "log_level = info\n\n%s\n", lines[i]);
        struct fa_config c;
        fa_err err = {{0}};
        assert_int_equal(load(&c, text, &err), -1);
        if (strncmp(err.msg, "t.conf:3: ", 10) != 0 ||
            !strstr(err.msg, "trailing comments are not allowed in fwdauthd.conf") ||
            !strstr(err.msg, "put the comment on its own line above"))
            fail_msg("line %zu: \"%s\"", i, err.msg);
        config_free(&c);
    }
    /* in a continuation line: the logical line's first line is named */
    struct fa_config c;
    fa_err err = {{0}};
    assert_int_equal(load(&c, "local_domains = example.net,\n    example.org # ours\n", &err), -1);
    assert_non_null(strstr(err.msg, "t.conf:1: local_domains: trailing comments"));
    config_free(&c);
    /* comment lines, indented or not, stay comments */
    assert_int_equal(
        load(&c, "# a\n  # b\nlocal_domains = example.net,\n   # c\n    example.org\n", &err), 0);
    assert_int_equal(c.local_domains.n, 2);
    config_free(&c);
    /* from the command line too */
    config_init(&c);
    assert_int_equal(config_set(&c, "srs_domain", "x.example #", "command line", &err), -1);
    assert_non_null(strstr(err.msg, "command line: srs_domain: trailing comments"));
    config_free(&c);
}

static void test_where(void **state)
{
    (void)state;
    struct fa_config c;
    fa_err err = {{0}};
    const char *text = "srs_domain = a.example\n"
                       "\n"
                       "local_domains = example.net,\n"
                       "   example.org\n"
                       "srs_domain = b.example\n";
    assert_int_equal(load(&c, text, &err), 0);
    assert_string_equal(config_where(&c, "srs_domain"), "t.conf:5"); /* the last one wins */
    assert_string_equal(config_where(&c, "local_domains"), "t.conf:3");
    assert_string_equal(config_where(&c, "arc_key"), "default");
    assert_string_equal(config_where(&c, "no_such_key"), "unknown parameter");
    assert_int_equal(config_fail(&c, "local_domains", &err, "x %d", 1), -1);
    assert_string_equal(err.msg, "t.conf:3: x 1");
    assert_int_equal(config_fail(&c, "arc_key", &err, "y"), -1);
    assert_string_equal(err.msg, "t.conf: y"); /* default: the file */
    assert_int_equal(config_set(&c, "srs_domain", "c.example", "command line", &err), 0);
    assert_string_equal(config_where(&c, "srs_domain"), "command line");
    config_free(&c);
    /* no file: no prefix */
    config_init(&c);
    assert_string_equal(config_where(&c, "user"), "default");
    config_fail(&c, "user", &err, "z");
    assert_string_equal(err.msg, "z");
    config_free(&c);
}

static int nreports;
static char first_report[FA_ERR_MAX];
static void count_report(void *ctx, const char *msg)
{
    (void)ctx;
    if (nreports++ == 0)
        snprintf(first_report, sizeof(first_report), "%s", msg);
}

static void test_load_each_reports_every_line(void **state)
{
    (void)state;
    char path[] = "/tmp/fwdauth-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "authserv_id = mx.example.net # our name\n" /* 1 */
                       "srs_domain = srs.example.net\n"
                       "bogus = 1\n"        /* 3 */
                       "no equals sign\n"   /* 4 */
                       "dns_timeout = 99\n" /* 5 */
                       "   continued = x\n" /* joined to line 5 */
                       "arc_domain = example.net\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct fa_config c;
    fa_err err = {{0}};
    config_init(&c);
    nreports = 0;
    assert_int_equal(config_load_file_each(&c, path, count_report, NULL, &err), -1);
    assert_int_equal(nreports, 4);
    assert_string_equal(first_report, err.msg);
    char head[64];
    snprintf(head, sizeof(head), "%s:1: authserv_id: trailing comments", path);
    assert_non_null(strstr(err.msg, head));
    /* the good lines were taken */
    assert_string_equal(c.srs_domain, "srs.example.net");
    assert_string_equal(c.arc_domain, "example.net");
    config_free(&c);
    /* config_load_file stops at the first */
    config_init(&c);
    assert_int_equal(config_load_file(&c, path, &err), -1);
    assert_string_equal(c.srs_domain, "");
    config_free(&c);
    unlink(path);
    /* an unreadable file is one problem, reported */
    config_init(&c);
    nreports = 0;
    assert_int_equal(config_load_file_each(&c, "/nonexistent/x.conf", count_report, NULL, &err),
                     -1);
    assert_int_equal(nreports, 1);
    config_free(&c);
}

/* Dump, load the dump, dump again: the same text and the same settings. */
static void round_trip(const struct fa_config *c, int all)
{
    char *text = config_dump(c, all);
    assert_non_null(text);
    struct fa_config d;
    fa_err err = {{0}};
    if (load(&d, text, &err) != 0)
        fail_msg("the dump does not load: %s\n%s", err.msg, text);
    char *again = config_dump(&d, all);
    assert_non_null(again);
    assert_string_equal(text, again);
    char *full1 = config_dump(c, 1), *full2 = config_dump(&d, 1);
    assert_string_equal(full1, full2);
    free(full1);
    free(full2);
    free(again);
    free(text);
    config_free(&d);
}

static void test_dump(void **state)
{
    (void)state;
    struct fa_config c;
    fa_err err = {{0}};
    config_init(&c);
    char *n = config_dump(&c, 0);
    assert_string_equal(n, ""); /* nothing differs */
    free(n);
    char *a = config_dump(&c, 1);
    assert_non_null(strstr(a, "srs_domain =\n"));
    assert_non_null(strstr(a, "\nsrs_hash_length = 4\n"));
    assert_non_null(strstr(a, "\ninternal_hosts = 127.0.0.0/8, ::1\n"));
    assert_non_null(strstr(a, "\nsrs_forwarded_mail = yes\n"));
    assert_non_null(strstr(a, "\nforward_dmarc_policies = reject-and-quarantine\n"));
    assert_non_null(strstr(a, "\ndmarc_mode = rfc7489\n"));
    int lines = 0;
    for (const char *p = a; *p; p++)
        lines += *p == '\n';
    assert_true(lines >= 42); /* every key, one line each (42 when this was written) */
    free(a);
    round_trip(&c, 1);
    config_free(&c); /* load() starts from config_init */

    const char *text = "srs_domain = srs.example.net\n"
                       "srs_secrets = /etc/fwdauth/srs-secrets\n"
                       "local_domains = example.net .example.net,example.org\n"
                       "srs_separator = +\n"
                       "srs_hash_alphabet = BASE64\n"
                       "log_level = info\n" /* the default: not in -n */
                       "milter_listen = inet:[::1]:8891\n"
                       "srs_forwarded_mail = NO\n"
                       "dns_server = 127.0.0.1@5353 ::1\n"
                       "trusted_authserv_ids = gw.example.net\n"
                       "internal_hosts = 10.0.0.0/8\n";
    assert_int_equal(load(&c, text, &err), 0);
    n = config_dump(&c, 0);
    assert_string_equal(n, "srs_domain = srs.example.net\n"
                           "srs_secrets = /etc/fwdauth/srs-secrets\n"
                           "local_domains = example.net, .example.net, example.org\n"
                           "srs_separator = +\n"
                           "srs_hash_alphabet = base64\n"
                           "milter_listen = inet:[::1]:8891\n"
                           "internal_hosts = 10.0.0.0/8\n"
                           "srs_forwarded_mail = no\n"
                           "trusted_authserv_ids = gw.example.net\n"
                           "dns_server = 127.0.0.1@5353 ::1\n");
    free(n);
    round_trip(&c, 0);
    round_trip(&c, 1);
    /* set back to the default: not in -n */
    assert_int_equal(config_set(&c, "srs_forwarded_mail", "yes", "x", &err), 0);
    n = config_dump(&c, 0);
    assert_null(strstr(n, "srs_forwarded_mail"));
    free(n);
    config_free(&c);

    /* A long list is folded on continuation lines, as postconf does. */
    config_init(&c);
    char list[4096] = "";
    for (int i = 0; i < 60; i++) {
        char one[64];
        snprintf(one, sizeof(one), "%salias%d@forwarded-domain-%d.example", i ? ", " : "", i, i);
        strcat(list, one);
    }
    assert_int_equal(config_set(&c, "forward_recipients", list, "x", &err), 0);
    n = config_dump(&c, 0);
    assert_non_null(strstr(n, ",\n    alias"));
    for (char *line = n, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        assert_true(nl - line <= 78);
    free(n);
    round_trip(&c, 0);
    assert_int_equal(c.forward_recipients.n, 60);
    config_free(&c);

    /* A list whose dump would not fit in one logical line is refused. */
    config_init(&c);
    size_t big = 40000;
    char *many = malloc(big * 2);
    for (size_t i = 0; i < big; i++)
        many[2 * i] = 'A', many[2 * i + 1] = ',';
    many[2 * big - 1] = '\0';
    assert_int_equal(config_set(&c, "originating_daemon_names", many, "x", &err), -1);
    assert_non_null(strstr(err.msg, "x: originating_daemon_names: list too long"));
    many[2 * 20000 - 1] = '\0'; /* 20000 entries: 59998 octets written */
    assert_int_equal(config_set(&c, "originating_daemon_names", many, "x", &err), 0);
    round_trip(&c, 0);
    free(many);
    config_free(&c);
}

static void test_valid_name(void **state)
{
    (void)state;
    assert_true(config_valid_name("a", 0));
    assert_true(config_valid_name("a-b.c1.example", 0));
    assert_true(config_valid_name("example.net.", 1));
    assert_false(config_valid_name("example.net.", 0));
    assert_false(config_valid_name("", 1));
    assert_false(config_valid_name(".", 1));
    assert_false(config_valid_name("a.-b", 0));
    char label[80];
    memset(label, 'a', 64);
    label[64] = '\0';
    assert_false(config_valid_name(label, 0));
    label[63] = '\0';
    assert_true(config_valid_name(label, 0));
    char longname[300] = "";
    for (int i = 0; i < 64; i++)
        strcat(longname, "abc.");
    strcat(longname, "d"); /* 257 octets */
    assert_false(config_valid_name(longname, 0));
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
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_trailing_comments),
        cmocka_unit_test(test_where),
        cmocka_unit_test(test_load_each_reports_every_line),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_valid_name),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
