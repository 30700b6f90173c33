/* policy - originating and forwarded mail decisions; see policy.h. */
#include "policy.h"

#include "addr.h"
#include "domlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int policy_originating(const struct nets *internal, const struct fa_config *cfg,
                       const char *auth_authen, const char *client_addr, const char *daemon_name)
{
    if (auth_authen && auth_authen[0])
        return 1;
    if (nets_match(internal, client_addr))
        return 1;
    if (daemon_name && daemon_name[0])
        for (size_t i = 0; i < cfg->originating_daemon_names.n; i++)
            if (strcmp(cfg->originating_daemon_names.v[i], daemon_name) == 0)
                return 1;
    return 0;
}

int policy_forwarded_rcpt(const struct fa_config *cfg, const char *rcpt)
{
    if (!rcpt)
        return 0;
    size_t n = strlen(rcpt);
    if (n >= 2 && rcpt[0] == '<' && rcpt[n - 1] == '>') {
        rcpt++;
        n -= 2;
    }
    struct addr a;
    if (addr_split(rcpt, n, &a) < 0)
        return 0;
    for (size_t i = 0; i < cfg->forward_recipients.n; i++) {
        const char *f = cfg->forward_recipients.v[i];
        if (f[0] == '@') {
            if (domain_equal(f + 1, strlen(f + 1), a.domain, a.domain_len))
                return 1;
            continue;
        }
        struct addr fa;
        if (addr_split(f, strlen(f), &fa) == 0 && fa.local_len == a.local_len &&
            strncasecmp(fa.local, a.local, a.local_len) == 0 &&
            domain_equal(fa.domain, fa.domain_len, a.domain, a.domain_len))
            return 1;
    }
    return 0;
}

/* ---- the forwarding policy ---------------------------------------------- */

int policy_unforwardable(const struct arrival *a, const struct fa_config *cfg)
{
    if (a->dmarc.result != DMARC_FAIL)
        return 0;
    return a->dmarc.policy == DMARC_POLICY_REJECT ||
           (cfg->forward_dmarc_policies == FA_FWDPOL_REJECT_AND_QUARANTINE &&
            a->dmarc.policy == DMARC_POLICY_QUARANTINE);
}

/* Failed DMARC under a policy that asks receivers to act: mail we must
 * never vouch for, whatever happens to it. */
static int failed_enforced(const struct arrival *a)
{
    return a->dmarc.result == DMARC_FAIL &&
           (a->dmarc.policy == DMARC_POLICY_REJECT || a->dmarc.policy == DMARC_POLICY_QUARANTINE);
}

/* The From-rewrite applies only to forwarded mail that passed DMARC on
 * arrival and cannot pass after the forward: SPF alignment cannot survive
 * it (the next hop sees our address), an aligned signature we leave
 * intact still passes there, one our own changes break does not. */
static int wants_rewrite(const struct arrival *a, const struct fa_config *cfg, int changes_break)
{
    if (cfg->from_rewrite == FA_REWRITE_OFF || a->dmarc.result != DMARC_PASS ||
        !a->dmarc.have_record)
        return 0;
    if (a->dmarc.dkim_aligned && !(changes_break && cfg->from_rewrite_on_change))
        return 0;
    switch (cfg->from_rewrite) {
    case FA_REWRITE_REJECT:
        return a->dmarc.policy == DMARC_POLICY_REJECT;
    case FA_REWRITE_REJECT_AND_QUARANTINE:
        return a->dmarc.policy == DMARC_POLICY_REJECT || a->dmarc.policy == DMARC_POLICY_QUARANTINE;
    default:
        return 1;
    }
}

static void refuse(struct policy_decision *out, int verdict, const char *why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(struct policy_decision *out, int verdict, const char *why, const char *fmt, ...)
{
    /* A refused message goes nowhere: nothing else of the decision applies. */
    out->verdict = verdict;
    out->why = why;
    out->hold = out->drop_forwarded = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reply, sizeof(out->reply), fmt, ap);
    va_end(ap);
}

/* Local mailboxes: dmarc_enforce, on the disposition (pct and t= applied). */
static void decide_local(const struct arrival *a, const struct fa_config *cfg,
                         struct policy_decision *out)
{
    if (!failed_enforced(a))
        return;
    if (cfg->dmarc_enforce == FA_ENFORCE_REJECT && a->dmarc.disposition == DMARC_POLICY_REJECT) {
        refuse(out, POLICY_REJECT, "DMARC policy reject",
               "550 5.7.1 Rejected by the DMARC policy of %s", a->dmarc.from_domain);
        return;
    }
    if (cfg->dmarc_enforce >= FA_ENFORCE_QUARANTINE && a->dmarc.disposition != DMARC_POLICY_NONE) {
        out->hold = 1;
        out->why = "DMARC policy quarantine";
    }
}

