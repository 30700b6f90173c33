/* dmarc - DMARC policy discovery, alignment and result; see dmarc.h. */
#include "dmarc.h"

#include "tags.h"

#include <libpsl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *dmarc_result_name(int result)
{
    static const char *const names[] = {"none", "pass", "fail", "temperror", "permerror"};
    return result >= 0 && result <= DMARC_PERMERROR ? names[result] : "?";
}

const char *dmarc_policy_name(int policy)
{
    switch (policy) {
    case DMARC_POLICY_NONE:
        return "none";
    case DMARC_POLICY_QUARANTINE:
        return "quarantine";
    case DMARC_POLICY_REJECT:
        return "reject";
    default:
        return "";
    }
}

const char *dmarc_mode_name(int mode)
{
    return mode == DMARC_MODE_RFC9989 ? "rfc9989" : "rfc7489";
}

const char *dmarc_align_name(int align)
{
    return align == DMARC_ALIGN_STRICT ? "s" : "r";
}

/* ---- record parsing ---------------------------------------------------- */

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static int is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int word_is(const char *v, size_t n, const char *w)
{
    return n == strlen(w) && strncasecmp(v, w, n) == 0;
}

static int parse_policy(const char *v, size_t n)
{
    if (word_is(v, n, "none"))
        return DMARC_POLICY_NONE;
    if (word_is(v, n, "quarantine"))
        return DMARC_POLICY_QUARANTINE;
    if (word_is(v, n, "reject"))
        return DMARC_POLICY_REJECT;
    return -2;
}

/* 1*DIGIT up to max; -1 if not. */
static long parse_uint(const char *v, size_t n, unsigned long max)
{
    if (n == 0 || n > 10)
        return -1;
    unsigned long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(v[i]))
            return -1;
        x = x * 10 + (unsigned long)(v[i] - '0');
    }
    return x <= max ? (long)x : -1;
}

/* fo = ("0" / "1" / "d" / "s") *(":" ...), white space around items allowed.
 * Returns the bits, or 0 when any item is bad (then the default applies). */
static unsigned parse_fo(const char *v, size_t n)
{
    unsigned bits = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && is_fws(v[i]))
            i++;
        if (i >= n)
            return 0;
        char c = v[i++];
        if (c == '0')
            bits |= DMARC_FO_0;
        else if (c == '1')
            bits |= DMARC_FO_1;
        else if (c == 'd' || c == 'D')
            bits |= DMARC_FO_D;
        else if (c == 's' || c == 'S')
            bits |= DMARC_FO_S;
        else
            return 0;
        while (i < n && is_fws(v[i]))
            i++;
        if (i == n)
            return bits;
        if (v[i++] != ':')
            return 0;
    }
}

/* rf = Keyword *(":" Keyword); 1 if afrf is listed, 0 if not, -1 if malformed. */
static int parse_rf(const char *v, size_t n)
{
    int afrf = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ':')
            j++;
        size_t a = i, b = j;
        while (a < b && is_fws(v[a]))
            a++;
        while (b > a && is_fws(v[b - 1]))
            b--;
        if (a == b)
            return -1;
        for (size_t k = a; k < b; k++)
            if (!is_alpha(v[k]) && !is_digit(v[k]) && v[k] != '-')
                return -1;
        if (word_is(v + a, b - a, "afrf"))
            afrf = 1;
        i = j + 1;
    }
    return afrf;
}

/* A DMARC URI (RFC 7489 6.4 / RFC 9989 4.8): an RFC 3986 URI, i.e. scheme
 * ":" hier-part..., optionally followed by "!" size [unit] (RFC 7489). We
 * check the scheme and that the rest is non-empty URI characters. */
static int uri_valid(const char *u, size_t n)
{
    size_t bang = n;
    for (size_t i = 0; i < n; i++)
        if (u[i] == '!') {
            bang = i;
            break;
        }
    if (bang < n) {
        size_t k = bang + 1, d = k;
        while (k < n && is_digit(u[k]))
            k++;
        if (k == d)
            return 0;
        if (k < n && strchr("kmgtKMGT", u[k]))
            k++;
        if (k != n)
            return 0;
        n = bang;
    }
    size_t i = 0;
    if (n == 0 || !is_alpha(u[0]))
        return 0;
    while (i < n && (is_alpha(u[i]) || is_digit(u[i]) || u[i] == '+' || u[i] == '-' || u[i] == '.'))
        i++;
    if (i >= n || u[i] != ':' || i + 1 == n)
        return 0;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
            c == '`' || c == '{' || c == '|' || c == '}')
            return 0;
    }
    return 1;
}

