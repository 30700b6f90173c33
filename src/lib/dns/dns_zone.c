/* dns_zone - RFC 1035 master-file subset for tests and offline use; see dns_zone.h and dns.h. */
#include "dns_zone.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char dns_why_zone_timeout[] = "timeout (TIMEOUT in the zone file)";

/* Longest physical line; longer lines are refused with FILE:LINE. */
#define ZONE_MAX_LINE 65535

struct zrr {
    uint16_t type;
    uint16_t pref;
    uint32_t len;
    uint8_t *data; /* len octets plus a NUL */
};

struct znode {
    char *name; /* lower case, no trailing dot */
    uint32_t hash;
    int timeout; /* "owner TIMEOUT" seen */
    struct zrr *rr;
    size_t n, cap;
};

struct dns_zone {
    struct znode *nodes; /* in order of first appearance */
    size_t n, cap;
    uint32_t *slots; /* open addressing: node index + 1, 0 = empty */
    size_t nslots;   /* power of two, at least 2 * n */
};

/* ---- the table of owners ---- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a over the lower-cased name */
    for (; *s; s++) {
        h ^= (uint8_t)tolower((unsigned char)*s);
        h *= 16777619u;
    }
    return h;
}

static int name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

static const struct znode *zone_find(const struct dns_zone *z, const char *name)
{
    if (!z->nslots)
        return NULL;
    uint32_t h = name_hash(name);
    for (size_t i = h & (z->nslots - 1);; i = (i + 1) & (z->nslots - 1)) {
        uint32_t s = z->slots[i];
        if (!s)
            return NULL;
        const struct znode *nd = &z->nodes[s - 1];
        if (nd->hash == h && name_eq(nd->name, name))
            return nd;
    }
}

static int zone_rehash(struct dns_zone *z)
{
    size_t ns = z->nslots ? z->nslots * 2 : 64;
    uint32_t *slots = calloc(ns, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t k = 0; k < z->n; k++) {
        size_t i = z->nodes[k].hash & (ns - 1);
        while (slots[i])
            i = (i + 1) & (ns - 1);
        slots[i] = (uint32_t)(k + 1);
    }
    free(z->slots);
    z->slots = slots;
    z->nslots = ns;
    return 0;
}

/* The node for name (already lower case), created if new; NULL on memory. */
static struct znode *zone_node(struct dns_zone *z, const char *name)
{
    const struct znode *found = zone_find(z, name);
    if (found)
        return &z->nodes[found - z->nodes];
    if (z->n >= UINT32_MAX - 1)
        return NULL;
    if ((z->n + 1) * 2 > z->nslots && zone_rehash(z) < 0)
        return NULL;
    if (z->n == z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 64;
        struct znode *nv = realloc(z->nodes, cap * sizeof(*nv));
        if (!nv)
            return NULL;
        z->nodes = nv;
        z->cap = cap;
    }
    struct znode *nd = &z->nodes[z->n];
    memset(nd, 0, sizeof(*nd));
    if (!(nd->name = strdup(name)))
        return NULL;
    nd->hash = name_hash(name);
    size_t i = nd->hash & (z->nslots - 1);
    while (z->slots[i])
        i = (i + 1) & (z->nslots - 1);
    z->slots[i] = (uint32_t)(z->n + 1);
    z->n++;
    return nd;
}

void dns_zone_free(struct dns_zone *z)
{
    if (!z)
        return;
    for (size_t k = 0; k < z->n; k++) {
        for (size_t i = 0; i < z->nodes[k].n; i++)
            free(z->nodes[k].rr[i].data);
        free(z->nodes[k].rr);
        free(z->nodes[k].name);
    }
    free(z->nodes);
    free(z->slots);
    free(z);
}

/* ---- the tokenizer ---- */

enum tok_kind { TK_EOF, TK_EOL, TK_WORD, TK_QUOTED };

