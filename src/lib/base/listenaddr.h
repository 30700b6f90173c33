/*
 * NAME
 *   listenaddr - listener addresses in Postfix syntax: parse and format
 * SUMMARY
 *   listen_parse reads one address as Postfix writes them in main.cf:
 *     inet:HOST:PORT      HOST a numeric IPv4 address or a host name
 *     inet:[IPV6]:PORT    e.g. inet:[::1]:10001
 *     inet:PORT           every interface (IPv6 and IPv4 when the host has
 *                         IPv6, else IPv4): as Postfix's inet_interfaces=all
 *     unix:/PATH          a UNIX-domain stream socket (absolute path)
 *   listen_format writes the canonical text of an address, which
 *   listen_parse reads back unchanged. Both are pure (no I/O): the
 *   configuration (config.h) checks every *_listen value with them when it
 *   is loaded, and the daemon's listen.h binds what they describe.
 * SYNOPSIS
 *   struct listen_addr a; fa_err err;
 *   if (listen_parse(text, strlen(text), &a, &err) < 0) fail(err.msg);
 *   char text[LISTEN_TEXT_MAX]; listen_format(&a, text, sizeof(text));
 *   unsigned port; listen_parse_port("10001", 5, &port);
 * DESCRIPTION
 *   Ports are decimal 1..65535 without leading zeros (listen_parse_port,
 *   also used for the dns_server setting's ADDR@PORT). A host name is
 *   kept as written; the daemon resolves it when it binds.
 * SECURITY
 *   Input is bounded: hosts up to LISTEN_HOST_MAX, paths up to
 *   LISTEN_PATH_MAX octets; control characters, white space and 8-bit
 *   octets are refused.
 * DIAGNOSTICS
 *   listen_parse returns 0, or -1 with the reason in err, naming the
 *   address (at most 80 octets of it). listen_format returns the length
 *   written, or -1 when out is too small. listen_parse_port returns 0 or
 *   -1.
 */
#ifndef FWDAUTH_LISTENADDR_H
#define FWDAUTH_LISTENADDR_H

#include "err.h"

#include <stddef.h>

#define LISTEN_HOST_MAX 255
#define LISTEN_PATH_MAX 107 /* sizeof(sun_path) - 1 */
/* Room for any formatted address, with its NUL. */
#define LISTEN_TEXT_MAX (LISTEN_HOST_MAX + LISTEN_PATH_MAX + 32)

enum listen_kind { LISTEN_INET, LISTEN_INET_ANY, LISTEN_UNIX };

struct listen_addr {
    int kind;                       /* enum listen_kind */
    char host[LISTEN_HOST_MAX + 1]; /* LISTEN_INET: name or address (no brackets) */
    unsigned port;                  /* LISTEN_INET, LISTEN_INET_ANY */
    char path[LISTEN_PATH_MAX + 1]; /* LISTEN_UNIX */
};

int listen_parse(const char *s, size_t n, struct listen_addr *a, fa_err *err);
int listen_format(const struct listen_addr *a, char *out, size_t outsz);
int listen_parse_port(const char *s, size_t n, unsigned *port);

#endif
