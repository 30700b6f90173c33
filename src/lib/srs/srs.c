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

static const char base32_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char base64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char base64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* One SRS domain and the secrets that sign and verify its addresses. */
struct realm {
    char domain[ADDR_DOMAIN_MAX + 1];
    EVP_MAC_CTX *keyed[SRS_SECRETS_MAX]; /* one HMAC-SHA1 context per secret, keyed once */
    size_t nsecrets;
    unsigned char fingerprint[32]; /* SHA-256 of the secrets: "the same secrets?" */
};

/* A forwarding domain (or ".domain") and the realm it maps to. */
struct fwdmap {
    char *pattern;
    size_t realm;
};

struct srs {
    struct srs_params p;
    struct fa_list local_domains; /* own copy */
    EVP_MAC *mac;
    struct realm *realms; /* [0] is the default srs_domain */
    size_t nrealms, realms_cap;
    struct fwdmap *fwd;
    size_t nfwd, fwd_cap;
    struct srs_store *store; /* owned; NULL without */
};

/* A field of the hashed data: bytes that are lower-cased while hashing. */
struct field {
    const char *p;
    size_t n;
};

static void realm_clear(struct realm *r)
{
    for (size_t i = 0; i < r->nsecrets; i++)
        EVP_MAC_CTX_free(r->keyed[i]); /* OpenSSL cleanses the key */
    r->nsecrets = 0;
}

void srs_free(srs *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nrealms; i++)
        realm_clear(&s->realms[i]);
    free(s->realms);
    for (size_t i = 0; i < s->nfwd; i++)
        free(s->fwd[i].pattern);
    free(s->fwd);
    EVP_MAC_free(s->mac);
    strlist_free(&s->local_domains);
    if (s->store)
        s->store->free(s->store);
    free(s);
}

size_t srs_secret_count(const srs *s)
{
    return s->realms[0].nsecrets;
}

size_t srs_domain_count(const srs *s)
{
    return s->nrealms;
}

const char *srs_domain_name(const srs *s, size_t i)
{
    return i < s->nrealms ? s->realms[i].domain : NULL;
}

int srs_has_store(const srs *s)
{
    return s->store != NULL;
}

/* SHA-256 over each secret's length and bytes: equal secrets, equal print. */
static int fingerprint(const char *const *secrets, const size_t *lens, size_t n,
                       unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned len = 0;
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t l = lens[i];
        ok = EVP_DigestUpdate(c, &l, sizeof(l)) && EVP_DigestUpdate(c, secrets[i], lens[i]);
    }
    ok = ok && EVP_DigestFinal_ex(c, out, &len) && len == 32;
    EVP_MD_CTX_free(c);
    return ok ? 0 : -1;
}

/* Key one HMAC-SHA1 context per secret into r. */
static int realm_key(const srs *s, struct realm *r, const char *const *secrets, const size_t *lens,
                     size_t n, fa_err *err)
{
    if (n == 0 || n > SRS_SECRETS_MAX)
        return fa_err_set(err, "need 1 to %d SRS secrets, got %zu", SRS_SECRETS_MAX, n);
    char digest[] = "SHA1";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    for (size_t i = 0; i < n; i++) {
        if (lens[i] == 0)
            return fa_err_set(err, "SRS secret %zu is empty", i + 1);
        EVP_MAC_CTX *c = EVP_MAC_CTX_new(s->mac);
        if (!c || !EVP_MAC_init(c, (const unsigned char *)secrets[i], lens[i], params)) {
            EVP_MAC_CTX_free(c);
            return fa_err_set(err, "cannot set up HMAC-SHA1 for SRS secret %zu", i + 1);
        }
        r->keyed[r->nsecrets++] = c;
    }
    if (fingerprint(secrets, lens, n, r->fingerprint) < 0)
        return fa_err_set(err, "SHA-256 failed");
    return 0;
}

/* A realm for domain with the default realm's secrets. */
static int realm_copy_default(const srs *s, struct realm *r, fa_err *err)
{
    const struct realm *d = &s->realms[0];
    for (size_t i = 0; i < d->nsecrets; i++) {
        EVP_MAC_CTX *c = EVP_MAC_CTX_dup(d->keyed[i]);
        if (!c)
            return fa_err_set(err, "out of memory");
        r->keyed[r->nsecrets++] = c;
    }
    memcpy(r->fingerprint, d->fingerprint, sizeof(r->fingerprint));
    return 0;
}

