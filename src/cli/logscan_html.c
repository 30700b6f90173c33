/*
 * logscan_html - fwdauth logscan's report as one self-contained HTML page
 * (see logscan_report.h).
 *
 * The page stands alone: inline CSS, charts drawn as inline SVG, no script,
 * nothing fetched (a Content-Security-Policy that allows only inline styles
 * and data: images says so to the browser too), so it can be mailed,
 * archived or served as a static file. Everything that comes from the log
 * (domains, addresses, replies, reasons, file names) is untrusted: it goes
 * through html() only, which escapes markup characters and replaces
 * control characters and invalid UTF-8, in text and in attributes alike.
 */
#include "cli.h"
#include "logscan_report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHART_W 900
#define MAX_BARS 120 /* time charts merge periods beyond this */
#define MAX_DOMAIN_ROWS 15

static const char *const cat_color[ML_CAT_COUNT] = {
    "#c62828", /* dmarc */
    "#ef6c00", /* spf */
    "#6a1b9a", /* dkim */
    "#ad1457", /* alignment */
    "#5d4037", /* bulk */
    "#546e7a", /* policy */
    "#1565c0", /* mailbox */
    "#9e9d24", /* deferral */
    "#00838f", /* other */
};

/* Text from the log or the user, for element content and quoted attribute
 * values: & < > " ' escaped, C0 controls and DEL and bytes that are not
 * UTF-8 replaced with U+FFFD (a NUL or a stray byte must not change how
 * the page parses). */
static void html_n(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) {
            switch (c) {
            case '&':
                fputs("&amp;", f);
                break;
            case '<':
                fputs("&lt;", f);
                break;
            case '>':
                fputs("&gt;", f);
                break;
            case '"':
                fputs("&quot;", f);
                break;
            case '\'':
                fputs("&#39;", f);
                break;
            default:
                if (c < 0x20 || c == 0x7f)
                    fputs(c == '\t' ? " " : "\xef\xbf\xbd", f);
                else
                    fputc(c, f);
            }
            p++;
            continue;
        }
        /* one well-formed UTF-8 sequence (no overlongs, no surrogates) */
        size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        int ok = len && (size_t)(end - p) >= len;
        for (size_t i = 1; ok && i < len; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (ok && len == 3)
            ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
        if (ok && len == 4)
            ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
        if (ok) {
            fwrite(p, 1, len, f);
            p += len;
        } else {
            fputs("\xef\xbf\xbd", f);
            p++;
        }
    }
}

static void html(FILE *f, const char *s)
{
    html_n(f, s, strlen(s));
}

/* A domain as shown: "<>" for the empty one. */
static void html_domain(FILE *f, const char *d)
{
    html(f, logscan_shown(d));
}