int dmarc_uri_next(const char *v, size_t n, size_t *pos, char *uri, size_t urisz, size_t *urilen)
{
    size_t i = *pos;
    if (i > n)
        return -1;
    size_t j = i;
    while (j < n && v[j] != ',')
        j++;
    *pos = j + 1;
    /* The URI without white space; one that does not fit in
     * DMARC_URILIST_MAX - 1 octets is not valid (and is cut in uri). */
    size_t un = 0, kept = 0;
    int fits = 1;
    for (size_t k = i; k < j; k++) {
        if (is_fws(v[k]))
            continue;
        if (un + 1 >= DMARC_URILIST_MAX)
            fits = 0;
        un++;
        if (urisz > 0 && kept + 1 < urisz)
            uri[kept++] = v[k];
    }
    if (urisz > 0)
        uri[kept] = '\0';
    if (urilen)
        *urilen = kept;
    if (!fits || un == 0 || kept != un)
        return 0;
    return uri_valid(uri, un);
}

/* Count valid URIs of a comma-separated list and copy the list without
 * white space into out (cut at a URI boundary when it does not fit). */
static unsigned parse_urilist(const char *v, size_t n, char *out, size_t outsz)
{
    unsigned valid = 0;
    size_t o = 0, pos = 0;
    out[0] = '\0';
    char u[DMARC_URILIST_MAX];
    size_t un;
    int ok;
    while ((ok = dmarc_uri_next(v, n, &pos, u, sizeof(u), &un)) >= 0) {
        if (!ok)
            continue;
        valid++;
        if (o + (o ? 1 : 0) + un + 1 <= outsz) {
            if (o)
                out[o++] = ',';
            memcpy(out + o, u, un);
            o += un;
            out[o] = '\0';
        }
    }
    return valid;
}

/* v=DMARC1 at the start: returns the offset after it (at ";" or the end),
 * or 0 with *why saying what is wrong. */
static size_t version_end(const char *s, size_t n, const char **why)
{
    size_t i = 0;
    *why = "does not start with v=DMARC1";
    while (i < n && is_fws(s[i]))
        i++;
    if (i >= n || (s[i] != 'v' && s[i] != 'V'))
        return 0;
    i++;
    while (i < n && is_wsp(s[i]))
        i++;
    if (i >= n || s[i] != '=')
        return 0;
    i++;
    while (i < n && is_wsp(s[i]))
        i++;
    if (n - i < 6 || memcmp(s + i, "DMARC1", 6) != 0) {
        *why = n - i >= 6 && strncasecmp(s + i, "DMARC1", 6) == 0
                   ? "v= must be DMARC1 exactly, in upper case"
                   : "v= is not DMARC1";
        return 0;
    }
    i += 6;
    while (i < n && is_fws(s[i]))
        i++;
    if (i < n && s[i] != ';') {
        *why = "v=DMARC1 is not followed by \";\"";
        return 0;
    }
    return i;
}

enum {
    TG_P,
    TG_SP,
    TG_NP,
    TG_ADKIM,
    TG_ASPF,
    TG_PCT,
    TG_FO,
    TG_RUA,
    TG_RUF,
    TG_RF,
    TG_RI,
    TG_PSD,
    TG_T,
    TG_N
};

/* The tag's TG_ index, or -1 when unknown; *other = 1 when it is a tag of
 * the other document (RFC 7489 vs RFC 9989), which counts as unknown. */
static int tag_id(const char *name, size_t len, int mode, int *other)
{
    static const char *const names[TG_N] = {"p",   "sp",  "np", "adkim", "aspf", "pct", "fo",
                                            "rua", "ruf", "rf", "ri",    "psd",  "t"};
    *other = 0;
    for (int i = 0; i < TG_N; i++) {
        if (!word_is(name, len, names[i]))
            continue;
        /* Tags of the other document are unknown tags: ignored. */
        if (mode == DMARC_MODE_RFC9989 && (i == TG_PCT || i == TG_RF || i == TG_RI))
            *other = 1;
        if (mode != DMARC_MODE_RFC9989 && (i == TG_NP || i == TG_PSD || i == TG_T))
            *other = 1;
        return *other ? -1 : i;
    }
    return -1;
}

/* Note one tag-spec for dmarc_parse_record_specs' caller. */
static void note(struct dmarc_spec *specs, size_t max, size_t *nspecs, int status, const char *text,
                 size_t text_len, const struct tag *t)
{
    if (!specs)
        return;
    if (*nspecs < max) {
        struct dmarc_spec *sp = &specs[*nspecs];
        while (text_len > 0 && is_fws(*text)) {
            text++;
            text_len--;
        }
        while (text_len > 0 && is_fws(text[text_len - 1]))
            text_len--;
        *sp = (struct dmarc_spec){status, text, text_len, NULL, 0, NULL, 0};
        if (t) {
            sp->name = t->name;
            sp->name_len = t->name_len;
            sp->value = t->value;
            sp->value_len = t->value_len;
        }
    }
    (*nspecs)++;
}

