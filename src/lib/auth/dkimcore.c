/* dkimcore - hashing and signing mechanics shared by DKIM and ARC; see dkimcore.h. */
#include "dkimcore.h"

#include "b64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Fields signed by default; each present one is oversigned (listed once
 * more than it occurs) so that no instance can be added after signing. */
static const char *const default_headers[] = {
    "From",       "Reply-To",     "Subject",          "Date",
    "To",         "Cc",           "Message-ID",       "In-Reply-To",
    "References", "MIME-Version", "Content-Type",     "Content-Transfer-Encoding",
    "Sender",     "List-Id",      "List-Unsubscribe", "List-Unsubscribe-Post",
};

/* ---- tag values ---- */

static const char *check_times(long long t, long long x, time_t now, long skew)
{
    if (x >= 0 && x < (long long)now)
        return "signature expired";
    if (t >= 0 && t > (long long)now + skew)
        return "signature timestamp in the future";
    return NULL;
}

int dkimcore_domain_within(const char *sub, const char *dom)
{
    size_t a = strlen(sub), b = strlen(dom);
    if (a == b)
        return strcasecmp(sub, dom) == 0;
    return a > b && sub[a - b - 1] == '.' && strcasecmp(sub + a - b, dom) == 0;
}

static int copy_tag(const struct tag *t, char *out, size_t outsz)
{
    if (!t || t->value_len >= outsz)
        return -1;
    memcpy(out, t->value, t->value_len);
    out[t->value_len] = '\0';
    return 0;
}

static int parse_number(const struct tag *t, long long *out)
{
    if (t->value_len == 0 || t->value_len > 18)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < t->value_len; i++) {
        if (t->value[i] < '0' || t->value[i] > '9')
            return -1;
        v = v * 10 + (t->value[i] - '0');
    }
    *out = v;
    return 0;
}

static int valid_domain_chars(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return 0;
    }
    return 1;
}

static int parse_canon(const struct tag *t, int *hcanon, int *bcanon)
{
    const char *slash = memchr(t->value, '/', t->value_len);
    size_t hl = slash ? (size_t)(slash - t->value) : t->value_len;
    *hcanon = canon_parse(t->value, hl);
    *bcanon = slash ? canon_parse(slash + 1, t->value_len - hl - 1) : CANON_SIMPLE;
    return *hcanon < 0 || *bcanon < 0 ? -1 : 0;
}

static int decode_b64(const struct tag *t, uint8_t *out, size_t outsz)
{
    char tmp[B64_ENCODED_LEN(KEY_SIG_MAX) + 64];
    if (tags_copy_nows(t, tmp, sizeof(tmp)) < 0)
        return -1;
    return b64_decode(tmp, strlen(tmp), out, outsz);
}

/* ---- signature fields ---- */

/* The tags a check may read, found once. */
enum { T_V, T_A, T_B, T_BH, T_C, T_D, T_H, T_I, T_L, T_Q, T_S, T_T, T_X, T_CV, NTAGS };
static const char *const tag_names[NTAGS] = {"v", "a", "b", "bh", "c", "d", "h",
                                             "i", "l", "q", "s",  "t", "x", "cv"};

/* One check: NULL when it holds, else its static reason (*result set
 * when not DKIM_PERMERROR). */