static void human_bytes(char *out, size_t n, unsigned long long b)
{
    static const char *const unit[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%llu B", b);
    else
        snprintf(out, n, "%.1f %s", v, unit[u]);
}

/* A step of 1, 2 or 5 times a power of ten, at least x (and 1). */
static unsigned long long nice_step(double x)
{
    unsigned long long p = 1;
    while ((double)p * 10 < x)
        p *= 10;
    for (;;) {
        if ((double)p >= x)
            return p;
        if ((double)(2 * p) >= x)
            return 2 * p;
        if ((double)(5 * p) >= x)
            return 5 * p;
        p *= 10;
    }
}

static void local_time(char *out, size_t n, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t == INT64_MIN || !localtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S %z", &tm))
        snprintf(out, n, "-");
}

/* ------------------------------------------------------------- series */

/* The time chart's buckets: consecutive periods of one series from the
 * first to the last (gaps filled with zeros), merged `per` at a time so
 * that at most MAX_BARS remain. */
struct buckets {
    enum ml_series kind;
    int64_t first; /* start of the first period */
    size_t per;    /* periods per bucket */
    size_t n;
    struct maillog_period *v; /* v[i].start: the first period of bucket i */
};

static int buckets_make(const struct maillog_scan *s, struct buckets *b)
{
    memset(b, 0, sizeof(*b));
    size_t nd = maillog_scan_nperiods(s, ML_SERIES_DAYS);
    size_t nh = maillog_scan_nperiods(s, ML_SERIES_HOURS);
    /* hours when the log covers at most three days and all its hours are kept */
    b->kind = ML_SERIES_DAYS;
    if (nh && !maillog_scan_series_truncated(s, ML_SERIES_HOURS)) {
        const struct maillog_period *h0 = maillog_scan_period(s, ML_SERIES_HOURS, 0);
        const struct maillog_period *h1 = maillog_scan_period(s, ML_SERIES_HOURS, nh - 1);
        if (h1->start - h0->start < 72)
            b->kind = ML_SERIES_HOURS;
    }
    size_t np = b->kind == ML_SERIES_HOURS ? nh : nd;
    if (!np)
        return 0;
    int64_t first = maillog_scan_period(s, b->kind, 0)->start;
    int64_t last = maillog_scan_period(s, b->kind, np - 1)->start;
    if (b->kind == ML_SERIES_HOURS) { /* whole days: a day's shape shows */
        first -= first - (first >= 0 ? first / 24 : -((-first + 23) / 24)) * 24;
        last += 23 - (last - (last >= 0 ? last / 24 : -((-last + 23) / 24)) * 24);
    }
    size_t span = (size_t)(last - first) + 1;
    b->first = first;
    b->per = (span + MAX_BARS - 1) / MAX_BARS;
    b->n = (span + b->per - 1) / b->per;
    b->v = calloc(b->n, sizeof(*b->v));
    if (!b->v)
        return -1;
    for (size_t i = 0; i < b->n; i++)
        b->v[i].start = first + (int64_t)(i * b->per);
    for (size_t i = 0; i < np; i++) {
        const struct maillog_period *p = maillog_scan_period(s, b->kind, i);
        struct maillog_period *q = &b->v[(size_t)(p->start - first) / b->per];
        q->received += p->received;
        q->delivered += p->delivered;
        q->deferrals += p->deferrals;
        q->bounced += p->bounced;
        q->rejected += p->rejected;
        q->held += p->held;
        q->discarded += p->discarded;
        q->reject_warnings += p->reject_warnings;
        for (int c = 0; c < ML_CAT_COUNT; c++)
            q->failures[c] += p->failures[c];
    }
    return 0;
}

static void bucket_label(char *out, size_t n, const struct buckets *b, size_t i)
{
    logscan_period_label(out, n, b->kind, b->v[i].start);
}

static unsigned long long failures_of(const struct maillog_period *p)
{
    unsigned long long sum = 0;
    for (int c = 0; c < ML_CAT_COUNT; c++)
        sum += p->failures[c];
    return sum;
}

/* -------------------------------------------------------------- charts */

struct plot {
    double x0, x1, y0, y1; /* plot area: x0..x1 left to right, y0 top, y1 bottom */
    unsigned long long ymax, step;
};

/* Horizontal grid lines with their values; sets the scale for max. */
static void y_axis(FILE *f, struct plot *pl, unsigned long long max)
{
    pl->step = nice_step(max ? (double)max / 4 : 1);
    pl->ymax = pl->step * ((max + pl->step - 1) / pl->step);
    if (pl->ymax == 0)
        pl->ymax = pl->step;
    for (unsigned long long v = 0; v <= pl->ymax; v += pl->step) {
        double y = pl->y1 - (pl->y1 - pl->y0) * (double)v / (double)pl->ymax;
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%llu</text>\n",
                pl->x0, y, pl->x1, y, pl->x0 - 6, y + 4, v);
    }
}

static double y_of(const struct plot *pl, unsigned long long v)
{
    return pl->y1 - (pl->y1 - pl->y0) * (double)v / (double)pl->ymax;
}

/* Labels under the buckets: about eight of them. */
static void x_labels(FILE *f, const struct plot *pl, const struct buckets *b)
{
    double slot = (pl->x1 - pl->x0) / (double)b->n;
    size_t every = (b->n + 7) / 8;
    for (size_t i = 0; i < b->n; i += every) {
        /* short: "11-26" for days, "13:00" for hours ("11-26 00:00" at midnight) */
        char label[32];
        int64_t start = b->v[i].start;
        time_t tt = (time_t)(b->kind == ML_SERIES_HOURS ? start * 3600 : start * 86400);
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || !strftime(label, sizeof(label),
                                             b->kind != ML_SERIES_HOURS          ? "%m-%d"
                                             : i == 0 || tm.tm_hour < (int)every ? "%m-%d %H:00"
                                                                                 : "%H:00",
                                             &tm))
            snprintf(label, sizeof(label), "?");
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                pl->x0 + slot * ((double)i + 0.5), pl->y1 + 16);
        html(f, label);
        fprintf(f, "</text>\n");
    }
}

static void chart_open(FILE *f, const char *id, int h, const char *label)
{
    fprintf(f, "<svg class=\"chart\" id=\"%s\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
            id, CHART_W, h);
    html(f, label);
    fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
}