int dmarc_parse_record(const char *txt, size_t len, int mode, struct dmarc_record *out,
                       const char **why)
{
    return dmarc_parse_record_specs(txt, len, mode, out, why, NULL, 0, NULL);
}

int dmarc_parse_record_specs(const char *txt, size_t len, int mode, struct dmarc_record *out,
                             const char **why, struct dmarc_spec *specs, size_t max, size_t *nspecs)
{
    size_t nspecs_local = 0;
    if (!nspecs)
        nspecs = &nspecs_local;
    *nspecs = 0;
    memset(out, 0, sizeof(*out));
    out->p = out->sp = out->np = DMARC_POLICY_ABSENT;
    out->adkim = out->aspf = DMARC_ALIGN_RELAXED;
    out->pct = 100;
    out->fo = DMARC_FO_0;
    out->psd = 'u';
    out->ri = 86400;
    out->rf_afrf = 1;
    const char *vwhy;
    size_t i = version_end(txt, len, &vwhy);
    if (i == 0) {
        if (why)
            *why = vwhy;
        return -1;
    }
    int seen[TG_N] = {0};
    while (i < len) {
        i++; /* the ";" */
        size_t j = i;
        while (j < len && txt[j] != ';')
            j++;
        /* One tag-spec at a time: a bad one is ignored, not fatal. */
        struct tag_list l;
        int pr = tags_parse(txt + i, j - i, &l, NULL);
        if (pr < 0) {
            note(specs, max, nspecs, DMARC_SPEC_MALFORMED, txt + i, j - i, NULL);
        } else if (l.n == 1) {
            const struct tag *t = &l.t[0];
            int other;
            int id = tag_id(t->name, t->name_len, mode, &other);
            int status = DMARC_SPEC_USED;
            if (id < 0) {
                status = other ? DMARC_SPEC_OTHER_MODE : DMARC_SPEC_UNKNOWN;
            } else if (seen[id]) {
                status = DMARC_SPEC_REPEATED;
            } else {
                seen[id] = 1;
                const char *v = t->value;
                size_t vn = t->value_len;
                long x;
                int pol, bad = 0;
                switch (id) {
                case TG_P:
                case TG_SP:
                case TG_NP:
                    pol = parse_policy(v, vn);
                    bad = pol < 0;
                    if (id == TG_P) {
                        out->p = pol >= 0 ? pol : DMARC_POLICY_ABSENT;
                        out->p_invalid = pol < 0;
                    } else if (id == TG_SP) {
                        out->sp = pol >= 0 ? pol : DMARC_POLICY_ABSENT;
                        out->sp_invalid = pol < 0;
                    } else {
                        out->np = pol >= 0 ? pol : DMARC_POLICY_ABSENT;
                        out->np_invalid = pol < 0;
                    }
                    break;
                case TG_ADKIM:
                case TG_ASPF:
                    if (word_is(v, vn, "s") || word_is(v, vn, "r")) {
                        int a = word_is(v, vn, "s") ? DMARC_ALIGN_STRICT : DMARC_ALIGN_RELAXED;
                        if (id == TG_ADKIM)
                            out->adkim = a;
                        else
                            out->aspf = a;
                    } else {
                        bad = 1;
                    }
                    break;
                case TG_PCT:
                    if ((x = parse_uint(v, vn, 100)) >= 0)
                        out->pct = (unsigned)x;
                    else
                        bad = 1;
                    break;
                case TG_RI:
                    if ((x = parse_uint(v, vn, 4294967295UL)) >= 0)
                        out->ri = (unsigned long)x;
                    else
                        bad = 1;
                    break;
                case TG_FO: {
                    unsigned fo = parse_fo(v, vn);
                    if (fo)
                        out->fo = fo;
                    else
                        bad = 1;
                    break;
                }
                case TG_RF: {
                    int rf = parse_rf(v, vn);
                    if (rf >= 0)
                        out->rf_afrf = rf;
                    else
                        bad = 1;
                    break;
                }
                case TG_RUA:
                    out->rua_valid = parse_urilist(v, vn, out->rua, sizeof(out->rua));
                    break;
                case TG_RUF:
                    out->ruf_valid = parse_urilist(v, vn, out->ruf, sizeof(out->ruf));
                    break;
                case TG_PSD:
                    if (word_is(v, vn, "y") || word_is(v, vn, "n") || word_is(v, vn, "u"))
                        out->psd = (char)(v[0] | 0x20);
                    else
                        bad = 1;
                    break;
                case TG_T:
                    if (word_is(v, vn, "y") || word_is(v, vn, "n"))
                        out->testing = (v[0] | 0x20) == 'y';
                    else
                        bad = 1;
                    break;
                }
                if (bad)
                    status = DMARC_SPEC_BAD_VALUE;
            }
            note(specs, max, nspecs, status, txt + i, j - i, t);
        }
        i = j;
    }
    if (why)
        *why = "";
    return 0;
}

