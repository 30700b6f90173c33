/* Unit tests for doctor (the checks behind fwdauth doctor): the parsers of
 * postconf and postmap -s output, Postfix lists, the probes' replies and
 * zone-file lines; then the checks over inputs built here (postconf text,
 * a listed virtual alias table, stat data, probe replies, a zone resolver),
 * starting from the README's milter set-up, which must give no problem, and
 * breaking one thing at a time: each must be named by its check with the
 * exact line to add. Linked to the top layer only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_zone.h"

#include "config.h"
#include "doctor.h"
#include "lint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- parsers */

static void parse_ok(const char *text, struct doctor_pairs *p)
{
    fa_err err = {{0}};
    if (doctor_postconf_parse(text, strlen(text), p, &err) != 0)
        fail_msg("postconf text refused: %s", err.msg);
}

static void test_postconf_parse(void **state)
{
    (void)state;
    struct doctor_pairs p = {0};
    parse_ok("mail_version = 3.7.11\n"
             "smtpd_milters = inet:127.0.0.1:8891,\n"
             "    inet:127.0.0.1:8892\n"
             "empty =\n"
             "milter_default_action = accept\n"
             "milter_default_action = tempfail\n",
             &p);
    assert_string_equal(doctor_pair(&p, "mail_version"), "3.7.11");
    /* A continuation line joins the previous value. */
    assert_non_null(strstr(doctor_pair(&p, "smtpd_milters"), "inet:127.0.0.1:8892"));
    assert_non_null(strstr(doctor_pair(&p, "smtpd_milters"), "8891,"));
    assert_string_equal(doctor_pair(&p, "empty"), "");
    /* The later pair wins. */
    assert_string_equal(doctor_pair(&p, "milter_default_action"), "tempfail");
    assert_null(doctor_pair(&p, "absent"));
    doctor_pairs_free(&p);

    /* master.cf service names in parameter names (Debian's stock master.cf). */
    parse_ok("scalemail-backend_delivery_slot_cost = 5\n", &p);
    assert_string_equal(doctor_pair(&p, "scalemail-backend_delivery_slot_cost"), "5");
    doctor_pairs_free(&p);

    /* No trailing newline, CRLF-free text, an empty text. */
    parse_ok("a = b", &p);
    assert_string_equal(doctor_pair(&p, "a"), "b");
    doctor_pairs_free(&p);
    parse_ok("", &p);
    assert_int_equal(p.n, 0);
    doctor_pairs_free(&p);

    /* Not "name = value": refused, the pairs left empty. */
    static const char *const bad[] = {"no equals sign\n", "= value\n", "bad name! = x\n",
                                      "ok = 1\nbroken\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fa_err err = {{0}};
        struct doctor_pairs q = {0};
        assert_int_equal(doctor_postconf_parse(bad[i], strlen(bad[i]), &q, &err), -1);
        assert_int_equal(q.n, 0);
        assert_true(err.msg[0] != '\0');
        doctor_pairs_free(&q);
    }
}

