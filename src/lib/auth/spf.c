/* spf - Sender Policy Framework, RFC 7208: record parser and check_host().
 * See spf.h; macros are in spf_macro.c. */
#include "spf.h"
#include "dns.h"
#include "spf_macro.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define LOCAL_MAX 256 /* local-parts longer than this are not checked */

static const char *const result_names[] = {"none",     "neutral",   "pass",     "fail",
                                           "softfail", "temperror", "permerror"};

const char *spf_result_name(int result)
{
    if (result < 0 || result > SPF_PERMERROR)
        return "unknown";
    return result_names[result];
}

/* ================================================================ parser */

static int is_alpha(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
    return is_alpha(c) || is_digit(c);
}

int spf_is_record(const char *s, size_t n)
{
    return n >= 6 && strncasecmp(s, "v=spf1", 6) == 0 && (n == 6 || s[6] == ' ');
}

int spf_term_counts(int kind)
{
    return kind == SPF_T_INCLUDE || kind == SPF_T_A || kind == SPF_T_MX || kind == SPF_T_PTR ||
           kind == SPF_T_EXISTS || kind == SPF_T_REDIRECT;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static int valid_toplabel(const char *s, size_t n)
{
    int alpha = 0, dash = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (is_alpha((unsigned char)s[i]))
            alpha = 1;
        else if (s[i] == '-')
            dash = 1;
        else if (!is_digit((unsigned char)s[i]))
            return 0;
    }
    if (!dash)
        return alpha;
    return is_alnum((unsigned char)s[0]) && is_alnum((unsigned char)s[n - 1]);
}

/* domain-spec = macro-string domain-end
 * domain-end  = ( "." toplabel [ "." ] ) / macro-expand */
static int valid_domain_spec(const char *s, size_t n)
{
    int ends_in_macro = 0;
    if (n == 0 || spf_macro_check(s, n, SPF_MACRO_DOMAIN, &ends_in_macro) < 0)
        return 0;
    if (ends_in_macro)
        return 1;
    size_t e = n;
    if (s[e - 1] == '.')
        e--;
    size_t k = e;
    while (k > 0 && s[k - 1] != '.')
        k--;
    if (k == 0)
        return 0; /* no "." before the top label */
    return valid_toplabel(s + k, e - k);
}

