/* dkim - DKIM signing and verification; see dkim.h. */
#include "dkim.h"

#include "b64.h"
#include "tags.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DKIM_SIG_B64_MAX (B64_ENCODED_LEN(KEY_SIG_MAX) + 1)
#define DKIM_HLIST_MAX 4096 /* h= value */
#define DKIM_FIELD_MAX 16384

/* Fields signed by default; each present one is oversigned (listed once
 * more than it occurs) so that no instance can be added after signing. */
static const char *const default_headers[] = {
    "From",       "Reply-To",     "Subject",          "Date",
    "To",         "Cc",           "Message-ID",       "In-Reply-To",
    "References", "MIME-Version", "Content-Type",     "Content-Transfer-Encoding",
    "Sender",     "List-Id",      "List-Unsubscribe", "List-Unsubscribe-Post",
};

const char *dkim_result_name(int result)
{
    static const char *const names[] = {"none",   "pass",      "fail",     "neutral",
                                        "policy", "temperror", "permerror"};
    return result >= 0 && result <= DKIM_PERMERROR ? names[result] : "?";
}

const char *dkim_alg_name(int alg)
{
    switch (alg) {
    case DKIM_RSA_SHA256:
        return "rsa-sha256";
    case DKIM_ED25519_SHA256:
        return "ed25519-sha256";
    case DKIM_RSA_SHA1:
        return "rsa-sha1";
    default:
        return "unknown";
    }
}

static int alg_md(int alg)
{
    return alg == DKIM_RSA_SHA1 ? KEY_MD_SHA1 : KEY_MD_SHA256;
}

/* Does a colon-separated list (white space allowed around items) hold
 * item, ignoring ASCII case? Used for h=, q=, and key record h=, s=, t=. */
