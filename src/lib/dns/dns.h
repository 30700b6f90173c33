/*
 * NAME
 *   dns - the one resolver: libunbound, or answers from a zone file
 * SUMMARY
 *   Every DNS question fwdauth asks goes through here: TXT (DKIM keys,
 *   SPF, DMARC), A, AAAA, MX and PTR. Answers come from libunbound (with
 *   its cache, DNSSEC status kept) or, when a zone file is configured
 *   (dns_zone_file / --dns-zone), from that file only: for tests and
 *   offline use, the same parser for the CLI, the daemon and the tests.
 * SYNOPSIS
 *   struct dns_opts o = {.zone_file = NULL, .server = NULL, .timeout_ms = 5000};
 *   struct dns *d = dns_new(&o, &err);
 *   struct dns_answer a;
 *   dns_query(d, "sel._domainkey.example.org", DNS_T_TXT, &a);
 *   if (a.status == DNS_OK) for (i < a.n) use a.rr[i].data (TXT: strings joined)
 *   dns_answer_free(&a); dns_free(d);
 *   per message:
 *   struct dns *s = dns_session_new(d, 60000);
 *   struct dns_question q[] = {{"example.org", DNS_T_TXT}, {"_dmarc.example.org", DNS_T_TXT}};
 *   dns_prefetch(s, q, 2);                  both asked at once
 *   dns_query(s, "_dmarc.example.org", DNS_T_TXT, &a);   answered from the session
 *   dns_session_info(s, &info); if (info.spent) ...; dns_free(s);
 * DESCRIPTION
 *   Zone files are RFC 1035 master-file lines "owner [TTL] [IN] TYPE RDATA"
 *   with absolute owners (trailing dot optional), types A, AAAA, MX, PTR,
 *   CNAME, TXT and SPF (type 99); TXT/SPF data is one or more quoted strings
 *   with \" and \DDD escapes; "( ... )" may span lines; ";" starts a comment.
 *   Extension: "owner TIMEOUT" makes every query for owner time out
 *   (DNS_TEMPFAIL, at once, no waiting) unless owner has records of the
 *   asked type: as the SPF suite's zonedata means it (its "spftimeout"
 *   owner has TXT and TIMEOUT: TXT answers, SPF times out). A name absent
 *   from the file is DNS_NXDOMAIN (also for names that real DNS would have
 *   as empty non-terminals); a name present without the asked type is
 *   DNS_NODATA. CNAMEs are followed (at most 8; longer chains and loops
 *   are DNS_TEMPFAIL, as a resolver's SERVFAIL); a CNAME must be alone at
 *   its name. Owner names match case-insensitively. Answers come in file
 *   order. Names without a trailing dot are absolute, unless a $ORIGIN line
 *   came before: then they are relative to it (RFC 1035); "@" is $ORIGIN.
 *   $TTL is accepted and ignored, as are TTLs, class IN, and NS and SOA
 *   records (their owner exists; their data is not served). TXT/SPF data
 *   may also be one unquoted word; a quoted string over 255 octets, an
 *   error in real DNS, is accepted. Escapes (\X, \DDD) work in names too,
 *   except an escaped ".". Lines over 65535 octets are refused.
 *   With libunbound: `server` forwards to that resolver ("ADDR" or
 *   "ADDR@PORT", several separated by commas or spaces), otherwise
 *   /etc/resolv.conf; each query is bounded by timeout_ms (then
 *   DNS_TEMPFAIL "timeout"), and an answer that arrives within it counts:
 *   libunbound waits timeout_ms for each attempt before it asks again
 *   (infra-cache-min-rtt), instead of resending after 376 ms and dropping
 *   the late answers to earlier attempts. libunbound caches answers; a
 *   resolver does not add a cache of its own.
 *   Sessions. dns_session_new makes a struct dns for one message over a
 *   resolver (every function taking a struct dns takes it). Each of its
 *   questions gets min(timeout_ms, what is left of budget_ms) (0 = no
 *   budget); once the budget is spent, every question not already
 *   answered is DNS_TEMPFAIL at once ("the message's DNS budget is
 *   spent"), and so is one the budget cut short. Every answer, failures
 *   included, is remembered for the session: a name that timed out is not
 *   asked, and waited for, again. dns_prefetch asks up to DNS_PREFETCH_MAX
 *   questions at once (libunbound is asynchronous) and remembers their
 *   answers, so that a later dns_query finds them: independent lookups
 *   wait together, about as long as the slowest. At most
 *   DNS_SESSION_MAX_ANSWERS answers, and DNS_SESSION_MAX_BYTES octets of
 *   records, are remembered; beyond that they are given but not kept. With
 *   a zone file, a TIMEOUT spends the question's time limit from the
 *   budget, as a real timeout would, without waiting (so tests can spend a
 *   budget). dns_session_info says what the session did, and whether the
 *   budget cut or refused a question (spent). A session of a session asks
 *   the same resolver with its own budget.
 *   An optional observer (dns_opts.observe) is called after every query
 *   sent to a resolver or a zone file (a session's remembered answers and
 *   refusals are not queries) with its type, duration, status and, for
 *   failures, whether it was a timeout, a SERVFAIL or something else
 *   (dns_answer.failure, enum dns_failure); the module keeps no counts of
 *   its own.
 *   Names in answers (MX, PTR, CNAME) are text without the trailing dot
 *   ("" for the root, e.g. a null MX); octets that are not graphic ASCII,
 *   and "." or "\" inside a label, come as \DDD.
 * SECURITY
 *   Every answer is bounded (DNS_MAX_RR records, DNS_MAX_RDATA octets each);
 *   malformed answers are DNS_PERMFAIL with a reason, never a crash.
 *   Thread-safe: one struct dns made by dns_new may serve every thread. A
 *   session belongs to one thread (one message) and must be freed before
 *   its resolver. Bounded: a session's time by its budget, its memory by
 *   DNS_SESSION_MAX_ANSWERS and DNS_SESSION_MAX_BYTES, a prefetch by
 *   DNS_PREFETCH_MAX questions. A libunbound resolver has at most
 *   DNS_OUTGOING_UDP questions in flight over UDP (a socket each) and 16
 *   over TCP (libunbound's own default as a library is 16 and 2); more
 *   wait in its queue, within their own time limits.
 * DIAGNOSTICS
 *   dns_new returns NULL with err set (zone file errors name FILE:LINE).
 *   dns_session_new returns NULL without memory or without a resolver.
 *   dns_query returns the answer's status: DNS_OK, DNS_NXDOMAIN,
 *   DNS_NODATA, DNS_TEMPFAIL (timeout, SERVFAIL, REFUSED, network, a
 *   spent budget, no memory; dns_answer.failure says which kind) or
 *   DNS_PERMFAIL (a malformed name or answer, an unsupported type); every
 *   status but DNS_OK carries a static reason. dns_prefetch returns
 *   nothing: its answers, failures included, are what later dns_query
 *   calls give; on a resolver that is not a session it does nothing.
 *   dns_new_from_zone returns NULL for a NULL zone or without memory (the
 *   zone is freed then). dns_session_info cannot fail.
 */
