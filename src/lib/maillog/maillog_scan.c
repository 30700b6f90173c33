/* maillog_scan - follow messages through a Postfix log (see maillog_scan.h). */
#include "maillog_scan.h"

#include "addr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    int received;            /* client= or pickup line counted: its size counts as received */
    int sized;               /* the first from=, size= line was seen */
    long long size;          /* its size= */
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

/* A series of periods sorted by start, at most max of them. */
struct series {
    struct maillog_period *v;
    size_t n, cap, max;
    size_t last; /* index of the last one used: lines come in order */
    int truncated;
};

struct maillog_scan {
    struct maillog_scan_opts o;
    struct maillog_totals t;
    int64_t first, last; /* counted lines' times */

    struct series days, hours;
    struct maillog_period hour_of_day[24];
    struct maillog_period scratch; /* counts of periods beyond a series' bound: never read */
    int64_t tz_hour;               /* UTC hour whose local offset is cached; INT64_MIN: none */
    long tz_offset;                /* seconds east of UTC */
    struct maillog_top *top[ML_TOP_KINDS];

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

/* The local offset of UTC time t, asked of localtime_r once per UTC hour
 * (zones change their offset on whole quarter hours at most, DST at whole
 * hours of UTC almost everywhere). */
static long local_offset(struct maillog_scan *s, int64_t t)
{
    int64_t hour = t >= 0 ? t / 3600 : -((-t + 3599) / 3600);
    if (hour != s->tz_hour) {
        time_t tt = (time_t)t;
        struct tm tm;
        s->tz_offset = localtime_r(&tt, &tm) ? tm.tm_gmtoff : 0;
        s->tz_hour = hour;
    }
    return s->tz_offset;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The period starting at start, made when missing (in order); NULL when the
 * series is full or memory ran out (the series then says truncated). */
static struct maillog_period *series_get(struct series *ps, int64_t start)
{
    if (ps->n && ps->v[ps->last].start == start)
        return &ps->v[ps->last];
    size_t lo = 0, hi = ps->n; /* first index with v[i].start >= start */
    if (ps->n && ps->v[ps->n - 1].start < start)
        lo = ps->n; /* the usual case: a new period after the others */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->v[mid].start < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < ps->n && ps->v[lo].start == start) {
        ps->last = lo;
        return &ps->v[lo];
    }
    if (ps->n >= ps->max) {
        ps->truncated = 1;
        return NULL;
    }
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        if (cap > ps->max)
            cap = ps->max;
        struct maillog_period *v = realloc(ps->v, cap * sizeof(*v));
        if (!v) {
            ps->truncated = 1;
            return NULL;
        }
        ps->v = v;
        ps->cap = cap;
    }
    memmove(&ps->v[lo + 1], &ps->v[lo], (ps->n - lo) * sizeof(*ps->v));
    memset(&ps->v[lo], 0, sizeof(*ps->v));
    ps->v[lo].start = start;
    ps->n++;
    ps->last = lo;
    return &ps->v[lo];
}

/* Where a counted line at time t is tallied: its local day, its local
 * hour, and its hour of the day. Unused slots point at a scratch period. */
struct periods {
    struct maillog_period *p[3];
};

static void periods_of(struct maillog_scan *s, int64_t t, struct periods *out)
{
    int64_t local = t + local_offset(s, t);
    int64_t hour = floor_div(local, 3600);
    out->p[0] = series_get(&s->days, floor_div(local, 86400));
    out->p[1] = series_get(&s->hours, hour);
    out->p[2] = &s->hour_of_day[hour - floor_div(hour, 24) * 24];
    for (int i = 0; i < 3; i++)
        if (!out->p[i])
            out->p[i] = &s->scratch;
}

#define PERIODS_ADD(ps, field)                                                                     \
    do {                                                                                           \
        for (int i_ = 0; i_ < 3; i_++)                                                             \
            (ps)->p[i_]->field++;                                                                  \
    } while (0)

static int top_add(struct maillog_scan *s, enum ml_top_kind k, const char *key, size_t n,
                   unsigned long long weight, unsigned long long count, unsigned long long bytes,
                   unsigned long long deferrals)
{
    return maillog_top_add(s->top[k], key, n, weight, count, bytes, deferrals);
}

/* An address as a top-table key: the domain in lower case (as pflogsumm
 * keys them), "<>" for the null sender. */
