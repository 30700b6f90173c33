/* Unit tests for maillog and maillog_scan: every time stamp format and
 * syslog name maillog.h promises, each Postfix event with the text Postfix
 * really logs, truncated lines at every byte, and the scanner's correlation (queue ID reuse,
 * bounce notifications, SRS senders, windows, expiry of stale records) and
 * its pflogsumm-style totals. Classic stamps are read in Europe/Berlin (set
 * in main) so that local time, summer time and the zone cache are tested. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "maillog.h"
#include "maillog_class.h"
#include "maillog_scan.h"
#include "srs.h"
#include "test_maillog_replies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 2026-11-26T12:00:00Z: the reference (file mtime) of most classic lines. */
#define REF_NOV_2026 ((time_t)1795694400)
/* 2026-11-05T10:00:00Z: the start of the scanner logs. */
#define T0 ((int64_t)1793872800)

/* ------------------------------------------------------------------ helpers */

#define assert_ml(s, want)                                                                         \
    do {                                                                                           \
        struct ml_str s_ = (s);                                                                    \
        char b_[2048];                                                                             \
        assert_non_null(s_.p);                                                                     \
        assert_true(s_.n < sizeof(b_));                                                            \
        memcpy(b_, s_.p, s_.n);                                                                    \
        b_[s_.n] = '\0';                                                                           \
        assert_string_equal(b_, (want));                                                           \
    } while (0)

#define assert_ml_absent(s) assert_null((s).p)

/* The slice contains want (for long replies). */
#define assert_ml_has(s, want)                                                                     \
    do {                                                                                           \
        struct ml_str s_ = (s);                                                                    \
        char b_[2048];                                                                             \
        assert_non_null(s_.p);                                                                     \
        assert_true(s_.n < sizeof(b_));                                                            \
        memcpy(b_, s_.p, s_.n);                                                                    \
        b_[s_.n] = '\0';                                                                           \
        if (!strstr(b_, (want)))                                                                   \
            fail_msg("\"%s\" does not contain \"%s\"", b_, (want));                                \
    } while (0)

#define assert_ml_lacks(s, bad)                                                                    \
    do {                                                                                           \
        struct ml_str s_ = (s);                                                                    \
        char b_[2048];                                                                             \
        assert_non_null(s_.p);                                                                     \
        assert_true(s_.n < sizeof(b_));                                                            \
        memcpy(b_, s_.p, s_.n);                                                                    \
        b_[s_.n] = '\0';                                                                           \
        if (strstr(b_, (bad)))                                                                     \
            fail_msg("\"%s\" contains \"%s\"", b_, (bad));                                         \
    } while (0)

/* The time of a line that must parse, read with clock c. */
static int64_t time_of(struct maillog_clock *c, const char *line)
{
    struct maillog_line l;
    assert_int_equal(maillog_parse(line, strlen(line), c, &l), 0);
    return l.time;
}

static int parse_at(const char *line, time_t ref, struct maillog_line *l)
{
    struct maillog_clock c;
    maillog_clock_init(&c, ref);
    return maillog_parse(line, strlen(line), &c, l);
}

/* Parse a line that must be a Postfix line. */
static void must_parse(const char *line, struct maillog_line *l)
{
    if (parse_at(line, REF_NOV_2026, l) != 0)
        fail_msg("refused: %s", line);
}

/* Every slice lies inside [base, base + n]. */
static int inside(struct ml_str s, const char *base, size_t n)
{
    if (!s.p)
        return 1;
    return s.p >= base && s.p <= base + n && s.n <= (size_t)(base + n - s.p);
}

static void assert_all_inside(const struct maillog_line *l, const char *base, size_t n)
{
    const struct ml_str all[] = {l->host,   l->program,   l->daemon,  l->qid,   l->text,
                                 l->sender, l->recipient, l->orig_to, l->relay, l->dsn,
                                 l->reply,  l->client,    l->new_qid, l->stage};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (!inside(all[i], base, n))
            fail_msg("field %zu points outside the line (%zu bytes)", i, n);
}

/* ---------------------------------------------------- realistic Postfix lines */

static const char *const sample_lines[] = {
    "Nov  5 13:54:43 mx1 postfix/smtpd[4711]: connect from mail.example.org[192.0.2.1]",
    "Nov  5 13:54:43 mx1 postfix/smtpd[4711]: 4NkH8V0m6Bz9sT3: client=mail.example.org[192.0.2.1]",
    "Nov 05 13:54:43 mx1 postfix/submission/smtpd[4712]: 3F1A2B3C4D: "
    "client=unknown[198.51.100.20], sasl_method=PLAIN, sasl_username=alice",
    "2026-11-05T13:54:43.123456+01:00 mx1 postfix/pickup[998]: 5B6C7D8E9F: uid=0 from=<root>",
    "2026-11-05T12:54:43Z mx1 postfix/cleanup[4713]: 3F1A2B3C4D: "
    "message-id=<20261105125443.3F1A2B3C4D@mx1.example.net>",
    "2026-11-05T13:54:43+0100 mx1 postfix/qmgr[996]: 3F1A2B3C4D: from=<alice@example.org>, "
    "size=1234, nrcpt=2 (queue active)",
    "Nov  5 13:54:44 mx1 postfix/smtp[4714]: 3F1A2B3C4D: to=<bob@example.net>, "
    "orig_to=<bob@fwd.example>, relay=example-net.mail.protection.outlook.com[52.101.68.13]:25, "
    "delay=1.2, delays=0.1/0.01/0.5/0.59, dsn=5.7.509, status=bounced (" OUTLOOK_REPLY ")",
    "Nov  5 13:54:44 mx1 postfix/smtp[4714]: 3F1A2B3C4D: to=<carol@gmail.com>, "
    "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, conn_use=2, delay=0.9, "
    "delays=0.1/0/0.3/0.5, dsn=5.7.26, status=bounced (" GMAIL_REPLY ")",
    "Nov  5 13:54:45 mx1 postfix/smtp[4714]: 3F1A2B3C4D: to=<dave@slow.example>, relay=none, "
    "delay=30, delays=0.01/0.01/30/0, dsn=4.4.1, status=deferred (" TIMEOUT_REPLY ")",
    "Nov  5 13:54:46 mx1 postfix/local[4715]: 5B6C7D8E9F: to=<root@mx1.example.net>, "
    "orig_to=<root>, relay=local, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, "
    "status=sent (forwarded as 6C7D8E9F0A)",
    "Nov  5 13:54:46 mx1 postfix/bounce[4716]: 3F1A2B3C4D: sender non-delivery notification: "
    "7D8E9F0A1B",
    "Nov  5 13:54:46 mx1 postfix/qmgr[996]: 3F1A2B3C4D: removed",
    "Nov  5 13:54:47 mx1 postfix/qmgr[996]: 8E9F0A1B2C: from=<old@example.org>, status=expired, "
    "returned to sender",
    "Nov  5 13:54:47 mx1 postfix/smtpd[4711]: NOQUEUE: reject: RCPT from unknown[1.2.3.4]: 554 "
    "5.7.1 <x@y.example>: Relay access denied; from=<a@b.example> to=<x@y.example> proto=ESMTP "
    "helo=<h>",
    "Nov  5 13:54:48 mx1 postfix/cleanup[4713]: 9F0A1B2C3D: reject: header Subject: buy now "
    "from localhost[127.0.0.1]; from=<> to=<> proto=ESMTP helo=<localhost>: 5.7.1 spam",
    "Nov  5 13:54:48 mx1 postfix/cleanup[4713]: 0A1B2C3D4E: milter-reject: END-OF-MESSAGE from "
    "localhost[127.0.0.1]: 5.7.1 DMARC policy of example.org is reject; from=<a@example.org> "
    "to=<b@example.net> proto=ESMTP helo=<localhost>",
    "Nov  5 13:54:49 mx1 postfix/cleanup[4713]: 1B2C3D4E5F: hold: header Subject: invoice from "
    "mail.example.org[192.0.2.1]; from=<a@example.org> to=<b@example.net> proto=ESMTP "
    "helo=<mail.example.org>: quarantined",
    "Nov  5 13:54:49 mx1 postfix/smtpd[4711]: 2C3D4E5F6A: discard: RCPT from "
    "mail.example.org[192.0.2.1]: <c@example.net>: Recipient address triggers DISCARD action; "
    "from=<a@example.org> to=<c@example.net> proto=ESMTP helo=<mail.example.org>",
    "Nov  5 13:54:50 mx1 postfix-out/smtp[5001]: 4NkH8V0m6Bz9sT3: "
    "to=<\"a,b>c\"@example.net>, relay=mx.example.net[198.51.100.3]:25, delay=0.3, "
    "delays=0/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4NkH9W1n7Ca0tU4)",
    "Nov  5 13:54:50 mx1 postfix/relay/smtp[5002]: 3D4E5F6A7B: to=<e@example.com>, "
    "relay=relay.example.com[203.0.113.25]:587, delay=0.3, delays=0/0/0.1/0.2, dsn=2.0.0, "
    "status=sent (250 2.0.0 Ok)",
    "Nov  5 13:54:51 mx1 postfix/smtps/smtpd[5003]: warning: hostname x.example does not "
    "resolve to address 192.0.2.77",
};

/* ---------------------------------------------------------- time stamps */

static void test_classic_stamp(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse("Nov  5 13:54:43 mx1 postfix/smtp[123]: 4AB12CD: removed", &l);
    assert_int_equal(l.time, 1793883283); /* 13:54:43 CET = 12:54:43Z */
    assert_ml(l.host, "mx1");
    assert_ml(l.program, "postfix/smtp");
    assert_ml(l.daemon, "smtp");
    assert_int_equal(l.pid, 123);
    assert_ml(l.qid, "4AB12CD");
    assert_ml(l.text, "removed");
    assert_int_equal(l.event, ML_REMOVED);

    /* Postfix's maillog_file and journalctl pad the day with a zero. */
    must_parse("Nov 05 13:54:43 mx1 postfix/qmgr[996]: 4AB12CD: removed", &l);
    assert_int_equal(l.time, 1793883283);
    assert_ml(l.daemon, "qmgr");
    assert_int_equal(l.pid, 996);

    /* Summer time (CEST, +02:00). */
    must_parse("Jul  1 12:00:00 mx1 postfix/qmgr[996]: 4AB12CD: removed", &l);
    assert_int_equal(l.time, 1782900000);

    /* A trailing newline or carriage return is not part of the line. */
    must_parse("Nov  5 13:54:43 mx1 postfix/qmgr[996]: 4AB12CD: removed\n", &l);
    assert_ml(l.text, "removed");
    assert_int_equal(l.event, ML_REMOVED);
    must_parse("Nov  5 13:54:43 mx1 postfix/qmgr[996]: 4AB12CD: removed\r", &l);
    assert_ml(l.text, "removed");
    assert_int_equal(l.event, ML_REMOVED);
}

