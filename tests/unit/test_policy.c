/* Unit tests for policy: originating mail, forwarded recipients, the forwarding
 * decision (internal networks themselves: test_nets.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"

#include "test_zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_originating_and_forwarded(void **state)
{
    (void)state;
    struct fa_config cfg;
    fa_err err;
    config_init(&cfg);
    assert_int_equal(
        config_set(&cfg, "forward_recipients", "alias@example.net, @fwd.example", NULL, &err), 0);
    struct nets nets;
    assert_int_equal(nets_parse(cfg.internal_hosts.v, cfg.internal_hosts.n, &nets, &err), 0);
    assert_true(policy_originating(&nets, &cfg, "alice", "203.0.113.5", NULL));
    assert_true(policy_originating(&nets, &cfg, NULL, "127.0.0.1", NULL));
    assert_true(policy_originating(&nets, &cfg, "", "203.0.113.5", "ORIGINATING"));
    assert_false(policy_originating(&nets, &cfg, "", "203.0.113.5", "smtpd"));
    assert_true(policy_forwarded_rcpt(&cfg, "<Alias@Example.NET>"));
    assert_true(policy_forwarded_rcpt(&cfg, "anyone@fwd.example"));
    assert_false(policy_forwarded_rcpt(&cfg, "<other@example.net>"));
    assert_false(policy_forwarded_rcpt(&cfg, "<>"));
    assert_false(policy_forwarded_rcpt(&cfg, NULL));
    config_free(&cfg);
}

/* ---- the forwarding policy: never vouch for a spoof ---------------------- */

/* One From: domain per published DMARC situation. */
static const char *const from_domains[] = {"pnone.test", "pquar.test", "prej.test", "absent.test",
                                           "temp.test"};
#define NFROM (sizeof(from_domains) / sizeof(from_domains[0]))
static const char zone_text[] = "_dmarc.pnone.test. TXT \"v=DMARC1; p=none\"\n"
                                "_dmarc.pquar.test. TXT \"v=DMARC1; p=quarantine\"\n"
                                "_dmarc.prej.test. TXT \"v=DMARC1; p=reject\"\n"
                                "_dmarc.temp.test. TIMEOUT\n"
                                "_dmarc.ourdomain.test. TXT \"v=DMARC1; p=reject\"\n";

enum { SPF_C_PASS, SPF_C_PASS_UNALIGNED, SPF_C_FAIL, SPF_C_SOFTFAIL, SPF_C_NONE, SPF_C_TEMP, NSPF };
enum { DKIM_C_ALIGNED, DKIM_C_UNALIGNED, DKIM_C_FAIL, DKIM_C_NONE, DKIM_C_TEMP, NDKIM };
enum { ARC_C_NONE, ARC_C_PASS, ARC_C_FAIL, ARC_C_TEMP, NARC };
static const int from_states[] = {FROM_OK, FROM_REPAIRED, FROM_ABSENT, FROM_MULTIPLE,
                                  FROM_UNREADABLE};
#define NSTATES (sizeof(from_states) / sizeof(from_states[0]))

/* An arrival as arrival_finish would leave it, judged by the real DMARC
 * code (arrival_judge) against the zone above. */
static void make_arrival(struct dns *dns, const char *dom, int spf, int dkim, int arc, int trusted,
                         int state, struct arrival *a)
{
    memset(a, 0, sizeof(*a));
    static const int spf_res[] = {SPF_PASS,     SPF_PASS, SPF_FAIL,
                                  SPF_SOFTFAIL, SPF_NONE, SPF_TEMPERROR};
    a->spf.result = spf_res[spf];
    snprintf(a->spf.domain, sizeof(a->spf.domain), "%s",
             spf == SPF_C_PASS_UNALIGNED ? "bulk-esp.test" : dom);
    snprintf(a->spf.sender, sizeof(a->spf.sender), "someone@%s", a->spf.domain);
    a->spf_from_trusted = trusted;
    if (dkim != DKIM_C_NONE) {
        static const int dkim_res[] = {DKIM_PASS, DKIM_PASS, DKIM_FAIL, DKIM_NONE, DKIM_TEMPERROR};
        a->ndkim = 1;
        a->dkim[0].result = dkim_res[dkim];
        a->dkim[0].reason = "";
        a->dkim[0].alg = -1;
        snprintf(a->dkim[0].domain, sizeof(a->dkim[0].domain), "%s",
                 dkim == DKIM_C_UNALIGNED ? "other.test" : dom);
    }
    a->arc.cv = arc == ARC_C_PASS ? ARC_CV_PASS : arc == ARC_C_NONE ? ARC_CV_NONE : ARC_CV_FAIL;
    a->arc.temperror = arc == ARC_C_TEMP;
    a->from_state = state;
    a->from_why = state == FROM_OK ? "" : "from state under test";
    if (state == FROM_OK || state == FROM_REPAIRED)
        snprintf(a->from_domain, sizeof(a->from_domain), "%s", dom);
    arrival_judge(dns, DMARC_MODE_RFC7489, 0, a);
}

