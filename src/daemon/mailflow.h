/*
 * NAME
 *   mailflow - what fwdauthd's milter does with each message (the policy)
 * SUMMARY
 *   mailflow_filter returns the struct milter_filter (milter.h) that the
 *   milter listener runs for every message: the one place where mail policy
 *   lives. The protocol layer (milter.c, milter_conn.c) knows nothing of it.
 * DESCRIPTION
 *   Each message is classified at MAIL FROM and RCPT TO (policy.h):
 *   originating (our users: SASL login, internal_hosts, or a submission
 *   service named in originating_daemon_names) or inbound, and forwarded
 *   when a recipient is in forward_recipients. Then:
 *   - inbound mail: SPF, every DKIM signature, the ARC chain and DMARC are
 *     checked (arrival.h) and one Authentication-Results field (RFC 8601)
 *     with our authserv-id is inserted just below Postfix's own Received:.
 *     dmarc_enforce refuses (550), holds (quarantine) or only records mail
 *     that fails a p=reject/quarantine policy; such mail is never signed by
 *     us, sealed or rewritten, whatever the setting. Fields that claim
 *     our authserv-id are forged (only we write those) and are deleted,
 *     by their index among all fields of that name, highest first
 *     (OpenDKIM's CVE-2022-48521 deleted the wrong ones). DNS trouble is
 *     reported as dkim=temperror, never a rejection.
 *   - originating mail: signed with the key the SigningTable gives for the
 *     From: address (OpenDKIM's KeyTable/SigningTable, keytable.h).
 *   - forwarded inbound mail: signed also with forward_signing_key (our
 *     domain's key: reputation; the original signatures stay untouched),
 *     ARC-sealed over the fields as they leave (arc_key; a chain whose keys
 *     cannot be fetched now is deferred, not sealed as failed), for senders
 *     whose DMARC pass came only from SPF the From: rewrite of from_rewrite,
 *     and, with srs_forwarded_mail, its envelope sender rewritten with SRS
 *     (only forwarded mail; mail only for local mailboxes keeps its sender).
 *     A milter cannot give the recipients of one message different senders:
 *     a message for both forwarded and local recipients gets the SRS sender
 *     for all of them, which is harmless (a bounce to it comes home).
 *   Any internal failure tempfails the message (Postfix retries): nothing
 *   is lost. One log line per message: queue ID, sender, class, results,
 *   signatures made, SRS address.
 *   The ctx given to msg_begin is the daemon's struct runtime (runtime.h)
 *   current at MAIL FROM; the connection loop holds a reference to it
 *   until msg_end, so the message keeps pointers into it (keys, resolver).
 * SECURITY
 *   Header and body bytes are only parsed; logged values go through
 *   log_msg, which neutralises control characters. Keys never leave the
 *   key table.
 */
#ifndef FWDAUTHD_MAILFLOW_H
#define FWDAUTHD_MAILFLOW_H

#include "milter.h"

const struct milter_filter *mailflow_filter(void);

#endif
