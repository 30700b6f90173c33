/* Unit tests for the milter protocol core (milter.h): byte-level packet
 * sequences as Postfix sends them, replies and modifications compared
 * octet for octet. */
#include "milter.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* ---- a packet stream builder -------------------------------------------- */

struct buf {
    uint8_t b[1 << 20];
    size_t n;
};

static struct buf in, out, exp_out;

static void put(struct buf *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->b));
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void pkt(struct buf *b, char cmd, const void *data, size_t n)
{
    uint8_t h[5] = {(uint8_t)((n + 1) >> 24), (uint8_t)((n + 1) >> 16), (uint8_t)((n + 1) >> 8),
                    (uint8_t)(n + 1), (uint8_t)cmd};
    put(b, h, 5);
    if (n)
        put(b, data, n);
}

#define PKT(b, cmd, lit) pkt(b, cmd, lit, sizeof(lit) - 1)

static void optneg(struct buf *b, uint32_t v, uint32_t act, uint32_t proto)
{
    uint8_t d[12] = {
        (uint8_t)(v >> 24),     (uint8_t)(v >> 16),     (uint8_t)(v >> 8),     (uint8_t)v,
        (uint8_t)(act >> 24),   (uint8_t)(act >> 16),   (uint8_t)(act >> 8),   (uint8_t)act,
        (uint8_t)(proto >> 24), (uint8_t)(proto >> 16), (uint8_t)(proto >> 8), (uint8_t)proto};
    pkt(b, 'O', d, sizeof(d));
}

/* ---- a recording filter -------------------------------------------------- */

struct rec {
    int begun, ended, last_end_status;
    char log[8192];
    size_t loglen;
    int eom_mode; /* 0 = all mods, 1 = chgfrom without grant, 2 = replycode, 3 = one header */
    int rcpt_reject;
    void *ctx_seen;
};

static struct rec R;
static int ctx_token, ctx_puts;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(R.log + R.loglen, sizeof(R.log) - R.loglen, fmt, ap);
    va_end(ap);
    if (n > 0 && R.loglen + (size_t)n < sizeof(R.log))
        R.loglen += (size_t)n;
}

static void *f_begin(void *ctx, struct milter_session *s)
{
    (void)s;
    R.begun++;
    R.ctx_seen = ctx;
    return &R;
}

static int f_envfrom(void *m, struct milter_session *s, const char *addr, const char *const *args,
                     size_t n)
{
    assert_ptr_equal(m, &R);
    logf_("from=%s n=%zu", addr, n);
    for (size_t i = 0; i < n; i++)
        logf_(" %s", args[i]);
    const char *aa = milter_macro(s, "{auth_authen}");
    logf_(" auth=%s;", aa ? aa : "-");
    return MILTER_CONTINUE;
}

static int f_rcpt(void *m, struct milter_session *s, const char *addr, const char *const *args,
                  size_t n)
{
    (void)m;
    logf_("rcpt=%s n=%zu;", addr, n);
    if (R.rcpt_reject && strcmp(addr, "bad@y.test") == 0)
        return milter_set_reply(s, "550 5.1.1 100% unknown");
    (void)args;
    return MILTER_CONTINUE;
}

static int f_header(void *m, struct milter_session *s, const char *name, size_t nl,
                    const char *value, size_t vl)
{
    (void)m;
    (void)s;
    assert_int_equal(strlen(name), nl);
    assert_int_equal(strlen(value), vl);
    logf_("hdr[%s][%s];", name, value);
    return MILTER_CONTINUE;
}

static int f_eoh(void *m, struct milter_session *s)
{
    (void)m;
    (void)s;
    logf_("eoh;");
    return MILTER_CONTINUE;
}

static int f_body(void *m, struct milter_session *s, const uint8_t *p, size_t n)
{
    (void)m;
    (void)s;
    logf_("body[%.*s];", (int)n, (const char *)p);
    return MILTER_CONTINUE;
}

static int f_eom(void *m, struct milter_session *s, struct milter_mods *mods)
{
    (void)m;
    logf_("eom qid=%s j=%s dn=%s client=%s/%s/%c/%u helo=%s sender=%s nrcpt=%zu",
          milter_queue_id(s), milter_macro(s, "j"), milter_macro(s, "daemon_name"),
          milter_client_name(s), milter_client_addr(s), milter_client_family(s),
          milter_client_port(s), milter_helo(s), milter_sender(s), milter_rcpt_count(s));
    for (size_t i = 0; i < milter_rcpt_count(s); i++)
        logf_(" %s", milter_rcpt(s, i));
    logf_(" size=%llu;", (unsigned long long)milter_body_size(s));
    switch (R.eom_mode) {
    case 1:
        if (milter_mods_change_from(mods, "<x@y>", NULL) == 0)
            fail();
        return MILTER_CONTINUE;
    case 2:
        return milter_set_reply(s, "554 5.7.9 Message not accepted for policy reasons");
    case 3:
        assert_int_equal(milter_mods_add_header(mods, "X-Test", " v"), 0);
        return MILTER_CONTINUE;
    default:
        break;
    }
    assert_int_equal(milter_mods_add_header(mods, "X-Fwdauth-Seen", " QID1"), 0);
    assert_int_equal(milter_mods_insert_header(mods, 1, "Authentication-Results", " mx; none"), 0);
    assert_int_equal(milter_mods_change_header(mods, "Subject", 1, " new\n\tfolded"), 0);
    assert_int_equal(milter_mods_delete_header(mods, "X-Old", 2), 0);
    assert_int_equal(milter_mods_change_from(mods, "<srs@fwd.test>", "BODY=8BITMIME"), 0);
    assert_int_equal(milter_mods_add_rcpt(mods, "<n@y.test>", NULL), 0);
    assert_int_equal(milter_mods_add_rcpt(mods, "<p@y.test>", "NOTIFY=NEVER"), 0);
    assert_int_equal(milter_mods_delete_rcpt(mods, "<b@y.test>"), 0);
    assert_int_equal(milter_mods_quarantine(mods, "held"), 0);
    /* invalid ones fail without being written: */
    assert_int_equal(milter_mods_count(mods), 9);
    return MILTER_ACCEPT;
}

