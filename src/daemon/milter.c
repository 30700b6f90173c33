/* milter - milter protocol core, filter side; see milter.h. */
#include "milter.h"

#include "netint.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Macro stages, in protocol order; lookups go from the latest back. */
enum { SLOT_C, SLOT_H, SLOT_M, SLOT_R, SLOT_T, SLOT_L, SLOT_N, SLOT_B, SLOT_E, SLOT_U, NSLOTS };
static const int lookup_order[NSLOTS] = {SLOT_E, SLOT_B, SLOT_N, SLOT_L, SLOT_T,
                                         SLOT_R, SLOT_M, SLOT_U, SLOT_H, SLOT_C};

enum phase { PH_OPTNEG, PH_CONNECT, PH_CONNECTED };

#define REPLY_ROOM (2 * MILTER_REPLY_MAX + 16) /* largest single reply packet */
#define OUT_CAP (MILTER_MODS_BYTES + 4 * REPLY_ROOM + 4096)
#define KNOWN_ACTIONS                                                                              \
    (SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS |               \
     SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR)

struct macro_slot {
    size_t len;
    unsigned count;
    int overflow;
    char *buf; /* MILTER_MACRO_BYTES: its row of macro_buf */
};

struct milter_mods {
    struct milter_session *s;
    uint8_t *buf;
    size_t cap, len;
    unsigned count;
    int failed;
};

struct milter_session {
    const struct milter_filter *f;
    struct milter_env env;
    int phase;
    unsigned version, actions, proto, steps;
    const char *error;

    /* Connection. */
    int conn_broken;
    char client_name[MILTER_HOST_MAX + 1];
    char client_addr[MILTER_ADDR_MAX + 1];
    int family;
    unsigned port;
    char helo[MILTER_HOST_MAX + 1];
    struct macro_slot macros[NSLOTS];

    /* Message. */
    int in_msg, begun, in_eom;
    int eoh_seen; /* N came: no L or N after it in this message */
    void *msg, *ctx;
    int decided; /* 0 = none, else the enum milter_status to answer */
    unsigned skip;
    char reply[MILTER_REPLY_MAX + 1];         /* set by milter_set_reply */
    char decided_reply[MILTER_REPLY_MAX + 1]; /* for decided == MILTER_REPLYCODE */
    char envfrom[MILTER_ENVFROM_BYTES];
    const char *sender;
    const char *sargs[MILTER_ARGS_MAX + 1];
    size_t nsargs;
    const char *rargs[MILTER_ARGS_MAX + 1];
    size_t nrcpt, rcpt_used;
    uint32_t rcpt_off[MILTER_RCPT_MAX];
    size_t nhdr;
    uint64_t body;

    struct milter_mods mods;
    size_t outlen;

    /* Written before they are read (below each slot's len, rcpt_used and
     * outlen), so milter_session_new leaves these 380 KiB alone: zeroing
     * them cost every milter connection a memset, and every idle one the
     * resident pages (bench/limits.sh). */
    char macro_buf[NSLOTS][MILTER_MACRO_BYTES];
    char rcpt_buf[MILTER_RCPT_BYTES];
    uint8_t out[OUT_CAP];
};

/* ---- small helpers ------------------------------------------------------- */