struct zp {
    const char *file;
    const char *b;
    size_t n, pos;
    unsigned line;       /* current physical line */
    unsigned paren_line; /* where the open "(" was, when depth == 1 */
    int depth;
    fa_err *err;
    struct dns_zone *z;
    /* the current token, decoded */
    uint8_t *tok; /* ZONE_MAX_LINE + 1 octets */
    size_t toklen;
    int tok_dot_escaped; /* an escaped "." (fatal in names) */
    unsigned tokline;
    /* name completion */
    char origin[DNS_NAME_MAX + 1];
    int has_origin;
    char owner[DNS_NAME_MAX + 1];
    int has_owner;
};

static int zerr(struct zp *p, unsigned line, const char *what)
{
    return fa_err_set(p->err, "%s:%u: %s", p->file, line, what);
}

static int is_delim(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' || c == ')' ||
           c == '"';
}

/* One escape after the backslash at p->pos: \DDD (decimal octet) or \X. */
static int read_escape(struct zp *p, uint8_t *out)
{
    size_t i = p->pos + 1;
    if (i >= p->n || p->b[i] == '\n')
        return zerr(p, p->line, "backslash at end of line");
    if (isdigit((unsigned char)p->b[i])) {
        if (i + 2 >= p->n || !isdigit((unsigned char)p->b[i + 1]) ||
            !isdigit((unsigned char)p->b[i + 2]))
            return zerr(p, p->line, "bad \\DDD escape: need three decimal digits");
        unsigned v = (unsigned)(p->b[i] - '0') * 100 + (unsigned)(p->b[i + 1] - '0') * 10 +
                     (unsigned)(p->b[i + 2] - '0');
        if (v > 255)
            return zerr(p, p->line, "bad \\DDD escape: value over 255");
        *out = (uint8_t)v;
        p->pos = i + 3;
        return 1;
    }
    *out = (uint8_t)p->b[i];
    p->pos = i + 1;
    return 0;
}

/* The next token of the current logical record: newlines inside "( )" are
 * white space. Returns a tok_kind, or -1 with the error set. */
static int next_token(struct zp *p)
{
    for (;;) {
        while (p->pos < p->n &&
               (p->b[p->pos] == ' ' || p->b[p->pos] == '\t' || p->b[p->pos] == '\r'))
            p->pos++;
        if (p->pos >= p->n) {
            if (p->depth)
                return zerr(p, p->paren_line, "\"(\" without \")\"");
            return TK_EOF;
        }
        char c = p->b[p->pos];
        if (c == ';') {
            while (p->pos < p->n && p->b[p->pos] != '\n')
                p->pos++;
            continue;
        }
        if (c == '\n') {
            p->pos++;
            p->line++;
            if (p->depth)
                continue;
            return TK_EOL;
        }
        if (c == '(') {
            if (p->depth)
                return zerr(p, p->line, "nested \"(\"");
            p->depth = 1;
            p->paren_line = p->line;
            p->pos++;
            continue;
        }
        if (c == ')') {
            if (!p->depth)
                return zerr(p, p->line, "\")\" without \"(\"");
            p->depth = 0;
            p->pos++;
            continue;
        }
        break;
    }
    p->toklen = 0;
    p->tok_dot_escaped = 0;
    p->tokline = p->line;
    if (p->b[p->pos] == '"') {
        p->pos++;
        for (;;) {
            if (p->pos >= p->n || p->b[p->pos] == '\n')
                return zerr(p, p->tokline, "unterminated quoted string");
            char c = p->b[p->pos];
            if (c == '"') {
                p->pos++;
                break;
            }
            uint8_t o = (uint8_t)c;
            if (c == '\\') {
                if (read_escape(p, &o) < 0)
                    return -1;
            } else {
                p->pos++;
            }
            p->tok[p->toklen++] = o; /* bounded: no longer than the line */
        }
        p->tok[p->toklen] = 0;
        return TK_QUOTED;
    }
    while (p->pos < p->n && !is_delim((unsigned char)p->b[p->pos])) {
        uint8_t o = (uint8_t)p->b[p->pos];
        if (o == '\\') {
            int r = read_escape(p, &o);
            if (r < 0)
                return -1;
            if (o == '.')
                p->tok_dot_escaped = 1;
        } else {
            p->pos++;
        }
        p->tok[p->toklen++] = o;
    }
    p->tok[p->toklen] = 0;
    return TK_WORD;
}

