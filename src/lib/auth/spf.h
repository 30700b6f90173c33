/*
 * NAME
 *   spf - Sender Policy Framework, RFC 7208
 * SUMMARY
 *   check_host() (RFC 7208 section 4) for the MAIL FROM identity, or for
 *   the HELO identity (section 2.3), with every DNS question asked through
 *   dns.h, so a zone file (--dns-zone, dns_zone_file) answers offline.
 *   Results: none, neutral, pass, fail, softfail, temperror, permerror
 *   (section 2.6), with the explanation (exp=, section 6.2) for fail.
 * SYNOPSIS
 *   struct spf_result r;
 *   if (spf_check(dns, "192.0.2.1", "alice@example.org", "mx.example.org", &r) < 0)
 *       bad IP address: r.reason says so
 *   else printf("%s %s %s\n", spf_result_name(r.result), r.domain, r.reason);
 * DESCRIPTION
 *   Implemented: record selection (exactly one TXT record starting
 *   "v=spf1" followed by a space or its end, case-insensitive; several =
 *   permerror; no SPF type 99 queries, as section 3.1 says: the SPF RR type
 *   is obsolete), the whole record parsed before evaluation (a syntax error
 *   anywhere is permerror, section 4.6), mechanisms all, include, a, mx,
 *   ptr, ip4, ip6, exists with qualifiers and CIDR lengths (dual-cidr for a
 *   and mx), modifiers redirect and exp (each at most once, else permerror;
 *   unknown modifiers are syntax-checked and ignored), macros (spf_macro.h),
 *   IPv4-mapped IPv6 clients treated as IPv4 (section 5).
 *   Initial processing (section 4.3): a sender domain that is malformed
 *   (empty label, label over 63, over 253 octets, single label, address
 *   literal, octets outside visible ASCII) gives none without asking DNS;
 *   an empty local-part becomes "postmaster"; an empty MAIL FROM checks
 *   postmaster@HELO. A target name that macro expansion makes invalid as
 *   a DNS name is a name that does not exist: a/mx/ptr/exists do not match,
 *   include and redirect give permerror.
 *   Limits (section 4.6.4): at most 10 of include, a, mx, ptr, exists and
 *   redirect per check, counted as evaluated (more = permerror); at most 2
 *   void lookups (NXDOMAIN or no records) for a, mx, ptr, exists (more =
 *   permerror); an MX answer of more than 10 names is permerror; only the
 *   first 10 PTR names are looked at (for ptr and %{p}); the explanation
 *   lookup counts toward neither limit.
 *   A DNS timeout or server failure is temperror (except where RFC 7208
 *   says to skip: PTR lookups of ptr and %{p}, address lookups while
 *   validating PTR names, the exp= lookup).
 *   exp=: one TXT record of visible ASCII, macro-expanded with c, r, t
 *   allowed; anything wrong (DNS error, no or several records, bad syntax)
 *   leaves the explanation empty, as section 6.2 says. The exp of an
 *   included record is never used; after redirect the target's is.
 *   The fail explanation of the final record only is looked up.
 * SECURITY
 *   Everything is bounded: records are parsed by length (NULs inside are
 *   a syntax error), macro output is bounded by construction (spf_macro.h;
 *   a domain expansion is cut to its right-hand 253 octets at a label
 *   boundary, section 7.3), at most SPF_MAX_DEPTH nested records, results
 *   in fixed-size fields. No global state; thread-safe with a shared
 *   struct dns. libspf2's macro overflows (CVE-2021-20314, CVE-2021-33912,
 *   CVE-2021-33913) cannot happen: no expansion writes past its buffer.
 * DIAGNOSTICS
 *   spf_check* return the result (enum spf_res, >= 0), or -1 when the
 *   request itself is unusable (an IP address that does not parse); in
 *   both cases out->reason says why in one line. spf_record_parse returns
 *   0 or -1 with err set to the offending term; spf_record_parse_each the
 *   same, after reporting every bad term. spf_record_fetch returns 1 (a
 *   record) or SPF_NONE, SPF_PERMERROR, SPF_TEMPERROR.
 *   spf_term_parse returns 0, or -1 with err set and *unknown_mech saying
 *   whether the term looked like a mechanism. spf_is_record and
 *   spf_term_counts return 1 or 0. spf_result_name returns "unknown" for
 *   a value outside enum spf_res.
 */
#ifndef FWDAUTH_SPF_H
#define FWDAUTH_SPF_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct dns;

enum spf_res {
    SPF_NONE,
    SPF_NEUTRAL,
    SPF_PASS,
    SPF_FAIL,
    SPF_SOFTFAIL,
    SPF_TEMPERROR,
    SPF_PERMERROR
};

#define SPF_LOOKUP_LIMIT 10 /* section 4.6.4 */
#define SPF_VOID_LIMIT 2
#define SPF_MX_LIMIT 10
#define SPF_PTR_LIMIT 10
#define SPF_MAX_DEPTH 12 /* nested include/redirect; the lookup limit comes first */
#define SPF_DOMAIN_MAX 253
#define SPF_EXP_MAX 1024   /* explanation text (longer is cut) */
#define SPF_REASON_MAX 640 /* reason text (longer is cut) */

struct spf_result {
    int result;                        /* enum spf_res */
    int helo_identity;                 /* 1: the HELO identity was checked */
    char domain[SPF_DOMAIN_MAX + 2];   /* the domain checked ("" if none) */
    char sender[SPF_DOMAIN_MAX + 300]; /* <sender> as used: local@domain */
    char explanation[SPF_EXP_MAX + 1]; /* fail: the exp= text; else "" */
    char reason[SPF_REASON_MAX];       /* why: matched term, error, ... */
    char mechanism[128];               /* the term that matched ("" if none; may be cut) */
    unsigned lookups;                  /* DNS-querying terms evaluated */
    unsigned void_lookups;
};

