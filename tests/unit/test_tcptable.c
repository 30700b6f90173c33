/* Unit tests for tcptable: framing, %XX decoding and encoding as Postfix's
 * tcp_table client does it, 200/500/400 replies, malformed requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon_test_srs.h"
#include "tcptable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ask(const srs *s, int dir, time_t now, const char *line, char *out,
                struct lookup_note *note)
{
    char reply[TCPTABLE_LINE_MAX];
    int m = tcptable_handle(s, dir, now, (const uint8_t *)line, strlen(line), reply, sizeof(reply),
                            note);
    assert_true(m > 0 && m <= TCPTABLE_LINE_MAX);
    assert_int_equal(reply[m - 1], '\n');
    assert_null(memchr(reply, '\n', (size_t)m - 1));
    memcpy(out, reply, (size_t)m - 1);
    out[m - 1] = '\0';
}

static void test_frame(void **state)
{
    (void)state;
    size_t len, used;
    const char *s = "get a@b\nget c@d\r\nget e";
    const uint8_t *p = (const uint8_t *)s;
    assert_int_equal(tcptable_frame(p, strlen(s), &len, &used), TCPTABLE_LINE);
    assert_int_equal(len, 7);
    assert_int_equal(used, 8);
    assert_int_equal(tcptable_frame(p + 8, strlen(s) - 8, &len, &used), TCPTABLE_LINE);
    assert_int_equal(len, 7); /* CR dropped */
    assert_int_equal(used, 9);
    assert_int_equal(tcptable_frame(p + 17, strlen(s) - 17, &len, &used), TCPTABLE_NEED_MORE);

    uint8_t *big = malloc(TCPTABLE_LINE_MAX + 1);
    assert_non_null(big);
    memset(big, 'x', TCPTABLE_LINE_MAX + 1);
    assert_int_equal(tcptable_frame(big, TCPTABLE_LINE_MAX - 1, &len, &used), TCPTABLE_NEED_MORE);
    assert_int_equal(tcptable_frame(big, TCPTABLE_LINE_MAX, &len, &used), TCPTABLE_TOO_LONG);
    big[TCPTABLE_LINE_MAX - 1] = '\n'; /* exactly 4096 bytes with the LF: allowed */
    assert_int_equal(tcptable_frame(big, TCPTABLE_LINE_MAX + 1, &len, &used), TCPTABLE_LINE);
    assert_int_equal(used, TCPTABLE_LINE_MAX);
    free(big);
}

static void test_codec(void **state)
{
    (void)state;
    char out[64];
    int n = tcptable_decode((const uint8_t *)"a%20b%25c%2fd%2F", 16, out, sizeof(out));
    assert_int_equal(n, 8);
    assert_memory_equal(out, "a b%c/d/", 8);
    assert_int_equal(tcptable_decode((const uint8_t *)"a%2", 3, out, sizeof(out)), -1);
    assert_int_equal(tcptable_decode((const uint8_t *)"a%zz", 4, out, sizeof(out)), -1);
    assert_int_equal(tcptable_decode((const uint8_t *)"abcd", 4, out, 3), -1);

    n = tcptable_encode("a b%c\t\x01\xc3\xa9~", 10, out, sizeof(out));
    assert_int_equal(n, 22);
    out[n] = '\0';
    assert_string_equal(out, "a%20b%25c%09%01%C3%A9~");
    assert_int_equal(tcptable_encode("a b", 3, out, 4), -1);

    /* round trip of every byte */
    char all[256], enc[768], dec[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    n = tcptable_encode(all, 256, enc, sizeof(enc));
    assert_true(n > 0);
    for (int i = 0; i < n; i++)
        assert_true(enc[i] > ' ' && enc[i] < 0x7f);
    assert_int_equal(tcptable_decode((const uint8_t *)enc, (size_t)n, dec, sizeof(dec)), 256);
    assert_memory_equal(dec, all, 256);
}

static void test_lookups(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64);
    assert_non_null(s);
    char out[TCPTABLE_LINE_MAX];
    struct lookup_note note;
    ask(s, LOOKUP_FORWARD, VECTOR_TIME, "get test@otherdomain.com", out, &note);
    assert_string_equal(out, "200 SRS0=vmyz=2W=otherdomain.com=test@example.com");
    ask(s, LOOKUP_FORWARD, VECTOR_TIME, "get test%40otherdomain.com", out, &note);
    assert_string_equal(out, "200 SRS0=vmyz=2W=otherdomain.com=test@example.com");
    ask(s, LOOKUP_REVERSE, VECTOR_TIME, "get SRS0=vmyz=2W=otherdomain.com=test@example.com", out,
        &note);
    assert_string_equal(out, "200 test@otherdomain.com");
    ask(s, LOOKUP_REVERSE, VECTOR_TIME, "get nobody@otherdomain.com", out, &note);
    assert_string_equal(out, "500 not found");
    ask(s, LOOKUP_FORWARD, VECTOR_TIME, "get user@example.net", out, &note);
    assert_string_equal(out, "500 not found");
    srs_free(s);
}

static void test_encoded_round_trip(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64URL);
    char out[TCPTABLE_LINE_MAX], line[TCPTABLE_LINE_MAX];
    struct lookup_note note;
    /* "a b"@example.org, as Postfix encodes it */
    ask(s, LOOKUP_FORWARD, VECTOR_TIME, "get %22a%20b%22@example.org", out, &note);
    assert_memory_equal(out, "200 ", 4);
    assert_non_null(strstr(out, "%20")); /* the space in the result is encoded */
    assert_null(strchr(out + 4, ' '));
    snprintf(line, sizeof(line), "get %s", out + 4);
    ask(s, LOOKUP_REVERSE, VECTOR_TIME, line, out, &note);
    assert_string_equal(out, "200 \"a%20b\"@example.org"); /* '"' is printable */
    srs_free(s);
}

static void test_malformed(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64URL);
    char out[TCPTABLE_LINE_MAX];
    struct lookup_note note;
    const char *bad[] = {"", "get", "get ", "put a@b.c", "GET a@b.c", "get a%zz@b.c", "get a%4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ask(s, LOOKUP_FORWARD, VECTOR_TIME, bad[i], out, &note);
        assert_string_equal(out, "500 malformed request");
        assert_int_equal(note.kind, LOOKUP_BADREQ);
    }
    /* a NUL in the decoded key is not found, not malformed */
    ask(s, LOOKUP_FORWARD, VECTOR_TIME, "get a%00b@example.org", out, &note);
    assert_string_equal(out, "500 not found");
    char reply[16];
    assert_int_equal(tcptable_handle(s, LOOKUP_FORWARD, 0, (const uint8_t *)"get a@b.c", 9, reply,
                                     sizeof(reply), &note),
                     -1);
    srs_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame),     cmocka_unit_test(test_codec),
        cmocka_unit_test(test_lookups),   cmocka_unit_test(test_encoded_round_trip),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
