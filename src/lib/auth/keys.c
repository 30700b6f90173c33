/* keys - DKIM/ARC keys with OpenSSL 3 EVP: load, generate, publish, sign; see keys.h. */
#include "keys.h"

#include "b64.h"
#include "secfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_DER_MAX 2048    /* an RSA-4096 SubjectPublicKeyInfo is 550 octets */
#define KEY_ED25519_RAW 32  /* RFC 8032 public key */
#define KEY_ZONE_CHUNK 255  /* RFC 1035 character-string */
#define KEY_ZONE_TTL "3600" /* in the zone line key_dns_zone_line writes */

struct fa_key {
    int type;
    unsigned bits;
    int priv;
    EVP_PKEY *pkey;
    /* Contexts set up once (RSA: padding and SHA-256, signing only for
     * private keys; Ed25519: signing) and copied per call: the init calls
     * fetch the signature method from the provider store under a lock, a
     * copy does not. The templates are never used directly, so the key
     * stays immutable and shareable between threads. */
    EVP_PKEY_CTX *rsa_sign256, *rsa_verify256;
    EVP_MD_CTX *ed_sign;   /* the same for private Ed25519 keys */
    EVP_MD *sha256, *sha1; /* fetched once per key */
    /* A remote key (key_remote): no pkey, signing through ops. */
    int remote;
    struct key_remote_ops ops;
    void *arg;
};

void key_free(struct fa_key *k)
{
    if (!k)
        return;
    if (k->remote && k->ops.release)
        k->ops.release(k->arg);
    EVP_PKEY_CTX_free(k->rsa_sign256);
    EVP_PKEY_CTX_free(k->rsa_verify256);
    EVP_MD_CTX_free(k->ed_sign);
    EVP_MD_free(k->sha256);
    EVP_MD_free(k->sha1);
    EVP_PKEY_free(k->pkey); /* OpenSSL cleanses private key material */
    free(k);
}

/* Leave nothing in OpenSSL's per-thread error queue for the next caller. */
static int ossl_fail(fa_err *err, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    if (buf[0])
        return fa_err_set(err, "%s (%s)", what, buf);
    return fa_err_set(err, "%s", what);
}

static EVP_PKEY_CTX *rsa_ctx(const struct fa_key *k, int sign, const EVP_MD *md)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
    if (!c)
        return NULL;
    if ((sign ? EVP_PKEY_sign_init(c) : EVP_PKEY_verify_init(c)) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(c, md) <= 0) {
        EVP_PKEY_CTX_free(c);
        return NULL;
    }
    return c;
}

