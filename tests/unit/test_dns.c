/* Unit tests for dns: the zone-file parser and lookups (libunbound:
 * tests/integration/test_dns.py; answers themselves: test_dns_answer.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_zone.h"

#include "dns.h"
#include "monoclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Parse text expecting an error; returns the message. */
static const char *zone_error(const char *text, fa_err *err)
{
    struct dns_zone *z = dns_zone_parse("t.zone", text, strlen(text), err);
    if (z) {
        dns_zone_free(z);
        fail_msg("zone parsed but should not: %s", text);
    }
    return err->msg;
}

static void expect_error(const char *text, const char *where, const char *what)
{
    fa_err err = {{0}};
    const char *msg = zone_error(text, &err);
    if (strncmp(msg, where, strlen(where)) != 0 || !strstr(msg, what))
        fail_msg("error \"%s\", expected \"%s ... %s\"", msg, where, what);
}

static int q(struct dns *d, const char *name, int type, struct dns_answer *a)
{
    return dns_query(d, name, type, a);
}

static void expect_txt(struct dns *d, const char *name, const char *want, size_t len)
{
    struct dns_answer a;
    assert_int_equal(q(d, name, DNS_T_TXT, &a), DNS_OK);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.rr[0].len, len);
    assert_memory_equal(a.rr[0].data, want, len);
    assert_int_equal(a.rr[0].data[len], 0);
    dns_answer_free(&a);
}

static void test_every_type(void **state)
{
    (void)state;
    struct dns *d = test_zone("example.org. 300 IN A 192.0.2.1\n"
                              "example.org. 300 IN A 192.0.2.2\n"
                              "example.org. AAAA 2001:db8::1\n"
                              "example.org. IN 60 MX 10 mx1.example.org.\n"
                              "example.org. MX 5 mx2.example.org\n"
                              "example.org. TXT \"v=spf1 -all\"\n"
                              "example.org. SPF \"v=spf1 ?all\"\n"
                              "1.2.0.192.in-addr.arpa. PTR example.org.\n"
                              "www.example.org. CNAME example.org.\n"
                              "nullmx.example.org. MX 0 .\n");
    struct dns_answer a;
    assert_int_equal(q(d, "example.org", DNS_T_A, &a), DNS_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.secure, 0);
    assert_int_equal(a.rr[0].len, 4);
    assert_memory_equal(a.rr[0].data, "\xc0\x00\x02\x01", 4);
    assert_memory_equal(a.rr[1].data, "\xc0\x00\x02\x02", 4); /* file order */
    dns_answer_free(&a);

    assert_int_equal(q(d, "example.org", DNS_T_AAAA, &a), DNS_OK);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.rr[0].len, 16);
    assert_memory_equal(a.rr[0].data, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    dns_answer_free(&a);

    assert_int_equal(q(d, "example.org", DNS_T_MX, &a), DNS_OK);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.rr[0].pref, 10);
    assert_string_equal((char *)a.rr[0].data, "mx1.example.org");
    assert_int_equal(a.rr[1].pref, 5);
    assert_string_equal((char *)a.rr[1].data, "mx2.example.org");
    dns_answer_free(&a);

    assert_int_equal(q(d, "nullmx.example.org", DNS_T_MX, &a), DNS_OK);
    assert_int_equal(a.rr[0].pref, 0);
    assert_string_equal((char *)a.rr[0].data, "");
    dns_answer_free(&a);

    expect_txt(d, "example.org", "v=spf1 -all", 11);
    assert_int_equal(q(d, "example.org", DNS_T_SPF, &a), DNS_OK);
    assert_string_equal((char *)a.rr[0].data, "v=spf1 ?all");
    dns_answer_free(&a);

    assert_int_equal(q(d, "1.2.0.192.in-addr.arpa", DNS_T_PTR, &a), DNS_OK);
    assert_string_equal((char *)a.rr[0].data, "example.org");
    dns_answer_free(&a);

    assert_int_equal(q(d, "www.example.org", DNS_T_CNAME, &a), DNS_OK);
    assert_int_equal(a.n, 1);
    assert_string_equal((char *)a.rr[0].data, "example.org");
    dns_answer_free(&a);

    assert_int_equal(q(d, "www.example.org", DNS_T_A, &a), DNS_OK); /* followed */
    assert_int_equal(a.n, 2);
    dns_answer_free(&a);
    dns_free(d);
}

