/* dkim - DKIM signing and verification; see dkim.h. */
#include "dkim.h"

#include "b64.h"
#include "dkimcore.h"
#include "tags.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DKIM_SIG_B64_MAX (B64_ENCODED_LEN(KEY_SIG_MAX) + 1)

static int alg_md(int alg)
{
    return alg == DKIM_RSA_SHA1 ? KEY_MD_SHA1 : KEY_MD_SHA256;
}

/* ---- signing ---- */

struct sign_item {
    struct dkim_sign_spec spec;
    int bh;
};

struct dkim_signer {
    struct sign_item items[DKIM_MAX_SIGS];
    size_t n;
    struct dkimcore_hashes hs;
};

void dkim_signer_free(struct dkim_signer *s)
{
    if (!s)
        return;
    dkimcore_hashes_free(&s->hs);
    free(s);
}

struct dkim_signer *dkim_signer_new(const struct dkim_sign_spec *specs, size_t n, fa_err *err)
{
    if (n == 0 || n > DKIM_MAX_SIGS) {
        fa_err_set(err, "need 1 to %d signatures", DKIM_MAX_SIGS);
        return NULL;
    }
    struct dkim_signer *s = calloc(1, sizeof(*s));
    if (!s) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    if (dkimcore_hashes_init(&s->hs, err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        struct dkim_sign_spec sp = specs[i];
        if (!sp.domain || !sp.domain[0] || !sp.selector || !sp.selector[0] || !sp.key) {
            fa_err_set(err, "signature %zu: domain, selector and key are required", i + 1);
            goto fail;
        }
        if (!key_is_private(sp.key)) {
            fa_err_set(err, "signature %zu: the key is not a private key", i + 1);
            goto fail;
        }
        int kt = key_type(sp.key);
        if (sp.alg < 0)
            sp.alg = kt == KEY_ED25519 ? DKIM_ED25519_SHA256 : DKIM_RSA_SHA256;
        if (sp.alg == DKIM_RSA_SHA1) {
            fa_err_set(err, "signature %zu: rsa-sha1 must not be used for signing (RFC 8301)",
                       i + 1);
            goto fail;
        }
        if ((sp.alg == DKIM_ED25519_SHA256) != (kt == KEY_ED25519)) {
            fa_err_set(err, "signature %zu: %s needs a%s key", i + 1, dkim_alg_name(sp.alg),
                       sp.alg == DKIM_ED25519_SHA256 ? "n Ed25519" : "n RSA");
            goto fail;
        }
        if (sp.identity) {
            /* i= must be d= or a subdomain of it (RFC 6376 section 3.5). */
            const char *at = strrchr(sp.identity, '@');
            if (!at || strpbrk(sp.identity, " ;\t\r\n") ||
                !dkimcore_domain_within(at + 1, sp.domain)) {
                fa_err_set(err, "signature %zu: -i %s is not within d=%s", i + 1, sp.identity,
                           sp.domain);
                goto fail;
            }
        }
        if (sp.headers && !tags_list_has(sp.headers, strlen(sp.headers), "from")) {
            fa_err_set(err, "signature %zu: the signed fields must include From", i + 1);
            goto fail;
        }
        if (strpbrk(sp.domain, " ;=\t\r\n") || strpbrk(sp.selector, " ;=\t\r\n") ||
            strlen(sp.domain) > 253 || strlen(sp.selector) > 63) {
            fa_err_set(err, "signature %zu: invalid domain or selector", i + 1);
            goto fail;
        }
        int bh = dkimcore_hashes_get(&s->hs, sp.bcanon, CANON_NO_LIMIT, KEY_MD_SHA256, err);
        if (bh < 0)
            goto fail;
        s->items[i].spec = sp;
        s->items[i].bh = bh;
    }
    s->n = n;
    return s;
fail:
    dkim_signer_free(s);
    return NULL;
}

void dkim_signer_body(struct dkim_signer *s, const uint8_t *p, size_t n)
{
    dkimcore_hashes_update(&s->hs, p, n);
}

static int sign_one(struct dkim_signer *s, const struct sign_item *it, const struct msg_header *h,
                    size_t nh, const char *eol, char **field, fa_err *err)
{
    const struct dkim_sign_spec *sp = &it->spec;
    const struct dkimcore_body_hash *bh = s->hs.bh[it->bh];
    char bh64[B64_ENCODED_LEN(EVP_MAX_MD_SIZE) + 1], num[32];
    b64_encode(bh->digest, bh->dlen, bh64, sizeof(bh64));
    char hlist[DKIMCORE_HLIST_MAX];
    if (sp->headers ? snprintf(hlist, sizeof(hlist), "%s", sp->headers) >= (int)sizeof(hlist)
                    : dkimcore_default_hlist(h, nh, 0, hlist, sizeof(hlist)) < 0)
        return fa_err_set(err, "signed header list too long");

    struct dkimcore_fold *f = malloc(sizeof(*f));
    if (!f)
        return fa_err_set(err, "out of memory");
    dkimcore_fold_init(f);
    dkimcore_fold_raw(f, "DKIM-Signature: ", 16);
    dkimcore_fold_tag(f, "v", "1", 1);
    dkimcore_fold_tag(f, "a", dkim_alg_name(sp->alg), 0);
    char c[32];
    snprintf(c, sizeof(c), "%s/%s", canon_name(sp->hcanon), canon_name(sp->bcanon));
    dkimcore_fold_tag(f, "c", c, 0);
    dkimcore_fold_tag(f, "d", sp->domain, 0);
    if (sp->identity)
        dkimcore_fold_tag(f, "i", sp->identity, 0);
    if (sp->query_tag)
        dkimcore_fold_tag(f, "q", "dns/txt", 0);
    dkimcore_fold_tag(f, "s", sp->selector, 0);
    time_t t = sp->timestamp == 0 ? time(NULL) : sp->timestamp;
    if (sp->timestamp != -1) {
        snprintf(num, sizeof(num), "%lld", (long long)t);
        dkimcore_fold_tag(f, "t", num, 0);
    }
    if (sp->expire) {
        snprintf(num, sizeof(num), "%lld", (long long)sp->expire);
        dkimcore_fold_tag(f, "x", num, 0);
    }
    if (sp->body_length) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)canon_body_length(&bh->cb));
        dkimcore_fold_tag(f, "l", num, 0);
    }
    dkimcore_fold_raw(f, ";", 1);
    dkimcore_fold_break(f);
    dkimcore_fold_raw(f, "h=", 2);
    dkimcore_fold_long(f, hlist, ':');
    dkimcore_fold_raw(f, ";", 1);
    dkimcore_fold_break(f);
    dkimcore_fold_raw(f, "bh=", 3);
    dkimcore_fold_long(f, bh64, 0);
    dkimcore_fold_raw(f, ";", 1);
    dkimcore_fold_break(f);
    dkimcore_fold_raw(f, "b=", 2);
    if (f->overflow) {
        free(f);
        return fa_err_set(err, "DKIM-Signature field too long");
    }

    /* Hash the selected fields, then our own field with an empty b=. */
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    struct msg_header self = {f->buf, f->len, 14, 15, f->len};
    if (dkimcore_header_hash(s->hs.sha256, sp->hcanon, h, nh, hlist, strlen(hlist), NULL, 0, &self,
                             0, 0, digest, &dlen) < 0) {
        free(f);
        return fa_err_set(err, "digest failed");
    }
    char sig64[DKIM_SIG_B64_MAX];
    if (dkimcore_sign_b64(sp->key, digest, dlen, sig64, sizeof(sig64), err) < 0) {
        free(f);
        return -1;
    }
    dkimcore_fold_long(f, sig64, 0);
    if (f->overflow) {
        free(f);
        return fa_err_set(err, "DKIM-Signature field too long");
    }
    *field = dkimcore_fold_finish(f, eol, err);
    free(f);
    return *field ? 0 : -1;
}