struct setting {
    int enforce, rewrite, fwd_failure, fwd_policies, unreadable;
};

/* Does the AAR of our seal (our Authentication-Results, with and without
 * dmarc=) claim dmarc=pass for the arrival under test? Rendered once per
 * arrival: the decisions only choose which. */
static int aar_claims_pass[2];

static void render_aar(const struct arrival *a)
{
    for (int with_dmarc = 0; with_dmarc < 2; with_dmarc++) {
        struct authres ar;
        arrival_authres(a, "mx.ourdomain.test", with_dmarc, &ar);
        aar_claims_pass[with_dmarc] = strstr(authres_value(&ar, "\n"), "dmarc=pass") != NULL;
    }
}

/* Did the decision create an aligned DMARC pass, or vouch otherwise? */
static const char *check_invariants(const struct policy_input *in, const struct fa_config *cfg,
                                    const struct policy_decision *d)
{
    const struct arrival *a = in->a;
    int passed = a->dmarc.result == DMARC_PASS;
    int from_ok = a->from_state == FROM_OK;
    int failed_enforced =
        a->dmarc.result == DMARC_FAIL &&
        (a->dmarc.policy == DMARC_POLICY_REJECT || a->dmarc.policy == DMARC_POLICY_QUARANTINE);
    int unforwardable = policy_unforwardable(a, cfg);
    int cont = d->verdict == POLICY_CONTINUE;
    /* 1. No aligned pass we created. */
    if (d->rewrite_from && !(passed && from_ok && in->forwarded && in->have_forward_key))
        return "From: rewritten for mail that did not pass";
    if (d->sign_forwarder && (in->fwd_key_aligned || d->rewrite_from) && !passed)
        return "an aligned signature of ours on mail that did not pass";
    if (d->sign_user)
        return "inbound mail signed with a user key";
    if (d->seal) {
        if (aar_claims_pass[d->report_dmarc] && !passed)
            return "our ARC set would claim dmarc=pass";
        if (!in->have_arc_key)
            return "sealed without a key";
    }
    /* 2. Nothing vouched for what is unreadable or failed under p=reject/quarantine. */
    if ((!from_ok || failed_enforced || a->dmarc.result == DMARC_PERMERROR) &&
        (d->sign_forwarder || d->seal || d->rewrite_from))
        return "vouched for mail that is unreadable or failed";
    /* 3. An unforwardable failure never reaches a forwarded recipient, and
     *    is never SRS-rewritten (our bounces would go to a forged sender). */
    if (in->forwarded && unforwardable) {
        if (d->srs)
            return "SRS on an unforwardable failure";
        if (cont && !d->hold && !d->drop_forwarded)
            return "an unforwardable failure was forwarded";
        if (!in->local && cfg->forward_dmarc_failure == FA_FWDFAIL_REJECT &&
            d->verdict != POLICY_REJECT)
            return "an unforwardable failure was not refused";
    }
    /* 4. A temporary DMARC result tempfails forwarded mail (nothing is
     *    forwarded on an unknown verdict), never local-only mail. */
    if (in->forwarded && from_ok && a->dmarc.result == DMARC_TEMPERROR &&
        d->verdict != POLICY_TEMPFAIL)
        return "forwarded on a temporary DMARC result";
    if (!in->forwarded && d->verdict == POLICY_TEMPFAIL)
        return "local mail tempfailed";
    if (in->forwarded && cont && !d->drop_forwarded && a->arc.temperror && d->seal)
        return "sealed over an ARC key that could not be fetched";
    /* 5. Unreadable From: for forwarded recipients takes from_unreadable. */
    if (in->forwarded && !from_ok && !unforwardable) {
        int want = cfg->from_unreadable;
        if (want == FA_UNREADABLE_TEMPFAIL && d->verdict != POLICY_TEMPFAIL &&
            d->verdict != POLICY_REJECT)
            return "unreadable From: not tempfailed";
        if (want == FA_UNREADABLE_REJECT && cont && !d->drop_forwarded)
            return "unreadable From: forwarded";
    }
    /* 6. Local enforcement as dmarc_enforce says, on the disposition. */
    if (d->verdict == POLICY_REJECT && (in->local || !in->forwarded) && !in->forwarded &&
        !(cfg->dmarc_enforce == FA_ENFORCE_REJECT && failed_enforced &&
          a->dmarc.disposition == DMARC_POLICY_REJECT))
        return "local mail refused without dmarc_enforce = reject";
    /* 7. Replies match the verdict; changes only when the message goes on. */
    if (d->verdict == POLICY_REJECT && d->reply[0] != '5')
        return "reject without a 5xx reply";
    if (d->verdict == POLICY_TEMPFAIL && d->reply[0] != '4')
        return "tempfail without a 4xx reply";
    if (!cont &&
        (d->srs || d->seal || d->sign_forwarder || d->rewrite_from || d->hold || d->drop_forwarded))
        return "changes on a refused message";
    if (d->drop_forwarded && !(in->forwarded && in->local))
        return "recipients dropped without local ones";
    if (d->srs && (d->drop_forwarded || !in->forwarded))
        return "SRS for mail that is not forwarded";
    return NULL;
}

