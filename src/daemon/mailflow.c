/* mailflow - the milter's mail policy: verify, report, sign, SRS; see mailflow.h. */
#include "mailflow.h"

#include "addrlist.h"
#include "arc.h"
#include "arrival.h"
#include "authres.h"
#include "dkim.h"
#include "domlist.h"
#include "fromhdr.h"
#include "keytable.h"
#include "log.h"
#include "metrics.h"
#include "monoclock.h"
#include "policy.h"
#include "runtime.h"
#include "srs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MF_LOG_MAX 1024 /* the per-message log line */

/* A bounded log line: appends stop (with "...") when it is full, so no
 * sender can make it overflow, however many fields it forges. */
struct mf_line {
    char buf[MF_LOG_MAX];
    size_t len;
};

static void line_add(struct mf_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line_add(struct mf_line *l, const char *fmt, ...)
{
    size_t room = sizeof(l->buf) - l->len;
    if (room <= 4)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= room) {
        l->len = sizeof(l->buf) - 4;
        memcpy(l->buf + l->len, "...", 4);
        l->len = sizeof(l->buf) - 1;
        return;
    }
    l->len += (size_t)n;
}

struct mf_msg {
    struct runtime *rt;
    int originating; /* from our users: sign with their domain's key */
    int forwarded;   /* to a forwarding recipient: SRS, our signature */
    int verify;      /* inbound: check DKIM, write Authentication-Results */
    int eoh_done;    /* the header section was processed */

    /* Header fields as received, "Name:value\n" each, for DKIM. Offsets,
     * not pointers, while the buffer grows; pointers are made at eoh. */
    char *raw;
    size_t raw_len, raw_cap;
    struct msg_header *h;
    size_t *hoff; /* where each field starts in raw */
    size_t nh, hcap;

    /* Authentication-Results fields that claim our authserv-id: their
     * indexes (from 1) among all fields of that name. Every one is removed:
     * as many as the header section holds (MILTER_HEADERS_MAX bounds it). */
    unsigned ar_seen;
    unsigned *forged;
    size_t nforged, forged_cap;
    char from_local[256], from_domain[256]; /* first From: address */

    /* Recipients as the client gave them that are forwarded (to remove
     * them when the policy says so), and whether any other came too. */
    char **fwd_rcpt;
    size_t nfwd_rcpt, fwd_rcpt_cap;
    int local;

    struct arrival_check *check;   /* inbound: SPF, DKIM, ARC, DMARC on arrival */
    struct arc_sealer *sealer;     /* forwarded: our ARC set */
    char aar_results[AUTHRES_MAX]; /* what the AAR records: our results */
    struct dkim_signer *signer;
    struct dkim_sign_spec specs[2];
    size_t nspecs;
    int spec_kind[2];       /* enum metrics_signature of each spec */
    char signed_as[2][400]; /* "d=example.org s=sel" for the log */

    /* What end of message did, counted at msg_end once the answer is known. */
    int quarantined, dkim_signed, sealed, from_rewritten, srs_rewritten;
    size_t dropped;   /* forwarded recipients removed */
    char reply_class; /* '4' or '5': the class of a reply we set */
};

static void *mf_begin(void *ctx, struct milter_session *s)
{
    struct runtime *rt = ctx;
    struct mf_msg *m = calloc(1, sizeof(*m));
    if (!m || !rt) {
        /* The layer tempfails the message; msg_end will not be called. */
        if (rt)
            metrics_milter_message(rt->metrics, METRICS_TEMPFAIL);
        free(m);
        return NULL;
    }
    m->rt = rt;
    m->originating = policy_originating(&rt->internal, &rt->cfg, milter_macro(s, "{auth_authen}"),
                                        milter_client_addr(s), milter_macro(s, "{daemon_name}"));
    m->verify = !m->originating;
    return m;
}

