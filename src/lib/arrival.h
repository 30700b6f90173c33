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
 *   DMARC uses the SPF result and the DKIM results; the From: field must
 *   hold exactly one address, else DMARC is permerror (RFC 7489 6.6.1).
 *   dkim_summary is the best DKIM result among signatures aligned with the
 *   From: domain, else the best of all (pass, then temperror, policy,
 *   neutral, fail, permerror; none without signatures).
 * SECURITY
 *   Everything in the message is only parsed; only trusted_ids change what
 *   is believed. Bounded: at most DKIM_MAX_SIGS signatures, ARC_MAX_INSTANCE
 *   sets.
 */
#ifndef FWDAUTH_ARRIVAL_H
#define FWDAUTH_ARRIVAL_H

#include "arc.h"
#include "authres.h"
#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
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
    int dkim_summary; /* enum dkim_result */
    struct arc_result arc;
    struct dmarc_result dmarc;
    char from_domain[256]; /* "" when From: is missing or not one address */
};

struct arrival_check;

struct arrival_check *arrival_begin(const struct msg_header *h, size_t nh,
                                    const struct arrival_input *in, fa_err *err);
void arrival_body(struct arrival_check *c, const uint8_t *p, size_t n);
void arrival_finish(struct arrival_check *c, struct dns *dns, struct arrival *out);
void arrival_free(struct arrival_check *c);

/* Our Authentication-Results for a: spf, dkim (one per signature), dmarc
 * (unless with_dmarc is 0: a milter told not to report it), arc. */
void arrival_authres(const struct arrival *a, const char *authserv_id, int with_dmarc,
                     struct authres *ar);

#endif
