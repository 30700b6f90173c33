/* logscan_report - write what fwdauth logscan found (see logscan_report.h). */
#include "logscan_report.h"

#include "cli.h"
#include "config.h"
#include "dmarc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *logscan_status_name(enum ml_status st)
{
    switch (st) {
    case ML_ST_BOUNCED:
        return "bounced";
    case ML_ST_DEFERRED:
        return "deferred";
    case ML_ST_EXPIRED:
        return "expired";
    default:
        return "other";
    }
}

void logscan_stamp(char *out, size_t n, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == INT64_MIN || !gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, n, "unknown");
}

/* The from_rewrite value that rewrites senders with policy p. */
static int rewrite_needed(const char *p)
{
    return !strcmp(p, "quarantine") ? FA_REWRITE_REJECT_AND_QUARANTINE : FA_REWRITE_REJECT;
}

static const char *rewrite_name(int mode)
{
    switch (mode) {
    case FA_REWRITE_REJECT:
        return "reject";
    case FA_REWRITE_REJECT_AND_QUARANTINE:
        return "reject-and-quarantine";
    case FA_REWRITE_ALWAYS:
        return "always";
    default:
        return "off";
    }
}

/* One line of advice for a domain's failures. With -c (st->known) it
 * builds on what the configuration already does instead of advising it
 * again: a setting that is on and still did not help points at why. */
static void advise(char *out, size_t n, const struct domain_row *d, int receiver,
                   const struct logscan_setup *st)
{
    size_t used = 0;
    out[0] = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (used < n) {                                                                            \
            int k = snprintf(out + used, n - used, "%s", used ? "; " : "");                        \
            used += k > 0 ? (size_t)k : 0;                                                         \
        }                                                                                          \
        if (used < n) {                                                                            \
            int k = snprintf(out + used, n - used, __VA_ARGS__);                                   \
            used += k > 0 ? (size_t)k : 0;                                                         \
        }                                                                                          \
    } while (0)
    if (d->cat[ML_CAT_DMARC] || d->cat[ML_CAT_ALIGNMENT]) {
        int microsoft = receiver && d->first_auth && d->first_auth->rule->label &&
                        !strncmp(d->first_auth->rule->label, "Microsoft", 9);
        if (st->known && st->arc)
            ADD("ARC sealing is on: %s", receiver ? "this receiver does not trust our seal"
                                                  : "receivers that do not trust our seal "
                                                    "still refuse");
        else
            ADD("enable ARC sealing (arc_domain, arc_selector, arc_key)");
        /* The policy the rewrite must cover: known, or p=reject by default. */
        int applies =
            !d->policy[0] || !strcmp(d->policy, "reject") || !strcmp(d->policy, "quarantine");
        int need = rewrite_needed(d->policy);
        int on = st->known && st->from_rewrite >= need;
        if (applies && on)
            ADD("From rewrite is on (from_rewrite = %s) and these were not rewritten: mail sent "
                "before it was enabled, recipients missing from forward_recipients, or a change "
                "after fwdauthd (a content filter) that broke the sender's signature",
                rewrite_name(st->from_rewrite));
        else if (!strcmp(d->policy, "reject"))
            ADD("enable From rewrite for p=reject (from_rewrite = reject)");
        else if (!strcmp(d->policy, "quarantine"))
            ADD("enable From rewrite for p=quarantine (from_rewrite = reject-and-quarantine)");
        else if (!d->policy[0])
            ADD("enable From rewrite for p=reject senders (from_rewrite = reject; "
                "--lookup-policy shows which)");
        if (microsoft && !on)
            ADD("Microsoft trusts ARC only from sealers the tenant lists: From rewrite is the "
                "sure fix");
    }
    if (d->cat[ML_CAT_SPF] && d->srs)
        ADD("SRS is on: publish an SPF record for the SRS domain that allows this server "
            "(fwdauth check-dns)");
    else if (d->cat[ML_CAT_SPF] && st->known && st->srs)
        ADD("SRS is on (srs_forwarded_mail = yes) but these senders were not rewritten: their "
            "recipients are missing from forward_recipients, or mail leaves without passing the "
            "milter");
    else if (d->cat[ML_CAT_SPF])
        ADD("rewrite the envelope sender of forwarded mail with SRS (srs_forwarded_mail = yes "
            "or the canonical maps)");
    if (d->cat[ML_CAT_DKIM]) {
        if (st->known && st->signing)
            ADD("forward messages unmodified (disable_mime_output_conversion = yes, no footers)");
        else
            ADD("forward messages unmodified (disable_mime_output_conversion = yes, no footers) "
                "and add the forwarder signature (forward_signing_key)");
    }
    if (d->cat[ML_CAT_BULK]) {
        if (st->known && st->signing)
            ADD("forwarded mail is signed (forward_signing_key): publish SPF and DMARC for that "
                "key's domain (fwdauth check-dns)");
        else
            ADD("sign forwarded mail for your own domain (forward_signing_key) and publish SPF "
                "and DMARC for it");
    }
    if (!d->auth) {
        if (d->cat[ML_CAT_MAILBOX])
            ADD("recipient addresses do not exist or are full: check the forwarding targets");
        if (d->cat[ML_CAT_POLICY])
            ADD("refused by the receiver's own policy (reputation, content), not by "
                "authentication");
        if (d->cat[ML_CAT_DEFERRAL])
            ADD("temporary: Postfix retries");
        if (!used)
            ADD("see the replies");
    }
