/* Unit tests for srs: the published PostSRSd vector, SRS0/SRS1, expiry and
 * the 1024-day wrap, alphabets, case, quoting, limits and key rotation; with
 * a store (a fake one that counts what it is asked, and a fake clock): the
 * alias format and key scheme (PostSRSd 2's), hybrid and database modes,
 * forged and expired aliases refused without a lookup, what the store
 * answers; and the SRS domain per forwarding domain. */
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

/* ---- with a store: a fake one in memory, counting what it is asked ---- */

#define FAKE_MAX 16
struct fake_store {
    struct srs_store iface;
    char key[FAKE_MAX][SRS_STORE_KEY_LEN + 1];
    char val[FAKE_MAX][SRS_STORE_VALUE_MAX + 1];
    time_t expires[FAKE_MAX];
    size_t n;
    int gets, puts, frees;
    int down; /* every request fails */
};

static int fake_put(struct srs_store *st, const char *key, const char *value, size_t vlen,
                    unsigned ttl, time_t now, fa_err *err)
{
    struct fake_store *f = (struct fake_store *)st;
    f->puts++;
    if (f->down)
        return fa_err_set(err, "fake store down"), SRS_STORE_ERROR;
    size_t i = 0;
    while (i < f->n && strcmp(f->key[i], key) != 0)
        i++;
    if (i == f->n) {
        assert_true(f->n < FAKE_MAX);
        f->n++;
    }
    assert_int_equal(strlen(key), SRS_STORE_KEY_LEN);
    strcpy(f->key[i], key);
    memcpy(f->val[i], value, vlen);
    f->val[i][vlen] = '\0';
    f->expires[i] = now + (time_t)ttl;
    return SRS_STORE_OK;
}

static int fake_get(struct srs_store *st, const char *key, time_t now, char *value, size_t valsz,
                    size_t *vlen, fa_err *err)
{
    struct fake_store *f = (struct fake_store *)st;
    f->gets++;
    if (f->down)
        return fa_err_set(err, "fake store down"), SRS_STORE_ERROR;
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->key[i], key) == 0 && now < f->expires[i]) {
            size_t n = strlen(f->val[i]);
            assert_true(n < valsz);
            memcpy(value, f->val[i], n + 1);
            *vlen = n;
            return SRS_STORE_OK;
        }
    }
    return SRS_STORE_MISS;
}

static void fake_free(struct srs_store *st)
{
    ((struct fake_store *)st)->frees++;
}

static void fake_init(struct fake_store *f)
{
    memset(f, 0, sizeof(*f));
    f->iface.put = fake_put;
    f->iface.get = fake_get;
    f->iface.free = fake_free;
}

static srs *make_stored(struct fake_store *f, int mode, const char *domain)
{
    static const char *const secrets[] = {"tops3cr3t"};
    size_t lens[] = {9};
    struct srs_params p = {
        .domain = domain,
        .hash_length = 4,
        .max_age = 21,
        .separator = '=',
        .alphabet = FA_SRS_BASE64URL,
        .mode = mode,
        .store = &f->iface,
    };
    fa_err err;
    srs *s = srs_new(&p, secrets, lens, 1, &err);
    if (!s)
        fail_msg("srs_new: %s", err.msg);
    return s;
}

static int fwd_ex(const srs *s, const char *in, time_t now, char *out, struct srs_why *why)
{
    return srs_forward_ex(s, NULL, 0, in, strlen(in), now, out, SRS_ADDR_MAX, why);
}

static int rev_ex(const srs *s, const char *in, time_t now, char *out, struct srs_why *why)
{
    return srs_reverse_ex(s, in, strlen(in), now, out, SRS_ADDR_MAX, why);
}

static size_t local_len(const char *addr)
{
    return (size_t)(strrchr(addr, '@') - addr);
}

/* The key scheme and alias format are PostSRSd 2's: base32hex(SHA-1) of the
 * sender, "@1", and the SRS0 that srs_forward makes of "KEY@1". */
