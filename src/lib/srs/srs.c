/* srs - Sender Rewriting Scheme compatible with libsrs2/PostSRSd; see srs.h. */
#include "srs.h"

#include "addr.h"
#include "domlist.h"
#include "strlist.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SRS_TAG_LEN 4
#define SRS_HASH_FULL 27    /* base64 characters of a 20-byte digest, without padding */
#define SRS_TIME_SLOTS 1024 /* 10 bits of day number */
#define SRS_LOCAL_MAX 64    /* RFC 5321 4.5.3.1.1 */

const char srs_why_too_long[] = "rewritten local part would exceed 64 octets";

static const char base32_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char base64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char base64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct srs {
    struct srs_params p;
    char domain[ADDR_DOMAIN_MAX + 1];
    struct fa_list local_domains; /* own copy */
    EVP_MAC *mac;
    EVP_MAC_CTX *keyed[SRS_SECRETS_MAX]; /* one HMAC-SHA1 context per secret, keyed once */
    size_t nsecrets;
};

/* A field of the hashed data: bytes that are lower-cased while hashing. */
struct field {
    const char *p;
    size_t n;
};

void srs_free(srs *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nsecrets; i++)
        EVP_MAC_CTX_free(s->keyed[i]); /* OpenSSL cleanses the key */
    EVP_MAC_free(s->mac);
    strlist_free(&s->local_domains);
    free(s);
}

size_t srs_secret_count(const srs *s)
{
    return s->nsecrets;
}

srs *srs_new(const struct srs_params *p, const char *const *secrets, const size_t *secret_lens,
             size_t nsecrets, fa_err *err)
{
    if (!p->domain || !p->domain[0] || strlen(p->domain) > ADDR_DOMAIN_MAX) {
        fa_err_set(err, "SRS domain missing or longer than %d octets", ADDR_DOMAIN_MAX);
        return NULL;
    }
    if (nsecrets == 0 || nsecrets > SRS_SECRETS_MAX) {
        fa_err_set(err, "need 1 to %d SRS secrets, got %zu", SRS_SECRETS_MAX, nsecrets);
        return NULL;
    }
    if (p->hash_length < 1 || p->hash_length > SRS_HASH_FULL || p->hash_minimum > p->hash_length ||
        p->max_age < 1 || p->max_age >= SRS_TIME_SLOTS ||
        !(p->separator == '=' || p->separator == '+' || p->separator == '-')) {
        fa_err_set(err, "invalid SRS parameters");
        return NULL;
    }
    srs *s = calloc(1, sizeof(*s));
    if (!s) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    s->p = *p;
    if (s->p.hash_minimum == 0)
        s->p.hash_minimum = s->p.hash_length;
    strcpy(s->domain, p->domain);
    s->p.domain = s->domain;
    s->local_domains.v = calloc(p->n_local_domains ? p->n_local_domains : 1, sizeof(char *));
    if (!s->local_domains.v)
        goto oom;
    for (size_t i = 0; i < p->n_local_domains; i++) {
        if (!(s->local_domains.v[i] = strdup(p->local_domains[i])))
            goto oom;
        s->local_domains.n++;
    }
    s->p.local_domains = s->local_domains.v;

    s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!s->mac) {
        fa_err_set(err, "OpenSSL has no HMAC");
        srs_free(s);
        return NULL;
    }
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    for (size_t i = 0; i < nsecrets; i++) {
        if (secret_lens[i] == 0) {
            fa_err_set(err, "SRS secret %zu is empty", i + 1);
            srs_free(s);
            return NULL;
        }
        EVP_MAC_CTX *c = EVP_MAC_CTX_new(s->mac);
        if (!c || !EVP_MAC_init(c, (const unsigned char *)secrets[i], secret_lens[i], params)) {
            EVP_MAC_CTX_free(c);
            fa_err_set(err, "cannot set up HMAC-SHA1 for SRS secret %zu", i + 1);
            srs_free(s);
            return NULL;
        }
        s->keyed[s->nsecrets++] = c;
    }
    return s;