static size_t address_key(const char *a, size_t n, char *out, size_t outsz)
{
    if (n == 0) {
        memcpy(out, "<>", 3);
        return 2;
    }
    if (n >= outsz)
        n = outsz - 1;
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '@')
            at = a + i;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        out[i] = at && a + i > at && c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    out[n] = 0;
    return n;
}

static int is_space_or_ctl(unsigned char c)
{
    return c <= ' ' || c == 0x7f;
}

static const char *find_in(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - p) < n)
        return NULL;
    return memmem(p, (size_t)(end - p), lit, n);
}

size_t maillog_reject_reason(struct ml_str reply, char *out, size_t outsz)
{
    const char *p = reply.p ? reply.p : "", *end = p + (reply.p ? reply.n : 0);
    /* "554 " or "550-" */
    if (end - p >= 4 && p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
        p[2] <= '9' && (p[3] == ' ' || p[3] == '-'))
        p += 4;
    /* "5.7.1 " */
    const char *q = p;
    if (q < end && *q >= '2' && *q <= '5' && q + 1 < end && q[1] == '.') {
        q += 2;
        while (q < end && *q >= '0' && *q <= '9')
            q++;
        if (q < end && *q == '.') {
            q++;
            while (q < end && *q >= '0' && *q <= '9')
                q++;
            if (q < end && *q == ' ')
                p = q + 1;
        }
    }
    /* "<address or helo>: " */
    if (p < end && *p == '<') {
        const char *c = find_in(p, end, ">: ");
        if (c)
            p = c + 3;
    }
    const char *bl = find_in(p, end, " blocked using ");
    if (bl) { /* "Service unavailable; Client host [a] blocked using LIST; ..." */
        p = bl + 1;
        const char *e = p + 14;
        while (e < end && *e != ';' && *e != ',' && *e != ' ')
            e++;
        end = e;
    }
    const char *semi = memchr(p, ';', (size_t)(end - p));
    if (semi)
        end = semi;
    const char *tail = find_in(p, end, ", [");
    if (tail)
        end = tail;
    /* "Recipient address rejected: User unknown: more" keeps the first two */
    const char *rej = find_in(p, end, " rejected: ");
    if (rej) {
        const char *c = find_in(rej + 11, end, ": ");
        if (c)
            end = c;
    }
    while (end > p && is_space_or_ctl((unsigned char)end[-1]))
        end--;
    size_t n = (size_t)(end - p);
    if (outsz == 0)
        return 0;
    if (n >= outsz)
        n = outsz - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = is_space_or_ctl((unsigned char)p[i]) ? ' ' : p[i];
    out[n] = 0;
    return n;
}

/* "A\tB\tC" from three slices, each cleaned of control characters (and
 * tabs), within outsz. */
static size_t join3(char *out, size_t outsz, const char *a, size_t an, const char *b, size_t bn,
                    const char *c, size_t cn)
{
    const char *parts[3] = {a, b, c};
    size_t lens[3] = {an, bn, cn}, used = 0;
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < lens[k] && used + 1 < outsz; i++)
            out[used++] = is_space_or_ctl((unsigned char)parts[k][i]) ? ' ' : parts[k][i];
        if (k < 2 && used + 1 < outsz)
            out[used++] = '\t';
    }
    out[used] = 0;
    return used;
}

static int tally_reject(struct maillog_scan *s, const struct maillog_line *l, const char *action)
{
    char reason[ML_REASON_MAX], key[ML_REASON_MAX + 64];
    size_t rn = maillog_reject_reason(l->reply, reason, sizeof(reason));
    size_t stn = l->stage.p ? l->stage.n : 0;
    if (stn > 32)
        stn = 32;
    size_t n = join3(key, sizeof(key), action, strlen(action), l->stage.p ? l->stage.p : "", stn,
                     reason, rn);
    return top_add(s, ML_TOP_REJECTS, key, n, 1, 1, 0, 0);
}

