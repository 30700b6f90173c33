/* maillog - parse one line of a Postfix log (see maillog.h). */
#include "maillog.h"

#include <stdlib.h>
#include <string.h>

#define SLICE(ptr, len) ((struct ml_str){(ptr), (len)})

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* n digits at p as a number, or -1. */
static int digits(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int starts(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

int ml_str_eq(struct ml_str a, const char *lit)
{
    size_t n = strlen(lit);
    return a.p && a.n == n && memcmp(a.p, lit, n) == 0;
}

static const char *find(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if (p >= end || (size_t)(end - p) < n)
        return NULL;
    return memmem(p, (size_t)(end - p), lit, n);
}

/* Days since 1970-01-01 (Howard Hinnant's days_from_civil). */
int64_t maillog_days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int valid_date(int y, int mo, int d, int h, int mi, int s)
{
    return y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 &&
           h <= 23 && mi >= 0 && mi <= 59 && s >= 0 && s <= 60;
}

void maillog_clock_init(struct maillog_clock *c, time_t ref)
{
    struct tm tm;
    memset(c, 0, sizeof(*c));
    if (!localtime_r(&ref, &tm)) {
        tm.tm_year = 70;
        tm.tm_mon = 0;
    }
    c->ref_year = tm.tm_year + 1900;
    c->ref_month = tm.tm_mon + 1;
    c->hour_cached = INT64_MIN;
}

/* The date of a day number (inverse of maillog_days_from_civil). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Local wall-clock time to UTC. The zone's offset is asked of mktime once
 * per hour of wall-clock time and cached: exact across DST changes, except
 * in the repeated hour of a fall-back, which mktime resolves. */
static int64_t local_to_utc(struct maillog_clock *c, int64_t days, int64_t secs)
{
    int64_t hour = days * 24 + secs / 3600;
    if (hour != c->hour_cached) {
        struct tm tm = {.tm_hour = (int)(secs / 3600), .tm_isdst = -1};
        civil_from_days(days, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        time_t t = mktime(&tm);
        c->gmtoff = t == (time_t)-1 ? 0 : (long)(hour * 3600 - (int64_t)t);
        c->hour_cached = hour;
    }
    return days * 86400 + secs - c->gmtoff;
}

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* "Nov  5 13:54:43 " (also "Nov 05"); returns bytes used or 0. */
static size_t parse_classic(const char *p, const char *end, struct maillog_clock *c, int64_t *t)
{
    if (end - p < 16)
        return 0;
    int mon = 0;
    for (int i = 0; i < 12; i++)
        if (memcmp(p, months + 3 * i, 3) == 0) {
            mon = i + 1;
            break;
        }
    if (!mon || p[3] != ' ')
        return 0;
    const char *q = p + 4;
    if (*q == ' ')
        q++;
    int day;
    if (is_digit(q[0]) && is_digit(q[1])) {
        day = digits(q, 2);
        q += 2;
    } else if (is_digit(q[0])) {
        day = q[0] - '0';
        q += 1;
    } else {
        return 0;
    }
    if (end - q < 10 || q[0] != ' ' || q[3] != ':' || q[6] != ':' || q[9] != ' ')
        return 0;
    int h = digits(q + 1, 2), mi = digits(q + 4, 2), s = digits(q + 7, 2);
    if (h < 0 || mi < 0 || s < 0)
        return 0;

    int year;
    if (c->last_month == 0) {
        c->year = mon > c->ref_month ? c->ref_year - 1 : c->ref_year;
        c->last_month = mon;
        year = c->year;
    } else if (mon + 6 < c->last_month) { /* December -> January */
        c->year++;
        c->last_month = mon;
        year = c->year;
    } else if (mon > c->last_month + 6) { /* a late line from the old year */
        year = c->year - 1;
    } else {
        c->last_month = mon;
        year = c->year;
    }
    if (!valid_date(year, mon, day, h, mi, s))
        return 0;
    *t = local_to_utc(c, maillog_days_from_civil(year, mon, day), (int64_t)h * 3600 + mi * 60 + s);
    return (size_t)(q + 9 - p);
}

/* "+01:00", "+0100", "Z" at p; offset in seconds east; bytes used or 0. */
static size_t parse_zone(const char *p, const char *end, long *off)
{
    if (p < end && *p == 'Z') {
        *off = 0;
        return 1;
    }
    if (end - p < 5 || (*p != '+' && *p != '-'))
        return 0;
    int h = digits(p + 1, 2), m;
    size_t used;
    if (p[3] == ':') {
        if (end - p < 6)
            return 0;
        m = digits(p + 4, 2);
        used = 6;
    } else {
        m = digits(p + 3, 2);
        used = 5;
    }
    if (h < 0 || m < 0 || h > 23 || m > 59)
        return 0;
    *off = (h * 3600L + m * 60L) * (*p == '-' ? -1 : 1);
    return used;
}

/* "2026-11-05T13:54:43[.frac](Z|+01:00|+0100)"; bytes used or 0. With
 * zone_required 0 a missing zone means local time (through c). */
static size_t parse_iso(const char *p, const char *end, int zone_required, struct maillog_clock *c,
                        int64_t *t)
{
    if (end - p < 19 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ') ||
        p[13] != ':' || p[16] != ':')
        return 0;
    int y = digits(p, 4), mo = digits(p + 5, 2), d = digits(p + 8, 2);
    int h = digits(p + 11, 2), mi = digits(p + 14, 2), s = digits(p + 17, 2);
    if (!valid_date(y, mo, d, h, mi, s))
        return 0;
    const char *q = p + 19;
    if (q < end && *q == '.') {
        q++;
        while (q < end && is_digit(*q))
            q++;
    }
    int64_t days = maillog_days_from_civil(y, mo, d), secs = (int64_t)h * 3600 + mi * 60 + s;
    long off;
    size_t z = parse_zone(q, end, &off);
    if (z) {
        *t = days * 86400 + secs - off;
        q += z;
    } else if (zone_required || !c) {
        return 0;
    } else {
        *t = local_to_utc(c, days, secs);
    }
    return (size_t)(q - p);
}

/* The daemons whose lines we read, as the last component of a syslog name. */
static int postfix_daemon(const char *p, size_t n)
{
    static const char *const names[] = {
        "smtp",      "lmtp",      "smtpd",          "postscreen", "cleanup",  "qmgr",
        "oqmgr",     "nqmgr",     "pickup",         "bounce",     "local",    "virtual",
        "pipe",      "error",     "discard",        "master",     "anvil",    "sendmail",
        "postdrop",  "postsuper", "scache",         "tlsmgr",     "verify",   "flush",
        "qmqpd",     "dnsblog",   "tlsproxy",       "showq",      "postlogd", "trivial-rewrite",
        "proxymap",  "spawn",     "postfix-script", "postqueue",  "postlog",  "postmap",
        "postalias", "postmulti", "postcat",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && memcmp(names[i], p, n) == 0)
            return 1;
    return 0;
}

static int is_hex_upper(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'F');
}
static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A queue ID: short (upper-case hex, 6+) or long (letters and digits
 * without vowels, 10+; Postfix's long IDs use no vowels), then ": ". */
static size_t parse_qid(const char *p, const char *end)
{
    const char *q = p;
    int hex = 1, vowel = 0;
    while (q < end && is_alnum(*q) && q - p < 32) {
        if (!is_hex_upper(*q))
            hex = 0;
        if (strchr("AEIOUaeiou", *q))
            vowel = 1;
        q++;
    }
    size_t n = (size_t)(q - p);
    if (end - q < 2 || q[0] != ':' || q[1] != ' ')
        return 0;
    if (n == 7 && memcmp(p, "NOQUEUE", 7) == 0)
        return n;
    if ((hex && n >= 6) || (!vowel && n >= 10 && n <= 20))
        return n;
    return 0;
}

/* "<...>" at p: the inside, up to the first '>' outside a quoted string
 * that is followed by the end, ',' or ' ' (quoted local parts may hold '>'). */
static const char *angle(const char *p, const char *end, struct ml_str *out)
{
    if (p >= end || *p != '<')
        return NULL;
    int quoted = 0;
    for (const char *q = p + 1; q < end; q++) {
        if (*q == '\\' && quoted && q + 1 < end)
            q++;
        else if (*q == '"')
            quoted = !quoted;
        else if (*q == '>' && !quoted && (q + 1 == end || q[1] == ',' || q[1] == ' ')) {
            *out = SLICE(p + 1, (size_t)(q - p - 1));
            return q + 1;
        }
    }
    return NULL;
}

/* A value after "key=": up to ", " or the end. */
static const char *value(const char *p, const char *end, struct ml_str *out)
{
    const char *q = find(p, end, ", ");
    if (!q)
        q = end;
    *out = SLICE(p, (size_t)(q - p));
    return q;
}

static long long number(struct ml_str v)
{
    if (!v.p || v.n == 0 || v.n > 18)
        return -1;
    long long x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (!is_digit(v.p[i]))
            return -1;
        x = x * 10 + (v.p[i] - '0');
    }
    return x;
}

/* The first enhanced status code "d.ddd.ddd" in s. */
static struct ml_str find_dsn(const char *p, const char *end)
{
    for (const char *q = p; q + 5 <= end; q++) {
        if ((*q != '2' && *q != '4' && *q != '5') || q[1] != '.' ||
            (q > p && q[-1] != ' ' && q[-1] != '-'))
            continue;
        const char *r = q + 2;
        size_t a = 0, b = 0;
        while (r < end && is_digit(*r) && a < 4)
            r++, a++;
        if (!a || a > 3 || r >= end || *r != '.')
            continue;
        r++;
        while (r < end && is_digit(*r) && b < 4)
            r++, b++;
        if (!b || b > 3 || (r < end && *r != ' ' && *r != ',' && *r != ';' && *r != ')'))
            continue;
        return SLICE(q, (size_t)(r - q));
    }
    return SLICE(NULL, 0);
}

static enum ml_status status_word(struct ml_str w)
{
    static const struct {
        const char *s;
        enum ml_status st;
    } words[] = {{"sent", ML_ST_SENT},
                 {"deferred", ML_ST_DEFERRED},
                 {"bounced", ML_ST_BOUNCED},
                 {"expired", ML_ST_EXPIRED}};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i].s) == w.n && memcmp(words[i].s, w.p, w.n) == 0)
            return words[i].st;
    return ML_ST_UNKNOWN;
}

