/* arc - ARC chain validation and sealing (RFC 8617); see arc.h. */
#include "arc.h"

#include "authres.h"
#include "b64.h"
#include "dkim.h"
#include "dkimcore.h"
#include "tags.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARC_SIG_B64_MAX (B64_ENCODED_LEN(KEY_SIG_MAX) + 1)

enum { F_AAR, F_AMS, F_AS };

static const char *const field_names[] = {"ARC-Authentication-Results", "ARC-Message-Signature",
                                          "ARC-Seal"};

const char *arc_cv_name(int cv)
{
    return cv == ARC_CV_PASS ? "pass" : cv == ARC_CV_FAIL ? "fail" : "none";
}

static int field_kind(const struct msg_header *f)
{
    for (int k = F_AAR; k <= F_AS; k++)
        if (msg_header_is(f, field_names[k]))
            return k;
    return -1;
}

static int instance_value(const char *p, size_t n)
{
    if (n == 0 || n > 3)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= ARC_MAX_INSTANCE ? v : -1;
}

int arc_field_instance(const struct msg_header *f, const char **why)
{
    const char *s = f->raw + f->value_off;
    size_t n = f->value_end - f->value_off;
    int kind = field_kind(f);
    if (kind == F_AAR) {
        /* arc-info = "i" [FWS] "=" [FWS] instance [CFWS] ";" authres-payload */
        size_t i = 0;
        while (i < n && strchr(" \t\r\n", s[i]))
            i++;
        if (i + 1 >= n || s[i] != 'i') {
            *why = "ARC-Authentication-Results does not start with i=";
            return -1;
        }
        for (i++; i < n && strchr(" \t\r\n", s[i]); i++)
            ;
        if (i >= n || s[i] != '=') {
            *why = "ARC-Authentication-Results does not start with i=";
            return -1;
        }
        for (i++; i < n && strchr(" \t\r\n", s[i]); i++)
            ;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        int v = instance_value(s + d, i - d);
        while (i < n && strchr(" \t\r\n", s[i]))
            i++;
        if (v < 0 || i >= n || s[i] != ';') {
            *why = "ARC-Authentication-Results: i= invalid or not followed by \";\"";
            return -1;
        }
        return v;
    }
    if (kind < 0) {
        *why = "not an ARC field";
        return -1;
    }
    struct tag_list l;
    if (tags_parse_strict(s, n, &l, why) < 0)
        return -1;
    const struct tag *ti = tags_find(&l, "i");
    int v = ti ? instance_value(ti->value, ti->value_len) : -1;
    if (v < 0)
        *why = "i= missing, invalid or out of range";
    return v;
}

/* ---- parsed signatures (AMS and AS) ---- */

struct sig {
    int pending; /* syntax OK, still to check */
    int result;  /* enum dkim_result */
    const char *reason;
    int bh; /* an AMS's body hash, in the verifier's hashes */
    struct dkimcore_sig sig;
};

struct arc_set {
    const struct msg_header *f[3]; /* AAR, AMS, AS */
    size_t idx[3];
    struct sig ams, as;
};

struct arc_verifier {
    const struct msg_header *h;
    size_t nh;
    time_t now;
    struct arc_set *sets[ARC_MAX_INSTANCE];
    unsigned n;       /* highest instance seen */
    int any;          /* any ARC field at all */
    char broken[160]; /* the chain's structure is invalid: why */
    struct dkimcore_hashes hs;
};

static int sig_done(struct sig *s, int result, const char *reason)
{
    s->result = result;
    s->reason = reason;
    s->pending = 0;
    return 0;
}

