/*
 * NAME
 *   listen - the sockets for listener addresses (listenaddr.h)
 * SUMMARY
 *   listen_open creates, binds and listens on an address that
 *   listen_parse (listenaddr.h, in the library) read; listen_probe checks
 *   that it could (fwdauthd -t) without taking it.
 * SYNOPSIS
 *   struct listen_addr a; fa_err err;
 *   if (listen_parse(text, strlen(text), &a, &err) < 0) fail(err.msg);
 *   int fd = listen_open(&a, &err);
 *   switch (listen_probe(&a, &err)) { 0 bindable, LISTEN_IN_USE, -1 }
 * DESCRIPTION
 *   A host name is resolved once, at bind time, and the socket is bound to
 *   its first address: to be exact, use a numeric address. inet:PORT
 *   binds all interfaces: the daemon has no authentication, so use it only
 *   behind a firewall; prefer 127.0.0.1.
 *   Sockets are close-on-exec and non-blocking (the accept loop polls
 *   them), with SO_REUSEADDR on inet sockets and a backlog of SOMAXCONN.
 *   A UNIX socket path must be absolute (the daemon may chroot) and shorter
 *   than sun_path. A socket file left by a daemon that died is removed
 *   before binding; a path that is not a socket, or a socket on which some
 *   process still accepts connections, is refused. After binding, the
 *   socket file is made mode 0666 so that Postfix (user postfix) can
 *   connect: restrict access with the folder's permissions.
 *   listen_probe does what listen_open would up to the bind, then lets go:
 *   an inet address is resolved, bound and closed (never listened on); for
 *   a UNIX socket, an existing file is checked as listen_open would, and a
 *   socket with a temporary name (.fwdauthd-t.PID) is bound in the same
 *   folder and removed again (when that name would not fit sun_path, the
 *   folder's write and search permission is checked instead). Both run as
 *   the caller: as root they see what the daemon will see at start.
 * DIAGNOSTICS
 *   listen_open returns a file descriptor, or -1 with the reason in err,
 *   naming the address. listen_probe returns 0 when the address can be
 *   bound, LISTEN_IN_USE when a process already listens there (EADDRINUSE,
 *   or a UNIX socket that accepts connections: usually the running
 *   fwdauthd; err says so), or -1 for any other failure (a host that does
 *   not resolve, EADDRNOTAVAIL, EACCES, a missing folder, a path that is
 *   not a socket), with the reason in err.
 */
#ifndef FWDAUTHD_LISTEN_H
#define FWDAUTHD_LISTEN_H

#include "err.h"
#include "listenaddr.h"

#define LISTEN_IN_USE 1

int listen_open(const struct listen_addr *a, fa_err *err);
int listen_probe(const struct listen_addr *a, fa_err *err);

#endif
