/*
 * NAME
 *   fwdauthd - SRS lookup tables (socketmap, tcp_table) and a milter for Postfix
 * SUMMARY
 *   fwdauthd -c FILE [-f] [-t | -n | -a] [-h] [-V]
 * DESCRIPTION
 *   Reads FILE (fwdauthd.conf(5)), binds every configured listener as
 *   root and becomes the master (master.h): it forks a signer (signer.h),
 *   the one process that holds the private keys, and a worker (worker.h)
 *   that serves Postfix's socketmap and tcp_table lookups, its milter
 *   connections and the Prometheus metrics as `user` (optionally inside
 *   `chroot`), with no key. The metrics registry is made here, in memory
 *   the children share, before the first worker: reloads and restarts
 *   keep counting into it.
 *   -f  stay in the foreground and log to standard error (else: background,
 *       syslog facility mail)
 *   -t  check the configuration and exit: every setting by its type (all
 *       bad lines, not only the first), the user, everything runtime_load
 *       builds (secrets file, key tables and every key, ARC key, zone
 *       file, resolver), the chroot folder, at least one listener, and
 *       every listen address resolved and test-bound (listen_probe); one
 *       line per problem on standard error, naming FILE:LINE; an address
 *       a process already listens on (the running fwdauthd) is a warning
 *   -n  print the settings that differ from their defaults, -a every
 *       setting, as "name = value" lines that load back unchanged
 *       (postconf -n, postconf)
 *   Signals go to the master (master.h): SIGHUP reloads by starting a
 *   new signer and worker from the file and, once they serve, draining
 *   the old ones; listener addresses, user and chroot need a restart and
 *   keep their old values; a bad new configuration keeps the old one and
 *   the log says why. SIGTERM and SIGINT stop: no new connections,
 *   requests being answered finish, then exit 0. Reloads are counted
 *   (fwdauth_config_reloads_total). In the background (no -f) the
 *   command returns when the first worker serves: 0, or 2 with the
 *   reason on standard error.
 * SECURITY
 *   Only the master stays root, and it parses no network input; workers
 *   refuse to serve as root. Nothing logs secrets (only how many there
 *   are) or key material.
 * DIAGNOSTICS
 *   Exit 0 on a clean stop, a good -t, or -n/-a printed; 1 when -t, -n or
 *   -a found a problem in the configuration (each written to standard
 *   error); 2 on usage errors, and on configuration or startup errors when
 *   starting (also written to standard error).
 */
#include "config.h"
#include "fileread.h"
#include "listen.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "metrics_http.h"
#include "pfcheck.h"
#include "privs.h"
#include "proctitle.h"
#include "runtime.h"
#include "server.h"
#include "srs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/fwdauth/fwdauthd.conf"

static int foreground;

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
    char msg[FA_ERR_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (foreground) {
        log_msg(FA_LOG_ERROR, "fatal: %s", msg);
    } else {
        fprintf(stderr, "fwdauthd: %s\n", msg);
        log_msg(FA_LOG_ERROR, "fatal: %s", msg);
    }
    exit(2);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fwdauthd [-c FILE] [-f] [-t | -n | -a] [-h] [-V]\n"
               "  -c FILE  configuration file (default " DEFAULT_CONFIG ")\n"
               "  -f       run in the foreground, log to standard error\n"
               "  -t       check the configuration, files and listen addresses, and exit\n"
               "           (0 good, 1 problems, each on standard error)\n"
               "  -n       print the settings that differ from the defaults and exit\n"
               "  -a       print every setting and exit\n"
               "  -h       this help\n"
               "  -V       print the version\n");
}

struct listener_conf {
    const char *key;
    int kind;
};
static const struct listener_conf listener_keys[] = {
    {"socketmap_listen", SERVER_SOCKETMAP},
    {"tcp_forward_listen", SERVER_TCP_FORWARD},
    {"tcp_reverse_listen", SERVER_TCP_REVERSE},
    {"milter_listen", SERVER_MILTER},
};
#define NLISTENERS (sizeof(listener_keys) / sizeof(listener_keys[0]))

