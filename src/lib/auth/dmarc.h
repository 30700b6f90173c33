/*
 * NAME
 *   dmarc - DMARC policy discovery, identifier alignment and result
 *   (RFC 7489, and RFC 9989 "DMARCbis" with its DNS Tree Walk)
 * SUMMARY
 *   Given the RFC5322.From domain, the SPF result with the domain SPF
 *   authenticated, and the DKIM results with their d= domains, finds the
 *   DMARC policy record, checks alignment and says pass / fail / none /
 *   temperror / permerror (RFC 8601 names), which identifier aligned, and
 *   which policy (none / quarantine / reject) the record asks for. It takes
 *   plain inputs: it knows nothing of spf.h, dkim.h or arc.h.
 *   Two modes (config key dmarc_mode), chosen per call:
 *   - DMARC_MODE_RFC7489: Organizational Domain from the Public Suffix List
 *     (section 3.2, libpsl's built-in list); policy record at _dmarc.<From>,
 *     else at _dmarc.<Organizational Domain> (6.6.3); tags p sp adkim aspf
 *     pct fo rua ruf rf ri (6.3); pct sampling (6.6.4).
 *   - DMARC_MODE_RFC9989: Organizational Domain and policy from the DNS
 *     Tree Walk (4.10, 4.10.1, 4.10.2); tags p sp np adkim aspf fo rua ruf
 *     psd t (4.7); pct, rf and ri are unknown tags there and ignored;
 *     np= applies to a From domain that does not exist (NXDOMAIN).
 * SYNOPSIS
 *   struct dmarc_dkim_auth sigs[] = {{DMARC_AUTH_PASS, "example.com"}};
 *   struct dmarc_auth a = {.spf_result = DMARC_AUTH_PASS,
 *                          .spf_domain = "bounces.example.com",
 *                          .dkim = sigs, .ndkim = 1,
 *                          .pct_roll = random % 100};
 *   struct dmarc_result r;
 *   dmarc_evaluate(dns, DMARC_MODE_RFC7489, "news.example.com", &a, &r);
 *   r.result (enum dmarc_result_code), r.disposition (enum dmarc_policy),
 *   r.spf_aligned, r.dkim_aligned, r.record_domain, r.org_domain, r.reason
 * DESCRIPTION
 *   Record parsing (dmarc_parse_record). A TXT string is a DMARC record
 *   when it starts with "v=DMARC1" (white space allowed around "=", the tag
 *   name in any case, the value "DMARC1" exactly) followed by ";" or its
 *   end; others are discarded, as 6.6.3 steps 2/4 and 4.10 steps 2/6 say.
 *   The rest is read one tag-spec at a time (the tag grammar of tags.h,
 *   RFC 6376 3.2, applied per ";"-separated spec): tag names match in any
 *   ASCII case and so do the keyword values (RFC 5234 2.3: ABNF literals
 *   are case-insensitive); a malformed spec, a bad value or a repeated tag
 *   is ignored and the tag keeps its default (RFC 7489 6.3: "Syntax errors
 *   in the remainder of the record SHOULD be discarded in favor of default
 *   values (if any) or ignored outright"; RFC 9989 4.7 the same as MUST),
 *   so the first occurrence of a repeated tag wins. Unknown tags are
 *   ignored. A bad p/sp/np value is not defaulted: it is recorded
 *   (p_invalid...) because 6.6.3 step 6 / 4.10.1 handle it: with a rua
 *   holding at least one syntactically valid URI the record acts as
 *   "v=DMARC1; p=none", otherwise no policy applies (result permerror:
 *   a record exists but is unusable). In RFC 9989 mode a record without
 *   p= (and no bad sp/np) is "p=none" (4.7 "p"); in RFC 7489 mode p is
 *   REQUIRED, so a missing p takes the step 6 path.
 *   Policy discovery, RFC 7489 (6.6.3): _dmarc.<From>; if no DMARC record
 *   there, _dmarc.<Org Domain> when that differs. Two or more DMARC records
 *   at the name that answered end discovery: result none. A From domain
 *   that is itself a public suffix is its own Organizational Domain.
 *   Policy discovery, RFC 9989 (4.10): _dmarc.<From>, then the name
 *   with the left-most label removed; a name of 8 or more labels is
 *   shortened at once to its 7 right-most labels, so a walk makes at most
 *   8 queries; the walk goes up to the TLD and stops early at a single
 *   record holding psd=y or psd=n. Several DMARC records at one name are
 *   all discarded and the walk goes on. Organizational Domain (4.10.2),
 *   over the records found, longest name first: psd=n -> that name;
 *   psd=y at a name other than the walk's start -> the name one label
 *   below it; else the name with the fewest labels; no record -> the start
 *   name itself. The policy record (4.10.1) is the From domain's own, else
 *   the Organizational Domain's, else the PSD's (psd=y) record.
 *   Which policy: the record's p when found at the From domain itself;
 *   otherwise (the From domain is a subdomain of the record's domain) sp,
 *   or p when sp is absent; in RFC 9989 mode np (falling back to sp, then
 *   p) when the From domain does not exist, which is asked (one A query:
 *   NXDOMAIN = non-existent, RFC 9989 3.2 "Non-existent Domains" after
 *   RFC 8020) only when np would change the answer. RFC 9989 t=y lowers
 *   the disposition one step (reject -> quarantine -> none); RFC 7489
 *   pct < 100 does the same for a message whose pct_roll (0..99, chosen by
 *   the caller) is >= pct (6.6.4).
 *   Alignment (RFC 7489 3.1, RFC 9989 3.2.x): strict = the domains are
 *   equal (ASCII case-insensitive); relaxed = their Organizational Domains
 *   are equal (by the PSL or by a Tree Walk of each identifier, per mode).
 *   SPF: the caller passes the domain SPF authenticated, the MAIL FROM
 *   domain, or the HELO domain when MAIL FROM was empty (RFC 7208 2.4).
 *   DKIM: any signature whose result is pass and whose d= aligns.
 *   Results: pass = some identifier passed and aligned; fail = none did
 *   (and no aligned identifier had a temporary error); none = no usable
 *   policy record or no usable From domain; temperror = a DNS lookup that
 *   decides the outcome failed temporarily, or no aligned pass but an
 *   identifier that would align had a temporary error (RFC 9989,
 *   Determine Handling Policy: the policy cannot then be applied); permerror = the record's p/sp/np
 *   is invalid and it has no valid rua. disposition is the policy to
 *   enact: DMARC_POLICY_NONE unless the result is fail.
 *   For lints (lint.h, fwdauth check-dns), the same code is exposed in
 *   parts: dmarc_parse_record_specs is dmarc_parse_record that also says
 *   what it did with each tag-spec (used, malformed, unknown, a tag of the
 *   other document, repeated, bad value); dmarc_uri_next walks a rua/ruf
 *   list as the parser counts it; dmarc_discover is the policy discovery
 *   of dmarc_evaluate (what was asked at which _dmarc name, and the record
 *   found) and dmarc_evaluate_discovered the rest of dmarc_evaluate over
 *   it, so dmarc_evaluate == dmarc_discover + dmarc_evaluate_discovered,
 *   and a lint that uses them reaches the verifier's verdict by
 *   construction.
 *   Domains are compared and queried in lower case, one trailing dot
 *   dropped. The caller passes A-labels (RFC 9989 4.10: U-labels MUST be
 *   converted first); a From domain with octets outside printable ASCII,
 *   an empty label or over 253 octets gives result none.
 * SECURITY
 *   Input from DNS and from the message is bounded: records of any length
 *   are parsed in place, names over 253 octets are never queried, a Tree
 *   Walk makes at most 8 queries (so an attacker's 100-label From domain
 *   costs 8), and at most DMARC_MAX_DKIM signatures are looked at.
 *   Thread-safe: no global mutable state; the PSL used is libpsl's
 *   built-in list (psl_builtin(), static and immutable), so concurrent
 *   calls only share the struct dns, which is itself thread-safe.
 * DIAGNOSTICS
 *   Every result carries a static one-line reason. Nothing is printed.
 *   dmarc_parse_record(_specs): 0 a DMARC record, -1 not one (static *why:
 *   "does not start with v=DMARC1", "v= must be DMARC1 exactly, in upper
 *   case", "v= is not DMARC1", "v=DMARC1 is not followed by \";\"").
 *   dmarc_discover: 1 when a record was found, else 0 with result set to
 *   what dmarc_evaluate gives: DMARC_NONE (no usable From domain, no
 *   record, several records where RFC 7489 stops) or DMARC_TEMPERROR (a
 *   lookup failed, no resolver, no memory), and reason.
 *   dmarc_evaluate and dmarc_evaluate_discovered return out->result:
 *   DMARC_PASS ("aligned DKIM pass", "aligned SPF pass"); DMARC_FAIL ("no
 *   aligned SPF or DKIM pass", with out->disposition); DMARC_NONE and
 *   DMARC_TEMPERROR as dmarc_discover found them; DMARC_TEMPERROR also
 *   when an identifier that would align had a temporary error, or the
 *   RFC 9989 np= existence check failed temporarily; DMARC_PERMERROR
 *   ("invalid p, sp or np and no valid rua"). out->disposition is
 *   DMARC_POLICY_NONE for every result but DMARC_FAIL.
 *   dmarc_org_domain: 0, DMARC_TEMPERROR or DMARC_PERMERROR (at its
 *   declaration). dmarc_policy_questions: a count, 0 for an unusable
 *   domain. The *_name functions never fail.
 *   dmarc_uri_next: 1 a valid URI, 0 not valid, -1 no more.
 */
