/* Unit tests for what fwdauth logscan counts beside the failures (the
 * sections pflogsumm users expect): the warning, error, fatal, panic and
 * reject-warning lines, reject reasons, the bounded top tables
 * (maillog_top: exact below the capacity, Space-Saving's guarantees above
 * it), and the scanner's bytes, senders, recipients and per-day and
 * per-hour series in local time, with their bounds. Local time is
 * Europe/Berlin (set in main): the series must follow the zone, summer
 * time included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "maillog.h"
#include "maillog_scan.h"
#include "maillog_top.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 2026-11-26T12:00:00Z: the file's mtime for classic lines */
#define REF ((time_t)1795694400)

static void must_parse(const char *line, struct maillog_line *l)
{
    struct maillog_clock c;
    maillog_clock_init(&c, REF);
    if (maillog_parse(line, strlen(line), &c, l) != 0)
        fail_msg("not parsed: %s", line);
}

static void assert_slice(struct ml_str s, const char *want)
{
    assert_non_null(s.p);
    if (s.n != strlen(want) || memcmp(s.p, want, s.n) != 0)
        fail_msg("\"%.*s\" != \"%s\"", (int)s.n, s.p, want);
}

/* ------------------------------------------------------------- lines */

static void test_problem_lines(void **state)
{
    (void)state;
    struct maillog_line l;
    static const struct {
        const char *line;
        enum ml_event ev;
        const char *daemon, *text;
    } cases[] = {
        {"Nov  5 13:54:43 mx postfix/smtpd[1]: warning: non-SMTP command from "
         "x[192.0.2.1]: GET / HTTP/1.0",
         ML_WARNING, "smtpd", "non-SMTP command from x[192.0.2.1]: GET / HTTP/1.0"},
        {"Nov  5 13:54:43 mx postfix/trivial-rewrite[2]: error: open database "
         "/etc/postfix/x.db: No such file or directory",
         ML_ERROR, "trivial-rewrite", "open database /etc/postfix/x.db: No such file or directory"},
        {"Nov  5 13:54:43 mx postfix/postlog[3]: fatal: corpus", ML_FATAL, "postlog", "corpus"},
        {"Nov  5 13:54:43 mx postfix/submission/smtpd[4]: panic: myfree: corrupt or unallocated "
         "memory block",
         ML_PANIC, "smtpd", "myfree: corrupt or unallocated memory block"},
        {"2026-11-05T13:54:43.5+01:00 mx postfix/postmap[5]: warning: x.cf: unused parameter",
         ML_WARNING, "postmap", "x.cf: unused parameter"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        must_parse(cases[i].line, &l);
        assert_int_equal(l.event, cases[i].ev);
        assert_null(l.qid.p);
        assert_slice(l.daemon, cases[i].daemon);
        assert_slice(l.reply, cases[i].text);
    }
    /* Not at a queue ID's place: an ordinary line. */
    must_parse("Nov  5 13:54:43 mx postfix/smtpd[1]: lost connection after warning: x", &l);
    assert_int_equal(l.event, ML_OTHER);
}

static void test_reject_warning_lines(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse("Nov  5 13:54:48 mx1 postfix/smtpd[4711]: NOQUEUE: reject_warning: RCPT from "
               "unknown[1.2.3.4]: 450 4.7.1 <h>: Helo command rejected: Host not found; "
               "from=<a@b.example> to=<x@y.example> proto=ESMTP helo=<h>",
               &l);
    assert_int_equal(l.event, ML_REJECT_WARNING);
    assert_slice(l.stage, "RCPT");
    assert_slice(l.dsn, "4.7.1");
    assert_slice(l.recipient, "x@y.example");
    must_parse("Nov 26 13:19:41 mx postfix/cleanup[11544]: 28183A9230B: warning: header "
               "Subject: B11 WARN-ME from localhost[127.0.0.1]; from=<n@nodmarc.test> "
               "to=<u@accept.test> proto=ESMTP helo=<c>: warned by header_checks",
               &l);
    assert_int_equal(l.event, ML_REJECT_WARNING);
    assert_slice(l.qid, "28183A9230B");
    assert_slice(l.stage, "header");
    assert_slice(l.reply, "warned by header_checks");
    /* another daemon's "QID: warning: ..." is not a header check */
    must_parse("Nov 26 13:19:41 mx postfix/smtp[1]: 28183A9230B: warning: header x", &l);
    assert_int_equal(l.event, ML_OTHER);
}

static void test_reject_reason(void **state)
{
    (void)state;
    static const struct {
        const char *reply, *want;
    } cases[] = {
        {"554 5.7.1 <someone@elsewhere.test>: Relay access denied", "Relay access denied"},
        {"550 5.1.1 <nouser@ourdomain.test>: Recipient address rejected: User unknown in "
         "virtual mailbox table",
         "Recipient address rejected: User unknown in virtual mailbox table"},
        {"450 4.1.8 <a@nxdomain.example>: Sender address rejected: Domain not found",
         "Sender address rejected: Domain not found"},
        {"554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using "
         "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.7",
         "blocked using zen.spamhaus.org"},
        {"450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.9]",
         "Client host rejected: cannot find your reverse hostname"},
        {"504 5.5.2 <h>: Helo command rejected: need fully-qualified hostname",
         "Helo command rejected: need fully-qualified hostname"},
        {"550 5.7.1 <a@b>: Recipient address rejected: Greylisted: come back later",
         "Recipient address rejected: Greylisted"},
        {"5.7.1 refused by the corpus header_checks", "refused by the corpus header_checks"},
        {"5.7.1 Rejected by the DMARC policy of victim.test",
         "Rejected by the DMARC policy of victim.test"},
        {"held by header_checks  ", "held by header_checks"},
        {"550-5.7.1 text\twith\x01"
         "control",
         "text with control"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[ML_REASON_MAX];
        struct ml_str r = {cases[i].reply, strlen(cases[i].reply)};
        size_t n = maillog_reject_reason(r, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
    char out[8];
    struct ml_str none = {NULL, 0}, long_one = {"550 5.7.1 a long reason", 23};
    assert_int_equal(maillog_reject_reason(none, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(maillog_reject_reason(long_one, out, sizeof(out)), 7);
    assert_string_equal(out, "a long ");
}

/* ---------------------------------------------------------- top tables */

static void test_top_exact(void **state)
{
    (void)state;
    fa_err err;
    struct maillog_top *t = maillog_top_new(8, &err);
    assert_non_null(t);
    assert_int_equal(maillog_top_add(t, "b@x", 3, 1, 1, 100, 0), 0);
    assert_int_equal(maillog_top_add(t, "a@x", 3, 1, 1, 300, 0), 0);
    assert_int_equal(maillog_top_add(t, "b@x", 3, 1, 1, 100, 0), 0);
    assert_int_equal(maillog_top_add(t, "c@x", 3, 0, 0, 0, 2), 0);
    /* a key with a NUL in it is another key */
    assert_int_equal(maillog_top_add(t, "a@x\0y", 5, 1, 1, 1, 0), 0);
    assert_int_equal(maillog_top_size(t), 4);
    assert_int_equal(maillog_top_evicted(t), 0);

    struct maillog_top_row rows[8];
    size_t n = maillog_top_rows(t, ML_TOP_BY_COUNT, rows, 8);
    assert_int_equal(n, 4);
    assert_string_equal(rows[0].key, "b@x"); /* 2 messages */
    assert_int_equal(rows[0].count, 2);
    assert_int_equal(rows[0].bytes, 200);
    assert_string_equal(rows[1].key, "a@x"); /* 1 message, 300 bytes before 1 byte */
    assert_int_equal(rows[2].keylen, 5);
    assert_string_equal(rows[3].key, "c@x");
    assert_int_equal(rows[3].deferrals, 2);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rows[i].error, 0);
    n = maillog_top_rows(t, ML_TOP_BY_BYTES, rows, 2);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].key, "a@x");
    assert_string_equal(rows[1].key, "b@x");
    assert_int_equal(maillog_top_rows(t, ML_TOP_BY_COUNT, rows, 0), 0);
    maillog_top_free(t);
    assert_null(maillog_top_new(0, &err));
}

/* A stream of 20,000 events over 2,000 keys, a few of them heavy, through a
 * table of 64: the heavy keys are held, every held key's true weight lies
 * in [weight - error, weight], and the table never holds more than 64. */
static void test_top_space_saving(void **state)
{
    (void)state;
    enum { KEYS = 2000, EVENTS = 20000, CAP = 64 };
    static unsigned truth[KEYS];
    memset(truth, 0, sizeof(truth));
    fa_err err;
    struct maillog_top *t = maillog_top_new(CAP, &err);
    assert_non_null(t);
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < EVENTS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;                      /* xorshift64 */
        unsigned k = (unsigned)(x % 10) < 4 ? (unsigned)(x >> 32) % 5 /* 40%: keys 0..4 */
                                            : (unsigned)(x >> 32) % KEYS;
        char key[16];
        int n = snprintf(key, sizeof(key), "k%u", k);
        truth[k]++;
        assert_int_equal(maillog_top_add(t, key, (size_t)n, 1, 1, 10, 0), 0);
        assert_true(maillog_top_size(t) <= CAP);
    }
    assert_int_equal(maillog_top_size(t), CAP);
    assert_true(maillog_top_evicted(t) > 0);
    struct maillog_top_row rows[CAP];
    size_t n = maillog_top_rows(t, ML_TOP_BY_WEIGHT, rows, CAP);
    assert_int_equal(n, CAP);
    int heavy = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned k = (unsigned)strtoul(rows[i].key + 1, NULL, 10);
        assert_true(truth[k] <= rows[i].weight);
        assert_true(rows[i].weight - rows[i].error <= truth[k]);
        assert_int_equal(rows[i].count, rows[i].weight - rows[i].error);
        if (k < 5) {
            heavy++;
            assert_true(i < 5); /* and they come first */
        }
    }
    assert_int_equal(heavy, 5);
    maillog_top_free(t);
}

/* ------------------------------------------------------------- scanner */

static struct maillog_scan *scan_lines(const char *const *lines, size_t n)
{
    fa_err err;
    struct maillog_scan_opts o = {.since = INT64_MIN, .until = INT64_MAX};
    struct maillog_scan *s = maillog_scan_new(&o, &err);
    assert_non_null(s);
    struct maillog_clock c;
    maillog_clock_init(&c, REF);
    for (size_t i = 0; i < n; i++) {
        struct maillog_line l;
        if (maillog_parse(lines[i], strlen(lines[i]), &c, &l) == 0)
            assert_int_equal(maillog_scan_feed(s, &l, &err), 0);
        else
            maillog_scan_skip(s);
    }
    assert_int_equal(maillog_scan_finish(s), 0);
    return s;
}

static const struct maillog_top_row *row(const struct maillog_scan *s, enum ml_top_kind k,
                                         const char *key)
{
    static struct maillog_top_row rows[64];
    size_t n = maillog_top_rows(maillog_scan_top(s, k), ML_TOP_BY_COUNT, rows, 64);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].key, key) == 0)
            return &rows[i];
    fail_msg("no row %s", key);
    return NULL;
}

