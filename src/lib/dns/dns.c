/* dns - the one resolver: libunbound, or answers from a zone file; see dns.h.
 *
 * Threads and timeouts. One struct dns holds one ub_ctx in threaded async
 * mode (one libunbound worker thread, one shared cache), used by every
 * caller thread. libunbound's blocking ub_resolve has no timeout, so each
 * question is sent with ub_resolve_async and waited for with poll(ub_fd)
 * until its deadline. ub_process runs the callbacks of whichever answers
 * arrived, for any thread's questions, so:
 *   - every question has its own heap record (done flag, result);
 *   - d->mu guards those records and "polling"; ub_process and ub_cancel
 *     run only with d->mu held, so a callback (which takes no lock) runs
 *     under d->mu and never races with the owner reading its record;
 *   - one thread at a time polls the fd (the "poller"), without the lock;
 *     then it takes the lock, runs ub_process and wakes every waiter
 *     (broadcast); the others wait on d->cv until their own deadline;
 *   - at its deadline a question is cancelled (ub_cancel under d->mu: the
 *     callback is then never called). Should libunbound answer UB_NOID
 *     (answer already queued), the record is marked abandoned and the
 *     callback frees it when some later ub_process delivers it.
 * A context per thread would need no lock but would give each thread its
 * own cache and worker thread; the milter runs one thread per connection.
 *
 * libunbound caches answers itself (per its TTLs), so a resolver keeps no
 * cache; zone files are in memory and need none.
 *
 * Retransmission. libunbound resends a question to a forwarder it knows
 * nothing of after 376 ms, then with exponential back-off, and an answer to
 * an earlier attempt arrives on a port already closed and is dropped: a
 * resolver that always takes 4 s would never be heard within a 5 s
 * timeout. infra-cache-min-rtt = timeout_ms makes every attempt wait the
 * whole timeout (as a classic stub resolver waits 5 s before it resends),
 * so an answer that comes within timeout_ms counts. The cost: a lost UDP
 * packet costs the question's whole timeout, and with several resolvers a
 * dead one costs one timeout before libunbound prefers the others.
 *
 * Sessions (dns_session_new) are a struct dns without a source of their
 * own: they ask their resolver with a time limit cut to what is left of
 * the budget, remember every answer (failures too) for the message, and
 * dns_prefetch sends many questions at once through the asynchronous
 * calls below (ub_start, then ub_collect for each) so that their waits
 * overlap. A session is one message's, used by one thread: no lock.
 */
#include "dns.h"

#include "dns_zone.h"
#include "fileread.h"
#include "monoclock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#define DNS_DEFAULT_TIMEOUT_MS 5000
#define DNS_WIRE_NAME_MAX 255
#define DNS_TEXT_NAME_MAX (DNS_WIRE_NAME_MAX * 4 + 1) /* every octet as \DDD */

/* Failures are classified by dns_answer.failure, never by these texts. */
static const char dns_why_timeout[] = "timeout";
static const char dns_why_budget[] = "the message's DNS budget is spent";

/* A remembered answer of a session: the records copied. */
struct memo {
    char *name; /* as dns_name_norm gives it */
    int type;
    int status, secure, failure;
    const char *why;
    size_t n;
    struct dns_rr *rr;
};

struct dns {
    struct dns_zone *zone;  /* when set, the only source of answers */
    dns_observe_fn observe; /* dns_opts.observe, or NULL */
    void *observe_arg;
    struct ub_ctx *ub;
    int have_ta; /* a trust anchor is configured: "secure" means something */
    unsigned timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int polling;      /* a thread is in poll(ub_fd); guarded by mu */
    size_t abandoned; /* questions left to their callbacks; guarded by mu */

    /* A session (dns_session_new): asks `parent`, a resolver. */
    struct dns *parent;
    struct memo *memo;
    size_t nmemo, memo_cap, memo_bytes;
    int64_t start_ms;   /* monotonic, when the session began */
    int64_t charged_ms; /* zone file TIMEOUTs, counted as waited */
    unsigned budget_ms; /* 0 = none */
    unsigned asked, remembered, refused;
    int spent; /* the budget cut or refused a question */
};

