/* Unit tests for msg: raw bytes kept, folding, LF, odd separators, streaming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "msg.h"

#include <stdlib.h>
#include <string.h>

static void test_parse_raw(void **state)
{
    (void)state;
    const char *m = "From: a@b.example\r\nSubject: one\r\n two\r\nX-Empty:\r\n"
                    "ODD-case : v\r\n\r\nbody\r\n";
    struct msg_headers hs;
    size_t body;
    fa_err err;
    assert_int_equal(msg_parse(m, strlen(m), &hs, &body, &err), 0);
    assert_int_equal(hs.n, 4);
    assert_int_equal(hs.h[1].len, strlen("Subject: one\r\n two\r\n"));
    assert_memory_equal(hs.h[1].raw, "Subject: one\r\n two\r\n", hs.h[1].len);
    assert_true(msg_header_is(&hs.h[3], "odd-CASE"));
    assert_int_equal(hs.h[3].name_len, 8);
    assert_int_equal(hs.h[2].value_off, hs.h[2].value_end);
    assert_string_equal(m + body, "body\r\n");
    free(hs.h);
}

static void test_separators(void **state)
{
    (void)state;
    struct msg_headers hs;
    size_t body;
    fa_err err;
    /* LF only, no body. */
    const char *a = "A: 1\nB: 2\n";
    assert_int_equal(msg_parse(a, strlen(a), &hs, &body, &err), 0);
    assert_int_equal(hs.n, 2);
    assert_int_equal(body, strlen(a));
    free(hs.h);
    /* No final newline at all. */
    const char *b = "A: 1";
    assert_int_equal(msg_parse(b, strlen(b), &hs, &body, &err), 0);
    assert_int_equal(hs.n, 1);
    assert_int_equal(hs.h[0].value_end, 4);
    free(hs.h);
    /* A line that is not a field starts the body without a blank line. */
    const char *c = "A: 1\nthis is body\n";
    assert_int_equal(msg_parse(c, strlen(c), &hs, &body, &err), 0);
    assert_int_equal(hs.n, 1);
    assert_string_equal(c + body, "this is body\n");
    free(hs.h);
}

static void test_streaming_matches_whole(void **state)
{
    (void)state;
    const char *m = "Received: x\r\n\tby y\r\nFrom: a@b\r\nTo: c@d\r\n\r\nline1\r\nline2\r\n";
    size_t n = strlen(m);
    for (size_t chunk = 1; chunk <= n; chunk++) {
        struct msg_reader r;
        msg_reader_init(&r);
        fa_err err;
        char body[256];
        size_t blen = 0;
        for (size_t i = 0; i < n; i += chunk) {
            size_t len = n - i < chunk ? n - i : chunk;
            size_t used = 0;
            if (r.state == MSG_HEADERS) {
                used = msg_reader_feed(&r, (const uint8_t *)m + i, len, &err);
                assert_true(used != (size_t)-1);
            }
            if (r.state == MSG_BODY) {
                memcpy(body + blen, m + i + used, len - used);
                blen += len - used;
            }
        }
        assert_int_equal(msg_reader_eof(&r, &err), 0);
        assert_int_equal(r.state, MSG_BODY);
        assert_int_equal(r.headers.n, 3);
        assert_true(r.crlf);
        assert_int_equal(r.headers.h[0].len, strlen("Received: x\r\n\tby y\r\n"));
        assert_int_equal(blen, strlen("line1\r\nline2\r\n"));
        assert_memory_equal(body, "line1\r\nline2\r\n", blen);
        msg_reader_free(&r);
    }
}

static void test_limits(void **state)
{
    (void)state;
    struct msg_reader r;
    msg_reader_init(&r);
    fa_err err;
    char *line = malloc(MSG_HEADER_MAX + 100);
    memcpy(line, "X: ", 3);
    memset(line + 3, 'a', MSG_HEADER_MAX + 96);
    line[MSG_HEADER_MAX + 99] = '\n';
    assert_int_equal(msg_reader_feed(&r, (const uint8_t *)line, MSG_HEADER_MAX + 100, &err),
                     (size_t)-1);
    assert_non_null(strstr(err.msg, "header section larger"));
    msg_reader_free(&r);
    free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_raw),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_streaming_matches_whole),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