static const char *listener_value(const struct fa_config *cfg, int kind)
{
    switch (kind) {
    case SERVER_SOCKETMAP:
        return cfg->socketmap_listen;
    case SERVER_TCP_FORWARD:
        return cfg->tcp_forward_listen;
    case SERVER_MILTER:
        return cfg->milter_listen;
    default:
        return cfg->tcp_reverse_listen;
    }
}

/* Parse the configured listeners; returns how many, or -1. */
static int parse_listeners(const struct fa_config *cfg, struct listen_addr *addrs, int *kinds,
                           const char **keys, fa_err *err)
{
    int n = 0;
    for (size_t i = 0; i < NLISTENERS; i++) {
        const char *v = listener_value(cfg, listener_keys[i].kind);
        if (!v || !v[0])
            continue;
        fa_err e = {{0}};
        if (listen_parse(v, strlen(v), &addrs[n], &e) < 0)
            return config_fail(cfg, listener_keys[i].key, err, "%s: %s", listener_keys[i].key,
                               e.msg);
        keys[n] = listener_keys[i].key;
        kinds[n++] = listener_keys[i].kind;
    }
    if (n == 0)
        return config_fail(cfg, "socketmap_listen", err,
                           "no listener configured (set socketmap_listen, tcp_forward_listen, "
                           "tcp_reverse_listen or milter_listen)");
    return n;
}

/* metrics_listen: 0 off, 1 set (*a filled), -1 error. Prometheus scrapes
 * over TCP: a UNIX-domain socket is refused (config.c refuses it too). */
static int parse_metrics(const struct fa_config *cfg, struct listen_addr *a, fa_err *err)
{
    const char *v = cfg->metrics_listen;
    if (!v || !v[0])
        return 0;
    fa_err e = {{0}};
    if (listen_parse(v, strlen(v), a, &e) < 0)
        return config_fail(cfg, "metrics_listen", err, "metrics_listen: %s", e.msg);
    if (a->kind == LISTEN_UNIX)
        return config_fail(cfg, "metrics_listen", err,
                           "metrics_listen = %s: Prometheus scrapes over TCP; use "
                           "inet:HOST:PORT, e.g. inet:127.0.0.1:9478",
                           v);
    return 1;
}

/* ---- -t, -n, -a ----------------------------------------------------------- */

struct check {
    unsigned problems, warnings;
};

static void report_problem(void *ctx, const char *msg)
{
    struct check *ck = ctx;
    ck->problems++;
    fprintf(stderr, "fwdauthd: %s\n", msg);
}

/* The whole file with every bad line reported; 0 good, -1 not. */
static int load_reporting(struct fa_config *cfg, const char *path, struct check *ck)
{
    fa_err err = {{0}};
    config_init(cfg);
    return config_load_file_each(cfg, path, report_problem, ck, &err);
}

/* Resolve and test-bind one listen address (listen_probe). */
static void probe_listener(const struct fa_config *cfg, const char *key,
                           const struct listen_addr *a, struct check *ck)
{
    fa_err e = {{0}}, msg = {{0}};
    int rc = listen_probe(a, &e);
    if (rc == 0)
        return;
    config_fail(cfg, key, &msg, "%s: %s", key, e.msg);
    if (rc == LISTEN_IN_USE) {
        ck->warnings++;
        fprintf(stderr, "fwdauthd: warning: %s (a running fwdauthd?)\n", msg.msg);
        return;
    }
    report_problem(ck, msg.msg);
}

/* The values of Postfix parameters, one per line as `postconf -h` prints
 * them, into out (NUL-terminated); -1 when postconf cannot be run. */
