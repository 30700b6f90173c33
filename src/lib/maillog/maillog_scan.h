/*
 * NAME
 *   maillog_scan - follow messages through a Postfix log and count what failed
 * SUMMARY
 *   Fed parsed lines (maillog.h) in log order, keeps one record per queue
 *   ID in flight (sender, origin of a bounce notification, recipients already
 *   deferred), ends it at "removed" (short queue IDs are reused within
 *   seconds), and keeps:
 *   - totals counted as pflogsumm counts its Grand Totals: received (smtpd
 *     client= and pickup lines), delivered (status=sent per recipient, except
 *     local(8)'s "forwarded as"), forwarded ("forwarded as" lines; and our
 *     own alias_forwarded: deliveries whose orig_to= differs and is not an
 *     SRS address coming home), deferred (messages deferred at least once) and deferrals
 *     (lines), bounced (per recipient), rejected (smtpd rejects and cleanup
 *     header/body/milter rejects), held, discarded; and milter-rejects
 *     (every stage; pflogsumm misses smtpd's), expired, notifications;
 *   - failure groups: failed deliveries (bounced, expired, and each
 *     recipient's first deferral per message) by category (maillog_class.h),
 *     status, sender domain and recipient domain, with the first DSN and
 *     reply seen. The sender domain is the real one: SRS addresses
 *     (SRS0/SRS1, any separator) are reversed with the given SRS engine when
 *     their hash verifies, else read structurally; a bounce notification's
 *     failures name the sender domain of the message it reports on.
 *   - what pflogsumm users look for: bytes received and delivered, traffic
 *     per local day and hour (and per hour of the day over all days), the
 *     heaviest senders and recipients and their domains by messages and by
 *     bytes, reject reasons, and the daemons' warning, error, fatal and
 *     panic lines (maillog_top.h keeps each of those tables bounded).
 *   Memory is bounded by the messages in flight, the distinct domain pairs
 *   of failures, and fixed bounds for the rest (ML_DAYS_MAX, ML_HOURS_MAX,
 *   ML_TOP_ADDRESSES, ML_TOP_REASONS): records of messages not seen for
 *   max_age seconds of log time (a log that starts or stops mid-way never
 *   says "removed") are dropped.
 * DESCRIPTION
 *   Lines are fed in log order. Results are read after
 *   maillog_scan_finish; the pointers returned stay valid until
 *   maillog_scan_free.
 * SYNOPSIS
 *   struct maillog_scan *s = maillog_scan_new(&opts, &err);
 *   while (read line) if (maillog_parse(..., &l) == 0) maillog_scan_feed(s, &l);
 *   const struct maillog_totals *t = maillog_scan_totals(s);
 *   for (size_t i = 0; i < maillog_scan_ngroups(s); i++) maillog_scan_group(s, i)...
 * DIAGNOSTICS
 *   maillog_scan_new returns NULL with err set when memory runs out.
 *   maillog_scan_feed returns 0, or -1 with err set when memory ran out
 *   (the caller stops: the counts are then incomplete).
 *   maillog_scan_finish returns 0, or -1 when memory ran out.
 *   maillog_scan_group and maillog_scan_period return NULL for an index
 *   out of range. maillog_unsrs returns 1 for an SRS address, else 0; it
 *   cannot fail (an SRS address whose hash does not verify is read
 *   structurally). maillog_reject_reason returns the length written.
 *   Bounds reached are not errors: a series left incomplete says so in
 *   maillog_scan_series_truncated, a full top table evicts (maillog_top.h).
 * SECURITY
 *   Strings copied from the log are bounded (addresses 320 octets, replies
 *   ML_REPLY_MAX); the scanner holds no secrets beyond the SRS engine's.
 */
#ifndef FWDAUTH_MAILLOG_SCAN_H
#define FWDAUTH_MAILLOG_SCAN_H

#include "err.h"
#include "maillog.h"
#include "maillog_class.h"
#include "maillog_top.h"
#include "srs.h"

