/*
 * NAME
 *   addr - split and quote RFC 5321 envelope addresses
 * SUMMARY
 *   Postfix hands lookup tables an address in internal form (a@b@example.org)
 *   or external form ("a@b"@example.org). Both split at the LAST "@" outside
 *   quotes: a domain never contains "@", so the last one is always the
 *   separator (Debian's postsrsd 1.10 splits at the first and corrupts quoted
 *   local parts). A quoted local part is unquoted; addr_quote_local quotes a
 *   local part again when it is not a dot-atom, as RFC 5321 section 4.1.2 asks.
 * SYNOPSIS
 *   struct addr a;
 *   if (addr_split("\"a b\"@example.org", len, &a) == 0)
 *       a.local = "a b" (unquoted), a.domain = "example.org"
 * DESCRIPTION
 *   Local parts up to ADDR_LOCAL_MAX octets (unquoted) and domains up to
 *   ADDR_DOMAIN_MAX octets are accepted; 8-bit octets (SMTPUTF8) are atext.
 *   Control characters, NUL, white space in the domain and empty parts are
 *   refused: a lookup table must not pass them on.
 * DIAGNOSTICS
 *   addr_split returns 0, or -1 with a static reason in a->why.
 *   addr_valid_domain and addr_is_dot_atom return 1 or 0.
 *   addr_quote_local returns the length written, or -1 when out is too
 *   small.
 */
#ifndef FWDAUTH_ADDR_H
#define FWDAUTH_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX 512 /* generous: SRS local parts are refused above 64 later */
#define ADDR_DOMAIN_MAX 255

struct addr {
    char local[ADDR_LOCAL_MAX + 1]; /* unquoted, NUL-terminated */
    size_t local_len;
    char domain[ADDR_DOMAIN_MAX + 1]; /* as given (case kept), NUL-terminated */
    size_t domain_len;
    const char *why; /* reason when addr_split fails */
};

int addr_split(const char *s, size_t n, struct addr *a);

/* Is d[0..n) acceptable as a mail domain: letters, digits, "-", ".", "_",
 * 8-bit octets (U-labels), or an address literal "[...]" of hex digits,
 * ".", ":" and a tag such as "IPv6:"? No "=", "@" or white space: SRS
 * uses "=" as its field separator. */
int addr_valid_domain(const char *d, size_t n);

/* Is local[0..n) a dot-atom (so it needs no quotes)? */
int addr_is_dot_atom(const char *local, size_t n);

/* Write local part, quoted if it is not a dot-atom, to out (NUL-terminated).
 * Returns the length written, or -1 if out is too small. */
int addr_quote_local(const char *local, size_t n, char *out, size_t outsz);

#endif