#undef ADD
}

static void add_group(struct domain_row *r, const struct maillog_group *g)
{
    r->failures += g->count;
    r->forwarded += g->forwarded;
    r->srs += g->srs_senders;
    r->cat[g->category] += g->count;
    if (maillog_category_is_auth(g->category)) {
        r->auth += g->count;
        if (!r->first_auth)
            r->first_auth = g;
    }
}

static int cmp_group_sender(const void *a, const void *b)
{
    const struct maillog_group *x = *(const struct maillog_group *const *)a;
    const struct maillog_group *y = *(const struct maillog_group *const *)b;
    return strcmp(x->sender_domain, y->sender_domain);
}

static int cmp_group_recipient(const void *a, const void *b)
{
    const struct maillog_group *x = *(const struct maillog_group *const *)a;
    const struct maillog_group *y = *(const struct maillog_group *const *)b;
    return strcmp(x->recipient_domain, y->recipient_domain);
}

static int cmp_row(const void *a, const void *b)
{
    const struct domain_row *x = a, *y = b;
    if (x->auth != y->auth)
        return x->auth < y->auth ? 1 : -1;
    if (x->failures != y->failures)
        return x->failures < y->failures ? 1 : -1;
    return strcmp(x->domain, y->domain);
}

/* Sum the groups per domain (by sender when by_sender, else recipient). */
static struct domain_row *rows_by(const struct maillog_scan *s, int by_sender, size_t *nrows)
{
    size_t ng = maillog_scan_ngroups(s);
    *nrows = 0;
    if (!ng)
        return calloc(1, sizeof(struct domain_row));
    const struct maillog_group **v = malloc(ng * sizeof(*v));
    struct domain_row *rows = calloc(ng, sizeof(*rows));
    if (!v || !rows) {
        free(v);
        free(rows);
        return NULL;
    }
    for (size_t i = 0; i < ng; i++)
        v[i] = maillog_scan_group(s, i);
    qsort(v, ng, sizeof(*v), by_sender ? cmp_group_sender : cmp_group_recipient);
    size_t n = 0;
    for (size_t i = 0; i < ng; i++) {
        const char *dom = by_sender ? v[i]->sender_domain : v[i]->recipient_domain;
        if (n == 0 || strcmp(rows[n - 1].domain, dom) != 0)
            rows[n++].domain = dom;
        struct domain_row *r = &rows[n - 1];
        add_group(r, v[i]);
    }
    free(v);
    qsort(rows, n, sizeof(*rows), cmp_row);
    *nrows = n;
    return rows;
}

static void lookup_policy(struct domain_row *r, const struct logscan_report_opts *o)
{
    if (!o->dns || !r->domain[0])
        return;
    struct dmarc_auth none = {.spf_result = DMARC_AUTH_OTHER};
    struct dmarc_result res;
    dmarc_evaluate(o->dns, o->dmarc_mode, r->domain, &none, &res);
    const char *p;
    if (res.result == DMARC_TEMPERROR)
        p = "temperror";
    else if (!res.have_record)
        p = "absent";
    else
        p = dmarc_policy_name(res.policy);
    snprintf(r->policy, sizeof(r->policy), "%s", p[0] ? p : "absent");
}

const char *logscan_shown(const char *domain)
{
    return domain[0] ? domain : "<>";
}

static void json_str(FILE *f, const char *s)
{
    cli_json_string(f, s, strlen(s));
}

/* ,"key":"value" (value escaped) */
static void json_member(FILE *f, const char *key, const char *value)
{
    fprintf(f, ",\"%s\":", key);
    json_str(f, value);
}

