/* Unit tests for metrics: updates, histograms, label escaping and the
 * Prometheus text exposition (format 0.0.4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dkim.h"
#include "dmarc.h"
#include "dns.h"
#include "metrics.h"
#include "spf.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(const struct metrics *m)
{
    char *buf = malloc(METRICS_RENDER_MAX + 1);
    assert_non_null(buf);
    size_t len = 0;
    assert_int_equal(metrics_render(m, buf, METRICS_RENDER_MAX, &len), 0);
    assert_true(len > 0 && len < METRICS_RENDER_MAX);
    buf[len] = '\0';
    assert_int_equal(strlen(buf), len);
    return buf;
}

/* The value text of one series ("name{labels}"), which must appear once. */
static const char *value(const char *text, const char *series, char *out, size_t outsz)
{
    size_t sl = strlen(series);
    const char *found = NULL;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if ((size_t)(nl - p) > sl && strncmp(p, series, sl) == 0 && p[sl] == ' ') {
            if (found)
                fail_msg("series %s appears twice", series);
            size_t vl = (size_t)(nl - p) - sl - 1;
            assert_true(vl < outsz);
            memcpy(out, p + sl + 1, vl);
            out[vl] = '\0';
            found = out;
        }
        p = nl + 1;
    }
    if (!found)
        fail_msg("series %s not found", series);
    return found;
}

static void expect(const char *text, const char *series, const char *want)
{
    char v[64];
    value(text, series, v, sizeof(v));
    if (strcmp(v, want) != 0)
        fail_msg("%s = %s, expected %s", series, v, want);
}

static int is_name_start(int c)
{
    return isalpha(c) || c == '_' || c == ':';
}

/* A strict reading of the text format: every line is "# HELP name text",
 * "# TYPE name type" (once per family, before its samples) or a sample of
 * the family last typed, with well-formed labels and a number. */
static void check_format(const char *text)
{
    char family[128] = "", type[32] = "";
    int samples = 0;
    assert_true(text[strlen(text) - 1] == '\n');
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        char line[1024];
        size_t ll = (size_t)(nl - p);
        assert_true(ll > 0 && ll < sizeof(line));
        memcpy(line, p, ll);
        line[ll] = '\0';
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            char name[128];
            assert_int_equal(sscanf(line + 7, "%127s", name), 1);
            assert_true(strcmp(name, family) != 0); /* a new family */
            snprintf(family, sizeof(family), "%s", name);
            type[0] = '\0';
            assert_true(strlen(line) > 8 + strlen(name)); /* some help text */
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128], t[32];
            assert_int_equal(sscanf(line + 7, "%127s %31s", name, t), 2);
            assert_string_equal(name, family);
            assert_true(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 ||
                        strcmp(t, "histogram") == 0);
            snprintf(type, sizeof(type), "%s", t);
            continue;
        }
        assert_true(line[0] != '#');
        assert_true(type[0]); /* samples only after their TYPE */
        /* Metric name. */
        const char *q = line;
        assert_true(is_name_start((unsigned char)*q));
        while (is_name_start((unsigned char)*q) || isdigit((unsigned char)*q))
            q++;
        size_t nl2 = (size_t)(q - line);
        size_t fl = strlen(family);
        assert_true(nl2 >= fl && strncmp(line, family, fl) == 0);
        const char *suffix = line + fl;
        if (strcmp(type, "histogram") == 0)
            assert_true(strncmp(suffix, "_bucket", 7) == 0 || strncmp(suffix, "_sum", 4) == 0 ||
                        strncmp(suffix, "_count", 6) == 0);
        else
            assert_int_equal(nl2, fl);
        if (strcmp(type, "counter") == 0)
            assert_true(fl > 6 && strcmp(family + fl - 6, "_total") == 0);
        /* Labels. */
        if (*q == '{') {
            q++;
            for (;;) {
                assert_true(is_name_start((unsigned char)*q));
                while (isalnum((unsigned char)*q) || *q == '_')
                    q++;
                assert_true(q[0] == '=' && q[1] == '"');
                q += 2;
                while (*q != '"') {
                    assert_true(*q && *q != '\n');
                    if (*q == '\\') {
                        q++;
                        assert_true(*q == '\\' || *q == '"' || *q == 'n');
                    }
                    q++;
                }
                q++;
                if (*q == ',') {
                    q++;
                    continue;
                }
                assert_true(*q == '}');
                q++;
                break;
            }
        }
        assert_true(*q == ' ');
        q++;
        char *end;
        strtod(q, &end);
        assert_true(end != q && *end == '\0');
        samples++;
    }
    assert_true(samples > 100);
}

