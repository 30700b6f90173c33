/* canon - DKIM canonicalization, streaming; see canon.h. */
#include "canon.h"

#include <string.h>
#include <strings.h>

/* Pass n octets to the sink, cutting at the l= limit. */
static void sink_limited(struct canon_body *b, const uint8_t *p, size_t n)
{
    if (b->limit != CANON_NO_LIMIT) {
        uint64_t room = b->limit > b->sent ? b->limit - b->sent : 0;
        if (n > room)
            n = (size_t)room;
    }
    if (n)
        b->sink(b->ctx, p, n);
    b->sent += n;
}

static void flush(struct canon_body *b)
{
    sink_limited(b, b->buf, b->blen);
    b->blen = 0;
}

/* Canonical output. Short pieces are gathered in the buffer; long runs of
 * input that are already canonical go to the sink without a copy. */
#define CANON_DIRECT 512

static void put(struct canon_body *b, const uint8_t *p, size_t n)
{
    b->total += n;
    if (n >= CANON_DIRECT) {
        flush(b);
        sink_limited(b, p, n);
        return;
    }
    if (b->blen + n > CANON_BUF)
        flush(b);
    memcpy(b->buf + b->blen, p, n);
    b->blen += n;
}

static void put_byte(struct canon_body *b, uint8_t c)
{
    if (b->blen == CANON_BUF)
        flush(b);
    b->buf[b->blen++] = c;
    b->total++;
}

static const uint8_t crlf[2] = {'\r', '\n'};

/* Emit the empty lines held back: a line with data follows them. */
static void release_pending(struct canon_body *b)
{
    for (; b->pending; b->pending--)
        put(b, crlf, 2);
}

/* Line content (no line ending) for simple. */
static void simple_data(struct canon_body *b, const uint8_t *p, size_t n)
{
    if (!n)
        return;
    if (!b->line_has_data) {
        release_pending(b);
        b->line_has_data = 1;
    }
    put(b, p, n);
}

/* Line content for relaxed: white-space runs become one SP, and white
 * space at the end of a line is dropped (held in b->wsp until data follows). */
static void relaxed_data(struct canon_body *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == ' ' || c == '\t') {
            b->wsp = 1;
            continue;
        }
        if (!b->line_has_data) {
            release_pending(b);
            b->line_has_data = 1;
        }
        if (b->wsp) {
            put_byte(b, ' ');
            b->wsp = 0;
        }
        /* Copy the run of ordinary octets at once. */
        size_t j = i + 1;
        while (j < n && p[j] != ' ' && p[j] != '\t')
            j++;
        put(b, p + i, j - i);
        i = j - 1;
    }
}

static void data(struct canon_body *b, const uint8_t *p, size_t n)
{
    if (b->alg == CANON_SIMPLE)
        simple_data(b, p, n);
    else
        relaxed_data(b, p, n);
}

static void end_line(struct canon_body *b)
{
    if (b->line_has_data)
        put(b, crlf, 2);
    else
        b->pending++;
    b->line_has_data = 0;
    b->wsp = 0;
}

/* High bit of each octet of v set exactly when that octet is zero (no
 * false positives, unlike the usual (v - 0x01..) & ~v trick). */
static uint64_t zero_octets(uint64_t v)
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
    return ~(((v & low7) + low7) | v | low7);
}

/* Is the content of a complete line (n > 0, no line ending) already in
 * canonical form? Always for simple; for relaxed when it has no HTAB, no
 * run of two SP and no SP at its end (most text). Relaxed checks eight
 * octets at a time: this scan is most of relaxed canonicalization's cost. */
static int line_is_canonical(int alg, const uint8_t *p, size_t n)
{
    if (alg == CANON_SIMPLE)
        return 1;
    if (p[n - 1] == ' ')
        return 0;
    const uint64_t spaces = 0x2020202020202020ULL, tabs = 0x0909090909090909ULL;
    uint64_t carry = 0; /* the previous word ended in SP (bit 7) */
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        memcpy(&w, p + k, 8);
        if (zero_octets(w ^ tabs))
            return 0;
        uint64_t sp = zero_octets(w ^ spaces); /* bit 8j+7: octet j is SP */
        if ((sp & (sp >> 8)) || (carry & sp & 0x80))
            return 0;
        carry = sp >> 56;
    }
    unsigned prev = (unsigned)(carry >> 7) & 1;
    for (; k < n; k++) {
        unsigned is_sp = p[k] == ' ';
        if (p[k] == '\t' || (is_sp & prev))
            return 0;
        prev = is_sp;
    }
    return 1;
}

void canon_body_init(struct canon_body *b, int alg, uint64_t limit, canon_sink sink, void *ctx)
{
    memset(b, 0, offsetof(struct canon_body, buf));
    b->alg = alg;
    b->limit = limit;
    b->sink = sink;
    b->ctx = ctx;
}