/* Take ownership of pkey: check its type and size, wrap it. */
static struct fa_key *wrap(EVP_PKEY *pkey, int priv, const char *what, fa_err *err)
{
    int id = EVP_PKEY_get_base_id(pkey);
    int type;
    unsigned bits = (unsigned)EVP_PKEY_get_bits(pkey);
    if (id == EVP_PKEY_RSA) {
        type = KEY_RSA;
        if (bits < KEY_RSA_MIN_BITS || bits > KEY_RSA_MAX_BITS) {
            EVP_PKEY_free(pkey);
            fa_err_set(err, "%s: RSA key of %u bits refused: DKIM needs %d to %d bits (RFC 8301)",
                       what, bits, KEY_RSA_MIN_BITS, KEY_RSA_MAX_BITS);
            return NULL;
        }
    } else if (id == EVP_PKEY_ED25519) {
        type = KEY_ED25519;
        bits = 256;
    } else {
        const char *name = id == EVP_PKEY_EC        ? "EC (ECDSA)"
                           : id == EVP_PKEY_DSA     ? "DSA"
                           : id == EVP_PKEY_RSA_PSS ? "RSA-PSS"
                           : id == EVP_PKEY_ED448   ? "Ed448"
                                                    : "this";
        EVP_PKEY_free(pkey);
        fa_err_set(err, "%s: %s key type is not usable for DKIM: use RSA or Ed25519", what, name);
        return NULL;
    }
    if (type == KEY_RSA) {
        /* An even exponent is no RSA key; e = 1 would make every signature
         * forgeable. OpenSSL accepts both when parsing. */
        BIGNUM *e = NULL;
        int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1 && BN_is_odd(e) &&
                 BN_num_bits(e) > 1;
        BN_free(e);
        if (!ok) {
            EVP_PKEY_free(pkey);
            ERR_clear_error();
            fa_err_set(err, "%s: the RSA public exponent is not odd and at least 3", what);
            return NULL;
        }
    }
    struct fa_key *k = calloc(1, sizeof(*k));
    if (!k) {
        EVP_PKEY_free(pkey);
        fa_err_set(err, "out of memory");
        return NULL;
    }
    k->type = type;
    k->bits = bits;
    k->priv = priv;
    k->pkey = pkey;
    if (type == KEY_RSA) {
        k->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        k->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
        if (!k->sha256 || !k->sha1) {
            key_free(k);
            ossl_fail(err, "cannot set up SHA-256/SHA-1");
            return NULL;
        }
        if (priv && !(k->rsa_sign256 = rsa_ctx(k, 1, k->sha256))) {
            key_free(k);
            ossl_fail(err, "cannot set up RSA signing");
            return NULL;
        }
        if (!(k->rsa_verify256 = rsa_ctx(k, 0, k->sha256))) {
            key_free(k);
            ossl_fail(err, "cannot set up RSA verification");
            return NULL;
        }
    } else if (priv) {
        if (!(k->ed_sign = EVP_MD_CTX_new()) ||
            EVP_DigestSignInit_ex(k->ed_sign, NULL, NULL, NULL, NULL, k->pkey, NULL) != 1) {
            key_free(k);
            ossl_fail(err, "cannot set up Ed25519 signing");
            return NULL;
        }
    }
    return k;
}

