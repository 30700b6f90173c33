/* stagehdr - the authenticated stage-1 results header; see stagehdr.h. */
#include "stagehdr.h"

#include "arc.h"
#include "b64.h"
#include "canon.h"
#include "secfile.h"
#include "tags.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

static const char mac_label[] = "fwdauth-arrival mac 1";
static const char id_label[] = "fwdauth-arrival identity 1";

#define B64_LINE 72 /* base64 characters per folded line */

struct stagehdr_keys {
    EVP_MAC *mac;
    EVP_MAC_CTX *keyed[STAGEHDR_SECRETS_MAX]; /* HMAC-SHA256, keyed once per secret */
    size_t n;
};

/* ---- keys ---- */

void stagehdr_keys_free(stagehdr_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        EVP_MAC_CTX_free(k->keyed[i]); /* OpenSSL cleanses the key */
    EVP_MAC_free(k->mac);
    free(k);
}

size_t stagehdr_keys_count(const stagehdr_keys *k)
{
    return k ? k->n : 0;
}

stagehdr_keys *stagehdr_keys_new(const char *const *secrets, const size_t *lens, size_t n,
                                 fa_err *err)
{
    if (n == 0 || n > STAGEHDR_SECRETS_MAX) {
        fa_err_set(err, "need 1 to %d stage header secrets, got %zu", STAGEHDR_SECRETS_MAX, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (lens[i] < STAGEHDR_SECRET_MIN) {
            fa_err_set(err, "stage header secret %zu is shorter than %d octets", i + 1,
                       STAGEHDR_SECRET_MIN);
            return NULL;
        }
    stagehdr_keys *k = calloc(1, sizeof(*k));
    if (!k) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    if (!(k->mac = EVP_MAC_fetch(NULL, "HMAC", NULL))) {
        fa_err_set(err, "OpenSSL has no HMAC");
        stagehdr_keys_free(k);
        return NULL;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    for (size_t i = 0; i < n; i++) {
        EVP_MAC_CTX *c = EVP_MAC_CTX_new(k->mac);
        if (!c || !EVP_MAC_init(c, (const unsigned char *)secrets[i], lens[i], params)) {
            EVP_MAC_CTX_free(c);
            fa_err_set(err, "cannot set up HMAC-SHA256 for stage header secret %zu", i + 1);
            stagehdr_keys_free(k);
            return NULL;
        }
        k->keyed[k->n++] = c;
    }
    return k;
}

stagehdr_keys *stagehdr_keys_load(const char *path, uid_t owner_uid, fa_err *err)
{
    char *data;
    size_t len;
    if (secfile_read(path, owner_uid, &data, &len, err) < 0)
        return NULL;
    const char *secrets[STAGEHDR_SECRETS_MAX];
    size_t lens[STAGEHDR_SECRETS_MAX];
    stagehdr_keys *k = NULL;
    fa_err kerr;
    int n = secfile_lines(data, len, secrets, lens, STAGEHDR_SECRETS_MAX);
    if (n < 0)
        fa_err_set(err, "%s: more than %d secrets", path, STAGEHDR_SECRETS_MAX);
    else if (n == 0)
        fa_err_set(err, "%s: no secret in the file", path);
    else if (!(k = stagehdr_keys_new(secrets, lens, (size_t)n, &kerr)))
        fa_err_set(err, "%s: %s", path, kerr.msg); /* names a line number, never a secret */
    secfile_free(data, len);
    return k;
}

/* ---- identity ---- */

struct id_sink {
    EVP_MD_CTX *md; /* NULL: only count */
    uint64_t len;
    int ok;
};

static void id_put(void *ctx, const uint8_t *p, size_t n)
{
    struct id_sink *s = ctx;
    s->len += n;
    if (s->md && !EVP_DigestUpdate(s->md, p, n))
        s->ok = 0;
}

static void be32(uint8_t *b, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

static void be64(uint8_t *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

int stagehdr_identity(const struct msg_header *h, size_t nh, const char *mail_from,
                      uint8_t id[STAGEHDR_ID_LEN])
{
    static const char *const names[] = {"Message-ID", "From", "Date"};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    struct id_sink s = {md, 0, md != NULL};
    uint8_t b[8];
    if (s.ok)
        s.ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
               EVP_DigestUpdate(md, id_label, sizeof(id_label)); /* with its NUL */
    for (size_t k = 0; k < 3 && s.ok; k++) {
        uint32_t count = 0;
        for (size_t i = 0; i < nh; i++)
            count += msg_header_is(&h[i], names[k]) != 0;
        be32(b, count);
        s.ok = EVP_DigestUpdate(md, b, 4);
        for (size_t i = 0; i < nh && s.ok; i++) {
            if (!msg_header_is(&h[i], names[k]))
                continue;
            /* Length first (a counting pass), then the canonical octets. */
            struct id_sink c = {NULL, 0, 1};
            canon_header(CANON_RELAXED, &h[i], 0, 0, 0, id_put, &c);
            be64(b, c.len);
            s.ok = EVP_DigestUpdate(md, b, 8);
            if (s.ok)
                canon_header(CANON_RELAXED, &h[i], 0, 0, 0, id_put, &s);
        }
    }
    const char *f = mail_from ? mail_from : "";
    size_t fl = strlen(f);
    if (fl >= 2 && f[0] == '<' && f[fl - 1] == '>') {
        f++;
        fl -= 2;
    }
    if (s.ok) {
        be64(b, fl);
        s.ok = EVP_DigestUpdate(md, b, 8);
    }
    for (size_t off = 0; off < fl && s.ok; off += 64) {
        uint8_t lc[64];
        size_t chunk = fl - off < sizeof(lc) ? fl - off : sizeof(lc);
        for (size_t j = 0; j < chunk; j++) {
            uint8_t c = (uint8_t)f[off + j];
            lc[j] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
        }
        s.ok = EVP_DigestUpdate(md, lc, chunk);
    }
    unsigned int mdlen = 0;
    if (s.ok)
        s.ok = EVP_DigestFinal_ex(md, id, &mdlen) && mdlen == STAGEHDR_ID_LEN;
    EVP_MD_CTX_free(md);
    if (!s.ok)
        memset(id, 0, STAGEHDR_ID_LEN);
    return s.ok ? 0 : -1;
}

/* ---- MAC ---- */

/* HMAC-SHA256 with secret i over the canonical string of stagehdr.h. */
static int compute_mac(const stagehdr_keys *k, size_t i, uint64_t t, uint32_t flags, uint32_t cv,
                       const char *sid, size_t sidl, const char *ar, size_t arl,
                       const uint8_t id[STAGEHDR_ID_LEN], uint8_t mac[STAGEHDR_MAC_LEN])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(k->keyed[i]);
    if (!c)
        return -1;
    uint8_t fixed[4 + 8 + 4 + 4], sl[4], al[4];
    be32(fixed, STAGEHDR_VERSION);
    be64(fixed + 4, t);
    be32(fixed + 12, flags);
    be32(fixed + 16, cv);
    be32(sl, (uint32_t)sidl);
    be32(al, (uint32_t)arl);
    size_t mlen = 0;
    int ok = EVP_MAC_update(c, (const unsigned char *)mac_label, sizeof(mac_label)) &&
             EVP_MAC_update(c, fixed, sizeof(fixed)) && EVP_MAC_update(c, sl, 4) &&
             EVP_MAC_update(c, (const unsigned char *)sid, sidl) && EVP_MAC_update(c, al, 4) &&
             EVP_MAC_update(c, (const unsigned char *)ar, arl) &&
             EVP_MAC_update(c, id, STAGEHDR_ID_LEN) &&
             EVP_MAC_final(c, mac, &mlen, STAGEHDR_MAC_LEN) && mlen == STAGEHDR_MAC_LEN;
    EVP_MAC_CTX_free(c);
    return ok ? 0 : -1;
}

/* ---- checks shared by build and verify ---- */

static int is_valchar(unsigned char c)
{
    return (c >= 0x21 && c <= 0x3a) || (c >= 0x3c && c <= 0x7e);
}

static const char *check_authserv_id(const char *s, size_t n)
{
    if (n == 0)
        return "empty authserv-id";
    if (n > STAGEHDR_AUTHSERV_MAX)
        return "authserv-id too long";
    for (size_t i = 0; i < n; i++)
        if (!is_valchar((unsigned char)s[i]))
            return "authserv-id holds a character a tag value cannot";
    return NULL;
}

/* The results must be safe to write into a header field and be ours. */
static const char *check_results(const char *a, size_t n, const char *sid, size_t sidl)
{
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c == '\0')
            return "results hold a NUL";
        if (c == '\r' && (i + 1 == n || a[i + 1] != '\n'))
            return "results hold a bare CR";
        if (c == '\n' && (i + 1 == n || (a[i + 1] != ' ' && a[i + 1] != '\t')))
            return "results hold a line ending that is not folding";
    }
    if (n == 0)
        return NULL;
    char own[STAGEHDR_AUTHSERV_MAX + 2];
    int l = authres_serv_id(a, n, own, sizeof(own));
    if (l < 0 || (size_t)l != sidl || memcmp(own, sid, sidl) != 0)
        return "results are not from authserv-id i=";
    return NULL;
}

/* ---- build ---- */

struct wbuf {
    char *p;
    size_t n, cap;
    int full;
};

static void wput(struct wbuf *w, const char *s, size_t n)
{
    if (w->full || n >= w->cap - w->n) {
        w->full = 1;
        return;
    }
    memcpy(w->p + w->n, s, n);
    w->n += n;
    w->p[w->n] = '\0';
}

static void wputs(struct wbuf *w, const char *s)
{
    wput(w, s, strlen(s));
}

int stagehdr_build(const struct stagehdr *r, const uint8_t id[STAGEHDR_ID_LEN],
                   const stagehdr_keys *k, const char *eol, char *out, size_t outsz, fa_err *err)
{
    if (outsz)
        out[0] = '\0';
    if (!k || k->n == 0)
        return fa_err_set(err, "no stage header secret");
    if (!eol || (strcmp(eol, "\n") != 0 && strcmp(eol, "\r\n") != 0))
        return fa_err_set(err, "line ending must be LF or CRLF");
    if (r->flags & ~STAGE_FLAGS_ALL)
        return fa_err_set(err, "unknown stage flags 0x%x", r->flags & ~STAGE_FLAGS_ALL);
    if (r->t < 0 || (uint64_t)r->t > STAGEHDR_TIME_MAX)
        return fa_err_set(err, "time out of range");
    if (r->arc_cv < ARC_CV_NONE || r->arc_cv > ARC_CV_FAIL)
        return fa_err_set(err, "unknown ARC chain status %d", r->arc_cv);
    size_t sidl = strnlen(r->authserv_id, sizeof(r->authserv_id));
    size_t arl = strnlen(r->authres, sizeof(r->authres));
    const char *why = sidl == sizeof(r->authserv_id) ? "authserv-id not terminated"
                                                     : check_authserv_id(r->authserv_id, sidl);
    if (!why && arl == sizeof(r->authres))
        why = "results not terminated or too long";
    if (!why)
        why = check_results(r->authres, arl, r->authserv_id, sidl);
    if (why)
        return fa_err_set(err, "cannot build the stage header: %s", why);

    uint8_t mac[STAGEHDR_MAC_LEN];
    if (compute_mac(k, 0, (uint64_t)r->t, r->flags, (uint32_t)r->arc_cv, r->authserv_id, sidl,
                    r->authres, arl, id, mac) < 0)
        return fa_err_set(err, "HMAC-SHA256 failed");
    char b64mac[B64_ENCODED_LEN(STAGEHDR_MAC_LEN) + 1];
    b64_encode(mac, sizeof(mac), b64mac, sizeof(b64mac));
    OPENSSL_cleanse(mac, sizeof(mac));
    char *b64ar = malloc(B64_ENCODED_LEN(AUTHRES_MAX) + 1);
    if (!b64ar)
        return fa_err_set(err, "out of memory");
    int b64n =
        b64_encode((const uint8_t *)r->authres, arl, b64ar, B64_ENCODED_LEN(AUTHRES_MAX) + 1);

    char head[96];
    snprintf(head, sizeof(head), " v=%d; t=%llu; f=%u; c=%s;", STAGEHDR_VERSION,
             (unsigned long long)r->t, r->flags, arc_cv_name(r->arc_cv));
    struct wbuf w = {out, 0, outsz, outsz == 0};
    wputs(&w, head);
    wputs(&w, eol);
    wputs(&w, "\ti=");
    wput(&w, r->authserv_id, sidl);
    wputs(&w, ";");
    wputs(&w, eol);
    wputs(&w, "\ta=");
    for (int off = 0; off < b64n; off += B64_LINE) {
        if (off) {
            wputs(&w, eol);
            wputs(&w, "\t");
        }
        wput(&w, b64ar + off, (size_t)(b64n - off < B64_LINE ? b64n - off : B64_LINE));
    }
    wputs(&w, ";");
    wputs(&w, eol);
    wputs(&w, "\tb=");
    wputs(&w, b64mac);
    free(b64ar);
    if (w.full) {
        if (outsz)
            out[0] = '\0';
        return fa_err_set(err, "output buffer too small for the stage header");
    }
    return (int)w.n;
}

/* ---- verify ---- */

static int fail(int status, const char **why, const char *reason)
{
    *why = reason;
    return status;
}

static int has_fws(const struct tag *t)
{
    for (size_t i = 0; i < t->value_len; i++)
        if (t->value[i] == ' ' || t->value[i] == '\t' || t->value[i] == '\r' || t->value[i] == '\n')
            return 1;
    return 0;
}

/* Decimal without sign or leading zeros, at most maxd digits. */
static int parse_dec(const struct tag *t, unsigned maxd, uint64_t *v)
{
    if (t->value_len == 0 || t->value_len > maxd || (t->value[0] == '0' && t->value_len > 1))
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < t->value_len; i++) {
        if (t->value[i] < '0' || t->value[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(t->value[i] - '0');
    }
    *v = x;
    return 0;
}

/* Padded base64, folded anywhere: the length without white space is a
 * multiple of 4 (a value cut short never decodes). Decoded length or -1. */
static int decode_b64(const struct tag *t, uint8_t *out, size_t outsz)
{
    size_t chars = 0;
    for (size_t i = 0; i < t->value_len; i++) {
        char c = t->value[i];
        chars += !(c == ' ' || c == '\t' || c == '\r' || c == '\n');
    }
    if (chars % 4 != 0)
        return -1;
    return b64_decode(t->value, t->value_len, out, outsz);
}

int stagehdr_verify(const char *value, size_t n, const uint8_t id[STAGEHDR_ID_LEN],
                    const stagehdr_keys *k, time_t now, unsigned max_age_s, struct stagehdr *out,
                    const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    memset(out, 0, sizeof(*out));
    int st = STAGEHDR_BAD;
    if (n > STAGEHDR_VALUE_MAX) {
        *why = "field too long";
        goto done;
    }
    struct tag_list l;
    const char *tw = NULL;
    if (tags_parse(value, n, &l, &tw) < 0) {
        *why = tw ? tw : "not a tag list";
        goto done;
    }
    static const char *const known[] = {"v", "t", "f", "c", "i", "a", "b"};
    const struct tag *tag[7];
    for (size_t j = 0; j < 7; j++)
        if (!(tag[j] = tags_find(&l, known[j]))) {
            *why = j == 0 ? "no version tag" : "a required tag is missing";
            goto done;
        }
    if (l.n != 7) {
        *why = "unknown tag";
        goto done;
    }
    const struct tag *tv = tag[0], *tt = tag[1], *tf = tag[2], *tc = tag[3], *ti = tag[4],
                     *ta = tag[5], *tb = tag[6];
    if (!tags_value_is(tv, "1")) {
        *why = "unknown version";
        goto done;
    }
    uint64_t t, flags;
    if (parse_dec(tt, 18, &t) < 0) { /* 18 digits: t <= STAGEHDR_TIME_MAX */
        *why = "bad time";
        goto done;
    }
    if (parse_dec(tf, 10, &flags) < 0) {
        *why = "bad flags";
        goto done;
    }
    if (flags & ~(uint64_t)STAGE_FLAGS_ALL) {
        *why = "unknown flag";
        goto done;
    }
    int cv = -1;
    for (int c = ARC_CV_NONE; c <= ARC_CV_FAIL; c++)
        if (tags_value_is(tc, arc_cv_name(c)))
            cv = c;
    if (cv < 0) {
        *why = "bad ARC chain status";
        goto done;
    }
    if (has_fws(ti)) {
        *why = "white space in authserv-id";
        goto done;
    }
    if ((*why = check_authserv_id(ti->value, ti->value_len)) != NULL)
        goto done;
    int arl = decode_b64(ta, (uint8_t *)out->authres, sizeof(out->authres) - 1);
    if (arl < 0) {
        *why = "bad base64 in results";
        goto done;
    }
    out->authres[arl] = '\0';
    if ((*why = check_results(out->authres, (size_t)arl, ti->value, ti->value_len)) != NULL)
        goto done;
    uint8_t given[STAGEHDR_MAC_LEN + 3];
    if (decode_b64(tb, given, sizeof(given)) != STAGEHDR_MAC_LEN) {
        *why = "bad MAC encoding";
        goto done;
    }

    st = STAGEHDR_FORGED;
    if (!k || k->n == 0) {
        *why = "no stage header secret";
        goto done;
    }
    int match = 0;
    for (size_t i = 0; i < k->n; i++) {
        uint8_t want[STAGEHDR_MAC_LEN];
        if (compute_mac(k, i, t, (uint32_t)flags, (uint32_t)cv, ti->value, ti->value_len,
                        out->authres, (size_t)arl, id, want) < 0) {
            st = STAGEHDR_ERROR;
            *why = "HMAC-SHA256 failed";
            goto done;
        }
        match |= CRYPTO_memcmp(given, want, STAGEHDR_MAC_LEN) == 0;
        OPENSSL_cleanse(want, sizeof(want));
    }
    if (!match) {
        *why = "MAC does not match: forged, changed, or from another message";
        goto done;
    }
    st = STAGEHDR_EXPIRED;
    /* 0 <= t < 10^18: both differences fit in 64 unsigned bits for any now. */
    int64_t now64 = (int64_t)now;
    if (now64 < (int64_t)t && (uint64_t)t - (uint64_t)now64 > STAGEHDR_FUTURE_SKEW) {
        *why = "made in the future";
        goto done;
    }
    if (now64 > (int64_t)t && (uint64_t)now64 - t > max_age_s) {
        *why = "expired";
        goto done;
    }
    out->t = (time_t)t;
    out->flags = (unsigned)flags;
    out->arc_cv = cv;
    memcpy(out->authserv_id, ti->value, ti->value_len);
    out->authserv_id[ti->value_len] = '\0';
    return STAGEHDR_OK;
done:
    memset(out, 0, sizeof(*out));
    return st;
}

int stagehdr_check(const struct msg_header *h, size_t nh, const char *mail_from,
                   const stagehdr_keys *k, time_t now, unsigned max_age_s, struct stagehdr *out,
                   const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    memset(out, 0, sizeof(*out));
    const struct msg_header *f = NULL;
    for (size_t i = 0; i < nh; i++) {
        if (!msg_header_is(&h[i], STAGEHDR_FIELD))
            continue;
        if (f)
            return fail(STAGEHDR_BAD, why, "more than one " STAGEHDR_FIELD " field");
        f = &h[i];
    }
    if (!f)
        return fail(STAGEHDR_ABSENT, why, "no " STAGEHDR_FIELD " field");
    uint8_t id[STAGEHDR_ID_LEN];
    if (stagehdr_identity(h, nh, mail_from, id) < 0)
        return fail(STAGEHDR_ERROR, why, "SHA-256 failed");
    return stagehdr_verify(f->raw + f->value_off, f->value_end - f->value_off, id, k, now,
                           max_age_s, out, why);
}

const char *stagehdr_status_name(int status)
{
    switch (status) {
    case STAGEHDR_OK:
        return "ok";
    case STAGEHDR_ABSENT:
        return "absent";
    case STAGEHDR_BAD:
        return "bad";
    case STAGEHDR_FORGED:
        return "forged";
    case STAGEHDR_EXPIRED:
        return "expired";
    default:
        return "error";
    }
}