/* ---- domains ----------------------------------------------------------- */

/* Lower-case copy without one trailing dot; 0 if unusable as a DNS name. */
static int norm_domain(const char *in, char *out, size_t outsz)
{
    if (!in)
        return 0;
    size_t n = strlen(in);
    if (n > 0 && in[n - 1] == '.')
        n--;
    if (n == 0 || n > 253 || n + 1 > outsz)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == ';' || c == '"')
            return 0;
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (++label > 63) {
            return 0;
        }
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    if (label == 0)
        return 0;
    out[n] = '\0';
    return 1;
}

static size_t count_labels(const char *d)
{
    size_t n = 1;
    for (; *d; d++)
        n += *d == '.';
    return n;
}

/* The k right-most labels of d (k <= labels). */
static const char *last_labels(const char *d, size_t k)
{
    size_t n = count_labels(d);
    while (n > k) {
        d = strchr(d, '.') + 1;
        n--;
    }
    return d;
}

static int psl_org(const char *d, char *out, size_t outsz)
{
    /* RFC 7489 3.2: the public suffix plus one label; a name that is
     * itself a public suffix (no registrable part) is its own. */
    const char *r = psl_registrable_domain(psl_builtin(), d);
    if (!r)
        r = d;
    if (strlen(r) + 1 > outsz)
        return DMARC_PERMERROR;
    strcpy(out, r);
    return 0;
}

/* ---- DNS: _dmarc records ------------------------------------------------ */

enum { F_NONE, F_FOUND, F_MULTI, F_TEMP };

/* Query _dmarc.<name>; on F_FOUND, *txt is a malloc'd copy of the one
 * DMARC record (if txt is not NULL) and *psd its psd value. What was asked
 * and found is written to *ask when it is not NULL. */
static int fetch(struct dns *d, int mode, const char *name, char **txt, size_t *txtlen, char *psd,
                 struct dmarc_asked *ask)
{
    char q[8 + DMARC_DOMAIN_MAX];
    if (ask) {
        memset(ask, 0, sizeof(*ask));
        snprintf(ask->name, sizeof(ask->name), "%s", name);
        ask->status = DMARC_ASK_NONE;
        ask->dns_status = DNS_NXDOMAIN;
        ask->dns_why = "name too long to exist";
    }
    if (strlen(name) + 7 > 253)
        return F_NONE; /* _dmarc.<name> cannot exist */
    strcpy(q, "_dmarc.");
    strcat(q, name);
    struct dns_answer a;
    int st = dns_query(d, q, DNS_T_TXT, &a);
    if (ask) {
        ask->dns_status = st;
        ask->dns_why = a.why ? a.why : dns_status_name(st);
    }
    if (st == DNS_TEMPFAIL) {
        dns_answer_free(&a);
        if (ask)
            ask->status = DMARC_ASK_TEMPERROR;
        return F_TEMP;
    }
    int found = 0;
    size_t which = 0;
    if (st == DNS_OK) {
        for (size_t i = 0; i < a.n; i++) {
            struct dmarc_record r;
            if (dmarc_parse_record((const char *)a.rr[i].data, a.rr[i].len, mode, &r, NULL) == 0) {
                if (found++ == 0) {
                    which = i;
                    if (psd)
                        *psd = r.psd;
                }
            }
        }
    }
    int ret = found == 0 ? F_NONE : found > 1 ? F_MULTI : F_FOUND;
    if (ask) {
        ask->count = (size_t)found;
        ask->status = ret == F_NONE    ? DMARC_ASK_NONE
                      : ret == F_MULTI ? DMARC_ASK_SEVERAL
                                       : DMARC_ASK_ONE;
    }
    if (ret == F_FOUND && txt) {
        *txt = malloc(a.rr[which].len + 1);
        if (!*txt) {
            dns_answer_free(&a);
            if (ask) {
                ask->status = DMARC_ASK_TEMPERROR;
                ask->dns_why = "out of memory";
            }
            return F_TEMP; /* out of memory: try again later */
        }
        memcpy(*txt, a.rr[which].data, a.rr[which].len);
        (*txt)[a.rr[which].len] = '\0';
        *txtlen = a.rr[which].len;
    }
    dns_answer_free(&a);
    return ret;
}