static int list_has(const char *v, size_t n, const char *item)
{
    size_t len = strlen(item);
    for (size_t i = 0; i <= n;) {
        size_t j = i;
        while (j < n && v[j] != ':')
            j++;
        size_t a = i, b = j;
        while (a < b && strchr(" \t\r\n", v[a]))
            a++;
        while (b > a && strchr(" \t\r\n", v[b - 1]))
            b--;
        if (b - a == len && strncasecmp(v + a, item, len) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

/* Is sub equal to dom or a subdomain of it? */
static int domain_within(const char *sub, const char *dom)
{
    size_t a = strlen(sub), b = strlen(dom);
    if (a == b)
        return strcasecmp(sub, dom) == 0;
    return a > b && sub[a - b - 1] == '.' && strcasecmp(sub + a - b, dom) == 0;
}

/* ---- body hashing, shared by signer and verifier ---- */

struct body_hash {
    int canon;
    uint64_t limit;
    int md; /* enum key_md */
    EVP_MD_CTX *ctx;
    struct canon_body cb;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen;
    int done;
};

struct hashes {
    struct body_hash *bh[DKIM_MAX_SIGS];
    size_t n;
    EVP_MD *sha256, *sha1;
};

static void md_sink(void *ctx, const uint8_t *p, size_t n)
{
    EVP_DigestUpdate(ctx, p, n);
}

static int hashes_init(struct hashes *hs, fa_err *err)
{
    memset(hs, 0, sizeof(*hs));
    hs->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    hs->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    if (!hs->sha256 || !hs->sha1)
        return fa_err_set(err, "OpenSSL lacks SHA-256 or SHA-1");
    return 0;
}

static void hashes_free(struct hashes *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        EVP_MD_CTX_free(hs->bh[i]->ctx);
        free(hs->bh[i]);
    }
    EVP_MD_free(hs->sha256);
    EVP_MD_free(hs->sha1);
    memset(hs, 0, sizeof(*hs));
}

static const EVP_MD *md_of(const struct hashes *hs, int md)
{
    return md == KEY_MD_SHA1 ? hs->sha1 : hs->sha256;
}

/* The body hash for (canon, limit, md): an existing one or a new one. */
static int hashes_get(struct hashes *hs, int canon, uint64_t limit, int md, fa_err *err)
{
    for (size_t i = 0; i < hs->n; i++)
        if (hs->bh[i]->canon == canon && hs->bh[i]->limit == limit && hs->bh[i]->md == md)
            return (int)i;
    if (hs->n == DKIM_MAX_SIGS)
        return fa_err_set(err, "too many body hashes");
    struct body_hash *b = malloc(sizeof(*b));
    if (!b)
        return fa_err_set(err, "out of memory");
    b->canon = canon;
    b->limit = limit;
    b->md = md;
    b->done = 0;
    b->dlen = 0;
    b->ctx = EVP_MD_CTX_new();
    if (!b->ctx || !EVP_DigestInit_ex(b->ctx, md_of(hs, md), NULL)) {
        EVP_MD_CTX_free(b->ctx);
        free(b);
        return fa_err_set(err, "cannot start a digest");
    }
    canon_body_init(&b->cb, canon, limit, md_sink, b->ctx);
    hs->bh[hs->n] = b;
    return (int)hs->n++;
}

static void hashes_update(struct hashes *hs, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < hs->n; i++)
        canon_body_update(&hs->bh[i]->cb, p, n);
}

static void hashes_final(struct hashes *hs)
{
    for (size_t i = 0; i < hs->n; i++) {
        struct body_hash *b = hs->bh[i];
        if (b->done)
            continue;
        canon_body_final(&b->cb);
        EVP_DigestFinal_ex(b->ctx, b->digest, &b->dlen);
        b->done = 1;
    }
}

/* ---- header hashing ---- */

/* Hash the fields named in the h= list (colon-separated, white space
 * allowed), each name taking the bottom-most instance not used yet
 * (RFC 6376 section 5.4.2); a name with no instance left adds nothing. */
static void hash_selected(EVP_MD_CTX *ctx, int hcanon, const struct msg_header *h, size_t nh,
                          const char *list, size_t len)
{
    /* Instances used so far, per field index (bounded by the message). */
    unsigned char used_small[256];
    unsigned char *used = nh <= sizeof(used_small) ? used_small : calloc(nh, 1);
    if (!used)
        return;
    memset(used, 0, nh <= sizeof(used_small) ? sizeof(used_small) : 0);
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
}

/* ---- signing ---- */

struct sign_item {
    struct dkim_sign_spec spec;
    int bh;
};

struct dkim_signer {
    struct sign_item items[DKIM_MAX_SIGS];
    size_t n;
    struct hashes hs;
};

void dkim_signer_free(struct dkim_signer *s)
{
    if (!s)
        return;
    hashes_free(&s->hs);
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
    if (hashes_init(&s->hs, err) < 0)
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
            if (!at || strpbrk(sp.identity, " ;\t\r\n") || !domain_within(at + 1, sp.domain)) {
                fa_err_set(err, "signature %zu: -i %s is not within d=%s", i + 1, sp.identity,
                           sp.domain);
                goto fail;
            }
        }
        if (sp.headers && !list_has(sp.headers, strlen(sp.headers), "from")) {
            fa_err_set(err, "signature %zu: the signed fields must include From", i + 1);
            goto fail;
        }
        if (strpbrk(sp.domain, " ;=\t\r\n") || strpbrk(sp.selector, " ;=\t\r\n") ||
            strlen(sp.domain) > 253 || strlen(sp.selector) > 63) {
            fa_err_set(err, "signature %zu: invalid domain or selector", i + 1);
            goto fail;
        }
        int bh = hashes_get(&s->hs, sp.bcanon, CANON_NO_LIMIT, KEY_MD_SHA256, err);
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
    hashes_update(&s->hs, p, n);
}

/* A growing field text folded at about 76 columns with CRLF + TAB. */
struct fold {
    char buf[DKIM_FIELD_MAX];
    size_t len, col;
    int overflow;
};

