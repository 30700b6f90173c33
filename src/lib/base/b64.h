/*
 * NAME
 *   b64 - base64 (RFC 4648 section 4) for DKIM tags and key records
 * SUMMARY
 *   b64_encode writes padded base64. b64_decode skips white space (DKIM
 *   values may be folded: RFC 6376 section 3.2 FWS), accepts missing
 *   padding, and refuses any other character, misplaced padding, or
 *   non-zero trailing bits.
 * SYNOPSIS
 *   int n = b64_encode(bin, binlen, out, outsz);   length, or -1 if too small
 *   int m = b64_decode(txt, txtlen, bin, binsz);   length, or -1 if malformed/too small
 * DESCRIPTION
 *   b64_encode writes B64_ENCODED_LEN(n) characters and a NUL, so out
 *   needs one more octet than that. b64_decode writes binary octets, no
 *   NUL; the white space it skips is SP, HTAB, CR and LF.
 * DIAGNOSTICS
 *   b64_encode returns the number of characters written (without the NUL),
 *   or -1 when outsz is too small or the result would not fit an int;
 *   nothing is written then.
 *   b64_decode returns the number of octets written (0 for empty or
 *   all-white-space input), or -1 for a character outside the alphabet,
 *   data after padding, misplaced or excess padding, a lone trailing
 *   character, non-zero trailing bits, or an out too small; out may hold
 *   part of the result after -1.
 */
#ifndef FWDAUTH_B64_H
#define FWDAUTH_B64_H

#include <stddef.h>
#include <stdint.h>

#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

int b64_encode(const uint8_t *in, size_t n, char *out, size_t outsz);
int b64_decode(const char *in, size_t n, uint8_t *out, size_t outsz);

#endif