/* Every value of each dimension, walked as one mixed-radix counter. */
static unsigned digit(unsigned *x, unsigned radix)
{
    unsigned d = *x % radix;
    *x /= radix;
    return d;
}

static void test_decide_invariant(void **state)
{
    (void)state;
    struct dns *dns = test_zone(zone_text);
    struct fa_config cfg;
    config_init(&cfg);
    fa_err err;
    assert_int_equal(config_set(&cfg, "forward_recipients", "alias@ourdomain.test", NULL, &err), 0);
    static const char *const enforce[] = {"off", "tag", "quarantine", "reject"};
    static const char *const rewrite[] = {"off", "reject", "reject-and-quarantine", "always"};
    static const char *const failure[] = {"reject", "hold"};
    static const char *const policies[] = {"reject", "reject-and-quarantine"};
    static const char *const unreadable[] = {"reject", "tempfail", "accept-unsigned"};
    /* Arrival: From: domain x SPF x DKIM x ARC x trusted upstream x From: state. */
    const unsigned narrivals = NFROM * NSPF * NDKIM * NARC * 2 * NSTATES;
    /* Settings x recipients (forwarded, local, both) x forwarder key
     * (none, ours, aligned with From:) x ARC key x our own changes
     * (none; a Subject tag or footer that breaks signatures, under
     * from_rewrite_on_change = yes and no). */
    const unsigned nsettings = 4 * 4 * 2 * 2 * 3 * 3, ncases = nsettings * 3 * 3 * 2;
    unsigned long combos = 0, refused = 0, forwarded_passes = 0;
    struct arrival *a = malloc(sizeof(*a));
    assert_non_null(a);
    for (unsigned ai = 0; ai < narrivals; ai++) {
        unsigned x = ai;
        unsigned f = digit(&x, NFROM), spf = digit(&x, NSPF), dk = digit(&x, NDKIM);
        unsigned arc = digit(&x, NARC), trusted = digit(&x, 2), st = digit(&x, NSTATES);
        make_arrival(dns, from_domains[f], (int)spf, (int)dk, (int)arc, (int)trusted,
                     from_states[st], a);
        render_aar(a);
        for (unsigned ci = 0; ci < ncases; ci++) {
            unsigned y = ci;
            unsigned cls = digit(&y, 3), key = digit(&y, 3), ak = digit(&y, 2);
            unsigned e = digit(&y, 4), r = digit(&y, 4), fl = digit(&y, 2), po = digit(&y, 2);
            unsigned un = digit(&y, 3), ch = digit(&y, 3);
            if (ci % (ncases / nsettings) == 0) { /* the settings change */
                config_set(&cfg, "dmarc_enforce", enforce[e], NULL, &err);
                config_set(&cfg, "from_rewrite", rewrite[r], NULL, &err);
                config_set(&cfg, "forward_dmarc_failure", failure[fl], NULL, &err);
                config_set(&cfg, "forward_dmarc_policies", policies[po], NULL, &err);
                config_set(&cfg, "from_unreadable", unreadable[un], NULL, &err);
                config_set(&cfg, "from_rewrite_on_change", ch == 2 ? "no" : "yes", NULL, &err);
            }
            struct policy_input in = {
                .a = a,
                .forwarded = cls != 1,
                .local = cls != 0,
                .have_forward_key = key != 0,
                .fwd_key_aligned = key == 2,
                .have_arc_key = (int)ak,
                .have_srs = 1,
                .changes_break_dkim = ch != 0,
            };
            struct policy_decision d;
            policy_decide(&in, &cfg, &d);
            const char *bad = check_invariants(&in, &cfg, &d);
            if (bad)
                fail_msg("from=%s state=%d spf=%u dkim=%u arc=%u trusted=%u enforce=%s "
                         "rewrite=%s failure=%s policies=%s unreadable=%s changes=%u class=%u "
                         "key=%u arc_key=%u dmarc=%s: %s",
                         from_domains[f], from_states[st], spf, dk, arc, trusted, enforce[e],
                         rewrite[r], failure[fl], policies[po], unreadable[un], ch, cls, key, ak,
                         dmarc_result_name(a->dmarc.result), bad);
            combos++;
            refused += d.verdict == POLICY_REJECT;
            forwarded_passes += cls == 0 && d.verdict == POLICY_CONTINUE &&
                                a->dmarc.result == DMARC_PASS && d.sign_forwarder;
        }
    }
    /* The README's test section states these numbers: keep them equal. */
    print_message("policy invariant: %u arrivals x %u settings and classes = %lu combinations "
                  "(%lu refused)\n",
                  narrivals, ncases, combos, refused);
    assert_int_equal(narrivals, 6000);
    assert_int_equal(combos, 6000UL * 10368);
    /* The table is not vacuous: legitimate mail still goes through. */
    assert_true(forwarded_passes > 0);
    assert_true(refused > 0);
    free(a);
    config_free(&cfg);
    dns_free(dns);
}