/* A CIDR length: decimal, no leading zero, 0..max. -1 if not. */
static int parse_cidr(const char *s, size_t n, int max)
{
    int v = 0;
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* Strip a trailing [ "/" ip4-cidr ] [ "//" ip6-cidr ] from s[0..n) (only
 * "/" ip4-cidr when !dual); returns the length left, or -1 for a bad
 * length. */
static long strip_cidr(const char *s, size_t n, int dual, int *c4, int *c6)
{
    size_t end = n, k;
    if (dual) {
        k = end;
        while (k > 0 && is_digit((unsigned char)s[k - 1]))
            k--;
        if (k < end && k >= 2 && s[k - 1] == '/' && s[k - 2] == '/') {
            if ((*c6 = parse_cidr(s + k, end - k, 128)) < 0)
                return -1;
            end = k - 2;
        }
    }
    k = end;
    while (k > 0 && is_digit((unsigned char)s[k - 1]))
        k--;
    if (k < end && k >= 1 && s[k - 1] == '/') {
        if ((*c4 = parse_cidr(s + k, end - k, dual ? 32 : *c4)) < 0)
            return -1;
        end = k - 1;
    }
    return (long)end;
}

static const struct {
    const char *name;
    int kind;
} mechanisms[] = {
    {"all", SPF_T_ALL}, {"include", SPF_T_INCLUDE}, {"a", SPF_T_A},     {"mx", SPF_T_MX},
    {"ptr", SPF_T_PTR}, {"ip4", SPF_T_IP4},         {"ip6", SPF_T_IP6}, {"exists", SPF_T_EXISTS},
};

static int bad(fa_err *err, const char *s, size_t n, const char *what)
{
    return fa_err_set(err, "\"%.*s\": %s", (int)(n > 100 ? 100 : n), s, what);
}

int spf_term_parse(const char *s, size_t n, struct spf_term *t, int *unknown_mech, fa_err *err)
{
    memset(t, 0, sizeof(*t));
    t->text = s;
    t->text_len = n;
    t->qualifier = '+';
    t->cidr4 = 32;
    t->cidr6 = 128;
    if (unknown_mech)
        *unknown_mech = 0;
    if (n == 0)
        return fa_err_set(err, "empty term");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e)
            return bad(err, s, n,
                       c >= 0x80 ? "octet outside 7-bit ASCII"
                                 : "control character or space inside a term");
    }
    /* modifier = name "=" macro-string; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) */
    if (is_alpha((unsigned char)s[0])) {
        size_t j = 1;
        while (j < n &&
               (is_alnum((unsigned char)s[j]) || s[j] == '-' || s[j] == '_' || s[j] == '.'))
            j++;
        if (j < n && s[j] == '=') {
            t->spec = s + j + 1;
            t->spec_len = n - j - 1;
            if ((j == 8 && strncasecmp(s, "redirect", 8) == 0) ||
                (j == 3 && strncasecmp(s, "exp", 3) == 0)) {
                t->kind = j == 8 ? SPF_T_REDIRECT : SPF_T_EXP;
                if (!valid_domain_spec(t->spec, t->spec_len))
                    return bad(err, s, n, "not a valid domain-spec");
                return 0;
            }
            t->kind = SPF_T_UNKNOWN_MOD;
            if (spf_macro_check(t->spec, t->spec_len, SPF_MACRO_EXP, NULL) < 0)
                return bad(err, s, n, "bad macro in modifier value");
            return 0;
        }
    }
    size_t i = 0;
    if (s[0] == '+' || s[0] == '-' || s[0] == '~' || s[0] == '?')
        t->qualifier = s[i++];
    size_t j = i;
    while (j < n && is_alnum((unsigned char)s[j]))
        j++;
    if (j == i) {
        if (unknown_mech)
            *unknown_mech = 2;
        return bad(err, s, n, "not an SPF term");
    }
    size_t k;
    for (k = 0; k < sizeof(mechanisms) / sizeof(mechanisms[0]); k++)
        if (strlen(mechanisms[k].name) == j - i &&
            strncasecmp(mechanisms[k].name, s + i, j - i) == 0)
            break;
    if (k == sizeof(mechanisms) / sizeof(mechanisms[0])) {
        if (unknown_mech)
            *unknown_mech = 1;
        return bad(err, s, n, "unknown mechanism");
    }
    t->kind = mechanisms[k].kind;
    const char *rest = s + j;
    size_t rn = n - j;
    if (rn > 0 && rest[0] != ':' && rest[0] != '/')
        return bad(err, s, n, "malformed mechanism");
    const char *arg = rn > 0 && rest[0] == ':' ? rest + 1 : NULL;
    size_t an = arg ? rn - 1 : 0;
    switch (t->kind) {
    case SPF_T_ALL:
        if (rn)
            return bad(err, s, n, "\"all\" takes no argument");
        return 0;
    case SPF_T_INCLUDE:
    case SPF_T_EXISTS:
        if (!arg || !valid_domain_spec(arg, an))
            return bad(err, s, n, "needs \":\" and a valid domain-spec");
        t->spec = arg;
        t->spec_len = an;
        return 0;
    case SPF_T_PTR:
        if (rn && (!arg || !valid_domain_spec(arg, an)))
            return bad(err, s, n, "malformed ptr (ptr[:domain-spec], no CIDR)");
        t->spec = arg;
        t->spec_len = an;
        return 0;
    case SPF_T_A:
    case SPF_T_MX: {
        const char *x = arg ? arg : rest;
        size_t xn = arg ? an : rn;
        long left = strip_cidr(x, xn, 1, &t->cidr4, &t->cidr6);
        if (left < 0)
            return bad(err, s, n, "bad CIDR length");
        if (!arg) {
            if (left != 0)
                return bad(err, s, n, "bad CIDR length");
            return 0;
        }
        if (!valid_domain_spec(arg, (size_t)left))
            return bad(err, s, n, "not a valid domain-spec");
        t->spec = arg;
        t->spec_len = (size_t)left;
        return 0;
    }
    case SPF_T_IP4:
    case SPF_T_IP6: {
        int v6 = t->kind == SPF_T_IP6;
        if (!arg)
            return bad(err, s, n, "needs \":\" and an address");
        int c4 = v6 ? 128 : 32, c6 = 128;
        long left = strip_cidr(arg, an, 0, &c4, &c6);
        char buf[INET6_ADDRSTRLEN + 1];
        if (left <= 0 || (size_t)left >= sizeof(buf))
            return bad(err, s, n, left < 0 ? "bad CIDR length" : "bad address");
        memcpy(buf, arg, (size_t)left);
        buf[left] = '\0';
        if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, t->addr) != 1)
            return bad(err, s, n, "bad address");
        if (v6)
            t->cidr6 = c4;
        else
            t->cidr4 = c4;
        t->spec = arg;
        t->spec_len = (size_t)left;
        return 0;
    }
    }
    return bad(err, s, n, "unknown mechanism");
}