static void test_scan_traffic(void **state)
{
    (void)state;
    static const char *const log[] = {
        /* a forwarded message: SRS sender, two recipients, one deferred once */
        "Nov  5 23:59:58 mx postfix/smtpd[1]: 1A1A1A1A1A: client=a.example[192.0.2.1]",
        "Nov  5 23:59:59 mx postfix/qmgr[2]: 1A1A1A1A1A: from=<SRS0=AbCd=2W=Example.ORG="
        "alice@srs.ours.test>, size=1000, nrcpt=2 (queue active)",
        "Nov  6 00:00:01 mx postfix/smtp[3]: 1A1A1A1A1A: to=<u@Outlook.TEST>, relay=r[1.2.3.4]:25, "
        "delay=1, dsn=2.0.0, status=sent (250 ok)",
        "Nov  6 00:00:02 mx postfix/smtp[3]: 1A1A1A1A1A: to=<v@gmail.test>, relay=r[1.2.3.5]:25, "
        "delay=1, dsn=4.7.1, status=deferred (451 4.7.1 try later)",
        /* qmgr's from= again after the deferral: neither size nor sender twice */
        "Nov  6 01:00:02 mx postfix/qmgr[2]: 1A1A1A1A1A: from=<SRS0=AbCd=2W=Example.ORG="
        "alice@srs.ours.test>, size=1000, nrcpt=2 (queue active)",
        "Nov  6 01:00:03 mx postfix/smtp[3]: 1A1A1A1A1A: to=<v@gmail.test>, relay=r[1.2.3.5]:25, "
        "delay=3601, dsn=2.0.0, status=sent (250 ok)",
        "Nov  6 01:00:03 mx postfix/qmgr[2]: 1A1A1A1A1A: removed",
        /* picked up locally, null sender */
        "Nov  6 01:10:00 mx postfix/pickup[4]: 2B2B2B2B2B: uid=0 from=<>",
        "Nov  6 01:10:00 mx postfix/qmgr[2]: 2B2B2B2B2B: from=<>, size=300, nrcpt=1 (queue "
        "active)",
        "Nov  6 01:10:01 mx postfix/local[5]: 2B2B2B2B2B: to=<root@mx.test>, relay=local, "
        "delay=1, dsn=2.0.0, status=sent (delivered to mailbox)",
        "Nov  6 01:10:01 mx postfix/qmgr[2]: 2B2B2B2B2B: removed",
        /* a bounce notification: not received here, but its delivery counts */
        "Nov  6 01:20:00 mx postfix/qmgr[2]: 3C3C3C3C3C: from=<>, size=2000, nrcpt=1 (queue "
        "active)",
        "Nov  6 01:20:01 mx postfix/smtp[3]: 3C3C3C3C3C: to=<alice@example.org>, relay=r[1.2.3.6]"
        ":25, delay=1, dsn=2.0.0, status=sent (250 ok)",
        "Nov  6 01:20:01 mx postfix/qmgr[2]: 3C3C3C3C3C: removed",
        /* rejects, a hold, a reject warning, the daemons' trouble */
        "Nov  6 01:30:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.9]: 554 5.7.1 "
        "<z@elsewhere.test>: Relay access denied; from=<a@b.test> to=<z@elsewhere.test> "
        "proto=ESMTP helo=<x>",
        "Nov  6 01:30:01 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.9]: 554 5.7.1 "
        "<y@elsewhere.test>: Relay access denied; from=<a@b.test> to=<y@elsewhere.test> "
        "proto=ESMTP helo=<x>",
        "Nov  6 01:30:02 mx postfix/cleanup[6]: 4D4D4D4D4D: hold: header Subject: x from "
        "x[192.0.2.9]; from=<a@b.test> to=<u@ours.test> proto=ESMTP helo=<x>: held here",
        "Nov  6 01:30:03 mx postfix/smtpd[1]: NOQUEUE: reject_warning: RCPT from x[192.0.2.9]: "
        "450 4.7.1 <x>: Helo command rejected: Host not found; from=<a@b.test> "
        "to=<u@ours.test> proto=ESMTP helo=<x>",
        "Nov  6 01:30:04 mx postfix/smtpd[1]: warning: non-SMTP command from x[192.0.2.9]: GET /",
        "Nov  6 01:30:05 mx postfix/smtpd[1]: warning: non-SMTP command from x[192.0.2.9]: GET /",
        "Nov  6 01:30:06 mx postfix/master[7]: fatal: bind 0.0.0.0 port 25: Address in use",
        "Nov  6 01:30:07 mx CRON[8]: (root) CMD (true)",
    };
    struct maillog_scan *s = scan_lines(log, sizeof(log) / sizeof(log[0]));
    const struct maillog_totals *t = maillog_scan_totals(s);
    assert_int_equal(t->received, 2);
    assert_int_equal(t->bytes_received, 1300);
    assert_int_equal(t->delivered, 4);
    assert_int_equal(t->bytes_delivered, 1000 + 1000 + 300 + 2000);
    assert_int_equal(t->rejected, 2);
    assert_int_equal(t->held, 1);
    assert_int_equal(t->reject_warnings, 1);
    assert_int_equal(t->warnings, 2);
    assert_int_equal(t->fatals, 1);
    assert_int_equal(t->errors + t->panics, 0);

    /* senders: the real one behind SRS (domain in lower case), "<>" */
    assert_int_equal(maillog_top_size(maillog_scan_top(s, ML_TOP_SENDERS)), 2);
    assert_int_equal(row(s, ML_TOP_SENDERS, "alice@example.org")->bytes, 1000);
    assert_int_equal(row(s, ML_TOP_SENDERS, "<>")->count, 1);
    assert_int_equal(row(s, ML_TOP_SENDER_DOMAINS, "example.org")->count, 1);
    assert_int_equal(row(s, ML_TOP_SENDERS_BYTES, "alice@example.org")->weight, 1000);
    /* recipients: the local part as logged, the domain in lower case */
    assert_int_equal(row(s, ML_TOP_RECIPIENTS, "u@outlook.test")->bytes, 1000);
    assert_int_equal(row(s, ML_TOP_RECIPIENTS, "alice@example.org")->bytes, 2000);
    const struct maillog_top_row *g = row(s, ML_TOP_RECIPIENT_DOMAINS, "gmail.test");
    assert_int_equal(g->count, 1);
    assert_int_equal(g->deferrals, 1);
    assert_int_equal(maillog_top_size(maillog_scan_top(s, ML_TOP_RECIPIENTS)), 4);

    assert_int_equal(row(s, ML_TOP_REJECTS, "reject\tRCPT\tRelay access denied")->count, 2);
    assert_int_equal(row(s, ML_TOP_REJECTS, "hold\theader\theld here")->count, 1);
    assert_int_equal(row(s, ML_TOP_REJECTS,
                         "reject_warning\tRCPT\tHelo command rejected: "
                         "Host not found")
                         ->count,
                     1);
    assert_int_equal(row(s, ML_TOP_PROBLEMS,
                         "warning\tsmtpd\tnon-SMTP command from "
                         "x[192.0.2.9]: GET /")
                         ->count,
                     2);
    assert_int_equal(
        row(s, ML_TOP_PROBLEMS, "fatal\tmaster\tbind 0.0.0.0 port 25: Address in use")->count, 1);

    /* days and hours in local time (Europe/Berlin, CET in November) */
    assert_int_equal(maillog_scan_nperiods(s, ML_SERIES_DAYS), 2);
    const struct maillog_period *d0 = maillog_scan_period(s, ML_SERIES_DAYS, 0);
    const struct maillog_period *d1 = maillog_scan_period(s, ML_SERIES_DAYS, 1);
    assert_int_equal(d0->start, maillog_days_from_civil(2026, 11, 5));
    assert_int_equal(d1->start, maillog_days_from_civil(2026, 11, 6));
    assert_int_equal(d0->received, 1);
    assert_int_equal(d1->delivered, 4);
    assert_int_equal(d1->deferrals, 1);
    assert_int_equal(d1->rejected, 2);
    assert_int_equal(d1->failures[ML_CAT_DEFERRAL], 1);
    assert_null(maillog_scan_period(s, ML_SERIES_DAYS, 2));
    /* hours 23:00 (Nov 5), 00:00 and 01:00 (Nov 6) */
    assert_int_equal(maillog_scan_nperiods(s, ML_SERIES_HOURS), 3);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOURS, 0)->start,
                     maillog_days_from_civil(2026, 11, 5) * 24 + 23);
    assert_int_equal(maillog_scan_nperiods(s, ML_SERIES_HOUR_OF_DAY), 24);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 23)->received, 1);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 0)->delivered, 1);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 1)->delivered, 3);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 1)->held, 1);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 12)->received, 0);
    assert_false(maillog_scan_series_truncated(s, ML_SERIES_DAYS));
    int64_t first, last;
    maillog_scan_span(s, &first, &last);
    assert_int_equal(first, (int64_t)1793919598); /* 2026-11-05T22:59:58Z */
    assert_int_equal(last, (int64_t)1793925006);  /* 2026-11-06T00:30:06Z: not CRON's line */
    maillog_scan_free(s);
}

