/* mailflow - the milter's mail policy; see mailflow.h.
 *
 * >>> THE LEAD TAKES OVER HERE: this is a minimal placeholder filter that
 * >>> proves the protocol layer end to end. Replace its body with the real
 * >>> policy (DKIM verify, Authentication-Results, signing, SRS). */
#include "mailflow.h"

#include "log.h"
#include "runtime.h"

#include <stdio.h>

static int seen_anchor; /* a non-NULL per-message state: this filter keeps none */

static void *mf_msg_begin(void *ctx, struct milter_session *s)
{
    (void)ctx;
    (void)s;
    return &seen_anchor;
}

static int mf_eom(void *msg, struct milter_session *s, struct milter_mods *mods)
{
    (void)msg;
    const char *qid = milter_queue_id(s);
    log_msg(FA_LOG_INFO, "msg %s: from=<%s> nrcpt=%zu size=%llu", qid, milter_sender(s),
            milter_rcpt_count(s), (unsigned long long)milter_body_size(s));
    char value[128];
    snprintf(value, sizeof(value), " %s", qid);
    if (milter_mods_add_header(mods, "X-Fwdauth-Seen", value) < 0)
        return MILTER_TEMPFAIL;
    return MILTER_CONTINUE;
}

static const struct milter_filter filter = {
    .name = "mailflow",
    .actions = MILTER_ACT_ADDHDRS,
    .steps = MILTER_STEP_BODY, /* only so that size= is known */
    .replies = 0,              /* decides only at end of message */
    .msg_begin = mf_msg_begin,
    .eom = mf_eom,
};

const struct milter_filter *mailflow_filter(void)
{
    return &filter;
}
