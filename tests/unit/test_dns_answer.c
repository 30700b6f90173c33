/* Unit tests for dns_answer: records copied with a NUL after them, the
 * bounds (DNS_MAX_RR records, DNS_MAX_RDATA octets), failures classified
 * by status and enum dns_failure (never by the reason text), and freeing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dns_answer.h"

#include <stdlib.h>
#include <string.h>

static void test_add_and_free(void **state)
{
    (void)state;
    struct dns_answer a = {0};
    const uint8_t txt[] = {'v', '=', 0, 'x'}; /* a NUL inside: kept, len says */
    assert_int_equal(dns_answer_add(&a, txt, sizeof(txt), 0), 0);
    assert_int_equal(dns_answer_add(&a, "mx.example", 10, 10), 0);
    assert_int_equal(dns_answer_add(&a, NULL, 0, 0), 0); /* an empty record */
    assert_int_equal(a.n, 3);
    assert_int_equal(a.rr[0].len, 4);
    assert_memory_equal(a.rr[0].data, txt, 4);
    assert_int_equal(a.rr[0].data[4], 0);
    assert_string_equal((const char *)a.rr[1].data, "mx.example");
    assert_int_equal(a.rr[1].pref, 10);
    assert_int_equal(a.rr[2].len, 0);
    assert_int_equal(a.rr[2].data[0], 0);
    dns_answer_free(&a);
    assert_int_equal(a.n, 0);
    assert_null(a.rr[0].data);
    dns_answer_free(&a); /* again, and NULL: harmless */
    dns_answer_free(NULL);
}

static void test_bounds(void **state)
{
    (void)state;
    struct dns_answer a = {0};
    for (int i = 0; i < DNS_MAX_RR; i++)
        assert_int_equal(dns_answer_add(&a, "x", 1, 0), 0);
    assert_int_equal(dns_answer_add(&a, "x", 1, 0), -1);
    assert_int_equal(a.n, DNS_MAX_RR);
    dns_answer_free(&a);

    uint8_t *big = calloc(1, DNS_MAX_RDATA + 1);
    assert_non_null(big);
    assert_int_equal(dns_answer_add(&a, big, DNS_MAX_RDATA, 0), 0);
    assert_int_equal(dns_answer_add(&a, big, DNS_MAX_RDATA + 1, 0), -1);
    assert_int_equal(a.n, 1);
    dns_answer_free(&a);
    free(big);
}

static void test_status_and_failure(void **state)
{
    (void)state;
    struct dns_answer a = {0};
    a.secure = 1;
    assert_int_equal(dns_answer_add(&a, "x", 1, 0), 0);
    /* dns_answer_set: TEMPFAIL and PERMFAIL are DNS_FAIL_OTHER, answers
     * DNS_FAIL_NONE; records are dropped and secure cleared either way. */
    assert_int_equal(dns_answer_set(&a, DNS_TEMPFAIL, "network"), DNS_TEMPFAIL);
    assert_int_equal(a.status, DNS_TEMPFAIL);
    assert_int_equal(a.failure, DNS_FAIL_OTHER);
    assert_string_equal(a.why, "network");
    assert_int_equal(a.n, 0);
    assert_int_equal(a.secure, 0);
    assert_int_equal(dns_answer_set(&a, DNS_PERMFAIL, "bad"), DNS_PERMFAIL);
    assert_int_equal(a.failure, DNS_FAIL_OTHER);
    assert_int_equal(dns_answer_set(&a, DNS_NXDOMAIN, "no such name"), DNS_NXDOMAIN);
    assert_int_equal(a.failure, DNS_FAIL_NONE);
    assert_int_equal(dns_answer_set(&a, DNS_NODATA, "no record"), DNS_NODATA);
    assert_int_equal(a.failure, DNS_FAIL_NONE);
    /* dns_answer_fail names the kind: a caller tells a timeout from a
     * SERVFAIL by it, whatever the text says. */
    assert_int_equal(dns_answer_fail(&a, DNS_TEMPFAIL, DNS_FAIL_TIMEOUT, "anything"), DNS_TEMPFAIL);
    assert_int_equal(a.failure, DNS_FAIL_TIMEOUT);
    assert_int_equal(dns_answer_fail(&a, DNS_TEMPFAIL, DNS_FAIL_SERVFAIL, "timeout"), DNS_TEMPFAIL);
    assert_int_equal(a.failure, DNS_FAIL_SERVFAIL);
    dns_answer_free(&a);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(dns_status_name(DNS_OK), "OK");
    assert_string_equal(dns_status_name(DNS_NXDOMAIN), "NXDOMAIN");
    assert_string_equal(dns_status_name(DNS_NODATA), "NODATA");
    assert_string_equal(dns_status_name(DNS_TEMPFAIL), "TEMPFAIL");
    assert_string_equal(dns_status_name(DNS_PERMFAIL), "PERMFAIL");
    assert_string_equal(dns_status_name(99), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_free),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_status_and_failure),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