static void test_fresh_registry(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    assert_non_null(m);
    char *t = render(m);
    check_format(t);
    expect(t, "fwdauth_srs_lookups_total{protocol=\"socketmap\",map=\"forward\",result=\"found\"}",
           "0");
    expect(t, "fwdauth_srs_lookups_total{protocol=\"socketmap\",map=\"unknown\",result=\"error\"}",
           "0");
    assert_null(strstr(t, "map=\"unknown\",result=\"found\""));
    assert_null(strstr(t, "protocol=\"tcp_table\",map=\"unknown\""));
    expect(t, "fwdauth_milter_messages_total{action=\"quarantine\"}", "0");
    expect(t, "fwdauth_sign_duration_seconds_count{kind=\"dkim\"}", "0");
    expect(t, "fwdauth_sign_duration_seconds_sum{kind=\"arc\"}", "0.000000000");
    expect(t, "fwdauth_config_reloads_total{result=\"failure\"}", "0");
    expect(t, "fwdauth_build_info{version=\"" FWDAUTH_VERSION "\"}", "1");
    char v[64];
    double start = strtod(value(t, "fwdauth_start_time_seconds", v, sizeof(v)), NULL);
    assert_true(start > 1.7e9);
    expect(t, "fwdauth_config_last_reload_success_timestamp_seconds", v);
    /* HELP and TYPE once per family. */
    assert_non_null(strstr(t, "# HELP fwdauth_sign_duration_seconds "));
    assert_non_null(strstr(t, "# TYPE fwdauth_sign_duration_seconds histogram\n"));
    assert_non_null(strstr(t, "# TYPE fwdauth_connections_active gauge\n"));
    free(t);
    metrics_free(m);
}

