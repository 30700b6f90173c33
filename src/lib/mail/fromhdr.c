/* fromhdr - the From: field as receivers read it, and its rewrite; see fromhdr.h. */
#include "fromhdr.h"

#include "addrlist.h"
#include "b64.h"
#include "rfc2047.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- reading ---------------------------------------------------------- */

const char *from_state_name(int state)
{
    switch (state) {
    case FROM_OK:
        return "ok";
    case FROM_REPAIRED:
        return "repaired";
    case FROM_ABSENT:
        return "absent";
    case FROM_MULTIPLE:
        return "multiple";
    default:
        return "unreadable";
    }
}

static int set_state(struct from_info *out, int state, const char *why)
{
    out->state = state;
    out->why = why;
    if (state != FROM_OK && state != FROM_REPAIRED) {
        out->local[0] = '\0';
        out->domain[0] = '\0';
        out->repairs = 0;
    }
    return state;
}

/* Read one value; rep (may be NULL) receives the parser's report. */
static int read_value(const char *value, size_t n, struct from_info *out,
                      struct addrlist_report *rep)
{
    struct addrlist_report local_rep;
    if (!rep)
        rep = &local_rep;
    out->mailboxes = 0;
    out->repairs = 0;
    out->detail[0] = '\0';
    out->local[0] = '\0';
    out->domain[0] = '\0';

    struct addrlist l;
    fa_err err;
    addrlist_init(&l);
    int rc = addrlist_parse_report(&l, value, n,
                                   ADDRLIST_REPAIR_TRAILING_DOT | ADDRLIST_REPAIR_OPEN_GROUP |
                                       ADDRLIST_REPAIR_SEMICOLON,
                                   rep, &err);
    if (rc < 0) {
        addrlist_free(&l);
        snprintf(out->detail, sizeof(out->detail), "%.*s", (int)sizeof(out->detail) - 1, err.msg);
        return set_state(out, FROM_UNREADABLE, "the From field does not parse as a mailbox");
    }
    out->mailboxes = rep->mailboxes;
    int state;
    if (rep->mailboxes == 0) {
        state = set_state(out, FROM_UNREADABLE, "no mailbox in the From field");
    } else if (rep->mailboxes > 1) {
        state = set_state(out, FROM_MULTIPLE, "several mailboxes in the From field");
    } else {
        /* One mailbox: addrlist holds it in envelope form, split at the
         * last "@" (a domain never holds one). */
        const char *a = l.addr[0], *at = strrchr(a, '@');
        size_t ll = (size_t)(at - a), dl = strlen(at + 1);
        if (ll > ADDR_LOCAL_MAX) {
            state = set_state(out, FROM_UNREADABLE, "local part too long");
        } else if (at[1] == '[') {
            state = set_state(out, FROM_UNREADABLE,
                              "an address literal in From, no domain to evaluate");
        } else {
            memcpy(out->local, a, ll);
            out->local[ll] = '\0';
            memcpy(out->domain, at + 1, dl + 1); /* addrlist bounds it to ADDR_DOMAIN_MAX */
            if (rep->repairs & ADDRLIST_REPAIR_TRAILING_DOT)
                out->repairs |= FROM_FIX_TRAILING_DOT;
            if (rep->groups || (rep->repairs & ADDRLIST_REPAIR_OPEN_GROUP))
                out->repairs |= FROM_FIX_GROUP;
            if (rep->repairs & ADDRLIST_REPAIR_SEMICOLON)
                out->repairs |= FROM_FIX_SEMICOLON;
            if (!out->repairs)
                state = set_state(out, FROM_OK, "one mailbox");
            else
                state =
                    set_state(out, FROM_REPAIRED,
                              (out->repairs & FROM_FIX_TRAILING_DOT) ? "trailing dot on the domain"
                              : (out->repairs & FROM_FIX_GROUP) ? "group syntax around the mailbox"
                                                                : "\";\" outside a group");
        }
    }
    addrlist_free(&l);
    return state;
}

int from_read_value(const char *value, size_t n, struct from_info *out)
{
    out->fields = 1;
    return read_value(value, n, out, NULL);
}

int from_read(const struct msg_header *h, size_t nh, struct from_info *out)
{
    const struct msg_header *from = NULL;
    out->fields = 0;
    out->mailboxes = 0;
    out->detail[0] = '\0';
    for (size_t i = 0; i < nh; i++) {
        if (msg_header_is(&h[i], "From")) {
            out->fields++;
            if (!from)
                from = &h[i];
        }
    }
    if (out->fields == 0)
        return set_state(out, FROM_ABSENT, "no From field");
    if (out->fields > 1)
        return set_state(out, FROM_MULTIPLE, "several From fields");
    return read_value(from->raw + from->value_off, from->value_end - from->value_off, out, NULL);
}

