/* lint - is a domain's SPF, DMARC and DKIM published right? See lint.h. */
#include "lint.h"

#include "dkim.h"
#include "dkim_key.h"
#include "dmarc.h"
#include "spf.h"
#include "tags.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 256 /* a domain name and its NUL, with room */

/* ---------------------------------------------------------------- report */

void lint_report_init(struct lint_report *r, struct lint_finding *f, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->f = f;
    r->max = f ? max : 0;
}

const char *lint_level_name(int level)
{
    static const char *const names[] = {"ok", "warning", "problem", "error"};
    return level >= LINT_OK && level <= LINT_ERROR ? names[level] : "?";
}

const char *lint_check_name(int check)
{
    static const char *const names[] = {"spf", "dmarc", "dkim", "mx"};
    return check >= LINT_SPF && check <= LINT_MX ? names[check] : "?";
}

const char *lint_state_name(int state)
{
    static const char *const names[] = {"usable", "absent", "broken", "unknown"};
    return state >= LINT_USABLE && state <= LINT_UNKNOWN ? names[state] : "?";
}

static void add(struct lint_report *r, int level, int check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void vadd(struct lint_report *r, int level, int check, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void vadd(struct lint_report *r, int level, int check, const char *fmt, va_list ap)
{
    r->count[level]++;
    if (r->n >= r->max) {
        r->dropped++;
        return;
    }
    struct lint_finding *f = &r->f[r->n++];
    f->level = level;
    f->check = check;
    int n = vsnprintf(f->text, sizeof(f->text), fmt, ap);
    if (n < 0)
        snprintf(f->text, sizeof(f->text), "(unprintable finding)");
    else if ((size_t)n >= sizeof(f->text))
        memcpy(f->text + sizeof(f->text) - 4, "...", 4);
    /* One line: published text may hold any octet. */
    for (char *p = f->text; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            *p = '?';
}

static void add(struct lint_report *r, int level, int check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(r, level, check, fmt, ap);
    va_end(ap);
}

void lint_add(struct lint_report *r, int level, int check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd(r, level, check, fmt, ap);
    va_end(ap);
}

/* A record as a C string for the texts (NULs inside become '?' in add). */
static char *txt_copy(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++)
        s[i] = data[i] ? (char)data[i] : '?';
    s[len] = '\0';
    return s;
}

static const char *dns_trouble(const struct dns_answer *a)
{
    return a->why ? a->why : dns_status_name(a->status);
}

static int is_dns_error(int status)
{
    return status == DNS_TEMPFAIL || status == DNS_PERMFAIL;
}

/* ---------------------------------------------------------------- SPF */

struct spf_walk {
    struct dns *d;
    struct lint_report *r;
    const char *domain;
    unsigned lookups, voids, queries;
    int broken, tempfail, oom;
    int ptr_warned, macro_warned;
    char path[LINT_SPF_DEPTH][NAME_MAX_LEN]; /* the include/redirect chain being walked */
    size_t depth_now;
    const char *where; /* for on_bad */
};

static void spf_problem(struct spf_walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void spf_problem(struct spf_walk *w, const char *fmt, ...)
{
    char text[LINT_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    w->broken = 1;
    add(w->r, LINT_PROBLEM, LINT_SPF, "%s", text);
}

static int has_macro(const char *s, size_t n)
{
    return memchr(s, '%', n) != NULL;
}

/* Fetch the one SPF record of name as the evaluator selects it. Returns 1
 * with *out (malloc'd), else the spf_record_fetch result; a DNS error is
 * reported here. */
static int spf_fetch(struct spf_walk *w, const char *name, char **out, struct spf_fetched *f)
{
    size_t len;
    w->queries++;
    int got = spf_record_fetch(w->d, name, out, &len, f);
    if (f->oom) {
        w->oom = 1;
        add(w->r, LINT_ERROR, LINT_SPF, "out of memory looking at the SPF record of %s", name);
    } else if (got == SPF_TEMPERROR) {
        w->tempfail = 1;
        add(w->r, LINT_ERROR, LINT_SPF, "could not look up the TXT records of %s: %s", name,
            f->dns_why);
    }
    return got;
}

/* Count a lookup of name (A, AAAA or MX) that a/mx/exists cause, and
 * whether it is void (RFC 7208 section 4.6.4). For a and mx a name with
 * either address family is not void; exists asks only A. */
static void spf_probe(struct spf_walk *w, const char *name, int type, int aaaa_too,
                      const char *term, const char *where)
{
    struct dns_answer a;
    if (w->queries >= LINT_SPF_QUERIES)
        return;
    w->queries++;
    dns_query(w->d, name, type, &a);
    if (a.status == DNS_NODATA && type == DNS_T_A && aaaa_too) {
        dns_answer_free(&a);
        dns_query(w->d, name, DNS_T_AAAA, &a);
    }
    if (is_dns_error(a.status)) {
        add(w->r, LINT_ERROR, LINT_SPF, "could not look up %s (for %s in %s): %s", name, term,
            where, dns_trouble(&a));
        w->tempfail = 1;
    } else if (a.status != DNS_OK) {
        w->voids++;
        add(w->r, LINT_WARNING, LINT_SPF, "%s in %s finds nothing at %s (a void lookup: %s)", term,
            where, name, dns_status_name(a.status));
    } else if (type == DNS_T_MX && a.n > SPF_MX_LIMIT) {
        spf_problem(w,
                    "%s in %s: %s has %zu MX records, more than the %d SPF may look at "
                    "(RFC 7208 section 4.6.4): receivers return permerror; use ip4:/ip6: instead",
                    term, where, name, a.n, SPF_MX_LIMIT);
    }
    dns_answer_free(&a);
}

static void spf_lint(struct spf_walk *w, const char *name, const char *rec, size_t len, int depth);

/* Follow include:target or redirect=target. */
static void spf_follow(struct spf_walk *w, const char *how, const char *target, size_t tlen,
                       const char *where, int depth)
{
    char t[NAME_MAX_LEN];
    if (has_macro(target, tlen)) {
        if (!w->macro_warned++)
            add(w->r, LINT_WARNING, LINT_SPF,
                "%s%.*s in %s uses macros: not followed, its lookups are not counted", how,
                (int)tlen, target, where);
        return;
    }
    if (tlen == 0 || tlen >= sizeof(t)) {
        spf_problem(w, "%s in %s names no valid domain: receivers return permerror", how, where);
        return;
    }
    memcpy(t, target, tlen);
    t[tlen] = '\0';
    if (tlen > 1 && t[tlen - 1] == '.')
        t[tlen - 1] = '\0';
    /* w->path holds the records being linted, outermost first: meeting one
     * of them again is a loop. Meeting a record included elsewhere before is
     * fine, and receivers count its lookups again, so it is walked again. */
    for (size_t i = 0; i < w->depth_now; i++)
        if (strcasecmp(w->path[i], t) == 0) {
            spf_problem(w,
                        "%s%s in %s leads back to a record that includes it (a loop): receivers "
                        "return permerror",
                        how, t, where);
            return;
        }
    if (depth + 1 >= LINT_SPF_DEPTH || w->queries >= LINT_SPF_QUERIES)
        return; /* the lookup count is already far over the limit */
    char *rec = NULL;
    struct spf_fetched f;
    int got = spf_fetch(w, t, &rec, &f);
    if (got == SPF_TEMPERROR)
        return;
    if (got == SPF_NONE) {
        if (f.dns_status != DNS_OK)
            w->voids++;
        spf_problem(w,
                    "%s%s in %s: %s has no SPF record (%s): receivers return permerror for all "
                    "of your mail; fix or remove that term",
                    how, t, where, t,
                    f.dns_status == DNS_OK ? "no v=spf1 TXT record"
                                           : dns_status_name(f.dns_status));
        return;
    }
    if (got == SPF_PERMERROR) {
        spf_problem(w,
                    "%s%s in %s: %s publishes more than one SPF record: receivers return "
                    "permerror",
                    how, t, where, t);
        return;
    }
    strcpy(w->path[w->depth_now++], t);
    spf_lint(w, t, rec, strlen(rec), depth + 1);
    w->depth_now--;
    free(rec);
}

/* A term the evaluator's parser refused (spf_record_parse_each). */
static void spf_on_bad(void *arg, const char *term, size_t tn, int kind, const char *why)
{
    struct spf_walk *w = arg;
    switch (kind) {
    case SPF_BAD_UNKNOWN_MECHANISM:
        spf_problem(w,
                    "unknown mechanism \"%.*s\" in %s: receivers return permerror; the known "
                    "ones are all, include, a, mx, ptr, ip4, ip6, exists",
                    (int)tn, term, w->where);
        break;
    case SPF_BAD_NOT_A_TERM:
        spf_problem(w, "\"%.*s\" in %s is not an SPF term: receivers return permerror", (int)tn,
                    term, w->where);
        break;
    case SPF_BAD_REPEATED_MODIFIER:
        spf_problem(w, "%s: %s: receivers return permerror", w->where, why);
        break;
    default:
        spf_problem(w, "\"%.*s\" in %s is malformed (%s): receivers return permerror", (int)tn,
                    term, w->where, why);
        break;
    }
}

/* Lint one record; depth 0 is the domain's own. */
static void spf_lint(struct spf_walk *w, const char *name, const char *rec, size_t len, int depth)
{
    char where[NAME_MAX_LEN + 32];
    snprintf(where, sizeof(where), "the record of %s", name);
    struct spf_record sr;
    fa_err err;
    w->where = where;
    /* Bad terms are reported by spf_on_bad; the record is then permerror. */
    spf_record_parse_each(rec, len, &sr, spf_on_bad, w, &err);
    const struct spf_term *all = NULL;
    int after_all = 0;
    for (size_t i = 0; i < sr.n; i++) {
        const struct spf_term *st = &sr.t[i];
        if (st->kind == SPF_T_REDIRECT || st->kind == SPF_T_EXP)
            continue;
        if (st->kind == SPF_T_UNKNOWN_MOD) {
            if (depth == 0)
                add(w->r, LINT_WARNING, LINT_SPF, "unknown modifier \"%.*s\" in %s is ignored",
                    (int)st->text_len, st->text, where);
            continue;
        }
        if (all) {
            after_all = 1; /* never evaluated: not counted, not followed */
            continue;
        }
        if (spf_term_counts(st->kind))
            w->lookups++;
        switch (st->kind) {
        case SPF_T_ALL:
            all = st;
            break;
        case SPF_T_INCLUDE:
            spf_follow(w, "include:", st->spec, st->spec_len, where, depth);
            w->where = where;
            break;
        case SPF_T_A:
        case SPF_T_MX: {
            int mx = st->kind == SPF_T_MX;
            const char *mech = mx ? "mx" : "a";
            char target[NAME_MAX_LEN];
            if (st->spec && st->spec_len < sizeof(target) && !has_macro(st->spec, st->spec_len)) {
                memcpy(target, st->spec, st->spec_len);
                target[st->spec_len] = '\0';
                spf_probe(w, target, mx ? DNS_T_MX : DNS_T_A, 1, mech, where);
            } else if (!st->spec) {
                spf_probe(w, name, mx ? DNS_T_MX : DNS_T_A, 1, mech, where);
            }
            break;
        }
        case SPF_T_PTR:
            if (!w->ptr_warned++)
                add(w->r, LINT_WARNING, LINT_SPF,
                    "%s uses ptr, which RFC 7208 section 5.5 says not to use (slow, "
                    "unreliable, some receivers ignore it): list the senders with ip4:/ip6: "
                    "or a/mx instead",
                    where);
            break;
        case SPF_T_EXISTS:
            if (!has_macro(st->spec, st->spec_len) && st->spec_len < NAME_MAX_LEN) {
                char target[NAME_MAX_LEN];
                memcpy(target, st->spec, st->spec_len);
                target[st->spec_len] = '\0';
                spf_probe(w, target, DNS_T_A, 0, "exists", where);
            }
            break;
        default: /* ip4, ip6: nothing to look up */
            break;
        }
    }

    if (depth == 0) {
        if (after_all)
            add(w->r, LINT_WARNING, LINT_SPF,
                "terms after \"all\" in %s are never reached: put all last", where);
        if (all && sr.redirect)
            add(w->r, LINT_WARNING, LINT_SPF,
                "redirect= in %s is ignored because the record has all", where);
        if (all) {
            switch (all->qualifier) {
            case '-':
                add(w->r, LINT_OK, LINT_SPF, "ends with -all: mail from other hosts fails SPF");
                break;
            case '~':
                add(w->r, LINT_OK, LINT_SPF,
                    "ends with ~all: mail from other hosts soft-fails SPF (-all is stricter)");
                break;
            case '?':
                add(w->r, LINT_WARNING, LINT_SPF,
                    "ends with ?all (neutral): SPF says nothing about other hosts, so it does "
                    "not protect the domain; end with ~all or -all");
                break;
            default:
                add(w->r, LINT_WARNING, LINT_SPF,
                    "ends with +all: every host on the Internet passes SPF for %s; end with "
                    "~all or -all",
                    w->domain);
                break;
            }
        } else if (!sr.redirect) {
            add(w->r, LINT_WARNING, LINT_SPF,
                "no \"all\" at the end: mail from other hosts gets neutral, which protects "
                "nothing; end the record with ~all or -all");
        }
    }
    if (sr.redirect && !all) {
        w->lookups++;
        spf_follow(w, "redirect=", sr.redirect->spec, sr.redirect->spec_len, where, depth);
        w->where = where;
    }
    spf_record_free(&sr);
}

int lint_spf(struct dns *d, const char *domain, struct lint_report *r, struct lint_spf *out)
{
    memset(out, 0, sizeof(*out));
    if (strlen(domain) >= NAME_MAX_LEN) {
        add(r, LINT_PROBLEM, LINT_SPF, "%.64s... is too long to be a domain name", domain);
        return out->state = LINT_ABSENT;
    }
    struct spf_walk *w = calloc(1, sizeof(*w));
    if (!w) {
        add(r, LINT_ERROR, LINT_SPF, "out of memory");
        return out->state = LINT_UNKNOWN;
    }
    w->d = d;
    w->r = r;
    w->domain = domain;
    char *rec = NULL;
    struct spf_fetched f;
    int got = spf_fetch(w, domain, &rec, &f);
    if (got == SPF_NONE && f.dns_status == DNS_NXDOMAIN)
        add(r, LINT_PROBLEM, LINT_SPF, "%s does not exist in DNS (NXDOMAIN)", domain);
    else if (got == SPF_NONE)
        add(r, LINT_PROBLEM, LINT_SPF,
            "no SPF record at %s: publish one TXT record such as \"v=spf1 mx -all\" listing "
            "the hosts that send its mail",
            domain);
    else if (got == SPF_PERMERROR)
        add(r, LINT_PROBLEM, LINT_SPF,
            "%s has more than one v=spf1 TXT record: receivers return permerror; merge them "
            "into one",
            domain);
    if (got != 1) {
        free(w);
        out->state = got == SPF_NONE        ? LINT_ABSENT
                     : got == SPF_PERMERROR ? LINT_BROKEN
                                            : LINT_UNKNOWN;
        return out->state;
    }
    strcpy(w->path[w->depth_now++], domain);
    add(r, LINT_OK, LINT_SPF, "one record at %s: %s", domain, rec);
    spf_lint(w, domain, rec, strlen(rec), 0);
    free(rec);
    if (w->lookups > SPF_LOOKUP_LIMIT) {
        w->broken = 1;
        add(r, LINT_PROBLEM, LINT_SPF,
            "%u DNS lookups (include, a, mx, ptr, exists, redirect, counting nested includes) "
            "exceed the limit of %d (RFC 7208 section 4.6.4): receivers return permerror; "
            "replace includes with ip4:/ip6: terms or drop the ones you do not need",
            w->lookups, SPF_LOOKUP_LIMIT);
    } else if (!w->tempfail && !w->oom) {
        add(r, LINT_OK, LINT_SPF, "%u of at most %d DNS lookups", w->lookups, SPF_LOOKUP_LIMIT);
    }
    if (w->voids > SPF_VOID_LIMIT) {
        w->broken = 1;
        add(r, LINT_PROBLEM, LINT_SPF,
            "%u lookups find nothing (void lookups; at most %d allowed, RFC 7208 section "
            "4.6.4): receivers return permerror; remove the terms that name missing hosts",
            w->voids, SPF_VOID_LIMIT);
    }
    out->lookups = w->lookups;
    out->voids = w->voids;
    out->state = w->broken ? LINT_BROKEN : w->tempfail || w->oom ? LINT_UNKNOWN : LINT_USABLE;
    free(w);
    return out->state;
}

/* -------------------------------------------------------------- DMARC */

#define DMARC_SPECS_MAX 64 /* tag-specs looked at per record; more are not advised on */

static int name_is(const struct dmarc_spec *s, const char *name)
{
    return s->name && s->name_len == strlen(name) && strncasecmp(s->name, name, s->name_len) == 0;
}

static void bad_value(struct lint_report *r, const struct dmarc_spec *s)
{
    const char *what = "is not valid", *fix = "see RFC 7489 section 6.3";
    if (name_is(s, "p") || name_is(s, "sp") || name_is(s, "np")) {
        what = "is not a policy";
        fix = "use none, quarantine or reject";
    } else if (name_is(s, "adkim") || name_is(s, "aspf")) {
        fix = "use r (relaxed, the default) or s (strict)";
    } else if (name_is(s, "pct")) {
        what = "is not a number from 0 to 100";
        fix = "receivers use 100";
    } else if (name_is(s, "fo")) {
        fix = "use 0, 1, d, s or a list like 1:d";
    } else if (name_is(s, "ri")) {
        what = "is not a number of seconds";
        fix = "receivers use 86400";
    } else if (name_is(s, "rf")) {
        fix = "use afrf";
    } else if (name_is(s, "psd")) {
        fix = "use y, n or u";
    } else if (name_is(s, "t")) {
        fix = "use y or n";
    }
    add(r, LINT_PROBLEM, LINT_DMARC, "%.*s=%.*s %s: receivers ignore the tag; %s", (int)s->name_len,
        s->name, (int)s->value_len, s->value, what, fix);
}

/* Is sub equal to dom or below it? */
static int under(const char *sub, size_t sn, const char *dom)
{
    size_t dn = strlen(dom);
    if (sn == dn)
        return strncasecmp(sub, dom, dn) == 0;
    return sn > dn && sub[sn - dn - 1] == '.' && strncasecmp(sub + sn - dn, dom, dn) == 0;
}

/* May reports for record_domain go to rd (RFC 7489 section 7.1)? A
 * warning when not, an error finding when that could not be looked up. */
static void check_destination(struct dns *d, int mode, struct lint_report *r, const char *tag,
                              const char *uri, const char *rd, const char *record_domain)
{
    if (under(rd, strlen(rd), record_domain))
        return;
    char org1[DMARC_DOMAIN_MAX], org2[DMARC_DOMAIN_MAX];
    if (dmarc_org_domain(d, mode, rd, org1, sizeof(org1)) == 0 &&
        dmarc_org_domain(d, mode, record_domain, org2, sizeof(org2)) == 0 &&
        strcmp(org1, org2) == 0)
        return; /* the same Organizational Domain: no authorization needed */
    char q[2 * NAME_MAX_LEN + 32];
    snprintf(q, sizeof(q), "%s._report._dmarc.%s", record_domain, rd);
    struct dns_answer a;
    dns_query(d, q, DNS_T_TXT, &a);
    int authorized = 0;
    for (size_t i = 0; a.status == DNS_OK && i < a.n; i++) {
        struct dmarc_record x;
        if (dmarc_parse_record((const char *)a.rr[i].data, a.rr[i].len, mode, &x, NULL) == 0)
            authorized = 1;
    }
    if (is_dns_error(a.status))
        add(r, LINT_ERROR, LINT_DMARC, "could not look up %s: %s", q, dns_trouble(&a));
    else if (!authorized)
        add(r, LINT_WARNING, LINT_DMARC,
            "%s=%s: %s has not agreed to receive reports for %s (no TXT \"v=DMARC1\" at %s, "
            "RFC 7489 section 7.1), so none will be sent there",
            tag, uri, rd, record_domain, q);
    dns_answer_free(&a);
}

/* The URIs of one rua= or ruf= tag-spec, as the parser counts them. */
static void check_uris(struct dns *d, int mode, struct lint_report *r, const struct dmarc_spec *s,
                       const char *record_domain)
{
    char tag[8];
    snprintf(tag, sizeof(tag), "%.*s", (int)s->name_len, s->name);
    size_t pos = 0, un;
    char uri[DMARC_URILIST_MAX];
    int ok;
    while ((ok = dmarc_uri_next(s->value, s->value_len, &pos, uri, sizeof(uri), &un)) >= 0) {
        if (un == 0)
            continue; /* an empty item ("a,,b" or a trailing comma) */
        if (!ok) {
            add(r, LINT_PROBLEM, LINT_DMARC,
                "%s=%s is not a URI: receivers ignore it; write mailto:ADDRESS", tag, uri);
            continue;
        }
        if (strncasecmp(uri, "mailto:", 7) != 0) {
            add(r, LINT_WARNING, LINT_DMARC,
                "%s=%s: receivers send reports only to mailto: addresses", tag, uri);
            continue;
        }
        /* mailto:local@domain[!size]: the address must be usable. */
        const char *addr = uri + 7;
        char *bang = strchr(addr, '!');
        size_t an = bang ? (size_t)(bang - addr) : strlen(addr);
        const char *at = memchr(addr, '@', an);
        const char *rd = at ? at + 1 : NULL;
        size_t rdn = at ? an - (size_t)(rd - addr) : 0;
        if (!at || at == addr || rdn == 0 || !memchr(rd, '.', rdn) || rdn >= NAME_MAX_LEN) {
            add(r, LINT_PROBLEM, LINT_DMARC,
                "%s=%s is not a valid mailto: address: reports cannot be sent", tag, uri);
            continue;
        }
        char dom[NAME_MAX_LEN];
        memcpy(dom, rd, rdn);
        dom[rdn] = '\0';
        if (d)
            check_destination(d, mode, r, tag, uri, dom, record_domain);
    }
}

void lint_dmarc_record(struct dns *d, int mode, const char *txt, size_t len,
                       const char *record_domain, struct lint_report *r)
{
    struct dmarc_spec specs[DMARC_SPECS_MAX], other[DMARC_SPECS_MAX];
    size_t n = 0, no = 0;
    struct dmarc_record rec, orec;
    const char *why = NULL;
    if (dmarc_parse_record_specs(txt, len, mode, &rec, &why, specs, DMARC_SPECS_MAX, &n) < 0) {
        add(r, LINT_PROBLEM, LINT_DMARC, "not a DMARC record (%s): receivers ignore it", why);
        return;
    }
    /* The other document's view, for the values of its own tags. */
    int omode = mode == DMARC_MODE_RFC9989 ? DMARC_MODE_RFC7489 : DMARC_MODE_RFC9989;
    dmarc_parse_record_specs(txt, len, omode, &orec, NULL, other, DMARC_SPECS_MAX, &no);
    if (n > DMARC_SPECS_MAX)
        n = DMARC_SPECS_MAX;
    if (no > DMARC_SPECS_MAX)
        no = DMARC_SPECS_MAX;
    int p_seen = 0, rua_seen = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dmarc_spec *s = &specs[i];
        switch (s->status) {
        case DMARC_SPEC_MALFORMED:
            add(r, LINT_PROBLEM, LINT_DMARC,
                "\"%.*s\" is not a tag=value pair: receivers ignore it", (int)s->text_len, s->text);
            break;
        case DMARC_SPEC_UNKNOWN:
            add(r, LINT_WARNING, LINT_DMARC, "unknown tag \"%.*s\" is ignored by receivers",
                (int)s->name_len, s->name);
            break;
        case DMARC_SPEC_OTHER_MODE:
            /* Same position in the other parse: specs are split the same way. */
            if (i < no && other[i].status == DMARC_SPEC_BAD_VALUE)
                bad_value(r, &other[i]);
            else if (name_is(s, "pct") && i < no && other[i].status == DMARC_SPEC_USED &&
                     orec.pct < 100)
                add(r, LINT_WARNING, LINT_DMARC,
                    "pct=%.*s: RFC 9989 (dmarc_mode rfc9989) has no pct=, so receivers that "
                    "follow it apply the policy to all failing mail",
                    (int)s->value_len, s->value);
            break;
        case DMARC_SPEC_REPEATED:
            add(r, LINT_WARNING, LINT_DMARC,
                "%.*s= is given more than once: receivers use the first one and ignore "
                "\"%.*s\"",
                (int)s->name_len, s->name, (int)s->text_len, s->text);
            break;
        case DMARC_SPEC_BAD_VALUE:
            bad_value(r, s);
            break;
        default:
            break;
        }
        if (s->status == DMARC_SPEC_USED || s->status == DMARC_SPEC_BAD_VALUE) {
            if (name_is(s, "p")) {
                if (i > 0)
                    add(r, LINT_WARNING, LINT_DMARC,
                        "p= should come right after v=DMARC1 (RFC 7489 section 6.3)");
                p_seen = 1;
            } else if (name_is(s, "rua") || name_is(s, "ruf")) {
                rua_seen |= name_is(s, "rua");
                check_uris(d, mode, r, s, record_domain);
            }
        }
    }
    if (!p_seen && mode == DMARC_MODE_RFC7489)
        add(r, LINT_PROBLEM, LINT_DMARC,
            "no p= tag: write p=none, p=quarantine or p=reject right after v=DMARC1 "
            "(RFC 7489 section 6.3)");
    else if (!p_seen)
        add(r, LINT_WARNING, LINT_DMARC,
            "no p= tag: receivers read it as p=none (RFC 9989 section 4.7); write p= right "
            "after v=DMARC1");
    if (mode == DMARC_MODE_RFC7489 && rec.pct < 100)
        add(r, LINT_WARNING, LINT_DMARC,
            "pct=%u: the policy applies to only %u%% of failing mail (and DMARCbis, "
            "RFC 9989, drops pct); raise it to 100 when you can",
            rec.pct, rec.pct);
    if (!rua_seen)
        add(r, LINT_WARNING, LINT_DMARC,
            "no rua=: you get no aggregate reports, so you cannot see who sends mail as you; "
            "add rua=mailto:ADDRESS");
}

/* TXT records at _dmarc.<name> that are not DMARC records: say why. */
static void explain_non_dmarc(struct dns *d, int mode, struct lint_report *r, const char *name)
{
    char q[NAME_MAX_LEN + 8];
    snprintf(q, sizeof(q), "_dmarc.%s", name);
    struct dns_answer a;
    dns_query(d, q, DNS_T_TXT, &a);
    for (size_t i = 0; a.status == DNS_OK && i < a.n; i++) {
        struct dmarc_record x;
        const char *why = "";
        if (dmarc_parse_record((const char *)a.rr[i].data, a.rr[i].len, mode, &x, &why) == 0)
            continue;
        char *t = txt_copy(a.rr[i].data, a.rr[i].len);
        add(r, LINT_PROBLEM, LINT_DMARC,
            "the TXT record \"%s\" at %s is not a DMARC record (%s): receivers ignore it",
            t ? t : "?", q, why);
        free(t);
    }
    dns_answer_free(&a);
}

static const char *policy_verb(int policy)
{
    return policy == DMARC_POLICY_REJECT ? "reject" : "quarantine";
}

int lint_dmarc(struct dns *d, int mode, const char *domain, struct lint_report *r,
               struct lint_dmarc *out)
{
    memset(out, 0, sizeof(*out));
    out->policy = DMARC_POLICY_ABSENT;
    struct dmarc_discovery *disc = malloc(sizeof(*disc));
    struct dmarc_result *res = malloc(sizeof(*res));
    if (!disc || !res) {
        free(disc);
        free(res);
        add(r, LINT_ERROR, LINT_DMARC, "out of memory");
        out->result = DMARC_TEMPERROR;
        return out->state = LINT_UNKNOWN;
    }
    dmarc_discover(d, mode, domain, disc);
    dmarc_evaluate_discovered(d, disc, NULL, res);
    out->result = res->result;
    snprintf(out->record_domain, sizeof(out->record_domain), "%s", res->record_domain);
    snprintf(out->org_domain, sizeof(out->org_domain), "%s", res->org_domain);

    int temp_said = 0, several = 0;
    for (size_t i = 0; i < disc->nasked; i++) {
        const struct dmarc_asked *a = &disc->asked[i];
        if (a->status == DMARC_ASK_TEMPERROR) {
            add(r, LINT_ERROR, LINT_DMARC, "could not look up _dmarc.%s: %s", a->name, a->dns_why);
            temp_said = 1;
        } else if (a->status == DMARC_ASK_SEVERAL) {
            several = 1;
            add(r, LINT_PROBLEM, LINT_DMARC,
                "_dmarc.%s has %zu v=DMARC1 records: receivers ignore them all%s; keep one",
                a->name, a->count, mode == DMARC_MODE_RFC7489 ? " and apply no DMARC policy" : "");
        }
    }

    if (!disc->found) {
        if (res->result == DMARC_TEMPERROR) {
            if (!temp_said)
                add(r, LINT_ERROR, LINT_DMARC, "could not look up the DMARC record of %s: %s",
                    domain, res->reason);
            out->state = LINT_UNKNOWN;
        } else {
            /* Records meant as DMARC that are not: at the domain and its
             * Organizational Domain. */
            for (size_t i = 0; i < disc->nasked; i++)
                if (disc->asked[i].status == DMARC_ASK_NONE &&
                    disc->asked[i].dns_status == DNS_OK &&
                    (strcmp(disc->asked[i].name, disc->from_domain) == 0 ||
                     strcmp(disc->asked[i].name, disc->org_domain) == 0))
                    explain_non_dmarc(d, mode, r, disc->asked[i].name);
            if (!several) {
                char also[2 * NAME_MAX_LEN];
                also[0] = '\0';
                if (mode == DMARC_MODE_RFC9989)
                    snprintf(also, sizeof(also),
                             " or at any parent up to the top-level domain (RFC 9989 DNS Tree "
                             "Walk)");
                else if (!disc->from_is_org && disc->org_domain[0])
                    snprintf(also, sizeof(also), " or at _dmarc.%s, its Organizational Domain",
                             disc->org_domain);
                add(r, LINT_PROBLEM, LINT_DMARC,
                    "no DMARC record at _dmarc.%s%s: receivers apply no policy and send no "
                    "reports; publish TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\" to "
                    "start, then tighten p=",
                    domain, also, domain);
            }
            out->state = LINT_ABSENT;
        }
        goto done;
    }

    /* A record at the domain itself meant as DMARC that is not one. */
    if (strcmp(disc->record_domain, disc->from_domain) != 0 && disc->nasked > 0 &&
        strcmp(disc->asked[0].name, disc->from_domain) == 0 &&
        disc->asked[0].status == DMARC_ASK_NONE && disc->asked[0].dns_status == DNS_OK)
        explain_non_dmarc(d, mode, r, disc->from_domain);
    char *rec = txt_copy((const uint8_t *)disc->txt, disc->txtlen);
    if (strcmp(disc->record_domain, disc->from_domain) == 0)
        add(r, LINT_OK, LINT_DMARC, "one record at _dmarc.%s: %s", disc->record_domain,
            rec ? rec : "?");
    else
        add(r, LINT_OK, LINT_DMARC,
            "no record at _dmarc.%s; receivers use the one at _dmarc.%s (%s; its sp=, or p=, "
            "applies): %s",
            domain, disc->record_domain,
            strcmp(disc->record_domain, disc->org_domain) == 0 ? "the Organizational Domain"
                                                               : "a public suffix domain",
            rec ? rec : "?");
    free(rec);

    /* The verdict, as dmarc_evaluate gives it for mail that fails. */
    struct dmarc_record pr;
    dmarc_parse_record(disc->txt, disc->txtlen, mode, &pr, NULL);
    int bad = pr.p_invalid || pr.sp_invalid || pr.np_invalid ||
              (mode == DMARC_MODE_RFC7489 && pr.p == DMARC_POLICY_ABSENT);
    const char *tag = res->policy_source == DMARC_FROM_SP   ? "sp"
                      : res->policy_source == DMARC_FROM_NP ? "np"
                                                            : "p";
    if (res->result == DMARC_PERMERROR) {
        add(r, LINT_PROBLEM, LINT_DMARC,
            "with p= missing or invalid (or sp=, np= invalid) and no valid rua=, the record is "
            "unusable: receivers apply no policy (permerror, RFC 7489 section 6.6.3)");
        out->state = LINT_BROKEN;
    } else if (res->result == DMARC_TEMPERROR) {
        add(r, LINT_ERROR, LINT_DMARC, "could not finish the DMARC check of %s: %s", domain,
            res->reason);
        out->state = LINT_UNKNOWN;
    } else {
        out->state = LINT_USABLE;
        out->policy = res->policy;
        out->policy_source = res->policy_source;
        out->as_none = bad;
        if (bad)
            add(r, LINT_PROBLEM, LINT_DMARC,
                "because p= is missing or invalid (or sp=, np= invalid), receivers read the "
                "record as \"v=DMARC1; p=none\" (RFC 7489 section 6.6.3): it protects nothing "
                "until that is fixed");
        else if (res->policy == DMARC_POLICY_NONE)
            add(r, LINT_WARNING, LINT_DMARC,
                "%s=none asks receivers to do nothing with mail from %s that fails DMARC: it "
                "offers no protection against spoofing; move to quarantine, then reject, once "
                "the reports show your own mail passes",
                tag, domain);
        else if (strcmp(disc->record_domain, disc->from_domain) == 0)
            add(r, LINT_OK, LINT_DMARC, "p=%s: receivers %s mail that fails DMARC",
                dmarc_policy_name(res->policy), policy_verb(res->policy));
        else
            add(r, LINT_OK, LINT_DMARC,
                "%s=%s of _dmarc.%s applies: receivers %s mail from %s that fails DMARC", tag,
                dmarc_policy_name(res->policy), disc->record_domain, policy_verb(res->policy),
                domain);
        if (!bad && mode == DMARC_MODE_RFC9989 && pr.testing && res->policy != DMARC_POLICY_NONE)
            add(r, LINT_WARNING, LINT_DMARC,
                "t=y (testing): receivers apply one step less than %s (RFC 9989 section 4.7); "
                "remove t=y when the reports look right",
                dmarc_policy_name(res->policy));
    }
    /* Advice on the record's tags. */
    lint_dmarc_record(d, mode, disc->txt, disc->txtlen, disc->record_domain, r);
done:
    dmarc_discovery_free(disc);
    free(disc);
    free(res);
    return out->state;
}

/* --------------------------------------------------------------- DKIM */

/* Tags of a key record (RFC 6376 section 3.6.1); names are case-sensitive. */
static const char *const dkim_key_tags[] = {"v", "h", "k", "n", "p", "s", "t", NULL};

static int known_key_tag(const char *name, size_t n)
{
    for (const char *const *k = dkim_key_tags; *k; k++)
        if (strlen(*k) == n && memcmp(*k, name, n) == 0)
            return 1;
    return 0;
}

static void unknown_key_tags(struct lint_report *r, const char *name, const char *txt, size_t len)
{
    struct tag_list l;
    if (tags_parse(txt, len, &l, NULL) < 0)
        return;
    for (size_t i = 0; i < l.n; i++) {
        const struct tag *t = &l.t[i];
        if (known_key_tag(t->name, t->name_len))
            continue;
        char lower[8] = "";
        if (t->name_len < sizeof(lower)) {
            for (size_t k = 0; k < t->name_len; k++)
                lower[k] =
                    (char)((t->name[k] >= 'A' && t->name[k] <= 'Z') ? t->name[k] + 32 : t->name[k]);
            lower[t->name_len] = '\0';
        }
        if (lower[0] && known_key_tag(lower, t->name_len))
            add(r, LINT_WARNING, LINT_DKIM,
                "%s: unknown tag \"%.*s\" is ignored by verifiers: tag names are case-sensitive, "
                "write %s=",
                name, (int)t->name_len, t->name, lower);
        else
            add(r, LINT_WARNING, LINT_DKIM, "%s: unknown tag \"%.*s\" is ignored by verifiers",
                name, (int)t->name_len, t->name);
    }
}

int lint_dkim_record(const char *txt, size_t len, const char *name, const char *selector,
                     const struct fa_key *mine, const char *mine_name, struct lint_report *r,
                     struct lint_dkim *out)
{
    memset(out, 0, sizeof(*out));
    out->key_type = -1;
    out->matches = -1;
    struct dkim_key_info info;
    const char *why = "";
    fa_err perr = {{0}};
    struct fa_key *pub = dkim_key_record_read(txt, len, -1, &info, &why, &perr);
    unknown_key_tags(r, name, txt, len);
    switch (info.problem) {
    case DKIM_KEY_OK:
        break;
    case DKIM_KEY_SYNTAX:
        add(r, LINT_PROBLEM, LINT_DKIM,
            "the record at %s is malformed (%s): signatures with s=%s fail", name, why, selector);
        break;
    case DKIM_KEY_VERSION:
        add(r, LINT_PROBLEM, LINT_DKIM,
            "%s: v= must be first and say DKIM1 (RFC 6376 section 3.6.1); verifiers ignore "
            "this record",
            name);
        break;
    case DKIM_KEY_TYPE:
        add(r, LINT_PROBLEM, LINT_DKIM,
            "%s: k=%.*s is not a key type verifiers know: use rsa or ed25519", name,
            (int)info.k_len, info.k);
        break;
    case DKIM_KEY_HASH:
        add(r, LINT_PROBLEM, LINT_DKIM,
            "%s: h=%.*s leaves out sha256, the only hash verifiers accept (RFC 8301); remove "
            "h= or write h=sha256",
            name, (int)info.h_len, info.h);
        break;
    case DKIM_KEY_SERVICE:
        add(r, LINT_PROBLEM, LINT_DKIM, "%s: s=%.*s excludes email: remove s= or write s=email",
            name, (int)info.s_len, info.s);
        break;
    case DKIM_KEY_NO_P:
        add(r, LINT_PROBLEM, LINT_DKIM, "%s has no p= tag: it publishes no key", name);
        break;
    case DKIM_KEY_REVOKED:
        add(r, LINT_PROBLEM, LINT_DKIM,
            "%s has an empty p=: the key is revoked and signatures with s=%s fail; publish a "
            "new key or stop signing with this selector",
            name, selector);
        break;
    default: /* DKIM_KEY_BAD_P; DKIM_KEY_ALG cannot happen for alg -1 */
        add(r, LINT_PROBLEM, LINT_DKIM, "%s: p= holds no usable %s key: %s", name,
            info.type == KEY_ED25519 ? "Ed25519" : "RSA", perr.msg[0] ? perr.msg : why);
        break;
    }
    if (!pub) {
        out->state = LINT_BROKEN;
        return out->state;
    }
    out->state = LINT_USABLE;
    out->key_type = info.type;
    out->bits = info.bits;
    out->testing = info.testing;
    if (info.testing)
        add(r, LINT_WARNING, LINT_DKIM,
            "%s: t=y marks the key as testing: receivers may treat its signatures as absent; "
            "remove t=y when signing works",
            name);
    if (info.type == KEY_RSA && info.bits < 2048)
        add(r, LINT_WARNING, LINT_DKIM,
            "%s: the RSA key has only %u bits: some receivers distrust keys under 2048 bits; "
            "make a new key with 'fwdauth dkim keygen -b 2048'",
            name, info.bits);
    else
        add(r, LINT_OK, LINT_DKIM, "%s publishes %s key of %u bits", name,
            info.type == KEY_RSA ? "an RSA" : "an Ed25519", info.bits);
    if (mine) {
        out->matches = key_public_equal(pub, mine);
        if (out->matches) {
            add(r, LINT_OK, LINT_DKIM, "%s matches the private key in %s", name, mine_name);
        } else {
            char want[4096];
            int wn = key_dns_record(mine, want, sizeof(want));
            add(r, LINT_PROBLEM, LINT_DKIM,
                "%s does not match the private key in %s: signatures made with it fail; "
                "publish \"%s\"",
                name, mine_name, wn > 0 ? want : "(the key's record)");
        }
    }
    key_free(pub);
    return out->state;
}

int lint_dkim(struct dns *d, const char *domain, const char *selector, const struct fa_key *mine,
              const char *mine_name, struct lint_report *r, struct lint_dkim *out)
{
    memset(out, 0, sizeof(*out));
    out->key_type = -1;
    out->matches = -1;
    char q[2 * NAME_MAX_LEN + 16];
    snprintf(q, sizeof(q), "%s._domainkey.%s", selector, domain);
    struct dns_answer *a = malloc(sizeof(*a));
    if (!a) {
        add(r, LINT_ERROR, LINT_DKIM, "out of memory");
        return out->state = LINT_UNKNOWN;
    }
    dns_query(d, q, DNS_T_TXT, a);
    if (is_dns_error(a->status)) {
        add(r, LINT_ERROR, LINT_DKIM, "could not look up %s: %s", q, dns_trouble(a));
        out->state = LINT_UNKNOWN;
    } else if (a->status != DNS_OK) {
        add(r, LINT_PROBLEM, LINT_DKIM,
            "no key record at %s (%s): signatures with s=%s fail; publish the line that "
            "'fwdauth dkim keygen' wrote to %s.txt",
            q, dns_status_name(a->status), selector, selector);
        out->state = LINT_ABSENT;
    } else {
        /* The verifier uses the first record that reads as a usable key
         * (dkim_key_fetch): lint that one, or each when none is. */
        size_t use = a->n;
        for (size_t i = 0; i < a->n && use == a->n; i++) {
            struct dkim_key_info info;
            struct fa_key *k = dkim_key_record_read((const char *)a->rr[i].data, a->rr[i].len, -1,
                                                    &info, NULL, NULL);
            if (k)
                use = i;
            key_free(k);
        }
        if (a->n > 1)
            add(r, LINT_WARNING, LINT_DKIM,
                "%s has %zu TXT records: %s; other verifiers may pick any of them, keep only "
                "the key record",
                q, a->n,
                use < a->n ? "fwdauth uses the first one that holds a usable key"
                           : "none holds a usable key");
        out->state = LINT_BROKEN;
        for (size_t i = 0; i < a->n; i++) {
            if (use < a->n && i != use)
                continue;
            struct lint_dkim one;
            lint_dkim_record((const char *)a->rr[i].data, a->rr[i].len, q, selector, mine,
                             mine_name, r, &one);
            if (one.state == LINT_USABLE)
                *out = one;
        }
    }
    dns_answer_free(a);
    free(a);
    return out->state;
}

/* ----------------------------------------------------------------- MX */

/* Does name have an address (A, else AAAA)? 1 yes, 0 no, -1 the lookup
 * failed (then *why says why). */
static int has_address(struct dns *d, const char *name, const char **why)
{
    static const int types[] = {DNS_T_A, DNS_T_AAAA};
    int failed = 0;
    for (size_t i = 0; i < 2; i++) {
        struct dns_answer a;
        dns_query(d, name, types[i], &a);
        int st = a.status;
        if (is_dns_error(st)) {
            failed = 1;
            *why = a.why ? a.why : dns_status_name(st);
        }
        dns_answer_free(&a);
        if (st == DNS_OK)
            return 1;
    }
    return failed ? -1 : 0;
}

int lint_mx(struct dns *d, const char *domain, struct lint_report *r, struct lint_mx *out)
{
    memset(out, 0, sizeof(*out));
    struct dns_answer *a = malloc(sizeof(*a));
    if (!a) {
        add(r, LINT_ERROR, LINT_MX, "out of memory");
        return out->state = LINT_UNKNOWN;
    }
    dns_query(d, domain, DNS_T_MX, a);
    const char *why = "";
    if (is_dns_error(a->status)) {
        add(r, LINT_ERROR, LINT_MX, "could not look up the MX records of %s: %s", domain,
            dns_trouble(a));
        out->state = LINT_UNKNOWN;
    } else if (a->status == DNS_NXDOMAIN) {
        add(r, LINT_PROBLEM, LINT_MX,
            "%s does not exist in DNS (NXDOMAIN): mail to it cannot be delivered; publish an MX "
            "record naming the host that receives its mail",
            domain);
        out->state = LINT_ABSENT;
    } else if (a->status != DNS_OK) {
        int has = has_address(d, domain, &why);
        if (has < 0) {
            add(r, LINT_ERROR, LINT_MX, "could not look up the address of %s: %s", domain, why);
            out->state = LINT_UNKNOWN;
        } else if (has) {
            out->implicit = 1;
            out->state = LINT_USABLE;
            add(r, LINT_WARNING, LINT_MX,
                "%s has no MX record: senders deliver to its own address (RFC 5321 implicit "
                "MX); publish an MX record to say so explicitly",
                domain);
        } else {
            add(r, LINT_PROBLEM, LINT_MX,
                "%s has no MX record and no address: mail to it cannot be delivered; publish an "
                "MX record naming the host that receives its mail",
                domain);
            out->state = LINT_ABSENT;
        }
    } else {
        out->n = a->n;
        /* A null MX: one record whose exchange is the root (RFC 7505). */
        if (a->n == 1 && (a->rr[0].len == 0 || strcmp((const char *)a->rr[0].data, ".") == 0)) {
            out->null_mx = 1;
            add(r, LINT_PROBLEM, LINT_MX,
                "%s publishes a null MX (RFC 7505): it accepts no mail, so mail to it (bounces "
                "too) is lost; publish an MX record naming the host that receives its mail",
                domain);
            out->state = LINT_BROKEN;
        } else {
            size_t reachable = 0, asked = 0, failed = 0;
            for (size_t i = 0; i < a->n && asked < LINT_MX_HOSTS; i++) {
                const char *host = (const char *)a->rr[i].data;
                if (!host[0])
                    continue;
                asked++;
                int has = has_address(d, host, &why);
                if (has > 0) {
                    reachable++;
                    add(r, LINT_OK, LINT_MX, "%s: mail goes to %s (preference %u)", domain, host,
                        a->rr[i].pref);
                } else if (has < 0) {
                    failed++;
                    add(r, LINT_ERROR, LINT_MX, "could not look up %s (MX of %s): %s", host, domain,
                        why);
                } else {
                    add(r, LINT_WARNING, LINT_MX,
                        "%s: the MX host %s has no address (A or AAAA): senders skip it", domain,
                        host);
                }
            }
            if (reachable)
                out->state = LINT_USABLE;
            else if (failed)
                out->state = LINT_UNKNOWN;
            else {
                add(r, LINT_PROBLEM, LINT_MX,
                    "none of the MX hosts of %s has an address: mail to it cannot be delivered",
                    domain);
                out->state = LINT_BROKEN;
            }
        }
    }
    dns_answer_free(a);
    free(a);
    return out->state;
}