static void f_end(void *m, struct milter_session *s, int status)
{
    (void)m;
    (void)s;
    R.ended++;
    R.last_end_status = status;
}

static const struct milter_filter full = {
    .name = "test",
    .actions = MILTER_ACT_ADDHDRS | MILTER_ACT_CHGHDRS | MILTER_ACT_CHGFROM | MILTER_ACT_ADDRCPT |
               MILTER_ACT_ADDRCPT_PAR | MILTER_ACT_DELRCPT | MILTER_ACT_QUARANTINE,
    .steps = MILTER_STEP_HEADER | MILTER_STEP_EOH | MILTER_STEP_BODY,
    .replies = 0,
    .msg_begin = f_begin,
    .envfrom = f_envfrom,
    .rcpt = f_rcpt,
    .header = f_header,
    .eoh = f_eoh,
    .body = f_body,
    .eom = f_eom,
    .msg_end = f_end,
};

static const struct milter_filter minimal = {
    .name = "minimal",
    .actions = MILTER_ACT_ADDHDRS,
    .msg_begin = f_begin,
    .eom = f_eom,
    .msg_end = f_end,
};

static void *ctx_get(void *arg)
{
    (void)arg;
    return &ctx_token;
}

static void ctx_put(void *arg, void *ctx)
{
    (void)arg;
    assert_ptr_equal(ctx, &ctx_token);
    ctx_puts++;
}

static const struct milter_env env = {ctx_get, ctx_put, NULL, NULL, NULL};

/* Run the whole input through a session the way milter_conn does. Returns
 * the last result (MILTER_OK when the stream ended cleanly). */
static int run(const struct milter_filter *f)
{
    struct milter_session *s = milter_session_new(f, &env);
    assert_non_null(s);
    out.n = 0;
    size_t off = 0;
    int rc = MILTER_OK;
    while (off < in.n) {
        uint8_t cmd;
        const uint8_t *data;
        size_t dlen, used;
        int fr = milter_frame(in.b + off, in.n - off, &cmd, &data, &dlen, &used);
        if (fr != MILTER_FRAME_OK && fr != MILTER_FRAME_SKIP) {
            rc = fr == MILTER_FRAME_BAD ? MILTER_ERROR : MILTER_FRAME_MORE + 10;
            break;
        }
        if (milter_session_want_flush(s, cmd)) {
            size_t n;
            const uint8_t *p = milter_session_output(s, &n);
            put(&out, p, n);
            milter_session_consumed(s);
        }
        /* A packet too large to hold is dropped, as milter_conn does. */
        if (fr == MILTER_FRAME_SKIP) {
            if (off + used > in.n) {
                rc = MILTER_FRAME_MORE + 10;
                break;
            }
            rc = milter_session_skipped(s, cmd, dlen, MILTER_SKIP_TOO_LARGE);
        } else {
            rc = milter_session_packet(s, cmd, data, dlen);
        }
        off += used;
        if (rc != MILTER_OK)
            break;
    }
    size_t n;
    const uint8_t *p = milter_session_output(s, &n);
    put(&out, p, n);
    milter_session_free(s);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    memset(&R, 0, sizeof(R));
    in.n = out.n = exp_out.n = 0;
    ctx_puts = 0;
    return 0;
}

static void assert_out(void)
{
    if (out.n != exp_out.n || memcmp(out.b, exp_out.b, out.n) != 0) {
        fprintf(stderr, "output (%zu):", out.n);
        for (size_t i = 0; i < out.n; i++)
            fprintf(stderr, " %02x", out.b[i]);
        fprintf(stderr, "\nwanted (%zu):", exp_out.n);
        for (size_t i = 0; i < exp_out.n; i++)
            fprintf(stderr, " %02x", exp_out.b[i]);
        fprintf(stderr, "\n");
        fail();
    }
}

/* ---- tests -------------------------------------------------------------- */