static void test_postmap_parse(void **state)
{
    (void)state;
    const char *text = "alias@example.net\tsomeone@remote.test\n"
                       "dev@lists.example.net  a@remote.test, b@remote.test\n";
    struct doctor_pairs p = {0};
    fa_err err = {{0}};
    assert_int_equal(doctor_postmap_parse(text, strlen(text), &p, &err), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(doctor_pair(&p, "alias@example.net"), "someone@remote.test");
    assert_string_equal(doctor_pair(&p, "dev@lists.example.net"), "a@remote.test, b@remote.test");
    doctor_pairs_free(&p);
}

static void test_list_next(void **state)
{
    (void)state;
    const char *list = "inet:127.0.0.1:8891, { unix:/run/m.sock, default_action=accept }\t"
                       "hash:/etc/postfix/virtual ,,x";
    const char *want[] = {"inet:127.0.0.1:8891", "{ unix:/run/m.sock, default_action=accept }",
                          "hash:/etc/postfix/virtual", "x"};
    char item[DOCTOR_ITEM_MAX];
    size_t n = 0;
    while (doctor_list_next(&list, item, sizeof(item)) == 1) {
        assert_true(n < 4);
        assert_string_equal(item, want[n]);
        n++;
    }
    assert_int_equal(n, 4);
    /* An item longer than the buffer is cut, not overrun. */
    const char *longl = "abcdefghijklmnop, q";
    char small[5];
    assert_int_equal(doctor_list_next(&longl, small, sizeof(small)), 1);
    assert_string_equal(small, "abcd");
    assert_int_equal(doctor_list_next(&longl, small, sizeof(small)), 1);
    assert_string_equal(small, "q");
    /* An unclosed brace runs to the end. */
    const char *open = "{ a, b";
    assert_int_equal(doctor_list_next(&open, item, sizeof(item)), 1);
    assert_string_equal(item, "{ a, b");
    assert_int_equal(doctor_list_next(&open, item, sizeof(item)), 0);
}

static void test_replies(void **state)
{
    (void)state;
    char v[64];
    assert_int_equal(doctor_socketmap_reply("8:OK x@y.z,", 11, v, sizeof(v)), DOCTOR_REPLY_FOUND);
    assert_string_equal(v, "x@y.z");
    assert_int_equal(doctor_socketmap_reply("9:NOTFOUND ,", 12, v, sizeof(v)),
                     DOCTOR_REPLY_NOTFOUND);
    assert_int_equal(doctor_socketmap_reply("9:TEMP busy,", 12, v, sizeof(v)), DOCTOR_REPLY_TEMP);
    assert_string_equal(v, "busy");
    assert_int_equal(doctor_socketmap_reply("9:PERM nope,", 12, v, sizeof(v)), DOCTOR_REPLY_PERM);
    /* Wrong length, no comma, not a netstring, a reply of another protocol. */
    static const char *const bad[] = {"9:OK x,", "4:OK x", "OK x@y.z", "200 x@y.z\n", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(doctor_socketmap_reply(bad[i], strlen(bad[i]), v, sizeof(v)),
                         DOCTOR_REPLY_MALFORMED);

    assert_int_equal(doctor_tcptable_reply("200 a%40b.c\n", 12, v, sizeof(v)), DOCTOR_REPLY_FOUND);
    assert_string_equal(v, "a@b.c");
    assert_int_equal(doctor_tcptable_reply("500 not%20found\n", 16, v, sizeof(v)),
                     DOCTOR_REPLY_NOTFOUND);
    assert_int_equal(doctor_tcptable_reply("400 later\n", 10, v, sizeof(v)), DOCTOR_REPLY_TEMP);
    assert_int_equal(doctor_tcptable_reply("9:OK x@y.z,", 11, v, sizeof(v)),
                     DOCTOR_REPLY_MALFORMED);
    assert_int_equal(doctor_tcptable_reply("", 0, v, sizeof(v)), DOCTOR_REPLY_MALFORMED);

    /* A value longer than the buffer is cut. */
    char tiny[4];
    assert_int_equal(doctor_tcptable_reply("200 abcdef\n", 11, tiny, sizeof(tiny)),
                     DOCTOR_REPLY_FOUND);
    assert_string_equal(tiny, "abc");

    unsigned ver, act, proto;
    const char optneg[] = {0, 0, 0, 13, 'O', 0, 0, 0, 6, 0, 0, 1, (char)0xff, 0, 0x1f, 0, 0};
    assert_int_equal(doctor_milter_optneg(optneg, sizeof(optneg), &ver, &act, &proto), 0);
    assert_int_equal(ver, 6);
    assert_int_equal(act, 0x1ff);
    assert_int_equal(proto, 0x1f0000);
    const char notopt[] = {0, 0, 0, 1, 'c'};
    assert_int_equal(doctor_milter_optneg(notopt, sizeof(notopt), &ver, &act, &proto), -1);
    assert_int_equal(doctor_milter_optneg(optneg, 8, &ver, &act, &proto), -1);
}

static void test_zone_txt(void **state)
{
    (void)state;
    char out[1024];
    assert_true(doctor_zone_txt("_dmarc.example.net", "v=DMARC1; p=\"x\\", 15, out, sizeof(out)) >
                0);
    assert_string_equal(out, "_dmarc.example.net. 3600 IN TXT \"v=DMARC1; p=\\\"x\\\\\"");
    /* Over 255 octets: split into strings of at most 255. */
    char txt[300];
    memset(txt, 'a', sizeof(txt));
    int n = doctor_zone_txt("k._domainkey.example.net.", txt, sizeof(txt), out, sizeof(out));
    assert_int_equal(n, (int)strlen(out));
    const char *q1 = strchr(out, '"');
    const char *q2 = strchr(q1 + 1, '"');
    assert_int_equal(q2 - q1 - 1, 255);
    assert_non_null(strstr(q2, "\" \""));
    /* A control octet as \DDD; a buffer too small: -1. */
    assert_true(doctor_zone_txt("a.example", "x\001", 2, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "\"x\\001\""));
    assert_int_equal(doctor_zone_txt("a.example", "x", 1, out, 8), -1);
}

/* ---------------------------------------------------------------- checks */

/* The README's milter set-up as fwdauthd.conf and main.cf (postconf -x and
 * -n alike; these are the values doctor reads). */
static const char *const CONF = "srs_domain = srs.example.net\n"
                                "srs_secrets = /etc/fwdauth/srs-secrets\n"
                                "local_domains = example.net, .example.net\n"
                                "socketmap_listen = inet:127.0.0.1:10003\n"
                                "milter_listen = inet:127.0.0.1:8891\n"
                                "authserv_id = mx.example.net\n"
                                "forward_recipients = alias@example.net, @lists.example.net\n"
                                "srs_forwarded_mail = yes\n"
                                "from_rewrite = reject\n"
                                "from_rewrite_address = forwarder@example.net\n";

static const char *const MAIN_CF =
    "mail_version = 3.7.11\n"
    "config_directory = /etc/postfix\n"
    "queue_directory = /var/spool/postfix\n"
    "smtpd_milters = inet:127.0.0.1:8891\n"
    "non_smtpd_milters = inet:127.0.0.1:8891\n"
    "milter_default_action = tempfail\n"
    "disable_mime_output_conversion = yes\n"
    "recipient_canonical_maps = socketmap:inet:127.0.0.1:10003:reverse\n"
    "recipient_canonical_classes = envelope_recipient, header_recipient\n"
    "virtual_alias_maps = hash:/etc/postfix/virtual\n"
    "virtual_alias_domains = hash:/etc/postfix/virtual, srs.example.net\n"
    "mydestination = mx.example.net, localhost\n";

static const char *const VIRTUAL = "alias@example.net\tsomeone@remote.test\n"
                                   "dev@lists.example.net\tdev@remote.test\n";

struct fixture {
    struct fa_config cfg;
    struct doctor_pairs pf, pf_n;
    struct doctor_table table;
    struct doctor_finding f[DOCTOR_FINDINGS_MAX];
    struct doctor_report r;
    struct doctor_input in;
};

/* Loads conf (the README's, then extra lines) and main.cf (the README's,
 * then extra settings, which win). */
static struct fixture *fixture(const char *conf_extra, const char *main_extra,
                               const char *virtual_text)
{
    struct fixture *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    config_init(&x->cfg);
    char buf[8192];
    snprintf(buf, sizeof(buf), "%s%s", CONF, conf_extra ? conf_extra : "");
    fa_err err = {{0}};
    if (config_load_buf(&x->cfg, "t.conf", buf, strlen(buf), &err) != 0)
        fail_msg("config: %s", err.msg);
    snprintf(buf, sizeof(buf), "%s%s", MAIN_CF, main_extra ? main_extra : "");
    parse_ok(buf, &x->pf);
    parse_ok(buf, &x->pf_n);
    x->table.name = "hash:/etc/postfix/virtual";
    x->table.listed = 1;
    const char *v = virtual_text ? virtual_text : VIRTUAL;
    assert_int_equal(doctor_postmap_parse(v, strlen(v), &x->table.entries, &err), 0);
    doctor_report_init(&x->r, x->f, DOCTOR_FINDINGS_MAX);
    x->in.cfg = &x->cfg;
    x->in.cfg_path = "t.conf";
    x->in.pf = &x->pf;
    x->in.pf_n = &x->pf_n;
    x->in.tables = &x->table;
    x->in.ntables = 1;
    x->in.read_as_root = 1;
    x->in.user.name = "nobody";
    x->in.user.known = 1;
    x->in.user.uid = 65534;
    x->in.user.gid = 65534;
    return x;
}

static void fixture_free(struct fixture *x)
{
    doctor_pairs_free(&x->pf);
    doctor_pairs_free(&x->pf_n);
    doctor_pairs_free(&x->table.entries);
    config_free(&x->cfg);
    free(x);
}

static void dump(const struct doctor_report *r)
{
    for (size_t i = 0; i < r->n; i++)
        print_message("  %s: %s: %s [%s: %s]\n", lint_level_name(r->f[i].level), r->f[i].check,
                      r->f[i].text, doctor_fix_in_name(r->f[i].fix_in), r->f[i].fix);
}

/* The finding of check at level, with the fix (NULL: any). */
static const struct doctor_finding *want(const struct doctor_report *r, int level,
                                         const char *check, int fix_in, const char *fix)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct doctor_finding *f = &r->f[i];
        if (f->level == level && strcmp(f->check, check) == 0 &&
            (!fix || (f->fix_in == fix_in && strcmp(f->fix, fix) == 0)))
            return f;
    }
    dump(r);
    fail_msg("no %s %s finding with [%s: %s]", lint_level_name(level), check,
             doctor_fix_in_name(fix_in), fix ? fix : "*");
    return NULL;
}

