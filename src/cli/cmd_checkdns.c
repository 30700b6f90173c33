/* fwdauth check-dns: is a domain's SPF, DMARC and DKIM published right?
 *
 * Fetches the records through dns.h (so --dns-zone answers offline) and says
 * in one line each what is right (ok:), doubtful (warning:) or broken
 * (problem:), with how to fix it; "error:" means a lookup failed for now
 * and nothing could be concluded.
 *
 * The SPF lint parses each term with the spf module's parser
 * (spf_term_parse, so it judges syntax exactly as receivers using
 * libfwdauth do), follows include/redirect through DNS and counts lookups
 * (RFC 7208 section 4.6.4), but evaluates nothing: `fwdauth spf check`
 * evaluates. */
#include "cli.h"
#include "dkimcore.h"
#include "dns.h"
#include "keys.h"
#include "spf.h"
#include "tags.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_SELECTORS 32
#define NAME_MAX_LEN 256
#define LINT_MAX_DEPTH 10   /* SPF_LOOKUP_LIMIT, SPF_VOID_LIMIT: spf.h */
#define SPF_MAX_QUERIES 100 /* our own bound on the walk, far above any valid record */

enum level { L_OK, L_WARNING, L_PROBLEM, L_ERROR };
static const char *const level_names[] = {"ok", "warning", "problem", "error"};

struct finding {
    int level;
    const char *check; /* "spf", "dmarc", "dkim": the JSON "check" */
    char *text;
};

/* How the text output names a check: "SPF", "DMARC", "DKIM". */
static void print_upper(const char *s)
{
    for (; *s; s++)
        putchar(toupper((unsigned char)*s));
}

struct report {
    struct finding *f;
    size_t n, cap;
    size_t count[4];
    int oom;
};

static void add(struct report *r, int level, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(struct report *r, int level, const char *check, const char *fmt, ...)
{
    r->count[level]++;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct finding *f = realloc(r->f, cap * sizeof(*f));
        if (!f) {
            r->oom = 1;
            return;
        }
        r->f = f;
        r->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        r->oom = 1;
        return;
    }
    r->f[r->n++] = (struct finding){level, check, text};
}

/* A TXT answer's text, made printable: control octets (a NUL inside a
 * character-string, say) become '?' so that output stays one line. */
static char *txt_copy(const struct dns_rr *rr)
{
    char *s = malloc(rr->len + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < rr->len; i++) {
        unsigned char c = rr->data[i];
        s[i] = (c < 0x20 || c == 0x7f) && c != '\t' ? '?' : (char)c;
    }
    s[rr->len] = '\0';
    return s;
}

static const char *dns_trouble(const struct dns_answer *a)
{
    return a->why ? a->why : dns_status_name(a->status);
}

/* ---------------------------------------------------------------- SPF */

struct spf_walk {
    struct dns *d;
    struct report *r;
    const char *domain;
    int lookups, voids, queries;
    int tempfail;
    int ptr_warned, macro_warned;
    char path[LINT_MAX_DEPTH][NAME_MAX_LEN]; /* the include/redirect chain being walked */
    size_t depth_now;
};

/* Fetch the one SPF record at name. Returns 1 with *out (malloc'd), 0 none
 * (*status = NXDOMAIN/NODATA/OK without v=spf1), 2 several, -1 temporary
 * failure (reported). */
static int spf_fetch(struct spf_walk *w, const char *name, char **out, int *status)
{
    struct dns_answer a;
    *out = NULL;
    w->queries++;
    dns_query(w->d, name, DNS_T_TXT, &a);
    *status = a.status;
    if (a.status == DNS_TEMPFAIL || a.status == DNS_PERMFAIL) {
        add(w->r, L_ERROR, "spf", "could not look up the TXT records of %s: %s", name,
            dns_trouble(&a));
        w->tempfail = 1;
        dns_answer_free(&a);
        return -1;
    }
    int found = 0;
    for (size_t i = 0; a.status == DNS_OK && i < a.n; i++) {
        if (!spf_is_record((const char *)a.rr[i].data, a.rr[i].len))
            continue;
        if (found++ == 0)
            *out = txt_copy(&a.rr[i]);
    }
    dns_answer_free(&a);
    if (found > 1) {
        free(*out);
        *out = NULL;
        return 2;
    }
    return found;
}

static int has_macro(const char *s, size_t n)
{
    return memchr(s, '%', n) != NULL;
}

/* Count a lookup of name (A, AAAA or MX) that a/mx/exists cause, and
 * whether it is void (RFC 7208 section 4.6.4). */