int dkim_signer_finish(struct dkim_signer *s, const struct msg_header *h, size_t nh,
                       const char *eol, char **fields, fa_err *err)
{
    dkimcore_hashes_final(&s->hs);
    for (size_t i = 0; i < s->n; i++)
        fields[i] = NULL;
    for (size_t i = 0; i < s->n; i++) {
        if (sign_one(s, &s->items[i], h, nh, eol, &fields[i], err) < 0) {
            for (size_t k = 0; k < i; k++) {
                free(fields[k]);
                fields[k] = NULL;
            }
            return -1;
        }
    }
    return 0;
}

/* ---- verifying ---- */

struct vsig {
    struct dkim_sig_result r;
    int pending; /* syntax OK, still to check */
    size_t hidx; /* index of the field */
    struct dkimcore_sig sig;
    int bh; /* body hash index */
};

struct dkim_verifier {
    const struct msg_header *h;
    size_t nh;
    time_t now;
    struct vsig sigs[DKIM_MAX_SIGS];
    size_t n;
    size_t skipped; /* DKIM-Signature fields beyond DKIM_MAX_SIGS */
    struct dkimcore_hashes hs;
};

void dkim_verifier_free(struct dkim_verifier *v)
{
    if (!v)
        return;
    dkimcore_hashes_free(&v->hs);
    free(v);
}