static void json_rows(FILE *f, const char *key, const struct domain_row *rows, size_t n,
                      int with_policy)
{
    fprintf(f, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        const struct domain_row *r = &rows[i];
        fprintf(f, "%s{\"domain\":", i ? "," : "");
        json_str(f, r->domain);
        fprintf(f, ",\"failures\":%llu,\"auth_failures\":%llu,\"forwarded\":%llu,\"categories\":{",
                r->failures, r->auth, r->forwarded);
        int first = 1;
        for (int c = 0; c < ML_CAT_COUNT; c++)
            if (r->cat[c]) {
                fprintf(f, "%s\"%s\":%llu", first ? "" : ",", maillog_category_name(c), r->cat[c]);
                first = 0;
            }
        fprintf(f, "}");
        if (with_policy) {
            fprintf(f, ",\"dmarc_policy\":");
            if (r->policy[0])
                json_str(f, r->policy);
            else
                fprintf(f, "null");
        }
        json_member(f, "advice", r->advice);
        fprintf(f, "}");
    }
    fprintf(f, "]");
}

void logscan_period_label(char *out, size_t n, enum ml_series k, int64_t start)
{
    /* A local day or hour number read as if UTC gives the local calendar. */
    time_t tt = (time_t)(k == ML_SERIES_DAYS ? start * 86400 : start * 3600);
    struct tm tm;
    if (k == ML_SERIES_HOUR_OF_DAY)
        snprintf(out, n, "%02d:00-%02d:00", (int)start, (int)start + 1);
    else if (!gmtime_r(&tt, &tm) ||
             !strftime(out, n, k == ML_SERIES_DAYS ? "%Y-%m-%d" : "%Y-%m-%d %H:00", &tm))
        snprintf(out, n, "?");
}

struct maillog_top_row *logscan_top_rows(const struct maillog_scan *s, enum ml_top_kind k,
                                         enum ml_top_order order, size_t top, size_t *n)
{
    const struct maillog_top *t = maillog_scan_top(s, k);
    size_t held = maillog_top_size(t), want = top && top < held ? top : held;
    *n = 0;
    if (!want)
        return NULL;
    struct maillog_top_row *rows = malloc(want * sizeof(*rows));
    if (rows)
        *n = maillog_top_rows(t, order, rows, want);
    return rows;
}

/* The top tables as the reports show them. */
static const struct top_view {
    enum ml_top_kind kind;
    enum ml_top_order order;
    const char *json, *title, *what; /* key in "top", table title, key column */
} top_views[] = {
    {ML_TOP_SENDERS, ML_TOP_BY_COUNT, "senders_by_messages", "Senders by messages received",
     "address"},
    {ML_TOP_SENDERS_BYTES, ML_TOP_BY_BYTES, "senders_by_bytes", "Senders by bytes received",
     "address"},
    {ML_TOP_RECIPIENTS, ML_TOP_BY_COUNT, "recipients_by_messages",
     "Recipients by messages delivered", "address"},
    {ML_TOP_RECIPIENTS_BYTES, ML_TOP_BY_BYTES, "recipients_by_bytes",
     "Recipients by bytes delivered", "address"},
    {ML_TOP_SENDER_DOMAINS, ML_TOP_BY_COUNT, "received_by_domain", "Received by sender domain",
     "domain"},
    {ML_TOP_RECIPIENT_DOMAINS, ML_TOP_BY_COUNT, "delivered_by_domain",
     "Delivered by recipient domain", "domain"},
};

/* Distinct keys seen, or -1 when the table had to let some go. */
static long long distinct(const struct maillog_scan *s, enum ml_top_kind k)
{
    const struct maillog_top *t = maillog_scan_top(s, k);
    if (maillog_top_evicted(t))
        return -1;
    if (k != ML_TOP_RECIPIENT_DOMAINS)
        return (long long)maillog_top_size(t);
    /* domains delivered to, as pflogsumm counts them: not deferrals only */
    size_t n;
    long long with = 0;
    struct maillog_top_row *rows = logscan_top_rows(s, k, ML_TOP_BY_COUNT, 0, &n);
    for (size_t i = 0; i < n; i++)
        with += rows[i].count > 0;
    free(rows);
    return with;
}

static void json_distinct(FILE *f, const char *key, long long n)
{
    if (n < 0)
        fprintf(f, ",\"%s\":null", key);
    else
        fprintf(f, ",\"%s\":%lld", key, n);
}

static void json_period(FILE *f, const struct maillog_period *p)
{
    fprintf(f,
            "\"received\":%llu,\"delivered\":%llu,\"deferrals\":%llu,\"bounced\":%llu,"
            "\"rejected\":%llu,\"held\":%llu,\"discarded\":%llu,\"reject_warnings\":%llu,"
            "\"failures\":{",
            p->received, p->delivered, p->deferrals, p->bounced, p->rejected, p->held, p->discarded,
            p->reject_warnings);
    int first = 1;
    for (int c = 0; c < ML_CAT_COUNT; c++)
        if (p->failures[c]) {
            fprintf(f, "%s\"%s\":%llu", first ? "" : ",", maillog_category_name(c), p->failures[c]);
            first = 0;
        }
    fprintf(f, "}");
}

