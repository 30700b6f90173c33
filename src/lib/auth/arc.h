/*
 * NAME
 *   arc - Authenticated Received Chain validation and sealing (RFC 8617)
 * SUMMARY
 *   Validates the ARC chain of a message (RFC 8617 section 5.2) and adds
 *   the next ARC set, ARC-Authentication-Results (AAR),
 *   ARC-Message-Signature (AMS) and ARC-Seal (AS), on top (section 5.1).
 *   The hashing, canonicalization, key lookup and signing are DKIM's
 *   (dkimcore.h): an AMS is a DKIM signature without v= whose i= is the
 *   instance; an AS signs the ARC fields themselves.
 * SYNOPSIS
 *   validating:
 *     struct arc_verifier *v = arc_verifier_new(headers, nheaders, time(NULL), &err);
 *     arc_verifier_body(v, p, n); ...
 *     struct arc_result *r = malloc(sizeof *r);
 *     arc_verifier_finish(v, dns, r);      r->cv, r->reason, r->sets[i - 1]
 *   sealing:
 *     struct arc_seal_spec sp = {.domain = "fwd.example", .selector = "arc",
 *                                .key = k, .alg = -1, .authserv_id = "mx.fwd.example"};
 *     struct arc_sealer *s = arc_sealer_new(&sp, headers, nheaders, time(NULL), &err);
 *     arc_sealer_body(s, p, n); ...
 *     rc = arc_sealer_finish(s, dns, "\r\n", r, fields, &err);
 *     rc == ARC_SEALED: fields[0..3) = AS, AMS, AAR, to put above the message in that order
 * DESCRIPTION
 *   Validation (section 5.2): the ARC fields are grouped by instance i=
 *   (1 to ARC_MAX_INSTANCE). No ARC field: cv=none. A field whose i= is
 *   missing, malformed or out of range, a tag list that does not parse
 *   (also an empty tag-spec ";;", which RFC 6376's grammar does not allow),
 *   a duplicate, or an instance 1..N without all three fields: cv=fail.
 *   Then the most recent AS must not say cv=fail, AS(1) must say cv=none
 *   and every later AS cv=pass; the most recent AMS must verify; every AS
 *   from N down to 1 must verify. Every AMS is checked for the report and
 *   the "oldest pass" (section 5.2 step 5: the lowest instance whose AMS and
 *   all later ones verify; 0 when all do).
 *   An AMS is checked like a DKIM-Signature (RFC 6376 section 6) with the
 *   RFC 8617 differences: no v=, i= is the instance, the From field need
 *   not be signed, h= must not list ARC-Seal. c= defaults to
 *   simple/simple as in DKIM. a= is rsa-sha256 or ed25519-sha256 (exact
 *   case; rsa-sha1 is refused, RFC 8301). An AS has a, b, cv, d, i, s and
 *   optional t; an h= tag makes it fail (section 4.1.3); it is hashed with
 *   relaxed header canonicalization over AAR, AMS, AS of instances 1..i in
 *   that order, its own b= blanked (section 5.1.1).
 *   Sealing: the chain is validated first. When its most recent AS says
 *   cv=fail, or it already has ARC_MAX_INSTANCE sets, nothing is added
 *   (ARC_NOT_SEALED). Otherwise the new set has instance N+1 and
 *   cv=none/pass/fail as found; a cv=fail seal covers only its own set
 *   (section 5.1.2). The AAR carries the results of the message's
 *   Authentication-Results fields whose authserv-id is ours (all such
 *   fields, merged in order, each result copied as written), or
 *   spec->results when given, with an "arc=" result for the chain status
 *   (kept as written when the results already say the same, otherwise
 *   replaced by ours and put first). The AMS signs with c=relaxed/relaxed
 *   and tags in alphabetical order (a b bh c d h i s t); the AS likewise (a
 *   b cv d i s t). Lines fold between tags, never inside b=, so that the
 *   canonical form of a set does not depend on where lines break (the
 *   ValiMail ARC test suite's expected seals are computed that way).
 *   The default AMS h= is DKIM's default list (oversigned) plus each
 *   DKIM-Signature present (RFC 8617 section 4.1.2); Authentication-Results
 *   and ARC fields are never signed by it.
 * DIAGNOSTICS
 *   arc_verifier_new returns NULL with err set only when memory runs out
 *   or OpenSSL lacks SHA-256 or SHA-1; a malformed chain is not an error but
 *   a result. arc_verifier_finish cannot fail: out->cv is ARC_CV_NONE (no
 *   ARC field), ARC_CV_PASS or ARC_CV_FAIL, with out->reason naming the
 *   instance and the first problem found; out->temperror is set when a
 *   key lookup failed temporarily (the chain is then cv=fail, and a
 *   caller may defer rather than reject). Per set, ams_result and
 *   as_result are an enum dkim_result (dkim_key.h: DKIM_PASS, DKIM_FAIL,
 *   DKIM_PERMERROR, DKIM_TEMPERROR; DKIM_NONE when not checked) with a
 *   static reason.
 *   arc_sealer_new returns NULL with err set: no valid domain, selector
 *   or key; no valid authserv-id; a key that is not private; an alg other
 *   than rsa-sha256/ed25519-sha256, or one that does not match the key; a
 *   headers list without From (or over DKIMCORE_HLIST_MAX), or one that
 *   names ARC-Seal or Authentication-Results; out of memory.
 *   arc_sealer_finish returns ARC_SEALED with fields[0..3) set;
 *   ARC_NOT_SEALED with fields NULL and err saying why when the chain
 *   must not be extended (its latest seal says cv=fail, or it has
 *   ARC_MAX_INSTANCE sets); or -1 with err set and fields NULL: the
 *   default signed list does not fit, results that do not parse
 *   (spec->results), an AAR or ARC field too long, a digest or signing
 *   failure (keys.h), out of memory. *chain is filled in every case.
 *   arc_field_instance returns the instance (1..ARC_MAX_INSTANCE), or -1
 *   with a static *why: not an ARC field, an AAR not starting with i=, a
 *   tag list that does not parse, i= missing or out of range.
 *   arc_cv_name never fails (any value but pass and fail is "none").
 * SECURITY
 *   Bounded: at most ARC_MAX_INSTANCE sets, DKIM's limits on every field;
 *   malformed input is cv=fail with a reason, never a crash. A temporary
 *   DNS failure is cv=fail with temperror set, so that a caller may defer
 *   instead. Objects are per message; no global state.
 */
