/* authres - Authentication-Results render and authserv-id parse; see authres.h. */
#include "authres.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void authres_begin(struct authres *ar, const char *authserv_id)
{
    snprintf(ar->id, sizeof(ar->id), "%s", authserv_id);
    ar->n = 0;
    ar->truncated = 0;
}

/* RFC 2045 token: printable US-ASCII but SPACE, CTLs and tspecials. */
static int is_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c))
            return 0;
    }
    return 1;
}

/* Append to buf at *o, bounded; returns -1 when it does not fit. */
static int app(char *buf, size_t sz, size_t *o, const char *s, size_t n)
{
    if (*o + n >= sz)
        return -1;
    memcpy(buf + *o, s, n);
    *o += n;
    buf[*o] = '\0';
    return 0;
}

static int app_escaped(char *buf, size_t sz, size_t *o, const char *s, const char *special)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 32 || c == 127)
            c = ' '; /* never let a CR or LF into a header */
        if (strchr(special, c) && app(buf, sz, o, "\\", 1) < 0)
            return -1;
        char ch = (char)c;
        if (app(buf, sz, o, &ch, 1) < 0)
            return -1;
    }
    return 0;
}

int authres_add(struct authres *ar, const char *method, const char *result, const char *reason, ...)
{
    if (ar->n == AUTHRES_MAX_RESULTS) {
        ar->truncated = 1;
        return -1;
    }
    char *buf = ar->results[ar->n];
    size_t sz = sizeof(ar->results[0]), o = 0;
    buf[0] = '\0';
    int rc = app(buf, sz, &o, method, strlen(method));
    rc |= app(buf, sz, &o, "=", 1);
    rc |= app(buf, sz, &o, result, strlen(result));
    if (reason && reason[0]) {
        rc |= app(buf, sz, &o, " (", 2);
        rc |= app_escaped(buf, sz, &o, reason, "()\\");
        rc |= app(buf, sz, &o, ")", 1);
    }
    va_list ap;
    va_start(ap, reason);
    for (;;) {
        const char *prop = va_arg(ap, const char *);
        if (!prop)
            break;
        const char *val = va_arg(ap, const char *);
        if (!val || !val[0])
            continue;
        rc |= app(buf, sz, &o, " ", 1);
        rc |= app(buf, sz, &o, prop, strlen(prop));
        rc |= app(buf, sz, &o, "=", 1);
        if (is_token(val)) {
            rc |= app(buf, sz, &o, val, strlen(val));
        } else {
            rc |= app(buf, sz, &o, "\"", 1);
            rc |= app_escaped(buf, sz, &o, val, "\"\\");
            rc |= app(buf, sz, &o, "\"", 1);
        }
    }
    va_end(ap);
    if (rc) {
        ar->truncated = 1;
        return -1;
    }
    ar->n++;
    return 0;
}

const char *authres_value(struct authres *ar, const char *eol)
{
    size_t o = 0, sz = sizeof(ar->out);
    ar->out[0] = '\0';
    app(ar->out, sz, &o, " ", 1);
    app(ar->out, sz, &o, ar->id, strlen(ar->id));
    app(ar->out, sz, &o, ";", 1);
    if (ar->n == 0) {
        app(ar->out, sz, &o, " none", 5);
        return ar->out;
    }
    for (size_t i = 0; i < ar->n; i++) {
        size_t before = o;
        int rc = app(ar->out, sz, &o, eol, strlen(eol));
        rc |= app(ar->out, sz, &o, "\t", 1);
        rc |= app(ar->out, sz, &o, ar->results[i], strlen(ar->results[i]));
        if (i + 1 < ar->n)
            rc |= app(ar->out, sz, &o, ";", 1);
        if (rc) {
            /* Cut at the last whole result. */
            o = before;
            if (o && ar->out[o - 1] == ';')
                o--;
            ar->out[o] = '\0';
            ar->truncated = 1;
            break;
        }
    }
    return ar->out;
}