static const char *sig_check(int check, const struct dkimcore_sig_rules *rules,
                             const struct tag *const *tg, const struct msg_header *f, time_t now,
                             long skew, struct dkimcore_sig *s, int *result)
{
    const struct tag *t;
    switch (check) {
    case DKIMCORE_CHECK_REQUIRED:
        for (const char *const *r = rules->required; *r; r++)
            if (!tags_find(&s->tags, *r))
                return "missing required tag";
        return NULL;
    case DKIMCORE_CHECK_VERSION:
        return tags_value_is(tg[T_V], "1") ? NULL : "unsupported version";
    case DKIMCORE_CHECK_CV:
        t = tg[T_CV];
        s->cv = tags_value_is(t, "none")   ? 0
                : tags_value_is(t, "pass") ? 1
                : tags_value_is(t, "fail") ? 2
                                           : -1;
        return s->cv < 0 ? "invalid cv=" : NULL;
    case DKIMCORE_CHECK_NO_H:
        return tg[T_H] ? "h= is not allowed in an ARC-Seal" : NULL;
    case DKIMCORE_CHECK_DS:
        if (copy_tag(tg[T_D], s->domain, sizeof(s->domain)) < 0 ||
            copy_tag(tg[T_S], s->selector, sizeof(s->selector)) < 0 ||
            !valid_domain_chars(s->domain) || !valid_domain_chars(s->selector))
            return "invalid d= or s=";
        return NULL;
    case DKIMCORE_CHECK_ALG:
        t = tg[T_A];
        s->alg = tags_value_is_nocase(t, "rsa-sha256")       ? DKIM_RSA_SHA256
                 : tags_value_is_nocase(t, "ed25519-sha256") ? DKIM_ED25519_SHA256
                 : tags_value_is_nocase(t, "rsa-sha1")       ? DKIM_RSA_SHA1
                                                             : -1;
        return s->alg < 0 ? "unknown algorithm" : NULL;
    case DKIMCORE_CHECK_ALG_EXACT:
        t = tg[T_A];
        s->alg = tags_value_is(t, "rsa-sha256")       ? DKIM_RSA_SHA256
                 : tags_value_is(t, "ed25519-sha256") ? DKIM_ED25519_SHA256
                                                      : -1;
        return s->alg < 0 ? "unsupported algorithm" : NULL;
    case DKIMCORE_CHECK_CANON:
        return tg[T_C] && parse_canon(tg[T_C], &s->hcanon, &s->bcanon) < 0
                   ? "unknown canonicalization"
                   : NULL;
    case DKIMCORE_CHECK_QUERY:
        t = tg[T_Q];
        return t && !tags_list_has(t->value, t->value_len, "dns/txt") ? "unsupported query method"
                                                                      : NULL;
    case DKIMCORE_CHECK_H_FROM:
        t = tg[T_H];
        if (!t || !tags_list_has(t->value, t->value_len, "from"))
            return "From field not signed";
        s->h = t;
        return NULL;
    case DKIMCORE_CHECK_H_NO_SEAL:
        t = tg[T_H];
        if (!t || tags_list_has(t->value, t->value_len, "arc-seal"))
            return "h= lists ARC-Seal";
        s->h = t;
        return NULL;
    case DKIMCORE_CHECK_IDENTITY: {
        if (!tg[T_I]) {
            /* "@" d= (identity has room for any d= value). */
            s->identity[0] = '@';
            memcpy(s->identity + 1, s->domain, strlen(s->domain) + 1);
            return NULL;
        }
        if (copy_tag(tg[T_I], s->identity, sizeof(s->identity)) < 0)
            return "i= too long";
        const char *at = strrchr(s->identity, '@');
        return !at || !dkimcore_domain_within(at + 1, s->domain) ? "i= domain not within d=" : NULL;
    }
    case DKIMCORE_CHECK_LENGTH: {
        long long l;
        if (!tg[T_L])
            return NULL;
        if (parse_number(tg[T_L], &l) < 0)
            return "invalid l=";
        s->limit = (uint64_t)l;
        return NULL;
    }
    case DKIMCORE_CHECK_TIMES:
        if ((tg[T_T] && parse_number(tg[T_T], &s->t) < 0) ||
            (tg[T_X] && parse_number(tg[T_X], &s->x) < 0))
            return "invalid t= or x=";
        return NULL;
    case DKIMCORE_CHECK_X_AFTER_T:
        return s->t >= 0 && s->x >= 0 && s->x < s->t ? "x= earlier than t=" : NULL;
    case DKIMCORE_CHECK_BH:
    case DKIMCORE_CHECK_BH_NONEMPTY:
        s->bhash_len = tg[T_BH] ? decode_b64(tg[T_BH], s->bhash, sizeof(s->bhash)) : -1;
        return s->bhash_len < (check == DKIMCORE_CHECK_BH ? 0 : 1) ? "malformed bh=" : NULL;
    case DKIMCORE_CHECK_B:
        t = tg[T_B];
        if (!t || (s->b_len = decode_b64(t, s->b, sizeof(s->b))) <= 0)
            return "malformed b=";
        s->b_off = f->value_off + t->value_off;
        s->b_end = f->value_off + t->value_end;
        return NULL;
    case DKIMCORE_CHECK_NOT_SHA1:
        *result = DKIM_POLICY;
        return s->alg == DKIM_RSA_SHA1 ? "rsa-sha1 is not accepted (RFC 8301)" : NULL;
    case DKIMCORE_CHECK_CLOCK:
        *result = DKIM_FAIL;
        return check_times(s->t, s->x, now, skew);
    default:
        return "internal error";
    }
}

