/* maillog_scan - follow messages through a Postfix log (see maillog_scan.h). */
#include "maillog_scan.h"

#include "addr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QID_MAX 32
#define SWEEP_MIN 65536

/* One queue file in flight. */
/* A failed delivery, copied out of its line. */
struct held {
    struct held *next;
    int64_t time;
    enum ml_status status;
    const struct ml_rule *rule;
    int forwarded; /* alias-forwarded */
    char qid[QID_MAX + 1], rcpt[ML_ADDR_MAX], rdomain[ML_DOMAIN_MAX], orig[ML_ADDR_MAX];
    char relay[ML_DOMAIN_MAX], dsn[ML_DSN_MAX], reply[ML_REPLY_MAX];
};
#define HELD_MAX 8 /* per message; a bounce notification has one recipient */

struct msg {
    struct msg *next; /* hash chain */
    char qid[QID_MAX + 1];
    int64_t last_seen;
    char *sender;        /* real (un-SRSed) envelope sender; NULL until from= */
    char *sender_domain; /* lower case; "" for <> */
    int sender_was_srs;
    int deferred;            /* counted in totals.deferred */
    char *origin_domain;     /* bounce notification: the failed message's sender domain */
    uint64_t *rcpt_deferred; /* hashes of recipients whose deferral was counted */
    size_t nrcpt_deferred, cap_rcpt_deferred;
    /* Failures of a null-sender message not yet linked to the message it
     * reports on: bounce(8) may log "sender non-delivery notification" after
     * qmgr has already delivered (or failed) the notification. */
    struct held *held;
    size_t nheld;
};

struct group_node {
    struct group_node *next;
    uint64_t hash;
    struct maillog_group g;
};

struct maillog_scan {
    struct maillog_scan_opts o;
    struct maillog_totals t;

    struct msg **buckets;
    size_t nbuckets, nmsgs, sweep_at;
    int64_t newest;     /* latest line time seen */
    int64_t last_sweep; /* log time of the last sweep */

    struct group_node **gbuckets;
    size_t ngbuckets;
    struct maillog_group **groups; /* in order of first failure */
    size_t ngroups, capgroups;
};

static int release(struct maillog_scan *s, struct msg *m);

/* FNV-1a, case-insensitive when fold is set. */
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n, int fold)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (fold && c >= 'A' && c <= 'Z')
            c += 32;
        h = (h ^ c) * 0x100000001b3ULL;
    }
    return h;
}
#define FNV_BASIS 0xcbf29ce484222325ULL

static void lower_copy(char *dst, size_t dstsz, const char *src, size_t n)
{
    if (n >= dstsz)
        n = dstsz - 1;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    dst[n] = 0;
}

static void bounded_copy(char *dst, size_t dstsz, const char *src, size_t n)
{
    if (n >= dstsz)
        n = dstsz - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = 0;
}

/* The part of an SRS local part after "SRSn" and its separator, split into
 * '='-separated fields: SRS0 HASH=TT=HOST=USER; SRS1 HASH=HOP=<sep>SRS0-rest. */
static int srs_structure(const char *local, size_t n, const char **host, size_t *hostlen,
                         const char **user, size_t *userlen)
{
    if (n < 6 || strncasecmp(local, "SRS", 3) != 0 || (local[3] != '0' && local[3] != '1') ||
        !strchr("=+-", local[4]))
        return 0;
    const char *p = local + 5, *end = local + n;
    if (local[3] == '1') { /* skip HASH=HOP= and the SRS0 separator */
        for (int field = 0; field < 2; field++) {
            const char *eq = memchr(p, '=', (size_t)(end - p));
            if (!eq)
                return 0;
            p = eq + 1;
        }
        if (p >= end || !strchr("=+-", *p))
            return 0;
        p++;
    }
    for (int field = 0; field < 2; field++) { /* HASH=TT= */
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return 0;
        p = eq + 1;
    }
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq || eq == p || eq + 1 >= end)
        return 0;
    *host = p;
    *hostlen = (size_t)(eq - p);
    *user = eq + 1;
    *userlen = (size_t)(end - eq - 1);
    return 1;
}

