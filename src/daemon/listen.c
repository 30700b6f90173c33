/* listen - sockets for Postfix-style listener addresses; see listen.h. */
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

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void unix_sockaddr(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, strlen(path) + 1);
}

/* An existing file at a's path: 0 none or a stale socket (*stale = 1),
 * LISTEN_IN_USE when a process accepts connections on it, -1 otherwise. */
static int unix_existing(const struct listen_addr *a, int *stale, fa_err *err)
{
    struct sockaddr_un sun;
    struct stat st;
    *stale = 0;
    if (lstat(a->path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return fa_err_errno(err, errno, "unix:%s", a->path);
    }
    if (!S_ISSOCK(st.st_mode))
        return fa_err_set(err, "unix:%s exists and is not a socket: refusing to remove it",
                          a->path);
    unix_sockaddr(a->path, &sun);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return fa_err_errno(err, errno, "unix:%s: socket", a->path);
    int in_use = connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(probe);
    if (in_use) {
        fa_err_set(err, "unix:%s: another process listens on this socket", a->path);
        return LISTEN_IN_USE;
    }
    *stale = 1;
    return 0;
}

static int open_unix(const struct listen_addr *a, fa_err *err)
{
    struct sockaddr_un sun;
    unix_sockaddr(a->path, &sun);
    int stale, rc = unix_existing(a, &stale, err);
    if (rc != 0)
        return -1;
    if (stale && unlink(a->path) < 0)
        return fa_err_errno(err, errno, "unix:%s: cannot remove stale socket", a->path);
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

static int probe_unix(const struct listen_addr *a, fa_err *err)
{
    int stale, rc = unix_existing(a, &stale, err);
    if (rc != 0)
        return rc;
    char dir[LISTEN_PATH_MAX + 1];
    snprintf(dir, sizeof(dir), "%s", a->path);
    char *slash = strrchr(dir, '/'); /* listen_parse: the path is absolute */
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    /* A stale socket must be removed, a new one created: both need the
     * folder. Binding a temporary name there is the real test. */
    char tmp[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
    int n = snprintf(tmp, sizeof(tmp), "%s%s.fwdauthd-t.%ld", dir, strcmp(dir, "/") ? "/" : "",
                     (long)getpid());
    if (n < 0 || (size_t)n > LISTEN_PATH_MAX) {
        if (access(dir, W_OK | X_OK) < 0)
            return fa_err_errno(err, errno, "unix:%s: cannot create a socket in %s", a->path, dir);
        return 0;
    }
    struct sockaddr_un sun;
    unix_sockaddr(tmp, &sun);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fa_err_errno(err, errno, "unix:%s: socket", a->path);
    int bound = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    int e = errno;
    close(fd);
    if (bound) {
        unlink(tmp);
        return 0;
    }
    return fa_err_errno(err, e, "unix:%s: cannot create a socket in %s", a->path, dir);
}

/* Resolve a's host and bind a socket to its first address (for inet:PORT
 * IPv6 with IPv4 mapped, or IPv4 when the host has no IPv6). Returns the
 * bound socket, or -1 with *bind_errno set when bind itself failed. */
static int bind_inet(const struct listen_addr *a, const char *shown, int *bind_errno, fa_err *err)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", a->port);
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
    *bind_errno = 0;
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
        if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
            e = errno;
            close(fd);
            freeaddrinfo(res);
            *bind_errno = e;
            return fa_err_errno(err, e, "%s: bind", shown);
        }
        freeaddrinfo(res);
    }
    if (fd < 0)
        return fa_err_errno(err, e ? e : EAFNOSUPPORT, "%s: socket", shown);
    return fd;
}

static void inet_shown(const struct listen_addr *a, char *shown, size_t sz)
{
    if (listen_format(a, shown, sz) < 0)
        snprintf(shown, sz, "inet:?:%u", a->port);
}

static int open_inet(const struct listen_addr *a, fa_err *err)
{
    char shown[LISTEN_TEXT_MAX];
    inet_shown(a, shown, sizeof(shown));
    int be, fd = bind_inet(a, shown, &be, err);
    if (fd < 0)
        return -1;
    if (listen(fd, SOMAXCONN) < 0 || set_nonblock(fd) < 0) {
        int e = errno;
        close(fd);
        return fa_err_errno(err, e, "%s: listen", shown);
    }
    return fd;
}

static int probe_inet(const struct listen_addr *a, fa_err *err)
{
    char shown[LISTEN_TEXT_MAX];
    inet_shown(a, shown, sizeof(shown));
    int be, fd = bind_inet(a, shown, &be, err);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (be == EADDRINUSE) {
        fa_err_errno(err, be, "%s: a process already listens there", shown);
        return LISTEN_IN_USE;
    }
    return -1;
}

int listen_open(const struct listen_addr *a, fa_err *err)
{
    return a->kind == LISTEN_UNIX ? open_unix(a, err) : open_inet(a, err);
}

int listen_probe(const struct listen_addr *a, fa_err *err)
{
    return a->kind == LISTEN_UNIX ? probe_unix(a, err) : probe_inet(a, err);
}