static int mf_rcpt(void *msg, struct milter_session *s, const char *addr, const char *const *args,
                   size_t nargs)
{
    (void)s;
    (void)args;
    (void)nargs;
    struct mf_msg *m = msg;
    if (!policy_forwarded_rcpt(&m->rt->cfg, addr)) {
        m->local = 1;
        return MILTER_CONTINUE;
    }
    m->forwarded = 1;
    /* The milter layer bounds the recipients (MILTER_RCPT_MAX). */
    if (m->nfwd_rcpt == m->fwd_rcpt_cap) {
        size_t cap = m->fwd_rcpt_cap ? m->fwd_rcpt_cap * 2 : 4;
        char **nv = realloc(m->fwd_rcpt, cap * sizeof(*nv));
        if (!nv)
            return MILTER_TEMPFAIL;
        m->fwd_rcpt = nv;
        m->fwd_rcpt_cap = cap;
    }
    if (!(m->fwd_rcpt[m->nfwd_rcpt] = strdup(addr)))
        return MILTER_TEMPFAIL;
    m->nfwd_rcpt++;
    return MILTER_CONTINUE;
}

/* 0, -1 out of memory, -2 over MSG_HEADER_MAX (the header section we keep). */
static int raw_append(struct mf_msg *m, const char *p, size_t n)
{
    if (m->raw_len + n > MSG_HEADER_MAX)
        return -2;
    if (m->raw_len + n > m->raw_cap) {
        size_t cap = m->raw_cap ? m->raw_cap : 8192;
        while (cap < m->raw_len + n)
            cap *= 2;
        char *nr = realloc(m->raw, cap);
        if (!nr)
            return -1;
        m->raw = nr;
        m->raw_cap = cap;
    }
    memcpy(m->raw + m->raw_len, p, n);
    m->raw_len += n;
    return 0;
}

/* Remember an Authentication-Results field that claims our authserv-id:
 * only we may write those (RFC 8601 section 5), so they are forged. */
static int note_authres(struct mf_msg *m, const char *value, size_t vlen)
{
    m->ar_seen++;
    char id[256];
    if (authres_serv_id(value, vlen, id, sizeof(id)) < 0)
        return 0;
    /* Authserv-ids are domain names: case and a trailing dot do not matter. */
    const char *ours = m->rt->authserv_id;
    if (!domain_equal(id, strlen(id), ours, strlen(ours)))
        return 0;
    if (m->nforged == m->forged_cap) {
        size_t cap = m->forged_cap ? m->forged_cap * 2 : 8;
        unsigned *nf = realloc(m->forged, cap * sizeof(*nf));
        if (!nf)
            return -1;
        m->forged = nf;
        m->forged_cap = cap;
    }
    m->forged[m->nforged++] = m->ar_seen;
    return 0;
}

static void note_from(struct mf_msg *m, const char *value, size_t vlen)
{
    if (m->from_domain[0])
        return; /* the first From: counts */
    if (addrlist_first_split(value, vlen, 0, m->from_local, sizeof(m->from_local), m->from_domain,
                             sizeof(m->from_domain)) < 0)
        m->from_local[0] = m->from_domain[0] = '\0';
}

static int mf_header(void *msg, struct milter_session *s, const char *name, size_t nlen,
                     const char *value, size_t vlen)
{
    struct mf_msg *m = msg;
    if (m->nh == m->hcap) {
        size_t cap = m->hcap ? m->hcap * 2 : 32;
        struct msg_header *nh = realloc(m->h, cap * sizeof(*nh));
        if (nh)
            m->h = nh;
        size_t *no = realloc(m->hoff, cap * sizeof(*no));
        if (no)
            m->hoff = no;
        if (!nh || !no)
            return MILTER_TEMPFAIL;
        m->hcap = cap;
    }
    size_t off = m->raw_len;
    int r = raw_append(m, name, nlen);
    if (r == 0)
        r = raw_append(m, ":", 1);
    if (r == 0)
        r = raw_append(m, value, vlen);
    if (r == 0)
        r = raw_append(m, "\n", 1);
    if (r == -2) {
        /* A permanent answer: the same message would be refused forever. */
        log_msg(FA_LOG_WARNING, "msg %s: header section over %d octets: refused",
                milter_queue_id(s), MSG_HEADER_MAX);
        return milter_set_reply(s, "552 5.3.4 Message header section too large for this "
                                   "server (over 1 MiB)");
    }
    if (r < 0)
        return MILTER_TEMPFAIL;
    /* raw is set at eoh, when the buffer stops moving. */
    m->hoff[m->nh] = off;
    m->h[m->nh++] = (struct msg_header){NULL, nlen + 1 + vlen + 1, nlen, nlen + 1, nlen + 1 + vlen};
    if (nlen == 22 && strncasecmp(name, "Authentication-Results", 22) == 0) {
        if (note_authres(m, value, vlen) < 0)
            return MILTER_TEMPFAIL;
    } else if (nlen == 4 && strncasecmp(name, "From", 4) == 0)
        note_from(m, value, vlen);
    return MILTER_CONTINUE;
}