#ifndef FWDAUTH_DMARC_H
#define FWDAUTH_DMARC_H

#include "dns.h"

#include <stddef.h>

/* Values match the config key dmarc_mode (config.h): rfc7489 = 0, rfc9989 = 1. */
enum dmarc_mode { DMARC_MODE_RFC7489 = 0, DMARC_MODE_RFC9989 = 1 };

/* RFC 8601 section 2.7.x result names for method "dmarc". */
enum dmarc_result_code { DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };

/* Policy values (p, sp, np) and dispositions; DMARC_POLICY_ABSENT = tag not given. */
enum dmarc_policy {
    DMARC_POLICY_ABSENT = -1,
    DMARC_POLICY_NONE = 0,
    DMARC_POLICY_QUARANTINE,
    DMARC_POLICY_REJECT
};

enum dmarc_align { DMARC_ALIGN_RELAXED, DMARC_ALIGN_STRICT };

/* Which tag gave the policy. */
enum dmarc_policy_source { DMARC_FROM_NONE, DMARC_FROM_P, DMARC_FROM_SP, DMARC_FROM_NP };

/* Input results of SPF and DKIM as DMARC needs them: 1 = pass, 2 = a
 * temporary error, anything else (none, neutral, fail, softfail, policy,
 * permerror) = neither. Callers map spf.h / dkim.h results to these. */
