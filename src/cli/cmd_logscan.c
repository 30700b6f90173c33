/* fwdauth logscan: find DMARC, SPF and DKIM rejections in Postfix logs. */
#include "cli.h"
#include "dmarc.h"
#include "dns.h"
#include "logscan_report.h"
#include "maillog.h"
#include "maillog_scan.h"
#include "srs.h"
#include "srs_config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define READ_CHUNK (1 << 20)
#define LINE_MAX_BYTES (64 * 1024) /* longer lines are cut there: Postfix writes < 2 KB */

/* The one piece of state a signal handler may touch: --follow stops on it. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fwdauth logscan [options] [FILE ...]\n"
               "\n"
               "Reads Postfix logs (classic syslog, RFC 3339, journalctl -o short-iso, Postfix's\n"
               "maillog_file; gzip-compressed files too; standard input without FILE or for\n"
               "\"-\"), follows each message by queue ID and reports failed deliveries by\n"
               "category (dmarc, spf, dkim, alignment, bulk, policy, mailbox, deferral, other),\n"
               "recipient domain and real sender domain (SRS addresses reversed). Give rotated\n"
               "files oldest first: maillog.2.gz maillog.1 maillog.\n"
               "\n"
               "  --format FMT         table (default), json, csv (one row per failure group) or\n"
               "                       html (one self-contained page with charts)\n"
               "  -o, --output FILE    write the report to FILE (replaced when complete)\n"
               "  --top N              rows of each top list: senders, recipients, domains,\n"
               "                       reject reasons, warnings (default 10; 0: all kept)\n"
               "  --since TIME         count only lines at or after TIME\n"
               "  --until TIME         count only lines before TIME; TIME is 2026-11-05,\n"
               "                       2026-11-05T13:00[:00][Z|+01:00] (local time without a\n"
               "                       zone) or @SECONDS\n"
               "  --today, --yesterday count only the lines of that local day\n"
               "  --year YEAR          year of classic syslog lines (default: from each file's\n"
               "                       modification time, for standard input the current year)\n"
               "  -f, --follow         after the files, keep reading the last one as it grows,\n"
               "                       across rotation; print each failure as it is found (a JSON\n"
               "                       object per line with --format json) and the report on\n"
               "                       SIGINT or SIGTERM\n"
               "  --lookup-policy      look up each failing sender domain's DMARC policy\n"
               "  --dns-zone FILE      answer DNS from this zone file (offline, tests)\n"
               "  --dns-server ADDR    ask this resolver (ADDR or ADDR@PORT)\n"
               "  --srs-secrets FILE   verify SRS senders with these secrets (default: the\n"
               "                       configuration's srs_secrets with -c); without secrets SRS\n"
               "                       addresses are still read for their original domain\n"
               "  -c FILE              fwdauthd's configuration (/etc/fwdauth/fwdauthd.conf):\n"
               "                       srs_*, dns_*, dmarc_mode, and what the advice builds on\n"
               "                       (ARC sealing, from_rewrite, srs_forwarded_mail,\n"
               "                       forward_signing_key)\n"
               "  --fail-on N          exit 1 when N or more DMARC, SPF, DKIM, alignment or\n"
               "                       bulk-sender failures were found (for cron and monitoring)\n"
               "\n"
               "On a terminal, a scan that takes more than two seconds shows its progress on\n"
               "standard error. A file without a line from Postfix is warned about.\n"
               "\n"
               "exit status: 0 (or, with --fail-on, fewer failures than N), 1 --fail-on reached,\n"
               "2 usage, configuration or I/O error\n");
}

struct scan_run {
    struct maillog_scan *scan;
    const struct logscan_report_opts *ropts;
    int follow;
    int have_year;
    int year;
    fa_err err;
};

/* The progress line: on standard error when it is a terminal, once a scan
 * has taken PROGRESS_AFTER seconds, redrawn at most every 0.25 s, erased
 * before anything else is printed. (File-wide: print_failure erases it.) */