struct spf_request {
    const char *ip;        /* client address, IPv4 or IPv6 text */
    const char *mail_from; /* MAIL FROM without <>; NULL or "" = null sender */
    const char *helo;      /* HELO/EHLO name; NULL = "" */
    int helo_identity;     /* check the HELO identity, not MAIL FROM */
    const char *receiver;  /* %{r}: this host's name; NULL = "unknown" */
    time_t now;            /* %{t}; 0 = time(NULL) */
};

int spf_check_request(struct dns *d, const struct spf_request *rq, struct spf_result *out);

/* The domain spf_check_request checks for rq: MAIL FROM's domain, or
 * HELO's when rq->helo_identity is set or the sender is null; *dom points
 * into rq's strings, and the length returned leaves out a trailing dot.
 * *llen is the local-part's length (0: none; "postmaster" stands in).
 * For callers that look the record up ahead (arrival_prefetch). */
size_t spf_identity(const struct spf_request *rq, const char **dom, size_t *llen);

/* MAIL FROM identity (postmaster@helo when mail_from is NULL or ""). */
int spf_check(struct dns *d, const char *ip, const char *mail_from, const char *helo,
              struct spf_result *out);

/* HELO identity (RFC 7208 section 2.3). */
int spf_check_helo(struct dns *d, const char *ip, const char *helo, struct spf_result *out);

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror". */
const char *spf_result_name(int result);

/* ------------------------------------------------------------------
 * The record parser, for lints (fwdauth check-dns) and tests. */

enum spf_term_kind {
    SPF_T_ALL,
    SPF_T_INCLUDE,
    SPF_T_A,
    SPF_T_MX,
    SPF_T_PTR,
    SPF_T_IP4,
    SPF_T_IP6,
    SPF_T_EXISTS,
    SPF_T_REDIRECT,
    SPF_T_EXP,
    SPF_T_UNKNOWN_MOD /* an unknown modifier: ignored */
};

struct spf_term {
    int kind;         /* enum spf_term_kind */
    char qualifier;   /* mechanisms: '+', '-', '~' or '?' */
    const char *text; /* the whole term, inside the parsed string */
    size_t text_len;
    const char *spec; /* domain-spec (or modifier value); NULL when absent */
    size_t spec_len;
    int cidr4, cidr6; /* prefix lengths (32/128 when not given) */
    uint8_t addr[16]; /* ip4 (4 octets) / ip6 network */
};

struct spf_record {
    size_t n;
    struct spf_term *t; /* malloc'd; points into the string given to spf_record_parse */
    const struct spf_term *redirect, *exp;
};

/* Is s[0..n) an SPF version 1 record ("v=spf1" then a space or the end,
 * case-insensitive)? */
int spf_is_record(const char *s, size_t n);

/* Parse one term (no spaces inside). 0 or -1 with err set; *unknown_mech
 * (may be NULL) is then 1 when the term looked like a mechanism with an
 * unknown name, 2 when it has no name at all (not an SPF term), else 0. */
int spf_term_parse(const char *s, size_t n, struct spf_term *t, int *unknown_mech, fa_err *err);

/* Parse a whole record (starting "v=spf1"); r->t points into s, which must
 * outlive r. 0 or -1 with err naming the first bad term. */
int spf_record_parse(const char *s, size_t n, struct spf_record *r, fa_err *err);
void spf_record_free(struct spf_record *r);

/* What spf_record_parse_each says about a term it left out. */
enum spf_bad_kind {
    SPF_BAD_MALFORMED,         /* a known mechanism or modifier written wrong */
    SPF_BAD_UNKNOWN_MECHANISM, /* looks like a mechanism, with an unknown name */
    SPF_BAD_NOT_A_TERM,        /* no name at all */
    SPF_BAD_REPEATED_MODIFIER  /* redirect= or exp= a second time */
};
/* Called with the term's text, enum spf_bad_kind and the one-line reason
 * spf_record_parse would give for it. */
typedef void (*spf_bad_term_fn)(void *arg, const char *term, size_t len, int kind, const char *why);

/* spf_record_parse for lints: every term is parsed; each one that fails is
 * passed to on_bad and left out of r. Returns 0 when spf_record_parse
 * would accept the record, -1 when it would not (err: its message for the
 * first bad term) -- evaluators then return permerror. r holds the terms
 * that parsed either way (none when s is not an SPF record or memory ran
 * out); free it with spf_record_free. */
int spf_record_parse_each(const char *s, size_t n, struct spf_record *r, spf_bad_term_fn on_bad,
                          void *arg, fa_err *err);

/* Record selection as check_host does it (RFC 7208 sections 4.4, 4.5). */
struct spf_fetched {
    int dns_status;      /* enum dns_status of the TXT query */
    const char *dns_why; /* static text for it */
    size_t count;        /* TXT records that are SPF records */
    int oom;             /* out of memory (then SPF_TEMPERROR) */
};
/* The one SPF record of domain: 1 with *rec (malloc'd, NUL-terminated,
 * *len octets); SPF_NONE when there is none (NXDOMAIN, NODATA, or no TXT
 * record starting v=spf1: f says which), SPF_PERMERROR for several
 * (f->count), SPF_TEMPERROR for a DNS error or no memory. */
int spf_record_fetch(struct dns *d, const char *domain, char **rec, size_t *len,
                     struct spf_fetched *f);

/* Does a term's kind cause DNS lookups counted by the limit of 10? */
int spf_term_counts(int kind);

#endif
