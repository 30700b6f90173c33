/*
 * NAME
 *   rfc2047 - RFC 2047 encoded words to UTF-8, and UTF-8 sequences
 * SUMMARY
 *   The decoding that header readers share: one encoded word
 *   ("=?charset?Q?text?=" or "=?charset?B?text?=") decoded to UTF-8, a
 *   charset's octets converted to UTF-8, and the length of one valid UTF-8
 *   sequence. Used by fromhdr (display names) and fwdchange (is the
 *   Subject already tagged?).
 * SYNOPSIS
 *   char out[256];
 *   long n = rfc2047_decode_word("=?UTF-8?Q?J=C3=B6rg?=", 21, out, sizeof out);
 *       n == 5, out = "Jörg" (not NUL-terminated)
 *   long m = rfc2047_to_utf8("iso-8859-1", bin, binlen, out, sizeof out);
 *   uint32_t cp; size_t len = rfc2047_utf8_char(s, n, &cp);
 * DESCRIPTION
 *   rfc2047_decode_word takes s[0..n) as one whole encoded word (RFC 2047
 *   section 2): "=?", a charset, "?", "Q" or "B" (any case), "?", text
 *   without "?", white space or 8-bit octets, "?=". The charset may carry
 *   an RFC 2231 language ("UTF-8*en"), which is ignored. Q text: "_" is a
 *   space, "=XX" an octet, a lone "=" is kept as decoders do. B text is
 *   base64 (b64_decode). The octets are converted with rfc2047_to_utf8.
 *   rfc2047_to_utf8 copies UTF-8 and US-ASCII as they are (the caller
 *   validates UTF-8 where it matters), maps ISO-8859-1 itself and uses
 *   iconv(3) for other charsets; an octet iconv cannot convert, or a
 *   character cut at the end, becomes U+FFFD.
 *   rfc2047_utf8_char reads one UTF-8 sequence; overlong forms, surrogates
 *   and values above U+10FFFF are invalid.
 * LIMITS
 *   rfc2047_decode_word decodes at most min(outsz, RFC2047_BIN_MAX)
 *   octets of the word's payload and stops converting when out is full
 *   (callers that keep a bounded prefix get one, without decoding more).
 * SECURITY
 *   Hostile input: linear, bounded by the output. Charset names reach
 *   iconv_open only when they are at most 40 octets of letters, digits and
 *   "-_.:", so no "//TRANSLIT"-style suffix or path is passed on.
 * DIAGNOSTICS
 *   rfc2047_decode_word returns the number of UTF-8 octets written, or -1
 *   when s is not one encoded word, its base64 is malformed or its charset
 *   is unknown (callers keep the raw word then).
 *   rfc2047_to_utf8 returns the octets written, or -1 for an unknown
 *   charset. rfc2047_utf8_char returns the sequence's length (1..4) and
 *   stores the code point, or 0 for an invalid or cut sequence (n == 0
 *   included).
 */
#ifndef FWDAUTH_RFC2047_H
#define FWDAUTH_RFC2047_H

#include <stddef.h>
#include <stdint.h>

#define RFC2047_BIN_MAX 4096 /* payload octets decoded from one word, at most */

long rfc2047_decode_word(const char *s, size_t n, char *out, size_t outsz);
long rfc2047_to_utf8(const char *charset, const uint8_t *bin, size_t n, char *out, size_t outsz);
size_t rfc2047_utf8_char(const unsigned char *s, size_t n, uint32_t *cp);

#endif