/* ---- decoding the display name --------------------------------------- */

/* Octets decoded before the final clean-up and cut: enough for
 * FROM_NAME_MAX octets after every expansion and removal the clean-up
 * makes that matters (an invalid octet grows to 3, a removed bidi control
 * shrinks; a name made mostly of removed controls is cut shorter). */
#define DECODE_MAX (4 * FROM_NAME_MAX + 16)

struct namebuf {
    char b[DECODE_MAX];
    size_t n;
    size_t wsn;  /* spaces waiting for the next word */
    int any;     /* a word was written */
    int last_ew; /* the last word was an encoded word */
};

static void nb_put(struct namebuf *nb, const char *p, size_t n)
{
    size_t room = sizeof(nb->b) - nb->n;
    if (n > room)
        n = room;
    memcpy(nb->b + nb->n, p, n);
    nb->n += n;
}

static int nb_full(const struct namebuf *nb)
{
    return nb->n >= sizeof(nb->b);
}

static void nb_space(struct namebuf *nb, int collapse)
{
    if (!(collapse && nb->wsn))
        nb->wsn++;
}

/* Before a word: the white space since the last one, unless both are
 * encoded words (RFC 2047 section 6.2) or nothing was written yet. */
static void nb_word_start(struct namebuf *nb, int is_ew)
{
    if (nb->any && !(nb->last_ew && is_ew))
        for (; nb->wsn > 0 && !nb_full(nb); nb->wsn--)
            nb->b[nb->n++] = ' ';
    nb->wsn = 0;
    nb->any = 1;
    nb->last_ew = is_ew;
}

/* Is s[0..n) one encoded word (RFC 2047 section 2)? Then decode it at the
 * end of nb and return 1; 0 when it is not one or cannot be decoded. */
static int encoded_word(struct namebuf *nb, const char *s, size_t n)
{
    char utf8[DECODE_MAX];
    long ul = rfc2047_decode_word(s, n, utf8, sizeof(utf8));
    if (ul < 0)
        return 0; /* not decodable: the caller keeps the raw word */
    nb_word_start(nb, 1);
    nb_put(nb, utf8, (size_t)ul);
    return 1;
}

/* A word outside an encoded word: kept as its octets. */
static void plain_word(struct namebuf *nb, const char *s, size_t n)
{
    nb_word_start(nb, 0);
    nb_put(nb, s, n);
}

/* One white-space-delimited word of a phrase or quoted string. */
static void word(struct namebuf *nb, const char *s, size_t n)
{
    if (!encoded_word(nb, s, n))
        plain_word(nb, s, n);
}

/* The words of a quoted string's content (quoted pairs undone, folding
 * removed): white space inside is kept. */
static void quoted_content(struct namebuf *nb, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !nb_full(nb)) {
        if (s[i] == ' ' || s[i] == '\t') {
            nb_space(nb, 0);
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && s[j] != ' ' && s[j] != '\t')
            j++;
        word(nb, s + i, j - i);
        i = j;
    }
}

static int is_phrase_break(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == '"';
}

/* Decode the raw phrase p[0..n) into nb. */
static void decode_phrase(struct namebuf *nb, const char *p, size_t n)
{
    char q[DECODE_MAX];
    size_t i = 0;
    while (i < n && !nb_full(nb)) {
        char c = p[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            nb_space(nb, 1);
            i++;
        } else if (c == '(') {
            /* A comment (nested, quoted pairs) reads as white space. */
            size_t depth = 0;
            do {
                if (p[i] == '\\')
                    i++;
                else if (p[i] == '(')
                    depth++;
                else if (p[i] == ')')
                    depth--;
                i++;
            } while (depth > 0 && i < n);
            nb_space(nb, 1);
        } else if (c == '"') {
            size_t ql = 0;
            for (i++; i < n && p[i] != '"'; i++) {
                char d = p[i];
                if (d == '\r' || d == '\n')
                    continue;
                if (d == '\\' && i + 1 < n)
                    d = p[++i];
                if (ql < sizeof(q))
                    q[ql++] = d;
            }
            i++; /* the closing quote */
            if (ql) {
                /* Adjacent to the words around it unless white space
                 * separates them: the content is its own word sequence. */
                quoted_content(nb, q, ql);
            }
        } else {
            /* A run of anything else: atoms, "." (obs-phrase), encoded
             * words with specials in them (lenient, as MUAs are). */
            size_t j = i + 1;
            while (j < n && !is_phrase_break(p[j]))
                j++;
            word(nb, p + i, j - i);
            i = j;
        }
    }
}