/* The current token as a C string, refusing quotes and embedded NULs. */
static int want_word(struct zp *p, int kind, const char *what)
{
    char msg[96];
    if (kind < 0)
        return -1;
    if (kind == TK_EOL || kind == TK_EOF) {
        snprintf(msg, sizeof(msg), "missing %s", what);
        return zerr(p, p->line - (kind == TK_EOL), msg);
    }
    if (kind != TK_WORD || strlen((const char *)p->tok) != p->toklen) {
        snprintf(msg, sizeof(msg), "bad %s", what);
        return zerr(p, p->tokline, msg);
    }
    return 0;
}

/* ---- names ---- */

static int check_name(const char *s)
{
    size_t len = strlen(s);
    if (len > DNS_NAME_MAX)
        return -1;
    if (len == 0)
        return 0; /* the root */
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        if (s[i] == '.' || s[i] == 0) {
            if (label == 0 || label > 63)
                return -1;
            label = 0;
        } else {
            label++;
        }
    }
    return 0;
}

int dns_name_norm(const char *name, char *out)
{
    size_t len = strnlen(name, DNS_NAME_MAX + 2);
    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0 || len > DNS_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[len] = 0;
    return check_name(out);
}

/* The current token as a domain name into out: "@" is the origin; a
 * trailing dot marks it absolute; without one, the name is relative to
 * $ORIGIN when one was given, else absolute (DESIGN.md: owners are
 * absolute, trailing dot optional). "." is the root (""). */
static int parse_name(struct zp *p, int kind, const char *what, char *out)
{
    char msg[96];
    if (want_word(p, kind, what) < 0)
        return -1;
    const char *t = (const char *)p->tok;
    if (p->tok_dot_escaped) {
        snprintf(msg, sizeof(msg), "%s: escaped \".\" in a name is not supported", what);
        return zerr(p, p->tokline, msg);
    }
    size_t len = p->toklen;
    if (strcmp(t, "@") == 0) {
        if (!p->has_origin) {
            snprintf(msg, sizeof(msg), "%s: \"@\" without $ORIGIN", what);
            return zerr(p, p->tokline, msg);
        }
        memcpy(out, p->origin, strlen(p->origin) + 1);
        return 0;
    }
    int absolute = len > 0 && t[len - 1] == '.';
    if (absolute)
        len--;
    size_t olen = (!absolute && p->has_origin) ? strlen(p->origin) : 0;
    if (len + (olen ? olen + 1 : 0) > DNS_NAME_MAX || (len == 0 && !absolute))
        goto bad;
    memcpy(out, t, len);
    if (olen) {
        out[len] = '.';
        memcpy(out + len + 1, p->origin, olen);
        len += olen + 1;
    }
    out[len] = 0;
    if (check_name(out) < 0)
        goto bad;
    return 0;
bad:
    snprintf(msg, sizeof(msg), "bad %s (empty label, label over 63 or name over %d octets)", what,
             DNS_NAME_MAX);
    return zerr(p, p->tokline, msg);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---- records ---- */

static int is_ttl(const char *t)
{
    if (!isdigit((unsigned char)*t) || strlen(t) > 32)
        return 0;
    while (*t) {
        if (!isdigit((unsigned char)*t))
            return 0;
        while (isdigit((unsigned char)*t))
            t++;
        if (*t && strchr("smhdwSMHDW", *t))
            t++;
    }
    return 1;
}

static int add_rr(struct zp *p, struct znode *nd, int type, unsigned pref, const void *data,
                  size_t len, unsigned line)
{
    size_t same = 0;
    for (size_t i = 0; i < nd->n; i++)
        same += nd->rr[i].type == type;
    if (same >= DNS_MAX_RR)
        return zerr(p, line, "more records of one type at one name than DNS_MAX_RR (64)");
    if (nd->n == nd->cap) {
        size_t cap = nd->cap ? nd->cap * 2 : 2;
        struct zrr *nv = realloc(nd->rr, cap * sizeof(*nv));
        if (!nv)
            return fa_err_set(p->err, "out of memory");
        nd->rr = nv;
        nd->cap = cap;
    }
    uint8_t *copy = malloc(len + 1);
    if (!copy)
        return fa_err_set(p->err, "out of memory");
    if (len)
        memcpy(copy, data, len);
    copy[len] = 0;
    nd->rr[nd->n++] = (struct zrr){(uint16_t)type, (uint16_t)pref, (uint32_t)len, copy};
    return 0;
}

static const struct {
    const char *name;
    int type; /* 0: accepted, not served (the owner exists); -1: TIMEOUT */
} types[] = {
    {"A", DNS_T_A},     {"AAAA", DNS_T_AAAA},   {"MX", DNS_T_MX},
    {"PTR", DNS_T_PTR}, {"CNAME", DNS_T_CNAME}, {"TXT", DNS_T_TXT},
    {"SPF", DNS_T_SPF}, {"TIMEOUT", -1},        {"NS", 0},
    {"SOA", 0},
};

static int lookup_type(const char *t, int *type)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(types[i].name, t) == 0) {
            *type = types[i].type;
            return 0;
        }
    return -1;
}