/* Split "A\tB\tC" (a reject or problem key) into its three parts. */
static void split3(const char *key, char parts[3][ML_REASON_MAX + 64])
{
    for (int i = 0; i < 3; i++) {
        const char *tab = i < 2 ? strchr(key, '\t') : NULL;
        size_t n = tab ? (size_t)(tab - key) : strlen(key);
        if (n >= sizeof(parts[i]))
            n = sizeof(parts[i]) - 1;
        memcpy(parts[i], key, n);
        parts[i][n] = 0;
        key = tab ? tab + 1 : key + strlen(key);
    }
}

static void json_extras(FILE *f, const struct maillog_scan *s, const struct logscan_report_opts *o)
{
    int64_t first, last;
    char a[32], b[32];
    maillog_scan_span(s, &first, &last);
    logscan_stamp(a, sizeof(a), first);
    logscan_stamp(b, sizeof(b), last);
    if (first == INT64_MIN)
        fprintf(f, ",\"span\":{\"first\":null,\"last\":null}");
    else
        fprintf(f, ",\"span\":{\"first\":\"%s\",\"last\":\"%s\"}", a, b);

    fprintf(f, ",\"per_day\":[");
    for (size_t i = 0; i < maillog_scan_nperiods(s, ML_SERIES_DAYS); i++) {
        const struct maillog_period *p = maillog_scan_period(s, ML_SERIES_DAYS, i);
        char label[32];
        logscan_period_label(label, sizeof(label), ML_SERIES_DAYS, p->start);
        fprintf(f, "%s{\"date\":\"%s\",", i ? "," : "", label);
        json_period(f, p);
        fprintf(f, "}");
    }
    fprintf(f, "],\"per_hour\":{\"days\":%zu,\"hours\":[",
            maillog_scan_nperiods(s, ML_SERIES_DAYS));
    for (size_t h = 0; h < 24; h++) {
        fprintf(f, "%s{\"hour\":%zu,", h ? "," : "", h);
        json_period(f, maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, h));
        fprintf(f, "}");
    }
    fprintf(f, "]}");

    fprintf(f, ",\"top\":{");
    for (size_t v = 0; v < sizeof(top_views) / sizeof(top_views[0]); v++) {
        const struct top_view *tv = &top_views[v];
        size_t n;
        struct maillog_top_row *rows = logscan_top_rows(s, tv->kind, tv->order, o->top, &n);
        fprintf(f, "%s\"%s\":[", v ? "," : "", tv->json);
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "%s{\"%s\":", i ? "," : "", tv->what);
            cli_json_string(f, rows[i].key, rows[i].keylen);
            fprintf(f, ",\"messages\":%llu,\"bytes\":%llu", rows[i].count, rows[i].bytes);
            if (tv->kind == ML_TOP_RECIPIENT_DOMAINS)
                fprintf(f, ",\"deferrals\":%llu", rows[i].deferrals);
            fprintf(f, ",\"error\":%llu}", rows[i].error);
        }
        fprintf(f, "]");
        free(rows);
    }
    fprintf(f, "}");

    static const struct {
        enum ml_top_kind kind;
        const char *json, *k1, *k2, *k3;
    } lists[] = {{ML_TOP_REJECTS, "rejects", "action", "stage", "reason"},
                 {ML_TOP_PROBLEMS, "problems", "level", "daemon", "text"}};
    for (size_t l = 0; l < 2; l++) {
        size_t n;
        struct maillog_top_row *rows =
            logscan_top_rows(s, lists[l].kind, ML_TOP_BY_COUNT, o->top, &n);
        fprintf(f, ",\"%s\":[", lists[l].json);
        for (size_t i = 0; i < n; i++) {
            char parts[3][ML_REASON_MAX + 64];
            split3(rows[i].key, parts);
            fprintf(f, "%s{", i ? "," : "");
            fprintf(f, "\"%s\":", lists[l].k1);
            json_str(f, parts[0]);
            json_member(f, lists[l].k2, parts[1]);
            json_member(f, lists[l].k3, parts[2]);
            fprintf(f, ",\"count\":%llu,\"error\":%llu}", rows[i].count, rows[i].error);
        }
        fprintf(f, "]");
        free(rows);
    }

    fprintf(f, ",\"limits\":{\"days_truncated\":%s,\"hours_truncated\":%s,\"evicted\":{",
            maillog_scan_series_truncated(s, ML_SERIES_DAYS) ? "true" : "false",
            maillog_scan_series_truncated(s, ML_SERIES_HOURS) ? "true" : "false");
    static const char *const kinds[ML_TOP_KINDS] = {
        "senders",        "senders_by_bytes",  "recipients", "recipients_by_bytes",
        "sender_domains", "recipient_domains", "rejects",    "problems"};
    for (int k = 0; k < ML_TOP_KINDS; k++)
        fprintf(f, "%s\"%s\":%llu", k ? "," : "", kinds[k],
                maillog_top_evicted(maillog_scan_top(s, (enum ml_top_kind)k)));
    fprintf(f, "}}");
}