#ifndef FWDAUTH_DNS_H
#define FWDAUTH_DNS_H

#include "dns_answer.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

/* Bounds of a session (see SECURITY). */
#define DNS_SESSION_MAX_ANSWERS 512
#define DNS_SESSION_MAX_BYTES (1024u * 1024)
#define DNS_PREFETCH_MAX 256
/* Questions a resolver has in flight at once over UDP (one socket each:
 * count them in the descriptors the process needs), 16 over TCP. */
#define DNS_OUTGOING_UDP 256

/* Called after each dns_query, in the caller's thread, with the asked type
 * (enum dns_type), the seconds the query took (monotonic clock), its
 * status (enum dns_status) and enum dns_failure. Must be thread-safe and
 * quick; it cannot change the answer. */
typedef void (*dns_observe_fn)(void *arg, int type, double seconds, int status, int failure);

struct dns_opts {
    const char *zone_file; /* answer only from this file */
    const char *server;    /* resolver address; NULL = /etc/resolv.conf */
    unsigned timeout_ms;   /* per query; 0 = 5000 */
    /* A DNSSEC trust anchor file (DS/DNSKEY lines, as unbound's
     * trust-anchor-file); NULL = none, and then dns_answer.secure is
     * always 0. */
    const char *trust_anchor_file;
    /* An observer of every query (latency, failures), e.g. the daemon's
     * metrics; NULL = none. observe_arg is passed back as is. */
    dns_observe_fn observe;
    void *observe_arg;
};

struct dns;

struct dns *dns_new(const struct dns_opts *opts, fa_err *err);
void dns_free(struct dns *d);

/* Ask one question; always fills a (status, why, records). Returns a->status. */
int dns_query(struct dns *d, const char *name, int type, struct dns_answer *a);

/* A session over resolver for one message; budget_ms 0 = no budget. */
struct dns *dns_session_new(struct dns *resolver, unsigned budget_ms);

/* Questions asked together; names as for dns_query. */
struct dns_question {
    const char *name;
    int type; /* enum dns_type */
};
void dns_prefetch(struct dns *session, const struct dns_question *q, size_t n);

struct dns_session_info {
    unsigned budget_ms;
    unsigned asked;      /* questions sent to the resolver */
    unsigned remembered; /* answered again from the session */
    unsigned refused;    /* answered "spent" at once */
    int spent;           /* the budget cut or refused a question */
    double seconds;      /* since the session began (zone TIMEOUTs count as waited) */
};
void dns_session_info(const struct dns *session, struct dns_session_info *out);

/* A resolver answering from a zone parsed by dns_zone_parse (dns_zone.h),
 * for the fuzz targets and tests; takes ownership of z. */
struct dns_zone;
struct dns *dns_new_from_zone(struct dns_zone *z);

#endif
