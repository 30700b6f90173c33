/* Unit tests for socketmap: the published vector through the "forward" map,
 * reverse round trips, NOTFOUND for everything that is not ours, PERM only
 * for an unknown map or a request without a key, and framing of replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon_test_srs.h"
#include "netstring.h"
#include "socketmap.h"

#include <stdio.h>
#include <string.h>

/* Run one request; return the reply payload (unframed) in out. */
static void ask(const srs *s, time_t now, const char *req, size_t reqlen, char *out,
                struct lookup_note *note)
{
    char reply[SOCKETMAP_REPLY_MAX];
    int m = socketmap_handle(s, now, (const uint8_t *)req, reqlen, reply, sizeof(reply), note);
    assert_true(m > 0);
    const uint8_t *d;
    size_t len, used;
    assert_int_equal(netstring_parse((const uint8_t *)reply, (size_t)m, &d, &len, &used),
                     NETSTRING_COMPLETE);
    assert_int_equal(used, (size_t)m);
    memcpy(out, d, len);
    out[len] = '\0';
}

static void asks(const srs *s, time_t now, const char *req, char *out, struct lookup_note *note)
{
    ask(s, now, req, strlen(req), out, note);
}

static void test_vector(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64);
    assert_non_null(s);
    char out[SOCKETMAP_REPLY_MAX];
    struct lookup_note note;
    asks(s, VECTOR_TIME, "forward test@otherdomain.com", out, &note);
    assert_string_equal(out, "OK SRS0=vmyz=2W=otherdomain.com=test@example.com");
    assert_int_equal(note.kind, LOOKUP_FOUND);
    assert_int_equal(note.dir, LOOKUP_FORWARD);
    assert_int_equal(note.result_len, strlen("SRS0=vmyz=2W=otherdomain.com=test@example.com"));
    assert_memory_equal(note.result, "SRS0=vmyz", 9);
    asks(s, VECTOR_TIME, "reverse SRS0=vmyz=2W=otherdomain.com=test@example.com", out, &note);
    assert_string_equal(out, "OK test@otherdomain.com");
    /* case-insensitive, as relays change case */
    asks(s, VECTOR_TIME, "reverse srs0=VMYZ=2w=otherdomain.com=test@example.com", out, &note);
    assert_string_equal(out, "OK test@otherdomain.com");
    srs_free(s);
}

static void test_notfound(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64URL);
    char out[SOCKETMAP_REPLY_MAX];
    struct lookup_note note;
    const char *reqs[] = {
        "reverse user@otherdomain.com",                          /* not SRS */
        "reverse SRS0=xxxx=2W=otherdomain.com=test@example.com", /* forged hash */
        "reverse SRS0=vmyz=2W=otherdomain.com",                  /* no domain */
        "forward user@example.net",                              /* local domain */
        "forward SRS0=vmyz=2W=otherdomain.com=test@example.com", /* ours already */
        "forward ",                                              /* empty key */
        "forward no-domain",
        "reverse ",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        asks(s, VECTOR_TIME, reqs[i], out, &note);
        assert_string_equal(out, "NOTFOUND ");
        assert_int_equal(note.kind, LOOKUP_NOTFOUND);
        assert_non_null(note.why);
    }
    /* expired: 22 days later */
    asks(s, VECTOR_TIME, "forward test@otherdomain.com", out, &note);
    char req[SOCKETMAP_REPLY_MAX + 16];
    snprintf(req, sizeof(req), "reverse %s", out + 3);
    asks(s, VECTOR_TIME + 22 * 86400, req, out, &note);
    assert_string_equal(out, "NOTFOUND ");
    /* NUL inside the key */
    static const char nul[] = "forward a\0b@example.org";
    ask(s, VECTOR_TIME, nul, sizeof(nul) - 1, out, &note);
    assert_string_equal(out, "NOTFOUND ");
    srs_free(s);
}

static void test_long_local_part(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64URL);
    char out[SOCKETMAP_REPLY_MAX];
    struct lookup_note note;
    asks(s, VECTOR_TIME,
         "forward averyveryveryveryveryverylonglocalpartthatisfiftycharacters@otherdomain.com", out,
         &note);
    assert_string_equal(out, "NOTFOUND ");
    assert_int_equal(lookup_log_level(&note), FA_LOG_INFO);
    asks(s, VECTOR_TIME, "forward user@example.net", out, &note);
    assert_int_equal(lookup_log_level(&note), FA_LOG_DEBUG);
    srs_free(s);
}

static void test_perm(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64URL);
    char out[SOCKETMAP_REPLY_MAX];
    struct lookup_note note;
    asks(s, VECTOR_TIME, "bogus a@b.example", out, &note);
    assert_string_equal(out, "PERM unknown map");
    assert_int_equal(note.kind, LOOKUP_BADREQ);
    assert_int_equal(lookup_log_level(&note), FA_LOG_WARNING);
    asks(s, VECTOR_TIME, "Forward a@b.example", out, &note);
    assert_string_equal(out, "PERM unknown map");
    asks(s, VECTOR_TIME, "forward", out, &note);
    assert_string_equal(out, "PERM malformed request");
    asks(s, VECTOR_TIME, "", out, &note);
    assert_string_equal(out, "PERM malformed request");
    srs_free(s);
}

static void test_round_trip_quoted(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64URL);
    char out[SOCKETMAP_REPLY_MAX], req[SOCKETMAP_REPLY_MAX + 16];
    struct lookup_note note;
    const char *addrs[] = {"\"a@b\"@example.org", "\"a b\"@example.org", "x.y+tag@sub.example.org"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(req, sizeof(req), "forward %s", addrs[i]);
        asks(s, VECTOR_TIME, req, out, &note);
        assert_memory_equal(out, "OK ", 3);
        snprintf(req, sizeof(req), "reverse %s", out + 3);
        asks(s, VECTOR_TIME + 86400, req, out, &note);
        assert_memory_equal(out, "OK ", 3);
        assert_string_equal(out + 3, addrs[i]);
    }
    srs_free(s);
}

static void test_small_buffer(void **state)
{
    (void)state;
    srs *s = test_srs(FA_SRS_BASE64URL);
    char reply[16];
    struct lookup_note note;
    assert_int_equal(
        socketmap_handle(s, 0, (const uint8_t *)"forward a@b.c", 13, reply, sizeof(reply), &note),
        -1);
    srs_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_notfound),
        cmocka_unit_test(test_long_local_part),
        cmocka_unit_test(test_perm),
        cmocka_unit_test(test_round_trip_quoted),
        cmocka_unit_test(test_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