static int postconf_values(const char *dir, const char *const *params, char *out, size_t outsz)
{
    static const char postconf[] = "/usr/sbin/postconf";
    if (access(postconf, X_OK) < 0)
        return -1;
    const char *argv[32];
    size_t k = 0;
    argv[k++] = "postconf";
    if (dir && dir[0]) {
        argv[k++] = "-c";
        argv[k++] = dir;
    }
    argv[k++] = "-h";
    for (size_t i = 0; params[i] && k + 1 < sizeof(argv) / sizeof(argv[0]); i++)
        argv[k++] = params[i];
    argv[k] = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execv(postconf, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fds[0], out + got, outsz - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == outsz - 1)
            break;
    }
    close(fds[0]);
    out[got] = '\0';
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Postfix content checks that change forwarded mail before the milter
 * verifies it or after it signed it (pfcheck.h): warnings. */
static void check_postfix_checks(const struct fa_config *cfg, struct check *ck)
{
    if (!cfg->forward_recipients.n || !cfg->milter_listen[0])
        return;
    for (int before = 1; before >= 0; before--) {
        const char *const *params = before ? pfcheck_params_before : pfcheck_params_after;
        char values[8192];
        if (postconf_values(cfg->postfix_config_directory, params, values, sizeof(values)) < 0)
            return; /* no Postfix here to check */
        const char *line = values;
        for (size_t i = 0; params[i] && *line; i++) {
            const char *nl = strchr(line, '\n');
            char list[4096];
            snprintf(list, sizeof(list), "%.*s", (int)(nl ? nl - line : (long)strlen(line)), line);
            line = nl ? nl + 1 : "";
            const char *p = list;
            struct pfcheck_map map;
            while (pfcheck_next_map(&p, &map) == 1) {
                char *text;
                size_t len;
                unsigned no;
                fa_err e;
                if (!map.path[0] || file_read(map.path, 4 * 1024 * 1024, 0, 0, &text, &len, &e) < 0)
                    continue;
                int modifies = pfcheck_table_modifies(text, len, &no);
                free(text);
                if (!modifies)
                    continue;
                ck->warnings++;
                fprintf(stderr,
                        "fwdauthd: warning: Postfix %s = %s: %s:%u changes messages (REPLACE or "
                        "PREPEND) %s; forwarded mail then %s. Use forward_subject_tag, "
                        "forward_footer and forward_header instead (fwdauthd.conf(5))\n",
                        params[i], map.whole, map.path, no,
                        before ? "before milters see them" : "after fwdauthd signed them",
                        before ? "fails verification here (valid signatures break, p=reject "
                                 "senders are refused)"
                               : "fails our DKIM signature and ARC seal at the next hop");
            }
        }
    }
}