static void postfix_case(const char *conf_extra, const char *main_extra, const char *virtual_text,
                         const char *check, int level, int fix_in, const char *fix)
{
    struct fixture *x = fixture(conf_extra, main_extra, virtual_text);
    doctor_check_postfix(&x->in, &x->r);
    want(&x->r, level, check, fix_in, fix);
    if (level == LINT_PROBLEM)
        assert_true(x->r.count[LINT_PROBLEM] >= 1);
    fixture_free(x);
}

static void test_readme_setup_is_clean(void **state)
{
    (void)state;
    struct fixture *x = fixture(NULL, NULL, NULL);
    doctor_check_postfix(&x->in, &x->r);
    if (x->r.count[LINT_PROBLEM] || x->r.count[LINT_WARNING] || x->r.count[LINT_ERROR]) {
        dump(&x->r);
        fail_msg("the README's set-up is not clean");
    }
    static const char *const checks[] = {"postfix",
                                         "srs-reverse",
                                         "srs-forward",
                                         "recipient-canonical-classes",
                                         "smtpd-milters",
                                         "non-smtpd-milters",
                                         "milter-default-action",
                                         "mime-output-conversion",
                                         "srs-domain-accepted",
                                         "content-checks",
                                         "forward-recipients"};
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
        want(&x->r, LINT_OK, checks[i], 0, NULL);
    fixture_free(x);
}