/* One libunbound question in flight; guarded by dns.mu. */
struct ubq {
    int done, abandoned, err;
    struct ub_result *res;
    size_t *abandoned_count;
    int id;
    int64_t deadline; /* monotonic ms */
    double t0, t1;    /* asked, answered (monotonic seconds) */
};

/* ---- wire-format rdata ---- */

/* An uncompressed wire-format name filling p[0..n) exactly, as text: no
 * trailing dot, "" for the root, "." "\" and non-graphic octets as \DDD.
 * libunbound hands rdata with names decompressed, so a pointer is an error. */
static int wire_name(const uint8_t *p, size_t n, char *out, size_t outcap)
{
    size_t i = 0, o = 0;
    for (;;) {
        if (i >= n || i >= DNS_WIRE_NAME_MAX)
            return -1;
        size_t l = p[i++];
        if (l == 0)
            break;
        if (l > 63 || i + l > n)
            return -1;
        if (o > 0)
            out[o++] = '.';
        for (size_t k = 0; k < l; k++) {
            uint8_t c = p[i + k];
            if (c <= ' ' || c >= 0x7f || c == '.' || c == '\\') {
                if (o + 4 >= outcap)
                    return -1;
                snprintf(out + o, 5, "\\%03u", c);
                o += 4;
            } else {
                if (o + 1 >= outcap)
                    return -1;
                out[o++] = (char)c;
            }
        }
        if (o + 1 >= outcap)
            return -1;
        i += l;
    }
    if (i != n)
        return -1;
    out[o] = 0;
    return 0;
}

/* Append one rdata of the asked type to a; 0, or -1 when malformed, -2 on memory. */
static int add_rdata(struct dns_answer *a, int type, const uint8_t *p, size_t n)
{
    char name[DNS_TEXT_NAME_MAX];
    switch (type) {
    case DNS_T_A:
    case DNS_T_AAAA:
        if (n != (type == DNS_T_A ? 4u : 16u))
            return -1;
        return dns_answer_add(a, p, n, 0) < 0 ? -2 : 0;
    case DNS_T_TXT:
    case DNS_T_SPF: {
        uint8_t *buf = malloc(n + 1); /* the joined strings are shorter */
        size_t len = 0;
        if (!buf)
            return -2;
        for (size_t i = 0; i < n;) {
            size_t l = p[i++];
            if (i + l > n) {
                free(buf);
                return -1;
            }
            memcpy(buf + len, p + i, l);
            len += l;
            i += l;
        }
        int rc = dns_answer_add(a, buf, len, 0) < 0 ? -2 : 0;
        free(buf);
        return rc;
    }
    case DNS_T_MX:
        if (n < 3 || wire_name(p + 2, n - 2, name, sizeof(name)) < 0)
            return -1;
        return dns_answer_add(a, name, strlen(name), (unsigned)p[0] << 8 | p[1]) < 0 ? -2 : 0;
    default: /* PTR, CNAME */
        if (wire_name(p, n, name, sizeof(name)) < 0)
            return -1;
        return dns_answer_add(a, name, strlen(name), 0) < 0 ? -2 : 0;
    }
}