static void test_counters(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    for (int i = 0; i < 3; i++)
        metrics_srs_lookup(m, METRICS_TCP_TABLE, METRICS_MAP_REVERSE, METRICS_NOTFOUND);
    metrics_srs_lookup(m, METRICS_SOCKETMAP, METRICS_MAP_UNKNOWN, METRICS_ERROR);
    metrics_milter_message(m, METRICS_REJECT);
    metrics_milter_message(m, METRICS_CONTINUE);
    metrics_milter_message(m, METRICS_CONTINUE);
    metrics_milter_aborted(m);
    metrics_signature(m, METRICS_SIG_FORWARDER);
    metrics_rewrite(m, METRICS_REWRITE_SRS);
    metrics_auth_result(m, METRICS_SPF, SPF_SOFTFAIL);
    metrics_auth_result(m, METRICS_DKIM, DKIM_TEMPERROR);
    metrics_auth_result(m, METRICS_DMARC, DMARC_FAIL);
    metrics_auth_result(m, METRICS_ARC, 1 /* ARC_CV_PASS */);
    metrics_connection_open(m, METRICS_L_MILTER);
    metrics_connection_open(m, METRICS_L_MILTER);
    metrics_connection_close(m, METRICS_L_MILTER);
    metrics_connection_refused(m, METRICS_L_SOCKETMAP);
    metrics_dns_query(m, DNS_T_TXT, 0.002, DNS_FAIL_NONE);
    metrics_dns_query(m, DNS_T_SPF, 5.0, DNS_FAIL_TIMEOUT);
    metrics_dns_query(m, DNS_T_A, 0.0001, DNS_FAIL_SERVFAIL);
    metrics_dns_query(m, DNS_T_A, 0.0001, DNS_FAIL_OTHER);
    metrics_reload(m, 1, 2000000000);
    metrics_reload(m, 0, 2100000000);

    /* Out of range, or no registry: ignored. */
    metrics_srs_lookup(m, METRICS_NPROTOCOLS, 0, 0);
    metrics_srs_lookup(m, 0, -1, 0);
    metrics_srs_lookup(m, 0, 0, METRICS_NRESULTS);
    metrics_milter_message(m, METRICS_NACTIONS);
    metrics_milter_message(m, -1);
    metrics_signature(m, METRICS_NSIGS);
    metrics_auth_result(m, METRICS_DMARC, DMARC_PERMERROR + 1);
    metrics_auth_result(m, METRICS_NAUTH, 0);
    metrics_connection_open(m, METRICS_NLISTENERS);
    metrics_sign_duration(m, METRICS_NSIGNKINDS, 1);
    metrics_srs_lookup(NULL, 0, 0, 0);
    metrics_milter_message(NULL, 0);
    metrics_milter_aborted(NULL);
    metrics_signature(NULL, 0);
    metrics_rewrite(NULL, 0);
    metrics_auth_result(NULL, 0, 0);
    metrics_sign_duration(NULL, 0, 1);
    metrics_dns_query(NULL, DNS_T_A, 1, DNS_FAIL_TIMEOUT);
    metrics_connection_open(NULL, 0);
    metrics_connection_close(NULL, 0);
    metrics_connection_refused(NULL, 0);
    metrics_reload(NULL, 1, 0);
    metrics_free(NULL);

    char *t = render(m);
    check_format(t);
    expect(t,
           "fwdauth_srs_lookups_total{protocol=\"tcp_table\",map=\"reverse\",result=\"notfound\"}",
           "3");
    expect(t, "fwdauth_srs_lookups_total{protocol=\"tcp_table\",map=\"reverse\",result=\"found\"}",
           "0");
    expect(t, "fwdauth_srs_lookups_total{protocol=\"socketmap\",map=\"unknown\",result=\"error\"}",
           "1");
    expect(t, "fwdauth_milter_messages_total{action=\"reject\"}", "1");
    expect(t, "fwdauth_milter_messages_total{action=\"continue\"}", "2");
    expect(t, "fwdauth_milter_messages_total{action=\"accept\"}", "0");
    expect(t, "fwdauth_milter_messages_aborted_total", "1");
    expect(t, "fwdauth_milter_signatures_total{kind=\"forwarder\"}", "1");
    expect(t, "fwdauth_milter_signatures_total{kind=\"dkim\"}", "0");
    expect(t, "fwdauth_milter_srs_rewrites_total", "1");
    expect(t, "fwdauth_milter_from_rewrites_total", "0");
    expect(t, "fwdauth_spf_results_total{result=\"softfail\"}", "1");
    expect(t, "fwdauth_dkim_results_total{result=\"temperror\"}", "1");
    expect(t, "fwdauth_dmarc_results_total{result=\"fail\"}", "1");
    expect(t, "fwdauth_arc_results_total{result=\"pass\"}", "1");
    expect(t, "fwdauth_arc_results_total{result=\"fail\"}", "0");
    expect(t, "fwdauth_connections_total{listener=\"milter\"}", "2");
    expect(t, "fwdauth_connections_active{listener=\"milter\"}", "1");
    expect(t, "fwdauth_connections_refused_total{listener=\"socketmap\"}", "1");
    expect(t, "fwdauth_dns_query_duration_seconds_count{type=\"txt\"}", "1");
    expect(t, "fwdauth_dns_query_duration_seconds_bucket{type=\"txt\",le=\"0.001\"}", "0");
    expect(t, "fwdauth_dns_query_duration_seconds_bucket{type=\"txt\",le=\"0.0025\"}", "1");
    expect(t, "fwdauth_dns_query_duration_seconds_count{type=\"other\"}", "1"); /* SPF */
    expect(t, "fwdauth_dns_query_duration_seconds_bucket{type=\"other\",le=\"5\"}", "1");
    expect(t, "fwdauth_dns_query_duration_seconds_sum{type=\"other\"}", "5.000000000");
    expect(t, "fwdauth_dns_query_duration_seconds_count{type=\"a\"}", "2");
    expect(t, "fwdauth_dns_errors_total{kind=\"timeout\"}", "1");
    expect(t, "fwdauth_dns_errors_total{kind=\"servfail\"}", "1");
    expect(t, "fwdauth_dns_errors_total{kind=\"other\"}", "1");
    expect(t, "fwdauth_config_reloads_total{result=\"success\"}", "1");
    expect(t, "fwdauth_config_reloads_total{result=\"failure\"}", "1");
    /* A failed reload does not move the time of the last good one. */
    expect(t, "fwdauth_config_last_reload_success_timestamp_seconds", "2000000000.000");
    free(t);
    metrics_free(m);
}

