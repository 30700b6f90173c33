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
 *   Memory is bounded by the messages in flight and the distinct domain
 *   pairs: records of messages not seen for max_age seconds of log time
 *   (a log that starts or stops mid-way never says "removed") are dropped.
 * SYNOPSIS
 *   struct maillog_scan *s = maillog_scan_new(&opts, &err);
 *   while (read line) if (maillog_parse(..., &l) == 0) maillog_scan_feed(s, &l);
 *   const struct maillog_totals *t = maillog_scan_totals(s);
 *   for (size_t i = 0; i < maillog_scan_ngroups(s); i++) maillog_scan_group(s, i)...
 * SECURITY
 *   Strings copied from the log are bounded (addresses 320 octets, replies
 *   ML_REPLY_MAX); the scanner holds no secrets beyond the SRS engine's.
 */
#ifndef FWDAUTH_MAILLOG_SCAN_H
#define FWDAUTH_MAILLOG_SCAN_H

#include "err.h"
#include "maillog.h"
#include "maillog_class.h"
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
    unsigned long long failures;      /* failed deliveries recorded in groups */
    unsigned long long auth_failures; /* of those, maillog_category_is_auth */
};

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

/* The domain of an envelope sender, reversing SRS: writes the real address
 * (or addr itself) and its domain (lower case; "" for <> or no domain).
 * Returns 1 when addr was an SRS address, else 0. */
int maillog_unsrs(const srs *engine, int64_t when, const char *addr, size_t n, char *real,
                  size_t realsz, char *domain, size_t domainsz);

#endif