enum dmarc_auth_result { DMARC_AUTH_OTHER = 0, DMARC_AUTH_PASS = 1, DMARC_AUTH_TEMPERROR = 2 };

/* fo= options (bits); fo=0 is DMARC_FO_0. */
#define DMARC_FO_0 1u
#define DMARC_FO_1 2u
#define DMARC_FO_D 4u
#define DMARC_FO_S 8u

#define DMARC_MAX_DKIM 16      /* signatures looked at per message */
#define DMARC_DOMAIN_MAX 254   /* 253 octets + NUL */
#define DMARC_URILIST_MAX 1024 /* rua/ruf text kept (cut at a URI boundary) */
#define DMARC_WALK_MAX 8       /* RFC 9989 4.10: queries per Tree Walk */
#define DMARC_QUESTION_MAX 254 /* "_dmarc." + a domain, as queried, + NUL */

struct dmarc_record {
    int p, sp, np;                         /* enum dmarc_policy; np only in RFC 9989 mode */
    int p_invalid, sp_invalid, np_invalid; /* present with a value that is not a policy */
    int adkim, aspf;                       /* enum dmarc_align; default relaxed */
    unsigned pct;                          /* 0..100; 100 unless RFC 7489 mode gave one */
    unsigned fo;                           /* DMARC_FO_* bits; default DMARC_FO_0 */
    char psd;                              /* 'y', 'n', 'u' (default; always 'u' in 7489 mode) */
    int testing;                           /* t=y (RFC 9989 mode only) */
    unsigned long ri;                      /* RFC 7489 ri=, default 86400 */
    int rf_afrf;                           /* RFC 7489 rf= lists afrf (default 1) */
    char rua[DMARC_URILIST_MAX];           /* as published, white space removed */
    char ruf[DMARC_URILIST_MAX];
    unsigned rua_valid, ruf_valid; /* syntactically valid URIs in each list */
};