int maillog_unsrs(const srs *engine, int64_t when, const char *addr, size_t n, char *real,
                  size_t realsz, char *domain, size_t domainsz)
{
    struct addr a;
    bounded_copy(real, realsz, addr, n);
    domain[0] = 0;
    if (n == 0 || addr_split(addr, n, &a) < 0)
        return 0;
    lower_copy(domain, domainsz, a.domain, a.domain_len);

    const char *host, *user;
    size_t hostlen, userlen;
    if (!srs_structure(a.local, a.local_len, &host, &hostlen, &user, &userlen))
        return 0;
    char out[SRS_ADDR_MAX];
    const char *why;
    struct addr r; /* host and user may point into it below */
    if (engine && srs_reverse(engine, addr, n, (time_t)when, out, sizeof(out), &why) == SRS_OK) {
        /* An SRS1 address reverses to the previous hop's SRS0 address: the
         * real sender is inside that, read structurally below. */
        if (addr_split(out, strlen(out), &r) == 0 &&
            !srs_structure(r.local, r.local_len, &host, &hostlen, &user, &userlen)) {
            bounded_copy(real, realsz, out, strlen(out));
            lower_copy(domain, domainsz, r.domain, r.domain_len);
            return 1;
        }
    }
    /* Not ours or no secrets: the structure still names the real domain. */
    size_t need = userlen + 1 + hostlen;
    if (need < realsz) {
        memcpy(real, user, userlen);
        real[userlen] = '@';
        memcpy(real + userlen + 1, host, hostlen);
        real[need] = 0;
    }
    lower_copy(domain, domainsz, host, hostlen);
    return 1;
}

static void msg_free(struct msg *m)
{
    for (struct held *h = m->held, *next; h; h = next) {
        next = h->next;
        free(h);
    }
    free(m->sender);
    free(m->sender_domain);
    free(m->origin_domain);
    free(m->rcpt_deferred);
    free(m);
}

static size_t bucket_of(const struct maillog_scan *s, const char *qid, size_t n)
{
    return (size_t)(hash_bytes(FNV_BASIS, qid, n, 0) & (s->nbuckets - 1));
}

static struct msg **msg_slot(struct maillog_scan *s, struct ml_str qid)
{
    struct msg **pp = &s->buckets[bucket_of(s, qid.p, qid.n)];
    for (; *pp; pp = &(*pp)->next)
        if (strlen((*pp)->qid) == qid.n && memcmp((*pp)->qid, qid.p, qid.n) == 0)
            return pp;
    return pp;
}

