/* fwdchange - the forwarder's own changes to a message; see fwdchange.h. */
#include "fwdchange.h"

#include "rfc2047.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *fwdchange_action_name(int action)
{
    switch (action) {
    case FOOTER_APPEND:
        return "append";
    case FOOTER_PART:
        return "part";
    case FOOTER_WRAP:
        return "wrap";
    default:
        return "none";
    }
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Does s[0..n) equal the NUL-terminated word w, ASCII case-insensitive? */
static int span_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

static int is_wsp(int c)
{
    return c == ' ' || c == '\t';
}

/* ---- the Subject tag -------------------------------------------------- */

/* A tag is printable ASCII with inner spaces only, and no "=?" (a reader
 * could take it for the start of an encoded word). */
static int tag_ok(const char *tag, size_t *len)
{
    size_t n = strnlen(tag, FWDCHANGE_TAG_MAX + 1);
    if (n == 0 || n > FWDCHANGE_TAG_MAX || tag[0] == ' ' || tag[n - 1] == ' ' || strstr(tag, "=?"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tag[i] < 0x20 || tag[i] > 0x7e)
            return 0;
    *len = n;
    return 1;
}

/* Is v[0..n) (leading white space removed) already tagged? It is read
 * unfolded; leading encoded words are decoded, the white space between
 * two of them dropped (RFC 2047 section 6.2). Only the first tl octets of
 * the text matter. */
static int already_tagged(const char *v, size_t n, const char *tag, size_t tl)
{
    char d[FWDCHANGE_TAG_MAX + 8];
    size_t dl = 0, i = 0;
    char ws[FWDCHANGE_TAG_MAX + 8]; /* white space after the last encoded word */
    size_t wl = 0;
    int after_ew = 0;
    while (i < n && dl < tl) {
        size_t j = i;
        while (j < n && !is_wsp(v[j]) && v[j] != '\r' && v[j] != '\n')
            j++;
        long r = rfc2047_decode_word(v + i, j - i, d + dl, sizeof(d) - dl);
        if (r >= 0) {
            dl += (size_t)r;
            after_ew = 1;
            wl = 0;
            for (i = j; i < n && (is_wsp(v[i]) || v[i] == '\r' || v[i] == '\n'); i++)
                if (is_wsp(v[i]) && wl < sizeof(ws))
                    ws[wl++] = v[i];
            continue;
        }
        /* Plain text from here on: the white space kept after an encoded
         * word (between it and text), then the rest unfolded. */
        if (after_ew)
            for (size_t k = 0; k < wl && dl < sizeof(d); k++)
                d[dl++] = ws[k];
        for (; i < n && dl < sizeof(d); i++)
            if (v[i] != '\r' && v[i] != '\n')
                d[dl++] = v[i];
        break;
    }
    if (dl < tl)
        return 0;
    for (size_t k = 0; k < tl; k++)
        if (lower((unsigned char)d[k]) != lower((unsigned char)tag[k]))
            return 0;
    return 1;
}

int fwdchange_subject(const char *value, size_t n, const char *tag, char *out, size_t outsz)
{
    size_t tl;
    if (!tag_ok(tag, &tl))
        return -1;
    if (!value)
        n = 0;
    if (n && memchr(value, '\0', n))
        return -1;
    size_t i = 0;
    while (i < n && (is_wsp(value[i]) || value[i] == '\r' || value[i] == '\n'))
        i++;
    if (i < n && already_tagged(value + i, n - i, tag, tl))
        return 0;
    /* The first line of the rest, to decide whether to fold after the tag:
     * "Subject:" + " " + tag + " " + line must fit in 998 octets. */
    size_t first = 0;
    while (i + first < n && value[i + first] != '\r' && value[i + first] != '\n')
        first++;
    int fold = 8 + 1 + tl + 1 + first > FWDCHANGE_LINE_MAX;
    size_t o = 0;
    if (outsz < 1 + tl + 1)
        return -1;
    out[o++] = ' ';
    memcpy(out + o, tag, tl);
    o += tl;
    if (i < n) {
        if (fold) {
            if (o + 2 >= outsz)
                return -1;
            out[o++] = '\n';
        }
        out[o++] = ' ';
        for (size_t k = i; k < n; k++) {
            char c = value[k];
            if (c == '\r') {
                if (k + 1 >= n || value[k + 1] != '\n')
                    return -1; /* a bare CR cannot be carried into a valid value */
                continue;
            }
            if (o + 1 >= outsz)
                return -1;
            out[o++] = c;
        }
    }
    if (o >= outsz)
        return -1;
    out[o] = '\0';
    return 1;
}

/* ---- output buffers --------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t n, cap, max;
    int fail; /* out of memory or over max: the content is incomplete */
};

static void b_init(struct buf *b, size_t cap, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
    if (cap > max)
        cap = max;
    if (cap) {
        b->p = malloc(cap);
        if (b->p)
            b->cap = cap;
        else
            b->fail = 1;
    }
}

static void b_put(struct buf *b, const void *s, size_t n)
{
    if (b->fail || n == 0)
        return;
    if (n > b->max - b->n) {
        b->fail = 1;
        return;
    }
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->n < n)
            cap = cap > b->max / 2 ? b->max : cap * 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->fail = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void b_str(struct buf *b, const char *s)
{
    b_put(b, s, strlen(s));
}

static void b_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* ---- the footer texts ------------------------------------------------- */

/* Text bounds once prepared: CRLF added per line, and an HTML character
 * reference of at most 10 octets for each UTF-8 character of 2 or more;
 * quoted-printable at most triples and adds a soft break per 25 octets. */
#define PREP_MAX (64 * 1024)

struct footer {
    struct buf text;    /* CRLF lines, UTF-8 */
    struct buf text_qp; /* the same, quoted-printable */
    int ascii;          /* text is ASCII */
    struct buf html;    /* CRLF lines, ASCII (character references); n == 0: none */
    struct buf html_qp;
    const char *stem; /* spec->boundary */
};

static void footer_free(struct footer *f)
{
    b_free(&f->text);
    b_free(&f->text_qp);
    b_free(&f->html);
    b_free(&f->html_qp);
}

/* Check s (NUL-terminated) and write its lines with CRLF into out: text
 * lines lose trailing white space (except "-- "), HTML gets character
 * references for non-ASCII characters. */
static int prepare(const char *what, const char *s, int html, struct buf *out, int *ascii,
                   fa_err *err)
{
    size_t n = strnlen(s, FWDCHANGE_FOOTER_MAX + 1);
    if (n > FWDCHANGE_FOOTER_MAX)
        return fa_err_set(err, "%s longer than %d octets", what, FWDCHANGE_FOOTER_MAX);
    int any = 0;
    *ascii = 1;
    b_init(out, 2 * n + 16, PREP_MAX);
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t le = e;
        if (le > i && s[le - 1] == '\r')
            le--;
        size_t start = out->n;
        for (size_t k = i; k < le;) {
            uint32_t cp;
            size_t cl = rfc2047_utf8_char((const unsigned char *)s + k, le - k, &cp);
            if (cl == 0)
                return fa_err_set(err, "%s is not UTF-8 (octet %zu)", what, k + 1);
            if ((cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp <= 0x9f))
                return fa_err_set(err, "%s holds a control character (octet %zu)", what, k + 1);
            if (cp >= 0x80) {
                *ascii = 0;
                if (html) {
                    char ref[16];
                    int rl = snprintf(ref, sizeof(ref), "&#x%X;", (unsigned)cp);
                    b_put(out, ref, (size_t)rl);
                    k += cl;
                    continue;
                }
            }
            if (!is_wsp((unsigned char)s[k]))
                any = 1;
            b_put(out, s + k, cl);
            k += cl;
        }
        size_t ll = out->n - start;
        if (!html && !(ll == 3 && memcmp(out->p + start, "-- ", 3) == 0))
            while (ll > 0 && is_wsp(out->p[start + ll - 1]))
                ll--;
        out->n = start + ll;
        if (ll > FWDCHANGE_LINE_MAX)
            return fa_err_set(err, "%s has a line over %d octets", what, FWDCHANGE_LINE_MAX);
        b_put(out, "\r\n", 2);
        i = e + 1;
    }
    if (!any)
        return fa_err_set(err, "%s is empty", what);
    if (out->fail)
        return fa_err_set(err, "out of memory");
    return 0;
}