static void parse_delivery(const char *p, const char *end, struct maillog_line *l)
{
    const char *q = angle(p + 3, end, &l->recipient);
    if (!q)
        return;
    while (starts(q, end, ", ")) {
        q += 2;
        if (starts(q, end, "orig_to=")) {
            q = angle(q + 8, end, &l->orig_to);
            if (!q)
                return;
        } else if (starts(q, end, "relay=")) {
            q = value(q + 6, end, &l->relay);
        } else if (starts(q, end, "dsn=")) {
            q = value(q + 4, end, &l->dsn);
        } else if (starts(q, end, "status=")) {
            const char *w = q + 7, *we = w;
            while (we < end && *we != ' ' && *we != ',')
                we++;
            l->status = status_word(SLICE(w, (size_t)(we - w)));
            const char *open = find(we, end, "(");
            if (open) {
                const char *close = end;
                while (close > open && close[-1] != ')')
                    close--;
                if (close > open + 1)
                    l->reply = SLICE(open + 1, (size_t)(close - 1 - (open + 1)));
            }
            l->event = ML_DELIVERY;
            if (l->status == ML_ST_SENT && l->reply.p) {
                const char *fw = find(l->reply.p, l->reply.p + l->reply.n, "forwarded as ");
                if (fw) {
                    const char *id = fw + 13, *ie = id;
                    while (ie < l->reply.p + l->reply.n && is_alnum(*ie))
                        ie++;
                    l->forwarded = 1;
                    l->new_qid = SLICE(id, (size_t)(ie - id));
                }
            }
            return;
        } else {
            struct ml_str skip;
            q = value(q, end, &skip);
        }
    }
}