static void fold_raw(struct fold *f, const char *s, size_t n)
{
    if (f->len + n >= sizeof(f->buf)) {
        f->overflow = 1;
        return;
    }
    memcpy(f->buf + f->len, s, n);
    f->len += n;
    f->col += n;
}

static void fold_break(struct fold *f)
{
    fold_raw(f, "\r\n\t", 3);
    f->col = 1;
}

/* Append "; " (unless first) and a tag; break the line first if needed. */
static void fold_tag(struct fold *f, const char *tag, const char *value, int first)
{
    if (!first)
        fold_raw(f, ";", 1);
    size_t need = strlen(tag) + 1 + strlen(value);
    if (!first && f->col + 1 + need > 76)
        fold_break(f);
    else if (!first)
        fold_raw(f, " ", 1);
    fold_raw(f, tag, strlen(tag));
    fold_raw(f, "=", 1);
    fold_raw(f, value, strlen(value));
}

/* Append a long value in pieces, breaking lines at `sep` or anywhere (base64). */
static void fold_long(struct fold *f, const char *v, char sep)
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
                fold_break(f);
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
        fold_raw(f, v + i, take);
        i += take;
        if (i < n)
            fold_break(f);
    }
}

static int build_header_list(const struct dkim_sign_spec *sp, const struct msg_header *h, size_t nh,
                             char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    if (sp->headers) {
        size_t n = strlen(sp->headers);
        if (n + 1 > outsz)
            return -1;
        memcpy(out, sp->headers, n + 1);
        return 0;
    }
    for (size_t i = 0; i < sizeof(default_headers) / sizeof(default_headers[0]); i++) {
        const char *name = default_headers[i];
        size_t count = 0;
        for (size_t k = 0; k < nh; k++)
            count += msg_header_is(&h[k], name);
        /* From is always signed; others when present, once more than they occur. */
        if (count == 0 && strcmp(name, "From") != 0)
            continue;
        for (size_t k = 0; k < count + 1; k++) {
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

/* Convert CRLF to eol (when eol is "\n"); returns a malloc'd string. */
static char *with_eol(const char *s, size_t n, const char *eol)
{
    char *out = malloc(n + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    int lf = strcmp(eol, "\n") == 0;
    for (size_t i = 0; i < n; i++) {
        if (lf && s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            continue;
        out[o++] = s[i];
    }
    memcpy(out + o, eol, strlen(eol) + 1);
    return out;
}

static int sign_one(struct dkim_signer *s, const struct sign_item *it, const struct msg_header *h,
                    size_t nh, const char *eol, char **field, fa_err *err)
{
    const struct dkim_sign_spec *sp = &it->spec;
    const struct body_hash *bh = s->hs.bh[it->bh];
    char bh64[B64_ENCODED_LEN(EVP_MAX_MD_SIZE) + 1], num[32];
    b64_encode(bh->digest, bh->dlen, bh64, sizeof(bh64));
    char hlist[DKIM_HLIST_MAX];
    if (build_header_list(sp, h, nh, hlist, sizeof(hlist)) < 0)
        return fa_err_set(err, "signed header list too long");

    struct fold *f = malloc(sizeof(*f));
    if (!f)
        return fa_err_set(err, "out of memory");
    f->len = f->col = 0;
    f->overflow = 0;
    fold_raw(f, "DKIM-Signature: ", 16);
    fold_tag(f, "v", "1", 1);
    fold_tag(f, "a", dkim_alg_name(sp->alg), 0);
    char c[32];
    snprintf(c, sizeof(c), "%s/%s", canon_name(sp->hcanon), canon_name(sp->bcanon));
    fold_tag(f, "c", c, 0);
    fold_tag(f, "d", sp->domain, 0);
    if (sp->identity)
        fold_tag(f, "i", sp->identity, 0);
    if (sp->query_tag)
        fold_tag(f, "q", "dns/txt", 0);
    fold_tag(f, "s", sp->selector, 0);
    time_t t = sp->timestamp == 0 ? time(NULL) : sp->timestamp;
    if (sp->timestamp != -1) {
        snprintf(num, sizeof(num), "%lld", (long long)t);
        fold_tag(f, "t", num, 0);
    }
    if (sp->expire) {
        snprintf(num, sizeof(num), "%lld", (long long)sp->expire);
        fold_tag(f, "x", num, 0);
    }
    if (sp->body_length) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)canon_body_length(&bh->cb));
        fold_tag(f, "l", num, 0);
    }
    fold_raw(f, ";", 1);
    fold_break(f);
    fold_raw(f, "h=", 2);
    fold_long(f, hlist, ':');
    fold_raw(f, ";", 1);
    fold_break(f);
    fold_raw(f, "bh=", 3);
    fold_long(f, bh64, 0);
    fold_raw(f, ";", 1);
    fold_break(f);
    fold_raw(f, "b=", 2);
    if (f->overflow) {
        free(f);
        return fa_err_set(err, "DKIM-Signature field too long");
    }

    /* Hash the selected fields, then our own field with an empty b=. */
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, s->hs.sha256, NULL);
    if (ok) {
        hash_selected(ctx, sp->hcanon, h, nh, hlist, strlen(hlist));
        struct msg_header self = {f->buf, f->len, 14, 15, f->len};
        canon_header(sp->hcanon, &self, 0, 0, 0, md_sink, ctx);
        ok = EVP_DigestFinal_ex(ctx, digest, &dlen);
    }
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        free(f);
        return fa_err_set(err, "digest failed");
    }
    uint8_t sig[KEY_SIG_MAX];
    size_t siglen = sizeof(sig);
    if (key_sign_digest(sp->key, KEY_MD_SHA256, digest, dlen, sig, &siglen, err) < 0) {
        free(f);
        return -1;
    }
    char sig64[DKIM_SIG_B64_MAX];
    b64_encode(sig, siglen, sig64, sizeof(sig64));
    fold_long(f, sig64, 0);
    if (f->overflow) {
        free(f);
        return fa_err_set(err, "DKIM-Signature field too long");
    }
    *field = with_eol(f->buf, f->len, eol);
    free(f);
    return *field ? 0 : fa_err_set(err, "out of memory");
}