#define PROGRESS_AFTER 2.0
static struct {
    int on, shown;
    struct timespec start, last;
    unsigned long long total; /* bytes of the regular files given; 0: unknown */
    unsigned long long done;  /* bytes of the files finished */
} progress;

static double seconds_since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void progress_clear(void)
{
    if (progress.shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        progress.shown = 0;
    }
}

static void human(char *out, size_t n, double b)
{
    const char *unit = "B";
    if (b >= 1e9)
        b /= 1e9, unit = "GB";
    else if (b >= 1e6)
        b /= 1e6, unit = "MB";
    else if (b >= 1e3)
        b /= 1e3, unit = "kB";
    snprintf(out, n, unit[0] == 'B' ? "%.0f %s" : "%.1f %s", b, unit);
}

static void progress_tick(const struct scan_run *r, const char *name, gzFile gz)
{
    if (!progress.on)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double t = seconds_since(&progress.start, &now);
    if (t < PROGRESS_AFTER || (progress.shown && seconds_since(&progress.last, &now) < 0.25))
        return;
    progress.last = now;
    off_t at = gzoffset(gz); /* bytes of the file read (compressed ones: compressed) */
    double done = (double)progress.done + (double)(at > 0 ? at : 0);
    unsigned long long lines = maillog_scan_totals(r->scan)->lines;
    char a[32], b[32];
    human(a, sizeof(a), done);
    if (strcmp(name, "-") == 0)
        name = "standard input";
    if (progress.total) {
        human(b, sizeof(b), (double)progress.total);
        int pct = (int)(100.0 * done / (double)progress.total);
        fprintf(stderr, "\rfwdauth logscan: %s: %d%% (%s of %s), %llu lines, %.1fM lines/s\033[K",
                name, pct > 100 ? 100 : pct, a, b, lines, (double)lines / t / 1e6);
    } else {
        fprintf(stderr, "\rfwdauth logscan: %s: %s, %llu lines, %.1fM lines/s\033[K", name, a,
                lines, (double)lines / t / 1e6);
    }
    fflush(stderr);
    progress.shown = 1;
}

/* Feed every complete line of buf to the scanner; returns bytes used. */
static size_t feed_lines(struct scan_run *r, struct maillog_clock *clk, const char *buf, size_t n,
                         int final)
{
    size_t start = 0;
    while (start < n) {
        const char *nl = memchr(buf + start, '\n', n - start);
        if (!nl && !final)
            break;
        size_t end = nl ? (size_t)(nl - buf) : n;
        struct maillog_line l;
        size_t len = end - start;
        if (len > LINE_MAX_BYTES)
            len = LINE_MAX_BYTES;
        if (maillog_parse(buf + start, len, clk, &l) == 0) {
            if (maillog_scan_feed(r->scan, &l, &r->err) < 0)
                return (size_t)-1;
        } else {
            maillog_scan_skip(r->scan);
        }
        start = nl ? end + 1 : n;
    }
    return start;
}

struct input {
    const char *name;
    gzFile gz;
    int fd;
    ino_t ino;
    off_t offset; /* of the decompressed stream: for truncation checks */
    struct maillog_clock clk;
    char *buf;
    size_t have; /* bytes of an incomplete line kept at buf */
};

static void clock_for(const struct scan_run *r, struct input *in, time_t mtime)
{
    if (r->have_year) {
        struct tm tm = {.tm_year = r->year - 1900, .tm_mon = 11, .tm_mday = 31, .tm_hour = 12};
        mtime = mktime(&tm);
    }
    maillog_clock_init(&in->clk, mtime);
}

