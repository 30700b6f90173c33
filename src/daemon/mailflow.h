/*
 * NAME
 *   mailflow - what fwdauthd's milter does with each message (the policy)
 * SUMMARY
 *   mailflow_filter returns the struct milter_filter (milter.h) that the
 *   milter listener runs for every message: the single place where mail
 *   policy lives (DKIM verification, Authentication-Results, signing, SRS).
 *   The protocol layer (milter.c, milter_conn.c) knows nothing of it.
 * SYNOPSIS
 *   const struct milter_filter *f = mailflow_filter();
 * DESCRIPTION
 *   PLACEHOLDER, to be replaced by the real policy: for now the filter only
 *   adds "X-Fwdauth-Seen: <queue id>" at the end of the headers of every
 *   message and logs, at info, one line per message:
 *     msg <queue id>: from=<sender> nrcpt=N size=B
 *   (B = body octets as Postfix sent them, CRLF line ends). It asks for the
 *   body only so that B is known.
 *   The ctx given to msg_begin is the daemon's struct runtime (runtime.h)
 *   current at MAIL FROM; the connection loop holds a reference to it until
 *   msg_end has run, so the message may keep pointers into it.
 * SECURITY
 *   Values logged go through log_msg, which neutralises control characters.
 * DIAGNOSTICS
 *   None.
 */
#ifndef FWDAUTHD_MAILFLOW_H
#define FWDAUTHD_MAILFLOW_H

#include "milter.h"

const struct milter_filter *mailflow_filter(void);

#endif
