/*
 * NAME
 *   maillog_class - why did a receiver refuse or defer a delivery?
 * SUMMARY
 *   One readable table (maillog_class.c) maps a failed delivery's enhanced
 *   status code (RFC 3463, RFC 7372) and the receiver's reply text to a
 *   category: DMARC (Microsoft 5.7.509, Gmail 5.7.26, Yahoo 5.7.9), SPF
 *   (5.7.23, Gmail 5.7.27), DKIM (5.7.20-22, Gmail 5.7.30), alignment (Gmail
 *   5.7.32), bulk-sender requirements (Microsoft 5.7.515), other policy
 *   (5.7.x), mailbox (5.1.x, 5.2.x), and what is left: a deferral for
 *   temporary failures, "other" for permanent ones. The code's class (4 or 5)
 *   does not change a specific category: Gmail defers with 4.7.26 for the
 *   same reason it rejects with 5.7.26; the generic rules (any x.7.x is
 *   policy, x.1.x and x.2.x mailbox) apply to permanent failures only, so a
 *   greylisting 4.7.1 is a deferral. Rules are tried in order, first match
 *   wins; a rule names a code, a word in the reply, or both.
 * SYNOPSIS
 *   const struct ml_rule *r = maillog_classify("5.7.509", 7, reply, replylen, 0);
 *   printf("%s (%s)\n", maillog_category_name(r->category), r->label);
 * DESCRIPTION
 *   dsn is the enhanced status code as logged ("5.7.509"); only its
 *   subject.detail part is compared with the table's codes, and its class
 *   (the first digit) or temporary decides between "deferral" and "other"
 *   when no rule matches. Words are matched case-insensitively anywhere
 *   in the reply. The table is static and read-only: safe in any thread.
 * DIAGNOSTICS
 *   maillog_classify never fails and never returns NULL: without a match
 *   it returns the catch-all rule (ML_CAT_DEFERRAL when temporary, else
 *   ML_CAT_OTHER). maillog_category_name returns "other" for a value out
 *   of range. maillog_category_is_auth returns 1 or 0.
 */
#ifndef FWDAUTH_MAILLOG_CLASS_H
#define FWDAUTH_MAILLOG_CLASS_H

#include <stddef.h>

enum ml_category {
    ML_CAT_DMARC = 0,
    ML_CAT_SPF,
    ML_CAT_DKIM,
    ML_CAT_ALIGNMENT,
    ML_CAT_BULK,
    ML_CAT_POLICY,
    ML_CAT_MAILBOX,
    ML_CAT_DEFERRAL,
    ML_CAT_OTHER,
    ML_CAT_COUNT
};

struct ml_rule {
    enum ml_category category;
    const char *code;  /* subject.detail of the enhanced code ("7.509"), NULL: any */
    const char *word;  /* case-insensitive word in the reply, NULL: any */
    const char *label; /* who answers like this and what it means */
};

/* The first rule that matches; temporary says the delivery was deferred
 * (used only when no rule names the code or a word). Never NULL. */
const struct ml_rule *maillog_classify(const char *dsn, size_t dsnlen, const char *reply,
                                       size_t replylen, int temporary);

/* "dmarc", "spf", "dkim", "alignment", "bulk", "policy", "mailbox",
 * "deferral", "other". */
const char *maillog_category_name(enum ml_category c);

/* DMARC, SPF, DKIM, alignment and bulk-sender failures: what forwarding
 * breaks and what --fail-on counts. */
int maillog_category_is_auth(enum ml_category c);

#endif