static void test_optneg_versions(void **state)
{
    (void)state;
    static const struct {
        uint32_t mta, answer, offered, proto;
    } cases[] = {
        /* Postfix 3.x: version 6, everything offered. NOUNKNOWN|NODATA,
         * NR for all, LEADSPC, SKIP. */
        {6, 6, 0x1FFFFF, 0x100000 | 0x400 | 0x200 | 0x100 | 0x80 | 0xFF000},
        {7, 6, 0x1FFFFF, 0x100000 | 0x400 | 0x200 | 0x100 | 0x80 | 0xFF000},
        /* Older versions: only the flags they define (Postfix's masks). */
        {4, 4, 0x37F, 0x200 | 0x100},
        {3, 3, 0x17F, 0x100},
        {2, 2, 0x7F, 0},
        {2, 2, 0xFF, 0x80}, /* "no_header_reply" */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup(NULL);
        optneg(&in, cases[i].mta, 0x1FF, cases[i].offered);
        assert_int_equal(run(&full), MILTER_OK);
        uint8_t want[17] = {0, 0, 0, 13, 'O', 0, 0, 0, (uint8_t)cases[i].answer, 0, 0, 0, 0xFD};
        uint32_t p = cases[i].proto;
        want[13] = (uint8_t)(p >> 24);
        want[14] = (uint8_t)(p >> 16);
        want[15] = (uint8_t)(p >> 8);
        want[16] = (uint8_t)p;
        put(&exp_out, want, sizeof(want));
        assert_out();
    }
    /* A filter without headers/body asks the MTA not to send them; actions
     * are what it declared and the MTA offered. */
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    assert_int_equal(run(&minimal), MILTER_OK);
    static const uint8_t want_min[17] = {0, 0, 0, 13, 'O', 0,    0,    0,   6,
                                         0, 0, 0, 1,  0,   0x1F, 0xF7, 0xF0};
    put(&exp_out, want_min, sizeof(want_min));
    /* 0x1FF7F0 = LEADSPC|NR_*|SKIP|NODATA|NOUNKNOWN|NOEOH|NOHDRS|NOBODY, NR_HDR */
    assert_out();
    /* Versions 0, 1 and 5 and short packets are refused. */
    uint32_t bad[] = {0, 1, 5};
    for (size_t i = 0; i < 3; i++) {
        setup(NULL);
        optneg(&in, bad[i], 0x1FF, 0x1FFFFF);
        assert_int_equal(run(&full), MILTER_ERROR);
    }
    setup(NULL);
    PKT(&in, 'O', "\0\0\0\6\0\0");
    assert_int_equal(run(&full), MILTER_ERROR);
}

/* A Postfix-like v6 session: macros, connect, helo, MAIL with ESMTP args,
 * several RCPTs, headers with and without a leading space, a folded
 * header, a multi-chunk body, end of message with every modification. */
static void postfix_session(void)
{
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'D', "Cj\0mx.test\0{daemon_name}\0ORIGINATING\0");
    PKT(&in, 'C',
        "[192.0.2.1]\0004\x12\x34"
        "192.0.2.1\0");
    PKT(&in, 'D', "H");
    PKT(&in, 'H', "client.test\0");
    PKT(&in, 'D', "M{auth_authen}\0alice\0");
    PKT(&in, 'M', "<a@x.test>\0SIZE=100\0BODY=8BITMIME\0");
    PKT(&in, 'D', "R{rcpt_addr}\0b@y.test\0");
    PKT(&in, 'R', "<b@y.test>\0");
    PKT(&in, 'R', "<c@y.test>\0NOTIFY=NEVER\0");
    PKT(&in, 'D', "Ti\0QID1\0");
    PKT(&in, 'L', "From\0 a@x.test\0");
    PKT(&in, 'L', "Subject\0no-space\0");
    PKT(&in, 'L', "X-Folded\0 one\n\ttwo\0");
    PKT(&in, 'N', "");
    PKT(&in, 'B', "line1\r\n");
    PKT(&in, 'B', "line2\r\n");
    PKT(&in, 'D', "Ei\0QID1\0");
    PKT(&in, 'E', "");
    PKT(&in, 'A', "");
}

static void expect_optneg_full(void)
{
    static const uint8_t o[17] = {0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 0, 0xFD, 0, 0x1F, 0xF7, 0x80};
    put(&exp_out, o, sizeof(o));
}

static void expect_all_mods(void)
{
    PKT(&exp_out, 'h', "X-Fwdauth-Seen\0 QID1\0");
    PKT(&exp_out, 'i', "\0\0\0\1Authentication-Results\0 mx; none\0");
    PKT(&exp_out, 'm', "\0\0\0\1Subject\0 new\n\tfolded\0");
    PKT(&exp_out, 'm', "\0\0\0\2X-Old\0\0");
    PKT(&exp_out, 'e', "<srs@fwd.test>\0BODY=8BITMIME\0");
    PKT(&exp_out, '+', "<n@y.test>\0");
    PKT(&exp_out, '2', "<p@y.test>\0NOTIFY=NEVER\0");
    PKT(&exp_out, '-', "<b@y.test>\0");
    PKT(&exp_out, 'q', "held\0");
}