/* Forwarded recipients that must not get the message: either the whole
 * message is refused (no local recipient) or they are removed. */
static void no_forward(const struct policy_input *in, struct policy_decision *out, const char *why,
                       const char *reply)
{
    if (in->local) {
        out->drop_forwarded = 1;
        out->why = why;
    } else {
        refuse(out, POLICY_REJECT, why, "%s", reply);
    }
}

/* Why the author is uncertain, for the SMTP reply. */
static const char *unsure_text(const struct arrival *a)
{
    if (a->from_state == FROM_OK)
        return "the DMARC record of the From: domain is unusable (permerror)";
    return "the From: field must hold exactly one valid address (RFC 5322)";
}

void policy_decide(const struct policy_input *in, const struct fa_config *cfg,
                   struct policy_decision *out)
{
    memset(out, 0, sizeof(*out));
    out->verdict = POLICY_CONTINUE;
    out->why = "";
    out->report_dmarc = cfg->dmarc_enforce != FA_ENFORCE_OFF;
    const struct arrival *a = in->a;
    int from_ok = (a && !in->originating ? a->from_state : in->from_state) == FROM_OK;
    if (in->originating || !a) {
        /* Our users' mail is not verified; it is signed for its From:
         * domain, which must name one author without doubt. */
        out->sign_user = in->originating && in->have_user_key && from_ok;
        out->srs = in->forwarded && in->have_srs && cfg->srs_forwarded_mail && !in->null_sender;
        return;
    }

    /* Local recipients first: their verdict (reject, hold) covers the
     * whole message when it is refused. */
    if (in->local || !in->forwarded) {
        decide_local(a, cfg, out);
        if (out->verdict != POLICY_CONTINUE)
            return;
    }
    if (!in->forwarded)
        return;

    /* Forwarded recipients. A failure under a policy that receivers
     * enforce: the next hop would refuse it and our bounce would go to the
     * (likely forged) sender. Refused here instead, or held. */
    /* What cannot be read with certainty is never "not a failure": no
     * author receivers would agree on, or a DMARC permerror. */
    int unsure_from = !from_ok || a->dmarc.result == DMARC_PERMERROR;
    if (policy_unforwardable(a, cfg)) {
        if (cfg->forward_dmarc_failure == FA_FWDFAIL_HOLD) {
            out->hold = 1;
            out->why = "DMARC failure, not forwarded: held";
        } else {
            char reply[sizeof(out->reply)];
            snprintf(reply, sizeof(reply),
                     "550 5.7.1 Not forwarded: the message fails the DMARC policy of %s",
                     a->dmarc.from_domain);
            no_forward(in, out, "DMARC failure, not forwarded", reply);
        }
        return;
    }
    if (unsure_from) {
        switch (cfg->from_unreadable) {
        case FA_UNREADABLE_TEMPFAIL:
            refuse(out, POLICY_TEMPFAIL, "From: not readable with certainty",
                   "451 4.7.1 Not forwarded now: %s", unsure_text(a));
            return;
        case FA_UNREADABLE_REJECT: {
            char reply[sizeof(out->reply)];
            snprintf(reply, sizeof(reply), "550 5.7.1 Not forwarded: %s", unsure_text(a));
            no_forward(in, out, "From: not readable with certainty", reply);
            return;
        }
        default:
            break; /* accept-unsigned: forwarded, never vouched for */
        }
    }

    int vouch = !unsure_from && !failed_enforced(a);
    int rewrite = vouch && wants_rewrite(a, cfg, in->changes_break_dkim) && in->have_forward_key;
    int seal = vouch && in->have_arc_key;
    /* A temporary DNS failure that could change what we do: Postfix
     * retries the whole message (a milter cannot split it). */
    const char *temp = NULL;
    if (a->dmarc.result == DMARC_TEMPERROR)
        temp = "DMARC could not be evaluated (temporary DNS failure)";
    else if (rewrite && a->dkim_aligned_temperror)
        temp = "an aligned DKIM key could not be fetched (temporary DNS failure)";
    else if (seal && a->arc.temperror)
        temp = "an ARC key could not be fetched (temporary DNS failure)";
    if (temp) {
        refuse(out, POLICY_TEMPFAIL, temp, "451 4.7.1 Not forwarded now: %s", temp);
        return;
    }
    out->srs = in->have_srs && cfg->srs_forwarded_mail && !in->null_sender;
    out->rewrite_from = rewrite;
    out->seal = seal;
    /* Our forwarder signature vouches for the message: never on a spoof,
     * and never aligned with a From: that did not pass on arrival (a key
     * of the From: domain would create the pass we must not create). A
     * rewritten From: is in the key's domain, and only passing mail is
     * rewritten. */
    out->sign_forwarder = in->have_forward_key && vouch &&
                          (rewrite || !in->fwd_key_aligned || a->dmarc.result == DMARC_PASS);
}
