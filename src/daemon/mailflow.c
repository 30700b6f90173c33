/* mailflow - the milter's mail policy: verify, report, sign, SRS; see mailflow.h. */
#include "mailflow.h"

#include "addrlist.h"
#include "authres.h"
#include "dkim.h"
#include "keytable.h"
#include "log.h"
#include "policy.h"
#include "runtime.h"
#include "srs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MF_FORGED_MAX 64 /* forged Authentication-Results fields removed per message */
#define MF_LOG_MAX 1024  /* the per-message log line */

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

    unsigned ar_seen;               /* Authentication-Results fields so far */
    unsigned forged[MF_FORGED_MAX]; /* their indexes (from 1) that claim our id */
    size_t nforged;
    char from_local[256], from_domain[256]; /* first From: address */

    struct dkim_verifier *verifier;
    struct dkim_signer *signer;
    struct dkim_sign_spec specs[2];
    size_t nspecs;
    char signed_as[2][400]; /* "d=example.org s=sel" for the log */
};

static void *mf_begin(void *ctx, struct milter_session *s)
{
    struct runtime *rt = ctx;
    struct mf_msg *m = calloc(1, sizeof(*m));
    if (!m || !rt) {
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
    if (!m->forwarded && policy_forwarded_rcpt(&m->rt->cfg, addr))
        m->forwarded = 1;
    return MILTER_CONTINUE;
}

static int raw_append(struct mf_msg *m, const char *p, size_t n)
{
    if (m->raw_len + n > MSG_HEADER_MAX)
        return -1;
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
static void note_authres(struct mf_msg *m, const char *value, size_t vlen)
{
    m->ar_seen++;
    char id[256];
    if (authres_serv_id(value, vlen, id, sizeof(id)) < 0)
        return;
    if (strcasecmp(id, m->rt->authserv_id) == 0 && m->nforged < MF_FORGED_MAX)
        m->forged[m->nforged++] = m->ar_seen;
}

static void note_from(struct mf_msg *m, const char *value, size_t vlen)
{
    if (m->from_domain[0])
        return; /* the first From: counts */
    struct addrlist l;
    addrlist_init(&l);
    fa_err err;
    if (addrlist_parse(&l, value, vlen, &err) == 0 && l.n > 0) {
        const char *at = strrchr(l.addr[0], '@');
        if (at && (size_t)(at - l.addr[0]) < sizeof(m->from_local) &&
            strlen(at + 1) < sizeof(m->from_domain)) {
            memcpy(m->from_local, l.addr[0], (size_t)(at - l.addr[0]));
            m->from_local[at - l.addr[0]] = '\0';
            strcpy(m->from_domain, at + 1);
        }
    }
    addrlist_free(&l);
}

static int mf_header(void *msg, struct milter_session *s, const char *name, size_t nlen,
                     const char *value, size_t vlen)
{
    (void)s;
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
    if (raw_append(m, name, nlen) < 0 || raw_append(m, ":", 1) < 0 ||
        raw_append(m, value, vlen) < 0 || raw_append(m, "\n", 1) < 0)
        return MILTER_TEMPFAIL;
    /* raw is set at eoh, when the buffer stops moving. */
    m->hoff[m->nh] = off;
    m->h[m->nh++] = (struct msg_header){NULL, nlen + 1 + vlen + 1, nlen, nlen + 1, nlen + 1 + vlen};
    if (nlen == 22 && strncasecmp(name, "Authentication-Results", 22) == 0)
        note_authres(m, value, vlen);
    else if (nlen == 4 && strncasecmp(name, "From", 4) == 0)
        note_from(m, value, vlen);
    return MILTER_CONTINUE;
}

static int add_spec(struct mf_msg *m, const struct keytable_match *k)
{
    if (m->nspecs == 2)
        return 0;
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
    if (m->verify) {
        m->verifier = dkim_verifier_new(m->h, m->nh, time(NULL), &err);
        if (!m->verifier)
            return MILTER_TEMPFAIL;
    }
    const struct keytable *kt = m->rt->keys;
    struct keytable_match km;
    if (kt && m->originating && m->from_domain[0] &&
        keytable_find(kt, m->from_local, m->from_domain, &km) && add_spec(m, &km) < 0)
        return MILTER_TEMPFAIL;
    if (kt && m->forwarded && !m->originating && m->rt->cfg.forward_signing_key[0] &&
        keytable_find_name(kt, m->rt->cfg.forward_signing_key, m->from_domain, &km) &&
        add_spec(m, &km) < 0)
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
    if (m->verifier)
        dkim_verifier_body(m->verifier, p, n);
    if (m->signer)
        dkim_signer_body(m->signer, p, n);
    return MILTER_CONTINUE;
}

/* Authentication-Results for the DKIM results; appends a summary to log. */
static const char *authres_for(struct mf_msg *m, struct authres *ar, struct mf_line *log)
{
    struct dkim_sig_result r[DKIM_MAX_SIGS];
    size_t n = dkim_verifier_finish(m->verifier, m->rt->dns, r, DKIM_MAX_SIGS);
    authres_begin(ar, m->rt->authserv_id);
    if (n == 0) {
        authres_add(ar, "dkim", "none", NULL, NULL);
        line_add(log, " dkim=none");
    }
    for (size_t i = 0; i < n; i++) {
        const char *res = dkim_result_name(r[i].result);
        authres_add(ar, "dkim", res, r[i].reason, "header.d", r[i].domain, "header.i",
                    r[i].identity, "header.s", r[i].selector, "header.b", r[i].b_prefix, "header.a",
                    r[i].alg < 0 ? "" : dkim_alg_name(r[i].alg), NULL);
        line_add(log, " dkim=%s(d=%s)", res, r[i].domain);
    }
    return authres_value(ar, "\n");
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

    /* Forged Authentication-Results first, highest index first, so that
     * each deletion leaves the lower indexes as the MTA counts them. */
    for (size_t i = m->nforged; i-- > 0;) {
        if (milter_mods_delete_header(mods, "Authentication-Results", m->forged[i]) < 0)
            return MILTER_TEMPFAIL;
        line_add(&what, " removed-forged-ar=%u", m->forged[i]);
    }
    if (m->verifier) {
        struct authres ar;
        const char *value = authres_for(m, &ar, &what);
        if (milter_mods_insert_header(mods, 1, "Authentication-Results", value) < 0)
            return MILTER_TEMPFAIL;
    }
    if (m->signer) {
        char *fields[2] = {NULL, NULL};
        fa_err err;
        if (dkim_signer_finish(m->signer, m->h, m->nh, "\n", fields, &err) < 0) {
            log_msg(FA_LOG_ERROR, "msg %s: signing failed: %s", qid, err.msg);
            return MILTER_TEMPFAIL;
        }
        int rc = 0;
        for (size_t i = 0; i < m->nspecs; i++) {
            /* "DKIM-Signature:" + value + "\n": the value keeps its leading space. */
            char *v = fields[i] + 15;
            size_t vl = strlen(v);
            if (vl && v[vl - 1] == '\n')
                v[vl - 1] = '\0';
            if (rc == 0 && milter_mods_insert_header(mods, 1, "DKIM-Signature", v) < 0)
                rc = -1;
            line_add(&what, " signed=d=%s,s=%s", m->specs[i].domain, m->specs[i].selector);
            free(fields[i]);
        }
        if (rc < 0)
            return MILTER_TEMPFAIL;
    }
    const char *sender = milter_sender(s);
    if (m->forwarded && cfg->srs_forwarded_mail && m->rt->srs && sender[0]) {
        char out[SRS_ADDR_MAX];
        const char *why = NULL;
        int r = srs_forward(m->rt->srs, sender, strlen(sender), time(NULL), out, sizeof(out), &why);
        if (r == SRS_OK) {
            if (milter_mods_change_from(mods, out, NULL) < 0)
                return MILTER_TEMPFAIL;
            line_add(&what, " srs=<%s>", out);
        } else if (r == SRS_UNCHANGED) {
            log_msg(why == srs_why_too_long ? FA_LOG_INFO : FA_LOG_DEBUG,
                    "msg %s: sender <%s> not rewritten: %s", qid, sender, why);
        } else {
            return MILTER_TEMPFAIL;
        }
    }
    log_msg(FA_LOG_INFO, "msg %s: from=<%s> %s%s%s", qid, sender,
            m->originating ? "originating" : "inbound", m->forwarded ? " forwarded" : "", what.buf);
    return MILTER_CONTINUE;
}

static void mf_end(void *msg, struct milter_session *s, int status)
{
    (void)s;
    (void)status;
    struct mf_msg *m = msg;
    dkim_verifier_free(m->verifier);
    dkim_signer_free(m->signer);
    free(m->h);
    free(m->hoff);
    free(m->raw);
    free(m);
}

static const struct milter_filter filter = {
    .name = "fwdauth",
    .actions = MILTER_ACT_ADDHDRS | MILTER_ACT_CHGHDRS | MILTER_ACT_CHGFROM,
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