/* One DNS Tree Walk (RFC 9989 4.10). */
struct walk {
    size_t n;
    struct {
        char name[DMARC_DOMAIN_MAX];
        char psd;
        char *txt; /* NULL unless keep_txt */
        size_t len;
    } rec[DMARC_WALK_MAX];   /* records found (single DMARC record at a name), longest first */
    int temp;                /* a query failed temporarily: the walk is incomplete */
    int start_status;        /* F_* of the first query */
    struct dmarc_asked *ask; /* when not NULL: every query, in order (at most DMARC_WALK_MAX) */
    size_t nask;
};

static void walk_free(struct walk *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->rec[i].txt);
    w->n = 0;
}

/* The name a Tree Walk asks after target, or NULL when no labels are left
 * (step 7). Step 4, only after the first query: x >= 8 -> keep 7 labels. */
static const char *walk_next(const char *target, int first)
{
    size_t x = count_labels(target);
    if (x == 1)
        return NULL;
    return first && x >= 8 ? last_labels(target, 7) : strchr(target, '.') + 1;
}

size_t dmarc_policy_questions(int mode, const char *from_domain, char (*names)[DMARC_QUESTION_MAX],
                              size_t max)
{
    char from[DMARC_DOMAIN_MAX], org[DMARC_DOMAIN_MAX];
    const char *domains[DMARC_WALK_MAX];
    size_t nd = 0, n = 0;
    if (!norm_domain(from_domain, from, sizeof(from)))
        return 0;
    domains[nd++] = from;
    if (mode != DMARC_MODE_RFC9989) {
        if (psl_org(from, org, sizeof(org)) == 0 && strcmp(org, from) != 0)
            domains[nd++] = org;
    } else {
        for (const char *t = walk_next(from, 1); t && nd < DMARC_WALK_MAX; t = walk_next(t, 0))
            domains[nd++] = t;
    }
    for (size_t i = 0; i < nd && n < max; i++)
        if (strlen(domains[i]) + 7 <= 253) /* as fetch: longer cannot exist */
            snprintf(names[n++], DMARC_QUESTION_MAX, "_dmarc.%s", domains[i]);
    return n;
}

static void tree_walk(struct dns *d, const char *start, int keep_txt, struct walk *w,
                      struct dmarc_asked *ask)
{
    memset(w, 0, sizeof(*w));
    w->ask = ask;
    const char *target = start;
    int first = 1;
    for (;;) {
        char psd = 'u';
        char *txt = NULL;
        size_t len = 0;
        /* At most DMARC_WALK_MAX queries (step 4), so ask has room. */
        int st = fetch(d, DMARC_MODE_RFC9989, target, keep_txt ? &txt : NULL, &len, &psd,
                       w->ask && w->nask < DMARC_WALK_MAX ? &w->ask[w->nask++] : NULL);
        if (first)
            w->start_status = st;
        if (st == F_TEMP) {
            w->temp = 1;
            return;
        }
        if (st == F_FOUND) {
            /* at most 8 queries, so at most 8 records */
            strcpy(w->rec[w->n].name, target);
            w->rec[w->n].psd = psd;
            w->rec[w->n].txt = txt;
            w->rec[w->n].len = len;
            w->n++;
            if (psd == 'y' || psd == 'n')
                return; /* steps 2 and 6 */
        }
        if (!(target = walk_next(target, first)))
            return; /* no labels left (step 7) */
        first = 0;
    }
}

/* RFC 9989 4.10.2: the Organizational Domain from a finished walk. */
static const char *walk_org(const struct walk *w, const char *start)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->rec[i].psd == 'n')
            return w->rec[i].name; /* rule 1 */
        if (w->rec[i].psd == 'y' && strcmp(w->rec[i].name, start) != 0)
            return last_labels(start, count_labels(w->rec[i].name) + 1); /* rule 2 */
    }
    if (w->n > 0)
        return w->rec[w->n - 1].name; /* rule 3: the fewest labels */
    return start;                     /* "the initial target domain" */
}

int dmarc_org_domain(struct dns *d, int mode, const char *domain, char *out, size_t outsz)
{
    char dom[DMARC_DOMAIN_MAX];
    if (!norm_domain(domain, dom, sizeof(dom)) || outsz == 0)
        return DMARC_PERMERROR;
    if (mode != DMARC_MODE_RFC9989)
        return psl_org(dom, out, outsz);
    if (!d)
        return DMARC_PERMERROR;
    struct walk w;
    tree_walk(d, dom, 0, &w, NULL);
    if (w.temp)
        return DMARC_TEMPERROR;
    const char *org = walk_org(&w, dom);
    if (strlen(org) + 1 > outsz)
        return DMARC_PERMERROR;
    strcpy(out, org);
    return 0;
}

/* ---- evaluation --------------------------------------------------------- */