static void spf_probe(struct spf_walk *w, const char *name, int type, const char *term,
                      const char *where)
{
    struct dns_answer a;
    if (w->queries >= SPF_MAX_QUERIES)
        return;
    w->queries++;
    dns_query(w->d, name, type, &a);
    if (a.status == DNS_NODATA && type == DNS_T_A) {
        dns_answer_free(&a);
        dns_query(w->d, name, DNS_T_AAAA, &a);
    }
    if (a.status == DNS_TEMPFAIL || a.status == DNS_PERMFAIL) {
        add(w->r, L_ERROR, "spf", "could not look up %s (for %s in %s): %s", name, term, where,
            dns_trouble(&a));
        w->tempfail = 1;
    } else if (a.status != DNS_OK) {
        w->voids++;
        add(w->r, L_WARNING, "spf", "%s in %s finds nothing at %s (a void lookup: %s)", term, where,
            name, dns_status_name(a.status));
    } else if (type == DNS_T_MX && a.n > 10) {
        add(w->r, L_PROBLEM, "spf",
            "%s in %s: %s has %zu MX records, more than the 10 SPF may look at "
            "(RFC 7208 section 4.6.4): receivers return permerror; use ip4:/ip6: instead",
            term, where, name, a.n);
    }
    dns_answer_free(&a);
}

static void spf_lint(struct spf_walk *w, const char *name, const char *rec, int depth);

/* Follow include:target or redirect=target. */
static void spf_follow(struct spf_walk *w, const char *how, const char *target, size_t tlen,
                       const char *where, int depth)
{
    char t[NAME_MAX_LEN];
    if (has_macro(target, tlen)) {
        if (!w->macro_warned++)
            add(w->r, L_WARNING, "spf",
                "%s%.*s in %s uses macros: not followed, its lookups are not counted", how,
                (int)tlen, target, where);
        return;
    }
    if (tlen == 0 || tlen >= sizeof(t)) {
        add(w->r, L_PROBLEM, "spf", "%s in %s names no valid domain: receivers return permerror",
            how, where);
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
            add(w->r, L_PROBLEM, "spf",
                "%s%s in %s leads back to a record that includes it (a loop): receivers "
                "return permerror",
                how, t, where);
            return;
        }
    if (depth + 1 >= LINT_MAX_DEPTH || w->queries >= SPF_MAX_QUERIES)
        return; /* the lookup count is already far over the limit */
    char *rec;
    int status;
    int got = spf_fetch(w, t, &rec, &status);
    if (got < 0)
        return;
    if (got == 0) {
        if (status != DNS_OK)
            w->voids++;
        add(w->r, L_PROBLEM, "spf",
            "%s%s in %s: %s has no SPF record (%s): receivers return permerror for all of "
            "your mail; fix or remove that term",
            how, t, where, t, status == DNS_OK ? "no v=spf1 TXT record" : dns_status_name(status));
        return;
    }
    if (got == 2) {
        add(w->r, L_PROBLEM, "spf",
            "%s%s in %s: %s publishes more than one SPF record: receivers return permerror", how, t,
            where, t);
        return;
    }
    strcpy(w->path[w->depth_now++], t);
    spf_lint(w, t, rec, depth + 1);
    w->depth_now--;
    free(rec);
}

