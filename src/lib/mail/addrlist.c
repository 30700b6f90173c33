/* addrlist - RFC 5322 address-list fields to envelope addresses; see addrlist.h. */
#include "addrlist.h"

#include "addr.h"

#include <stdlib.h>
#include <string.h>

enum tok_type { T_EOF, T_ERR, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL };

struct tok {
    int type;
    size_t start, end; /* T_ATOM: the atom; T_QSTR: inside the quotes; T_DLIT: with brackets */
    char c;            /* T_SPECIAL */
};

struct lex {
    const char *p;
    size_t n, off;
    fa_err *err;
    unsigned allow;              /* ADDRLIST_REPAIR_* forms accepted */
    struct addrlist_report *rep; /* never NULL */
};

static int is_atext(unsigned char c)
{
    if (c >= 0x80)
        return 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static int lex_error(struct lex *lx, struct tok *t, size_t at, const char *what)
{
    fa_err_set(lx->err, "%s at offset %zu", what, at);
    t->type = T_ERR;
    return T_ERR;
}

/* Skip white space, folding and (nested) comments. */
static int skip_cfws(struct lex *lx, struct tok *t)
{
    while (lx->off < lx->n) {
        char c = lx->p[lx->off];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            lx->off++;
        } else if (c == '(') {
            size_t at = lx->off, depth = 0;
            do {
                c = lx->p[lx->off];
                if (c == '\\') {
                    if (lx->off + 1 >= lx->n)
                        break;
                    lx->off++;
                } else if (c == '(') {
                    depth++;
                } else if (c == ')') {
                    depth--;
                }
                lx->off++;
            } while (depth > 0 && lx->off < lx->n);
            if (depth > 0) {
                lex_error(lx, t, at, "unterminated comment");
                return -1;
            }
        } else {
            break;
        }
    }
    return 0;
}

static int next(struct lex *lx, struct tok *t)
{
    if (skip_cfws(lx, t) < 0)
        return T_ERR;
    if (lx->off >= lx->n)
        return t->type = T_EOF;
    size_t at = lx->off;
    unsigned char c = (unsigned char)lx->p[at];
    if (c == '"' || c == '[') {
        char close = c == '"' ? '"' : ']';
        size_t i = at + 1;
        for (; i < lx->n; i++) {
            char d = lx->p[i];
            if (d == close)
                break;
            if (d == '\\') {
                i++; /* quoted pair: skip the next octet */
                continue;
            }
            if (c == '[' && d == '[')
                return lex_error(lx, t, i, "\"[\" inside a domain literal");
        }
        if (i >= lx->n)
            return lex_error(lx, t, at,
                             c == '"' ? "unterminated quoted string"
                                      : "unterminated domain "
                                        "literal");
        lx->off = i + 1;
        if (c == '"') {
            t->start = at + 1;
            t->end = i;
            return t->type = T_QSTR;
        }
        t->start = at;
        t->end = i + 1;
        return t->type = T_DLIT;
    }
    if (is_atext(c)) {
        size_t i = at;
        while (i < lx->n && is_atext((unsigned char)lx->p[i]))
            i++;
        t->start = at;
        t->end = i;
        lx->off = i;
        return t->type = T_ATOM;
    }
    if (c != '\0' && strchr("<>:;@,.)]\\", c)) {
        if (c == ')' || c == ']' || c == '\\')
            return lex_error(lx, t, at, c == ')' ? "unbalanced \")\"" : "unexpected character");
        lx->off++;
        t->start = at;
        t->c = (char)c;
        return t->type = T_SPECIAL;
    }
    return lex_error(lx, t, at, "unexpected character");
}

static int is_special(const struct tok *t, char c)
{
    return t->type == T_SPECIAL && t->c == c;
}

static int is_word(const struct tok *t)
{
    return t->type == T_ATOM || t->type == T_QSTR;
}