static int input_open(const struct scan_run *r, struct input *in, const char *name)
{
    memset(in, 0, sizeof(*in));
    in->name = name;
    in->fd = strcmp(name, "-") == 0 ? dup(0) : open(name, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0) {
        fprintf(stderr, "fwdauth logscan: %s: %s\n", name, strerror(errno));
        return -1;
    }
    struct stat st;
    time_t mtime = time(NULL);
    if (fstat(in->fd, &st) == 0) {
        in->ino = st.st_ino;
        if (S_ISREG(st.st_mode))
            mtime = st.st_mtime;
    }
    clock_for(r, in, mtime);
    /* zlib reads plain files as they are and gzip files decompressed. */
    in->gz = gzdopen(in->fd, "rb");
    if (!in->gz) {
        close(in->fd);
        fprintf(stderr, "fwdauth logscan: %s: out of memory\n", name);
        return -1;
    }
    gzbuffer(in->gz, 256 * 1024);
    in->buf = malloc(READ_CHUNK + LINE_MAX_BYTES);
    if (!in->buf) {
        gzclose(in->gz);
        fprintf(stderr, "fwdauth logscan: out of memory\n");
        return -1;
    }
    return 0;
}

static void input_close(struct input *in)
{
    if (in->gz)
        gzclose(in->gz); /* closes fd */
    free(in->buf);
    in->gz = NULL;
    in->buf = NULL;
}

/* Read what is there now. 1 at end of data, 0 more may come, -1 error. */
static int input_drain(struct scan_run *r, struct input *in, int final)
{
    for (;;) {
        int got = gzread(in->gz, in->buf + in->have, READ_CHUNK);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(in->gz, &zerr);
            fprintf(stderr, "fwdauth logscan: %s: %s\n", in->name,
                    zerr == Z_ERRNO ? strerror(errno) : msg);
            return -1;
        }
        in->offset += got;
        size_t n = in->have + (size_t)got;
        int at_end = got == 0;
        size_t used = feed_lines(r, &in->clk, in->buf, n, at_end && final);
        if (used == (size_t)-1) {
            fprintf(stderr, "fwdauth logscan: %s\n", r->err.msg);
            return -1;
        }
        in->have = n - used;
        if (in->have > LINE_MAX_BYTES) { /* one endless line: keep only its start */
            in->have = LINE_MAX_BYTES;
        }
        if (used && in->have)
            memmove(in->buf, in->buf + used, in->have);
        progress_tick(r, in->name, in->gz);
        if (at_end) {
            if (!final)
                gzclearerr(in->gz); /* a growing file: read on later */
            return 1;
        }
    }
}

/* Keep reading in->name as it grows; reopen it when it was rotated
 * (another inode at the path) or truncated. Returns 0 on a stop signal. */
static int follow(struct scan_run *r, struct input *in)
{
    while (!stop_requested) {
        if (input_drain(r, in, 0) < 0)
            return -1;
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
        struct stat st;
        if (strcmp(in->name, "-") == 0 || stat(in->name, &st) < 0)
            continue; /* between rename and create: try again */
        if (st.st_ino == in->ino && st.st_size >= in->offset)
            continue;
        /* Rotated or truncated: finish the old file, then start the new one. */
        if (input_drain(r, in, 1) < 0)
            return -1;
        const char *name = in->name;
        input_close(in);
        if (input_open(r, in, name) < 0)
            return -1;
    }
    return input_drain(r, in, 1) < 0 ? -1 : 0;
}

static void print_failure(void *arg, const struct maillog_failure *f)
{
    const struct logscan_report_opts *o = arg;
    progress_clear();
    logscan_print_failure(stdout, o->format, f);
}

static int parse_format(const char *s)
{
    if (strcmp(s, "table") == 0)
        return LOGSCAN_TABLE;
    if (strcmp(s, "json") == 0)
        return LOGSCAN_JSON;
    if (strcmp(s, "csv") == 0)
        return LOGSCAN_CSV;
    if (strcmp(s, "html") == 0)
        return LOGSCAN_HTML;
    return -1;
}

/* The local day around now (days_back 0) or before it (1): since its
 * midnight, until the next. */