static int grow_msgs(struct maillog_scan *s)
{
    size_t nb = s->nbuckets * 2;
    struct msg **b = calloc(nb, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (struct msg *m = s->buckets[i], *next; m; m = next) {
            next = m->next;
            size_t k = (size_t)(hash_bytes(FNV_BASIS, m->qid, strlen(m->qid), 0) & (nb - 1));
            m->next = b[k];
            b[k] = m;
        }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
    return 0;
}

/* Drop records not seen for max_age: their "removed" line is not in this log. */
static void sweep(struct maillog_scan *s)
{
    int64_t horizon = s->newest - s->o.max_age;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (struct msg **pp = &s->buckets[i]; *pp;) {
            if ((*pp)->last_seen < horizon) {
                struct msg *m = *pp;
                *pp = m->next;
                (void)release(s, m); /* out of memory: those are lost, not the scan */
                msg_free(m);
                s->nmsgs--;
            } else {
                pp = &(*pp)->next;
            }
        }
    s->sweep_at = s->nmsgs * 2 > SWEEP_MIN ? s->nmsgs * 2 : SWEEP_MIN;
    s->last_sweep = s->newest;
}

static struct msg *msg_get(struct maillog_scan *s, struct ml_str qid, int64_t when, int create)
{
    if (!qid.p || qid.n == 0 || qid.n > QID_MAX)
        return NULL;
    struct msg **pp = msg_slot(s, qid);
    if (*pp || !create) {
        if (*pp)
            (*pp)->last_seen = when;
        return *pp;
    }
    struct msg *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    memcpy(m->qid, qid.p, qid.n);
    m->last_seen = when;
    *pp = m;
    s->nmsgs++;
    if (s->nmsgs > s->nbuckets)
        (void)grow_msgs(s); /* a longer chain is slower, not wrong */
    return m;
}

static void msg_remove(struct maillog_scan *s, struct ml_str qid)
{
    if (!qid.p || qid.n > QID_MAX)
        return;
    struct msg **pp = msg_slot(s, qid);
    if (*pp) {
        struct msg *m = *pp;
        *pp = m->next;
        (void)release(s, m);
        msg_free(m);
        s->nmsgs--;
    }
}

struct maillog_scan *maillog_scan_new(const struct maillog_scan_opts *o, fa_err *err)
{
    struct maillog_scan *s = calloc(1, sizeof(*s));
    if (!s) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    s->o = *o;
    if (s->o.max_age <= 0)
        s->o.max_age = 7 * 86400;
    if (s->o.since == 0 && s->o.until == 0) { /* a zeroed struct: every line */
        s->o.since = INT64_MIN;
        s->o.until = INT64_MAX;
    }
    s->nbuckets = 1024;
    s->ngbuckets = 256;
    s->sweep_at = SWEEP_MIN;
    s->newest = INT64_MIN;
    s->last_sweep = INT64_MAX; /* set by the first line */
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    s->gbuckets = calloc(s->ngbuckets, sizeof(*s->gbuckets));
    if (!s->buckets || !s->gbuckets) {
        maillog_scan_free(s);
        fa_err_set(err, "out of memory");
        return NULL;
    }
    return s;
}

void maillog_scan_free(struct maillog_scan *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->buckets && i < s->nbuckets; i++)
        for (struct msg *m = s->buckets[i], *next; m; m = next) {
            next = m->next;
            msg_free(m);
        }
    for (size_t i = 0; s->gbuckets && i < s->ngbuckets; i++)
        for (struct group_node *g = s->gbuckets[i], *next; g; g = next) {
            next = g->next;
            free(g);
        }
    free(s->buckets);
    free(s->gbuckets);
    free(s->groups);
    free(s);
}

static int grow_groups(struct maillog_scan *s)
{
    size_t nb = s->ngbuckets * 2;
    struct group_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < s->ngbuckets; i++)
        for (struct group_node *g = s->gbuckets[i], *next; g; g = next) {
            next = g->next;
            g->next = b[g->hash & (nb - 1)];
            b[g->hash & (nb - 1)] = g;
        }
    free(s->gbuckets);
    s->gbuckets = b;
    s->ngbuckets = nb;
    return 0;
}

static struct maillog_group *group_get(struct maillog_scan *s, const struct maillog_failure *f)
{
    enum ml_category cat = f->rule->category;
    uint64_t h = hash_bytes(FNV_BASIS, f->sender_domain, strlen(f->sender_domain), 0);
    h = hash_bytes(h, "\0", 1, 0);
    h = hash_bytes(h, f->recipient_domain, strlen(f->recipient_domain), 0);
    h = (h ^ (uint64_t)cat) * 0x100000001b3ULL;
    h = (h ^ (uint64_t)f->status) * 0x100000001b3ULL;
    for (struct group_node *g = s->gbuckets[h & (s->ngbuckets - 1)]; g; g = g->next)
        if (g->hash == h && g->g.category == cat && g->g.status == f->status &&
            strcmp(g->g.sender_domain, f->sender_domain) == 0 &&
            strcmp(g->g.recipient_domain, f->recipient_domain) == 0)
            return &g->g;

