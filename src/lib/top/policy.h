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
 *   - what happens to a message once the truth on arrival is known
 *     (policy_decide): refuse, hold, tempfail or pass it on, and whether
 *     we sign, ARC-seal, rewrite From: or SRS it. The milter only carries
 *     the decision out; `fwdauth policy` prints it for a message.
 * SYNOPSIS
 *   struct nets nets;
 *   nets_parse(cfg->internal_hosts.v, cfg->internal_hosts.n, &nets, &err);   (nets.h)
 *   int ours = policy_originating(&nets, cfg, auth_authen, client_addr, daemon_name);
 *   int fwd = policy_forwarded_rcpt(cfg, "<alias@example.net>");
 *   struct policy_input in = {.a = &arrival, .forwarded = 1, ...};
 *   struct policy_decision d;
 *   policy_decide(&in, cfg, &d);
 * DESCRIPTION
 *   internal_hosts entries are IPv4 or IPv6 addresses or CIDR networks
 *   (nets.h).
 *   Recipients may come with angle brackets (as Postfix passes them).
 *   Matching of domains and addresses ignores ASCII case.
 *
 *   policy_decide is a pure function of the arrival results, the mail's
 *   class and the configuration: no DNS, no clock, no I/O. Its invariant
 *   ("never vouch for a spoof") is tested over every combination of
 *   results and settings in tests/unit/test_policy.c:
 *   - Mail that did not pass DMARC on arrival never leaves with an
 *     aligned pass we created: no From: rewrite (it is only for mail that
 *     passed), no signature of ours whose d= aligns with the From: domain,
 *     and an ARC set only when its ARC-Authentication-Results (our own
 *     results, as arrival_authres renders them) say what happened.
 *   - Mail that failed DMARC under a policy named by
 *     forward_dmarc_policies (p=reject, by default also p=quarantine) is
 *     not forwarded: refused at SMTP time (the sending server, not we,
 *     returns it: no bounce of ours to a forged sender) or held, per
 *     forward_dmarc_failure, and never SRS-rewritten, signed or sealed.
 *     With local recipients too, a milter cannot refuse only some
 *     recipients after DATA: the forwarded recipients are removed
 *     (drop_forwarded) and the local ones get it as dmarc_enforce says.
 *   - A From: that cannot be read with certainty (absent, several fields
 *     or addresses, unparsable, or readable only after repairs) is never
 *     signed, sealed or rewritten; forwarded, it gets from_unreadable
 *     (reject, tempfail or accept-unsigned). A repaired From: is still
 *     judged by the DMARC policy of the domain receivers read in it.
 *   - A temporary DNS failure that could change the verdict (DMARC
 *     temperror; an aligned DKIM key that could not be fetched when the
 *     From: would be rewritten; an ARC key when we would seal) tempfails
 *     forwarded mail (the whole message: Postfix retries, nothing is
 *     lost); local mail is delivered with temperror recorded.
 *   - From: rewrite (from_rewrite) only for forwarded mail that passed
 *     DMARC and cannot pass after the forward: through SPF alone, or
 *     through an aligned DKIM signature that our own changes (Subject tag,
 *     footer; changes_break_dkim) will break, unless
 *     from_rewrite_on_change = no.
 *   - Local mailboxes: dmarc_enforce (reject, quarantine = hold, tag,
 *     off) for DMARC failures under p=reject/quarantine, as before.
 * DIAGNOSTICS
 *   policy_decide cannot fail: out->verdict is one of enum
 *   policy_verdict, out->why a static text for the log, out->reply the
 *   SMTP reply of a refusal. policy_originating, policy_forwarded_rcpt
 *   and policy_unforwardable return 1 or 0 and cannot fail (a NULL or
 *   unreadable address, as for the null sender "<>", is 0).
 */
#ifndef FWDAUTH_POLICY_H
#define FWDAUTH_POLICY_H

#include "arrival.h"
#include "config.h"
#include "err.h"
#include "nets.h"

#include <stddef.h>
#include <stdint.h>

int policy_originating(const struct nets *internal, const struct fa_config *cfg,
                       const char *auth_authen, const char *client_addr, const char *daemon_name);
int policy_forwarded_rcpt(const struct fa_config *cfg, const char *rcpt);

enum policy_verdict {
    POLICY_CONTINUE, /* pass it on (with the changes below) */
    POLICY_REJECT,   /* refuse with reply (5xx) */
    POLICY_TEMPFAIL, /* refuse for now with reply (4xx): the client retries */
};

struct policy_input {
    const struct arrival *a; /* the truth on arrival; NULL for our users' mail */
    int from_state;          /* enum from_state of the From: field(s) (fromhdr.h) */
    int originating;         /* from our users: signed with their domain's key */
    int forwarded;           /* some recipient is in forward_recipients */
    int local;               /* some recipient is not */
    int null_sender;         /* MAIL FROM:<> */
    int fwd_key_aligned;     /* the forwarder key's d= aligns with the From: domain */
    int changes_break_dkim;  /* our own changes (Subject tag, footer) break signatures */
    int have_user_key;       /* originating: the SigningTable has a key for From: */
    int have_forward_key;    /* forward_signing_key is configured */
    int have_arc_key;        /* arc_key is configured */
    int have_srs;            /* SRS is configured */
};

struct policy_decision {
    int verdict;        /* enum policy_verdict */
    char reply[320];    /* the SMTP reply of REJECT and TEMPFAIL */
    const char *why;    /* static text for the log: why this verdict, "" when plain */
    int hold;           /* put the message in the MTA's hold queue */
    int drop_forwarded; /* remove the forwarded recipients (mixed local/forwarded) */
    int report_dmarc;   /* dmarc= in our Authentication-Results */
    int sign_user;      /* sign with the From: domain's key (our users) */
    int sign_forwarder; /* sign with forward_signing_key */
    int seal;           /* add our ARC set */
    int rewrite_from;   /* rewrite From: list-style (from_rewrite) */
    int srs;            /* SRS the envelope sender */
};

void policy_decide(const struct policy_input *in, const struct fa_config *cfg,
                   struct policy_decision *out);

/* Does the failure in a make forwarded mail unforwardable under cfg? */
int policy_unforwardable(const struct arrival *a, const struct fa_config *cfg);

#endif