int dkimcore_sig_parse(const struct msg_header *f, const struct dkimcore_sig_rules *rules,
                       time_t now, long skew, struct dkimcore_sig *s, const char **reason)
{
    s->domain[0] = s->selector[0] = s->identity[0] = s->b_prefix[0] = '\0';
    s->alg = s->cv = -1;
    s->hcanon = rules->hcanon;
    s->bcanon = rules->bcanon;
    s->h = NULL;
    s->limit = CANON_NO_LIMIT;
    s->t = s->x = -1;
    s->bhash_len = s->b_len = 0;
    s->b_off = s->b_end = 0;
    const char *val = f->raw + f->value_off;
    size_t vlen = f->value_end - f->value_off;
    if ((rules->strict_tags ? tags_parse_strict : tags_parse)(val, vlen, &s->tags, reason) < 0)
        return DKIM_PERMERROR;
    const struct tag *tg[NTAGS];
    for (int i = 0; i < NTAGS; i++)
        tg[i] = tags_find(&s->tags, tag_names[i]);
    /* What a report names even when a check fails. */
    copy_tag(tg[T_D], s->domain, sizeof(s->domain));
    copy_tag(tg[T_S], s->selector, sizeof(s->selector));
    if (tg[T_B]) {
        size_t k = 0;
        for (size_t i = 0; i < tg[T_B]->value_len && k < DKIMCORE_B_PREFIX; i++)
            if (!strchr(" \t\r\n", tg[T_B]->value[i]))
                s->b_prefix[k++] = tg[T_B]->value[i];
        s->b_prefix[k] = '\0';
    }
    for (size_t i = 0; i < rules->nchecks; i++) {
        int result = DKIM_PERMERROR;
        const char *why = sig_check(rules->checks[i], rules, tg, f, now, skew, s, &result);
        if (why) {
            *reason = why;
            return result;
        }
    }
    return DKIM_NONE;
}

int dkimcore_default_hlist(const struct msg_header *h, size_t nh, int dkim_sigs, char *out,
                           size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    size_t nd = sizeof(default_headers) / sizeof(default_headers[0]);
    for (size_t i = 0; i < nd + (dkim_sigs ? 1 : 0); i++) {
        const char *name = i < nd ? default_headers[i] : "DKIM-Signature";
        size_t count = 0;
        for (size_t k = 0; k < nh; k++)
            count += msg_header_is(&h[k], name);
        /* From is always signed; others when present, once more than they
         * occur; DKIM-Signature once per field (later ones may be added). */
        if (count == 0 && strcmp(name, "From") != 0)
            continue;
        size_t times = i < nd ? count + 1 : count;
        for (size_t k = 0; k < times; k++) {
            size_t len = strlen(name);
            if (o + len + 2 > outsz)
                return -1;
            if (o)
                out[o++] = ':';
            memcpy(out + o, name, len);
            o += len;
            out[o] = '\0';
        }
    }
    return 0;
}

/* ---- body hashes ---- */

static void md_sink(void *ctx, const uint8_t *p, size_t n)
{
    EVP_DigestUpdate(ctx, p, n);
}

int dkimcore_hashes_init(struct dkimcore_hashes *hs, fa_err *err)
{
    memset(hs, 0, sizeof(*hs));
    hs->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    hs->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (!hs->sha256 || !hs->sha1)
        return fa_err_set(err, "OpenSSL lacks SHA-256 or SHA-1");
    return 0;
}

