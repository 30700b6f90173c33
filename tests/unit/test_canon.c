/* Unit tests for canon: RFC 6376 section 3.4.6 examples, empty bodies,
 * LF input, l= limits, and that chunking never changes the result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "canon.h"

#include <stdlib.h>
#include <string.h>

struct out {
    char buf[4096];
    size_t n;
};

static void sink(void *ctx, const uint8_t *p, size_t n)
{
    struct out *o = ctx;
    assert_true(o->n + n <= sizeof(o->buf));
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

/* Canonicalize body in chunks of `chunk` octets (0 = all at once). */
static void body(int alg, const char *in, size_t chunk, uint64_t limit, struct out *o)
{
    struct canon_body *b = malloc(sizeof(*b));
    o->n = 0;
    canon_body_init(b, alg, limit, sink, o);
    size_t n = strlen(in);
    if (!chunk)
        chunk = n ? n : 1;
    for (size_t i = 0; i < n; i += chunk)
        canon_body_update(b, (const uint8_t *)in + i, n - i < chunk ? n - i : chunk);
    canon_body_final(b);
    free(b);
    o->buf[o->n] = '\0';
}

static void expect_body(int alg, const char *in, const char *want)
{
    for (size_t chunk = 0; chunk <= 5; chunk++) {
        struct out o;
        body(alg, in, chunk, CANON_NO_LIMIT, &o);
        if (o.n != strlen(want) || memcmp(o.buf, want, o.n) != 0)
            fail_msg("%s, chunk %zu: got \"%s\" want \"%s\"", canon_name(alg), chunk, o.buf, want);
    }
}

static void test_rfc6376_body_examples(void **state)
{
    (void)state;
    const char *in = " C \r\nD \t E\r\n\r\n\r\n";
    expect_body(CANON_RELAXED, in, " C\r\nD E\r\n");
    expect_body(CANON_SIMPLE, in, " C \r\nD \t E\r\n");
}

static void test_empty_and_unterminated(void **state)
{
    (void)state;
    expect_body(CANON_SIMPLE, "", "\r\n");
    expect_body(CANON_RELAXED, "", "");
    expect_body(CANON_SIMPLE, "\r\n\r\n", "\r\n");
    expect_body(CANON_RELAXED, " \t\r\n\r\n", "");
    expect_body(CANON_SIMPLE, "no newline", "no newline\r\n");
    expect_body(CANON_RELAXED, "no newline  ", "no newline\r\n");
    /* Empty lines in the middle stay. */
    expect_body(CANON_SIMPLE, "a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n");
    expect_body(CANON_RELAXED, "a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n");
}

static void test_lf_and_bare_cr(void **state)
{
    (void)state;
    expect_body(CANON_SIMPLE, "a\nb \n\n", "a\r\nb \r\n");
    expect_body(CANON_RELAXED, "a  b\t\n\n", "a b\r\n");
    /* A bare CR is an ordinary octet; CR CR LF keeps the first CR. */
    expect_body(CANON_SIMPLE, "a\rb\r\r\n", "a\rb\r\r\n");
    expect_body(CANON_SIMPLE, "end\r", "end\r\r\n");
}

static void test_length_limit(void **state)
{
    (void)state;
    struct out o;
    struct canon_body *b = malloc(sizeof(*b));
    o.n = 0;
    canon_body_init(b, CANON_SIMPLE, 5, sink, &o);
    canon_body_update(b, (const uint8_t *)"hello world\r\n", 13);
    canon_body_final(b);
    assert_int_equal(o.n, 5);
    assert_memory_equal(o.buf, "hello", 5);
    assert_int_equal(canon_body_length(b), 13);
    free(b);
}

struct big {
    char *buf;
    size_t n, cap;
};