static void report_json(FILE *f, const struct maillog_scan *s, const struct domain_row *rd,
                        size_t nrd, const struct domain_row *sd, size_t nsd,
                        const struct logscan_report_opts *o)
{
    const struct maillog_totals *t = maillog_scan_totals(s);
    fprintf(f,
            "{\"totals\":{\"lines\":%llu,\"postfix_lines\":%llu,\"received\":%llu,"
            "\"delivered\":%llu,\"forwarded\":%llu,\"alias_forwarded\":%llu,\"deferred\":%llu,"
            "\"deferrals\":%llu,\"bounced\":%llu,\"expired\":%llu,\"rejected\":%llu,"
            "\"milter_rejected\":%llu,\"held\":%llu,\"discarded\":%llu,\"notifications\":%llu,"
            "\"failures\":%llu,\"auth_failures\":%llu",
            t->lines, t->postfix_lines, t->received, t->delivered, t->forwarded, t->alias_forwarded,
            t->deferred, t->deferrals, t->bounced, t->expired, t->rejected, t->milter_rejected,
            t->held, t->discarded, t->notifications, t->failures, t->auth_failures);
    fprintf(f,
            ",\"reject_warnings\":%llu,\"bytes_received\":%llu,\"bytes_delivered\":%llu,"
            "\"warnings\":%llu,\"errors\":%llu,\"fatals\":%llu,\"panics\":%llu",
            t->reject_warnings, t->bytes_received, t->bytes_delivered, t->warnings, t->errors,
            t->fatals, t->panics);
    json_distinct(f, "distinct_senders", distinct(s, ML_TOP_SENDERS));
    json_distinct(f, "distinct_sender_domains", distinct(s, ML_TOP_SENDER_DOMAINS));
    json_distinct(f, "distinct_recipients", distinct(s, ML_TOP_RECIPIENTS));
    json_distinct(f, "distinct_recipient_domains", distinct(s, ML_TOP_RECIPIENT_DOMAINS));
    fprintf(f, "}");
    fprintf(f, ",\"failures\":[");
    for (size_t i = 0; i < maillog_scan_ngroups(s); i++) {
        const struct maillog_group *g = maillog_scan_group(s, i);
        char first[32], last[32];
        logscan_stamp(first, sizeof(first), g->first);
        logscan_stamp(last, sizeof(last), g->last);
        fprintf(f, "%s{\"category\":\"%s\",\"label\":", i ? "," : "",
                maillog_category_name(g->category));
        json_str(f, g->rule->label);
        fprintf(f, ",\"status\":\"%s\"", logscan_status_name(g->status));
        json_member(f, "sender_domain", g->sender_domain);
        json_member(f, "recipient_domain", g->recipient_domain);
        fprintf(f, ",\"count\":%llu,\"forwarded\":%llu", g->count, g->forwarded);
        json_member(f, "dsn", g->dsn);
        json_member(f, "reply", g->reply);
        fprintf(f, ",\"first\":\"%s\",\"last\":\"%s\"}", first, last);
    }
    fprintf(f, "]");
    json_rows(f, "recipient_domains", rd, nrd, 0);
    json_rows(f, "sender_domains", sd, nsd, 1);
    json_extras(f, s, o);
    fprintf(f, "}\n");
}

/* A CSV field (RFC 4180): quoted when it holds a comma, quote or line end. */
static void csv_field(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

static const struct domain_row *row_of(const struct domain_row *rows, size_t n, const char *d)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].domain, d) == 0)
            return &rows[i];
    return NULL;
}

