/* listen - Postfix-style listener addresses and their sockets; see listen.h. */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int parse_port(const char *s, size_t n, unsigned *port)
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
                if (parse_port(p, (size_t)(end - p), &a->port) < 0)
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
        if (parse_port(colon + 1, (size_t)(end - colon - 1), &a->port) < 0)
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

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int open_unix(const struct listen_addr *a, fa_err *err)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
    struct stat st;
    if (lstat(a->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return fa_err_set(err, "unix:%s exists and is not a socket: refusing to remove it",
                              a->path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return fa_err_errno(err, errno, "unix:%s: socket", a->path);
        int in_use = connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
        close(probe);
        if (in_use)
            return fa_err_set(err, "unix:%s: another process listens on this socket", a->path);
        if (unlink(a->path) < 0)
            return fa_err_errno(err, errno, "unix:%s: cannot remove stale socket", a->path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fa_err_errno(err, errno, "unix:%s: socket", a->path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        close(fd);
        return fa_err_errno(err, e, "unix:%s: bind", a->path);
    }
    if (chmod(a->path, 0666) < 0 || listen(fd, SOMAXCONN) < 0 || set_nonblock(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(a->path);
        return fa_err_errno(err, e, "unix:%s: chmod/listen", a->path);
    }
    return fd;
}

static int open_inet(const struct listen_addr *a, fa_err *err)
{
    char port[8], shown[LISTEN_HOST_MAX + 32];
    snprintf(port, sizeof(port), "%u", a->port);
    if (listen_format(a, shown, sizeof(shown)) < 0)
        snprintf(shown, sizeof(shown), "inet:?:%u", a->port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    const char *host = a->host;
    if (a->kind == LISTEN_INET_ANY) {
        hints.ai_family = AF_INET6;
        hints.ai_flags |= AI_NUMERICHOST;
        host = "::";
    }
    int fd = -1, e = 0;
    for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
        if (attempt == 1) {
            if (a->kind != LISTEN_INET_ANY)
                break;
            hints.ai_family = AF_INET; /* no IPv6 on this host */
            host = "0.0.0.0";
        }
        int g = getaddrinfo(host, port, &hints, &res);
        if (g != 0) {
            if (a->kind == LISTEN_INET_ANY)
                continue;
            return fa_err_set(err, "%s: cannot resolve host: %s", shown, gai_strerror(g));
        }
        fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
        if (fd < 0) {
            e = errno;
            freeaddrinfo(res);
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (res->ai_family == AF_INET6 && a->kind == LISTEN_INET_ANY)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0 ||
            set_nonblock(fd) < 0) {
            e = errno;
            close(fd);
            fd = -1;
            freeaddrinfo(res);
            return fa_err_errno(err, e, "%s: bind", shown);
        }
        freeaddrinfo(res);
    }
    if (fd < 0)
        return fa_err_errno(err, e ? e : EAFNOSUPPORT, "%s: socket", shown);
    return fd;
}

int listen_open(const struct listen_addr *a, fa_err *err)
{
    return a->kind == LISTEN_UNIX ? open_unix(a, err) : open_inet(a, err);
}