/* spf_record_parse, and with on_bad spf_record_parse_each: go on past a
 * bad term (reported, left out of r), remembering the first error. */
static int record_parse(const char *s, size_t n, struct spf_record *r, spf_bad_term_fn on_bad,
                        void *arg, fa_err *err)
{
    memset(r, 0, sizeof(*r));
    if (!spf_is_record(s, n))
        return fa_err_set(err, "not an SPF record (no \"v=spf1\")");
    size_t cap = 0;
    for (size_t i = 6; i < n; i++)
        if (s[i] != ' ' && (i == 6 || s[i - 1] == ' '))
            cap++;
    if (cap) {
        r->t = calloc(cap, sizeof(*r->t));
        if (!r->t)
            return fa_err_set(err, "out of memory");
    }
    int failed = 0;
    size_t i = 6;
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        if (i >= n)
            break;
        size_t j = i;
        while (j < n && s[j] != ' ')
            j++;
        struct spf_term *t = &r->t[r->n];
        fa_err terr;
        int unknown = 0;
        if (spf_term_parse(s + i, j - i, t, &unknown, &terr) < 0) {
            if (!failed++ && err)
                *err = terr;
            if (!on_bad) {
                spf_record_free(r);
                return -1;
            }
            on_bad(arg, s + i, j - i,
                   unknown == 1   ? SPF_BAD_UNKNOWN_MECHANISM
                   : unknown == 2 ? SPF_BAD_NOT_A_TERM
                                  : SPF_BAD_MALFORMED,
                   terr.msg);
            i = j;
            continue;
        }
        r->n++;
        if (t->kind == SPF_T_REDIRECT || t->kind == SPF_T_EXP) {
            const struct spf_term **slot = t->kind == SPF_T_REDIRECT ? &r->redirect : &r->exp;
            if (*slot) {
                const char *what = t->kind == SPF_T_REDIRECT ? "redirect" : "exp";
                fa_err_set(&terr, "%s= appears twice", what);
                if (!failed++ && err)
                    *err = terr;
                if (!on_bad) {
                    spf_record_free(r);
                    return -1;
                }
                on_bad(arg, s + i, j - i, SPF_BAD_REPEATED_MODIFIER, terr.msg);
                r->n--; /* the first one counts */
            } else {
                *slot = t;
            }
        }
        i = j;
    }
    return failed ? -1 : 0;
}

int spf_record_parse(const char *s, size_t n, struct spf_record *r, fa_err *err)
{
    return record_parse(s, n, r, NULL, NULL, err);
}

int spf_record_parse_each(const char *s, size_t n, struct spf_record *r, spf_bad_term_fn on_bad,
                          void *arg, fa_err *err)
{
    return record_parse(s, n, r, on_bad, arg, err);
}

void spf_record_free(struct spf_record *r)
{
    free(r->t);
    memset(r, 0, sizeof(*r));
}

/* ============================================================ evaluation */

struct ptr_cache {
    int done;
    int status; /* of the PTR query */
    size_t n;   /* validated names */
    char names[SPF_PTR_LIMIT][SPF_DOMAIN_MAX + 1];
};

struct ctx {
    struct dns *d;
    int v6;
    uint8_t ip[16];
    char local[LOCAL_MAX + 1];
    char sender_domain[SPF_DOMAIN_MAX + 2];
    const char *helo;
    const char *receiver;
    long long now;
    unsigned lookups, voids;
    struct ptr_cache ptr;
    struct spf_result *out;
};

static void reason(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reason(struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->out->reason, sizeof(c->out->reason), fmt, ap);
    va_end(ap);
}

static const char *dns_why(const struct dns_answer *a)
{
    return a->why ? a->why : dns_status_name(a->status);
}

static int is_void(int status)
{
    return status == DNS_NXDOMAIN || status == DNS_NODATA;
}

static int is_dns_error(int status)
{
    return status == DNS_TEMPFAIL || status == DNS_PERMFAIL;
}

/* A name fit to ask DNS about: strips one trailing dot; when `cut` the
 * first label may be incomplete and is dropped; then labels are dropped
 * from the left until it fits 253 octets (RFC 7208 section 7.3). Every
 * label must be 1..63 octets. Writes name (SPF_DOMAIN_MAX + 1). 0 or -1. */