static int set_result(struct vsig *s, int result, const char *reason)
{
    s->r.result = result;
    s->r.reason = reason;
    s->pending = 0;
    return 0;
}

/* What a DKIM-Signature must hold, checked in this order (RFC 6376
 * section 6.1.1; rsa-sha1 after the syntax, RFC 8301; the clock last). */
static const char *const dkim_required[] = {"v", "a", "b", "bh", "d", "h", "s", NULL};
static const unsigned char dkim_checks[] = {
    DKIMCORE_CHECK_REQUIRED, DKIMCORE_CHECK_VERSION,   DKIMCORE_CHECK_DS,
    DKIMCORE_CHECK_ALG,      DKIMCORE_CHECK_CANON,     DKIMCORE_CHECK_QUERY,
    DKIMCORE_CHECK_H_FROM,   DKIMCORE_CHECK_IDENTITY,  DKIMCORE_CHECK_LENGTH,
    DKIMCORE_CHECK_TIMES,    DKIMCORE_CHECK_X_AFTER_T, DKIMCORE_CHECK_BH,
    DKIMCORE_CHECK_B,        DKIMCORE_CHECK_NOT_SHA1,  DKIMCORE_CHECK_CLOCK,
};
static const struct dkimcore_sig_rules dkim_rules = {
    .required = dkim_required,
    .hcanon = CANON_SIMPLE,
    .bcanon = CANON_SIMPLE,
    .checks = dkim_checks,
    .nchecks = sizeof(dkim_checks),
};

/* Check one signature's syntax and prepare its body hash. */
static void parse_sig(struct dkim_verifier *v, struct vsig *s, fa_err *err)
{
    const char *reason;
    int result =
        dkimcore_sig_parse(&v->h[s->hidx], &dkim_rules, v->now, DKIM_CLOCK_SKEW, &s->sig, &reason);
    memcpy(s->r.domain, s->sig.domain, sizeof(s->r.domain));
    memcpy(s->r.selector, s->sig.selector, sizeof(s->r.selector));
    memcpy(s->r.identity, s->sig.identity, sizeof(s->r.identity));
    memcpy(s->r.b_prefix, s->sig.b_prefix, sizeof(s->sig.b_prefix));
    s->r.alg = s->sig.alg;
    if (result != DKIM_NONE) {
        set_result(s, result, reason);
        return;
    }
    int bh = dkimcore_hashes_get(&v->hs, s->sig.bcanon, s->sig.limit, alg_md(s->sig.alg), err);
    if (bh < 0) {
        set_result(s, DKIM_TEMPERROR, "internal error");
        return;
    }
    s->bh = bh;
    s->pending = 1;
}

