/*
 * NAME
 *   logscan_report - write what fwdauth logscan found: table, JSON or CSV
 * SUMMARY
 *   The report has the totals, the failure groups, then the failures by
 *   recipient domain and by sender domain, each with one line of advice
 *   (what fwdauthd setting fixes it); with a resolver, each failing sender
 *   domain's published DMARC policy, so p=reject senders stand out. JSON is
 *   one object (keys in fwdauth(1)); CSV one row per failure group.
 *   logscan_print_failure writes one failure as --follow finds it.
 */
#ifndef FWDAUTH_LOGSCAN_REPORT_H
#define FWDAUTH_LOGSCAN_REPORT_H

#include "maillog_scan.h"

#include <stdio.h>

enum { LOGSCAN_TABLE, LOGSCAN_JSON, LOGSCAN_CSV };

struct dns;
struct logscan_report_opts {
    int format;
    struct dns *dns; /* look up DMARC policies when not NULL */
    int dmarc_mode;
};

/* 0, or -1 when memory ran out. */
int logscan_report(FILE *f, const struct maillog_scan *s, const struct logscan_report_opts *o);

void logscan_print_failure(FILE *f, int format, const struct maillog_failure *x);

#endif