static void chart_empty(FILE *f, const char *what)
{
    fprintf(f, "<text class=\"empty\" x=\"%d\" y=\"60\" text-anchor=\"middle\">", CHART_W / 2);
    html(f, what);
    fprintf(f, "</text>\n");
}

static void legend(FILE *f, const unsigned long long *totals)
{
    fprintf(f, "<ul class=\"legend\">");
    for (int c = 0; c < ML_CAT_COUNT; c++)
        if (!totals || totals[c])
            fprintf(f, "<li><span class=\"sw cat-%s\"></span>%s%s</li>", maillog_category_name(c),
                    maillog_category_name(c), maillog_category_is_auth(c) ? " (auth)" : "");
    fprintf(f, "</ul>\n");
}

/* Failed deliveries per bucket, stacked by category. */
static void chart_failures_time(FILE *f, const struct buckets *b)
{
    const int h = 280;
    chart_open(f, "chart-failures-time", h, "failed deliveries over time by category");
    unsigned long long max = 0;
    for (size_t i = 0; i < b->n; i++)
        if (failures_of(&b->v[i]) > max)
            max = failures_of(&b->v[i]);
    if (!b->n || !max) {
        chart_empty(f, "no failed deliveries");
        fprintf(f, "</svg>\n");
        return;
    }
    struct plot pl = {56, CHART_W - 10, 10, h - 30, 0, 0};
    y_axis(f, &pl, max);
    double slot = (pl.x1 - pl.x0) / (double)b->n, w = slot * 0.8 < 1 ? 1 : slot * 0.8;
    for (size_t i = 0; i < b->n; i++) {
        char label[32];
        bucket_label(label, sizeof(label), b, i);
        unsigned long long below = 0;
        for (int c = 0; c < ML_CAT_COUNT; c++) {
            unsigned long long v = b->v[i].failures[c];
            if (!v)
                continue;
            double ytop = y_of(&pl, below + v), ybot = y_of(&pl, below);
            fprintf(f,
                    "<rect class=\"bar cat-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\"><title>",
                    maillog_category_name(c), pl.x0 + slot * (double)i + (slot - w) / 2, ytop, w,
                    ybot - ytop);
            fprintf(f, "%s", b->per > 1 ? "from " : ""); /* merged periods */
            html(f, label);
            fprintf(f, ": %llu %s</title></rect>\n", v, maillog_category_name(c));
            below += v;
        }
    }
    x_labels(f, &pl, b);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", pl.x0,
            pl.y1, pl.x1, pl.y1);
    fprintf(f, "</svg>\n");
}

/* Received, delivered, deferrals, bounced and rejected per bucket, as lines. */
static void chart_traffic_time(FILE *f, const struct buckets *b)
{
    const int h = 260;
    chart_open(f, "chart-traffic-time", h, "traffic over time");
    static const char *const name[] = {"received", "delivered", "deferred", "bounced", "rejected"};
#define VAL(p, k)                                                                                  \
    ((k) == 0   ? (p)->received                                                                    \
     : (k) == 1 ? (p)->delivered                                                                   \
     : (k) == 2 ? (p)->deferrals                                                                   \
     : (k) == 3 ? (p)->bounced                                                                     \
                : (p)->rejected)
    unsigned long long max = 0;
    for (size_t i = 0; i < b->n; i++)
        for (int k = 0; k < 5; k++)
            if (VAL(&b->v[i], k) > max)
                max = VAL(&b->v[i], k);
    if (!b->n || !max) {
        chart_empty(f, "no traffic");
        fprintf(f, "</svg>\n");
        return;
    }
    struct plot pl = {56, CHART_W - 10, 10, h - 30, 0, 0};
    y_axis(f, &pl, max);
    double slot = (pl.x1 - pl.x0) / (double)b->n;
    for (int k = 0; k < 5; k++) {
        fprintf(f, "<polyline class=\"line %s\" points=\"", name[k]);
        for (size_t i = 0; i < b->n; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", pl.x0 + slot * ((double)i + 0.5),
                    y_of(&pl, VAL(&b->v[i], k)));
        fprintf(f, "\"/>\n");
        if (b->n <= 60)
            for (size_t i = 0; i < b->n; i++) {
                char label[32];
                bucket_label(label, sizeof(label), b, i);
                fprintf(f, "<circle class=\"dot %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>%s",
                        name[k], pl.x0 + slot * ((double)i + 0.5), y_of(&pl, VAL(&b->v[i], k)),
                        b->per > 1 ? "from " : "");
                html(f, label);
                fprintf(f, ": %llu %s</title></circle>\n", VAL(&b->v[i], k), name[k]);
            }
    }
#undef VAL
    x_labels(f, &pl, b);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", pl.x0,
            pl.y1, pl.x1, pl.y1);
    fprintf(f, "</svg>\n<ul class=\"legend\">");
    for (int k = 0; k < 5; k++)
        fprintf(f, "<li><span class=\"sw t-%s\"></span>%s</li>", name[k], name[k]);
    fprintf(f, "</ul>\n");
}