/* Quoted-printable (RFC 2045 section 6.7) of CRLF lines: physical lines of
 * at most 76 octets, "=XX" never split, white space at a line's end
 * encoded. */
static void qp_encode(struct buf *out, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t le = e > i && s[e - 1] == '\r' ? e - 1 : e;
        size_t col = 0;
        for (size_t k = i; k < le; k++) {
            unsigned char c = s[k];
            char tok[3];
            size_t tl = 1;
            if ((c >= 33 && c <= 126 && c != '=') || (is_wsp(c) && k + 1 < le)) {
                tok[0] = (char)c;
            } else {
                tok[0] = '=';
                tok[1] = hex[c >> 4];
                tok[2] = hex[c & 15];
                tl = 3;
            }
            if (col + tl > 75) {
                b_put(out, "=\r\n", 3);
                col = 0;
            }
            b_put(out, tok, tl);
            col += tl;
        }
        b_put(out, "\r\n", 2);
        i = e + 1;
    }
}

static int stem_ok(const char *s, fa_err *err)
{
    size_t n = strnlen(s, FWDCHANGE_STEM_MAX + 1);
    if (n == 0 || n > FWDCHANGE_STEM_MAX)
        return fa_err_set(err, "boundary stem empty or longer than %d octets", FWDCHANGE_STEM_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        /* RFC 2046 bchars without the space. */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("'()+_,-./:=?", c)))
            return fa_err_set(err, "boundary stem holds \"%c\"", c);
    }
    return 0;
}

static int footer_prepare(const struct fwdchange_footer_spec *spec, struct footer *f, fa_err *err)
{
    memset(f, 0, sizeof(*f));
    if (!spec || !spec->text)
        return fa_err_set(err, "no footer text");
    int html_ascii;
    if (prepare("footer text", spec->text, 0, &f->text, &f->ascii, err) < 0 ||
        (spec->html && prepare("HTML footer", spec->html, 1, &f->html, &html_ascii, err) < 0) ||
        (spec->boundary && stem_ok(spec->boundary, err) < 0)) {
        footer_free(f);
        return -1;
    }
    b_init(&f->text_qp, 3 * f->text.n + 64, PREP_MAX);
    qp_encode(&f->text_qp, f->text.p, f->text.n);
    if (f->html.n) {
        b_init(&f->html_qp, 3 * f->html.n + 64, PREP_MAX);
        qp_encode(&f->html_qp, f->html.p, f->html.n);
    }
    if (f->text_qp.fail || f->html_qp.fail) {
        footer_free(f);
        return fa_err_set(err, "out of memory");
    }
    f->stem = spec->boundary;
    return 0;
}