/* Append a word's content (quoted pairs and folding undone) to buf. */
static int append_word(const struct lex *lx, const struct tok *t, char *buf, size_t *len,
                       size_t max)
{
    for (size_t i = t->start; i < t->end; i++) {
        char c = lx->p[i];
        if (t->type == T_QSTR) {
            if (c == '\r' || c == '\n')
                continue; /* folding inside a quoted string */
            if (c == '\\')
                c = lx->p[++i];
        }
        if ((unsigned char)c < 0x20 || c == 0x7f)
            return fa_err_set(lx->err, "control character in address at offset %zu", i);
        if (*len >= max)
            return fa_err_set(lx->err, "address part longer than %zu octets at offset %zu", max,
                              t->start);
        buf[(*len)++] = c;
    }
    return 0;
}

/* addr-spec up to (and, when angle, including) the closing ">"; adds it. */
static int parse_addr_spec(struct addrlist *l, struct lex *lx, int angle)
{
    char local[ADDR_LOCAL_MAX + 1], domain[ADDR_DOMAIN_MAX + 1];
    size_t ll = 0, dl = 0;
    struct tok t;
    size_t at = lx->off;

    if (next(lx, &t) == T_ERR)
        return -1;
    if (!is_word(&t))
        return fa_err_set(lx->err, "empty local part at offset %zu", at);
    for (;;) {
        if (append_word(lx, &t, local, &ll, ADDR_LOCAL_MAX) < 0)
            return -1;
        if (next(lx, &t) == T_ERR)
            return -1;
        if (is_special(&t, '@'))
            break;
        if (!is_special(&t, '.'))
            return fa_err_set(lx->err, "no \"@\" in address at offset %zu", at);
        if (ll >= ADDR_LOCAL_MAX)
            return fa_err_set(lx->err, "local part too long at offset %zu", at);
        local[ll++] = '.';
        if (next(lx, &t) == T_ERR)
            return -1;
        if (!is_word(&t))
            return fa_err_set(lx->err, "empty word in local part at offset %zu", at);
    }

    size_t dat = lx->off;
    if (next(lx, &t) == T_ERR)
        return -1;
    if (t.type == T_DLIT) {
        for (size_t i = t.start; i < t.end; i++) {
            char c = lx->p[i];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
                continue;
            if (c == '\\')
                c = lx->p[++i];
            if (dl >= ADDR_DOMAIN_MAX)
                return fa_err_set(lx->err, "domain too long at offset %zu", dat);
            domain[dl++] = c;
        }
    } else if (t.type == T_ATOM) {
        for (;;) {
            size_t wl = t.end - t.start;
            if (dl + wl + 1 > ADDR_DOMAIN_MAX)
                return fa_err_set(lx->err, "domain too long at offset %zu", dat);
            memcpy(domain + dl, lx->p + t.start, wl);
            dl += wl;
            struct lex save = *lx;
            if (next(lx, &t) == T_ERR)
                return -1;
            if (!is_special(&t, '.')) {
                *lx = save;
                break;
            }
            save = *lx;
            if (next(lx, &t) == T_ERR)
                return -1;
            if (t.type != T_ATOM) {
                /* "a@example.org." (the root's dot): only where the address
                 * ends, and only when the caller reads the field as
                 * receivers do. */
                int at_end = t.type == T_EOF || is_special(&t, '>') || is_special(&t, ',') ||
                             is_special(&t, ';');
                if (!(lx->allow & ADDRLIST_REPAIR_TRAILING_DOT) || !at_end)
                    return fa_err_set(lx->err, "empty label in domain at offset %zu", dat);
                *lx = save;
                lx->rep->repairs |= ADDRLIST_REPAIR_TRAILING_DOT;
                break;
            }
            domain[dl++] = '.';
        }
    } else {
        return fa_err_set(lx->err, "no domain after \"@\" at offset %zu", dat);
    }
    if (!addr_valid_domain(domain, dl))
        return fa_err_set(lx->err, "invalid domain at offset %zu", dat);
    if (angle) {
        size_t gt = lx->off;
        if (next(lx, &t) == T_ERR)
            return -1;
        if (!is_special(&t, '>'))
            return fa_err_set(lx->err, "expected \">\" at offset %zu", gt);
    }

    lx->rep->mailboxes++;
    char addr[2 * ADDR_LOCAL_MAX + 3 + 1 + ADDR_DOMAIN_MAX + 1];
    int ql = addr_quote_local(local, ll, addr, 2 * ADDR_LOCAL_MAX + 3);
    if (ql < 0)
        return fa_err_set(lx->err, "local part too long at offset %zu", at);
    addr[ql] = '@';
    memcpy(addr + ql + 1, domain, dl);
    return addrlist_add(l, addr, (size_t)ql + 1 + dl, lx->err);
}

