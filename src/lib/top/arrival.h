/*
 * NAME
 *   arrival - how a message authenticated when it reached us
 * SUMMARY
 *   One streaming pass over a message gives SPF (RFC 7208), every DKIM
 *   signature (RFC 6376), the ARC chain (RFC 8617) and DMARC (RFC 7489 or
 *   RFC 9989) as they stood on arrival, and renders them as our
 *   Authentication-Results. The milter and `fwdauth dmarc check` share it,
 *   so both report the same thing for the same message.
 * SYNOPSIS
 *   struct arrival_input in = {.ip = "192.0.2.1", .mail_from = "a@b.example", ...};
 *   struct arrival_check *c = arrival_begin(headers, nheaders, &in, &err);
 *   arrival_body(c, p, n); ...
 *   struct arrival *a = malloc(sizeof *a);
 *   arrival_finish(c, dns, a);
 *   authres_value of arrival_authres(a, "mx.example.net", 1, &ar) ...
 * DESCRIPTION
 *   SPF checks MAIL FROM (the HELO identity for the null sender). When the
 *   message carries an Authentication-Results field from one of
 *   trusted_ids (our own gateway, which saw the real client), its spf=
 *   result is used instead of ours: behind a gateway we only see the
 *   gateway's address. Fields from other authserv-ids are never believed.
 *   DMARC uses the SPF result and the DKIM results and the From: domain
 *   as receivers read it (fromhdr.h): from_state says how certain that
 *   reading is. Without one readable author (no From:, several fields or
 *   addresses, unparsable) DMARC is permerror (RFC 7489 6.6.1); a From:
 *   readable only after repairs (a trailing dot, group syntax) is judged
 *   by the domain receivers read, and from_state says FROM_REPAIRED.
 *   arrival_judge does the DMARC part from results already in a struct
 *   arrival, so tests can judge synthetic results the same way.
 *   dkim_summary is the best DKIM result among signatures aligned with the
 *   From: domain, else the best of all (pass, then temperror, policy,
 *   neutral, fail, permerror; none without signatures).
 *   DNS. Given a session (dns_session_new), arrival_finish first asks
 *   together every question it can know before checking: the SPF record
 *   of the MAIL FROM (or HELO) domain, the From: domain's DMARC records
 *   (dmarc_policy_questions), the key of every DKIM signature and ARC set;
 *   the checks then find the answers in the session, and ask the rest
 *   (SPF's include, a, mx, ...) as they go. A session's budget bounds the
 *   whole: questions it refuses are temperror results like any temporary
 *   DNS failure.
 * DIAGNOSTICS
 *   arrival_begin returns NULL with err set when dkim_verifier_new or
 *   arc_verifier_new fails (out of memory, OpenSSL without SHA-256 or SHA-1).
 *   arrival_finish and arrival_judge cannot fail: every problem is a
 *   result in *out. out->spf.result is an enum spf_res (spf.h);
 *   out->dkim[i].result and out->dkim_summary an enum dkim_result
 *   (dkim_key.h: DKIM_NONE without signatures); out->arc.cv an enum
 *   arc_cv with out->arc.temperror for a key lookup that failed for now;
 *   out->dmarc.result an enum dmarc_result_code (dmarc.h: DMARC_PERMERROR
 *   without one readable author); out->from_state an enum from_state
 *   with the static text out->from_why. A temporary DNS failure, or a
 *   question the session's budget refused, is a temperror result, never
 *   an error. arrival_aligns returns 1 or 0 (0 without a From: domain or
 *   without d=).
 * SECURITY
 *   Everything in the message is only parsed; only trusted_ids change what
 *   is believed. Bounded work per message: at most DKIM_MAX_SIGS (16)
 *   signatures are verified, the topmost; those beyond are counted in
 *   dkim_skipped and reported as one dkim=policy result; at most
 *   ARC_MAX_INSTANCE (50) ARC sets, whose 100 keys at most are fetched (a
 *   longer chain is cv=fail, no key fetched); SPF within RFC 7208's 10
 *   lookups and 2 void lookups.
 */
#ifndef FWDAUTH_ARRIVAL_H
#define FWDAUTH_ARRIVAL_H

#include "arc.h"
#include "authres.h"
#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
#include "fromhdr.h"
#include "msg.h"
#include "spf.h"

#include <time.h>

struct arrival_input {
    const char *ip;        /* client address */
    const char *mail_from; /* without <>; "" = null sender */
    const char *helo;
    const char *receiver; /* our host name, for SPF's %{r} */
    int dmarc_mode;       /* enum dmarc_mode */
    unsigned pct_roll;    /* 0..99 for pct= sampling (RFC 7489) */
    time_t now;
    char *const *trusted_ids; /* authserv-ids whose spf= results we believe */
    size_t ntrusted;
};

struct arrival {
    struct spf_result spf;
    int spf_from_trusted; /* spf came from a trusted upstream's field */
    struct dkim_sig_result dkim[DKIM_MAX_SIGS];
    size_t ndkim;
    size_t dkim_skipped;        /* signatures beyond DKIM_MAX_SIGS, not verified */
    int dkim_summary;           /* enum dkim_result */
    int dkim_aligned_temperror; /* an aligned signature's key lookup failed for now */
    struct arc_result arc;
    struct dmarc_result dmarc;
    int from_state;        /* enum from_state (fromhdr.h) */
    const char *from_why;  /* static: how From: was read */
    char from_domain[256]; /* "" when From: has no one readable author */
};

struct arrival_check;

struct arrival_check *arrival_begin(const struct msg_header *h, size_t nh,
                                    const struct arrival_input *in, fa_err *err);
void arrival_body(struct arrival_check *c, const uint8_t *p, size_t n);
void arrival_finish(struct arrival_check *c, struct dns *dns, struct arrival *out);
void arrival_free(struct arrival_check *c);

/* DMARC and the DKIM summary from out->spf, out->dkim[] and
 * out->from_state/from_domain (what arrival_finish does after verifying).
 * pct_roll as in struct arrival_input. */
void arrival_judge(struct dns *dns, int dmarc_mode, unsigned pct_roll, struct arrival *out);

/* Would a valid DKIM signature with d= make DMARC pass for a's From:
 * domain (the record's adkim; exact match without a record)? */
int arrival_aligns(struct dns *dns, int dmarc_mode, const struct arrival *a, const char *d);

/* Our Authentication-Results for a: spf, dkim (one per signature), dmarc
 * (unless with_dmarc is 0: a milter told not to report it), arc. */
void arrival_authres(const struct arrival *a, const char *authserv_id, int with_dmarc,
                     struct authres *ar);

#endif