#include <stdint.h>

#define ML_DOMAIN_MAX 256
#define ML_ADDR_MAX 320
#define ML_REPLY_MAX 400
#define ML_DSN_MAX 16
/* The sender domain of a failure whose from= line is not in the log. */
#define ML_SENDER_UNKNOWN "(unknown)"

struct maillog_totals {
    unsigned long long lines, postfix_lines;
    unsigned long long received, delivered, forwarded, alias_forwarded, deferred, deferrals,
        bounced, expired, rejected, milter_rejected, held, discarded, notifications;
    unsigned long long reject_warnings; /* smtpd reject_warning, cleanup WARN (pflogsumm's) */
    unsigned long long bytes_received;  /* size= of each message received (once) */
    unsigned long long bytes_delivered; /* size= of the message, per status=sent recipient */
    unsigned long long warnings, errors, fatals, panics; /* lines without a queue ID */
    unsigned long long failures;                         /* failed deliveries recorded in groups */
    unsigned long long auth_failures;                    /* of those, maillog_category_is_auth */
};

/* What happened in one local day or hour (as pflogsumm's Per-Day and
 * Per-Hour tables count it, plus the failed deliveries by category). */
struct maillog_period {
    int64_t start; /* local day (days since 1970-01-01) or local hour (hours since then),
                    * or the hour of the day 0..23 */
    unsigned long long received, delivered, deferrals, bounced, rejected, held, discarded,
        reject_warnings;
    unsigned long long failures[ML_CAT_COUNT];
};

/* Bounds of the series (documented in the README): days and hours beyond
 * them are left out of the series (the totals still count them) and
 * maillog_scan_series_truncated says so. */
#define ML_DAYS_MAX 3660 /* ten years */
#define ML_HOURS_MAX 744 /* 31 days */

enum ml_series { ML_SERIES_DAYS, ML_SERIES_HOURS, ML_SERIES_HOUR_OF_DAY };

/* The top tables (maillog_top.h): keys, and what count/bytes/deferrals mean. */
enum ml_top_kind {
    ML_TOP_SENDERS,           /* real sender (SRS reversed; "<>"): messages received, bytes */
    ML_TOP_SENDERS_BYTES,     /* the same, kept by bytes */
    ML_TOP_RECIPIENTS,        /* recipient: deliveries (status=sent), bytes */
    ML_TOP_RECIPIENTS_BYTES,  /* the same, kept by bytes */
    ML_TOP_SENDER_DOMAINS,    /* real sender's domain: messages received, bytes */
    ML_TOP_RECIPIENT_DOMAINS, /* recipient's domain: deliveries, bytes, deferrals */
    ML_TOP_REJECTS,           /* "ACTION\tSTAGE\tREASON": rejects, holds, discards, warnings */
    ML_TOP_PROBLEMS,          /* "LEVEL\tDAEMON\tTEXT": warning/error/fatal/panic lines */
    ML_TOP_KINDS
};
/* Keys each table holds at most (the README documents them). */
#define ML_TOP_ADDRESSES 4096 /* senders, recipients, their domains */
#define ML_TOP_REASONS 1024   /* reject reasons, problem texts */
#define ML_REASON_MAX 160     /* bytes of a reason or problem text kept */

/* One failed delivery, as passed to the on_failure callback. */
struct maillog_failure {
    int64_t time;
    const char *qid;
    const char *sender; /* un-SRSed when it was an SRS address; "" for <> */
    const char *sender_domain;
    int sender_was_srs;
    const char *recipient, *recipient_domain, *orig_to; /* orig_to "" when absent */
    const char *relay, *dsn, *reply;
    enum ml_status status;
    const struct ml_rule *rule;
    int notification; /* a bounce notification that failed */
};