static int from_result(struct dns *d, int type, const struct ub_result *r, struct dns_answer *a)
{
    if (r->bogus)
        return dns_answer_set(a, DNS_TEMPFAIL, "DNSSEC validation failed (bogus answer)");
    switch (r->rcode) {
    case 0:
        break;
    case 2:
        return dns_answer_fail(a, DNS_TEMPFAIL, DNS_FAIL_SERVFAIL, "SERVFAIL from the resolver");
    case 3:
        return dns_answer_set(a, DNS_NXDOMAIN, "no such name (NXDOMAIN)");
    case 5:
        return dns_answer_set(a, DNS_TEMPFAIL, "query REFUSED by the resolver");
    default:
        return dns_answer_set(a, DNS_TEMPFAIL, "error response from the resolver");
    }
    if (!r->havedata || !r->data || !r->data[0])
        return dns_answer_set(a, DNS_NODATA, "no record of that type (NODATA)");
    for (size_t i = 0; r->data[i]; i++) {
        if (i >= DNS_MAX_RR)
            return dns_answer_set(a, DNS_PERMFAIL, "answer has more than DNS_MAX_RR records");
        if (r->len[i] < 0 || (size_t)r->len[i] > DNS_MAX_RDATA)
            return dns_answer_set(a, DNS_PERMFAIL, "malformed record in the answer");
        int rc = add_rdata(a, type, (const uint8_t *)r->data[i], (size_t)r->len[i]);
        if (rc == -1)
            return dns_answer_set(a, DNS_PERMFAIL, "malformed record in the answer");
        if (rc < 0)
            return dns_answer_set(a, DNS_TEMPFAIL, "out of memory");
    }
    a->status = DNS_OK;
    a->secure = d->have_ta && r->secure;
    return DNS_OK;
}

/* ---- libunbound ---- */

/* Runs inside ub_process, which only ever runs with dns.mu held. */
static void ub_done(void *arg, int err, struct ub_result *res)
{
    struct ubq *q = arg;
    if (q->abandoned) {
        ub_resolve_free(res);
        (*q->abandoned_count)--;
        free(q);
        return;
    }
    q->err = err;
    q->res = res;
    q->done = 1;
    q->t1 = monoclock_seconds();
}

/* Send one question, to be answered within timeout_ms; NULL with a set on
 * failure. */
static struct ubq *ub_start(struct dns *d, const char *name, int type, unsigned timeout_ms,
                            struct dns_answer *a)
{
    struct ubq *q = calloc(1, sizeof(*q));
    if (!q) {
        dns_answer_set(a, DNS_TEMPFAIL, "out of memory");
        return NULL;
    }
    q->abandoned_count = &d->abandoned;
    q->t0 = monoclock_seconds();
    q->deadline = monoclock_ms() + timeout_ms;
    /* Not under d->mu: the callback may already run (under d->mu, in the
     * poller) before this returns; the result waits in q for us. */
    int rc = ub_resolve_async(d->ub, name, type, 1, q, ub_done, &q->id);
    if (rc != 0) {
        free(q);
        dns_answer_set(a, rc == UB_SYNTAX ? DNS_PERMFAIL : DNS_TEMPFAIL, ub_strerror(rc));
        return NULL;
    }
    return q;
}

/* Wait for q until its deadline, fill a, free q (or leave it to its
 * callback); *took is how long the question took. Returns a->status. */
static int ub_collect(struct dns *d, struct ubq *q, int type, struct dns_answer *a, double *took)
{
    struct timespec abs;
    abs.tv_sec = (time_t)(q->deadline / 1000);
    abs.tv_nsec = (long)(q->deadline % 1000) * 1000000;
    const char *why = dns_why_timeout;
    int failure = DNS_FAIL_TIMEOUT;
    pthread_mutex_lock(&d->mu);
    while (!q->done) {
        int64_t left = q->deadline - monoclock_ms();
        if (left <= 0)
            break;
        if (d->polling) {
            pthread_cond_timedwait(&d->cv, &d->mu, &abs);
            continue;
        }
        d->polling = 1;
        pthread_mutex_unlock(&d->mu);
        struct pollfd pfd = {.fd = ub_fd(d->ub), .events = POLLIN};
        int pr = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        pthread_mutex_lock(&d->mu);
        int broken = 0;
        if (pr > 0)
            broken = ub_process(d->ub) != 0;
        d->polling = 0;
        pthread_cond_broadcast(&d->cv);
        if (broken) {
            why = "libunbound answer pipe failed";
            failure = DNS_FAIL_OTHER;
            break;
        }
    }
    if (!q->done) {
        *took = monoclock_seconds() - q->t0;
        if (ub_cancel(d->ub, q->id) != 0) {
            q->abandoned = 1; /* the callback frees it */
            d->abandoned++;
        } else {
            free(q);
        }
        pthread_mutex_unlock(&d->mu);
        return dns_answer_fail(a, DNS_TEMPFAIL, failure, why);
    }
    pthread_mutex_unlock(&d->mu);
    *took = q->t1 - q->t0;
    int st;
    if (q->err)
        st = dns_answer_set(a, DNS_TEMPFAIL, ub_strerror(q->err));
    else if (!q->res)
        st = dns_answer_set(a, DNS_TEMPFAIL, "no result from libunbound");
    else
        st = from_result(d, type, q->res, a);
    ub_resolve_free(q->res);
    free(q);
    return st;
}

