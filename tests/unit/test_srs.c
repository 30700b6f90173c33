/* Unit tests for srs: the published PostSRSd vector, SRS0/SRS1, expiry and
 * the 1024-day wrap, alphabets, case, quoting, limits and key rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "srs.h"

#include <stdio.h>
#include <string.h>

#define VECTOR_TIME 1577836860
#define DAY 86400

static srs *make(const char *domain, const char *const *secrets, size_t n, int alphabet,
                 unsigned hash_length, unsigned hash_minimum, char sep)
{
    size_t lens[8];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(secrets[i]);
    char *locals[] = {"example.net", ".corp.example"};
    struct srs_params p = {
        .domain = domain,
        .local_domains = locals,
        .n_local_domains = 2,
        .hash_length = hash_length,
        .hash_minimum = hash_minimum,
        .max_age = 21,
        .separator = sep,
        .alphabet = alphabet,
    };
    fa_err err;
    srs *s = srs_new(&p, secrets, lens, n, &err);
    if (!s)
        fail_msg("srs_new: %s", err.msg);
    return s;
}

static srs *vector_srs(int alphabet)
{
    static const char *const secrets[] = {"tops3cr3t"};
    return make("example.com", secrets, 1, alphabet, 4, 0, '=');
}

static int fwd(const srs *s, const char *in, time_t now, char *out, const char **why)
{
    return srs_forward(s, in, strlen(in), now, out, SRS_ADDR_MAX, why);
}

static int rev(const srs *s, const char *in, time_t now, char *out, const char **why)
{
    return srs_reverse(s, in, strlen(in), now, out, SRS_ADDR_MAX, why);
}

static void test_published_vector(void **state)
{
    (void)state;
    for (int alphabet = 0; alphabet < 2; alphabet++) {
        srs *s = vector_srs(alphabet);
        char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
        const char *why;
        assert_int_equal(fwd(s, "test@otherdomain.com", VECTOR_TIME, out, &why), SRS_OK);
        assert_string_equal(out, "SRS0=vmyz=2W=otherdomain.com=test@example.com");
        assert_int_equal(rev(s, out, VECTOR_TIME, back, &why), SRS_OK);
        assert_string_equal(back, "test@otherdomain.com");
        srs_free(s);
    }
}

static void test_reverse_is_case_insensitive(void **state)
{
    (void)state;
    srs *s = vector_srs(FA_SRS_BASE64URL);
    char out[SRS_ADDR_MAX];
    const char *why;
    assert_int_equal(
        rev(s, "srs0=VMYZ=2w=OtherDomain.com=Test@EXAMPLE.COM", VECTOR_TIME, out, &why), SRS_OK);
    assert_string_equal(out, "Test@OtherDomain.com");
    srs_free(s);
}

static void test_tampered_hash_and_fields(void **state)
{
    (void)state;
    srs *s = vector_srs(FA_SRS_BASE64URL);
    char out[SRS_ADDR_MAX];
    const char *why;
    assert_int_equal(
        rev(s, "SRS0=vmyy=2W=otherdomain.com=test@example.com", VECTOR_TIME, out, &why),
        SRS_UNCHANGED);
    assert_string_equal(why, "SRS hash does not match");
    /* The hash covers host and user: changing either breaks it. */
    assert_int_equal(
        rev(s, "SRS0=vmyz=2W=otherdomain.org=test@example.com", VECTOR_TIME, out, &why),
        SRS_UNCHANGED);
    assert_int_equal(
        rev(s, "SRS0=vmyz=2W=otherdomain.com=tost@example.com", VECTOR_TIME, out, &why),
        SRS_UNCHANGED);
    /* Too short a hash is refused before any HMAC. */
    assert_int_equal(rev(s, "SRS0=vmy=2W=otherdomain.com=test@example.com", VECTOR_TIME, out, &why),
                     SRS_UNCHANGED);
    assert_string_equal(why, "SRS hash too short");
    srs_free(s);
}

