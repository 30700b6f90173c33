/* Unit tests for arrival, how a message authenticated when it reached us:
 * whole messages (signed here with keys published in a zone, sealed,
 * spoofed) through arrival_begin/body/finish against a zone resolver.
 * Asserted: SPF, each DKIM result, the ARC chain, DMARC with its policy;
 * the From: reading (absent, several, repaired) and what DMARC makes of
 * it; which DKIM result summarizes (aligned first); temporary failures
 * that could change the verdict; believing only trusted authserv-ids;
 * alignment (relaxed, strict); the Authentication-Results rendered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arrival.h"

#include "test_mail.h"
#include "test_zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1767225600

#define GOOD_IP "192.0.2.10" /* example.org's SPF allows it */
#define BAD_IP "203.0.113.9"

static const char msg_text[] = "From: Alice <alice@example.org>\r\n"
                               "To: bob@example.net\r\n"
                               "Subject: hello\r\n"
                               "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"
                               "Message-ID: <1@example.org>\r\n"
                               "\r\n"
                               "Hello Bob,\r\n";

struct fixture {
    struct fa_key *org, *other, *fwd;
    struct dns *dns;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->org = test_key(KEY_ED25519);
    f->other = test_key(KEY_ED25519);
    f->fwd = test_key(KEY_ED25519);
    char zone[16384] = "example.org. TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
                       "_dmarc.example.org. TXT \"v=DMARC1; p=reject\"\n"
                       "strict.example. TXT \"v=spf1 -all\"\n"
                       "_dmarc.strict.example. TXT \"v=DMARC1; p=quarantine; adkim=s; aspf=s\"\n"
                       "esp.example. TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n"
                       "_dmarc.slow.example. TIMEOUT\n"
                       "slow.example. TXT \"v=spf1 -all\"\n"
                       "helo.example. TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
                       "slowkey._domainkey.example.org. TIMEOUT\n";
    zone_add_key(zone, sizeof(zone), f->org, "sel", "example.org");
    zone_add_key(zone, sizeof(zone), f->org, "sel", "mail.example.org");
    zone_add_key(zone, sizeof(zone), f->org, "sel", "strict.example");
    zone_add_key(zone, sizeof(zone), f->org, "sel", "sub.strict.example");
    zone_add_key(zone, sizeof(zone), f->other, "sel", "esp.example");
    zone_add_key(zone, sizeof(zone), f->fwd, "arc", "fwd.example");
    f->dns = test_zone(zone);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    dns_free(f->dns);
    key_free(f->org);
    key_free(f->other);
    key_free(f->fwd);
    free(f);
    return 0;
}

/* text signed by d=domain s=selector with key (NULL: returned as a copy). */
static char *signed_by(const char *text, const struct fa_key *key, const char *domain,
                       const char *selector)
{
    if (!key)
        return strdup(text);
    struct dkim_sign_spec sp = {.domain = domain,
                                .selector = selector,
                                .key = key,
                                .alg = -1,
                                .hcanon = CANON_RELAXED,
                                .bcanon = CANON_RELAXED,
                                .timestamp = T0};
    return dkim_sign_text(text, &sp, 1);
}

struct arrive {
    const char *ip, *mail_from;
    char *const *trusted;
    size_t ntrusted;
};

/* The message as it arrived from ip with MAIL FROM mail_from. */
static void arrive(const struct fixture *f, const char *text, const struct arrive *how,
                   struct arrival *a)
{
    struct tmsg m;
    tmsg_parse(&m, text);
    struct arrival_input in = {.ip = how->ip,
                               .mail_from = how->mail_from,
                               .helo = "helo.example",
                               .receiver = "mx.example.net",
                               .dmarc_mode = DMARC_MODE_RFC7489,
                               .now = T0,
                               .trusted_ids = how->trusted,
                               .ntrusted = how->ntrusted};
    fa_err err;
    struct arrival_check *c = arrival_begin(m.hs.h, m.hs.n, &in, &err);
    if (!c)
        fail_msg("arrival_begin: %s", err.msg);
    TMSG_FEED(&m, arrival_body, c);
    arrival_finish(c, f->dns, a);
    arrival_free(c);
    tmsg_free(&m);
}

static void expect(const struct arrival *a, int spf, int dkim_summary, int dmarc, int from_state)
{
    if (a->spf.result != spf || a->dkim_summary != dkim_summary || a->dmarc.result != dmarc ||
        a->from_state != from_state)
        fail_msg("spf=%s (%s) dkim=%s dmarc=%s (%s) from_state=%d", spf_result_name(a->spf.result),
                 a->spf.reason, dkim_result_name(a->dkim_summary),
                 dmarc_result_name(a->dmarc.result), a->dmarc.reason, a->from_state);
}

