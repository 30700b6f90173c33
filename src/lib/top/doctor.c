/* doctor - is the whole forwarding set-up right? See doctor.h. */
#include "doctor.h"

#include "addr.h"
#include "dmarc.h"
#include "domlist.h"
#include "listenaddr.h"
#include "netint.h"
#include "pfcheck.h"
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_LEN 256 /* a domain name and its NUL */

/* ---------------------------------------------------------------- report */

void doctor_report_init(struct doctor_report *r, struct doctor_finding *f, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->f = f;
    r->max = f ? max : 0;
}

const char *doctor_fix_in_name(int fix_in)
{
    static const char *const names[] = {"", "main.cf", "fwdauthd.conf", "DNS", "shell"};
    return fix_in >= DOCTOR_FIX_NONE && fix_in <= DOCTOR_FIX_SHELL ? names[fix_in] : "";
}

/* One printable line: whatever came from DNS, files or the network. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            *s = '?';
}

static void vformat(char *out, size_t n, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void vformat(char *out, size_t n, const char *fmt, va_list ap)
{
    int k = vsnprintf(out, n, fmt, ap);
    if (k < 0)
        snprintf(out, n, "(unprintable)");
    else if ((size_t)k >= n && n > 4)
        memcpy(out + n - 4, "...", 4);
    one_line(out);
}

static struct doctor_finding *add(struct doctor_report *r, int level, const char *check,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A finding; NULL when the report is full (it is counted all the same). */
static struct doctor_finding *add(struct doctor_report *r, int level, const char *check,
                                  const char *fmt, ...)
{
    r->count[level]++;
    if (r->n >= r->max) {
        r->dropped++;
        return NULL;
    }
    struct doctor_finding *f = &r->f[r->n++];
    memset(f, 0, sizeof(*f));
    f->level = level;
    snprintf(f->check, sizeof(f->check), "%s", check);
    va_list ap;
    va_start(ap, fmt);
    vformat(f->text, sizeof(f->text), fmt, ap);
    va_end(ap);
    return f;
}

static void fix(struct doctor_finding *f, int fix_in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The line to add for finding f (which may be NULL: dropped). */
static void fix(struct doctor_finding *f, int fix_in, const char *fmt, ...)
{
    if (!f)
        return;
    f->fix_in = fix_in;
    va_list ap;
    va_start(ap, fmt);
    vformat(f->fix, sizeof(f->fix), fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- parsers */

void doctor_pairs_free(struct doctor_pairs *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->p[i].name);
        free(p->p[i].value);
    }
    free(p->p);
    p->p = NULL;
    p->n = 0;
}

const char *doctor_pair(const struct doctor_pairs *p, const char *name)
{
    if (!p)
        return NULL;
    for (size_t i = p->n; i-- > 0;)
        if (strcmp(p->p[i].name, name) == 0)
            return p->p[i].value;
    return NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int push(struct doctor_pairs *out, size_t *cap, const char *name, size_t nl,
                const char *value, size_t vl)
{
    if (out->n == DOCTOR_PAIRS_MAX)
        return -1;
    if (out->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct doctor_pair *np = realloc(out->p, nc * sizeof(*np));
        if (!np)
            return -1;
        out->p = np;
        *cap = nc;
    }
    char *n = dup_n(name, nl), *v = dup_n(value, vl);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    out->p[out->n++] = (struct doctor_pair){n, v};
    return 0;
}

/* Append " text" to the last pair's value (a continuation line). */
static int append(struct doctor_pairs *out, const char *s, size_t n)
{
    struct doctor_pair *p = &out->p[out->n - 1];
    size_t have = strlen(p->value);
    if (have + n + 2 > 1024 * 1024)
        return -1;
    char *v = realloc(p->value, have + n + 2);
    if (!v)
        return -1;
    if (have)
        v[have++] = ' ';
    memcpy(v + have, s, n);
    v[have + n] = '\0';
    p->value = v;
    return 0;
}

static int parse_lines(const char *text, size_t len, int postconf, struct doctor_pairs *out,
                       fa_err *err)
{
    size_t cap = 0, lineno = 0;
    out->p = NULL;
    out->n = 0;
    for (size_t off = 0; off < len;) {
        const char *s = text + off;
        const char *nl = memchr(s, '\n', len - off);
        size_t l = nl ? (size_t)(nl - s) : len - off;
        off += l + (nl ? 1 : 0);
        lineno++;
        while (l > 0 && is_blank(s[l - 1]))
            l--;
        if (l == 0)
            continue;
        const char *e = s + l;
        if (is_blank(s[0])) {
            /* postconf -f folds long values; postmap -s never starts a line so. */
            const char *q = s;
            while (q < e && is_blank(*q))
                q++;
            if (!postconf || out->n == 0 || append(out, q, (size_t)(e - q)) < 0)
                goto bad;
            continue;
        }
        const char *q = s;
        if (postconf) {
            /* master.cf service names become parameter names
               (scalemail-backend_delivery_slot_cost in Debian's stock file) */
            while (q < e && !is_blank(*q) && *q != '=')
                q++;
            size_t nlen = (size_t)(q - s);
            while (q < e && is_blank(*q))
                q++;
            if (nlen == 0 || q == e || *q != '=')
                goto bad;
            q++;
            while (q < e && is_blank(*q))
                q++;
            if (push(out, &cap, s, nlen, q, (size_t)(e - q)) < 0)
                goto bad;
        } else {
            while (q < e && !is_blank(*q))
                q++;
            size_t nlen = (size_t)(q - s);
            while (q < e && is_blank(*q))
                q++;
            if (memchr(s, '\0', l) || push(out, &cap, s, nlen, q, (size_t)(e - q)) < 0)
                goto bad;
        }
    }
    return 0;
bad:;
    int full = out->n == DOCTOR_PAIRS_MAX;
    doctor_pairs_free(out);
    if (full)
        return fa_err_set(err, "line %zu: more than %d entries", lineno, DOCTOR_PAIRS_MAX);
    return fa_err_set(err, "line %zu: %s", lineno,
                      postconf ? "not \"name = value\" as postconf prints it (or out of memory)"
                               : "not \"key value\" as postmap -s prints it (or out of memory)");
}

int doctor_postconf_parse(const char *text, size_t len, struct doctor_pairs *out, fa_err *err)
{
    return parse_lines(text, len, 1, out, err);
}

int doctor_postmap_parse(const char *text, size_t len, struct doctor_pairs *out, fa_err *err)
{
    return parse_lines(text, len, 0, out, err);
}

static int list_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int doctor_list_next(const char **list, char *item, size_t itemsz)
{
    const char *p = *list;
    while (*p && list_sep(*p))
        p++;
    if (!*p)
        return 0;
    const char *s = p;
    if (*p == '{') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && --depth == 0) {
                p++;
                break;
            }
        }
    } else {
        while (*p && !list_sep(*p))
            p++;
    }
    *list = p;
    size_t n = (size_t)(p - s);
    if (itemsz) {
        if (n >= itemsz)
            n = itemsz - 1;
        memcpy(item, s, n);
        item[n] = '\0';
    }
    return 1;
}

/* Is item (a domain, case and a final dot aside) in the Postfix list? */
static int list_has(const char *list, const char *domain)
{
    char item[DOCTOR_ITEM_MAX];
    const char *p = list ? list : "";
    while (doctor_list_next(&p, item, sizeof(item)) == 1)
        if (domain_equal(item, strlen(item), domain, strlen(domain)))
            return 1;
    return 0;
}

/* ----------------------------------------------------------- probe replies */

static void copy_value(const char *s, size_t n, char *value, size_t valsz)
{
    if (!valsz)
        return;
    if (n >= valsz)
        n = valsz - 1;
    memcpy(value, s, n);
    value[n] = '\0';
    one_line(value);
}