void dkimcore_hashes_free(struct dkimcore_hashes *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        EVP_MD_CTX_free(hs->bh[i]->ctx);
        free(hs->bh[i]);
    }
    EVP_MD_free(hs->sha256);
    EVP_MD_free(hs->sha1);
    memset(hs, 0, sizeof(*hs));
}

const EVP_MD *dkimcore_md(const struct dkimcore_hashes *hs, int md)
{
    return md == KEY_MD_SHA1 ? hs->sha1 : hs->sha256;
}

int dkimcore_hashes_get(struct dkimcore_hashes *hs, int canon, uint64_t limit, int md, fa_err *err)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->bh[i]->canon == canon && hs->bh[i]->limit == limit && hs->bh[i]->md == md)
            return (int)i;
    if (hs->n == DKIMCORE_MAX_BODY_HASHES)
        return fa_err_set(err, "too many body hashes");
    struct dkimcore_body_hash *b = malloc(sizeof(*b));
    if (!b)
        return fa_err_set(err, "out of memory");
    b->canon = canon;
    b->limit = limit;
    b->md = md;
    b->done = 0;
    b->dlen = 0;
    b->ctx = EVP_MD_CTX_new();
    if (!b->ctx || !EVP_DigestInit_ex(b->ctx, dkimcore_md(hs, md), NULL)) {
        EVP_MD_CTX_free(b->ctx);
        free(b);
        return fa_err_set(err, "cannot start a digest");
    }
    canon_body_init(&b->cb, canon, limit, md_sink, b->ctx);
    hs->bh[hs->n] = b;
    return (int)hs->n++;
}

void dkimcore_hashes_update(struct dkimcore_hashes *hs, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < hs->n; i++)
        canon_body_update(&hs->bh[i]->cb, p, n);
}

void dkimcore_hashes_final(struct dkimcore_hashes *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        struct dkimcore_body_hash *b = hs->bh[i];
        if (b->done)
            continue;
        canon_body_final(&b->cb);
        EVP_DigestFinal_ex(b->ctx, b->digest, &b->dlen);
        b->done = 1;
    }
}

/* ---- header hash ---- */

/* Hash the fields named in the list, each name taking the bottom-most
 * instance not used yet (RFC 6376 section 5.4.2). -1 when out of memory:
 * a hash with fields left out would be a wrong signature, not an error. */
static int hash_selected(EVP_MD_CTX *ctx, int hcanon, const struct msg_header *h, size_t nh,
                         const char *list, size_t len)
{
    /* Instances used so far, per field index (bounded by the message). */
    unsigned char used_small[256] = {0};
    unsigned char *used = nh <= sizeof(used_small) ? used_small : calloc(nh, 1);
    if (!used)
        return -1;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && list[j] != ':')
            j++;
        size_t a = i, b = j;
        while (a < b && strchr(" \t\r\n", list[a]))
            a++;
        while (b > a && strchr(" \t\r\n", list[b - 1]))
            b--;
        if (b > a) {
            for (size_t k = nh; k-- > 0;) {
                if (used[k] || h[k].name_len != b - a ||
                    strncasecmp(h[k].raw, list + a, b - a) != 0)
                    continue;
                used[k] = 1;
                canon_header(hcanon, &h[k], 1, 0, 0, md_sink, ctx);
                break;
            }
        }
        i = j + 1;
    }
    if (used != used_small)
        free(used);
    return 0;
}

int dkimcore_header_hash(const EVP_MD *md, int hcanon, const struct msg_header *h, size_t nh,
                         const char *hlist, size_t hlen, const struct msg_header *const *extra,
                         size_t nextra, const struct msg_header *self, size_t blank_off,
                         size_t blank_end, uint8_t *digest, unsigned *dlen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL);
    if (ok) {
        if (hlist)
            ok = hash_selected(ctx, hcanon, h, nh, hlist, hlen) == 0;
        for (size_t i = 0; ok && i < nextra; i++)
            canon_header(hcanon, extra[i], 1, 0, 0, md_sink, ctx);
        if (ok)
            canon_header(hcanon, self, 0, blank_off, blank_end, md_sink, ctx);
        ok = ok && EVP_DigestFinal_ex(ctx, digest, dlen);
    }
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

