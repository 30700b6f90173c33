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
 *   service named in originating_daemon_names) or inbound, and for each
 *   recipient forwarded (forward_recipients) or local. Inbound mail is
 *   verified as it streams by (arrival.h: SPF, every DKIM signature, the
 *   ARC chain, DMARC on the From: domain as receivers read it). At end of
 *   message policy_decide (policy.h), a pure function, says what happens:
 *   refuse (550/451 with its reply), hold, remove the forwarded recipients,
 *   and whether to sign, ARC-seal, rewrite From: and SRS the sender. This
 *   file only carries that out, in this order:
 *   - forged Authentication-Results (fields claiming our authserv-id, which
 *     only we write; compared as domain names, so case and a trailing dot
 *     do not hide one) are all deleted, by their index among all fields of
 *     that name, highest first (OpenDKIM's CVE-2022-48521 deleted the
 *     wrong ones); the milter layer's limits (MILTER_HEADERS_MAX fields)
 *     bound how many there can be, and a header section over them is
 *     refused for good (552 5.3.4), never accepted with some left;
 *   - one Authentication-Results field (RFC 8601) with our authserv-id is
 *     inserted just below Postfix's own Received: (without dmarc= when
 *     dmarc_enforce = off);
 *   - the From: rewrite (fromhdr.h: one valid mailbox, the original in
 *     Reply-To: unless there is one, and X-Original-From:);
 *   - our DKIM signatures over the fields as they leave (the user's key
 *     for originating mail, forward_signing_key for forwarded mail);
 *   - our ARC set (arc_key; a chain whose keys cannot be fetched now is
 *     deferred, not sealed as failed);
 *   - the SRS envelope sender (srs_forwarded_mail).
 *   A milter cannot give the recipients of one message different senders
 *   or contents: a message for both forwarded and local recipients gets
 *   the SRS sender and the From: rewrite for all of them (a bounce to the
 *   SRS address comes home), and when the policy refuses the forward, the
 *   forwarded recipients are removed (Postfix removes their virtual alias
 *   expansions too) and the local ones keep the message.
 *   Any internal failure tempfails the message (Postfix retries): nothing
 *   is lost. One log line per message: queue ID, sender, class, results,
 *   what was done; refusals and removed recipients say why.
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