static int finish(struct dmarc_result *out, int result, const char *reason)
{
    out->result = result;
    out->reason = reason;
    if (result != DMARC_FAIL)
        out->disposition = DMARC_POLICY_NONE;
    return result;
}

/* Alignment of one authenticated domain with the From domain:
 * 1 aligned, 0 not, -1 unknown (a Tree Walk failed temporarily). */
static int aligned(struct dns *d, int mode, int align, const struct dmarc_result *out,
                   const char *id_raw)
{
    char id[DMARC_DOMAIN_MAX];
    if (!norm_domain(id_raw, id, sizeof(id)))
        return 0;
    if (strcmp(id, out->from_domain) == 0)
        return 1;
    if (align == DMARC_ALIGN_STRICT)
        return 0;
    if (out->org_domain[0] == '\0')
        return -1; /* the From domain's walk failed */
    /* An Organizational Domain is always the name itself or an ancestor
     * (PSL: suffix + 1 label; Tree Walk: a name the walk asked), so an
     * identifier outside the From domain's org domain cannot align: no
     * need to ask the DNS. */
    size_t il = strlen(id), ol = strlen(out->org_domain);
    if (il < ol || strcmp(id + il - ol, out->org_domain) != 0 ||
        (il > ol && id[il - ol - 1] != '.'))
        return 0;
    char org[DMARC_DOMAIN_MAX];
    int r = dmarc_org_domain(d, mode, id, org, sizeof(org));
    if (r == DMARC_TEMPERROR)
        return -1;
    return r == 0 && strcmp(org, out->org_domain) == 0;
}

static int lower_one_step(int policy)
{
    return policy == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

static int discovered(struct dmarc_discovery *disc, int result, const char *reason)
{
    disc->found = 0;
    disc->result = result;
    disc->reason = reason;
    return 0;
}

/* RFC 7489 6.6.3 steps 1-5: the From domain's record, else its
 * Organizational Domain's (by the Public Suffix List). Returns
 * discovered()'s 0 when there is no record to apply, 1 when disc->txt
 * holds one. */
static int discover_rfc7489(struct dns *d, struct dmarc_discovery *disc)
{
    const char *from = disc->from_domain;
    psl_org(from, disc->org_domain, sizeof(disc->org_domain));
    disc->from_is_org = strcmp(from, disc->org_domain) == 0;
    int st = fetch(d, DMARC_MODE_RFC7489, from, &disc->txt, &disc->txtlen, NULL,
                   &disc->asked[disc->nasked++]);
    if (st == F_TEMP)
        return discovered(disc, DMARC_TEMPERROR, "DNS error looking up the DMARC record");
    if (st == F_MULTI)
        return discovered(disc, DMARC_NONE, "several DMARC records at the From domain");
    if (st == F_FOUND) {
        strcpy(disc->record_domain, from);
    } else if (!disc->from_is_org) {
        st = fetch(d, DMARC_MODE_RFC7489, disc->org_domain, &disc->txt, &disc->txtlen, NULL,
                   &disc->asked[disc->nasked++]);
        if (st == F_TEMP)
            return discovered(disc, DMARC_TEMPERROR, "DNS error looking up the DMARC record");
        if (st == F_MULTI)
            return discovered(disc, DMARC_NONE,
                              "several DMARC records at the Organizational Domain");
        if (st == F_FOUND)
            strcpy(disc->record_domain, disc->org_domain);
    }
    if (!disc->txt)
        return discovered(disc, DMARC_NONE, "no DMARC record");
    return 1;
}

/* Which record of a Tree Walk applies (RFC 9989 4.10.1): the Author
 * Domain's own, else the Organizational Domain's, else a PSD's (psd=y at
 * the top of the walk); (size_t)-1 for none. */
static size_t walk_policy_record(const struct walk *w, const struct dmarc_discovery *disc)
{
    const char *from = disc->from_domain;
    if (w->n > 0 && strcmp(w->rec[0].name, from) == 0)
        return 0;
    size_t pol_idx = (size_t)-1;
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->rec[i].name, disc->org_domain) == 0)
            pol_idx = i;
    if (pol_idx == (size_t)-1 && w->n > 0 && w->rec[w->n - 1].psd == 'y')
        pol_idx = w->n - 1;
    return pol_idx;
}

/* RFC 9989 4.10 and 4.10.1: one DNS Tree Walk up from the From domain
 * gives the Organizational Domain and the record to apply. Returns as
 * discover_rfc7489. */