static int fit_name(const char *s, size_t n, int cut, char *name)
{
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (cut) {
        const char *dot = memchr(s, '.', n);
        if (!dot)
            return -1;
        n -= (size_t)(dot + 1 - s);
        s = dot + 1;
    }
    while (n > SPF_DOMAIN_MAX) {
        const char *dot = memchr(s, '.', n);
        if (!dot)
            return -1;
        n -= (size_t)(dot + 1 - s);
        s = dot + 1;
    }
    if (n == 0)
        return -1;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (label == 0)
                return -1;
            label = 0;
        } else if (++label > 63) {
            return -1;
        }
    }
    if (label == 0)
        return -1;
    memcpy(name, s, n);
    name[n] = '\0';
    return 0;
}

static void get_p(void *ctx, const char *domain, char *out, size_t cap);

static void macro_env(struct ctx *c, const char *domain, struct spf_macro_env *e)
{
    memset(e, 0, sizeof(*e));
    e->sender = c->out->sender;
    e->local = c->local;
    e->sender_domain = c->sender_domain;
    e->domain = domain;
    e->helo = c->helo;
    e->receiver = c->receiver;
    e->now = c->now;
    e->ip_v6 = c->v6;
    memcpy(e->ip, c->ip, 16);
    e->get_p = get_p;
    e->p_ctx = c;
}

/* The target name of a term: its domain-spec expanded, or the current
 * domain. 0, or -1 when the expansion is not a usable DNS name. */
static int target(struct ctx *c, const char *domain, const char *spec, size_t spec_len, char *name)
{
    if (!spec) {
        snprintf(name, SPF_DOMAIN_MAX + 1, "%s", domain);
        return 0;
    }
    char buf[SPF_MACRO_OUT_MAX];
    size_t len;
    int cut;
    struct spf_macro_env e;
    macro_env(c, domain, &e);
    if (spf_macro_expand(&e, spec, spec_len, SPF_MACRO_DOMAIN, buf, sizeof(buf), &len, &cut) < 0)
        return -1;
    return fit_name(buf, len, cut, name);
}

static int prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* Look up the client-family addresses of name; *match when one lies in
 * the client's network of cidr4/cidr6 bits. Returns the DNS status. */
static int addr_match(struct ctx *c, const char *name, int cidr4, int cidr6, int *match)
{
    struct dns_answer a;
    *match = 0;
    if (!name[0]) /* the root, e.g. a null MX */
        return DNS_NXDOMAIN;
    dns_query(c->d, name, c->v6 ? DNS_T_AAAA : DNS_T_A, &a);
    int status = a.status;
    for (size_t i = 0; status == DNS_OK && i < a.n && !*match; i++)
        if (a.rr[i].len == (c->v6 ? 16u : 4u) &&
            prefix_match(a.rr[i].data, c->ip, c->v6 ? cidr6 : cidr4))
            *match = 1;
    dns_answer_free(&a);
    return status;
}

static void reverse_name(const struct ctx *c, char *out, size_t cap)
{
    if (!c->v6) {
        snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa", c->ip[3], c->ip[2], c->ip[1], c->ip[0]);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int b = 15; b >= 0 && o + 4 < cap; b--) {
        out[o++] = hex[c->ip[b] & 15];
        out[o++] = '.';
        out[o++] = hex[c->ip[b] >> 4];
        out[o++] = '.';
    }
    snprintf(out + o, cap - o, "ip6.arpa");
}

/* The validated names of the client (RFC 7208 section 5.5), once per check:
 * the first SPF_PTR_LIMIT PTR names whose addresses include the client;
 * DNS errors while validating skip that name. */
static void ptr_build(struct ctx *c)
{
    if (c->ptr.done)
        return;
    c->ptr.done = 1;
    char rev[80];
    reverse_name(c, rev, sizeof(rev));
    struct dns_answer *a = malloc(sizeof(*a));
    if (!a) {
        c->ptr.status = DNS_TEMPFAIL;
        return;
    }
    dns_query(c->d, rev, DNS_T_PTR, a);
    c->ptr.status = a->status;
    for (size_t i = 0; a->status == DNS_OK && i < a->n && i < SPF_PTR_LIMIT; i++) {
        const char *name = (const char *)a->rr[i].data;
        char fitted[SPF_DOMAIN_MAX + 1];
        int match;
        if (fit_name(name, strlen(name), 0, fitted) < 0)
            continue;
        if (addr_match(c, fitted, 32, 128, &match) == DNS_OK && match)
            snprintf(c->ptr.names[c->ptr.n++], SPF_DOMAIN_MAX + 1, "%s", fitted);
    }
    dns_answer_free(a);
    free(a);
}