struct dkim_verifier *dkim_verifier_new(const struct msg_header *h, size_t nh, time_t now,
                                        fa_err *err)
{
    struct dkim_verifier *v = calloc(1, sizeof(*v));
    if (!v) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    v->h = h;
    v->nh = nh;
    v->now = now;
    if (dkimcore_hashes_init(&v->hs, err) < 0) {
        dkim_verifier_free(v);
        return NULL;
    }
    for (size_t i = 0; i < nh; i++) {
        if (!msg_header_is(&h[i], "DKIM-Signature"))
            continue;
        if (v->n == DKIM_MAX_SIGS) {
            v->skipped++; /* not verified: the work per message is bounded */
            continue;
        }
        struct vsig *s = &v->sigs[v->n++];
        s->hidx = s->r.header_index = i;
        parse_sig(v, s, err);
    }
    return v;
}

void dkim_verifier_body(struct dkim_verifier *v, const uint8_t *p, size_t n)
{
    dkimcore_hashes_update(&v->hs, p, n);
}

/* Fetch and parse the key for s; sets a result and returns NULL on failure. */
static struct fa_key *fetch_key(struct vsig *s, struct dns *dns, int *strict)
{
    int result, testing;
    const char *why;
    struct fa_key *k =
        dkim_key_fetch(dns, s->r.selector, s->r.domain, s->r.alg, &testing, strict, &result, &why);
    if (!k) {
        set_result(s, result, why);
    } else {
        s->r.testing = testing;
        s->r.key_bits = key_bits(k);
    }
    return k;
}

static int check_sig(struct dkim_verifier *v, struct vsig *s, struct dns *dns)
{
    int strict = 0;
    struct fa_key *k = fetch_key(s, dns, &strict);
    if (!k)
        return 0;
    if (strict) {
        const char *at = strrchr(s->r.identity, '@');
        if (!at || strcasecmp(at + 1, s->r.domain) != 0) {
            key_free(k);
            return set_result(s, DKIM_PERMERROR, "key is strict (t=s) but i= is a subdomain");
        }
    }
    const struct dkimcore_sig *g = &s->sig;
    const struct dkimcore_body_hash *bh = v->hs.bh[s->bh];
    const char *bad_body = dkimcore_check_body(bh, g->limit, g->bhash, g->bhash_len);
    if (bad_body) {
        key_free(k);
        return set_result(s, DKIM_FAIL, bad_body);
    }
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    int md = alg_md(s->r.alg);
    if (dkimcore_header_hash(dkimcore_md(&v->hs, md), g->hcanon, v->h, v->nh, g->h->value,
                             g->h->value_len, NULL, 0, &v->h[s->hidx], g->b_off, g->b_end, digest,
                             &dlen) < 0) {
        key_free(k);
        return set_result(s, DKIM_TEMPERROR, "internal error");
    }
    fa_err err;
    int good = key_verify_digest(k, md, digest, dlen, g->b, (size_t)g->b_len, &err);
    key_free(k);
    if (good == 1)
        return set_result(s, DKIM_PASS, "");
    return set_result(s, DKIM_FAIL, "signature did not verify");
}

size_t dkim_verifier_finish(struct dkim_verifier *v, struct dns *dns, struct dkim_sig_result *out,
                            size_t max)
{
    dkimcore_hashes_final(&v->hs);
    size_t n = 0;
    for (size_t i = 0; i < v->n && n < max; i++) {
        struct vsig *s = &v->sigs[i];
        if (s->pending)
            check_sig(v, s, dns);
        out[n++] = s->r;
    }
    return n;
}

size_t dkim_verifier_key_names(const struct dkim_verifier *v, char (*names)[DKIM_KEY_NAME_MAX],
                               size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < v->n && n < max; i++)
        if (v->sigs[i].pending && dkim_key_name(v->sigs[i].r.selector, v->sigs[i].r.domain,
                                                names[n], DKIM_KEY_NAME_MAX) == 0)
            n++;
    return n;
}

size_t dkim_verifier_skipped(const struct dkim_verifier *v)
{
    return v->skipped;
}
