/* Unit tests for dkim_key, DKIM key records: every enum dkim_key_problem
 * in the order the checks are made, what a record reports (type, bits,
 * t=y, t=s, where its k= h= s= are), the algorithm a lint without a
 * signature reads it for, the older reader's result codes, and the fetch
 * from a zone: first usable record, temperror, permerror. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dkim_key.h"

#include "test_mail.h" /* test_key */
#include "test_zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 512-bit RSA key (SubjectPublicKeyInfo), too short since RFC 8301. */
static const char p512[] =
    "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALfo5XrG/DiBwFtHgUPYg9ny7+O7C1AM42Fli8s2"
    "5zfWSeokDIJTqmYVE4FvKbbl/o42JHohRD0JHCZMy6coggkCAwEAAQ==";
/* A 1024-bit RSA key as PKCS#1 RSAPublicKey, as some old publishers write p=. */
static const char p1024_pkcs1[] =
    "MIGJAoGBAM89/nB05nGh+BcsbG1ZTQsBxWVvbtR+215zCrev6Kq61jiNYcCbT79LgdvXQuCkHL46JS0yqAGBt56IuRHK"
    "CjnLzq/9cJgI9Wg8Mbm9pOCZiRVMpFRgqAU0uEdFtV8Y7R1DAS7p0W5/5IppxFrBka91hNt1ZfyveQqIH6XXBWl3AgMBA"
    "AE=";

struct keys {
    char rsa_p[600], ed_p[80];
};