oom:
    fa_err_set(err, "out of memory");
    srs_free(s);
    return NULL;
}

/* HMAC-SHA1 with secret i over the lower-cased fields, no delimiters (libsrs2). */
static int srs_hmac(const srs *s, size_t i, const struct field *f, size_t nf, uint8_t md[20])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(s->keyed[i]);
    if (!c)
        return -1;
    int ok = 1;
    for (size_t k = 0; k < nf && ok; k++) {
        unsigned char lc[256];
        for (size_t off = 0; off < f[k].n && ok; off += sizeof(lc)) {
            size_t chunk = f[k].n - off < sizeof(lc) ? f[k].n - off : sizeof(lc);
            for (size_t j = 0; j < chunk; j++) {
                unsigned char ch = (unsigned char)f[k].p[off + j];
                lc[j] = (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + 32) : ch;
            }
            ok = EVP_MAC_update(c, lc, chunk);
        }
    }
    size_t mdlen = 0;
    ok = ok && EVP_MAC_final(c, md, &mdlen, 20) && mdlen == 20;
    EVP_MAC_CTX_free(c);
    return ok ? 0 : -1;
}

/* The first `want` base64 characters of a 20-byte digest. */
static void base64_prefix(const uint8_t md[20], const char *alphabet, char *out, size_t want)
{
    size_t o = 0;
    for (size_t i = 0; o < want; i += 3) {
        uint32_t v = (uint32_t)md[i] << 16;
        if (i + 1 < 20)
            v |= (uint32_t)md[i + 1] << 8;
        if (i + 2 < 20)
            v |= md[i + 2];
        for (int k = 18; k >= 0 && o < want; k -= 6)
            out[o++] = alphabet[(v >> k) & 63];
    }
}

/* Map both alphabets and both letter cases onto one form for comparison. */
static char hash_fold(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c + 32);
    if (c == '+')
        return '-';
    if (c == '/')
        return '_';
    return c;
}

static int make_hash(const srs *s, const struct field *f, size_t nf, char *out)
{
    uint8_t md[20];
    if (srs_hmac(s, 0, f, nf, md) < 0)
        return -1;
    base64_prefix(md, s->p.alphabet == FA_SRS_BASE64 ? base64_std : base64_url, out,
                  s->p.hash_length);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}

/* Does the given hash match any secret? Constant time per secret. */
static int check_hash(const srs *s, const char *given, size_t glen, const struct field *f,
                      size_t nf, const char **why)
{
    if (glen < s->p.hash_minimum) {
        *why = "SRS hash too short";
        return 0;
    }
    if (glen > SRS_HASH_FULL) {
        *why = "SRS hash does not match";
        return 0;
    }
    char g[SRS_HASH_FULL], want[SRS_HASH_FULL];
    for (size_t i = 0; i < glen; i++)
        g[i] = hash_fold(given[i]);
    int match = 0;
    for (size_t i = 0; i < s->nsecrets; i++) {
        uint8_t md[20];
        if (srs_hmac(s, i, f, nf, md) < 0) {
            *why = "HMAC failed";
            return 0;
        }
        base64_prefix(md, base64_url, want, glen);
        for (size_t k = 0; k < glen; k++)
            want[k] = hash_fold(want[k]);
        match |= CRYPTO_memcmp(g, want, glen) == 0;
    }
    if (!match)
        *why = "SRS hash does not match";
    return match;
}

static int is_sep(char c)
{
    return c == '=' || c == '+' || c == '-';
}

static int has_tag(const char *local, size_t n, const char *tag)
{
    return n > SRS_TAG_LEN && strncasecmp(local, tag, SRS_TAG_LEN) == 0 &&
           is_sep(local[SRS_TAG_LEN]);
}

/* Next '='-delimited field of [*p, end): returns its start and length and
 * moves *p past the '='. Fails when there is no '=' left. */