/* fwdauthd -t: what a start would do, short of serving. Exit 0 or 1. */
static int check_config(const char *path)
{
    struct check ck = {0, 0};
    struct fa_config cfg;
    fa_err err = {{0}};
    if (load_reporting(&cfg, path, &ck) < 0) {
        /* The later checks would only repeat what these lines get wrong. */
        config_free(&cfg);
        fprintf(stderr, "fwdauthd: %s: %u problem%s\n", path, ck.problems,
                ck.problems == 1 ? "" : "s");
        return 1;
    }
    struct privs_user user;
    uid_t owner = geteuid();
    if (privs_lookup(cfg.user, &user, &err) < 0) {
        fa_err msg;
        config_fail(&cfg, "user", &msg, "user: %s", err.msg);
        report_problem(&ck, msg.msg);
    } else if (geteuid() == 0) {
        owner = user.uid; /* the daemon's rule: files owned by root or user */
    }
    struct stat st;
    if (cfg.chroot[0] && (stat(cfg.chroot, &st) < 0 || !S_ISDIR(st.st_mode))) {
        fa_err msg;
        config_fail(&cfg, "chroot", &msg, "chroot = %s: not a folder", cfg.chroot);
        report_problem(&ck, msg.msg);
    }
    /* Everything a start builds: secrets, key tables and keys, ARC key, DNS. */
    struct runtime *rt = runtime_load(path, owner, NULL, &err);
    size_t nsecrets = 0;
    if (!rt)
        report_problem(&ck, err.msg);
    else
        nsecrets = runtime_srs_secrets(rt);
    runtime_release(rt);

    struct listen_addr addrs[NLISTENERS], maddr;
    int kinds[NLISTENERS];
    const char *keys[NLISTENERS];
    int n = parse_listeners(&cfg, addrs, kinds, keys, &err);
    if (n < 0)
        report_problem(&ck, err.msg);
    for (int i = 0; i < n; i++)
        probe_listener(&cfg, keys[i], &addrs[i], &ck);
    int with_metrics = parse_metrics(&cfg, &maddr, &err);
    if (with_metrics < 0)
        report_problem(&ck, err.msg);
    else if (with_metrics)
        probe_listener(&cfg, "metrics_listen", &maddr, &ck);
    /* The descriptors the connection limits need (server.h). */
    char why[FA_ERR_MAX];
    if (server_nofile_fit(&cfg, &err) < 0)
        report_problem(&ck, err.msg);
    if (server_limits_warning(&cfg, why, sizeof(why))) {
        ck.warnings++;
        fprintf(stderr, "fwdauthd: warning: %s\n", why);
    }
    check_postfix_checks(&cfg, &ck);
    config_free(&cfg);

    if (ck.problems) {
        fprintf(stderr, "fwdauthd: %s: %u problem%s\n", path, ck.problems,
                ck.problems == 1 ? "" : "s");
        return 1;
    }
    printf("fwdauthd: %s: configuration OK (%d listener%s, %zu SRS secret%s%s)\n", path, n,
           n == 1 ? "" : "s", nsecrets, nsecrets == 1 ? "" : "s",
           ck.warnings ? ", with warnings" : "");
    return 0;
}

/* fwdauthd -n / -a: the settings as postconf -n / postconf print them. */
static int dump_config(const char *path, int all)
{
    struct check ck = {0, 0};
    struct fa_config cfg;
    int rc = 1;
    if (load_reporting(&cfg, path, &ck) == 0) {
        char *text = config_dump(&cfg, all);
        if (text) {
            fputs(text, stdout);
            free(text);
            rc = fflush(stdout) == 0 ? 0 : 1;
        } else {
            fprintf(stderr, "fwdauthd: out of memory\n");
        }
    }
    config_free(&cfg);
    return rc;
}

/* Background: the parent waits until the master says the first
 * generation serves (one octet on the pipe), so that a failed start is
 * still its exit status and on the terminal. Returns the pipe's write end. */
static int daemonize(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        fatal("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid > 0) {
        close(p[1]);
        char c;
        ssize_t n;
        do
            n = read(p[0], &c, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 ? 0 : 2);
    }
    close(p[0]);
    if (setsid() < 0)
        fatal("setsid: %s", strerror(errno));
    return p[1];
}