static void test_postfix_session(void **state)
{
    (void)state;
    postfix_session();
    PKT(&in, 'Q', "");
    assert_int_equal(run(&full), MILTER_CLOSE);
    expect_optneg_full();
    expect_all_mods();
    PKT(&exp_out, 'a', "");
    assert_out();
    assert_string_equal(
        R.log, "from=a@x.test n=2 SIZE=100 BODY=8BITMIME auth=alice;"
               "rcpt=b@y.test n=0;rcpt=c@y.test n=1;"
               "hdr[From][ a@x.test];hdr[Subject][no-space];hdr[X-Folded][ one\n\ttwo];eoh;"
               "body[line1\r\n];body[line2\r\n];"
               "eom qid=QID1 j=mx.test dn=ORIGINATING client=[192.0.2.1]/192.0.2.1/4/4660 "
               "helo=client.test sender=a@x.test nrcpt=2 b@y.test c@y.test size=14;");
    assert_int_equal(R.begun, 1);
    assert_int_equal(R.ended, 1);
    assert_int_equal(R.last_end_status, MILTER_ACCEPT);
    assert_ptr_equal(R.ctx_seen, &ctx_token);
    assert_int_equal(ctx_puts, 1);
}

/* Abort mid-message, then a second message on the same connection: the
 * mail-stage macros of the first are gone, connect macros stay. */
static void test_abort_then_second_message(void **state)
{
    (void)state;
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'D', "Cj\0mx.test\0");
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'D', "M{auth_authen}\0alice\0");
    PKT(&in, 'M', "<a@x.test>\0");
    PKT(&in, 'R', "<b@y.test>\0");
    PKT(&in, 'L', "Subject\0 s\0");
    PKT(&in, 'B', "partial");
    PKT(&in, 'A', "");
    PKT(&in, 'M', "<>\0");
    PKT(&in, 'R', "<c@y.test>\0");
    PKT(&in, 'E', "last");
    PKT(&in, 'Q', "");
    R.eom_mode = 3;
    assert_int_equal(run(&full), MILTER_CLOSE);
    expect_optneg_full();
    PKT(&exp_out, 'h', "X-Test\0 v\0");
    PKT(&exp_out, 'c', "");
    assert_out();
    assert_string_equal(R.log, "from=a@x.test n=0 auth=alice;rcpt=b@y.test n=0;hdr[Subject][ s];"
                               "body[partial];"
                               "from= n=0 auth=-;rcpt=c@y.test n=0;body[last];"
                               "eom qid=NOQUEUE j=mx.test dn=(null) client=h//U/0 helo= "
                               "sender= nrcpt=1 c@y.test size=4;");
    assert_int_equal(R.begun, 2);
    assert_int_equal(R.ended, 2);
    assert_int_equal(R.last_end_status, MILTER_CONTINUE);
    assert_int_equal(ctx_puts, 2);
}

static void test_out_of_order(void **state)
{
    (void)state;
    static const char *const seqs[] = {"B", "R", "L", "N", "E", "T"};
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        setup(NULL);
        optneg(&in, 6, 0x1FF, 0x1FFFFF);
        PKT(&in, 'C', "h\0U");
        pkt(&in, seqs[i][0], "x\0", 2);
        assert_int_equal(run(&full), MILTER_ERROR);
        assert_int_equal(R.begun, 0);
    }
    /* before option negotiation, a second negotiation, a second connect,
     * MAIL before connect, an unknown command */
    setup(NULL);
    PKT(&in, 'C', "h\0U");
    assert_int_equal(run(&full), MILTER_ERROR);
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    assert_int_equal(run(&full), MILTER_ERROR);
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'C', "h\0U");
    assert_int_equal(run(&full), MILTER_ERROR);
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'M', "<a@b>\0");
    assert_int_equal(run(&full), MILTER_ERROR);
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'z', "");
    assert_int_equal(run(&full), MILTER_ERROR);
    /* A protocol error inside a message still ends it (msg_end, ctx_put). */
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@b>\0");
    PKT(&in, 'L', "no-terminator");
    assert_int_equal(run(&full), MILTER_ERROR);
    assert_int_equal(R.ended, 1);
    assert_int_equal(R.last_end_status, MILTER_ABORTED);
    assert_int_equal(ctx_puts, 1);
}