static void test_postfix_broken_one_at_a_time(void **state)
{
    (void)state;
    postfix_case(NULL, "milter_default_action = accept\n", NULL, "milter-default-action",
                 LINT_PROBLEM, DOCTOR_FIX_MAIN_CF, "milter_default_action = tempfail");
    postfix_case(NULL, "disable_mime_output_conversion = no\n", NULL, "mime-output-conversion",
                 LINT_PROBLEM, DOCTOR_FIX_MAIN_CF, "disable_mime_output_conversion = yes");
    postfix_case(NULL, "virtual_alias_domains = hash:/etc/postfix/virtual\n", NULL,
                 "srs-domain-accepted", LINT_PROBLEM, DOCTOR_FIX_MAIN_CF,
                 "virtual_alias_domains = hash:/etc/postfix/virtual, srs.example.net");
    /* Accepted by relay_domains: bounces come home, forged SRS addresses too. */
    postfix_case(NULL,
                 "virtual_alias_domains = hash:/etc/postfix/virtual\n"
                 "relay_domains = srs.example.net\n",
                 NULL, "srs-domain-accepted", LINT_WARNING, DOCTOR_FIX_MAIN_CF,
                 "virtual_alias_domains = hash:/etc/postfix/virtual, srs.example.net");
    /* In mydestination: fine without a virtual_alias_domains line. */
    postfix_case(NULL,
                 "virtual_alias_domains = hash:/etc/postfix/virtual\n"
                 "mydestination = srs.example.net, localhost\n",
                 NULL, "srs-domain-accepted", LINT_OK, 0, NULL);
    postfix_case(NULL, "recipient_canonical_classes = header_recipient\n", NULL,
                 "recipient-canonical-classes", LINT_PROBLEM, DOCTOR_FIX_MAIN_CF,
                 "recipient_canonical_classes = envelope_recipient, header_recipient");
    postfix_case(NULL,
                 "sender_canonical_maps = socketmap:inet:127.0.0.1:10003:forward\n"
                 "sender_canonical_classes = envelope_sender, header_sender\n",
                 NULL, "sender-canonical-classes", LINT_PROBLEM, DOCTOR_FIX_MAIN_CF,
                 "sender_canonical_classes = envelope_sender");
    postfix_case(NULL, "recipient_canonical_maps =\n", NULL, "srs-reverse", LINT_PROBLEM,
                 DOCTOR_FIX_MAIN_CF,
                 "recipient_canonical_maps = socketmap:inet:127.0.0.1:10003:reverse");
    postfix_case(NULL, "recipient_canonical_maps = socketmap:inet:127.0.0.1:10003:forward\n", NULL,
                 "srs-reverse", LINT_PROBLEM, DOCTOR_FIX_MAIN_CF,
                 "recipient_canonical_maps = socketmap:inet:127.0.0.1:10003:reverse");
    postfix_case(NULL, "smtpd_milters = inet:127.0.0.1:9999\n", NULL, "smtpd-milters", LINT_PROBLEM,
                 DOCTOR_FIX_MAIN_CF, "smtpd_milters = inet:127.0.0.1:9999, inet:127.0.0.1:8891");
    /* localhost is 127.0.0.1 to Postfix: the same milter. */
    postfix_case(NULL, "smtpd_milters = inet:localhost:8891\n", NULL, "smtpd-milters", LINT_OK, 0,
                 NULL);
    /* A per-milter default_action overrides milter_default_action. */
    postfix_case(NULL, "smtpd_milters = { inet:127.0.0.1:8891, default_action=accept }\n", NULL,
                 "smtpd-milters", LINT_PROBLEM, DOCTOR_FIX_MAIN_CF,
                 "smtpd_milters = inet:127.0.0.1:8891");
    postfix_case(NULL, "non_smtpd_milters =\n", NULL, "non-smtpd-milters", LINT_PROBLEM,
                 DOCTOR_FIX_MAIN_CF, "non_smtpd_milters = inet:127.0.0.1:8891");
    /* Unix sockets: Postfix names them relative to its queue directory. */
    postfix_case("socketmap_listen = unix:/var/spool/postfix/srs\n",
                 "recipient_canonical_maps = socketmap:unix:srs:reverse\n", NULL, "srs-reverse",
                 LINT_OK, 0, NULL);
    postfix_case("socketmap_listen = unix:/var/spool/postfix/srs\n",
                 "recipient_canonical_maps = socketmap:unix:other:reverse\n", NULL, "srs-reverse",
                 LINT_PROBLEM, DOCTOR_FIX_MAIN_CF,
                 "recipient_canonical_maps = socketmap:unix:other:reverse, "
                 "socketmap:unix:srs:reverse");
    postfix_case("milter_listen = unix:/var/spool/postfix/private/fwdauth\n",
                 "smtpd_milters = unix:private/fwdauth\n"
                 "non_smtpd_milters = unix:/var/spool/postfix/private/fwdauth\n",
                 NULL, "smtpd-milters", LINT_OK, 0, NULL);
    postfix_case("milter_listen = unix:/var/spool/postfix/private/fwdauth\n",
                 "smtpd_milters = unix:private/fwdauth\n"
                 "non_smtpd_milters = unix:/var/spool/postfix/private/fwdauth\n",
                 NULL, "non-smtpd-milters", LINT_OK, 0, NULL);
    postfix_case("milter_listen = unix:/var/spool/postfix/private/fwdauth\n", NULL, NULL,
                 "smtpd-milters", LINT_PROBLEM, DOCTOR_FIX_MAIN_CF,
                 "smtpd_milters = inet:127.0.0.1:8891, unix:private/fwdauth");
    /* An alias Postfix forwards that fwdauthd does not know, and the other way round. */
    postfix_case(NULL, NULL,
                 "alias@example.net\tsomeone@remote.test\n"
                 "dev@lists.example.net\tdev@remote.test\n"
                 "new@example.net\tnew@remote.test\n",
                 "forward-recipients", LINT_PROBLEM, DOCTOR_FIX_FWDAUTHD_CONF,
                 "forward_recipients = alias@example.net, @lists.example.net, new@example.net");
    postfix_case(NULL, NULL, "dev@lists.example.net\tdev@remote.test\n", "forward-recipients",
                 LINT_PROBLEM, DOCTOR_FIX_FWDAUTHD_CONF, "forward_recipients = @lists.example.net");
    /* An alias that stays here is no forward. */
    postfix_case(NULL, NULL,
                 "alias@example.net\tsomeone@remote.test\n"
                 "dev@lists.example.net\tdev@remote.test\n"
                 "box@example.net\tpostmaster@localhost\n",
                 "forward-recipients", LINT_OK, 0, NULL);
}

