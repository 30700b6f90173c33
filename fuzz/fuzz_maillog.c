/* libFuzzer target: Postfix log lines. The input is split at newlines; each
 * line (in a buffer of exactly its size) goes through maillog_parse, the
 * Postfix ones into a maillog_scan with the fixed SRS engine, then the
 * totals and every group are read. Invariants checked:
 *   - every slice of a parsed line lies inside that line, daemon inside
 *     program, enums in range;
 *   - the totals equal what the parsed lines say (received, delivered,
 *     forwarded, bounced, deferrals, notifications, expired), failures are
 *     the sum of the groups' counts and auth_failures of the auth groups;
 *   - every string the scanner hands out (groups, on_failure) is
 *     NUL-terminated within its bound;
 *   - maillog_unsrs and maillog_classify stay within their buffers;
 *   - the traffic series and top tables (what pflogsumm users look for)
 *     agree with the totals: per-day and hour-of-day sums, warning to panic
 *     lines, bounded tables with sorted, NUL-terminated keys, and
 *     maillog_reject_reason within buffers of any size. */
#include "fuzz_srs_engine.h"
#include "maillog.h"
#include "maillog_class.h"
#include "maillog_scan.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

static int inside(struct ml_str s, const char *base, size_t n)
{
    if (!s.p)
        return 1;
    return s.p >= base && s.p <= base + n && s.n <= (size_t)(base + n - s.p);
}

static void check_line(const struct maillog_line *l, const char *base, size_t n)
{
    const struct ml_str all[] = {l->host,   l->program,   l->daemon,  l->qid,   l->text,
                                 l->sender, l->recipient, l->orig_to, l->relay, l->dsn,
                                 l->reply,  l->client,    l->new_qid, l->stage};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        check(inside(all[i], base, n));
    check(l->program.p && l->daemon.p && l->host.p && l->text.p);
    check(inside(l->daemon, l->program.p, l->program.n));
    check(l->time != INT64_MIN);
    check(l->event >= ML_OTHER && l->event <= ML_PANIC);
    check(l->status >= ML_ST_NONE && l->status <= ML_ST_UNKNOWN);
    check(l->forwarded == 0 || l->forwarded == 1);
}

static void check_cstr(const char *s, size_t bound)
{
    check(s != NULL);
    check(memchr(s, '\0', bound) != NULL);
}

static void on_failure(void *arg, const struct maillog_failure *f)
{
    (*(unsigned long long *)arg)++;
    check_cstr(f->qid, 64);
    check_cstr(f->sender, ML_ADDR_MAX);
    check_cstr(f->sender_domain, ML_DOMAIN_MAX);
    check_cstr(f->recipient, ML_ADDR_MAX);
    check_cstr(f->recipient_domain, ML_DOMAIN_MAX);
    check_cstr(f->orig_to, ML_ADDR_MAX);
    check_cstr(f->relay, ML_ADDR_MAX);
    check_cstr(f->dsn, ML_DSN_MAX);
    check_cstr(f->reply, ML_REPLY_MAX);
    check(f->rule != NULL && f->rule->category < ML_CAT_COUNT);
    check(f->status == ML_ST_BOUNCED || f->status == ML_ST_DEFERRED || f->status == ML_ST_EXPIRED);
}

/* maillog_unsrs into buffers of exactly realsz and domainsz bytes. */
static void unsrs(const srs *e, const struct maillog_line *l, struct ml_str a, size_t realsz,
                  size_t domainsz)
{
    char *real = malloc(realsz), *dom = malloc(domainsz);
    check(real && dom);
    int r = maillog_unsrs(e, l->time, a.p, a.n, real, realsz, dom, domainsz);
    check(r == 0 || r == 1);
    check(memchr(real, '\0', realsz) != NULL);
    check(memchr(dom, '\0', domainsz) != NULL);
    for (const char *d = dom; *d; d++)
        check(!(*d >= 'A' && *d <= 'Z'));
    free(real);
    free(dom);
}

