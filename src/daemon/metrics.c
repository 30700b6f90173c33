/* metrics - counters, gauges, histograms and their Prometheus text; see metrics.h. */
#include "metrics.h"

#include "arc.h"
#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
#include "spf.h"
#include "srsstore.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef atomic_uint_least64_t counter;

#define SIGN_NBUCKETS 13
static const double sign_buckets[SIGN_NBUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
#define DNS_NBUCKETS 14
static const double dns_buckets[DNS_NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define MAX_BUCKETS 14

/* Counts per bucket (not cumulative; the last one is +Inf) and the sum. */
struct histogram {
    counter bucket[MAX_BUCKETS + 1];
    counter sum_ns;
};

enum dns_type_label { DT_A, DT_AAAA, DT_MX, DT_PTR, DT_TXT, DT_OTHER, DT_N };
/* SRS store results: get hit|miss|error, put ok|error. */
enum store_result_label { SR_HIT, SR_MISS, SR_OK, SR_ERROR, SR_N };
#define STORE_OPS 2 /* enum srsstore_op: get, put */
_Static_assert(SRSSTORE_GET == 0 && SRSSTORE_PUT == 1, "store_op_names");
enum dns_error_label { DE_TIMEOUT, DE_SERVFAIL, DE_OTHER, DE_N };

#define AUTH_VALUES_MAX 7 /* the most results of one method (SPF, DKIM) */
static const int auth_nvalues[METRICS_NAUTH] = {SPF_PERMERROR + 1, DKIM_PERMERROR + 1,
                                                DMARC_PERMERROR + 1, ARC_CV_FAIL + 1};
_Static_assert(SPF_PERMERROR < AUTH_VALUES_MAX && DKIM_PERMERROR < AUTH_VALUES_MAX &&
                   DMARC_PERMERROR < AUTH_VALUES_MAX && ARC_CV_FAIL < AUTH_VALUES_MAX,
               "AUTH_VALUES_MAX too small");

struct metrics {
    counter srs[METRICS_NPROTOCOLS][METRICS_NMAPS][METRICS_NRESULTS];
    counter actions[METRICS_NACTIONS];
    counter aborted;
    counter sigs[METRICS_NSIGS];
    counter rewrites[METRICS_NREWRITES];
    counter auth[METRICS_NAUTH][AUTH_VALUES_MAX];
    struct histogram sign[METRICS_NSIGNKINDS];
    struct histogram dns[DT_N];
    counter store[STORE_OPS][SR_N];
    struct histogram store_time[STORE_OPS];
    counter dns_errors[DE_N];
    counter conns[METRICS_NLISTENERS];
    counter refused[METRICS_NLISTENERS];
    /* Open connections per process slot (metrics_use_slot): a worker that
     * ends takes its count with it (metrics_clear_slot). */
    atomic_int_least64_t active[METRICS_SLOTS][METRICS_NLISTENERS];
    counter reloads[METRICS_NRELOADS];
    atomic_int_least64_t last_reload_ms;
    int64_t start_ms; /* set once by metrics_new */
    int shared;       /* mapped by metrics_new_shared */
};

/* The slot this process counts its open connections in: process-wide,
 * set once at a worker's start. */
static unsigned this_slot;

static const char *const protocol_names[METRICS_NPROTOCOLS] = {"socketmap", "tcp_table"};
static const char *const map_names[METRICS_NMAPS] = {"forward", "reverse", "unknown"};
static const char *const lookup_names[METRICS_NRESULTS] = {"found", "notfound", "temp", "error"};
static const char *const action_names[METRICS_NACTIONS] = {"accept",   "continue", "reject",
                                                           "tempfail", "discard",  "quarantine"};
static const char *const sig_names[METRICS_NSIGS] = {"dkim", "forwarder", "arc"};
static const char *const sign_names[METRICS_NSIGNKINDS] = {"dkim", "arc"};
static const char *const dns_type_names[DT_N] = {"a", "aaaa", "mx", "ptr", "txt", "other"};
static const char *const dns_error_names[DE_N] = {"timeout", "servfail", "other"};
static const char *const store_op_names[STORE_OPS] = {"get", "put"};
static const char *const store_result_names[SR_N] = {"hit", "miss", "ok", "error"};
static const char *const listener_names[METRICS_NLISTENERS] = {"socketmap", "tcp_forward",
                                                               "tcp_reverse", "milter"};
static const char *const reload_names[METRICS_NRELOADS] = {"success", "failure"};

#define INC(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)
#define LOAD(c) atomic_load_explicit(&(c), memory_order_relaxed)
#define IN(i, n) ((i) >= 0 && (i) < (n))

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct metrics *metrics_new(void)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->start_ms = now_ms();
    atomic_store_explicit(&m->last_reload_ms, m->start_ms, memory_order_relaxed);
    return m;
}

/* Atomics in memory that processes share must not hide a lock. */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free to be shared");

struct metrics *metrics_new_shared(void)
{
    void *p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct metrics *m = p; /* zero-filled */
    m->shared = 1;
    m->start_ms = now_ms();
    atomic_store_explicit(&m->last_reload_ms, m->start_ms, memory_order_relaxed);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (m && m->shared)
        munmap(m, sizeof(*m));
    else
        free(m);
}

void metrics_use_slot(struct metrics *m, unsigned slot)
{
    (void)m;
    this_slot = slot < METRICS_SLOTS ? slot : 0;
}

void metrics_clear_slot(struct metrics *m, unsigned slot)
{
    if (!m || slot == 0 || slot >= METRICS_SLOTS)
        return;
    for (int i = 0; i < METRICS_NLISTENERS; i++)
        atomic_store_explicit(&m->active[slot][i], 0, memory_order_relaxed);
}

/* ---- updates ------------------------------------------------------------- */

void metrics_srs_lookup(struct metrics *m, int protocol, int map, int result)
{
    if (m && IN(protocol, METRICS_NPROTOCOLS) && IN(map, METRICS_NMAPS) &&
        IN(result, METRICS_NRESULTS))
        INC(m->srs[protocol][map][result]);
}

void metrics_milter_message(struct metrics *m, int action)
{
    if (m && IN(action, METRICS_NACTIONS))
        INC(m->actions[action]);
}

void metrics_milter_aborted(struct metrics *m)
{
    if (m)
        INC(m->aborted);
}

void metrics_signature(struct metrics *m, int kind)
{
    if (m && IN(kind, METRICS_NSIGS))
        INC(m->sigs[kind]);
}

void metrics_rewrite(struct metrics *m, int kind)
{
    if (m && IN(kind, METRICS_NREWRITES))
        INC(m->rewrites[kind]);
}

void metrics_auth_result(struct metrics *m, int method, int result)
{
    if (m && IN(method, METRICS_NAUTH) && IN(result, auth_nvalues[method]))
        INC(m->auth[method][result]);
}

static void observe(struct histogram *h, const double *bounds, size_t n, double seconds)
{
    if (!(seconds >= 0)) /* also NaN */
        seconds = 0;
    size_t i = 0;
    while (i < n && seconds > bounds[i])
        i++;
    INC(h->bucket[i]);
    double ns = seconds * 1e9 + 0.5;
    uint64_t add = ns >= 1.8e19 ? UINT64_C(18000000000000000000) : (uint64_t)ns;
    atomic_fetch_add_explicit(&h->sum_ns, add, memory_order_relaxed);
}

void metrics_sign_duration(struct metrics *m, int kind, double seconds)
{
    if (m && IN(kind, METRICS_NSIGNKINDS))
        observe(&m->sign[kind], sign_buckets, SIGN_NBUCKETS, seconds);
}

void metrics_srs_store(void *arg, int op, int result, double seconds)
{
    struct metrics *m = arg;
    if (!m || !IN(op, STORE_OPS))
        return;
    int r = result == SRS_STORE_ERROR  ? SR_ERROR
            : result == SRS_STORE_MISS ? SR_MISS
            : op == SRSSTORE_PUT       ? SR_OK
                                       : SR_HIT;
    INC(m->store[op][r]);
    observe(&m->store_time[op], sign_buckets, SIGN_NBUCKETS, seconds);
}

static int dns_type_label(int type)
{
    switch (type) {
    case DNS_T_A:
        return DT_A;
    case DNS_T_AAAA:
        return DT_AAAA;
    case DNS_T_MX:
        return DT_MX;
    case DNS_T_PTR:
        return DT_PTR;
    case DNS_T_TXT:
        return DT_TXT;
    default:
        return DT_OTHER;
    }
}

void metrics_dns_query(struct metrics *m, int type, double seconds, int failure)
{
    if (!m)
        return;
    observe(&m->dns[dns_type_label(type)], dns_buckets, DNS_NBUCKETS, seconds);
    if (failure == DNS_FAIL_TIMEOUT)
        INC(m->dns_errors[DE_TIMEOUT]);
    else if (failure == DNS_FAIL_SERVFAIL)
        INC(m->dns_errors[DE_SERVFAIL]);
    else if (failure != DNS_FAIL_NONE)
        INC(m->dns_errors[DE_OTHER]);
}

void metrics_connection_open(struct metrics *m, int listener)
{
    if (!m || !IN(listener, METRICS_NLISTENERS))
        return;
    INC(m->conns[listener]);
    atomic_fetch_add_explicit(&m->active[this_slot][listener], 1, memory_order_relaxed);
}

void metrics_connection_close(struct metrics *m, int listener)
{
    if (m && IN(listener, METRICS_NLISTENERS))
        atomic_fetch_sub_explicit(&m->active[this_slot][listener], 1, memory_order_relaxed);
}

void metrics_connection_refused(struct metrics *m, int listener)
{
    if (m && IN(listener, METRICS_NLISTENERS))
        INC(m->refused[listener]);
}

void metrics_reload(struct metrics *m, int ok, time_t now)
{
    if (!m)
        return;
    INC(m->reloads[ok ? METRICS_RELOAD_SUCCESS : METRICS_RELOAD_FAILURE]);
    if (ok)
        atomic_store_explicit(&m->last_reload_ms, (int64_t)now * 1000, memory_order_relaxed);
}

/* ---- exposition ---------------------------------------------------------- */

long metrics_escape_label(const char *in, char *out, size_t outsz)
{
    size_t o = 0;
    if (outsz == 0)
        return -1;
    for (const char *p = in; *p; p++) {
        const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t need = rep ? 2 : 1;
        if (outsz - o <= need) {
            out[o] = '\0';
            return -1;
        }
        if (rep) {
            out[o++] = rep[0];
            out[o++] = rep[1];
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* A bounded writer: once something does not fit, it stays failed. */
struct writer {
    char *buf;
    size_t cap, len;
    int full;
};

static void put(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct writer *w, const char *fmt, ...)
{
    if (w->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->cap - w->len) {
        w->full = 1;
        return;
    }
    w->len += (size_t)n;
}

struct label {
    const char *name, *value;
};

#define LABEL_VALUE_MAX 128

/* name{l1="v1",...} without the value. */
static void put_series(struct writer *w, const char *name, const char *suffix,
                       const struct label *l, size_t nl)
{
    put(w, "%s%s", name, suffix);
    if (nl == 0)
        return;
    put(w, "{");
    for (size_t i = 0; i < nl; i++) {
        char v[LABEL_VALUE_MAX];
        if (metrics_escape_label(l[i].value, v, sizeof(v)) < 0) {
            w->full = 1;
            return;
        }
        put(w, "%s%s=\"%s\"", i ? "," : "", l[i].name, v);
    }
    put(w, "}");
}

static void put_u64(struct writer *w, const char *name, const char *suffix, const struct label *l,
                    size_t nl, uint64_t v)
{
    put_series(w, name, suffix, l, nl);
    put(w, " %" PRIu64 "\n", v);
}

static void put_i64(struct writer *w, const char *name, const struct label *l, size_t nl, int64_t v)
{
    put_series(w, name, "", l, nl);
    put(w, " %" PRId64 "\n", v);
}

/* Milliseconds since the epoch, as seconds. */
static void put_ms(struct writer *w, const char *name, int64_t ms)
{
    put(w, "%s %" PRId64 ".%03" PRId64 "\n", name, ms / 1000, ms % 1000);
}

/* HELP text is ours and needs no escaping (no \ or LF); TYPE follows. */
static void family(struct writer *w, const char *name, const char *type, const char *help)
{
    put(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_histogram(struct writer *w, const char *name, const struct histogram *h,
                          const double *bounds, size_t n, const struct label *l)
{
    struct label ll[2] = {l[0], {"le", NULL}};
    uint64_t cum = 0;
    char le[32];
    for (size_t i = 0; i <= n; i++) {
        cum += LOAD(h->bucket[i]);
        if (i < n)
            snprintf(le, sizeof(le), "%g", bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        ll[1].value = le;
        put_u64(w, name, "_bucket", ll, 2, cum);
    }
    uint64_t ns = LOAD(h->sum_ns);
    put_series(w, name, "_sum", l, 1);
    put(w, " %" PRIu64 ".%09" PRIu64 "\n", ns / 1000000000u, ns % 1000000000u);
    put_u64(w, name, "_count", l, 1, cum);
}

static const char *auth_value_name(int method, int v)
{
    switch (method) {
    case METRICS_SPF:
        return spf_result_name(v);
    case METRICS_DKIM:
        return dkim_result_name(v);
    case METRICS_DMARC:
        return dmarc_result_name(v);
    default:
        return arc_cv_name(v);
    }
}

static void render(const struct metrics *mc, struct writer *w)
{
    /* Atomic loads need a non-const object; nothing is written. */
    struct metrics *m = (struct metrics *)mc;
    const char *n;

    n = "fwdauth_srs_lookups_total";
    family(w, n, "counter", "SRS table lookups answered, by protocol, map and result.");
    for (int p = 0; p < METRICS_NPROTOCOLS; p++)
        for (int k = 0; k < METRICS_NMAPS; k++)
            for (int r = 0; r < METRICS_NRESULTS; r++) {
                if (k == METRICS_MAP_UNKNOWN && (r != METRICS_ERROR || p != METRICS_SOCKETMAP))
                    continue;
                struct label l[3] = {{"protocol", protocol_names[p]},
                                     {"map", map_names[k]},
                                     {"result", lookup_names[r]}};
                put_u64(w, n, "", l, 3, LOAD(m->srs[p][k][r]));
            }

    n = "fwdauth_srs_store_requests_total";
    family(w, n, "counter", "Requests to the SRS store, by operation and result.");
    for (int o = 0; o < STORE_OPS; o++)
        for (int r = 0; r < SR_N; r++) {
            /* get: hit, miss, error; put: ok, error */
            if (o == SRSSTORE_GET ? r == SR_OK : (r == SR_HIT || r == SR_MISS))
                continue;
            struct label l[2] = {{"op", store_op_names[o]}, {"result", store_result_names[r]}};
            put_u64(w, n, "", l, 2, LOAD(m->store[o][r]));
        }
    n = "fwdauth_srs_store_duration_seconds";
    family(w, n, "histogram", "Time of each request to the SRS store, in seconds.");
    for (int o = 0; o < STORE_OPS; o++) {
        struct label l = {"op", store_op_names[o]};
        put_histogram(w, n, &m->store_time[o], sign_buckets, SIGN_NBUCKETS, &l);
    }

    n = "fwdauth_milter_messages_total";
    family(w, n, "counter", "Milter messages by the final answer given to the MTA.");
    for (int a = 0; a < METRICS_NACTIONS; a++) {
        struct label l = {"action", action_names[a]};
        put_u64(w, n, "", &l, 1, LOAD(m->actions[a]));
    }
    n = "fwdauth_milter_messages_aborted_total";
    family(w, n, "counter", "Milter messages that ended without a final answer.");
    put_u64(w, n, "", NULL, 0, LOAD(m->aborted));

    n = "fwdauth_milter_signatures_total";
    family(w, n, "counter", "Signatures added to messages that went on, by kind.");
    for (int k = 0; k < METRICS_NSIGS; k++) {
        struct label l = {"kind", sig_names[k]};
        put_u64(w, n, "", &l, 1, LOAD(m->sigs[k]));
    }
    n = "fwdauth_milter_srs_rewrites_total";
    family(w, n, "counter", "Envelope senders of forwarded mail rewritten with SRS.");
    put_u64(w, n, "", NULL, 0, LOAD(m->rewrites[METRICS_REWRITE_SRS]));
    n = "fwdauth_milter_from_rewrites_total";
    family(w, n, "counter", "From: fields of forwarded mail rewritten (from_rewrite).");
    put_u64(w, n, "", NULL, 0, LOAD(m->rewrites[METRICS_REWRITE_FROM]));

    static const char *const auth_families[METRICS_NAUTH][2] = {
        {"fwdauth_spf_results_total", "SPF results of inbound messages."},
        {"fwdauth_dkim_results_total",
         "DKIM results of inbound messages (the best aligned signature)."},
        {"fwdauth_dmarc_results_total", "DMARC results of inbound messages."},
        {"fwdauth_arc_results_total", "ARC chain results (cv) of inbound messages."},
    };
    for (int a = 0; a < METRICS_NAUTH; a++) {
        family(w, auth_families[a][0], "counter", auth_families[a][1]);
        for (int v = 0; v < auth_nvalues[a]; v++) {
            struct label l = {"result", auth_value_name(a, v)};
            put_u64(w, auth_families[a][0], "", &l, 1, LOAD(m->auth[a][v]));
        }
    }

    n = "fwdauth_sign_duration_seconds";
    family(w, n, "histogram", "Time to make one DKIM signature or one ARC seal, in seconds.");
    for (int k = 0; k < METRICS_NSIGNKINDS; k++) {
        struct label l = {"kind", sign_names[k]};
        put_histogram(w, n, &m->sign[k], sign_buckets, SIGN_NBUCKETS, &l);
    }
    n = "fwdauth_dns_query_duration_seconds";
    family(w, n, "histogram", "Time of each DNS query of the milter, in seconds.");
    for (int t = 0; t < DT_N; t++) {
        struct label l = {"type", dns_type_names[t]};
        put_histogram(w, n, &m->dns[t], dns_buckets, DNS_NBUCKETS, &l);
    }
    n = "fwdauth_dns_errors_total";
    family(w, n, "counter", "DNS queries that failed, by kind.");
    for (int k = 0; k < DE_N; k++) {
        struct label l = {"kind", dns_error_names[k]};
        put_u64(w, n, "", &l, 1, LOAD(m->dns_errors[k]));
    }

    n = "fwdauth_connections_total";
    family(w, n, "counter", "Client connections accepted and served, by listener.");
    for (int i = 0; i < METRICS_NLISTENERS; i++) {
        struct label l = {"listener", listener_names[i]};
        put_u64(w, n, "", &l, 1, LOAD(m->conns[i]));
    }
    n = "fwdauth_connections_active";
    family(w, n, "gauge", "Client connections open now, by listener.");
    for (int i = 0; i < METRICS_NLISTENERS; i++) {
        struct label l = {"listener", listener_names[i]};
        int64_t open = 0;
        for (int k = 0; k < METRICS_SLOTS; k++)
            open += LOAD(m->active[k][i]);
        put_i64(w, n, &l, 1, open);
    }
    n = "fwdauth_connections_refused_total";
    family(w, n, "counter", "Client connections closed at once over connection_limit.");
    for (int i = 0; i < METRICS_NLISTENERS; i++) {
        struct label l = {"listener", listener_names[i]};
        put_u64(w, n, "", &l, 1, LOAD(m->refused[i]));
    }

    n = "fwdauth_config_reloads_total";
    family(w, n, "counter", "Configuration reloads (SIGHUP) by result.");
    for (int r = 0; r < METRICS_NRELOADS; r++) {
        struct label l = {"result", reload_names[r]};
        put_u64(w, n, "", &l, 1, LOAD(m->reloads[r]));
    }
    n = "fwdauth_config_last_reload_success_timestamp_seconds";
    family(w, n, "gauge", "When the configuration in force was loaded (Unix time).");
    put_ms(w, n, LOAD(m->last_reload_ms));
    n = "fwdauth_start_time_seconds";
    family(w, n, "gauge", "When fwdauthd started (Unix time).");
    put_ms(w, n, m->start_ms);
    n = "fwdauth_build_info";
    family(w, n, "gauge", "Always 1; the version of fwdauthd in a label.");
    struct label l = {"version", FWDAUTH_VERSION};
    put_u64(w, n, "", &l, 1, 1);
}

int metrics_render(const struct metrics *m, char *buf, size_t cap, size_t *len)
{
    if (!m || !buf || cap == 0)
        return -1;
    struct writer w = {buf, cap, 0, 0};
    render(m, &w);
    if (w.full) {
        buf[0] = '\0';
        return -1;
    }
    *len = w.len;
    return 0;
}