    if (s->ngroups == s->capgroups) {
        size_t cap = s->capgroups ? s->capgroups * 2 : 64;
        struct maillog_group **v = realloc(s->groups, cap * sizeof(*v));
        if (!v)
            return NULL;
        s->groups = v;
        s->capgroups = cap;
    }
    struct group_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->hash = h;
    n->g.category = cat;
    n->g.status = f->status;
    n->g.rule = f->rule;
    bounded_copy(n->g.sender_domain, sizeof(n->g.sender_domain), f->sender_domain,
                 strlen(f->sender_domain));
    bounded_copy(n->g.recipient_domain, sizeof(n->g.recipient_domain), f->recipient_domain,
                 strlen(f->recipient_domain));
    bounded_copy(n->g.dsn, sizeof(n->g.dsn), f->dsn, strlen(f->dsn));
    bounded_copy(n->g.reply, sizeof(n->g.reply), f->reply, strlen(f->reply));
    n->g.first = f->time;
    n->next = s->gbuckets[h & (s->ngbuckets - 1)];
    s->gbuckets[h & (s->ngbuckets - 1)] = n;
    s->groups[s->ngroups++] = &n->g;
    if (s->ngroups > s->ngbuckets * 2)
        (void)grow_groups(s);
    return &n->g;
}

/* Was this recipient's deferral already counted for this message? Marks it. */
static int deferred_before(struct msg *m, struct ml_str rcpt)
{
    uint64_t h = hash_bytes(FNV_BASIS, rcpt.p, rcpt.n, 1);
    for (size_t i = 0; i < m->nrcpt_deferred; i++)
        if (m->rcpt_deferred[i] == h)
            return 1;
    if (m->nrcpt_deferred == m->cap_rcpt_deferred) {
        size_t cap = m->cap_rcpt_deferred ? m->cap_rcpt_deferred * 2 : 4;
        uint64_t *v = realloc(m->rcpt_deferred, cap * sizeof(*v));
        if (!v)
            return 0; /* count it again rather than fail */
        m->rcpt_deferred = v;
        m->cap_rcpt_deferred = cap;
    }
    m->rcpt_deferred[m->nrcpt_deferred++] = h;
    return 0;
}

static int domain_of(struct ml_str a, char *out, size_t outsz)
{
    struct addr parsed;
    out[0] = 0;
    if (!a.p || a.n == 0 || addr_split(a.p, a.n, &parsed) < 0)
        return -1;
    lower_copy(out, outsz, parsed.domain, parsed.domain_len);
    return 0;
}

/* A delivery to an address that an alias (virtual or local) or .forward
 * made from another: orig_to= differs. A bounce coming home to an SRS
 * address (orig_to=<SRS0=...>) is not forwarding. */
static int alias_forwarded(const struct maillog_line *l)
{
    if (!l->orig_to.p || (l->orig_to.n == l->recipient.n &&
                          strncasecmp(l->orig_to.p, l->recipient.p, l->orig_to.n) == 0))
        return 0;
    const char *h, *u;
    size_t hn, un;
    struct addr a;
    return !(addr_split(l->orig_to.p, l->orig_to.n, &a) == 0 &&
             srs_structure(a.local, a.local_len, &h, &hn, &u, &un));
}

/* Count one failure in its group and the totals, and report it. */
static int emit(struct maillog_scan *s, struct msg *m, const struct held *h)
{
    int notification = m && m->origin_domain;
    struct maillog_failure f = {
        .time = h->time,
        .qid = h->qid,
        .sender = m && m->sender ? m->sender : "",
        .sender_domain = notification            ? m->origin_domain
                         : m && m->sender_domain ? m->sender_domain
                                                 : ML_SENDER_UNKNOWN,
        .sender_was_srs = m ? m->sender_was_srs : 0,
        .recipient = h->rcpt,
        .recipient_domain = h->rdomain,
        .orig_to = h->orig,
        .relay = h->relay,
        .dsn = h->dsn,
        .reply = h->reply,
        .status = h->status,
        .rule = h->rule,
        .notification = notification,
    };
    struct maillog_group *g = group_get(s, &f);
    if (!g)
        return -1;
    g->count++;
    if (h->forwarded)
        g->forwarded++;
    if (f.sender_was_srs)
        g->srs_senders++;
    g->last = h->time;
    s->t.failures++;
    if (maillog_category_is_auth(f.rule->category))
        s->t.auth_failures++;
    if (s->o.on_failure)
        s->o.on_failure(s->o.arg, &f);
    return 0;
}