/* After "<": an optional obsolete route "@a,@b:", then addr-spec ">". */
static int parse_angle(struct addrlist *l, struct lex *lx)
{
    struct lex save = *lx;
    struct tok t;
    if (next(lx, &t) == T_ERR)
        return -1;
    if (is_special(&t, '>'))
        return fa_err_set(lx->err, "empty address \"<>\" at offset %zu", save.off);
    if (!is_special(&t, '@')) {
        *lx = save;
        return parse_addr_spec(l, lx, 1);
    }
    /* obs-route = obs-domain-list ":"; obs-domain-list = *(CFWS / ",") "@" domain
     * *("," [CFWS] ["@" domain]) */
    for (;;) {
        if (next(lx, &t) == T_ERR)
            return -1;
        if (t.type == T_ATOM || t.type == T_DLIT || is_special(&t, '.') || is_special(&t, '@') ||
            is_special(&t, ','))
            continue;
        if (is_special(&t, ':'))
            return parse_addr_spec(l, lx, 1);
        return fa_err_set(lx->err, "bad source route at offset %zu", save.off);
    }
}

void addrlist_init(struct addrlist *l)
{
    l->addr = NULL;
    l->n = 0;
    l->cap = 0;
}

void addrlist_free(struct addrlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->addr[i]);
    free(l->addr);
    addrlist_init(l);
}

int addrlist_add(struct addrlist *l, const char *addr, size_t n, fa_err *err)
{
    if (n == 0)
        return fa_err_set(err, "empty address");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)addr[i] < 0x20 || addr[i] == 0x7f)
            return fa_err_set(err, "control character in address");
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->addr[i]) == n && memcmp(l->addr[i], addr, n) == 0)
            return 0;
    if (l->n >= ADDRLIST_MAX)
        return fa_err_set(err, "more than %d addresses", ADDRLIST_MAX);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **na = realloc(l->addr, cap * sizeof(*na));
        if (!na)
            return fa_err_set(err, "out of memory");
        l->addr = na;
        l->cap = cap;
    }
    char *s = malloc(n + 1);
    if (!s)
        return fa_err_set(err, "out of memory");
    memcpy(s, addr, n);
    s[n] = '\0';
    l->addr[l->n++] = s;
    return 0;
}

/* The end of the field: 1, or -1 inside a group (unless its ";" may be
 * missing). */
static int end_of_field(struct lex *lx, int in_group)
{
    if (!in_group)
        return 1;
    if (!(lx->allow & ADDRLIST_REPAIR_OPEN_GROUP))
        return fa_err_set(lx->err, "group without \";\" at end of field");
    lx->rep->repairs |= ADDRLIST_REPAIR_OPEN_GROUP;
    return 1;
}

/* After a mailbox or a group's ";": what may follow. Returns 1 at the end
 * of the field, 0 to go on, -1 on error. */
static int after_item(struct lex *lx, int *in_group)
{
    struct tok t;
    size_t at = lx->off;
    if (next(lx, &t) == T_ERR)
        return -1;
    if (t.type == T_EOF)
        return end_of_field(lx, *in_group);
    if (is_special(&t, ','))
        return 0;
    if (*in_group && is_special(&t, ';')) {
        *in_group = 0;
        return after_item(lx, in_group);
    }
    if (is_special(&t, ';') && (lx->allow & ADDRLIST_REPAIR_SEMICOLON)) {
        lx->rep->repairs |= ADDRLIST_REPAIR_SEMICOLON;
        return 0; /* read as "," */
    }
    return fa_err_set(lx->err, "expected \",\" at offset %zu", t.type == T_EOF ? at : t.start);
}