/* TXT/SPF data: quoted strings joined, or one unquoted word. */
static int parse_txt(struct zp *p, struct znode *nd, int type, unsigned line)
{
    uint8_t *buf = NULL;
    size_t len = 0, nstr = 0;
    int words = 0, kind;
    while ((kind = next_token(p)) == TK_WORD || kind == TK_QUOTED) {
        words += kind == TK_WORD;
        nstr++;
        if (len + p->toklen > DNS_MAX_RDATA) {
            free(buf);
            return zerr(p, p->tokline, "TXT data over 65535 octets");
        }
        uint8_t *nb = realloc(buf, len + p->toklen + 1);
        if (!nb) {
            free(buf);
            return fa_err_set(p->err, "out of memory");
        }
        buf = nb;
        memcpy(buf + len, p->tok, p->toklen);
        len += p->toklen;
    }
    int rc = -1;
    if (kind < 0)
        goto out;
    if (nstr == 0) {
        zerr(p, line, "TXT record without data");
        goto out;
    }
    if (words && nstr > 1) {
        zerr(p, line, "unquoted TXT data with several words: quote the strings");
        goto out;
    }
    rc = add_rr(p, nd, type, 0, buf, len, line);
out:
    free(buf);
    return rc < 0 ? -1 : kind;
}

static int parse_directive(struct zp *p, unsigned line)
{
    char name[DNS_NAME_MAX + 1];
    const char *d = (const char *)p->tok;
    int kind;
    if (strcasecmp(d, "$TTL") == 0) {
        kind = next_token(p);
        if (want_word(p, kind, "$TTL value") < 0)
            return -1;
        if (!is_ttl((const char *)p->tok))
            return zerr(p, p->tokline, "bad $TTL value");
    } else if (strcasecmp(d, "$ORIGIN") == 0) {
        int had = p->has_origin;
        p->has_origin = 0; /* the origin itself is absolute */
        if (parse_name(p, next_token(p), "$ORIGIN name", name) < 0) {
            p->has_origin = had;
            return -1;
        }
        lower(name);
        memcpy(p->origin, name, sizeof(name));
        p->has_origin = 1;
    } else if (strcasecmp(d, "$INCLUDE") == 0) {
        return zerr(p, line, "$INCLUDE is not supported");
    } else {
        return zerr(p, line, "unknown directive");
    }
    return next_token(p);
}

