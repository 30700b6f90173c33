/* arrival - SPF, DKIM, ARC and DMARC of a message as it arrived; see arrival.h. */
#include "arrival.h"

#include "addr.h"
#include "domlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct arrival_check {
    const struct msg_header *h;
    size_t nh;
    struct arrival_input in;
    struct dkim_verifier *dkim;
    struct arc_verifier *arc;
};

void arrival_free(struct arrival_check *c)
{
    if (!c)
        return;
    dkim_verifier_free(c->dkim);
    arc_verifier_free(c->arc);
    free(c);
}

struct arrival_check *arrival_begin(const struct msg_header *h, size_t nh,
                                    const struct arrival_input *in, fa_err *err)
{
    struct arrival_check *c = calloc(1, sizeof(*c));
    if (!c) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    c->h = h;
    c->nh = nh;
    c->in = *in;
    time_t now = in->now ? in->now : time(NULL);
    c->dkim = dkim_verifier_new(h, nh, now, err);
    c->arc = c->dkim ? arc_verifier_new(h, nh, now, err) : NULL;
    if (!c->arc) {
        arrival_free(c);
        return NULL;
    }
    return c;
}

void arrival_body(struct arrival_check *c, const uint8_t *p, size_t n)
{
    dkim_verifier_body(c->dkim, p, n);
    arc_verifier_body(c->arc, p, n);
}

/* The spf= result of the topmost field from a trusted authserv-id. */
static int trusted_spf(const struct arrival_check *c, struct spf_result *out)
{
    if (!c->in.ntrusted)
        return 0;
    struct authres_parsed *p = malloc(sizeof(*p));
    if (!p)
        return 0;
    int found = 0;
    for (size_t i = 0; i < c->nh && !found; i++) {
        const struct msg_header *f = &c->h[i];
        const char *why;
        if (!msg_header_is(f, "Authentication-Results") ||
            authres_parse(f->raw + f->value_off, f->value_end - f->value_off, p, &why) < 0)
            continue;
        int trusted = 0;
        for (size_t k = 0; k < c->in.ntrusted; k++)
            trusted |= domain_equal(p->serv_id, strlen(p->serv_id), c->in.trusted_ids[k],
                                    strlen(c->in.trusted_ids[k]));
        for (size_t r = 0; trusted && r < p->n && !found; r++) {
            if (strcmp(p->r[r].method, "spf") != 0)
                continue;
            static const char *const names[] = {"none",     "neutral",   "pass",     "fail",
                                                "softfail", "temperror", "permerror"};
            for (int k = 0; k < 7; k++)
                if (strcmp(p->r[r].result, names[k]) == 0)
                    out->result = k, found = 1;
            for (size_t q = 0; found && q < p->r[r].nprops; q++) {
                const struct authres_prop *pr = &p->r[r].props[q];
                const char *v = pr->value, *at = strrchr(v, '@');
                if (strcmp(pr->ptype, "smtp") != 0 ||
                    (strcmp(pr->property, "mailfrom") != 0 && strcmp(pr->property, "helo") != 0))
                    continue;
                out->helo_identity = strcmp(pr->property, "helo") == 0;
                snprintf(out->domain, sizeof(out->domain), "%.*s", (int)sizeof(out->domain) - 1,
                         at ? at + 1 : v);
                /* The identity that passed, for our own field (RFC 8601 2.7.2). */
                snprintf(out->sender, sizeof(out->sender), "%.*s", (int)sizeof(out->sender) - 1, v);
            }
            snprintf(out->reason, sizeof(out->reason), "from %.*s", (int)sizeof(out->reason) - 6,
                     p->serv_id);
        }
    }
    free(p);
    return found;
}

/* The From: domain as receivers read it, and how sure that reading is. */
static void read_from(const struct arrival_check *c, struct arrival *out)
{
    struct from_info f;
    from_read(c->h, c->nh, &f);
    out->from_state = f.state;
    out->from_why = f.why;
    out->from_domain[0] = '\0';
    if ((f.state == FROM_OK || f.state == FROM_REPAIRED) &&
        strlen(f.domain) < sizeof(out->from_domain))
        strcpy(out->from_domain, f.domain);
}

static int rank(int result)
{
    switch (result) {
    case DKIM_PASS:
        return 6;
    case DKIM_TEMPERROR:
        return 5;
    case DKIM_POLICY:
        return 4;
    case DKIM_NEUTRAL:
        return 3;
    case DKIM_FAIL:
        return 2;
    case DKIM_PERMERROR:
        return 1;
    default:
        return 0;
    }
}