#ifndef FWDAUTH_ARC_H
#define FWDAUTH_ARC_H

#include "dkim_key.h"
#include "dns.h"
#include "err.h"
#include "keys.h"
#include "msg.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ARC_MAX_INSTANCE 50

enum arc_cv { ARC_CV_NONE, ARC_CV_PASS, ARC_CV_FAIL };

struct arc_set_result {
    unsigned instance;
    int ams_result; /* enum dkim_result: pass, fail, permerror, temperror; none = not checked */
    int as_result;
    const char *ams_reason, *as_reason; /* static; "" for pass */
    int cv;                             /* the seal's cv= (enum arc_cv), -1 if unreadable */
    char ams_domain[256], ams_selector[128];
    char as_domain[256], as_selector[128];
    size_t aar_index, ams_index, as_index; /* which fields of the message */
};

struct arc_result {
    int cv;               /* enum arc_cv */
    char reason[160];     /* why, naming the instance; "" for pass and none */
    int temperror;        /* a key lookup failed temporarily */
    unsigned nsets;       /* highest instance; sets[0..nsets) are instances 1..nsets */
    unsigned oldest_pass; /* meaningful when cv is pass */
    struct arc_set_result sets[ARC_MAX_INSTANCE];
};

const char *arc_cv_name(int cv); /* "none", "pass", "fail" */

struct arc_verifier;

struct arc_verifier *arc_verifier_new(const struct msg_header *h, size_t nh, time_t now,
                                      fa_err *err);
void arc_verifier_body(struct arc_verifier *v, const uint8_t *p, size_t n);
void arc_verifier_finish(struct arc_verifier *v, struct dns *dns, struct arc_result *out);
void arc_verifier_free(struct arc_verifier *v);
/* The key records arc_verifier_finish will ask for (each set's AMS and AS
 * still to check, the latest set first; none for a chain whose structure
 * is broken), for a resolver that asks them together first (dns_prefetch).
 * Returns how many (at most max; 2 * ARC_MAX_INSTANCE cover all). */
size_t arc_verifier_key_names(const struct arc_verifier *v, char (*names)[DKIM_KEY_NAME_MAX],
                              size_t max);

/* The strings are referenced, not copied, and read again by
 * arc_sealer_finish (results may be filled in after arc_sealer_new). */
struct arc_seal_spec {
    const char *domain;   /* d= */
    const char *selector; /* s= */
    const struct fa_key *key;
    int alg;                 /* enum dkim_alg: rsa-sha256 or ed25519-sha256; -1 = from the key */
    const char *headers;     /* AMS h= ("from:to:subject"); NULL = default list */
    time_t timestamp;        /* t=; 0 = now, -1 = omit */
    const char *authserv_id; /* ours: which Authentication-Results the AAR copies */
    const char *results;     /* or these results ("spf=pass smtp.mailfrom=a@b; dkim=..."); NULL */
    /* NULL: the chain status (cv=, and arc= in the AAR) is what
     * arc_sealer_finish validates now. Else the status validated when the
     * message arrived, before the sealer's own changes (a footer, a Subject
     * tag) or a content filter's broke the previous AMS, as RFC 8617
     * section 5.1.1 intends: the sealer vouches for what it verified. */
    const int *arrival_cv;
};

enum { ARC_NOT_SEALED = 0, ARC_SEALED = 1 };

struct arc_sealer;

struct arc_sealer *arc_sealer_new(const struct arc_seal_spec *spec, const struct msg_header *h,
                                  size_t nh, time_t now, fa_err *err);
void arc_sealer_body(struct arc_sealer *s, const uint8_t *p, size_t n);
/* The header fields as the message will leave (a milter that adds or
 * changes fields): the AMS signs these (and, without spec->results, the
 * AAR reads their Authentication-Results); the chain is still validated on
 * the fields given to arc_sealer_new. h must live until finish. */
void arc_sealer_outgoing(struct arc_sealer *s, const struct msg_header *h, size_t nh);
/* Validate the chain into *chain and, unless it must not be extended,
 * make the new set: fields[0] "ARC-Seal: ...", fields[1]
 * "ARC-Message-Signature: ...", fields[2] "ARC-Authentication-Results: ...",
 * each folded with eol and ending with it (malloc'd, caller frees).
 * Returns ARC_SEALED, ARC_NOT_SEALED (fields NULL; err says why) or -1. */
int arc_sealer_finish(struct arc_sealer *s, struct dns *dns, const char *eol,
                      struct arc_result *chain, char **fields, fa_err *err);
void arc_sealer_free(struct arc_sealer *s);

/* Exposed for the fuzz target: the instance of an ARC field value (AAR:
 * leading "i=N;", AMS/AS: the i= tag), 1..ARC_MAX_INSTANCE, or -1 with *why. */
int arc_field_instance(const struct msg_header *f, const char **why);

#endif