static int add_spec(struct mf_msg *m, const struct keytable_match *k, int kind)
{
    if (m->nspecs == 2)
        return 0;
    m->spec_kind[m->nspecs] = kind;
    struct dkim_sign_spec *sp = &m->specs[m->nspecs];
    *sp = (struct dkim_sign_spec){
        .domain = NULL,
        .selector = NULL,
        .key = k->key,
        .alg = -1,
        .hcanon = CANON_RELAXED,
        .bcanon = CANON_RELAXED,
        .timestamp = 0,
    };
    /* The spec points into signed_as, which outlives the signer. */
    char *d = m->signed_as[m->nspecs];
    size_t dl = strlen(k->domain), sl = strlen(k->selector);
    if (dl + sl + 2 > sizeof(m->signed_as[0]))
        return -1;
    memcpy(d, k->domain, dl + 1);
    memcpy(d + dl + 1, k->selector, sl + 1);
    sp->domain = d;
    sp->selector = d + dl + 1;
    m->nspecs++;
    return 0;
}

static int mf_eoh(void *msg, struct milter_session *s)
{
    (void)s;
    struct mf_msg *m = msg;
    m->eoh_done = 1;
    for (size_t i = 0; i < m->nh; i++)
        m->h[i].raw = m->raw + m->hoff[i];
    fa_err err;
    const struct fa_config *cfg = &m->rt->cfg;
    if (m->verify) {
        struct arrival_input in = {
            .ip = milter_client_addr(s),
            .mail_from = milter_sender(s),
            .helo = milter_helo(s),
            .receiver = m->rt->authserv_id,
            /* Always evaluated, also with dmarc_enforce = off: we must know
             * a spoof to never sign, seal or rewrite it. */
            .dmarc_mode = cfg->dmarc_mode,
            .pct_roll = arc4random_uniform(100),
            .trusted_ids = cfg->trusted_authserv_ids.v,
            .ntrusted = cfg->trusted_authserv_ids.n,
        };
        m->check = arrival_begin(m->h, m->nh, &in, &err);
        if (!m->check)
            return MILTER_TEMPFAIL;
    }
    if (m->forwarded && !m->originating && m->rt->arc_key) {
        struct arc_seal_spec spec = {
            .domain = cfg->arc_domain,
            .selector = cfg->arc_selector,
            .key = m->rt->arc_key,
            .alg = -1,
            .timestamp = 0,
            .authserv_id = m->rt->authserv_id,
            .results = m->aar_results, /* filled at end of message, before sealing */
        };
        m->sealer = arc_sealer_new(&spec, m->h, m->nh, time(NULL), &err);
        if (!m->sealer) {
            log_msg(FA_LOG_ERROR, "msg %s: cannot seal: %s", milter_queue_id(s), err.msg);
            return MILTER_TEMPFAIL;
        }
    }
    const struct keytable *kt = m->rt->keys;
    struct keytable_match km;
    if (kt && m->originating && m->from_domain[0] &&
        keytable_find(kt, m->from_local, m->from_domain, &km) &&
        add_spec(m, &km, METRICS_SIG_DKIM) < 0)
        return MILTER_TEMPFAIL;
    /* Our forwarder key names a fixed domain of ours (runtime.c refuses "%"). */
    if (kt && m->forwarded && !m->originating && m->rt->cfg.forward_signing_key[0] &&
        keytable_find_name(kt, m->rt->cfg.forward_signing_key, "", &km) &&
        add_spec(m, &km, METRICS_SIG_FORWARDER) < 0)
        return MILTER_TEMPFAIL;
    if (m->nspecs) {
        m->signer = dkim_signer_new(m->specs, m->nspecs, &err);
        if (!m->signer) {
            log_msg(FA_LOG_ERROR, "msg %s: cannot sign: %s", milter_queue_id(s), err.msg);
            return MILTER_TEMPFAIL;
        }
    }
    return MILTER_CONTINUE;
}