static void test_malformed_reverse(void **state)
{
    (void)state;
    srs *s = vector_srs(FA_SRS_BASE64URL);
    char out[SRS_ADDR_MAX];
    const char *why;
    static const char *const bad[] = {
        "SRS0=vmyz=2W=otherdomain.com@example.com", /* no user field */
        "SRS0=vmyz=2W==test@example.com",           /* empty host */
        "SRS0=vmyz@example.com",
        "SRS0=@example.com",
        "SRS0vmyz=2W=otherdomain.com=test@example.com",   /* no separator after tag */
        "SRS0=vmyz=2WW=otherdomain.com=test@example.com", /* CVE-2020-35573: long stamp */
        "SRS0=vmyz=2=otherdomain.com=test@example.com",
        "SRS0=vmyz=2!=otherdomain.com=test@example.com",
        "SRS1=abcd=hop.example@example.com",
        "SRS1=abcd==x@example.com",
        "plain@example.com",
        "",
        "no-at-sign",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(rev(s, bad[i], VECTOR_TIME, out, &why), SRS_UNCHANGED);
        assert_non_null(why);
    }
    srs_free(s);
}

static void test_expiry_and_wrap(void **state)
{
    (void)state;
    srs *s = vector_srs(FA_SRS_BASE64URL);
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    const char *why;
    assert_int_equal(fwd(s, "a@b.example", VECTOR_TIME, out, &why), SRS_OK);
    assert_int_equal(rev(s, out, VECTOR_TIME + 21 * DAY, back, &why), SRS_OK);
    assert_int_equal(rev(s, out, VECTOR_TIME + 22 * DAY, back, &why), SRS_UNCHANGED);
    assert_string_equal(why, "SRS address expired");
    /* A stamp from tomorrow looks 1023 days old: refused. */
    assert_int_equal(rev(s, out, VECTOR_TIME - DAY, back, &why), SRS_UNCHANGED);
    /* Made on day 1023 of a 1024-day cycle, checked 5 days later (day 4 of the next). */
    time_t t = (time_t)(1024 * 20 + 1023) * DAY + 3600;
    assert_int_equal(fwd(s, "a@b.example", t, out, &why), SRS_OK);
    assert_non_null(strstr(out, "=77=")); /* 1023 = base32 "77" */
    assert_int_equal(rev(s, out, t + 5 * DAY, back, &why), SRS_OK);
    assert_string_equal(back, "a@b.example");
    /* The same stamp 1024 days later has wrapped: it must not come back to life. */
    assert_int_equal(rev(s, out, t + 1024 * DAY + 30 * DAY, back, &why), SRS_UNCHANGED);
    srs_free(s);
}