static void big_sink(void *ctx, const uint8_t *p, size_t n)
{
    struct big *o = ctx;
    assert_true(o->n + n <= o->cap);
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

static void big_body(int alg, const char *in, size_t n, size_t chunk, struct big *o)
{
    struct canon_body *b = malloc(sizeof(*b));
    o->n = 0;
    canon_body_init(b, alg, CANON_NO_LIMIT, big_sink, o);
    for (size_t i = 0; i < n; i += chunk)
        canon_body_update(b, (const uint8_t *)in + i, n - i < chunk ? n - i : chunk);
    canon_body_final(b);
    free(b);
}

static void test_large_body_chunked(void **state)
{
    (void)state;
    /* 100 kB of mixed lines (CRLF, LF, white-space runs), canonicalized
     * whole and in chunk sizes that split CRLF pairs and white-space runs. */
    size_t n = 100000;
    char *in = malloc(n);
    /* Pattern 0 needs rewriting everywhere; pattern 1 is ordinary text whose
     * lines are canonical as they stand (the run fast path) with a few that
     * are not; chunk size 1 never takes the fast path, so it is the oracle. */
    static const char *const patterns[] = {
        "ab \t\r\ncd\n  e\r\n\r\n",
        "Hello world, this is text.\r\nSecond line\r\n\r\n  indented\r\nend \r\nx\n",
    };
    for (int alg = 0; alg < 4; alg++) {
        const char *pat = patterns[alg / 2];
        size_t plen = strlen(pat);
        for (size_t i = 0; i < n; i++)
            in[i] = pat[i % plen];
        struct big whole = {malloc(2 * n + 4), 0, 2 * n + 4};
        struct big part = {malloc(2 * n + 4), 0, 2 * n + 4};
        big_body(alg % 2, in, n, n, &whole);
        assert_true(whole.n > n / 2);
        static const size_t chunks[] = {1, 2, 3, 7, 4095, 16384, 65536};
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
            big_body(alg % 2, in, n, chunks[c], &part);
            assert_int_equal(part.n, whole.n);
            assert_memory_equal(part.buf, whole.buf, whole.n);
        }
        free(whole.buf);
        free(part.buf);
    }
    free(in);
}

static void header(int alg, const char *raw, struct out *o)
{
    struct msg_headers hs;
    size_t body;
    fa_err err;
    assert_int_equal(msg_parse(raw, strlen(raw), &hs, &body, &err), 0);
    o->n = 0;
    for (size_t i = 0; i < hs.n; i++)
        canon_header(alg, &hs.h[i], 1, 0, 0, sink, o);
    o->buf[o->n] = '\0';
    free(hs.h);
}

static void test_rfc6376_header_examples(void **state)
{
    (void)state;
    struct out o;
    const char *in = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n";
    header(CANON_RELAXED, in, &o);
    assert_string_equal(o.buf, "a:X\r\nb:Y Z\r\n");
    header(CANON_SIMPLE, in, &o);
    assert_string_equal(o.buf, "A: X\r\nB : Y\t\r\n\tZ  \r\n");
    /* LF-only input is hashed as CRLF. */
    header(CANON_SIMPLE, "Subject: a\n b\n\n", &o);
    assert_string_equal(o.buf, "Subject: a\r\n b\r\n");
    header(CANON_RELAXED, "SUBJECT:no space\n\n", &o);
    assert_string_equal(o.buf, "subject:no space\r\n");
}

static void test_blank_b(void **state)
{
    (void)state;
    struct out o = {.n = 0};
    const char *raw = "DKIM-Signature: a=x; b=abc\r\n def; c=y\r\n";
    struct msg_header h = {raw, strlen(raw), 14, 15, strlen(raw) - 2};
    size_t b_off = (size_t)(strstr(raw, "b=") - raw) + 2, b_end = (size_t)(strstr(raw, ";") - raw);
    b_end = (size_t)(strstr(raw + b_off, ";") - raw);
    canon_header(CANON_RELAXED, &h, 0, b_off, b_end, sink, &o);
    o.buf[o.n] = '\0';
    assert_string_equal(o.buf, "dkim-signature:a=x; b=; c=y");
    o.n = 0;
    canon_header(CANON_SIMPLE, &h, 0, b_off, b_end, sink, &o);
    o.buf[o.n] = '\0';
    assert_string_equal(o.buf, "DKIM-Signature: a=x; b=; c=y");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6376_body_examples),
        cmocka_unit_test(test_empty_and_unterminated),
        cmocka_unit_test(test_lf_and_bare_cr),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_large_body_chunked),
        cmocka_unit_test(test_rfc6376_header_examples),
        cmocka_unit_test(test_blank_b),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
