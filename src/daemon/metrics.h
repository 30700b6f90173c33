/*
 * NAME
 *   metrics - fwdauthd's counters, gauges and histograms, in Prometheus text
 * SUMMARY
 *   A registry of every metric the daemon keeps: lock-free counters and
 *   gauges (C11 atomics, relaxed order) and histograms with fixed buckets,
 *   updated from any thread on the mail path, and metrics_render, which
 *   writes them all in the Prometheus text exposition format 0.0.4 into a
 *   bounded buffer (served by metrics_http.h).
 * SYNOPSIS
 *   struct metrics *m = metrics_new();             main, once; outlives reloads
 *   m = metrics_new_shared();                      fwdauthd's master: shared with its children
 *   metrics_use_slot(m, 3);                        a worker: its open connections in slot 3
 *   metrics_clear_slot(m, 3);                      the master: that worker has ended
 *   metrics_srs_lookup(m, METRICS_SOCKETMAP, METRICS_MAP_FORWARD, METRICS_FOUND);
 *   metrics_sign_duration(m, METRICS_SIGN_DKIM, 0.0012);
 *   char *buf = malloc(METRICS_RENDER_MAX); size_t len;
 *   if (metrics_render(m, buf, METRICS_RENDER_MAX, &len) == 0) send buf[0..len)
 *   metrics_free(m);                               after every user is gone
 * DESCRIPTION
 *   The registry is owned by main and passed down as a pointer (runtime.h
 *   keeps it in each snapshot for the milter and the resolver; server.h
 *   gets it for the listeners); it is not a global, and it survives SIGHUP
 *   reloads. metrics_new_shared puts the registry in memory shared with
 *   the processes forked after it (mmap MAP_SHARED): fwdauthd's master
 *   makes it, every worker counts into it, so counts survive a worker's
 *   replacement (a reload) or crash. The open-connection gauges are kept
 *   per slot (METRICS_SLOTS; the master gives each live worker its own,
 *   slot 0 is shared and never cleared) and summed when written; a
 *   worker that ends has its slot cleared, so its connections do not stay
 *   counted. Every update function accepts m == NULL and then does nothing
 *   (unit tests, the CLI), and ignores label indexes out of range. An
 *   update is one or two relaxed atomic additions: it never blocks and
 *   never allocates, so the mail path never waits for a scrape.
 *   Metrics and labels (all series exist from the start, at 0):
 *     fwdauth_srs_lookups_total{protocol,map,result} counter
 *         protocol socketmap|tcp_table; map forward|reverse, or unknown
 *         (only with result="error": a socketmap request without a valid
 *         map name); result found (rewritten) | notfound (left unchanged)
 *         | temp (temporary failure: socketmap TEMP, tcp_table 400) |
 *         error (malformed request: socketmap PERM, tcp_table 500, also
 *         for a tcp_table line over 4096 octets)
 *     fwdauth_srs_store_requests_total{op,result} counter: requests to
 *         the SRS store (srs_store): op get (reverse of an alias) with
 *         result hit | miss | error, op put (a sender stored) with result
 *         ok | error; error = down, slow, refused or an unreadable reply
 *     fwdauth_srs_store_duration_seconds{op} histogram: get | put, each
 *         request to the SRS store, connect included
 *     fwdauth_milter_messages_total{action} counter: messages that got a
 *         final answer: accept | continue (went on, with our changes) |
 *         reject | tempfail | discard | quarantine (went on, held)
 *     fwdauth_milter_messages_aborted_total counter: messages that ended
 *         without an answer (RSET, client gone, QUIT, protocol error)
 *     fwdauth_milter_signatures_total{kind} counter, on messages that went
 *         on: dkim (our users' mail, SigningTable) | forwarder
 *         (forward_signing_key) | arc (an ARC set)
 *     fwdauth_milter_srs_rewrites_total, fwdauth_milter_from_rewrites_total
 *         counters, on messages that went on
 *     fwdauth_spf_results_total, fwdauth_dkim_results_total,
 *     fwdauth_dmarc_results_total, fwdauth_arc_results_total {result}
 *         counters: one per inbound message checked, per method; the
 *         result names of spf.h, dkim.h (DKIM: the message's summary, the
 *         best aligned signature: arrival.h), dmarc.h, arc.h (cv)
 *     fwdauth_sign_duration_seconds{kind} histogram: dkim (one DKIM
 *         signing at end of message: header hash and private-key
 *         operation) | arc (one ARC seal, with the chain check it needs)
 *     fwdauth_dns_query_duration_seconds{type} histogram: a|aaaa|mx|ptr|
 *         txt|other, one per query of the milter's resolver
 *     fwdauth_dns_errors_total{kind} counter: timeout | servfail | other
 *         (temporary or permanent failures; NXDOMAIN and NODATA are
 *         answers, not errors)
 *     fwdauth_connections_total{listener}, fwdauth_connections_refused_total
 *         {listener} counters, fwdauth_connections_active{listener} gauge:
 *         socketmap | tcp_forward | tcp_reverse | milter; refused = over
 *         connection_limit
 *     fwdauth_config_reloads_total{result} counter: success | failure
 *     fwdauth_config_last_reload_success_timestamp_seconds gauge (the start
 *         counts as the first successful load)
 *     fwdauth_start_time_seconds gauge; fwdauth_build_info{version} gauge 1
 *   Histogram buckets: signing and the SRS store 0.0001 0.00025 0.0005
 *   0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 seconds;
 *   DNS 0.0005 0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10
 *   seconds. Sums are kept in
 *   nanoseconds and written exactly as seconds.
 *   metrics_render writes "# HELP" and "# TYPE" once per family, then its
 *   samples; label values are escaped (\\, \", \n) as the format wants.
 *   A scrape reads each atomic once: a histogram's _count is its +Inf
 *   bucket as written, so the two always agree in one output.
 * SECURITY
 *   Only counts, durations and fixed label values are kept: no address,
 *   key, secret or other client data ever reaches the output.
 * DIAGNOSTICS
 *   metrics_new and metrics_new_shared return NULL when out of memory. metrics_render returns 0
 *   with *len set, or -1 when the output does not fit in cap (nothing
 *   usable is written then).
 */
