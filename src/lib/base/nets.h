/*
 * NAME
 *   nets - lists of IP addresses and networks (internal_hosts)
 * SUMMARY
 *   nets_parse reads a list of IPv4 and IPv6 addresses and CIDR networks
 *   ("192.0.2.0/24", "2001:db8::/32", "127.0.0.1", "[::1]"); nets_match
 *   says whether a client address is inside one of them. The list is
 *   internal_hosts (fwdauthd.conf): config.c checks it with nets_parse
 *   when the setting is read, policy.h matches clients against it. Kept
 *   below both so that config does not depend on policy.
 * SYNOPSIS
 *   struct nets nets;
 *   if (nets_parse(cfg->internal_hosts.v, cfg->internal_hosts.n, &nets, &err) < 0) ...
 *   if (nets_match(&nets, "IPv6:2001:db8::5")) ...
 * DESCRIPTION
 *   An entry without a prefix length is one host (/32 or /128). Addresses
 *   may be written "[addr]" or "IPv6:addr" (as Postfix passes a client
 *   address); an IPv4-mapped IPv6 client (::ffff:192.0.2.1) also matches
 *   IPv4 networks. Host bits set below the prefix are ignored.
 * SECURITY
 *   At most NETS_MAX entries; an entry is read from a bounded copy (127
 *   octets).
 * DIAGNOSTICS
 *   nets_parse returns 0, or -1 with err naming the entry it cannot read
 *   (the messages begin "internal_hosts:", the one list read this way).
 *   nets_match returns 1 or 0 (0 also for NULL or an unreadable address).
 */
#ifndef FWDAUTH_NETS_H
#define FWDAUTH_NETS_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define NETS_MAX 256

struct nets_entry {
    int family; /* 4 or 6 */
    uint8_t addr[16];
    unsigned prefix;
};

struct nets {
    struct nets_entry v[NETS_MAX];
    size_t n;
};

int nets_parse(char *const *items, size_t n, struct nets *out, fa_err *err);
/* Is the textual address (IPv4, IPv6, or "IPv6:..." as Postfix writes) in nets? */
int nets_match(const struct nets *nets, const char *addr);

#endif