struct expect {
    unsigned long long received, delivered, forwarded, bounced, deferrals, notifications, expired,
        expired_status, postfix_lines, lines;
    unsigned long long problems[4]; /* warning, error, fatal, panic lines */
};

static void count(struct expect *x, const struct maillog_line *l)
{
    switch (l->event) {
    case ML_CLIENT:
    case ML_PICKUP:
        x->received++;
        break;
    case ML_NOTIFICATION:
        x->notifications++;
        break;
    case ML_EXPIRED:
        x->expired++;
        break;
    case ML_WARNING:
    case ML_ERROR:
    case ML_FATAL:
    case ML_PANIC:
        x->problems[l->event - ML_WARNING]++;
        break;
    case ML_DELIVERY:
        if (l->status == ML_ST_SENT && l->forwarded)
            x->forwarded++;
        else if (l->status == ML_ST_SENT)
            x->delivered++;
        else if (l->status == ML_ST_BOUNCED)
            x->bounced++;
        else if (l->status == ML_ST_DEFERRED)
            x->deferrals++;
        else if (l->status == ML_ST_EXPIRED)
            x->expired_status++;
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const srs *engine = daemon_fuzz_srs();
    unsigned long long callbacks = 0;
    struct maillog_scan_opts o = {.srs = engine,
                                  .max_age = 3600,
                                  .since = INT64_MIN,
                                  .until = INT64_MAX,
                                  .on_failure = on_failure,
                                  .arg = &callbacks};
    fa_err err;
    struct maillog_scan *s = maillog_scan_new(&o, &err);
    check(s != NULL);
    struct maillog_clock clk;
    maillog_clock_init(&clk, (time_t)1795694400);
    struct expect x = {0};

    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = malloc(n ? n : 1);
        check(line != NULL);
        memcpy(line, p, n);
        x.lines++;
        struct maillog_line l;
        int r = maillog_parse(line, n, &clk, &l);
        check(r == 0 || r == -1);
        if (r == 0) {
            check_line(&l, line, n);
            x.postfix_lines++;
            count(&x, &l);
            if (l.sender.p) {
                unsrs(engine, &l, l.sender, ML_ADDR_MAX, ML_DOMAIN_MAX);
                unsrs(NULL, &l, l.sender, 8, 4);
            }
            if (l.reply.p) { /* exactly sized buffers: 1 byte, a few, the usual */
                static const size_t sizes[] = {1, 5, ML_REASON_MAX};
                for (size_t k = 0; k < 3; k++) {
                    char *out = malloc(sizes[k]);
                    check(out != NULL);
                    size_t len = maillog_reject_reason(l.reply, out, sizes[k]);
                    check(len < sizes[k] && out[len] == 0 && strlen(out) == len);
                    free(out);
                }
            }
            if (l.dsn.p || l.reply.p) {
                const struct ml_rule *rule = maillog_classify(
                    l.dsn.p, l.dsn.n, l.reply.p, l.reply.n, l.status == ML_ST_DEFERRED);
                check(rule != NULL && rule->label != NULL && rule->category < ML_CAT_COUNT);
                check(maillog_category_name(rule->category) != NULL);
            }
            check(maillog_scan_feed(s, &l, &err) == 0);
        } else {
            maillog_scan_skip(s);
        }
        free(line);
        p += n + (nl ? 1 : 0);
    }

    check(maillog_scan_finish(s) == 0);
    const struct maillog_totals *t = maillog_scan_totals(s);
    check(t->lines == x.lines);
    check(t->postfix_lines == x.postfix_lines);
    check(t->received == x.received);
    check(t->delivered == x.delivered);
    check(t->forwarded == x.forwarded);
    check(t->bounced == x.bounced);
    check(t->deferrals == x.deferrals);
    check(t->notifications == x.notifications);
    check(t->expired == x.expired);
    check(t->alias_forwarded <= t->delivered);
    check(t->deferred <= t->deferrals);
    check(t->auth_failures <= t->failures);
    check(t->failures <= t->bounced + t->deferrals + x.expired_status);
    check(t->failures == callbacks);
    check(t->rejected + t->held + t->discarded <= t->postfix_lines);
    check(t->milter_rejected <= t->postfix_lines);

    unsigned long long sum = 0, auth = 0;
    size_t ng = maillog_scan_ngroups(s);
    for (size_t i = 0; i < ng; i++) {
        const struct maillog_group *g = maillog_scan_group(s, i);
        check(g != NULL);
        check(memchr(g->sender_domain, '\0', sizeof(g->sender_domain)) != NULL);
        check(memchr(g->recipient_domain, '\0', sizeof(g->recipient_domain)) != NULL);
        check(memchr(g->dsn, '\0', sizeof(g->dsn)) != NULL);
        check(memchr(g->reply, '\0', sizeof(g->reply)) != NULL);
        check(g->category < ML_CAT_COUNT);
        check(g->rule != NULL && g->rule->category == g->category);
        check(g->status == ML_ST_BOUNCED || g->status == ML_ST_DEFERRED ||
              g->status == ML_ST_EXPIRED);
        check(g->count >= 1 && g->forwarded <= g->count);
        sum += g->count;
        if (maillog_category_is_auth(g->category))
            auth += g->count;
    }
    check(maillog_scan_group(s, ng) == NULL);
    check(sum == t->failures);
    check(auth == t->auth_failures);
    check(maillog_scan_inflight(s) <= 2 * t->postfix_lines);

    check(t->warnings == x.problems[0] && t->errors == x.problems[1]);
    check(t->fatals == x.problems[2] && t->panics == x.problems[3]);
    check(t->reject_warnings <= t->postfix_lines);
    check(t->bytes_delivered == 0 || t->delivered > 0);
    unsigned long long day_received = 0, hod_received = 0, hod_failures = 0;
    for (size_t i = 0; i < maillog_scan_nperiods(s, ML_SERIES_DAYS); i++) {
        const struct maillog_period *per = maillog_scan_period(s, ML_SERIES_DAYS, i);
        check(i == 0 || per->start > maillog_scan_period(s, ML_SERIES_DAYS, i - 1)->start);
        day_received += per->received;
    }
    for (size_t i = 0; i < maillog_scan_nperiods(s, ML_SERIES_HOURS); i++)
        check(i == 0 || maillog_scan_period(s, ML_SERIES_HOURS, i)->start >
                            maillog_scan_period(s, ML_SERIES_HOURS, i - 1)->start);
    check(maillog_scan_nperiods(s, ML_SERIES_DAYS) <= ML_DAYS_MAX);
    check(maillog_scan_nperiods(s, ML_SERIES_HOURS) <= ML_HOURS_MAX);
    for (size_t h = 0; h < 24; h++) {
        const struct maillog_period *per = maillog_scan_period(s, ML_SERIES_HOUR_OF_DAY, h);
        hod_received += per->received;
        for (int c = 0; c < ML_CAT_COUNT; c++)
            hod_failures += per->failures[c];
    }
    check(hod_received == t->received);
    check(hod_failures == t->failures);
    check(maillog_scan_series_truncated(s, ML_SERIES_DAYS) || day_received == t->received);
    for (int k = 0; k < ML_TOP_KINDS; k++) {
        const struct maillog_top *top = maillog_scan_top(s, (enum ml_top_kind)k);
        size_t held = maillog_top_size(top);
        check(held <= maillog_top_capacity(top));
        struct maillog_top_row *rows = malloc((held ? held : 1) * sizeof(*rows));
        check(rows != NULL);
        size_t n = maillog_top_rows(top, ML_TOP_BY_COUNT, rows, held);
        check(n == held);
        for (size_t i = 0; i < n; i++) {
            check(rows[i].key[rows[i].keylen] == 0);
            check(rows[i].error <= rows[i].weight);
            check(i == 0 || rows[i - 1].count >= rows[i].count);
        }
        free(rows);
    }
    check(maillog_scan_top(s, ML_TOP_KINDS) == NULL);
    maillog_scan_free(s);
    return 0;
}
