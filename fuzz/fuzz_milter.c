/* libFuzzer target: the milter connection path without sockets. The input
 * is a packet stream (as an MTA sends it) cut by milter_frame and fed to one
 * milter session, flushing its output as milter_conn does. The filter uses
 * every callback; what it answers and which modifications it makes depend
 * on the bytes it is given, so the fuzzer reaches decisions, deferred
 * decisions, skips, reply codes and every modification. Checks: the output
 * is a sequence of well-formed packets with known reply commands; msg_begin
 * and msg_end pair up; every pointer given to the filter is readable over
 * its length (ASan) and strings are NUL-terminated there. */
#include "milter.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int begun, ended, ctx_token;

static unsigned pick(const char *p, size_t n)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    return h;
}

static int status_from(struct milter_session *s, unsigned h)
{
    switch (h % 23) {
    case 1:
        return MILTER_ACCEPT;
    case 2:
        return MILTER_REJECT;
    case 3:
        return MILTER_TEMPFAIL;
    case 4:
        return MILTER_DISCARD;
    case 5:
        return milter_set_reply(s, (h & 64) ? "451 4.7.0 try %s later" : "5xx bad");
    case 6:
        return MILTER_SKIP;
    case 7:
        return 42; /* a bad status: tempfail */
    default:
        return MILTER_CONTINUE;
    }
}

static void *f_begin(void *ctx, struct milter_session *s)
{
    if (ctx != &ctx_token)
        abort();
    const char *q = milter_queue_id(s);
    if (strlen(q) > 1 && q[0] == '!')
        return NULL; /* "internal failure" */
    begun++;
    return &begun;
}

static int f_from(void *m, struct milter_session *s, const char *a, const char *const *args,
                  size_t n)
{
    if (m != &begun)
        abort();
    unsigned h = pick(a, strlen(a));
    for (size_t i = 0; i < n; i++)
        h ^= pick(args[i], strlen(args[i]));
    if (strcmp(milter_sender(s), a) != 0)
        abort();
    return status_from(s, h);
}

static int f_rcpt(void *m, struct milter_session *s, const char *a, const char *const *args,
                  size_t n)
{
    (void)m;
    (void)args;
    (void)n;
    size_t k = milter_rcpt_count(s);
    if (k == 0 || strcmp(milter_rcpt(s, k - 1), a) != 0)
        abort();
    return status_from(s, pick(a, strlen(a)) >> 3);
}

static int f_data(void *m, struct milter_session *s)
{
    (void)m;
    return status_from(s, (unsigned)milter_rcpt_count(s) * 7);
}

static int f_header(void *m, struct milter_session *s, const char *name, size_t nl,
                    const char *value, size_t vl)
{
    (void)m;
    if (name[nl] != 0 || value[vl] != 0 || strlen(name) != nl)
        abort();
    return status_from(s, pick(name, nl) ^ pick(value, vl));
}

static int f_eoh(void *m, struct milter_session *s)
{
    (void)m;
    return status_from(s, (unsigned)milter_header_count(s));
}

static int f_body(void *m, struct milter_session *s, const uint8_t *p, size_t n)
{
    (void)m;
    return status_from(s, pick((const char *)p, n));
}

static int f_eom(void *m, struct milter_session *s, struct milter_mods *mods)
{
    (void)m;
    const char *q = milter_queue_id(s);
    unsigned h = pick(q, strlen(q));
    const char *sender = milter_sender(s);
    const char *j = milter_macro(s, "{j}");
    for (unsigned i = 0; i < (h % 7); i++) {
        switch ((h >> (3 * i)) % 9) {
        case 0:
            milter_mods_add_header(mods, "X-Fuzz", j ? j : " none");
            break;
        case 1:
            milter_mods_insert_header(mods, h % 3, "Authentication-Results", " fuzz; none");
            break;
        case 2:
            milter_mods_change_header(mods, "Subject", 1 + i, q);
            break;
        case 3:
            milter_mods_delete_header(mods, "X-Old", 0); /* invalid index */
            break;
        case 4:
            milter_mods_change_from(mods, sender[0] ? sender : "<>", (h & 1) ? "SIZE=1" : NULL);
            break;
        case 5:
            if (milter_rcpt_count(s))
                milter_mods_delete_rcpt(mods, milter_rcpt(s, 0));
            break;
        case 6:
            milter_mods_add_rcpt(mods, "<new@fuzz.test>", (h & 2) ? "" : NULL);
            break;
        case 7:
            milter_mods_quarantine(mods, q);
            break;
        default:
            milter_mods_add_header(mods, q, " bad?"); /* may be an invalid name */
            break;
        }
    }
    return status_from(s, h >> 5);
}