static int valid_srs_domain(const char *d)
{
    size_t n = d ? strlen(d) : 0;
    /* Not "1": an address there would read as an alias. */
    return n > 0 && n <= ADDR_DOMAIN_MAX && addr_valid_domain(d, n) && d[0] != '[' &&
           strcmp(d, SRS_STORE_HOST) != 0;
}

srs *srs_new(const struct srs_params *p, const char *const *secrets, const size_t *secret_lens,
             size_t nsecrets, fa_err *err)
{
    struct srs_store *store = p->store;
    if (!valid_srs_domain(p->domain)) {
        fa_err_set(err, "SRS domain missing, not a domain name or longer than %d octets",
                   ADDR_DOMAIN_MAX);
        goto refuse;
    }
    if (nsecrets == 0 || nsecrets > SRS_SECRETS_MAX) {
        fa_err_set(err, "need 1 to %d SRS secrets, got %zu", SRS_SECRETS_MAX, nsecrets);
        goto refuse;
    }
    if (p->hash_length < 1 || p->hash_length > SRS_HASH_FULL || p->hash_minimum > p->hash_length ||
        p->max_age < 1 || p->max_age >= SRS_TIME_SLOTS ||
        !(p->separator == '=' || p->separator == '+' || p->separator == '-') ||
        p->mode < SRS_MODE_STATELESS || p->mode > SRS_MODE_DATABASE) {
        fa_err_set(err, "invalid SRS parameters");
        goto refuse;
    }
    if (p->mode != SRS_MODE_STATELESS && !store) {
        fa_err_set(err, "SRS mode %s needs a store",
                   p->mode == SRS_MODE_HYBRID ? "hybrid" : "database");
        goto refuse;
    }
    if (store && p->hash_length > SRS_ALIAS_HASH_MAX) {
        fa_err_set(err,
                   "with a store the SRS hash may be at most %d characters (its aliases must "
                   "fit in 64 octets), not %u",
                   SRS_ALIAS_HASH_MAX, p->hash_length);
        goto refuse;
    }
    srs *s = calloc(1, sizeof(*s));
    if (!s) {
        fa_err_set(err, "out of memory");
        goto refuse;
    }
    s->p = *p;
    s->store = store;
    s->p.store = NULL;
    if (s->p.hash_minimum == 0)
        s->p.hash_minimum = s->p.hash_length;
    s->local_domains.v = calloc(p->n_local_domains ? p->n_local_domains : 1, sizeof(char *));
    s->realms = calloc(1, sizeof(*s->realms));
    if (!s->local_domains.v || !s->realms)
        goto oom;
    s->realms_cap = 1;
    s->nrealms = 1;
    strcpy(s->realms[0].domain, p->domain);
    s->p.domain = s->realms[0].domain;
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
    if (realm_key(s, &s->realms[0], secrets, secret_lens, nsecrets, err) < 0) {
        srs_free(s);
        return NULL;
    }
    return s;
oom:
    fa_err_set(err, "out of memory");
    srs_free(s);
    return NULL;
refuse:
    if (store)
        store->free(store);
    return NULL;
}

static int valid_pattern(const char *f)
{
    const char *d = f && f[0] == '.' ? f + 1 : f;
    size_t n = d ? strlen(d) : 0;
    return n > 0 && n <= ADDR_DOMAIN_MAX && addr_valid_domain(d, n) && d[0] != '[' && d[0] != '.';
}