/* Parse one TXT string as a DMARC record in the given mode. Returns 0 when
 * it is a DMARC record (out filled), -1 when it is not one (does not start
 * with v=DMARC1: to be discarded), with a static reason in *why (may be
 * NULL). Never fails on the rest of the record (see DESCRIPTION). */
int dmarc_parse_record(const char *txt, size_t len, int mode, struct dmarc_record *out,
                       const char **why);

/* What dmarc_parse_record_specs did with one tag-spec (a ";"-separated
 * part after v=DMARC1; empty ones are not reported). */
enum dmarc_spec_status {
    DMARC_SPEC_USED,       /* a known tag with a good value (rua/ruf: always; see dmarc_uri_next) */
    DMARC_SPEC_MALFORMED,  /* not tag=value (RFC 6376 3.2 grammar): ignored */
    DMARC_SPEC_UNKNOWN,    /* an unknown tag: ignored */
    DMARC_SPEC_OTHER_MODE, /* a tag of the other document (pct/rf/ri in RFC 9989 mode,
                            * np/psd/t in RFC 7489 mode): ignored */
    DMARC_SPEC_REPEATED,   /* a tag given before: ignored, the first one counts */
    DMARC_SPEC_BAD_VALUE   /* a value the tag cannot have: default kept (p/sp/np: *_invalid) */
};

struct dmarc_spec {
    int status;       /* enum dmarc_spec_status */
    const char *text; /* the tag-spec, without surrounding white space (points into txt) */
    size_t text_len;
    const char *name; /* tag name as written; NULL when MALFORMED */
    size_t name_len;
    const char *value; /* value, white space around it removed */
    size_t value_len;
};

/* dmarc_parse_record, also telling what became of each tag-spec, in order:
 * the first max in specs, the count of all in *nspecs (specs may be NULL
 * when max is 0; nspecs may be NULL). The record is parsed exactly as
 * dmarc_parse_record parses it (that function is this one without specs). */
int dmarc_parse_record_specs(const char *txt, size_t len, int mode, struct dmarc_record *out,
                             const char **why, struct dmarc_spec *specs, size_t max,
                             size_t *nspecs);

/* The next URI of a rua/ruf value v[0..n) from *pos (start at 0): copies
 * it without white space into uri (cut to urisz - 1 octets, NUL-terminated;
 * *urilen its length). Returns 1 when it is a valid DMARC URI (counted in
 * rua_valid/ruf_valid), 0 when not (empty, too long, bad syntax), -1 when
 * the list is done. */
int dmarc_uri_next(const char *v, size_t n, size_t *pos, char *uri, size_t urisz, size_t *urilen);

/* One _dmarc query made by policy discovery. */
enum dmarc_ask_status {
    DMARC_ASK_NONE,     /* no DMARC record there (NXDOMAIN, NODATA, or only other TXT) */
    DMARC_ASK_ONE,      /* exactly one */
    DMARC_ASK_SEVERAL,  /* two or more: all discarded */
    DMARC_ASK_TEMPERROR /* the lookup failed temporarily */
};

struct dmarc_asked {
    char name[DMARC_DOMAIN_MAX]; /* the domain: _dmarc.<name> was asked */
    int status;                  /* enum dmarc_ask_status */
    size_t count;                /* DMARC records found there */
    int dns_status;              /* enum dns_status of the TXT query */
    const char *dns_why;         /* static text for dns_status */
};

/* Policy discovery as dmarc_evaluate does it (RFC 7489 6.6.3 or RFC 9989
 * 4.10/4.10.1 by mode). */
struct dmarc_discovery {
    int mode;
    int found;          /* 1: txt is the policy record, found at record_domain */
    int result;         /* !found: DMARC_NONE or DMARC_TEMPERROR, as dmarc_evaluate */
    const char *reason; /* !found: static text, as dmarc_evaluate's */
    char from_domain[DMARC_DOMAIN_MAX];
    char org_domain[DMARC_DOMAIN_MAX]; /* "" if unknown */
    int from_is_org;
    char record_domain[DMARC_DOMAIN_MAX]; /* "" unless found */
    char *txt;                            /* found: the record (malloc'd, NUL-terminated) */
    size_t txtlen;
    size_t nasked; /* queries made, in order */
    struct dmarc_asked asked[DMARC_WALK_MAX];
};

/* Discover the policy record of from_domain. Returns 1 when found, 0 when
 * not (disc->result: DMARC_NONE or DMARC_TEMPERROR); always fills *disc,
 * which the caller frees with dmarc_discovery_free. */