/* Failures per domain (worst first), one stacked bar each. */
static void chart_domains(FILE *f, const char *id, const char *what, const struct domain_row *rows,
                          size_t n)
{
    size_t shown_rows = n < MAX_DOMAIN_ROWS ? n : MAX_DOMAIN_ROWS;
    int h = shown_rows ? (int)shown_rows * 24 + 34 : 80;
    chart_open(f, id, h, what);
    if (!shown_rows) {
        chart_empty(f, "no failed deliveries");
        fprintf(f, "</svg>\n");
        return;
    }
    unsigned long long max = 0;
    for (size_t i = 0; i < shown_rows; i++)
        if (rows[i].failures > max)
            max = rows[i].failures;
    struct plot pl = {250, CHART_W - 60, 6, (double)h - 24, 0, 0};
    unsigned long long step = nice_step(max ? (double)max / 4 : 1);
    unsigned long long xmax = step * ((max + step - 1) / step);
    for (unsigned long long v = 0; v <= xmax; v += step) {
        double x = pl.x0 + (pl.x1 - pl.x0) * (double)v / (double)xmax;
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%llu</text>\n",
                x, pl.y0, x, pl.y1, x, pl.y1 + 16, v);
    }
    for (size_t i = 0; i < shown_rows; i++) {
        const struct domain_row *r = &rows[i];
        double y = pl.y0 + 24 * (double)i + 3;
        /* the label, cut to what fits (html() repairs a cut UTF-8 sequence) */
        const char *d = logscan_shown(r->domain);
        size_t len = strlen(d);
        fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", pl.x0 - 8,
                y + 13);
        html_n(f, d, len > 34 ? 32 : len);
        if (len > 34)
            fputs("\xe2\x80\xa6", f);
        fprintf(f, "<title>");
        html(f, d);
        fprintf(f, "</title></text>\n");
        double x = pl.x0;
        for (int c = 0; c < ML_CAT_COUNT; c++) {
            if (!r->cat[c])
                continue;
            double w = (pl.x1 - pl.x0) * (double)r->cat[c] / (double)xmax;
            fprintf(f,
                    "<rect class=\"bar cat-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"18\"><title>",
                    maillog_category_name(c), x, y, w);
            html(f, d);
            fprintf(f, ": %llu %s</title></rect>\n", r->cat[c], maillog_category_name(c));
            x += w;
        }
        fprintf(f, "<text class=\"value\" x=\"%.1f\" y=\"%.1f\">%llu</text>\n", x + 6, y + 13,
                r->failures);
    }
    fprintf(f, "</svg>\n");
}

/* -------------------------------------------------------------- tables */

static void th_row(FILE *f, const char *const *cols, size_t n)
{
    fprintf(f, "<thead><tr>");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "<th>%s</th>", cols[i]);
    fprintf(f, "</tr></thead>\n");
}

static void period_table(FILE *f, const char *id, const char *first, const struct maillog_scan *s,
                         enum ml_series k, unsigned long long days)
{
    const char *cols[] = {first,      "received", "delivered", "deferred", "bounced",
                          "rejected", "held",     "discarded", "failures", "auth failures"};
    fprintf(f, "<table class=\"num\" id=\"%s\">", id);
    th_row(f, cols, sizeof(cols) / sizeof(cols[0]));
    fprintf(f, "<tbody>\n");
    size_t n = maillog_scan_nperiods(s, k);
#define AVG(x) (days > 1 ? ((x) + days / 2) / days : (x))
    for (size_t i = 0; i < n; i++) {
        const struct maillog_period *p = maillog_scan_period(s, k, i);
        char label[32];
        unsigned long long auth = 0;
        for (int c = 0; c < ML_CAT_COUNT; c++)
            if (maillog_category_is_auth(c))
                auth += p->failures[c];
        logscan_period_label(label, sizeof(label), k, p->start);
        fprintf(f,
                "<tr><td>%s</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td>"
                "<td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td><td>%llu</td></tr>\n",
                label, AVG(p->received), AVG(p->delivered), AVG(p->deferrals), AVG(p->bounced),
                AVG(p->rejected), AVG(p->held), AVG(p->discarded), AVG(failures_of(p)), AVG(auth));
    }
#undef AVG
    fprintf(f, "</tbody></table>\n");
}

