/* Unit tests for keys: PEM loading and refusals, DNS records as OpenSSL's own
 * tools write them, signatures compared byte for byte with `openssl pkeyutl`
 * (RSA PKCS#1 v1.5 and Ed25519 are deterministic). Keys are made at test
 * time with the openssl command into a private temp folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "b64.h"
#include "keys.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char path_buf[256];

static const char *P(const char *name)
{
    snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
    return path_buf;
}

/* Run a shell command in dir; fail the test if it fails. */
static void sh(const char *command)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cd %s && %s", dir, command);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

/* The first line a shell command prints, without the newline. */
static void sh_out(char *out, size_t outsz, const char *cmd)
{
    char full[1024];
    snprintf(full, sizeof(full), "cd %s && %s", dir, cmd);
    FILE *f = popen(full, "r");
    assert_non_null(f);
    if (!fgets(out, (int)outsz, f))
        out[0] = '\0';
    assert_int_equal(pclose(f), 0);
    out[strcspn(out, "\n")] = '\0';
}

static size_t read_bin(const char *name, uint8_t *buf, size_t sz)
{
    FILE *f = fopen(P(name), "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sz, f);
    fclose(f);
    return n;
}

static void write_bin(const char *name, const uint8_t *buf, size_t n)
{
    FILE *f = fopen(P(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/fwdauth-keys-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char cmd[1024];
    snprintf(
        cmd, sizeof(cmd),
        "cd %s && umask 077 && "
        "openssl genrsa -traditional -out rsa1.pem 2048 2>/dev/null && "
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa8.pem 2>/dev/null && "
        "openssl genpkey -algorithm ED25519 -out ed.pem && "
        "openssl genrsa -traditional -out small.pem 512 2>/dev/null && "
        "openssl genrsa -traditional -out big.pem 4104 2>/dev/null && "
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem 2>/dev/null && "
        "openssl dsaparam -genkey -noout -out dsa.pem 1024 2>/dev/null && "
        "openssl genpkey -algorithm ED25519 -aes256 -pass pass:x -out enc.pem && "
        "openssl pkey -in rsa1.pem -pubout -out pub.pem && "
        "cp ed.pem loose.pem && chmod 644 loose.pem",
        dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct fa_key *load(const char *name)
{
    fa_err err = {{0}};
    struct fa_key *k = key_load_private(P(name), getuid(), &err);
    if (!k)
        fail_msg("%s: %s", name, err.msg);
    return k;
}

static void test_load_pkcs1_pkcs8_ed25519(void **state)
{
    (void)state;
    struct fa_key *k = load("rsa1.pem");
    assert_int_equal(key_type(k), KEY_RSA);
    assert_int_equal(key_bits(k), 2048);
    assert_true(key_is_private(k));
    key_free(k);
    k = load("rsa8.pem");
    assert_int_equal(key_type(k), KEY_RSA);
    assert_int_equal(key_bits(k), 1024);
    key_free(k);
    k = load("ed.pem");
    assert_int_equal(key_type(k), KEY_ED25519);
    assert_int_equal(key_bits(k), 256);
    key_free(k);
}

static void test_key_from_pem(void **state)
{
    (void)state;
    char buf[8192];
    size_t n = read_bin("rsa1.pem", (uint8_t *)buf, sizeof(buf));
    fa_err err;
    struct fa_key *k = key_from_pem(buf, n, &err);
    assert_non_null(k);
    assert_int_equal(key_bits(k), 2048);
    key_free(k);
    assert_null(key_from_pem("not a key", 9, &err));
    assert_non_null(strstr(err.msg, "no private key"));
}

static void refused(const char *name, const char *why)
{
    fa_err err = {{0}};
    struct fa_key *k = key_load_private(P(name), getuid(), &err);
    if (k) {
        key_free(k);
        fail_msg("%s was accepted", name);
    }
    if (!strstr(err.msg, why))
        fail_msg("%s: \"%s\" does not say \"%s\"", name, err.msg, why);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("loose.pem", "readable or writable by others");
    refused("small.pem", "512 bits refused");
    refused("big.pem", "4104 bits refused");
    refused("ec.pem", "EC (ECDSA) key type is not usable");
    refused("dsa.pem", "DSA key type is not usable");
    refused("enc.pem", "encrypted");
    refused("pub.pem", "no private key found");
    refused("nonexistent.pem", "cannot open");
}

static void test_generate_and_write(void **state)
{
    (void)state;
    fa_err err;
    struct fa_key *k = key_generate(KEY_RSA, 1024, &err);
    assert_non_null(k);
    assert_int_equal(key_write_private(k, P("gen.pem"), &err), 0);
    struct stat st;
    assert_int_equal(stat(P("gen.pem"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(key_write_private(k, P("gen.pem"), &err), -1);
    assert_non_null(strstr(err.msg, "refusing to overwrite"));
    /* PKCS#8 PEM, and it reads back as the same key */
    char line[128];
    sh_out(line, sizeof(line), "head -1 gen.pem");
    assert_string_equal(line, "-----BEGIN PRIVATE KEY-----");
    struct fa_key *back = load("gen.pem");
    assert_true(key_public_equal(k, back));
    key_free(back);
    key_free(k);

    k = key_generate(KEY_ED25519, 0, &err);
    assert_non_null(k);
    assert_int_equal(key_type(k), KEY_ED25519);
    assert_int_equal(key_write_private(k, P("gen-ed.pem"), &err), 0);
    back = load("gen-ed.pem");
    assert_true(key_public_equal(k, back));
    key_free(back);
    key_free(k);

    assert_null(key_generate(KEY_RSA, 512, &err));
    assert_null(key_generate(KEY_RSA, 8192, &err));
    assert_null(key_generate(KEY_ED25519, 2048, &err));
    assert_null(key_generate(7, 2048, &err));
}

/* p= of a known key equals what `openssl pkey -pubout -outform DER | base64` gives. */
static void test_dns_record_matches_openssl(void **state)
{
    (void)state;
    char want[2048], rec[2048], p[2048];
    struct fa_key *k = load("rsa1.pem");
    sh_out(want, sizeof(want), "openssl pkey -in rsa1.pem -pubout -outform DER | base64 -w0");
    assert_int_equal(key_public_b64(k, p, sizeof(p)), (int)strlen(want));
    assert_string_equal(p, want);
    int n = key_dns_record(k, rec, sizeof(rec));
    assert_int_equal(n, (int)strlen(rec));
    assert_int_equal(strncmp(rec, "v=DKIM1; k=rsa; p=", 18), 0);
    assert_string_equal(rec + 18, want);
    assert_int_equal(key_dns_record(k, rec, 100), -1); /* too small */
    key_free(k);

    k = load("ed.pem");
    /* RFC 8463: the raw 32 octets, the tail of the 44-octet SPKI */
    sh_out(want, sizeof(want),
           "openssl pkey -in ed.pem -pubout -outform DER | tail -c 32 | base64 -w0");
    n = key_dns_record(k, rec, sizeof(rec));
    assert_int_equal(n, (int)strlen(rec));
    assert_int_equal(strncmp(rec, "v=DKIM1; k=ed25519; p=", 22), 0);
    assert_string_equal(rec + 22, want);
    assert_int_equal(strlen(want), 44);
    key_free(k);
}

/* The quoted strings of a zone line, joined, are the record; none is over 255. */
static void check_zone_line(const struct fa_key *k, const char *sel, const char *dom,
                            const char *prefix)
{
    char line[4096], rec[2048], joined[2048];
    size_t jn = 0;
    int n = key_dns_zone_line(k, sel, dom, line, sizeof(line));
    assert_int_equal(n, (int)strlen(line));
    assert_int_equal(strncmp(line, prefix, strlen(prefix)), 0);
    key_dns_record(k, rec, sizeof(rec));
    int strings = 0;
    for (const char *q = strchr(line, '"'); q; q = strchr(q, '"')) {
        const char *e = strchr(q + 1, '"');
        assert_non_null(e);
        size_t len = (size_t)(e - q - 1);
        assert_true(len <= 255);
        memcpy(joined + jn, q + 1, len);
        jn += len;
        strings++;
        q = e + 1;
    }
    joined[jn] = '\0';
    assert_string_equal(joined, rec);
    assert_true(strings == (int)((strlen(rec) + 254) / 255));
    assert_int_equal(key_dns_zone_line(k, sel, dom, line, 60), -1);
}

static void test_zone_line(void **state)
{
    (void)state;
    struct fa_key *k = load("rsa1.pem");
    check_zone_line(k, "sel", "example.org", "sel._domainkey.example.org. 3600 IN TXT \"v=DKIM1;");
    check_zone_line(k, "a.b", "example.org.", "a.b._domainkey.example.org. 3600 IN TXT \"");
    key_free(k);
    k = load("ed.pem");
    check_zone_line(k, "ed", "example.org", "ed._domainkey.example.org. 3600 IN TXT \"v=DKIM1;");
    key_free(k);
    /* RSA-4096: three strings */
    fa_err err;
    k = key_generate(KEY_RSA, 4096, &err);
    assert_non_null(k);
    check_zone_line(k, "big", "example.org", "big._domainkey.example.org. 3600 IN TXT \"");
    key_free(k);
}

static void test_from_dns_p_round_trip(void **state)
{
    (void)state;
    fa_err err;
    char p[2048], spaced[4096];
    const char *names[] = {"rsa1.pem", "rsa8.pem", "ed.pem"};
    for (size_t i = 0; i < 3; i++) {
        struct fa_key *k = load(names[i]);
        int n = key_public_b64(k, p, sizeof(p));
        assert_true(n > 0);
        struct fa_key *pub = key_from_dns_p(key_type(k), p, (size_t)n, &err);
        assert_non_null(pub);
        assert_false(key_is_private(pub));
        assert_int_equal(key_bits(pub), key_bits(k));
        assert_true(key_public_equal(k, pub));
        key_free(pub);
        /* folding white space inside p= (RFC 6376 section 3.2) */
        size_t o = 0;
        for (int j = 0; j < n; j++) {
            spaced[o++] = p[j];
            if (j % 20 == 19) {
                memcpy(spaced + o, "\r\n\t ", 4);
                o += 4;
            }
        }
        pub = key_from_dns_p(key_type(k), spaced, o, &err);
        assert_non_null(pub);
        assert_true(key_public_equal(k, pub));
        key_free(pub);
        key_free(k);
    }
    /* PKCS#1 RSAPublicKey, as some old publishers write p= */
    sh_out(p, sizeof(p),
           "openssl rsa -in rsa1.pem -RSAPublicKey_out -outform DER 2>/dev/null "
           "| base64 -w0");
    struct fa_key *k = load("rsa1.pem");
    struct fa_key *pub = key_from_dns_p(KEY_RSA, p, strlen(p), &err);
    assert_non_null(pub);
    assert_true(key_public_equal(k, pub));
    key_free(pub);
    key_free(k);
}

static void dns_p_refused(int type, const char *p, const char *why)
{
    fa_err err = {{0}};
    struct fa_key *k = key_from_dns_p(type, p, strlen(p), &err);
    if (k) {
        key_free(k);
        fail_msg("p=%s was accepted", p);
    }
    if (!strstr(err.msg, why))
        fail_msg("p=%s: \"%s\" does not say \"%s\"", p, err.msg, why);
}

static void test_from_dns_p_garbage(void **state)
{
    (void)state;
    char p[4096], edp[128];
    dns_p_refused(KEY_RSA, "", "revoked");
    dns_p_refused(KEY_ED25519, "  \t", "revoked");
    dns_p_refused(KEY_RSA, "!!!!", "not valid base64");
    dns_p_refused(KEY_RSA, "aGVsbG8gd29ybGQ=", "not a public key");
    dns_p_refused(KEY_ED25519, "aGVsbG8gd29ybGQ=", "32 octets");
    dns_p_refused(7, "aGVsbG8gd29ybGQ=", "unknown key type");
    /* keys of the wrong type or size */
    sh_out(p, sizeof(p), "openssl pkey -in ec.pem -pubout -outform DER | base64 -w0");
    dns_p_refused(KEY_RSA, p, "another type");
    sh_out(p, sizeof(p), "openssl pkey -in small.pem -pubout -outform DER | base64 -w0");
    dns_p_refused(KEY_RSA, p, "512 bits refused");
    /* an Ed25519 SPKI is not the raw key RFC 8463 wants */
    sh_out(edp, sizeof(edp), "openssl pkey -in ed.pem -pubout -outform DER | base64 -w0");
    dns_p_refused(KEY_ED25519, edp, "32 octets");
    dns_p_refused(KEY_RSA, edp, "another type");
    /* trailing octets after a valid DER */
    sh_out(p, sizeof(p),
           "(openssl pkey -in rsa1.pem -pubout -outform DER; printf 'xyz') | base64 -w0");
    dns_p_refused(KEY_RSA, p, "not a public key");
    /* an even public exponent (65536 for 65537) */
    sh_out(p, sizeof(p), "openssl pkey -in rsa8.pem -pubout -outform DER | base64 -w0");
    uint8_t der[1024];
    int dn = b64_decode(p, strlen(p), der, sizeof(der));
    assert_true(dn > 5);
    assert_memory_equal(der + dn - 5, "\x02\x03\x01\x00\x01", 5);
    der[dn - 1] = 0;
    assert_true(b64_encode(der, (size_t)dn, p, sizeof(p)) > 0);
    dns_p_refused(KEY_RSA, p, "exponent");
    /* longer than any key */
    memset(p, 'A', sizeof(p) - 1);
    p[sizeof(p) - 1] = '\0';
    dns_p_refused(KEY_RSA, p, "too long");
}

static void test_public_equal(void **state)
{
    (void)state;
    struct fa_key *a = load("rsa1.pem"), *b = load("rsa8.pem"), *e = load("ed.pem");
    assert_true(key_public_equal(a, a));
    assert_false(key_public_equal(a, b));
    assert_false(key_public_equal(a, e));
    assert_false(key_public_equal(a, NULL));
    key_free(a);
    key_free(b);
    key_free(e);
}

static const uint8_t digest32[32] = {
    0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0x65, 0x9a, 0x2f, 0xea, 0xa0, 0xc5, 0x5a, 0xd0, 0x15,
    0xa3, 0xbf, 0x4f, 0x1b, 0x2b, 0x0b, 0x82, 0x2c, 0xd1, 0x5d, 0x6c, 0x15, 0xb0, 0xf0, 0x0a, 0x08};

static void round_trip(const char *name, size_t want_len)
{
    fa_err err;
    uint8_t sig[KEY_SIG_MAX], d[32];
    size_t n = 0;
    struct fa_key *k = load(name);
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA256, digest32, 32, sig, &n, &err), 0);
    assert_int_equal(n, want_len);
    assert_int_equal(key_verify_digest(k, KEY_MD_SHA256, digest32, 32, sig, n, &err), 1);
    /* the public half alone verifies too */
    char p[2048];
    int pn = key_public_b64(k, p, sizeof(p));
    struct fa_key *pub = key_from_dns_p(key_type(k), p, (size_t)pn, &err);
    assert_non_null(pub);
    assert_int_equal(key_verify_digest(pub, KEY_MD_SHA256, digest32, 32, sig, n, &err), 1);
    /* tampered digest, tampered or short signature: bad, not an error */
    memcpy(d, digest32, 32);
    d[31] ^= 1;
    assert_int_equal(key_verify_digest(pub, KEY_MD_SHA256, d, 32, sig, n, &err), 0);
    sig[0] ^= 0x40;
    assert_int_equal(key_verify_digest(pub, KEY_MD_SHA256, digest32, 32, sig, n, &err), 0);
    sig[0] ^= 0x40;
    assert_int_equal(key_verify_digest(pub, KEY_MD_SHA256, digest32, 32, sig, n - 1, &err), 0);
    assert_int_equal(key_verify_digest(pub, KEY_MD_SHA256, digest32, 32, sig, 0, &err), 0);
    /* misuse is an error */
    assert_int_equal(key_sign_digest(pub, KEY_MD_SHA256, digest32, 32, sig, &n, &err), -1);
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA256, digest32, 20, sig, &n, &err), -1);
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA1, digest32, 20, sig, &n, &err), -1);
    assert_int_equal(key_sign_digest(k, 9, digest32, 32, sig, &n, &err), -1);
    assert_int_equal(key_verify_digest(k, KEY_MD_SHA256, digest32, 31, sig, n, &err), -1);
    key_free(pub);
    key_free(k);
}

static void test_sign_verify_round_trip(void **state)
{
    (void)state;
    round_trip("rsa1.pem", 256);
    round_trip("rsa8.pem", 128);
    round_trip("ed.pem", 64);
}

/* PKCS#1 v1.5 and Ed25519 signatures are deterministic: ours must equal the
 * bytes `openssl pkeyutl` makes, and verify theirs (rsa-sha1 included). */
static void test_signatures_equal_openssl(void **state)
{
    (void)state;
    fa_err err;
    uint8_t ours[KEY_SIG_MAX], theirs[KEY_SIG_MAX];
    size_t n;
    write_bin("digest32", digest32, 32);
    write_bin("digest20", digest32, 20);

    struct fa_key *k = load("rsa1.pem");
    sh("openssl pkeyutl -sign -inkey rsa1.pem -pkeyopt digest:sha256 -in digest32 -out s256");
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA256, digest32, 32, ours, &n, &err), 0);
    assert_int_equal(read_bin("s256", theirs, sizeof(theirs)), n);
    assert_memory_equal(ours, theirs, n);
    sh("openssl pkeyutl -sign -inkey rsa1.pem -pkeyopt digest:sha1 -in digest20 -out s1");
    n = read_bin("s1", theirs, sizeof(theirs));
    assert_int_equal(key_verify_digest(k, KEY_MD_SHA1, digest32, 20, theirs, n, &err), 1);
    assert_int_equal(key_verify_digest(k, KEY_MD_SHA256, digest32, 32, theirs, n, &err), 0);
    key_free(k);

    k = load("ed.pem");
    sh("openssl pkeyutl -sign -rawin -inkey ed.pem -in digest32 -out sed");
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA256, digest32, 32, ours, &n, &err), 0);
    assert_int_equal(read_bin("sed", theirs, sizeof(theirs)), 64);
    assert_memory_equal(ours, theirs, 64);
    assert_int_equal(key_verify_digest(k, KEY_MD_SHA1, digest32, 20, theirs, 64, &err), -1);
    key_free(k);
}

