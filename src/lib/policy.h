/*
 * NAME
 *   policy - which mail is ours, which mail is forwarded
 * SUMMARY
 *   The milter signs mail from our users and treats forwarded mail
 *   specially (SRS envelope sender, our forwarder signature). A milter
 *   cannot see Postfix's mynetworks or its alias expansion, so:
 *   - mail is "originating" (ours) when the client authenticated
 *     ({auth_authen} set), connected from internal_hosts, or came through a
 *     submission service whose milter_macro_daemon_name is listed in
 *     originating_daemon_names;
 *   - mail is "forwarded" when a recipient (as the milter sees it: the RCPT
 *     TO before virtual alias expansion) is listed in forward_recipients,
 *     as "alias@example.net" or "@example.net" (every address of that
 *     domain). Mail forwarded by local(8) (.forward, aliases) never reaches
 *     a milter: canonical-map SRS covers it.
 * SYNOPSIS
 *   struct policy_nets nets;
 *   policy_nets_parse(cfg->internal_hosts.v, cfg->internal_hosts.n, &nets, &err);
 *   int ours = policy_originating(&nets, cfg, auth_authen, client_addr, daemon_name);
 *   int fwd = policy_forwarded_rcpt(cfg, "<alias@example.net>");
 * DESCRIPTION
 *   internal_hosts entries are IPv4 or IPv6 addresses or CIDR networks.
 *   Recipients may come with angle brackets (as Postfix passes them).
 *   Matching of domains and addresses ignores ASCII case.
 * DIAGNOSTICS
 *   policy_nets_parse names the entry it cannot read.
 */
#ifndef FWDAUTH_POLICY_H
#define FWDAUTH_POLICY_H

#include "config.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define POLICY_NETS_MAX 256

struct policy_net {
    int family; /* 4 or 6 */
    uint8_t addr[16];
    unsigned prefix;
};

struct policy_nets {
    struct policy_net v[POLICY_NETS_MAX];
    size_t n;
};

int policy_nets_parse(char *const *items, size_t n, struct policy_nets *out, fa_err *err);
/* Is the textual address (IPv4, IPv6, or "IPv6:..." as Postfix writes) in nets? */
int policy_nets_match(const struct policy_nets *nets, const char *addr);

int policy_originating(const struct policy_nets *internal, const struct fa_config *cfg,
                       const char *auth_authen, const char *client_addr, const char *daemon_name);
int policy_forwarded_rcpt(const struct fa_config *cfg, const char *rcpt);

#endif