/* "from=<S>, size=N, nrcpt=N (queue active)" or ", status=expired, ..." */
static void parse_envelope(const char *p, const char *end, struct maillog_line *l)
{
    const char *q = angle(p + 5, end, &l->sender);
    if (!q)
        return;
    if (starts(q, end, ", status=expired")) {
        l->event = ML_EXPIRED;
        return;
    }
    struct ml_str v;
    while (starts(q, end, ", ")) {
        q += 2;
        if (starts(q, end, "size=")) {
            q = value(q + 5, end, &v);
            l->size = number(v);
        } else if (starts(q, end, "nrcpt=")) {
            const char *ve = q + 6;
            while (ve < end && is_digit(*ve))
                ve++;
            l->nrcpt = (long)number(SLICE(q + 6, (size_t)(ve - q - 6)));
            q = ve;
            break;
        } else {
            q = value(q, end, &v);
        }
    }
    if (l->size >= 0)
        l->event = ML_ENVELOPE;
}

/* "reject: RCPT from host[addr]: 554 5.7.1 <x>: text; from=<a> to=<b> proto=..."
 * and cleanup's "reject: header Subject: x from host[addr]; from=<a> to=<b>
 * proto=ESMTP helo=<h>: 5.7.1 text". */
static void parse_reject(const char *p, const char *end, enum ml_event ev, struct maillog_line *l)
{
    l->event = ev;
    const char *w = p;
    while (w < end && *w != ' ')
        w++;
    l->stage = SLICE(p, (size_t)(w - p));
    const char *env = NULL;
    for (const char *q = find(p, end, "; from=<"); q; q = find(q + 1, end, "; from=<"))
        env = q; /* the last one: the reply may quote an address */
    const char *reason_end = env ? env : end;
    /* smtpd: "RCPT from host[addr]: reply" (the reply may say " from ");
     * cleanup: "header TEXT from host[addr]" (the text may say " from "). */
    int content = ml_str_eq(l->stage, "header") || ml_str_eq(l->stage, "body");
    const char *fr = find(w, reason_end, " from ");
    for (const char *q = fr; content && q; q = find(q + 1, reason_end, " from "))
        fr = q;
    if (fr) {
        const char *ce = find(fr + 6, reason_end, ": ");
        const char *cs = fr + 6;
        if (!ce) {
            ce = reason_end;
        }
        l->client = SLICE(cs, (size_t)(ce - cs));
        if (ce + 2 <= reason_end)
            l->reply = SLICE(ce + 2, (size_t)(reason_end - ce - 2));
    }
    if (env) {
        const char *q = angle(env + 7, end, &l->sender);
        if (q) {
            if (q < end && *q == ',')
                q++;
            if (q < end && *q == ' ')
                q++;
            if (starts(q, end, "to=<"))
                q = angle(q + 3, end, &l->recipient);
            /* cleanup: the reply follows the envelope: "helo=<h>: 5.7.1 text" */
            const char *colon = q ? find(q, end, ">: ") : NULL;
            if (colon && (!l->reply.p || l->reply.n == 0 || fr == NULL || content))
                l->reply = SLICE(colon + 3, (size_t)(end - colon - 3));
        }
    }
    if (l->reply.p)
        l->dsn = find_dsn(l->reply.p, l->reply.p + l->reply.n);
}