/* Lint one record; depth 0 is the domain's own. */
static void spf_lint(struct spf_walk *w, const char *name, const char *rec, int depth)
{
    char where[NAME_MAX_LEN + 32];
    snprintf(where, sizeof(where), "the record of %s", name);
    const char *p = rec + 6; /* after v=spf1 */
    const char *redirect = NULL;
    size_t redirect_len = 0;
    int exp_seen = 0, all_seen = 0, after_all = 0;
    char all_q = 0;

    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *term = p;
        while (*p && *p != ' ')
            p++;
        size_t tn = (size_t)(p - term);
        struct spf_term st;
        int unknown = 0;
        fa_err perr;
        if (spf_term_parse(term, tn, &st, &unknown, &perr) < 0) {
            if (unknown == 1)
                add(w->r, L_PROBLEM, "spf",
                    "unknown mechanism \"%.*s\" in %s: receivers return permerror; the known "
                    "ones are all, include, a, mx, ptr, ip4, ip6, exists",
                    (int)tn, term, where);
            else if (unknown == 2)
                add(w->r, L_PROBLEM, "spf",
                    "\"%.*s\" in %s is not an SPF term: receivers return permerror", (int)tn, term,
                    where);
            else
                add(w->r, L_PROBLEM, "spf",
                    "\"%.*s\" in %s is malformed: receivers return permerror", (int)tn, term,
                    where);
            continue;
        }
        if (st.kind == SPF_T_REDIRECT) {
            if (redirect)
                add(w->r, L_PROBLEM, "spf", "%s has redirect= twice: receivers return permerror",
                    where);
            redirect = st.spec;
            redirect_len = st.spec_len;
            continue;
        }
        if (st.kind == SPF_T_EXP) {
            if (exp_seen++)
                add(w->r, L_PROBLEM, "spf", "%s has exp= twice: receivers return permerror", where);
            continue;
        }
        if (st.kind == SPF_T_UNKNOWN_MOD) {
            if (depth == 0)
                add(w->r, L_WARNING, "spf", "unknown modifier \"%.*s\" in %s is ignored", (int)tn,
                    term, where);
            continue;
        }
        if (all_seen)
            after_all = 1;
        if (spf_term_counts(st.kind))
            w->lookups++;
        switch (st.kind) {
        case SPF_T_ALL:
            if (!all_seen) {
                all_seen = 1;
                all_q = st.qualifier;
            }
            break;
        case SPF_T_INCLUDE:
            spf_follow(w, "include:", st.spec, st.spec_len, where, depth);
            break;
        case SPF_T_A:
        case SPF_T_MX: {
            int mx = st.kind == SPF_T_MX;
            const char *mech = mx ? "mx" : "a";
            char target[NAME_MAX_LEN];
            if (st.spec && st.spec_len < sizeof(target) && !has_macro(st.spec, st.spec_len)) {
                memcpy(target, st.spec, st.spec_len);
                target[st.spec_len] = '\0';
                spf_probe(w, target, mx ? DNS_T_MX : DNS_T_A, mech, where);
            } else if (!st.spec) {
                spf_probe(w, name, mx ? DNS_T_MX : DNS_T_A, mech, where);
            }
            break;
        }
        case SPF_T_PTR:
            if (!w->ptr_warned++)
                add(w->r, L_WARNING, "spf",
                    "%s uses ptr, which RFC 7208 section 5.5 says not to use (slow, "
                    "unreliable, some receivers ignore it): list the senders with ip4:/ip6: "
                    "or a/mx instead",
                    where);
            break;
        case SPF_T_EXISTS:
            if (!has_macro(st.spec, st.spec_len)) {
                char target[NAME_MAX_LEN];
                if (st.spec_len < sizeof(target)) {
                    memcpy(target, st.spec, st.spec_len);
                    target[st.spec_len] = '\0';
                    spf_probe(w, target, DNS_T_A, "exists", where);
                }
            }
            break;
        default: /* ip4, ip6: nothing to look up */
            break;
        }
    }

    if (depth == 0) {
        if (after_all)
            add(w->r, L_WARNING, "spf", "terms after \"all\" in %s are never reached: put all last",
                where);
        if (all_seen && redirect)
            add(w->r, L_WARNING, "spf", "redirect= in %s is ignored because the record has all",
                where);
        if (all_seen) {
            switch (all_q) {
            case '-':
                add(w->r, L_OK, "spf", "ends with -all: mail from other hosts fails SPF");
                break;
            case '~':
                add(w->r, L_OK, "spf",
                    "ends with ~all: mail from other hosts soft-fails SPF (-all is stricter)");
                break;
            case '?':
                add(w->r, L_WARNING, "spf",
                    "ends with ?all (neutral): SPF says nothing about other hosts, so it does "
                    "not protect the domain; end with ~all or -all");
                break;
            default:
                add(w->r, L_WARNING, "spf",
                    "ends with +all: every host on the Internet passes SPF for %s; end with "
                    "~all or -all",
                    w->domain);
                break;
            }
        } else if (!redirect) {
            add(w->r, L_WARNING, "spf",
                "no \"all\" at the end: mail from other hosts gets neutral, which protects "
                "nothing; end the record with ~all or -all");
        }
    }
    if (redirect && !all_seen) {
        w->lookups++;
        spf_follow(w, "redirect=", redirect, redirect_len, where, depth);
    }
}

static void check_spf(struct dns *d, struct report *r, const char *domain)
{
    struct spf_walk *w = calloc(1, sizeof(*w));
    if (!w) {
        r->oom = 1;
        return;
    }
    w->d = d;
    w->r = r;
    w->domain = domain;
    char *rec;
    int status;
    int got = spf_fetch(w, domain, &rec, &status);
    if (got == 0 && status == DNS_NXDOMAIN)
        add(r, L_PROBLEM, "spf", "%s does not exist in DNS (NXDOMAIN)", domain);
    else if (got == 0)
        add(r, L_PROBLEM, "spf",
            "no SPF record at %s: publish one TXT record such as \"v=spf1 mx -all\" listing "
            "the hosts that send its mail",
            domain);
    else if (got == 2)
        add(r, L_PROBLEM, "spf",
            "%s has more than one v=spf1 TXT record: receivers return permerror; merge them "
            "into one",
            domain);
    if (got != 1) {
        free(w);
        return;
    }
    strcpy(w->path[w->depth_now++], domain);
    add(r, L_OK, "spf", "one record at %s: %s", domain, rec);
    spf_lint(w, domain, rec, 0);
    free(rec);
    if (w->lookups > SPF_LOOKUP_LIMIT)
        add(r, L_PROBLEM, "spf",
            "%d DNS lookups (include, a, mx, ptr, exists, redirect, counting nested includes) "
            "exceed the limit of %d (RFC 7208 section 4.6.4): receivers return permerror; "
            "replace includes with ip4:/ip6: terms or drop the ones you do not need",
            w->lookups, SPF_LOOKUP_LIMIT);
    else if (!w->tempfail)
        add(r, L_OK, "spf", "%d of at most %d DNS lookups", w->lookups, SPF_LOOKUP_LIMIT);
    if (w->voids > SPF_VOID_LIMIT)
        add(r, L_PROBLEM, "spf",
            "%d lookups find nothing (void lookups; at most %d allowed, RFC 7208 section "
            "4.6.4): receivers may return permerror; remove the terms that name missing hosts",
            w->voids, SPF_VOID_LIMIT);
    free(w);
}

