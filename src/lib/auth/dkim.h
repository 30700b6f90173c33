/*
 * NAME
 *   dkim - DKIM signing and verification (RFC 6376, RFC 8301, RFC 8463)
 * SUMMARY
 *   Signs with rsa-sha256 (1024-4096 bit keys) and ed25519-sha256, several
 *   signatures in one pass over the body (signatures with the same body
 *   canonicalization share one hash). Verifies every DKIM-Signature of a
 *   message: rsa-sha256 and ed25519-sha256; rsa-sha1 is reported as
 *   "policy" (RFC 8301 forbids it); keys under 1024 bits, h= without From,
 *   i= outside d=, t=s with a subdomain i=, revoked keys (empty p=) and
 *   key records whose k= or h= exclude the algorithm are "permerror";
 *   x= in the past and t= in the future (beyond DKIM_CLOCK_SKEW) "fail".
 *   Results use the RFC 8601 names, each with a reason.
 * SYNOPSIS
 *   signing:
 *     struct dkim_signer *s = dkim_signer_new(specs, nspecs, &err);
 *     dkim_signer_body(s, p, n); ...
 *     dkim_signer_finish(s, headers, nheaders, "\r\n", fields, &err);
 *     fields[i] = "DKIM-Signature: v=1; a=...\r\n" to put above the message
 *   verifying:
 *     struct dkim_verifier *v = dkim_verifier_new(headers, nheaders, time(NULL), &err);
 *     dkim_verifier_body(v, p, n); ...
 *     n = dkim_verifier_finish(v, dns, results, DKIM_MAX_SIGS);
 * DESCRIPTION
 *   Headers are the message's fields in order (msg.h), raw bytes; bodies
 *   are streamed raw (LF or CRLF). The default signed-header list covers
 *   the fields that matter to readers and oversigns them (each present
 *   field is listed once more than it occurs, so none can be added).
 *   Tags are written in the order v a c d i q s t x l h bh b, as in RFC 8463
 *   Appendix A, so its example can be reproduced byte for byte.
 *   At most DKIM_MAX_SIGS signatures (the topmost) are checked per
 *   message, so that one message cannot make us fetch keys without end;
 *   dkim_verifier_skipped counts the fields beyond, not verified.
 *   Key records (RFC 6376 section 3.6.1) are read and fetched by
 *   dkim_key.h, which also holds enum dkim_alg and enum dkim_result; this
 *   header includes it.
 * SECURITY
 *   Every signature field is bounded; malformed ones are permerror, never
 *   a crash. Verification never trusts anything in the message but the
 *   signature and the DNS key.
 * DIAGNOSTICS
 *   dkim_signer_new returns NULL with err set: n is 0 or over
 *   DKIM_MAX_SIGS; a spec without domain, selector or key, with a key that
 *   is not private, asking rsa-sha1 (RFC 8301) or an algorithm the key
 *   does not have, an identity outside d=, a header list without From, an
 *   invalid domain or selector (err names the spec by number); out of
 *   memory. dkim_signer_finish returns 0 with every fields[i] set, or -1
 *   with err set and no field: a signed list or field too long, a digest
 *   or signing failure (keys.h), out of memory.
 *   dkim_verifier_new returns NULL with err set only when memory runs out
 *   or OpenSSL lacks SHA-256 or SHA-1; malformed signatures are results, not
 *   errors. dkim_verifier_finish returns the number of results and cannot
 *   fail; each result is an enum dkim_result (dkim_key.h) with a static
 *   reason: DKIM_PASS (reason ""); DKIM_FAIL (body hash mismatch, a
 *   signature that does not verify, x= past, t= in the future);
 *   DKIM_POLICY (rsa-sha1); DKIM_PERMERROR (a signature field that does
 *   not parse or breaks a rule listed in SUMMARY, a key record that is
 *   missing or unusable: dkim_key.h); DKIM_TEMPERROR (the key lookup
 *   failed temporarily, or an internal failure such as memory).
 *   dkim_verifier_key_names and dkim_verifier_skipped return counts.
 */
#ifndef FWDAUTH_DKIM_H
#define FWDAUTH_DKIM_H

#include "canon.h"
#include "dkim_key.h"
#include "dns.h"
#include "err.h"
#include "keys.h"
#include "msg.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DKIM_MAX_SIGS 16
#define DKIM_CLOCK_SKEW 300

struct dkim_sign_spec {
    const char *domain;   /* d= */
    const char *selector; /* s= */
    const struct fa_key *key;
    int alg;              /* enum dkim_alg; -1 = from the key's type */
    int hcanon, bcanon;   /* enum canon_alg */
    const char *headers;  /* "from:to:subject"; NULL = default list, oversigned */
    const char *identity; /* i=, or NULL */
    time_t timestamp;     /* t=; 0 = now, -1 = omit */
    time_t expire;        /* x=; 0 = omit */
    int body_length;      /* add l= (not advised: content can be appended) */
    int query_tag;        /* add q=dns/txt (the default; some old verifiers want it) */
};

struct dkim_signer;

struct dkim_signer *dkim_signer_new(const struct dkim_sign_spec *specs, size_t n, fa_err *err);
void dkim_signer_body(struct dkim_signer *s, const uint8_t *p, size_t n);
/* Finish: fields[i] (malloc'd, caller frees) is the complete field for
 * specs[i], folded with eol ("\r\n" or "\n") and ending with it. */
int dkim_signer_finish(struct dkim_signer *s, const struct msg_header *h, size_t nh,
                       const char *eol, char **fields, fa_err *err);
void dkim_signer_free(struct dkim_signer *s);

struct dkim_sig_result {
    int result;         /* enum dkim_result */
    const char *reason; /* static text; "" for pass */
    char domain[256];   /* d= (may be empty if unparsable) */
    char selector[128]; /* s= */
    char identity[320]; /* i= or "@" d= */
    char b_prefix[16];  /* start of b=, for Authentication-Results header.b */
    int alg;            /* enum dkim_alg, or -1 */
    unsigned key_bits;
    int testing;         /* key record t=y */
    size_t header_index; /* which field of the message */
};

struct dkim_verifier;

struct dkim_verifier *dkim_verifier_new(const struct msg_header *h, size_t nh, time_t now,
                                        fa_err *err);
void dkim_verifier_body(struct dkim_verifier *v, const uint8_t *p, size_t n);
/* Results, one per DKIM-Signature field (top first), at most max. */
size_t dkim_verifier_finish(struct dkim_verifier *v, struct dns *dns, struct dkim_sig_result *out,
                            size_t max);
void dkim_verifier_free(struct dkim_verifier *v);
/* The key records dkim_verifier_finish will ask for, one per signature
 * still to check, top first (dkim_key_name), for a resolver that asks
 * them together first (dns_prefetch). Returns how many (at most max). */
size_t dkim_verifier_key_names(const struct dkim_verifier *v, char (*names)[DKIM_KEY_NAME_MAX],
                               size_t max);
/* How many DKIM-Signature fields beyond the first DKIM_MAX_SIGS were not
 * verified (nor reported by dkim_verifier_finish). */
size_t dkim_verifier_skipped(const struct dkim_verifier *v);

#endif