static int setup(void **state)
{
    struct keys *k = calloc(1, sizeof(*k));
    struct fa_key *rsa = test_key(KEY_RSA), *ed = test_key(KEY_ED25519);
    assert_true(key_public_b64(rsa, k->rsa_p, sizeof(k->rsa_p)) > 0);
    assert_true(key_public_b64(ed, k->ed_p, sizeof(k->ed_p)) > 0);
    key_free(rsa);
    key_free(ed);
    *state = k;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* Read the record fmt, its "%s" (if any) replaced by p, for alg; the
 * problem found. info's k, h and s point into a buffer that stays until
 * the next call. */
static int read_problem(const char *fmt, const char *p, int alg, struct dkim_key_info *info,
                        const char **why, fa_err *err)
{
    static char rec[2048];
    const char *at = strstr(fmt, "%s");
    if (at)
        snprintf(rec, sizeof(rec), "%.*s%s%s", (int)(at - fmt), fmt, p, at + 2);
    else
        snprintf(rec, sizeof(rec), "%s", fmt);
    struct fa_key *k = dkim_key_record_read(rec, strlen(rec), alg, info, why, err);
    assert_true((k != NULL) == (info->problem == DKIM_KEY_OK));
    key_free(k);
    return info->problem;
}

static void test_problems_in_order(void **state)
{
    struct keys *k = *state;
    static const struct {
        const char *record;
        int alg, problem;
        const char *why;
    } cases[] = {
        {"v=DKIM1; k=rsa; p=%s", DKIM_RSA_SHA256, DKIM_KEY_OK, NULL},
        {"p=%s", DKIM_RSA_SHA256, DKIM_KEY_OK, NULL}, /* v= and k= may be absent */
        {"p=%s", DKIM_RSA_SHA1, DKIM_KEY_OK, NULL},   /* the reader does not judge sha1 */
        {"v=DKIM1; p=%s; p=x", DKIM_RSA_SHA256, DKIM_KEY_SYNTAX, "duplicate tag"},
        {"v=DKIM1; p=%s; =x", DKIM_RSA_SHA256, DKIM_KEY_SYNTAX, NULL},
        {"v=DKIM2; p=%s", DKIM_RSA_SHA256, DKIM_KEY_VERSION,
         "key record: v= is not DKIM1 or not first"},
        {"k=rsa; v=DKIM1; p=%s", DKIM_RSA_SHA256, DKIM_KEY_VERSION,
         "key record: v= is not DKIM1 or not first"},
        {"v=DKIM1; k=dsa; p=%s", DKIM_RSA_SHA256, DKIM_KEY_TYPE, "key record: unknown key type"},
        {"v=DKIM1; k=rsa; p=%s", DKIM_ED25519_SHA256, DKIM_KEY_ALG,
         "key type does not match the signature algorithm"},
        {"v=DKIM1; h=sha1; p=%s", DKIM_RSA_SHA256, DKIM_KEY_HASH,
         "key record h= excludes the signature's hash"},
        {"v=DKIM1; h=sha256; p=%s", DKIM_RSA_SHA1, DKIM_KEY_HASH,
         "key record h= excludes the signature's hash"},
        {"v=DKIM1; h=sha1 : SHA256; p=%s", DKIM_RSA_SHA256, DKIM_KEY_OK, NULL},
        {"v=DKIM1; s=tlsrpt; p=%s", DKIM_RSA_SHA256, DKIM_KEY_SERVICE,
         "key record is not for email (s=)"},
        {"v=DKIM1; s=tlsrpt:email; p=%s", DKIM_RSA_SHA256, DKIM_KEY_OK, NULL},
        {"v=DKIM1; s=*; p=%s", DKIM_RSA_SHA256, DKIM_KEY_OK, NULL},
        {"v=DKIM1; k=rsa", DKIM_RSA_SHA256, DKIM_KEY_NO_P, "key record without p="},
        {"v=DKIM1; k=rsa; p=", DKIM_RSA_SHA256, DKIM_KEY_REVOKED, "key revoked (empty p=)"},
        {"v=DKIM1; p=AAAA%s", DKIM_RSA_SHA256, DKIM_KEY_BAD_P,
         "key record: p= is not a valid public key"},
        /* The first failing check decides: a bad version before a bad p=. */
        {"v=DKIM9; p=", DKIM_RSA_SHA256, DKIM_KEY_VERSION,
         "key record: v= is not DKIM1 or not first"},
        {"v=DKIM1; k=ed25519; h=sha1; p=", DKIM_ED25519_SHA256, DKIM_KEY_HASH,
         "key record h= excludes the signature's hash"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dkim_key_info info;
        const char *why = NULL;
        int got = read_problem(cases[i].record, k->rsa_p, cases[i].alg, &info, &why, NULL);
        if (got != cases[i].problem)
            fail_msg("%s: problem %d, want %d (%s)", cases[i].record, got, cases[i].problem,
                     why ? why : "");
        if (cases[i].why && strcmp(why, cases[i].why) != 0)
            fail_msg("%s: why \"%s\"", cases[i].record, why);
    }
}

static void test_what_a_record_reports(void **state)
{
    struct keys *k = *state;
    struct dkim_key_info info;
    const char *why = "unset";
    fa_err err;
    assert_int_equal(read_problem("v=DKIM1; k=ed25519; t=y:s; h=sha256; s=email; p=%s", k->ed_p, -1,
                                  &info, &why, &err),
                     DKIM_KEY_OK);
    assert_string_equal(why, "unset");               /* untouched on success */
    assert_int_equal(info.alg, DKIM_ED25519_SHA256); /* -1: the record's own k= decides */
    assert_int_equal(info.type, KEY_ED25519);
    assert_int_equal(info.bits, 256);
    assert_int_equal(info.testing, 1);
    assert_int_equal(info.strict, 1);
    assert_int_equal(info.k_len, 7);
    assert_memory_equal(info.k, "ed25519", 7);
    assert_int_equal(info.h_len, 6);
    assert_memory_equal(info.h, "sha256", 6);
    assert_memory_equal(info.s, "email", 5);

    assert_int_equal(read_problem("p=%s", k->rsa_p, -1, &info, NULL, NULL), DKIM_KEY_OK);
    assert_int_equal(info.alg, DKIM_RSA_SHA256);
    assert_int_equal(info.type, KEY_RSA);
    assert_int_equal(info.bits, 1024);
    assert_int_equal(info.testing, 0);
    assert_null(info.k);
    assert_null(info.h);
    assert_null(info.s);

    /* A record that fails before k= was read has no type yet. */
    assert_int_equal(read_problem("v=x; p=%s", k->rsa_p, -1, &info, NULL, NULL), DKIM_KEY_VERSION);
    assert_int_equal(info.type, -1);

    /* The old PKCS#1 form of p= reads too. */
    assert_int_equal(read_problem("v=DKIM1; p=%s", p1024_pkcs1, DKIM_RSA_SHA256, &info, NULL, NULL),
                     DKIM_KEY_OK);
    assert_int_equal(info.bits, 1024);

    /* A short RSA key is no usable key (keys.h refuses it, RFC 8301): err
     * gives its size. */
    memset(&err, 0, sizeof(err));
    assert_int_equal(read_problem("v=DKIM1; p=%s", p512, DKIM_RSA_SHA256, &info, &why, &err),
                     DKIM_KEY_BAD_P);
    assert_string_equal(why, "key record: p= is not a valid public key");
    if (!strstr(err.msg, "512"))
        fail_msg("%s", err.msg);
    /* A p= that is no key: err says what is wrong with it. */
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        read_problem("v=DKIM1; k=ed25519; p=%s", "AAAA", DKIM_ED25519_SHA256, &info, &why, &err),
        DKIM_KEY_BAD_P);
    assert_true(err.msg[0] != '\0');
}

static void test_parse_key_record(void **state)
{
    struct keys *k = *state;
    char rec[700];
    int testing = -1, strict = -1, result = -1;
    const char *why = NULL;
    snprintf(rec, sizeof(rec), "v=DKIM1; t=y; p=%s", k->rsa_p);
    struct fa_key *key =
        dkim_parse_key_record(rec, strlen(rec), DKIM_RSA_SHA256, &testing, &strict, &result, &why);
    assert_non_null(key);
    assert_int_equal(result, DKIM_PASS);
    assert_int_equal(testing, 1);
    assert_int_equal(strict, 0);
    key_free(key);
    snprintf(rec, sizeof(rec), "v=DKIM1; p=");
    assert_null(
        dkim_parse_key_record(rec, strlen(rec), DKIM_RSA_SHA256, &testing, &strict, &result, &why));
    assert_int_equal(result, DKIM_PERMERROR);
    assert_string_equal(why, "key revoked (empty p=)");
}

static void test_fetch(void **state)
{
    struct keys *k = *state;
    char zone[4096];
    snprintf(zone, sizeof(zone),
             "a._domainkey.example.org. TXT \"v=DKIM1; k=rsa; p=\"\n"
             "a._domainkey.example.org. TXT \"v=DKIM1; k=rsa; t=s; p=%s\"\n"
             "bad._domainkey.example.org. TXT \"v=DKIM1; p=\"\n"
             "bad._domainkey.example.org. TXT \"v=DKIM1; k=dsa; p=AAAA\"\n"
             "ed._domainkey.example.org. TXT \"v=DKIM1; k=ed25519; p=%s\"\n"
             "slow._domainkey.example.org. TIMEOUT\n"
             "nodata._domainkey.example.org. A 192.0.2.1\n",
             k->rsa_p, k->ed_p);
    struct dns *d = test_zone(zone);
    static const struct {
        const char *selector;
        int alg, result, strict;
        const char *why;
    } cases[] = {
        {"a", DKIM_RSA_SHA256, DKIM_PASS, 1, NULL}, /* the second record reads */
        {"A", DKIM_RSA_SHA256, DKIM_PASS, 1, NULL}, /* DNS names ignore case */
        {"a", DKIM_ED25519_SHA256, DKIM_PERMERROR, 0,
         "key type does not match the signature algorithm"},
        {"ed", DKIM_ED25519_SHA256, DKIM_PASS, 0, NULL},
        /* none reads: the last record's reason */
        {"bad", DKIM_RSA_SHA256, DKIM_PERMERROR, 0, "key record: unknown key type"},
        {"slow", DKIM_RSA_SHA256, DKIM_TEMPERROR, 0, "key lookup failed temporarily"},
        {"absent", DKIM_RSA_SHA256, DKIM_PERMERROR, 0, "no key for signature"},
        {"nodata", DKIM_RSA_SHA256, DKIM_PERMERROR, 0, "no key for signature"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int testing = -1, strict = -1, result = -1;
        const char *why = NULL;
        struct fa_key *key = dkim_key_fetch(d, cases[i].selector, "example.org", cases[i].alg,
                                            &testing, &strict, &result, &why);
        if (cases[i].result == DKIM_PASS) {
            if (!key)
                fail_msg("%s: no key: %s", cases[i].selector, why);
            assert_int_equal(strict, cases[i].strict);
            assert_int_equal(testing, 0);
        } else {
            assert_null(key);
            assert_int_equal(result, cases[i].result);
            if (strcmp(why, cases[i].why) != 0)
                fail_msg("%s: \"%s\"", cases[i].selector, why);
        }
        key_free(key);
    }
    dns_free(d);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const results[] = {"none",   "pass",      "fail",     "neutral",
                                          "policy", "temperror", "permerror"};
    for (int i = DKIM_NONE; i <= DKIM_PERMERROR; i++)
        assert_string_equal(dkim_result_name(i), results[i]);
    assert_string_equal(dkim_result_name(-1), "?");
    assert_string_equal(dkim_result_name(DKIM_PERMERROR + 1), "?");
    assert_string_equal(dkim_alg_name(DKIM_RSA_SHA256), "rsa-sha256");
    assert_string_equal(dkim_alg_name(DKIM_ED25519_SHA256), "ed25519-sha256");
    assert_string_equal(dkim_alg_name(DKIM_RSA_SHA1), "rsa-sha1");
    assert_string_equal(dkim_alg_name(-1), "unknown");
    assert_string_equal(dkim_alg_name(3), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_problems_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_a_record_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_key_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