static void test_alias_format(void **state)
{
    (void)state;
    char key[SRS_STORE_KEY_LEN + 1];
    assert_int_equal(srs_store_key("test@otherdomain.com", 20, key), 0);
    assert_string_equal(key, "DCJGDE6N24LCRT41A4T0G1UIF0DTKKQJ@1"); /* Python's b32hexencode */
    struct fake_store f;
    fake_init(&f);
    srs *s = make_stored(&f, SRS_MODE_DATABASE, "example.com");
    char out[SRS_ADDR_MAX];
    struct srs_why why;
    assert_int_equal(fwd_ex(s, "test@otherdomain.com", VECTOR_TIME, out, &why), SRS_OK);
    /* what PostSRSd 2 makes: libsrs2's SRS0 of "KEY@1" (hash over TT, "1"
     * and the key), computed by the Python model of test_postsrsd.py */
    assert_string_equal(out, "SRS0=bxzH=2W=1=DCJGDE6N24LCRT41A4T0G1UIF0DTKKQJ@example.com");
    assert_int_equal(f.puts, 1);
    assert_string_equal(f.key[0], key);
    assert_string_equal(f.val[0], "test@otherdomain.com");
    /* srs_max_age days, and the rest of the day the stamp counts from */
    assert_int_equal(f.expires[0], VECTOR_TIME + 22 * DAY);
    srs_free(s);
    assert_int_equal(f.frees, 1); /* srs owns its store */
}

static const char long_sender[] =
    "newsletter-bounces+subscriber.number.12345@mailing-lists.example-company.com";

static void test_hybrid_stores_only_what_does_not_fit(void **state)
{
    (void)state;
    struct fake_store f;
    fake_init(&f);
    srs *s = make_stored(&f, SRS_MODE_HYBRID, "fwd.example.net");
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    struct srs_why why;
    assert_int_equal(fwd_ex(s, "test@otherdomain.com", VECTOR_TIME, out, &why), SRS_OK);
    assert_true(strncmp(out, "SRS0=", 5) == 0 && strstr(out, "=otherdomain.com=test@"));
    assert_int_equal(f.puts, 0); /* fits: stateless */
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_OK);
    assert_int_equal(f.gets, 0);

    assert_int_equal(fwd_ex(s, long_sender, VECTOR_TIME, out, &why), SRS_OK);
    assert_int_equal(f.puts, 1);
    assert_true(strncmp(out, "SRS0=", 5) == 0 && strstr(out, "=1="));
    assert_int_equal(local_len(out), 47); /* 43 + hash_length */
    assert_int_equal(rev_ex(s, out, VECTOR_TIME + 20 * DAY, back, &why), SRS_OK);
    assert_string_equal(back, long_sender);
    assert_int_equal(f.gets, 1);
    /* Relays change case: the key is looked up upper case. */
    char lower[SRS_ADDR_MAX];
    for (size_t i = 0; out[i]; i++)
        lower[i] = (char)(out[i] >= 'A' && out[i] <= 'Z' ? out[i] + 32 : out[i]), lower[i + 1] = 0;
    assert_int_equal(rev_ex(s, lower, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, long_sender);
    /* The same sender again: the same key, refreshed, not a new entry. */
    assert_int_equal(fwd_ex(s, long_sender, VECTOR_TIME + DAY, out, &why), SRS_OK);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.expires[0], VECTOR_TIME + 23 * DAY);
    srs_free(s);
}