static int is_bidi_control(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Valid UTF-8, controls as spaces, bidi controls removed, trimmed, cut at
 * a character boundary within max octets. Returns the length. */
static size_t clean_name(const char *in, size_t n, char *out, size_t max)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = rfc2047_utf8_char((const unsigned char *)in + i, n - i, &cp);
        char tmp[4];
        size_t tl;
        if (len == 0) {
            memcpy(tmp, "\xEF\xBF\xBD", 3);
            tl = 3;
            len = 1;
        } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
            tmp[0] = ' ';
            tl = 1;
        } else if (is_bidi_control(cp)) {
            tl = 0;
        } else {
            memcpy(tmp, in + i, len);
            tl = len;
        }
        i += len;
        if (o == 0 && tl == 1 && tmp[0] == ' ')
            continue; /* leading space */
        if (o + tl > max)
            break; /* the cut: always at a character boundary */
        memcpy(out + o, tmp, tl);
        o += tl;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    return o;
}

/* The decoded name of the single mailbox of value, or "local@domain";
 * -1 when the value is not one readable mailbox. */
static int display_name(const char *value, size_t n, char *out, size_t max)
{
    struct from_info fi;
    struct addrlist_report rep;
    int st = read_value(value, n, &fi, &rep);
    if (st != FROM_OK && st != FROM_REPAIRED)
        return -1;
    struct namebuf nb;
    memset(&nb, 0, sizeof(nb));
    if (rep.name_end > rep.name_off)
        decode_phrase(&nb, value + rep.name_off, rep.name_end - rep.name_off);
    size_t len = clean_name(nb.b, nb.n, out, max);
    if (len == 0) {
        char addr[ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1];
        int al = snprintf(addr, sizeof(addr), "%s@%s", fi.local, fi.domain);
        len = clean_name(addr, (size_t)al, out, max);
    }
    out[len] = '\0';
    return (int)len;
}

int from_display_name(const char *value, size_t n, char *out, size_t outsz)
{
    char tmp[FROM_NAME_MAX + 1];
    int len = display_name(value, n, tmp, FROM_NAME_MAX);
    if (len < 0 || (size_t)len >= outsz)
        return -1;
    memcpy(out, tmp, (size_t)len + 1);
    return len;
}

/* ---- encoding the new value ------------------------------------------- */

#define LINE_MAX_SOFT 78 /* RFC 5322 section 2.1.1 */
#define EW_MAX 75        /* RFC 2047 section 2 */
#define FIELD_NAME_LEN 5 /* "From:" before the value on the first line */

struct writer {
    char *p;
    size_t n, cap;
    size_t col;
    int overflow;
};

static void w_put(struct writer *w, const char *s, size_t n)
{
    if (w->overflow || w->n + n + 1 > w->cap) {
        w->overflow = 1;
        return;
    }
    memcpy(w->p + w->n, s, n);
    w->n += n;
    w->p[w->n] = '\0';
    for (size_t i = 0; i < n; i++)
        w->col = s[i] == '\n' ? 0 : w->col + 1;
}

/* Write a quoted-string of name, folding before spaces. 0, or -1 when some
 * line would exceed LINE_MAX_SOFT (the caller then uses encoded words). */
static int write_quoted(struct writer *w, const char *name, size_t n)
{
    size_t i = 0;
    int first = 1;
    while (i <= n) {
        /* A segment: its leading spaces, then a word. Folding before it
         * never leaves a line of white space only. */
        size_t j = i;
        while (j < n && name[j] == ' ')
            j++;
        while (j < n && name[j] != ' ')
            j++;
        char seg[2 * FROM_NAME_MAX + 2 * ADDR_DOMAIN_MAX + 16];
        size_t sl = 0;
        if (first)
            seg[sl++] = '"';
        for (size_t k = i; k < j; k++) {
            if (name[k] == '"' || name[k] == '\\')
                seg[sl++] = '\\';
            seg[sl++] = name[k];
        }
        if (j >= n)
            seg[sl++] = '"';
        if (!first && w->col + sl > LINE_MAX_SOFT)
            w_put(w, "\n", 1); /* the segment's space is the folding white space */
        w_put(w, seg, sl);
        if (w->col > LINE_MAX_SOFT)
            return -1;
        first = 0;
        if (j >= n)
            break;
        i = j;
    }
    return 0;
}