/* A summer-time day: 2026-03-29 in Berlin has 23 hours; 01:59:59 CET is
 * followed by 03:00:00 CEST. RFC 3339 stamps in UTC land in local hours. */
static void test_scan_local_hours_dst(void **state)
{
    (void)state;
    static const char *const log[] = {
        "2026-03-29T00:30:00Z mx postfix/smtpd[1]: 1A1A1A1A1A: client=a[192.0.2.1]",
        "2026-03-29T01:30:00Z mx postfix/smtpd[1]: 2B2B2B2B2B: client=a[192.0.2.1]",
        "2026-03-29T22:30:00Z mx postfix/smtpd[1]: 3C3C3C3C3C: client=a[192.0.2.1]",
    };
    struct maillog_scan *s = scan_lines(log, 3);
    /* 01:30 CET, 03:30 CEST, and 00:30 CEST of the next day */
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 1)->received, 1);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 2)->received, 0);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 3)->received, 1);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, 0)->received, 1);
    assert_int_equal(maillog_scan_nperiods(s, ML_SERIES_DAYS), 2);
    assert_int_equal(maillog_scan_period(s, ML_SERIES_DAYS, 0)->received, 2);
    maillog_scan_free(s);
}

/* One line an hour for 40 days: the hour series stops at its bound and says
 * so, the day series and the totals hold everything. Lines out of order go
 * to their own period. */