/* -------------------------------------------------------------- DMARC */

static int is_dmarc1(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= n || s[i] != 'v')
        return 0;
    i++;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= n || s[i] != '=')
        return 0;
    i++;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (n - i < 6 || strncasecmp(s + i, "DMARC1", 6) != 0)
        return 0;
    i += 6;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i == n || s[i] == ';';
}

static int value_in(const struct tag *t, const char *const *list)
{
    for (; *list; list++)
        if (tags_value_is_nocase(t, *list))
            return 1;
    return 0;
}

/* Is sub equal to dom or below it? */
static int under(const char *sub, size_t sn, const char *dom)
{
    size_t dn = strlen(dom);
    if (sn == dn)
        return strncasecmp(sub, dom, dn) == 0;
    return sn > dn && sub[sn - dn - 1] == '.' && strncasecmp(sub + sn - dn, dom, dn) == 0;
}

static void check_report_uris(struct dns *d, struct report *r, const struct tag *t,
                              const char *recdomain)
{
    const char *v = t->value, *end = t->value + t->value_len;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *e = comma ? comma : end;
        const char *s = v;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        const char *u = e;
        while (u > s && (u[-1] == ' ' || u[-1] == '\t'))
            u--;
        size_t n = (size_t)(u - s);
        v = comma ? comma + 1 : end;
        if (n >= 7 && strncasecmp(s, "mailto:", 7) == 0) {
            const char *addr = s + 7;
            const char *bang = memchr(addr, '!', (size_t)(u - addr));
            const char *aend = bang ? bang : u;
            const char *at = memchr(addr, '@', (size_t)(aend - addr));
            int ok =
                at && at > addr && aend - at > 1 && memchr(at + 1, '.', (size_t)(aend - at - 1));
            if (bang) {
                const char *b = bang + 1;
                while (b < u && isdigit((unsigned char)*b))
                    b++;
                if (b == bang + 1 || (b < u && !(strchr("kmgtKMGT", *b) && b + 1 == u)))
                    ok = 0;
            }
            if (!ok) {
                add(r, L_PROBLEM, "dmarc",
                    "%.*s=%.*s is not a valid mailto: address: reports cannot be sent",
                    (int)t->name_len, t->name, (int)n, s);
                continue;
            }
            const char *rd = at + 1;
            size_t rdn = (size_t)(aend - rd);
            if (under(rd, rdn, recdomain) || rdn >= NAME_MAX_LEN)
                continue;
            /* RFC 7489 section 7.1: another domain must agree to take reports. */
            char q[2 * NAME_MAX_LEN + 32];
            snprintf(q, sizeof(q), "%s._report._dmarc.%.*s", recdomain, (int)rdn, rd);
            struct dns_answer a;
            dns_query(d, q, DNS_T_TXT, &a);
            int authorized = 0;
            for (size_t i = 0; a.status == DNS_OK && i < a.n; i++)
                if (is_dmarc1((const char *)a.rr[i].data, a.rr[i].len))
                    authorized = 1;
            if (a.status == DNS_TEMPFAIL || a.status == DNS_PERMFAIL) {
                add(r, L_ERROR, "dmarc", "could not look up %s: %s", q, dns_trouble(&a));
            } else if (!authorized) {
                add(r, L_WARNING, "dmarc",
                    "%.*s=%.*s: %.*s has not agreed to receive reports for %s (no TXT "
                    "\"v=DMARC1\" at %s, RFC 7489 section 7.1), so none will be sent there",
                    (int)t->name_len, t->name, (int)n, s, (int)rdn, rd, recdomain, q);
            }
            dns_answer_free(&a);
        } else if (n > 0 && memchr(s, ':', n)) {
            add(r, L_WARNING, "dmarc",
                "%.*s=%.*s: receivers send reports only to mailto: addresses", (int)t->name_len,
                t->name, (int)n, s);
        } else {
            add(r, L_PROBLEM, "dmarc", "%.*s=%.*s is not a URI: write mailto:ADDRESS",
                (int)t->name_len, t->name, (int)n, s);
        }
    }
}