int srs_add_domain(srs *s, const char *fwd, const char *srs_domain, const char *const *secrets,
                   const size_t *secret_lens, size_t nsecrets, fa_err *err)
{
    if (!valid_pattern(fwd))
        return fa_err_set(err, "forwarding domain \"%.80s\": expected a domain name or .domain",
                          fwd ? fwd : "");
    if (!valid_srs_domain(srs_domain))
        return fa_err_set(err, "SRS domain \"%.80s\": expected a domain name",
                          srs_domain ? srs_domain : "");
    for (size_t i = 0; i < s->nfwd; i++)
        if (strcasecmp(s->fwd[i].pattern, fwd) == 0)
            return fa_err_set(err, "forwarding domain %s is mapped twice", fwd);
    if (s->nfwd >= SRS_FORWARDING_MAX)
        return fa_err_set(err, "more than %d forwarding domains", SRS_FORWARDING_MAX);
    unsigned char print[32];
    if (nsecrets > 0 && fingerprint(secrets, secret_lens, nsecrets, print) < 0)
        return fa_err_set(err, "SHA-256 failed");
    size_t r;
    for (r = 0; r < s->nrealms; r++)
        if (domain_equal(s->realms[r].domain, strlen(s->realms[r].domain), srs_domain,
                         strlen(srs_domain)))
            break;
    if (r < s->nrealms) {
        const unsigned char *want = nsecrets > 0 ? print : s->realms[0].fingerprint;
        if (CRYPTO_memcmp(want, s->realms[r].fingerprint, 32) != 0)
            return fa_err_set(err,
                              "SRS domain %s is used with other secrets elsewhere: one SRS "
                              "domain, one set of secrets",
                              srs_domain);
    } else {
        if (s->nrealms >= SRS_DOMAINS_MAX)
            return fa_err_set(err, "more than %d SRS domains", SRS_DOMAINS_MAX);
        if (s->nrealms == s->realms_cap) {
            size_t cap = s->realms_cap * 2;
            struct realm *nr = realloc(s->realms, cap * sizeof(*nr));
            if (!nr)
                return fa_err_set(err, "out of memory");
            s->realms = nr;
            s->realms_cap = cap;
            s->p.domain = s->realms[0].domain;
        }
        struct realm *nr = &s->realms[s->nrealms];
        memset(nr, 0, sizeof(*nr));
        strcpy(nr->domain, srs_domain);
        int rc = nsecrets > 0 ? realm_key(s, nr, secrets, secret_lens, nsecrets, err)
                              : realm_copy_default(s, nr, err);
        if (rc < 0) {
            realm_clear(nr);
            return -1;
        }
        s->nrealms++;
    }
    if (s->nfwd == s->fwd_cap) {
        size_t cap = s->fwd_cap ? s->fwd_cap * 2 : 8;
        struct fwdmap *nf = realloc(s->fwd, cap * sizeof(*nf));
        if (!nf)
            return fa_err_set(err, "out of memory");
        s->fwd = nf;
        s->fwd_cap = cap;
    }
    if (!(s->fwd[s->nfwd].pattern = strdup(fwd)))
        return fa_err_set(err, "out of memory");
    s->fwd[s->nfwd].realm = r;
    s->nfwd++;
    return 0;
}

/* HMAC-SHA1 with the realm's secret i over the lower-cased fields, no
 * delimiters (libsrs2). */
static int srs_hmac(const struct realm *r, size_t i, const struct field *f, size_t nf,
                    uint8_t md[20])
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(r->keyed[i]);
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

static int make_hash(const srs *s, const struct realm *r, const struct field *f, size_t nf,
                     char *out)
{
    uint8_t md[20];
    if (srs_hmac(r, 0, f, nf, md) < 0)
        return -1;
    base64_prefix(md, s->p.alphabet == FA_SRS_BASE64 ? base64_std : base64_url, out,
                  s->p.hash_length);
    OPENSSL_cleanse(md, sizeof(md));
    return 0;
}

static void set_why(struct srs_why *why, int reason, const char *text)
{
    why->reason = reason;
    why->text = text;
}

/* Does the given hash match a secret of the realm of the address's domain
 * (of every realm when the domain is none of ours)? Constant time per
 * secret. */