/* Never prompt for a passphrase on a terminal: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag;
    *(int *)u = 1;
    return -1;
}

static struct fa_key *from_pem(const char *pem, size_t len, const char *what, fa_err *err)
{
    if (len > INT32_MAX) {
        fa_err_set(err, "%s: too large for a key", what);
        return NULL;
    }
    ERR_clear_error();
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    int asked = 0;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, &asked);
    BIO_free(b);
    if (!pkey) {
        ERR_clear_error();
        if (asked)
            fa_err_set(err, "%s: the key is encrypted: store it without a passphrase (mode 0600)",
                       what);
        else
            fa_err_set(err,
                       "%s: no private key found: want PEM \"PRIVATE KEY\" (PKCS#8) or "
                       "\"RSA PRIVATE KEY\" (PKCS#1)",
                       what);
        return NULL;
    }
    return wrap(pkey, 1, what, err);
}

struct fa_key *key_from_pem(const char *pem, size_t len, fa_err *err)
{
    return from_pem(pem, len, "key", err);
}

struct fa_key *key_load_private(const char *path, uid_t owner_uid, fa_err *err)
{
    char *data;
    size_t len;
    if (secfile_read(path, owner_uid, &data, &len, err) < 0)
        return NULL;
    struct fa_key *k = from_pem(data, len, path, err);
    secfile_free(data, len);
    return k;
}

struct fa_key *key_remote(int type, unsigned bits, const struct key_remote_ops *ops, void *arg,
                          fa_err *err)
{
    if (!ops || !ops->sign) {
        fa_err_set(err, "a remote key needs a sign function");
        return NULL;
    }
    if (type == KEY_RSA ? bits < KEY_RSA_MIN_BITS || bits > KEY_RSA_MAX_BITS
                        : type != KEY_ED25519 || bits != 256) {
        fa_err_set(err, "remote key: %s key of %u bits is not usable for DKIM",
                   type == KEY_RSA       ? "RSA"
                   : type == KEY_ED25519 ? "Ed25519"
                                         : "an unknown",
                   bits);
        return NULL;
    }
    struct fa_key *k = calloc(1, sizeof(*k));
    if (!k) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    k->type = type;
    k->bits = bits;
    k->priv = 1;
    k->remote = 1;
    k->ops = *ops;
    k->arg = arg;
    return k;
}

struct fa_key *key_generate(int type, unsigned bits, fa_err *err)
{
    EVP_PKEY *pkey;
    ERR_clear_error();
    if (type == KEY_RSA) {
        if (bits < KEY_RSA_MIN_BITS || bits > KEY_RSA_MAX_BITS) {
            fa_err_set(err, "RSA keys must have %d to %d bits, not %u", KEY_RSA_MIN_BITS,
                       KEY_RSA_MAX_BITS, bits);
            return NULL;
        }
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    } else if (type == KEY_ED25519) {
        if (bits != 0 && bits != 256) {
            fa_err_set(err, "Ed25519 keys have 256 bits, not %u", bits);
            return NULL;
        }
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else {
        fa_err_set(err, "unknown key type %d", type);
        return NULL;
    }
    if (!pkey) {
        ossl_fail(err, "key generation failed");
        return NULL;
    }
    return wrap(pkey, 1, "generated key", err);
}

int key_write_private(const struct fa_key *k, const char *path, fa_err *err)
{
    if (!k->priv || k->remote)
        return fa_err_set(err, "%s: no private key to write", path);
    ERR_clear_error();
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return fa_err_set(err, "out of memory");
    /* PKCS#8, unencrypted: what OpenDKIM, dkimpy and rspamd all read. */
    if (!PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(b);
        return ossl_fail(err, "cannot encode the private key");
    }
    char *pem;
    long n = BIO_get_mem_data(b, &pem);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        OPENSSL_cleanse(pem, (size_t)n);
        BIO_free(b);
        if (e == EEXIST)
            return fa_err_set(err, "%s exists: refusing to overwrite a key", path);
        return fa_err_errno(err, e, "cannot create %s", path);
    }
    int rc = 0;
    if (fchmod(fd, 0600) < 0)
        rc = fa_err_errno(err, errno, "cannot chmod %s", path);
    for (long off = 0; rc == 0 && off < n;) {
        ssize_t w = write(fd, pem + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = fa_err_errno(err, w < 0 ? errno : EIO, "cannot write %s", path);
        else
            off += w;
    }
    if (rc == 0 && fsync(fd) < 0)
        rc = fa_err_errno(err, errno, "cannot write %s", path);
    if (close(fd) < 0 && rc == 0)
        rc = fa_err_errno(err, errno, "cannot write %s", path);
    OPENSSL_cleanse(pem, (size_t)n);
    BIO_free(b);
    if (rc < 0)
        unlink(path);
    return rc;
}

int key_type(const struct fa_key *k)
{
    return k->type;
}

unsigned key_bits(const struct fa_key *k)
{
    return k->bits;
}

int key_is_private(const struct fa_key *k)
{
    return k->priv;
}

int key_public_b64(const struct fa_key *k, char *out, size_t outsz)
{
    uint8_t der[KEY_DER_MAX];
    size_t n;
    if (k->remote)
        return -1; /* its public half is with its signer */
    if (k->type == KEY_ED25519) {
        n = sizeof(der);
        if (EVP_PKEY_get_raw_public_key(k->pkey, der, &n) != 1 || n != KEY_ED25519_RAW) {
            ERR_clear_error();
            return -1;
        }
    } else {
        int len = i2d_PUBKEY(k->pkey, NULL); /* SubjectPublicKeyInfo */
        if (len <= 0 || (size_t)len > sizeof(der)) {
            ERR_clear_error();
            return -1;
        }
        uint8_t *p = der;
        if (i2d_PUBKEY(k->pkey, &p) != len) {
            ERR_clear_error();
            return -1;
        }
        n = (size_t)len;
    }
    return b64_encode(der, n, out, outsz);
}