static void lint_dmarc(struct dns *d, struct report *r, const char *rec, const char *recdomain)
{
    struct tag_list l;
    const char *why;
    if (tags_parse(rec, strlen(rec), &l, &why) < 0) {
        add(r, L_PROBLEM, "dmarc", "the record is malformed (%s): receivers ignore it", why);
        return;
    }
    static const char *const policies[] = {"none", "quarantine", "reject", NULL};
    static const char *const align[] = {"r", "s", NULL};
    static const char *const known[] = {"v",  "p",  "sp", "pct", "rua", "ruf", "adkim", "aspf",
                                        "fo", "rf", "ri", "np",  "psd", "t",   NULL};
    const struct tag *p = tags_find(&l, "p"), *sp = tags_find(&l, "sp"),
                     *pct = tags_find(&l, "pct"), *rua = tags_find(&l, "rua"),
                     *ruf = tags_find(&l, "ruf"), *fo = tags_find(&l, "fo");
    for (size_t i = 0; i < l.n; i++) {
        const char *const *k = known;
        while (*k && !(strlen(*k) == l.t[i].name_len &&
                       strncasecmp(*k, l.t[i].name, l.t[i].name_len) == 0))
            k++;
        if (!*k)
            add(r, L_WARNING, "dmarc", "unknown tag \"%.*s\" is ignored by receivers",
                (int)l.t[i].name_len, l.t[i].name);
    }
    if (!p) {
        add(r, L_PROBLEM, "dmarc",
            "no p= tag: write p=none, p=quarantine or p=reject right after v=DMARC1 "
            "(RFC 7489 section 6.3)");
    } else if (!value_in(p, policies)) {
        add(r, L_PROBLEM, "dmarc",
            "p=%.*s is not a policy: receivers ignore the record; use none, quarantine or "
            "reject",
            (int)p->value_len, p->value);
    } else if (tags_value_is_nocase(p, "none")) {
        add(r, L_WARNING, "dmarc",
            "p=none asks receivers to do nothing with mail that fails DMARC: it offers no "
            "protection against spoofing; move to p=quarantine, then p=reject, once the "
            "reports show your own mail passes");
    } else {
        add(r, L_OK, "dmarc", "p=%.*s: receivers %s mail that fails DMARC", (int)p->value_len,
            p->value, tags_value_is_nocase(p, "reject") ? "reject" : "quarantine");
    }
    if (p && l.n > 1 && &l.t[1] != p)
        add(r, L_WARNING, "dmarc", "p= should come right after v=DMARC1 (RFC 7489 section 6.3)");
    if (sp && !value_in(sp, policies))
        add(r, L_PROBLEM, "dmarc", "sp=%.*s is not a policy: use none, quarantine or reject",
            (int)sp->value_len, sp->value);
    else if (sp && tags_value_is_nocase(sp, "none") && p && !tags_value_is_nocase(p, "none"))
        add(r, L_WARNING, "dmarc",
            "sp=none leaves subdomains unprotected although p=%.*s protects the domain",
            (int)p->value_len, p->value);
    const struct tag *np = tags_find(&l, "np");
    if (np && !value_in(np, policies))
        add(r, L_PROBLEM, "dmarc", "np=%.*s is not a policy: use none, quarantine or reject",
            (int)np->value_len, np->value);
    for (int i = 0; i < 2; i++) {
        const struct tag *a = tags_find(&l, i ? "aspf" : "adkim");
        if (a && !value_in(a, align))
            add(r, L_PROBLEM, "dmarc",
                "%s=%.*s is not valid: use r (relaxed, the default) or s (strict)",
                i ? "aspf" : "adkim", (int)a->value_len, a->value);
    }
    if (pct) {
        int ok = pct->value_len > 0 && pct->value_len <= 3, v = 0;
        for (size_t i = 0; ok && i < pct->value_len; i++) {
            if (!isdigit((unsigned char)pct->value[i]))
                ok = 0;
            else
                v = v * 10 + (pct->value[i] - '0');
        }
        if (!ok || v > 100)
            add(r, L_PROBLEM, "dmarc", "pct=%.*s is not a number from 0 to 100",
                (int)pct->value_len, pct->value);
        else if (v < 100)
            add(r, L_WARNING, "dmarc",
                "pct=%d: the policy applies to only %d%% of failing mail (and DMARCbis, "
                "RFC 9989, drops pct); raise it to 100 when you can",
                v, v);
    }
    if (fo) {
        const char *s = fo->value, *e = fo->value + fo->value_len;
        int ok = 1;
        while (s < e && ok) {
            const char *c = memchr(s, ':', (size_t)(e - s));
            const char *x = c ? c : e;
            while (s < x && (*s == ' ' || *s == '\t'))
                s++;
            const char *y = x;
            while (y > s && (y[-1] == ' ' || y[-1] == '\t'))
                y--;
            ok = y - s == 1 && strchr("01ds", *s);
            s = c ? c + 1 : e;
        }
        if (!ok)
            add(r, L_PROBLEM, "dmarc", "fo=%.*s is not valid: use 0, 1, d, s or a list like 1:d",
                (int)fo->value_len, fo->value);
    }
    if (rua)
        check_report_uris(d, r, rua, recdomain);
    else
        add(r, L_WARNING, "dmarc",
            "no rua=: you get no aggregate reports, so you cannot see who sends mail as you; "
            "add rua=mailto:ADDRESS");
    if (ruf)
        check_report_uris(d, r, ruf, recdomain);
}

