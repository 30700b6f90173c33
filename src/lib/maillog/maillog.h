/*
 * NAME
 *   maillog - parse one line of a Postfix log
 * SUMMARY
 *   Splits a log line into its time stamp, host, program, pid and queue ID,
 *   and recognises the Postfix events that delivery reports are built from:
 *   a message received (smtpd/postscreen "client=", pickup "uid="/"sender="),
 *   its envelope (qmgr "from=<>, size=, nrcpt="), each delivery attempt
 *   ("to=<>, orig_to=<>, relay=, dsn=, status= (reply)"), the end of a queue
 *   file ("removed"), bounce notifications ("sender non-delivery
 *   notification: QID"), expiry, rejects (smtpd "NOQUEUE: reject:",
 *   cleanup header/body rejects, milter-reject, hold, discard, and their
 *   warnings: smtpd "reject_warning:", cleanup "warning: header ..."), and
 *   the daemons' own trouble: "warning:", "error:", "fatal:" and "panic:"
 *   lines without a queue ID (as pflogsumm reads them).
 * DESCRIPTION
 *   Time stamps: classic syslog ("Nov  5 13:54:43", also Postfix's own
 *   maillog_file and journalctl's default), RFC 3339 ("2026-11-05T13:54:43.1
 *   +01:00", Debian 12 rsyslog) and journalctl -o short-iso ("+0100"). A
 *   classic stamp has no year and no zone: struct maillog_clock supplies the
 *   year (from a reference time such as the file's mtime: a month after the
 *   reference month belongs to the year before; a step back from December to
 *   January starts the next year) and reads it as local time.
 *
 *   Programs: any syslog name whose last component is a Postfix daemon
 *   ("postfix/smtp", "postfix/submission/smtpd", "postfix-out/relay/smtp").
 *
 *   Everything in struct maillog_line points into the caller's line buffer
 *   (no copies, no allocation), so one line costs a few scans of its bytes.
 * SYNOPSIS
 *   struct maillog_clock clk;  maillog_clock_init(&clk, st.st_mtime);
 *   struct maillog_line l;
 *   if (maillog_parse(buf, len, &clk, &l) == 0 && l.event == ML_DELIVERY) ...
 * DIAGNOSTICS
 *   maillog_parse returns 0 for a Postfix line (l filled; l->event is
 *   ML_OTHER for a Postfix line it does not recognise, and l->time is
 *   INT64_MIN when the stamp did not read as a time), or -1 for any other
 *   line (another program, no time stamp or program it recognises): the
 *   caller skips it. maillog_parse_time_arg returns 0 with *out, or -1
 *   for a text that is none of the forms it takes. ml_str_eq returns 1
 *   or 0. Nothing here allocates, so nothing fails for lack of memory.
 * SECURITY
 *   Lines are untrusted (a sender chooses addresses and the receiver chooses
 *   the reply text): every field is a bounded slice of the input; fields
 *   that do not parse leave the event as ML_OTHER rather than guessing.
 */
#ifndef FWDAUTH_MAILLOG_H
#define FWDAUTH_MAILLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct ml_str {
    const char *p; /* NULL when absent */
    size_t n;
};

enum ml_event {
    ML_OTHER = 0,      /* a Postfix line with nothing for the reports */
    ML_CLIENT,         /* smtpd/postscreen "QID: client=...": one message received */
    ML_PICKUP,         /* pickup "QID: uid=N from=<S>" / "sender=": one message received */
    ML_ENVELOPE,       /* qmgr "QID: from=<S>, size=N, nrcpt=N" */
    ML_EXPIRED,        /* qmgr "QID: from=<S>, status=expired, returned to sender" */
    ML_DELIVERY,       /* "QID: to=<R>, ... status=S (reply)" */
    ML_REMOVED,        /* qmgr "QID: removed": the queue ID may be reused from now on */
    ML_NOTIFICATION,   /* bounce "QID: sender non-delivery notification: NEWQID" */
    ML_REJECT,         /* smtpd "reject:", cleanup "reject: header|body ..." */
    ML_MILTER_REJECT,  /* "milter-reject:" (cleanup at END-OF-MESSAGE or smtpd earlier) */
    ML_HOLD,           /* "hold:" */
    ML_DISCARD,        /* "discard:" */
    ML_REJECT_WARNING, /* smtpd "reject_warning:", cleanup "QID: warning: header|body ..." */
    ML_WARNING,        /* "warning: TEXT" without a queue ID (pflogsumm's Warnings) */
    ML_ERROR,          /* "error: TEXT" */
    ML_FATAL,          /* "fatal: TEXT" */
    ML_PANIC,          /* "panic: TEXT" */
};