static void top_table(FILE *f, const struct maillog_scan *s, const char *id, const char *title,
                      enum ml_top_kind k, enum ml_top_order order, size_t top, const char *what)
{
    size_t n;
    struct maillog_top_row *rows = logscan_top_rows(s, k, order, top, &n);
    const struct maillog_top *t = maillog_scan_top(s, k);
    fprintf(f, "<div class=\"top\"><h3>%s</h3>\n", title);
    if (maillog_top_evicted(t))
        fprintf(f,
                "<p class=\"note\">More than %zu keys: each count may be over-stated by the "
                "+N shown.</p>\n",
                maillog_top_capacity(t));
    if (!n) {
        fprintf(f, "<p class=\"none\">none</p></div>\n");
        return;
    }
    fprintf(
        f,
        "<table class=\"num\" "
        "id=\"%s\"><thead><tr><th>messages</th><th>bytes</th>%s<th>%s</th></tr></thead><tbody>\n",
        id, k == ML_TOP_RECIPIENT_DOMAINS ? "<th>deferrals</th>" : "", what);
    for (size_t i = 0; i < n; i++) {
        char hb[32];
        human_bytes(hb, sizeof(hb), rows[i].bytes);
        fprintf(f, "<tr><td>%llu", rows[i].count);
        if (rows[i].error)
            fprintf(f, " <span class=\"err\">+%llu</span>", rows[i].error);
        fprintf(f, "</td><td>%s</td>", hb);
        if (k == ML_TOP_RECIPIENT_DOMAINS)
            fprintf(f, "<td>%llu</td>", rows[i].deferrals);
        fprintf(f, "<td class=\"key\">");
        html_n(f, rows[i].key, rows[i].keylen);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</tbody></table></div>\n");
    free(rows);
}

/* Rejects or problems: "A\tB\tC" keys in three columns. */
static void reason_table(FILE *f, const struct maillog_scan *s, const char *id, enum ml_top_kind k,
                         size_t top, const char *c1, const char *c2, const char *c3)
{
    size_t n;
    struct maillog_top_row *rows = logscan_top_rows(s, k, ML_TOP_BY_COUNT, top, &n);
    if (!n) {
        fprintf(f, "<p class=\"none\" id=\"%s\">none</p>\n", id);
        return;
    }
    fprintf(f,
            "<table id=\"%s\"><thead><tr><th>count</th><th>%s</th><th>%s</th><th>%s</th></tr>"
            "</thead><tbody>\n",
            id, c1, c2, c3);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "<tr class=\"lvl-");
        const char *key = rows[i].key, *tab = strchr(key, '\t');
        html_n(f, key, tab ? (size_t)(tab - key) : strlen(key));
        fprintf(f, "\"><td class=\"n\">%llu", rows[i].count);
        if (rows[i].error)
            fprintf(f, " <span class=\"err\">+%llu</span>", rows[i].error);
        fprintf(f, "</td>");
        for (int col = 0; col < 3; col++) {
            tab = col < 2 ? strchr(key, '\t') : NULL;
            size_t len = tab ? (size_t)(tab - key) : strlen(key);
            fprintf(f, "<td>");
            if (len)
                html_n(f, key, len);
            else
                fputs("-", f);
            fprintf(f, "</td>");
            key = tab ? tab + 1 : key + len;
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</tbody></table>\n");
    free(rows);
}

static void advice_list(FILE *f, const struct domain_row *rows, size_t n, int senders)
{
    size_t listed = 0;
    fprintf(f, "<ul class=\"advice\" id=\"advice-%s\">\n", senders ? "senders" : "receivers");
    for (size_t i = 0; i < n; i++) {
        const struct domain_row *r = &rows[i];
        if (!r->auth && listed >= 5)
            continue; /* every authentication failure; a few of the rest */
        listed++;
        fprintf(f, "<li><span class=\"dom\">");
        html_domain(f, r->domain);
        fprintf(f, "</span> <span class=\"count\">%llu failed, %llu authentication", r->failures,
                r->auth);
        if (r->policy[0]) {
            fprintf(f, ", DMARC p=");
            html(f, r->policy);
        }
        fprintf(f, "</span><br>");
        html(f, r->advice);
        fprintf(f, "</li>\n");
    }
    if (!listed)
        fprintf(f, "<li>nothing failed</li>\n");
    fprintf(f, "</ul>\n");
}

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f23;"
    "background:#f6f7f9;margin:0}\n"
    "main{max-width:1000px;margin:0 auto;padding:16px 20px 40px}\n"
    "h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px "
    "solid #d0d4da;padding-bottom:4px}h3{font-size:15px;margin:14px 0 6px}\n"
    ".meta{color:#57606a;margin:0 0 4px}.meta code{font-size:13px}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:8px;padding:0;list-style:none;margin:12px 0}\n"
    ".cards li{background:#fff;border:1px solid #d0d4da;border-radius:6px;padding:8px "
    "12px;min-width:110px}\n"
    ".cards .v{display:block;font-size:20px;font-weight:600}.cards .k{color:#57606a;"
    "font-size:12px}\n"
    ".cards li.bad .v{color:#c62828}\n"
    "svg.chart{width:100%;height:auto;background:#fff;border:1px solid #d0d4da;border-radius:6px}\n"
    "svg .grid{stroke:#e3e6ea;stroke-width:1}svg .axis{stroke:#8c959f;stroke-width:1}\n"
    "svg text{font:11px system-ui,sans-serif;fill:#3d444d}svg .empty{font-size:14px;fill:#8c959f}\n"
    "svg .label{font-size:12px}svg .value{font-size:11px;fill:#57606a}\n"
    "svg .line{fill:none;stroke-width:2}\n"
    ".legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:12px;"
    "font-size:12px}\n"
    ".sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:4px;"
    "vertical-align:-1px}\n"
    "table{border-collapse:collapse;background:#fff;margin:6px 0;width:100%;font-size:13px}\n"
    "th,td{border:1px solid #d0d4da;padding:3px 7px;text-align:left;vertical-align:top}\n"
    "th{background:#eef0f3;font-weight:600}table.num td{text-align:right}"
    "table.num td.key,table.num td:first-child{text-align:left}\n"
    "td.reply{font-family:ui-monospace,Menlo,monospace;font-size:12px;word-break:break-word}\n"
    ".err{color:#9a6700;font-size:11px}.none{color:#57606a}.note{color:#9a6700;font-size:12px}\n"
    ".advice{padding-left:18px}.advice li{margin:6px 0}.advice .dom{font-weight:600}"
    ".advice .count{color:#57606a;font-size:12px}\n"
    ".tops{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:0 16px}\n"
    ".badge{display:inline-block;color:#fff;border-radius:3px;padding:0 5px;font-size:12px}\n"
    "tr.lvl-fatal td,tr.lvl-panic td{color:#c62828;font-weight:600}"
    "tr.lvl-error td{color:#c62828}\n"
    "footer{color:#57606a;font-size:12px;margin-top:30px}\n"
    "@media print{body{background:#fff}svg.chart{border:none}}\n";

static void css_colors(FILE *f)
{
    for (int c = 0; c < ML_CAT_COUNT; c++)
        fprintf(f, ".cat-%s{fill:%s;background:%s}\n", maillog_category_name(c), cat_color[c],
                cat_color[c]);
    static const struct {
        const char *name, *color;
    } traffic[] = {{"received", "#1565c0"},
                   {"delivered", "#2e7d32"},
                   {"deferred", "#9e9d24"},
                   {"bounced", "#c62828"},
                   {"rejected", "#6d4c41"}};
    for (size_t i = 0; i < sizeof(traffic) / sizeof(traffic[0]); i++)
        fprintf(f, ".line.%s{stroke:%s}.dot.%s{fill:%s}.t-%s{background:%s}\n", traffic[i].name,
                traffic[i].color, traffic[i].name, traffic[i].color, traffic[i].name,
                traffic[i].color);
}

static void card(FILE *f, const char *key, unsigned long long v, int bad)
{
    fprintf(f, "<li%s><span class=\"v\">%llu</span><span class=\"k\">%s</span></li>",
            bad && v ? " class=\"bad\"" : "", v, key);
}

int logscan_html(FILE *f, const struct logscan_data *d, const struct logscan_report_opts *o)
{
    const struct maillog_scan *s = d->s;
    const struct maillog_totals *t = maillog_scan_totals(s);
    struct buckets b;
    if (buckets_make(s, &b) < 0)
        return -1;
    int64_t first, last;
    maillog_scan_span(s, &first, &last);
    char from[64], to[64], now[64];
    local_time(from, sizeof(from), first);
    local_time(to, sizeof(to), last);
    local_time(now, sizeof(now), (int64_t)time(NULL));

    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
               "style-src 'unsafe-inline'; img-src data:\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<meta name=\"generator\" content=\"fwdauth logscan " FWDAUTH_VERSION "\">\n"
               "<link rel=\"icon\" href=\"data:,\">\n");
    fprintf(f, "<title>Postfix forwarding report %s to %s</title>\n",
            first == INT64_MIN ? "-" : from, last == INT64_MIN ? "-" : to);
    fprintf(f, "<style>\n%s", css);
    css_colors(f);
    fprintf(f, "</style>\n</head>\n<body>\n<main>\n");