static void check_dmarc(struct dns *d, struct report *r, const char *domain)
{
    /* Look at _dmarc.DOMAIN, then up the tree as receivers do when the
     * domain has none (RFC 7489 section 6.6.3, RFC 9989 tree walk), stopping
     * above the last two labels. */
    const char *dom = domain;
    for (int walk = 0; dom && walk < 8; walk++) {
        char q[NAME_MAX_LEN + 8];
        snprintf(q, sizeof(q), "_dmarc.%s", dom);
        struct dns_answer a;
        dns_query(d, q, DNS_T_TXT, &a);
        if (a.status == DNS_TEMPFAIL || a.status == DNS_PERMFAIL) {
            add(r, L_ERROR, "dmarc", "could not look up %s: %s", q, dns_trouble(&a));
            dns_answer_free(&a);
            return;
        }
        size_t found = 0, which = 0;
        for (size_t i = 0; a.status == DNS_OK && i < a.n; i++)
            if (is_dmarc1((const char *)a.rr[i].data, a.rr[i].len)) {
                if (found++ == 0)
                    which = i;
            }
        if (found > 1) {
            add(r, L_PROBLEM, "dmarc",
                "%s has %zu v=DMARC1 records: receivers then apply no DMARC policy at all; "
                "keep one",
                q, found);
            dns_answer_free(&a);
            return;
        }
        if (found == 1) {
            char *rec = txt_copy(&a.rr[which]);
            dns_answer_free(&a);
            if (!rec) {
                r->oom = 1;
                return;
            }
            if (dom == domain)
                add(r, L_OK, "dmarc", "one record at %s: %s", q, rec);
            else
                add(r, L_OK, "dmarc",
                    "no record at _dmarc.%s; receivers use the one at %s (its sp=, or p=, "
                    "applies): %s",
                    domain, q, rec);
            lint_dmarc(d, r, rec, dom);
            free(rec);
            return;
        }
        dns_answer_free(&a);
        const char *dot = strchr(dom, '.');
        dom = dot && strchr(dot + 1, '.') ? dot + 1 : NULL;
    }
    add(r, L_PROBLEM, "dmarc",
        "no DMARC record at _dmarc.%s: receivers apply no policy and send no reports; publish "
        "TXT \"v=DMARC1; p=none; rua=mailto:dmarc-reports@%s\" to start, then tighten p=",
        domain, domain);
}

/* --------------------------------------------------------------- DKIM */