static void test_scan_series_bounds(void **state)
{
    (void)state;
    fa_err err;
    struct maillog_scan_opts o = {.since = INT64_MIN, .until = INT64_MAX};
    struct maillog_scan *s = maillog_scan_new(&o, &err);
    assert_non_null(s);
    struct maillog_clock c;
    maillog_clock_init(&c, REF);
    int64_t t0 = 1793872800; /* 2026-11-05T10:00:00Z */
    int hours = 40 * 24;
    for (int h = 0; h <= hours; h++) {
        /* every tenth hour comes a line late: an hour back */
        int64_t t = t0 + (int64_t)(h % 10 == 9 ? h - 1 : h) * 3600;
        char line[200];
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02dZ mx postfix/smtpd[1]: %06X: client=a[192.0.2.1]",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 0x100000 + h);
        struct maillog_line l;
        assert_int_equal(maillog_parse(line, strlen(line), &c, &l), 0);
        assert_int_equal(maillog_scan_feed(s, &l, &err), 0);
    }
    assert_int_equal(maillog_scan_totals(s)->received, (unsigned long long)hours + 1);
    assert_int_equal(maillog_scan_nperiods(s, ML_SERIES_HOURS), ML_HOURS_MAX);
    assert_true(maillog_scan_series_truncated(s, ML_SERIES_HOURS));
    assert_false(maillog_scan_series_truncated(s, ML_SERIES_DAYS));
    unsigned long long sum = 0;
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < maillog_scan_nperiods(s, ML_SERIES_DAYS); i++) {
        const struct maillog_period *p = maillog_scan_period(s, ML_SERIES_DAYS, i);
        assert_true(p->start > prev);
        prev = p->start;
        sum += p->received;
    }
    assert_int_equal(sum, (unsigned long long)hours + 1);
    sum = 0;
    for (size_t h = 0; h < 24; h++)
        sum += maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, h)->received;
    assert_int_equal(sum, (unsigned long long)hours + 1);
    /* the late lines share their hour with the one before */
    const struct maillog_period *h8 = maillog_scan_period(s, ML_SERIES_HOURS, 8);
    assert_int_equal(h8->received, 2);
    maillog_scan_free(s);
}