/* Is name equal to domain, or below it? */
static int name_under(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);
    if (n == d)
        return strcasecmp(name, domain) == 0;
    return n > d && name[n - d - 1] == '.' && strcasecmp(name + n - d, domain) == 0;
}

/* %{p}: the validated name equal to the domain, else one below it, else
 * any (RFC 7208 section 7.3), else "unknown". */
static void get_p(void *ctx, const char *domain, char *out, size_t cap)
{
    struct ctx *c = ctx;
    ptr_build(c);
    const char *best = NULL;
    for (size_t i = 0; i < c->ptr.n && !best; i++)
        if (strcasecmp(c->ptr.names[i], domain) == 0)
            best = c->ptr.names[i];
    for (size_t i = 0; i < c->ptr.n && !best; i++)
        if (name_under(c->ptr.names[i], domain))
            best = c->ptr.names[i];
    if (!best && c->ptr.n)
        best = c->ptr.names[0];
    snprintf(out, cap, "%s", best ? best : "unknown");
}

/* Count a void lookup; 1 when over the limit (permerror set). */
static int count_void(struct ctx *c, const struct spf_term *t, const char *name)
{
    if (++c->voids > SPF_VOID_LIMIT) {
        reason(c, "more than %d void lookups (RFC 7208 section 4.6.4), the last for \"%.*s\" (%s)",
               SPF_VOID_LIMIT, (int)(t->text_len > 100 ? 100 : t->text_len), t->text, name);
        return 1;
    }
    return 0;
}

/* The explanation of a fail (RFC 7208 section 6.2): any trouble leaves it
 * empty. */
static void explain(struct ctx *c, const char *domain, const struct spf_term *exp)
{
    char name[SPF_DOMAIN_MAX + 1];
    c->out->explanation[0] = '\0';
    if (target(c, domain, exp->spec, exp->spec_len, name) < 0)
        return;
    struct dns_answer *a = malloc(sizeof(*a));
    if (!a)
        return;
    dns_query(c->d, name, DNS_T_TXT, a);
    if (a->status == DNS_OK && a->n == 1) {
        const char *txt = (const char *)a->rr[0].data;
        size_t n = a->rr[0].len, i;
        for (i = 0; i < n; i++)
            if ((unsigned char)txt[i] < 0x20 || (unsigned char)txt[i] > 0x7e)
                break;
        struct spf_macro_env e;
        macro_env(c, domain, &e);
        if (i < n || spf_macro_expand(&e, txt, n, SPF_MACRO_EXP, c->out->explanation,
                                      sizeof(c->out->explanation), NULL, NULL) < 0)
            c->out->explanation[0] = '\0';
    }
    dns_answer_free(a);
    free(a);
}

static int check_host(struct ctx *c, const char *domain, int depth, int want_exp);

static int qualifier_result(char q)
{
    switch (q) {
    case '-':
        return SPF_FAIL;
    case '~':
        return SPF_SOFTFAIL;
    case '?':
        return SPF_NEUTRAL;
    default:
        return SPF_PASS;
    }
}

#define TERM(t) (int)((t)->text_len > 100 ? 100 : (t)->text_len), (t)->text

/* Evaluate one mechanism: 1 match, 0 no match, or -(SPF_TEMPERROR or
 * SPF_PERMERROR). */