static int next_field(const char **p, const char *end, struct field *f)
{
    const char *eq = memchr(*p, '=', (size_t)(end - *p));
    if (!eq)
        return -1;
    f->p = *p;
    f->n = (size_t)(eq - *p);
    *p = eq + 1;
    return 0;
}

/* Write "local@domain", quoting local when it is not a dot-atom. Returns
 * SRS_OK, SRS_UNCHANGED when a limit on the local part is hit, SRS_ERROR when out is too small. */
static int emit(const char *local, size_t n, size_t local_max, const char *too_long,
                const char *domain, char *out, size_t outsz, const char **why)
{
    char quoted[2 * ADDR_LOCAL_MAX + 8];
    int q = addr_quote_local(local, n, quoted, sizeof(quoted));
    if (q < 0 || (size_t)q > local_max) {
        *why = too_long;
        return SRS_UNCHANGED;
    }
    size_t dl = strlen(domain);
    if ((size_t)q + 1 + dl + 1 > outsz) {
        *why = "output buffer too small";
        return SRS_ERROR;
    }
    memcpy(out, quoted, (size_t)q);
    out[q] = '@';
    memcpy(out + q + 1, domain, dl + 1);
    return SRS_OK;
}

static int day_number(time_t now)
{
    if (now < 0)
        now = 0;
    return (int)((now / 86400) % SRS_TIME_SLOTS);
}

int srs_forward(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (len == 0 || (len == 2 && addr[0] == '<' && addr[1] == '>')) {
        *why = "empty sender";
        return SRS_UNCHANGED;
    }
    struct addr a;
    if (addr_split(addr, len, &a) < 0) {
        *why = a.why;
        return SRS_UNCHANGED;
    }
    if (domain_equal(a.domain, a.domain_len, s->domain, strlen(s->domain))) {
        *why = "already in the SRS domain";
        return SRS_UNCHANGED;
    }
    if (domlist_match(s->local_domains.v, s->local_domains.n, a.domain, a.domain_len)) {
        *why = "local domain";
        return SRS_UNCHANGED;
    }

    char local[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 64];
    char hash[SRS_HASH_FULL + 1];
    const char *l = a.local, *end = a.local + a.local_len;
    struct field hop, rest;
    int n;
    int srs1_input = 0;
    if (has_tag(l, a.local_len, "SRS1")) {
        /* SRS1=HHHH=hop1==rest: keep hop1 and rest, re-hash with our secret. */
        const char *p = l + SRS_TAG_LEN + 1;
        struct field oldhash;
        if (next_field(&p, end, &oldhash) == 0 && next_field(&p, end, &hop) == 0 &&
            addr_valid_domain(hop.p, hop.n) && p < end) {
            rest.p = p;
            rest.n = (size_t)(end - p);
            srs1_input = 1;
        }
    } else if (has_tag(l, a.local_len, "SRS0")) {
        /* Someone else's SRS0: we are the second hop; hop1 is its domain. */
        hop.p = a.domain;
        hop.n = a.domain_len;
        rest.p = l + SRS_TAG_LEN; /* keeps its separator: "=HHHH=TT=host=user" */
        rest.n = a.local_len - SRS_TAG_LEN;
        srs1_input = 1;
    }
    if (srs1_input) {
        struct field f[2] = {hop, rest};
        if (make_hash(s, f, 2, hash) < 0)
            goto hmac_failed;
        n = snprintf(local, sizeof(local), "SRS1%c%.*s=%.*s=%.*s", s->p.separator,
                     (int)s->p.hash_length, hash, (int)hop.n, hop.p, (int)rest.n, rest.p);
    } else {
        int day = day_number(now);
        char stamp[2] = {base32_chars[(day >> 5) & 31], base32_chars[day & 31]};
        struct field f[3] = {{stamp, 2}, {a.domain, a.domain_len}, {a.local, a.local_len}};
        if (make_hash(s, f, 3, hash) < 0)
            goto hmac_failed;
        n = snprintf(local, sizeof(local), "SRS0%c%.*s=%c%c=%s=%.*s", s->p.separator,
                     (int)s->p.hash_length, hash, stamp[0], stamp[1], a.domain, (int)a.local_len,
                     a.local);
    }
    if (n < 0 || (size_t)n >= sizeof(local)) {
        *why = srs_why_too_long;
        return SRS_UNCHANGED;
    }
    return emit(local, (size_t)n, SRS_LOCAL_MAX, srs_why_too_long, s->domain, out, outsz, why);
hmac_failed:
    *why = "HMAC failed";
    return SRS_ERROR;
}