int fwdchange_footer_check(const struct fwdchange_footer_spec *spec, fa_err *err)
{
    struct footer f;
    if (footer_prepare(spec, &f, err) < 0)
        return -1;
    footer_free(&f);
    return 0;
}

/* ---- reading Content-Type and Content-Transfer-Encoding --------------- */

/* Skip folding white space and comments (nested, with quoted pairs);
 * -1 for an unterminated comment. */
static int skip_cfws(const char *v, size_t n, size_t *i)
{
    while (*i < n) {
        char c = v[*i];
        if (is_wsp(c) || c == '\r' || c == '\n') {
            (*i)++;
        } else if (c == '(') {
            size_t depth = 0;
            do {
                if (*i >= n)
                    return -1;
                if (v[*i] == '\\')
                    (*i)++;
                else if (v[*i] == '(')
                    depth++;
                else if (v[*i] == ')')
                    depth--;
                (*i)++;
            } while (depth > 0);
        } else {
            break;
        }
    }
    return 0;
}

/* RFC 2045 token characters. */
static int is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?=", c);
}

static size_t token(const char *v, size_t n, size_t *i)
{
    size_t s = *i;
    while (*i < n && is_tchar((unsigned char)v[*i]))
        (*i)++;
    return *i - s;
}

enum { CS_ABSENT, CS_GIVEN, CS_UNKNOWN };
enum { BD_ABSENT, BD_OK, BD_BAD };
#define PIECES_MAX 16

struct ctype {
    const char *type, *sub;
    size_t type_len, sub_len;
    int cs_state;
    char charset[48];
    int bd_state;
    const char *bd_why;
    char boundary[FWDCHANGE_BOUNDARY_MAX + 1];
    size_t bd_len;
};

/* A parameter value: a quoted string (quoted pairs undone, folding
 * removed) or, leniently as readers are, a run of printable ASCII up to
 * ";", white space, "(" or '"' ("boundary=----=_Part_1" is common). Its
 * length (cut at outsz with *cut set), or -1. */
static long param_value(const char *v, size_t n, size_t *i, char *out, size_t outsz, int *cut)
{
    size_t o = 0;
    *cut = 0;
    if (*i < n && v[*i] == '"') {
        for ((*i)++; *i < n && v[*i] != '"'; (*i)++) {
            char c = v[*i];
            if (c == '\r' || c == '\n')
                continue;
            if (c == '\\' && *i + 1 < n)
                c = v[++(*i)];
            if (c == '\0')
                return -1;
            if (o < outsz)
                out[o++] = c;
            else
                *cut = 1;
        }
        if (*i >= n)
            return -1;
        (*i)++;
        return (long)o;
    }
    size_t s = *i;
    while (*i < n) {
        unsigned char c = (unsigned char)v[*i];
        if (c <= 0x20 || c == 0x7f || c == ';' || c == '(' || c == '"')
            break;
        if (o < outsz)
            out[o++] = (char)c;
        else
            *cut = 1;
        (*i)++;
    }
    return *i > s ? (long)o : -1;
}

static void bd_bad(struct ctype *ct, const char *why)
{
    if (ct->bd_state != BD_BAD) {
        ct->bd_state = BD_BAD;
        ct->bd_why = why;
    }
}

/* Content-Type: type "/" subtype *(";" attribute "=" value). -1 when it
 * does not parse. */