int key_dns_record(const struct fa_key *k, char *out, size_t outsz)
{
    const char *prefix = k->type == KEY_ED25519 ? "v=DKIM1; k=ed25519; p=" : "v=DKIM1; k=rsa; p=";
    size_t pl = strlen(prefix);
    if (outsz <= pl)
        return -1;
    memcpy(out, prefix, pl);
    int n = key_public_b64(k, out + pl, outsz - pl);
    if (n < 0)
        return -1;
    return (int)pl + n;
}

int key_dns_zone_line(const struct fa_key *k, const char *selector, const char *domain, char *out,
                      size_t outsz)
{
    char rec[KEY_DER_MAX * 2];
    int rn = key_dns_record(k, rec, sizeof(rec));
    if (rn < 0 || !selector || !*selector || !domain || !*domain)
        return -1;
    size_t dl = strlen(domain);
    if (domain[dl - 1] == '.')
        dl--;
    int n = snprintf(out, outsz, "%s._domainkey.%.*s. " KEY_ZONE_TTL " IN TXT", selector, (int)dl,
                     domain);
    if (n < 0 || (size_t)n >= outsz)
        return -1;
    size_t o = (size_t)n;
    /* The record holds no quote or backslash (fixed text and base64), so each
     * 255-octet piece goes between quotes as it is. */
    for (int i = 0; i < rn; i += KEY_ZONE_CHUNK) {
        int c = rn - i < KEY_ZONE_CHUNK ? rn - i : KEY_ZONE_CHUNK;
        n = snprintf(out + o, outsz - o, " \"%.*s\"", c, rec + i);
        if (n < 0 || (size_t)n >= outsz - o)
            return -1;
        o += (size_t)n;
    }
    return o > INT32_MAX ? -1 : (int)o;
}

/* A fast path for the usual RSA p=: OpenSSL 3.0's d2i_PUBKEY goes through
 * its decoder framework and costs about 190 microseconds, ten times an
 * RSA-2048 verification; taking n and e out of the DER here and importing
 * them costs under 10. Strict DER only (minimal lengths, positive minimal
 * integers, nothing left over); anything else takes the OpenSSL path. */
static int der_tlv(const uint8_t **p, const uint8_t *end, uint8_t tag, const uint8_t **c,
                   size_t *clen)
{
    const uint8_t *q = *p;
    if (end - q < 2 || q[0] != tag)
        return -1;
    size_t len = q[1];
    q += 2;
    if (len & 0x80) {
        size_t nb = len & 0x7f;
        if (nb == 0 || nb > 2 || (size_t)(end - q) < nb)
            return -1;
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = len << 8 | q[i];
        if (len < 0x80 || (nb == 2 && len < 0x100)) /* not the shortest form */
            return -1;
        q += nb;
    }
    if ((size_t)(end - q) < len)
        return -1;
    *c = q;
    *clen = len;
    *p = q + len;
    return 0;
}

/* A positive INTEGER in its shortest form: its magnitude. */
static BIGNUM *der_posint(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *c;
    size_t n;
    if (der_tlv(p, end, 0x02, &c, &n) < 0 || n == 0 || (c[0] & 0x80))
        return NULL;
    if (c[0] == 0) {
        if (n == 1 || !(c[1] & 0x80))
            return NULL; /* zero, or a superfluous leading zero */
        c++, n--;
    }
    return BN_bin2bn(c, (int)n, NULL);
}