static void test_postconf_failed(void **state)
{
    (void)state;
    struct fixture *x = fixture(NULL, NULL, NULL);
    x->in.pf = x->in.pf_n = NULL;
    x->in.pf_error = "postconf -x: fatal: open /etc/postfix/main.cf";
    doctor_check_postfix(&x->in, &x->r);
    const struct doctor_finding *f = want(&x->r, LINT_ERROR, "postfix", 0, NULL);
    assert_non_null(strstr(f->text, "/etc/postfix/main.cf"));
    assert_int_equal(x->r.n, 1);
    fixture_free(x);
}

static void test_files(void **state)
{
    (void)state;
    struct fixture *x = fixture(NULL, NULL, NULL);
    struct doctor_file files[] = {
        {.path = "/k/ok.private",
         .setting = "arc_key",
         .kind = DOCTOR_FILE_KEY,
         .regular = 1,
         .uid = 0,
         .gid = 0,
         .mode = S_IFREG | 0600},
        {.path = "/k/open.private",
         .setting = "arc_key",
         .kind = DOCTOR_FILE_KEY,
         .regular = 1,
         .uid = 0,
         .gid = 0,
         .mode = S_IFREG | 0644},
        {.path = "/k/missing", .setting = "srs_secrets", .kind = DOCTOR_FILE_SECRET, .err = 2},
        {.path = "/k/stranger",
         .setting = "arc_key",
         .kind = DOCTOR_FILE_KEY,
         .regular = 1,
         .uid = 1234,
         .gid = 0,
         .mode = S_IFREG | 0600},
    };
    x->in.files = files;
    x->in.nfiles = sizeof(files) / sizeof(files[0]);
    doctor_check_files(&x->in, &x->r);
    want(&x->r, LINT_OK, "key-file", 0, NULL);
    want(&x->r, LINT_PROBLEM, "key-file", DOCTOR_FIX_SHELL, "chmod o-rwx /k/open.private");
    want(&x->r, LINT_PROBLEM, "secret-file", 0, NULL);
    assert_int_equal(x->r.count[LINT_PROBLEM], 3);
    fixture_free(x);

    /* Without a root-started reader, the daemon's user must read every key. */
    x = fixture(NULL, NULL, NULL);
    x->in.read_as_root = 0;
    x->in.files = files;
    x->in.nfiles = 1;
    doctor_check_files(&x->in, &x->r);
    want(&x->r, LINT_PROBLEM, "key-file", 0, NULL);
    fixture_free(x);

    x = fixture(NULL, NULL, NULL);
    x->in.kt_error = "KeyTable:3: no such key file";
    doctor_check_files(&x->in, &x->r);
    want(&x->r, LINT_PROBLEM, "key-table", 0, NULL);
    fixture_free(x);
}