static void test_framing(void **state)
{
    (void)state;
    uint8_t cmd;
    const uint8_t *data;
    size_t dlen, used;
    static const uint8_t zero[] = {0, 0, 0, 0, 'O'};
    assert_int_equal(milter_frame(zero, 5, &cmd, &data, &dlen, &used), MILTER_FRAME_BAD);
    static const uint8_t huge[] = {0, 0x10, 0, 1, 'B'}; /* 1 MiB + 1 */
    assert_int_equal(milter_frame(huge, 5, &cmd, &data, &dlen, &used), MILTER_FRAME_BAD);
    static const uint8_t hugeh[] = {0, 0x10, 0, 1, 'L'}; /* 1 MiB + 1, even a header */
    assert_int_equal(milter_frame(hugeh, 5, &cmd, &data, &dlen, &used), MILTER_FRAME_BAD);
    /* Exactly 1 MiB: a header is dropped as it arrives (SKIP, as soon as
     * the command octet is there), anything else refused. */
    static const uint8_t max[] = {0, 0x10, 0, 0, 'L'};
    assert_int_equal(milter_frame(max, 4, &cmd, &data, &dlen, &used), MILTER_FRAME_MORE);
    assert_int_equal(milter_frame(max, 5, &cmd, &data, &dlen, &used), MILTER_FRAME_SKIP);
    assert_int_equal(cmd, 'L');
    assert_int_equal(used, 4 + 1024 * 1024);
    assert_int_equal(dlen, 1024 * 1024 - 1);
    static const uint8_t maxb[] = {0, 0x10, 0, 0, 'B'};
    assert_int_equal(milter_frame(maxb, 5, &cmd, &data, &dlen, &used), MILTER_FRAME_BAD);
    /* MILTER_PACKET_HELD itself is held, whatever the command; one more is not. */
    static const uint8_t held[] = {0, 0x04, 0, 1, 'B'};
    _Static_assert(MILTER_PACKET_HELD == 0x040001, "held[] spells MILTER_PACKET_HELD");
    assert_int_equal(milter_frame(held, 5, &cmd, &data, &dlen, &used), MILTER_FRAME_MORE);
    assert_int_equal(used, 4 + MILTER_PACKET_HELD);
    static const uint8_t over[] = {0, 0x04, 0, 2, 'B'};
    assert_int_equal(milter_frame(over, 5, &cmd, &data, &dlen, &used), MILTER_FRAME_BAD);
    static const uint8_t overh[] = {0, 0x04, 0, 2, 'L'};
    assert_int_equal(milter_frame(overh, 5, &cmd, &data, &dlen, &used), MILTER_FRAME_SKIP);
    static const uint8_t trunc[] = {0, 0, 0, 9, 'L', 'S', 0};
    assert_int_equal(milter_frame(trunc, sizeof(trunc), &cmd, &data, &dlen, &used),
                     MILTER_FRAME_MORE);
    assert_int_equal(used, 13);
    assert_int_equal(milter_frame(trunc, 3, &cmd, &data, &dlen, &used), MILTER_FRAME_MORE);
    static const uint8_t ok[] = {0, 0, 0, 1, 'Q', 'x'};
    assert_int_equal(milter_frame(ok, sizeof(ok), &cmd, &data, &dlen, &used), MILTER_FRAME_OK);
    assert_int_equal(cmd, 'Q');
    assert_int_equal(dlen, 0);
    assert_int_equal(used, 5);
    /* A session stream with a bad length stops there. */
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    put(&in, huge, sizeof(huge));
    assert_int_equal(run(&full), MILTER_ERROR);
    /* A truncated packet at the end of input is simply incomplete. */
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    put(&in, trunc, sizeof(trunc));
    assert_int_equal(run(&full), MILTER_FRAME_MORE + 10);
}

/* Version 2 (no NR, no leading space): every step is answered, and one
 * leading space is dropped from added values. */
/* Feed everything in `in` to s (complete packets only), output to `out`;
 * empties `in`. Returns the last result. */
static int feed(struct milter_session *s)
{
    size_t off = 0;
    int rc = MILTER_OK;
    while (off < in.n && rc == MILTER_OK) {
        uint8_t cmd;
        const uint8_t *data;
        size_t dlen, used;
        assert_int_equal(milter_frame(in.b + off, in.n - off, &cmd, &data, &dlen, &used),
                         MILTER_FRAME_OK);
        rc = milter_session_packet(s, cmd, data, dlen);
        off += used;
    }
    size_t n;
    const uint8_t *p = milter_session_output(s, &n);
    put(&out, p, n);
    milter_session_consumed(s);
    in.n = 0;
    return rc;
}

/* Packets the connection loop dropped instead of holding (a header too
 * large to hold, or no memory left in milter_buffer_memory): a header or
 * body chunk decides its message (552 for a header over the limit, a
 * tempfail for no memory) and the connection goes on; anything else, or a
 * dropped packet outside a message, is a protocol error. */
