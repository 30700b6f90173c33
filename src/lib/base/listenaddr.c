/* listenaddr - Postfix-style listener addresses, parsed and formatted; see listenaddr.h. */
#include "listenaddr.h"

#include <stdio.h>
#include <string.h>

int listen_parse_port(const char *s, size_t n, unsigned *port)
{
    if (n == 0 || n > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535 || (s[0] == '0'))
        return -1;
    *port = v;
    return 0;
}

static int host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':' || c == '%';
}

int listen_parse(const char *s, size_t n, struct listen_addr *a, fa_err *err)
{
    memset(a, 0, sizeof(*a));
    int shown = n > 80 ? 80 : (int)n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f)
            return fa_err_set(err, "listen address: control character, space or 8-bit byte");
    }
    if (n > 5 && memcmp(s, "unix:", 5) == 0) {
        const char *p = s + 5;
        size_t pl = n - 5;
        if (p[0] != '/')
            return fa_err_set(err, "\"%.*s\": a unix: socket path must be absolute", shown, s);
        if (pl > LISTEN_PATH_MAX)
            return fa_err_set(err, "\"%.*s\": socket path longer than %d bytes", shown, s,
                              LISTEN_PATH_MAX);
        a->kind = LISTEN_UNIX;
        memcpy(a->path, p, pl);
        a->path[pl] = '\0';
        return 0;
    }
    if (n > 5 && memcmp(s, "inet:", 5) == 0) {
        const char *p = s + 5, *end = s + n;
        const char *colon = NULL;
        const char *hs = p, *he;
        if (*p == '[') {
            const char *rb = memchr(p, ']', (size_t)(end - p));
            if (!rb || rb + 1 >= end || rb[1] != ':')
                return fa_err_set(err, "\"%.*s\": expected inet:[ADDRESS]:PORT", shown, s);
            hs = p + 1;
            he = rb;
            colon = rb + 1;
            if (he == hs)
                return fa_err_set(err, "\"%.*s\": empty address in brackets", shown, s);
        } else {
            for (const char *q = p; q < end; q++)
                if (*q == ':')
                    colon = q;
            if (!colon) {
                /* inet:PORT: every interface */
                if (listen_parse_port(p, (size_t)(end - p), &a->port) < 0)
                    return fa_err_set(err, "\"%.*s\": bad port (1..65535)", shown, s);
                a->kind = LISTEN_INET_ANY;
                return 0;
            }
            he = colon;
            if (memchr(hs, ':', (size_t)(he - hs)))
                return fa_err_set(
                    err, "\"%.*s\": write IPv6 addresses in brackets: inet:[::1]:PORT", shown, s);
            if (he == hs)
                return fa_err_set(err, "\"%.*s\": empty host", shown, s);
        }
        if (listen_parse_port(colon + 1, (size_t)(end - colon - 1), &a->port) < 0)
            return fa_err_set(err, "\"%.*s\": bad port (1..65535)", shown, s);
        size_t hl = (size_t)(he - hs);
        if (hl > LISTEN_HOST_MAX)
            return fa_err_set(err, "\"%.*s\": host name too long", shown, s);
        for (size_t i = 0; i < hl; i++)
            if (!host_char_ok(hs[i]))
                return fa_err_set(err, "\"%.*s\": bad character in host", shown, s);
        memcpy(a->host, hs, hl);
        a->host[hl] = '\0';
        a->kind = LISTEN_INET;
        return 0;
    }
    return fa_err_set(err,
                      "\"%.*s\": expected inet:HOST:PORT, inet:[ADDRESS]:PORT, inet:PORT "
                      "or unix:/PATH",
                      shown, s);
}

int listen_format(const struct listen_addr *a, char *out, size_t outsz)
{
    int n;
    switch (a->kind) {
    case LISTEN_UNIX:
        n = snprintf(out, outsz, "unix:%s", a->path);
        break;
    case LISTEN_INET_ANY:
        n = snprintf(out, outsz, "inet:%u", a->port);
        break;
    default:
        if (strchr(a->host, ':'))
            n = snprintf(out, outsz, "inet:[%s]:%u", a->host, a->port);
        else
            n = snprintf(out, outsz, "inet:%s:%u", a->host, a->port);
    }
    return n < 0 || (size_t)n >= outsz ? -1 : n;
}