static EVP_PKEY *rsa_public_fast(const uint8_t *der, size_t n)
{
    static const uint8_t rsa_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                      0xf7, 0x0d, 0x01, 0x01, 0x01}; /* 1.2.840.113549.1.1.1 */
    const uint8_t *p = der, *end = der + n, *c, *alg, *bits;
    size_t cn, an, bn;
    if (der_tlv(&p, end, 0x30, &c, &cn) < 0 || p != end)
        return NULL;
    /* SubjectPublicKeyInfo { AlgorithmIdentifier { rsaEncryption, NULL }, BIT STRING },
     * or directly RSAPublicKey { n, e } */
    const uint8_t *q = c, *qend = c + cn;
    if (q < qend && *q == 0x30) {
        if (der_tlv(&q, qend, 0x30, &alg, &an) < 0 || an != sizeof(rsa_oid) + 2 ||
            memcmp(alg, rsa_oid, sizeof(rsa_oid)) != 0 || alg[sizeof(rsa_oid)] != 0x05 ||
            alg[sizeof(rsa_oid) + 1] != 0x00)
            return NULL;
        if (der_tlv(&q, qend, 0x03, &bits, &bn) < 0 || q != qend || bn < 1 || bits[0] != 0)
            return NULL;
        const uint8_t *r = bits + 1, *rend = bits + bn;
        if (der_tlv(&r, rend, 0x30, &q, &cn) < 0 || r != rend)
            return NULL;
        qend = q + cn;
    }
    BIGNUM *mod = der_posint(&q, qend), *exp = mod ? der_posint(&q, qend) : NULL;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!exp || q != qend || BN_num_bits(mod) > KEY_RSA_MAX_BITS || BN_num_bits(exp) > 64)
        goto done; /* odd sizes: let OpenSSL judge them */
    if (!(bld = OSSL_PARAM_BLD_new()) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, mod) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, exp) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(mod);
    BN_free(exp);
    ERR_clear_error();
    return pkey;
}

struct fa_key *key_from_dns_p(int type, const char *b64, size_t len, fa_err *err)
{
    uint8_t der[KEY_DER_MAX];
    size_t i = 0;
    while (i < len && (b64[i] == ' ' || b64[i] == '\t' || b64[i] == '\r' || b64[i] == '\n'))
        i++;
    if (i == len) {
        fa_err_set(err, "empty p=: the key has been revoked");
        return NULL;
    }
    int n = b64_decode(b64, len, der, sizeof(der));
    if (n < 0) {
        fa_err_set(err, "p= is not valid base64 or is too long for a key");
        return NULL;
    }
    ERR_clear_error();
    EVP_PKEY *pkey = NULL;
    if (type == KEY_ED25519) {
        if (n != KEY_ED25519_RAW) {
            fa_err_set(err, "Ed25519 p= must hold 32 octets, not %d (RFC 8463 section 4)", n);
            return NULL;
        }
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, KEY_ED25519_RAW);
        if (!pkey) {
            ossl_fail(err, "Ed25519 p= is not a usable public key");
            return NULL;
        }
    } else if (type == KEY_RSA) {
        pkey = rsa_public_fast(der, (size_t)n);
        const unsigned char *p = der;
        if (!pkey)
            pkey = d2i_PUBKEY(NULL, &p, n);
        else
            p = der + n;
        if (pkey && p != der + n) { /* trailing octets after the DER */
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        if (!pkey) {
            /* Some old publishers put the bare PKCS#1 RSAPublicKey in p=. */
            p = der;
            pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, n);
            if (pkey && p != der + n) {
                EVP_PKEY_free(pkey);
                pkey = NULL;
            }
        }
        ERR_clear_error();
        if (!pkey) {
            fa_err_set(err, "RSA p= is not a public key (SubjectPublicKeyInfo or RSAPublicKey)");
            return NULL;
        }
        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
            EVP_PKEY_free(pkey);
            fa_err_set(err, "p= holds a key of another type than k=rsa");
            return NULL;
        }
    } else {
        fa_err_set(err, "unknown key type %d", type);
        return NULL;
    }
    return wrap(pkey, 0, "published key", err);
}

int key_public_equal(const struct fa_key *a, const struct fa_key *b)
{
    if (!a || !b || a->type != b->type || a->remote || b->remote)
        return 0;
    int r = EVP_PKEY_eq(a->pkey, b->pkey);
    ERR_clear_error();
    return r == 1;
}

