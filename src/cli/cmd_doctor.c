/* fwdauth doctor: is the whole forwarding set-up right?
 *
 * The front end of doctor.h: this file gathers what the checks look at --
 * Postfix's settings (`postconf -x` and `postconf -n`, run here), the
 * lookup tables Postfix names (`postmap -s`), fwdauthd.conf with its
 * KeyTable and keys (cfgkeys.h), the stat(2) of every key and secret file,
 * the daemon's user, a live probe of each listener (a socketmap and
 * tcp_table lookup of a test address, milter option negotiation) and a
 * resolver -- and prints the findings, one verdict a line with the line to
 * add under it, or as JSON. The checks themselves are library functions
 * (doctor_run), pure over these inputs. */
#include "cfgkeys.h"
#include "cli.h"
#include "dns.h"
#include "doctor.h"
#include "listenaddr.h"
#include "netint.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/fwdauth/fwdauthd.conf"
#define POSTCONF "/usr/sbin/postconf"
#define POSTMAP "/usr/sbin/postmap"
#define RUN_OUTPUT_MAX (16 * 1024 * 1024) /* postconf or postmap -s output */
#define RUN_TIMEOUT_MS 60000              /* postconf, postmap */
#define TABLES_MAX 64                     /* tables listed with postmap -s */
#define FILES_MAX 512                     /* key and secret files stat'ed */
#define GROUPS_MAX 256

static void doctor_usage(FILE *f)
{
    fprintf(f,
            "usage: fwdauth doctor [options]\n"
            "\n"
            "Checks the whole forwarding set-up: Postfix's settings (postconf), fwdauthd's\n"
            "configuration, its key and secret files, DNS for every domain and key the\n"
            "configuration names, and the running daemon's listeners. One line per check,\n"
            "starting \"ok:\", \"warning:\", \"problem:\" or \"error:\" (could not check), with\n"
            "the exact line to add under each that is wrong (\"    main.cf: ...\",\n"
            "\"    fwdauthd.conf: ...\", \"    DNS: ...\", \"    run: ...\").\n"
            "\n"
            "options:\n"
            "  -c FILE              fwdauthd's configuration (default " DEFAULT_CONFIG ")\n"
            "  -C, --postfix-config DIR\n"
            "                       the Postfix instance's config_directory (default: the\n"
            "                       configuration's postfix_config_directory, else postconf's)\n"
            "  --dns-zone FILE      answer DNS from this zone file, not the network\n"
            "  --dns-server ADDR    ask this resolver (ADDR or ADDR@PORT)\n"
            "  --no-dns             do not check DNS\n"
            "  --no-probe           do not connect to the daemon's listeners\n"
            "  --timeout SECONDS    for each probe (default 5)\n"
            "  --json               one JSON object: config, status, counts, checks\n"
            "\n"
            "exit status: 0 no problems (warnings allowed), 1 problems found, 2 usage or\n"
            "I/O error, or something could not be checked (postconf, a DNS lookup)\n");
}

/* ---- running postconf and postmap ---------------------------------------- */

struct output {
    char *data;
    size_t len;
    char err[512]; /* the first lines of its standard error, or why it did not run */
};

