/*
 * NAME
 *   spf_macro - SPF macro syntax check and expansion (RFC 7208 section 7)
 * SUMMARY
 *   The macro language of SPF domain-specs, unknown modifiers and
 *   explanation strings: "%{" letter [digits] ["r"] [delimiters] "}",
 *   "%%", "%_" and "%-". The spf module uses it to expand target names and
 *   explanations; it is a module of its own so that it can be tested and
 *   fuzzed alone. It asks no DNS questions: the "p" macro's value comes
 *   from a callback (spf.c looks up and validates the PTR names).
 * SYNOPSIS
 *   struct spf_macro_env e = {.sender = "strong-bad@email.example.com", ...};
 *   if (spf_macro_check(s, n, SPF_MACRO_DOMAIN, &ends_in_macro) < 0) syntax error
 *   char out[SPF_MACRO_OUT_MAX]; size_t len;
 *   if (spf_macro_expand(&e, s, n, SPF_MACRO_DOMAIN, out, sizeof(out), &len) < 0) ...
 * DESCRIPTION
 *   Letters (case-insensitive; an upper-case letter URL-escapes its value,
 *   RFC 3986 unreserved characters excepted): s sender, l local-part, o
 *   sender domain, d current domain, i the IP ("192.0.2.1", or 32
 *   dot-separated lower-case nibbles for IPv6), p validated client name
 *   (or "unknown"), v "in-addr" or "ip6", h HELO name; in explanation
 *   strings only (SPF_MACRO_EXP) also c (readable IP), r (receiving host,
 *   "unknown" when not set) and t (time, seconds since 1970).
 *   Transformers: a decimal number of right-hand parts to keep (not 0;
 *   numbers above 128 keep every part), then "r" to reverse; delimiters
 *   from ".-+,/_=" split the value (default "."); the parts are joined
 *   with ".". In SPF_MACRO_DOMAIN mode literal characters are %x21-7E
 *   except "%"; explanation strings (SPF_MACRO_EXP) also allow spaces.
 * SECURITY
 *   Output is bounded by the caller's buffer, by construction: in
 *   SPF_MACRO_EXP mode the expansion is cut at the buffer's end (it is
 *   text for people); in SPF_MACRO_DOMAIN mode, where RFC 7208 section 7.3
 *   keeps the right-hand labels of an over-long name, the buffer works as
 *   a window over the expansion's tail: when it fills, its left part is
 *   dropped and *truncated tells the caller that the first label left is
 *   incomplete (spf.c then starts the name after a "."). Digit
 *   transformers are parsed without overflow; part counts are bounded.
 *   No global state; thread-safe.
 * DIAGNOSTICS
 *   spf_macro_check and spf_macro_expand return -1 on a syntax error
 *   (a "%" not starting a valid macro, an unknown or disallowed letter, a
 *   zero digit transformer, a character outside the allowed set).
 */
#ifndef FWDAUTH_SPF_MACRO_H
#define FWDAUTH_SPF_MACRO_H

#include <stddef.h>
#include <stdint.h>

enum spf_macro_mode {
    SPF_MACRO_DOMAIN, /* domain-spec / unknown-modifier: letters slodipvh */
    SPF_MACRO_EXP     /* explanation text: also c r t, and spaces */
};

#define SPF_MACRO_OUT_MAX 1024 /* a good buffer size for domain expansions */

struct spf_macro_env {
    const char *sender;        /* s: local-part@domain */
    const char *local;         /* l */
    const char *sender_domain; /* o */
    const char *domain;        /* d: the current domain */
    const char *helo;          /* h ("" if none) */
    const char *receiver;      /* r: NULL = "unknown" */
    long long now;             /* t */
    int ip_v6;                 /* i, c, v: 0 = IPv4 (ip[0..3]), 1 = IPv6 */
    uint8_t ip[16];
    /* p: writes the validated name of the client (or "unknown") into out
     * (cap octets, NUL-terminated); NULL means "unknown". */
    void (*get_p)(void *ctx, const char *domain, char *out, size_t cap);
    void *p_ctx;
};

/* Syntax-check s[0..n) in mode; sets *ends_in_macro (may be NULL) when the
 * string ends with a macro-expand. 0 or -1. */
int spf_macro_check(const char *s, size_t n, int mode, int *ends_in_macro);

/* Expand s[0..n) into out (cap >= 2 octets, NUL-terminated); *outlen gets
 * the length written. *truncated (may be NULL) is set when the SPF_MACRO_DOMAIN
 * window dropped a left part, or an SPF_MACRO_EXP text was cut. 0 or -1. */
int spf_macro_expand(const struct spf_macro_env *e, const char *s, size_t n, int mode, char *out,
                     size_t cap, size_t *outlen, int *truncated);

#endif