static int discover_rfc9989(struct dns *d, struct dmarc_discovery *disc)
{
    const char *from = disc->from_domain;
    struct walk w;
    tree_walk(d, from, 1, &w, disc->asked);
    disc->nasked = w.nask;
    if (w.start_status == F_TEMP || (w.temp && (w.n == 0 || strcmp(w.rec[0].name, from)))) {
        walk_free(&w);
        return discovered(disc, DMARC_TEMPERROR, "DNS error looking up the DMARC record");
    }
    if (!w.temp) {
        const char *org = walk_org(&w, from);
        strcpy(disc->org_domain, org);
        disc->from_is_org = strcmp(org, from) == 0;
    }
    size_t pol_idx = walk_policy_record(&w, disc);
    if (pol_idx != (size_t)-1) {
        disc->txt = w.rec[pol_idx].txt;
        disc->txtlen = w.rec[pol_idx].len;
        w.rec[pol_idx].txt = NULL;
        strcpy(disc->record_domain, w.rec[pol_idx].name);
    }
    walk_free(&w);
    if (!disc->txt)
        return discovered(disc, DMARC_NONE, "no DMARC record");
    return 1;
}

int dmarc_discover(struct dns *d, int mode, const char *from_domain, struct dmarc_discovery *disc)
{
    memset(disc, 0, sizeof(*disc));
    disc->mode = mode = mode == DMARC_MODE_RFC9989 ? DMARC_MODE_RFC9989 : DMARC_MODE_RFC7489;
    if (!norm_domain(from_domain, disc->from_domain, sizeof(disc->from_domain)))
        return discovered(disc, DMARC_NONE, "no usable RFC5322.From domain");
    if (!d)
        return discovered(disc, DMARC_TEMPERROR, "no resolver");
    int found = mode == DMARC_MODE_RFC7489 ? discover_rfc7489(d, disc) : discover_rfc9989(d, disc);
    if (!found)
        return 0;
    disc->found = 1;
    disc->result = DMARC_NONE;
    disc->reason = "";
    return 1;
}

void dmarc_discovery_free(struct dmarc_discovery *disc)
{
    free(disc->txt);
    disc->txt = NULL;
    disc->found = 0;
}

int dmarc_evaluate(struct dns *d, int mode, const char *from_domain, const struct dmarc_auth *auth,
                   struct dmarc_result *out)
{
    struct dmarc_discovery disc;
    dmarc_discover(d, mode, from_domain, &disc);
    int r = dmarc_evaluate_discovered(d, &disc, auth, out);
    dmarc_discovery_free(&disc);
    return r;
}

/* RFC 7489 6.6.3 step 6 / RFC 9989 4.10.1: a record with an invalid p, sp
 * or np (in RFC 7489 mode also one without p) is applied as "v=DMARC1;
 * p=none" when it has a valid rua (its owner still gets reports), else it
 * is a permerror. RFC 9989 4.7: p absent is none. Returns 0, or -1 for
 * the permerror. */
static int settle_policies(struct dmarc_record *rec, int mode)
{
    int bad = rec->p_invalid || rec->sp_invalid || rec->np_invalid ||
              (mode == DMARC_MODE_RFC7489 && rec->p == DMARC_POLICY_ABSENT);
    if (bad) {
        if (rec->rua_valid == 0)
            return -1;
        rec->p = DMARC_POLICY_NONE; /* as if "v=DMARC1; p=none" */
        rec->sp = rec->np = DMARC_POLICY_ABSENT;
    } else if (rec->p == DMARC_POLICY_ABSENT) {
        rec->p = DMARC_POLICY_NONE; /* RFC 9989 4.7 "p": absent = none */
    }
    return 0;
}

/* Alignment (RFC 7489 3.1, 4.2; RFC 9989 alignment sections): sets
 * out->spf_aligned, out->dkim_aligned and out->dkim_domain (the first
 * aligned DKIM pass, of at most DMARC_MAX_DKIM signatures). Returns 1 when
 * an identifier that passed, or failed temporarily, aligns but failed
 * temporarily, or its alignment is unknown (a Tree Walk failed
 * temporarily): without an aligned pass the result is then temperror. */
static int align_identifiers(struct dns *d, const struct dmarc_auth *auth, struct dmarc_result *out)
{
    const struct dmarc_record *rec = &out->record;
    int mode = out->mode, temp = 0;
    if (auth && (auth->spf_result == DMARC_AUTH_PASS || auth->spf_result == DMARC_AUTH_TEMPERROR) &&
        auth->spf_domain) {
        int a = aligned(d, mode, rec->aspf, out, auth->spf_domain);
        if (a == 1 && auth->spf_result == DMARC_AUTH_PASS)
            out->spf_aligned = 1;
        else if (a != 0)
            temp = 1;
    }
    size_t nd = auth && auth->dkim ? auth->ndkim : 0;
    if (nd > DMARC_MAX_DKIM)
        nd = DMARC_MAX_DKIM;
    for (size_t i = 0; i < nd; i++) {
        const struct dmarc_dkim_auth *s = &auth->dkim[i];
        if ((s->result != DMARC_AUTH_PASS && s->result != DMARC_AUTH_TEMPERROR) || !s->domain)
            continue;
        int a = aligned(d, mode, rec->adkim, out, s->domain);
        if (a == 1 && s->result == DMARC_AUTH_PASS) {
            norm_domain(s->domain, out->dkim_domain, sizeof(out->dkim_domain));
            out->dkim_aligned = 1;
            break;
        } else if (a != 0) {
            temp = 1;
        }
    }
    return temp;
}