static void test_probes(void **state)
{
    (void)state;
    struct fixture *x = fixture(NULL, NULL, NULL);
    struct doctor_probe pr[3];
    memset(pr, 0, sizeof(pr));
    pr[0].kind = DOCTOR_PROBE_SOCKETMAP;
    pr[0].setting = "socketmap_listen";
    pr[0].address = "inet:127.0.0.1:10003";
    pr[0].nreq = 2;
    snprintf(pr[0].request[0], sizeof(pr[0].request[0]), "%s", DOCTOR_PROBE_ADDRESS);
    const char *srs_addr = "SRS0=abcd=JV=fwdauth-doctor.invalid=doctor-probe@srs.example.net";
    snprintf(pr[0].request[1], sizeof(pr[0].request[1]), "%s", srs_addr);
    pr[0].reply_len[0] = (size_t)snprintf(pr[0].reply[0], sizeof(pr[0].reply[0]), "%zu:OK %s,",
                                          strlen(srs_addr) + 3, srs_addr);
    pr[0].reply_len[1] = (size_t)snprintf(pr[0].reply[1], sizeof(pr[0].reply[1]), "%zu:OK %s,",
                                          strlen(DOCTOR_PROBE_ADDRESS) + 3, DOCTOR_PROBE_ADDRESS);
    pr[1].kind = DOCTOR_PROBE_MILTER;
    pr[1].setting = "milter_listen";
    pr[1].address = "inet:127.0.0.1:8891";
    pr[1].err = 111; /* ECONNREFUSED */
    pr[1].step = "connect";
    pr[2].kind = DOCTOR_PROBE_TCP_FORWARD;
    pr[2].setting = "tcp_forward_listen";
    pr[2].address = "inet:127.0.0.1:10001";
    pr[2].nreq = 1;
    pr[2].reply_len[0] = (size_t)snprintf(pr[2].reply[0], sizeof(pr[2].reply[0]), "garbage");
    x->in.probes = pr;
    x->in.nprobes = 3;
    doctor_check_probes(&x->in, &x->r);
    want(&x->r, LINT_OK, "daemon-socketmap", 0, NULL);
    const struct doctor_finding *f =
        want(&x->r, LINT_PROBLEM, "daemon-milter", DOCTOR_FIX_SHELL, "systemctl restart fwdauthd");
    assert_non_null(strstr(f->text, "does not answer"));
    want(&x->r, LINT_PROBLEM, "daemon-tcp-forward", 0, NULL);
    fixture_free(x);
}