int dkimcore_sign_b64(const struct fa_key *key, const uint8_t *digest, unsigned dlen, char *out,
                      size_t outsz, fa_err *err)
{
    uint8_t sig[KEY_SIG_MAX];
    size_t siglen = sizeof(sig);
    if (key_sign_digest(key, KEY_MD_SHA256, digest, dlen, sig, &siglen, err) < 0)
        return -1;
    if (b64_encode(sig, siglen, out, outsz) < 0)
        return fa_err_set(err, "signature too long");
    return 0;
}

const char *dkimcore_check_body(const struct dkimcore_body_hash *bh, uint64_t limit,
                                const uint8_t *want, int want_len)
{
    if (limit != CANON_NO_LIMIT && canon_body_length(&bh->cb) < limit)
        return "body shorter than l=";
    if (want_len < 0 || (unsigned)want_len != bh->dlen || memcmp(want, bh->digest, bh->dlen) != 0)
        return "body hash did not verify";
    return NULL;
}

/* ---- folding ---- */

void dkimcore_fold_init(struct dkimcore_fold *f)
{
    f->len = f->col = 0;
    f->overflow = 0;
}

void dkimcore_fold_raw(struct dkimcore_fold *f, const char *s, size_t n)
{
    if (f->len + n >= sizeof(f->buf)) {
        f->overflow = 1;
        return;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->col += n;
}

void dkimcore_fold_break(struct dkimcore_fold *f)
{
    dkimcore_fold_raw(f, "\r\n\t", 3);
    f->col = 1;
}

void dkimcore_fold_tag(struct dkimcore_fold *f, const char *tag, const char *value, int first)
{
    if (!first)
        dkimcore_fold_raw(f, ";", 1);
    size_t need = strlen(tag) + 1 + strlen(value);
    if (!first && f->col + 1 + need > 76)
        dkimcore_fold_break(f);
    else if (!first)
        dkimcore_fold_raw(f, " ", 1);
    dkimcore_fold_raw(f, tag, strlen(tag));
    dkimcore_fold_raw(f, "=", 1);
    dkimcore_fold_raw(f, value, strlen(value));
}

void dkimcore_fold_long(struct dkimcore_fold *f, const char *v, char sep)
{
    size_t n = strlen(v), i = 0;
    while (i < n) {
        size_t room = f->col < 76 ? 76 - f->col : 0;
        size_t take = n - i;
        if (take > room) {
            take = room;
            if (sep) {
                /* Break after a separator within the room, if any. */
                size_t k = take;
                while (k > 0 && v[i + k - 1] != sep)
                    k--;
                take = k;
            }
            if (take == 0) {
                dkimcore_fold_break(f);
                room = 75;
                take = n - i < room ? n - i : room;
                if (sep && take < n - i) {
                    size_t k = take;
                    while (k > 0 && v[i + k - 1] != sep)
                        k--;
                    if (k)
                        take = k;
                }
            }
        }
        dkimcore_fold_raw(f, v + i, take);
        i += take;
        if (i < n)
            dkimcore_fold_break(f);
    }
}

char *dkimcore_fold_finish(const struct dkimcore_fold *f, const char *eol, fa_err *err)
{
    if (f->overflow) {
        fa_err_set(err, "signature field too long");
        return NULL;
    }
    char *out = malloc(f->len + 3);
    if (!out) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    size_t o = 0;
    int lf = strcmp(eol, "\n") == 0;
    for (size_t i = 0; i < f->len; i++) {
        if (lf && f->buf[i] == '\r' && i + 1 < f->len && f->buf[i + 1] == '\n')
            continue;
        out[o++] = f->buf[i];
    }
    memcpy(out + o, eol, strlen(eol) + 1);
    return out;
}