static void test_not_rewritten(void **state)
{
    (void)state;
    srs *s = vector_srs(FA_SRS_BASE64URL);
    char out[SRS_ADDR_MAX];
    const char *why;
    struct {
        const char *in, *why;
    } cases[] = {
        {"", "empty sender"},
        {"<>", "empty sender"},
        {"postmaster", "no domain"},
        {"user@", "no domain"},
        {"@example.org", "empty local part"},
        {"user@example.com", "already in the SRS domain"},
        {"user@EXAMPLE.com.", "already in the SRS domain"},
        {"user@example.net", "local domain"},
        {"user@a.corp.example", "local domain"},
        {"a\nb@example.org", "control character in address"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(fwd(s, cases[i].in, VECTOR_TIME, out, &why), SRS_UNCHANGED);
        assert_string_equal(why, cases[i].why);
    }
    /* ".corp.example" matches subdomains only, not corp.example itself. */
    assert_int_equal(fwd(s, "user@corp.example", VECTOR_TIME, out, &why), SRS_OK);
    /* A subdomain of a plain "example.net" entry is not local. */
    assert_int_equal(fwd(s, "user@sub.example.net", VECTOR_TIME, out, &why), SRS_OK);
    srs_free(s);
}

static void test_local_part_limit(void **state)
{
    (void)state;
    srs *s = vector_srs(FA_SRS_BASE64URL);
    char in[200], out[SRS_ADDR_MAX];
    const char *why;
    /* SRS0=HHHH=TT=d.example= is 23 octets: 41 octets of user fit in 64, 42 do not. */
    memset(in, 'u', 41);
    strcpy(in + 41, "@d.example");
    assert_int_equal(fwd(s, in, VECTOR_TIME, out, &why), SRS_OK);
    assert_int_equal((int)(strchr(out, '@') - out), 64);
    memset(in, 'u', 42);
    strcpy(in + 42, "@d.example");
    assert_int_equal(fwd(s, in, VECTOR_TIME, out, &why), SRS_UNCHANGED);
    assert_string_equal(why, "rewritten local part would exceed 64 octets");
    srs_free(s);
}

static void test_srs1(void **state)
{
    (void)state;
    srs *s = vector_srs(FA_SRS_BASE64URL);
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX], again[SRS_ADDR_MAX];
    const char *why;
    const char *srs0 = "SRS0=abcd=2W=orig.example=user@hop1.example";
    assert_int_equal(fwd(s, srs0, VECTOR_TIME, out, &why), SRS_OK);
    assert_true(strncmp(out, "SRS1=", 5) == 0);
    assert_non_null(strstr(out, "=hop1.example==abcd=2W=orig.example=user@example.com"));
    /* Reverse gives the SRS0 address back at hop1, for hop1 to reverse. */
    assert_int_equal(rev(s, out, VECTOR_TIME + 30 * DAY, back, &why), SRS_OK);
    assert_string_equal(back, srs0);
    /* An SRS1 from another forwarder keeps hop1 and the rest, re-hashed by us. */
    const char *other = "SRS1=ZZZZ=hop1.example==abcd=2W=orig.example=user@hop2.example";
    assert_int_equal(fwd(s, other, VECTOR_TIME, again, &why), SRS_OK);
    assert_string_equal(again, out);
    /* SRS1 hashes do not expire (they carry no stamp), but they are checked. */
    out[5] ^= 1;
    assert_int_equal(rev(s, out, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    srs_free(s);
}

static void test_alphabets(void **state)
{
    (void)state;
    srs *url = vector_srs(FA_SRS_BASE64URL), *std = vector_srs(FA_SRS_BASE64);
    char a[SRS_ADDR_MAX], b[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    const char *why;
    int seen = 0;
    /* Find senders whose hash has a character that differs between alphabets. */
    for (int i = 0; i < 2000 && seen < 5; i++) {
        char in[64];
        snprintf(in, sizeof(in), "user%d@host.example", i);
        assert_int_equal(fwd(url, in, VECTOR_TIME, a, &why), SRS_OK);
        assert_int_equal(fwd(std, in, VECTOR_TIME, b, &why), SRS_OK);
        if (strcmp(a, b) == 0)
            continue;
        seen++;
        assert_true(strpbrk(a, "+/") == NULL);
        assert_true(strpbrk(b + 5, "+/") != NULL);
        /* Each engine reads both alphabets. */
        assert_int_equal(rev(url, b, VECTOR_TIME, back, &why), SRS_OK);
        assert_string_equal(back, in);
        assert_int_equal(rev(std, a, VECTOR_TIME, back, &why), SRS_OK);
        assert_string_equal(back, in);
    }
    assert_int_equal(seen, 5);
    srs_free(url);
    srs_free(std);
}

static void test_quoted_local_parts(void **state)
{
    (void)state;
    srs *s = vector_srs(FA_SRS_BASE64URL);
    char q[SRS_ADDR_MAX], internal[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    const char *why;
    /* Postfix may pass the external (quoted) or the internal form: same result. */
    assert_int_equal(fwd(s, "\"a@b\"@example.org", VECTOR_TIME, q, &why), SRS_OK);
    assert_int_equal(fwd(s, "a@b@example.org", VECTOR_TIME, internal, &why), SRS_OK);
    assert_string_equal(q, internal);
    assert_true(q[0] == '"');
    assert_non_null(strstr(q, "=example.org=a@b\"@example.com"));
    assert_int_equal(rev(s, q, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, "\"a@b\"@example.org");
    /* Spaces and escaped quotes survive the round trip. */
    assert_int_equal(fwd(s, "\"john \\\"q\\\" public\"@example.org", VECTOR_TIME, q, &why), SRS_OK);
    assert_int_equal(rev(s, q, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, "\"john \\\"q\\\" public\"@example.org");
    /* A needlessly quoted dot-atom comes back unquoted (the same address). */
    assert_int_equal(fwd(s, "\"plain\"@example.org", VECTOR_TIME, q, &why), SRS_OK);
    assert_int_equal(rev(s, q, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, "plain@example.org");
    srs_free(s);
}

static void test_key_rotation(void **state)
{
    (void)state;
    static const char *const old_only[] = {"old-secret"};
    static const char *const rotated[] = {"new-secret", "old-secret"};
    srs *o = make("srs.example", old_only, 1, FA_SRS_BASE64URL, 4, 0, '=');
    srs *r = make("srs.example", rotated, 2, FA_SRS_BASE64URL, 4, 0, '=');
    char a[SRS_ADDR_MAX], b[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    const char *why;
    assert_int_equal(fwd(o, "x@y.example", VECTOR_TIME, a, &why), SRS_OK);
    assert_int_equal(fwd(r, "x@y.example", VECTOR_TIME, b, &why), SRS_OK);
    assert_string_not_equal(a, b);                                /* the first secret signs */
    assert_int_equal(rev(r, a, VECTOR_TIME, back, &why), SRS_OK); /* all verify */
    assert_int_equal(rev(o, b, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    assert_int_equal(srs_secret_count(r), 2);
    srs_free(o);
    srs_free(r);
}

static void test_hash_length_separator(void **state)
{
    (void)state;
    static const char *const secrets[] = {"tops3cr3t"};
    srs *s = make("example.com", secrets, 1, FA_SRS_BASE64, 8, 4, '+');
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX], cut[SRS_ADDR_MAX];
    const char *why;
    assert_int_equal(fwd(s, "test@otherdomain.com", VECTOR_TIME, out, &why), SRS_OK);
    /* Same HMAC, longer prefix: starts with the vector's 4 characters. */
    assert_true(strncmp(out, "SRS0+vmyz", 9) == 0);
    assert_int_equal(strchr(out + 5, '=') - (out + 5), 8);
    assert_int_equal(rev(s, out, VECTOR_TIME, back, &why), SRS_OK);
    /* hash_minimum 4: a relay that kept only 4 characters still reverses. */
    snprintf(cut, sizeof(cut), "SRS0=vmyz=2W=otherdomain.com=test@example.com");
    assert_int_equal(rev(s, cut, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, "test@otherdomain.com");
    srs_free(s);
}

static void test_bad_params(void **state)
{
    (void)state;
    const char *secrets[] = {"x"};
    size_t lens[] = {1}, zero[] = {0};
    fa_err err;
    struct srs_params p = {
        .domain = "d.example", .hash_length = 4, .max_age = 21, .separator = '='};
    assert_null(srs_new(&p, secrets, lens, 0, &err));
    assert_null(srs_new(&p, secrets, zero, 1, &err));
    p.separator = '/';
    assert_null(srs_new(&p, secrets, lens, 1, &err));
    p.separator = '=';
    p.hash_length = 28;
    assert_null(srs_new(&p, secrets, lens, 1, &err));
    p.hash_length = 4;
    p.domain = "";
    assert_null(srs_new(&p, secrets, lens, 1, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_vector),
        cmocka_unit_test(test_reverse_is_case_insensitive),
        cmocka_unit_test(test_tampered_hash_and_fields),
        cmocka_unit_test(test_malformed_reverse),
        cmocka_unit_test(test_expiry_and_wrap),
        cmocka_unit_test(test_not_rewritten),
        cmocka_unit_test(test_local_part_limit),
        cmocka_unit_test(test_srs1),
        cmocka_unit_test(test_alphabets),
        cmocka_unit_test(test_quoted_local_parts),
        cmocka_unit_test(test_key_rotation),
        cmocka_unit_test(test_hash_length_separator),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