static void test_dns(void **state)
{
    (void)state;
    static const char *const zone_ok =
        "srs.example.net. IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
        "srs.example.net. IN MX 10 mx.example.net.\n"
        "mx.example.net. IN A 192.0.2.1\n"
        "example.net. IN TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
        "_dmarc.example.net. IN TXT \"v=DMARC1; p=reject; rua=mailto:d@example.net\"\n";
    struct fixture *x = fixture(NULL, NULL, NULL);
    struct doctor_plan plan;
    fa_err err = {{0}};
    assert_int_equal(doctor_plan_make(&x->cfg, NULL, &plan, &err), 0);
    assert_int_equal(plan.ndom, 2); /* srs_domain and the rewrite domain */
    x->in.plan = &plan;
    x->in.dns = test_zone(zone_ok);
    doctor_check_dns(&x->in, &x->r);
    want(&x->r, LINT_OK, "srs-domain-spf", 0, NULL);
    want(&x->r, LINT_OK, "srs-domain-mx", 0, NULL);
    want(&x->r, LINT_OK, "rewrite-domain-dmarc", 0, NULL);
    want(&x->r, LINT_OK, "rewrite-domain-spf", 0, NULL);
    /* No KeyTable: rewritten From: fields would go out unsigned. */
    want(&x->r, LINT_PROBLEM, "rewrite-domain-dkim", DOCTOR_FIX_FWDAUTHD_CONF,
         "forward_signing_key = NAME (a KeyTable entry of example.net)");
    assert_int_equal(x->r.count[LINT_PROBLEM], 1);
    dns_free(x->in.dns);
    fixture_free(x);

    /* Nothing published: each named, with a zone line. */
    x = fixture(NULL, NULL, NULL);
    x->in.plan = &plan;
    x->in.dns = test_zone("other.example. IN A 192.0.2.9\n");
    doctor_check_dns(&x->in, &x->r);
    const struct doctor_finding *f = want(&x->r, LINT_PROBLEM, "srs-domain-mx", 0, NULL);
    assert_int_equal(f->fix_in, DOCTOR_FIX_DNS);
    assert_non_null(strstr(f->fix, "srs.example.net. 3600 IN MX"));
    f = want(&x->r, LINT_PROBLEM, "rewrite-domain-dmarc", 0, NULL);
    assert_int_equal(f->fix_in, DOCTOR_FIX_DNS);
    assert_non_null(strstr(f->fix, "_dmarc.example.net. 3600 IN TXT \"v=DMARC1;"));
    f = want(&x->r, LINT_PROBLEM, "srs-domain-spf", 0, NULL);
    assert_int_equal(f->fix_in, DOCTOR_FIX_DNS);
    assert_non_null(strstr(f->fix, "\"v=spf1"));
    dns_free(x->in.dns);
    fixture_free(x);
    doctor_plan_free(&plan);
}

static void test_report_full(void **state)
{
    (void)state;
    struct fixture *x = fixture(NULL, "milter_default_action = accept\n", NULL);
    struct doctor_finding two[2];
    struct doctor_report r;
    doctor_report_init(&r, two, 2);
    doctor_check_postfix(&x->in, &r);
    assert_int_equal(r.n, 2);
    assert_true(r.dropped > 0);
    /* Counted all the same: the problem beyond the room is not lost. */
    assert_int_equal(r.count[LINT_PROBLEM], 1);
    assert_int_equal(r.n + r.dropped, r.count[LINT_OK] + r.count[LINT_WARNING] +
                                          r.count[LINT_PROBLEM] + r.count[LINT_ERROR]);
    fixture_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postconf_parse),
        cmocka_unit_test(test_postmap_parse),
        cmocka_unit_test(test_list_next),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_zone_txt),
        cmocka_unit_test(test_readme_setup_is_clean),
        cmocka_unit_test(test_postfix_broken_one_at_a_time),
        cmocka_unit_test(test_postconf_failed),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_dns),
        cmocka_unit_test(test_report_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
