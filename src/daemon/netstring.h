/*
 * NAME
 *   netstring - incremental netstring codec ("len:data,")
 * SUMMARY
 *   Frames socketmap_table(5) requests and replies as D. J. Bernstein's
 *   netstrings: the length in ASCII decimal, ":", the data, ",". The parser
 *   is incremental: given the bytes received so far it tells whether a whole
 *   netstring is there, more bytes are needed, or the input can never become
 *   a netstring (the connection cannot be resynchronised and must close).
 * SYNOPSIS
 *   const uint8_t *data; size_t len, used;
 *   switch (netstring_parse(buf, n, &data, &len, &used)) {
 *   case NETSTRING_COMPLETE:  handle data[0..len), then drop used bytes
 *   case NETSTRING_NEED_MORE: read more
 *   case NETSTRING_MALFORMED: close the connection
 *   }
 *   int m = netstring_encode(payload, plen, out, outsz);
 * DESCRIPTION
 *   Lengths above NETSTRING_MAX (100000, the limit of Postfix's socketmap
 *   client) are refused, as are length prefixes of more than
 *   NETSTRING_MAX_DIGITS digits, an empty prefix, a leading zero (other than
 *   "0:" itself), anything but a digit before ":" and anything but ","
 *   after the data. Refusal is immediate: the parser never waits for bytes
 *   that a valid netstring could not contain.
 *   Pure functions: no allocation, no I/O, no global state.
 * SECURITY
 *   The parser reads only buf[0..n) and never more than NETSTRING_MAX +
 *   NETSTRING_MAX_DIGITS + 2 bytes of it; data points into buf.
 * DIAGNOSTICS
 *   netstring_parse returns an enum netstring_status; netstring_encode
 *   returns the length written or -1 when out is too small or len exceeds
 *   NETSTRING_MAX.
 */
#ifndef FWDAUTHD_NETSTRING_H
#define FWDAUTHD_NETSTRING_H

#include <stddef.h>
#include <stdint.h>

#define NETSTRING_MAX 100000
#define NETSTRING_MAX_DIGITS 6
/* Largest framed netstring: digits, ':', data, ','. */
#define NETSTRING_FRAMED_MAX (NETSTRING_MAX + NETSTRING_MAX_DIGITS + 2)

enum netstring_status { NETSTRING_MALFORMED = -1, NETSTRING_NEED_MORE = 0, NETSTRING_COMPLETE = 1 };

int netstring_parse(const uint8_t *buf, size_t n, const uint8_t **data, size_t *len,
                    size_t *consumed);

int netstring_encode(const uint8_t *data, size_t len, uint8_t *out, size_t outsz);

#endif