static int local_day(int days_back, int64_t *since, int64_t *until)
{
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm))
        return -1;
    struct tm a = {.tm_year = tm.tm_year,
                   .tm_mon = tm.tm_mon,
                   .tm_mday = tm.tm_mday - days_back,
                   .tm_isdst = -1};
    struct tm b = a;
    b.tm_mday++;
    time_t ta = mktime(&a), tb = mktime(&b);
    if (ta == (time_t)-1 || tb == (time_t)-1)
        return -1;
    *since = ta;
    *until = tb;
    return 0;
}

/* After a file: say so when none of its lines was from Postfix (a wrong
 * file, or journalctl's "-- No entries --"). 1 when warned. */
static int warn_no_postfix(const struct scan_run *r, const char *name,
                           unsigned long long lines_before, unsigned long long postfix_before)
{
    const struct maillog_totals *t = maillog_scan_totals(r->scan);
    unsigned long long lines = t->lines - lines_before;
    if (!lines || t->postfix_lines != postfix_before)
        return 0;
    progress_clear();
    fprintf(stderr,
            "fwdauth logscan: warning: %s: no Postfix line in its %llu line%s (a Postfix log "
            "has lines such as \"postfix/smtpd[123]: ...\"; on Debian 12: journalctl -u "
            "postfix@- or /var/log/mail.log)\n",
            strcmp(name, "-") == 0 ? "standard input" : name, lines, lines == 1 ? "" : "s");
    return 1;
}

/* The report to stdout, or to path through a temporary file in its folder
 * renamed over it when complete (a reader never sees half a report). */