static int tally_problem(struct maillog_scan *s, const struct maillog_line *l, const char *level)
{
    char key[ML_REASON_MAX + 64];
    size_t tn = l->reply.n < ML_REASON_MAX - 1 ? l->reply.n : ML_REASON_MAX - 1;
    size_t dn = l->daemon.n < 32 ? l->daemon.n : 32;
    while (tn && is_space_or_ctl((unsigned char)l->reply.p[tn - 1]))
        tn--;
    size_t n = join3(key, sizeof(key), level, strlen(level), l->daemon.p, dn, l->reply.p, tn);
    return top_add(s, ML_TOP_PROBLEMS, key, n, 1, 1, 0, 0);
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
    s->first = s->last = INT64_MIN;
    s->tz_hour = INT64_MIN;
    s->days.max = ML_DAYS_MAX;
    s->hours.max = ML_HOURS_MAX;
    for (int h = 0; h < 24; h++)
        s->hour_of_day[h].start = h;
    s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
    s->gbuckets = calloc(s->ngbuckets, sizeof(*s->gbuckets));
    int ok = s->buckets && s->gbuckets;
    for (int k = 0; ok && k < ML_TOP_KINDS; k++)
        ok = (s->top[k] = maillog_top_new(
                  k == ML_TOP_REJECTS || k == ML_TOP_PROBLEMS ? ML_TOP_REASONS : ML_TOP_ADDRESSES,
                  err)) != NULL;
    if (!ok) {
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
    free(s->days.v);
    free(s->hours.v);
    for (int k = 0; k < ML_TOP_KINDS; k++)
        maillog_top_free(s->top[k]);
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
    struct periods ps;
    periods_of(s, h->time, &ps);
    for (int i = 0; i < 3; i++)
        ps.p[i]->failures[f.rule->category]++;
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

/* qmgr's first "from=<S>, size=N" of a message: its size, and for a message
 * received here (pflogsumm's rule: not bounces or local(8)'s forwards), the
 * bytes received and the sender tables, keyed by the real sender (SRS
 * reversed, as the failure groups name it). */
static int envelope(struct maillog_scan *s, struct msg *m, const struct maillog_line *l,
                    int counted)
{
    if (m->sized)
        return 0;
    m->sized = 1;
    m->size = l->size;
    if (!counted || !m->received)
        return 0;
    unsigned long long size = (unsigned long long)l->size;
    s->t.bytes_received += size;
    char real[ML_ADDR_MAX], domain[ML_DOMAIN_MAX], key[ML_ADDR_MAX];
    maillog_unsrs(s->o.srs, l->time, l->sender.p, l->sender.n, real, sizeof(real), domain,
                  sizeof(domain));
    size_t n = address_key(real, strlen(real), key, sizeof(key));
    if (top_add(s, ML_TOP_SENDERS, key, n, 1, 1, size, 0) < 0 ||
        top_add(s, ML_TOP_SENDERS_BYTES, key, n, size, 1, size, 0) < 0)
        return -1;
    if (!domain[0])
        memcpy(domain, "<>", 3);
    return top_add(s, ML_TOP_SENDER_DOMAINS, domain, strlen(domain), 1, 1, size, 0);
}

/* A status=sent delivery (not local(8)'s "forwarded as"): bytes delivered
 * and the recipient tables, with the message's size when its from= line
 * was seen (0 otherwise, as pflogsumm). */
static int delivered(struct maillog_scan *s, const struct msg *m, const struct maillog_line *l)
{
    unsigned long long size = m && m->sized ? (unsigned long long)m->size : 0;
    s->t.bytes_delivered += size;
    char key[ML_ADDR_MAX], domain[ML_DOMAIN_MAX];
    size_t n = address_key(l->recipient.p, l->recipient.n, key, sizeof(key));
    if (top_add(s, ML_TOP_RECIPIENTS, key, n, 1, 1, size, 0) < 0 ||
        top_add(s, ML_TOP_RECIPIENTS_BYTES, key, n, size, 1, size, 0) < 0)
        return -1;
    domain_of(l->recipient, domain, sizeof(domain));
    return top_add(s, ML_TOP_RECIPIENT_DOMAINS, domain, strlen(domain), 1, 1, size, 0);
}

static int deferral(struct maillog_scan *s, const struct maillog_line *l)
{
    char domain[ML_DOMAIN_MAX];
    domain_of(l->recipient, domain, sizeof(domain));
    return top_add(s, ML_TOP_RECIPIENT_DOMAINS, domain, strlen(domain), 1, 0, 0, 1);
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
    struct periods ps;
    if (counted) {
        if (s->first == INT64_MIN || l->time < s->first)
            s->first = l->time;
        if (s->last == INT64_MIN || l->time > s->last)
            s->last = l->time;
        periods_of(s, l->time, &ps); /* every counted line makes its day count */
    }
    struct msg *m = NULL;
    int need = l->event != ML_OTHER && l->event != ML_REMOVED && l->event < ML_WARNING &&
               l->qid.p && !ml_str_eq(l->qid, "NOQUEUE");
    if (need) {
        m = msg_get(s, l->qid, l->time, 1);
        if (!m && l->qid.n <= QID_MAX)
            return fa_err_set(err, "out of memory");
    }
    int rc = 0;

    switch (l->event) {
    case ML_CLIENT:
    case ML_PICKUP:
        if (counted) {
            s->t.received++;
            PERIODS_ADD(&ps, received);
            if (m)
                m->received = 1;
        }
        if (l->event == ML_PICKUP && l->sender.p && m && set_sender(m, s->o.srs, l) < 0)
            return fa_err_set(err, "out of memory");
        break;
    case ML_ENVELOPE:
        if (m && (set_sender(m, s->o.srs, l) < 0 || envelope(s, m, l, counted) < 0))
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
            PERIODS_ADD(&ps, delivered);
            if (alias_forwarded(l))
                s->t.alias_forwarded++;
            rc = delivered(s, m, l);
            break;
        case ML_ST_DEFERRED:
            s->t.deferrals++;
            PERIODS_ADD(&ps, deferrals);
            if (deferral(s, l) < 0)
                return fa_err_set(err, "out of memory");
            if (m && !m->deferred) {
                m->deferred = 1;
                s->t.deferred++;
            }
            if (m && deferred_before(m, l->recipient))
                break;
            return record_failure(s, l, m, err);
        case ML_ST_BOUNCED:
            s->t.bounced++;
            PERIODS_ADD(&ps, bounced);
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
        if (counts_as_reject(l, l->event == ML_MILTER_REJECT)) {
            s->t.rejected++;
            PERIODS_ADD(&ps, rejected);
        }
        rc = tally_reject(s, l, l->event == ML_MILTER_REJECT ? "milter-reject" : "reject");
        break;
    case ML_HOLD:
        if (counted && counts_as_reject(l, 0)) {
            s->t.held++;
            PERIODS_ADD(&ps, held);
        }
        if (counted)
            rc = tally_reject(s, l, "hold");
        break;
    case ML_DISCARD:
        if (ends_in_cleanup(l))
            msg_remove(s, l->qid);
        if (counted && counts_as_reject(l, 0)) {
            s->t.discarded++;
            PERIODS_ADD(&ps, discarded);
        }
        if (counted)
            rc = tally_reject(s, l, "discard");
        break;
    case ML_REJECT_WARNING:
        if (counted && counts_as_reject(l, 0)) {
            s->t.reject_warnings++;
            PERIODS_ADD(&ps, reject_warnings);
        }
        if (counted)
            rc = tally_reject(s, l, "reject_warning");
        break;
    case ML_WARNING:
    case ML_ERROR:
    case ML_FATAL:
    case ML_PANIC: {
        if (!counted)
            break;
        static const char *const level[] = {"warning", "error", "fatal", "panic"};
        unsigned long long *total[] = {&s->t.warnings, &s->t.errors, &s->t.fatals, &s->t.panics};
        int i = (int)(l->event - ML_WARNING);
        (*total[i])++;
        rc = tally_problem(s, l, level[i]);
        break;
    }
    case ML_OTHER:
        break;
    }
    return rc < 0 ? fa_err_set(err, "out of memory") : 0;
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

size_t maillog_scan_nperiods(const struct maillog_scan *s, enum ml_series k)
{
    return k == ML_SERIES_DAYS ? s->days.n : k == ML_SERIES_HOURS ? s->hours.n : 24;
}

const struct maillog_period *maillog_scan_period(const struct maillog_scan *s, enum ml_series k,
                                                 size_t i)
{
    if (i >= maillog_scan_nperiods(s, k))
        return NULL;
    return k == ML_SERIES_DAYS    ? &s->days.v[i]
           : k == ML_SERIES_HOURS ? &s->hours.v[i]
                                  : &s->hour_of_day[i];
}

int maillog_scan_series_truncated(const struct maillog_scan *s, enum ml_series k)
{
    return k == ML_SERIES_DAYS ? s->days.truncated : k == ML_SERIES_HOURS ? s->hours.truncated : 0;
}

void maillog_scan_span(const struct maillog_scan *s, int64_t *first, int64_t *last)
{
    *first = s->first;
    *last = s->last;
}

const struct maillog_top *maillog_scan_top(const struct maillog_scan *s, enum ml_top_kind k)
{
    return k < ML_TOP_KINDS ? s->top[k] : NULL;
}
