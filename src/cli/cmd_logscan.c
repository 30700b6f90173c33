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
               "  --format FMT         table (default), json or csv (one row per failure group)\n"
               "  --since TIME         count only lines at or after TIME\n"
               "  --until TIME         count only lines before TIME; TIME is 2026-11-05,\n"
               "                       2026-11-05T13:00[:00][Z|+01:00] (local time without a\n"
               "                       zone) or @SECONDS\n"
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
               "  -c FILE              configuration file (srs_*, dns_*, dmarc_mode)\n"
               "  --fail-on N          exit 1 when N or more DMARC, SPF, DKIM, alignment or\n"
               "                       bulk-sender failures were found (for cron and monitoring)\n"
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
    return -1;
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
        CLI_DNS_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct logscan_report_opts ro = {.format = LOGSCAN_TABLE};
    struct scan_run r = {0};
    struct maillog_scan_opts so = {.since = INT64_MIN, .until = INT64_MAX};
    struct cli_dns_args da = {0};
    const char *secrets = NULL;
    long long fail_on = -1;
    int lookup = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:fh", longopts, NULL)) != -1) {
        if (cli_dns_option(&da, c, optarg))
            continue;
        switch (c) {
        case OPT_FORMAT:
            if ((ro.format = parse_format(optarg)) < 0) {
                fprintf(stderr, "fwdauth logscan: --format wants table, json or csv\n");
                return EXIT_TROUBLE;
            }
            break;
        case OPT_SINCE:
        case OPT_UNTIL:
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
    for (int i = 0; i < nfiles; i++) {
        struct input in;
        if (input_open(&r, &in, files[i]) < 0)
            goto out;
        int last = i == nfiles - 1;
        int rc = r.follow && last ? follow(&r, &in) : input_drain(&r, &in, 1);
        input_close(&in);
        if (rc < 0)
            goto out;
    }

    if (maillog_scan_finish(r.scan) < 0 || logscan_report(stdout, r.scan, &ro) < 0) {
        fprintf(stderr, "fwdauth logscan: out of memory writing the report\n");
        goto out;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "fwdauth logscan: standard output: %s\n", strerror(errno));
        goto out;
    }
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