static int write_report(const char *path, const struct maillog_scan *scan,
                        const struct logscan_report_opts *ro)
{
    if (!path) {
        if (logscan_report(stdout, scan, ro) < 0) {
            fprintf(stderr, "fwdauth logscan: out of memory writing the report\n");
            return -1;
        }
        if (fflush(stdout) != 0) {
            fprintf(stderr, "fwdauth logscan: standard output: %s\n", strerror(errno));
            return -1;
        }
        return 0;
    }
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        fprintf(stderr, "fwdauth logscan: out of memory\n");
        return -1;
    }
    snprintf(tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (!f) {
        fprintf(stderr, "fwdauth logscan: %s: %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return -1;
    }
    (void)fchmod(fd, 0644); /* a report, as a shell redirection would make it */
    int rc = logscan_report(f, scan, ro);
    if (rc < 0)
        fprintf(stderr, "fwdauth logscan: out of memory writing the report\n");
    if (fflush(f) != 0 || fsync(fd) != 0) {
        fprintf(stderr, "fwdauth logscan: %s: %s\n", tmp, strerror(errno));
        rc = -1;
    }
    if (fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "fwdauth logscan: %s: %s\n", tmp, strerror(errno));
        rc = -1;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        fprintf(stderr, "fwdauth logscan: %s: %s\n", path, strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static srs *open_srs(struct fa_config *cfg, const char *secrets)
{
    if (!secrets && !(cfg->srs_secrets && cfg->srs_secrets[0]))
        return NULL;
    fa_err err;
    /* Set as options, so that an error names the option, not a file line. */
    if ((secrets && config_set(cfg, "srs_secrets", secrets, "--srs-secrets", &err) < 0) ||
        (!cfg->srs_domain[0] && /* reversing needs no domain of ours */
         config_set(cfg, "srs_domain", "srs.invalid", "logscan", &err) < 0)) {
        fprintf(stderr, "fwdauth logscan: %s\n", err.msg);
        return NULL;
    }
    srs *s = srs_from_config(cfg, cli_secrets_owner(cfg), &err);
    if (!s && secrets)
        fprintf(stderr, "fwdauth logscan: %s\n", err.msg);
    else if (!s) /* the configuration's: go on, reading SRS addresses unverified */
        fprintf(stderr, "fwdauth logscan: warning: %s; SRS senders are not verified\n", err.msg);
    return s;
}

int cmd_logscan(int argc, char **argv)
{
    enum {
        OPT_FORMAT = 256,
        OPT_SINCE,
        OPT_UNTIL,
        OPT_YEAR,
        OPT_LOOKUP,
        OPT_SECRETS,
        OPT_FAIL_ON,
        OPT_TODAY,
        OPT_YESTERDAY,
        OPT_TOP,
    };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"year", required_argument, NULL, OPT_YEAR},
        {"follow", no_argument, NULL, 'f'},
        {"lookup-policy", no_argument, NULL, OPT_LOOKUP},
        {"srs-secrets", required_argument, NULL, OPT_SECRETS},
        {"fail-on", required_argument, NULL, OPT_FAIL_ON},
        {"today", no_argument, NULL, OPT_TODAY},
        {"yesterday", no_argument, NULL, OPT_YESTERDAY},
        {"top", required_argument, NULL, OPT_TOP},
        {"output", required_argument, NULL, 'o'},
        CLI_DNS_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct logscan_report_opts ro = {.format = LOGSCAN_TABLE, .top = 10};
    struct scan_run r = {0};
    struct maillog_scan_opts so = {.since = INT64_MIN, .until = INT64_MAX};
    struct cli_dns_args da = {0};
    const char *secrets = NULL, *output = NULL;
    long long fail_on = -1;
    int lookup = 0, window = 0, day = -1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:fho:", longopts, NULL)) != -1) {
        if (cli_dns_option(&da, c, optarg))
            continue;
        switch (c) {
        case OPT_FORMAT:
            if ((ro.format = parse_format(optarg)) < 0) {
                fprintf(stderr, "fwdauth logscan: --format wants table, json or csv\n");
                return EXIT_TROUBLE;
            }
            break;
        case OPT_TODAY:
        case OPT_YESTERDAY:
            day = c == OPT_TODAY ? 0 : 1;
            break;
        case OPT_TOP: {
            long long n;
            if (cli_parse_seconds(optarg, &n) < 0 || n > 1000000) {
                fprintf(stderr, "fwdauth logscan: --top wants a count (0: every row kept)\n");
                return EXIT_TROUBLE;
            }
            ro.top = (size_t)n;
            break;
        }
        case 'o':
            output = optarg;
            break;
        case OPT_SINCE:
        case OPT_UNTIL:
            window = 1;
            if (maillog_parse_time_arg(optarg, c == OPT_SINCE ? &so.since : &so.until) < 0) {
                fprintf(stderr,
                        "fwdauth logscan: bad time \"%s\" (2026-11-05, "
                        "2026-11-05T13:00:00Z or @SECONDS)\n",
                        optarg);
                return EXIT_TROUBLE;
            }
            break;
        case OPT_YEAR: {
            long long y;
            if (cli_parse_seconds(optarg, &y) < 0 || y < 1970 || y > 9999) {
                fprintf(stderr, "fwdauth logscan: --year wants a year such as 2026\n");
                return EXIT_TROUBLE;
            }
            r.have_year = 1;
            r.year = (int)y;
            break;
        }
        case 'f':
            r.follow = 1;
            break;
        case OPT_LOOKUP:
            lookup = 1;
            break;
        case OPT_SECRETS:
            secrets = optarg;
            break;
        case OPT_FAIL_ON:
            if (cli_parse_seconds(optarg, &fail_on) < 0 || fail_on < 1) {
                fprintf(stderr, "fwdauth logscan: --fail-on wants a count of 1 or more\n");
                return EXIT_TROUBLE;
            }
            break;
        case 'h':
            usage(stdout);
            return EXIT_POSITIVE;
        default:
            usage(stderr);
            return EXIT_TROUBLE;
        }
    }

    if (day >= 0 && window) {
        fprintf(stderr, "fwdauth logscan: --today and --yesterday replace --since and --until\n");
        return EXIT_TROUBLE;
    }
    if (day >= 0 && local_day(day, &so.since, &so.until) < 0) {
        fprintf(stderr, "fwdauth logscan: cannot tell the local date\n");
        return EXIT_TROUBLE;
    }
    if (r.follow && ro.format == LOGSCAN_HTML) {
        fprintf(stderr, "fwdauth logscan: --follow prints failures as lines: use --format "
                        "table, json or csv\n");
        return EXIT_TROUBLE;
    }

    struct fa_config cfg;
    struct dns *dns = NULL;
    if (lookup) {
        if (!(dns = cli_dns_setup(&da, &cfg)))
            return EXIT_TROUBLE;
    } else if (cli_load_config(&cfg, da.config) < 0) {
        return EXIT_TROUBLE;
    }
    int status = EXIT_TROUBLE;
    srs *engine = NULL;
    if ((secrets || da.config) && !(engine = open_srs(&cfg, secrets)) && secrets)
        goto out;

    ro.dns = dns;
    ro.dmarc_mode = cfg.dmarc_mode;
    if (da.config) { /* the advice builds on what the configuration already does */
        ro.setup.known = 1;
        ro.setup.arc = cfg.arc_domain[0] && cfg.arc_selector[0] && cfg.arc_key[0];
        ro.setup.from_rewrite = cfg.from_rewrite;
        ro.setup.srs = cfg.srs_forwarded_mail;
        ro.setup.signing = cfg.forward_signing_key[0] != 0;
    }
    so.srs = engine;
    if (r.follow) {
        so.on_failure = print_failure;
        so.arg = &ro;
    }
    if (!(r.scan = maillog_scan_new(&so, &r.err))) {
        fprintf(stderr, "fwdauth logscan: %s\n", r.err.msg);
        goto out;
    }
    r.ropts = &ro;

    if (r.follow) {
        struct sigaction sa = {.sa_handler = on_stop_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }

    char *stdin_only[] = {"-"};
    char **files = optind < argc ? argv + optind : stdin_only;
    int nfiles = optind < argc ? argc - optind : 1;
    ro.files = (const char *const *)files;
    ro.nfiles = (size_t)nfiles;
    progress.on = isatty(2);
    clock_gettime(CLOCK_MONOTONIC, &progress.start);
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0 && S_ISREG(st.st_mode))
            progress.total += (unsigned long long)st.st_size;
    }
    int warned = 0;
    for (int i = 0; i < nfiles; i++) {
        struct input in;
        if (input_open(&r, &in, files[i]) < 0)
            goto out;
        int last = i == nfiles - 1;
        const struct maillog_totals *t = maillog_scan_totals(r.scan);
        unsigned long long lines0 = t->lines, postfix0 = t->postfix_lines;
        int rc;
        if (r.follow && last) {
            rc = input_drain(&r, &in, 0); /* what is there now, then follow it */
            progress_clear();
            warned |= warn_no_postfix(&r, files[i], lines0, postfix0);
            if (rc >= 0)
                rc = follow(&r, &in);
        } else {
            rc = input_drain(&r, &in, 1);
            warned |= warn_no_postfix(&r, files[i], lines0, postfix0);
        }
        progress.done += (unsigned long long)(in.gz ? gzoffset(in.gz) : 0);
        input_close(&in);
        if (rc < 0)
            goto out;
    }
    progress_clear();
    if (!warned && maillog_scan_totals(r.scan)->postfix_lines == 0)
        fprintf(stderr, "fwdauth logscan: warning: no Postfix lines read%s\n",
                maillog_scan_totals(r.scan)->lines ? "" : " (the input is empty)");

    if (maillog_scan_finish(r.scan) < 0) {
        fprintf(stderr, "fwdauth logscan: out of memory\n");
        goto out;
    }
    if (write_report(output, r.scan, &ro) < 0)
        goto out;
    status =
        fail_on > 0 && maillog_scan_totals(r.scan)->auth_failures >= (unsigned long long)fail_on
            ? EXIT_NEGATIVE
            : EXIT_POSITIVE;
out:
    maillog_scan_free(r.scan);
    srs_free(engine);
    dns_free(dns);
    config_free(&cfg);
    return status;
}