/* Is a signing domain aligned with the From: domain under the record's adkim? */
static int dkim_aligned(struct dns *dns, const struct arrival *a, int mode, const char *d)
{
    if (strcasecmp(d, a->from_domain) == 0)
        return 1;
    if (!a->dmarc.have_record || a->dmarc.record.adkim == DMARC_ALIGN_STRICT ||
        !a->dmarc.org_domain[0])
        return 0;
    char org[256];
    return dmarc_org_domain(dns, mode, d, org, sizeof(org)) == 0 &&
           strcasecmp(org, a->dmarc.org_domain) == 0;
}

int arrival_aligns(struct dns *dns, int dmarc_mode, const struct arrival *a, const char *d)
{
    return a->from_domain[0] && d && d[0] && dkim_aligned(dns, a, dmarc_mode, d);
}

/* The most questions arrival_prefetch asks: SPF's record, DMARC's, and
 * every DKIM and ARC key. */
#define ARRIVAL_PREFETCH_MAX (1 + DMARC_WALK_MAX + DKIM_MAX_SIGS + 2 * ARC_MAX_INSTANCE)

/* Every question the checks will ask that can be known before they run,
 * asked together (dns_prefetch), so that they wait once rather than one
 * after another: the SPF record of the MAIL FROM (or HELO) domain, the
 * DMARC records of the From: domain (and its Organizational Domain, or
 * the names of its Tree Walk), the key of every DKIM signature and of
 * every ARC set. What only the answers tell (SPF's include, a, mx, ...)
 * is asked as the checks find it. On a resolver that is not a session,
 * nothing is asked. */
static void arrival_prefetch(const struct arrival_check *c, struct dns *dns,
                             const struct arrival *out)
{
    struct dns_question q[ARRIVAL_PREFETCH_MAX];
    size_t n = 0;
    struct names {
        char spf[SPF_DOMAIN_MAX + 1];
        char dmarc[DMARC_WALK_MAX][DMARC_QUESTION_MAX];
        char keys[DKIM_MAX_SIGS + 2 * ARC_MAX_INSTANCE][DKIM_KEY_NAME_MAX];
    } *nm = malloc(sizeof(*nm));
    if (!nm)
        return;
    if (!out->spf_from_trusted) {
        /* The domain spf_check_request will check, as it names it (a
         * trailing dot left out, so the answer is the one it asks for). */
        struct spf_request rq = {.mail_from = c->in.mail_from, .helo = c->in.helo};
        const char *dom;
        size_t llen, dlen = spf_identity(&rq, &dom, &llen);
        if (dlen > 0 && dlen < sizeof(nm->spf)) {
            memcpy(nm->spf, dom, dlen);
            nm->spf[dlen] = '\0';
            q[n++] = (struct dns_question){nm->spf, DNS_T_TXT};
        }
    }
    size_t nd = out->from_domain[0] ? dmarc_policy_questions(c->in.dmarc_mode, out->from_domain,
                                                             nm->dmarc, DMARC_WALK_MAX)
                                    : 0;
    for (size_t i = 0; i < nd; i++)
        q[n++] = (struct dns_question){nm->dmarc[i], DNS_T_TXT};
    size_t nk = dkim_verifier_key_names(c->dkim, nm->keys, DKIM_MAX_SIGS);
    nk += arc_verifier_key_names(c->arc, nm->keys + nk, 2 * ARC_MAX_INSTANCE);
    for (size_t i = 0; i < nk; i++)
        q[n++] = (struct dns_question){nm->keys[i], DNS_T_TXT};
    dns_prefetch(dns, q, n);
    free(nm);
}

void arrival_finish(struct arrival_check *c, struct dns *dns, struct arrival *out)
{
    memset(out, 0, sizeof(*out));
    const struct arrival_input *in = &c->in;
    out->spf_from_trusted = trusted_spf(c, &out->spf);
    read_from(c, out);
    arrival_prefetch(c, dns, out);
    if (!out->spf_from_trusted) {
        struct spf_request rq = {.ip = in->ip,
                                 .mail_from = in->mail_from,
                                 .helo = in->helo,
                                 .receiver = in->receiver,
                                 .now = in->now};
        if (spf_check_request(dns, &rq, &out->spf) < 0) {
            out->spf.result = SPF_PERMERROR;
            snprintf(out->spf.reason, sizeof(out->spf.reason), "unusable client address");
        }
    }
    out->ndkim = dkim_verifier_finish(c->dkim, dns, out->dkim, DKIM_MAX_SIGS);
    out->dkim_skipped = dkim_verifier_skipped(c->dkim);
    arc_verifier_finish(c->arc, dns, &out->arc);
    arrival_judge(dns, in->dmarc_mode, in->pct_roll, out);
}

