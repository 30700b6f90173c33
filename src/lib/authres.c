/* authres - Authentication-Results render and authserv-id parse; see authres.h. */
#include "authres.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

int authres_serv_id(const char *value, size_t n, char *out, size_t outsz)
{
    size_t i = skip_cfws(value, n, 0), o = 0;
    if (i >= n || outsz == 0)
        return -1;
    if (value[i] == '"') {
        for (i++; i < n && value[i] != '"'; i++) {
            if (value[i] == '\\' && i + 1 < n)
                i++;
            if (o + 1 >= outsz)
                return -1;
            out[o++] = value[i];
        }
        if (i >= n)
            return -1; /* unterminated */
    } else {
        for (; i < n; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c <= 32 || c == 127 || c == ';' || c == '(' || c == '"')
                break;
            if (o + 1 >= outsz)
                return -1;
            out[o++] = (char)c;
        }
    }
    if (o == 0)
        return -1;
    out[o] = '\0';
    return (int)o;
}
