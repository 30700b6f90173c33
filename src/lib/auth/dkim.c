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
        if (sp.headers && !dkimcore_list_has(sp.headers, strlen(sp.headers), "from")) {
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
    struct tag_list tags;
    int hcanon, bcanon;
    uint64_t limit;
    long long t, x; /* -1 when absent */
    int bh;         /* body hash index */
    uint8_t bhash[EVP_MAX_MD_SIZE];
    int bhash_len;
    uint8_t b[KEY_SIG_MAX];
    int b_len;
    size_t b_off, b_end; /* raw offsets of the b= value in the field */
    const struct tag *h_tag;
};

struct dkim_verifier {
    const struct msg_header *h;
    size_t nh;
    time_t now;
    struct vsig sigs[DKIM_MAX_SIGS];
    size_t n;
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

/* Check one signature's syntax and prepare its body hash. */
static int parse_sig(struct dkim_verifier *v, struct vsig *s, fa_err *err)
{
    const struct msg_header *f = &v->h[s->hidx];
    const char *val = f->raw + f->value_off;
    size_t vlen = f->value_end - f->value_off;
    const char *why;
    s->r.alg = -1;
    if (tags_parse(val, vlen, &s->tags, &why) < 0)
        return set_result(s, DKIM_PERMERROR, why);
    const struct tag *tv = tags_find(&s->tags, "v"), *ta = tags_find(&s->tags, "a"),
                     *tb = tags_find(&s->tags, "b"), *tbh = tags_find(&s->tags, "bh"),
                     *td = tags_find(&s->tags, "d"), *th = tags_find(&s->tags, "h"),
                     *ts = tags_find(&s->tags, "s"), *tc = tags_find(&s->tags, "c"),
                     *ti = tags_find(&s->tags, "i"), *tl = tags_find(&s->tags, "l"),
                     *tq = tags_find(&s->tags, "q"), *tt = tags_find(&s->tags, "t"),
                     *tx = tags_find(&s->tags, "x");
    dkimcore_copy_tag(td, s->r.domain, sizeof(s->r.domain));
    dkimcore_copy_tag(ts, s->r.selector, sizeof(s->r.selector));
    if (tb) {
        size_t k = 0;
        for (size_t i = 0; i < tb->value_len && k + 1 < sizeof(s->r.b_prefix) && k < 8; i++)
            if (!strchr(" \t\r\n", tb->value[i]))
                s->r.b_prefix[k++] = tb->value[i];
        s->r.b_prefix[k] = '\0';
    }
    if (!tv || !ta || !tb || !tbh || !td || !th || !ts)
        return set_result(s, DKIM_PERMERROR, "missing required tag");
    if (!tags_value_is(tv, "1"))
        return set_result(s, DKIM_PERMERROR, "unsupported version");
    if (dkimcore_copy_tag(td, s->r.domain, sizeof(s->r.domain)) < 0 ||
        dkimcore_copy_tag(ts, s->r.selector, sizeof(s->r.selector)) < 0 ||
        !dkimcore_valid_domain_chars(s->r.domain) || !dkimcore_valid_domain_chars(s->r.selector))
        return set_result(s, DKIM_PERMERROR, "invalid d= or s=");
    if (tags_value_is_nocase(ta, "rsa-sha256"))
        s->r.alg = DKIM_RSA_SHA256;
    else if (tags_value_is_nocase(ta, "ed25519-sha256"))
        s->r.alg = DKIM_ED25519_SHA256;
    else if (tags_value_is_nocase(ta, "rsa-sha1"))
        s->r.alg = DKIM_RSA_SHA1;
    else
        return set_result(s, DKIM_PERMERROR, "unknown algorithm");

    s->hcanon = s->bcanon = CANON_SIMPLE;
    if (tc && dkimcore_parse_canon(tc, &s->hcanon, &s->bcanon) < 0)
        return set_result(s, DKIM_PERMERROR, "unknown canonicalization");
    if (tq && !dkimcore_list_has(tq->value, tq->value_len, "dns/txt"))
        return set_result(s, DKIM_PERMERROR, "unsupported query method");
    /* h= must include From (RFC 6376 section 5.4). */
    if (!dkimcore_list_has(th->value, th->value_len, "from"))
        return set_result(s, DKIM_PERMERROR, "From field not signed");
    s->h_tag = th;

    if (ti) {
        if (dkimcore_copy_tag(ti, s->r.identity, sizeof(s->r.identity)) < 0)
            return set_result(s, DKIM_PERMERROR, "i= too long");
        const char *at = strrchr(s->r.identity, '@');
        if (!at || !dkimcore_domain_within(at + 1, s->r.domain))
            return set_result(s, DKIM_PERMERROR, "i= domain not within d=");
    } else {
        /* "@" d= (identity has room for any d= value). */
        s->r.identity[0] = '@';
        memcpy(s->r.identity + 1, s->r.domain, strlen(s->r.domain) + 1);
    }
    s->limit = CANON_NO_LIMIT;
    if (tl) {
        long long l;
        if (dkimcore_parse_number(tl, &l) < 0)
            return set_result(s, DKIM_PERMERROR, "invalid l=");
        s->limit = (uint64_t)l;
    }
    s->t = s->x = -1;
    if ((tt && dkimcore_parse_number(tt, &s->t) < 0) ||
        (tx && dkimcore_parse_number(tx, &s->x) < 0))
        return set_result(s, DKIM_PERMERROR, "invalid t= or x=");
    if (s->t >= 0 && s->x >= 0 && s->x < s->t)
        return set_result(s, DKIM_PERMERROR, "x= earlier than t=");

    if ((s->bhash_len = dkimcore_decode_b64(tbh, s->bhash, sizeof(s->bhash))) < 0)
        return set_result(s, DKIM_PERMERROR, "malformed bh=");
    if ((s->b_len = dkimcore_decode_b64(tb, s->b, sizeof(s->b))) <= 0)
        return set_result(s, DKIM_PERMERROR, "malformed b=");
    s->b_off = f->value_off + tb->value_off;
    s->b_end = f->value_off + tb->value_end;

    if (s->r.alg == DKIM_RSA_SHA1)
        return set_result(s, DKIM_POLICY, "rsa-sha1 is not accepted (RFC 8301)");
    const char *late = dkimcore_check_times(s->t, s->x, v->now, DKIM_CLOCK_SKEW);
    if (late)
        return set_result(s, DKIM_FAIL, late);

    int bh = dkimcore_hashes_get(&v->hs, s->bcanon, s->limit, alg_md(s->r.alg), err);
    if (bh < 0)
        return set_result(s, DKIM_TEMPERROR, "internal error");
    s->bh = bh;
    s->pending = 1;
    return 0;
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
    for (size_t i = 0; i < nh && v->n < DKIM_MAX_SIGS; i++) {
        if (!msg_header_is(&h[i], "DKIM-Signature"))
            continue;
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
    const struct dkimcore_body_hash *bh = v->hs.bh[s->bh];
    const char *bad_body = dkimcore_check_body(bh, s->limit, s->bhash, s->bhash_len);
    if (bad_body) {
        key_free(k);
        return set_result(s, DKIM_FAIL, bad_body);
    }
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    int md = alg_md(s->r.alg);
    if (dkimcore_header_hash(dkimcore_md(&v->hs, md), s->hcanon, v->h, v->nh, s->h_tag->value,
                             s->h_tag->value_len, NULL, 0, &v->h[s->hidx], s->b_off, s->b_end,
                             digest, &dlen) < 0) {
        key_free(k);
        return set_result(s, DKIM_TEMPERROR, "internal error");
    }
    fa_err err;
    int good = key_verify_digest(k, md, digest, dlen, s->b, (size_t)s->b_len, &err);
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