static void report_csv(FILE *f, const struct maillog_scan *s, const struct domain_row *sd,
                       size_t nsd, const struct logscan_report_opts *o)
{
    fprintf(f, "category,status,sender_domain,recipient_domain,count,forwarded,dsn,dmarc_policy,"
               "advice,reply\n");
    for (size_t i = 0; i < maillog_scan_ngroups(s); i++) {
        const struct maillog_group *g = maillog_scan_group(s, i);
        const struct domain_row *r = row_of(sd, nsd, g->sender_domain);
        struct domain_row one = {.domain = g->sender_domain};
        add_group(&one, g);
        if (r)
            memcpy(one.policy, r->policy, sizeof(one.policy));
        advise(one.advice, sizeof(one.advice), &one, 1, &o->setup);
        char count[64];
        fprintf(f, "%s,%s,", maillog_category_name(g->category), logscan_status_name(g->status));
        csv_field(f, g->sender_domain, 0);
        csv_field(f, g->recipient_domain, 0);
        snprintf(count, sizeof(count), "%llu,%llu", g->count, g->forwarded);
        fprintf(f, "%s,", count);
        csv_field(f, g->dsn, 0);
        csv_field(f, one.policy, 0);
        csv_field(f, one.advice, 0);
        csv_field(f, g->reply, 1);
    }
}

static void table_rows(FILE *f, const char *title, const struct domain_row *rows, size_t n,
                       int with_policy)
{
    fprintf(f, "\n%s\n", title);
    if (!n) {
        fprintf(f, "  (none)\n");
        return;
    }
    fprintf(f, "  %-32s %8s %6s %s  %s\n", "domain", "failures", "auth",
            with_policy ? "dmarc " : "", "categories");
    for (size_t i = 0; i < n; i++) {
        const struct domain_row *r = &rows[i];
        char cats[256] = "";
        size_t used = 0;
        for (int c = 0; c < ML_CAT_COUNT && used < sizeof(cats); c++)
            if (r->cat[c]) {
                int k = snprintf(cats + used, sizeof(cats) - used, "%s%s=%llu", used ? " " : "",
                                 maillog_category_name(c), r->cat[c]);
                used += k > 0 ? (size_t)k : 0;
            }
        if (with_policy)
            fprintf(f, "  %-32s %8llu %6llu %-6s  %s\n", logscan_shown(r->domain), r->failures,
                    r->auth, r->policy[0] ? r->policy : "-", cats);
        else
            fprintf(f, "  %-32s %8llu %6llu  %s\n", logscan_shown(r->domain), r->failures, r->auth,
                    cats);
        fprintf(f, "  %32s advice: %s\n", "", r->advice);
    }
}

/* Log text on a terminal: control characters (an escape sequence in a
 * reply or an address) as '?'. */