static int parse_ctype(const char *v, size_t n, struct ctype *ct)
{
    memset(ct, 0, sizeof(*ct));
    size_t i = 0;
    if (skip_cfws(v, n, &i) < 0)
        return -1;
    ct->type = v + i;
    ct->type_len = token(v, n, &i);
    if (!ct->type_len || skip_cfws(v, n, &i) < 0 || i >= n || v[i] != '/')
        return -1;
    i++;
    if (skip_cfws(v, n, &i) < 0)
        return -1;
    ct->sub = v + i;
    ct->sub_len = token(v, n, &i);
    if (!ct->sub_len)
        return -1;
    /* RFC 2231 continuations of the boundary: boundary*0, boundary*1... */
    char pieces[PIECES_MAX][FWDCHANGE_BOUNDARY_MAX + 1];
    size_t piece_len[PIECES_MAX];
    int have[PIECES_MAX] = {0}, npieces = 0, plain = 0;
    for (;;) {
        if (skip_cfws(v, n, &i) < 0)
            return -1;
        if (i >= n)
            break;
        if (v[i] != ';')
            return -1;
        i++;
        if (skip_cfws(v, n, &i) < 0)
            return -1;
        if (i >= n)
            break; /* a trailing ";" */
        if (v[i] == ';')
            continue; /* an empty parameter */
        const char *name = v + i;
        size_t nl = token(v, n, &i);
        if (!nl || skip_cfws(v, n, &i) < 0 || i >= n || v[i] != '=')
            return -1;
        i++;
        if (skip_cfws(v, n, &i) < 0)
            return -1;
        char val[FWDCHANGE_BOUNDARY_MAX + 1];
        int cut;
        long vl = param_value(v, n, &i, val, sizeof(val) - 1, &cut);
        if (vl < 0)
            return -1;
        val[vl] = '\0';
        if (span_is(name, nl, "charset")) {
            if (ct->cs_state == CS_ABSENT && !cut && (size_t)vl < sizeof(ct->charset)) {
                memcpy(ct->charset, val, (size_t)vl + 1);
                ct->cs_state = CS_GIVEN;
            } else {
                ct->cs_state = CS_UNKNOWN; /* twice, or no charset we know */
            }
        } else if (nl >= 8 && strncasecmp(name, "charset*", 8) == 0) {
            ct->cs_state = CS_UNKNOWN; /* RFC 2231 forms: not read */
        } else if (span_is(name, nl, "boundary")) {
            if (plain || npieces)
                bd_bad(ct, "several boundary parameters");
            else if (cut)
                bd_bad(ct, "boundary too long");
            plain = 1;
            memcpy(ct->boundary, val, (size_t)vl + 1);
            ct->bd_len = (size_t)vl;
        } else if (nl >= 9 && strncasecmp(name, "boundary*", 9) == 0) {
            /* "boundary*N" joined; "boundary*" and "boundary*N*" are
             * charset-encoded: not read. */
            size_t k = 9, idx = 0;
            while (k < nl && name[k] >= '0' && name[k] <= '9' && idx < PIECES_MAX)
                idx = idx * 10 + (size_t)(name[k++] - '0');
            if (k == 9 || k < nl || idx >= PIECES_MAX || (k > 10 && name[9] == '0')) {
                bd_bad(ct, "boundary in an RFC 2231 form not read");
            } else if (plain || have[idx] || cut) {
                bd_bad(ct, "several boundary parameters");
            } else {
                have[idx] = 1;
                npieces++;
                memcpy(pieces[idx], val, (size_t)vl + 1);
                piece_len[idx] = (size_t)vl;
            }
        }
    }
    if (npieces && ct->bd_state != BD_BAD) {
        size_t bl = 0;
        for (int k = 0; k < npieces; k++) {
            if (!have[k]) {
                bd_bad(ct, "boundary continuations not in sequence");
                break;
            }
            if (bl + piece_len[k] > FWDCHANGE_BOUNDARY_MAX) {
                bd_bad(ct, "boundary too long");
                break;
            }
            memcpy(ct->boundary + bl, pieces[k], piece_len[k]);
            bl += piece_len[k];
        }
        ct->boundary[bl] = '\0';
        ct->bd_len = bl;
        plain = 1;
    }
    if (plain && ct->bd_state != BD_BAD) {
        ct->bd_state = BD_OK;
        if (ct->bd_len == 0 || ct->boundary[ct->bd_len - 1] == ' ')
            bd_bad(ct, "boundary empty or ending in a space");
        for (size_t k = 0; k < ct->bd_len; k++)
            if (ct->boundary[k] < 0x20 || ct->boundary[k] > 0x7e)
                bd_bad(ct, "boundary holds a control character");
    }
    return 0;
}

enum { ENC_7BIT, ENC_8BIT, ENC_BINARY, ENC_QP, ENC_BASE64, ENC_OTHER };

static int parse_cte(const char *v, size_t n, int *enc)
{
    size_t i = 0;
    if (skip_cfws(v, n, &i) < 0)
        return -1;
    const char *t = v + i;
    size_t tl = token(v, n, &i);
    if (!tl || skip_cfws(v, n, &i) < 0 || i != n)
        return -1;
    if (span_is(t, tl, "7bit"))
        *enc = ENC_7BIT;
    else if (span_is(t, tl, "8bit"))
        *enc = ENC_8BIT;
    else if (span_is(t, tl, "binary"))
        *enc = ENC_BINARY;
    else if (span_is(t, tl, "quoted-printable"))
        *enc = ENC_QP;
    else if (span_is(t, tl, "base64"))
        *enc = ENC_BASE64;
    else
        *enc = ENC_OTHER;
    return 0;
}

/* Charsets in which ASCII octets mean ASCII characters everywhere, so an
 * ASCII footer reads as written. Anything not listed (UTF-16, UTF-7,
 * ISO-2022-*, unknown names) is not assumed to be. */
static int ascii_superset(const char *cs)
{
    static const char *const exact[] = {
        "us-ascii",  "ascii",          "utf-8",  "utf8",        "koi8-r", "koi8-u", "gb2312",
        "gbk",       "gb18030",        "big5",   "big5-hkscs",  "euc-jp", "euc-kr", "euc-tw",
        "shift_jis", "sjis",           "x-sjis", "windows-31j", "cp932",  "cp936",  "cp949",
        "tis-620",   "ks_c_5601-1987", "latin1", "iso-ir-100",  NULL};
    static const char *const prefix[] = {"iso-8859-",   "iso_8859-", "iso8859-",
                                         "windows-125", "cp125",     NULL};
    for (size_t i = 0; exact[i]; i++)
        if (strcasecmp(cs, exact[i]) == 0)
            return 1;
    for (size_t i = 0; prefix[i]; i++)
        if (strncasecmp(cs, prefix[i], strlen(prefix[i])) == 0)
            return 1;
    return 0;
}

static int is_utf8_name(const char *cs)
{
    return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0;
}

/* ---- the multipart body ----------------------------------------------- */

enum { MP_OK, MP_NO_DELIM, MP_NO_CLOSE };

/* Find the first closing boundary line ("--b--" and optional white space),
 * after at least one boundary line ("--b"), as Python's parser matches
 * them. */