void canon_body_update(struct canon_body *b, const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (b->cr) {
        b->cr = 0;
        if (n && p[0] == '\n') {
            end_line(b);
            i = 1;
        } else {
            static const uint8_t cr = '\r';
            data(b, &cr, 1); /* a bare CR is data */
        }
    }
    /* p[run..i) holds complete lines that are canonical as they stand:
     * emitted in one piece before anything else is. */
    size_t run = i;
    while (i < n) {
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        if (!nl) {
            put(b, p + run, i - run);
            size_t len = n - i;
            if (p[n - 1] == '\r') {
                b->cr = 1; /* maybe CRLF split across chunks */
                len--;
            }
            data(b, p + i, len);
            return;
        }
        size_t end = (size_t)(nl - p), len = end - i;
        int has_cr = len && p[end - 1] == '\r';
        size_t content = len - (size_t)has_cr;
        if (has_cr && content && !b->line_has_data && !b->wsp && !b->pending &&
            line_is_canonical(b->alg, p + i, content)) {
            i = end + 1; /* the line and its CRLF stay in the run */
            continue;
        }
        put(b, p + run, i - run);
        data(b, p + i, content);
        end_line(b);
        i = end + 1;
        run = i;
    }
    if (i > run) /* an empty chunk may come as NULL: no p + 0 on it */
        put(b, p + run, i - run);
}

void canon_body_final(struct canon_body *b)
{
    if (b->cr) {
        static const uint8_t cr = '\r';
        b->cr = 0;
        data(b, &cr, 1);
    }
    if (b->line_has_data)
        end_line(b); /* a last line without line ending */
    /* Trailing empty lines are dropped (b->pending). An empty simple body
     * is a single CRLF; an empty relaxed body stays empty. */
    if (b->alg == CANON_SIMPLE && b->total == 0)
        put(b, crlf, 2);
    flush(b);
}

uint64_t canon_body_length(const struct canon_body *b)
{
    return b->total;
}

/* Header canonicalization writes through a small buffer to the sink. */
struct hbuf {
    canon_sink sink;
    void *ctx;
    size_t n;
    uint8_t b[1024];
};

static void hput(struct hbuf *h, uint8_t c)
{
    if (h->n == sizeof(h->b)) {
        h->sink(h->ctx, h->b, h->n);
        h->n = 0;
    }
    h->b[h->n++] = c;
}

static void hflush(struct hbuf *h)
{
    if (h->n)
        h->sink(h->ctx, h->b, h->n);
    h->n = 0;
}

void canon_header(int alg, const struct msg_header *h, int with_crlf, size_t blank_off,
                  size_t blank_end, canon_sink sink, void *ctx)
{
    struct hbuf o = {sink, ctx, 0, {0}};
    const uint8_t *r = (const uint8_t *)h->raw;
    size_t end = h->value_end; /* the final line ending is added below as CRLF */
    if (alg == CANON_SIMPLE) {
        for (size_t i = 0; i < end; i++) {
            if (i == blank_off && blank_end > blank_off) {
                i = blank_end - 1;
                continue;
            }
            /* Folding line endings inside the field become CRLF. */
            if (r[i] == '\n' && (i == 0 || r[i - 1] != '\r'))
                hput(&o, '\r');
            hput(&o, r[i]);
        }
    } else {
        for (size_t i = 0; i < h->name_len; i++) {
            uint8_t c = r[i];
            hput(&o, (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c);
        }
        hput(&o, ':');
        int wsp = 0, started = 0;
        for (size_t i = h->value_off; i < end; i++) {
            if (i == blank_off && blank_end > blank_off) {
                i = blank_end - 1;
                continue;
            }
            uint8_t c = r[i];
            if (c == '\n' || (c == '\r' && i + 1 < end && r[i + 1] == '\n'))
                continue; /* unfold; a bare CR stays data */
            if (c == ' ' || c == '\t') {
                wsp = 1;
                continue;
            }
            if (wsp && started)
                hput(&o, ' ');
            wsp = 0;
            started = 1;
            hput(&o, c);
        }
    }
    if (with_crlf) {
        hput(&o, '\r');
        hput(&o, '\n');
    }
    hflush(&o);
}

const char *canon_name(int alg)
{
    return alg == CANON_SIMPLE ? "simple" : "relaxed";
}

int canon_parse(const char *s, size_t n)
{
    if (n == 6 && strncasecmp(s, "simple", 6) == 0)
        return CANON_SIMPLE;
    if (n == 7 && strncasecmp(s, "relaxed", 7) == 0)
        return CANON_RELAXED;
    return -1;
}