static int check_hash(const srs *s, const char *domain, size_t dlen, const char *given, size_t glen,
                      const struct field *f, size_t nf, struct srs_why *why)
{
    if (glen < s->p.hash_minimum) {
        set_why(why, SRS_R_BAD_HASH, "SRS hash too short");
        return 0;
    }
    if (glen > SRS_HASH_FULL) {
        set_why(why, SRS_R_BAD_HASH, "SRS hash does not match");
        return 0;
    }
    size_t first = 0, last = s->nrealms;
    for (size_t r = 0; r < s->nrealms; r++) {
        const char *d = s->realms[r].domain;
        if (domain_equal(d, strlen(d), domain, dlen)) {
            first = r;
            last = r + 1;
            break;
        }
    }
    char g[SRS_HASH_FULL], want[SRS_HASH_FULL];
    for (size_t i = 0; i < glen; i++)
        g[i] = hash_fold(given[i]);
    int match = 0;
    for (size_t r = first; r < last; r++) {
        const struct realm *rl = &s->realms[r];
        /* Realms that share the default secrets need not be tried twice. */
        if (last - first > 1 && r > 0 &&
            CRYPTO_memcmp(rl->fingerprint, s->realms[0].fingerprint, 32) == 0)
            continue;
        for (size_t i = 0; i < rl->nsecrets; i++) {
            uint8_t md[20];
            if (srs_hmac(rl, i, f, nf, md) < 0) {
                set_why(why, SRS_R_INTERNAL, "HMAC failed");
                return 0;
            }
            base64_prefix(md, base64_url, want, glen);
            for (size_t k = 0; k < glen; k++)
                want[k] = hash_fold(want[k]);
            match |= CRYPTO_memcmp(g, want, glen) == 0;
        }
    }
    if (!match)
        set_why(why, SRS_R_BAD_HASH, "SRS hash does not match");
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
 * SRS_OK, SRS_UNCHANGED (with reason) when a limit on the local part is
 * hit, SRS_ERROR when out is too small. */
static int emit(const char *local, size_t n, size_t local_max, int reason, const char *too_long,
                const char *domain, char *out, size_t outsz, struct srs_why *why)
{
    char quoted[2 * ADDR_LOCAL_MAX + 8];
    int q = addr_quote_local(local, n, quoted, sizeof(quoted));
    if (q < 0 || (size_t)q > local_max) {
        set_why(why, reason, too_long);
        return SRS_UNCHANGED;
    }
    size_t dl = strlen(domain);
    if ((size_t)q + 1 + dl + 1 > outsz) {
        set_why(why, SRS_R_INTERNAL, "output buffer too small");
        return SRS_ERROR;
    }
    memcpy(out, quoted, (size_t)q);
    out[q] = '@';
    memcpy(out + q + 1, domain, dl + 1);
    set_why(why, SRS_R_NONE, NULL);
    return SRS_OK;
}

static int day_number(time_t now)
{
    if (now < 0)
        now = 0;
    return (int)((now / 86400) % SRS_TIME_SLOTS);
}

/* An SRS0 address of realm r for host and user, stamped now, into local. */
static int make_srs0(const srs *s, const struct realm *r, const char *host, size_t hlen,
                     const char *user, size_t ulen, time_t now, char *local, size_t localsz)
{
    char hash[SRS_HASH_FULL + 1];
    int day = day_number(now);
    char stamp[2] = {base32_chars[(day >> 5) & 31], base32_chars[day & 31]};
    struct field f[3] = {{stamp, 2}, {host, hlen}, {user, ulen}};
    if (make_hash(s, r, f, 3, hash) < 0)
        return -1;
    int n =
        snprintf(local, localsz, "SRS0%c%.*s=%c%c=%.*s=%.*s", s->p.separator, (int)s->p.hash_length,
                 hash, stamp[0], stamp[1], (int)hlen, host, (int)ulen, user);
    return n < 0 || (size_t)n >= localsz ? -2 : n;
}

/* The realm of the first forwarded recipient whose domain is mapped (the
 * longest pattern wins: "a.example" before ".example"); 0 without. */
static size_t pick_realm(const srs *s, char *const *rcpts, size_t nrcpts)
{
    for (size_t i = 0; i < nrcpts && s->nfwd > 0; i++) {
        const char *r = rcpts[i];
        size_t n = r ? strlen(r) : 0;
        if (n >= 2 && r[0] == '<' && r[n - 1] == '>') {
            r++;
            n -= 2;
        }
        struct addr a;
        if (n == 0 || addr_split(r, n, &a) < 0)
            continue;
        size_t best = 0, best_len = 0;
        for (size_t k = 0; k < s->nfwd; k++) {
            char *pat = s->fwd[k].pattern;
            size_t pl = strlen(pat);
            if (pl > best_len && domlist_match(&pat, 1, a.domain, a.domain_len)) {
                best = s->fwd[k].realm;
                best_len = pl;
            }
        }
        if (best_len)
            return best;
    }
    return 0;
}

/* SRS_TEMP, with the store's reason (bounded) in why->detail. */
static int store_failed(struct srs_why *why, const fa_err *e)
{
    snprintf(why->detail, sizeof(why->detail), "SRS store: %.140s", e->msg[0] ? e->msg : "failed");
    set_why(why, SRS_R_STORE_FAILED, why->detail);
    return SRS_TEMP;
}

/* Store addr under its key and write its alias into out. */
static int forward_alias(const srs *s, const struct realm *r, const char *addr, size_t len,
                         time_t now, char *out, size_t outsz, struct srs_why *why)
{
    char key[SRS_STORE_KEY_LEN + 1];
    if (len > SRS_STORE_VALUE_MAX) {
        set_why(why, SRS_R_TOO_LONG, "sender too long to store");
        return SRS_UNCHANGED;
    }
    if (srs_store_key(addr, len, key) < 0) {
        set_why(why, SRS_R_INTERNAL, "SHA-1 failed");
        return SRS_ERROR;
    }
    fa_err e = {{0}};
    /* Kept one day longer than max_age days: the time stamp counts whole
     * days, so an alias made early on its day is valid almost a day more. */
    if (s->store->put(s->store, key, addr, len, (s->p.max_age + 1) * 86400u, now, &e) !=
        SRS_STORE_OK)
        return store_failed(why, &e);
    char local[SRS_LOCAL_MAX + 1];
    int n = make_srs0(s, r, SRS_STORE_HOST, 1, key, SRS_STORE_HASH_LEN, now, local, sizeof(local));
    if (n < 0) {
        set_why(why, SRS_R_INTERNAL, n == -1 ? "HMAC failed" : "alias too long");
        return SRS_ERROR;
    }
    return emit(local, (size_t)n, SRS_LOCAL_MAX, SRS_R_INTERNAL, "alias too long", r->domain, out,
                outsz, why);
}

int srs_forward_ex(const srs *s, char *const *rcpts, size_t nrcpts, const char *addr, size_t len,
                   time_t now, char *out, size_t outsz, struct srs_why *why)
{
    struct srs_why dummy;
    if (!why)
        why = &dummy;
    set_why(why, SRS_R_NONE, NULL);
    if (len == 0 || (len == 2 && addr[0] == '<' && addr[1] == '>')) {
        set_why(why, SRS_R_EMPTY, "empty sender");
        return SRS_UNCHANGED;
    }
    struct addr a;
    if (addr_split(addr, len, &a) < 0) {
        set_why(why, SRS_R_NOT_ADDRESS, a.why);
        return SRS_UNCHANGED;
    }
    for (size_t i = 0; i < s->nrealms; i++) {
        if (domain_equal(a.domain, a.domain_len, s->realms[i].domain,
                         strlen(s->realms[i].domain))) {
            set_why(why, SRS_R_OURS, "already in the SRS domain");
            return SRS_UNCHANGED;
        }
    }
    if (domlist_match(s->local_domains.v, s->local_domains.n, a.domain, a.domain_len)) {
        set_why(why, SRS_R_LOCAL, "local domain");
        return SRS_UNCHANGED;
    }
    const struct realm *r = &s->realms[pick_realm(s, rcpts, nrcpts)];

    const char *l = a.local, *end = a.local + a.local_len;
    struct field hop, rest;
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
    int storable = s->store && s->p.mode != SRS_MODE_STATELESS;
    /* Database mode stores every plain sender; a sender at "1" would read
     * as an alias, so it is stored whenever a store can take it. */
    int at_one = domain_equal(a.domain, a.domain_len, SRS_STORE_HOST, 1);
    if (storable && !srs1_input && (s->p.mode == SRS_MODE_DATABASE || at_one))
        return forward_alias(s, r, addr, len, now, out, outsz, why);
    if (at_one && !srs1_input && srs_store_key_valid(a.local, a.local_len)) {
        /* Its SRS0 would read as an alias of ours, which only a store can
         * reverse: no address we cannot take back. */
        set_why(why, SRS_R_NOT_ADDRESS, "sender looks like an SRS alias (domain \"1\")");
        return SRS_UNCHANGED;
    }

    char local[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 64];
    int n;
    if (srs1_input) {
        char hash[SRS_HASH_FULL + 1];
        struct field f[2] = {hop, rest};
        if (make_hash(s, r, f, 2, hash) < 0)
            goto hmac_failed;
        n = snprintf(local, sizeof(local), "SRS1%c%.*s=%.*s=%.*s", s->p.separator,
                     (int)s->p.hash_length, hash, (int)hop.n, hop.p, (int)rest.n, rest.p);
        if (n < 0 || (size_t)n >= sizeof(local))
            n = -2;
    } else {
        n = make_srs0(s, r, a.domain, a.domain_len, a.local, a.local_len, now, local,
                      sizeof(local));
        if (n == -1)
            goto hmac_failed;
    }
    int rc = n < 0
                 ? SRS_UNCHANGED
                 : emit(local, (size_t)n, SRS_LOCAL_MAX, SRS_R_TOO_LONG,
                        "rewritten local part would exceed 64 octets", r->domain, out, outsz, why);
    if (rc == SRS_UNCHANGED) {
        if (storable)
            return forward_alias(s, r, addr, len, now, out, outsz, why);
        set_why(why, SRS_R_TOO_LONG, "rewritten local part would exceed 64 octets");
    }
    return rc;
hmac_failed:
    set_why(why, SRS_R_INTERNAL, "HMAC failed");
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

/* A valid, unexpired alias: the sender its key names, from the store. */
static int reverse_alias(const srs *s, const struct field *user, char *out, size_t outsz,
                         time_t now, struct srs_why *why)
{
    if (!s->store) {
        set_why(why, SRS_R_NO_STORE, "an SRS alias, but no srs_store is configured");
        return SRS_UNCHANGED;
    }
    char key[SRS_STORE_KEY_LEN + 1];
    for (size_t i = 0; i < SRS_STORE_HASH_LEN; i++) {
        char c = user->p[i];
        key[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c; /* PostSRSd's keys are upper case */
    }
    memcpy(key + SRS_STORE_HASH_LEN, "@" SRS_STORE_HOST, 3);
    char val[SRS_STORE_VALUE_MAX + 1];
    size_t vlen = 0;
    fa_err e = {{0}};
    int rc = s->store->get(s->store, key, now, val, sizeof(val), &vlen, &e);
    if (rc == SRS_STORE_MISS) {
        set_why(why, SRS_R_UNKNOWN_KEY, "SRS alias not in the store (expired there, or lost)");
        return SRS_UNCHANGED;
    }
    if (rc != SRS_STORE_OK) {
        return store_failed(why, &e);
    }
    const char *bad;
    if (vlen >= sizeof(val) || srs_store_value_check(key, val, vlen, &bad) < 0) {
        set_why(why, SRS_R_BAD_VALUE, vlen >= sizeof(val) ? "stored sender too long" : bad);
        return SRS_UNCHANGED;
    }
    if (vlen + 1 > outsz) {
        set_why(why, SRS_R_INTERNAL, "output buffer too small");
        return SRS_ERROR;
    }
    memcpy(out, val, vlen);
    out[vlen] = '\0';
    set_why(why, SRS_R_NONE, NULL);
    return SRS_OK;
}

int srs_reverse_ex(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                   struct srs_why *why)
{
    struct srs_why dummy;
    if (!why)
        why = &dummy;
    set_why(why, SRS_R_NONE, NULL);
    struct addr a;
    if (addr_split(addr, len, &a) < 0) {
        set_why(why, SRS_R_NOT_SRS, "not an SRS address");
        return SRS_UNCHANGED;
    }
    const char *l = a.local, *end = a.local + a.local_len;
    const char *p = l + SRS_TAG_LEN + 1;
    struct field hash, f1, f2, f3;

    if (has_tag(l, a.local_len, "SRS0")) {
        /* SRS0=HHHH=TT=host=user; user may itself contain '='. */
        if (next_field(&p, end, &hash) < 0 || next_field(&p, end, &f1) < 0 ||
            next_field(&p, end, &f2) < 0 || !addr_valid_domain(f2.p, f2.n) || p == end) {
            set_why(why, SRS_R_MALFORMED, "malformed SRS0 address");
            return SRS_UNCHANGED;
        }
        f3.p = p;
        f3.n = (size_t)(end - p);
        int then = decode_stamp(&f1);
        if (then < 0) {
            set_why(why, SRS_R_MALFORMED, "malformed SRS0 timestamp");
            return SRS_UNCHANGED;
        }
        struct field f[3] = {f1, f2, f3};
        if (!check_hash(s, a.domain, a.domain_len, hash.p, hash.n, f, 3, why))
            return why->reason == SRS_R_INTERNAL ? SRS_ERROR : SRS_UNCHANGED;
        int today = day_number(now);
        while (today < then)
            today += SRS_TIME_SLOTS;
        if ((unsigned)(today - then) > s->p.max_age) {
            set_why(why, SRS_R_EXPIRED, "SRS address expired");
            return SRS_UNCHANGED;
        }
        /* Hash and age hold: only now may an alias cost a store lookup. */
        if (f2.n == 1 && f2.p[0] == SRS_STORE_HOST[0] && srs_store_key_valid(f3.p, f3.n))
            return reverse_alias(s, &f3, out, outsz, now, why);
        char host[ADDR_DOMAIN_MAX + 1];
        memcpy(host, f2.p, f2.n);
        host[f2.n] = '\0';
        return emit(f3.p, f3.n, ADDR_LOCAL_MAX, SRS_R_RESULT_LONG, "restored local part too long",
                    host, out, outsz, why);
    }
    if (has_tag(l, a.local_len, "SRS1")) {
        /* SRS1=HHHH=hop1==rest -> SRS0<rest>@hop1 (rest keeps its separator). */
        if (next_field(&p, end, &hash) < 0 || next_field(&p, end, &f1) < 0 ||
            !addr_valid_domain(f1.p, f1.n) || p == end) {
            set_why(why, SRS_R_MALFORMED, "malformed SRS1 address");
            return SRS_UNCHANGED;
        }
        f2.p = p;
        f2.n = (size_t)(end - p);
        struct field f[2] = {f1, f2};
        if (!check_hash(s, a.domain, a.domain_len, hash.p, hash.n, f, 2, why))
            return why->reason == SRS_R_INTERNAL ? SRS_ERROR : SRS_UNCHANGED;
        char local[ADDR_LOCAL_MAX + 8], host[ADDR_DOMAIN_MAX + 1];
        int n = snprintf(local, sizeof(local), "SRS0%.*s", (int)f2.n, f2.p);
        if (n < 0 || (size_t)n >= sizeof(local)) {
            set_why(why, SRS_R_MALFORMED, "malformed SRS1 address");
            return SRS_UNCHANGED;
        }
        memcpy(host, f1.p, f1.n);
        host[f1.n] = '\0';
        return emit(local, (size_t)n, ADDR_LOCAL_MAX, SRS_R_RESULT_LONG,
                    "restored local part too long", host, out, outsz, why);
    }
    set_why(why, SRS_R_NOT_SRS, "not an SRS address");
    return SRS_UNCHANGED;
}

int srs_forward(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                const char **why)
{
    struct srs_why w;
    int rc = srs_forward_ex(s, NULL, 0, addr, len, now, out, outsz, &w);
    if (why)
        *why = w.reason == SRS_R_STORE_FAILED ? "SRS store failed" : w.text;
    return rc;
}

int srs_reverse(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                const char **why)
{
    struct srs_why w;
    int rc = srs_reverse_ex(s, addr, len, now, out, outsz, &w);
    if (why)
        *why = w.reason == SRS_R_STORE_FAILED ? "SRS store failed" : w.text;
    return rc;
}