static void test_authentic_and_spoofed(void **state)
{
    struct fixture *f = *state;
    struct arrival *a = malloc(sizeof(*a));
    char *t = signed_by(msg_text, f->org, "example.org", "sel");
    arrive(f, t, &(struct arrive){.ip = GOOD_IP, .mail_from = "alice@example.org"}, a);
    expect(a, SPF_PASS, DKIM_PASS, DMARC_PASS, FROM_OK);
    assert_string_equal(a->from_domain, "example.org");
    assert_int_equal(a->ndkim, 1);
    assert_string_equal(a->dkim[0].domain, "example.org");
    assert_int_equal(a->dmarc.policy, DMARC_POLICY_REJECT);
    assert_int_equal(a->dmarc.spf_aligned, 1);
    assert_int_equal(a->dmarc.dkim_aligned, 1);
    assert_int_equal(a->arc.cv, ARC_CV_NONE);
    assert_int_equal(a->spf_from_trusted, 0);
    assert_int_equal(a->dkim_aligned_temperror, 0);
    /* Forwarded: the SPF of the forwarder's address fails, DKIM carries it. */
    arrive(f, t, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@example.org"}, a);
    expect(a, SPF_FAIL, DKIM_PASS, DMARC_PASS, FROM_OK);
    /* The same From: unsigned, from elsewhere: a spoof under p=reject. */
    arrive(f, msg_text, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@example.org"}, a);
    expect(a, SPF_FAIL, DKIM_NONE, DMARC_FAIL, FROM_OK);
    assert_int_equal(a->dmarc.disposition, DMARC_POLICY_REJECT);
    assert_int_equal(a->ndkim, 0);
    /* SPF passes for the ESP's own domain, which is not aligned. */
    arrive(f, msg_text, &(struct arrive){.ip = "198.51.100.7", .mail_from = "bounce@esp.example"},
           a);
    expect(a, SPF_PASS, DKIM_NONE, DMARC_FAIL, FROM_OK);
    assert_int_equal(a->dmarc.spf_aligned, 0);
    /* The null sender: SPF checks postmaster@ the HELO name (RFC 7208
     * section 2.4), still the MAIL FROM identity. */
    arrive(f, t, &(struct arrive){.ip = GOOD_IP, .mail_from = ""}, a);
    expect(a, SPF_PASS, DKIM_PASS, DMARC_PASS, FROM_OK);
    assert_int_equal(a->spf.helo_identity, 0);
    assert_string_equal(a->spf.domain, "helo.example");
    assert_string_equal(a->spf.sender, "postmaster@helo.example");
    /* A client address that is none. */
    arrive(f, t, &(struct arrive){.ip = "not an address", .mail_from = "alice@example.org"}, a);
    assert_int_equal(a->spf.result, SPF_PERMERROR);
    assert_string_equal(a->spf.reason, "unusable client address");
    free(t);
    free(a);
}

/* The DKIM summary: the best aligned result, else the best of all. */
static void test_dkim_summary(void **state)
{
    struct fixture *f = *state;
    struct arrival *a = malloc(sizeof(*a));
    /* The ESP's signature passes but is not aligned. */
    char *t = signed_by(msg_text, f->other, "esp.example", "sel");
    arrive(f, t, &(struct arrive){.ip = BAD_IP, .mail_from = "bounce@esp.example"}, a);
    expect(a, SPF_FAIL, DKIM_PASS, DMARC_FAIL, FROM_OK);
    assert_int_equal(a->dmarc.dkim_aligned, 0);
    /* An aligned signature that fails wins the summary over it. */
    char *u = signed_by(t, f->other, "example.org", "sel");
    arrive(f, u, &(struct arrive){.ip = BAD_IP, .mail_from = "bounce@esp.example"}, a);
    expect(a, SPF_FAIL, DKIM_FAIL, DMARC_FAIL, FROM_OK);
    assert_int_equal(a->ndkim, 2);
    assert_int_equal(a->dkim[0].result, DKIM_FAIL);
    assert_int_equal(a->dkim[1].result, DKIM_PASS);
    /* Relaxed alignment: a subdomain's signature aligns. */
    char *v = signed_by(msg_text, f->org, "mail.example.org", "sel");
    arrive(f, v, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@example.org"}, a);
    expect(a, SPF_FAIL, DKIM_PASS, DMARC_PASS, FROM_OK);
    assert_string_equal(a->dmarc.dkim_domain, "mail.example.org");
    assert_true(arrival_aligns(f->dns, DMARC_MODE_RFC7489, a, "mail.example.org"));
    assert_true(arrival_aligns(f->dns, DMARC_MODE_RFC7489, a, "EXAMPLE.ORG"));
    assert_false(arrival_aligns(f->dns, DMARC_MODE_RFC7489, a, "esp.example"));
    assert_false(arrival_aligns(f->dns, DMARC_MODE_RFC7489, a, ""));
    assert_false(arrival_aligns(f->dns, DMARC_MODE_RFC7489, a, NULL));
    free(t);
    free(u);
    free(v);
    /* Strict alignment (adkim=s): only d= equal to the From: domain. */
    char *s1 = replace(msg_text, "alice@example.org", "alice@strict.example");
    char *s2 = signed_by(s1, f->org, "sub.strict.example", "sel");
    arrive(f, s2, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@strict.example"}, a);
    expect(a, SPF_FAIL, DKIM_PASS, DMARC_FAIL, FROM_OK);
    assert_int_equal(a->dmarc.disposition, DMARC_POLICY_QUARANTINE);
    assert_false(arrival_aligns(f->dns, DMARC_MODE_RFC7489, a, "sub.strict.example"));
    assert_true(arrival_aligns(f->dns, DMARC_MODE_RFC7489, a, "strict.example"));
    char *s3 = signed_by(s1, f->org, "strict.example", "sel");
    arrive(f, s3, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@strict.example"}, a);
    expect(a, SPF_FAIL, DKIM_PASS, DMARC_PASS, FROM_OK);
    free(s1);
    free(s2);
    free(s3);
    free(a);
}

/* The From: as receivers read it decides what DMARC can say. */
static void test_from_readings(void **state)
{
    struct fixture *f = *state;
    struct arrival *a = malloc(sizeof(*a));
    static const struct {
        const char *from, *to;
        int state, dmarc;
        const char *domain;
    } cases[] = {
        {"From: Alice <alice@example.org>\r\n", "", FROM_ABSENT, DMARC_PERMERROR, ""},
        {"From: Alice <alice@example.org>\r\n",
         "From: Alice <alice@example.org>\r\nFrom: Mallory <m@evil.example>\r\n", FROM_MULTIPLE,
         DMARC_PERMERROR, ""},
        {"From: Alice <alice@example.org>\r\n", "From: alice@example.org, m@evil.example\r\n",
         FROM_MULTIPLE, DMARC_PERMERROR, ""},
        {"From: Alice <alice@example.org>\r\n", "From: Alice <alice@@example.org\r\n",
         FROM_UNREADABLE, DMARC_PERMERROR, ""},
        /* Read as receivers read it, after a repair: judged on that domain. */
        {"From: Alice <alice@example.org>\r\n", "From: Alice <alice@example.org.>\r\n",
         FROM_REPAIRED, DMARC_FAIL, "example.org"},
        {"From: Alice <alice@example.org>\r\n", "From: Friends: alice@example.org;\r\n",
         FROM_REPAIRED, DMARC_FAIL, "example.org"},
        {"From: Alice <alice@example.org>\r\n", "from:   alice@EXAMPLE.org\r\n", FROM_OK,
         DMARC_FAIL, "EXAMPLE.org"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = replace(msg_text, cases[i].from, cases[i].to);
        arrive(f, t, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@example.org"}, a);
        if (a->from_state != cases[i].state || a->dmarc.result != cases[i].dmarc ||
            strcmp(a->from_domain, cases[i].domain) != 0)
            fail_msg("%s: from_state %d, dmarc=%s (%s), domain \"%s\"", cases[i].to, a->from_state,
                     dmarc_result_name(a->dmarc.result), a->dmarc.reason, a->from_domain);
        assert_non_null(a->from_why);
        if (cases[i].dmarc == DMARC_PERMERROR) {
            /* No one author: DMARC says why, from the From: reading. */
            assert_int_equal(a->dmarc.policy, DMARC_POLICY_ABSENT);
            assert_string_equal(a->dmarc.reason, a->from_why);
        }
        free(t);
    }
    free(a);
}

/* Lookups that fail for now: the verdict they could change says so. */
static void test_temporary_failures(void **state)
{
    struct fixture *f = *state;
    struct arrival *a = malloc(sizeof(*a));
    char *t = signed_by(msg_text, f->org, "example.org", "slowkey");
    arrive(f, t, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@example.org"}, a);
    expect(a, SPF_FAIL, DKIM_TEMPERROR, DMARC_TEMPERROR, FROM_OK);
    assert_int_equal(a->dkim_aligned_temperror, 1);
    /* With an aligned pass as well, DMARC passes; the flag still says so. */
    char *u = signed_by(t, f->org, "example.org", "sel");
    arrive(f, u, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@example.org"}, a);
    expect(a, SPF_FAIL, DKIM_PASS, DMARC_PASS, FROM_OK);
    assert_int_equal(a->dkim_aligned_temperror, 1);
    free(t);
    free(u);
    /* The DMARC record itself times out. */
    char *s = replace(msg_text, "alice@example.org", "alice@slow.example");
    arrive(f, s, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@slow.example"}, a);
    expect(a, SPF_FAIL, DKIM_NONE, DMARC_TEMPERROR, FROM_OK);
    free(s);
    free(a);
}

/* An spf= result is believed only from a trusted authserv-id (our gateway),
 * compared as a domain name; the topmost such field counts. */
static void test_trusted_results(void **state)
{
    struct fixture *f = *state;
    struct arrival *a = malloc(sizeof(*a));
    char *t = prepend_fields(
        (char *[]){
            "Authentication-Results: GW.Example.NET.; spf=pass smtp.mailfrom=alice@example.org\r\n",
            "Authentication-Results: gw.example.net; spf=fail smtp.mailfrom=x@y.example\r\n"},
        2, msg_text);
    char *trusted[] = {"gw.example.net"};
    arrive(f, t,
           &(struct arrive){
               .ip = BAD_IP, .mail_from = "alice@example.org", .trusted = trusted, .ntrusted = 1},
           a);
    expect(a, SPF_PASS, DKIM_NONE, DMARC_PASS, FROM_OK);
    assert_int_equal(a->spf_from_trusted, 1);
    assert_string_equal(a->spf.domain, "example.org");
    assert_string_equal(a->spf.sender, "alice@example.org");
    assert_string_equal(a->spf.reason, "from GW.Example.NET.");
    /* Not trusted: our own check of the forwarder's address. */
    char *other[] = {"mx.example.net"};
    arrive(f, t,
           &(struct arrive){
               .ip = BAD_IP, .mail_from = "alice@example.org", .trusted = other, .ntrusted = 1},
           a);
    expect(a, SPF_FAIL, DKIM_NONE, DMARC_FAIL, FROM_OK);
    assert_int_equal(a->spf_from_trusted, 0);
    arrive(f, t, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@example.org"}, a);
    assert_int_equal(a->spf_from_trusted, 0);
    free(t);
    /* A trusted HELO result. */
    t = prepend_fields((char *[]){"Authentication-Results: gw.example.net; spf=pass "
                                  "smtp.helo=helo.example\r\n"},
                       1, msg_text);
    arrive(f, t,
           &(struct arrive){
               .ip = BAD_IP, .mail_from = "alice@example.org", .trusted = trusted, .ntrusted = 1},
           a);
    assert_int_equal(a->spf.result, SPF_PASS);
    assert_int_equal(a->spf.helo_identity, 1);
    assert_string_equal(a->spf.domain, "helo.example");
    free(t);
    free(a);
}

static void test_arc_on_arrival(void **state)
{
    struct fixture *f = *state;
    struct arrival *a = malloc(sizeof(*a));
    char *t = signed_by(msg_text, f->org, "example.org", "sel");
    struct arc_seal_spec sp = {.domain = "fwd.example",
                               .selector = "arc",
                               .key = f->fwd,
                               .alg = -1,
                               .timestamp = T0,
                               .authserv_id = "mx.fwd.example"};
    char *sealed;
    struct arc_result chain;
    fa_err err;
    assert_int_equal(arc_seal_text(t, &sp, f->dns, T0, &sealed, &chain, &err), ARC_SEALED);
    arrive(f, sealed, &(struct arrive){.ip = BAD_IP, .mail_from = "srs0=x@fwd.example"}, a);
    expect(a, SPF_NONE, DKIM_PASS, DMARC_PASS, FROM_OK);
    assert_int_equal(a->arc.cv, ARC_CV_PASS);
    assert_int_equal(a->arc.nsets, 1);
    /* A footer breaks DKIM and the AMS: DMARC fails, the chain too. */
    char *footer = replace(sealed, "Hello Bob,\r\n", "Hello Bob,\r\n-- \r\nfooter\r\n");
    arrive(f, footer, &(struct arrive){.ip = BAD_IP, .mail_from = "srs0=x@fwd.example"}, a);
    expect(a, SPF_NONE, DKIM_FAIL, DMARC_FAIL, FROM_OK);
    assert_int_equal(a->arc.cv, ARC_CV_FAIL);
    free(footer);
    free(sealed);
    free(t);
    free(a);
}

static void test_authres(void **state)
{
    struct fixture *f = *state;
    struct arrival *a = malloc(sizeof(*a));
    struct authres *ar = malloc(sizeof(*ar));
    char *t = signed_by(msg_text, f->org, "example.org", "sel");
    arrive(f, t, &(struct arrive){.ip = GOOD_IP, .mail_from = "alice@example.org"}, a);
    arrival_authres(a, "mx.example.net", 1, ar);
    /* header.b= is quoted when the prefix holds "/" or "=" (RFC 2045 tspecials). */
    const char *b = a->dkim[0].b_prefix;
    int quote = strpbrk(b, "/=") != NULL;
    char want[512];
    snprintf(want, sizeof(want),
             " mx.example.net;\n\tspf=pass smtp.mailfrom=\"alice@example.org\";\n"
             "\tdkim=pass header.d=example.org header.i=\"@example.org\" header.s=sel "
             "header.b=%s%s%s header.a=ed25519-sha256;\n"
             "\tdmarc=pass header.from=example.org policy.dmarc=reject;\n\tarc=none",
             quote ? "\"" : "", b, quote ? "\"" : "");
    assert_string_equal(authres_value(ar, "\n"), want);
    /* Without dmarc= (a milter told not to report it). */
    arrival_authres(a, "mx.example.net", 0, ar);
    assert_null(strstr(authres_value(ar, "\n"), "dmarc="));
    /* Failures carry their reasons; no signature is dkim=none. */
    arrive(f, msg_text, &(struct arrive){.ip = BAD_IP, .mail_from = "alice@example.org"}, a);
    arrival_authres(a, "mx.example.net", 1, ar);
    const char *v = authres_value(ar, "\n");
    assert_non_null(strstr(v, "spf=fail smtp.mailfrom=\"alice@example.org\";"));
    assert_non_null(strstr(v, "\tdkim=none;"));
    assert_non_null(strstr(v, "\tdmarc=fail (no aligned SPF or DKIM pass) header.from=example.org "
                              "policy.dmarc=reject;"));
    free(t);
    free(ar);
    free(a);
}

/* arrival_judge over results made up here: what arrival_finish does after
 * verifying. */
static void test_judge(void **state)
{
    struct fixture *f = *state;
    struct arrival *a = calloc(1, sizeof(*a));
    a->spf.result = SPF_PASS;
    snprintf(a->spf.domain, sizeof(a->spf.domain), "example.org");
    a->from_state = FROM_OK;
    a->from_why = "";
    snprintf(a->from_domain, sizeof(a->from_domain), "example.org");
    arrival_judge(f->dns, DMARC_MODE_RFC7489, 0, a);
    assert_int_equal(a->dmarc.result, DMARC_PASS);
    assert_int_equal(a->dkim_summary, DKIM_NONE);
    a->spf.result = SPF_TEMPERROR;
    arrival_judge(f->dns, DMARC_MODE_RFC7489, 0, a);
    assert_int_equal(a->dmarc.result, DMARC_TEMPERROR);
    a->ndkim = 2;
    a->dkim[0].result = DKIM_PERMERROR;
    snprintf(a->dkim[0].domain, sizeof(a->dkim[0].domain), "esp.example");
    a->dkim[1].result = DKIM_POLICY;
    snprintf(a->dkim[1].domain, sizeof(a->dkim[1].domain), "other.example");
    arrival_judge(f->dns, DMARC_MODE_RFC7489, 0, a);
    assert_int_equal(a->dkim_summary, DKIM_POLICY); /* none aligned: the best of all */
    a->from_domain[0] = '\0';
    a->from_why = NULL;
    arrival_judge(f->dns, DMARC_MODE_RFC7489, 0, a);
    assert_int_equal(a->dmarc.result, DMARC_PERMERROR);
    assert_string_equal(a->dmarc.reason, "From: must hold exactly one address");
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_authentic_and_spoofed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dkim_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_readings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temporary_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trusted_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arc_on_arrival, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authres, setup, teardown),
        cmocka_unit_test_setup_teardown(test_judge, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
