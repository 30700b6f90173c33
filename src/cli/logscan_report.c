/* logscan_report - write what fwdauth logscan found (see logscan_report.h). */
#include "logscan_report.h"

#include "cli.h"
#include "dmarc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Failures of one domain, summed over its groups. */
struct domain_row {
    const char *domain;
    unsigned long long failures, auth, forwarded, srs;
    unsigned long long cat[ML_CAT_COUNT];
    const struct maillog_group *first_auth; /* for the receiver's name */
    char policy[16];                        /* "" when not looked up */
    char advice[400];
};

static const char *status_name(enum ml_status st)
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

static void stamp(char *out, size_t n, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == INT64_MIN || !gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, n, "unknown");
}

static void advise(char *out, size_t n, const struct domain_row *d, int receiver)
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
        ADD("enable ARC sealing (arc_domain, arc_selector, arc_key)");
        if (!strcmp(d->policy, "reject"))
            ADD("enable From rewrite for p=reject (from_rewrite = reject)");
        else if (!strcmp(d->policy, "quarantine"))
            ADD("enable From rewrite for p=quarantine (from_rewrite = reject-and-quarantine)");
        else if (!d->policy[0])
            ADD("enable From rewrite for p=reject senders (from_rewrite = reject; "
                "--lookup-policy shows which)");
        if (receiver && d->first_auth && d->first_auth->rule->label &&
            !strncmp(d->first_auth->rule->label, "Microsoft", 9))
            ADD("Microsoft trusts ARC only from sealers the tenant lists: From rewrite is the "
                "sure fix");
    }
    if (d->cat[ML_CAT_SPF] && d->srs)
        ADD("SRS is on: publish an SPF record for the SRS domain that allows this server "
            "(fwdauth check-dns)");
    else if (d->cat[ML_CAT_SPF])
        ADD("rewrite the envelope sender of forwarded mail with SRS (srs_forwarded_mail = yes "
            "or the canonical maps)");
    if (d->cat[ML_CAT_DKIM])
        ADD("forward messages unmodified (disable_mime_output_conversion = yes, no footers) "
            "and add the forwarder signature (forward_signing_key)");
    if (d->cat[ML_CAT_BULK])
        ADD("sign forwarded mail for your own domain (forward_signing_key) and publish SPF "
            "and DMARC for it");
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

static const char *shown(const char *domain)
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

static void report_json(FILE *f, const struct maillog_scan *s, const struct domain_row *rd,
                        size_t nrd, const struct domain_row *sd, size_t nsd)
{
    const struct maillog_totals *t = maillog_scan_totals(s);
    fprintf(f,
            "{\"totals\":{\"lines\":%llu,\"postfix_lines\":%llu,\"received\":%llu,"
            "\"delivered\":%llu,\"forwarded\":%llu,\"alias_forwarded\":%llu,\"deferred\":%llu,"
            "\"deferrals\":%llu,\"bounced\":%llu,\"expired\":%llu,\"rejected\":%llu,"
            "\"milter_rejected\":%llu,\"held\":%llu,\"discarded\":%llu,\"notifications\":%llu,"
            "\"failures\":%llu,\"auth_failures\":%llu}",
            t->lines, t->postfix_lines, t->received, t->delivered, t->forwarded, t->alias_forwarded,
            t->deferred, t->deferrals, t->bounced, t->expired, t->rejected, t->milter_rejected,
            t->held, t->discarded, t->notifications, t->failures, t->auth_failures);
    fprintf(f, ",\"failures\":[");
    for (size_t i = 0; i < maillog_scan_ngroups(s); i++) {
        const struct maillog_group *g = maillog_scan_group(s, i);
        char first[32], last[32];
        stamp(first, sizeof(first), g->first);
        stamp(last, sizeof(last), g->last);
        fprintf(f, "%s{\"category\":\"%s\",\"label\":", i ? "," : "",
                maillog_category_name(g->category));
        json_str(f, g->rule->label);
        fprintf(f, ",\"status\":\"%s\"", status_name(g->status));
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
                       size_t nsd)
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
        advise(one.advice, sizeof(one.advice), &one, 1);
        char count[64];
        fprintf(f, "%s,%s,", maillog_category_name(g->category), status_name(g->status));
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
            fprintf(f, "  %-32s %8llu %6llu %-6s  %s\n", shown(r->domain), r->failures, r->auth,
                    r->policy[0] ? r->policy : "-", cats);
        else
            fprintf(f, "  %-32s %8llu %6llu  %s\n", shown(r->domain), r->failures, r->auth, cats);
        fprintf(f, "  %32s advice: %s\n", "", r->advice);
    }
}

static void report_table(FILE *f, const struct maillog_scan *s, const struct domain_row *rd,
                         size_t nrd, const struct domain_row *sd, size_t nsd)
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
    fprintf(f, "  %10llu lines read, %llu from Postfix\n", t->lines, t->postfix_lines);

    fprintf(f, "\nFailed deliveries\n");
    if (!maillog_scan_ngroups(s))
        fprintf(f, "  (none)\n");
    for (size_t i = 0; i < maillog_scan_ngroups(s); i++) {
        const struct maillog_group *g = maillog_scan_group(s, i);
        fprintf(f, "  %6llu %-9s %-8s %s -> %s  dsn=%s  %s\n", g->count,
                maillog_category_name(g->category), status_name(g->status), shown(g->sender_domain),
                shown(g->recipient_domain), g->dsn[0] ? g->dsn : "-", g->rule->label);
        fprintf(f, "         reply: %s\n", g->reply);
    }
    table_rows(f, "By recipient domain", rd, nrd, 0);
    table_rows(f, "By sender domain", sd, nsd, 1);
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
        advise(sd[i].advice, sizeof(sd[i].advice), &sd[i], 0);
    }
    for (size_t i = 0; i < nrd; i++)
        advise(rd[i].advice, sizeof(rd[i].advice), &rd[i], 1);

    switch (o->format) {
    case LOGSCAN_JSON:
        report_json(f, s, rd, nrd, sd, nsd);
        break;
    case LOGSCAN_CSV:
        report_csv(f, s, sd, nsd);
        break;
    default:
        report_table(f, s, rd, nrd, sd, nsd);
        break;
    }
    free(rd);
    free(sd);
    return 0;
}

void logscan_print_failure(FILE *f, int format, const struct maillog_failure *x)
{
    char when[32];
    stamp(when, sizeof(when), x->time);
    const char *cat = maillog_category_name(x->rule->category);
    if (format == LOGSCAN_JSON) {
        const struct {
            const char *key, *value;
        } kv[] = {
            {"queue_id", x->qid},
            {"category", cat},
            {"status", status_name(x->status)},
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
        fprintf(f, "%s,%s,%s,", when, cat, status_name(x->status));
        csv_field(f, x->sender_domain, 0);
        csv_field(f, x->recipient_domain, 0);
        csv_field(f, x->dsn, 0);
        csv_field(f, x->reply, 1);
    } else {
        fprintf(f, "%s %s %s %s %s -> %s dsn=%s: %s\n", when, x->qid, cat, status_name(x->status),
                shown(x->sender_domain), x->recipient, x->dsn[0] ? x->dsn : "-", x->reply);
    }
    fflush(f);
}
