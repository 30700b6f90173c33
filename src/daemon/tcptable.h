/*
 * NAME
 *   tcptable - Postfix tcp_table(5) server side, one direction per listener
 * SUMMARY
 *   tcptable_frame finds one request line in the bytes received so far;
 *   tcptable_handle answers it. Requests are "get SP key LF" with the key
 *   %XX-encoded; replies are one line each:
 *     200 <encoded address>   rewritten
 *     500 <reason>            not found (also: a malformed request)
 *     400 <reason>            temporary failure (the SRS store is down or
 *                             slow, or an internal failure): Postfix retries
 *   A listener serves one direction (forward or reverse), fixed by its
 *   configuration key (tcp_forward_listen, tcp_reverse_listen).
 * SYNOPSIS
 *   size_t linelen, used;
 *   switch (tcptable_frame(buf, n, &linelen, &used)) {
 *   case TCPTABLE_LINE:     reply n = tcptable_handle(s, dir, now, buf, linelen, out, sz, &note)
 *   case TCPTABLE_NEED_MORE: read more
 *   case TCPTABLE_TOO_LONG:  close the connection
 *   }
 * DESCRIPTION
 *   Encoding follows Postfix's tcp_table client: "%", white space and every
 *   byte that is not printable ASCII are written as %XX; decoding accepts
 *   hex digits in either case. A CR before the LF is ignored.
 *   Lines (with their LF) are at most TCPTABLE_LINE_MAX (4096) bytes, like
 *   Postfix's replies. A malformed request (no "get " prefix, a bad %XX
 *   escape, a key that decodes to nothing) is a client bug, not a lookup
 *   that may succeed later: it gets "500 malformed request" and the
 *   connection stays usable. Only an over-long line closes the connection,
 *   because the end of the request cannot be found reliably after it.
 *   No I/O of their own, no allocation, no global state (the SRS store's
 *   I/O, when the engine has one, is the only I/O: srs.h).
 * SECURITY
 *   Input is any bytes; every write is bounded by the output size given.
 * DIAGNOSTICS
 *   tcptable_handle returns the reply length (LF included) or -1 when
 *   replysz is below TCPTABLE_LINE_MAX (a caller bug); note tells what
 *   happened (lookup.h). tcptable_decode and tcptable_encode return the
 *   length written or -1 (bad escape, or out too small).
 */
#ifndef FWDAUTHD_TCPTABLE_H
#define FWDAUTHD_TCPTABLE_H

#include "lookup.h"
#include "srs.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TCPTABLE_LINE_MAX 4096

enum tcptable_frame_status { TCPTABLE_TOO_LONG = -1, TCPTABLE_NEED_MORE = 0, TCPTABLE_LINE = 1 };

/* *linelen excludes the LF (and a CR before it); *consumed includes them. */
int tcptable_frame(const uint8_t *buf, size_t n, size_t *linelen, size_t *consumed);

int tcptable_handle(const srs *s, int dir, time_t now, const uint8_t *line, size_t n, char *reply,
                    size_t replysz, struct lookup_note *note);

int tcptable_decode(const uint8_t *in, size_t n, char *out, size_t outsz);
int tcptable_encode(const char *in, size_t n, char *out, size_t outsz);

#endif