/* Count the failures held for m, now that its origin is known or will never
 * be (removed, swept, end of the log). */
static int release(struct maillog_scan *s, struct msg *m)
{
    int rc = 0;
    struct held *h = m->held, *next;
    m->held = NULL;
    m->nheld = 0;
    for (; h; h = next) { /* oldest first: held in order */
        next = h->next;
        if (emit(s, m, h) < 0)
            rc = -1;
        free(h);
    }
    return rc;
}

static int record_failure(struct maillog_scan *s, const struct maillog_line *l, struct msg *m,
                          fa_err *err)
{
    struct held one, *h = &one;
    int hold = m && m->sender && !m->sender[0] && !m->origin_domain && m->nheld < HELD_MAX;
    if (hold && !(h = malloc(sizeof(*h))))
        return fa_err_set(err, "out of memory");
    h->next = NULL;
    h->time = l->time;
    h->status = l->status;
    h->rule =
        maillog_classify(l->dsn.p, l->dsn.n, l->reply.p, l->reply.n, l->status == ML_ST_DEFERRED);
    h->forwarded = alias_forwarded(l);
    domain_of(l->recipient, h->rdomain, sizeof(h->rdomain));
    bounded_copy(h->dsn, sizeof(h->dsn), l->dsn.p, l->dsn.n);
    bounded_copy(h->reply, sizeof(h->reply), l->reply.p, l->reply.n);
    bounded_copy(h->qid, sizeof(h->qid), l->qid.p, l->qid.n);
    bounded_copy(h->rcpt, sizeof(h->rcpt), l->recipient.p, l->recipient.n);
    bounded_copy(h->orig, sizeof(h->orig), l->orig_to.p, l->orig_to.n);
    bounded_copy(h->relay, sizeof(h->relay), l->relay.p, l->relay.n);
    if (!hold)
        return emit(s, m, h) < 0 ? fa_err_set(err, "out of memory") : 0;
    struct held **tail = &m->held;
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
    m->nheld++;
    return 0;
}

/* cleanup's header, body and end-of-message rejects and discards: the
 * message is not queued and no "removed" line follows. */
static int ends_in_cleanup(const struct maillog_line *l)
{
    return ml_str_eq(l->daemon, "cleanup") &&
           (ml_str_eq(l->stage, "header") || ml_str_eq(l->stage, "body") ||
            ml_str_eq(l->stage, "END-OF-MESSAGE"));
}

/* pflogsumm counts smtpd/postscreen rejects at any stage, cleanup's only for
 * header, body and END-OF-MESSAGE (its milter rejects), nothing else. */
static int counts_as_reject(const struct maillog_line *l, int milter)
{
    if (ml_str_eq(l->daemon, "cleanup"))
        return ends_in_cleanup(l);
    return !milter && (ml_str_eq(l->daemon, "smtpd") || ml_str_eq(l->daemon, "postscreen"));
}

static int set_sender(struct msg *m, const srs *engine, const struct maillog_line *l)
{
    if (m->sender)
        return 0; /* qmgr logs from= again after a deferral */
    char real[ML_ADDR_MAX], domain[ML_DOMAIN_MAX];
    m->sender_was_srs = maillog_unsrs(engine, l->time, l->sender.p, l->sender.n, real, sizeof(real),
                                      domain, sizeof(domain));
    m->sender = strdup(real);
    m->sender_domain = strdup(domain);
    return m->sender && m->sender_domain ? 0 : -1;
}