/* RFC 8463 Appendix A.2: the published Ed25519 key, as p= and as a private key. */
static void test_rfc8463_key(void **state)
{
    (void)state;
    static const char pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
                              "-----END PRIVATE KEY-----\n";
    static const char p[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    fa_err err;
    struct fa_key *k = key_from_pem(pem, sizeof(pem) - 1, &err);
    assert_non_null(k);
    char rec[256];
    key_dns_record(k, rec, sizeof(rec));
    assert_string_equal(rec, "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    struct fa_key *pub = key_from_dns_p(KEY_ED25519, p, strlen(p), &err);
    assert_non_null(pub);
    assert_true(key_public_equal(k, pub));
    key_free(pub);
    key_free(k);
}

/* Remote keys: signing goes through the given function; the digest is
 * checked first; a reply of the wrong size is refused; key_free releases
 * once; what needs key material here fails. */
struct remote_arg {
    struct fa_key *local;
    int calls, released, short_reply;
};

static int remote_sign(void *arg, int md, const uint8_t *digest, size_t dlen, uint8_t *sig,
                       size_t *siglen, fa_err *err)
{
    struct remote_arg *r = arg;
    r->calls++;
    if (key_sign_digest(r->local, md, digest, dlen, sig, siglen, err) < 0)
        return -1;
    if (r->short_reply)
        (*siglen)--;
    return 0;
}

static void remote_release(void *arg)
{
    ((struct remote_arg *)arg)->released++;
}

static void test_remote_key(void **state)
{
    (void)state;
    fa_err err;
    struct remote_arg r = {load("rsa1.pem"), 0, 0, 0};
    struct key_remote_ops ops = {remote_sign, remote_release};
    struct fa_key *k = key_remote(KEY_RSA, 2048, &ops, &r, &err);
    assert_non_null(k);
    assert_int_equal(key_type(k), KEY_RSA);
    assert_int_equal(key_bits(k), 2048);
    assert_true(key_is_private(k));
    uint8_t sig[KEY_SIG_MAX], want[KEY_SIG_MAX];
    size_t n, wn;
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA256, digest32, 32, sig, &n, &err), 0);
    assert_int_equal(key_sign_digest(r.local, KEY_MD_SHA256, digest32, 32, want, &wn, &err), 0);
    assert_int_equal(n, wn);
    assert_memory_equal(sig, want, n);
    assert_int_equal(key_verify_digest(r.local, KEY_MD_SHA256, digest32, 32, sig, n, &err), 1);
    /* Checked here, never sent: a bad digest, SHA-1. */
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA256, digest32, 31, sig, &n, &err), -1);
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA1, digest32, 20, sig, &n, &err), -1);
    assert_int_equal(r.calls, 1);
    r.short_reply = 1;
    assert_int_equal(key_sign_digest(k, KEY_MD_SHA256, digest32, 32, sig, &n, &err), -1);
    assert_non_null(strstr(err.msg, "255 octets, not 256"));
    /* No key material here. */
    char out[1024];
    assert_int_equal(key_public_b64(k, out, sizeof(out)), -1);
    assert_int_equal(key_dns_record(k, out, sizeof(out)), -1);
    assert_int_equal(key_verify_digest(k, KEY_MD_SHA256, digest32, 32, want, wn, &err), -1);
    assert_false(key_public_equal(k, r.local));
    assert_int_equal(key_write_private(k, P("remote.pem"), &err), -1);
    key_free(k);
    assert_int_equal(r.released, 1);
    key_free(r.local);
    /* What cannot be a DKIM key is refused. */
    assert_null(key_remote(KEY_RSA, 512, &ops, &r, &err));
    assert_null(key_remote(KEY_ED25519, 255, &ops, &r, &err));
    assert_null(key_remote(7, 2048, &ops, &r, &err));
    struct key_remote_ops none = {NULL, NULL};
    assert_null(key_remote(KEY_RSA, 2048, &none, &r, &err));
    assert_int_equal(r.released, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_pkcs1_pkcs8_ed25519),
        cmocka_unit_test(test_key_from_pem),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_generate_and_write),
        cmocka_unit_test(test_dns_record_matches_openssl),
        cmocka_unit_test(test_zone_line),
        cmocka_unit_test(test_from_dns_p_round_trip),
        cmocka_unit_test(test_from_dns_p_garbage),
        cmocka_unit_test(test_public_equal),
        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_signatures_equal_openssl),
        cmocka_unit_test(test_rfc8463_key),
        cmocka_unit_test(test_remote_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