static int mechanism(struct ctx *c, const char *domain, int depth, const struct spf_term *t)
{
    char name[SPF_DOMAIN_MAX + 1];
    int match = 0, status;
    if (spf_term_counts(t->kind) && ++c->lookups > SPF_LOOKUP_LIMIT) {
        reason(c, "more than %d DNS-querying terms (RFC 7208 section 4.6.4), at \"%.*s\" in %s",
               SPF_LOOKUP_LIMIT, TERM(t), domain);
        return -SPF_PERMERROR;
    }
    switch (t->kind) {
    case SPF_T_ALL:
        return 1;
    case SPF_T_IP4:
        return !c->v6 && prefix_match(t->addr, c->ip, t->cidr4);
    case SPF_T_IP6:
        return c->v6 && prefix_match(t->addr, c->ip, t->cidr6);
    case SPF_T_INCLUDE: {
        if (target(c, domain, t->spec, t->spec_len, name) < 0) {
            reason(c, "\"%.*s\" in %s names no valid domain", TERM(t), domain);
            return -SPF_PERMERROR;
        }
        int r = check_host(c, name, depth + 1, 0);
        switch (r) {
        case SPF_PASS:
            return 1;
        case SPF_FAIL:
        case SPF_SOFTFAIL:
        case SPF_NEUTRAL:
            return 0;
        case SPF_TEMPERROR:
            return -SPF_TEMPERROR;
        case SPF_NONE:
            reason(c, "\"%.*s\" in %s: %s has no SPF record", TERM(t), domain, name);
            return -SPF_PERMERROR;
        default:
            return -SPF_PERMERROR;
        }
    }
    case SPF_T_A:
        if (target(c, domain, t->spec, t->spec_len, name) < 0)
            return 0; /* no such name */
        status = addr_match(c, name, t->cidr4, t->cidr6, &match);
        break;
    case SPF_T_EXISTS: {
        if (target(c, domain, t->spec, t->spec_len, name) < 0)
            return 0;
        struct dns_answer a;
        dns_query(c->d, name, DNS_T_A, &a);
        status = a.status;
        match = status == DNS_OK;
        dns_answer_free(&a);
        break;
    }
    case SPF_T_MX: {
        if (target(c, domain, t->spec, t->spec_len, name) < 0)
            return 0;
        struct dns_answer *a = malloc(sizeof(*a));
        if (!a) {
            reason(c, "out of memory");
            return -SPF_TEMPERROR;
        }
        dns_query(c->d, name, DNS_T_MX, a);
        status = a->status;
        if (status == DNS_OK && a->n > SPF_MX_LIMIT) {
            reason(c,
                   "\"%.*s\" in %s: %s has %zu MX records, more than %d (RFC 7208 "
                   "section 4.6.4)",
                   TERM(t), domain, name, a->n, SPF_MX_LIMIT);
            dns_answer_free(a);
            free(a);
            return -SPF_PERMERROR;
        }
        for (size_t i = 0; status == DNS_OK && i < a->n && !match; i++) {
            char host[SPF_DOMAIN_MAX + 1];
            const char *x = (const char *)a->rr[i].data;
            if (!x[0] || fit_name(x, strlen(x), 0, host) < 0)
                continue;
            int s = addr_match(c, host, t->cidr4, t->cidr6, &match);
            if (is_dns_error(s)) {
                reason(c, "DNS error looking up %s (an MX of %s) for \"%.*s\": %s", host, name,
                       TERM(t), dns_status_name(s));
                dns_answer_free(a);
                free(a);
                return -SPF_TEMPERROR;
            }
        }
        if (is_dns_error(status))
            reason(c, "DNS error looking up the MX of %s for \"%.*s\": %s", name, TERM(t),
                   dns_why(a));
        dns_answer_free(a);
        free(a);
        if (is_dns_error(status))
            return -SPF_TEMPERROR;
        break;
    }
    case SPF_T_PTR:
        if (target(c, domain, t->spec, t->spec_len, name) < 0)
            return 0;
        ptr_build(c);
        if (is_void(c->ptr.status) && count_void(c, t, "the client's PTR"))
            return -SPF_PERMERROR;
        for (size_t i = 0; i < c->ptr.n && !match; i++)
            match = name_under(c->ptr.names[i], name);
        return match; /* DNS errors: no match (section 5.5) */
    default:
        return 0;
    }
    if (is_dns_error(status)) {
        if (t->kind != SPF_T_MX)
            reason(c, "DNS error looking up %s for \"%.*s\" in %s: %s", name, TERM(t), domain,
                   dns_status_name(status));
        return -SPF_TEMPERROR;
    }
    if (is_void(status) && count_void(c, t, name))
        return -SPF_PERMERROR;
    return match;
}

int spf_record_fetch(struct dns *d, const char *domain, char **rec, size_t *len,
                     struct spf_fetched *f)
{
    memset(f, 0, sizeof(*f));
    *rec = NULL;
    struct dns_answer *a = malloc(sizeof(*a));
    if (!a) {
        f->oom = 1;
        return SPF_TEMPERROR;
    }
    dns_query(d, domain, DNS_T_TXT, a);
    f->dns_status = a->status;
    f->dns_why = dns_why(a);
    int r = 1;
    size_t which = 0;
    if (is_dns_error(a->status)) {
        r = SPF_TEMPERROR;
    } else if (a->status != DNS_OK) {
        r = SPF_NONE;
    } else {
        for (size_t i = 0; i < a->n; i++)
            if (spf_is_record((const char *)a->rr[i].data, a->rr[i].len) && f->count++ == 0)
                which = i;
        if (f->count == 0) {
            r = SPF_NONE;
        } else if (f->count > 1) {
            r = SPF_PERMERROR;
        } else if (!(*rec = malloc(a->rr[which].len + 1))) {
            f->oom = 1;
            r = SPF_TEMPERROR;
        } else {
            memcpy(*rec, a->rr[which].data, a->rr[which].len);
            (*rec)[a->rr[which].len] = '\0';
            *len = a->rr[which].len;
        }
    }
    dns_answer_free(a);
    free(a);
    return r;
}

