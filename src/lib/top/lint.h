/*
 * NAME
 *   lint - is a domain's SPF, DMARC and DKIM published right?
 * SUMMARY
 *   The rules behind `fwdauth check-dns`: each looks at what a domain
 *   publishes and says, one finding at a time, what is right (ok), doubtful
 *   but working (warning), broken (problem: receivers ignore the record or
 *   return permerror) or could not be looked up (error), with how to fix
 *   it. Every rule reads the records with the verifier's own code, so what
 *   lint concludes about a record -- is there one, can receivers use it,
 *   which policy applies -- is what fwdauth's verifier concludes:
 *   - SPF: spf_record_fetch (record selection of check_host) and
 *     spf_record_parse_each (the evaluator's parser, every bad term
 *     reported), spf.h;
 *   - DMARC: dmarc_discover and dmarc_evaluate_discovered (dmarc_evaluate's
 *     policy discovery and verdict, RFC 7489 with the Public Suffix List or
 *     the RFC 9989 DNS Tree Walk by dmarc_mode), dmarc_parse_record_specs
 *     and dmarc_uri_next for tag-level advice, dmarc_org_domain, dmarc.h;
 *   - DKIM: dkim_key_record_read, the verifier's key-record reader, dkim_key.h.
 *   Lint adds advice on top (p=none protects nothing, no rua=, ptr, ...),
 *   never a verdict of its own.
 * SYNOPSIS
 *   struct lint_finding *f = calloc(LINT_FINDINGS_MAX, sizeof(*f));
 *   struct lint_report r;
 *   lint_report_init(&r, f, LINT_FINDINGS_MAX);
 *   struct lint_spf spf;  struct lint_dmarc dm;  struct lint_dkim dk;
 *   lint_spf(dns, "example.org", &r, &spf);
 *   lint_dmarc(dns, DMARC_MODE_RFC7489, "example.org", &r, &dm);
 *   lint_dkim(dns, "example.org", "sel", key_or_NULL, "sel.private", &r, &dk);
 *   for (size_t i = 0; i < r.n; i++)
 *       lint_level_name(f[i].level), lint_check_name(f[i].check), f[i].text
 * DESCRIPTION
 *   Findings go into a caller-owned array of max entries (struct
 *   lint_report); r->count[level] counts every finding, also those that
 *   did not fit (r->dropped). Each text is one line (control octets of
 *   published records shown as '?') of at most LINT_TEXT_MAX - 1 octets,
 *   cut with "..." when longer.
 *   SPF (lint_spf): exactly one v=spf1 record at the domain; every term
 *   parsed as the evaluator parses it (each bad one reported); include:
 *   and redirect= followed through DNS (not those with macros); the DNS
 *   lookups an evaluation that matches nothing makes are counted against
 *   RFC 7208 section 4.6.4 (10 lookups, 2 void lookups, 10 MX names):
 *   terms after "all" are not evaluated, so not counted, and redirect= is
 *   ignored when the record has "all". A name that has an A or an AAAA
 *   record is not void (a void lookup depends on the client's address
 *   family; lint does not assume one). Loops; ptr; the "all" qualifier.
 *   State: usable, absent (none), broken (what the evaluator answers with
 *   permerror for a client that matches no term), unknown (a lookup
 *   failed).
 *   DMARC (lint_dmarc): the policy record receivers find for the domain
 *   (dmarc_discover), each _dmarc name asked with several records or a
 *   failed lookup reported; TXT records at _dmarc.<domain> that are not
 *   DMARC records (v=dmarc1, p= first, ...) named with the parser's
 *   reason; the verdict from dmarc_evaluate_discovered for mail that fails
 *   DMARC: the policy (p=, or sp= for a subdomain) and whether the record
 *   is used as it stands, as "v=DMARC1; p=none" (bad p/sp/np with a valid
 *   rua, RFC 7489 6.6.3 step 6) or not at all (permerror). Tag advice
 *   (lint_dmarc_record): malformed, unknown, repeated tags and bad values
 *   (a tag of the other document, np/psd/t or pct/rf/ri, is checked with
 *   that document's rules), p= right after v=, pct < 100, report URIs
 *   (mailto only, a usable address, and outside destinations authorized
 *   at <domain>._report._dmarc.<destination>, RFC 7489 section 7.1, when
 *   the Organizational Domains differ).
 *   DKIM (lint_dkim): the TXT records at <selector>._domainkey.<domain>;
 *   each read with dkim_key_record_read for the algorithm its k= fits:
 *   the verifier's first failing check named (syntax, v=, k=, h=, s=, p=
 *   missing, revoked or unusable, RSA under 1024 bits), unknown tags
 *   (with a hint when only the case is wrong), t=y, RSA under 2048 bits,
 *   and with a private key whether the record publishes its public half.
 *   Several TXT records: usable when one is (the verifier takes the first
 *   usable one), with a warning (other verifiers may pick another).
 *   MX (lint_mx): where mail for the domain goes (an SRS domain must
 *   receive its bounces): its MX records, each exchange's address (A or
 *   AAAA; at most LINT_MX_HOSTS are looked up), a null MX (RFC 7505: the
 *   domain takes no mail), or without MX records the domain's own address
 *   (RFC 5321 section 5.1 implicit MX: usable, with a warning).
 * DIAGNOSTICS
 *   lint_spf, lint_dmarc, lint_dkim and lint_mx return the verdict, enum
 *   lint_state: LINT_USABLE, LINT_ABSENT, LINT_BROKEN, or LINT_UNKNOWN
 *   when a lookup failed or memory ran out (then an error finding says
 *   which). They never fail otherwise. Nothing is printed.
 * SECURITY
 *   Everything published is untrusted input: records are parsed by the
 *   bounded parsers of spf.h, dmarc.h and dkim.h; texts are bounded and
 *   made printable; an SPF walk asks at most LINT_SPF_QUERIES names and
 *   follows include/redirect at most LINT_SPF_DEPTH deep, so a hostile
 *   include tree costs a bounded number of queries. No global state.
 */
