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
 *   At most DKIM_MAX_SIGS signatures are checked per message.
 *   Key records (RFC 6376 section 3.6.1) are read by one function,
 *   dkim_key_record_read, which the verifier uses through
 *   dkim_parse_key_record and lint.h (fwdauth check-dns) calls with alg -1
 *   to judge a record the way the verifier would.
 * SECURITY
 *   Every signature field is bounded; malformed ones are permerror, never
 *   a crash. Verification never trusts anything in the message but the
 *   signature and the DNS key.
 * DIAGNOSTICS
 *   dkim_signer_new returns NULL and dkim_signer_finish -1 with err set
 *   (a bad spec, a key that cannot sign, a field that does not fit).
 *   dkim_verifier_new returns NULL with err set. Each verification result
 *   carries an enum dkim_result and a static reason. dkim_parse_key_record
 *   and dkim_key_record_read return NULL for a record no signature can use,
 *   with a static reason and (dkim_key_record_read) an enum
 *   dkim_key_problem naming the first check that failed.
 */
#ifndef FWDAUTH_DKIM_H
#define FWDAUTH_DKIM_H

#include "canon.h"
#include "dns.h"
#include "err.h"
#include "keys.h"
#include "msg.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DKIM_MAX_SIGS 16
#define DKIM_CLOCK_SKEW 300

enum dkim_alg { DKIM_RSA_SHA256, DKIM_ED25519_SHA256, DKIM_RSA_SHA1 };

enum dkim_result {
    DKIM_NONE,
    DKIM_PASS,
    DKIM_FAIL,
    DKIM_NEUTRAL,
    DKIM_POLICY,
    DKIM_TEMPERROR,
    DKIM_PERMERROR
};

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

const char *dkim_result_name(int result);
const char *dkim_alg_name(int alg);

/* Parse a DKIM key record (RFC 6376 section 3.6.1) for algorithm alg.
 * Returns the key, or NULL with *result (permerror) and *why. Exposed for
 * the fuzz target. */
struct fa_key *dkim_parse_key_record(const char *txt, size_t len, int alg, int *testing,
                                     int *strict, int *result, const char **why);

/* What dkim_key_record_read found wrong with a key record: the first
 * failing check, in the order the verifier makes them. */
enum dkim_key_problem {
    DKIM_KEY_OK,
    DKIM_KEY_SYNTAX,  /* not a tag=value list (tags.h: bad syntax, a tag twice) */
    DKIM_KEY_VERSION, /* v= present but not DKIM1, or not the first tag */
    DKIM_KEY_TYPE,    /* k= names a key type other than rsa and ed25519 */
    DKIM_KEY_ALG,     /* k= does not fit the signature's algorithm */
    DKIM_KEY_HASH,    /* h= leaves out the signature's hash */
    DKIM_KEY_SERVICE, /* s= lists neither * nor email */
    DKIM_KEY_NO_P,    /* no p= */
    DKIM_KEY_REVOKED, /* empty p= */
    DKIM_KEY_BAD_P,   /* p= is not a usable key of that type */
    DKIM_KEY_SHORT    /* an RSA key under KEY_RSA_MIN_BITS */
};

struct dkim_key_info {
    int problem;           /* enum dkim_key_problem */
    int alg;               /* enum dkim_alg the record was read for */
    int type;              /* KEY_RSA or KEY_ED25519 (k=, default rsa); -1 before k= was read */
    int testing, strict;   /* t=y, t=s (read only once s= passed) */
    unsigned bits;         /* key size, when p= held a key */
    const char *k, *h, *s; /* tag values inside txt, NULL when absent */
    size_t k_len, h_len, s_len;
};

/* The verifier's key-record reader with its findings: dkim_parse_key_record
 * is this function. alg is the signature's algorithm, or -1 for the one the
 * record's own k= fits (rsa-sha256, or ed25519-sha256 for k=ed25519), as a
 * lint that has no signature needs. Returns the key, or NULL with
 * info->problem set, *why (when why is not NULL) the same static text
 * dkim_parse_key_record gives, and err (when not NULL) saying what is wrong
 * with p= for DKIM_KEY_BAD_P and DKIM_KEY_SHORT. */
struct fa_key *dkim_key_record_read(const char *txt, size_t len, int alg,
                                    struct dkim_key_info *info, const char **why, fa_err *err);

#endif