static int q_literal(unsigned char c)
{
    /* RFC 2047 section 5 (3): what a Q word in a phrase may hold as is. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
           c == '*' || c == '+' || c == '-' || c == '/';
}

static size_t q_len(unsigned char c)
{
    return q_literal(c) || c == ' ' ? 1 : 3;
}

/* Write name as encoded words, one per line, each within EW_MAX and the
 * line within LINE_MAX_SOFT, characters never split. */
static void write_encoded(struct writer *w, const char *name, size_t n)
{
    size_t ql = 0;
    for (size_t i = 0; i < n; i++)
        ql += q_len((unsigned char)name[i]);
    int q = ql <= B64_ENCODED_LEN(n);
    static const char hex[] = "0123456789ABCDEF";
    const char *prefix = q ? "=?UTF-8?Q?" : "=?UTF-8?B?";
    size_t i = 0;
    int first = 1;
    while (i < n) {
        /* The first word follows the value's leading space; each later
         * one starts a line after "\n ". */
        size_t budget = LINE_MAX_SOFT - (first ? w->col : 1);
        if (budget > EW_MAX)
            budget = EW_MAX;
        size_t payload = budget - 12; /* "=?UTF-8?X?" and "?=" */
        /* How many octets (whole characters) fit. */
        size_t k = i, used = 0;
        while (k < n) {
            uint32_t cp;
            size_t cl = rfc2047_utf8_char((const unsigned char *)name + k, n - k, &cp);
            if (cl == 0)
                cl = 1; /* cannot happen: the name is clean UTF-8 */
            size_t cost = 0;
            if (q) {
                for (size_t m = 0; m < cl; m++)
                    cost += q_len((unsigned char)name[k + m]);
                if (used + cost > payload)
                    break;
                used += cost;
            } else {
                if (B64_ENCODED_LEN(k + cl - i) > payload)
                    break;
            }
            k += cl;
        }
        if (k == i)
            k = i + 1; /* never reached: a character always fits in 60 */
        char word[EW_MAX + 1 + 8];
        size_t wl = 0;
        memcpy(word, prefix, 10);
        wl = 10;
        if (q) {
            for (size_t m = i; m < k; m++) {
                unsigned char c = (unsigned char)name[m];
                if (c == ' ') {
                    word[wl++] = '_';
                } else if (q_literal(c)) {
                    word[wl++] = (char)c;
                } else {
                    word[wl++] = '=';
                    word[wl++] = hex[c >> 4];
                    word[wl++] = hex[c & 15];
                }
            }
        } else {
            int r = b64_encode((const uint8_t *)name + i, k - i, word + wl, sizeof(word) - wl);
            wl += r > 0 ? (size_t)r : 0;
        }
        word[wl++] = '?';
        word[wl++] = '=';
        if (!first)
            w_put(w, "\n ", 2);
        w_put(w, word, wl);
        first = 0;
        i = k;
    }
}

/* Is s (NUL-terminated) usable as is in the new value: not empty, at most
 * max octets, no control character, white space, "<", ">" or '"'? */
static int plain_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"')
            return 0;
    }
    return 1;
}

int from_rewrite_value(const char *value, size_t n, const char *via_domain, const char *address,
                       char *out, size_t outsz, fa_err *err)
{
    if (!plain_token(via_domain, ADDR_DOMAIN_MAX))
        return fa_err_set(err, "bad domain for the From rewrite");
    if (!plain_token(address, FROM_ADDRESS_MAX) || !strchr(address, '@'))
        return fa_err_set(err, "bad address for the From rewrite");

    char full[FROM_NAME_MAX + 5 + ADDR_DOMAIN_MAX + 1];
    int nl = display_name(value, n, full, FROM_NAME_MAX);
    if (nl < 0)
        return fa_err_set(err, "the From value is not one readable mailbox");
    size_t fl = (size_t)nl;
    memcpy(full + fl, " via ", 5);
    fl += 5;
    /* via_domain has no control character or space (checked above); the
     * clean-up only replaces invalid UTF-8. */
    fl += clean_name(via_domain, strlen(via_domain), full + fl, sizeof(full) - 1 - fl);
    full[fl] = '\0';

    int ascii = strstr(full, "=?") == NULL;
    for (size_t i = 0; i < fl && ascii; i++)
        ascii = full[i] >= 0x20 && full[i] < 0x7f;

    if (outsz == 0)
        return fa_err_set(err, "no room for the From value");
    struct writer w = {.p = out, .n = 0, .cap = outsz, .col = FIELD_NAME_LEN, .overflow = 0};
    out[0] = '\0';
    w_put(&w, " ", 1);
    if (!ascii || write_quoted(&w, full, fl) < 0) {
        /* Start again after the leading space, with encoded words. */
        w.n = 0;
        w.col = FIELD_NAME_LEN;
        w.overflow = 0;
        w_put(&w, " ", 1);
        write_encoded(&w, full, fl);
    }
    size_t al = strlen(address);
    if (w.col + 1 + al + 2 > LINE_MAX_SOFT)
        w_put(&w, "\n", 1);
    w_put(&w, " <", 2);
    w_put(&w, address, al);
    w_put(&w, ">", 1);
    if (w.overflow)
        return fa_err_set(err, "From value longer than %zu octets", outsz - 1);
    return (int)w.n;
}