/* One logical record starting at the beginning of a physical line.
 * Returns 1 for a record or blank line, 0 at the end, -1 on error. */
static int parse_record(struct zp *p)
{
    int indented = p->pos < p->n && (p->b[p->pos] == ' ' || p->b[p->pos] == '\t');
    int kind = next_token(p);
    if (kind < 0)
        return -1;
    if (kind == TK_EOF)
        return 0;
    if (kind == TK_EOL)
        return 1;
    unsigned line = p->tokline;
    if (!indented && kind == TK_WORD && p->tok[0] == '$') {
        kind = parse_directive(p, line);
    } else {
        char name[DNS_NAME_MAX + 1];
        if (indented) {
            if (!p->has_owner)
                return zerr(p, line, "blank owner without a previous owner");
        } else {
            if (parse_name(p, kind, "owner name", name) < 0)
                return -1;
            lower(name);
            memcpy(p->owner, name, sizeof(name));
            p->has_owner = 1;
            kind = next_token(p);
        }
        int seen_ttl = 0, seen_class = 0, type;
        for (;;) {
            if (want_word(p, kind, "record type") < 0)
                return -1;
            const char *t = (const char *)p->tok;
            if (!seen_ttl && is_ttl(t)) {
                seen_ttl = 1;
            } else if (!seen_class && strcasecmp(t, "IN") == 0) {
                seen_class = 1;
            } else if (strcasecmp(t, "CH") == 0 || strcasecmp(t, "HS") == 0 ||
                       strcasecmp(t, "CS") == 0) {
                return zerr(p, p->tokline, "only class IN is supported");
            } else {
                break;
            }
            kind = next_token(p);
        }
        if (lookup_type((const char *)p->tok, &type) < 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "unsupported record type \"%.40s\"", (const char *)p->tok);
            return zerr(p, p->tokline, msg);
        }
        struct znode *nd = zone_node(p->z, p->owner);
        if (!nd)
            return fa_err_set(p->err, "out of memory");
        uint8_t ip[16];
        char target[DNS_NAME_MAX + 1];
        switch (type) {
        case -1:
            nd->timeout = 1;
            kind = next_token(p);
            break;
        case 0: /* NS, SOA: the owner exists; data not served */
            while ((kind = next_token(p)) == TK_WORD || kind == TK_QUOTED)
                ;
            break;
        case DNS_T_A:
        case DNS_T_AAAA:
            if (want_word(p, next_token(p), "IP address") < 0)
                return -1;
            if (inet_pton(type == DNS_T_A ? AF_INET : AF_INET6, (const char *)p->tok, ip) != 1)
                return zerr(p, p->tokline,
                            type == DNS_T_A ? "bad IPv4 address" : "bad IPv6 address");
            if (add_rr(p, nd, type, 0, ip, type == DNS_T_A ? 4 : 16, line) < 0)
                return -1;
            kind = next_token(p);
            break;
        case DNS_T_MX: {
            if (want_word(p, next_token(p), "MX preference") < 0)
                return -1;
            const char *t = (const char *)p->tok;
            unsigned long pref = 0;
            size_t i = 0;
            for (; t[i] && isdigit((unsigned char)t[i]) && i < 6; i++)
                pref = pref * 10 + (unsigned long)(t[i] - '0');
            if (i == 0 || t[i] || pref > 65535)
                return zerr(p, p->tokline, "bad MX preference (0 to 65535)");
            if (parse_name(p, next_token(p), "MX exchange", target) < 0)
                return -1;
            if (add_rr(p, nd, type, (unsigned)pref, target, strlen(target), line) < 0)
                return -1;
            kind = next_token(p);
            break;
        }
        case DNS_T_PTR:
        case DNS_T_CNAME:
            if (parse_name(p, next_token(p), type == DNS_T_PTR ? "PTR name" : "CNAME target",
                           target) < 0)
                return -1;
            if (add_rr(p, nd, type, 0, target, strlen(target), line) < 0)
                return -1;
            kind = next_token(p);
            break;
        default: /* TXT, SPF */
            kind = parse_txt(p, nd, type, line);
            break;
        }
    }
    if (kind < 0)
        return -1;
    if (kind != TK_EOL && kind != TK_EOF)
        return zerr(p, p->tokline, "unexpected text after the record data");
    return 1;
}