static void table_text(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void table_period(FILE *f, const char *label, const struct maillog_period *p,
                         unsigned long long days)
{
    /* averages rounded as pflogsumm rounds them */
#define AVG(x) (days > 1 ? ((x) + days / 2) / days : (x))
    unsigned long long fail = 0;
    for (int c = 0; c < ML_CAT_COUNT; c++)
        fail += p->failures[c];
    fprintf(f, "  %-12s %9llu %9llu %9llu %9llu %9llu %6llu %9llu %9llu\n", label, AVG(p->received),
            AVG(p->delivered), AVG(p->deferrals), AVG(p->bounced), AVG(p->rejected), AVG(p->held),
            AVG(p->discarded), AVG(fail));
#undef AVG
}

static void table_period_head(FILE *f, const char *first)
{
    fprintf(f, "  %-12s %9s %9s %9s %9s %9s %6s %9s %9s\n", first, "received", "delivered",
            "deferred", "bounced", "rejected", "held", "discarded", "failures");
}

/* A table title and, when the table had to let keys go, how far to trust it. */
static void table_top_title(FILE *f, const char *title, const struct maillog_scan *s,
                            enum ml_top_kind k, size_t top)
{
    const struct maillog_top *t = maillog_scan_top(s, k);
    fprintf(f, "\n%s", title);
    if (top)
        fprintf(f, " (top %zu)", top);
    if (maillog_top_evicted(t))
        fprintf(f, " (more than %zu keys: each count may be over-stated by the +N shown)",
                maillog_top_capacity(t));
    fprintf(f, "\n");
}

static void table_extras(FILE *f, const struct maillog_scan *s, const struct logscan_report_opts *o)
{
    size_t ndays = maillog_scan_nperiods(s, ML_SERIES_DAYS);
    fprintf(f, "\nTraffic per day (local time)%s\n",
            maillog_scan_series_truncated(s, ML_SERIES_DAYS) ? " (more days than kept)" : "");
    if (!ndays)
        fprintf(f, "  (none)\n");
    else
        table_period_head(f, "date");
    for (size_t i = 0; i < ndays; i++) {
        const struct maillog_period *p = maillog_scan_period(s, ML_SERIES_DAYS, i);
        char label[32];
        logscan_period_label(label, sizeof(label), ML_SERIES_DAYS, p->start);
        table_period(f, label, p, 1);
    }
    if (ndays > 1)
        fprintf(f, "\nTraffic per hour of the day (daily average over %zu days)\n", ndays);
    else
        fprintf(f, "\nTraffic per hour (local time)\n");
    table_period_head(f, "hour");
    for (size_t h = 0; h < 24; h++) {
        char label[32];
        logscan_period_label(label, sizeof(label), ML_SERIES_HOUR_OF_DAY, (int64_t)h);
        table_period(f, label, maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, h), ndays);
    }

    for (size_t v = 0; v < sizeof(top_views) / sizeof(top_views[0]); v++) {
        const struct top_view *tv = &top_views[v];
        size_t n;
        struct maillog_top_row *rows = logscan_top_rows(s, tv->kind, tv->order, o->top, &n);
        table_top_title(f, tv->title, s, tv->kind, o->top);
        if (!n)
            fprintf(f, "  (none)\n");
        else if (tv->kind == ML_TOP_RECIPIENT_DOMAINS)
            fprintf(f, "  %10s %12s %9s  %s\n", "messages", "bytes", "deferrals", tv->what);
        else
            fprintf(f, "  %10s %12s  %s\n", "messages", "bytes", tv->what);
        for (size_t i = 0; i < n; i++) {
            char err[32] = "";
            if (rows[i].error)
                snprintf(err, sizeof(err), " (+%llu)", rows[i].error);
            if (tv->kind == ML_TOP_RECIPIENT_DOMAINS)
                fprintf(f, "  %10llu %12llu %9llu  ", rows[i].count, rows[i].bytes,
                        rows[i].deferrals);
            else
                fprintf(f, "  %10llu %12llu  ", rows[i].count, rows[i].bytes);
            table_text(f, tv->kind == ML_TOP_RECIPIENT_DOMAINS ? logscan_shown(rows[i].key)
                                                               : rows[i].key);
            fprintf(f, "%s\n", err);
        }
        free(rows);
    }

    static const struct {
        enum ml_top_kind kind;
        const char *title, *head;
    } lists[] = {
        {ML_TOP_REJECTS, "Rejects, holds, discards and reject warnings by reason",
         "action          stage            reason"},
        {ML_TOP_PROBLEMS, "Warnings, errors, fatal errors and panics",
         "level           daemon           text"},
    };
    for (size_t l = 0; l < 2; l++) {
        size_t n;
        struct maillog_top_row *rows =
            logscan_top_rows(s, lists[l].kind, ML_TOP_BY_COUNT, o->top, &n);
        table_top_title(f, lists[l].title, s, lists[l].kind, o->top);
        if (!n)
            fprintf(f, "  (none)\n");
        else
            fprintf(f, "  %8s  %s\n", "count", lists[l].head);
        for (size_t i = 0; i < n; i++) {
            char parts[3][ML_REASON_MAX + 64], err[32] = "";
            split3(rows[i].key, parts);
            if (rows[i].error)
                snprintf(err, sizeof(err), " (+%llu)", rows[i].error);
            fprintf(f, "  %8llu  %-15s %-16s %s%s\n", rows[i].count, parts[0], parts[1],
                    parts[2][0] ? parts[2] : "-", err);
        }
        free(rows);
    }
}