void arrival_judge(struct dns *dns, int dmarc_mode, unsigned pct_roll, struct arrival *out)
{
    memset(&out->dmarc, 0, sizeof(out->dmarc));
    if (!out->from_domain[0]) {
        out->dmarc.result = DMARC_PERMERROR;
        out->dmarc.policy = DMARC_POLICY_ABSENT;
        out->dmarc.reason = out->from_why && out->from_why[0]
                                ? out->from_why
                                : "From: must hold exactly one address";
    } else {
        struct dmarc_dkim_auth d[DKIM_MAX_SIGS];
        for (size_t i = 0; i < out->ndkim; i++) {
            d[i].domain = out->dkim[i].domain;
            d[i].result = out->dkim[i].result == DKIM_PASS        ? DMARC_AUTH_PASS
                          : out->dkim[i].result == DKIM_TEMPERROR ? DMARC_AUTH_TEMPERROR
                                                                  : DMARC_AUTH_OTHER;
        }
        struct dmarc_auth auth = {
            .spf_result = out->spf.result == SPF_PASS        ? DMARC_AUTH_PASS
                          : out->spf.result == SPF_TEMPERROR ? DMARC_AUTH_TEMPERROR
                                                             : DMARC_AUTH_OTHER,
            .spf_domain = out->spf.domain,
            .dkim = d,
            .ndkim = out->ndkim,
            .pct_roll = pct_roll,
        };
        dmarc_evaluate(dns, dmarc_mode, out->from_domain, &auth, &out->dmarc);
    }
    /* The best DKIM result among aligned signatures, else among all. */
    int best_aligned = -1, best = 0;
    out->dkim_aligned_temperror = 0;
    for (size_t i = 0; i < out->ndkim; i++) {
        int r = out->dkim[i].result;
        if (rank(r) > rank(best))
            best = r;
        if (out->from_domain[0] && out->dkim[i].domain[0] &&
            dkim_aligned(dns, out, dmarc_mode, out->dkim[i].domain)) {
            if (best_aligned < 0 || rank(r) > rank(best_aligned))
                best_aligned = r;
            out->dkim_aligned_temperror |= r == DKIM_TEMPERROR;
        }
    }
    out->dkim_summary = best_aligned >= 0 ? best_aligned : best;
}

void arrival_authres(const struct arrival *a, const char *authserv_id, int with_dmarc,
                     struct authres *ar)
{
    authres_begin(ar, authserv_id);
    const struct spf_result *s = &a->spf;
    char mailfrom[SPF_DOMAIN_MAX + 310];
    snprintf(mailfrom, sizeof(mailfrom), "%s", s->sender);
    authres_add(ar, "spf", spf_result_name(s->result), a->spf_from_trusted ? s->reason : NULL,
                s->helo_identity ? "smtp.helo" : "smtp.mailfrom",
                s->helo_identity ? s->domain : mailfrom, NULL);
    if (a->ndkim == 0)
        authres_add(ar, "dkim", "none", NULL, NULL);
    for (size_t i = 0; i < a->ndkim; i++) {
        const struct dkim_sig_result *r = &a->dkim[i];
        authres_add(ar, "dkim", dkim_result_name(r->result), r->reason, "header.d", r->domain,
                    "header.i", r->identity, "header.s", r->selector, "header.b", r->b_prefix,
                    "header.a", r->alg < 0 ? "" : dkim_alg_name(r->alg), NULL);
    }
    if (a->dkim_skipped) {
        /* RFC 8601 "policy": signed, but not acceptable here (not verified). */
        char why[80];
        snprintf(why, sizeof(why), "signatures beyond the limit of %d not verified: %zu",
                 DKIM_MAX_SIGS, a->dkim_skipped);
        authres_add(ar, "dkim", "policy", why, NULL);
    }
    if (with_dmarc) {
        const char *policy = a->dmarc.have_record ? dmarc_policy_name(a->dmarc.policy) : "";
        authres_add(ar, "dmarc", dmarc_result_name(a->dmarc.result),
                    a->dmarc.result == DMARC_PASS ? NULL : a->dmarc.reason, "header.from",
                    a->from_domain, "policy.dmarc", policy, NULL);
    }
    authres_add(ar, "arc", arc_cv_name(a->arc.cv), a->arc.reason[0] ? a->arc.reason : NULL, NULL);
}