static int ub_setup(struct dns *d, const struct dns_opts *o, fa_err *err)
{
    int rc;
    if (!(d->ub = ub_ctx_create()))
        return fa_err_set(err, "cannot create the libunbound context");
    /* Threads, not libunbound's default of a forked process. */
    if ((rc = ub_ctx_async(d->ub, 1)) != 0)
        return fa_err_set(err, "libunbound: %s", ub_strerror(rc));
    /* Resolvers on 127.0.0.1 (local unbound, systemd-resolved, tests) are
     * normal; and only errors in libunbound's own log. */
    /* A stub asks its resolver: libunbound's built-in local answers for
     * "test." (RFC 6761, NXDOMAIN) and the RFC 1918 reverse zones would
     * hide what the configured resolver serves (a site's reverse zones,
     * a test server's example.test). "nodefault" is ignored when set
     * through ub_ctx_set_option (unbound 1.17); "transparent" works. */
    /* Each attempt waits the whole timeout (see Retransmission above).
     * libunbound keeps this value in a global: the last context made in a
     * process sets it for all (fwdauth makes one). */
    char min_rtt[16];
    snprintf(min_rtt, sizeof(min_rtt), "%u", d->timeout_ms);
    /* libunbound as a library sends at most 16 UDP questions at once (2 over
     * TCP) and queues the rest, whose time limits then run out in the
     * queue: one message's prefetch alone asks up to about 125. */
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", DNS_OUTGOING_UDP);
    if ((rc = ub_ctx_set_option(d->ub, "do-not-query-localhost:", "no")) != 0 ||
        (rc = ub_ctx_set_option(d->ub, "infra-cache-min-rtt:", min_rtt)) != 0 ||
        (rc = ub_ctx_set_option(d->ub, "outgoing-range:", ports)) != 0 ||
        (rc = ub_ctx_set_option(d->ub, "outgoing-num-tcp:", "16")) != 0 ||
        (rc = ub_ctx_set_option(d->ub, "verbosity:", "0")) != 0 ||
        (rc = ub_ctx_set_option(d->ub, "unblock-lan-zones:", "yes")) != 0 ||
        (rc = ub_ctx_set_option(d->ub, "local-zone:", "test. transparent")) != 0)
        return fa_err_set(err, "libunbound: %s", ub_strerror(rc));
    if (o->server && o->server[0]) {
        /* One or more resolvers, "ADDR" or "ADDR@PORT", split on commas or spaces. */
        const char *s = o->server;
        while (*s) {
            size_t skip = strspn(s, ", \t");
            s += skip;
            size_t l = strcspn(s, ", \t");
            if (!l)
                break;
            char addr[128];
            if (l >= sizeof(addr))
                return fa_err_set(err, "DNS server address too long");
            memcpy(addr, s, l);
            addr[l] = 0;
            if ((rc = ub_ctx_set_fwd(d->ub, addr)) != 0)
                return fa_err_set(err, "DNS server \"%s\": %s", addr, ub_strerror(rc));
            s += l;
        }
    } else if ((rc = ub_ctx_resolvconf(d->ub, NULL)) != 0) {
        return fa_err_set(err, "cannot use /etc/resolv.conf: %s", ub_strerror(rc));
    }
    if (o->trust_anchor_file && o->trust_anchor_file[0]) {
        if ((rc = ub_ctx_add_ta_file(d->ub, o->trust_anchor_file)) != 0)
            return fa_err_set(err, "trust anchor %s: %s", o->trust_anchor_file, ub_strerror(rc));
        d->have_ta = 1;
    }
    return 0;
}