/* Fetch the one SPF record of domain: returns 1 with *rec (malloc'd,
 * NUL-terminated, length *len), or a result (SPF_NONE, SPF_TEMPERROR,
 * SPF_PERMERROR) with the reason set. */
static int fetch(struct ctx *c, const char *domain, char **rec, size_t *len)
{
    struct spf_fetched f;
    int r = spf_record_fetch(c->d, domain, rec, len, &f);
    if (f.oom)
        reason(c, "out of memory");
    else if (r == SPF_TEMPERROR)
        reason(c, "DNS error looking up the TXT records of %s: %s", domain, f.dns_why);
    else if (r == SPF_NONE && f.dns_status != DNS_OK)
        reason(c, "no SPF record at %s (%s)", domain, dns_status_name(f.dns_status));
    else if (r == SPF_NONE)
        reason(c, "no SPF record at %s (no TXT record starts with v=spf1)", domain);
    else if (r == SPF_PERMERROR)
        reason(c, "%s has %zu SPF records (RFC 7208 section 4.5)", domain, f.count);
    return r;
}

static void set_mechanism(struct ctx *c, const struct spf_term *t)
{
    snprintf(c->out->mechanism, sizeof(c->out->mechanism), "%.*s", TERM(t));
}

static int check_host(struct ctx *c, const char *domain, int depth, int want_exp)
{
    if (depth > SPF_MAX_DEPTH) {
        reason(c, "include/redirect nested more than %d deep at %s", SPF_MAX_DEPTH, domain);
        return SPF_PERMERROR;
    }
    char *rec;
    size_t len = 0;
    int r = fetch(c, domain, &rec, &len);
    if (r != 1)
        return r;
    struct spf_record sr;
    fa_err err;
    if (spf_record_parse(rec, len, &sr, &err) < 0) {
        reason(c, "syntax error in the SPF record of %s: %s", domain, err.msg);
        free(rec);
        return SPF_PERMERROR;
    }
    int result = -1;
    for (size_t i = 0; i < sr.n && result < 0; i++) {
        const struct spf_term *t = &sr.t[i];
        if (t->kind == SPF_T_REDIRECT || t->kind == SPF_T_EXP || t->kind == SPF_T_UNKNOWN_MOD)
            continue;
        int m = mechanism(c, domain, depth, t);
        if (m < 0) {
            result = -m;
        } else if (m > 0) {
            result = qualifier_result(t->qualifier);
            set_mechanism(c, t);
            reason(c, "\"%.*s\" in the record of %s matched", TERM(t), domain);
            if (result == SPF_FAIL && want_exp && sr.exp)
                explain(c, domain, sr.exp);
        }
    }
    if (result < 0 && sr.redirect) {
        const struct spf_term *t = sr.redirect;
        char name[SPF_DOMAIN_MAX + 1];
        if (++c->lookups > SPF_LOOKUP_LIMIT) {
            reason(c, "more than %d DNS-querying terms (RFC 7208 section 4.6.4), at \"%.*s\" in %s",
                   SPF_LOOKUP_LIMIT, TERM(t), domain);
            result = SPF_PERMERROR;
        } else if (target(c, domain, t->spec, t->spec_len, name) < 0) {
            reason(c, "\"%.*s\" in %s names no valid domain", TERM(t), domain);
            result = SPF_PERMERROR;
        } else {
            result = check_host(c, name, depth + 1, want_exp);
            if (result == SPF_NONE) {
                reason(c, "\"%.*s\" in %s: %s has no SPF record", TERM(t), domain, name);
                result = SPF_PERMERROR;
            }
        }
    } else if (result < 0) {
        result = SPF_NEUTRAL;
        c->out->mechanism[0] = '\0';
        reason(c, "no term of the record of %s matched (default neutral)", domain);
    }
    spf_record_free(&sr);
    free(rec);
    return result;
}

/* ============================================================== requests */