static int decode_stamp(const struct field *f)
{
    if (f->n != 2)
        return -1;
    int v = 0;
    for (int i = 0; i < 2; i++) {
        char c = f->p[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        const char *hit = c ? strchr(base32_chars, c) : NULL;
        if (!hit)
            return -1;
        v = (v << 5) | (int)(hit - base32_chars);
    }
    return v;
}

int srs_reverse(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    struct addr a;
    if (addr_split(addr, len, &a) < 0) {
        *why = "not an SRS address";
        return SRS_UNCHANGED;
    }
    const char *l = a.local, *end = a.local + a.local_len;
    const char *p = l + SRS_TAG_LEN + 1;
    struct field hash, f1, f2, f3;

    if (has_tag(l, a.local_len, "SRS0")) {
        /* SRS0=HHHH=TT=host=user; user may itself contain '='. */
        if (next_field(&p, end, &hash) < 0 || next_field(&p, end, &f1) < 0 ||
            next_field(&p, end, &f2) < 0 || !addr_valid_domain(f2.p, f2.n) || p == end) {
            *why = "malformed SRS0 address";
            return SRS_UNCHANGED;
        }
        f3.p = p;
        f3.n = (size_t)(end - p);
        int then = decode_stamp(&f1);
        if (then < 0) {
            *why = "malformed SRS0 timestamp";
            return SRS_UNCHANGED;
        }
        struct field f[3] = {f1, f2, f3};
        if (!check_hash(s, hash.p, hash.n, f, 3, why))
            return SRS_UNCHANGED;
        int today = day_number(now);
        while (today < then)
            today += SRS_TIME_SLOTS;
        if ((unsigned)(today - then) > s->p.max_age) {
            *why = "SRS address expired";
            return SRS_UNCHANGED;
        }
        char host[ADDR_DOMAIN_MAX + 1];
        memcpy(host, f2.p, f2.n);
        host[f2.n] = '\0';
        return emit(f3.p, f3.n, ADDR_LOCAL_MAX, "restored local part too long", host, out, outsz,
                    why);
    }
    if (has_tag(l, a.local_len, "SRS1")) {
        /* SRS1=HHHH=hop1==rest -> SRS0<rest>@hop1 (rest keeps its separator). */
        if (next_field(&p, end, &hash) < 0 || next_field(&p, end, &f1) < 0 ||
            !addr_valid_domain(f1.p, f1.n) || p == end) {
            *why = "malformed SRS1 address";
            return SRS_UNCHANGED;
        }
        f2.p = p;
        f2.n = (size_t)(end - p);
        struct field f[2] = {f1, f2};
        if (!check_hash(s, hash.p, hash.n, f, 2, why))
            return SRS_UNCHANGED;
        char local[ADDR_LOCAL_MAX + 8], host[ADDR_DOMAIN_MAX + 1];
        int n = snprintf(local, sizeof(local), "SRS0%.*s", (int)f2.n, f2.p);
        if (n < 0 || (size_t)n >= sizeof(local)) {
            *why = "malformed SRS1 address";
            return SRS_UNCHANGED;
        }
        memcpy(host, f1.p, f1.n);
        host[f1.n] = '\0';
        return emit(local, (size_t)n, ADDR_LOCAL_MAX, "restored local part too long", host, out,
                    outsz, why);
    }
    *why = "not an SRS address";
    return SRS_UNCHANGED;
}