/* ---- the module ---- */

static struct dns *dns_alloc(unsigned timeout_ms)
{
    struct dns *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        free(d);
        return NULL;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are monotonic */
    int ok = pthread_cond_init(&d->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok || pthread_mutex_init(&d->mu, NULL) != 0) {
        if (ok)
            pthread_cond_destroy(&d->cv);
        free(d);
        return NULL;
    }
    d->timeout_ms = timeout_ms ? timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
    return d;
}

struct dns *dns_new_from_zone(struct dns_zone *z)
{
    if (!z)
        return NULL;
    struct dns *d = dns_alloc(0);
    if (!d) {
        dns_zone_free(z);
        return NULL;
    }
    d->zone = z;
    return d;
}

struct dns *dns_new(const struct dns_opts *opts, fa_err *err)
{
    static const struct dns_opts none = {0};
    const struct dns_opts *o = opts ? opts : &none;
    if (o->zone_file) {
        char *buf = NULL;
        size_t len = 0;
        if (file_read(o->zone_file, DNS_ZONE_MAX_BYTES, 0, 0, &buf, &len, err) < 0)
            return NULL;
        struct dns_zone *z = dns_zone_parse(o->zone_file, buf, len, err);
        free(buf);
        if (!z)
            return NULL;
        struct dns *d = dns_new_from_zone(z);
        if (!d) {
            fa_err_set(err, "out of memory");
            return NULL;
        }
        d->observe = o->observe;
        d->observe_arg = o->observe_arg;
        return d;
    }
    struct dns *d = dns_alloc(o->timeout_ms);
    if (!d) {
        fa_err_set(err, "out of memory");
        return NULL;
    }
    if (ub_setup(d, o, err) < 0) {
        dns_free(d);
        return NULL;
    }
    d->observe = o->observe;
    d->observe_arg = o->observe_arg;
    return d;
}

static void memo_free(struct dns *d)
{
    for (size_t i = 0; i < d->nmemo; i++) {
        for (size_t k = 0; k < d->memo[i].n; k++)
            free(d->memo[i].rr[k].data);
        free(d->memo[i].rr);
        free(d->memo[i].name);
    }
    free(d->memo);
}