int dmarc_discover(struct dns *d, int mode, const char *from_domain, struct dmarc_discovery *disc);
void dmarc_discovery_free(struct dmarc_discovery *disc);

struct dmarc_dkim_auth {
    int result;         /* enum dmarc_auth_result */
    const char *domain; /* d= */
};

struct dmarc_auth {
    int spf_result;         /* enum dmarc_auth_result */
    const char *spf_domain; /* MAIL FROM domain, or HELO when MAIL FROM was <>; may be NULL */
    const struct dmarc_dkim_auth *dkim;
    size_t ndkim; /* only the first DMARC_MAX_DKIM are looked at */
    /* RFC 7489 pct sampling: a number 0..99 from the caller's random
     * source (values over 99 are taken modulo 100). The policy is enacted
     * when pct_roll < pct, so 0 (a zeroed struct) always enacts a pct >= 1
     * and pct=0 never is. Ignored in RFC 9989 mode. */
    unsigned pct_roll;
};

struct dmarc_result {
    int result;         /* enum dmarc_result_code */
    const char *reason; /* static one-line text */
    int mode;

    char from_domain[DMARC_DOMAIN_MAX];   /* normalized (lower case) */
    char org_domain[DMARC_DOMAIN_MAX];    /* Organizational Domain of From; "" if unknown */
    int from_is_org;                      /* From domain == its Organizational Domain */
    char record_domain[DMARC_DOMAIN_MAX]; /* where the policy record was found; "" if none */
    int from_exists;                      /* 1 yes/assumed, 0 NXDOMAIN (9989 np), -1 not asked */

    int have_record;            /* record below is filled */
    struct dmarc_record record; /* the policy record as parsed */

    int spf_aligned;                    /* SPF passed and aligned */
    int dkim_aligned;                   /* some DKIM signature passed and aligned */
    char dkim_domain[DMARC_DOMAIN_MAX]; /* d= of the first aligned passing signature */

    int policy;        /* enum dmarc_policy: p, sp or np as selected; ABSENT when no record */
    int policy_source; /* enum dmarc_policy_source */
    int sampled_out;   /* RFC 7489 pct: this message is outside the sample */
    int disposition;   /* enum dmarc_policy to enact: NONE unless result is fail;
                        * policy lowered one step by t=y or by pct sampling */
};

/* Evaluate DMARC for one message. Always fills *out; returns out->result. */
int dmarc_evaluate(struct dns *d, int mode, const char *from_domain, const struct dmarc_auth *auth,
                   struct dmarc_result *out);

/* dmarc_evaluate after its discovery: d is the resolver disc was made with
 * (asked for alignment and RFC 9989 np=). Returns out->result. */
int dmarc_evaluate_discovered(struct dns *d, const struct dmarc_discovery *disc,
                              const struct dmarc_auth *auth, struct dmarc_result *out);

/* The Organizational Domain of domain (RFC 7489 3.2 via the PSL, no DNS;
 * RFC 9989 4.10.2 via a Tree Walk, d may be NULL in RFC 7489 mode).
 * Returns 0 with out filled (lower case), DMARC_TEMPERROR when a lookup
 * failed temporarily, DMARC_PERMERROR when the domain is unusable or does
 * not fit in outsz. Used by ARC and From-rewriting decisions too. */
int dmarc_org_domain(struct dns *d, int mode, const char *domain, char *out, size_t outsz);

/* The TXT questions the policy discovery of from_domain may ask
 * ("_dmarc.<domain>", in the order it asks them: RFC 7489 the From
 * domain and its Organizational Domain, RFC 9989 every name of the Tree
 * Walk), for a resolver that asks them together first (dns_prefetch).
 * Returns how many were written (at most max and DMARC_WALK_MAX); 0 for
 * an unusable domain. */
size_t dmarc_policy_questions(int mode, const char *from_domain, char (*names)[DMARC_QUESTION_MAX],
                              size_t max);

const char *dmarc_result_name(int result); /* "pass", "fail", ... */
const char *dmarc_policy_name(int policy); /* "none", "quarantine", "reject"; "" for ABSENT */
const char *dmarc_mode_name(int mode);     /* "rfc7489", "rfc9989" */
const char *dmarc_align_name(int align);   /* "r", "s" */

#endif