static int scan_multipart(const uint8_t *p, size_t n, const char *bd, size_t bl, size_t *close)
{
    int seen = 0;
    for (size_t i = 0; i < n;) {
        const uint8_t *nl = memchr(p + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - p) : n;
        size_t le = e > i && p[e - 1] == '\r' ? e - 1 : e;
        if (le - i >= 2 + bl && p[i] == '-' && p[i + 1] == '-' && memcmp(p + i + 2, bd, bl) == 0) {
            size_t k = i + 2 + bl;
            int is_close = 0;
            if (le - k >= 2 && p[k] == '-' && p[k + 1] == '-') {
                is_close = 1;
                k += 2;
            }
            while (k < le && is_wsp(p[k]))
                k++;
            if (k == le) {
                if (is_close) {
                    if (!seen)
                        return MP_NO_DELIM;
                    *close = i;
                    return MP_OK;
                }
                seen = 1;
            }
        }
        i = e + 1;
    }
    return seen ? MP_NO_CLOSE : MP_NO_DELIM;
}

/* ---- building the new body -------------------------------------------- */

#define GROWTH_MAX (64 * 1024)

struct job {
    const struct msg_header *h;
    size_t nh;
    const uint8_t *body;
    size_t n;
    struct footer *f;
    const char *other; /* the message's own boundary, or NULL */
    size_t fields;     /* octets of the Content-* fields */
    int has_mime_version;
    const char *outer_cte; /* for a wrap: " 8bit" or " binary" when the body was, else NULL */
};

/* Does the boundary b occur in the footer parts we write (anywhere, or,
 * with lines only, at the start of a line after "--")? */
static int in_footer(const struct footer *f, const char *b, int lines)
{
    size_t bl = strlen(b);
    const struct buf *parts[] = {&f->text, &f->text_qp, &f->html};
    for (size_t i = 0; i < 3; i++) {
        const uint8_t *p = parts[i]->p;
        size_t n = parts[i]->n;
        if (!n)
            continue;
        if (!lines) {
            if (memmem(p, n, b, bl))
                return 1;
            continue;
        }
        for (size_t k = 0; k < n;) {
            if (n - k >= 2 + bl && p[k] == '-' && p[k + 1] == '-' && memcmp(p + k + 2, b, bl) == 0)
                return 1;
            const uint8_t *nl = memchr(p + k, '\n', n - k);
            k = nl ? (size_t)(nl - p) + 1 : n;
        }
    }
    return 0;
}

static int prefix_related(const char *a, const char *b)
{
    size_t al = strlen(a), bl = strlen(b);
    return strncmp(a, b, al < bl ? al : bl) == 0;
}

/* A fresh boundary into out (at least 72 octets): not in the body or the
 * footer parts, and neither a prefix of avoid1/avoid2 nor prefixed by
 * them. -1 with err when none of the candidates is free. */
static int new_boundary(const struct job *j, const char *avoid1, const char *avoid2, char *out,
                        size_t outsz, fa_err *err)
{
    for (int k = 0; k < 32; k++) {
        if (j->f->stem) {
            if (k == 0)
                snprintf(out, outsz, "%s", j->f->stem);
            else
                snprintf(out, outsz, "%d_%s", k, j->f->stem); /* never prefixed by the stem */
        } else {
            unsigned char r[12];
            if (k >= 8)
                break;
            if (RAND_bytes(r, sizeof(r)) != 1)
                return fa_err_set(err, "RAND_bytes failed");
            int o = snprintf(out, outsz, "=_fwdauth_");
            for (size_t i = 0; i < sizeof(r); i++)
                o += snprintf(out + o, outsz - (size_t)o, "%02x", r[i]);
        }
        if (memmem(j->body, j->n, out, strlen(out)) || in_footer(j->f, out, 0) ||
            (avoid1 && prefix_related(out, avoid1)) || (avoid2 && prefix_related(out, avoid2)))
            continue;
        return 0;
    }
    return fa_err_set(err, "no free MIME boundary");
}

/* The footer part: its header, a blank line and its content, without the
 * line break that belongs to the next boundary line. alt is the boundary
 * of the multipart/alternative when there is an HTML fragment. */
static void footer_part(struct buf *b, const struct footer *f, const char *alt)
{
    if (alt) {
        b_str(b, "Content-Type: multipart/alternative; boundary=\"");
        b_str(b, alt);
        b_str(b, "\"\r\nContent-Disposition: inline\r\n\r\n--");
        b_str(b, alt);
        b_str(b, "\r\n");
    }
    b_str(b, "Content-Type: text/plain; charset=utf-8\r\n");
    b_str(b, f->ascii ? "Content-Transfer-Encoding: 7bit\r\n"
                      : "Content-Transfer-Encoding: quoted-printable\r\n");
    if (!alt)
        b_str(b, "Content-Disposition: inline\r\n");
    b_str(b, "\r\n");
    if (f->ascii)
        b_put(b, f->text.p, f->text.n);
    else
        b_put(b, f->text_qp.p, f->text_qp.n);
    if (alt) {
        /* Each content keeps its final line break: the one before the next
         * boundary line belongs to the boundary (RFC 2046 section 5.1.1). */
        b_str(b, "\r\n--");
        b_str(b, alt);
        b_str(b, "\r\nContent-Type: text/html; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 7bit\r\n\r\n");
        b_put(b, f->html.p, f->html.n);
        b_str(b, "\r\n--");
        b_str(b, alt);
        b_str(b, "--\r\n");
    }
}

static int none(struct fwdchange_footer *out, const char *why)
{
    out->action = FOOTER_NONE;
    out->why = why;
    return 0;
}