/* Skip white space and (nested) comments; returns the new position. */
static size_t skip_cfws(const char *s, size_t n, size_t i)
{
    int depth = 0;
    while (i < n) {
        char c = s[i];
        if (depth > 0 && c == '\\' && i + 1 < n) {
            i += 2;
            continue;
        }
        if (c == '(') {
            depth++;
        } else if (c == ')' && depth > 0) {
            depth--;
        } else if (depth == 0 && !(c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
            break;
        }
        i++;
    }
    return i;
}

/* ---- parsing ---- */

static int is_keyword_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* A keyword at *i into out (lower-cased); -1 if none or too long. */
static int take_keyword(const char *s, size_t n, size_t *i, char *out, size_t outsz)
{
    size_t o = 0;
    while (*i < n && is_keyword_char(s[*i])) {
        if (o + 1 >= outsz)
            return -1;
        char c = s[(*i)++];
        out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[o] = '\0';
    return o ? 0 : -1;
}

/* A quoted string (unescaped) or a run of octets that are not white space,
 * controls, ";", "(", ")" or '"' (tokens, addresses, "@domain"); -1 if none,
 * unterminated or too long. */
static int take_value(const char *s, size_t n, size_t *i, char *out, size_t outsz)
{
    size_t o = 0;
    if (*i < n && s[*i] == '"') {
        for ((*i)++; *i < n && s[*i] != '"'; (*i)++) {
            if (s[*i] == '\\' && *i + 1 < n)
                (*i)++;
            if (o + 1 >= outsz)
                return -1;
            out[o++] = s[*i];
        }
        if (*i >= n)
            return -1;
        (*i)++;
        out[o] = '\0';
        return 0;
    }
    while (*i < n) {
        unsigned char c = (unsigned char)s[*i];
        if (c <= 32 || c == 127 || c == ';' || c == '(' || c == ')' || c == '"')
            break;
        if (o + 1 >= outsz)
            return -1;
        out[o++] = (char)c;
        (*i)++;
    }
    out[o] = '\0';
    return o ? 0 : -1;
}

int authres_serv_id(const char *value, size_t n, char *out, size_t outsz)
{
    size_t i = skip_cfws(value, n, 0);
    if (outsz == 0 || take_value(value, n, &i, out, outsz) < 0 || !out[0])
        return -1;
    return (int)strlen(out);
}

static int parse_fail(const char **why, const char *text)
{
    *why = text;
    return -1;
}

/* One resinfo after its ";": methodspec [reasonspec] *propspec. */
static int parse_resinfo(const char *s, size_t n, size_t *pi, struct authres_resinfo *r,
                         const char **why)
{
    size_t i = *pi;
    memset(r, 0, sizeof(*r));
    r->raw_off = i;
    if (take_keyword(s, n, &i, r->method, sizeof(r->method)) < 0)
        return parse_fail(why, "bad method");
    i = skip_cfws(s, n, i);
    if (i < n && s[i] == '/') {
        i = skip_cfws(s, n, i + 1);
        unsigned v = 0;
        size_t d = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && d < 6) {
            v = v * 10 + (unsigned)(s[i++] - '0');
            d++;
        }
        if (d == 0 || (i < n && s[i] >= '0' && s[i] <= '9'))
            return parse_fail(why, "bad method version");
        r->method_version = v;
        i = skip_cfws(s, n, i);
    }
    if (i >= n || s[i] != '=')
        return parse_fail(why, "method without \"=\"");
    i = skip_cfws(s, n, i + 1);
    if (take_keyword(s, n, &i, r->result, sizeof(r->result)) < 0)
        return parse_fail(why, "bad result");
    size_t end = i;
    for (;;) {
        size_t j = skip_cfws(s, n, i);
        /* Comments after the last token belong to this result's text. */
        for (size_t k = i; k < j; k++)
            if (s[k] == ')')
                end = k + 1;
        i = j;
        if (i >= n || s[i] == ';')
            break;
        char word[64];
        if (take_keyword(s, n, &i, word, sizeof(word)) < 0)
            return parse_fail(why, "bad property");
        i = skip_cfws(s, n, i);
        if (i < n && s[i] == '=' && strcmp(word, "reason") == 0 && !r->reason[0] &&
            r->nprops == 0) {
            i = skip_cfws(s, n, i + 1);
            if (take_value(s, n, &i, r->reason, sizeof(r->reason)) < 0)
                return parse_fail(why, "bad reason");
            end = i;
            continue;
        }
        if (i >= n || s[i] != '.')
            return parse_fail(why, "property without ptype");
        if (r->nprops == AUTHRES_MAX_PROPS)
            return parse_fail(why, "too many properties");
        struct authres_prop *p = &r->props[r->nprops];
        if (strlen(word) >= sizeof(p->ptype))
            return parse_fail(why, "ptype too long");
        memcpy(p->ptype, word, strlen(word) + 1);
        i = skip_cfws(s, n, i + 1);
        if (take_keyword(s, n, &i, p->property, sizeof(p->property)) < 0)
            return parse_fail(why, "bad property name");
        i = skip_cfws(s, n, i);
        if (i >= n || s[i] != '=')
            return parse_fail(why, "property without \"=\"");
        i = skip_cfws(s, n, i + 1);
        if (take_value(s, n, &i, p->value, sizeof(p->value)) < 0)
            return parse_fail(why, "bad property value");
        r->nprops++;
        end = i;
    }
    r->raw_len = end - r->raw_off;
    *pi = i;
    return 0;
}

int authres_parse(const char *value, size_t n, struct authres_parsed *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    out->version = 1;
    size_t i = skip_cfws(value, n, 0);
    if (take_value(value, n, &i, out->serv_id, sizeof(out->serv_id)) < 0 || !out->serv_id[0])
        return parse_fail(why, "no authserv-id");
    i = skip_cfws(value, n, i);
    if (i < n && value[i] >= '0' && value[i] <= '9') {
        unsigned v = 0;
        size_t d = 0;
        while (i < n && value[i] >= '0' && value[i] <= '9' && d < 6) {
            v = v * 10 + (unsigned)(value[i++] - '0');
            d++;
        }
        if (i < n && value[i] >= '0' && value[i] <= '9')
            return parse_fail(why, "bad version");
        out->version = v;
        i = skip_cfws(value, n, i);
    }
    if (i >= n)
        return parse_fail(why, "no result and no \"none\"");
    while (i < n) {
        if (value[i] != ';')
            return parse_fail(why, "\";\" expected");
        i = skip_cfws(value, n, i + 1);
        if (i >= n)
            break; /* a trailing ";" (common, harmless) */
        if (out->n == 0 && !out->none && n - i >= 4 && strncasecmp(value + i, "none", 4) == 0 &&
            skip_cfws(value, n, i + 4) == n) {
            out->none = 1;
            break;
        }
        if (out->n == AUTHRES_MAX_RESULTS)
            return parse_fail(why, "too many results");
        if (parse_resinfo(value, n, &i, &out->r[out->n], why) < 0)
            return -1;
        out->n++;
    }
    if (out->n == 0 && !out->none)
        return parse_fail(why, "no result and no \"none\"");
    return 0;
}