static void set_broken(struct arc_verifier *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_broken(struct arc_verifier *v, const char *fmt, ...)
{
    if (v->broken[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->broken, sizeof(v->broken), fmt, ap);
    va_end(ap);
}

/* What an AMS and an AS must hold (RFC 8617 sections 4.1.2, 4.1.3), checked
 * in this order. An AMS is read as a DKIM-Signature without v= and with
 * its i= the instance; its a= is one of ARC's two algorithms exactly. An
 * AS has no c= (relaxed) and no l=. */
static const char *const ams_required[] = {"a", "b", "d", "s", "bh", "h", NULL};
static const unsigned char ams_checks[] = {
    DKIMCORE_CHECK_REQUIRED,  DKIMCORE_CHECK_DS,     DKIMCORE_CHECK_ALG_EXACT,
    DKIMCORE_CHECK_TIMES,     DKIMCORE_CHECK_B,      DKIMCORE_CHECK_CANON,
    DKIMCORE_CHECK_H_NO_SEAL, DKIMCORE_CHECK_LENGTH, DKIMCORE_CHECK_BH_NONEMPTY,
    DKIMCORE_CHECK_CLOCK,
};
static const char *const as_required[] = {"a", "b", "d", "s", "cv", NULL};
static const unsigned char as_checks[] = {
    DKIMCORE_CHECK_REQUIRED,  DKIMCORE_CHECK_CV,    DKIMCORE_CHECK_NO_H, DKIMCORE_CHECK_DS,
    DKIMCORE_CHECK_ALG_EXACT, DKIMCORE_CHECK_TIMES, DKIMCORE_CHECK_B,    DKIMCORE_CHECK_CLOCK,
};
static const struct dkimcore_sig_rules sig_rules[2] = {
    {.strict_tags = 1,
     .required = ams_required,
     .hcanon = CANON_SIMPLE,
     .bcanon = CANON_SIMPLE,
     .checks = ams_checks,
     .nchecks = sizeof(ams_checks)},
    {.strict_tags = 1,
     .required = as_required,
     .hcanon = CANON_RELAXED,
     .bcanon = CANON_RELAXED,
     .checks = as_checks,
     .nchecks = sizeof(as_checks)},
};
/* dkimcore_sig's cv is arc_cv's value. */
_Static_assert(ARC_CV_NONE == 0 && ARC_CV_PASS == 1 && ARC_CV_FAIL == 2, "cv values");

/* Check a signature's syntax; prepare the body hash of an AMS. */
static void parse_sig(struct arc_verifier *v, struct sig *s, const struct msg_header *f, int seal,
                      fa_err *err)
{
    const char *reason = "";
    s->reason = "";
    s->result = dkimcore_sig_parse(f, &sig_rules[seal], v->now, DKIM_CLOCK_SKEW, &s->sig, &reason);
    if (s->result != DKIM_NONE) {
        sig_done(s, s->result, reason);
        return;
    }
    if (!seal) {
        s->bh = dkimcore_hashes_get(&v->hs, s->sig.bcanon, s->sig.limit, KEY_MD_SHA256, err);
        if (s->bh < 0) {
            sig_done(s, DKIM_PERMERROR, "too many body hashes");
            return;
        }
    }
    s->pending = 1;
}

void arc_verifier_free(struct arc_verifier *v)
{
    if (!v)
        return;
    for (unsigned i = 0; i < ARC_MAX_INSTANCE; i++)
        free(v->sets[i]);
    dkimcore_hashes_free(&v->hs);
    free(v);
}

struct arc_verifier *arc_verifier_new(const struct msg_header *h, size_t nh, time_t now,
                                      fa_err *err)
{
    struct arc_verifier *v = calloc(1, sizeof(*v));
    if (!v) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    v->h = h;
    v->nh = nh;
    v->now = now;
    if (dkimcore_hashes_init(&v->hs, err) < 0) {
        arc_verifier_free(v);
        return NULL;
    }
    /* Group the ARC fields by instance (RFC 8617 section 5.2 step 1). */
    for (size_t k = 0; k < nh; k++) {
        int kind = field_kind(&h[k]);
        if (kind < 0)
            continue;
        v->any = 1;
        const char *why;
        int inst = arc_field_instance(&h[k], &why);
        if (inst < 0) {
            set_broken(v, "%s: %s", field_names[kind], why);
            continue;
        }
        struct arc_set *s = v->sets[inst - 1];
        if (!s && !(s = v->sets[inst - 1] = calloc(1, sizeof(*s)))) {
            fa_err_set(err, "out of memory");
            arc_verifier_free(v);
            return NULL;
        }
        if (s->f[kind]) {
            set_broken(v, "two %s fields with i=%d", field_names[kind], inst);
            continue;
        }
        s->f[kind] = &h[k];
        s->idx[kind] = k;
        if ((unsigned)inst > v->n)
            v->n = (unsigned)inst;
    }
    for (unsigned i = 0; i < v->n && !v->broken[0]; i++) {
        struct arc_set *s = v->sets[i];
        for (int kind = F_AAR; kind <= F_AS; kind++)
            if (!s || !s->f[kind])
                set_broken(v, "ARC set i=%u has no %s", i + 1, field_names[kind]);
    }
    if (v->broken[0])
        return v;
    for (unsigned i = 0; i < v->n; i++) {
        parse_sig(v, &v->sets[i]->ams, v->sets[i]->f[F_AMS], 0, err);
        parse_sig(v, &v->sets[i]->as, v->sets[i]->f[F_AS], 1, err);
    }
    return v;
}

size_t arc_verifier_key_names(const struct arc_verifier *v, char (*names)[DKIM_KEY_NAME_MAX],
                              size_t max)
{
    size_t n = 0;
    if (v->broken[0])
        return 0; /* arc_verifier_finish checks nothing */
    for (unsigned i = v->n; i-- > 0;) {
        const struct sig *both[2] = {&v->sets[i]->ams, &v->sets[i]->as};
        for (int k = 0; k < 2 && n < max; k++)
            if (both[k]->pending && dkim_key_name(both[k]->sig.selector, both[k]->sig.domain,
                                                  names[n], DKIM_KEY_NAME_MAX) == 0)
                n++;
    }
    return n;
}

void arc_verifier_body(struct arc_verifier *v, const uint8_t *p, size_t n)
{
    dkimcore_hashes_update(&v->hs, p, n);
}

/* Fetch the signer's key and check the signature over digest. */
static void verify_digest(struct sig *s, struct dns *dns, const uint8_t *digest, unsigned dlen)
{
    int result, testing, strict;
    const char *why;
    struct fa_key *k = dkim_key_fetch(dns, s->sig.selector, s->sig.domain, s->sig.alg, &testing,
                                      &strict, &result, &why);
    if (!k) {
        sig_done(s, result, why);
        return;
    }
    fa_err err;
    int good =
        key_verify_digest(k, KEY_MD_SHA256, digest, dlen, s->sig.b, (size_t)s->sig.b_len, &err);
    key_free(k);
    if (good == 1)
        sig_done(s, DKIM_PASS, "");
    else
        sig_done(s, DKIM_FAIL, "signature did not verify");
}

static void check_ams(struct arc_verifier *v, struct arc_set *set, struct dns *dns)
{
    struct sig *s = &set->ams;
    if (!s->pending)
        return;
    const struct dkimcore_body_hash *bh = v->hs.bh[s->bh];
    const struct dkimcore_sig *g = &s->sig;
    const char *bad_body = dkimcore_check_body(bh, g->limit, g->bhash, g->bhash_len);
    if (bad_body) {
        sig_done(s, DKIM_FAIL, bad_body);
        return;
    }
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (dkimcore_header_hash(v->hs.sha256, g->hcanon, v->h, v->nh, g->h->value, g->h->value_len,
                             NULL, 0, set->f[F_AMS], g->b_off, g->b_end, digest, &dlen) < 0) {
        sig_done(s, DKIM_TEMPERROR, "internal error");
        return;
    }
    verify_digest(s, dns, digest, dlen);
}

/* The ARC-Seal of instance inst covers AAR, AMS, AS of instances 1..inst,
 * its own b= blanked (RFC 8617 section 5.1.1); a seal that says cv=fail
 * covers its own set only, as the sealer signs it (section 5.1.2). */
static void check_as(struct arc_verifier *v, unsigned inst, struct dns *dns)
{
    struct arc_set *set = v->sets[inst - 1];
    struct sig *s = &set->as;
    if (!s->pending)
        return;
    const struct msg_header *extra[3 * ARC_MAX_INSTANCE];
    size_t ne = 0;
    for (unsigned i = s->sig.cv == ARC_CV_FAIL ? inst - 1 : 0; i < inst; i++)
        for (int kind = F_AAR; kind <= F_AS; kind++)
            if (i + 1 < inst || kind != F_AS)
                extra[ne++] = v->sets[i]->f[kind];
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (dkimcore_header_hash(v->hs.sha256, CANON_RELAXED, NULL, 0, NULL, 0, extra, ne, set->f[F_AS],
                             s->sig.b_off, s->sig.b_end, digest, &dlen) < 0) {
        sig_done(s, DKIM_TEMPERROR, "internal error");
        return;
    }
    verify_digest(s, dns, digest, dlen);
}

static void result_fail(struct arc_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void result_fail(struct arc_result *out, const char *fmt, ...)
{
    out->cv = ARC_CV_FAIL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

void arc_verifier_finish(struct arc_verifier *v, struct dns *dns, struct arc_result *out)
{
    dkimcore_hashes_final(&v->hs);
    memset(out, 0, sizeof(*out));
    out->cv = ARC_CV_NONE;
    out->nsets = v->n;
    if (!v->any)
        return;
    if (v->broken[0]) {
        result_fail(out, "%s", v->broken);
        for (unsigned i = 0; i < v->n; i++) {
            out->sets[i].instance = i + 1;
            out->sets[i].cv = -1;
            out->sets[i].ams_reason = out->sets[i].as_reason = "not checked";
        }
        return;
    }
    for (unsigned i = v->n; i-- > 0;) {
        check_ams(v, v->sets[i], dns);
        check_as(v, i + 1, dns);
    }
    for (unsigned i = 0; i < v->n; i++) {
        const struct arc_set *s = v->sets[i];
        struct arc_set_result *r = &out->sets[i];
        r->instance = i + 1;
        r->ams_result = s->ams.result;
        r->ams_reason = s->ams.reason;
        r->as_result = s->as.result;
        r->as_reason = s->as.reason;
        r->cv = s->as.sig.cv;
        snprintf(r->ams_domain, sizeof(r->ams_domain), "%s", s->ams.sig.domain);
        snprintf(r->ams_selector, sizeof(r->ams_selector), "%s", s->ams.sig.selector);
        snprintf(r->as_domain, sizeof(r->as_domain), "%s", s->as.sig.domain);
        snprintf(r->as_selector, sizeof(r->as_selector), "%s", s->as.sig.selector);
        r->aar_index = s->idx[F_AAR];
        r->ams_index = s->idx[F_AMS];
        r->as_index = s->idx[F_AS];
        out->temperror |= s->ams.result == DKIM_TEMPERROR || s->as.result == DKIM_TEMPERROR;
    }
    /* Oldest pass: the lowest instance from which every AMS verifies. */
    out->oldest_pass = 0;
    for (unsigned i = v->n; i-- > 0;)
        if (v->sets[i]->ams.result != DKIM_PASS) {
            out->oldest_pass = i + 2;
            break;
        }
    const struct arc_set *top = v->sets[v->n - 1];
    if (top->as.sig.cv == ARC_CV_FAIL) {
        result_fail(out, "ARC-Seal i=%u says cv=fail", v->n);
        return;
    }
    for (unsigned i = 0; i < v->n; i++) {
        int cv = v->sets[i]->as.sig.cv;
        if (cv < 0) {
            result_fail(out, "ARC-Seal i=%u: %s", i + 1, v->sets[i]->as.reason);
            return;
        }
        if (cv != (i == 0 ? ARC_CV_NONE : ARC_CV_PASS)) {
            result_fail(out, "ARC-Seal i=%u says cv=%s", i + 1, arc_cv_name(cv));
            return;
        }
    }
    if (top->ams.result != DKIM_PASS) {
        result_fail(out, "ARC-Message-Signature i=%u: %s", v->n, top->ams.reason);
        return;
    }
    for (unsigned i = v->n; i-- > 0;)
        if (v->sets[i]->as.result != DKIM_PASS) {
            result_fail(out, "ARC-Seal i=%u: %s", i + 1, v->sets[i]->as.reason);
            return;
        }
    out->cv = ARC_CV_PASS;
}

/* ---- sealing ---- */

struct arc_sealer {
    struct arc_verifier *v;
    struct arc_seal_spec spec;
    int bh; /* relaxed body hash, in v->hs */
    /* The fields as the message will leave, for the AMS (arc_sealer_outgoing);
     * NULL: as received. The chain is always validated as received. */
    const struct msg_header *out_h;
    size_t out_n;
};

void arc_sealer_outgoing(struct arc_sealer *s, const struct msg_header *h, size_t nh)
{
    s->out_h = h;
    s->out_n = nh;
}

void arc_sealer_free(struct arc_sealer *s)
{
    if (!s)
        return;
    arc_verifier_free(s->v);
    free(s);
}

static int bad_word(const char *s, size_t max)
{
    return !s || !s[0] || strlen(s) > max || strpbrk(s, " ;=()\"\t\r\n");
}

struct arc_sealer *arc_sealer_new(const struct arc_seal_spec *spec, const struct msg_header *h,
                                  size_t nh, time_t now, fa_err *err)
{
    struct arc_seal_spec sp = *spec;
    if (bad_word(sp.domain, 253) || bad_word(sp.selector, 63) || !sp.key) {
        fa_err_set(err, "ARC sealing needs a valid domain, selector and key");
        return NULL;
    }
    if (bad_word(sp.authserv_id, 255)) {
        fa_err_set(err, "ARC sealing needs a valid authserv-id");
        return NULL;
    }
    if (!key_is_private(sp.key)) {
        fa_err_set(err, "the key is not a private key");
        return NULL;
    }
    int kt = key_type(sp.key);
    if (sp.alg < 0)
        sp.alg = kt == KEY_ED25519 ? DKIM_ED25519_SHA256 : DKIM_RSA_SHA256;
    if (sp.alg != DKIM_RSA_SHA256 && sp.alg != DKIM_ED25519_SHA256) {
        fa_err_set(err, "ARC signs with rsa-sha256 or ed25519-sha256");
        return NULL;
    }
    if ((sp.alg == DKIM_ED25519_SHA256) != (kt == KEY_ED25519)) {
        fa_err_set(err, "%s needs a%s key", dkim_alg_name(sp.alg),
                   sp.alg == DKIM_ED25519_SHA256 ? "n Ed25519" : "n RSA");
        return NULL;
    }
    if (sp.headers) {
        size_t n = strlen(sp.headers);
        if (n >= DKIMCORE_HLIST_MAX || !tags_list_has(sp.headers, n, "from")) {
            fa_err_set(err, "the AMS must sign From (and its list be under %d octets)",
                       DKIMCORE_HLIST_MAX);
            return NULL;
        }
        /* RFC 8617 section 4.1.2: never ARC-Seal nor Authentication-Results. */
        if (tags_list_has(sp.headers, n, "arc-seal") ||
            tags_list_has(sp.headers, n, "authentication-results") || strpbrk(sp.headers, ";=")) {
            fa_err_set(err, "the AMS must not sign ARC-Seal or Authentication-Results");
            return NULL;
        }
    }
    struct arc_sealer *s = calloc(1, sizeof(*s));
    if (!s) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    s->spec = sp;
    s->v = arc_verifier_new(h, nh, now, err);
    if (!s->v || (s->bh = dkimcore_hashes_get(&s->v->hs, CANON_RELAXED, CANON_NO_LIMIT,
                                              KEY_MD_SHA256, err)) < 0) {
        arc_sealer_free(s);
        return NULL;
    }
    return s;
}

void arc_sealer_body(struct arc_sealer *s, const uint8_t *p, size_t n)
{
    arc_verifier_body(s->v, p, n);
}

/* One result to copy into the AAR. */
struct aar_item {
    const char *p;
    size_t n;
};

static size_t collect_results(const struct authres_parsed *ar, const char *base,
                              struct aar_item *items, size_t n, size_t max, int *arc_same,
                              int *arc_count, int cv)
{
    for (size_t i = 0; i < ar->n && n < max; i++) {
        if (strcmp(ar->r[i].method, "arc") == 0) {
            (*arc_count)++;
            *arc_same = strcmp(ar->r[i].result, arc_cv_name(cv)) == 0;
        }
        items[n].p = base + ar->r[i].raw_off;
        items[n].n = ar->r[i].raw_len;
        n++;
    }
    return n;
}

/* The AAR (RFC 8617 section 4.1.1) into f. */
static int build_aar(const struct arc_sealer *s, unsigned inst, int cv, struct dkimcore_fold *f,
                     fa_err *err)
{
    struct authres_parsed *ar = malloc(sizeof(*ar));
    struct aar_item *items = malloc(sizeof(*items) * (AUTHRES_MAX_RESULTS * 4 + 1));
    char *own = NULL;
    int rc = -1;
    if (!ar || !items) {
        fa_err_set(err, "out of memory");
        goto done;
    }
    size_t n = 0, max = AUTHRES_MAX_RESULTS * 4;
    int arc_same = 0, arc_count = 0;
    const char *why;
    if (s->spec.results) {
        size_t len = strlen(s->spec.authserv_id) + strlen(s->spec.results) + 3;
        if (!(own = malloc(len))) {
            fa_err_set(err, "out of memory");
            goto done;
        }
        snprintf(own, len, "%s; %s", s->spec.authserv_id, s->spec.results);
        if (authres_parse(own, strlen(own), ar, &why) < 0) {
            fa_err_set(err, "results: %s", why);
            goto done;
        }
        n = collect_results(ar, own, items, n, max, &arc_same, &arc_count, cv);
    } else {
        const struct msg_header *oh = s->out_h ? s->out_h : s->v->h;
        size_t on = s->out_h ? s->out_n : s->v->nh;
        for (size_t k = 0; k < on; k++) {
            const struct msg_header *h = &oh[k];
            if (!msg_header_is(h, "Authentication-Results"))
                continue;
            const char *val = h->raw + h->value_off;
            if (authres_parse(val, h->value_end - h->value_off, ar, &why) < 0 ||
                strcasecmp(ar->serv_id, s->spec.authserv_id) != 0)
                continue;
            n = collect_results(ar, val, items, n, max, &arc_same, &arc_count, cv);
        }
    }
    char inst_s[32];
    snprintf(inst_s, sizeof(inst_s), "i=%u; ", inst);
    dkimcore_fold_raw(f, "ARC-Authentication-Results: ", 28);
    dkimcore_fold_raw(f, inst_s, strlen(inst_s));
    dkimcore_fold_raw(f, s->spec.authserv_id, strlen(s->spec.authserv_id));
    dkimcore_fold_raw(f, ";", 1);
    /* Our chain status: as the results say it, or ours first. */
    int keep_arc = arc_count == 1 && arc_same;
    if (!keep_arc) {
        dkimcore_fold_raw(f, " arc=", 5);
        dkimcore_fold_raw(f, arc_cv_name(cv), strlen(arc_cv_name(cv)));
    }
    int first = keep_arc;
    for (size_t i = 0; i < n; i++) {
        if (!keep_arc && items[i].n >= 4 && strncasecmp(items[i].p, "arc", 3) == 0 &&
            strchr(" \t\r\n=/(", items[i].p[3]))
            continue;
        if (!first)
            dkimcore_fold_raw(f, ";", 1);
        first = 0;
        dkimcore_fold_break(f);
        for (size_t k = 0; k < items[i].n; k++)
            if (items[i].p[k] != '\r' && items[i].p[k] != '\n')
                dkimcore_fold_raw(f, items[i].p + k, 1);
    }
    rc = f->overflow ? fa_err_set(err, "ARC-Authentication-Results too long") : 0;
done:
    free(own);
    free(items);
    free(ar);
    return rc;
}

/* AMS (b64 empty: the form that is hashed). */
/* The tags AMS and AS end with: i= instance, s= selector, t= time. */
static void fold_ist(const struct arc_sealer *s, unsigned inst, time_t t, struct dkimcore_fold *f)
{
    char num[32];
    snprintf(num, sizeof(num), "%u", inst);
    dkimcore_fold_tag(f, "i", num, 0);
    dkimcore_fold_tag(f, "s", s->spec.selector, 0);
    if (s->spec.timestamp != -1) {
        snprintf(num, sizeof(num), "%lld", (long long)t);
        dkimcore_fold_tag(f, "t", num, 0);
    }
}

static void build_ams(const struct arc_sealer *s, unsigned inst, const char *hlist,
                      const char *bh64, const char *b64, time_t t, struct dkimcore_fold *f)
{
    dkimcore_fold_init(f);
    dkimcore_fold_raw(f, "ARC-Message-Signature: ", 23);
    dkimcore_fold_tag(f, "a", dkim_alg_name(s->spec.alg), 1);
    dkimcore_fold_tag(f, "b", b64, 0);
    dkimcore_fold_tag(f, "bh", bh64, 0);
    dkimcore_fold_tag(f, "c", "relaxed/relaxed", 0);
    dkimcore_fold_tag(f, "d", s->spec.domain, 0);
    dkimcore_fold_raw(f, ";", 1);
    if (f->col + 3 + strlen(hlist) > 76)
        dkimcore_fold_break(f);
    else
        dkimcore_fold_raw(f, " ", 1);
    dkimcore_fold_raw(f, "h=", 2);
    dkimcore_fold_long(f, hlist, ':');
    fold_ist(s, inst, t, f);
}

static void build_as(const struct arc_sealer *s, unsigned inst, int cv, const char *b64, time_t t,
                     struct dkimcore_fold *f)
{
    dkimcore_fold_init(f);
    dkimcore_fold_raw(f, "ARC-Seal: ", 10);
    dkimcore_fold_tag(f, "a", dkim_alg_name(s->spec.alg), 1);
    dkimcore_fold_tag(f, "b", b64, 0);
    dkimcore_fold_tag(f, "cv", arc_cv_name(cv), 0);
    dkimcore_fold_tag(f, "d", s->spec.domain, 0);
    fold_ist(s, inst, t, f);
}

static struct msg_header field_of(const struct dkimcore_fold *f, size_t name_len)
{
    struct msg_header m = {f->buf, f->len, name_len, name_len + 1, f->len};
    return m;
}

/* Sign the hash of (extra fields, then the template t) into sig64. */
static int sign_fields(const struct arc_sealer *s, const char *hlist,
                       const struct msg_header *const *extra, size_t ne,
                       const struct dkimcore_fold *t, size_t name_len, char *sig64, size_t sz,
                       fa_err *err)
{
    if (t->overflow)
        return fa_err_set(err, "ARC field too long");
    struct msg_header self = field_of(t, name_len);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    /* The AMS (hlist set) signs the message as it leaves; the seal, only ARC sets. */
    const struct msg_header *h = hlist && s->out_h ? s->out_h : s->v->h;
    size_t nh = hlist && s->out_h ? s->out_n : s->v->nh;
    if (dkimcore_header_hash(s->v->hs.sha256, CANON_RELAXED, h, nh, hlist,
                             hlist ? strlen(hlist) : 0, extra, ne, &self, 0, 0, digest, &dlen) < 0)
        return fa_err_set(err, "digest failed");
    return dkimcore_sign_b64(s->spec.key, digest, dlen, sig64, sz, err);
}

int arc_sealer_finish(struct arc_sealer *s, struct dns *dns, const char *eol,
                      struct arc_result *chain, char **fields, fa_err *err)
{
    fields[0] = fields[1] = fields[2] = NULL;
    arc_verifier_finish(s->v, dns, chain);
    unsigned n = s->v->n;
    if (n > 0 && chain->sets[n - 1].cv == ARC_CV_FAIL) {
        fa_err_set(err, "the chain's latest ARC-Seal says cv=fail: no set is added "
                        "(RFC 8617 section 5.1)");
        return ARC_NOT_SEALED;
    }
    if (n >= ARC_MAX_INSTANCE) {
        fa_err_set(err, "the chain already has %d sets", ARC_MAX_INSTANCE);
        return ARC_NOT_SEALED;
    }
    unsigned inst = n + 1;
    int cv = s->spec.arrival_cv ? *s->spec.arrival_cv : chain->cv;
    time_t t = s->spec.timestamp > 0 ? s->spec.timestamp : s->v->now;
    const struct dkimcore_body_hash *bh = s->v->hs.bh[s->bh];
    char bh64[B64_ENCODED_LEN(EVP_MAX_MD_SIZE) + 1], sig64[ARC_SIG_B64_MAX];
    b64_encode(bh->digest, bh->dlen, bh64, sizeof(bh64));
    char hlist[DKIMCORE_HLIST_MAX];
    if (s->spec.headers)
        snprintf(hlist, sizeof(hlist), "%s", s->spec.headers);
    else if (dkimcore_default_hlist(s->out_h ? s->out_h : s->v->h, s->out_h ? s->out_n : s->v->nh,
                                    1, hlist, sizeof(hlist)) < 0)
        return fa_err_set(err, "signed header list too long");

    struct dkimcore_fold *f = malloc(4 * sizeof(*f));
    if (!f)
        return fa_err_set(err, "out of memory");
    struct dkimcore_fold *aar = &f[0], *ams = &f[1], *as = &f[2], *tmp = &f[3];
    int rc = -1;
    dkimcore_fold_init(aar);
    if (build_aar(s, inst, cv, aar, err) < 0)
        goto done;
    build_ams(s, inst, hlist, bh64, "", t, tmp);
    if (sign_fields(s, hlist, NULL, 0, tmp, 21, sig64, sizeof(sig64), err) < 0)
        goto done;
    build_ams(s, inst, hlist, bh64, sig64, t, ams);

    /* The seal: earlier sets unless the chain failed (section 5.1.2), ours. */
    const struct msg_header *extra[3 * ARC_MAX_INSTANCE];
    size_t ne = 0;
    for (unsigned i = 0; cv != ARC_CV_FAIL && i < n; i++)
        for (int kind = F_AAR; kind <= F_AS; kind++)
            extra[ne++] = s->v->sets[i]->f[kind];
    struct msg_header aar_h = field_of(aar, 26), ams_h = field_of(ams, 21);
    extra[ne++] = &aar_h;
    extra[ne++] = &ams_h;
    build_as(s, inst, cv, "", t, tmp);
    if (sign_fields(s, NULL, extra, ne, tmp, 8, sig64, sizeof(sig64), err) < 0)
        goto done;
    build_as(s, inst, cv, sig64, t, as);
    if (!(fields[0] = dkimcore_fold_finish(as, eol, err)) ||
        !(fields[1] = dkimcore_fold_finish(ams, eol, err)) ||
        !(fields[2] = dkimcore_fold_finish(aar, eol, err))) {
        for (int i = 0; i < 3; i++) {
            free(fields[i]);
            fields[i] = NULL;
        }
        goto done;
    }
    rc = ARC_SEALED;
done:
    free(f);
    return rc;
}