static int hdr_add(struct fwdchange_footer *out, const char *name, size_t nl, const char *value)
{
    struct fwdchange_hdr *nh = realloc(out->hdr, (out->nhdr + 1) * sizeof(*nh));
    if (!nh)
        return -1;
    out->hdr = nh;
    struct fwdchange_hdr *x = &out->hdr[out->nhdr];
    x->name = malloc(nl + 1);
    x->value = value ? strdup(value) : NULL;
    if (!x->name || (value && !x->value)) {
        free(x->name);
        free(x->value);
        return -1;
    }
    memcpy(x->name, name, nl);
    x->name[nl] = '\0';
    out->nhdr++;
    return 0;
}

/* Hand the buffer over as the new body, or fail cleanly. */
static int finish(struct fwdchange_footer *out, struct buf *b, int action, const char *why,
                  fa_err *err)
{
    if (b->fail) {
        b_free(b);
        fwdchange_footer_free(out);
        return fa_err_set(err, "out of memory building the footer");
    }
    out->action = action;
    out->why = why;
    out->body = b->p;
    out->len = b->n;
    b->p = NULL;
    return 0;
}

static void b_start(struct buf *b, const struct job *j)
{
    size_t max = j->n + 2 * j->fields + GROWTH_MAX;
    b_init(b, j->n + j->fields + 4096 + 2 * (j->f->text_qp.n + j->f->html_qp.n), max);
}

/* The line break needed after a quoted-printable body so that what follows
 * starts a new line of decoded text: end a missing line break, and end a
 * soft line break ("=" at the end of the last line) with an empty line. */
static const char *qp_tail(const uint8_t *p, size_t n)
{
    if (n == 0)
        return "";
    int ends_nl = p[n - 1] == '\n';
    size_t e = ends_nl ? n - 1 : n;
    if (ends_nl && e > 0 && p[e - 1] == '\r')
        e--;
    int soft = e > 0 && p[e - 1] == '=';
    if (ends_nl)
        return soft ? "\r\n" : "";
    return soft ? "\r\n\r\n" : "\r\n";
}

static int append_text(const struct job *j, int qp, struct fwdchange_footer *out, fa_err *err)
{
    struct buf b;
    b_start(&b, j);
    b_put(&b, j->body, j->n);
    if (qp) {
        b_str(&b, qp_tail(j->body, j->n));
        b_put(&b, j->f->text_qp.p, j->f->text_qp.n);
    } else {
        if (j->n && j->body[j->n - 1] != '\n')
            b_str(&b, "\r\n");
        b_put(&b, j->f->text.p, j->f->text.n);
    }
    return finish(out, &b, FOOTER_APPEND,
                  qp ? "footer appended to the quoted-printable text/plain body"
                     : "footer appended to the text/plain body",
                  err);
}

/* The offset of the last "</body" followed by ">" or white space, or
 * (size_t)-1. In quoted-printable, one right after "=" or "=X" is part of
 * a broken escape and not taken. */
static size_t last_body_tag(const uint8_t *p, size_t n, int qp)
{
    size_t found = (size_t)-1;
    for (size_t i = 0; i + 7 <= n; i++) {
        if (p[i] != '<' || p[i + 1] != '/' || strncasecmp((const char *)p + i + 2, "body", 4) != 0)
            continue;
        unsigned char c = p[i + 6];
        if (c != '>' && !is_wsp(c) && c != '\r' && c != '\n')
            continue;
        if (qp && ((i >= 1 && p[i - 1] == '=') || (i >= 2 && p[i - 2] == '=')))
            continue;
        found = i;
    }
    return found;
}

static int insert_html(const struct job *j, int qp, struct fwdchange_footer *out, fa_err *err)
{
    struct buf b;
    b_start(&b, j);
    const struct buf *frag = qp ? &j->f->html_qp : &j->f->html;
    size_t at = last_body_tag(j->body, j->n, qp);
    const char *why;
    if (at != (size_t)-1) {
        b_put(&b, j->body, at);
        if (at > 0 && j->body[at - 1] != '\n')
            b_str(&b, qp ? "=\r\n" : "\r\n");
        b_put(&b, frag->p, frag->n);
        b_put(&b, j->body + at, j->n - at);
        why = "HTML footer inserted before </body>";
    } else {
        b_put(&b, j->body, j->n);
        if (qp)
            b_str(&b, qp_tail(j->body, j->n));
        else if (j->n && j->body[j->n - 1] != '\n')
            b_str(&b, "\r\n");
        b_put(&b, frag->p, frag->n);
        why = "HTML footer appended to the text/html body";
    }
    return finish(out, &b, FOOTER_APPEND, why, err);
}

static int add_part(const struct job *j, size_t close, struct fwdchange_footer *out, fa_err *err)
{
    if (in_footer(j->f, j->other, 1))
        return none(out, "the footer holds the message's boundary");
    char alt[FWDCHANGE_BOUNDARY_MAX + 16];
    if (j->f->html.n && new_boundary(j, j->other, NULL, alt, sizeof(alt), err) < 0)
        return -1;
    struct buf b;
    b_start(&b, j);
    b_put(&b, j->body, close);
    b_str(&b, "--");
    b_str(&b, j->other);
    b_str(&b, "\r\n");
    footer_part(&b, j->f, j->f->html.n ? alt : NULL);
    b_str(&b, "\r\n");
    b_put(&b, j->body + close, j->n - close);
    if (!j->has_mime_version && hdr_add(out, "MIME-Version", 12, " 1.0") < 0)
        b.fail = 1;
    return finish(out, &b, FOOTER_PART, "footer part added to the multipart/mixed body", err);
}