/* A forged or expired alias is refused before the store is asked. */
static void test_alias_forged_or_expired_costs_no_lookup(void **state)
{
    (void)state;
    struct fake_store f;
    fake_init(&f);
    srs *s = make_stored(&f, SRS_MODE_HYBRID, "fwd.example.net");
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX], bad[SRS_ADDR_MAX];
    struct srs_why why;
    assert_int_equal(fwd_ex(s, long_sender, VECTOR_TIME, out, &why), SRS_OK);
    /* a changed hash */
    strcpy(bad, out);
    bad[5] = bad[5] == 'A' ? 'B' : 'A';
    assert_int_equal(rev_ex(s, bad, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_BAD_HASH);
    /* a key of someone else's choosing under our hash */
    strcpy(bad, out);
    char *k = strstr(bad, "=1=") + 3;
    k[0] = k[0] == '0' ? '1' : '0';
    assert_int_equal(rev_ex(s, bad, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_BAD_HASH);
    /* a changed time stamp */
    strcpy(bad, out);
    bad[11] = bad[11] == 'A' ? 'B' : 'A';
    assert_int_equal(rev_ex(s, bad, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_BAD_HASH);
    /* expired: the fake clock says 22 days later (max age 21) */
    assert_int_equal(rev_ex(s, out, VECTOR_TIME + 22 * DAY, back, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_EXPIRED);
    assert_int_equal(f.gets, 0);
    /* while the genuine one is still served on its last valid day (the
     * stamp counts whole days: VECTOR_TIME is early on day 2W) */
    time_t last = VECTOR_TIME - VECTOR_TIME % DAY + 22 * DAY - 1;
    assert_int_equal(rev_ex(s, out, last, back, &why), SRS_OK);
    assert_int_equal(f.gets, 1);
    srs_free(s);
}

static void test_alias_store_answers(void **state)
{
    (void)state;
    struct fake_store f;
    fake_init(&f);
    srs *s = make_stored(&f, SRS_MODE_HYBRID, "fwd.example.net");
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    struct srs_why why;
    assert_int_equal(fwd_ex(s, long_sender, VECTOR_TIME, out, &why), SRS_OK);
    /* a value that does not hash to its key: corruption, or a foreign write */
    f.val[0][0] = 'X';
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_BAD_VALUE);
    /* the store lost it (a restart without persistence) */
    f.n = 0;
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_UNKNOWN_KEY);
    /* down: a temporary answer for what needs it, nothing else affected */
    f.down = 1;
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_TEMP);
    assert_int_equal(why.reason, SRS_R_STORE_FAILED);
    assert_non_null(strstr(why.text, "fake store down"));
    assert_int_equal(fwd_ex(s, long_sender, VECTOR_TIME, out, &why), SRS_TEMP);
    assert_int_equal(why.reason, SRS_R_STORE_FAILED);
    int puts = f.puts, gets = f.gets;
    assert_int_equal(fwd_ex(s, "test@otherdomain.com", VECTOR_TIME, out, &why), SRS_OK);
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_OK);
    assert_int_equal(f.puts + f.gets, puts + gets);
    srs_free(s);

    /* an alias reaching a stateless engine with no store at all */
    fake_init(&f);
    s = make_stored(&f, SRS_MODE_HYBRID, "fwd.example.net");
    assert_int_equal(fwd_ex(s, long_sender, VECTOR_TIME, out, &why), SRS_OK);
    srs_free(s);
    static const char *const secrets[] = {"tops3cr3t"};
    srs *none = make("fwd.example.net", secrets, 1, FA_SRS_BASE64URL, 4, 0, '=');
    assert_int_equal(rev_ex(none, out, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_NO_STORE);
    srs_free(none);
}

/* The issue's example: SRS1 of this SRS0 would be 65 octets. */
static void test_srs0_of_another_forwarder(void **state)
{
    (void)state;
    static const char srs0[] = "SRS0=AbCd=2W=origin.example=someone@other-forwarder.example";
    static const char *const secrets[] = {"tops3cr3t"};
    srs *stateless = make("fwd.example.net", secrets, 1, FA_SRS_BASE64URL, 4, 0, '=');
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    struct srs_why why;
    assert_int_equal(fwd_ex(stateless, srs0, VECTOR_TIME, out, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_TOO_LONG);
    srs_free(stateless);

    struct fake_store f;
    fake_init(&f);
    srs *s = make_stored(&f, SRS_MODE_HYBRID, "fwd.example.net");
    assert_int_equal(fwd_ex(s, srs0, VECTOR_TIME, out, &why), SRS_OK);
    assert_true(local_len(out) < 65);
    assert_true(strncmp(out, "SRS0=", 5) == 0 && strstr(out, "=1=")); /* our alias */
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, srs0); /* the bounce goes back to the first forwarder */
    /* one that fits stays an ordinary SRS1, not stored */
    int puts = f.puts;
    assert_int_equal(fwd_ex(s, "SRS0=AbCd=2W=o.example=me@hop1.example", VECTOR_TIME, out, &why),
                     SRS_OK);
    assert_true(strncmp(out, "SRS1=", 5) == 0);
    assert_int_equal(f.puts, puts);
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, "SRS0=AbCd=2W=o.example=me@hop1.example");
    srs_free(s);
}