static int check_digest(const struct fa_key *k, int md, size_t dlen, fa_err *err)
{
    if (md == KEY_MD_SHA256) {
        if (dlen != 32)
            return fa_err_set(err, "a SHA-256 digest has 32 octets, not %zu", dlen);
    } else if (md == KEY_MD_SHA1) {
        if (k->type != KEY_RSA)
            return fa_err_set(err, "Ed25519 goes with SHA-256 only (RFC 8463)");
        if (dlen != 20)
            return fa_err_set(err, "a SHA-1 digest has 20 octets, not %zu", dlen);
    } else {
        return fa_err_set(err, "unknown digest %d", md);
    }
    return 0;
}

/* The length a signature of k has: RSA that of the modulus, Ed25519 64 octets. */
static size_t sig_length(const struct fa_key *k)
{
    return k->type == KEY_ED25519 ? 64 : (k->bits + 7) / 8;
}

static int sign_remote(const struct fa_key *k, int md, const uint8_t *digest, size_t dlen,
                       uint8_t *sig, size_t *siglen, fa_err *err)
{
    size_t n = 0;
    if (k->ops.sign(k->arg, md, digest, dlen, sig, &n, err) < 0)
        return -1;
    /* Nothing else is checked: the signer is trusted with the key, but a
     * reply of the wrong size would be a broken field in every message. */
    if (n != sig_length(k) || n > KEY_SIG_MAX)
        return fa_err_set(err, "the key's signer returned %zu octets, not %zu", n, sig_length(k));
    *siglen = n;
    return 0;
}

int key_sign_digest(const struct fa_key *k, int md, const uint8_t *digest, size_t dlen,
                    uint8_t *sig, size_t *siglen, fa_err *err)
{
    *siglen = 0;
    if (!k->priv)
        return fa_err_set(err, "cannot sign with a public key");
    if (check_digest(k, md, dlen, err) < 0)
        return -1;
    if (md == KEY_MD_SHA1)
        return fa_err_set(err, "rsa-sha1 is for verifying only (RFC 8301)");
    if (k->remote)
        return sign_remote(k, md, digest, dlen, sig, siglen, err);
    size_t n = KEY_SIG_MAX;
    int ok;
    if (k->type == KEY_RSA) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_dup(k->rsa_sign256);
        ok = c && EVP_PKEY_sign(c, sig, &n, digest, dlen) == 1;
        EVP_PKEY_CTX_free(c);
    } else {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        ok = m && EVP_MD_CTX_copy_ex(m, k->ed_sign) == 1 &&
             EVP_DigestSign(m, sig, &n, digest, dlen) == 1;
        EVP_MD_CTX_free(m);
    }
    if (!ok)
        return ossl_fail(err, "signing failed");
    *siglen = n;
    return 0;
}

int key_verify_digest(const struct fa_key *k, int md, const uint8_t *digest, size_t dlen,
                      const uint8_t *sig, size_t siglen, fa_err *err)
{
    if (k->remote)
        return fa_err_set(err, "a remote key has no public key here to verify with");
    if (check_digest(k, md, dlen, err) < 0)
        return -1;
    int r;
    if (k->type == KEY_RSA) {
        EVP_PKEY_CTX *c =
            md == KEY_MD_SHA1 ? rsa_ctx(k, 0, k->sha1) : EVP_PKEY_CTX_dup(k->rsa_verify256);
        if (!c)
            return ossl_fail(err, "cannot set up RSA verification");
        r = EVP_PKEY_verify(c, sig, siglen, digest, dlen);
        EVP_PKEY_CTX_free(c);
    } else {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        if (!m || EVP_DigestVerifyInit_ex(m, NULL, NULL, NULL, NULL, k->pkey, NULL) != 1) {
            EVP_MD_CTX_free(m);
            return ossl_fail(err, "cannot set up Ed25519 verification");
        }
        r = EVP_DigestVerify(m, sig, siglen, digest, dlen);
        EVP_MD_CTX_free(m);
    }
    /* With the context set up, any failure is about the signature itself
     * (wrong length, not a valid encoding): a bad signature, not an error. */
    ERR_clear_error();
    if (r != 1)
        fa_err_set(err, "signature does not verify");
    return r == 1 ? 1 : 0;
}