int maillog_scan_feed(struct maillog_scan *s, const struct maillog_line *l, fa_err *err)
{
    s->t.lines++;
    s->t.postfix_lines++;
    if (l->time > s->newest)
        s->newest = l->time;
    if (s->last_sweep == INT64_MAX)
        s->last_sweep = l->time;
    /* Sweep when the table has doubled, and every max_age/8 of log time (a
     * pass over the table, rarely); before this line takes any record, so
     * none it uses can go. */
    if (s->nmsgs >= s->sweep_at || s->newest - s->last_sweep > s->o.max_age / 8)
        sweep(s);
    int counted = l->time >= s->o.since && l->time < s->o.until;
    struct msg *m = NULL;
    int need =
        l->event != ML_OTHER && l->event != ML_REMOVED && l->qid.p && !ml_str_eq(l->qid, "NOQUEUE");
    if (need) {
        m = msg_get(s, l->qid, l->time, 1);
        if (!m && l->qid.n <= QID_MAX)
            return fa_err_set(err, "out of memory");
    }

    switch (l->event) {
    case ML_CLIENT:
    case ML_PICKUP:
        if (counted)
            s->t.received++;
        if (l->event == ML_PICKUP && l->sender.p && m && set_sender(m, s->o.srs, l) < 0)
            return fa_err_set(err, "out of memory");
        break;
    case ML_ENVELOPE:
        if (m && set_sender(m, s->o.srs, l) < 0)
            return fa_err_set(err, "out of memory");
        break;
    case ML_EXPIRED:
        if (counted)
            s->t.expired++;
        break;
    case ML_DELIVERY:
        if (!counted)
            break;
        switch (l->status) {
        case ML_ST_SENT:
            if (l->forwarded) {
                s->t.forwarded++;
                break;
            }
            s->t.delivered++;
            if (alias_forwarded(l))
                s->t.alias_forwarded++;
            break;
        case ML_ST_DEFERRED:
            s->t.deferrals++;
            if (m && !m->deferred) {
                m->deferred = 1;
                s->t.deferred++;
            }
            if (m && deferred_before(m, l->recipient))
                break;
            return record_failure(s, l, m, err);
        case ML_ST_BOUNCED:
            s->t.bounced++;
            return record_failure(s, l, m, err);
        case ML_ST_EXPIRED:
            return record_failure(s, l, m, err);
        default:
            break;
        }
        break;
    case ML_REMOVED:
        msg_remove(s, l->qid);
        break;
    case ML_NOTIFICATION: {
        if (counted)
            s->t.notifications++;
        struct msg *b = msg_get(s, l->new_qid, l->time, 1);
        if (b && m && !b->origin_domain)
            b->origin_domain = strdup(m->sender_domain ? m->sender_domain : "");
        if (b && release(s, b) < 0)
            return fa_err_set(err, "out of memory");
        break;
    }
    case ML_REJECT:
    case ML_MILTER_REJECT:
        /* A message cleanup refuses is never queued: no "removed" follows. */
        if (ends_in_cleanup(l))
            msg_remove(s, l->qid);
        if (!counted)
            break;
        if (l->event == ML_MILTER_REJECT)
            s->t.milter_rejected++;
        if (counts_as_reject(l, l->event == ML_MILTER_REJECT))
            s->t.rejected++;
        break;
    case ML_HOLD:
        if (counted && counts_as_reject(l, 0))
            s->t.held++;
        break;
    case ML_DISCARD:
        if (ends_in_cleanup(l))
            msg_remove(s, l->qid);
        if (counted && counts_as_reject(l, 0))
            s->t.discarded++;
        break;
    case ML_OTHER:
        break;
    }
    return 0;
}

void maillog_scan_skip(struct maillog_scan *s)
{
    s->t.lines++;
}

int maillog_scan_finish(struct maillog_scan *s)
{
    int rc = 0;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (struct msg *m = s->buckets[i]; m; m = m->next)
            if (m->held && release(s, m) < 0)
                rc = -1;
    return rc;
}

const struct maillog_totals *maillog_scan_totals(const struct maillog_scan *s)
{
    return &s->t;
}

size_t maillog_scan_ngroups(const struct maillog_scan *s)
{
    return s->ngroups;
}

const struct maillog_group *maillog_scan_group(const struct maillog_scan *s, size_t i)
{
    return i < s->ngroups ? s->groups[i] : NULL;
}

size_t maillog_scan_inflight(const struct maillog_scan *s)
{
    return s->nmsgs;
}