static void report_table(FILE *f, const struct maillog_scan *s, const struct domain_row *rd,
                         size_t nrd, const struct domain_row *sd, size_t nsd,
                         const struct logscan_report_opts *o)
{
    const struct maillog_totals *t = maillog_scan_totals(s);
    fprintf(f, "Totals (as pflogsumm counts them)\n");
    fprintf(f, "  %10llu received\n  %10llu delivered\n", t->received, t->delivered);
    fprintf(f, "  %10llu forwarded (local .forward/aliases)\n", t->forwarded);
    fprintf(f, "  %10llu of the delivered, alias-forwarded (orig_to differs)\n",
            t->alias_forwarded);
    fprintf(f, "  %10llu deferred (%llu deferrals)\n", t->deferred, t->deferrals);
    fprintf(f, "  %10llu bounced\n  %10llu expired\n", t->bounced, t->expired);
    fprintf(f, "  %10llu rejected\n  %10llu milter-rejected\n", t->rejected, t->milter_rejected);
    fprintf(f, "  %10llu held\n  %10llu discarded\n", t->held, t->discarded);
    fprintf(f, "  %10llu bounce notifications\n", t->notifications);
    fprintf(f, "  %10llu failed deliveries, %llu of them DMARC/SPF/DKIM (authentication)\n",
            t->failures, t->auth_failures);
    fprintf(f, "  %10llu reject warnings\n", t->reject_warnings);
    fprintf(f, "  %10llu bytes received\n  %10llu bytes delivered\n", t->bytes_received,
            t->bytes_delivered);
    static const struct {
        enum ml_top_kind kind;
        const char *what;
    } kinds[] = {{ML_TOP_SENDERS, "senders (SRS reversed)"},
                 {ML_TOP_SENDER_DOMAINS, "sender domains"},
                 {ML_TOP_RECIPIENTS, "recipients"},
                 {ML_TOP_RECIPIENT_DOMAINS, "recipient domains"}};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        long long n = distinct(s, kinds[i].kind);
        if (n < 0)
            fprintf(f, "  %10s %s (more than %zu)\n", "many", kinds[i].what,
                    maillog_top_capacity(maillog_scan_top(s, kinds[i].kind)));
        else
            fprintf(f, "  %10lld %s\n", n, kinds[i].what);
    }
    fprintf(f, "  %10llu warnings, %llu errors, %llu fatal errors, %llu panics\n", t->warnings,
            t->errors, t->fatals, t->panics);
    fprintf(f, "  %10llu lines read, %llu from Postfix\n", t->lines, t->postfix_lines);

    fprintf(f, "\nFailed deliveries\n");
    if (!maillog_scan_ngroups(s))
        fprintf(f, "  (none)\n");
    for (size_t i = 0; i < maillog_scan_ngroups(s); i++) {
        const struct maillog_group *g = maillog_scan_group(s, i);
        fprintf(f, "  %6llu %-9s %-8s %s -> %s  dsn=%s  %s\n", g->count,
                maillog_category_name(g->category), logscan_status_name(g->status),
                logscan_shown(g->sender_domain), logscan_shown(g->recipient_domain),
                g->dsn[0] ? g->dsn : "-", g->rule->label);
        fprintf(f, "         reply: ");
        table_text(f, g->reply);
        fputc('\n', f);
    }
    table_rows(f, "By recipient domain", rd, nrd, 0);
    table_rows(f, "By sender domain", sd, nsd, 1);
    table_extras(f, s, o);
}

int logscan_report(FILE *f, const struct maillog_scan *s, const struct logscan_report_opts *o)
{
    size_t nrd, nsd;
    struct domain_row *rd = rows_by(s, 0, &nrd);
    struct domain_row *sd = rows_by(s, 1, &nsd);
    if (!rd || !sd) {
        free(rd);
        free(sd);
        return -1;
    }
    for (size_t i = 0; i < nsd; i++) {
        lookup_policy(&sd[i], o);
        advise(sd[i].advice, sizeof(sd[i].advice), &sd[i], 0, &o->setup);
    }
    for (size_t i = 0; i < nrd; i++)
        advise(rd[i].advice, sizeof(rd[i].advice), &rd[i], 1, &o->setup);

    struct logscan_data d = {s, rd, sd, nrd, nsd};
    int rc = 0;
    switch (o->format) {
    case LOGSCAN_HTML:
        rc = logscan_html(f, &d, o);
        break;
    case LOGSCAN_JSON:
        report_json(f, s, rd, nrd, sd, nsd, o);
        break;
    case LOGSCAN_CSV:
        report_csv(f, s, sd, nsd, o);
        break;
    default:
        report_table(f, s, rd, nrd, sd, nsd, o);
        break;
    }
    free(rd);
    free(sd);
    return rc;
}

void logscan_print_failure(FILE *f, int format, const struct maillog_failure *x)
{
    char when[32];
    logscan_stamp(when, sizeof(when), x->time);
    const char *cat = maillog_category_name(x->rule->category);
    if (format == LOGSCAN_JSON) {
        const struct {
            const char *key, *value;
        } kv[] = {
            {"queue_id", x->qid},
            {"category", cat},
            {"status", logscan_status_name(x->status)},
            {"sender", x->sender},
            {"sender_domain", x->sender_domain},
            {"recipient", x->recipient},
            {"recipient_domain", x->recipient_domain},
            {"orig_to", x->orig_to},
            {"relay", x->relay},
            {"dsn", x->dsn},
            {"reply", x->reply},
        };
        fprintf(f, "{\"time\":\"%s\"", when);
        for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
            json_member(f, kv[i].key, kv[i].value);
        fprintf(f, "}\n");
    } else if (format == LOGSCAN_CSV) {
        fprintf(f, "%s,%s,%s,", when, cat, logscan_status_name(x->status));
        csv_field(f, x->sender_domain, 0);
        csv_field(f, x->recipient_domain, 0);
        csv_field(f, x->dsn, 0);
        csv_field(f, x->reply, 1);
    } else {
        fprintf(f, "%s %s %s %s %s -> %s dsn=%s: %s\n", when, x->qid, cat,
                logscan_status_name(x->status), logscan_shown(x->sender_domain), x->recipient,
                x->dsn[0] ? x->dsn : "-", x->reply);
    }
    fflush(f);
}