static int mf_body(void *msg, struct milter_session *s, const uint8_t *p, size_t n)
{
    (void)s;
    struct mf_msg *m = msg;
    if (m->check)
        arrival_body(m->check, p, n);
    if (m->sealer)
        arc_sealer_body(m->sealer, p, n);
    if (m->signer)
        dkim_signer_body(m->signer, p, n);
    return MILTER_CONTINUE;
}

/* Header fields as they will leave: the received ones with our changes,
 * so that our DKIM signature and ARC set cover what the next hop sees. */
#define MF_OUT_EXTRA 8

struct mf_out {
    struct msg_header *h;
    size_t n;
    char *owned[MF_OUT_EXTRA]; /* texts of the fields we made */
    size_t nowned;
};

static void out_free(struct mf_out *o)
{
    for (size_t i = 0; i < o->nowned; i++)
        free(o->owned[i]);
    free(o->h);
}

/* A field "Name:value\n" (value with its leading space) as a msg_header. */
static int out_field(struct mf_out *o, struct msg_header *f, const char *name, const char *value)
{
    if (o->nowned == MF_OUT_EXTRA)
        return -1;
    size_t nl = strlen(name), vl = strlen(value);
    char *t = malloc(nl + vl + 3);
    if (!t)
        return -1;
    memcpy(t, name, nl);
    t[nl] = ':';
    memcpy(t + nl + 1, value, vl);
    t[nl + 1 + vl] = '\n';
    t[nl + vl + 2] = '\0';
    o->owned[o->nowned++] = t;
    *f = (struct msg_header){t, nl + vl + 2, nl, nl + 1, nl + 1 + vl};
    return 0;
}

static int out_append(struct mf_out *o, const char *name, const char *value, int top)
{
    struct msg_header f;
    if (out_field(o, &f, name, value) < 0)
        return -1;
    if (top)
        memmove(o->h + 1, o->h, o->n * sizeof(*o->h));
    o->h[top ? 0 : o->n] = f;
    o->n++;
    return 0;
}

static int out_init(struct mf_out *o, const struct mf_msg *m)
{
    memset(o, 0, sizeof(*o));
    o->h = malloc((m->nh + MF_OUT_EXTRA) * sizeof(*o->h));
    if (!o->h)
        return -1;
    if (m->nh)
        memcpy(o->h, m->h, m->nh * sizeof(*o->h));
    o->n = m->nh;
    return 0;
}

/* Rewrite From: as mailing lists do: "Name via forwarder" <our address>
 * (fromhdr.h writes one valid mailbox whatever the original name holds),
 * the original in Reply-To: (unless there is one) and X-Original-From:.
 * Only for a From: read with certainty (the policy asks for that).
 * 1 rewritten, 0 left alone (the original is too long to carry over: a
 * sender must not be able to make us defer a message forever), -1 error. */