static void check_dkim(struct dns *d, struct report *r, const char *domain, const char *sel,
                       const struct fa_key *mine, const char *keyfile)
{
    char q[2 * NAME_MAX_LEN + 16];
    snprintf(q, sizeof(q), "%s._domainkey.%s", sel, domain);
    struct dns_answer a;
    dns_query(d, q, DNS_T_TXT, &a);
    if (a.status == DNS_TEMPFAIL || a.status == DNS_PERMFAIL) {
        add(r, L_ERROR, "dkim", "could not look up %s: %s", q, dns_trouble(&a));
        dns_answer_free(&a);
        return;
    }
    if (a.status != DNS_OK) {
        add(r, L_PROBLEM, "dkim",
            "no key record at %s (%s): signatures with s=%s fail; publish the line that "
            "'fwdauth dkim keygen' wrote to %s.txt",
            q, dns_status_name(a.status), sel, sel);
        dns_answer_free(&a);
        return;
    }
    if (a.n > 1) {
        add(r, L_PROBLEM, "dkim",
            "%s has %zu TXT records: verifiers may pick any of them; keep only the key record", q,
            a.n);
        dns_answer_free(&a);
        return;
    }
    char *rec = txt_copy(&a.rr[0]);
    dns_answer_free(&a);
    if (!rec) {
        r->oom = 1;
        return;
    }
    struct tag_list l;
    const char *why;
    if (tags_parse(rec, strlen(rec), &l, &why) < 0) {
        add(r, L_PROBLEM, "dkim", "the record at %s is malformed (%s): signatures with s=%s fail",
            q, why, sel);
        free(rec);
        return;
    }
    const struct tag *v = tags_find(&l, "v"), *k = tags_find(&l, "k"), *p = tags_find(&l, "p"),
                     *h = tags_find(&l, "h"), *s = tags_find(&l, "s"), *t = tags_find(&l, "t");
    int type = KEY_RSA, bad = 0;
    if (v && (&l.t[0] != v || !tags_value_is(v, "DKIM1"))) {
        add(r, L_PROBLEM, "dkim",
            "%s: v= must be first and say DKIM1 (RFC 6376 section 3.6.1); verifiers ignore "
            "this record",
            q);
        bad = 1;
    }
    if (k && tags_value_is_nocase(k, "ed25519")) {
        type = KEY_ED25519;
    } else if (k && !tags_value_is_nocase(k, "rsa")) {
        add(r, L_PROBLEM, "dkim", "%s: k=%.*s is not a key type verifiers know: use rsa or ed25519",
            q, (int)k->value_len, k->value);
        bad = 1;
        p = NULL; /* nothing to parse it as */
        type = -1;
    }
    if (h) {
        /* colon-separated list; sha256 must be in it (RFC 8301 section 3.1) */
        int has256 = dkimcore_list_has(h->value, h->value_len, "sha256");
        if (!has256) {
            add(r, L_PROBLEM, "dkim",
                "%s: h=%.*s leaves out sha256, the only hash verifiers accept (RFC 8301); "
                "remove h= or write h=sha256",
                q, (int)h->value_len, h->value);
            bad = 1;
        }
    }
    if (s) {
        int email = dkimcore_list_has(s->value, s->value_len, "*") ||
                    dkimcore_list_has(s->value, s->value_len, "email");
        if (!email) {
            add(r, L_PROBLEM, "dkim", "%s: s=%.*s excludes email: remove s= or write s=email", q,
                (int)s->value_len, s->value);
            bad = 1;
        }
    }
    if (t && dkimcore_list_has(t->value, t->value_len, "y"))
        add(r, L_WARNING, "dkim",
            "%s: t=y marks the key as testing: receivers may treat its signatures as "
            "absent; remove t=y when signing works",
            q);
    struct fa_key *pub = NULL;
    if (!p && type < 0) {
        /* unknown k=: reported above */
    } else if (!p) {
        add(r, L_PROBLEM, "dkim", "%s has no p= tag: it publishes no key", q);
        bad = 1;
    } else {
        char *val = malloc(p->value_len + 1);
        int vn = val ? tags_copy_nows(p, val, p->value_len + 1) : -1;
        fa_err err;
        if (vn == 0) {
            add(r, L_PROBLEM, "dkim",
                "%s has an empty p=: the key is revoked and signatures with s=%s fail; "
                "publish a new key or stop signing with this selector",
                q, sel);
            bad = 1;
        } else if (vn < 0) {
            r->oom = 1;
            bad = 1;
        } else if (!(pub = key_from_dns_p(type, val, (size_t)vn, &err))) {
            add(r, L_PROBLEM, "dkim", "%s: p= holds no usable %s key: %s", q,
                type == KEY_RSA ? "RSA" : "Ed25519", err.msg);
            bad = 1;
        }
        free(val);
    }
    if (pub) {
        if (type == KEY_RSA && key_bits(pub) < 2048)
            add(r, L_WARNING, "dkim",
                "%s: the RSA key has only %u bits: some receivers distrust keys under 2048 "
                "bits; make a new key with 'fwdauth dkim keygen -b 2048'",
                q, key_bits(pub));
        else if (!bad)
            add(r, L_OK, "dkim", "%s publishes %s key of %u bits", q,
                type == KEY_RSA ? "an RSA" : "an Ed25519", key_bits(pub));
        if (mine) {
            if (key_public_equal(pub, mine)) {
                add(r, L_OK, "dkim", "%s matches the private key in %s", q, keyfile);
            } else {
                char want[4096];
                int wn = key_dns_record(mine, want, sizeof(want));
                add(r, L_PROBLEM, "dkim",
                    "%s does not match the private key in %s: signatures made with it fail; "
                    "publish \"%s\"",
                    q, keyfile, wn > 0 ? want : "(the key's record)");
            }
        }
        key_free(pub);
    }
    free(rec);
}

/* ---------------------------------------------------------------- CLI */

static void checkdns_usage(FILE *f)
{
    fprintf(f,
            "usage: fwdauth check-dns DOMAIN [options]\n"
            "\n"
            "Checks that DOMAIN publishes SPF, DMARC and (for each -s) DKIM records\n"
            "that receivers can use, and says how to fix what is wrong: one line per\n"
            "finding, starting \"ok:\", \"warning:\", \"problem:\" or \"error:\" (could not\n"
            "look it up).\n"
            "\n"
            "options:\n"
            "  -s, --selector SEL   check the DKIM key at SEL._domainkey.DOMAIN (repeat\n"
            "                       for several selectors)\n"
            "  -k, --key FILE       private key (PEM): does the published key match it?\n"
            "                       needs -s\n"
            "  --dns-zone FILE      answer DNS from this zone file, not the network\n"
            "  --dns-server ADDR    ask this resolver (ADDR or ADDR@PORT), not /etc/resolv.conf\n"
            "  -c FILE              configuration file (dns_zone_file, dns_server,\n"
            "                       dns_timeout: fwdauthd.conf(5))\n"
            "  --json               one JSON object: domain, status, counts, findings\n"
            "\n"
            "exit status: 0 no problems (warnings allowed), 1 problems found,\n"
            "2 usage error, or a DNS lookup failed so the domain could not be checked\n");
}