/* RFC 7208 section 4.3: is domain usable at all (else the result is none)? */
static const char *initial_domain_problem(const char *d, size_t n)
{
    if (n == 0)
        return "no domain";
    if (d[0] == '[')
        return "an address literal, not a domain";
    if (n > SPF_DOMAIN_MAX)
        return "longer than 253 octets";
    size_t label = 0, labels = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)d[i];
        if (ch < 0x21 || ch > 0x7e)
            return "octets outside visible ASCII";
        if (ch == '.') {
            if (label == 0)
                return "an empty label";
            label = 0;
            labels++;
        } else if (++label > 63) {
            return "a label longer than 63 octets";
        }
    }
    if (label == 0)
        return "an empty label";
    if (labels < 2)
        return "not a fully qualified domain name";
    return NULL;
}

static int parse_ip(const char *s, int *v6, uint8_t ip[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(ip, 0, 16);
    if (!s)
        return -1;
    if (inet_pton(AF_INET, s, ip) == 1) {
        *v6 = 0;
        return 0;
    }
    uint8_t b[16];
    if (inet_pton(AF_INET6, s, b) != 1)
        return -1;
    if (memcmp(b, mapped, 12) == 0) { /* IPv4-mapped: IPv4 (RFC 7208 section 5) */
        memcpy(ip, b + 12, 4);
        *v6 = 0;
    } else {
        memcpy(ip, b, 16);
        *v6 = 1;
    }
    return 0;
}

size_t spf_identity(const struct spf_request *rq, const char **dom, size_t *llen)
{
    const char *mf = rq->mail_from;
    *llen = 0;
    if (rq->helo_identity || !mf || !mf[0]) {
        *dom = rq->helo ? rq->helo : "";
    } else {
        const char *at = strrchr(mf, '@');
        if (at)
            *llen = (size_t)(at - mf);
        *dom = at ? at + 1 : mf;
    }
    size_t dlen = strlen(*dom);
    if (dlen > 0 && (*dom)[dlen - 1] == '.')
        dlen--;
    return dlen;
}

int spf_check_request(struct dns *d, const struct spf_request *rq, struct spf_result *out)
{
    memset(out, 0, sizeof(*out));
    out->result = SPF_NONE;
    struct ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(out->reason, sizeof(out->reason), "out of memory");
        out->result = SPF_TEMPERROR;
        return out->result;
    }
    c->d = d;
    c->out = out;
    c->helo = rq->helo ? rq->helo : "";
    c->receiver = rq->receiver;
    c->now = rq->now ? (long long)rq->now : (long long)time(NULL);
    if (parse_ip(rq->ip, &c->v6, c->ip) < 0) {
        snprintf(out->reason, sizeof(out->reason), "\"%s\" is not an IPv4 or IPv6 address",
                 rq->ip ? rq->ip : "");
        free(c);
        return -1;
    }
    const char *mf = rq->mail_from;
    const char *dom;
    size_t llen, dlen = spf_identity(rq, &dom, &llen);
    out->helo_identity = rq->helo_identity;
    if (llen > 0) {
        if (llen > LOCAL_MAX) {
            snprintf(out->reason, sizeof(out->reason),
                     "the local-part of the sender is over %d octets: not checked", LOCAL_MAX);
            free(c);
            return out->result;
        }
        memcpy(c->local, mf, llen);
    }
    if (llen == 0)
        snprintf(c->local, sizeof(c->local), "postmaster");
    else
        c->local[llen] = '\0';
    const char *problem = initial_domain_problem(dom, dlen);
    if (problem) {
        snprintf(out->domain, sizeof(out->domain), "%.*s", (int)(dlen > 253 ? 253 : dlen), dom);
        snprintf(out->reason, sizeof(out->reason), "the %s domain \"%s\" is %s",
                 rq->helo_identity || !mf || !mf[0] ? "HELO" : "MAIL FROM", out->domain, problem);
        free(c);
        return out->result;
    }
    memcpy(out->domain, dom, dlen);
    out->domain[dlen] = '\0';
    memcpy(c->sender_domain, out->domain, dlen + 1);
    snprintf(out->sender, sizeof(out->sender), "%s@%s", c->local, out->domain);
    out->result = check_host(c, out->domain, 0, 1);
    out->lookups = c->lookups;
    out->void_lookups = c->voids;
    if (out->result != SPF_FAIL)
        out->explanation[0] = '\0';
    free(c);
    return out->result;
}

int spf_check(struct dns *d, const char *ip, const char *mail_from, const char *helo,
              struct spf_result *out)
{
    struct spf_request rq = {.ip = ip, .mail_from = mail_from, .helo = helo};
    return spf_check_request(d, &rq, out);
}

int spf_check_helo(struct dns *d, const char *ip, const char *helo, struct spf_result *out)
{
    struct spf_request rq = {.ip = ip, .helo = helo, .helo_identity = 1};
    return spf_check_request(d, &rq, out);
}