#ifndef FWDAUTH_LINT_H
#define FWDAUTH_LINT_H

#include "dns.h"
#include "keys.h"

#include <stddef.h>

#define LINT_TEXT_MAX 2048    /* one finding's text, NUL included */
#define LINT_FINDINGS_MAX 256 /* what check-dns keeps; any max works */
#define LINT_SPF_QUERIES 100  /* names an SPF walk asks, far above any valid record */
#define LINT_SPF_DEPTH 10     /* nested include/redirect followed (the limit of 10 comes first) */
#define LINT_MX_HOSTS 10      /* MX exchanges whose addresses lint_mx looks up */

enum lint_level { LINT_OK, LINT_WARNING, LINT_PROBLEM, LINT_ERROR };
enum lint_check { LINT_SPF, LINT_DMARC, LINT_DKIM, LINT_MX };

/* What the verifier makes of a record. */
enum lint_state {
    LINT_USABLE, /* receivers use it */
    LINT_ABSENT, /* there is none */
    LINT_BROKEN, /* there is one, but receivers ignore it or return permerror */
    LINT_UNKNOWN /* a lookup failed: no conclusion */
};

struct lint_finding {
    int level; /* enum lint_level */
    int check; /* enum lint_check */
    char text[LINT_TEXT_MAX];
};

struct lint_report {
    struct lint_finding *f; /* the caller's array */
    size_t max;             /* its size */
    size_t n;               /* findings stored */
    size_t dropped;         /* findings that did not fit */
    size_t count[4];        /* by level, stored or not */
};

void lint_report_init(struct lint_report *r, struct lint_finding *f, size_t max);
/* A finding of the caller's own (a front end's note beside the rules'),
 * counted and cut to one line like theirs. */
void lint_add(struct lint_report *r, int level, int check, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *lint_level_name(int level); /* "ok", "warning", "problem", "error" */
const char *lint_check_name(int check); /* "spf", "dmarc", "dkim", "mx" */
const char *lint_state_name(int state); /* "usable", "absent", "broken", "unknown" */

struct lint_spf {
    int state;        /* enum lint_state */
    unsigned lookups; /* DNS-querying terms an evaluation matching nothing makes */
    unsigned voids;   /* of those, lookups that find nothing */
};

int lint_spf(struct dns *d, const char *domain, struct lint_report *r, struct lint_spf *out);

struct lint_dmarc {
    int state;         /* enum lint_state: usable = a policy applies to failing mail */
    int result;        /* enum dmarc_result_code dmarc_evaluate gives mail that passes nothing */
    int policy;        /* enum dmarc_policy for that mail; DMARC_POLICY_ABSENT unless usable */
    int policy_source; /* enum dmarc_policy_source */
    int as_none;       /* bad p/sp/np with a valid rua: read as p=none */
    char record_domain[254]; /* where the policy record is; "" if none */
    char org_domain[254];    /* the domain's Organizational Domain; "" if unknown */
};

/* mode: enum dmarc_mode (config dmarc_mode). */
int lint_dmarc(struct dns *d, int mode, const char *domain, struct lint_report *r,
               struct lint_dmarc *out);

/* Tag advice for one DMARC record published at _dmarc.<record_domain>
 * (d may be NULL: report destinations are then not looked up). */
void lint_dmarc_record(struct dns *d, int mode, const char *txt, size_t len,
                       const char *record_domain, struct lint_report *r);

struct lint_dkim {
    int state;     /* enum lint_state */
    int key_type;  /* KEY_RSA, KEY_ED25519; -1 unless usable */
    unsigned bits; /* of the usable key */
    int testing;   /* t=y */
    int matches;   /* with a private key: 1 it is its public half, 0 not; -1 not asked */
};

/* mine (may be NULL) is a private key to compare with; mine_name names it
 * in the texts. */
int lint_dkim(struct dns *d, const char *domain, const char *selector, const struct fa_key *mine,
              const char *mine_name, struct lint_report *r, struct lint_dkim *out);

/* One key record (TXT data) published at name (for the texts). */
int lint_dkim_record(const char *txt, size_t len, const char *name, const char *selector,
                     const struct fa_key *mine, const char *mine_name, struct lint_report *r,
                     struct lint_dkim *out);

struct lint_mx {
    int state;    /* enum lint_state: usable = mail for the domain has somewhere to go */
    size_t n;     /* MX records */
    int null_mx;  /* a null MX (RFC 7505): broken for receiving */
    int implicit; /* no MX, but an address record (RFC 5321 implicit MX) */
};

int lint_mx(struct dns *d, const char *domain, struct lint_report *r, struct lint_mx *out);

#endif