/* A group of failures sharing category, status and both domains. */
struct maillog_group {
    enum ml_category category;
    enum ml_status status; /* BOUNCED, DEFERRED or EXPIRED */
    char sender_domain[ML_DOMAIN_MAX];
    char recipient_domain[ML_DOMAIN_MAX];
    unsigned long long count;
    unsigned long long forwarded;   /* of those, alias-forwarded (orig_to= differs, not SRS) */
    unsigned long long srs_senders; /* of those, with an SRS envelope sender */
    const struct ml_rule *rule;     /* of the first failure */
    char dsn[ML_DSN_MAX];           /* of the first failure */
    char reply[ML_REPLY_MAX];       /* of the first failure, truncated */
    int64_t first, last;            /* times */
};

struct maillog_scan_opts {
    const srs *srs;       /* verifies SRS hashes when not NULL */
    int64_t max_age;      /* seconds of log time; 0: 7 days */
    int64_t since, until; /* count only lines with since <= time < until; both 0: all */
    void (*on_failure)(void *arg, const struct maillog_failure *f); /* may be NULL */
    void *arg;
};

struct maillog_scan;

struct maillog_scan *maillog_scan_new(const struct maillog_scan_opts *o, fa_err *err);
void maillog_scan_free(struct maillog_scan *s);

/* Feed one parsed line. 0, or -1 when memory ran out (err filled). Lines
 * outside since/until only update message records (a message received
 * before --since may fail after it) and count nothing. */
int maillog_scan_feed(struct maillog_scan *s, const struct maillog_line *l, fa_err *err);

/* Count one line that maillog_parse refused (for totals.lines). */
void maillog_scan_skip(struct maillog_scan *s);

/* At the end of the input (before reading totals and groups): count the
 * failures still held back. A null-sender message's failures wait for the
 * line that links it to the message it reports on, which bounce(8) may log
 * after the notification was already delivered or refused; they are counted
 * at that line, at "removed", or here. 0, or -1 when memory ran out. */
int maillog_scan_finish(struct maillog_scan *s);

const struct maillog_totals *maillog_scan_totals(const struct maillog_scan *s);
size_t maillog_scan_ngroups(const struct maillog_scan *s);
const struct maillog_group *maillog_scan_group(const struct maillog_scan *s, size_t i);
size_t maillog_scan_inflight(const struct maillog_scan *s); /* message records held */

/* The traffic series, in local time (TZ), sorted by start: days and hours
 * with a counted Postfix line; the hour of the day 0..23 summed over all
 * days (maillog_scan_nperiods gives 24 for it). */
size_t maillog_scan_nperiods(const struct maillog_scan *s, enum ml_series k);
const struct maillog_period *maillog_scan_period(const struct maillog_scan *s, enum ml_series k,
                                                 size_t i);
/* 1 when a day or hour was left out of the series k for its bound. */
int maillog_scan_series_truncated(const struct maillog_scan *s, enum ml_series k);
/* The first and last counted line's time; INT64_MIN when none. */
void maillog_scan_span(const struct maillog_scan *s, int64_t *first, int64_t *last);

const struct maillog_top *maillog_scan_top(const struct maillog_scan *s, enum ml_top_kind k);

/* The reason of a reject, hold, discard or reject warning as the report
 * groups them (as pflogsumm does): the reply without its SMTP and enhanced
 * codes, the address or HELO name in front ("<x@y>: "), what follows the
 * first ";" and a ", [address]" tail; "blocked using LIST" for DNS
 * blocklists. Control characters become spaces. Writes at most outsz - 1
 * bytes and a NUL; returns the length. */
size_t maillog_reject_reason(struct ml_str reply, char *out, size_t outsz);

/* The domain of an envelope sender, reversing SRS: writes the real address
 * (or addr itself) and its domain (lower case; "" for <> or no domain).
 * Returns 1 when addr was an SRS address, else 0. */
int maillog_unsrs(const srs *engine, int64_t when, const char *addr, size_t n, char *real,
                  size_t realsz, char *domain, size_t domainsz);

#endif