#ifndef FWDAUTHD_METRICS_H
#define FWDAUTHD_METRICS_H

#include <stddef.h>
#include <time.h>

/* Enough for every series with room to spare (the output is about 20 KB). */
#define METRICS_RENDER_MAX (128 * 1024)

enum metrics_listener {
    METRICS_L_SOCKETMAP,
    METRICS_L_TCP_FORWARD,
    METRICS_L_TCP_REVERSE,
    METRICS_L_MILTER,
    METRICS_NLISTENERS
};
enum metrics_protocol { METRICS_SOCKETMAP, METRICS_TCP_TABLE, METRICS_NPROTOCOLS };
enum metrics_map { METRICS_MAP_FORWARD, METRICS_MAP_REVERSE, METRICS_MAP_UNKNOWN, METRICS_NMAPS };
enum metrics_lookup {
    METRICS_FOUND,
    METRICS_NOTFOUND,
    METRICS_TEMP,
    METRICS_ERROR,
    METRICS_NRESULTS
};
enum metrics_action {
    METRICS_ACCEPT,
    METRICS_CONTINUE,
    METRICS_REJECT,
    METRICS_TEMPFAIL,
    METRICS_DISCARD,
    METRICS_QUARANTINE,
    METRICS_NACTIONS
};
enum metrics_signature { METRICS_SIG_DKIM, METRICS_SIG_FORWARDER, METRICS_SIG_ARC, METRICS_NSIGS };
enum metrics_rewrite { METRICS_REWRITE_SRS, METRICS_REWRITE_FROM, METRICS_NREWRITES };
/* Methods; results are the library's enums (spf_res, dkim_result,
 * dmarc_result_code, arc_cv). */
enum metrics_auth { METRICS_SPF, METRICS_DKIM, METRICS_DMARC, METRICS_ARC, METRICS_NAUTH };
enum metrics_sign_kind { METRICS_SIGN_DKIM, METRICS_SIGN_ARC, METRICS_NSIGNKINDS };
enum metrics_reload { METRICS_RELOAD_SUCCESS, METRICS_RELOAD_FAILURE, METRICS_NRELOADS };

struct metrics;

#define METRICS_SLOTS 64

struct metrics *metrics_new(void);
struct metrics *metrics_new_shared(void);
void metrics_free(struct metrics *m);
void metrics_use_slot(struct metrics *m, unsigned slot);
void metrics_clear_slot(struct metrics *m, unsigned slot);

void metrics_srs_lookup(struct metrics *m, int protocol, int map, int result);
void metrics_milter_message(struct metrics *m, int action);
void metrics_milter_aborted(struct metrics *m);
void metrics_signature(struct metrics *m, int kind);
void metrics_rewrite(struct metrics *m, int kind);
void metrics_auth_result(struct metrics *m, int method, int result);
void metrics_sign_duration(struct metrics *m, int kind, double seconds);
/* type: enum dns_type; failure: enum dns_failure (dns.h). Has the shape
 * of dns_observe_fn but for status, which it does not need. */
void metrics_dns_query(struct metrics *m, int type, double seconds, int failure);
/* One SRS store request, with the shape of srsstore_observe_fn
 * (srsstore.h) so that the store calls it directly: m is the struct
 * metrics, op an enum srsstore_op, result an enum srs_store_result. */
void metrics_srs_store(void *m, int op, int result, double seconds);
void metrics_connection_open(struct metrics *m, int listener);
void metrics_connection_close(struct metrics *m, int listener);
void metrics_connection_refused(struct metrics *m, int listener);
/* A SIGHUP reload: ok nonzero on success; now is the time of a success. */
void metrics_reload(struct metrics *m, int ok, time_t now);

int metrics_render(const struct metrics *m, char *buf, size_t cap, size_t *len);

/* Escape a label value (\ " LF) into out; returns the length written, or
 * -1 when it does not fit (out always NUL-terminated when outsz > 0). */
long metrics_escape_label(const char *in, char *out, size_t outsz);

#endif