void dns_free(struct dns *d)
{
    if (!d)
        return;
    memo_free(d);
    if (d->ub) {
        pthread_mutex_lock(&d->mu);
        if (d->abandoned)
            (void)ub_process(d->ub); /* lets queued callbacks free their records */
        pthread_mutex_unlock(&d->mu);
        ub_ctx_delete(d->ub);
    }
    dns_zone_free(d->zone);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static int type_ok(int type)
{
    return type == DNS_T_A || type == DNS_T_AAAA || type == DNS_T_MX || type == DNS_T_TXT ||
           type == DNS_T_SPF || type == DNS_T_PTR || type == DNS_T_CNAME;
}

/* Called for every question a resolver (not a session) answers. */
static void observe(const struct dns *d, int type, double took, const struct dns_answer *a)
{
    if (d->observe)
        d->observe(d->observe_arg, type, took > 0 ? took : 0, a->status, a->failure);
}

/* One question to a resolver, with its own time limit. */
static int ask(struct dns *d, const char *norm, int type, unsigned timeout_ms, struct dns_answer *a)
{
    double start = monoclock_seconds(), took = 0;
    if (d->zone) {
        dns_zone_query(d->zone, norm, type, a);
        took = monoclock_seconds() - start;
    } else {
        struct ubq *q = ub_start(d, norm, type, timeout_ms, a);
        if (q)
            ub_collect(d, q, type, a, &took);
    }
    observe(d, type, took, a);
    return a->status;
}

static void answer_init(struct dns_answer *a)
{
    a->n = 0;
    a->secure = 0;
    a->why = NULL;
    a->failure = DNS_FAIL_NONE;
    a->status = DNS_PERMFAIL;
}

/* An empty answer, then the checks every question passes before it is
 * asked: 0 with the name normalized into norm, or -1 with a set. */
static int check_question(const struct dns *d, const char *name, int type, char *norm,
                          struct dns_answer *a)
{
    answer_init(a);
    if (!d || !name)
        return dns_answer_set(a, DNS_PERMFAIL, "no resolver or no name"), -1;
    if (!type_ok(type))
        return dns_answer_set(a, DNS_PERMFAIL, "unsupported query type"), -1;
    if (dns_name_norm(name, norm) < 0)
        return dns_answer_set(a, DNS_PERMFAIL,
                              "malformed name (empty label, label over 63 or name over 253)"),
               -1;
    return 0;
}

/* ---- sessions ---- */

static struct memo *memo_find(const struct dns *s, const char *norm, int type)
{
    for (size_t i = 0; i < s->nmemo; i++)
        if (s->memo[i].type == type && strcmp(s->memo[i].name, norm) == 0)
            return &s->memo[i];
    return NULL;
}

/* Remember a, within DNS_SESSION_MAX_ANSWERS answers and, for records,
 * DNS_SESSION_MAX_BYTES octets; beyond them (or without memory) an answer
 * is given but not remembered. */
static void memo_put(struct dns *s, const char *norm, int type, const struct dns_answer *a)
{
    size_t bytes = 0;
    for (size_t i = 0; i < a->n; i++)
        bytes += a->rr[i].len;
    if (s->nmemo >= DNS_SESSION_MAX_ANSWERS || bytes > DNS_SESSION_MAX_BYTES - s->memo_bytes)
        return;
    if (s->nmemo == s->memo_cap) {
        size_t cap = s->memo_cap ? s->memo_cap * 2 : 16;
        struct memo *m = realloc(s->memo, cap * sizeof(*m));
        if (!m)
            return;
        s->memo = m;
        s->memo_cap = cap;
    }
    struct memo *m = &s->memo[s->nmemo];
    *m = (struct memo){.type = type,
                       .status = a->status,
                       .secure = a->secure,
                       .failure = a->failure,
                       .why = a->why,
                       .name = strdup(norm),
                       .rr = a->n ? calloc(a->n, sizeof(*m->rr)) : NULL};
    int ok = m->name && (m->rr || !a->n);
    for (size_t i = 0; ok && i < a->n; i++) {
        m->rr[i] = a->rr[i];
        ok = (m->rr[i].data = malloc(a->rr[i].len + 1)) != NULL;
        if (ok) {
            memcpy(m->rr[i].data, a->rr[i].data, a->rr[i].len + 1);
            m->n++;
        }
    }
    if (!ok) {
        for (size_t i = 0; i < m->n; i++)
            free(m->rr[i].data);
        free(m->rr);
        free(m->name);
        return;
    }
    s->nmemo++;
    s->memo_bytes += bytes;
}

static int memo_give(const struct memo *m, struct dns_answer *a)
{
    for (size_t i = 0; i < m->n; i++)
        if (dns_answer_add(a, m->rr[i].data, m->rr[i].len, m->rr[i].pref) < 0)
            return dns_answer_set(a, DNS_TEMPFAIL, "out of memory");
    a->status = m->status;
    a->secure = m->secure;
    a->failure = m->failure;
    a->why = m->why;
    return a->status;
}

/* The time limit of the session's next question: min(the resolver's
 * timeout, what is left of the budget); -1 when nothing is left. */
static int session_limit(const struct dns *s, unsigned *limit)
{
    unsigned full = s->parent->timeout_ms;
    *limit = full;
    if (!s->budget_ms)
        return 0;
    int64_t left = (int64_t)s->budget_ms - (monoclock_ms() - s->start_ms) - s->charged_ms;
    if (left <= 0)
        return -1;
    if (left < full)
        *limit = (unsigned)left;
    return 0;
}

/* After the session's question was answered within limit ms: a timeout
 * in a zone file counts as waited; one cut short by the budget says so. */
static void session_account(struct dns *s, unsigned limit, struct dns_answer *a)
{
    if (a->failure != DNS_FAIL_TIMEOUT)
        return;
    if (s->parent->zone)
        s->charged_ms += limit;
    if (limit < s->parent->timeout_ms) {
        s->spent = 1;
        a->why = dns_why_budget;
    }
}

static int session_query(struct dns *s, const char *norm, int type, struct dns_answer *a)
{
    const struct memo *m = memo_find(s, norm, type);
    if (m) {
        s->remembered++;
        return memo_give(m, a);
    }
    unsigned limit;
    if (session_limit(s, &limit) < 0) {
        s->spent = 1;
        s->refused++;
        return dns_answer_fail(a, DNS_TEMPFAIL, DNS_FAIL_TIMEOUT, dns_why_budget);
    }
    s->asked++;
    ask(s->parent, norm, type, limit, a);
    session_account(s, limit, a);
    memo_put(s, norm, type, a);
    return a->status;
}

struct dns *dns_session_new(struct dns *resolver, unsigned budget_ms)
{
    while (resolver && resolver->parent)
        resolver = resolver->parent;
    if (!resolver)
        return NULL;
    struct dns *s = dns_alloc(resolver->timeout_ms);
    if (!s)
        return NULL;
    s->parent = resolver;
    s->budget_ms = budget_ms;
    s->start_ms = monoclock_ms();
    return s;
}

void dns_prefetch(struct dns *s, const struct dns_question *q, size_t n)
{
    if (!s || !s->parent || !q)
        return;
    if (n > DNS_PREFETCH_MAX)
        n = DNS_PREFETCH_MAX;
    struct flight {
        struct ubq *q;
        char name[DNS_NAME_MAX + 1];
        int type;
        unsigned limit;
    } *f = calloc(n ? n : 1, sizeof(*f));
    if (!f)
        return;
    struct dns *r = s->parent;
    struct dns_answer a;
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        char norm[DNS_NAME_MAX + 1];
        if (check_question(s, q[i].name, q[i].type, norm, &a) < 0 || memo_find(s, norm, q[i].type))
            continue;
        int dup = 0;
        for (size_t k = 0; k < nf && !dup; k++)
            dup = f[k].type == q[i].type && strcmp(f[k].name, norm) == 0;
        if (dup)
            continue;
        if (r->zone) { /* answers at once: nothing to overlap */
            session_query(s, norm, q[i].type, &a);
            dns_answer_free(&a);
            continue;
        }
        if (session_limit(s, &f[nf].limit) < 0)
            break; /* the questions asked later get "spent" */
        if (!(f[nf].q = ub_start(r, norm, q[i].type, f[nf].limit, &a)))
            continue;
        memcpy(f[nf].name, norm, sizeof(norm));
        f[nf].type = q[i].type;
        s->asked++;
        nf++;
    }
    /* Each wait runs every callback that arrived: the questions are
     * answered together, in about the time of the slowest. */
    for (size_t i = 0; i < nf; i++) {
        double took = 0;
        answer_init(&a);
        ub_collect(r, f[i].q, f[i].type, &a, &took);
        observe(r, f[i].type, took, &a);
        session_account(s, f[i].limit, &a);
        memo_put(s, f[i].name, f[i].type, &a);
        dns_answer_free(&a);
    }
    free(f);
}

void dns_session_info(const struct dns *s, struct dns_session_info *out)
{
    memset(out, 0, sizeof(*out));
    if (!s || !s->parent)
        return;
    out->budget_ms = s->budget_ms;
    out->asked = s->asked;
    out->remembered = s->remembered;
    out->refused = s->refused;
    out->spent = s->spent;
    out->seconds = (double)(monoclock_ms() - s->start_ms + s->charged_ms) / 1000.0;
}

/* ---- questions ---- */

int dns_query(struct dns *d, const char *name, int type, struct dns_answer *a)
{
    char norm[DNS_NAME_MAX + 1];
    if (check_question(d, name, type, norm, a) < 0) {
        const struct dns *r = d && d->parent ? d->parent : d;
        if (r)
            observe(r, type, 0, a);
        return a->status;
    }
    if (d->parent)
        return session_query(d, norm, type, a);
    return ask(d, norm, type, d->timeout_ms, a);
}