int dkim_signer_finish(struct dkim_signer *s, const struct msg_header *h, size_t nh,
                       const char *eol, char **fields, fa_err *err)
{
    hashes_final(&s->hs);
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
    struct hashes hs;
};

void dkim_verifier_free(struct dkim_verifier *v)
{
    if (!v)
        return;
    hashes_free(&v->hs);
    free(v);
}

static int set_result(struct vsig *s, int result, const char *reason)
{
    s->r.result = result;
    s->r.reason = reason;
    s->pending = 0;
    return 0;
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
    copy_tag(td, s->r.domain, sizeof(s->r.domain));
    copy_tag(ts, s->r.selector, sizeof(s->r.selector));
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
    if (copy_tag(td, s->r.domain, sizeof(s->r.domain)) < 0 ||
        copy_tag(ts, s->r.selector, sizeof(s->r.selector)) < 0 ||
        !valid_domain_chars(s->r.domain) || !valid_domain_chars(s->r.selector))
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
    if (tc) {
        const char *slash = memchr(tc->value, '/', tc->value_len);
        size_t hl = slash ? (size_t)(slash - tc->value) : tc->value_len;
        s->hcanon = canon_parse(tc->value, hl);
        if (slash)
            s->bcanon = canon_parse(slash + 1, tc->value_len - hl - 1);
        if (s->hcanon < 0 || s->bcanon < 0)
            return set_result(s, DKIM_PERMERROR, "unknown canonicalization");
    }
    if (tq && !list_has(tq->value, tq->value_len, "dns/txt"))
        return set_result(s, DKIM_PERMERROR, "unsupported query method");
    /* h= must include From (RFC 6376 section 5.4). */
    if (!list_has(th->value, th->value_len, "from"))
        return set_result(s, DKIM_PERMERROR, "From field not signed");
    s->h_tag = th;

    if (ti) {
        if (copy_tag(ti, s->r.identity, sizeof(s->r.identity)) < 0)
            return set_result(s, DKIM_PERMERROR, "i= too long");
        const char *at = strrchr(s->r.identity, '@');
        if (!at || !domain_within(at + 1, s->r.domain))
            return set_result(s, DKIM_PERMERROR, "i= domain not within d=");
    } else {
        snprintf(s->r.identity, sizeof(s->r.identity), "@%s", s->r.domain);
    }
    s->limit = CANON_NO_LIMIT;
    if (tl) {
        long long l;
        if (parse_number(tl, &l) < 0)
            return set_result(s, DKIM_PERMERROR, "invalid l=");
        s->limit = (uint64_t)l;
    }
    s->t = s->x = -1;
    if ((tt && parse_number(tt, &s->t) < 0) || (tx && parse_number(tx, &s->x) < 0))
        return set_result(s, DKIM_PERMERROR, "invalid t= or x=");
    if (s->t >= 0 && s->x >= 0 && s->x < s->t)
        return set_result(s, DKIM_PERMERROR, "x= earlier than t=");

    char tmp[B64_ENCODED_LEN(KEY_SIG_MAX) + 64];
    if (tags_copy_nows(tbh, tmp, sizeof(tmp)) < 0 ||
        (s->bhash_len = b64_decode(tmp, strlen(tmp), s->bhash, sizeof(s->bhash))) < 0)
        return set_result(s, DKIM_PERMERROR, "malformed bh=");
    if (tags_copy_nows(tb, tmp, sizeof(tmp)) < 0 ||
        (s->b_len = b64_decode(tmp, strlen(tmp), s->b, sizeof(s->b))) <= 0)
        return set_result(s, DKIM_PERMERROR, "malformed b=");
    s->b_off = f->value_off + tb->value_off;
    s->b_end = f->value_off + tb->value_end;

    if (s->r.alg == DKIM_RSA_SHA1)
        return set_result(s, DKIM_POLICY, "rsa-sha1 is not accepted (RFC 8301)");
    if (s->x >= 0 && s->x < (long long)v->now)
        return set_result(s, DKIM_FAIL, "signature expired");
    if (s->t >= 0 && s->t > (long long)v->now + DKIM_CLOCK_SKEW)
        return set_result(s, DKIM_FAIL, "signature timestamp in the future");

    int bh = hashes_get(&v->hs, s->bcanon, s->limit, alg_md(s->r.alg), err);
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
    if (hashes_init(&v->hs, err) < 0) {
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
    hashes_update(&v->hs, p, n);
}

struct fa_key *dkim_parse_key_record(const char *txt, size_t len, int alg, int *testing,
                                     int *strict, int *result, const char **why)
{
    struct tag_list l;
    *testing = *strict = 0;
    *result = DKIM_PERMERROR;
    if (tags_parse(txt, len, &l, why) < 0)
        return NULL;
    const struct tag *tv = tags_find(&l, "v"), *tk = tags_find(&l, "k"), *th = tags_find(&l, "h"),
                     *tp = tags_find(&l, "p"), *tt = tags_find(&l, "t"), *ts = tags_find(&l, "s");
    if (tv && (!tags_value_is(tv, "DKIM1") || tv != &l.t[0])) {
        *why = "key record: v= is not DKIM1 or not first";
        return NULL;
    }
    int type = KEY_RSA;
    if (tk) {
        if (tags_value_is_nocase(tk, "ed25519"))
            type = KEY_ED25519;
        else if (!tags_value_is_nocase(tk, "rsa")) {
            *why = "key record: unknown key type";
            return NULL;
        }
    }
    if ((alg == DKIM_ED25519_SHA256) != (type == KEY_ED25519)) {
        *why = "key type does not match the signature algorithm";
        return NULL;
    }
    if (th && !list_has(th->value, th->value_len, alg == DKIM_RSA_SHA1 ? "sha1" : "sha256")) {
        *why = "key record h= excludes the signature's hash";
        return NULL;
    }
    if (ts && !list_has(ts->value, ts->value_len, "*") &&
        !list_has(ts->value, ts->value_len, "email")) {
        *why = "key record is not for email (s=)";
        return NULL;
    }
    if (tt) {
        *testing = list_has(tt->value, tt->value_len, "y");
        *strict = list_has(tt->value, tt->value_len, "s");
    }
    if (!tp) {
        *why = "key record without p=";
        return NULL;
    }
    if (tp->value_len == 0) {
        *why = "key revoked (empty p=)";
        return NULL;
    }
    fa_err err;
    struct fa_key *k = key_from_dns_p(type, tp->value, tp->value_len, &err);
    if (!k) {
        *why = "key record: p= is not a valid public key";
        return NULL;
    }
    if (type == KEY_RSA && key_bits(k) < KEY_RSA_MIN_BITS) {
        key_free(k);
        *why = "RSA key shorter than 1024 bits (RFC 8301)";
        return NULL;
    }
    *result = DKIM_PASS;
    return k;
}

/* Fetch and parse the key for s; sets a result and returns NULL on failure. */
static struct fa_key *fetch_key(struct vsig *s, struct dns *dns, int *strict)
{
    char name[512];
    snprintf(name, sizeof(name), "%s._domainkey.%s", s->r.selector, s->r.domain);
    struct dns_answer a;
    dns_query(dns, name, DNS_T_TXT, &a);
    struct fa_key *k = NULL;
    if (a.status == DNS_TEMPFAIL) {
        set_result(s, DKIM_TEMPERROR, "key lookup failed temporarily");
    } else if (a.status != DNS_OK) {
        set_result(s, DKIM_PERMERROR, "no key for signature");
    } else {
        /* Use the first record that parses (RFC 6376 section 3.6.2.2). */
        const char *why = "no valid key record";
        int result = DKIM_PERMERROR, testing = 0;
        for (size_t i = 0; i < a.n && !k; i++)
            k = dkim_parse_key_record((const char *)a.rr[i].data, a.rr[i].len, s->r.alg, &testing,
                                      strict, &result, &why);
        if (!k)
            set_result(s, DKIM_PERMERROR, why);
        else {
            s->r.testing = testing;
            s->r.key_bits = key_bits(k);
        }
    }
    dns_answer_free(&a);
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
    const struct body_hash *bh = v->hs.bh[s->bh];
    if (s->limit != CANON_NO_LIMIT && canon_body_length(&bh->cb) < s->limit) {
        key_free(k);
        return set_result(s, DKIM_FAIL, "body shorter than l=");
    }
    if ((unsigned)s->bhash_len != bh->dlen || memcmp(s->bhash, bh->digest, bh->dlen) != 0) {
        key_free(k);
        return set_result(s, DKIM_FAIL, "body hash did not verify");
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    int md = alg_md(s->r.alg);
    int ok = ctx && EVP_DigestInit_ex(ctx, md_of(&v->hs, md), NULL);
    if (ok) {
        hash_selected(ctx, s->hcanon, v->h, v->nh, s->h_tag->value, s->h_tag->value_len);
        canon_header(s->hcanon, &v->h[s->hidx], 0, s->b_off, s->b_end, md_sink, ctx);
        ok = EVP_DigestFinal_ex(ctx, digest, &dlen);
    }
    EVP_MD_CTX_free(ctx);
    if (!ok) {
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
    hashes_final(&v->hs);
    size_t n = 0;
    for (size_t i = 0; i < v->n && n < max; i++) {
        struct vsig *s = &v->sigs[i];
        if (s->pending)
            check_sig(v, s, dns);
        out[n++] = s->r;
    }
    return n;
}