    fprintf(f, "<header id=\"head\"><h1>Postfix forwarding report</h1>\n");
    fprintf(f,
            "<p class=\"meta\">Log lines from %s to %s (local time), %llu lines read, %llu from "
            "Postfix.</p>\n",
            from, to, t->lines, t->postfix_lines);
    fprintf(f, "<p class=\"meta\">Read: ");
    for (size_t i = 0; i < o->nfiles; i++) {
        fprintf(f, "%s<code>", i ? ", " : "");
        html(f, strcmp(o->files[i], "-") == 0 ? "standard input" : o->files[i]);
        fprintf(f, "</code>");
    }
    fprintf(f, ".</p></header>\n");

    fprintf(f, "<section id=\"totals\"><h2>Totals</h2><ul class=\"cards\">");
    card(f, "received", t->received, 0);
    card(f, "delivered", t->delivered, 0);
    card(f, "alias-forwarded", t->alias_forwarded, 0);
    card(f, "deferred", t->deferred, 0);
    card(f, "bounced", t->bounced, 1);
    card(f, "rejected", t->rejected, 0);
    card(f, "failed deliveries", t->failures, 1);
    card(f, "authentication failures", t->auth_failures, 1);
    fprintf(f, "</ul>\n");
    char br[32], bd[32];
    human_bytes(br, sizeof(br), t->bytes_received);
    human_bytes(bd, sizeof(bd), t->bytes_delivered);
    fprintf(
        f,
        "<table class=\"num\" id=\"totals-table\"><tbody>\n"
        "<tr><th>received</th><td>%llu</td><th>forwarded by local(8)</th><td>%llu</td></tr>\n"
        "<tr><th>delivered</th><td>%llu</td><th>of those alias-forwarded</th><td>%llu</td></tr>\n"
        "<tr><th>deferred (deferrals)</th><td>%llu (%llu)</td><th>expired</th><td>%llu</td></tr>\n"
        "<tr><th>bounced</th><td>%llu</td><th>bounce notifications</th><td>%llu</td></tr>\n"
        "<tr><th>rejected</th><td>%llu</td><th>milter-rejected</th><td>%llu</td></tr>\n"
        "<tr><th>held</th><td>%llu</td><th>discarded</th><td>%llu</td></tr>\n"
        "<tr><th>reject warnings</th><td>%llu</td><th>bytes received / delivered</th><td>%s / "
        "%s</td></tr>\n"
        "<tr><th>warnings / errors</th><td>%llu / %llu</td><th>fatal errors / panics</th><td>%llu "
        "/ %llu</td></tr>\n"
        "</tbody></table></section>\n",
        t->received, t->forwarded, t->delivered, t->alias_forwarded, t->deferred, t->deferrals,
        t->expired, t->bounced, t->notifications, t->rejected, t->milter_rejected, t->held,
        t->discarded, t->reject_warnings, br, bd, t->warnings, t->errors, t->fatals, t->panics);