static int rewrite_from(struct mf_msg *m, struct milter_mods *mods, struct mf_out *o,
                        const char *qid)
{
    const struct msg_header *from = NULL;
    int has_reply_to = 0;
    for (size_t i = 0; i < m->nh; i++) {
        if (!from && msg_header_is(&m->h[i], "From"))
            from = &m->h[i];
        has_reply_to |= msg_header_is(&m->h[i], "Reply-To");
    }
    if (!from || from->value_end - from->value_off >= 4096)
        return 0;
    const char *addr = m->rt->cfg.from_rewrite_address, *fwd = strrchr(addr, '@') + 1;
    const char *v = from->raw + from->value_off;
    size_t vl = from->value_end - from->value_off;
    char value[FROM_REWRITE_MAX], orig[4096];
    fa_err err;
    if (from_rewrite_value(v, vl, fwd, addr, value, sizeof(value), &err) < 0) {
        log_msg(FA_LOG_INFO, "msg %s: From: not rewritten: %s", qid, err.msg);
        return 0;
    }
    memcpy(orig, v, vl);
    orig[vl] = '\0';
    if (milter_mods_change_header(mods, "From", 1, value) < 0)
        return -1;
    /* The outgoing copy: the first From: replaced, the new fields appended. */
    for (size_t i = 0; i < o->n; i++)
        if (o->h[i].raw == from->raw) {
            struct msg_header f;
            if (out_field(o, &f, "From", value) < 0)
                return -1;
            o->h[i] = f;
            break;
        }
    if (!has_reply_to && (milter_mods_add_header(mods, "Reply-To", orig) < 0 ||
                          out_append(o, "Reply-To", orig, 0) < 0))
        return -1;
    if (milter_mods_add_header(mods, "X-Original-From", orig) < 0 ||
        out_append(o, "X-Original-From", orig, 0) < 0)
        return -1;
    return 1;
}

/* DKIM-Signature fields for the outgoing headers, inserted at the top. */
static int sign_out(struct mf_msg *m, struct milter_mods *mods, struct mf_out *o,
                    struct mf_line *what, const char *qid)
{
    char *fields[2] = {NULL, NULL};
    fa_err err;
    double start = monoclock_seconds();
    int fr = dkim_signer_finish(m->signer, o->h, o->n, "\n", fields, &err);
    metrics_sign_duration(m->rt->metrics, METRICS_SIGN_DKIM, monoclock_seconds() - start);
    if (fr < 0) {
        log_msg(FA_LOG_ERROR, "msg %s: signing failed: %s", qid, err.msg);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < m->nspecs; i++) {
        /* "DKIM-Signature:" + value + "\n": the value keeps its leading space. */
        char *v = fields[i] + 15;
        size_t vl = strlen(v);
        if (vl && v[vl - 1] == '\n')
            v[vl - 1] = '\0';
        if (rc == 0 && (milter_mods_insert_header(mods, 1, "DKIM-Signature", v) < 0 ||
                        out_append(o, "DKIM-Signature", v, 1) < 0))
            rc = -1;
        line_add(what, " signed=d=%s,s=%s", m->specs[i].domain, m->specs[i].selector);
        free(fields[i]);
    }
    m->dkim_signed = rc == 0;
    return rc;
}