static void f_end(void *m, struct milter_session *s, int status)
{
    (void)s;
    if (m != &begun || status < MILTER_ABORTED || status > MILTER_REPLYCODE)
        abort();
    ended++;
}

static const struct milter_filter filter = {
    .name = "fuzz",
    .actions = 0x1FF,
    .steps = MILTER_STEP_DATA | MILTER_STEP_HEADER | MILTER_STEP_EOH | MILTER_STEP_BODY,
    .replies = MILTER_STEP_RCPT | MILTER_STEP_HEADER,
    .msg_begin = f_begin,
    .envfrom = f_from,
    .rcpt = f_rcpt,
    .data = f_data,
    .header = f_header,
    .eoh = f_eoh,
    .body = f_body,
    .eom = f_eom,
    .msg_end = f_end,
};

static int puts_;
static void *ctx_get(void *arg)
{
    (void)arg;
    return &ctx_token;
}
static void ctx_put(void *arg, void *ctx)
{
    (void)arg;
    if (ctx != &ctx_token)
        abort();
    puts_++;
}

static const struct milter_env env = {ctx_get, ctx_put, NULL, NULL, NULL};

/* The output must be well-formed reply packets. */
static void check_output(struct milter_session *s)
{
    size_t n, off = 0;
    const uint8_t *p = milter_session_output(s, &n);
    while (off < n) {
        uint8_t cmd;
        const uint8_t *d;
        size_t dl, used;
        if (milter_frame(p + off, n - off, &cmd, &d, &dl, &used) != MILTER_FRAME_OK)
            abort();
        if (!strchr("O+-2acdehimpqrsty", cmd) || cmd == 0)
            abort();
        if (strchr("acdrst", cmd) && dl != 0)
            abort();
        if (strchr("he+-2qy", cmd) && (dl == 0 || d[dl - 1] != 0))
            abort();
        off += used;
    }
    milter_session_consumed(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    begun = ended = puts_ = 0;
    struct milter_session *s = milter_session_new(&filter, &env);
    if (!s)
        return 0;
    size_t off = 0;
    while (off < size) {
        uint8_t cmd;
        const uint8_t *d;
        size_t dl, used;
        int fr = milter_frame(data + off, size - off, &cmd, &d, &dl, &used);
        if (fr == MILTER_FRAME_SKIP) { /* dropped as milter_conn drops it */
            if (cmd != SMFIC_HEADER || dl + 5 != used || used <= MILTER_PACKET_HELD + 4)
                abort();
            if (milter_session_want_flush(s, cmd))
                check_output(s);
            int rc = milter_session_skipped(s, cmd, dl, MILTER_SKIP_TOO_LARGE);
            off += used < size - off ? used : size - off;
            if (rc != MILTER_OK)
                break;
            continue;
        }
        if (fr != MILTER_FRAME_OK)
            break;
        if (used > size - off || dl + 5 != used)
            abort();
        if (milter_session_want_flush(s, cmd))
            check_output(s);
        /* Copy the data so ASan sees any read past the packet. */
        uint8_t *copy = malloc(dl ? dl : 1);
        if (!copy)
            break;
        memcpy(copy, d, dl);
        int rc = milter_session_packet(s, cmd, copy, dl);
        free(copy);
        off += used;
        if (rc != MILTER_OK)
            break;
    }
    check_output(s);
    milter_session_free(s);
    if (begun != ended || puts_ < ended)
        abort();
    return 0;
}