    fprintf(f, "<section id=\"advice\"><h2>What to fix</h2>\n<h3>By sender domain</h3>\n");
    advice_list(f, d->sd, d->nsd, 1);
    fprintf(f, "<h3>By receiving domain</h3>\n");
    advice_list(f, d->rd, d->nrd, 0);
    fprintf(f, "</section>\n");

    fprintf(f, "<section id=\"failures-time\"><h2>Failed deliveries over time, by category</h2>\n");
    if (b.n)
        fprintf(f, "<p class=\"meta\">%s%s, local time.</p>\n",
                b.kind == ML_SERIES_HOURS ? "Per hour" : "Per day",
                b.per > 1 ? " (periods merged to fit)" : "");
    chart_failures_time(f, &b);
    legend(f, NULL);
    fprintf(f, "</section>\n");

    fprintf(f, "<section id=\"by-receiver\"><h2>Failed deliveries by receiving domain</h2>\n");
    chart_domains(f, "chart-receivers", "failed deliveries by receiving domain", d->rd, d->nrd);
    fprintf(f,
            "</section>\n<section id=\"by-sender\"><h2>Failed deliveries by sender domain</h2>\n");
    chart_domains(f, "chart-senders", "failed deliveries by sender domain", d->sd, d->nsd);
    fprintf(f, "</section>\n");