/* RFC 1034 3.6.2: a CNAME is alone at its name. */
static int check_cnames(struct zp *p)
{
    for (size_t k = 0; k < p->z->n; k++) {
        const struct znode *nd = &p->z->nodes[k];
        size_t cn = 0;
        for (size_t i = 0; i < nd->n; i++)
            cn += nd->rr[i].type == DNS_T_CNAME;
        if (cn && (cn > 1 || nd->n > 1))
            return fa_err_set(p->err, "%s: %s: a CNAME must be the only record at its name",
                              p->file, nd->name[0] ? nd->name : ".");
    }
    return 0;
}

struct dns_zone *dns_zone_parse(const char *name, const char *buf, size_t len, fa_err *err)
{
    struct zp p = {.file = name ? name : "zone", .b = buf, .n = len, .line = 1, .err = err};
    if (len > DNS_ZONE_MAX_BYTES) {
        fa_err_set(err, "%s: zone file over %u octets", p.file, DNS_ZONE_MAX_BYTES);
        return NULL;
    }
    /* Every physical line bounded first: tokens then always fit p.tok. */
    unsigned line = 1;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || buf[i] == '\n') {
            if (i - start > ZONE_MAX_LINE) {
                fa_err_set(err, "%s:%u: line longer than %d octets", p.file, line, ZONE_MAX_LINE);
                return NULL;
            }
            line++;
            start = i + 1;
        }
    }
    p.z = calloc(1, sizeof(*p.z));
    p.tok = malloc(ZONE_MAX_LINE + 1);
    if (!p.z || !p.tok) {
        fa_err_set(err, "out of memory");
        goto fail;
    }
    int r;
    while ((r = parse_record(&p)) > 0)
        ;
    if (r < 0 || check_cnames(&p) < 0)
        goto fail;
    free(p.tok);
    return p.z;
fail:
    free(p.tok);
    dns_zone_free(p.z);
    return NULL;
}

/* ---- lookups ---- */

int dns_zone_query(const struct dns_zone *z, const char *name, int type, struct dns_answer *a)
{
    char cur[DNS_NAME_MAX + 1];
    memcpy(cur, name, strlen(name) + 1);
    for (int hops = 0;; hops++) {
        const struct znode *nd = zone_find(z, cur);
        if (!nd)
            return dns_answer_set(a, DNS_NXDOMAIN, "no such name in the zone file");
        const struct zrr *cname = NULL;
        for (size_t i = 0; i < nd->n; i++) {
            const struct zrr *r = &nd->rr[i];
            if (r->type == type) {
                if (dns_answer_add(a, r->data, r->len, r->pref) < 0)
                    return dns_answer_set(a, DNS_TEMPFAIL, "out of memory");
            } else if (r->type == DNS_T_CNAME) {
                cname = r;
            }
        }
        if (a->n > 0) {
            a->status = DNS_OK;
            return DNS_OK;
        }
        if (cname) {
            if (hops >= DNS_CNAME_MAX)
                return dns_answer_set(a, DNS_TEMPFAIL, "CNAME chain longer than 8 (or a loop)");
            memcpy(cur, cname->data, cname->len + 1); /* checked name: fits */
            continue;
        }
        if (nd->timeout)
            return dns_answer_fail(a, DNS_TEMPFAIL, DNS_FAIL_TIMEOUT, dns_why_zone_timeout);
        return dns_answer_set(a, DNS_NODATA, "no record of that type in the zone file");
    }
}