static void test_histogram(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    metrics_sign_duration(m, METRICS_SIGN_DKIM, 0.0003);
    metrics_sign_duration(m, METRICS_SIGN_DKIM, 0.001);  /* on a bound: le="0.001" */
    metrics_sign_duration(m, METRICS_SIGN_DKIM, 2.5);    /* above every bound: +Inf */
    metrics_sign_duration(m, METRICS_SIGN_DKIM, -1);     /* clamped to 0 */
    metrics_sign_duration(m, METRICS_SIGN_ARC, 0.00005); /* first bucket */
    char *t = render(m);
    check_format(t);
    static const char *const want[][2] = {
        {"0.0001", "1"}, {"0.00025", "1"}, {"0.0005", "2"}, {"0.001", "3"}, {"0.0025", "3"},
        {"0.005", "3"},  {"0.01", "3"},    {"0.025", "3"},  {"0.05", "3"},  {"0.1", "3"},
        {"0.25", "3"},   {"0.5", "3"},     {"1", "3"},      {"+Inf", "4"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char series[128];
        snprintf(series, sizeof(series),
                 "fwdauth_sign_duration_seconds_bucket{kind=\"dkim\",le=\"%s\"}", want[i][0]);
        expect(t, series, want[i][1]);
    }
    expect(t, "fwdauth_sign_duration_seconds_count{kind=\"dkim\"}", "4");
    expect(t, "fwdauth_sign_duration_seconds_sum{kind=\"dkim\"}", "2.501300000");
    expect(t, "fwdauth_sign_duration_seconds_bucket{kind=\"arc\",le=\"0.0001\"}", "1");
    expect(t, "fwdauth_sign_duration_seconds_count{kind=\"arc\"}", "1");
    expect(t, "fwdauth_sign_duration_seconds_sum{kind=\"arc\"}", "0.000050000");
    free(t);
    metrics_free(m);
}

static void test_escape_and_bounds(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(metrics_escape_label("plain", out, sizeof(out)), 5);
    assert_string_equal(out, "plain");
    assert_int_equal(metrics_escape_label("a\"b\\c\nd", out, sizeof(out)), 10);
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
    assert_int_equal(metrics_escape_label("", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* Too small: -1, still terminated. */
    assert_int_equal(metrics_escape_label("abcdef", out, 4), -1);
    assert_true(strlen(out) < 4);
    assert_int_equal(metrics_escape_label("ab\"", out, 4), -1);
    assert_int_equal(metrics_escape_label("abc", out, 4), 3);
    assert_int_equal(metrics_escape_label("x", out, 0), -1);

    /* A buffer too small for the output: -1, never an overflow. */
    struct metrics *m = metrics_new();
    char small[1000];
    size_t len = 12345;
    assert_int_equal(metrics_render(m, small, sizeof(small), &len), -1);
    assert_int_equal(len, 12345);
    assert_int_equal(metrics_render(m, small, 1, &len), -1);
    assert_int_equal(metrics_render(m, small, 0, &len), -1);
    assert_int_equal(metrics_render(NULL, small, sizeof(small), &len), -1);
    /* The exact size fits; one less does not. */
    char *t = render(m);
    size_t need = strlen(t) + 1; /* with the NUL vsnprintf writes */
    char *exact = malloc(need);
    assert_non_null(exact);
    assert_int_equal(metrics_render(m, exact, need, &len), 0);
    assert_int_equal(len, need - 1);
    assert_memory_equal(exact, t, len);
    assert_int_equal(metrics_render(m, exact, need - 1, &len), -1);
    free(exact);
    free(t);
    metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 100000

static void *hammer(void *arg)
{
    struct metrics *m = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        metrics_srs_lookup(m, METRICS_SOCKETMAP, METRICS_MAP_FORWARD, METRICS_FOUND);
        metrics_sign_duration(m, METRICS_SIGN_DKIM, 0.001);
        metrics_connection_open(m, METRICS_L_SOCKETMAP);
        metrics_connection_close(m, METRICS_L_SOCKETMAP);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
    /* Scrapes while the counters move: each output is well-formed. */
    for (int i = 0; i < 20; i++) {
        char *txt = render(m);
        check_format(txt);
        free(txt);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *txt = render(m);
    char want[32];
    snprintf(want, sizeof(want), "%d", THREADS * PER_THREAD);
    expect(txt,
           "fwdauth_srs_lookups_total{protocol=\"socketmap\",map=\"forward\",result=\"found\"}",
           want);
    expect(txt, "fwdauth_sign_duration_seconds_count{kind=\"dkim\"}", want);
    expect(txt, "fwdauth_sign_duration_seconds_sum{kind=\"dkim\"}", "400.000000000");
    expect(txt, "fwdauth_connections_total{listener=\"socketmap\"}", want);
    expect(txt, "fwdauth_connections_active{listener=\"socketmap\"}", "0");
    free(txt);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_registry), cmocka_unit_test(test_counters),
        cmocka_unit_test(test_histogram),      cmocka_unit_test(test_escape_and_bounds),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