static void print_report(const struct report *r, const char *domain, int json, int status)
{
    if (!json) {
        for (size_t i = 0; i < r->n; i++) {
            printf("%s: ", level_names[r->f[i].level]);
            print_upper(r->f[i].check);
            printf(": %s\n", r->f[i].text);
        }
        return;
    }
    static const char *const statuses[] = {"ok", "problems", "error"};
    fputs("{\"domain\":", stdout);
    cli_json_string(stdout, domain, strlen(domain));
    printf(",\"status\":\"%s\",\"problems\":%zu,\"warnings\":%zu,\"errors\":%zu,\"findings\":[",
           statuses[status], r->count[L_PROBLEM], r->count[L_WARNING], r->count[L_ERROR]);
    for (size_t i = 0; i < r->n; i++) {
        printf("%s{\"level\":\"%s\",\"check\":\"%s\",\"text\":", i ? "," : "",
               level_names[r->f[i].level], r->f[i].check);
        cli_json_string(stdout, r->f[i].text, strlen(r->f[i].text));
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

int cmd_check_dns(int argc, char **argv)
{
    enum { OPT_JSON = 256 };
    static const struct option longopts[] = {
        {"selector", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        CLI_DNS_LONGOPTS,
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *selectors[MAX_SELECTORS];
    size_t nsel = 0;
    const char *keyfile = NULL;
    struct cli_dns_args da = {0};
    int json = 0, c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "s:k:c:h", longopts, NULL)) != -1) {
        if (cli_dns_option(&da, c, optarg))
            continue;
        switch (c) {
        case 's':
            if (nsel == MAX_SELECTORS) {
                fprintf(stderr, "fwdauth check-dns: at most %d selectors\n", MAX_SELECTORS);
                return EXIT_TROUBLE;
            }
            if (!*optarg || strlen(optarg) >= NAME_MAX_LEN) {
                fprintf(stderr, "fwdauth check-dns: bad selector \"%s\"\n", optarg);
                return EXIT_TROUBLE;
            }
            selectors[nsel++] = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            checkdns_usage(stdout);
            return EXIT_POSITIVE;
        default:
            checkdns_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, optind >= argc ? "fwdauth check-dns: no domain given\n"
                                       : "fwdauth check-dns: one domain at a time\n");
        checkdns_usage(stderr);
        return EXIT_TROUBLE;
    }
    char domain[NAME_MAX_LEN];
    size_t dl = strlen(argv[optind]);
    if (dl > 0 && argv[optind][dl - 1] == '.')
        dl--;
    if (dl == 0 || dl > 253 || memchr(argv[optind], ' ', dl) || memchr(argv[optind], '/', dl)) {
        fprintf(stderr, "fwdauth check-dns: \"%s\" is not a domain name\n", argv[optind]);
        return EXIT_TROUBLE;
    }
    memcpy(domain, argv[optind], dl);
    domain[dl] = '\0';
    if (keyfile && nsel == 0) {
        fprintf(stderr, "fwdauth check-dns: -k needs the selector (-s) it is published under\n");
        return EXIT_TROUBLE;
    }
    struct fa_config cfg;
    struct dns *d = cli_dns_setup(&da, &cfg);
    if (!d)
        return EXIT_TROUBLE;
    config_free(&cfg);
    fa_err err;
    struct fa_key *mine = NULL;
    if (keyfile && !(mine = key_load_private(keyfile, geteuid(), &err))) {
        fprintf(stderr, "fwdauth check-dns: %s\n", err.msg);
        dns_free(d);
        return EXIT_TROUBLE;
    }
    if (nsel == 0 && !json)
        fprintf(stderr, "fwdauth check-dns: no -s SELECTOR given: DKIM keys not checked\n");

    struct report r = {0};
    check_spf(d, &r, domain);
    check_dmarc(d, &r, domain);
    for (size_t i = 0; i < nsel; i++)
        check_dkim(d, &r, domain, selectors[i], mine, keyfile);
    dns_free(d);
    key_free(mine);

    int status;
    if (r.oom) {
        fprintf(stderr, "fwdauth check-dns: out of memory\n");
        status = EXIT_TROUBLE;
    } else {
        status = r.count[L_ERROR]     ? EXIT_TROUBLE
                 : r.count[L_PROBLEM] ? EXIT_NEGATIVE
                                      : EXIT_POSITIVE;
        print_report(&r, domain, json, status);
        if (status == EXIT_TROUBLE && !json)
            fprintf(stderr,
                    "fwdauth check-dns: %s could not be checked completely: DNS "
                    "lookups failed\n",
                    domain);
    }
    for (size_t i = 0; i < r.n; i++)
        free(r.f[i].text);
    free(r.f);
    return status;
}