static void test_skipped(void **state)
{
    (void)state;
    struct milter_session *s = milter_session_new(&full, &env);
    assert_non_null(s);
    out.n = 0;
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    assert_int_equal(feed(s), MILTER_OK);
    /* Outside a message. */
    assert_int_equal(milter_session_skipped(s, 'L', 300000, MILTER_SKIP_TOO_LARGE), MILTER_ERROR);
    milter_session_free(s);

    s = milter_session_new(&full, &env);
    out.n = 0;
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@x>\0");
    assert_int_equal(feed(s), MILTER_OK);
    assert_int_equal(milter_session_skipped(s, 'L', 300000, MILTER_SKIP_TOO_LARGE), MILTER_OK);
    assert_int_equal(milter_header_count(s), 1);
    PKT(&in, 'E', "");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'L', "Subject\0 hi\0");
    assert_int_equal(feed(s), MILTER_OK);
    assert_int_equal(milter_session_skipped(s, 'L', 100000, MILTER_SKIP_NO_MEMORY), MILTER_OK);
    PKT(&in, 'E', "");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'N', "");
    assert_int_equal(feed(s), MILTER_OK);
    assert_int_equal(milter_session_skipped(s, 'B', 65535, MILTER_SKIP_NO_MEMORY), MILTER_OK);
    assert_int_equal(milter_body_size(s), 65535);
    PKT(&in, 'E', "");
    assert_int_equal(feed(s), MILTER_OK);
    expect_optneg_full();
    PKT(&exp_out, 'y', "552 5.3.4 Header field too long or without a name for this server\0");
    PKT(&exp_out, 't', "");
    PKT(&exp_out, 't', "");
    assert_out();
    assert_int_equal(R.ended, 3);
    /* A body chunk is never too large to hold but refused; nor is anything
     * but a header or body chunk ever dropped. */
    PKT(&in, 'M', "<a@x>\0");
    assert_int_equal(feed(s), MILTER_OK);
    assert_int_equal(milter_session_skipped(s, 'B', 300000, MILTER_SKIP_TOO_LARGE), MILTER_ERROR);
    milter_session_free(s);
    s = milter_session_new(&full, &env);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@x>\0");
    assert_int_equal(feed(s), MILTER_OK);
    assert_int_equal(milter_session_skipped(s, 'R', 20000, MILTER_SKIP_NO_MEMORY), MILTER_ERROR);
    milter_session_free(s);
}

static void test_version2(void **state)
{
    (void)state;
    optneg(&in, 2, 0x3F, 0x7F);
    PKT(&in, 'C', "h\0L\0\0/tmp/s\0");
    PKT(&in, 'H', "helo\0");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'R', "<b@y>\0");
    PKT(&in, 'L', "Subject\0hi\0");
    PKT(&in, 'N', "");
    PKT(&in, 'B', "b\r\n");
    PKT(&in, 'E', "");
    R.eom_mode = 3;
    assert_int_equal(run(&full), MILTER_OK);
    static const uint8_t o[17] = {0, 0, 0, 13, 'O', 0, 0, 0, 2, 0, 0, 0, 0x3D, 0, 0, 0, 0};
    put(&exp_out, o, sizeof(o));
    for (int i = 0; i < 7; i++)
        PKT(&exp_out, 'c', "");
    PKT(&exp_out, 'h', "X-Test\0v\0");
    PKT(&exp_out, 'c', "");
    assert_out();
    /* A modification version 2 cannot do tempfails the message. */
    setup(NULL);
    optneg(&in, 2, 0x3F, 0x7F);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'E', "");
    R.eom_mode = 1;
    assert_int_equal(run(&full), MILTER_OK);
    put(&exp_out, o, sizeof(o));
    PKT(&exp_out, 'c', "");
    PKT(&exp_out, 'c', "");
    PKT(&exp_out, 't', "");
    assert_out();
    assert_int_equal(R.last_end_status, MILTER_TEMPFAIL);
}

/* Replies: a recipient refused with a reply code ('%' doubled for
 * sendmail's format), a message refused at end of message. */
static void test_replycode(void **state)
{
    (void)state;
    static const struct milter_filter rf = {
        .name = "rf",
        .actions = MILTER_ACT_ADDHDRS,
        .replies = MILTER_STEP_RCPT,
        .msg_begin = f_begin,
        .rcpt = f_rcpt,
        .eom = f_eom,
        .msg_end = f_end,
    };
    R.rcpt_reject = 1;
    R.eom_mode = 2;
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'R', "<bad@y.test>\0");
    PKT(&in, 'R', "<good@y.test>\0");
    PKT(&in, 'E', "");
    assert_int_equal(run(&rf), MILTER_OK);
    static const uint8_t o[17] = {0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 0, 1, 0, 0x1F, 0x77, 0xF0};
    put(&exp_out, o, sizeof(o));
    PKT(&exp_out, 'y', "550 5.1.1 100%% unknown\0");
    PKT(&exp_out, 'c', "");
    PKT(&exp_out, 'y', "554 5.7.9 Message not accepted for policy reasons\0");
    assert_out();
    assert_non_null(strstr(R.log, "nrcpt=1 good@y.test "));
    assert_int_equal(R.last_end_status, MILTER_REPLYCODE);
}

/* Limits: too many recipients and an oversized header tempfail the
 * message (at end of message, since those steps have no reply) and the
 * connection goes on with the next message. */