/* Named cases, each a finding of the trust issue. */
static void decide_one(const char *dom, int spf, int dkim, int state, const char *settings,
                       int forwarded, int local, struct policy_decision *d)
{
    struct dns *dns = test_zone(zone_text);
    struct fa_config cfg;
    config_init(&cfg);
    fa_err err;
    if (settings)
        assert_int_equal(config_load_buf(&cfg, "t.conf", settings, strlen(settings), &err), 0);
    struct arrival a;
    make_arrival(dns, dom, spf, dkim, ARC_C_NONE, 0, state, &a);
    struct policy_input in = {.a = &a,
                              .forwarded = forwarded,
                              .local = local,
                              .have_forward_key = 1,
                              .have_arc_key = 1,
                              .have_srs = 1};
    policy_decide(&in, &cfg, d);
    config_free(&cfg);
    dns_free(dns);
}

static void test_decide_cases(void **state)
{
    (void)state;
    struct policy_decision d;
    /* A spoof of a p=reject domain in tag mode, to a forwarded recipient:
     * refused at SMTP time (finding 5), not SRS-rewritten. */
    decide_one("prej.test", SPF_C_FAIL, DKIM_C_NONE, FROM_OK, "dmarc_enforce = tag\n", 1, 0, &d);
    assert_int_equal(d.verdict, POLICY_REJECT);
    assert_string_equal(d.reply,
                        "550 5.7.1 Not forwarded: the message fails the DMARC policy of prej.test");
    assert_false(d.srs);
    /* The same with a local recipient too: the forwarded ones removed. */
    decide_one("prej.test", SPF_C_FAIL, DKIM_C_NONE, FROM_OK, "dmarc_enforce = tag\n", 1, 1, &d);
    assert_int_equal(d.verdict, POLICY_CONTINUE);
    assert_true(d.drop_forwarded);
    assert_false(d.srs || d.seal || d.sign_forwarder);
    /* hold instead. */
    decide_one("pquar.test", SPF_C_FAIL, DKIM_C_NONE, FROM_OK, "forward_dmarc_failure = hold\n", 1,
               0, &d);
    assert_int_equal(d.verdict, POLICY_CONTINUE);
    assert_true(d.hold);
    assert_false(d.srs || d.seal || d.sign_forwarder);
    /* p=quarantine failures forwarded (unvouched) when only p=reject counts. */
    decide_one("pquar.test", SPF_C_FAIL, DKIM_C_NONE, FROM_OK, "forward_dmarc_policies = reject\n",
               1, 0, &d);
    assert_int_equal(d.verdict, POLICY_CONTINUE);
    assert_true(d.srs);
    assert_false(d.seal || d.sign_forwarder);
    /* A repaired From: (trailing dot) of a p=reject domain from an
     * attacker: judged by that domain, refused (finding 6). */
    decide_one("prej.test", SPF_C_FAIL, DKIM_C_NONE, FROM_REPAIRED, NULL, 1, 0, &d);
    assert_int_equal(d.verdict, POLICY_REJECT);
    /* Two From: fields (finding 3): refused by default, and never signed. */
    decide_one("prej.test", SPF_C_PASS, DKIM_C_NONE, FROM_MULTIPLE, NULL, 1, 0, &d);
    assert_int_equal(d.verdict, POLICY_REJECT);
    decide_one("prej.test", SPF_C_PASS, DKIM_C_NONE, FROM_MULTIPLE,
               "from_unreadable = accept-unsigned\n", 1, 0, &d);
    assert_int_equal(d.verdict, POLICY_CONTINUE);
    assert_false(d.seal || d.sign_forwarder || d.rewrite_from);
    decide_one("prej.test", SPF_C_PASS, DKIM_C_NONE, FROM_MULTIPLE, "from_unreadable = tempfail\n",
               1, 0, &d);
    assert_int_equal(d.verdict, POLICY_TEMPFAIL);
    /* A DMARC lookup that timed out (finding 4): tempfailed, nothing made;
     * local mail is delivered with temperror recorded. */
    decide_one("temp.test", SPF_C_PASS, DKIM_C_NONE, FROM_OK, NULL, 1, 0, &d);
    assert_int_equal(d.verdict, POLICY_TEMPFAIL);
    assert_int_equal(d.reply[0], '4');
    decide_one("temp.test", SPF_C_PASS, DKIM_C_NONE, FROM_OK, NULL, 0, 1, &d);
    assert_int_equal(d.verdict, POLICY_CONTINUE);
    /* Our own changes break the aligned signature: rewritten, unless told not to. */
    struct dns *dns = test_zone(zone_text);
    struct fa_config cfg;
    config_init(&cfg);
    fa_err err;
    assert_int_equal(config_set(&cfg, "from_rewrite", "reject", NULL, &err), 0);
    struct arrival a;
    make_arrival(dns, "prej.test", SPF_C_FAIL, DKIM_C_ALIGNED, ARC_C_NONE, 0, FROM_OK, &a);
    struct policy_input in = {
        .a = &a, .forwarded = 1, .have_forward_key = 1, .have_srs = 1, .changes_break_dkim = 1};
    policy_decide(&in, &cfg, &d);
    assert_true(d.rewrite_from && d.sign_forwarder);
    assert_int_equal(config_set(&cfg, "from_rewrite_on_change", "no", NULL, &err), 0);
    policy_decide(&in, &cfg, &d);
    assert_false(d.rewrite_from);
    assert_true(d.sign_forwarder);
    config_free(&cfg);
    dns_free(dns);
    /* Legitimate forwarded mail: SPF-only p=reject sender, rewritten and
     * signed; an aligned DKIM signature is left alone. */
    decide_one("prej.test", SPF_C_PASS, DKIM_C_NONE, FROM_OK, "from_rewrite = reject\n", 1, 0, &d);
    assert_int_equal(d.verdict, POLICY_CONTINUE);
    assert_true(d.srs && d.seal && d.sign_forwarder && d.rewrite_from);
    decide_one("prej.test", SPF_C_PASS, DKIM_C_ALIGNED, FROM_OK, "from_rewrite = reject\n", 1, 0,
               &d);
    assert_true(d.srs && d.seal && d.sign_forwarder);
    assert_false(d.rewrite_from);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_originating_and_forwarded),
        cmocka_unit_test(test_decide_invariant),
        cmocka_unit_test(test_decide_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
