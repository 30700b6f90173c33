/*
 * NAME
 *   socketmap - Postfix socketmap_table(5) server side: maps "forward", "reverse"
 * SUMMARY
 *   socketmap_handle answers one request (the payload of one netstring,
 *   "name SP key") with one framed netstring reply:
 *     OK <address>          the key was rewritten (map "forward": SRS0/SRS1;
 *                           map "reverse": the original sender)
 *     NOTFOUND <space>      nothing to rewrite: Postfix keeps the address
 *     TEMP <reason>         the SRS store is down or slow ("SRS store
 *                           unavailable"), or an internal failure: Postfix
 *                           defers and retries
 *     PERM <reason>         a broken request or an unknown map name
 * SYNOPSIS
 *   char reply[SOCKETMAP_REPLY_MAX]; struct lookup_note note;
 *   int n = socketmap_handle(s, time(NULL), data, len, reply, sizeof reply, &note);
 *   write(fd, reply, n); then log note (lookup.h)
 * DESCRIPTION
 *   Postfix treats PERM as a configuration error and defers the mail with
 *   status 4.3.5, so every address problem (a foreign, forged, expired or
 *   garbled SRS address, an address left unchanged, a NUL in the key) is
 *   NOTFOUND, never PERM. PERM is kept for what only a configuration change
 *   fixes: a map name other than "forward" or "reverse" ("PERM unknown map")
 *   and a request without the space between name and key ("PERM malformed
 *   request"). The key is everything after the first space, spaces included
 *   (Postfix's internal address form may contain them).
 *   No I/O of its own, no allocation, no global state: the only I/O is the
 *   SRS store's, when the engine has one and the address needs it (srs.h);
 *   the connection loop and the fuzz target (no store) call it alike.
 * SECURITY
 *   The request is any bytes (it comes from the network) and is read only
 *   within req[0..n). The reply never exceeds replysz, and replies are at most
 *   SOCKETMAP_REPLY_MAX bytes, far below Postfix's 100000.
 * DIAGNOSTICS
 *   Returns the length of the framed reply, or -1 when replysz is below
 *   SOCKETMAP_REPLY_MAX (a caller bug). note tells what happened (lookup.h).
 */
#ifndef FWDAUTHD_SOCKETMAP_H
#define FWDAUTHD_SOCKETMAP_H

#include "lookup.h"
#include "srs.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SOCKETMAP_REPLY_MAX (SRS_ADDR_MAX + 64)

int socketmap_handle(const srs *s, time_t now, const uint8_t *req, size_t n, char *reply,
                     size_t replysz, struct lookup_note *note);

#endif