int doctor_socketmap_reply(const char *buf, size_t len, char *value, size_t valsz)
{
    copy_value("", 0, value, valsz);
    size_t i = 0, n = 0;
    while (i < len && i < 6 && buf[i] >= '0' && buf[i] <= '9')
        n = n * 10 + (size_t)(buf[i++] - '0');
    if (i == 0 || i == len || buf[i] != ':' || n > DOCTOR_REPLY_MAX || len - i - 1 < n + 1 ||
        buf[i + 1 + n] != ',')
        return DOCTOR_REPLY_MALFORMED;
    const char *d = buf + i + 1;
    static const struct {
        const char *word;
        int code;
    } words[] = {{"OK", DOCTOR_REPLY_FOUND},
                 {"NOTFOUND", DOCTOR_REPLY_NOTFOUND},
                 {"TEMP", DOCTOR_REPLY_TEMP},
                 {"PERM", DOCTOR_REPLY_PERM}};
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
        size_t wl = strlen(words[k].word);
        if (n >= wl && memcmp(d, words[k].word, wl) == 0 && (n == wl || d[wl] == ' ')) {
            size_t vo = n > wl ? wl + 1 : wl;
            if (words[k].code == DOCTOR_REPLY_FOUND && n <= vo)
                return DOCTOR_REPLY_MALFORMED; /* "OK" needs a value */
            copy_value(d + vo, n - vo, value, valsz);
            return words[k].code;
        }
    }
    return DOCTOR_REPLY_MALFORMED;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int doctor_tcptable_reply(const char *buf, size_t len, char *value, size_t valsz)
{
    copy_value("", 0, value, valsz);
    const char *nl = memchr(buf, '\n', len);
    if (!nl || len < 4 || buf[3] != ' ')
        return DOCTOR_REPLY_MALFORMED;
    int code;
    if (memcmp(buf, "200", 3) == 0)
        code = DOCTOR_REPLY_FOUND;
    else if (memcmp(buf, "400", 3) == 0)
        code = DOCTOR_REPLY_TEMP;
    else if (memcmp(buf, "500", 3) == 0)
        code = DOCTOR_REPLY_NOTFOUND;
    else
        return DOCTOR_REPLY_MALFORMED;
    /* The text, %XX decoded (tcp_table(5)). */
    char dec[DOCTOR_REPLY_MAX];
    size_t o = 0;
    const char *e = nl;
    if (e > buf + 4 && e[-1] == '\r')
        e--;
    for (const char *p = buf + 4; p < e && o < sizeof(dec) - 1; p++) {
        if (*p == '%' && e - p >= 3 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            dec[o++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            dec[o++] = *p;
        }
    }
    if (code == DOCTOR_REPLY_FOUND && o == 0)
        return DOCTOR_REPLY_MALFORMED;
    copy_value(dec, o, value, valsz);
    return code;
}

int doctor_milter_optneg(const char *buf, size_t len, unsigned *version, unsigned *actions,
                         unsigned *protocol)
{
    const unsigned char *u = (const unsigned char *)buf;
    /* length (command and data), 'O', version, actions, protocol steps */
    if (len < 17 || netint_get32(u) < 13 || netint_get32(u) > len - 4 || u[4] != 'O')
        return -1;
    *version = netint_get32(u + 5);
    *actions = netint_get32(u + 9);
    *protocol = netint_get32(u + 13);
    return *version >= 2 && *version <= 6 ? 0 : -1;
}

/* ----------------------------------------------------------- zone lines */

int doctor_zone_txt(const char *owner, const char *txt, size_t len, char *out, size_t outsz)
{
    size_t ol = strlen(owner);
    while (ol > 0 && owner[ol - 1] == '.')
        ol--;
    int n = snprintf(out, outsz, "%.*s. 3600 IN TXT", (int)ol, owner);
    if (n < 0 || (size_t)n >= outsz)
        return -1;
    size_t o = (size_t)n;
    for (size_t i = 0; i < len || i == 0; i += 255) {
        size_t c = len - i < 255 ? len - i : 255;
        if (o + 2 >= outsz)
            return -1;
        out[o++] = ' ';
        out[o++] = '"';
        for (size_t k = 0; k < c; k++) {
            unsigned char ch = (unsigned char)txt[i + k];
            char esc[5];
            size_t el;
            if (ch == '"' || ch == '\\') {
                esc[0] = '\\';
                esc[1] = (char)ch;
                el = 2;
            } else if (ch < 0x20 || ch > 0x7e) {
                snprintf(esc, sizeof(esc), "\\%03u", ch);
                el = 4;
            } else {
                esc[0] = (char)ch;
                el = 1;
            }
            if (o + el + 2 >= outsz)
                return -1;
            memcpy(out + o, esc, el);
            o += el;
        }
        out[o++] = '"';
        if (len == 0)
            break;
    }
    out[o] = '\0';
    return (int)o;
}

/* ---------------------------------------------------------------- plan */

void doctor_plan_free(struct doctor_plan *p)
{
    free(p->dom);
    free(p->keys);
    memset(p, 0, sizeof(*p));
}

static void plan_domain(struct doctor_plan *p, const char *name, unsigned role)
{
    size_t n = strlen(name);
    while (n > 0 && name[n - 1] == '.')
        n--;
    if (n == 0 || n >= NAME_LEN)
        return;
    for (size_t i = 0; i < p->ndom; i++)
        if (domain_equal(p->dom[i].name, strlen(p->dom[i].name), name, n)) {
            p->dom[i].roles |= role;
            return;
        }
    if (p->ndom == DOCTOR_PLAN_DOMAINS) {
        p->dropped++;
        return;
    }
    struct doctor_domain *d = &p->dom[p->ndom++];
    memcpy(d->name, name, n);
    d->name[n] = '\0';
    for (char *c = d->name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    d->roles = role;
}

static void plan_key(struct doctor_plan *p, const char *name, const char *domain,
                     const char *selector, const char *path, int arc)
{
    for (size_t i = 0; i < p->nkeys; i++) {
        const struct doctor_key *k = &p->keys[i];
        if (k->arc == arc && strcasecmp(k->domain, domain) == 0 &&
            strcasecmp(k->selector, selector) == 0 && strcmp(k->path, path) == 0)
            return; /* the same key published at the same name: checked once */
    }
    if (p->nkeys == DOCTOR_PLAN_KEYS) {
        p->dropped++;
        return;
    }
    struct doctor_key *k = &p->keys[p->nkeys++];
    memset(k, 0, sizeof(*k));
    snprintf(k->name, sizeof(k->name), "%s", name);
    snprintf(k->domain, sizeof(k->domain), "%s", domain);
    snprintf(k->selector, sizeof(k->selector), "%s", selector);
    snprintf(k->path, sizeof(k->path), "%s", path);
    k->arc = arc;
}

int doctor_plan_make(const struct fa_config *cfg, const struct keytable *kt, struct doctor_plan *p,
                     fa_err *err)
{
    memset(p, 0, sizeof(*p));
    p->dom = calloc(DOCTOR_PLAN_DOMAINS, sizeof(*p->dom));
    p->keys = calloc(DOCTOR_PLAN_KEYS, sizeof(*p->keys));
    if (!p->dom || !p->keys) {
        doctor_plan_free(p);
        return fa_err_set(err, "out of memory");
    }
    if (cfg->srs_domain[0])
        plan_domain(p, cfg->srs_domain, DOCTOR_ROLE_SRS);
    const char *at = strrchr(cfg->from_rewrite_address, '@');
    if (cfg->from_rewrite != FA_REWRITE_OFF && at && at[1])
        plan_domain(p, at + 1, DOCTOR_ROLE_REWRITE);
    struct keytable_entry e;
    for (size_t i = 0; kt && keytable_entry(kt, i, &e) == 1; i++) {
        if (strchr(e.domain, '%')) {
            p->wildcard_keys++;
            continue;
        }
        plan_domain(p, e.domain, DOCTOR_ROLE_SIGNING);
        plan_key(p, e.name, e.domain, e.selector, e.path, 0);
    }
    if (cfg->arc_domain[0] && cfg->arc_selector[0] && cfg->arc_key[0]) {
        plan_domain(p, cfg->arc_domain, DOCTOR_ROLE_ARC);
        plan_key(p, "arc_key", cfg->arc_domain, cfg->arc_selector, cfg->arc_key, 1);
    }
    return 0;
}

const char *doctor_role_names(unsigned roles, char *buf, size_t n)
{
    static const char *const names[] = {"srs_domain", "from_rewrite_address", "KeyTable",
                                        "arc_domain"};
    size_t o = 0;
    if (n)
        buf[0] = '\0';
    for (unsigned i = 0; i < 4; i++)
        if (roles & (1u << i)) {
            int k = snprintf(buf + o, n > o ? n - o : 0, "%s%s", o ? ", " : "", names[i]);
            if (k > 0)
                o += (size_t)k;
        }
    return buf;
}

int doctor_role_wants_spf(unsigned roles)
{
    return (roles & (DOCTOR_ROLE_SRS | DOCTOR_ROLE_REWRITE | DOCTOR_ROLE_SIGNING)) != 0;
}

int doctor_role_wants_dmarc(unsigned roles)
{
    return (roles & (DOCTOR_ROLE_REWRITE | DOCTOR_ROLE_SIGNING)) != 0;
}

int doctor_role_wants_mx(unsigned roles)
{
    return (roles & DOCTOR_ROLE_SRS) != 0;
}

/* ------------------------------------------------------ Postfix endpoints */

/* Where a Postfix client table or milter connects, or where fwdauthd
 * listens: host and port, or a socket path. */
struct endpoint {
    int kind; /* enum listen_kind */
    char host[LISTEN_HOST_MAX + 1];
    unsigned port;
    char path[1024];
    char map[64]; /* socketmap: the map name after the address */
};

static int from_listener(const char *value, struct endpoint *ep)
{
    struct listen_addr a;
    memset(ep, 0, sizeof(*ep));
    if (!value || !value[0] || listen_parse(value, strlen(value), &a, NULL) < 0)
        return -1;
    ep->kind = a.kind;
    snprintf(ep->host, sizeof(ep->host), "%s", a.host);
    ep->port = a.port;
    snprintf(ep->path, sizeof(ep->path), "%s", a.path);
    if (ep->kind == LISTEN_INET &&
        (strcmp(ep->host, "0.0.0.0") == 0 || strcmp(ep->host, "::") == 0))
        ep->kind = LISTEN_INET_ANY;
    return 0;
}

/* A Postfix unix-socket path: relative ones are under queue_directory
 * (cleanup and smtpd run there, chrooted or not). */
static void pf_path(const char *queue_dir, const char *path, size_t n, char *out, size_t outsz)
{
    if (n && path[0] == '/')
        snprintf(out, outsz, "%.*s", (int)n, path);
    else
        snprintf(out, outsz, "%s/%.*s", queue_dir && queue_dir[0] ? queue_dir : "", (int)n, path);
}

/* "HOST:PORT" or "[HOST]:PORT" at s; the rest (after ':') in *rest. */
static int host_port(const char *s, struct endpoint *ep, const char **rest)
{
    const char *h = s, *he;
    if (*s == '[') {
        h = s + 1;
        he = strchr(h, ']');
        if (!he || he[1] != ':')
            return -1;
        s = he + 2;
    } else {
        he = strchr(s, ':');
        if (!he)
            return -1;
        s = he + 1;
    }
    snprintf(ep->host, sizeof(ep->host), "%.*s", (int)(he - h), h);
    unsigned port = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9' && port < 70000)
        port = port * 10 + (unsigned)(*p++ - '0');
    if (p == s || port == 0 || port > 65535 || (*p && *p != ':'))
        return -1;
    ep->port = port;
    ep->kind = LISTEN_INET;
    *rest = *p == ':' ? p + 1 : p;
    return 0;
}

/* A table or milter reference: "socketmap:inet:H:P:MAP", "socketmap:unix:PATH:MAP",
 * "tcp:H:P", or a milter "inet:H:P", "unix:PATH", "local:PATH". */
static int from_postfix(const char *ref, const char *queue_dir, struct endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    const char *rest;
    if (strncmp(ref, "socketmap:inet:", 15) == 0) {
        if (host_port(ref + 15, ep, &rest) < 0 || !*rest)
            return -1;
        snprintf(ep->map, sizeof(ep->map), "%s", rest);
        return 0;
    }
    if (strncmp(ref, "socketmap:unix:", 15) == 0) {
        const char *p = ref + 15, *colon = strrchr(p, ':');
        if (!colon || colon == p || !colon[1])
            return -1;
        ep->kind = LISTEN_UNIX;
        pf_path(queue_dir, p, (size_t)(colon - p), ep->path, sizeof(ep->path));
        snprintf(ep->map, sizeof(ep->map), "%s", colon + 1);
        return 0;
    }
    if (strncmp(ref, "tcp:", 4) == 0)
        return host_port(ref + 4, ep, &rest) < 0 || *rest ? -1 : 0;
    if (strncmp(ref, "inet:", 5) == 0)
        return host_port(ref + 5, ep, &rest) < 0 || *rest ? -1 : 0;
    if (strncmp(ref, "unix:", 5) == 0 || strncmp(ref, "local:", 6) == 0) {
        const char *p = strchr(ref, ':') + 1;
        if (!*p)
            return -1;
        ep->kind = LISTEN_UNIX;
        pf_path(queue_dir, p, strlen(p), ep->path, sizeof(ep->path));
        return 0;
    }
    return -1;
}

static int loopback_name(const char *h)
{
    return strcasecmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 || strcmp(h, "::1") == 0;
}

static void squash_slashes(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in && o + 1 < n; in++)
        if (!(*in == '/' && o > 0 && out[o - 1] == '/'))
            out[o++] = *in;
    if (o > 1 && out[o - 1] == '/')
        o--;
    out[o] = '\0';
}

/* Does Postfix's endpoint pf reach fwdauthd's listener l? */
static int same_endpoint(const struct endpoint *l, const struct endpoint *pf)
{
    if (l->kind == LISTEN_UNIX || pf->kind == LISTEN_UNIX) {
        if (l->kind != pf->kind)
            return 0;
        char a[1024], b[1024];
        squash_slashes(l->path, a, sizeof(a));
        squash_slashes(pf->path, b, sizeof(b));
        return strcmp(a, b) == 0;
    }
    if (l->port != pf->port)
        return 0;
    if (l->kind == LISTEN_INET_ANY)
        return 1;
    return strcasecmp(l->host, pf->host) == 0 ||
           (loopback_name(l->host) && loopback_name(pf->host) &&
            (strcasecmp(l->host, "localhost") == 0 || strcasecmp(pf->host, "localhost") == 0));
}

/* How Postfix names listener l: "inet:HOST:PORT" or "unix:PATH" (relative
 * to queue_directory when it is inside it). */
static void postfix_address(const struct endpoint *l, const char *queue_dir, char *out, size_t n)
{
    if (l->kind == LISTEN_UNIX) {
        size_t ql = queue_dir ? strlen(queue_dir) : 0;
        if (ql && strncmp(l->path, queue_dir, ql) == 0 && l->path[ql] == '/')
            snprintf(out, n, "unix:%s", l->path + ql + 1);
        else
            snprintf(out, n, "unix:%s", l->path);
        return;
    }
    const char *host = l->kind == LISTEN_INET_ANY ? "127.0.0.1" : l->host;
    snprintf(out, n, strchr(host, ':') ? "inet:[%s]:%u" : "inet:%s:%u", host, l->port);
}

/* ---------------------------------------------------------- Postfix checks */

static const char *pfv(const struct doctor_input *in, const char *name)
{
    const char *v = doctor_pair(in->pf, name);
    return v ? v : "";
}

static int pf_yes(const char *v)
{
    return strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0;
}

/* "name = VALUE, item": the line that adds item to the list param, keeping
 * what main.cf has (as written, $names unexpanded) or Postfix's default. */
static void list_fix(const struct doctor_input *in, const char *param, const char *item, char *out,
                     size_t n)
{
    const char *raw = doctor_pair(in->pf_n, param);
    if (!raw)
        raw = strcmp(param, "virtual_alias_domains") == 0 ? "$virtual_alias_maps" : pfv(in, param);
    snprintf(out, n, "%s = %s%s%s", param, raw, raw[0] ? ", " : "", item);
}

/* The fwdauthd tables Postfix's list param asks: for each item that is a
 * socketmap or tcp table, which listener (and map) it reaches. */
struct table_use {
    int reverse_ok, forward_ok; /* reaches our reverse / forward table */
    int wrong;                  /* reaches a listener of ours with the wrong map */
    char wrong_item[DOCTOR_ITEM_MAX];
};

static void find_tables(const struct doctor_input *in, const char *param, struct table_use *u)
{
    const struct fa_config *c = in->cfg;
    memset(u, 0, sizeof(*u));
    struct endpoint sm, tf, tr;
    int have_sm = from_listener(c->socketmap_listen, &sm) == 0;
    int have_tf = from_listener(c->tcp_forward_listen, &tf) == 0;
    int have_tr = from_listener(c->tcp_reverse_listen, &tr) == 0;
    const char *qd = pfv(in, "queue_directory");
    char item[DOCTOR_ITEM_MAX];
    const char *p = pfv(in, param);
    while (doctor_list_next(&p, item, sizeof(item)) == 1) {
        struct endpoint ep;
        if (from_postfix(item, qd, &ep) < 0)
            continue;
        if (strncmp(item, "socketmap:", 10) == 0 && have_sm && same_endpoint(&sm, &ep)) {
            if (strcmp(ep.map, "reverse") == 0)
                u->reverse_ok = 1;
            else if (strcmp(ep.map, "forward") == 0)
                u->forward_ok = 1;
            if (strcmp(ep.map, strstr(param, "recipient") ? "reverse" : "forward") != 0) {
                u->wrong = 1;
                snprintf(u->wrong_item, sizeof(u->wrong_item), "%s", item);
            }
        } else if (strncmp(item, "tcp:", 4) == 0) {
            int fwd = have_tf && same_endpoint(&tf, &ep), rev = have_tr && same_endpoint(&tr, &ep);
            u->forward_ok |= fwd;
            u->reverse_ok |= rev;
            if ((fwd && strstr(param, "recipient")) || (rev && strstr(param, "sender"))) {
                u->wrong = 1;
                snprintf(u->wrong_item, sizeof(u->wrong_item), "%s", item);
            }
        }
    }
}

/* The Postfix table of fwdauthd's forward or reverse map, for a fix. */
static int our_table(const struct doctor_input *in, int reverse, char *out, size_t n)
{
    const struct fa_config *c = in->cfg;
    const char *qd = pfv(in, "queue_directory");
    struct endpoint ep;
    char addr[1200];
    if (from_listener(c->socketmap_listen, &ep) == 0) {
        postfix_address(&ep, qd, addr, sizeof(addr));
        snprintf(out, n, "socketmap:%s:%s", addr, reverse ? "reverse" : "forward");
        return 1;
    }
    if (from_listener(reverse ? c->tcp_reverse_listen : c->tcp_forward_listen, &ep) == 0 &&
        ep.kind != LISTEN_UNIX) {
        postfix_address(&ep, qd, addr, sizeof(addr));
        snprintf(out, n, "tcp:%s", addr + 5);
        return 1;
    }
    return 0;
}

static int milter_srs(const struct fa_config *c)
{
    return c->milter_listen[0] && c->srs_forwarded_mail && c->forward_recipients.n;
}

static void check_maps(const struct doctor_input *in, struct doctor_report *r)
{
    const struct fa_config *c = in->cfg;
    if (!c->srs_domain[0])
        return;
    struct table_use rcpt, sndr;
    find_tables(in, "recipient_canonical_maps", &rcpt);
    find_tables(in, "sender_canonical_maps", &sndr);
    char table[1400], line[DOCTOR_FIX_MAX];
    struct doctor_finding *f;

    /* Reverse: every wiring needs it, or bounces to SRS addresses are lost. */
    if (rcpt.reverse_ok && !rcpt.wrong) {
        add(r, LINT_OK, "srs-reverse",
            "recipient_canonical_maps asks fwdauthd's reverse table: bounces to SRS addresses go "
            "back to the original sender");
    } else if (rcpt.wrong) {
        f = add(r, LINT_PROBLEM, "srs-reverse",
                "recipient_canonical_maps = %s asks fwdauthd's forward table: bounces are "
                "rewritten again instead of going home",
                rcpt.wrong_item);
        if (our_table(in, 1, table, sizeof(table)))
            fix(f, DOCTOR_FIX_MAIN_CF, "recipient_canonical_maps = %s", table);
    } else if (our_table(in, 1, table, sizeof(table))) {
        f = add(r, LINT_PROBLEM, "srs-reverse",
                "recipient_canonical_maps does not ask fwdauthd: bounces to SRS addresses "
                "(SRS0=...@%s) are refused, and the original senders never learn their mail "
                "was not delivered",
                c->srs_domain);
        list_fix(in, "recipient_canonical_maps", table, line, sizeof(line));
        fix(f, DOCTOR_FIX_MAIN_CF, "%s", line);
    } else {
        f = add(r, LINT_PROBLEM, "srs-reverse",
                "fwdauthd has no table listener (socketmap_listen, tcp_reverse_listen): Postfix "
                "cannot reverse SRS addresses, so bounces to them are lost");
        fix(f, DOCTOR_FIX_FWDAUTHD_CONF, "socketmap_listen = inet:127.0.0.1:10003");
    }

    /* Forward: by the canonical map, or by the milter for forwarded mail only. */
    if (sndr.wrong) {
        f = add(r, LINT_PROBLEM, "srs-forward",
                "sender_canonical_maps = %s asks fwdauthd's reverse table: senders are not "
                "rewritten",
                sndr.wrong_item);
        if (our_table(in, 0, table, sizeof(table)))
            fix(f, DOCTOR_FIX_MAIN_CF, "sender_canonical_maps = %s", table);
    } else if (sndr.forward_ok) {
        add(r, LINT_OK, "srs-forward",
            "sender_canonical_maps asks fwdauthd's forward table: every foreign envelope sender "
            "of mail that leaves becomes an SRS address");
    } else if (milter_srs(c)) {
        add(r, LINT_OK, "srs-forward",
            "the milter gives forwarded mail an SRS envelope sender (srs_forwarded_mail = yes); "
            "mail forwarded by local(8) aliases or .forward files is not rewritten");
    } else if (our_table(in, 0, table, sizeof(table))) {
        f = add(r, LINT_PROBLEM, "srs-forward",
                "nothing gives forwarded mail an SRS envelope sender: sender_canonical_maps does "
                "not ask fwdauthd and the milter does not do it (srs_forwarded_mail with "
                "forward_recipients): SPF fails at the next hop");
        list_fix(in, "sender_canonical_maps", table, line, sizeof(line));
        fix(f, DOCTOR_FIX_MAIN_CF, "%s", line);
    } else {
        f = add(r, LINT_PROBLEM, "srs-forward",
                "nothing gives forwarded mail an SRS envelope sender: fwdauthd has no forward "
                "table listener and the milter does not do it (srs_forwarded_mail with "
                "forward_recipients): SPF fails at the next hop");
        fix(f, DOCTOR_FIX_FWDAUTHD_CONF, "socketmap_listen = inet:127.0.0.1:10003");
    }

    /* Classes: the envelope only for senders (header_sender rewrites From:). */
    if (sndr.forward_ok) {
        const char *v = pfv(in, "sender_canonical_classes");
        int env = list_has(v, "envelope_sender"), hdr = list_has(v, "header_sender");
        if (env && !hdr)
            add(r, LINT_OK, "sender-canonical-classes",
                "sender_canonical_classes = %s: only the envelope sender is rewritten", v);
        else {
            f = add(r, LINT_PROBLEM, "sender-canonical-classes",
                    "sender_canonical_classes = %s: %s", v,
                    hdr ? "Postfix also rewrites From: into an SRS address, which breaks DKIM "
                          "signatures and DMARC alignment"
                        : "the envelope sender is not rewritten");
            fix(f, DOCTOR_FIX_MAIN_CF, "sender_canonical_classes = envelope_sender");
        }
    }
    if (rcpt.reverse_ok) {
        const char *v = pfv(in, "recipient_canonical_classes");
        if (list_has(v, "envelope_recipient"))
            add(r, LINT_OK, "recipient-canonical-classes",
                "recipient_canonical_classes = %s: bounces to SRS addresses are reversed", v);
        else {
            f = add(r, LINT_PROBLEM, "recipient-canonical-classes",
                    "recipient_canonical_classes = %s: envelope recipients are not reversed, so "
                    "bounces to SRS addresses are not delivered",
                    v);
            fix(f, DOCTOR_FIX_MAIN_CF,
                "recipient_canonical_classes = envelope_recipient, header_recipient");
        }
    }
}

/* smtpd_milters / non_smtpd_milters: our milter listed, without a
 * per-milter default_action that overrides milter_default_action. Returns
 * 1 when listed. */
static int check_milter_list(const struct doctor_input *in, struct doctor_report *r,
                             const char *param, const char *check, const struct endpoint *ours,
                             const char *our_addr)
{
    const char *qd = pfv(in, "queue_directory");
    char item[DOCTOR_ITEM_MAX], inner[DOCTOR_ITEM_MAX], line[DOCTOR_FIX_MAX];
    const char *p = pfv(in, param);
    while (doctor_list_next(&p, item, sizeof(item)) == 1) {
        char addr[DOCTOR_ITEM_MAX];
        const char *attrs = "";
        if (item[0] == '{') {
            /* { address, name=value ... } */
            size_t il = strlen(item);
            snprintf(inner, sizeof(inner), "%.*s", (int)(il > 2 ? il - 2 : 0), item + 1);
            attrs = inner;
            if (doctor_list_next(&attrs, addr, sizeof(addr)) != 1)
                continue;
        } else {
            snprintf(addr, sizeof(addr), "%s", item);
        }
        struct endpoint ep;
        if (from_postfix(addr, qd, &ep) < 0 || !same_endpoint(ours, &ep))
            continue;
        char attr[DOCTOR_ITEM_MAX];
        while (doctor_list_next(&attrs, attr, sizeof(attr)) == 1) {
            char *eq = strchr(attr, '=');
            if (!eq)
                continue;
            char *name = attr, *value = eq + 1;
            while (eq > name && is_blank(eq[-1]))
                eq--;
            *eq = '\0';
            while (is_blank(*value))
                value++;
            if (strcmp(name, "default_action") == 0 && strcasecmp(value, "tempfail") != 0) {
                struct doctor_finding *f =
                    add(r, LINT_PROBLEM, check,
                        "%s lists fwdauthd's milter with default_action=%s, which overrides "
                        "milter_default_action: while fwdauthd is down or restarting, mail is "
                        "%s",
                        param, value,
                        strcasecmp(value, "accept") == 0 ? "passed on unchecked and unsigned"
                                                         : "refused or held");
                fix(f, DOCTOR_FIX_MAIN_CF, "%s = %s", param, our_addr);
                return 1;
            }
        }
        add(r, LINT_OK, check, "%s = %s: Postfix hands mail to fwdauthd's milter (%s)", param,
            pfv(in, param), in->cfg->milter_listen);
        return 1;
    }
    struct doctor_finding *f =
        add(r, LINT_PROBLEM, check, "%s does not name fwdauthd's milter (milter_listen = %s): %s",
            param, in->cfg->milter_listen,
            strcmp(param, "smtpd_milters") == 0
                ? "mail received over SMTP is not checked, signed or sealed"
                : "mail submitted on this host (sendmail, pickup) is not signed");
    list_fix(in, param, our_addr, line, sizeof(line));
    fix(f, DOCTOR_FIX_MAIN_CF, "%s", line);
    return 0;
}

static void check_milters(const struct doctor_input *in, struct doctor_report *r)
{
    const struct fa_config *c = in->cfg;
    if (!c->milter_listen[0])
        return;
    struct endpoint ours;
    if (from_listener(c->milter_listen, &ours) < 0)
        return;
    char addr[1200];
    postfix_address(&ours, pfv(in, "queue_directory"), addr, sizeof(addr));
    int listed = check_milter_list(in, r, "smtpd_milters", "smtpd-milters", &ours, addr);
    listed |= check_milter_list(in, r, "non_smtpd_milters", "non-smtpd-milters", &ours, addr);
    if (listed) {
        const char *v = pfv(in, "milter_default_action");
        if (strcasecmp(v, "tempfail") == 0) {
            add(r, LINT_OK, "milter-default-action",
                "milter_default_action = tempfail: while fwdauthd is down, clients are told to "
                "retry and nothing passes unchecked");
        } else {
            struct doctor_finding *f =
                add(r, LINT_PROBLEM, "milter-default-action",
                    "milter_default_action = %s: while fwdauthd is down or restarting, %s", v,
                    strcasecmp(v, "accept") == 0
                        ? "Postfix passes mail on unchecked: no SRS, no signature, no DMARC "
                          "enforcement, forwarded spoofs included"
                    : strcasecmp(v, "reject") == 0 ? "mail is refused for good and lost"
                                                   : "mail is not handled as fwdauthd would");
            fix(f, DOCTOR_FIX_MAIN_CF, "milter_default_action = tempfail");
        }
    }
    const char *v = pfv(in, "disable_mime_output_conversion");
    if (pf_yes(v)) {
        add(r, LINT_OK, "mime-output-conversion",
            "disable_mime_output_conversion = yes: 8-bit mail leaves as it was signed");
    } else {
        struct doctor_finding *f =
            add(r, LINT_PROBLEM, "mime-output-conversion",
                "disable_mime_output_conversion = %s: Postfix converts 8-bit mail to "
                "quoted-printable for servers without 8BITMIME, after the milter signed it: "
                "our DKIM signature and ARC seal then fail",
                v[0] ? v : "no");
        fix(f, DOCTOR_FIX_MAIN_CF, "disable_mime_output_conversion = yes");
    }
}

/* Is domain in list param: literally, or as a key of a table it names
 * that could be listed? 1 yes, 0 no, -1 not literally and a table could
 * not be listed (unknown). */
static int domain_in(const struct doctor_input *in, const char *param, const char *domain)
{
    char item[DOCTOR_ITEM_MAX];
    const char *p = pfv(in, param);
    int unknown = 0;
    while (doctor_list_next(&p, item, sizeof(item)) == 1) {
        if (!strchr(item, ':')) {
            if (domain_equal(item, strlen(item), domain, strlen(domain)))
                return 1;
            continue;
        }
        const struct doctor_table *t = NULL;
        for (size_t i = 0; i < in->ntables; i++)
            if (strcmp(in->tables[i].name, item) == 0)
                t = &in->tables[i];
        if (!t || !t->listed) {
            unknown = 1;
            continue;
        }
        for (size_t i = 0; i < t->entries.n; i++)
            if (domain_equal(t->entries.p[i].name, strlen(t->entries.p[i].name), domain,
                             strlen(domain)))
                return 1;
    }
    return unknown ? -1 : 0;
}

static void check_srs_accepted(const struct doctor_input *in, struct doctor_report *r)
{
    const struct fa_config *c = in->cfg;
    if (!c->srs_domain[0])
        return;
    const char *d = c->srs_domain;
    int dest = domain_in(in, "mydestination", d),
        valias = domain_in(in, "virtual_alias_domains", d);
    int vmbox = domain_in(in, "virtual_mailbox_domains", d),
        relay = domain_in(in, "relay_domains", d);
    char line[DOCTOR_FIX_MAX];
    list_fix(in, "virtual_alias_domains", d, line, sizeof(line));
    struct doctor_finding *f;
    if (dest == 1 && valias == 1) {
        f = add(r, LINT_WARNING, "srs-domain-accepted",
                "%s is in both mydestination and virtual_alias_domains: Postfix warns about it; "
                "keep it in one",
                d);
    } else if (valias == 1 || dest == 1 || vmbox == 1) {
        add(r, LINT_OK, "srs-domain-accepted",
            "Postfix accepts mail for %s from any client (%s): bounces to SRS addresses come "
            "home",
            d,
            valias == 1 ? "virtual_alias_domains"
            : dest == 1 ? "mydestination"
                        : "virtual_mailbox_domains");
    } else if (relay == 1) {
        f = add(r, LINT_WARNING, "srs-domain-accepted",
                "%s is in relay_domains: bounces come home, but so does every forged SRS "
                "address, which Postfix then relays to the SRS domain's MX: itself; list it in "
                "virtual_alias_domains instead",
                d);
        fix(f, DOCTOR_FIX_MAIN_CF, "%s", line);
    } else if (dest < 0 || valias < 0 || vmbox < 0 || relay < 0) {
        f = add(r, LINT_WARNING, "srs-domain-accepted",
                "%s is not listed in mydestination, virtual_alias_domains, "
                "virtual_mailbox_domains or relay_domains; a table there that doctor cannot "
                "list may hold it: check that a bounce to SRS0=...@%s is accepted",
                d, d);
        fix(f, DOCTOR_FIX_MAIN_CF, "%s", line);
    } else {
        f = add(r, LINT_PROBLEM, "srs-domain-accepted",
                "Postfix does not accept mail for %s (srs_domain) from outside mynetworks: "
                "bounces to SRS addresses get \"454 4.7.1 Relay access denied\" and are lost",
                d);
        fix(f, DOCTOR_FIX_MAIN_CF, "%s", line);
    }
}

struct found_ctx {
    const struct doctor_input *in;
    struct doctor_report *r;
};

/* The line to add: param's list (as Postfix applies it) without the table
 * that changes mail; its other tables stay. */
static void content_found(void *arg, const char *param, const struct pfcheck_map *m, unsigned line)
{
    struct found_ctx *fc = arg;
    char text[DOCTOR_TEXT_MAX];
    pfcheck_describe(param, m, line, text, sizeof(text));
    struct doctor_finding *f = add(fc->r, LINT_PROBLEM, "content-checks", "%s", text);
    char rest[DOCTOR_FIX_MAX] = "", item[DOCTOR_ITEM_MAX];
    size_t len = 0;
    const char *p = pfv(fc->in, param);
    while (doctor_list_next(&p, item, sizeof(item)) == 1) {
        if (strcmp(item, m->whole) == 0)
            continue;
        int k = snprintf(rest + len, sizeof(rest) - len, "%s%s", len ? ", " : "", item);
        if (k < 0 || (size_t)k >= sizeof(rest) - len)
            break;
        len += (size_t)k;
    }
    fix(f, DOCTOR_FIX_MAIN_CF, "%s =%s%s", param, len ? " " : "", rest);
}

static void check_content(const struct doctor_input *in, struct doctor_report *r)
{
    const struct fa_config *c = in->cfg;
    if (!c->milter_listen[0] || !c->forward_recipients.n)
        return;
    struct found_ctx fc = {in, r};
    int n = 0;
    const char *const *lists[] = {pfcheck_params_before, pfcheck_params_after};
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; lists[l][i]; i++)
            n += pfcheck_scan(lists[l][i], pfv(in, lists[l][i]), content_found, &fc);
    if (!n)
        add(r, LINT_OK, "content-checks",
            "no Postfix header_checks or body_checks (nor their smtp_ twins) change mail around "
            "the milter");
}