static void test_txt_strings_and_escapes(void **state)
{
    (void)state;
    struct dns *d = test_zone("multi.example. TXT \"v=DKIM1; k=rsa; \" \"p=MIIB\" \"AQAB\"\n"
                              "esc.example. TXT \"say \\\"hi\\\" \\\\ back\"\n"
                              "ddd.example. TXT \"A\\066C\\000D\\255\"\n"
                              "word.example. TXT v=spf1\n"
                              "wordesc.example. TXT a\\032b\n"
                              "semi.example. TXT \"a;b\" ; a real comment\n"
                              "empty.example. TXT \"\"\n");
    expect_txt(d, "multi.example", "v=DKIM1; k=rsa; p=MIIBAQAB", 26);
    expect_txt(d, "esc.example", "say \"hi\" \\ back", 15);
    expect_txt(d, "ddd.example", "ABC\0D\xff", 6);
    expect_txt(d, "word.example", "v=spf1", 6);
    expect_txt(d, "wordesc.example", "a b", 3);
    expect_txt(d, "semi.example", "a;b", 3);
    expect_txt(d, "empty.example", "", 0);
    dns_free(d);
}

static void test_long_string_accepted(void **state)
{
    (void)state;
    /* Over 255 octets in one quoted string: not valid DNS, accepted here. */
    char text[700];
    char want[400];
    memset(want, 'k', 300);
    want[300] = 0;
    snprintf(text, sizeof(text), "long.example. TXT \"%s\"\n", want);
    struct dns *d = test_zone(text);
    expect_txt(d, "long.example", want, 300);
    dns_free(d);
}