/* Our ARC set on top (AS above AMS above AAR); the AAR records our results. */
static int seal_out(struct mf_msg *m, struct milter_mods *mods, struct mf_out *o,
                    const struct authres *ar, struct mf_line *what, const char *qid)
{
    size_t k = 0;
    m->aar_results[0] = '\0';
    for (size_t i = 0; i < ar->n; i++)
        k += (size_t)snprintf(m->aar_results + k,
                              k < sizeof(m->aar_results) ? sizeof(m->aar_results) - k : 0, "%s%s",
                              i ? "; " : "", ar->results[i]);
    if (k >= sizeof(m->aar_results))
        return -1;
    arc_sealer_outgoing(m->sealer, o->h, o->n);
    struct arc_result *chain = malloc(sizeof(*chain));
    if (!chain)
        return -1;
    char *fields[3] = {NULL, NULL, NULL};
    fa_err err;
    double start = monoclock_seconds();
    int r = arc_sealer_finish(m->sealer, m->rt->dns, "\n", chain, fields, &err);
    if (r == ARC_SEALED)
        metrics_sign_duration(m->rt->metrics, METRICS_SIGN_ARC, monoclock_seconds() - start);
    int rc = 0;
    if (chain->temperror) {
        /* A key of the chain could not be fetched now: a seal would record
         * cv=fail for good. Defer; Postfix retries. */
        log_msg(FA_LOG_INFO, "msg %s: ARC chain check failed temporarily: deferred", qid);
        rc = -1;
    } else if (r == ARC_SEALED) {
        /* fields: ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results.
         * Inserted at 1 from the bottom up, so AS ends on top. */
        static const char *const names[] = {"ARC-Seal", "ARC-Message-Signature",
                                            "ARC-Authentication-Results"};
        for (int i = 2; i >= 0 && rc == 0; i--) {
            char *v = fields[i] + strlen(names[i]) + 1;
            size_t vl = strlen(v);
            if (vl && v[vl - 1] == '\n')
                v[vl - 1] = '\0';
            rc = milter_mods_insert_header(mods, 1, names[i], v);
        }
        m->sealed = rc == 0;
        line_add(what, " sealed=i=%u,cv=%s", chain->nsets + 1, arc_cv_name(chain->cv));
    } else if (r == ARC_NOT_SEALED) {
        log_msg(FA_LOG_INFO, "msg %s: not sealed: %s", qid, err.msg);
    } else {
        log_msg(FA_LOG_ERROR, "msg %s: sealing failed: %s", qid, err.msg);
        rc = -1;
    }
    for (int i = 0; i < 3; i++)
        free(fields[i]);
    free(chain);
    return rc;
}

/* Does a signature by d= make DMARC pass for the From: domain of a? */
static int aligns_with_from(const struct mf_msg *m, const struct arrival *a, const char *d)
{
    return a && arrival_aligns(m->rt->dns, m->rt->cfg.dmarc_mode, a, d);
}

/* The policy's input: what we know of the message and what is configured. */
static void policy_input_of(const struct mf_msg *m, struct milter_session *s,
                            const struct arrival *a, struct policy_input *in)
{
    *in = (struct policy_input){
        .a = a,
        .originating = m->originating,
        .forwarded = m->forwarded,
        .local = m->local,
        .null_sender = milter_sender(s)[0] == '\0',
        .have_arc_key = m->sealer != NULL,
        .have_srs = m->rt->srs != NULL,
    };
    if (!a) {
        struct from_info f;
        from_read(m->h, m->nh, &f);
        in->from_state = f.state;
    }
    for (size_t i = 0; i < m->nspecs; i++) {
        if (m->spec_kind[i] == METRICS_SIG_DKIM) {
            in->have_user_key = 1;
        } else {
            in->have_forward_key = 1;
            in->fwd_key_aligned = aligns_with_from(m, a, m->specs[i].domain);
        }
    }
}

/* Remove the forwarded recipients (Postfix removes every recipient whose
 * original address matches, virtual alias expansions included). */
static int drop_forwarded(struct mf_msg *m, struct milter_mods *mods, const char *qid,
                          const char *why)
{
    for (size_t i = 0; i < m->nfwd_rcpt; i++) {
        if (milter_mods_delete_rcpt(mods, m->fwd_rcpt[i]) < 0)
            return -1;
        log_msg(FA_LOG_INFO, "msg %s: recipient %s removed: %s", qid, m->fwd_rcpt[i], why);
    }
    m->dropped = m->nfwd_rcpt;
    return 0;
}

/* Forged Authentication-Results: every one, highest index first, so that
 * each deletion leaves the lower indexes as the MTA counts them; and the
 * same fields out of the outgoing copy (still the fields as received). */