static void test_classic_year(void **state)
{
    (void)state;
    struct maillog_clock c;
    struct maillog_line l;
    const char *dec = "Dec 31 23:59:59 mx1 postfix/qmgr[1]: 4AB12CD: removed";
    const char *jan = "Jan  1 00:00:01 mx1 postfix/qmgr[1]: 5BC23DE: removed";
    const char *jul = "Jul  1 12:00:00 mx1 postfix/qmgr[1]: 6CD34EF: removed";
    const char *nov = "Nov  5 13:54:43 mx1 postfix/qmgr[1]: 6CD34EF: removed";

    /* Reference November 2026: December is a month after it, so 2025; the
     * step to January starts 2026, and the months after stay in 2026. */
    maillog_clock_init(&c, REF_NOV_2026);
    assert_int_equal(time_of(&c, dec), 1767221999);
    assert_int_equal(time_of(&c, jan), 1767222001);
    assert_int_equal(time_of(&c, jul), 1782900000);
    assert_int_equal(time_of(&c, nov), 1793883283);

    /* Reference 2 January 2027: December 2026, then January 2027. */
    maillog_clock_init(&c, (time_t)1798891200);
    assert_int_equal(time_of(&c, dec), 1798757999);
    assert_int_equal(time_of(&c, jan), 1798758001);

    /* The reference month itself is the reference year. */
    maillog_clock_init(&c, REF_NOV_2026);
    assert_int_equal(time_of(&c, nov), 1793883283);

    /* 29 February exists in 2024 (reference 10 March 2024). */
    assert_int_equal(
        parse_at("Feb 29 12:00:00 mx1 postfix/qmgr[1]: 4AB12CD: removed", (time_t)1710072000, &l),
        0);
    assert_int_equal(l.time, 1709204400);
}

static void test_classic_dst_change_day(void **state)
{
    (void)state;
    /* 29 March 2026: clocks go from 02:00 CET to 03:00 CEST. Both lines are
     * on the same day, so a per-day offset cache must not reuse CET. */
    struct maillog_clock c;
    const char *a = "Mar 29 00:59:59 mx1 postfix/qmgr[1]: 4AB12CD: removed";
    const char *b = "Mar 29 03:00:00 mx1 postfix/qmgr[1]: 5BC23DE: removed";
    maillog_clock_init(&c, REF_NOV_2026);
    assert_int_equal(time_of(&c, a), 1774742399);
    assert_int_equal(time_of(&c, b), 1774746000);
    const char *a2 = "Mar 29 01:59:59 mx1 postfix/qmgr[1]: 4AB12CD: removed";
    assert_int_equal(time_of(&c, a2), 1774745999);
    /* 25 October 2026: back from 03:00 CEST to 02:00 CET (a new clock: a
     * jump of seven months in one log reads as a late line of the year before). */
    maillog_clock_init(&c, REF_NOV_2026);
    const char *d = "Oct 25 01:30:00 mx1 postfix/qmgr[1]: 4AB12CD: removed";
    const char *e = "Oct 25 04:00:00 mx1 postfix/qmgr[1]: 5BC23DE: removed";
    assert_int_equal(time_of(&c, d), 1792884600);
    assert_int_equal(time_of(&c, e), 1792897200);
}

static void test_rfc3339_stamps(void **state)
{
    (void)state;
    struct maillog_line l;
    /* The year comes from the stamp, not from the clock's reference. */
    const time_t ref2030 = (time_t)1900000000;
    assert_int_equal(parse_at("2026-11-05T13:54:43.123456+01:00 mx1 postfix/smtp[123]: 4AB12CD: "
                              "removed",
                              ref2030, &l),
                     0);
    assert_int_equal(l.time, 1793883283);
    assert_ml(l.host, "mx1");
    assert_ml(l.program, "postfix/smtp");
    assert_int_equal(l.pid, 123);
    assert_ml(l.qid, "4AB12CD");
    assert_int_equal(l.event, ML_REMOVED);

    assert_int_equal(
        parse_at("2026-11-05T12:54:43Z mx1 postfix/smtp[123]: 4AB12CD: removed", ref2030, &l), 0);
    assert_int_equal(l.time, 1793883283);
    assert_int_equal(
        parse_at("2026-11-05T12:54:43.5Z mx1 postfix/smtp[123]: 4AB12CD: removed", ref2030, &l), 0);
    assert_int_equal(l.time, 1793883283);
    assert_int_equal(
        parse_at("2026-11-05T13:54:43-05:00 mx1 postfix/smtp[123]: 4AB12CD: removed", ref2030, &l),
        0);
    assert_int_equal(l.time, 1793904883);
    /* journalctl -o short-iso: offset without a colon. */
    assert_int_equal(
        parse_at("2026-11-05T13:54:43+0100 mx1 postfix/smtp[123]: 4AB12CD: removed", ref2030, &l),
        0);
    assert_int_equal(l.time, 1793883283);
    assert_ml(l.host, "mx1");
    assert_ml(l.text, "removed");
}

static void test_bad_stamps_refused(void **state)
{
    (void)state;
    struct maillog_line l;
    assert_int_equal(
        parse_at("Xyz  5 13:54:43 mx1 postfix/smtp[1]: 4AB12CD: removed", REF_NOV_2026, &l), -1);
    assert_int_equal(parse_at("postfix/smtp[1]: 4AB12CD: removed", REF_NOV_2026, &l), -1);
    assert_int_equal(
        parse_at("2026-13-05T12:54:43Z mx1 postfix/smtp[1]: 4AB12CD: removed", REF_NOV_2026, &l),
        -1);
    assert_int_equal(parse_at("", REF_NOV_2026, &l), -1);
    assert_int_equal(parse_at("Nov  5 13:54:43", REF_NOV_2026, &l), -1);
}

/* ------------------------------------------------------------ programs */

static void test_syslog_names(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse("Nov  5 13:54:43 mx1 postfix/submission/smtpd[77]: 4AB12CD: "
               "client=unknown[198.51.100.20], sasl_method=PLAIN, sasl_username=alice",
               &l);
    assert_ml(l.program, "postfix/submission/smtpd");
    assert_ml(l.daemon, "smtpd");
    assert_int_equal(l.pid, 77);
    assert_int_equal(l.event, ML_CLIENT);
    assert_ml(l.client, "unknown[198.51.100.20]");

    must_parse("Nov  5 13:54:43 mx1 postfix/smtps/smtpd[78]: 4AB12CD: client=a.example[192.0.2.5]",
               &l);
    assert_ml(l.program, "postfix/smtps/smtpd");
    assert_ml(l.daemon, "smtpd");
    assert_int_equal(l.event, ML_CLIENT);

    must_parse("Nov  5 13:54:43 mx1 postfix-out/smtp[79]: 4AB12CD: to=<a@b.example>, "
               "relay=mx.b.example[192.0.2.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, "
               "status=sent (250 ok)",
               &l);
    assert_ml(l.program, "postfix-out/smtp");
    assert_ml(l.daemon, "smtp");
    assert_int_equal(l.event, ML_DELIVERY);

    must_parse("Nov  5 13:54:43 mx1 postfix/relay/smtp[80]: 4AB12CD: to=<a@b.example>, "
               "relay=mx.b.example[192.0.2.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, "
               "status=sent (250 ok)",
               &l);
    assert_ml(l.program, "postfix/relay/smtp");
    assert_ml(l.daemon, "smtp");
    assert_int_equal(l.status, ML_ST_SENT);
}

/* Anyone may log as postfix/smtp (logger -t): a pid too large for an int is
 * read whole or refused, never overflowed (UBSan reports the overflow). */
static void test_huge_pid(void **state)
{
    (void)state;
    struct maillog_line l;
    int r = parse_at("Nov  5 13:54:43 mx1 postfix/bounce[3333334716]: 4AB12CD: removed",
                     REF_NOV_2026, &l);
    assert_true(r == -1 || l.pid == 3333334716L || l.pid == -1);
    r = parse_at("Nov  5 13:54:43 mx1 postfix/bounce[9999999999]: 4AB12CD: removed", REF_NOV_2026,
                 &l);
    assert_true(r == -1 || l.pid == 9999999999L || l.pid == -1);
}