static void test_database_mode(void **state)
{
    (void)state;
    struct fake_store f;
    fake_init(&f);
    srs *s = make_stored(&f, SRS_MODE_DATABASE, "fwd.example.net");
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    struct srs_why why;
    assert_int_equal(fwd_ex(s, "a@b.example", VECTOR_TIME, out, &why), SRS_OK);
    assert_int_equal(f.puts, 1); /* every plain sender */
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, "a@b.example");
    /* SRS addresses of others: SRS1 as usual */
    assert_int_equal(fwd_ex(s, "SRS0=AbCd=2W=o.example=me@hop1.example", VECTOR_TIME, out, &why),
                     SRS_OK);
    assert_true(strncmp(out, "SRS1=", 5) == 0);
    assert_int_equal(f.puts, 1);
    /* still not: the null sender, our domain */
    assert_int_equal(fwd_ex(s, "", VECTOR_TIME, out, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_EMPTY);
    assert_int_equal(fwd_ex(s, "x@fwd.example.net", VECTOR_TIME, out, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_OURS);
    srs_free(s);
}

/* A sender in the domain "1" would read as an alias: stored when possible. */
static void test_sender_in_domain_one(void **state)
{
    (void)state;
    struct fake_store f;
    fake_init(&f);
    srs *s = make_stored(&f, SRS_MODE_HYBRID, "fwd.example.net");
    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    struct srs_why why;
    static const char looks_like_key[] = "DCJGDE6N24LCRT41A4T0G1UIF0DTKKQJ@1";
    assert_int_equal(fwd_ex(s, looks_like_key, VECTOR_TIME, out, &why), SRS_OK);
    assert_int_equal(f.puts, 1);
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, looks_like_key);
    srs_free(s);
    /* Without a store it is left alone: its SRS0 could not be reversed. */
    srs *none = vector_srs(FA_SRS_BASE64URL);
    assert_int_equal(fwd_ex(none, looks_like_key, VECTOR_TIME, out, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_NOT_ADDRESS);
    assert_int_equal(fwd_ex(none, "someone@1", VECTOR_TIME, out, &why), SRS_OK);
    assert_int_equal(rev_ex(none, out, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, "someone@1");
    srs_free(none);
}

static void test_store_settings(void **state)
{
    (void)state;
    const char *secrets[] = {"x"};
    size_t lens[] = {1};
    fa_err err;
    struct fake_store f;
    fake_init(&f);
    struct srs_params p = {.domain = "d.example",
                           .hash_length = 4,
                           .max_age = 21,
                           .separator = '=',
                           .mode = SRS_MODE_HYBRID};
    assert_null(srs_new(&p, secrets, lens, 1, &err)); /* hybrid needs a store */
    p.mode = SRS_MODE_DATABASE;
    assert_null(srs_new(&p, secrets, lens, 1, &err));
    p.store = &f.iface;
    p.hash_length = SRS_ALIAS_HASH_MAX + 1; /* the alias would not fit */
    assert_null(srs_new(&p, secrets, lens, 1, &err));
    assert_int_equal(f.frees, 1); /* refused, and freed all the same */
    fake_init(&f);
    p.hash_length = SRS_ALIAS_HASH_MAX;
    srs *s = srs_new(&p, secrets, lens, 1, &err);
    assert_non_null(s);
    char out[SRS_ADDR_MAX];
    struct srs_why why;
    assert_int_equal(fwd_ex(s, "a@b.example", VECTOR_TIME, out, &why), SRS_OK);
    assert_int_equal(local_len(out), 64);
    srs_free(s);
}

static void test_value_check(void **state)
{
    (void)state;
    char key[SRS_STORE_KEY_LEN + 1];
    const char *why;
    assert_int_equal(srs_store_key("a@b.example", 11, key), 0);
    assert_int_equal(srs_store_value_check(key, "a@b.example", 11, &why), 0);
    assert_int_equal(srs_store_value_check(key, "A@b.example", 11, &why), -1);
    assert_int_equal(srs_store_value_check(key, "a@b.example\n", 12, &why), -1);
    assert_int_equal(srs_store_value_check(key, "", 0, &why), -1);
    assert_int_equal(srs_store_value_check(key, "no-at-sign", 10, &why), -1);
    assert_true(srs_store_key_valid("dcjgde6n24lcrt41a4t0g1uif0dtkkqj", 32));
    assert_false(srs_store_key_valid("DCJGDE6N24LCRT41A4T0G1UIF0DTKKQW", 32)); /* W: not b32hex */
    assert_false(srs_store_key_valid("DCJGDE6N24LCRT41A4T0G1UIF0DTKKQ", 31));
}

/* ---- SRS domain per forwarding domain ---------------------------------- */

static void test_domain_per_forwarding_domain(void **state)
{
    (void)state;
    static const char *const secrets[] = {"tops3cr3t"};
    static const char *const own[] = {"customer-two-secret"};
    size_t own_len[] = {strlen(own[0])};
    srs *s = make("srs.example.net", secrets, 1, FA_SRS_BASE64URL, 4, 0, '=');
    fa_err err;
    assert_int_equal(srs_add_domain(s, "one.example", "srs.one.example", NULL, NULL, 0, &err), 0);
    assert_int_equal(srs_add_domain(s, ".two.example", "srs.two.example", own, own_len, 1, &err),
                     0);
    assert_int_equal(srs_add_domain(s, "x.two.example", "srs.one.example", NULL, NULL, 0, &err), 0);
    /* refused: a forwarding domain twice, an SRS domain with other secrets */
    assert_int_equal(srs_add_domain(s, "ONE.example", "srs.three.example", NULL, NULL, 0, &err),
                     -1);
    assert_int_equal(srs_add_domain(s, "four.example", "srs.two.example", NULL, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "other secrets"));
    assert_int_equal(srs_add_domain(s, "five.example", "1", NULL, NULL, 0, &err), -1);
    assert_int_equal(srs_domain_count(s), 3);

    char out[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
    struct srs_why why;
    char *r1[] = {"<alias@one.example>"};
    char *r2[] = {"local@ours.example", "alias@deep.two.example"};
    char *r3[] = {"a@x.two.example"}; /* the longest pattern wins */
    const char *in = "test@otherdomain.com";
    assert_int_equal(srs_forward_ex(s, r1, 1, in, strlen(in), VECTOR_TIME, out, sizeof(out), &why),
                     SRS_OK);
    assert_string_equal(out, "SRS0=vmyz=2W=otherdomain.com=test@srs.one.example");
    assert_int_equal(srs_forward_ex(s, r3, 1, in, strlen(in), VECTOR_TIME, out, sizeof(out), &why),
                     SRS_OK);
    assert_string_equal(out, "SRS0=vmyz=2W=otherdomain.com=test@srs.one.example");
    assert_int_equal(srs_forward_ex(s, r2, 2, in, strlen(in), VECTOR_TIME, out, sizeof(out), &why),
                     SRS_OK);
    assert_true(strncmp(out, "SRS0=vmyz", 9) != 0); /* its own secret */
    assert_non_null(strstr(out, "@srs.two.example"));
    /* reverse accepts every SRS domain, each with its own secrets */
    assert_int_equal(rev_ex(s, out, VECTOR_TIME, back, &why), SRS_OK);
    assert_string_equal(back, in);
    char moved[SRS_ADDR_MAX];
    snprintf(moved, sizeof(moved), "%.*s@srs.one.example", (int)local_len(out), out);
    assert_int_equal(rev_ex(s, moved, VECTOR_TIME, back, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_BAD_HASH);
    /* an address in a domain that is none of ours: every domain's secrets */
    snprintf(moved, sizeof(moved), "%.*s@old-name.example", (int)local_len(out), out);
    assert_int_equal(rev_ex(s, moved, VECTOR_TIME, back, &why), SRS_OK);
    /* no forwarded recipient, or none mapped: the default */
    assert_int_equal(
        srs_forward_ex(s, NULL, 0, in, strlen(in), VECTOR_TIME, out, sizeof(out), &why), SRS_OK);
    assert_string_equal(out, "SRS0=vmyz=2W=otherdomain.com=test@srs.example.net");
    /* every SRS domain is ours: never rewritten again */
    assert_int_equal(fwd_ex(s, "x@srs.two.example", VECTOR_TIME, out, &why), SRS_UNCHANGED);
    assert_int_equal(why.reason, SRS_R_OURS);
    srs_free(s);
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
        cmocka_unit_test(test_alias_format),
        cmocka_unit_test(test_hybrid_stores_only_what_does_not_fit),
        cmocka_unit_test(test_alias_forged_or_expired_costs_no_lookup),
        cmocka_unit_test(test_alias_store_answers),
        cmocka_unit_test(test_srs0_of_another_forwarder),
        cmocka_unit_test(test_database_mode),
        cmocka_unit_test(test_sender_in_domain_one),
        cmocka_unit_test(test_store_settings),
        cmocka_unit_test(test_value_check),
        cmocka_unit_test(test_domain_per_forwarding_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