static int is_content_field(const struct msg_header *h)
{
    return h->name_len >= 8 && strncasecmp(h->raw, "Content-", 8) == 0;
}

static int wrap(const struct job *j, const char *why, struct fwdchange_footer *out, fa_err *err)
{
    char w[FWDCHANGE_BOUNDARY_MAX + 16], alt[FWDCHANGE_BOUNDARY_MAX + 16];
    if (new_boundary(j, j->other, NULL, w, sizeof(w), err) < 0 ||
        (j->f->html.n && new_boundary(j, j->other, w, alt, sizeof(alt), err) < 0))
        return -1;
    struct buf b;
    b_start(&b, j);
    b_str(&b, "--");
    b_str(&b, w);
    b_str(&b, "\r\n");
    /* The original Content-* fields, as written, with CRLF line breaks. */
    for (size_t i = 0; i < j->nh; i++) {
        const struct msg_header *h = &j->h[i];
        if (!is_content_field(h))
            continue;
        for (size_t k = 0; k < h->value_end; k++) {
            if (h->raw[k] == '\n' && (k == 0 || h->raw[k - 1] != '\r'))
                b_put(&b, "\r", 1);
            b_put(&b, h->raw + k, 1);
        }
        b_str(&b, "\r\n");
    }
    b_str(&b, "\r\n");
    b_put(&b, j->body, j->n);
    b_str(&b, "\r\n--");
    b_str(&b, w);
    b_str(&b, "\r\n");
    footer_part(&b, j->f, j->f->html.n ? alt : NULL);
    b_str(&b, "\r\n--");
    b_str(&b, w);
    b_str(&b, "--\r\n");
    /* Deletes of the Content-* names, each once, then the new type. */
    for (size_t i = 0; i < j->nh && !b.fail; i++) {
        const struct msg_header *h = &j->h[i];
        if (!is_content_field(h) || msg_header_is(h, "Content-Type") ||
            (j->outer_cte && msg_header_is(h, "Content-Transfer-Encoding")))
            continue;
        int seen = 0;
        for (size_t k = 0; k < out->nhdr && !seen; k++)
            seen = strlen(out->hdr[k].name) == h->name_len &&
                   strncasecmp(out->hdr[k].name, h->raw, h->name_len) == 0;
        if (!seen && hdr_add(out, h->raw, h->name_len, NULL) < 0)
            b.fail = 1;
    }
    char ctv[FWDCHANGE_BOUNDARY_MAX + 64];
    snprintf(ctv, sizeof(ctv), " multipart/mixed; boundary=\"%s\"", w);
    if (!b.fail && hdr_add(out, "Content-Type", 12, ctv) < 0)
        b.fail = 1;
    /* A multipart holding 8-bit data says so (RFC 2045 section 6.4). */
    if (!b.fail && j->outer_cte && hdr_add(out, "Content-Transfer-Encoding", 25, j->outer_cte) < 0)
        b.fail = 1;
    if (!b.fail && !j->has_mime_version && hdr_add(out, "MIME-Version", 12, " 1.0") < 0)
        b.fail = 1;
    return finish(out, &b, FOOTER_WRAP, why, err);
}

static const char *value_of(const struct msg_header *h, size_t *n)
{
    *n = h->value_end - h->value_off;
    return h->raw + h->value_off;
}