static void parse_event(const char *p, const char *end, struct maillog_line *l)
{
    struct ml_str d = l->daemon;
    if (starts(p, end, "to=<")) {
        parse_delivery(p, end, l);
    } else if (starts(p, end, "from=<")) {
        parse_envelope(p, end, l);
    } else if (end - p == 7 && memcmp(p, "removed", 7) == 0) {
        l->event = ML_REMOVED;
    } else if (starts(p, end, "client=")) {
        if (ml_str_eq(d, "smtpd") || ml_str_eq(d, "postscreen")) {
            l->event = ML_CLIENT;
            value(p + 7, end, &l->client);
        }
    } else if (ml_str_eq(d, "pickup") && (starts(p, end, "uid=") || starts(p, end, "sender="))) {
        l->event = ML_PICKUP;
        const char *f = find(p, end, "from=<");
        if (f)
            angle(f + 5, end, &l->sender);
    } else if (starts(p, end, "reject: ")) {
        parse_reject(p + 8, end, ML_REJECT, l);
    } else if (starts(p, end, "milter-reject: ")) {
        parse_reject(p + 15, end, ML_MILTER_REJECT, l);
    } else if (starts(p, end, "hold: ")) {
        parse_reject(p + 6, end, ML_HOLD, l);
    } else if (starts(p, end, "discard: ")) {
        parse_reject(p + 9, end, ML_DISCARD, l);
    } else if (starts(p, end, "reject_warning: ")) {
        parse_reject(p + 16, end, ML_REJECT_WARNING, l);
    } else if (ml_str_eq(d, "cleanup") && starts(p, end, "warning: ") &&
               (starts(p + 9, end, "header ") || starts(p + 9, end, "body ") ||
                starts(p + 9, end, "END-OF-MESSAGE "))) {
        /* header_checks/body_checks WARN: the message goes on */
        parse_reject(p + 9, end, ML_REJECT_WARNING, l);
    } else {
        const char *n = find(p, end, " notification: ");
        if (n && (size_t)(n - p) < 40) {
            const char *id = n + 15, *ie = id;
            while (ie < end && is_alnum(*ie))
                ie++;
            if (ie > id) {
                l->event = ML_NOTIFICATION;
                l->new_qid = SLICE(id, (size_t)(ie - id));
            }
        }
    }
}