static void test_other_programs_refused(void **state)
{
    (void)state;
    struct maillog_line l;
    static const char *const others[] = {
        "Nov  5 13:54:43 mx1 dovecot: imap-login: Login: user=<alice>, method=PLAIN",
        "Nov  5 13:54:43 mx1 opendkim[512]: 4AB12CD: DKIM-Signature field added (s=mail, "
        "d=example.org)",
        "Nov  5 13:54:43 mx1 CRON[5123]: (root) CMD (command -v debian-sa1 > /dev/null)",
        "Nov  5 13:54:43 mx1 sshd[600]: Accepted publickey for root from 192.0.2.1 port 5 ssh2",
        "2026-11-05T13:54:43.123456+01:00 mx1 fwdauthd[700]: 4AB12CD: srs forward "
        "alice@example.org",
        "2026-11-05T13:54:43+01:00 mx1 kernel: [12345.678] eth0: link up",
        "just some text",
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (parse_at(others[i], REF_NOV_2026, &l) != -1)
            fail_msg("accepted: %s", others[i]);
}

static void test_lines_without_queue_id(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse("Nov  5 13:54:43 mx1 postfix/smtpd[4711]: connect from mail.example.org[192.0.2.1]",
               &l);
    assert_int_equal(l.event, ML_OTHER);
    assert_ml_absent(l.qid);
    assert_ml(l.text, "connect from mail.example.org[192.0.2.1]");
    /* pflogsumm's Warnings: the word in a queue ID's place */
    must_parse("Nov  5 13:54:43 mx1 postfix/smtpd[4711]: warning: hostname x.example does not "
               "resolve to address 192.0.2.77",
               &l);
    assert_int_equal(l.event, ML_WARNING);
    assert_ml_absent(l.qid);
    assert_ml(l.reply, "hostname x.example does not resolve to address 192.0.2.77");
    must_parse("Nov  5 13:54:43 mx1 postfix/cleanup[4713]: 3F1A2B3C4D: "
               "message-id=<20261105.3F1A2B3C4D@mx1.example.net>",
               &l);
    assert_int_equal(l.event, ML_OTHER);
    assert_ml(l.qid, "3F1A2B3C4D");
}

/* -------------------------------------------------------------- events */

static void test_received_events(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse(sample_lines[1], &l);
    assert_int_equal(l.event, ML_CLIENT);
    assert_ml(l.qid, "4NkH8V0m6Bz9sT3"); /* long queue ID */
    assert_ml(l.client, "mail.example.org[192.0.2.1]");

    must_parse(sample_lines[3], &l);
    assert_int_equal(l.event, ML_PICKUP);
    assert_ml(l.daemon, "pickup");
    assert_ml(l.qid, "5B6C7D8E9F");
    assert_ml(l.sender, "root");

    must_parse("Nov  5 13:54:43 mx1 postfix/pickup[998]: 5B6C7D8E9F: sender=<root@mx1.example>",
               &l);
    assert_int_equal(l.event, ML_PICKUP);
}

static void test_envelope(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse(sample_lines[5], &l);
    assert_int_equal(l.time, 1793883283);
    assert_int_equal(l.event, ML_ENVELOPE);
    assert_ml(l.qid, "3F1A2B3C4D");
    assert_ml(l.sender, "alice@example.org");
    assert_int_equal(l.size, 1234);
    assert_int_equal(l.nrcpt, 2);

    /* The null sender is present and empty. */
    must_parse("Nov  5 13:54:43 mx1 postfix/qmgr[996]: 7D8E9F0A1B: from=<>, size=3120, nrcpt=1 "
               "(queue active)",
               &l);
    assert_int_equal(l.event, ML_ENVELOPE);
    assert_non_null(l.sender.p);
    assert_int_equal(l.sender.n, 0);
    assert_int_equal(l.size, 3120);
    assert_int_equal(l.nrcpt, 1);

    /* A quoted local part may hold ">, size=": the real fields follow it. */
    must_parse("Nov  5 13:54:43 mx1 postfix/qmgr[996]: 7D8E9F0A1B: "
               "from=<\"x>, size=1, nrcpt=9\"@evil.example>, size=99, nrcpt=1 (queue active)",
               &l);
    assert_int_equal(l.event, ML_ENVELOPE);
    assert_ml(l.sender, "\"x>, size=1, nrcpt=9\"@evil.example");
    assert_int_equal(l.size, 99);
    assert_int_equal(l.nrcpt, 1);

    must_parse(sample_lines[12], &l);
    assert_int_equal(l.event, ML_EXPIRED);
    assert_ml(l.sender, "old@example.org");
}

static void test_deliveries(void **state)
{
    (void)state;
    struct maillog_line l;
    /* orig_to=, dsn=, Microsoft's DMARC reject with nested parentheses. */
    must_parse(sample_lines[6], &l);
    assert_int_equal(l.event, ML_DELIVERY);
    assert_ml(l.daemon, "smtp");
    assert_ml(l.recipient, "bob@example.net");
    assert_ml(l.orig_to, "bob@fwd.example");
    assert_ml(l.relay, "example-net.mail.protection.outlook.com[52.101.68.13]:25");
    assert_ml(l.dsn, "5.7.509");
    assert_int_equal(l.status, ML_ST_BOUNCED);
    assert_ml(l.reply, OUTLOOK_REPLY);
    assert_int_equal(l.forwarded, 0);

    /* No orig_to=, conn_use=, Gmail's multi-line reply. */
    must_parse(sample_lines[7], &l);
    assert_int_equal(l.event, ML_DELIVERY);
    assert_ml(l.recipient, "carol@gmail.com");
    assert_ml_absent(l.orig_to);
    assert_ml(l.relay, "gmail-smtp-in.l.google.com[142.250.102.27]:25");
    assert_ml(l.dsn, "5.7.26");
    assert_int_equal(l.status, ML_ST_BOUNCED);
    assert_ml(l.reply, GMAIL_REPLY);

    /* Connection deferral. */
    must_parse(sample_lines[8], &l);
    assert_int_equal(l.status, ML_ST_DEFERRED);
    assert_ml(l.relay, "none");
    assert_ml(l.dsn, "4.4.1");
    assert_ml(l.reply, TIMEOUT_REPLY);

    /* local(8) forwarding. */
    must_parse(sample_lines[9], &l);
    assert_int_equal(l.event, ML_DELIVERY);
    assert_ml(l.daemon, "local");
    assert_int_equal(l.status, ML_ST_SENT);
    assert_ml(l.recipient, "root@mx1.example.net");
    assert_ml(l.orig_to, "root");
    assert_ml(l.relay, "local");
    assert_int_equal(l.forwarded, 1);
    assert_ml(l.new_qid, "6C7D8E9F0A");
    must_parse("Nov  5 13:54:46 mx1 postfix/local[4715]: 5B6C7D8E9F: to=<a@mx1.example.net>, "
               "relay=local, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered "
               "via local service; forwarded as 4AB12)",
               &l);
    assert_int_equal(l.forwarded, 1);
    assert_ml(l.new_qid, "4AB12");

    /* A plain sent: not forwarded, even if the reply names a queue ID. */
    must_parse(sample_lines[18], &l);
    assert_int_equal(l.status, ML_ST_SENT);
    assert_int_equal(l.forwarded, 0);
    assert_ml(l.qid, "4NkH8V0m6Bz9sT3");
    assert_ml(l.recipient, "\"a,b>c\"@example.net"); /* quoted local part with , and > */
    assert_ml(l.relay, "mx.example.net[198.51.100.3]:25");
    assert_ml(l.dsn, "2.0.0");
    assert_ml(l.reply, "250 2.0.0 Ok: queued as 4NkH9W1n7Ca0tU4");

    /* Address verification probes use other status words. */
    must_parse("Nov  5 13:54:46 mx1 postfix/smtp[4714]: 5B6C7D8E9F: to=<a@b.example>, "
               "relay=mx.b.example[192.0.2.9]:25, delay=0.3, delays=0/0/0.1/0.2, dsn=2.1.5, "
               "status=deliverable (250 2.1.5 Ok)",
               &l);
    assert_int_equal(l.event, ML_DELIVERY);
    assert_int_equal(l.status, ML_ST_UNKNOWN);
}

static void test_removed_and_notification(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse(sample_lines[10], &l);
    assert_int_equal(l.event, ML_NOTIFICATION);
    assert_ml(l.daemon, "bounce");
    assert_ml(l.qid, "3F1A2B3C4D");
    assert_ml(l.new_qid, "7D8E9F0A1B");
    must_parse(sample_lines[11], &l);
    assert_int_equal(l.event, ML_REMOVED);
    assert_ml(l.qid, "3F1A2B3C4D");
}

static void test_rejects(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse(sample_lines[13], &l);
    assert_int_equal(l.event, ML_REJECT);
    assert_ml(l.qid, "NOQUEUE");
    assert_ml(l.stage, "RCPT");
    assert_ml(l.client, "unknown[1.2.3.4]");
    assert_ml(l.dsn, "5.7.1");
    assert_ml(l.reply, "554 5.7.1 <x@y.example>: Relay access denied");
    assert_ml(l.sender, "a@b.example");
    assert_ml(l.recipient, "x@y.example");

    must_parse(sample_lines[14], &l);
    assert_int_equal(l.event, ML_REJECT);
    assert_ml(l.daemon, "cleanup");
    assert_ml(l.stage, "header");
    assert_ml(l.client, "localhost[127.0.0.1]");
    assert_ml(l.dsn, "5.7.1");
    assert_non_null(l.sender.p);
    assert_int_equal(l.sender.n, 0);
    assert_ml(l.reply, "5.7.1 spam");

    must_parse(sample_lines[15], &l);
    assert_int_equal(l.event, ML_MILTER_REJECT);
    assert_ml(l.stage, "END-OF-MESSAGE");
    assert_ml(l.client, "localhost[127.0.0.1]");
    assert_ml(l.dsn, "5.7.1");
    assert_ml_has(l.reply, "DMARC policy of example.org is reject");
    assert_ml_lacks(l.reply, "from=<");
    assert_ml(l.sender, "a@example.org");
    assert_ml(l.recipient, "b@example.net");

    must_parse("Nov  5 13:54:48 mx1 postfix/smtpd[4711]: NOQUEUE: milter-reject: RCPT from "
               "unknown[1.2.3.4]: 451 4.7.1 Service unavailable - try again later; "
               "from=<a@b.example> to=<x@y.example> proto=ESMTP helo=<h>",
               &l);
    assert_int_equal(l.event, ML_MILTER_REJECT);
    assert_ml(l.stage, "RCPT");
    assert_ml(l.dsn, "4.7.1");
    assert_ml(l.reply, "451 4.7.1 Service unavailable - try again later");

    must_parse(sample_lines[16], &l);
    assert_int_equal(l.event, ML_HOLD);
    assert_ml(l.qid, "1B2C3D4E5F");
    must_parse(sample_lines[17], &l);
    assert_int_equal(l.event, ML_DISCARD);
    assert_ml(l.qid, "2C3D4E5F6A");

    /* reject_warning is a warning, not a reject. */
    must_parse("Nov  5 13:54:48 mx1 postfix/smtpd[4711]: NOQUEUE: reject_warning: RCPT from "
               "unknown[1.2.3.4]: 450 4.7.1 <h>: Helo command rejected: Host not found; "
               "from=<a@b.example> to=<x@y.example> proto=ESMTP helo=<h>",
               &l);
    assert_int_not_equal(l.event, ML_REJECT);
}

/* The rejected header's text is the sender's: " from " and ": " in it do
 * not move the client, which is the last " from host[addr]" before "; from=". */
static void test_reject_header_text_with_from(void **state)
{
    (void)state;
    struct maillog_line l;
    must_parse("Nov  5 13:54:48 mx1 postfix/cleanup[4713]: 9F0A1B2C3D: reject: header Subject: "
               "Re: news from Bob: read now from mail.example.org[192.0.2.1]; "
               "from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<mail.example.org>: "
               "5.7.1 spam",
               &l);
    assert_int_equal(l.event, ML_REJECT);
    assert_ml(l.stage, "header");
    assert_ml(l.sender, "a@example.org");
    assert_ml(l.recipient, "b@example.net");
    assert_ml(l.dsn, "5.7.1");
    assert_ml(l.client, "mail.example.org[192.0.2.1]");
}

/* Every prefix of every sample line, in a buffer of exactly that size (so
 * ASan sees any read past it): no crash, every slice inside the prefix. */
static void test_truncated_lines(void **state)
{
    (void)state;
    size_t accepted = 0;
    for (size_t i = 0; i < sizeof(sample_lines) / sizeof(sample_lines[0]); i++) {
        size_t n = strlen(sample_lines[i]);
        for (size_t k = 0; k <= n; k++) {
            char *buf = malloc(k ? k : 1);
            assert_non_null(buf);
            memcpy(buf, sample_lines[i], k);
            struct maillog_line l;
            struct maillog_clock c;
            maillog_clock_init(&c, REF_NOV_2026);
            int r = maillog_parse(buf, k, &c, &l);
            assert_true(r == 0 || r == -1);
            if (r == 0) {
                accepted++;
                assert_all_inside(&l, buf, k);
                assert_true(l.time != INT64_MIN);
            }
            free(buf);
        }
        /* The whole line is accepted. */
        struct maillog_line l;
        must_parse(sample_lines[i], &l);
        assert_all_inside(&l, sample_lines[i], n);
    }
    assert_true(accepted > 0);
}

static void test_time_args(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_int_equal(maillog_parse_time_arg("2026-11-05T12:54:43Z", &t), 0);
    assert_int_equal(t, 1793883283);
    assert_int_equal(maillog_parse_time_arg("2026-11-05T13:54:43+01:00", &t), 0);
    assert_int_equal(t, 1793883283);
    assert_int_equal(maillog_parse_time_arg("2026-11-05T13:54:43", &t), 0); /* local: CET */
    assert_int_equal(t, 1793883283);
    assert_int_equal(maillog_parse_time_arg("2026-11-05", &t), 0); /* local midnight */
    assert_int_equal(t, 1793833200);
    assert_int_equal(maillog_parse_time_arg("@1793883283", &t), 0);
    assert_int_equal(t, 1793883283);
    assert_int_equal(maillog_parse_time_arg("yesterday", &t), -1);
    assert_int_equal(maillog_parse_time_arg("2026-11-05T25:00:00Z", &t), -1);

    assert_int_equal(maillog_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(maillog_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(maillog_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(maillog_days_from_civil(2026, 11, 5), 20762);
    assert_int_equal(maillog_days_from_civil(1600, 2, 29), -135081);

    /* Empty or cut short: refused, not a time left unset. */
    assert_int_equal(maillog_parse_time_arg("2026-11-0", &t), -1);
    assert_int_equal(maillog_parse_time_arg("", &t), -1);
}

/* -------------------------------------------------------------- scanner */

struct failure_copy {
    char qid[32];
    char sender[ML_ADDR_MAX], sender_domain[ML_DOMAIN_MAX];
    char recipient[ML_ADDR_MAX], recipient_domain[ML_DOMAIN_MAX], orig_to[ML_ADDR_MAX];
    char dsn[ML_DSN_MAX];
    int sender_was_srs, notification;
    enum ml_status status;
    enum ml_category category;
    int64_t time;
};

struct capture {
    size_t n;
    struct failure_copy f[32];
};

static void copy_str(char *dst, size_t sz, const char *s)
{
    assert_non_null(s);
    snprintf(dst, sz, "%s", s);
}

static void on_failure(void *arg, const struct maillog_failure *f)
{
    struct capture *cap = arg;
    assert_true(cap->n < sizeof(cap->f) / sizeof(cap->f[0]));
    struct failure_copy *c = &cap->f[cap->n++];
    copy_str(c->qid, sizeof(c->qid), f->qid);
    copy_str(c->sender, sizeof(c->sender), f->sender);
    copy_str(c->sender_domain, sizeof(c->sender_domain), f->sender_domain);
    copy_str(c->recipient, sizeof(c->recipient), f->recipient);
    copy_str(c->recipient_domain, sizeof(c->recipient_domain), f->recipient_domain);
    copy_str(c->orig_to, sizeof(c->orig_to), f->orig_to);
    copy_str(c->dsn, sizeof(c->dsn), f->dsn);
    assert_non_null(f->rule);
    c->sender_was_srs = f->sender_was_srs;
    c->notification = f->notification;
    c->status = f->status;
    c->category = f->rule->category;
    c->time = f->time;
}

struct scanner {
    struct maillog_scan *s;
    struct maillog_clock clk;
    struct capture cap;
};

static struct scanner *scanner_new(const srs *engine, int64_t since, int64_t until, int64_t max_age)
{
    struct scanner *sc = calloc(1, sizeof(*sc));
    assert_non_null(sc);
    struct maillog_scan_opts o = {.srs = engine,
                                  .max_age = max_age,
                                  .since = since,
                                  .until = until,
                                  .on_failure = on_failure,
                                  .arg = &sc->cap};
    fa_err err = {{0}};
    sc->s = maillog_scan_new(&o, &err);
    if (!sc->s)
        fail_msg("maillog_scan_new: %s", err.msg);
    maillog_clock_init(&sc->clk, REF_NOV_2026);
    return sc;
}

static void scanner_free(struct scanner *sc)
{
    maillog_scan_free(sc->s);
    free(sc);
}

static void feed(struct scanner *sc, const char *line)
{
    struct maillog_line l;
    fa_err err = {{0}};
    if (maillog_parse(line, strlen(line), &sc->clk, &l) == 0) {
        if (maillog_scan_feed(sc->s, &l, &err) != 0)
            fail_msg("maillog_scan_feed: %s", err.msg);
    } else {
        maillog_scan_skip(sc->s);
    }
}

static void feed_all(struct scanner *sc, const char *const *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        feed(sc, lines[i]);
}

static const struct maillog_group *find_group(const struct maillog_scan *s, enum ml_category cat,
                                              enum ml_status st, const char *sdom, const char *rdom)
{
    const struct maillog_group *found = NULL;
    for (size_t i = 0; i < maillog_scan_ngroups(s); i++) {
        const struct maillog_group *g = maillog_scan_group(s, i);
        assert_non_null(g);
        if (g->category == cat && g->status == st && !strcmp(g->sender_domain, sdom) &&
            !strcmp(g->recipient_domain, rdom)) {
            assert_null(found); /* one group per key */
            found = g;
        }
    }
    if (!found)
        fail_msg("no group %s/%d %s -> %s", maillog_category_name(cat), (int)st, sdom, rdom);
    return found;
}

static const struct failure_copy *find_failure(const struct capture *cap, const char *rcpt,
                                               enum ml_status st)
{
    for (size_t i = 0; i < cap->n; i++)
        if (!strcmp(cap->f[i].recipient, rcpt) && cap->f[i].status == st)
            return &cap->f[i];
    fail_msg("no failure for %s status %d", rcpt, (int)st);
    return NULL;
}

#define TS(hms) "2026-11-05T" hms "Z mx1 "
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* One log with every kind of total, counted as pflogsumm 1.1.5 counts its
 * Grand Totals (each expected number is worked out beside its lines). */
static void test_scan_totals(void **state)
{
    (void)state;
    static const char *const log[] = {
        /* noise: counted in lines only */
        "Nov  5 11:00:00 mx1 dovecot: imap-login: Login: user=<alice>",
        TS("10:00:00") "postfix/smtpd[1]: connect from a.example[192.0.2.1]",
        /* 1A1: received 1; to r1 sent, r2 bounced (DMARC), r3 deferred twice then sent */
        TS("10:00:01") "postfix/smtpd[1]: 1A1B2C3D4E: client=a.example[192.0.2.1]",
        TS("10:00:01") "postfix/cleanup[2]: 1A1B2C3D4E: message-id=<m1@a.example>",
        TS("10:00:01") "postfix/qmgr[3]: 1A1B2C3D4E: from=<Alice@A.Example>, size=1000, nrcpt=3 "
                       "(queue active)",
        TS("10:00:02") "postfix/smtp[4]: 1A1B2C3D4E: to=<r1@gmail.com>, "
                       "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=1, "
                       "delays=0.1/0/0.4/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK "
                       "1730800000 a1si2 - gsmtp)",
        TS("10:00:02") "postfix/smtp[5]: 1A1B2C3D4E: to=<r2@outlook.com>, "
                       "relay=example-net.mail.protection.outlook.com[52.101.68.13]:25, "
                       "delay=1.4, delays=0.05/0.01/0.6/0.74, dsn=5.7.509, "
                       "status=bounced (" OUTLOOK_REPLY ")",
        TS("10:00:31") "postfix/smtp[6]: 1A1B2C3D4E: to=<r3@slow.example>, relay=none, "
                       "delay=30, delays=0.01/0.01/30/0, dsn=4.4.1, "
                       "status=deferred (" TIMEOUT_REPLY ")",
        TS("10:00:31") "postfix/bounce[7]: 1A1B2C3D4E: sender non-delivery notification: "
                       "2B2C3D4E5F",
        /* 2B2 (the notification): delivered 1, notifications 1 */
        TS("10:00:31") "postfix/qmgr[3]: 2B2C3D4E5F: from=<>, size=3000, nrcpt=1 (queue active)",
        TS("10:00:32") "postfix/smtp[4]: 2B2C3D4E5F: to=<Alice@A.Example>, "
                       "relay=mx.a.example[192.0.2.1]:25, delay=0.5, delays=0/0/0.2/0.3, "
                       "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9Z9Y8X7W)",
        TS("10:00:32") "postfix/qmgr[3]: 2B2C3D4E5F: removed",
        TS("10:30:31") "postfix/smtp[6]: 1A1B2C3D4E: to=<r3@slow.example>, relay=none, "
                       "delay=1830, delays=1800/0.01/30/0, dsn=4.4.1, "
                       "status=deferred (" TIMEOUT_REPLY ")",
        TS("11:00:02") "postfix/smtp[6]: 1A1B2C3D4E: to=<r3@slow.example>, "
                       "relay=mx.slow.example[203.0.113.9]:25, delay=3601, "
                       "delays=3600/0.01/0.5/0.5, dsn=2.0.0, status=sent (250 ok)",
        TS("11:00:02") "postfix/qmgr[3]: 1A1B2C3D4E: removed",
        /* 3C3: received 1 (pickup), forwarded 1 (local "forwarded as"); 4D4 is the
         * forwarded copy, relayed with orig_to=: delivered 1, alias_forwarded 1 */
        TS("11:10:00") "postfix/pickup[8]: 3C3D4E5F6A: uid=0 from=<root>",
        TS("11:10:00") "postfix/cleanup[2]: 3C3D4E5F6A: message-id=<m3@mx1.example>",
        TS("11:10:00") "postfix/qmgr[3]: 3C3D4E5F6A: from=<root@mx1.example>, size=500, nrcpt=1 "
                       "(queue active)",
        TS("11:10:00") "postfix/local[9]: 3C3D4E5F6A: to=<root@mx1.example>, orig_to=<root>, "
                       "relay=local, delay=0.01, delays=0/0/0/0.01, dsn=2.0.0, "
                       "status=sent (forwarded as 4D4E5F6A7B)",
        TS("11:10:00") "postfix/cleanup[2]: 4D4E5F6A7B: message-id=<m3@mx1.example>",
        TS("11:10:00") "postfix/qmgr[3]: 4D4E5F6A7B: from=<root@mx1.example>, size=600, nrcpt=1 "
                       "(queue active)",
        TS("11:10:00") "postfix/qmgr[3]: 3C3D4E5F6A: removed",
        TS("11:10:01") "postfix/smtp[4]: 4D4E5F6A7B: to=<admin@gmail.com>, "
                       "orig_to=<root@mx1.example>, "
                       "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=1, "
                       "delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)",
        TS("11:10:01") "postfix/qmgr[3]: 4D4E5F6A7B: removed",
        /* rejected 3: smtpd NOQUEUE reject, cleanup header reject, cleanup milter-reject;
         * milter_rejected 2 (smtpd's milter-reject is not in pflogsumm's rejected) */
        TS("11:20:00") "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[1.2.3.4]: 554 5.7.1 "
                       "<x@y.example>: Relay access denied; from=<a@b.example> to=<x@y.example> "
                       "proto=ESMTP helo=<h>",
        TS("11:20:01") "postfix/smtpd[1]: NOQUEUE: milter-reject: RCPT from unknown[1.2.3.4]: "
                       "451 4.7.1 Service unavailable - try again later; from=<a@b.example> "
                       "to=<x@y.example> proto=ESMTP helo=<h>",
        TS("11:20:02") "postfix/smtpd[1]: 5E5F6A7B8C: client=localhost[127.0.0.1]",
        TS("11:20:02") "postfix/cleanup[2]: 5E5F6A7B8C: reject: header Subject: buy now from "
                       "localhost[127.0.0.1]; from=<> to=<> proto=ESMTP helo=<localhost>: 5.7.1 "
                       "spam",
        TS("11:20:03") "postfix/smtpd[1]: 6F6A7B8C9D: client=localhost[127.0.0.1]",
        TS("11:20:03") "postfix/cleanup[2]: 6F6A7B8C9D: milter-reject: END-OF-MESSAGE from "
                       "localhost[127.0.0.1]: 5.7.1 DMARC policy of example.org is reject; "
                       "from=<a@example.org> to=<b@example.net> proto=ESMTP helo=<localhost>",
        /* held 1, discarded 1 */
        TS("11:20:04") "postfix/smtpd[1]: 7A7B8C9D0E: client=mail.example.org[192.0.2.1]",
        TS("11:20:04") "postfix/cleanup[2]: 7A7B8C9D0E: hold: header Subject: invoice from "
                       "mail.example.org[192.0.2.1]; from=<a@example.org> to=<b@example.net> "
                       "proto=ESMTP helo=<mail.example.org>: quarantined",
        TS("11:20:05") "postfix/smtpd[1]: 8B8C9D0E1F: discard: RCPT from "
                       "mail.example.org[192.0.2.1]: <c@example.net>: Recipient address triggers "
                       "DISCARD action; from=<a@example.org> to=<c@example.net> proto=ESMTP "
                       "helo=<mail.example.org>",
        "2026-11-05T11:40:00+01:00 mx1 kernel: eth0: link up",
    };
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    feed_all(sc, log, N(log));
    const struct maillog_totals *t = maillog_scan_totals(sc->s);
    assert_non_null(t);
    assert_int_equal(t->lines, N(log));
    assert_int_equal(t->postfix_lines, N(log) - 2);
    assert_int_equal(t->received, 5); /* 1A1, 3C3 (pickup), 5E5, 6F6, 7A7 */
    assert_int_equal(t->delivered, 4);
    assert_int_equal(t->forwarded, 1);
    assert_int_equal(t->alias_forwarded, 1);
    assert_int_equal(t->deferred, 1);
    assert_int_equal(t->deferrals, 2);
    assert_int_equal(t->bounced, 1);
    assert_int_equal(t->rejected, 3);
    assert_int_equal(t->milter_rejected, 2);
    assert_int_equal(t->held, 1);
    assert_int_equal(t->discarded, 1);
    assert_int_equal(t->expired, 0);
    assert_int_equal(t->notifications, 1);
    /* Failures: r2's bounce and r3's first deferral (rejects are not deliveries). */
    assert_int_equal(t->failures, 2);
    assert_int_equal(t->auth_failures, 1);
    assert_true(t->auth_failures <= t->failures);

    const struct maillog_group *g =
        find_group(sc->s, ML_CAT_DMARC, ML_ST_BOUNCED, "a.example", "outlook.com");
    assert_int_equal(g->count, 1);
    assert_int_equal(g->forwarded, 0);
    assert_string_equal(g->dsn, "5.7.509");
    assert_non_null(strstr(g->reply, "5.7.509 Access denied"));
    assert_non_null(g->rule);
    assert_int_equal(g->rule->category, ML_CAT_DMARC);
    assert_int_equal(g->first, T0 + 2);
    assert_int_equal(g->last, T0 + 2);
    g = find_group(sc->s, ML_CAT_DEFERRAL, ML_ST_DEFERRED, "a.example", "slow.example");
    assert_int_equal(g->count, 1);
    assert_string_equal(g->dsn, "4.4.1");
    assert_int_equal(g->first, T0 + 31);

    /* The callback saw the same two failures. */
    assert_int_equal(sc->cap.n, 2);
    const struct failure_copy *f = find_failure(&sc->cap, "r2@outlook.com", ML_ST_BOUNCED);
    assert_string_equal(f->qid, "1A1B2C3D4E");
    assert_string_equal(f->sender, "Alice@A.Example");
    assert_string_equal(f->sender_domain, "a.example");
    assert_string_equal(f->recipient_domain, "outlook.com");
    assert_string_equal(f->orig_to, "");
    assert_string_equal(f->dsn, "5.7.509");
    assert_int_equal(f->sender_was_srs, 0);
    assert_int_equal(f->notification, 0);
    assert_int_equal(f->category, ML_CAT_DMARC);
    assert_int_equal(f->time, T0 + 2);
    scanner_free(sc);
}

/* A message that stays deferred until it expires. */
static void test_scan_expired(void **state)
{
    (void)state;
    static const char *const log[] = {
        TS("10:00:00") "postfix/smtpd[1]: 1A2B3C: client=a.example[192.0.2.1]",
        TS("10:00:00") "postfix/qmgr[3]: 1A2B3C: from=<old@a.example>, size=900, nrcpt=1 "
                       "(queue active)",
        TS("10:00:30") "postfix/smtp[4]: 1A2B3C: to=<r1@slow.example>, relay=none, delay=30, "
                       "delays=0/0/30/0, dsn=4.4.1, status=deferred (" TIMEOUT_REPLY ")",
        TS("15:00:30") "postfix/qmgr[3]: 1A2B3C: from=<old@a.example>, status=expired, "
                       "returned to sender",
        TS("15:00:30") "postfix/bounce[7]: 1A2B3C: sender non-delivery notification: 2B3C4D",
        TS("15:00:30") "postfix/qmgr[3]: 1A2B3C: removed",
    };
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    feed_all(sc, log, N(log));
    const struct maillog_totals *t = maillog_scan_totals(sc->s);
    assert_int_equal(t->expired, 1);
    assert_int_equal(t->deferred, 1);
    assert_int_equal(t->deferrals, 1);
    assert_int_equal(t->notifications, 1);
    assert_int_equal(t->bounced, 0);
    find_group(sc->s, ML_CAT_DEFERRAL, ML_ST_DEFERRED, "a.example", "slow.example");
    assert_true(t->failures >= 1);
    scanner_free(sc);
}

/* Two messages with the same short queue ID, one after the other. */
static void test_scan_qid_reuse(void **state)
{
    (void)state;
    static const char *const log[] = {
        TS("10:00:00") "postfix/smtpd[1]: 4AB12CD: client=one.example[192.0.2.1]",
        TS("10:00:00") "postfix/qmgr[3]: 4AB12CD: from=<alice@one.example>, size=900, nrcpt=1 "
                       "(queue active)",
        TS("10:00:01") "postfix/smtp[4]: 4AB12CD: to=<r@gmail.com>, "
                       "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=1, "
                       "delays=0/0/0.5/0.5, dsn=4.7.26, status=deferred (" GMAIL_DEFER_REPLY ")",
        TS("10:05:01") "postfix/smtp[4]: 4AB12CD: to=<r@gmail.com>, "
                       "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=301, "
                       "delays=300/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)",
        TS("10:05:01") "postfix/qmgr[3]: 4AB12CD: removed",
        /* the same ID, another message, another sender */
        TS("10:05:03") "postfix/smtpd[1]: 4AB12CD: client=two.example[192.0.2.2]",
        TS("10:05:03") "postfix/qmgr[3]: 4AB12CD: from=<bob@two.example>, size=800, nrcpt=2 "
                       "(queue active)",
        TS("10:05:04") "postfix/smtp[4]: 4AB12CD: to=<r@gmail.com>, "
                       "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=1, "
                       "delays=0/0/0.5/0.5, dsn=4.7.26, status=deferred (" GMAIL_DEFER_REPLY ")",
        TS("10:05:04") "postfix/smtp[5]: 4AB12CD: to=<s@outlook.com>, "
                       "relay=example-net.mail.protection.outlook.com[52.101.68.13]:25, "
                       "delay=1, delays=0/0/0.5/0.5, dsn=5.7.509, "
                       "status=bounced (" OUTLOOK_REPLY ")",
        TS("10:05:05") "postfix/bounce[7]: 4AB12CD: sender non-delivery notification: 5BC23DE",
        TS("10:05:05") "postfix/qmgr[3]: 4AB12CD: removed",
    };
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    feed_all(sc, log, N(log));
    const struct maillog_totals *t = maillog_scan_totals(sc->s);
    assert_int_equal(t->received, 2);
    assert_int_equal(t->failures, 3);
    assert_int_equal(t->auth_failures, 3);
    const struct maillog_group *g =
        find_group(sc->s, ML_CAT_DMARC, ML_ST_DEFERRED, "one.example", "gmail.com");
    assert_int_equal(g->count, 1);
    assert_string_equal(g->dsn, "4.7.26");
    g = find_group(sc->s, ML_CAT_DMARC, ML_ST_DEFERRED, "two.example", "gmail.com");
    assert_int_equal(g->count, 1);
    g = find_group(sc->s, ML_CAT_DMARC, ML_ST_BOUNCED, "two.example", "outlook.com");
    assert_int_equal(g->count, 1);
    assert_int_equal(maillog_scan_ngroups(sc->s), 3);
    scanner_free(sc);
}

/* A bounce notification that fails names the sender domain of the
 * message it reports on, even after that message was removed. */
static void test_scan_notification_origin(void **state)
{
    (void)state;
    static const char *const log[] = {
        TS("10:00:00") "postfix/smtpd[1]: 1A2B3C: client=mail.origin.example[192.0.2.1]",
        TS("10:00:00") "postfix/qmgr[3]: 1A2B3C: from=<alice@origin.example>, size=900, "
                       "nrcpt=1 (queue active)",
        TS("10:00:01") "postfix/smtp[4]: 1A2B3C: to=<bob@dest.example>, "
                       "relay=mx.dest.example[198.51.100.7]:25, delay=1, delays=0/0/0.5/0.5, "
                       "dsn=5.1.1, status=bounced (" UNKNOWN_USER_REPLY ")",
        TS("10:00:01") "postfix/cleanup[2]: 2B3C4D: message-id=<20261105100001.2B3C4D@mx1>",
        TS("10:00:01") "postfix/bounce[7]: 1A2B3C: sender non-delivery notification: 2B3C4D",
        TS("10:00:01") "postfix/qmgr[3]: 1A2B3C: removed",
        TS("10:00:01") "postfix/qmgr[3]: 2B3C4D: from=<>, size=3100, nrcpt=1 (queue active)",
        TS("10:00:02") "postfix/smtp[4]: 2B3C4D: to=<alice@origin.example>, "
                       "relay=mx.origin.example[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, "
                       "dsn=5.7.1, status=bounced (host mx.origin.example[192.0.2.1] said: 554 "
                       "5.7.1 Service unavailable; Client host [198.51.100.1] blocked using "
                       "zen.spamhaus.org (in reply to RCPT TO command))",
        TS("10:00:02") "postfix/qmgr[3]: 2B3C4D: removed",
    };
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    feed_all(sc, log, N(log));
    const struct maillog_totals *t = maillog_scan_totals(sc->s);
    assert_int_equal(t->notifications, 1);
    assert_int_equal(t->bounced, 2);
    assert_int_equal(t->failures, 2);
    assert_int_equal(t->auth_failures, 0);
    find_group(sc->s, ML_CAT_MAILBOX, ML_ST_BOUNCED, "origin.example", "dest.example");
    const struct maillog_group *g =
        find_group(sc->s, ML_CAT_POLICY, ML_ST_BOUNCED, "origin.example", "origin.example");
    assert_int_equal(g->count, 1);
    const struct failure_copy *f = find_failure(&sc->cap, "alice@origin.example", ML_ST_BOUNCED);
    assert_int_equal(f->notification, 1);
    assert_string_equal(f->sender_domain, "origin.example");
    assert_string_equal(f->qid, "2B3C4D");
    f = find_failure(&sc->cap, "bob@dest.example", ML_ST_BOUNCED);
    assert_int_equal(f->notification, 0);
    assert_int_equal(maillog_scan_inflight(sc->s), 0);
    scanner_free(sc);
}

/* bounce(8) may log the link after qmgr already delivered the notification:
 * its failure waits for the link and still names the origin's domain. A
 * null-sender message that is never linked (a bounce from elsewhere) is
 * counted at "removed", or by maillog_scan_finish when the log ends first. */
static void test_scan_notification_link_late(void **state)
{
    (void)state;
    static const char *const log[] = {
        TS("10:00:00") "postfix/smtpd[1]: 1A2B3C: client=mail.origin.example[192.0.2.1]",
        TS("10:00:00") "postfix/qmgr[3]: 1A2B3C: from=<alice@origin.example>, size=900, "
                       "nrcpt=1 (queue active)",
        TS("10:00:01") "postfix/smtp[4]: 1A2B3C: to=<bob@dest.example>, "
                       "relay=mx.dest.example[198.51.100.7]:25, delay=1, delays=0/0/0.5/0.5, "
                       "dsn=5.1.1, status=bounced (" UNKNOWN_USER_REPLY ")",
        TS("10:00:01") "postfix/qmgr[3]: 2B3C4D: from=<>, size=3100, nrcpt=1 (queue active)",
        TS("10:00:02") "postfix/smtp[4]: 2B3C4D: to=<alice@origin.example>, "
                       "relay=mx.origin.example[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, "
                       "dsn=5.1.1, status=bounced (" UNKNOWN_USER_REPLY ")",
        TS("10:00:02") "postfix/bounce[7]: 1A2B3C: sender non-delivery notification: 2B3C4D",
        TS("10:00:02") "postfix/qmgr[3]: 1A2B3C: removed",
        TS("10:00:02") "postfix/qmgr[3]: 2B3C4D: removed",
        /* never linked, removed */
        TS("10:00:03") "postfix/qmgr[3]: 3C4D5E: from=<>, size=3100, nrcpt=1 (queue active)",
        TS("10:00:03") "postfix/smtp[4]: 3C4D5E: to=<carol@third.example>, "
                       "relay=mx.third.example[192.0.2.3]:25, delay=1, delays=0/0/0.5/0.5, "
                       "dsn=5.1.1, status=bounced (" UNKNOWN_USER_REPLY ")",
        TS("10:00:03") "postfix/qmgr[3]: 3C4D5E: removed",
        /* never linked, the log ends before "removed" */
        TS("10:00:04") "postfix/qmgr[3]: 4D5E6F: from=<>, size=3100, nrcpt=1 (queue active)",
        TS("10:00:04") "postfix/smtp[4]: 4D5E6F: to=<dave@fourth.example>, "
                       "relay=mx.fourth.example[192.0.2.4]:25, delay=1, delays=0/0/0.5/0.5, "
                       "dsn=5.1.1, status=bounced (" UNKNOWN_USER_REPLY ")",
    };
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    feed_all(sc, log, N(log));
    assert_int_equal(maillog_scan_totals(sc->s)->failures, 3); /* 4D5E6F held */
    assert_int_equal(maillog_scan_finish(sc->s), 0);
    const struct maillog_totals *t = maillog_scan_totals(sc->s);
    assert_int_equal(t->failures, 4);
    assert_int_equal(t->bounced, 4);
    find_group(sc->s, ML_CAT_MAILBOX, ML_ST_BOUNCED, "origin.example", "origin.example");
    find_group(sc->s, ML_CAT_MAILBOX, ML_ST_BOUNCED, "", "third.example");
    find_group(sc->s, ML_CAT_MAILBOX, ML_ST_BOUNCED, "", "fourth.example");
    const struct failure_copy *f = find_failure(&sc->cap, "alice@origin.example", ML_ST_BOUNCED);
    assert_int_equal(f->notification, 1);
    assert_string_equal(f->sender_domain, "origin.example");
    assert_int_equal(maillog_scan_finish(sc->s), 0); /* nothing counted twice */
    assert_int_equal(maillog_scan_totals(sc->s)->failures, 4);
    scanner_free(sc);
}

static srs *make_srs(char sep)
{
    static const char *const secrets[] = {"tops3cr3t"};
    static const size_t lens[] = {9};
    char *locals[] = {"example.net"};
    struct srs_params p = {.domain = "fwd.example",
                           .local_domains = locals,
                           .n_local_domains = 1,
                           .hash_length = 4,
                           .max_age = 21,
                           .separator = sep,
                           .alphabet = FA_SRS_BASE64URL};
    fa_err err = {{0}};
    srs *s = srs_new(&p, secrets, lens, 1, &err);
    if (!s)
        fail_msg("srs_new: %s", err.msg);
    return s;
}

static int unsrs(const srs *e, const char *addr, char *real, char *domain)
{
    return maillog_unsrs(e, T0, addr, strlen(addr), real, ML_ADDR_MAX, domain, ML_DOMAIN_MAX);
}

static void test_unsrs(void **state)
{
    (void)state;
    char real[ML_ADDR_MAX], dom[ML_DOMAIN_MAX], a0[SRS_ADDR_MAX], a1[SRS_ADDR_MAX];
    const char *why;
    static const char seps[] = "=+-";
    for (size_t i = 0; i < 3; i++) {
        srs *e = make_srs(seps[i]);
        /* SRS0 made by the engine an hour before the log time. */
        assert_int_equal(
            srs_forward(e, "alice@origin.example", 20, (time_t)(T0 - 3600), a0, sizeof(a0), &why),
            SRS_OK);
        assert_int_equal(a0[4], seps[i]);
        /* SRS1: someone else's SRS0 forwarded again by us. */
        char hop[128];
        snprintf(hop, sizeof(hop), "SRS0%cAbCd=2W=origin.example=alice@hop.example", seps[i]);
        assert_int_equal(
            srs_forward(e, hop, strlen(hop), (time_t)(T0 - 3600), a1, sizeof(a1), &why), SRS_OK);
        assert_true(strncmp(a1, "SRS1", 4) == 0);
        const srs *engines[2] = {e, NULL}; /* verified, then structural */
        for (int k = 0; k < 2; k++) {
            assert_int_equal(unsrs(engines[k], a0, real, dom), 1);
            assert_string_equal(real, "alice@origin.example");
            assert_string_equal(dom, "origin.example");
        }
        assert_int_equal(unsrs(NULL, a1, real, dom), 1);
        assert_string_equal(real, "alice@origin.example");
        assert_string_equal(dom, "origin.example");
        srs_free(e);
    }
    /* Structural reading of addresses no engine of ours could verify. */
    static const char *const structural[] = {
        "SRS0=AbCd=2W=origin.example=alice@other-forwarder.example",
        "SRS0+AbCd=2W=origin.example=alice@other-forwarder.example",
        "SRS0-AbCd=2W=origin.example=alice@other-forwarder.example",
        "SRS1=GgGg=hop.example==AbCd=2W=origin.example=alice@other-forwarder.example",
        "SRS1+GgGg=hop.example=+AbCd=2W=origin.example=alice@other-forwarder.example",
        "SRS1-GgGg=hop.example=-AbCd=2W=origin.example=alice@other-forwarder.example",
        "srs0=AbCd=2W=Origin.Example=alice@OTHER-forwarder.example",
    };
    srs *e = make_srs('=');
    for (size_t i = 0; i < N(structural); i++) {
        for (int k = 0; k < 2; k++) {
            const char *a = structural[i];
            int r = unsrs(k ? e : NULL, a, real, dom);
            if (r != 1 || strcmp(dom, "origin.example") != 0)
                fail_msg("%s (%s engine): %d, domain \"%s\"", a, k ? "with" : "without", r, dom);
        }
    }
    /* Not SRS. */
    assert_int_equal(unsrs(e, "Alice@Example.ORG", real, dom), 0);
    assert_string_equal(real, "Alice@Example.ORG");
    assert_string_equal(dom, "example.org");
    assert_int_equal(unsrs(NULL, "", real, dom), 0);
    assert_string_equal(dom, "");
    assert_int_equal(unsrs(NULL, "MAILER-DAEMON", real, dom), 0);
    assert_string_equal(dom, "");
    assert_int_equal(unsrs(NULL, "srsuser@example.org", real, dom), 0);
    assert_string_equal(dom, "example.org");
    srs_free(e);
}

/* An SRS1 address our engine verifies reverses to the previous hop's SRS0
 * address: the real sender is inside that, as the structural reading says. */
static void test_unsrs_srs1_verified(void **state)
{
    (void)state;
    char real[ML_ADDR_MAX], dom[ML_DOMAIN_MAX], a1[SRS_ADDR_MAX];
    const char *why;
    srs *e = make_srs('=');
    const char *hop = "SRS0=AbCd=2W=origin.example=alice@hop.example";
    assert_int_equal(srs_forward(e, hop, strlen(hop), (time_t)(T0 - 3600), a1, sizeof(a1), &why),
                     SRS_OK);
    assert_true(strncmp(a1, "SRS1=", 5) == 0);
    assert_int_equal(unsrs(e, a1, real, dom), 1);
    assert_string_equal(dom, "origin.example");
    assert_string_equal(real, "alice@origin.example");
    srs_free(e);
}

static void test_scan_srs_senders(void **state)
{
    (void)state;
    srs *e = make_srs('=');
    char a0[SRS_ADDR_MAX], line[2048];
    const char *why;
    assert_int_equal(
        srs_forward(e, "alice@origin.example", 20, (time_t)(T0 - 60), a0, sizeof(a0), &why),
        SRS_OK);
    for (int k = 0; k < 2; k++) {
        struct scanner *sc = scanner_new(k ? e : NULL, INT64_MIN, INT64_MAX, 0);
        feed(sc, TS("10:00:00") "postfix/smtpd[1]: 1A2B3C: client=relay.example[192.0.2.1]");
        snprintf(line, sizeof(line),
                 TS("10:00:00") "postfix/qmgr[3]: 1A2B3C: from=<%s>, size=900, nrcpt=1 (queue "
                                "active)",
                 a0);
        feed(sc, line);
        feed(sc, TS("10:00:01") "postfix/smtp[4]: 1A2B3C: to=<bob@gmail.com>, "
                                "orig_to=<bob@example.net>, "
                                "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=1, "
                                "delays=0/0/0.5/0.5, dsn=5.7.26, status=bounced (" GMAIL_REPLY ")");
        feed(sc, TS("10:00:01") "postfix/qmgr[3]: 1A2B3C: removed");
        /* SRS1 with '+' from another forwarder, structural. */
        feed(sc, TS("10:00:02") "postfix/smtpd[1]: 2B3C4D: client=relay.example[192.0.2.1]");
        feed(sc, TS("10:00:02") "postfix/qmgr[3]: 2B3C4D: "
                                "from=<SRS1+GgGg=hop.example=+AbCd=2W=second.example=carol@fwd2."
                                "example>, size=900, nrcpt=1 (queue active)");
        feed(sc, TS("10:00:03") "postfix/smtp[4]: 2B3C4D: to=<bob@gmail.com>, "
                                "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=1, "
                                "delays=0/0/0.5/0.5, dsn=5.7.26, status=bounced (" GMAIL_REPLY ")");
        feed(sc, TS("10:00:03") "postfix/qmgr[3]: 2B3C4D: removed");

        const struct maillog_group *g =
            find_group(sc->s, ML_CAT_DMARC, ML_ST_BOUNCED, "origin.example", "gmail.com");
        assert_int_equal(g->count, 1);
        assert_int_equal(g->forwarded, 1); /* orig_to= */
        find_group(sc->s, ML_CAT_DMARC, ML_ST_BOUNCED, "second.example", "gmail.com");
        assert_int_equal(sc->cap.n, 2);
        assert_string_equal(sc->cap.f[0].sender, "alice@origin.example");
        assert_int_equal(sc->cap.f[0].sender_was_srs, 1);
        assert_string_equal(sc->cap.f[0].orig_to, "bob@example.net");
        assert_string_equal(sc->cap.f[1].sender, "carol@second.example");
        assert_int_equal(sc->cap.f[1].sender_was_srs, 1);
        scanner_free(sc);
    }
    srs_free(e);
}

/* --since/--until: lines outside count nothing but still update records. */
static void test_scan_window(void **state)
{
    (void)state;
    static const char *const log[] = {
        TS("10:00:00") "postfix/smtpd[1]: 1A2B3C: client=a.example[192.0.2.1]",
        TS("10:00:00") "postfix/qmgr[3]: 1A2B3C: from=<alice@early.example>, size=900, nrcpt=2 "
                       "(queue active)",
        TS("10:00:01") "postfix/smtp[4]: 1A2B3C: to=<x@b.example>, relay=mx.b.example[192.0.2.9]:"
                       "25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, "
                       "status=bounced (" UNKNOWN_USER_REPLY ")",
        /* since = 10:30:00 (inclusive) */
        TS("10:30:00") "postfix/smtp[4]: 1A2B3C: to=<y@outlook.com>, "
                       "relay=example-net.mail.protection.outlook.com[52.101.68.13]:25, delay=1, "
                       "delays=0/0/0.5/0.5, dsn=5.7.509, status=bounced (" OUTLOOK_REPLY ")",
        TS("10:30:00") "postfix/qmgr[3]: 1A2B3C: removed",
        TS("11:00:00") "postfix/smtpd[1]: 2B3C4D: client=a.example[192.0.2.1]",
        TS("11:00:00") "postfix/qmgr[3]: 2B3C4D: from=<bob@inside.example>, size=900, nrcpt=2 "
                       "(queue active)",
        TS("11:00:01") "postfix/smtp[4]: 2B3C4D: to=<x@b.example>, relay=mx.b.example[192.0.2.9]:"
                       "25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)",
        /* until = 12:00:00 (exclusive) */
        TS("12:00:00") "postfix/smtp[4]: 2B3C4D: to=<y@outlook.com>, "
                       "relay=example-net.mail.protection.outlook.com[52.101.68.13]:25, delay=1, "
                       "delays=0/0/0.5/0.5, dsn=5.7.509, status=bounced (" OUTLOOK_REPLY ")",
        TS("12:00:00") "postfix/qmgr[3]: 2B3C4D: removed",
        TS("12:00:01") "postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[1.2.3.4]: 554 5.7.1 "
                       "<x@y.example>: Relay access denied; from=<a@b.example> to=<x@y.example> "
                       "proto=ESMTP helo=<h>",
    };
    struct scanner *sc = scanner_new(NULL, T0 + 1800, T0 + 7200, 0);
    feed_all(sc, log, N(log));
    const struct maillog_totals *t = maillog_scan_totals(sc->s);
    assert_int_equal(t->received, 1);
    assert_int_equal(t->delivered, 1);
    assert_int_equal(t->bounced, 1);
    assert_int_equal(t->rejected, 0);
    assert_int_equal(t->failures, 1);
    assert_int_equal(maillog_scan_ngroups(sc->s), 1);
    /* The message was received before --since: its sender is still known. */
    const struct maillog_group *g =
        find_group(sc->s, ML_CAT_DMARC, ML_ST_BOUNCED, "early.example", "outlook.com");
    assert_int_equal(g->count, 1);
    assert_int_equal(g->first, T0 + 1800);
    assert_int_equal(sc->cap.n, 1);
    assert_int_equal(maillog_scan_inflight(sc->s), 0);
    scanner_free(sc);
}

/* Messages never removed (the log starts or stops mid-way) are dropped
 * after max_age seconds of log time. */
static void test_scan_max_age(void **state)
{
    (void)state;
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 3600);
    char line[512];
    for (int i = 0; i < 1000; i++) {
        snprintf(line, sizeof(line),
                 TS("10:00:00") "postfix/smtpd[1]: A%05d: client=a.example[192.0.2.1]", i);
        feed(sc, line);
        snprintf(line, sizeof(line),
                 TS("10:00:00") "postfix/qmgr[3]: A%05d: from=<s%d@a.example>, size=900, "
                                "nrcpt=1 (queue active)",
                 i, i);
        feed(sc, line);
    }
    assert_int_equal(maillog_scan_inflight(sc->s), 1000);
    /* Three hours of complete messages, one a minute. */
    for (int m = 1; m <= 180; m++) {
        char ts[32];
        snprintf(ts, sizeof(ts), "2026-11-05T%02d:%02d:00Z", 10 + m / 60, m % 60);
        snprintf(line, sizeof(line), "%s mx1 postfix/smtpd[1]: B%05d: client=a.example[192.0.2.1]",
                 ts, m);
        feed(sc, line);
        snprintf(line, sizeof(line),
                 "%s mx1 postfix/qmgr[3]: B%05d: from=<b@a.example>, size=9, nrcpt=1 (queue "
                 "active)",
                 ts, m);
        feed(sc, line);
        snprintf(
            line, sizeof(line),
            "%s mx1 postfix/smtp[4]: B%05d: to=<c@d.example>, relay=mx.d.example[192.0.2.9]:25, "
            "delay=0.1, delays=0/0/0.05/0.05, dsn=2.0.0, status=sent (250 ok)",
            ts, m);
        feed(sc, line);
        snprintf(line, sizeof(line), "%s mx1 postfix/qmgr[3]: B%05d: removed", ts, m);
        feed(sc, line);
    }
    assert_int_equal(maillog_scan_inflight(sc->s), 0);
    assert_int_equal(maillog_scan_totals(sc->s)->received, 1180);
    assert_int_equal(maillog_scan_totals(sc->s)->delivered, 180);
    scanner_free(sc);
}

/* Lines out of order by more than max_age (logs concatenated in the wrong
 * order, a clock step): the record a line creates or finds must not be
 * swept while that line is being fed (use-after-free under ASan). */
static void test_scan_line_older_than_max_age(void **state)
{
    (void)state;
    static const char *const log[] = {
        "2026-11-05T10:00:00Z mx1 postfix/smtpd[1]: 1A2B3C: client=a.example[192.0.2.1]",
        "2026-11-20T10:00:00Z mx1 postfix/smtpd[1]: connect from a.example[192.0.2.1]",
        "2026-11-05T10:00:01Z mx1 postfix/qmgr[3]: 4AB12CD: from=<alice@a.example>, size=900, "
        "nrcpt=1 (queue active)",
        "2026-11-05T10:00:02Z mx1 postfix/smtp[4]: 4AB12CD: to=<r@outlook.com>, "
        "relay=example-net.mail.protection.outlook.com[52.101.68.13]:25, delay=1, "
        "delays=0/0/0.5/0.5, dsn=5.7.509, status=bounced (" OUTLOOK_REPLY ")",
        "2026-11-05T10:00:02Z mx1 postfix/bounce[7]: 4AB12CD: sender non-delivery notification: "
        "5BC23DE",
        "2026-11-05T10:00:02Z mx1 postfix/qmgr[3]: 4AB12CD: removed",
    };
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    feed_all(sc, log, N(log));
    const struct maillog_group *g =
        find_group(sc->s, ML_CAT_DMARC, ML_ST_BOUNCED, "a.example", "outlook.com");
    assert_int_equal(g->count, 1);
    assert_int_equal(maillog_scan_totals(sc->s)->notifications, 1);
    scanner_free(sc);
}

/* A message cleanup rejects (header, body, milter at END-OF-MESSAGE) is
 * gone: Postfix logs no "removed" for it, so its record must end there or
 * memory grows with the number of rejects in the log. */
static void test_scan_rejected_not_in_flight(void **state)
{
    (void)state;
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    char line[512];
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof(line),
                 TS("10:00:00") "postfix/smtpd[1]: C%05d: client=a.example[192.0.2.1]", i);
        feed(sc, line);
        snprintf(line, sizeof(line),
                 i % 2 ? TS("10:00:00") "postfix/cleanup[2]: C%05d: milter-reject: "
                                        "END-OF-MESSAGE from a.example[192.0.2.1]: 5.7.1 DMARC "
                                        "policy of a.example is reject; from=<s@a.example> "
                                        "to=<r@example.net> proto=ESMTP helo=<a.example>"
                       : TS("10:00:00") "postfix/cleanup[2]: C%05d: reject: header Subject: win "
                                        "from a.example[192.0.2.1]; from=<s@a.example> "
                                        "to=<r@example.net> proto=ESMTP helo=<a.example>: 5.7.1 "
                                        "message content rejected",
                 i);
        feed(sc, line);
    }
    assert_int_equal(maillog_scan_totals(sc->s)->received, 100);
    assert_int_equal(maillog_scan_totals(sc->s)->rejected, 100);
    assert_int_equal(maillog_scan_inflight(sc->s), 0);
    scanner_free(sc);
}

/* A recipient deferred again and again is one failure per message; a later
 * bounce of the same recipient is another. */
static void test_scan_deferral_once(void **state)
{
    (void)state;
    static const char *const log[] = {
        TS("10:00:00") "postfix/smtpd[1]: 1A2B3C: client=a.example[192.0.2.1]",
        TS("10:00:00") "postfix/qmgr[3]: 1A2B3C: from=<alice@a.example>, size=900, nrcpt=2 "
                       "(queue active)",
        TS("10:00:30") "postfix/smtp[4]: 1A2B3C: to=<r1@slow.example>, relay=none, delay=30, "
                       "delays=0/0/30/0, dsn=4.4.1, status=deferred (" TIMEOUT_REPLY ")",
        TS("10:00:31") "postfix/smtp[4]: 1A2B3C: to=<r2@gmail.com>, "
                       "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=1, "
                       "delays=0/0/0.5/0.5, dsn=4.7.26, status=deferred (" GMAIL_DEFER_REPLY ")",
        TS("10:10:30") "postfix/smtp[4]: 1A2B3C: to=<r1@slow.example>, relay=none, delay=630, "
                       "delays=600/0/30/0, dsn=4.4.1, status=deferred (" TIMEOUT_REPLY ")",
        TS("10:10:31") "postfix/smtp[4]: 1A2B3C: to=<r2@gmail.com>, "
                       "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=631, "
                       "delays=630/0/0.5/0.5, dsn=4.7.26, status=deferred (" GMAIL_DEFER_REPLY ")",
        TS("10:40:30") "postfix/smtp[4]: 1A2B3C: to=<r1@slow.example>, relay=none, delay=2430, "
                       "delays=2400/0/30/0, dsn=4.4.1, status=deferred (" TIMEOUT_REPLY ")",
        TS("11:40:30") "postfix/smtp[4]: 1A2B3C: to=<r2@gmail.com>, "
                       "relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, delay=6030, "
                       "delays=6030/0/0.5/0.5, dsn=5.7.26, status=bounced (" GMAIL_REPLY ")",
        TS("11:40:31") "postfix/smtp[4]: 1A2B3C: to=<r1@slow.example>, relay=none, delay=6030, "
                       "delays=6000/0/30/0, dsn=4.4.1, status=deferred (" TIMEOUT_REPLY ")",
    };
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    feed_all(sc, log, N(log));
    const struct maillog_totals *t = maillog_scan_totals(sc->s);
    assert_int_equal(t->deferrals, 6);
    assert_int_equal(t->deferred, 1);
    assert_int_equal(t->bounced, 1);
    assert_int_equal(t->failures, 3);
    assert_int_equal(t->auth_failures, 2);
    const struct maillog_group *g =
        find_group(sc->s, ML_CAT_DEFERRAL, ML_ST_DEFERRED, "a.example", "slow.example");
    assert_int_equal(g->count, 1);
    assert_int_equal(g->first, T0 + 30);
    g = find_group(sc->s, ML_CAT_DMARC, ML_ST_DEFERRED, "a.example", "gmail.com");
    assert_int_equal(g->count, 1);
    g = find_group(sc->s, ML_CAT_DMARC, ML_ST_BOUNCED, "a.example", "gmail.com");
    assert_int_equal(g->count, 1);
    assert_string_equal(g->dsn, "5.7.26");
    assert_int_equal(maillog_scan_ngroups(sc->s), 3);
    assert_int_equal(maillog_scan_inflight(sc->s), 1);
    scanner_free(sc);
}

/* Group strings are bounded and NUL-terminated whatever the log holds. */
static void test_scan_long_fields(void **state)
{
    (void)state;
    static char dom[1200], line[8192], reply[3000];
    memset(dom, 'd', sizeof(dom) - 1);
    dom[sizeof(dom) - 1] = '\0';
    memset(reply, 'r', sizeof(reply) - 1);
    reply[sizeof(reply) - 1] = '\0';
    struct scanner *sc = scanner_new(NULL, INT64_MIN, INT64_MAX, 0);
    snprintf(line, sizeof(line),
             TS("10:00:00") "postfix/qmgr[3]: 1A2B3C: from=<a@%s>, size=900, nrcpt=1 (queue "
                            "active)",
             dom);
    feed(sc, line);
    snprintf(line, sizeof(line),
             TS("10:00:01") "postfix/smtp[4]: 1A2B3C: to=<b@%s>, relay=none, delay=1, "
                            "delays=0/0/1/0, dsn=5.0.0, status=bounced (550 5.0.0 %s)",
             dom, reply);
    feed(sc, line);
    assert_int_equal(maillog_scan_totals(sc->s)->bounced, 1);
    assert_int_equal(maillog_scan_ngroups(sc->s), 1);
    const struct maillog_group *g = maillog_scan_group(sc->s, 0);
    assert_true(memchr(g->sender_domain, '\0', sizeof(g->sender_domain)) != NULL);
    assert_true(memchr(g->recipient_domain, '\0', sizeof(g->recipient_domain)) != NULL);
    assert_true(memchr(g->reply, '\0', sizeof(g->reply)) != NULL);
    assert_true(memchr(g->dsn, '\0', sizeof(g->dsn)) != NULL);
    assert_true(strlen(g->reply) > 0);
    scanner_free(sc);
}

int main(void)
{
    /* Classic stamps are local time: test in a zone with summer time. */
    setenv("TZ", "Europe/Berlin", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic_stamp),
        cmocka_unit_test(test_classic_year),
        cmocka_unit_test(test_classic_dst_change_day),
        cmocka_unit_test(test_rfc3339_stamps),
        cmocka_unit_test(test_bad_stamps_refused),
        cmocka_unit_test(test_syslog_names),
        cmocka_unit_test(test_huge_pid),
        cmocka_unit_test(test_other_programs_refused),
        cmocka_unit_test(test_lines_without_queue_id),
        cmocka_unit_test(test_received_events),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_deliveries),
        cmocka_unit_test(test_removed_and_notification),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_reject_header_text_with_from),
        cmocka_unit_test(test_truncated_lines),
        cmocka_unit_test(test_time_args),
        cmocka_unit_test(test_unsrs),
        cmocka_unit_test(test_unsrs_srs1_verified),
        cmocka_unit_test(test_scan_totals),
        cmocka_unit_test(test_scan_expired),
        cmocka_unit_test(test_scan_qid_reuse),
        cmocka_unit_test(test_scan_notification_origin),
        cmocka_unit_test(test_scan_notification_link_late),
        cmocka_unit_test(test_scan_srs_senders),
        cmocka_unit_test(test_scan_window),
        cmocka_unit_test(test_scan_max_age),
        cmocka_unit_test(test_scan_line_older_than_max_age),
        cmocka_unit_test(test_scan_rejected_not_in_flight),
        cmocka_unit_test(test_scan_deferral_once),
        cmocka_unit_test(test_scan_long_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