static void test_parens_comments_continuation(void **state)
{
    (void)state;
    struct dns *d = test_zone("; a zone\n"
                              "$TTL 3600\n"
                              "\n"
                              "sel._domainkey.example.org. 300 IN TXT ( \"v=DKIM1; \" ; first\n"
                              "        \"k=ed25519; \"   ; second\n"
                              "        \"p=abc\" )\n"
                              "   IN A 192.0.2.9 ; same owner\n"
                              "\tMX ( 10\n"
                              "    mx.example.org. )\n"
                              "other.example.org. A 192.0.2.10\r\n"
                              "  TXT \"crlf\"\r\n");
    expect_txt(d, "sel._domainkey.example.org", "v=DKIM1; k=ed25519; p=abc", 25);
    struct dns_answer a;
    assert_int_equal(q(d, "sel._domainkey.example.org", DNS_T_A, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(q(d, "sel._domainkey.example.org", DNS_T_MX, &a), DNS_OK);
    assert_int_equal(a.rr[0].pref, 10);
    dns_answer_free(&a);
    expect_txt(d, "other.example.org", "crlf", 4);
    dns_free(d);
}

static void test_origin(void **state)
{
    (void)state;
    struct dns *d = test_zone("plain.example. A 192.0.2.1\n" /* no $ORIGIN yet: absolute */
                              "$ORIGIN Example.COM.\n"
                              "@ MX 10 mail\n"
                              "mail A 192.0.2.2\n"
                              "abs.example.net. A 192.0.2.3\n");
    struct dns_answer a;
    assert_int_equal(q(d, "plain.example", DNS_T_A, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(q(d, "example.com", DNS_T_MX, &a), DNS_OK);
    assert_string_equal((char *)a.rr[0].data, "mail.example.com");
    dns_answer_free(&a);
    assert_int_equal(q(d, "mail.example.com", DNS_T_A, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(q(d, "abs.example.net", DNS_T_A, &a), DNS_OK);
    dns_answer_free(&a);
    dns_free(d);
}

static void test_timeout(void **state)
{
    (void)state;
    /* The SPF suite's own cases: TIMEOUT alone, and beside records. */
    struct dns *d = test_zone("alltimeout.example.net TIMEOUT\n"
                              "spftimeout.example.net TXT \"v=spf1 -all\"\n"
                              "spftimeout.example.net TIMEOUT\n");
    struct dns_answer a;
    assert_int_equal(q(d, "alltimeout.example.net", DNS_T_TXT, &a), DNS_TEMPFAIL);
    assert_non_null(a.why);
    assert_int_equal(a.n, 0);
    assert_int_equal(q(d, "ALLTIMEOUT.example.net.", DNS_T_A, &a), DNS_TEMPFAIL);
    expect_txt(d, "spftimeout.example.net", "v=spf1 -all", 11);
    assert_int_equal(q(d, "spftimeout.example.net", DNS_T_SPF, &a), DNS_TEMPFAIL);
    assert_int_equal(q(d, "x.alltimeout.example.net", DNS_T_A, &a), DNS_NXDOMAIN);
    dns_free(d);
}

static void test_nxdomain_nodata(void **state)
{
    (void)state;
    struct dns *d = test_zone("a.example. A 192.0.2.1\n"
                              "ns.example. NS ns1.example.\n"
                              "example. SOA ns1.example. admin.example. ( 1 2 3 4 5 )\n");
    struct dns_answer a;
    assert_int_equal(q(d, "a.example", DNS_T_TXT, &a), DNS_NODATA);
    assert_non_null(a.why);
    assert_int_equal(q(d, "b.example", DNS_T_A, &a), DNS_NXDOMAIN);
    assert_int_equal(q(d, "ns.example", DNS_T_A, &a), DNS_NODATA);
    assert_int_equal(q(d, "example", DNS_T_TXT, &a), DNS_NODATA);
    assert_int_equal(q(d, "example.a", DNS_T_A, &a), DNS_NXDOMAIN);
    assert_int_equal(dns_query(d, "a..example", DNS_T_A, &a), DNS_PERMFAIL);
    assert_int_equal(dns_query(d, "", DNS_T_A, &a), DNS_PERMFAIL);
    assert_int_equal(dns_query(d, "a.example", 2 /* NS */, &a), DNS_PERMFAIL);
    char label[80];
    memset(label, 'a', 64);
    strcpy(label + 64, ".example");
    assert_int_equal(dns_query(d, label, DNS_T_A, &a), DNS_PERMFAIL);
    dns_free(d);
}

static void test_cname_chains(void **state)
{
    (void)state;
    struct dns *d = test_zone("c1.example. CNAME c2.example.\n"
                              "c2.example. CNAME C3.Example.\n"
                              "c3.example. TXT \"end\"\n"
                              "dangling.example. CNAME nowhere.example.\n"
                              "loop.example. CNAME LOOP.example.\n"
                              "l1.example. CNAME l2.example.\n"
                              "l2.example. CNAME l1.example.\n"
                              "n0.example. CNAME n1.example.\n"
                              "n1.example. CNAME n2.example.\n"
                              "n2.example. CNAME n3.example.\n"
                              "n3.example. CNAME n4.example.\n"
                              "n4.example. CNAME n5.example.\n"
                              "n5.example. CNAME n6.example.\n"
                              "n6.example. CNAME n7.example.\n"
                              "n7.example. CNAME n8.example.\n"
                              "n8.example. CNAME n9.example.\n"
                              "n9.example. A 192.0.2.1\n");
    struct dns_answer a;
    expect_txt(d, "c1.example", "end", 3);
    assert_int_equal(q(d, "c1.example", DNS_T_A, &a), DNS_NODATA);
    assert_int_equal(q(d, "dangling.example", DNS_T_A, &a), DNS_NXDOMAIN);
    assert_int_equal(q(d, "loop.example", DNS_T_A, &a), DNS_TEMPFAIL);
    assert_int_equal(q(d, "l1.example", DNS_T_TXT, &a), DNS_TEMPFAIL);
    assert_int_equal(q(d, "n1.example", DNS_T_A, &a), DNS_OK); /* 8 CNAMEs */
    dns_answer_free(&a);
    assert_int_equal(q(d, "n0.example", DNS_T_A, &a), DNS_TEMPFAIL); /* 9 */
    dns_free(d);
}

static void test_case_and_dots(void **state)
{
    (void)state;
    struct dns *d = test_zone("MiXeD.Example.ORG A 192.0.2.1\n"
                              "trailing.example.org. A 192.0.2.2\n"
                              "macro%percent\\032\\032space%20url-space.example.com TXT x\n");
    struct dns_answer a;
    assert_int_equal(q(d, "mixed.example.org", DNS_T_A, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(q(d, "MIXED.EXAMPLE.ORG.", DNS_T_A, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(q(d, "trailing.example.org", DNS_T_A, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(q(d, "Trailing.Example.Org.", DNS_T_A, &a), DNS_OK);
    dns_answer_free(&a);
    expect_txt(d, "macro%percent  space%20url-space.example.com", "x", 1);
    dns_free(d);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("a.example. A 192.0.2.1\na.example. BOGUS x\n",
                 "t.zone:2:", "unsupported record type");
    expect_error("a.example. TXT \"open\n", "t.zone:1:", "unterminated quoted string");
    expect_error("\n\na.example. A 192.0.2.256\n", "t.zone:3:", "bad IPv4 address");
    expect_error("a.example. AAAA 2001:db8::g\n", "t.zone:1:", "bad IPv6 address");
    expect_error("a.example. A\n", "t.zone:1:", "missing IP address");
    expect_error("a.example. MX 65536 mx.example.\n", "t.zone:1:", "bad MX preference");
    expect_error("a.example. MX ten mx.example.\n", "t.zone:1:", "bad MX preference");
    expect_error("a.example. MX -1 mx.example.\n", "t.zone:1:", "bad MX preference");
    expect_error("a.example. MX 10\n", "t.zone:1:", "missing MX exchange");
    expect_error("a.example.\n", "t.zone:1:", "missing record type");
    expect_error("a.example. A 192.0.2.1 extra\n", "t.zone:1:", "unexpected text");
    expect_error("a.example. TXT v=spf1 -all\n", "t.zone:1:", "quote the strings");
    expect_error("a.example. TXT\n", "t.zone:1:", "without data");
    expect_error("a.example. TXT \"bad \\25 escape\"\n", "t.zone:1:", "\\DDD");
    expect_error("a.example. TXT \"bad \\256\"\n", "t.zone:1:", "over 255");
    expect_error("a.example. TXT ( \"x\"\n\n", "t.zone:1:", "\"(\" without \")\"");
    expect_error("a.example. A 192.0.2.1 )\n", "t.zone:1:", "without \"(\"");
    expect_error("a.example. TXT ( ( \"x\" ) )\n", "t.zone:1:", "nested");
    expect_error("  A 192.0.2.1\n", "t.zone:1:", "blank owner");
    expect_error("a..example. A 192.0.2.1\n", "t.zone:1:", "bad owner name");
    expect_error("a\\.b.example. A 192.0.2.1\n", "t.zone:1:", "escaped");
    expect_error("a.example. CH A 192.0.2.1\n", "t.zone:1:", "class IN");
    expect_error("@ A 192.0.2.1\n", "t.zone:1:", "without $ORIGIN");
    expect_error("$INCLUDE other.zone\n", "t.zone:1:", "not supported");
    expect_error("$FOO bar\n", "t.zone:1:", "unknown directive");
    expect_error("$TTL abc\n", "t.zone:1:", "bad $TTL");
    expect_error("a.example. CNAME b.example.\na.example. A 192.0.2.1\n", "t.zone: a.example",
                 "only record");
    expect_error("\"quoted\" A 192.0.2.1\n", "t.zone:1:", "bad owner name");

    /* Line too long: one line of 70000 octets, on line 2. */
    size_t n = 70000;
    char *text = malloc(n + 64);
    assert_non_null(text);
    strcpy(text, "a.example. A 192.0.2.1\nb.example. TXT \"");
    size_t o = strlen(text);
    memset(text + o, 'x', n);
    strcpy(text + o + n, "\"\n");
    expect_error(text, "t.zone:2:", "line longer than");
    free(text);

    /* 65 records of one type at one name. */
    char *big = malloc(65 * 40);
    assert_non_null(big);
    big[0] = 0;
    for (int i = 0; i < 65; i++)
        sprintf(big + strlen(big), "m.example. A 192.0.2.%d\n", i);
    expect_error(big, "t.zone:65:", "DNS_MAX_RR");
    free(big);
}

static void test_zone_file_on_disk(void **state)
{
    (void)state;
    char path[] = "/tmp/test_dns_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "f.example. TXT \"from a file\"\nbad.example. BOGUS 1\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct dns_opts o = {.zone_file = path};
    fa_err err = {{0}};
    assert_null(dns_new(&o, &err));
    char want[64];
    snprintf(want, sizeof(want), "%s:2: ", path);
    assert_true(strncmp(err.msg, want, strlen(want)) == 0);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("f.example. TXT \"from a file\"\n", f);
    fclose(f);
    struct dns *d = dns_new(&o, &err);
    assert_non_null(d);
    expect_txt(d, "f.example", "from a file", 11);
    dns_free(d);
    unlink(path);

    o.zone_file = "/nonexistent/zone";
    assert_null(dns_new(&o, &err));
    assert_non_null(strstr(err.msg, "/nonexistent/zone"));
}

static void test_many_names(void **state)
{
    (void)state;
    /* The hash table grows: every name still found, in file order. */
    size_t cap = 5000 * 48;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t o = 0;
    for (int i = 0; i < 5000; i++)
        o += (size_t)snprintf(text + o, cap - o, "h%d.example. TXT \"%d\"\n", i, i);
    struct dns *d = test_zone(text);
    free(text);
    for (int i = 0; i < 5000; i += 7) {
        char name[32], want[16];
        snprintf(name, sizeof(name), "H%d.Example", i);
        snprintf(want, sizeof(want), "%d", i);
        expect_txt(d, name, want, strlen(want));
    }
    dns_free(d);
}

struct seen {
    int calls, type, status, failure;
    double seconds;
};

static void observe(void *arg, int type, double seconds, int status, int failure)
{
    struct seen *s = arg;
    s->calls++;
    s->type = type;
    s->status = status;
    s->failure = failure;
    s->seconds = seconds;
}

static void test_observer(void **state)
{
    (void)state;
    char path[] = "/tmp/test_dns_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "a.example. TXT \"x\"\nslow.example. TIMEOUT\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct seen s = {0};
    struct dns_opts o = {.zone_file = path, .observe = observe, .observe_arg = &s};
    fa_err err = {{0}};
    struct dns *d = dns_new(&o, &err);
    assert_non_null(d);
    struct dns_answer a;
    /* Answers, NXDOMAIN and NODATA are not failures. */
    assert_int_equal(dns_query(d, "a.example", DNS_T_TXT, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.type, DNS_T_TXT);
    assert_int_equal(s.status, DNS_OK);
    assert_int_equal(s.failure, DNS_FAIL_NONE);
    assert_true(s.seconds >= 0 && s.seconds < 5);
    dns_query(d, "none.example", DNS_T_A, &a);
    assert_int_equal(s.status, DNS_NXDOMAIN);
    assert_int_equal(s.failure, DNS_FAIL_NONE);
    dns_query(d, "a.example", DNS_T_MX, &a);
    assert_int_equal(s.status, DNS_NODATA);
    assert_int_equal(s.failure, DNS_FAIL_NONE);
    /* A zone file's TIMEOUT is a timeout; a malformed name another failure. */
    dns_query(d, "slow.example", DNS_T_TXT, &a);
    assert_int_equal(s.status, DNS_TEMPFAIL);
    assert_int_equal(s.failure, DNS_FAIL_TIMEOUT);
    dns_query(d, "bad..example", DNS_T_TXT, &a);
    assert_int_equal(s.status, DNS_PERMFAIL);
    assert_int_equal(s.failure, DNS_FAIL_OTHER);
    assert_int_equal(s.calls, 5);
    dns_free(d);
    unlink(path);
}

/* A resolver over zone text written to a file, with an observer counting
 * the questions that reach it. */
static struct dns *observed_zone(const char *text, struct seen *s, char *path)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct dns_opts o = {.zone_file = path, .observe = observe, .observe_arg = s};
    fa_err err = {{0}};
    struct dns *d = dns_new(&o, &err);
    assert_non_null(d);
    return d;
}

static const char session_zone[] = "a.example. TXT \"a\"\n"
                                   "b.example. TXT \"b\"\n"
                                   "mx.example. MX 10 a.example.\n"
                                   "t1.example. TIMEOUT\n"
                                   "t2.example. TIMEOUT\n"
                                   "t3.example. TIMEOUT\n";

static void test_session_remembers(void **state)
{
    (void)state;
    char path[] = "/tmp/test_dns_XXXXXX";
    struct seen seen = {0};
    struct dns *d = observed_zone(session_zone, &seen, path);
    struct dns *s = dns_session_new(d, 0);
    assert_non_null(s);
    struct dns_answer a;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(dns_query(s, "A.example.", DNS_T_TXT, &a), DNS_OK);
        assert_int_equal(a.n, 1);
        assert_string_equal((const char *)a.rr[0].data, "a");
        dns_answer_free(&a);
        /* A failure is remembered too: a timed-out name is not asked again. */
        assert_int_equal(dns_query(s, "t1.example", DNS_T_TXT, &a), DNS_TEMPFAIL);
        assert_int_equal(a.failure, DNS_FAIL_TIMEOUT);
        assert_int_equal(dns_query(s, "none.example", DNS_T_A, &a), DNS_NXDOMAIN);
        assert_int_equal(dns_query(s, "mx.example", DNS_T_MX, &a), DNS_OK);
        assert_int_equal(a.rr[0].pref, 10);
        assert_string_equal((const char *)a.rr[0].data, "a.example");
        dns_answer_free(&a);
    }
    /* The same name with another type is another question. */
    assert_int_equal(dns_query(s, "a.example", DNS_T_A, &a), DNS_NODATA);
    assert_int_equal(seen.calls, 5);
    struct dns_session_info info;
    dns_session_info(s, &info);
    assert_int_equal(info.asked, 5);
    assert_int_equal(info.remembered, 8);
    assert_int_equal(info.refused, 0);
    assert_int_equal(info.spent, 0);
    /* The resolver itself remembers nothing. */
    dns_query(d, "a.example", DNS_T_TXT, &a);
    dns_answer_free(&a);
    assert_int_equal(seen.calls, 6);
    dns_free(s);
    dns_free(d);
    unlink(path);
}

/* The budget with zone TIMEOUTs, which spend the question's time limit
 * (5 s here, the default) without waiting: deterministic and instant. */
static void test_session_budget(void **state)
{
    (void)state;
    char path[] = "/tmp/test_dns_XXXXXX";
    struct seen seen = {0};
    struct dns *d = observed_zone(session_zone, &seen, path);
    struct dns *s = dns_session_new(d, 12000);
    double t0 = monoclock_seconds();
    struct dns_answer a;
    assert_int_equal(dns_query(s, "a.example", DNS_T_TXT, &a), DNS_OK);
    dns_answer_free(&a);
    /* 5 s and 5 s of the 12 s budget: full time limits, ordinary timeouts. */
    assert_int_equal(dns_query(s, "t1.example", DNS_T_TXT, &a), DNS_TEMPFAIL);
    assert_string_equal(a.why, "timeout (TIMEOUT in the zone file)");
    assert_int_equal(dns_query(s, "t2.example", DNS_T_TXT, &a), DNS_TEMPFAIL);
    struct dns_session_info info;
    dns_session_info(s, &info);
    assert_int_equal(info.spent, 0);
    assert_true(info.seconds >= 10.0 && info.seconds < 11.0);
    /* 2 s left: the question is cut short by the budget, and says so. */
    assert_int_equal(dns_query(s, "t3.example", DNS_T_TXT, &a), DNS_TEMPFAIL);
    assert_int_equal(a.failure, DNS_FAIL_TIMEOUT);
    assert_string_equal(a.why, "the message's DNS budget is spent");
    assert_int_equal(seen.calls, 4);
    /* Spent: a new question fails at once, without reaching the resolver;
     * what the session already knows it still answers. */
    assert_int_equal(dns_query(s, "b.example", DNS_T_TXT, &a), DNS_TEMPFAIL);
    assert_string_equal(a.why, "the message's DNS budget is spent");
    assert_int_equal(a.failure, DNS_FAIL_TIMEOUT);
    assert_int_equal(dns_query(s, "a.example", DNS_T_TXT, &a), DNS_OK);
    dns_answer_free(&a);
    struct dns_question more[] = {{"b.example", DNS_T_TXT}, {"mx.example", DNS_T_MX}};
    dns_prefetch(s, more, 2);
    assert_int_equal(dns_query(s, "mx.example", DNS_T_MX, &a), DNS_TEMPFAIL);
    assert_int_equal(seen.calls, 4);
    dns_session_info(s, &info);
    assert_int_equal(info.spent, 1);
    assert_int_equal(info.asked, 4);
    assert_int_equal(info.refused, 4);
    assert_int_equal(info.remembered, 1);
    assert_int_equal(info.budget_ms, 12000);
    assert_true(monoclock_seconds() - t0 < 2.0); /* nothing waited */
    dns_free(s);

    /* Without a budget, timeouts never spend anything. */
    s = dns_session_new(d, 0);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof(name), "t%d.example", i + 1);
        assert_int_equal(dns_query(s, name, DNS_T_TXT, &a), DNS_TEMPFAIL);
    }
    assert_int_equal(dns_query(s, "b.example", DNS_T_TXT, &a), DNS_OK);
    dns_answer_free(&a);
    dns_session_info(s, &info);
    assert_int_equal(info.spent, 0);
    dns_free(s);
    dns_free(d);
    unlink(path);
}

static void test_session_prefetch(void **state)
{
    (void)state;
    char path[] = "/tmp/test_dns_XXXXXX";
    struct seen seen = {0};
    struct dns *d = observed_zone(session_zone, &seen, path);
    /* On a resolver, a prefetch does nothing (it has nowhere to keep answers). */
    struct dns_question q[] = {
        {"a.example", DNS_T_TXT}, {"A.EXAMPLE.", DNS_T_TXT}, /* the same question */
        {"b.example", DNS_T_TXT}, {"t1.example", DNS_T_TXT}, {"bad..example", DNS_T_TXT},
        {NULL, DNS_T_TXT},        {"a.example", 4242},       {"none.example", DNS_T_A},
    };
    size_t nq = sizeof(q) / sizeof(q[0]);
    dns_prefetch(d, q, nq);
    assert_int_equal(seen.calls, 0);
    struct dns *s = dns_session_new(d, 60000);
    dns_prefetch(s, q, nq);
    dns_prefetch(s, q, nq); /* all known already */
    assert_int_equal(seen.calls, 4);
    struct dns_answer a;
    assert_int_equal(dns_query(s, "b.example", DNS_T_TXT, &a), DNS_OK);
    assert_string_equal((const char *)a.rr[0].data, "b");
    dns_answer_free(&a);
    assert_int_equal(dns_query(s, "t1.example", DNS_T_TXT, &a), DNS_TEMPFAIL);
    assert_int_equal(dns_query(s, "none.example", DNS_T_A, &a), DNS_NXDOMAIN);
    assert_int_equal(dns_query(s, "a.example", DNS_T_TXT, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(seen.calls, 4);
    /* Malformed questions are refused as by dns_query, and observed. */
    assert_int_equal(dns_query(s, "bad..example", DNS_T_TXT, &a), DNS_PERMFAIL);
    assert_int_equal(seen.calls, 5);
    /* A session of a session asks the same resolver, with its own memory. */
    struct dns *s2 = dns_session_new(s, 0);
    assert_int_equal(dns_query(s2, "b.example", DNS_T_TXT, &a), DNS_OK);
    dns_answer_free(&a);
    assert_int_equal(seen.calls, 6);
    dns_free(s2);
    dns_free(s);
    assert_null(dns_session_new(NULL, 1000));
    dns_prefetch(NULL, q, nq);
    dns_free(d);
    unlink(path);
}

/* What a session keeps is bounded: beyond DNS_SESSION_MAX_ANSWERS answers
 * are given but not remembered. */
static void test_session_bounds(void **state)
{
    (void)state;
    char path[] = "/tmp/test_dns_XXXXXX";
    struct seen seen = {0};
    struct dns *d = observed_zone(session_zone, &seen, path);
    struct dns *s = dns_session_new(d, 0);
    struct dns_answer a;
    int extra = 10;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < DNS_SESSION_MAX_ANSWERS + extra; i++) {
            char name[64];
            snprintf(name, sizeof(name), "n%d.example", i);
            assert_int_equal(dns_query(s, name, DNS_T_A, &a), DNS_NXDOMAIN);
        }
    assert_int_equal(seen.calls, DNS_SESSION_MAX_ANSWERS + 2 * extra);
    dns_free(s);
    dns_free(d);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type),
        cmocka_unit_test(test_txt_strings_and_escapes),
        cmocka_unit_test(test_long_string_accepted),
        cmocka_unit_test(test_parens_comments_continuation),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_nxdomain_nodata),
        cmocka_unit_test(test_cname_chains),
        cmocka_unit_test(test_case_and_dots),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_zone_file_on_disk),
        cmocka_unit_test(test_many_names),
        cmocka_unit_test(test_observer),
        cmocka_unit_test(test_session_remembers),
        cmocka_unit_test(test_session_budget),
        cmocka_unit_test(test_session_prefetch),
        cmocka_unit_test(test_session_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