static int remove_forged(struct mf_msg *m, struct milter_mods *mods, struct mf_out *o,
                         struct mf_line *what)
{
    if (!m->nforged)
        return 0;
    for (size_t i = m->nforged; i-- > 0;) {
        if (milter_mods_delete_header(mods, "Authentication-Results", m->forged[i]) < 0)
            return -1;
        line_add(what, " removed-forged-ar=%u", m->forged[i]); /* bounded: ends in "..." */
    }
    size_t w = 0, next = 0;
    unsigned nth = 0;
    for (size_t k = 0; k < o->n; k++) {
        int drop = 0;
        if (msg_header_is(&o->h[k], "Authentication-Results")) {
            nth++;
            /* forged[] is ascending: one pass. */
            if (next < m->nforged && m->forged[next] == nth) {
                drop = 1;
                next++;
            }
        }
        if (!drop)
            o->h[w++] = o->h[k];
    }
    o->n = w;
    return 0;
}

static int mf_eom(void *msg, struct milter_session *s, struct milter_mods *mods)
{
    struct mf_msg *m = msg;
    const struct fa_config *cfg = &m->rt->cfg;
    const char *qid = milter_queue_id(s);
    struct mf_line what = {"", 0};
    if (!m->eoh_done) {
        /* An MTA may skip end-of-headers (no headers at all): do it now. */
        int r = mf_eoh(m, s);
        if (r != MILTER_CONTINUE)
            return r;
    }
    struct arrival *a = NULL;
    struct authres ar;
    struct mf_out o;
    int status = MILTER_TEMPFAIL;
    if (out_init(&o, m) < 0)
        return MILTER_TEMPFAIL;

    /* The truth on arrival first: it decides everything else. */
    if (m->check) {
        if (!(a = malloc(sizeof(*a))))
            goto done;
        arrival_finish(m->check, m->rt->dns, a);
        struct metrics *mx = m->rt->metrics;
        metrics_auth_result(mx, METRICS_SPF, a->spf.result);
        metrics_auth_result(mx, METRICS_DKIM, a->dkim_summary);
        metrics_auth_result(mx, METRICS_DMARC, a->dmarc.result);
        metrics_auth_result(mx, METRICS_ARC, a->arc.cv);
        line_add(&what, " spf=%s dkim=%s dmarc=%s arc=%s", spf_result_name(a->spf.result),
                 dkim_result_name(a->dkim_summary), dmarc_result_name(a->dmarc.result),
                 arc_cv_name(a->arc.cv));
        if (a->from_state != FROM_OK)
            line_add(&what, " from=%s", a->from_why);
    }
    struct policy_input in;
    struct policy_decision d;
    policy_input_of(m, s, a, &in);
    policy_decide(&in, cfg, &d);
    if (d.verdict != POLICY_CONTINUE) {
        log_msg(FA_LOG_INFO, "msg %s: from=<%s> %s: %s%s", qid, milter_sender(s),
                d.verdict == POLICY_REJECT ? "rejected" : "tempfailed", d.why, what.buf);
        status = milter_set_reply(s, d.reply);
        m->reply_class = d.reply[0];
        goto done;
    }
    if (d.hold) {
        if (milter_mods_quarantine(mods, d.why) < 0)
            goto done;
        line_add(&what, " held=\"%s\"", d.why);
        m->quarantined = 1;
    }
    if (d.drop_forwarded && drop_forwarded(m, mods, qid, d.why) < 0)
        goto done;
    if (remove_forged(m, mods, &o, &what) < 0)
        goto done;
    if (a) {
        /* dmarc_enforce = off: evaluated (the policy needs it) but not reported. */
        arrival_authres(a, m->rt->authserv_id, d.report_dmarc, &ar);
        const char *value = authres_value(&ar, "\n");
        if (milter_mods_insert_header(mods, 1, "Authentication-Results", value) < 0 ||
            out_append(&o, "Authentication-Results", value, 1) < 0)
            goto done;
    }
    if (d.rewrite_from) {
        int r = rewrite_from(m, mods, &o, qid);
        if (r < 0)
            goto done;
        line_add(&what, r ? " from-rewritten" : " from-not-rewritten");
        m->from_rewritten = r;
    }
    if (m->signer && (d.sign_user || d.sign_forwarder) && sign_out(m, mods, &o, &what, qid) < 0)
        goto done;
    if (m->sealer && a && d.seal && seal_out(m, mods, &o, &ar, &what, qid) < 0)
        goto done;

    const char *sender = milter_sender(s);
    if (d.srs) {
        char out[SRS_ADDR_MAX];
        const char *why = NULL;
        int r = srs_forward(m->rt->srs, sender, strlen(sender), time(NULL), out, sizeof(out), &why);
        if (r == SRS_OK) {
            if (milter_mods_change_from(mods, out, NULL) < 0)
                goto done;
            line_add(&what, " srs=<%s>", out);
            m->srs_rewritten = 1;
        } else if (r == SRS_UNCHANGED) {
            log_msg(why == srs_why_too_long ? FA_LOG_INFO : FA_LOG_DEBUG,
                    "msg %s: sender <%s> not rewritten: %s", qid, sender, why);
        } else {
            goto done;
        }
    }
    if (m->dropped)
        line_add(&what, " not-forwarded=%zu", m->dropped);
    log_msg(FA_LOG_INFO, "msg %s: from=<%s> %s%s%s", qid, sender,
            m->originating ? "originating" : "inbound", m->forwarded ? " forwarded" : "", what.buf);
    status = MILTER_CONTINUE;
done:
    free(a);
    out_free(&o);
    return status;
}