int maillog_parse(const char *line, size_t n, struct maillog_clock *c, struct maillog_line *l)
{
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    const char *p = line, *end = line + n;
    memset(l, 0, sizeof(*l));
    l->time = INT64_MIN;
    l->pid = -1;
    l->size = -1;
    l->nrcpt = -1;

    size_t used = 0;
    if (n && is_digit(*p))
        used = parse_iso(p, end, 1, c, &l->time);
    else
        used = parse_classic(p, end, c, &l->time);
    if (!used || p + used >= end || p[used] != ' ')
        return -1;
    p += used + 1;

    const char *h = p;
    while (p < end && *p != ' ')
        p++;
    if (p == h || p >= end)
        return -1;
    l->host = SLICE(h, (size_t)(p - h));
    p++;

    const char *prog = p;
    while (p < end && *p != '[' && *p != ':' && *p != ' ')
        p++;
    if (p >= end || p == prog)
        return -1;
    l->program = SLICE(prog, (size_t)(p - prog));
    if (*p == '[') {
        const char *ds = ++p;
        while (p < end && is_digit(*p) && p - ds < 9) /* fits an int */
            p++;
        if (p == ds || p >= end || *p != ']')
            return -1;
        l->pid = digits(ds, (size_t)(p - ds));
        p++;
    }
    if (end - p < 2 || p[0] != ':' || p[1] != ' ')
        return -1;
    p += 2;

    const char *slash = NULL;
    for (const char *q = prog; q < prog + l->program.n; q++)
        if (*q == '/')
            slash = q;
    if (!slash)
        return -1;
    l->daemon = SLICE(slash + 1, (size_t)(prog + l->program.n - slash - 1));
    if (!postfix_daemon(l->daemon.p, l->daemon.n))
        return -1;

    size_t qn = parse_qid(p, end);
    if (qn) {
        l->qid = SLICE(p, qn);
        p += qn + 2;
    }
    l->text = SLICE(p, (size_t)(end - p));
    if (qn) {
        parse_event(p, end, l);
    } else {
        /* The daemons' own trouble, as pflogsumm reads it: the word right
         * after "program[pid]: " (a queue ID's place). */
        static const struct {
            const char *word;
            enum ml_event ev;
        } levels[] = {{"warning: ", ML_WARNING},
                      {"error: ", ML_ERROR},
                      {"fatal: ", ML_FATAL},
                      {"panic: ", ML_PANIC}};
        for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
            if (starts(p, end, levels[i].word)) {
                size_t w = strlen(levels[i].word);
                l->event = levels[i].ev;
                l->reply = SLICE(p + w, (size_t)(end - p - w));
                break;
            }
    }
    return 0;
}

int maillog_parse_time_arg(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n > 1 && s[0] == '@') {
        char *e;
        long long v = strtoll(s + 1, &e, 10);
        if (*e || !is_digit(s[1]))
            return -1;
        *out = v;
        return 0;
    }
    if (n == 10 && s[4] == '-' && s[7] == '-') {
        int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
        if (!valid_date(y, mo, d, 0, 0, 0))
            return -1;
        struct maillog_clock c;
        maillog_clock_init(&c, 0);
        *out = local_to_utc(&c, maillog_days_from_civil(y, mo, d), 0);
        return 0;
    }
    char buf[40];
    const char *p = s;
    if (n == 16) { /* "YYYY-MM-DDTHH:MM" */
        memcpy(buf, s, 16);
        memcpy(buf + 16, ":00", 4);
        p = buf;
        n = 19;
    }
    struct maillog_clock c;
    maillog_clock_init(&c, 0);
    size_t used = parse_iso(p, p + n, 0, &c, out);
    return used && used == n ? 0 : -1;
}