static int decide(struct job *j, struct fwdchange_footer *out, fa_err *err)
{
    const struct msg_header *ctf = NULL, *ctef = NULL;
    size_t nct = 0, ncte = 0;
    for (size_t i = 0; i < j->nh; i++) {
        const struct msg_header *h = &j->h[i];
        if (msg_header_is(h, "Content-Type"))
            nct++, ctf = h;
        else if (msg_header_is(h, "Content-Transfer-Encoding"))
            ncte++, ctef = h;
        else if (msg_header_is(h, "MIME-Version"))
            j->has_mime_version = 1;
        if (is_content_field(h))
            j->fields += h->len;
    }
    if (nct > 1)
        return none(out, "several Content-Type fields");
    if (ncte > 1)
        return none(out, "several Content-Transfer-Encoding fields");
    struct ctype ct;
    size_t vl;
    const char *v;
    if (ctf) {
        v = value_of(ctf, &vl);
        if (parse_ctype(v, vl, &ct) < 0)
            return none(out, "Content-Type does not parse");
    } else {
        memset(&ct, 0, sizeof(ct));
        ct.type = "text";
        ct.type_len = 4;
        ct.sub = "plain";
        ct.sub_len = 5;
    }
    int enc = ENC_7BIT;
    if (ctef) {
        v = value_of(ctef, &vl);
        if (parse_cte(v, vl, &enc) < 0)
            return none(out, "Content-Transfer-Encoding does not parse");
    }
    struct footer *f = j->f;
    j->outer_cte = enc == ENC_8BIT ? " 8bit" : enc == ENC_BINARY ? " binary" : NULL;

    if (span_is(ct.type, ct.type_len, "multipart")) {
        if (enc != ENC_7BIT && enc != ENC_8BIT && enc != ENC_BINARY)
            return none(out, "a multipart with a Content-Transfer-Encoding other than 7bit, "
                             "8bit or binary");
        if (ct.bd_state == BD_ABSENT)
            return none(out, "a multipart without a boundary parameter");
        if (ct.bd_state == BD_BAD)
            return none(out, ct.bd_why);
        size_t close = 0;
        switch (scan_multipart(j->body, j->n, ct.boundary, ct.bd_len, &close)) {
        case MP_NO_DELIM:
            return none(out, "the multipart's boundary line is not in the body");
        case MP_NO_CLOSE:
            return none(out, "the multipart's closing boundary line is missing");
        }
        j->other = ct.boundary;
        if (span_is(ct.sub, ct.sub_len, "mixed"))
            return add_part(j, close, out, err);
        return wrap(j, "wrapped: a multipart other than mixed", out, err);
    }

    int text = span_is(ct.type, ct.type_len, "text");
    int cs_ascii =
        ct.cs_state == CS_ABSENT || (ct.cs_state == CS_GIVEN && ascii_superset(ct.charset));
    int cs_utf8 = ct.cs_state == CS_GIVEN && is_utf8_name(ct.charset);
    if (text && span_is(ct.sub, ct.sub_len, "plain")) {
        if (enc == ENC_BASE64 || enc == ENC_OTHER)
            return wrap(j, "wrapped: text/plain in base64 or another encoding", out, err);
        int ok = f->ascii ? cs_ascii
                          : cs_utf8 && (enc == ENC_8BIT || enc == ENC_BINARY || enc == ENC_QP);
        if (!ok)
            return wrap(j, "wrapped: the footer does not fit the part's charset or encoding", out,
                        err);
        return append_text(j, enc == ENC_QP, out, err);
    }
    if (text && span_is(ct.sub, ct.sub_len, "html")) {
        if (!f->html.n)
            return wrap(j, "wrapped: text/html and no HTML footer", out, err);
        if (enc == ENC_BASE64 || enc == ENC_OTHER || !cs_ascii)
            return wrap(j, "wrapped: text/html in base64 or a charset not ASCII-compatible", out,
                        err);
        return insert_html(j, enc == ENC_QP, out, err);
    }
    if (span_is(ct.type, ct.type_len, "message"))
        return wrap(j, "wrapped: a message/* body", out, err);
    return wrap(j, "wrapped: a single part that is not text/plain or text/html", out, err);
}

int fwdchange_footer(const struct msg_header *h, size_t nh, const uint8_t *body, size_t n,
                     const struct fwdchange_footer_spec *spec, struct fwdchange_footer *out,
                     fa_err *err)
{
    memset(out, 0, sizeof(*out));
    out->action = FOOTER_NONE;
    out->why = "";
    struct footer f;
    if (footer_prepare(spec, &f, err) < 0)
        return -1;
    int rc;
    if (n > FWDCHANGE_BODY_MAX) {
        rc = none(out, "body over 16 MiB");
    } else {
        struct job j = {
            .h = h, .nh = nh, .body = body ? body : (const uint8_t *)"", .n = n, .f = &f};
        rc = decide(&j, out, err);
    }
    footer_free(&f);
    if (rc < 0 || out->action == FOOTER_NONE) {
        const char *why = out->why;
        fwdchange_footer_free(out);
        out->why = rc < 0 ? "error" : why;
    }
    return rc;
}

void fwdchange_footer_free(struct fwdchange_footer *out)
{
    if (!out)
        return;
    free(out->body);
    for (size_t i = 0; i < out->nhdr; i++) {
        free(out->hdr[i].name);
        free(out->hdr[i].value);
    }
    free(out->hdr);
    out->body = NULL;
    out->len = 0;
    out->hdr = NULL;
    out->nhdr = 0;
    out->action = FOOTER_NONE;
}

/* ---- an added field --------------------------------------------------- */

int fwdchange_header_check(const char *name, const char *value, fa_err *err)
{
    size_t nl = strnlen(name, FWDCHANGE_NAME_MAX + 1);
    if (nl == 0 || nl > FWDCHANGE_NAME_MAX)
        return fa_err_set(err, "field name empty or longer than %d octets", FWDCHANGE_NAME_MAX);
    for (size_t i = 0; i < nl; i++)
        if (name[i] <= 0x20 || name[i] >= 0x7f || name[i] == ':')
            return fa_err_set(err, "field name holds \"%c\"", name[i]);
    /* Fields whose meaning the milter owns: the MIME structure, signatures,
     * seals and authentication results are never set by configuration. */
    static const char *const owned[] = {"MIME-Version", "DKIM-Signature", "Authentication-Results",
                                        "From",         "Subject",        NULL};
    for (size_t i = 0; owned[i]; i++)
        if (strcasecmp(name, owned[i]) == 0)
            return fa_err_set(err, "%s is not a field to add by configuration", name);
    if (strncasecmp(name, "Content-", 8) == 0 || strncasecmp(name, "ARC-", 4) == 0)
        return fa_err_set(err, "%s is not a field to add by configuration", name);
    size_t vl = strnlen(value, FWDCHANGE_LINE_MAX + 1);
    if (nl + 2 + vl > FWDCHANGE_LINE_MAX)
        return fa_err_set(err, "field %s longer than %d octets", name, FWDCHANGE_LINE_MAX);
    for (size_t i = 0; i < vl;) {
        uint32_t cp;
        size_t cl = rfc2047_utf8_char((const unsigned char *)value + i, vl - i, &cp);
        if (cl == 0)
            return fa_err_set(err, "field %s: value not UTF-8", name);
        if ((cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp <= 0x9f))
            return fa_err_set(err, "field %s: control character in the value", name);
        i += cl;
    }
    return 0;
}