enum ml_status {
    ML_ST_NONE = 0,
    ML_ST_SENT,
    ML_ST_DEFERRED,
    ML_ST_BOUNCED,
    ML_ST_EXPIRED, /* a recipient's line with status=expired (ML_EXPIRED is qmgr's, per message) */
    ML_ST_UNKNOWN, /* another word (undeliverable, deliverable: address verification) */
};

struct maillog_line {
    int64_t time; /* seconds since 1970 (UTC); INT64_MIN when the stamp did not parse */
    struct ml_str host;
    struct ml_str program; /* "postfix/submission/smtpd" */
    struct ml_str daemon;  /* its last component: "smtpd" */
    long pid;              /* -1 when absent */
    struct ml_str qid;     /* queue ID, or "NOQUEUE"; absent on lines without one */
    struct ml_str text;    /* the rest after "QID: " (or after "program[pid]: ") */
    enum ml_event event;

    /* Event fields; absent ones have p == NULL. */
    struct ml_str sender;    /* ENVELOPE, EXPIRED, PICKUP, rejects: inside from=<...> */
    struct ml_str recipient; /* DELIVERY and rejects: inside to=<...> */
    struct ml_str orig_to;   /* DELIVERY: inside orig_to=<...> */
    struct ml_str relay;     /* DELIVERY: relay= */
    struct ml_str dsn;       /* DELIVERY: dsn=; rejects: the first enhanced code */
    struct ml_str reply;     /* DELIVERY: text inside the final parentheses; rejects: the
                              * reason from the SMTP code to "; from="; WARNING to PANIC:
                              * the text after "warning: " ... "panic: " */
    struct ml_str client;    /* CLIENT: host[addr]; rejects: "from host[addr]" */
    struct ml_str new_qid;   /* NOTIFICATION: the bounce's queue ID; DELIVERY with
                              * "forwarded as QID": the new queue ID */
    struct ml_str stage;     /* rejects: "RCPT", "header", "body", "END-OF-MESSAGE", ... */
    enum ml_status status;   /* DELIVERY */
    long long size;          /* ENVELOPE: size=, -1 when absent */
    long nrcpt;              /* ENVELOPE: nrcpt=, -1 when absent */
    int forwarded;           /* DELIVERY: status=sent "(... forwarded as QID)" (local(8)) */
};

/* Is the slice a present and equal to the string lit? */
int ml_str_eq(struct ml_str a, const char *lit);

/* Supplies the year (and zone) that classic syslog stamps leave out. */
struct maillog_clock {
    int year;       /* year of the lines being read */
    int last_month; /* 1..12 of the previous classic line; 0 before the first */
    int ref_year, ref_month;
    /* Cache of the local zone's offset for the wall-clock hour last converted. */
    int64_t hour_cached; /* hours since 1970 of the cached offset; INT64_MIN: none */
    long gmtoff;
};

/* Start reading a file whose newest line is not after ref (its mtime; now
 * for standard input). */
void maillog_clock_init(struct maillog_clock *c, time_t ref);

/* Parse one line (without its newline; a trailing '\r' or '\n' is ignored).
 * Returns 0 for a Postfix line (l filled), -1 for anything else (another
 * program, or no recognisable time stamp/program): such lines are skipped. */
int maillog_parse(const char *line, size_t n, struct maillog_clock *c, struct maillog_line *l);

/* Parse a time given on a command line or in a report: RFC 3339 date-time
 * ("2026-11-05T13:54:43Z", "... +01:00"), the same without zone (local
 * time), a date ("2026-11-05", local midnight), or "@SECONDS". 0 or -1. */
int maillog_parse_time_arg(const char *s, int64_t *out);

/* Days since 1970-01-01 of a proleptic Gregorian date (no time zone). */
int64_t maillog_days_from_civil(int y, int m, int d);

#endif