/* ---- forward_recipients against virtual_alias_maps ---------------------- */

/* Is the domain one Postfix delivers here (not a forward)? */
static int local_domain(const struct doctor_input *in, const char *domain)
{
    static const char *const params[] = {"mydestination", "virtual_alias_domains",
                                         "virtual_mailbox_domains", "relay_domains"};
    if (strcasecmp(domain, "localhost") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        if (domain_in(in, params[i], domain) == 1)
            return 1;
    return 0;
}

/* The first target of an alias value that leaves this host, in out; 0 none. */
static int forwards_out(const struct doctor_input *in, const char *value, char *out, size_t n)
{
    char item[DOCTOR_ITEM_MAX];
    const char *p = value;
    while (doctor_list_next(&p, item, sizeof(item)) == 1) {
        const char *at = strrchr(item, '@');
        if (at && at[1] && !local_domain(in, at + 1)) {
            snprintf(out, n, "%s", item);
            return 1;
        }
    }
    return 0;
}

/* Does forward_recipients hold exactly this entry ("@domain" or an address)? */
static int cfg_lists(const struct fa_config *c, const char *key)
{
    if (key[0] != '@')
        return policy_forwarded_rcpt(c, key);
    for (size_t i = 0; i < c->forward_recipients.n; i++) {
        const char *f = c->forward_recipients.v[i];
        if (f[0] == '@' && domain_equal(f + 1, strlen(f + 1), key + 1, strlen(key + 1)))
            return 1;
    }
    return 0;
}

/* Does alias key k cover the forward_recipients entry fr? */
static int alias_covers(const char *k, const char *fr)
{
    const char *kat = strrchr(k, '@'), *fat = strrchr(fr, '@');
    if (!kat || !fat)
        return 0;
    if (!domain_equal(kat + 1, strlen(kat + 1), fat + 1, strlen(fat + 1)))
        return 0;
    if (fr[0] == '@' || k[0] == '@')
        return 1; /* a domain entry meets any alias of that domain, a catch-all any address */
    return kat - k == fat - fr && strncasecmp(k, fr, (size_t)(kat - k)) == 0;
}

static void join_recipients(const struct fa_config *c, const char *skip, const char *extra,
                            char *out, size_t n)
{
    size_t o = 0;
    int k = snprintf(out, n, "forward_recipients =");
    o = k > 0 ? (size_t)k : 0;
    int first = 1;
    for (size_t i = 0; i < c->forward_recipients.n && o < n; i++) {
        if (skip && strcasecmp(c->forward_recipients.v[i], skip) == 0)
            continue;
        k = snprintf(out + o, n - o, "%s%s", first ? " " : ", ", c->forward_recipients.v[i]);
        o += k > 0 ? (size_t)k : 0;
        first = 0;
    }
    if (extra && o < n)
        snprintf(out + o, n - o, "%s%s", first ? " " : ", ", extra);
}

static void check_aliases(const struct doctor_input *in, struct doctor_report *r)
{
    const struct fa_config *c = in->cfg;
    if (!c->milter_listen[0])
        return;
    char item[DOCTOR_ITEM_MAX], target[DOCTOR_ITEM_MAX], line[DOCTOR_FIX_MAX];
    const char *p = pfv(in, "virtual_alias_maps");
    size_t forwarding = 0, missing = 0, shown = 0, unlisted = 0;
    char missing_list[DOCTOR_FIX_MAX] = "";
    struct doctor_finding *f, *last = NULL;
    while (doctor_list_next(&p, item, sizeof(item)) == 1) {
        const struct doctor_table *t = NULL;
        for (size_t i = 0; i < in->ntables; i++)
            if (strcmp(in->tables[i].name, item) == 0)
                t = &in->tables[i];
        if (!t || !t->listed) {
            unlisted++;
            add(r, LINT_WARNING, "forward-recipients",
                "virtual_alias_maps = ... %s ...: doctor cannot list this table (only tables "
                "postmap -s lists); check by hand that every alias in it that forwards "
                "outside is in forward_recipients",
                item);
            continue;
        }
        for (size_t i = 0; i < t->entries.n; i++) {
            const struct doctor_pair *e = &t->entries.p[i];
            if (!strchr(e->name, '@') || !forwards_out(in, e->value, target, sizeof(target)))
                continue;
            forwarding++;
            if (cfg_lists(c, e->name))
                continue;
            missing++;
            size_t ml = strlen(missing_list);
            snprintf(missing_list + ml, sizeof(missing_list) - ml, "%s%s", ml ? ", " : "", e->name);
            if (shown++ < DOCTOR_ALIASES_SHOWN)
                last =
                    add(r, LINT_PROBLEM, "forward-recipients",
                        "Postfix forwards %s to %s (virtual_alias_maps), but fwdauthd does not "
                        "know it as forwarded (forward_recipients): no SRS, no ARC seal, no From "
                        "rewrite, and DMARC failures are not refused",
                        e->name, target);
        }
    }
    if (missing) {
        if (shown > DOCTOR_ALIASES_SHOWN)
            last =
                add(r, LINT_PROBLEM, "forward-recipients",
                    "and %zu more aliases that forward outside are missing from forward_recipients",
                    shown - DOCTOR_ALIASES_SHOWN);
        join_recipients(c, NULL, missing_list, line, sizeof(line));
        fix(last, DOCTOR_FIX_FWDAUTHD_CONF, "%s", line);
    }
    /* The other way round: what fwdauthd treats as forwarded, Postfix must forward. */
    for (size_t i = 0; i < c->forward_recipients.n; i++) {
        const char *fr = c->forward_recipients.v[i];
        int covered = 0, out = 0;
        const char *q = pfv(in, "virtual_alias_maps");
        while (doctor_list_next(&q, item, sizeof(item)) == 1)
            for (size_t t = 0; t < in->ntables; t++) {
                if (strcmp(in->tables[t].name, item) != 0 || !in->tables[t].listed)
                    continue;
                for (size_t k = 0; k < in->tables[t].entries.n; k++) {
                    const struct doctor_pair *e = &in->tables[t].entries.p[k];
                    if (alias_covers(e->name, fr)) {
                        covered = 1;
                        out |= forwards_out(in, e->value, target, sizeof(target));
                    }
                }
            }
        if (!covered && !unlisted) {
            f = add(r, LINT_PROBLEM, "forward-recipients",
                    "forward_recipients lists %s, but virtual_alias_maps has no alias for it: "
                    "its mail is delivered here, yet fwdauthd treats it as forwarded (SRS, "
                    "forwarder signature, DMARC failures refused instead of %s)",
                    fr, "handled as dmarc_enforce says");
            join_recipients(c, fr, NULL, line, sizeof(line));
            fix(f, DOCTOR_FIX_FWDAUTHD_CONF, "%s", line);
            missing++;
        } else if (covered && !out) {
            add(r, LINT_WARNING, "forward-recipients",
                "forward_recipients lists %s, but its virtual aliases deliver to this host "
                "only: fwdauthd treats local mail as forwarded",
                fr);
        }
    }
    if (!missing && !unlisted)
        add(r, LINT_OK, "forward-recipients",
            "%zu virtual alias%s forward%s mail outside, and forward_recipients (%zu entr%s) "
            "matches virtual_alias_maps",
            forwarding, forwarding == 1 ? "" : "es", forwarding == 1 ? "s" : "",
            c->forward_recipients.n, c->forward_recipients.n == 1 ? "y" : "ies");
}

void doctor_check_postfix(const struct doctor_input *in, struct doctor_report *r)
{
    if (!in->pf) {
        add(r, LINT_ERROR, "postfix", "could not read Postfix's settings: %s",
            in->pf_error && in->pf_error[0] ? in->pf_error : "postconf failed");
        return;
    }
    add(r, LINT_OK, "postfix", "Postfix %s, config_directory %s", pfv(in, "mail_version"),
        pfv(in, "config_directory"));
    check_maps(in, r);
    check_milters(in, r);
    check_srs_accepted(in, r);
    check_content(in, r);
    check_aliases(in, r);
}

/* ---------------------------------------------------------------- files */

static int in_group(const struct doctor_user *u, gid_t g)
{
    if (u->gid == g)
        return 1;
    for (size_t i = 0; i < u->ngroups; i++)
        if (u->groups[i] == g)
            return 1;
    return 0;
}

/* Could the user read a file with this owner and mode? */
static int user_reads(const struct doctor_user *u, const struct doctor_file *f)
{
    if (u->uid == 0)
        return 1;
    if (f->uid == u->uid)
        return (f->mode & 0400) != 0;
    if (in_group(u, f->gid))
        return (f->mode & 0040) != 0;
    return (f->mode & 0004) != 0;
}

static void check_file(const struct doctor_input *in, const struct doctor_file *fl,
                       struct doctor_report *r)
{
    const struct doctor_user *u = &in->user;
    const char *check = fl->kind == DOCTOR_FILE_KEY ? "key-file" : "secret-file";
    const char *what = fl->kind == DOCTOR_FILE_KEY ? "key" : "secrets";
    struct doctor_finding *f;
    if (fl->err) {
        add(r, LINT_PROBLEM, check, "%s (%s): %s: fwdauthd cannot start", fl->path, fl->setting,
            strerror(fl->err));
        return;
    }
    if (!fl->regular) {
        add(r, LINT_PROBLEM, check, "%s (%s) is not a regular file: fwdauthd refuses it", fl->path,
            fl->setting);
        return;
    }
    unsigned mode = (unsigned)fl->mode & 07777;
    if (fl->uid != 0 && (!u->known || fl->uid != u->uid)) {
        f = add(r, LINT_PROBLEM, check,
                "%s (%s) is owned by uid %u, neither root nor %s (user): fwdauthd refuses it",
                fl->path, fl->setting, (unsigned)fl->uid, u->name);
        fix(f, DOCTOR_FIX_SHELL, "chown root:root %s && chmod 600 %s", fl->path, fl->path);
        return;
    }
    if (mode & 0007) {
        f = add(r, LINT_PROBLEM, check,
                "%s (%s) has mode %04o: others can %s it, so fwdauthd refuses it", fl->path,
                fl->setting, mode, mode & 0004 ? "read" : "use");
        fix(f, DOCTOR_FIX_SHELL, "chmod o-rwx %s", fl->path);
        return;
    }
    if (mode & 0020) {
        f = add(r, LINT_PROBLEM, check,
                "%s (%s) has mode %04o: its group can write it, so fwdauthd refuses it", fl->path,
                fl->setting, mode);
        fix(f, DOCTOR_FIX_SHELL, "chmod g-w %s", fl->path);
        return;
    }
    if (in->read_as_root) {
        if (fl->kind == DOCTOR_FILE_KEY && fl->uid != 0) {
            f = add(r, LINT_WARNING, check,
                    "%s (%s) is owned by %s, the user fwdauthd's workers run as: a worker taken "
                    "over could read the key; the signer reads it as root",
                    fl->path, fl->setting, u->name);
            fix(f, DOCTOR_FIX_SHELL, "chown root:root %s && chmod 600 %s", fl->path, fl->path);
            return;
        }
        add(r, LINT_OK, check, "%s (%s): %s, mode %04o: fwdauthd reads it as root", fl->path,
            fl->setting, fl->uid == 0 ? "root's" : u->name, mode);
        return;
    }
    if (!u->known) {
        add(r, LINT_PROBLEM, check, "%s (%s): the user fwdauthd runs as (%s) does not exist",
            fl->path, fl->setting, u->name);
        return;
    }
    if (!user_reads(u, fl)) {
        f = add(r, LINT_PROBLEM, check,
                "%s (%s) is not readable by %s (user): fwdauthd reads the %s as root when it "
                "starts, but as %s when it reloads, so every reload (SIGHUP) fails with "
                "\"Permission denied\"",
                fl->path, fl->setting, u->name, what, u->name);
        fix(f, DOCTOR_FIX_SHELL, "chown %s %s", u->name, fl->path);
        return;
    }
    add(r, LINT_OK, check, "%s (%s): mode %04o, readable by %s (user) for reloads", fl->path,
        fl->setting, mode, u->name);
}

void doctor_check_files(const struct doctor_input *in, struct doctor_report *r)
{
    if (in->kt_error && in->kt_error[0]) {
        add(r, LINT_PROBLEM, "key-table", "the KeyTable cannot be loaded: %s", in->kt_error);
    }
    for (size_t i = 0; i < in->nfiles; i++)
        check_file(in, &in->files[i], r);
}

/* ---------------------------------------------------------------- DNS */

/* Scratch room for one lint call's findings, summed up into one. */
struct scratch {
    struct lint_finding *f;
    struct lint_report lr;
};

static void scratch_reset(struct scratch *s)
{
    lint_report_init(&s->lr, s->f, LINT_FINDINGS_MAX);
}

/* The level of the worst finding and the first text at that level. */
static int worst(const struct scratch *s, const char **text)
{
    int level = LINT_OK;
    *text = "";
    for (int l = LINT_ERROR; l >= LINT_OK; l--)
        if (s->lr.count[l]) {
            level = l;
            break;
        }
    for (size_t i = 0; i < s->lr.n; i++)
        if (s->lr.f[i].level == level) {
            *text = s->lr.f[i].text;
            break;
        }
    return level;
}

static const char *myhost(const struct doctor_input *in)
{
    const char *h = in->pf ? pfv(in, "myhostname") : "";
    return h[0] ? h : NULL;
}

static void spf_line(const struct doctor_input *in, const char *domain, struct doctor_finding *f)
{
    char txt[NAME_LEN + 32], line[DOCTOR_FIX_MAX];
    const char *h = myhost(in);
    if (h)
        snprintf(txt, sizeof(txt), "v=spf1 a:%s -all", h);
    else
        snprintf(txt, sizeof(txt), "v=spf1 mx -all");
    if (doctor_zone_txt(domain, txt, strlen(txt), line, sizeof(line)) > 0)
        fix(f, DOCTOR_FIX_DNS, "%s", line);
}

/* One domain's record through a lint rule, as one finding. */
static void dns_verdict(const struct doctor_input *in, struct doctor_report *r, struct scratch *s,
                        const char *check, const char *what, const char *domain, int kind)
{
    scratch_reset(s);
    struct lint_spf spf;
    struct lint_mx mx;
    struct lint_dmarc dm;
    int state;
    if (kind == LINT_SPF)
        state = lint_spf(in->dns, domain, &s->lr, &spf);
    else if (kind == LINT_MX)
        state = lint_mx(in->dns, domain, &s->lr, &mx);
    else
        state = lint_dmarc(in->dns, in->dmarc_mode, domain, &s->lr, &dm);
    const char *text;
    int level = worst(s, &text);
    if (state == LINT_USABLE && level > LINT_WARNING)
        level = LINT_WARNING; /* usable, with a doubt lint named */
    if (state != LINT_USABLE && state != LINT_UNKNOWN && level < LINT_PROBLEM)
        level = LINT_PROBLEM;
    if (state == LINT_UNKNOWN)
        level = LINT_ERROR;
    struct doctor_finding *f = add(r, level, check, "%s %s: %s", what, domain, text);
    if (state != LINT_ABSENT && state != LINT_BROKEN)
        return;
    char line[DOCTOR_FIX_MAX], txt[2 * NAME_LEN + 64], owner[NAME_LEN + 8];
    const char *h = myhost(in);
    if (kind == LINT_SPF) {
        spf_line(in, domain, f);
    } else if (kind == LINT_MX) {
        fix(f, DOCTOR_FIX_DNS, "%s. 3600 IN MX 10 %s.", domain, h ? h : "MAIL-HOST");
    } else if (state == LINT_ABSENT) {
        snprintf(owner, sizeof(owner), "_dmarc.%s", domain);
        snprintf(txt, sizeof(txt), "v=DMARC1; p=none; rua=mailto:dmarc-reports@%s", domain);
        if (doctor_zone_txt(owner, txt, strlen(txt), line, sizeof(line)) > 0)
            fix(f, DOCTOR_FIX_DNS, "%s", line);
    }
}

/* A key's record against its private key; the state for rewrite-domain-dkim. */
static int key_verdict(const struct doctor_input *in, struct doctor_report *r, struct scratch *s,
                       const struct doctor_key *k)
{
    scratch_reset(s);
    struct lint_dkim dk;
    const struct fa_key *mine = k->key && key_is_private(k->key) ? k->key : NULL;
    int state = lint_dkim(in->dns, k->domain, k->selector, mine, k->path, &s->lr, &dk);
    const char *text;
    int level = worst(s, &text);
    const char *check = k->arc ? "arc-key" : "dkim-key";
    char who[300];
    if (k->arc)
        snprintf(who, sizeof(who), "arc_key");
    else
        snprintf(who, sizeof(who), "KeyTable %s", k->name);
    if (state == LINT_UNKNOWN) {
        add(r, LINT_ERROR, check, "%s: %s", who, text);
        return state;
    }
    struct doctor_finding *f;
    if (state == LINT_USABLE && dk.matches != 0) {
        if (level >= LINT_WARNING) {
            f = add(r, LINT_WARNING, check, "%s: %s", who, text);
        } else if (mine) {
            f = add(r, LINT_OK, check,
                    "%s: %s._domainkey.%s publishes the public half of %s (%s, %u bits)", who,
                    k->selector, k->domain, k->path, dk.key_type == KEY_ED25519 ? "Ed25519" : "RSA",
                    dk.bits);
        } else {
            f = add(r, LINT_WARNING, check,
                    "%s: %s._domainkey.%s publishes a usable key, but %s could not be read to "
                    "compare (%s)",
                    who, k->selector, k->domain, k->path,
                    k->load_error[0] ? k->load_error : "not loaded");
        }
        return state;
    }
    if (state == LINT_USABLE)
        f = add(r, LINT_PROBLEM, check,
                "%s: %s._domainkey.%s publishes another key than %s: every signature made with "
                "it fails",
                who, k->selector, k->domain, k->path);
    else
        f = add(r, LINT_PROBLEM, check, "%s: %s", who, text);
    char line[DOCTOR_FIX_MAX];
    if (mine && key_dns_zone_line(mine, k->selector, k->domain, line, sizeof(line)) > 0)
        fix(f, DOCTOR_FIX_DNS, "%s", line);
    return state == LINT_USABLE ? LINT_BROKEN : state;
}

/* Do two domains align under relaxed alignment (the same Organizational
 * Domain)? */
static int aligned(const struct doctor_input *in, const char *a, const char *b)
{
    if (domain_equal(a, strlen(a), b, strlen(b)))
        return 1;
    char oa[NAME_LEN], ob[NAME_LEN];
    return dmarc_org_domain(in->dns, in->dmarc_mode, a, oa, sizeof(oa)) == 0 &&
           dmarc_org_domain(in->dns, in->dmarc_mode, b, ob, sizeof(ob)) == 0 &&
           strcasecmp(oa, ob) == 0;
}

void doctor_check_dns(const struct doctor_input *in, struct doctor_report *r)
{
    const struct fa_config *c = in->cfg;
    const struct doctor_plan *p = in->plan;
    if (!in->dns || !p)
        return;
    struct scratch s;
    s.f = calloc(LINT_FINDINGS_MAX, sizeof(*s.f));
    int *states = calloc(p->nkeys + 1, sizeof(*states));
    if (!s.f || !states) {
        add(r, LINT_ERROR, "dns", "out of memory");
        free(s.f);
        free(states);
        return;
    }
    if (c->srs_domain[0]) {
        dns_verdict(in, r, &s, "srs-domain-spf", "srs_domain", c->srs_domain, LINT_SPF);
        dns_verdict(in, r, &s, "srs-domain-mx", "srs_domain", c->srs_domain, LINT_MX);
    }
    for (size_t i = 0; i < p->nkeys; i++)
        states[i] = key_verdict(in, r, &s, &p->keys[i]);
    if (p->wildcard_keys)
        add(r, LINT_OK, "dkim-key",
            "%zu KeyTable entr%s sign%s as the sender's domain (\"%%\"): check each domain with "
            "fwdauth check-dns DOMAIN -s SELECTOR -k KEYFILE",
            p->wildcard_keys, p->wildcard_keys == 1 ? "y" : "ies",
            p->wildcard_keys == 1 ? "s" : "");
    if (p->dropped)
        add(r, LINT_WARNING, "dkim-key", "%zu more keys or domains not checked (at most %d keys)",
            p->dropped, DOCTOR_PLAN_KEYS);

    /* The domain of rewritten From: fields sends mail in bulk for others:
     * Gmail and Microsoft want DMARC, SPF and an aligned DKIM signature. */
    const char *at = strrchr(c->from_rewrite_address, '@');
    if (c->from_rewrite != FA_REWRITE_OFF && at && at[1]) {
        const char *d = at + 1;
        dns_verdict(in, r, &s, "rewrite-domain-dmarc", "from_rewrite_address domain", d,
                    LINT_DMARC);
        dns_verdict(in, r, &s, "rewrite-domain-spf", "from_rewrite_address domain", d, LINT_SPF);
        size_t k = p->nkeys;
        for (size_t i = 0; i < p->nkeys; i++)
            if (!p->keys[i].arc && strcmp(p->keys[i].name, c->forward_signing_key) == 0)
                k = i;
        struct doctor_finding *f;
        if (!c->forward_signing_key[0] || k == p->nkeys) {
            f = add(r, LINT_PROBLEM, "rewrite-domain-dkim",
                    "rewritten From: fields (%s) are not signed: forward_signing_key names no "
                    "KeyTable entry of %s, so they fail DMARC",
                    c->from_rewrite_address, d);
            fix(f, DOCTOR_FIX_FWDAUTHD_CONF, "forward_signing_key = NAME (a KeyTable entry of %s)",
                d);
        } else if (!aligned(in, p->keys[k].domain, d)) {
            add(r, LINT_PROBLEM, "rewrite-domain-dkim",
                "forward_signing_key %s signs with d=%s, which does not align with %s "
                "(from_rewrite_address): rewritten mail fails DMARC",
                p->keys[k].name, p->keys[k].domain, d);
        } else if (states[k] != LINT_USABLE) {
            add(r, LINT_PROBLEM, "rewrite-domain-dkim",
                "forward_signing_key %s (d=%s, s=%s) is not published right (see dkim-key): "
                "rewritten mail fails DMARC",
                p->keys[k].name, p->keys[k].domain, p->keys[k].selector);
        } else {
            add(r, LINT_OK, "rewrite-domain-dkim",
                "rewritten From: fields (%s) are signed by %s with d=%s, s=%s, aligned",
                c->from_rewrite_address, p->keys[k].name, p->keys[k].domain, p->keys[k].selector);
        }
    }
    free(s.f);
    free(states);
}

/* ---------------------------------------------------------------- probes */

static const char *probe_check(int kind)
{
    static const char *const names[] = {"daemon-socketmap", "daemon-tcp-forward",
                                        "daemon-tcp-reverse", "daemon-milter"};
    return kind >= DOCTOR_PROBE_SOCKETMAP && kind <= DOCTOR_PROBE_MILTER ? names[kind] : "daemon";
}

static int is_srs(const char *v)
{
    return strncasecmp(v, "SRS0", 4) == 0 || strncasecmp(v, "SRS1", 4) == 0;
}

static const char *reply_name(int code)
{
    static const char *const names[] = {"found", "NOTFOUND", "TEMP", "PERM", "not a reply"};
    return code >= DOCTOR_REPLY_FOUND && code <= DOCTOR_REPLY_MALFORMED ? names[code] : "?";
}

static void check_probe(const struct doctor_input *in, const struct doctor_probe *pr,
                        struct doctor_report *r)
{
    const char *check = probe_check(pr->kind);
    struct doctor_finding *f;
    if (pr->err) {
        f = add(r, LINT_PROBLEM, check, "fwdauthd does not answer on %s = %s (%s: %s)%s",
                pr->setting, pr->address, pr->step ? pr->step : "connect", strerror(pr->err),
                pr->kind == DOCTOR_PROBE_MILTER
                    ? ": with milter_default_action = tempfail Postfix answers 451 to every "
                      "message until it is back"
                    : ": Postfix defers mail that needs the table");
        fix(f, DOCTOR_FIX_SHELL, "systemctl restart fwdauthd");
        return;
    }
    char v0[DOCTOR_REPLY_MAX], v1[DOCTOR_REPLY_MAX];
    if (pr->kind == DOCTOR_PROBE_MILTER) {
        unsigned ver, act, proto;
        if (doctor_milter_optneg(pr->reply[0], pr->reply_len[0], &ver, &act, &proto) == 0)
            add(r, LINT_OK, check,
                "fwdauthd answers milter option negotiation on %s (protocol version %u)",
                pr->address, ver);
        else
            add(r, LINT_PROBLEM, check,
                "%s = %s: what answers there is not a milter (no option negotiation reply)",
                pr->setting, pr->address);
        return;
    }
    int sm = pr->kind == DOCTOR_PROBE_SOCKETMAP;
    int c0 = sm ? doctor_socketmap_reply(pr->reply[0], pr->reply_len[0], v0, sizeof(v0))
                : doctor_tcptable_reply(pr->reply[0], pr->reply_len[0], v0, sizeof(v0));
    if (c0 == DOCTOR_REPLY_MALFORMED) {
        add(r, LINT_PROBLEM, check, "%s = %s: what answers there does not speak %s", pr->setting,
            pr->address, sm ? "socketmap" : "tcp_table");
        return;
    }
    if (pr->kind == DOCTOR_PROBE_TCP_REVERSE) {
        if (is_srs(pr->request[0]) &&
            (c0 != DOCTOR_REPLY_FOUND || strcasecmp(v0, DOCTOR_PROBE_ADDRESS) != 0))
            add(r, LINT_PROBLEM, check,
                "%s = %s reverses %s to %s%s: bounces do not go home (another secret?)",
                pr->setting, pr->address, pr->request[0], c0 == DOCTOR_REPLY_FOUND ? "" : "",
                c0 == DOCTOR_REPLY_FOUND ? v0 : reply_name(c0));
        else
            add(r, LINT_OK, check, "fwdauthd answers tcp_table lookups on %s%s%s", pr->address,
                is_srs(pr->request[0]) ? ": reverses an SRS address to " : "",
                is_srs(pr->request[0]) ? v0 : "");
        return;
    }
    if (c0 != DOCTOR_REPLY_FOUND || !is_srs(v0)) {
        add(r, LINT_PROBLEM, check,
            "%s = %s answers %s%s%s for %s: forwarded mail would leave without an SRS sender",
            pr->setting, pr->address, reply_name(c0), v0[0] ? " " : "", v0, DOCTOR_PROBE_ADDRESS);
        return;
    }
    const char *srs_at = strrchr(v0, '@');
    if (in->cfg->srs_domain[0] && srs_at &&
        !domain_equal(srs_at + 1, strlen(srs_at + 1), in->cfg->srs_domain,
                      strlen(in->cfg->srs_domain)))
        add(r, LINT_WARNING, check,
            "%s = %s rewrites into %s, not srs_domain %s: is another configuration running?",
            pr->setting, pr->address, srs_at + 1, in->cfg->srs_domain);
    if (sm && pr->nreq > 1) {
        int c1 = doctor_socketmap_reply(pr->reply[1], pr->reply_len[1], v1, sizeof(v1));
        if (c1 != DOCTOR_REPLY_FOUND || strcasecmp(v1, DOCTOR_PROBE_ADDRESS) != 0) {
            add(r, LINT_PROBLEM, check,
                "%s = %s: forward gives %s, but its reverse gives %s%s%s: bounces would not go "
                "home",
                pr->setting, pr->address, v0, reply_name(c1), v1[0] ? " " : "", v1);
            return;
        }
    }
    add(r, LINT_OK, check, "fwdauthd answers %s lookups on %s: %s -> %s%s",
        sm ? "socketmap" : "tcp_table", pr->address, DOCTOR_PROBE_ADDRESS, v0,
        sm && pr->nreq > 1 ? " and back" : "");
}

void doctor_check_probes(const struct doctor_input *in, struct doctor_report *r)
{
    for (size_t i = 0; in->probes && i < in->nprobes; i++)
        check_probe(in, &in->probes[i], r);
}

void doctor_run(const struct doctor_input *in, struct doctor_report *r)
{
    doctor_check_postfix(in, r);
    doctor_check_files(in, r);
    doctor_check_dns(in, r);
    doctor_check_probes(in, r);
}