/* --since/--until: lines outside the window count in no series or table. */
static void test_scan_window_series(void **state)
{
    (void)state;
    fa_err err;
    struct maillog_scan_opts o = {.since = 1793919600, .until = INT64_MAX}; /* Nov 6 00:00 CET */
    struct maillog_scan *s = maillog_scan_new(&o, &err);
    assert_non_null(s);
    static const char *const log[] = {
        "Nov  5 23:59:58 mx postfix/smtpd[1]: 1A1A1A1A1A: client=a.example[192.0.2.1]",
        "Nov  5 23:59:59 mx postfix/qmgr[2]: 1A1A1A1A1A: from=<a@b.test>, size=10, nrcpt=1 "
        "(queue active)",
        "Nov  5 23:59:59 mx postfix/smtpd[1]: warning: early",
        "Nov  6 00:00:01 mx postfix/smtp[3]: 1A1A1A1A1A: to=<u@x.test>, relay=r[1.2.3.4]:25, "
        "delay=1, dsn=2.0.0, status=sent (250 ok)",
    };
    struct maillog_clock c;
    maillog_clock_init(&c, REF);
    for (size_t i = 0; i < 4; i++) {
        struct maillog_line l;
        assert_int_equal(maillog_parse(log[i], strlen(log[i]), &c, &l), 0);
        assert_int_equal(maillog_scan_feed(s, &l, &err), 0);
    }
    const struct maillog_totals *t = maillog_scan_totals(s);
    assert_int_equal(t->received, 0);
    assert_int_equal(t->bytes_received, 0);
    assert_int_equal(t->warnings, 0);
    assert_int_equal(t->delivered, 1);
    assert_int_equal(t->bytes_delivered, 10); /* the size is known all the same */
    assert_int_equal(maillog_top_size(maillog_scan_top(s, ML_TOP_SENDERS)), 0);
    assert_int_equal(maillog_top_size(maillog_scan_top(s, ML_TOP_PROBLEMS)), 0);
    assert_int_equal(maillog_scan_nperiods(s, ML_SERIES_DAYS), 1);
    maillog_scan_free(s);
}

int main(void)
{
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_problem_lines),        cmocka_unit_test(test_reject_warning_lines),
        cmocka_unit_test(test_reject_reason),        cmocka_unit_test(test_top_exact),
        cmocka_unit_test(test_top_space_saving),     cmocka_unit_test(test_scan_traffic),
        cmocka_unit_test(test_scan_local_hours_dst), cmocka_unit_test(test_scan_series_bounds),
        cmocka_unit_test(test_scan_window_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