/* Count the message by its final answer, and what we added to it when it
 * went on (the MTA drops our changes otherwise). */
static void count_end(const struct mf_msg *m, int status)
{
    struct metrics *mx = m->rt->metrics;
    int action;
    switch (status) {
    case MILTER_ABORTED:
        metrics_milter_aborted(mx);
        return;
    case MILTER_ACCEPT:
        action = METRICS_ACCEPT;
        break;
    case MILTER_REJECT:
        action = METRICS_REJECT;
        break;
    case MILTER_TEMPFAIL:
        action = METRICS_TEMPFAIL;
        break;
    case MILTER_DISCARD:
        action = METRICS_DISCARD;
        break;
    case MILTER_REPLYCODE:
        action = m->reply_class == '4' ? METRICS_TEMPFAIL : METRICS_REJECT;
        break;
    default:
        action = m->quarantined ? METRICS_QUARANTINE : METRICS_CONTINUE;
        break;
    }
    metrics_milter_message(mx, action);
    if (status != MILTER_CONTINUE && status != MILTER_ACCEPT)
        return;
    if (m->dkim_signed)
        for (size_t i = 0; i < m->nspecs; i++)
            metrics_signature(mx, m->spec_kind[i]);
    if (m->sealed)
        metrics_signature(mx, METRICS_SIG_ARC);
    if (m->from_rewritten)
        metrics_rewrite(mx, METRICS_REWRITE_FROM);
    if (m->srs_rewritten)
        metrics_rewrite(mx, METRICS_REWRITE_SRS);
}

static void mf_end(void *msg, struct milter_session *s, int status)
{
    (void)s;
    struct mf_msg *m = msg;
    count_end(m, status);
    arrival_free(m->check);
    arc_sealer_free(m->sealer);
    dkim_signer_free(m->signer);
    free(m->h);
    free(m->hoff);
    free(m->raw);
    free(m->forged);
    for (size_t i = 0; i < m->nfwd_rcpt; i++)
        free(m->fwd_rcpt[i]);
    free(m->fwd_rcpt);
    free(m);
}

static const struct milter_filter filter = {
    .name = "fwdauth",
    .actions = MILTER_ACT_ADDHDRS | MILTER_ACT_CHGHDRS | MILTER_ACT_CHGFROM |
               MILTER_ACT_QUARANTINE | MILTER_ACT_DELRCPT,
    .steps = MILTER_STEP_HEADER | MILTER_STEP_EOH | MILTER_STEP_BODY,
    .replies = 0,
    .msg_begin = mf_begin,
    .rcpt = mf_rcpt,
    .header = mf_header,
    .eoh = mf_eoh,
    .body = mf_body,
    .eom = mf_eom,
    .msg_end = mf_end,
};

const struct milter_filter *mailflow_filter(void)
{
    return &filter;
}