/* Which policy (RFC 7489 6.3 "sp", 6.6.3; RFC 9989 4.7, 4.10.1): p= for
 * the record's own domain, sp= (when given) for a subdomain of it. Sets
 * out->policy and out->policy_source; returns 1 when the From domain is a
 * subdomain of the record's domain. */
static int choose_policy(struct dmarc_result *out)
{
    const struct dmarc_record *rec = &out->record;
    int subdomain = strcmp(out->record_domain, out->from_domain) != 0;
    if (subdomain && rec->sp != DMARC_POLICY_ABSENT) {
        out->policy = rec->sp;
        out->policy_source = DMARC_FROM_SP;
    } else {
        out->policy = rec->p;
        out->policy_source = DMARC_FROM_P;
    }
    return subdomain;
}

/* np= for a From domain that does not exist (RFC 9989), asked only when it
 * changes the policy. Returns 0, or -1 when the existence question failed
 * temporarily. */
static int apply_np(struct dns *d, int subdomain, struct dmarc_result *out)
{
    const struct dmarc_record *rec = &out->record;
    if (out->mode != DMARC_MODE_RFC9989 || !subdomain || rec->np == DMARC_POLICY_ABSENT ||
        rec->np == out->policy)
        return 0;
    struct dns_answer a;
    int st = dns_query(d, out->from_domain, DNS_T_A, &a);
    dns_answer_free(&a);
    if (st == DNS_TEMPFAIL)
        return -1;
    out->from_exists = st != DNS_NXDOMAIN;
    if (!out->from_exists) {
        out->policy = rec->np;
        out->policy_source = DMARC_FROM_NP;
    }
    return 0;
}

/* The disposition of a failing message: the policy, one step lower for
 * RFC 9989's t=y (4.7 "t") or when RFC 7489's pct= sampled it out (6.6.4,
 * out->sampled_out set). */
static int fail_disposition(const struct dmarc_auth *auth, struct dmarc_result *out)
{
    const struct dmarc_record *rec = &out->record;
    int disp = out->policy;
    if (out->mode == DMARC_MODE_RFC9989 && rec->testing)
        disp = lower_one_step(disp);
    if (out->mode == DMARC_MODE_RFC7489 && rec->pct < 100 &&
        (auth ? auth->pct_roll % 100 : 0) >= rec->pct) {
        out->sampled_out = 1;
        disp = lower_one_step(disp);
    }
    return disp;
}

int dmarc_evaluate_discovered(struct dns *d, const struct dmarc_discovery *disc,
                              const struct dmarc_auth *auth, struct dmarc_result *out)
{
    memset(out, 0, sizeof(*out));
    int mode = out->mode = disc->mode;
    out->policy = DMARC_POLICY_ABSENT;
    out->disposition = DMARC_POLICY_NONE;
    out->from_exists = -1;
    memcpy(out->from_domain, disc->from_domain, sizeof(out->from_domain));
    memcpy(out->org_domain, disc->org_domain, sizeof(out->org_domain));
    memcpy(out->record_domain, disc->record_domain, sizeof(out->record_domain));
    out->from_is_org = disc->from_is_org;
    if (!disc->found)
        return finish(out, disc->result, disc->reason);

    dmarc_parse_record(disc->txt, disc->txtlen, mode, &out->record, NULL);
    out->have_record = 1;
    if (settle_policies(&out->record, mode) < 0)
        return finish(out, DMARC_PERMERROR, "invalid p, sp or np and no valid rua");

    int temp = align_identifiers(d, auth, out);
    int subdomain = choose_policy(out);
    if (out->spf_aligned || out->dkim_aligned)
        return finish(out, DMARC_PASS,
                      out->dkim_aligned ? "aligned DKIM pass" : "aligned SPF pass");
    if (temp)
        return finish(out, DMARC_TEMPERROR, "an identifier that would align had a temporary error");
    if (apply_np(d, subdomain, out) < 0)
        return finish(out, DMARC_TEMPERROR, "DNS error checking whether the From domain exists");
    out->disposition = fail_disposition(auth, out);
    return finish(out, DMARC_FAIL, "no aligned SPF or DKIM pass");
}
