/*
 * NAME
 *   listen - listener addresses in Postfix syntax, and the sockets for them
 * SUMMARY
 *   listen_parse reads one address as Postfix writes them in main.cf:
 *     inet:HOST:PORT      HOST a numeric IPv4 address or a host name
 *     inet:[IPV6]:PORT    e.g. inet:[::1]:10001
 *     inet:PORT           every interface (IPv6 and IPv4 when the host has
 *                         IPv6, else IPv4): as Postfix's inet_interfaces=all
 *     unix:/PATH          a UNIX-domain stream socket (absolute path)
 *   listen_open creates, binds and listens on it.
 * SYNOPSIS
 *   struct listen_addr a; fa_err err;
 *   if (listen_parse(text, strlen(text), &a, &err) < 0) fail(err.msg);
 *   int fd = listen_open(&a, &err);
 * DESCRIPTION
 *   Ports are decimal 1..65535. A host name is resolved once, at bind time,
 *   and the socket is bound to its first address: to be exact, use a
 *   numeric address. inet:PORT binds all interfaces: the daemon has no
 *   authentication, so use it only behind a firewall; prefer 127.0.0.1.
 *   Sockets are close-on-exec and non-blocking (the accept loop polls
 *   them), with SO_REUSEADDR on inet sockets and a backlog of SOMAXCONN.
 *   A UNIX socket path must be absolute (the daemon may chroot) and shorter
 *   than sun_path. A socket file left by a daemon that died is removed
 *   before binding; a path that is not a socket, or a socket on which some
 *   process still accepts connections, is refused. After binding, the
 *   socket file is made mode 0666 so that Postfix (user postfix) can
 *   connect: restrict access with the folder's permissions.
 *   listen_parse is pure (no I/O) and fuzzed; listen_format writes the
 *   canonical text of an address, which listen_parse reads back unchanged.
 * SECURITY
 *   Input is bounded: hosts up to LISTEN_HOST_MAX, paths up to
 *   LISTEN_PATH_MAX octets; control characters and white space are refused.
 * DIAGNOSTICS
 *   listen_parse and listen_open return 0 / a file descriptor, or -1 with
 *   the reason in err, naming the address.
 */
#ifndef FWDAUTHD_LISTEN_H
#define FWDAUTHD_LISTEN_H

#include "err.h"

#include <stddef.h>

#define LISTEN_HOST_MAX 255
#define LISTEN_PATH_MAX 107 /* sizeof(sun_path) - 1 */

enum listen_kind { LISTEN_INET, LISTEN_INET_ANY, LISTEN_UNIX };

struct listen_addr {
    int kind;                       /* enum listen_kind */
    char host[LISTEN_HOST_MAX + 1]; /* LISTEN_INET: name or address (no brackets) */
    unsigned port;                  /* LISTEN_INET, LISTEN_INET_ANY */
    char path[LISTEN_PATH_MAX + 1]; /* LISTEN_UNIX */
};

int listen_parse(const char *s, size_t n, struct listen_addr *a, fa_err *err);
int listen_format(const struct listen_addr *a, char *out, size_t outsz);
int listen_open(const struct listen_addr *a, fa_err *err);

#endif
