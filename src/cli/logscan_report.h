/*
 * NAME
 *   logscan_report - write what fwdauth logscan found: table, JSON, CSV or HTML
 * SUMMARY
 *   The report has the totals, the failure groups, then the failures by
 *   recipient domain and by sender domain, each with one line of advice
 *   (what fwdauthd setting fixes it, knowing what the configuration given
 *   with -c already does); with a resolver, each failing sender domain's
 *   published DMARC policy, so p=reject senders stand out. Then what
 *   pflogsumm users look for: traffic per day and per hour, the heaviest
 *   senders and recipients by messages and by bytes, received and delivered
 *   by domain, reject reasons, and the daemons' warnings, errors, fatal
 *   errors and panics. JSON is one object (keys in fwdauth(1)); CSV one row
 *   per failure group; HTML one self-contained page (logscan_html.c: inline
 *   CSS and SVG charts, no script, nothing fetched).
 *   logscan_print_failure writes one failure as --follow finds it.
 * DIAGNOSTICS
 *   logscan_report returns 0, or -1 when memory ran out.
 */
#ifndef FWDAUTH_LOGSCAN_REPORT_H
#define FWDAUTH_LOGSCAN_REPORT_H

#include "maillog_scan.h"

#include <stdio.h>

enum { LOGSCAN_TABLE, LOGSCAN_JSON, LOGSCAN_CSV, LOGSCAN_HTML };

/* What the configuration of -c already does, for the advice. */
struct logscan_setup {
    int known;        /* a configuration was given: the rest is set */
    int arc;          /* ARC sealing is configured (arc_domain, arc_selector, arc_key) */
    int from_rewrite; /* enum fa_from_rewrite */
    int srs;          /* srs_forwarded_mail */
    int signing;      /* forward_signing_key is set */
};

struct dns;
struct logscan_report_opts {
    int format;
    struct dns *dns; /* look up DMARC policies when not NULL */
    int dmarc_mode;
    size_t top; /* rows of each top list; 0: every key held */
    struct logscan_setup setup;
    const char *const *files; /* the inputs, for the HTML page's header ("-": stdin) */
    size_t nfiles;
};

/* 0, or -1 when memory ran out. */
int logscan_report(FILE *f, const struct maillog_scan *s, const struct logscan_report_opts *o);

void logscan_print_failure(FILE *f, int format, const struct maillog_failure *x);

/* Shared by the writers (logscan_report.c, logscan_html.c). */

/* Failures of one domain, summed over its groups. */
struct domain_row {
    const char *domain;
    unsigned long long failures, auth, forwarded, srs;
    unsigned long long cat[ML_CAT_COUNT];
    const struct maillog_group *first_auth; /* for the receiver's name */
    char policy[16];                        /* "" when not looked up */
    char advice[600];
};

struct logscan_data {
    const struct maillog_scan *s;
    const struct domain_row *rd, *sd; /* by recipient and by sender domain, worst first */
    size_t nrd, nsd;
};

int logscan_html(FILE *f, const struct logscan_data *d, const struct logscan_report_opts *o);

const char *logscan_status_name(enum ml_status st);
/* "2026-11-05T13:54:43Z", or "unknown" for INT64_MIN */
void logscan_stamp(char *out, size_t n, int64_t t);
/* A series' period as a local date ("2026-11-05") or hour ("2026-11-05 13:00"). */
void logscan_period_label(char *out, size_t n, enum ml_series k, int64_t start);
/* "<>" for the empty domain */
const char *logscan_shown(const char *domain);
/* The held rows of a top table, at most o->top (all when 0); *n rows. NULL
 * with *n 0 when there are none or memory ran out. Free with free(). */
struct maillog_top_row *logscan_top_rows(const struct maillog_scan *s, enum ml_top_kind k,
                                         enum ml_top_order order, size_t top, size_t *n);

#endif
