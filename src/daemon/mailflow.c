/* mailflow - the milter's mail policy: verify, report, sign, SRS; see mailflow.h. */
#include "mailflow.h"

#include "addrlist.h"
#include "arc.h"
#include "arrival.h"
#include "authres.h"
#include "dkim.h"
#include "domlist.h"
#include "fromhdr.h"
#include "fwdchange.h"
#include "keytable.h"
#include "log.h"
#include "metrics.h"
#include "mf_edit.h"
#include "monoclock.h"
#include "policy.h"
#include "runtime.h"
#include "srs.h"
#include "stagehdr.h"

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

/* Where this message is in a one- or two-stage deployment (mailflow.h). */
enum mf_role {
    MF_ONE,    /* verify, decide, change, sign, seal, SRS */
    MF_STAGE1, /* verify, decide, record the decision in a Fwdauth-Arrival field */
    MF_STAGE2, /* carry out stage 1's recorded decision after a content filter */
};

struct mf_msg {
    struct runtime *rt;
    int role;        /* enum mf_role */
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

    /* The body, kept whole when a footer may be added (FWDCHANGE_BODY_MAX):
     * the signature and the seal then hash the body as it will leave. */
    uint8_t *body;
    size_t body_len, body_cap;
    int buffering; /* 1 while the body is kept; 0 once it was too long (streamed) */

    struct stagehdr stage; /* stage 2: stage 1's decision, when it verified */
    int stage_ok;