int main(int argc, char **argv)
{
    const char *config_arg = DEFAULT_CONFIG;
    int mode = 0, opt; /* 0 serve, or 't', 'n', 'a' */
    while ((opt = getopt(argc, argv, "c:ftnahV")) != -1) {
        switch (opt) {
        case 'c':
            config_arg = optarg;
            break;
        case 'f':
            foreground = 1;
            break;
        case 't':
        case 'n':
        case 'a':
            if (mode && mode != opt) {
                fprintf(stderr, "fwdauthd: -t, -n and -a exclude each other\n");
                usage(stderr);
                return 2;
            }
            mode = opt;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("fwdauthd %s\n", FWDAUTH_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    /* An absolute path, so that a reload finds it after chdir("/"). */
    static char config_path[PATH_MAX];
    if (!realpath(config_arg, config_path)) {
        fprintf(stderr, "fwdauthd: cannot open %s: %s\n", config_arg, strerror(errno));
        return mode ? 1 : 2;
    }

    if (mode == 'n' || mode == 'a')
        return dump_config(config_path, mode == 'a');
    if (mode == 't') {
        foreground = 1;
        log_open(1);
        log_set_level(FA_LOG_WARNING);
        return check_config(config_path);
    }
    log_open(foreground);

    /* The master reads the file once per generation: its text goes to the
     * signer and the worker, so that both see the same configuration. */
    char *text;
    size_t text_len;
    fa_err err = {{0}};
    if (file_read(config_path, CONFIG_MAX_FILE, 0, 0, &text, &text_len, &err) < 0)
        fatal("%s", err.msg);
    static struct fa_config cfg; /* the start configuration: lives as long as the master */
    config_init(&cfg);
    if (config_load_buf(&cfg, config_path, text, text_len, &err) < 0)
        fatal("%s", err.msg);
    static struct privs_user user;
    if (privs_lookup(cfg.user, &user, &err) < 0) {
        fa_err msg;
        config_fail(&cfg, "user", &msg, "user: %s", err.msg);
        fatal("%s", msg.msg);
    }
    int as_root = geteuid() == 0;
    log_set_level(cfg.log_level);
    /* The registry outlives every worker: in memory the children share. */
    struct metrics *metrics = metrics_new_shared();
    if (!metrics)
        fatal("out of memory");

    struct listen_addr addrs[NLISTENERS];
    int kinds[NLISTENERS];
    const char *keys[NLISTENERS];
    int n = parse_listeners(&cfg, addrs, kinds, keys, &err);
    struct listen_addr maddr;
    int with_metrics = n < 0 ? 0 : parse_metrics(&cfg, &maddr, &err);
    if (n < 0 || with_metrics < 0)
        fatal("%s", err.msg);

    /* Every listener bound here, as root; the workers inherit them. */
    static struct server_listener ls[NLISTENERS];
    for (int i = 0; i < n; i++) {
        ls[i].kind = kinds[i];
        if (listen_format(&addrs[i], ls[i].name, sizeof(ls[i].name)) < 0)
            snprintf(ls[i].name, sizeof(ls[i].name), "?");
        ls[i].fd = listen_open(&addrs[i], &err);
        if (ls[i].fd < 0) {
            fa_err msg;
            config_fail(&cfg, keys[i], &msg, "%s: %s", keys[i], err.msg);
            fatal("%s", msg.msg);
        }
    }
    static char mname[SERVER_NAME_MAX] = "";
    int mfd = -1;
    if (with_metrics) {
        if (listen_format(&maddr, mname, sizeof(mname)) < 0)
            snprintf(mname, sizeof(mname), "?");
        mfd = listen_open(&maddr, &err);
        if (mfd < 0) {
            fa_err msg;
            config_fail(&cfg, "metrics_listen", &msg, "metrics_listen: %s", err.msg);
            fatal("%s", msg.msg);
        }
    }

    /* As root: the hard limit can still be raised; the children inherit it. */
    if (server_nofile_fit(&cfg, &err) < 0)
        fatal("%s", err.msg);

    /* Signals: blocked, read from a signalfd by the master. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0)
        fatal("cannot block signals");
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        fatal("signalfd: %s", strerror(errno));

    int ready_fd = foreground ? -1 : daemonize();
    for (int i = 0; i < n; i++)
        log_msg(FA_LOG_INFO, "listening: %s on %s", server_kind_name(ls[i].kind), ls[i].name);
    if (mfd >= 0)
        log_msg(FA_LOG_INFO, "listening: metrics (HTTP GET /metrics) on %s", mname);
    proctitle_init(argc, argv);
    struct master_args ma = {
        .config_path = config_path,
        .start = &cfg,
        .config_text = text,
        .config_len = text_len,
        .user = as_root ? &user : NULL,
        .secrets_owner = as_root ? user.uid : geteuid(),
        .ls = ls,
        .nls = (size_t)n,
        .metrics_fd = mfd,
        .metrics_name = mname,
        .metrics = metrics,
        .sigfd = sigfd,
        .foreground = foreground,
        .ready_fd = ready_fd,
    };
    return master_run(&ma);
}