static void test_limits(void **state)
{
    (void)state;
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@x>\0");
    for (int i = 0; i <= MILTER_RCPT_MAX; i++) {
        char r[64];
        int n = snprintf(r, sizeof(r), "<r%d@y.test>", i);
        pkt(&in, 'R', r, (size_t)n + 1);
    }
    PKT(&in, 'E', "");
    PKT(&in, 'M', "<a@x>\0");
    static char big[MILTER_HEADER_MAX + 16];
    memset(big, 'v', sizeof(big));
    memcpy(big, "X-Big\0", 6);
    big[sizeof(big) - 1] = 0;
    pkt(&in, 'L', big, sizeof(big));
    PKT(&in, 'E', "");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'E', "");
    R.eom_mode = 3;
    assert_int_equal(run(&full), MILTER_OK);
    expect_optneg_full();
    /* Too many recipients: tempfail. A header over its limit: refused for
     * good (a retry would exceed it again). */
    PKT(&exp_out, 't', "");
    PKT(&exp_out, 'y', "552 5.3.4 Header field too long or without a name for this server\0");
    PKT(&exp_out, 'h', "X-Test\0 v\0");
    PKT(&exp_out, 'c', "");
    assert_out();
    assert_int_equal(R.begun, 3);
    assert_int_equal(R.ended, 3);
    /* Too many macros for one stage, at connect: every message tempfails. */
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    static char mac[MILTER_MACRO_BYTES + 100];
    mac[0] = 'C';
    for (size_t i = 1; i < sizeof(mac); i++)
        mac[i] = (i % 10) ? 'm' : 0;
    mac[sizeof(mac) - 1] = 0;
    pkt(&in, 'D', mac, sizeof(mac));
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'E', "");
    assert_int_equal(run(&full), MILTER_OK);
    expect_optneg_full();
    PKT(&exp_out, 't', "");
    assert_out();
}

/* Bad modifications: not granted, malformed. */
static int bad_eom(void *m, struct milter_session *s, struct milter_mods *mods)
{
    (void)m;
    (void)s;
    assert_int_equal(milter_mods_allowed(mods, MILTER_ACT_CHGFROM), 0);
    assert_int_equal(milter_mods_allowed(mods, MILTER_ACT_ADDHDRS), 1);
    assert_int_equal(milter_mods_add_header(mods, "Bad Name", " v"), -1);
    assert_int_equal(milter_mods_add_header(mods, "X", " a\r\nb"), -1);
    assert_int_equal(milter_mods_add_header(mods, "X", " a\nb"), -1);
    assert_int_equal(milter_mods_add_header(mods, "", " v"), -1);
    assert_int_equal(milter_mods_change_from(mods, "<a@b>", NULL), -1);
    assert_int_equal(milter_mods_count(mods), 0);
    return MILTER_CONTINUE;
}

static void test_bad_mods(void **state)
{
    (void)state;
    static const struct milter_filter bf = {
        .name = "bf", .actions = MILTER_ACT_ADDHDRS, .eom = bad_eom};
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'E', "");
    assert_int_equal(run(&bf), MILTER_OK);
    static const uint8_t o[17] = {0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 0, 1, 0, 0x1F, 0xF7, 0xF0};
    put(&exp_out, o, sizeof(o));
    PKT(&exp_out, 't', "");
    assert_out();
}

/* Body replacement goes out at once, in chunks, before the buffered changes. */
static int direct_write(void *arg, const uint8_t *p, size_t n)
{
    (void)arg;
    put(&out, p, n);
    return 0;
}

static uint8_t new_body[MILTER_CHUNK_MAX + 4465];

static int body_eom(void *m, struct milter_session *s, struct milter_mods *mods)
{
    (void)m;
    (void)s;
    assert_int_equal(milter_mods_add_header(mods, "X-A", " 1"), 0);
    memset(new_body, 'z', sizeof(new_body));
    assert_int_equal(milter_mods_replace_body(mods, new_body, sizeof(new_body)), 0);
    return MILTER_CONTINUE;
}

static void test_replace_body(void **state)
{
    (void)state;
    static const struct milter_filter bf = {
        .name = "bf", .actions = MILTER_ACT_ADDHDRS | MILTER_ACT_CHGBODY, .eom = body_eom};
    static const struct milter_env wenv = {ctx_get, ctx_put, NULL, direct_write, NULL};
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'E', "");
    struct milter_session *s = milter_session_new(&bf, &wenv);
    assert_non_null(s);
    out.n = 0;
    size_t off = 0;
    while (off < in.n) {
        uint8_t cmd;
        const uint8_t *data;
        size_t dlen, used;
        assert_int_equal(milter_frame(in.b + off, in.n - off, &cmd, &data, &dlen, &used),
                         MILTER_FRAME_OK);
        if (milter_session_want_flush(s, cmd)) {
            size_t n;
            const uint8_t *p = milter_session_output(s, &n);
            put(&out, p, n);
            milter_session_consumed(s);
        }
        assert_int_equal(milter_session_packet(s, cmd, data, dlen), MILTER_OK);
        off += used;
    }
    size_t n;
    const uint8_t *p = milter_session_output(s, &n);
    put(&out, p, n);
    milter_session_free(s);
    static const uint8_t o[17] = {0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 0, 3, 0, 0x1F, 0xF7, 0xF0};
    put(&exp_out, o, sizeof(o));
    pkt(&exp_out, 'b', (const char *)new_body, MILTER_CHUNK_MAX);
    pkt(&exp_out, 'b', (const char *)new_body, 4465);
    PKT(&exp_out, 'h', "X-A\0 1\0");
    PKT(&exp_out, 'c', "");
    assert_out();
}