static void output_free(struct output *o)
{
    free(o->data);
    o->data = NULL;
    o->len = 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run argv (argv[0] an absolute path) and keep its standard output (at
 * most RUN_OUTPUT_MAX octets) and the start of its standard error. 0 when
 * it exited 0, else -1 (o->err says why). */
static int run_capture(const char *const *argv, struct output *o)
{
    memset(o, 0, sizeof(*o));
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0) {
        snprintf(o->err, sizeof(o->err), "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(err, O_CLOEXEC) < 0) {
        snprintf(o->err, sizeof(o->err), "pipe: %s", strerror(errno));
        close(out[0]);
        close(out[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(o->err, sizeof(o->err), "fork: %s", strerror(errno));
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    size_t cap = 0, elen = 0;
    int too_big = 0, timed_out = 0;
    struct pollfd pf[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    long long deadline = now_ms() + RUN_TIMEOUT_MS;
    while (pf[0].fd >= 0 || pf[1].fd >= 0) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int n = poll(pf, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            char buf[65536];
            ssize_t r = read(pf[i].fd, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                continue;
            }
            if (i == 1) {
                size_t room = sizeof(o->err) - 1 - elen;
                size_t k = (size_t)r < room ? (size_t)r : room;
                memcpy(o->err + elen, buf, k);
                elen += k;
                o->err[elen] = '\0';
                continue;
            }
            if (o->len + (size_t)r > RUN_OUTPUT_MAX) {
                too_big = 1;
                continue;
            }
            if (o->len + (size_t)r + 1 > cap) {
                size_t nc = cap ? cap : 65536;
                while (nc < o->len + (size_t)r + 1)
                    nc *= 2;
                char *nd = realloc(o->data, nc);
                if (!nd) {
                    too_big = 1;
                    continue;
                }
                o->data = nd;
                cap = nc;
            }
            memcpy(o->data + o->len, buf, (size_t)r);
            o->len += (size_t)r;
            o->data[o->len] = '\0';
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    if (timed_out)
        kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    /* One line of stderr is enough, without its newline. */
    char *nl = strchr(o->err, '\n');
    if (nl)
        *nl = '\0';
    if (timed_out || too_big) {
        snprintf(o->err, sizeof(o->err), "%s %s", argv[0],
                 timed_out ? "did not finish in time" : "printed too much");
        output_free(o);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (!o->err[0])
            snprintf(o->err, sizeof(o->err), "%s failed", argv[0]);
        output_free(o);
        return -1;
    }
    if (!o->data && !(o->data = calloc(1, 1)))
        return -1;
    return 0;
}

/* postconf [-c DIR] FLAG: parsed into out. 0, or -1 with why. */
static int postconf(const char *dir, const char *flag, struct doctor_pairs *out, char *why,
                    size_t whysz)
{
    const char *argv[] = {POSTCONF, "-c", dir, flag, NULL};
    if (!dir || !dir[0]) {
        argv[1] = flag;
        argv[2] = NULL;
    }
    struct output o;
    if (access(POSTCONF, X_OK) < 0) {
        snprintf(why, whysz, "%s: %s (is Postfix installed?)", POSTCONF, strerror(errno));
        return -1;
    }
    if (run_capture(argv, &o) < 0) {
        snprintf(why, whysz, "postconf %s: %s", flag, o.err);
        return -1;
    }
    fa_err err;
    int rc = doctor_postconf_parse(o.data, o.len, out, &err);
    if (rc < 0)
        snprintf(why, whysz, "postconf %s: %s", flag, err.msg);
    output_free(&o);
    return rc;
}

/* Tables that postmap -s cannot list, or that would ask a server. */
static int unlistable(const char *table)
{
    static const char *const types[] = {
        "regexp:",   "pcre:",    "cidr:",    "static:",   "tcp:",     "socketmap:", "unix:",
        "fail:",     "randmap:", "pipemap:", "unionmap:", "ldap:",    "mysql:",     "pgsql:",
        "memcache:", "proxy:",   "nis:",     "nisplus:",  "environ:", NULL};
    for (size_t i = 0; types[i]; i++)
        if (strncmp(table, types[i], strlen(types[i])) == 0)
            return 1;
    return 0;
}

/* The tables of the lists doctor reads, each listed once with postmap -s. */
static size_t gather_tables(const char *dir, const struct doctor_pairs *pf,
                            struct doctor_table *tables, char **names)
{
    static const char *const params[] = {"virtual_alias_maps", "virtual_alias_domains",
                                         "mydestination", "virtual_mailbox_domains",
                                         "relay_domains"};
    size_t n = 0;
    for (size_t p = 0; p < sizeof(params) / sizeof(params[0]); p++) {
        const char *v = doctor_pair(pf, params[p]);
        char item[DOCTOR_ITEM_MAX];
        while (v && doctor_list_next(&v, item, sizeof(item)) == 1) {
            if (!strchr(item, ':') || item[0] == '{' || n == TABLES_MAX)
                continue;
            int seen = 0;
            for (size_t i = 0; i < n; i++)
                seen |= strcmp(names[i], item) == 0;
            if (seen || !(names[n] = strdup(item)))
                continue;
            struct doctor_table *t = &tables[n];
            memset(t, 0, sizeof(*t));
            t->name = names[n++];
            if (unlistable(item))
                continue;
            const char *argv[] = {POSTMAP, "-c", dir, "-s", item, NULL};
            if (!dir || !dir[0]) {
                argv[1] = "-s";
                argv[2] = item;
                argv[3] = NULL;
            }
            struct output o;
            fa_err err;
            if (run_capture(argv, &o) == 0 &&
                doctor_postmap_parse(o.data, o.len, &t->entries, &err) == 0)
                t->listed = 1;
            output_free(&o);
        }
    }
    return n;
}

/* ---- files and the user -------------------------------------------------- */

static void add_file(struct doctor_file *files, size_t *n, const char *path, const char *setting,
                     int kind)
{
    if (!path || !path[0] || *n == FILES_MAX)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(files[i].path, path) == 0)
            return;
    struct doctor_file *f = &files[(*n)++];
    memset(f, 0, sizeof(*f));
    f->path = path;
    f->setting = setting;
    f->kind = kind;
    struct stat st;
    if (stat(path, &st) < 0) {
        f->err = errno;
        return;
    }
    f->regular = S_ISREG(st.st_mode);
    f->uid = st.st_uid;
    f->gid = st.st_gid;
    f->mode = st.st_mode;
}

/* ---- live probes ----------------------------------------------------------- */

/* A connected socket to a fwdauthd listener, or -1 with errno. */
static int dial(const char *address, int timeout_ms, const char **step)
{
    struct listen_addr a;
    *step = "connect";
    if (listen_parse(address, strlen(address), &a, NULL) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (a.kind == LISTEN_UNIX) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a.path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        return fd;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", a.port);
    const char *host = a.kind == LISTEN_INET_ANY || strcmp(a.host, "0.0.0.0") == 0 ? "127.0.0.1"
                       : strcmp(a.host, "::") == 0                                 ? "::1"
                                                                                   : a.host;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1, e = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            e = errno;
            close(fd);
            fd = -1;
            continue;
        }
        struct pollfd p = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ||
            soerr) {
            e = soerr ? soerr : ETIMEDOUT;
            close(fd);
            fd = -1;
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    freeaddrinfo(res);
    if (fd < 0)
        errno = e;
    return fd;
}

static int send_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until done(buf, len) says a whole reply is there, the peer closes,
 * or the time is up. Returns the length, or -1 with errno. */
static ssize_t read_reply(int fd, char *buf, size_t max, int timeout_ms,
                          int (*done)(const char *, size_t))
{
    size_t len = 0;
    long long deadline = now_ms() + timeout_ms;
    while (len < max && !done(buf, len)) {
        long long left = deadline - now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) != 1) {
            errno = ETIMEDOUT;
            return -1;
        }
        ssize_t r = recv(fd, buf + len, max - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        len += (size_t)r;
    }
    return (ssize_t)len;
}

static int netstring_done(const char *b, size_t n)
{
    size_t i = 0, len = 0;
    while (i < n && b[i] >= '0' && b[i] <= '9' && i < 7)
        len = len * 10 + (size_t)(b[i++] - '0');
    if (i < n && b[i] != ':')
        return 1; /* not a netstring: let the parser say so */
    return i < n && n >= i + 1 + len + 1;
}

static int line_done(const char *b, size_t n)
{
    return memchr(b, '\n', n) != NULL;
}

static int optneg_done(const char *b, size_t n)
{
    if (n < 4)
        return 0;
    const unsigned char *u = (const unsigned char *)b;
    size_t len = (size_t)u[0] << 24 | (size_t)u[1] << 16 | (size_t)u[2] << 8 | u[3];
    return len > 65536 || n >= 4 + len;
}

/* One request and its reply into pr's slot i. */
static int ask(struct doctor_probe *pr, int fd, size_t i, const char *req, size_t reqlen,
               int timeout_ms, int (*done)(const char *, size_t))
{
    pr->step = "write";
    if (send_all(fd, req, reqlen) < 0) {
        pr->err = errno ? errno : EPIPE;
        return -1;
    }
    pr->step = "read";
    ssize_t n = read_reply(fd, pr->reply[i], sizeof(pr->reply[i]), timeout_ms, done);
    if (n < 0) {
        pr->err = errno;
        return -1;
    }
    if (n == 0) {
        pr->err = ECONNRESET;
        return -1;
    }
    pr->reply_len[i] = (size_t)n;
    pr->nreq = i + 1;
    return 0;
}

static void probe_table(struct doctor_probe *pr, const char *key2, int timeout_ms)
{
    int fd = dial(pr->address, timeout_ms, &pr->step);
    if (fd < 0) {
        pr->err = errno;
        return;
    }
    char req[400];
    int n;
    if (pr->kind == DOCTOR_PROBE_SOCKETMAP) {
        snprintf(pr->request[0], sizeof(pr->request[0]), "%s", DOCTOR_PROBE_ADDRESS);
        n = snprintf(req, sizeof(req), "%zu:forward %s,",
                     strlen("forward ") + strlen(pr->request[0]), pr->request[0]);
        if (ask(pr, fd, 0, req, (size_t)n, timeout_ms, netstring_done) == 0) {
            char v[DOCTOR_REPLY_MAX];
            if (doctor_socketmap_reply(pr->reply[0], pr->reply_len[0], v, sizeof(v)) ==
                    DOCTOR_REPLY_FOUND &&
                strlen(v) < sizeof(pr->request[1])) {
                snprintf(pr->request[1], sizeof(pr->request[1]), "%s", v);
                n = snprintf(req, sizeof(req), "%zu:reverse %s,", strlen("reverse ") + strlen(v),
                             v);
                ask(pr, fd, 1, req, (size_t)n, timeout_ms, netstring_done);
            }
        }
    } else {
        const char *key =
            pr->kind == DOCTOR_PROBE_TCP_REVERSE && key2 && key2[0] ? key2 : DOCTOR_PROBE_ADDRESS;
        snprintf(pr->request[0], sizeof(pr->request[0]), "%s", key);
        n = snprintf(req, sizeof(req), "get %s\n", pr->request[0]);
        ask(pr, fd, 0, req, (size_t)n, timeout_ms, line_done);
    }
    close(fd);
}

static void probe_milter(struct doctor_probe *pr, int timeout_ms)
{
    int fd = dial(pr->address, timeout_ms, &pr->step);
    if (fd < 0) {
        pr->err = errno;
        return;
    }
    /* SMFIC_OPTNEG as Postfix sends it: version 6, every action, every step. */
    unsigned char pkt[17];
    netint_put32(pkt, 13);
    pkt[4] = 'O';
    netint_put32(pkt + 5, 6);
    netint_put32(pkt + 9, 0x1ff);
    netint_put32(pkt + 13, 0x1fffff);
    if (ask(pr, fd, 0, (const char *)pkt, sizeof(pkt), timeout_ms, optneg_done) == 0) {
        unsigned char quit[5] = {0, 0, 0, 1, 'Q'};
        send_all(fd, (const char *)quit, sizeof(quit));
    }
    close(fd);
}

static size_t run_probes(const struct fa_config *cfg, struct doctor_probe *pr, int timeout_ms)
{
    const struct {
        const char *setting, *value;
        int kind;
    } ls[] = {
        {"socketmap_listen", cfg->socketmap_listen, DOCTOR_PROBE_SOCKETMAP},
        {"tcp_forward_listen", cfg->tcp_forward_listen, DOCTOR_PROBE_TCP_FORWARD},
        {"tcp_reverse_listen", cfg->tcp_reverse_listen, DOCTOR_PROBE_TCP_REVERSE},
        {"milter_listen", cfg->milter_listen, DOCTOR_PROBE_MILTER},
    };
    size_t n = 0;
    char got[DOCTOR_REPLY_MAX] = ""; /* an SRS address a forward probe got, for tcp_reverse */
    for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
        if (!ls[i].value[0])
            continue;
        struct doctor_probe *p = &pr[n++];
        memset(p, 0, sizeof(*p));
        p->kind = ls[i].kind;
        p->setting = ls[i].setting;
        p->address = ls[i].value;
        if (p->kind == DOCTOR_PROBE_MILTER) {
            probe_milter(p, timeout_ms);
            continue;
        }
        probe_table(p, got, timeout_ms);
        char v[DOCTOR_REPLY_MAX];
        if (!p->err && !got[0] &&
            (p->kind == DOCTOR_PROBE_SOCKETMAP
                 ? doctor_socketmap_reply(p->reply[0], p->reply_len[0], v, sizeof(v))
             : p->kind == DOCTOR_PROBE_TCP_FORWARD
                 ? doctor_tcptable_reply(p->reply[0], p->reply_len[0], v, sizeof(v))
                 : DOCTOR_REPLY_MALFORMED) == DOCTOR_REPLY_FOUND)
            snprintf(got, sizeof(got), "%s", v);
    }
    return n;
}

/* ---- output ------------------------------------------------------------------ */

static void print_text(const struct doctor_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct doctor_finding *f = &r->f[i];
        printf("%s: %s: %s\n", lint_level_name(f->level), f->check, f->text);
        if (f->fix_in != DOCTOR_FIX_NONE)
            printf("    %s: %s\n",
                   f->fix_in == DOCTOR_FIX_SHELL ? "run" : doctor_fix_in_name(f->fix_in), f->fix);
    }
    if (r->dropped)
        printf("(%zu more findings not shown: at most %zu are kept)\n", r->dropped, r->max);
    printf("%zu problem%s, %zu warning%s, %zu error%s\n", r->count[LINT_PROBLEM],
           r->count[LINT_PROBLEM] == 1 ? "" : "s", r->count[LINT_WARNING],
           r->count[LINT_WARNING] == 1 ? "" : "s", r->count[LINT_ERROR],
           r->count[LINT_ERROR] == 1 ? "" : "s");
}

static void json_str(const char *s)
{
    cli_json_string(stdout, s, strlen(s));
}

static void print_json(const struct doctor_report *r, const char *conf, const char *pfdir,
                       int status)
{
    static const char *const statuses[] = {"ok", "problems", "error"};
    fputs("{\"config\":", stdout);
    json_str(conf);
    fputs(",\"postfix_config_directory\":", stdout);
    json_str(pfdir ? pfdir : "");
    printf(",\"status\":\"%s\",\"problems\":%zu,\"warnings\":%zu,\"errors\":%zu,\"checks\":[",
           statuses[status], r->count[LINT_PROBLEM], r->count[LINT_WARNING], r->count[LINT_ERROR]);
    for (size_t i = 0; i < r->n; i++) {
        const struct doctor_finding *f = &r->f[i];
        printf("%s{\"check\":", i ? "," : "");
        json_str(f->check);
        printf(",\"level\":\"%s\",\"text\":", lint_level_name(f->level));
        json_str(f->text);
        fputs(",\"fix_in\":", stdout);
        json_str(doctor_fix_in_name(f->fix_in));
        fputs(",\"fix\":", stdout);
        json_str(f->fix);
        fputc('}', stdout);
    }
    fputc(']', stdout);
    if (r->dropped)
        printf(",\"dropped\":%zu", r->dropped);
    fputs("}\n", stdout);
}

/* ---- the command ---------------------------------------------------------------- */

int cmd_doctor(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_NO_DNS, OPT_NO_PROBE, OPT_TIMEOUT };
    static const struct option longopts[] = {
        CLI_DNS_LONGOPTS,
        {"postfix-config", required_argument, NULL, 'C'},
        {"no-dns", no_argument, NULL, OPT_NO_DNS},
        {"no-probe", no_argument, NULL, OPT_NO_PROBE},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_dns_args da = {0};
    const char *pfdir = NULL;
    int json = 0, no_dns = 0, no_probe = 0, c;
    long long timeout = 5;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:h", longopts, NULL)) != -1) {
        if (cli_dns_option(&da, c, optarg))
            continue;
        switch (c) {
        case 'C':
            pfdir = optarg;
            break;
        case OPT_NO_DNS:
            no_dns = 1;
            break;
        case OPT_NO_PROBE:
            no_probe = 1;
            break;
        case OPT_TIMEOUT:
            if (cli_parse_seconds(optarg, &timeout) < 0 || timeout < 1 || timeout > 600) {
                fprintf(stderr, "fwdauth doctor: --timeout wants 1 to 600 seconds, not \"%s\"\n",
                        optarg);
                return EXIT_TROUBLE;
            }
            break;
        case OPT_JSON:
            json = 1;
            break;
        case 'h':
            doctor_usage(stdout);
            return EXIT_POSITIVE;
        default:
            doctor_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fwdauth doctor: unexpected argument \"%s\"\n", argv[optind]);
        return EXIT_TROUBLE;
    }
    const char *conf = da.config ? da.config : DEFAULT_CONFIG;
    struct fa_config cfg;
    if (cli_load_config(&cfg, conf) < 0) {
        fprintf(stderr, "fwdauth doctor: fix %s first (fwdauthd -t -c %s checks it)\n", conf, conf);
        return EXIT_TROUBLE;
    }
    if (!pfdir && cfg.postfix_config_directory[0])
        pfdir = cfg.postfix_config_directory;

    /* Postfix's settings: every parameter as it applies, and main.cf as written. */
    struct doctor_pairs pf = {0}, pf_n = {0};
    char pf_error[700] = "";
    int have_pf = postconf(pfdir, "-x", &pf, pf_error, sizeof(pf_error)) == 0 &&
                  postconf(pfdir, "-n", &pf_n, pf_error, sizeof(pf_error)) == 0;
    struct doctor_table *tables = calloc(TABLES_MAX, sizeof(*tables));
    char **names = calloc(TABLES_MAX, sizeof(*names));
    struct doctor_file *files = calloc(FILES_MAX, sizeof(*files));
    struct doctor_probe *probes = calloc(4, sizeof(*probes));
    struct doctor_finding *found = calloc(DOCTOR_FINDINGS_MAX, sizeof(*found));
    gid_t *groups = calloc(GROUPS_MAX, sizeof(*groups));
    struct cfgkeys ck;
    int ck_ok = 0;
    int status = EXIT_TROUBLE;
    struct dns *d = NULL;
    size_t ntables = 0, nfiles = 0;
    if (!tables || !names || !files || !probes || !found || !groups) {
        fprintf(stderr, "fwdauth doctor: out of memory\n");
        goto out;
    }
    if (have_pf)
        ntables = gather_tables(pfdir, &pf, tables, names);
    if (cfgkeys_load(&cfg, &ck) < 0)
        goto out;
    ck_ok = 1;

    /* Every key and secret file the daemon reads. */
    struct keytable_entry e;
    for (size_t i = 0; ck.kt && keytable_entry(ck.kt, i, &e) == 1; i++)
        add_file(files, &nfiles, e.path, "dkim_key_table", DOCTOR_FILE_KEY);
    if (cfg.milter_listen[0])
        add_file(files, &nfiles, cfg.arc_key, "arc_key", DOCTOR_FILE_KEY);
    add_file(files, &nfiles, cfg.srs_secrets, "srs_secrets", DOCTOR_FILE_SECRET);
    if (cfg.milter_listen[0])
        add_file(files, &nfiles, cfg.stage_secrets, "stage_secrets", DOCTOR_FILE_SECRET);

    struct doctor_input in = {
        .cfg = &cfg,
        .cfg_path = conf,
        .pf = have_pf ? &pf : NULL,
        .pf_n = have_pf ? &pf_n : NULL,
        .pf_error = pf_error,
        .tables = tables,
        .ntables = ntables,
        .kt_error = ck.kt_error,
        .plan = &ck.plan,
        .files = files,
        .nfiles = nfiles,
        /* fwdauthd's master starts its signer and workers as root at every
         * start and reload: they read keys and secrets before dropping to
         * `user` (signer.h, worker.h). */
        .read_as_root = 1,
        .dmarc_mode = cfg.dmarc_mode,
    };
    in.user.name = cfg.user;
    struct passwd *pw = getpwnam(cfg.user);
    if (pw) {
        in.user.known = 1;
        in.user.uid = pw->pw_uid;
        in.user.gid = pw->pw_gid;
        int ng = GROUPS_MAX;
        if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) < 0)
            ng = 0;
        in.user.groups = groups;
        in.user.ngroups = (size_t)ng;
    }
    if (!no_dns) {
        d = cli_dns_open(&cfg, da.zone, da.server);
        if (!d)
            goto out;
        in.dns = d;
    }
    if (!no_probe) {
        in.probes = probes;
        in.nprobes = run_probes(&cfg, probes, (int)timeout * 1000);
    }

    struct doctor_report r;
    doctor_report_init(&r, found, DOCTOR_FINDINGS_MAX);
    doctor_run(&in, &r);
    status = r.count[LINT_ERROR]     ? EXIT_TROUBLE
             : r.count[LINT_PROBLEM] ? EXIT_NEGATIVE
                                     : EXIT_POSITIVE;
    if (json)
        print_json(&r, conf, pfdir, status);
    else
        print_text(&r);
out:
    dns_free(d);
    if (ck_ok)
        cfgkeys_free(&ck);
    for (size_t i = 0; i < ntables; i++) {
        doctor_pairs_free(&tables[i].entries);
        free(names[i]);
    }
    free(tables);
    free(names);
    free(files);
    free(probes);
    free(found);
    free(groups);
    doctor_pairs_free(&pf);
    doctor_pairs_free(&pf_n);
    config_free(&cfg);
    return status;
}