    struct arrival_check *check;   /* inbound: SPF, DKIM, ARC, DMARC on arrival */
    struct dns *dns;               /* end of message: its DNS session (milter_dns_budget) */
    struct arc_sealer *sealer;     /* forwarded: our ARC set */
    char aar_results[AUTHRES_MAX]; /* what the AAR records: the results on arrival */
    int arrival_cv;                /* the chain's status on arrival, for the seal */
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

static int in_list(const struct fa_list *l, const char *v)
{
    for (size_t i = 0; v && v[0] && i < l->n; i++)
        if (strcmp(l->v[i], v) == 0)
            return 1;
    return 0;
}

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
    const char *daemon = milter_macro(s, "{daemon_name}");
    if (rt->stage_keys)
        m->role = in_list(&rt->cfg.stage2_daemon_names, daemon) ? MF_STAGE2 : MF_STAGE1;
    if (m->role == MF_STAGE2)
        return m; /* stage 1 classified it: its field says how (mf_eoh) */
    m->originating = policy_originating(&rt->internal, &rt->cfg, milter_macro(s, "{auth_authen}"),
                                        milter_client_addr(s), daemon);
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
    if (m->role == MF_STAGE2)
        return MILTER_CONTINUE; /* aliases are expanded by now: stage 1 knew */
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
    if (m->verify && nlen == 22 && strncasecmp(name, "Authentication-Results", 22) == 0) {
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

/* Stage 2: stage 1's field, verified against this message. The envelope
 * sender may have been made an SRS address on the way (canonical maps):
 * the identity is then checked with the address it reverses to. */
static void stage2_read(struct mf_msg *m, struct milter_session *s)
{
    const char *sender = milter_sender(s), *why = "";
    time_t now = time(NULL);
    const struct runtime *rt = m->rt;
    int r = stagehdr_check(m->h, m->nh, sender, rt->stage_keys, now, rt->cfg.stage_max_age,
                           &m->stage, &why);
    char orig[SRS_ADDR_MAX];
    const char *srs_why;
    if (r == STAGEHDR_FORGED && rt->srs &&
        srs_reverse(rt->srs, sender, strlen(sender), now, orig, sizeof(orig), &srs_why) == SRS_OK)
        r = stagehdr_check(m->h, m->nh, orig, rt->stage_keys, now, rt->cfg.stage_max_age, &m->stage,
                           &why);
    m->stage_ok = r == STAGEHDR_OK;
    if (!m->stage_ok) {
        /* No results: handled as unauthenticated, never as passed. */
        log_msg(r == STAGEHDR_ABSENT ? FA_LOG_INFO : FA_LOG_WARNING,
                "msg %s: stage 2: no stage-1 results (%s%s%s): passed on unsigned and unsealed",
                milter_queue_id(s), stagehdr_status_name(r), why[0] ? ": " : "", why);
        return;
    }
    unsigned f = m->stage.flags;
    m->forwarded = (f & STAGE_FORWARDED) != 0;
    m->originating = (f & STAGE_ORIGINATING) != 0;
    m->arrival_cv = m->stage.arc_cv;
    /* The AAR records stage 1's results: its A-R value without the
     * authserv-id, unfolded. */
    const char *v = strchr(m->stage.authres, ';');
    size_t k = 0;
    for (v = v ? v + 1 : ""; *v && k + 1 < sizeof(m->aar_results); v++) {
        char c = (*v == '\n' || *v == '\t') ? ' ' : *v;
        if (c == ' ' && (k == 0 || m->aar_results[k - 1] == ' '))
            continue;
        m->aar_results[k++] = c;
    }
    m->aar_results[k] = '\0';
}

/* Will this message be signed or sealed by us, and may a footer change it? */
static int wants_footer(const struct mf_msg *m)
{
    return m->rt->footer.text && m->forwarded && (m->role != MF_STAGE2 || m->stage_ok);
}

static int mf_eoh(void *msg, struct milter_session *s)
{
    struct mf_msg *m = msg;
    m->eoh_done = 1;
    for (size_t i = 0; i < m->nh; i++)
        m->h[i].raw = m->raw + m->hoff[i];
    fa_err err;
    const struct runtime *rt = m->rt;
    const struct fa_config *cfg = &rt->cfg;
    if (m->role == MF_STAGE2)
        stage2_read(m, s);
    if (m->verify) {
        struct arrival_input in = {
            .ip = milter_client_addr(s),
            .mail_from = milter_sender(s),
            .helo = milter_helo(s),
            .receiver = rt->authserv_id,
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
    m->buffering = wants_footer(m);
    if (m->role == MF_STAGE1)
        return MILTER_CONTINUE; /* stage 2 signs and seals */
    if (m->forwarded && !m->originating && rt->arc_key && (m->role != MF_STAGE2 || m->stage_ok)) {
        struct arc_seal_spec spec = {
            .domain = cfg->arc_domain,
            .selector = cfg->arc_selector,
            .key = rt->arc_key,
            .alg = -1,
            .timestamp = 0,
            .authserv_id = m->role == MF_STAGE2 ? m->stage.authserv_id : rt->authserv_id,
            .results = m->aar_results, /* filled before sealing */
            .arrival_cv = &m->arrival_cv,
        };
        m->sealer = arc_sealer_new(&spec, m->h, m->nh, time(NULL), &err);
        if (!m->sealer) {
            log_msg(FA_LOG_ERROR, "msg %s: cannot seal: %s", milter_queue_id(s), err.msg);
            return MILTER_TEMPFAIL;
        }
    }
    const struct keytable *kt = rt->keys;
    struct keytable_match km;
    if (kt && m->originating && m->from_domain[0] &&
        keytable_find(kt, m->from_local, m->from_domain, &km) &&
        add_spec(m, &km, METRICS_SIG_DKIM) < 0)
        return MILTER_TEMPFAIL;
    /* Our forwarder key names a fixed domain of ours (runtime.c refuses "%"). */
    if (kt && m->forwarded && !m->originating && cfg->forward_signing_key[0] &&
        keytable_find_name(kt, cfg->forward_signing_key, "", &km) &&
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

/* The body as it leaves, to our signer and sealer. */
static void sign_body(struct mf_msg *m, const uint8_t *p, size_t n)
{
    if (m->sealer)
        arc_sealer_body(m->sealer, p, n);
    if (m->signer)
        dkim_signer_body(m->signer, p, n);
}

static int mf_body(void *msg, struct milter_session *s, const uint8_t *p, size_t n)
{
    struct mf_msg *m = msg;
    if (m->check)
        arrival_body(m->check, p, n);
    if (m->buffering && m->body_len + n > FWDCHANGE_BODY_MAX) {
        /* Too long for a footer (fwdchange.h): hashed as it comes. */
        log_msg(FA_LOG_INFO, "msg %s: body over %u octets: no footer", milter_queue_id(s),
                FWDCHANGE_BODY_MAX);
        sign_body(m, m->body, m->body_len);
        free(m->body);
        m->body = NULL;
        m->body_len = m->body_cap = 0;
        m->buffering = 0;
    }
    if (!m->buffering) {
        sign_body(m, p, n);
        return MILTER_CONTINUE;
    }
    if (m->body_len + n > m->body_cap) {
        size_t cap = m->body_cap ? m->body_cap : 65536;
        while (cap < m->body_len + n)
            cap *= 2;
        if (cap > FWDCHANGE_BODY_MAX)
            cap = FWDCHANGE_BODY_MAX;
        uint8_t *nb = realloc(m->body, cap);
        if (!nb)
            return MILTER_TEMPFAIL;
        m->body = nb;
        m->body_cap = cap;
    }
    memcpy(m->body + m->body_len, p, n);
    m->body_len += n;
    return MILTER_CONTINUE;
}

/* Rewrite From: as mailing lists do: "Name via forwarder" <our address>
 * (fromhdr.h writes one valid mailbox whatever the original name holds),
 * the original in Reply-To: (unless there is one) and X-Original-From:.
 * Only for a From: read with certainty (the policy asks for that).
 * 1 rewritten, 0 left alone (the original is too long to carry over: a
 * sender must not be able to make us defer a message forever), -1 error. */
static int rewrite_from(struct mf_msg *m, struct mf_edit *e, const char *qid)
{
    const struct msg_header *from = mf_edit_received(e, "From", 1);
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
    if (mf_edit_change(e, "From", 1, value) < 0)
        return -1;
    if (!mf_edit_received(e, "Reply-To", 1) && mf_edit_add(e, "Reply-To", orig) < 0)
        return -1;
    return mf_edit_add(e, "X-Original-From", orig) < 0 ? -1 : 1;
}

/* The forwarder's own changes (fwdchange.h), planned before the policy
 * decides (they may break the sender's signature) and made after it. */
struct mf_changes {
    char *subject; /* the tagged Subject: value; NULL: unchanged */
    int add_subject;
    struct fwdchange_footer footer; /* action FOOTER_NONE: no footer */
};

static int plan_changes(const struct mf_msg *m, const char *qid, struct mf_changes *c)
{
    memset(c, 0, sizeof(*c));
    c->footer.action = FOOTER_NONE;
    const struct runtime *rt = m->rt;
    if (!m->forwarded)
        return 0;
    const char *tag = rt->cfg.forward_subject_tag;
    if (tag[0]) {
        const struct msg_header *subj = NULL;
        for (size_t i = 0; i < m->nh && !subj; i++)
            if (msg_header_is(&m->h[i], "Subject"))
                subj = &m->h[i];
        size_t vl = subj ? subj->value_end - subj->value_off : 0;
        if (!(c->subject = malloc(FWDCHANGE_SUBJECT_ROOM(vl))))
            return -1;
        int r = fwdchange_subject(subj ? subj->raw + subj->value_off : NULL, vl, tag, c->subject,
                                  FWDCHANGE_SUBJECT_ROOM(vl));
        if (r <= 0) {
            if (r < 0)
                log_msg(FA_LOG_INFO, "msg %s: Subject: not tagged (a CR or NUL in it)", qid);
            free(c->subject);
            c->subject = NULL;
        }
        c->add_subject = subj == NULL;
    }
    if (m->buffering) {
        fa_err err;
        if (fwdchange_footer(m->h, m->nh, m->body, m->body_len, &rt->footer, &c->footer, &err) < 0)
            return -1;
        if (c->footer.action == FOOTER_NONE)
            log_msg(FA_LOG_INFO, "msg %s: no footer: %s", qid, c->footer.why);
    }
    return 0;
}

static int breaks_signatures(const struct mf_changes *c)
{
    return c->subject != NULL || c->footer.action != FOOTER_NONE;
}

/* The footer's header changes: a name deleted and then set keeps its
 * first field (changed) and loses the others, so that no change names a
 * field an earlier one deleted. */
static int footer_headers(struct mf_edit *e, const struct fwdchange_footer *f)
{
    for (size_t i = 0; i < f->nhdr; i++) {
        const struct fwdchange_hdr *h = &f->hdr[i];
        if (h->value) {
            if (mf_edit_set(e, h->name, h->value) < 0)
                return -1;
            continue;
        }
        int set_later = 0;
        for (size_t k = i + 1; k < f->nhdr; k++)
            set_later |= f->hdr[k].value && strcasecmp(f->hdr[k].name, h->name) == 0;
        unsigned count = 0;
        while (mf_edit_received(e, h->name, count + 1))
            count++;
        for (unsigned k = count; k > (set_later ? 1u : 0u); k--)
            if (mf_edit_delete(e, h->name, k) < 0)
                return -1;
    }
    return 0;
}

static int make_changes(struct mf_msg *m, struct mf_edit *e, struct mf_changes *c,
                        struct mf_line *what)
{
    const struct runtime *rt = m->rt;
    if (c->subject && (c->add_subject ? mf_edit_add(e, "Subject", c->subject)
                                      : mf_edit_change(e, "Subject", 1, c->subject)) < 0)
        return -1;
    if (c->subject)
        line_add(what, " subject-tagged");
    if (rt->header_name && mf_edit_add(e, rt->header_name, rt->header_value) < 0)
        return -1;
    if (c->footer.action != FOOTER_NONE) {
        if (footer_headers(e, &c->footer) < 0 ||
            milter_mods_replace_body(e->mods, c->footer.body, c->footer.len) < 0)
            return -1;
        line_add(what, " footer=%s", fwdchange_action_name(c->footer.action));
    }
    return 0;
}

static void free_changes(struct mf_changes *c)
{
    free(c->subject);
    fwdchange_footer_free(&c->footer);
}

/* DKIM-Signature fields for the outgoing headers, inserted at the top. */
static int sign_out(struct mf_msg *m, struct mf_edit *e, struct mf_line *what, const char *qid)
{
    char *fields[2] = {NULL, NULL};
    fa_err err;
    double start = monoclock_seconds();
    int fr = dkim_signer_finish(m->signer, e->h, e->n, "\n", fields, &err);
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
        if (rc == 0 && mf_edit_insert_top(e, "DKIM-Signature", v) < 0)
            rc = -1;
        line_add(what, " signed=d=%s,s=%s", m->specs[i].domain, m->specs[i].selector);
        free(fields[i]);
    }
    m->dkim_signed = rc == 0;
    return rc;
}

/* Our ARC set on top (AS above AMS above AAR); the AAR records the results
 * on arrival (aar_results) and the seal the chain's status on arrival. */
static int seal_out(struct mf_msg *m, struct mf_edit *e, struct mf_line *what, const char *qid)
{
    arc_sealer_outgoing(m->sealer, e->h, e->n);
    struct arc_result *chain = malloc(sizeof(*chain));
    if (!chain)
        return -1;
    char *fields[3] = {NULL, NULL, NULL};
    fa_err err;
    double start = monoclock_seconds();
    int r = arc_sealer_finish(m->sealer, m->dns, "\n", chain, fields, &err);
    if (r == ARC_SEALED)
        metrics_sign_duration(m->rt->metrics, METRICS_SIGN_ARC, monoclock_seconds() - start);
    int rc = 0;
    if (r == ARC_SEALED) {
        /* fields: ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results.
         * Inserted at 1 from the bottom up, so AS ends on top. */
        static const char *const names[] = {"ARC-Seal", "ARC-Message-Signature",
                                            "ARC-Authentication-Results"};
        for (int i = 2; i >= 0 && rc == 0; i--) {
            char *v = fields[i] + strlen(names[i]) + 1;
            size_t vl = strlen(v);
            if (vl && v[vl - 1] == '\n')
                v[vl - 1] = '\0';
            rc = milter_mods_insert_header(e->mods, 1, names[i], v);
        }
        m->sealed = rc == 0;
        line_add(what, " sealed=i=%u,cv=%s", chain->nsets + 1, arc_cv_name(m->arrival_cv));
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

/* The policy's input: what we know of the message and what is configured. */
static void policy_input_of(const struct mf_msg *m, struct milter_session *s,
                            const struct arrival *a, const struct mf_changes *c,
                            struct policy_input *in)
{
    const struct runtime *rt = m->rt;
    *in = (struct policy_input){
        .a = a,
        .originating = m->originating,
        .forwarded = m->forwarded,
        .local = m->local,
        .null_sender = milter_sender(s)[0] == '\0',
        /* Stage 1 decides for stage 2, which holds the same keys. */
        .have_arc_key = rt->arc_key != NULL,
        .have_srs = rt->srs != NULL,
        /* Stage 1 cannot see what the content filter after it will change:
         * it counts on the worst (a filter that tags or footers), so that a
         * sender whose signature the filter breaks still passes DMARC at a
         * next hop that does not trust our seal (from_rewrite_on_change). */
        .changes_break_dkim = breaks_signatures(c) || m->role == MF_STAGE1,
    };
    if (!a) {
        struct from_info f;
        from_read(m->h, m->nh, &f);
        in->from_state = f.state;
    }
    const struct keytable *kt = rt->keys;
    struct keytable_match km;
    in->have_user_key = kt && m->originating && m->from_domain[0] &&
                        keytable_find(kt, m->from_local, m->from_domain, &km);
    if (kt && m->forwarded && !m->originating && rt->cfg.forward_signing_key[0] &&
        keytable_find_name(kt, rt->cfg.forward_signing_key, "", &km)) {
        in->have_forward_key = 1;
        /* Would our signature make DMARC pass for the From: domain? */
        in->fwd_key_aligned = a && arrival_aligns(m->dns, rt->cfg.dmarc_mode, a, km.domain);
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

/* Forged Authentication-Results: every one, highest index first. */
static int remove_forged(struct mf_msg *m, struct mf_edit *e, struct mf_line *what)
{
    for (size_t i = m->nforged; i-- > 0;) {
        if (mf_edit_delete(e, "Authentication-Results", m->forged[i]) < 0)
            return -1;
        line_add(what, " removed-forged-ar=%u", m->forged[i]); /* bounded: ends in "..." */
    }
    return 0;
}

/* Stage 1: the decision for stage 2, in a field only we can make. */
static int stage1_record(struct mf_msg *m, struct milter_session *s, struct mf_edit *e,
                         const struct arrival *a, const char *authres,
                         const struct policy_decision *d)
{
    struct stagehdr r = {.t = time(NULL), .arc_cv = a ? a->arc.cv : ARC_CV_NONE};
    int fwd = m->forwarded && !d->drop_forwarded;
    r.flags = (fwd ? STAGE_FORWARDED : 0) | (d->sign_forwarder ? STAGE_SIGN_FORWARDER : 0) |
              (d->seal ? STAGE_SEAL : 0) | (d->rewrite_from ? STAGE_REWRITE_FROM : 0) |
              (d->srs ? STAGE_SRS : 0) | (d->report_dmarc ? STAGE_REPORT_DMARC : 0) |
              (d->sign_user ? STAGE_SIGN_USER : 0) | (m->originating ? STAGE_ORIGINATING : 0);
    snprintf(r.authserv_id, sizeof(r.authserv_id), "%s", m->rt->authserv_id);
    snprintf(r.authres, sizeof(r.authres), "%s", authres ? authres : "");
    uint8_t id[STAGEHDR_ID_LEN];
    char *value = malloc(STAGEHDR_BUILD_MAX);
    fa_err err;
    int rc = -1;
    if (value && stagehdr_identity(m->h, m->nh, milter_sender(s), id) == 0 &&
        stagehdr_build(&r, id, m->rt->stage_keys, "\n", value, STAGEHDR_BUILD_MAX, &err) >= 0)
        rc = mf_edit_add(e, STAGEHDR_FIELD, value);
    else if (value)
        log_msg(FA_LOG_ERROR, "msg %s: stage 1: %s", milter_queue_id(s), err.msg);
    free(value);
    return rc;
}

/* What stage 1 recorded, as the decision stage 2 carries out. */
static void stage2_decision(const struct mf_msg *m, struct policy_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->verdict = POLICY_CONTINUE;
    d->why = "";
    if (!m->stage_ok)
        return; /* unauthenticated: nothing of ours */
    unsigned f = m->stage.flags;
    d->sign_forwarder = (f & STAGE_SIGN_FORWARDER) != 0;
    d->sign_user = (f & STAGE_SIGN_USER) != 0;
    d->seal = (f & STAGE_SEAL) != 0;
    d->rewrite_from = (f & STAGE_REWRITE_FROM) != 0;
    d->srs = (f & STAGE_SRS) != 0;
}

/* The truth on arrival (SPF, DKIM, ARC, DMARC): counted in the metrics and
 * written on the log line. NULL when memory runs out. */
static struct arrival *judge_arrival(struct mf_msg *m, const char *qid, struct mf_line *what)
{
    const struct fa_config *cfg = &m->rt->cfg;
    struct arrival *a = malloc(sizeof(*a));
    if (!a)
        return NULL;
    arrival_finish(m->check, m->dns, a);
    struct dns_session_info dsi;
    dns_session_info(m->dns, &dsi);
    if (dsi.spent)
        log_msg(FA_LOG_WARNING,
                "msg %s: DNS budget of %u s spent (%u questions asked, %u refused): "
                "results that needed the rest are temperror",
                qid, cfg->milter_dns_budget, dsi.asked, dsi.refused);
    if (a->dkim_skipped)
        log_msg(FA_LOG_INFO, "msg %s: DKIM signatures beyond the limit of %d not verified: %zu",
                qid, DKIM_MAX_SIGS, a->dkim_skipped);
    struct metrics *mx = m->rt->metrics;
    metrics_auth_result(mx, METRICS_SPF, a->spf.result);
    metrics_auth_result(mx, METRICS_DKIM, a->dkim_summary);
    metrics_auth_result(mx, METRICS_DMARC, a->dmarc.result);
    metrics_auth_result(mx, METRICS_ARC, a->arc.cv);
    line_add(what, " spf=%s dkim=%s dmarc=%s arc=%s", spf_result_name(a->spf.result),
             dkim_result_name(a->dkim_summary), dmarc_result_name(a->dmarc.result),
             arc_cv_name(a->arc.cv));
    if (a->from_state != FROM_OK)
        line_add(what, " from=%s", a->from_why);
    m->arrival_cv = a->arc.cv;
    return a;
}

/* Stage 2 carries out what stage 1 recorded; otherwise the policy decides
 * on the arrival (a may be NULL: no checks configured). */
static void decide(const struct mf_msg *m, struct milter_session *s, const struct arrival *a,
                   const struct mf_changes *c, struct policy_decision *d)
{
    if (m->role == MF_STAGE2) {
        stage2_decision(m, d);
        return;
    }
    struct policy_input in;
    policy_input_of(m, s, a, c, &in);
    policy_decide(&in, &m->rt->cfg, d);
}

/* A message the decision rejects or tempfails: logged, answered with the
 * decision's reply. Returns the milter status. */
static int refuse(struct mf_msg *m, struct milter_session *s, const struct policy_decision *d,
                  const struct mf_line *what)
{
    log_msg(FA_LOG_INFO, "msg %s: from=<%s> %s: %s%s", milter_queue_id(s), milter_sender(s),
            d->verdict == POLICY_REJECT ? "rejected" : "tempfailed", d->why, what->buf);
    int status = milter_set_reply(s, d->reply);
    m->reply_class = d->reply[0];
    return status;
}

/* The envelope: hold the message, remove the forwarded recipients, when
 * the decision says so. Returns the step that failed, or NULL. */
static const char *edit_envelope(struct mf_msg *m, struct milter_mods *mods, const char *qid,
                                 const struct policy_decision *d, struct mf_line *what)
{
    if (d->hold) {
        if (milter_mods_quarantine(mods, d->why) < 0)
            return "holding";
        line_add(what, " held=\"%s\"", d->why);
        m->quarantined = 1;
    }
    if (d->drop_forwarded && drop_forwarded(m, mods, qid, d->why) < 0)
        return "removing recipients";
    return NULL;
}

/* Our Authentication-Results on top (*value: its value), and the same
 * results without the authserv-id for the AAR (m->aar_results).
 * dmarc_enforce = off: DMARC evaluated (the policy needs it) but not
 * reported. Returns the step that failed, or NULL. */
static const char *report_arrival(struct mf_msg *m, struct mf_edit *e, const struct arrival *a,
                                  int report_dmarc, struct authres *ar, const char **value)
{
    arrival_authres(a, m->rt->authserv_id, report_dmarc, ar);
    *value = authres_value(ar, "\n");
    if (mf_edit_insert_top(e, "Authentication-Results", *value) < 0)
        return "adding Authentication-Results";
    size_t k = 0;
    m->aar_results[0] = '\0';
    for (size_t i = 0; i < ar->n; i++)
        k += (size_t)snprintf(m->aar_results + k,
                              k < sizeof(m->aar_results) ? sizeof(m->aar_results) - k : 0, "%s%s",
                              i ? "; " : "", ar->results[i]);
    if (k >= sizeof(m->aar_results))
        return "the ARC results (too long)";
    return NULL;
}

/* The message as it leaves (not in stage 1): the forwarder's changes, the
 * From rewrite, then the DKIM signatures and our ARC set over the result.
 * Returns the step that failed, or NULL. */
static const char *edit_outgoing(struct mf_msg *m, struct mf_edit *e, struct mf_changes *c,
                                 const struct policy_decision *d, const char *qid,
                                 struct mf_line *what)
{
    int fwd_changes = m->forwarded && !m->dropped;
    if (fwd_changes && make_changes(m, e, c, what) < 0)
        return "making the forwarder's changes";
    if (d->rewrite_from) {
        int r = rewrite_from(m, e, qid);
        if (r < 0)
            return "rewriting From";
        line_add(what, r ? " from-rewritten" : " from-not-rewritten");
        m->from_rewritten = r;
    }
    if (m->buffering) {
        /* The body as it leaves: changed by the footer, or as received. */
        if (fwd_changes && c->footer.action != FOOTER_NONE)
            sign_body(m, c->footer.body, c->footer.len);
        else
            sign_body(m, m->body, m->body_len);
    }
    if (m->signer && (d->sign_user || d->sign_forwarder) && sign_out(m, e, what, qid) < 0)
        return "signing";
    if (m->sealer && d->seal && seal_out(m, e, what, qid) < 0)
        return "sealing";
    return NULL;
}

/* SRS for the envelope sender; the forwarded recipients choose the SRS
 * domain (srs_domain_map). A sender SRS leaves unchanged (too long, ...)
 * goes on as it is. Returns the step that failed, or NULL. */
static const char *srs_sender(struct mf_msg *m, struct milter_session *s, struct milter_mods *mods,
                              const char *qid, struct mf_line *what)
{
    const char *sender = milter_sender(s);
    char out[SRS_ADDR_MAX];
    struct srs_why why;
    int r = srs_forward_ex(m->rt->srs, m->fwd_rcpt, m->nfwd_rcpt, sender, strlen(sender),
                           time(NULL), out, sizeof(out), &why);
    if (r == SRS_OK) {
        if (milter_mods_change_from(mods, out, NULL) < 0)
            return "changing the sender";
        line_add(what, " srs=<%s>", out);
        m->srs_rewritten = 1;
    } else if (r == SRS_UNCHANGED) {
        log_msg(why.reason == SRS_R_TOO_LONG ? FA_LOG_INFO : FA_LOG_DEBUG,
                "msg %s: sender <%s> not rewritten: %s", qid, sender, why.text);
    } else {
        log_msg(FA_LOG_ERROR, "msg %s: sender <%s>: %s", qid, sender, why.text);
        return "SRS";
    }
    return NULL;
}

/* Everything the decision asks of a message that goes on, in order: the
 * envelope, the fields only we may write, our results, stage 1's record or
 * the outgoing message, SRS. Returns the step that failed, or NULL. */
static const char *carry_out(struct mf_msg *m, struct milter_session *s, struct milter_mods *mods,
                             struct mf_edit *e, struct mf_changes *c, const struct arrival *a,
                             const struct policy_decision *d, struct mf_line *what)
{
    const char *qid = milter_queue_id(s);
    const char *failed = edit_envelope(m, mods, qid, d, what);
    if (failed)
        return failed;
    /* Only stage 1 may write this field: any other is removed unread (stage
     * 2 has read it by now). */
    if (mf_edit_delete_all(e, STAGEHDR_FIELD) < 0 || remove_forged(m, e, what) < 0)
        return "removing fields";
    struct authres ar;
    const char *ar_value = NULL;
    if (a && (failed = report_arrival(m, e, a, d->report_dmarc, &ar, &ar_value)))
        return failed;
    if (m->role == MF_STAGE1) {
        if (stage1_record(m, s, e, a, ar_value, d) < 0)
            return "recording stage 1";
        line_add(what, " stage1-recorded");
    } else if ((failed = edit_outgoing(m, e, c, d, qid, what))) {
        return failed;
    }
    if (d->srs && m->role != MF_STAGE1)
        return srs_sender(m, s, mods, qid, what);
    return NULL;
}

/* The log line of a message that goes on. */
static void log_accepted(const struct mf_msg *m, struct milter_session *s, struct mf_line *what)
{
    if (m->dropped)
        line_add(what, " not-forwarded=%zu", m->dropped);
    static const char *const roles[] = {"", " stage1", " stage2"};
    log_msg(FA_LOG_INFO, "msg %s: from=<%s>%s %s%s%s", milter_queue_id(s), milter_sender(s),
            roles[m->role], m->originating ? "originating" : "inbound",
            m->forwarded ? " forwarded" : "", what->buf);
}

/* End of message: judge the arrival, decide, carry the decision out. A
 * step that fails is logged and the message tempfailed, never passed on
 * half done. */
static int mf_eom(void *msg, struct milter_session *s, struct milter_mods *mods)
{
    struct mf_msg *m = msg;
    const char *qid = milter_queue_id(s);
    if (!m->eoh_done) {
        /* An MTA may skip end-of-headers (no headers at all): do it now. */
        int r = mf_eoh(m, s);
        if (r != MILTER_CONTINUE)
            return r;
    }
    struct mf_edit e;
    if (mf_edit_init(&e, mods, m->h, m->nh) < 0)
        return MILTER_TEMPFAIL;
    struct mf_line what = {"", 0};
    struct arrival *a = NULL;
    struct mf_changes c;
    int status = MILTER_TEMPFAIL;
    const char *failed = NULL; /* the step that failed: logged, message tempfailed */
    if (plan_changes(m, qid, &c) < 0)
        failed = "planning the forwarder's changes";
    /* Every DNS question about this message (arrival, alignment, the
     * chain the sealer checks again) within one budget, each answer once. */
    else if (!(m->dns = dns_session_new(m->rt->dns, m->rt->cfg.milter_dns_budget * 1000u)))
        failed = "memory";
    /* The truth on arrival first: it decides everything else. */
    else if (m->check && !(a = judge_arrival(m, qid, &what)))
        failed = "memory";
    if (!failed) {
        struct policy_decision d;
        decide(m, s, a, &c, &d);
        if (d.verdict != POLICY_CONTINUE) {
            status = refuse(m, s, &d, &what);
        } else if (!(failed = carry_out(m, s, mods, &e, &c, a, &d, &what))) {
            log_accepted(m, s, &what);
            status = MILTER_CONTINUE;
        }
    }
    if (failed)
        log_msg(FA_LOG_ERROR, "msg %s: from=<%s> tempfailed: %s failed%s", qid, milter_sender(s),
                failed, what.buf);
    dns_free(m->dns);
    m->dns = NULL;
    free(a);
    free_changes(&c);
    mf_edit_free(&e);
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
    free(m->body);
    for (size_t i = 0; i < m->nfwd_rcpt; i++)
        free(m->fwd_rcpt[i]);
    free(m->fwd_rcpt);
    free(m);
}

static const struct milter_filter filter = {
    .name = "fwdauth",
    .actions = MILTER_ACT_ADDHDRS | MILTER_ACT_CHGHDRS | MILTER_ACT_CHGFROM |
               MILTER_ACT_QUARANTINE | MILTER_ACT_DELRCPT | MILTER_ACT_CHGBODY,
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