static void note(struct milter_session *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(struct milter_session *s, int level, const char *fmt, ...)
{
    if (!s->env.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    s->env.log(s->env.arg, level, line);
}

static int proto_error(struct milter_session *s, const char *why)
{
    s->error = why;
    return MILTER_ERROR;
}

/* Length of the NUL-terminated string at p within n octets, or -1. */
static long str_in(const uint8_t *p, size_t n)
{
    const uint8_t *z = n ? memchr(p, 0, n) : NULL;
    return z ? (long)(z - p) : -1;
}

/* Compare macro names ignoring one pair of braces on either side. */
static void bare_name(const char *n, const char **p, size_t *len)
{
    size_t l = strlen(n);
    if (l >= 2 && n[0] == '{' && n[l - 1] == '}') {
        n++;
        l -= 2;
    }
    *p = n;
    *len = l;
}

/* ---- framing ------------------------------------------------------------- */

int milter_frame(const uint8_t *p, size_t n, uint8_t *cmd, const uint8_t **data, size_t *dlen,
                 size_t *used)
{
    if (n < 4) {
        *used = 5;
        return MILTER_FRAME_MORE;
    }
    uint32_t len = netint_get32(p);
    if (len == 0 || len > MILTER_PACKET_MAX)
        return MILTER_FRAME_BAD;
    *used = 4 + (size_t)len;
    if (len > MILTER_PACKET_HELD) {
        if (n < 5)
            return MILTER_FRAME_MORE; /* the command decides */
        if (p[4] != SMFIC_HEADER)
            return MILTER_FRAME_BAD;
        *cmd = p[4];
        *dlen = (size_t)len - 1;
        return MILTER_FRAME_SKIP;
    }
    if (n < *used)
        return MILTER_FRAME_MORE;
    *cmd = p[4];
    *data = p + 5;
    *dlen = (size_t)len - 1;
    return MILTER_FRAME_OK;
}

/* ---- output -------------------------------------------------------------- */

/* Append one packet: cmd, then the parts. Returns 0 or -1 (no room). */
static int out_packet(struct milter_session *s, uint8_t cmd, const void *a, size_t alen,
                      const void *b, size_t blen)
{
    size_t need = 5 + alen + blen;
    if (OUT_CAP - s->outlen < need)
        return -1;
    uint8_t *o = s->out + s->outlen;
    netint_put32(o, (uint32_t)(1 + alen + blen));
    o[4] = cmd;
    if (alen)
        memcpy(o + 5, a, alen);
    if (blen)
        memcpy(o + 5 + alen, b, blen);
    s->outlen += need;
    return 0;
}

/* Append the answer for status st. */
static int out_status(struct milter_session *s, int st, const char *text)
{
    switch (st) {
    case MILTER_ACCEPT:
        return out_packet(s, SMFIR_ACCEPT, NULL, 0, NULL, 0);
    case MILTER_REJECT:
        return out_packet(s, SMFIR_REJECT, NULL, 0, NULL, 0);
    case MILTER_TEMPFAIL:
        return out_packet(s, SMFIR_TEMPFAIL, NULL, 0, NULL, 0);
    case MILTER_DISCARD:
        return out_packet(s, SMFIR_DISCARD, NULL, 0, NULL, 0);
    case MILTER_SKIP:
        return out_packet(s, SMFIR_SKIP, NULL, 0, NULL, 0);
    case MILTER_REPLYCODE: {
        /* Sendmail uses the text as a format string: double each '%'
         * (Postfix undoes it). */
        char buf[2 * MILTER_REPLY_MAX + 1];
        size_t n = 0;
        for (const char *p = text; *p && n + 2 < sizeof(buf); p++) {
            if (*p == '%')
                buf[n++] = '%';
            buf[n++] = *p;
        }
        buf[n++] = 0;
        return out_packet(s, SMFIR_REPLYCODE, buf, n, NULL, 0);
    }
    default:
        return out_packet(s, SMFIR_CONTINUE, NULL, 0, NULL, 0);
    }
}

const uint8_t *milter_session_output(const struct milter_session *s, size_t *len)
{
    *len = s->outlen;
    return s->out;
}

void milter_session_consumed(struct milter_session *s)
{
    s->outlen = 0;
}

int milter_session_want_flush(const struct milter_session *s, uint8_t next_cmd)
{
    if (s->outlen == 0)
        return 0;
    if (next_cmd == SMFIC_BODYEOB)
        return 1; /* end of message builds its modifications from offset 0 */
    return OUT_CAP - s->outlen < 2 * REPLY_ROOM;
}

int milter_session_in_message(const struct milter_session *s)
{
    return s->in_msg;
}

const char *milter_session_error(const struct milter_session *s)
{
    return s->error ? s->error : "no error";
}

/* ---- macros -------------------------------------------------------------- */

static int slot_of(uint8_t cmd)
{
    switch (cmd) {
    case SMFIC_CONNECT:
        return SLOT_C;
    case SMFIC_HELO:
        return SLOT_H;
    case SMFIC_MAIL:
        return SLOT_M;
    case SMFIC_RCPT:
        return SLOT_R;
    case SMFIC_DATA:
        return SLOT_T;
    case SMFIC_HEADER:
        return SLOT_L;
    case SMFIC_EOH:
        return SLOT_N;
    case SMFIC_BODY:
        return SLOT_B;
    case SMFIC_BODYEOB:
        return SLOT_E;
    case SMFIC_UNKNOWN:
        return SLOT_U;
    default:
        return -1;
    }
}

static void slot_clear(struct macro_slot *m)
{
    m->len = 0;
    m->count = 0;
    m->overflow = 0;
}

const char *milter_macro(const struct milter_session *s, const char *name)
{
    const char *want;
    size_t wlen;
    bare_name(name, &want, &wlen);
    for (int k = 0; k < NSLOTS; k++) {
        const struct macro_slot *m = &s->macros[lookup_order[k]];
        size_t off = 0;
        for (unsigned i = 0; i < m->count; i++) {
            const char *n = m->buf + off;
            size_t nl = strlen(n);
            const char *v = n + nl + 1;
            size_t vl = strlen(v);
            const char *bn;
            size_t bl;
            bare_name(n, &bn, &bl);
            if (bl == wlen && memcmp(bn, want, wlen) == 0)
                return v;
            off += nl + 1 + vl + 1;
        }
    }
    return NULL;
}

const char *milter_queue_id(const struct milter_session *s)
{
    const char *q = milter_macro(s, "i");
    return q && q[0] ? q : "NOQUEUE";
}

/* ---- decisions ----------------------------------------------------------- */

static void decide(struct milter_session *s, int st, const char *why)
{
    if (s->decided)
        return;
    s->decided = st;
    if (st == MILTER_REPLYCODE)
        memcpy(s->decided_reply, s->reply, sizeof(s->reply));
    if (why)
        note(s, MILTER_LOG_WARNING, "%s: %s: message tempfailed", milter_queue_id(s), why);
}

/* A limit that the same message would exceed again on every retry: a
 * permanent, explained refusal (the client's server returns it), not a
 * tempfail that keeps it queued until it expires. */
static void refuse_for_good(struct milter_session *s, const char *reply, const char *why)
{
    if (s->decided)
        return;
    note(s, MILTER_LOG_WARNING, "%s: %s: message refused (%s)", milter_queue_id(s), why, reply);
    if (milter_set_reply(s, reply) == MILTER_REPLYCODE)
        decide(s, MILTER_REPLYCODE, NULL);
    else
        decide(s, MILTER_TEMPFAIL, why);
}

/* Look at a callback's result: anything out of range, or REPLYCODE
 * without a reply set, is an internal failure. */
static int checked(struct milter_session *s, int st, const char *what)
{
    if (st < MILTER_CONTINUE || st > MILTER_SKIP) {
        note(s, MILTER_LOG_ERROR, "%s: filter %s returned bad status %d from %s: tempfail",
             milter_queue_id(s), s->f->name ? s->f->name : "?", st, what);
        return MILTER_TEMPFAIL;
    }
    if (st == MILTER_REPLYCODE && s->reply[0] == 0) {
        note(s, MILTER_LOG_ERROR,
             "%s: filter %s returned REPLYCODE without a reply from %s: tempfail",
             milter_queue_id(s), s->f->name ? s->f->name : "?", what);
        return MILTER_TEMPFAIL;
    }
    return st;
}

static int is_final(int st)
{
    return st != MILTER_CONTINUE && st != MILTER_SKIP;
}

/* May the filter's callback for this step run? */
static int may_call(struct milter_session *s, unsigned step, const void *cb)
{
    if (!cb || !s->in_msg || s->decided || (s->skip & step))
        return 0;
    s->reply[0] = 0;
    return 1;
}

/* After a step: remember the decision, answer when the MTA waits. nrbit
 * is the step's SMFIP_NR_* bit (0: the MTA always waits). */
static int finish_step(struct milter_session *s, unsigned step, unsigned nrbit, int st)
{
    int noreply = nrbit != 0 && (s->proto & nrbit) != 0;
    if (st == MILTER_SKIP)
        s->skip |= step;
    if (is_final(st)) {
        if (step == MILTER_STEP_RCPT && !noreply &&
            (st == MILTER_REJECT || st == MILTER_TEMPFAIL || st == MILTER_REPLYCODE))
            return out_status(s, st, s->reply); /* this recipient only */
        decide(s, st, NULL);
    }
    if (noreply)
        return 0;
    if (s->decided && s->in_msg)
        return out_status(s, s->decided, s->decided_reply);
    if (st == MILTER_SKIP && step == MILTER_STEP_BODY && (s->proto & SMFIP_SKIP))
        return out_status(s, MILTER_SKIP, NULL);
    return out_status(s, MILTER_CONTINUE, NULL);
}

/* ---- message life cycle -------------------------------------------------- */

static void msg_close(struct milter_session *s, int status, int keep_mail_macros)
{
    if (!s->in_msg)
        return;
    if (s->begun && s->f->msg_end)
        s->f->msg_end(s->msg, s, status);
    if (s->env.ctx_put)
        s->env.ctx_put(s->env.arg, s->ctx);
    s->in_msg = s->begun = s->in_eom = 0;
    s->msg = s->ctx = NULL;
    s->decided = 0;
    s->skip = 0;
    s->reply[0] = s->decided_reply[0] = 0;
    s->sender = NULL;
    s->nsargs = 0;
    s->nrcpt = s->rcpt_used = 0;
    s->nhdr = 0;
    s->body = 0;
    for (int i = keep_mail_macros ? SLOT_R : SLOT_M; i <= SLOT_U; i++)
        slot_clear(&s->macros[i]);
}

/* A macro stage over its limit tempfails the message it belongs to. */
static void check_overflow(struct milter_session *s)
{
    if (!s->in_msg || s->decided)
        return;
    if (s->conn_broken) {
        decide(s, MILTER_TEMPFAIL, "connect or HELO information over its limit");
        return;
    }
    for (int i = 0; i < NSLOTS; i++)
        if (s->macros[i].overflow) {
            decide(s, MILTER_TEMPFAIL, "macros over their limit");
            return;
        }
}

/* ---- commands ------------------------------------------------------------ */

static int do_optneg(struct milter_session *s, const uint8_t *d, size_t len)
{
    if (s->phase != PH_OPTNEG)
        return proto_error(s, "option negotiation repeated");
    if (len < 12)
        return proto_error(s, "option negotiation packet too short");
    uint32_t v = netint_get32(d), act = netint_get32(d + 4), offered = netint_get32(d + 8);
    if (v < 2 || v == 5)
        return proto_error(s, "unsupported milter protocol version");
    s->version = v > 6 ? 6 : v;
    const struct milter_filter *f = s->f;
    unsigned steps = f->steps;
    if (f->data)
        steps |= MILTER_STEP_DATA;
    if (f->header)
        steps |= MILTER_STEP_HEADER;
    if (f->eoh)
        steps |= MILTER_STEP_EOH;
    if (f->body)
        steps |= MILTER_STEP_BODY;
    s->steps = steps;
    unsigned want = SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_UNKN |
                    SMFIP_HDR_LEADSPC | SMFIP_SKIP;
    if (!(steps & MILTER_STEP_DATA))
        want |= SMFIP_NODATA;
    if (!(steps & MILTER_STEP_HEADER))
        want |= SMFIP_NOHDRS;
    if (!(steps & MILTER_STEP_EOH))
        want |= SMFIP_NOEOH;
    if (!(steps & MILTER_STEP_BODY))
        want |= SMFIP_NOBODY;
    static const struct {
        unsigned step, nr;
    } nrmap[] = {{MILTER_STEP_MAIL, SMFIP_NR_MAIL}, {MILTER_STEP_RCPT, SMFIP_NR_RCPT},
                 {MILTER_STEP_DATA, SMFIP_NR_DATA}, {MILTER_STEP_HEADER, SMFIP_NR_HDR},
                 {MILTER_STEP_EOH, SMFIP_NR_EOH},   {MILTER_STEP_BODY, SMFIP_NR_BODY}};
    for (size_t i = 0; i < sizeof(nrmap) / sizeof(nrmap[0]); i++)
        if (!(f->replies & nrmap[i].step))
            want |= nrmap[i].nr;
    /* Never ask for a step flag the negotiated version does not define
     * (as Postfix's milter8.c masks its own offer); SMFIP_NR_HDR is
     * Postfix's "no_header_reply" extension, valid with any version. */
    unsigned defined = 0x7Fu | SMFIP_NR_HDR;
    if (s->version >= 3)
        defined |= SMFIP_NOUNKNOWN;
    if (s->version >= 4)
        defined |= SMFIP_NODATA;
    if (s->version >= 6)
        defined = 0x1FFFFFu;
    s->proto = want & offered & defined;
    s->actions = f->actions & act & KNOWN_ACTIONS;
    uint8_t o[12];
    netint_put32(o, s->version);
    netint_put32(o + 4, s->actions);
    netint_put32(o + 8, s->proto);
    s->phase = PH_CONNECT;
    return out_packet(s, SMFIC_OPTNEG, o, sizeof(o), NULL, 0) < 0
               ? proto_error(s, "output buffer full")
               : MILTER_OK;
}

static int do_macro(struct milter_session *s, const uint8_t *d, size_t len)
{
    if (len < 1)
        return proto_error(s, "macro packet without a stage");
    int slot = slot_of(d[0]);
    d++;
    len--;
    if (len > 0 && d[len - 1] != 0)
        return proto_error(s, "macro packet not NUL-terminated");
    if (slot < 0)
        return MILTER_OK; /* a stage we do not know: ignore, as libmilter does */
    struct macro_slot *m = &s->macros[slot];
    slot_clear(m);
    /* Count strings; keep whole pairs only (a trailing name is dropped). */
    size_t off = 0, keep = 0;
    unsigned nstr = 0;
    while (off < len) {
        size_t l = strlen((const char *)d + off);
        off += l + 1;
        if (++nstr % 2 == 0)
            keep = off;
    }
    if (keep > MILTER_MACRO_BYTES || nstr / 2 > MILTER_MACRO_COUNT) {
        m->overflow = 1;
        note(s, MILTER_LOG_WARNING, "macros of stage '%c' over %d octets or %d names: ignored",
             d[-1], MILTER_MACRO_BYTES, MILTER_MACRO_COUNT);
        if (slot == SLOT_C || slot == SLOT_H)
            s->conn_broken = 1;
        check_overflow(s);
        return MILTER_OK;
    }
    memcpy(m->buf, d, keep);
    m->len = keep;
    m->count = nstr / 2;
    return MILTER_OK;
}

/* Copy the string at d (NUL-terminated within len) to dst[cap], truncating;
 * returns its length, or -1 when not terminated. *over is set when cut. */
static long copy_str(char *dst, size_t cap, const uint8_t *d, size_t len, int *over)
{
    long l = str_in(d, len);
    if (l < 0)
        return -1;
    size_t n = (size_t)l;
    if (n >= cap) {
        n = cap - 1;
        *over = 1;
    }
    memcpy(dst, d, n);
    dst[n] = 0;
    return l;
}

static int do_connect(struct milter_session *s, const uint8_t *d, size_t len)
{
    if (s->phase != PH_CONNECT)
        return proto_error(s, "connect out of order");
    int over = 0;
    long hl = copy_str(s->client_name, sizeof(s->client_name), d, len, &over);
    if (hl < 0 || (size_t)hl + 2 > len)
        return proto_error(s, "malformed connect packet");
    size_t off = (size_t)hl + 1;
    s->family = d[off++];
    s->port = 0;
    s->client_addr[0] = 0;
    if (s->family != SMFIA_UNKNOWN) {
        if (s->family != SMFIA_INET && s->family != SMFIA_INET6 && s->family != SMFIA_UNIX)
            return proto_error(s, "unknown address family in connect packet");
        if (len - off < 3)
            return proto_error(s, "malformed connect packet");
        s->port = (unsigned)d[off] << 8 | d[off + 1];
        off += 2;
        long al = copy_str(s->client_addr, sizeof(s->client_addr), d + off, len - off, &over);
        if (al < 0)
            return proto_error(s, "malformed connect packet");
    }
    if (over) {
        s->conn_broken = 1;
        note(s, MILTER_LOG_WARNING, "client name or address over %d octets: tempfailing its mail",
             MILTER_HOST_MAX);
    }
    s->phase = PH_CONNECTED;
    return finish_step(s, MILTER_STEP_CONNECT, SMFIP_NR_CONN, MILTER_CONTINUE);
}

static int do_helo(struct milter_session *s, const uint8_t *d, size_t len)
{
    int over = 0;
    if (s->in_msg)
        msg_close(s, MILTER_ABORTED, 0);
    if (copy_str(s->helo, sizeof(s->helo), d, len, &over) < 0)
        return proto_error(s, "malformed HELO packet");
    if (over) {
        s->conn_broken = 1;
        note(s, MILTER_LOG_WARNING, "HELO argument over %d octets: tempfailing its mail",
             MILTER_HOST_MAX);
    }
    return finish_step(s, MILTER_STEP_HELO, SMFIP_NR_HELO, MILTER_CONTINUE);
}

/* Split NUL-terminated strings d[0..len) (len > 0, d[len-1] == 0) into
 * argv; returns the count, or -1 when there are more than max. */
static long split_strings(const char *d, size_t len, const char **argv, size_t max)
{
    size_t n = 0, off = 0;
    while (off < len) {
        if (n == max)
            return -1;
        argv[n++] = d + off;
        off += strlen(d + off) + 1;
    }
    argv[n] = NULL;
    return (long)n;
}

/* "<addr>" -> "addr", in place. */
static char *strip_angle(char *a)
{
    size_t l = strlen(a);
    if (l >= 2 && a[0] == '<' && a[l - 1] == '>') {
        a[l - 1] = 0;
        return a + 1;
    }
    return a;
}

static int do_mail(struct milter_session *s, const uint8_t *d, size_t len)
{
    if (len == 0 || d[len - 1] != 0)
        return proto_error(s, "malformed MAIL packet");
    if (s->in_msg)
        msg_close(s, MILTER_ABORTED, 1);
    s->in_msg = 1;
    s->eoh_seen = 0;
    s->ctx = s->env.ctx_get ? s->env.ctx_get(s->env.arg) : NULL;
    if (s->f->msg_begin) {
        s->msg = s->f->msg_begin(s->ctx, s);
        if (s->msg)
            s->begun = 1;
        else
            decide(s, MILTER_TEMPFAIL, "filter could not start the message");
    } else {
        s->begun = 1;
    }
    check_overflow(s);
    s->envfrom[0] = 0;
    s->sender = s->envfrom;
    s->nsargs = 0;
    const char *argv[MILTER_ARGS_MAX + 2];
    long n = -1;
    if (len <= sizeof(s->envfrom)) {
        memcpy(s->envfrom, d, len);
        n = split_strings(s->envfrom, len, argv, MILTER_ARGS_MAX + 1);
    }
    if (n < 1) {
        s->envfrom[0] = 0;
        decide(s, MILTER_TEMPFAIL, "MAIL FROM over its length or parameter limit");
    } else {
        s->sender = strip_angle((char *)argv[0]);
        s->nsargs = (size_t)n - 1;
        for (size_t i = 0; i < s->nsargs; i++)
            s->sargs[i] = argv[i + 1];
        s->sargs[s->nsargs] = NULL;
    }
    int st = MILTER_CONTINUE;
    if (may_call(s, MILTER_STEP_MAIL, (const void *)s->f->envfrom))
        st = checked(s, s->f->envfrom(s->msg, s, s->sender, s->sargs, s->nsargs), "envfrom");
    return finish_step(s, MILTER_STEP_MAIL, SMFIP_NR_MAIL, st);
}

static int do_rcpt(struct milter_session *s, const uint8_t *d, size_t len)
{
    if (len == 0 || d[len - 1] != 0)
        return proto_error(s, "malformed RCPT packet");
    size_t alen = strlen((const char *)d);
    int st = MILTER_CONTINUE;
    if (s->nrcpt >= MILTER_RCPT_MAX || MILTER_RCPT_BYTES - s->rcpt_used < alen + 1) {
        decide(s, MILTER_TEMPFAIL, "too many recipients");
        return finish_step(s, MILTER_STEP_RCPT, SMFIP_NR_RCPT, st);
    }
    size_t at = s->rcpt_used;
    char *a = s->rcpt_buf + at;
    memcpy(a, d, alen + 1);
    char *addr = strip_angle(a);
    s->rcpt_off[s->nrcpt++] = (uint32_t)(addr - s->rcpt_buf);
    s->rcpt_used += alen + 1;
    long n = split_strings((const char *)d + alen + 1, len - alen - 1, s->rargs, MILTER_ARGS_MAX);
    if (n < 0) {
        decide(s, MILTER_TEMPFAIL, "RCPT TO with too many parameters");
        n = 0;
    }
    if (may_call(s, MILTER_STEP_RCPT, (const void *)s->f->rcpt))
        st = checked(s, s->f->rcpt(s->msg, s, addr, s->rargs, (size_t)n), "rcpt");
    int refused = (st == MILTER_REJECT || st == MILTER_TEMPFAIL || st == MILTER_REPLYCODE) &&
                  !(s->proto & SMFIP_NR_RCPT);
    if (refused) { /* not a recipient of this message after all */
        s->nrcpt--;
        s->rcpt_used = at;
    }
    return finish_step(s, MILTER_STEP_RCPT, SMFIP_NR_RCPT, st);
}

static int do_header(struct milter_session *s, const uint8_t *d, size_t len)
{
    long nl = str_in(d, len);
    if (nl < 0)
        return proto_error(s, "malformed header packet");
    long vl = str_in(d + nl + 1, len - (size_t)nl - 1);
    if (vl < 0)
        return proto_error(s, "malformed header packet");
    int st = MILTER_CONTINUE;
    s->nhdr++;
    if (s->nhdr > MILTER_HEADERS_MAX)
        refuse_for_good(s, "552 5.3.4 Too many header fields for this server (over 2000)",
                        "more than MILTER_HEADERS_MAX header fields");
    else if (nl == 0 || nl > MILTER_HEADER_NAME_MAX || len > MILTER_HEADER_MAX)
        refuse_for_good(s, "552 5.3.4 Header field too long or without a name for this server",
                        "header name empty or header over its length limit");
    if (may_call(s, MILTER_STEP_HEADER, (const void *)s->f->header))
        st = checked(s,
                     s->f->header(s->msg, s, (const char *)d, (size_t)nl, (const char *)d + nl + 1,
                                  (size_t)vl),
                     "header");
    return finish_step(s, MILTER_STEP_HEADER, SMFIP_NR_HDR, st);
}

/* A header field or a second end-of-header after the end of the header,
 * whether the packet was read or skipped: a filter sets up its message at
 * N, once (found by fuzz_mailflow: a second N made mailflow's verifiers
 * and signers anew, leaking the first). */
static int after_eoh(const struct milter_session *s, uint8_t cmd)
{
    return (cmd == SMFIC_HEADER || cmd == SMFIC_EOH) && s->eoh_seen;
}

int milter_session_skipped(struct milter_session *s, uint8_t cmd, size_t len, int why)
{
    if (s->error)
        return MILTER_ERROR;
    if (s->phase != PH_CONNECTED || !s->in_msg)
        return proto_error(s, "message command outside a message");
    if (after_eoh(s, cmd))
        return proto_error(s, "header after the end of the header");
    int rc;
    if (cmd == SMFIC_HEADER) {
        s->nhdr++;
        if (why == MILTER_SKIP_TOO_LARGE)
            refuse_for_good(s, "552 5.3.4 Header field too long or without a name for this server",
                            "header name empty or header over its length limit");
        else
            decide(s, MILTER_TEMPFAIL, "no memory for a large header field (milter_buffer_memory)");
        rc = finish_step(s, MILTER_STEP_HEADER, SMFIP_NR_HDR, MILTER_CONTINUE);
    } else if (cmd == SMFIC_BODY && why == MILTER_SKIP_NO_MEMORY) {
        s->body += len;
        decide(s, MILTER_TEMPFAIL, "no memory for a large body chunk (milter_buffer_memory)");
        rc = finish_step(s, MILTER_STEP_BODY, SMFIP_NR_BODY, MILTER_CONTINUE);
    } else {
        return proto_error(s, "packet too large");
    }
    if (rc < 0)
        return proto_error(s, "output buffer full");
    return s->error ? MILTER_ERROR : MILTER_OK;
}

static int body_chunk(struct milter_session *s, const uint8_t *d, size_t len)
{
    s->body += len;
    int st = MILTER_CONTINUE;
    if (may_call(s, MILTER_STEP_BODY, (const void *)s->f->body))
        st = checked(s, s->f->body(s->msg, s, d, len), "body");
    return st;
}

static int do_eom(struct milter_session *s, const uint8_t *d, size_t len)
{
    if (len > 0) { /* libmilter delivers data with E as a last body chunk */
        int st = body_chunk(s, d, len);
        if (st == MILTER_SKIP)
            s->skip |= MILTER_STEP_BODY;
        else if (is_final(st))
            decide(s, st, NULL);
    }
    size_t mark = s->outlen;
    int st = MILTER_CONTINUE;
    if (may_call(s, 0, (const void *)s->f->eom)) {
        struct milter_mods *m = &s->mods;
        size_t room = OUT_CAP - s->outlen < REPLY_ROOM ? 0 : OUT_CAP - s->outlen - REPLY_ROOM;
        m->s = s;
        m->buf = s->out + s->outlen;
        m->cap = room < MILTER_MODS_BYTES ? room : MILTER_MODS_BYTES;
        m->len = 0;
        m->count = 0;
        m->failed = 0;
        s->in_eom = 1;
        st = checked(s, s->f->eom(s->msg, s, m), "eom");
        s->in_eom = 0;
        if (st == MILTER_SKIP)
            st = MILTER_CONTINUE;
        if (m->failed && (st == MILTER_CONTINUE || st == MILTER_ACCEPT)) {
            note(s, MILTER_LOG_ERROR,
                 "%s: a modification failed (not granted, invalid or over %d "
                 "octets / %d changes): message tempfailed",
                 milter_queue_id(s), MILTER_MODS_BYTES, MILTER_MODS_COUNT);
            st = MILTER_TEMPFAIL;
        }
        if (st == MILTER_CONTINUE || st == MILTER_ACCEPT)
            s->outlen += m->len;
        m->buf = NULL;
        m->cap = 0;
    }
    if (is_final(st))
        decide(s, st, NULL);
    int final = s->decided ? s->decided : MILTER_CONTINUE;
    if (out_status(s, final, s->decided_reply) < 0) {
        s->outlen = mark;
        msg_close(s, MILTER_ABORTED, 0);
        return proto_error(s, "output buffer full");
    }
    msg_close(s, final, 0);
    return MILTER_OK;
}

int milter_session_packet(struct milter_session *s, uint8_t cmd, const uint8_t *d, size_t len)
{
    static const uint8_t none[1] = {0};
    if (!d)
        d = none;
    if (s->error)
        return MILTER_ERROR;
    if (cmd == SMFIC_OPTNEG)
        return do_optneg(s, d, len);
    if (s->phase == PH_OPTNEG)
        return proto_error(s, "command before option negotiation");
    int rc = 0;
    switch (cmd) {
    case SMFIC_MACRO:
        return do_macro(s, d, len);
    case SMFIC_CONNECT:
        rc = do_connect(s, d, len);
        break;
    case SMFIC_ABORT:
        msg_close(s, MILTER_ABORTED, 0);
        return MILTER_OK;
    case SMFIC_QUIT:
        msg_close(s, MILTER_ABORTED, 0);
        return MILTER_CLOSE;
    case SMFIC_QUIT_NC:
        msg_close(s, MILTER_ABORTED, 0);
        for (int i = 0; i < NSLOTS; i++)
            slot_clear(&s->macros[i]);
        s->conn_broken = 0;
        s->client_name[0] = s->client_addr[0] = s->helo[0] = 0;
        s->family = SMFIA_UNKNOWN;
        s->port = 0;
        s->phase = PH_CONNECT;
        return MILTER_OK;
    default:
        if (s->phase != PH_CONNECTED)
            return proto_error(s, "command before connect");
        switch (cmd) {
        case SMFIC_HELO:
            rc = do_helo(s, d, len);
            break;
        case SMFIC_UNKNOWN:
            if (str_in(d, len) < 0)
                return proto_error(s, "malformed unknown-command packet");
            if (!(s->proto & SMFIP_NR_UNKN))
                rc = out_status(s, MILTER_CONTINUE, NULL);
            break;
        case SMFIC_MAIL:
            rc = do_mail(s, d, len);
            break;
        case SMFIC_RCPT:
        case SMFIC_DATA:
        case SMFIC_HEADER:
        case SMFIC_EOH:
        case SMFIC_BODY:
        case SMFIC_BODYEOB:
            if (!s->in_msg)
                return proto_error(s, "message command outside a message");
            if (after_eoh(s, cmd))
                return proto_error(s, "header after the end of the header");
            if (cmd == SMFIC_EOH)
                s->eoh_seen = 1;
            switch (cmd) {
            case SMFIC_RCPT:
                rc = do_rcpt(s, d, len);
                break;
            case SMFIC_DATA: {
                int st = MILTER_CONTINUE;
                if (may_call(s, MILTER_STEP_DATA, (const void *)s->f->data))
                    st = checked(s, s->f->data(s->msg, s), "data");
                rc = finish_step(s, MILTER_STEP_DATA, SMFIP_NR_DATA, st);
                break;
            }
            case SMFIC_HEADER:
                rc = do_header(s, d, len);
                break;
            case SMFIC_EOH: {
                int st = MILTER_CONTINUE;
                if (may_call(s, MILTER_STEP_EOH, (const void *)s->f->eoh))
                    st = checked(s, s->f->eoh(s->msg, s), "eoh");
                rc = finish_step(s, MILTER_STEP_EOH, SMFIP_NR_EOH, st);
                break;
            }
            case SMFIC_BODY:
                rc = finish_step(s, MILTER_STEP_BODY, SMFIP_NR_BODY, body_chunk(s, d, len));
                break;
            default:
                return do_eom(s, d, len);
            }
            break;
        default:
            return proto_error(s, "unknown command");
        }
    }
    if (rc < 0)
        return proto_error(s, "output buffer full");
    return s->error ? MILTER_ERROR : MILTER_OK;
}

/* ---- session ------------------------------------------------------------- */

struct milter_session *milter_session_new(const struct milter_filter *f,
                                          const struct milter_env *env)
{
    struct milter_session *s = malloc(sizeof(*s));
    if (!s)
        return NULL;
    memset(s, 0, offsetof(struct milter_session, macro_buf));
    for (int i = 0; i < NSLOTS; i++)
        s->macros[i].buf = s->macro_buf[i];
    s->f = f;
    if (env)
        s->env = *env;
    s->family = SMFIA_UNKNOWN;
    return s;
}

void milter_session_free(struct milter_session *s)
{
    if (!s)
        return;
    msg_close(s, MILTER_ABORTED, 0);
    free(s);
}

/* ---- accessors ----------------------------------------------------------- */

const char *milter_client_name(const struct milter_session *s)
{
    return s->client_name;
}

const char *milter_client_addr(const struct milter_session *s)
{
    return s->client_addr;
}

int milter_client_family(const struct milter_session *s)
{
    return s->family;
}

unsigned milter_client_port(const struct milter_session *s)
{
    return s->port;
}

const char *milter_helo(const struct milter_session *s)
{
    return s->helo;
}

const char *milter_sender(const struct milter_session *s)
{
    return s->sender ? s->sender : "";
}

const char *const *milter_sender_args(const struct milter_session *s, size_t *nargs)
{
    *nargs = s->sender ? s->nsargs : 0;
    return s->sargs;
}

size_t milter_rcpt_count(const struct milter_session *s)
{
    return s->nrcpt;
}

const char *milter_rcpt(const struct milter_session *s, size_t i)
{
    return i < s->nrcpt ? s->rcpt_buf + s->rcpt_off[i] : NULL;
}

size_t milter_header_count(const struct milter_session *s)
{
    return s->nhdr;
}

uint64_t milter_body_size(const struct milter_session *s)
{
    return s->body;
}

unsigned milter_version(const struct milter_session *s)
{
    return s->version;
}

unsigned milter_actions(const struct milter_session *s)
{
    return s->actions;
}

unsigned milter_protocol(const struct milter_session *s)
{
    return s->proto;
}

int milter_set_reply(struct milter_session *s, const char *r)
{
    size_t n = strlen(r);
    int ok = n >= 3 && n <= MILTER_REPLY_MAX && (r[0] == '4' || r[0] == '5') && r[1] >= '0' &&
             r[1] <= '9' && r[2] >= '0' && r[2] <= '9' && (r[3] == 0 || r[3] == ' ');
    for (size_t i = 3; ok && i < n; i++)
        ok = r[i] >= 0x20 && r[i] < 0x7f;
    /* An enhanced status code after the space must be of the same class. */
    if (ok && n > 4 && r[4] >= '0' && r[4] <= '9')
        ok = r[4] == r[0] && n > 5 && r[5] == '.';
    if (!ok) {
        note(s, MILTER_LOG_ERROR, "%s: filter set a malformed SMTP reply: tempfail",
             milter_queue_id(s));
        s->reply[0] = 0;
        return MILTER_TEMPFAIL;
    }
    memcpy(s->reply, r, n + 1);
    return MILTER_REPLYCODE;
}

int milter_progress(struct milter_session *s)
{
    static const uint8_t p[5] = {0, 0, 0, 1, SMFIR_PROGRESS};
    if (!s->in_eom || !s->env.write)
        return -1;
    /* want_flush empties the output before E, so nothing precedes it. */
    return s->env.write(s->env.arg, p, sizeof(p));
}

/* ---- modifications ------------------------------------------------------- */

static int mods_fail(struct milter_mods *m)
{
    m->failed = 1;
    return -1;
}

int milter_mods_allowed(const struct milter_mods *m, unsigned action)
{
    return m->s && (m->s->actions & action) == action;
}

size_t milter_mods_count(const struct milter_mods *m)
{
    return m->count;
}

static int good_name(const char *n)
{
    size_t l = strlen(n);
    if (l == 0 || l > MILTER_HEADER_NAME_MAX)
        return 0;
    for (size_t i = 0; i < l; i++)
        if ((unsigned char)n[i] < 33 || (unsigned char)n[i] > 126 || n[i] == ':')
            return 0;
    return 1;
}

static int good_value(const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\r')
            return 0;
        if (*p == '\n' && p[1] != ' ' && p[1] != '\t')
            return 0;
    }
    return 1;
}

static int good_line(const char *a)
{
    return a && a[0] && !strpbrk(a, "\r\n") && strlen(a) <= 4096;
}

/* Append one modification packet: cmd, optional 4-octet index, strings. */
static int mods_put(struct milter_mods *m, uint8_t cmd, int has_index, uint32_t index,
                    const char *a, const char *b)
{
    if (!m->buf || m->count >= MILTER_MODS_COUNT)
        return mods_fail(m);
    size_t al = strlen(a) + 1, bl = b ? strlen(b) + 1 : 0;
    size_t need = 5 + (has_index ? 4 : 0) + al + bl;
    if (m->cap - m->len < need)
        return mods_fail(m);
    uint8_t *o = m->buf + m->len;
    netint_put32(o, (uint32_t)(need - 4));
    o[4] = cmd;
    size_t off = 5;
    if (has_index) {
        netint_put32(o + off, index);
        off += 4;
    }
    memcpy(o + off, a, al);
    off += al;
    if (bl)
        memcpy(o + off, b, bl);
    m->len += need;
    m->count++;
    return 0;
}

/* The value as the MTA wants it: without SMFIP_HDR_LEADSPC it adds the
 * space after the colon itself. */
static const char *wire_value(const struct milter_mods *m, const char *v)
{
    if (!(m->s->proto & SMFIP_HDR_LEADSPC) && v[0] == ' ')
        return v + 1;
    return v;
}

int milter_mods_add_header(struct milter_mods *m, const char *name, const char *value)
{
    if (!milter_mods_allowed(m, SMFIF_ADDHDRS) || !good_name(name) || !value || !good_value(value))
        return mods_fail(m);
    return mods_put(m, SMFIR_ADDHEADER, 0, 0, name, wire_value(m, value));
}

int milter_mods_insert_header(struct milter_mods *m, unsigned index, const char *name,
                              const char *value)
{
    if (!milter_mods_allowed(m, SMFIF_ADDHDRS) || !good_name(name) || !value || !good_value(value))
        return mods_fail(m);
    return mods_put(m, SMFIR_INSHEADER, 1, index, name, wire_value(m, value));
}

int milter_mods_change_header(struct milter_mods *m, const char *name, unsigned index,
                              const char *value)
{
    if (!milter_mods_allowed(m, SMFIF_CHGHDRS) || !good_name(name) || index < 1 || !value ||
        !good_value(value))
        return mods_fail(m);
    /* An empty value deletes; keep " " from turning into a deletion too. */
    const char *w = value[0] ? wire_value(m, value) : "";
    if (value[0] && !w[0])
        w = value;
    return mods_put(m, SMFIR_CHGHEADER, 1, index, name, w);
}

int milter_mods_replace_body(struct milter_mods *m, const uint8_t *p, size_t n)
{
    struct milter_session *s = m->s;
    if (!milter_mods_allowed(m, SMFIF_CHGBODY) || !s->in_eom || !s->env.write ||
        m->count >= MILTER_MODS_COUNT)
        return mods_fail(m);
    /* An empty body is one empty packet; otherwise chunks as MTAs send them. */
    size_t off = 0;
    do {
        size_t k = n - off > MILTER_CHUNK_MAX ? MILTER_CHUNK_MAX : n - off;
        uint8_t hdr[5];
        netint_put32(hdr, (uint32_t)(k + 1));
        hdr[4] = SMFIR_REPLBODY;
        if (s->env.write(s->env.arg, hdr, sizeof(hdr)) < 0 ||
            (k && s->env.write(s->env.arg, p + off, k) < 0))
            return mods_fail(m);
        off += k;
    } while (off < n);
    m->count++;
    return 0;
}

int milter_mods_delete_header(struct milter_mods *m, const char *name, unsigned index)
{
    if (!milter_mods_allowed(m, SMFIF_CHGHDRS) || !good_name(name) || index < 1)
        return mods_fail(m);
    return mods_put(m, SMFIR_CHGHEADER, 1, index, name, "");
}

int milter_mods_change_from(struct milter_mods *m, const char *addr, const char *args)
{
    if (!milter_mods_allowed(m, SMFIF_CHGFROM) || !good_line(addr) ||
        (args && args[0] && !good_line(args)))
        return mods_fail(m);
    return mods_put(m, SMFIR_CHGFROM, 0, 0, addr, args && args[0] ? args : NULL);
}

int milter_mods_add_rcpt(struct milter_mods *m, const char *addr, const char *args)
{
    if (!good_line(addr))
        return mods_fail(m);
    if (args) {
        if (!milter_mods_allowed(m, SMFIF_ADDRCPT_PAR) || (args[0] && !good_line(args)))
            return mods_fail(m);
        return mods_put(m, SMFIR_ADDRCPT_PAR, 0, 0, addr, args);
    }
    if (!milter_mods_allowed(m, SMFIF_ADDRCPT))
        return mods_fail(m);
    return mods_put(m, SMFIR_ADDRCPT, 0, 0, addr, NULL);
}

int milter_mods_delete_rcpt(struct milter_mods *m, const char *addr)
{
    if (!milter_mods_allowed(m, SMFIF_DELRCPT) || !good_line(addr))
        return mods_fail(m);
    return mods_put(m, SMFIR_DELRCPT, 0, 0, addr, NULL);
}

int milter_mods_quarantine(struct milter_mods *m, const char *reason)
{
    if (!milter_mods_allowed(m, SMFIF_QUARANTINE) || !good_line(reason))
        return mods_fail(m);
    return mods_put(m, SMFIR_QUARANTINE, 0, 0, reason, NULL);
}