/* QUIT_NC: connection state is reset and a new connect follows. */
static void test_quit_nc(void **state)
{
    (void)state;
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'D', "Cj\0first\0");
    PKT(&in, 'C',
        "one\0004\0\31"
        "192.0.2.1\0");
    PKT(&in, 'H', "h1\0");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'K', "");
    PKT(&in, 'M', "<a@x>\0"); /* before the new connect: refused */
    assert_int_equal(run(&full), MILTER_ERROR);
    setup(NULL);
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'D', "Cj\0first\0");
    PKT(&in, 'C', "one\0U");
    PKT(&in, 'K', "");
    PKT(&in, 'C', "two\0U");
    PKT(&in, 'M', "<a@x>\0");
    PKT(&in, 'E', "");
    R.eom_mode = 3;
    assert_int_equal(run(&full), MILTER_OK);
    assert_non_null(strstr(R.log, "j=(null) dn=(null) client=two//U/0 helo= "));
}

/* A decision from a no-reply step waits for end of message; the filter is
 * not called again for that message. */
static int early_envfrom(void *m, struct milter_session *s, const char *addr,
                         const char *const *args, size_t n)
{
    (void)m;
    (void)s;
    (void)args;
    (void)n;
    return strcmp(addr, "spam@x") == 0 ? MILTER_DISCARD : 99; /* 99: bad status */
}

static void test_deferred_decision(void **state)
{
    (void)state;
    static const struct milter_filter ef = {.name = "ef",
                                            .msg_begin = f_begin,
                                            .envfrom = early_envfrom,
                                            .rcpt = f_rcpt,
                                            .eom = f_eom,
                                            .msg_end = f_end};
    optneg(&in, 6, 0x1FF, 0x1FFFFF);
    PKT(&in, 'C', "h\0U");
    PKT(&in, 'M', "<spam@x>\0");
    PKT(&in, 'R', "<b@y>\0");
    PKT(&in, 'E', "");
    PKT(&in, 'M', "<other@x>\0");
    PKT(&in, 'R', "<b@y>\0");
    PKT(&in, 'E', "");
    assert_int_equal(run(&ef), MILTER_OK);
    static const uint8_t o[17] = {0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 0, 0, 0, 0x1F, 0xF7, 0xF0};
    put(&exp_out, o, sizeof(o));
    PKT(&exp_out, 'd', "");
    PKT(&exp_out, 't', "");
    assert_out();
    assert_string_equal(R.log, ""); /* neither rcpt nor eom ran */
    assert_int_equal(R.ended, 2);
    assert_int_equal(R.last_end_status, MILTER_TEMPFAIL);
}

/* Macro look-up: braces optional either way, later stages first. */
static void test_macros(void **state)
{
    (void)state;
    struct milter_session *s = milter_session_new(&full, NULL);
    assert_non_null(s);
    static const uint8_t o[] = {0, 0, 0, 6, 0, 0, 1, 0xFF, 0, 0x1F, 0xFF, 0xFF};
    assert_int_equal(milter_session_packet(s, 'O', o, sizeof(o)), MILTER_OK);
    static const uint8_t dc[] = "C{j}\0conn\0_\0client [1.2.3.4]\0i\0early";
    assert_int_equal(milter_session_packet(s, 'D', dc, sizeof(dc)), MILTER_OK);
    static const uint8_t c[] = "h\0U";
    assert_int_equal(milter_session_packet(s, 'C', c, 3), MILTER_OK);
    static const uint8_t dm[] = "M{i}\0late\0odd";
    assert_int_equal(milter_session_packet(s, 'D', dm, sizeof(dm)), MILTER_OK);
    assert_string_equal(milter_macro(s, "j"), "conn");
    assert_string_equal(milter_macro(s, "{j}"), "conn");
    assert_string_equal(milter_macro(s, "_"), "client [1.2.3.4]");
    assert_string_equal(milter_macro(s, "i"), "late");
    assert_string_equal(milter_queue_id(s), "late");
    assert_null(milter_macro(s, "odd"));
    assert_null(milter_macro(s, "{auth_authen}"));
    static const uint8_t bad[] = "Mx\0y";
    assert_int_equal(milter_session_packet(s, 'D', bad, 4), MILTER_ERROR);
    milter_session_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_optneg_versions, setup),
        cmocka_unit_test_setup(test_postfix_session, setup),
        cmocka_unit_test_setup(test_abort_then_second_message, setup),
        cmocka_unit_test_setup(test_out_of_order, setup),
        cmocka_unit_test_setup(test_framing, setup),
        cmocka_unit_test_setup(test_version2, setup),
        cmocka_unit_test_setup(test_replycode, setup),
        cmocka_unit_test_setup(test_limits, setup),
        cmocka_unit_test_setup(test_bad_mods, setup),
        cmocka_unit_test_setup(test_replace_body, setup),
        cmocka_unit_test_setup(test_quit_nc, setup),
        cmocka_unit_test_setup(test_deferred_decision, setup),
        cmocka_unit_test_setup(test_macros, setup),
        cmocka_unit_test_setup(test_skipped, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