    fprintf(f, "<section id=\"groups\"><h2>Failure groups</h2>\n");
    size_t ng = maillog_scan_ngroups(s);
    if (!ng) {
        fprintf(f, "<p class=\"none\">none</p>\n");
    } else {
        static const char *const cols[] = {"count",           "category",         "status",
                                           "sender domain",   "receiving domain", "dsn",
                                           "receiver's reply"};
        fprintf(f, "<table id=\"groups-table\">");
        th_row(f, cols, sizeof(cols) / sizeof(cols[0]));
        fprintf(f, "<tbody>\n");
        for (size_t i = 0; i < ng; i++) {
            const struct maillog_group *g = maillog_scan_group(s, i);
            fprintf(f,
                    "<tr><td class=\"n\">%llu</td><td><span class=\"badge "
                    "cat-%s\">%s</span></td><td>%s</td><td>",
                    g->count, maillog_category_name(g->category),
                    maillog_category_name(g->category), logscan_status_name(g->status));
            html_domain(f, g->sender_domain);
            fprintf(f, "</td><td>");
            html_domain(f, g->recipient_domain);
            fprintf(f, "</td><td>");
            html(f, g->dsn[0] ? g->dsn : "-");
            fprintf(f, "</td><td class=\"reply\">");
            html(f, g->reply);
            fprintf(f, "<br><span class=\"meta\">");
            html(f, g->rule->label);
            fprintf(f, "</span></td></tr>\n");
        }
        fprintf(f, "</tbody></table>\n");
    }
    fprintf(f, "</section>\n");

    fprintf(f, "<section id=\"traffic\"><h2>Traffic</h2>\n");
    chart_traffic_time(f, &b);
    size_t ndays = maillog_scan_nperiods(s, ML_SERIES_DAYS);
    fprintf(f, "<h3>Per day</h3>\n");
    if (maillog_scan_series_truncated(s, ML_SERIES_DAYS))
        fprintf(f, "<p class=\"note\">Only the first %d days are kept.</p>\n", ML_DAYS_MAX);
    period_table(f, "per-day", "date", s, ML_SERIES_DAYS, 1);
    fprintf(f, "<h3>Per hour of the day%s</h3>\n", ndays > 1 ? " (daily average)" : "");
    period_table(f, "per-hour", "hour", s, ML_SERIES_HOUR_OF_DAY, ndays);
    fprintf(f, "</section>\n");

    fprintf(f, "<section id=\"top\"><h2>Senders and recipients</h2>\n<div class=\"tops\">\n");
    top_table(f, s, "top-senders", "Senders by messages received (SRS reversed)", ML_TOP_SENDERS,
              ML_TOP_BY_COUNT, o->top, "sender");
    top_table(f, s, "top-senders-bytes", "Senders by bytes received", ML_TOP_SENDERS_BYTES,
              ML_TOP_BY_BYTES, o->top, "sender");
    top_table(f, s, "top-recipients", "Recipients by messages delivered", ML_TOP_RECIPIENTS,
              ML_TOP_BY_COUNT, o->top, "recipient");
    top_table(f, s, "top-recipients-bytes", "Recipients by bytes delivered",
              ML_TOP_RECIPIENTS_BYTES, ML_TOP_BY_BYTES, o->top, "recipient");
    top_table(f, s, "top-sender-domains", "Received by sender domain", ML_TOP_SENDER_DOMAINS,
              ML_TOP_BY_COUNT, o->top, "domain");
    top_table(f, s, "top-recipient-domains", "Delivered by recipient domain",
              ML_TOP_RECIPIENT_DOMAINS, ML_TOP_BY_COUNT, o->top, "domain");
    fprintf(f, "</div></section>\n");

    fprintf(f, "<section id=\"rejects\"><h2>Rejects, holds, discards and reject warnings</h2>\n");
    reason_table(f, s, "rejects-table", ML_TOP_REJECTS, o->top, "action", "stage", "reason");
    fprintf(f, "</section>\n<section id=\"problems\"><h2>Warnings, errors, fatal errors and "
               "panics</h2>\n");
    reason_table(f, s, "problems-table", ML_TOP_PROBLEMS, o->top, "level", "daemon", "text");
    fprintf(f, "</section>\n");

    fprintf(f, "<footer>fwdauth logscan %s, %s. Categories and advice: fwdauth(1).</footer>\n",
            FWDAUTH_VERSION, now);
    fprintf(f, "</main>\n</body>\n</html>\n");
    free(b.v);
    return 0;
}
