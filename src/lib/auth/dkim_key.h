/*
 * NAME
 *   dkim_key - DKIM key records (RFC 6376 section 3.6): read, fetch
 * SUMMARY
 *   The one reader of DKIM key records, for the DKIM verifier (dkim.h),
 *   the ARC verifier (arc.h, whose keys are DKIM keys: RFC 8617 section
 *   4.1.3) and the check-dns rules (lint.h), and the one fetch of a
 *   selector's record from DNS. It also holds the vocabulary both
 *   verifiers answer in, enum dkim_alg and enum dkim_result with their
 *   names, because the reader and the fetch already answer in it: this is
 *   the lowest module that needs them (dkim.h includes this header).
 * SYNOPSIS
 *   int testing, strict, result; const char *why;
 *   struct fa_key *k = dkim_key_fetch(dns, "sel", "example.org", DKIM_RSA_SHA256,
 *                                     &testing, &strict, &result, &why);
 *   struct dkim_key_info info;
 *   k = dkim_key_record_read(txt, len, -1, &info, &why, &err);   (a lint: no signature)
 * DESCRIPTION
 *   A record is a tag=value list (tags.h). Checks are made in the order of
 *   enum dkim_key_problem, and the first that fails decides: v= must be
 *   DKIM1 and first when present; k= rsa (the default) or ed25519 and
 *   matching the signature's algorithm; h= (when present) must list the
 *   signature's hash; s= (when present) must list "*" or "email"; p= must
 *   be present, not empty (revoked) and a public key of k='s type, RSA at
 *   least KEY_RSA_MIN_BITS (RFC 8301). t=y (testing) and t=s (strict) are
 *   reported. dkim_key_fetch asks SELECTOR._domainkey.DOMAIN for TXT and
 *   uses the first record that reads (RFC 6376 section 3.6.2.2).
 * SECURITY
 *   Records come from DNS and are untrusted: every tag is bounded by the
 *   tag parser, and a record that does not read is refused, never guessed.
 * DIAGNOSTICS
 *   dkim_key_record_read and dkim_parse_key_record return NULL for a
 *   record no signature can use, with a static reason and
 *   (dkim_key_record_read) an enum dkim_key_problem naming the first check
 *   that failed. dkim_key_fetch returns NULL with *result DKIM_TEMPERROR
 *   (the lookup failed temporarily) or DKIM_PERMERROR (no record, or none
 *   that reads) and a static *why. dkim_result_name and dkim_alg_name
 *   return "?" and "unknown" for values outside their enums.
 */
#ifndef FWDAUTH_DKIM_KEY_H
#define FWDAUTH_DKIM_KEY_H

#include "dns.h"
#include "err.h"
#include "keys.h"

#include <stddef.h>

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
    DKIM_KEY_BAD_P    /* p= is not a usable key of that type (also an RSA key under
                         KEY_RSA_MIN_BITS: keys.h refuses it, RFC 8301) */
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
 * with p= for DKIM_KEY_BAD_P (for a short RSA key, its size). */
struct fa_key *dkim_key_record_read(const char *txt, size_t len, int alg,
                                    struct dkim_key_info *info, const char **why, fa_err *err);

/* The DNS name of a key record, SELECTOR._domainkey.DOMAIN (RFC 6376
 * section 3.6.2.1), into out; 0, or -1 when it does not fit (then "" and
 * the lookup would fail as a malformed name anyway). */
#define DKIM_KEY_NAME_MAX 512
int dkim_key_name(const char *selector, const char *domain, char *out, size_t outsz);

/* Fetch SELECTOR._domainkey.DOMAIN and parse the first usable record for
 * alg (enum dkim_alg). NULL with *result (DKIM_TEMPERROR or DKIM_PERMERROR)
 * and a static *why on failure. */
struct fa_key *dkim_key_fetch(struct dns *dns, const char *selector, const char *domain, int alg,
                              int *testing, int *strict, int *result, const char **why);

#endif