static int parse_list(struct addrlist *l, struct lex *lx)
{
    int in_group = 0;
    for (;;) {
        struct lex save = *lx;
        struct tok t;
        size_t words = 0;
        while (next(lx, &t) != T_ERR && (is_word(&t) || is_special(&t, '.')))
            words++;
        if (t.type == T_ERR)
            return -1;
        int rc;
        if (t.type == T_EOF || is_special(&t, ',') || is_special(&t, ';')) {
            if (words)
                return fa_err_set(lx->err, "no \"@\" in address at offset %zu", save.off);
            if (t.type == T_EOF)
                return end_of_field(lx, in_group) < 0 ? -1 : 0;
            if (is_special(&t, ','))
                continue; /* empty list element (obs-addr-list) */
            if (!in_group && (lx->allow & ADDRLIST_REPAIR_SEMICOLON)) {
                lx->rep->repairs |= ADDRLIST_REPAIR_SEMICOLON;
                continue; /* read as "," */
            }
            if (!in_group)
                return fa_err_set(lx->err, "\";\" outside a group at offset %zu", t.start);
            in_group = 0;
            rc = after_item(lx, &in_group);
        } else if (is_special(&t, ':')) {
            if (in_group)
                return fa_err_set(lx->err, "group inside a group at offset %zu", t.start);
            in_group = 1;
            lx->rep->groups++;
            continue;
        } else if (is_special(&t, '<')) {
            if (lx->rep->mailboxes == 0) {
                /* The first mailbox's display name: what the words were. */
                lx->rep->name_off = save.off;
                lx->rep->name_end = t.start;
            }
            size_t before = lx->rep->mailboxes;
            if (parse_angle(l, lx) < 0)
                return -1;
            lx->rep->in_group += in_group ? lx->rep->mailboxes - before : 0;
            rc = after_item(lx, &in_group);
        } else if (is_special(&t, '@')) {
            *lx = save;
            if (parse_addr_spec(l, lx, 0) < 0)
                return -1;
            lx->rep->in_group += in_group ? 1 : 0;
            rc = after_item(lx, &in_group);
        } else {
            return fa_err_set(lx->err, "unexpected %s at offset %zu",
                              t.type == T_DLIT ? "domain literal" : "\">\"", t.start);
        }
        if (rc < 0)
            return -1;
        if (rc == 1)
            return 0;
    }
}

int addrlist_parse(struct addrlist *l, const char *p, size_t n, fa_err *err)
{
    return addrlist_parse_report(l, p, n, 0, NULL, err);
}

int addrlist_parse_report(struct addrlist *l, const char *p, size_t n, unsigned allow,
                          struct addrlist_report *rep, fa_err *err)
{
    fa_err local_err;
    struct addrlist_report local_rep;
    if (!rep)
        rep = &local_rep;
    memset(rep, 0, sizeof(*rep));
    struct lex lx = {
        .p = p, .n = n, .off = 0, .err = err ? err : &local_err, .allow = allow, .rep = rep};
    size_t before = l->n;
    if (parse_list(l, &lx) == 0)
        return 0;
    while (l->n > before)
        free(l->addr[--l->n]);
    return -1;
}

int addrlist_first_split(const char *value, size_t n, int exactly_one, char *local, size_t localsz,
                         char *domain, size_t domainsz)
{
    struct addrlist l;
    addrlist_init(&l);
    int rc = -1;
    if (addrlist_parse(&l, value, n, NULL) == 0 && l.n > 0 && (!exactly_one || l.n == 1)) {
        const char *a = l.addr[0], *at = strrchr(a, '@');
        if (at && (size_t)(at - a) < localsz && strlen(at + 1) < domainsz) {
            memcpy(local, a, (size_t)(at - a));
            local[at - a] = '\0';
            strcpy(domain, at + 1);
            rc = 0;
        }
    }
    addrlist_free(&l);
    return rc;
}
