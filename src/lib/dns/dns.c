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
 * libunbound caches answers itself (per its TTLs), so this module keeps no
 * cache; zone files are in memory and need none.
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

/* Reasons whose identity (the pointer) classifies a failure for
 * dns_opts.observe (failure_kind); dns_zone.h has the zone file's TIMEOUT. */
static const char dns_why_timeout[] = "timeout";
static const char dns_why_servfail[] = "SERVFAIL from the resolver";

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
};

/* One libunbound question in flight; guarded by dns.mu. */
struct ubq {
    int done, abandoned, err;
    struct ub_result *res;
    size_t *abandoned_count;
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
        return dns_answer_set(a, DNS_TEMPFAIL, dns_why_servfail);
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
}

static int ub_query(struct dns *d, const char *name, int type, struct dns_answer *a)
{
    struct ubq *q = calloc(1, sizeof(*q));
    if (!q)
        return dns_answer_set(a, DNS_TEMPFAIL, "out of memory");
    q->abandoned_count = &d->abandoned;
    int64_t deadline = monoclock_ms() + d->timeout_ms;
    struct timespec abs;
    abs.tv_sec = (time_t)(deadline / 1000);
    abs.tv_nsec = (long)(deadline % 1000) * 1000000;

    /* Not under d->mu: the callback may already run (under d->mu, in the
     * poller) before this returns; the result waits in q for us. */
    int id = 0;
    int rc = ub_resolve_async(d->ub, name, type, 1, q, ub_done, &id);
    if (rc != 0) {
        free(q);
        return dns_answer_set(a, rc == UB_SYNTAX ? DNS_PERMFAIL : DNS_TEMPFAIL, ub_strerror(rc));
    }
    const char *why = dns_why_timeout;
    pthread_mutex_lock(&d->mu);
    while (!q->done) {
        int64_t left = deadline - monoclock_ms();
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
            break;
        }
    }
    if (!q->done) {
        if (ub_cancel(d->ub, id) != 0) {
            q->abandoned = 1; /* the callback frees it */
            d->abandoned++;
        } else {
            free(q);
        }
        pthread_mutex_unlock(&d->mu);
        return dns_answer_set(a, DNS_TEMPFAIL, why);
    }
    pthread_mutex_unlock(&d->mu);
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
    if ((rc = ub_ctx_set_option(d->ub, "do-not-query-localhost:", "no")) != 0 ||
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

void dns_free(struct dns *d)
{
    if (!d)
        return;
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

static int failure_kind(const struct dns_answer *a)
{
    if (a->status != DNS_TEMPFAIL && a->status != DNS_PERMFAIL)
        return DNS_FAIL_NONE;
    if (a->why == dns_why_timeout || a->why == dns_why_zone_timeout)
        return DNS_FAIL_TIMEOUT;
    if (a->why == dns_why_servfail)
        return DNS_FAIL_SERVFAIL;
    return DNS_FAIL_OTHER;
}

static int query(struct dns *d, const char *name, int type, struct dns_answer *a);

int dns_query(struct dns *d, const char *name, int type, struct dns_answer *a)
{
    if (!d || !d->observe)
        return query(d, name, type, a);
    double start = monoclock_seconds();
    int st = query(d, name, type, a);
    double took = monoclock_seconds() - start;
    d->observe(d->observe_arg, type, took > 0 ? took : 0, st, failure_kind(a));
    return st;
}

static int query(struct dns *d, const char *name, int type, struct dns_answer *a)
{
    char norm[DNS_NAME_MAX + 1];
    a->n = 0;
    a->secure = 0;
    a->why = NULL;
    a->status = DNS_PERMFAIL;
    if (!d || !name)
        return dns_answer_set(a, DNS_PERMFAIL, "no resolver or no name");
    if (!type_ok(type))
        return dns_answer_set(a, DNS_PERMFAIL, "unsupported query type");
    if (dns_name_norm(name, norm) < 0)
        return dns_answer_set(a, DNS_PERMFAIL,
                              "malformed name (empty label, label over 63 or name over 253)");
    if (d->zone)
        return dns_zone_query(d->zone, norm, type, a);
    return ub_query(d, norm, type, a);
}
