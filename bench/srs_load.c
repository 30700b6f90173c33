/*
 * NAME
 *   srs-load - load generator for SRS lookup tables (tcp_table, socketmap)
 * SUMMARY
 *   Opens C persistent connections to a Postfix tcp_table(5) or
 *   socketmap_table(5) server (fwdauthd, postsrsd) and keeps each one busy
 *   with sequential lookups of varied addresses for T seconds, as Postfix's
 *   cleanup processes do: one request in flight per connection. Prints
 *   requests per second and the latency distribution (p50, p90, p99, p99.9,
 *   max), measured per request with clock_gettime(CLOCK_MONOTONIC) from the
 *   first byte written to the last byte of the reply read.
 * SYNOPSIS
 *   srs-load [-P tcp|socketmap] [-m map] [-c conns] [-t seconds] [-n addrs]
 *            [-L percent] [-x reply-prefix] [-l label] host:port
 * DESCRIPTION
 *   -P   protocol: tcp (default; "get key\n" -> "200 value\n") or socketmap
 *        (netstring "map key" -> netstring "OK value").
 *   -m   socketmap map name (default forward).
 *   -c   connections, one thread each (default 1).
 *   -t   seconds of load (default 3); -w seconds of warm-up not measured (0.5).
 *   -n   distinct addresses per connection, cycled (default 1000).
 *   -L   percent of those addresses that are long senders (a 53-octet local
 *        part: their SRS form exceeds 64 octets, so hybrid SRS stores them);
 *        spread evenly, default 0.
 *   -x   a reply must start with this to count as a success (default "200 "
 *        for tcp, "OK " for socketmap); other replies are counted as errors.
 *   -l   a label copied into the RESULT line.
 *   The last line is machine-readable:
 *     RESULT label=L proto=P conns=C seconds=S requests=N errors=E rps=R
 *            p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=.. mean_us=..
 *   Latencies are kept in a histogram with 0.1 us buckets below 10 ms and
 *   10 us buckets up to 1 s (anything slower counts as 1 s).
 * DIAGNOSTICS
 *   Exit 0 when every request got a reply and none was an error reply, 1
 *   when some replies were errors, 2 on usage or connection errors.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FINE_BUCKETS 100000  /* 0.1 us each: 0 .. 10 ms */
#define COARSE_BUCKETS 99000 /* 10 us each: 10 ms .. 1 s */
#define FINE_NS 100
#define COARSE_NS 10000
#define FINE_LIMIT_NS ((uint64_t)FINE_BUCKETS * FINE_NS)
#define NBUCKETS (FINE_BUCKETS + COARSE_BUCKETS + 1)
#define KEY_MAX 512
#define REQ_MAX (KEY_MAX + 64)
#define RBUF 8192

enum proto { P_TCP, P_SOCKETMAP };

struct opts {
    enum proto proto;
    const char *map;
    unsigned conns;
    double seconds;
    double warmup;
    unsigned naddrs;
    unsigned long_pct;
    const char *expect;
    const char *label;
    struct addrinfo *ai;
    const char *target;
};

struct req {
    char buf[REQ_MAX];
    size_t len;
};

struct worker {
    pthread_t tid;
    unsigned id;
    const struct opts *o;
    struct req *reqs;
    uint32_t *hist;
    uint64_t requests, errors, sum_ns, max_ns;
    int failed; /* connection or protocol failure */
    char first_error[160];
    /* reply reader */
    int fd;
    char rbuf[RBUF];
    size_t rpos, rlen;
};

static pthread_barrier_t start_barrier;
static struct timespec t_measure, t_end;

static uint64_t ts_ns(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return ts_ns(&t);
}

static size_t bucket_of(uint64_t ns)
{
    if (ns < FINE_LIMIT_NS)
        return (size_t)(ns / FINE_NS);
    uint64_t c = (ns - FINE_LIMIT_NS) / COARSE_NS;
    if (c >= COARSE_BUCKETS)
        return NBUCKETS - 1;
    return FINE_BUCKETS + (size_t)c;
}

/* The middle of a bucket, in microseconds. */
static double bucket_us(size_t b)
{
    if (b < FINE_BUCKETS)
        return ((double)b * FINE_NS + FINE_NS / 2.0) / 1000.0;
    if (b < NBUCKETS - 1)
        return ((double)FINE_LIMIT_NS + (double)(b - FINE_BUCKETS) * COARSE_NS + COARSE_NS / 2.0) /
               1000.0;
    return 1e6;
}

/* Varied addresses, as a forwarder sees them: plain, tagged, dotted,
 * upper case, deep subdomains, other forwarders' SRS0 and SRS1. */
static int make_key(char *out, size_t n, unsigned conn, unsigned i, unsigned long_pct)
{
    unsigned k = conn * 7919u + i;
    /* i * 37 % 100 walks 0..99 in every 100 addresses: exactly long_pct
     * of them are long, spread among the others. */
    if (i * 37u % 100u < long_pct)
        return snprintf(out, n, "long-sender-%010u-of-a-mailing-list-xxxxxxxxxxxx@example%u.org", k,
                        k % 97);
    switch (i % 8) {
    case 0:
        return snprintf(out, n, "user%u@example%u.org", k, k % 97);
    case 1:
        return snprintf(out, n, "first.last+tag%u@sub%u.example.com", k, k % 31);
    case 2:
        return snprintf(out, n, "Mixed.Case%u@Example%u.NET", k, k % 13);
    case 3:
        return snprintf(out, n, "a=b-c+d%u@a.b.c.example%u.co.uk", k, k % 7);
    case 4:
        return snprintf(out, n, "SRS0=abcd=2W=other%u.example=u%u@fwd%u.example", k % 50, k, k % 5);
    case 5:
        return snprintf(out, n, "SRS1=wxyz=hop%u.example==abcd=2W=other.example=u%u@fwd.example",
                        k % 11, k);
    case 6:
        return snprintf(out, n, "newsletter-bounces-%u@lists.example%u.org", k, k % 41);
    default:
        return snprintf(out, n, "x%u@xn--mnchen-3ya.de", k);
    }
}

static int build_request(const struct opts *o, struct req *r, const char *key)
{
    int n;
    if (o->proto == P_TCP) {
        /* tcp_table: %XX-encode %, white space and non-printables. */
        size_t len = 0;
        const char *pre = "get ";
        memcpy(r->buf, pre, 4);
        len = 4;
        for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
            if (len + 4 >= sizeof(r->buf))
                return -1;
            if (*p == '%' || *p <= ' ' || *p >= 0x7f)
                len += (size_t)snprintf(r->buf + len, 4, "%%%02X", *p);
            else
                r->buf[len++] = (char)*p;
        }
        r->buf[len++] = '\n';
        r->len = len;
        return 0;
    }
    size_t payload = strlen(o->map) + 1 + strlen(key);
    n = snprintf(r->buf, sizeof(r->buf), "%zu:%s %s,", payload, o->map, key);
    if (n < 0 || (size_t)n >= sizeof(r->buf))
        return -1;
    r->len = (size_t)n;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fill(struct worker *w)
{
    if (w->rpos > 0 && w->rpos == w->rlen)
        w->rpos = w->rlen = 0;
    if (w->rlen == sizeof(w->rbuf)) {
        if (w->rpos == 0)
            return -1;
        memmove(w->rbuf, w->rbuf + w->rpos, w->rlen - w->rpos);
        w->rlen -= w->rpos;
        w->rpos = 0;
    }
    for (;;) {
        ssize_t r = read(w->fd, w->rbuf + w->rlen, sizeof(w->rbuf) - w->rlen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        w->rlen += (size_t)r;
        return 0;
    }
}

/* Read one reply; point *data at it (not NUL-terminated), *len its length. */
static int read_reply(struct worker *w, const char **data, size_t *len)
{
    if (w->o->proto == P_TCP) {
        for (;;) {
            char *nl = memchr(w->rbuf + w->rpos, '\n', w->rlen - w->rpos);
            if (nl) {
                *data = w->rbuf + w->rpos;
                *len = (size_t)(nl - *data);
                w->rpos = (size_t)(nl - w->rbuf) + 1;
                return 0;
            }
            if (fill(w) < 0)
                return -1;
        }
    }
    /* socketmap: a netstring "len:data," */
    for (;;) {
        size_t avail = w->rlen - w->rpos;
        const char *p = w->rbuf + w->rpos;
        const char *colon = memchr(p, ':', avail);
        if (colon) {
            size_t n = 0;
            for (const char *d = p; d < colon; d++) {
                if (*d < '0' || *d > '9' || n > RBUF)
                    return -1;
                n = n * 10 + (size_t)(*d - '0');
            }
            size_t need = (size_t)(colon - p) + 1 + n + 1;
            if (need > RBUF)
                return -1;
            if (avail >= need) {
                if (colon[1 + n] != ',')
                    return -1;
                *data = colon + 1;
                *len = n;
                w->rpos += need;
                return 0;
            }
        } else if (avail > 12) {
            return -1;
        }
        if (fill(w) < 0)
            return -1;
    }
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    size_t expect_len = strlen(o->expect);

    w->fd = socket(o->ai->ai_family, SOCK_STREAM, 0);
    int one = 1;
    if (w->fd < 0 || connect(w->fd, o->ai->ai_addr, o->ai->ai_addrlen) < 0) {
        snprintf(w->first_error, sizeof(w->first_error), "connect: %s", strerror(errno));
        w->failed = 1;
        pthread_barrier_wait(&start_barrier);
        return NULL;
    }
    setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    pthread_barrier_wait(&start_barrier);

    uint64_t measure = ts_ns(&t_measure), end = ts_ns(&t_end);
    for (unsigned i = 0;; i = (i + 1) % o->naddrs) {
        const struct req *r = &w->reqs[i];
        uint64_t t0 = now_ns();
        if (t0 >= end)
            break;
        const char *data;
        size_t len;
        if (write_all(w->fd, r->buf, r->len) < 0 || read_reply(w, &data, &len) < 0) {
            snprintf(w->first_error, sizeof(w->first_error), "connection lost after %llu requests",
                     (unsigned long long)w->requests);
            w->failed = 1;
            break;
        }
        uint64_t t1 = now_ns();
        if (t0 < measure)
            continue; /* warm-up */
        uint64_t d = t1 - t0;
        w->hist[bucket_of(d)]++;
        w->requests++;
        w->sum_ns += d;
        if (d > w->max_ns)
            w->max_ns = d;
        if (len < expect_len || memcmp(data, o->expect, expect_len) != 0) {
            if (w->errors++ == 0)
                snprintf(w->first_error, sizeof(w->first_error), "reply %.*s to %.*s",
                         (int)(len > 80 ? 80 : len), data, (int)(r->len > 60 ? 60 : r->len),
                         r->buf);
        }
    }
    close(w->fd);
    return NULL;
}

static double percentile(const uint64_t *hist, uint64_t total, double q)
{
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total);
    if (want >= total)
        want = total - 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < NBUCKETS; b++) {
        seen += hist[b];
        if (seen > want)
            return bucket_us(b);
    }
    return bucket_us(NBUCKETS - 1);
}

static void usage(void)
{
    fprintf(stderr, "usage: srs-load [-P tcp|socketmap] [-m map] [-c conns] [-t seconds] "
                    "[-w warmup] [-n addrs] [-L percent] [-x reply-prefix] [-l label] host:port\n");
    exit(2);
}

static void add_seconds(struct timespec *t, double s)
{
    long long ns = (long long)(s * 1e9);
    t->tv_sec += (time_t)(ns / 1000000000LL);
    t->tv_nsec += (long)(ns % 1000000000LL);
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

int main(int argc, char **argv)
{
    struct opts o = {P_TCP, "forward", 1, 3.0, 0.5, 1000, 0, NULL, "-", NULL, NULL};
    int c;
    while ((c = getopt(argc, argv, "P:m:c:t:w:n:L:x:l:h")) != -1) {
        switch (c) {
        case 'P':
            if (strcmp(optarg, "tcp") == 0)
                o.proto = P_TCP;
            else if (strcmp(optarg, "socketmap") == 0)
                o.proto = P_SOCKETMAP;
            else
                usage();
            break;
        case 'm':
            o.map = optarg;
            break;
        case 'c':
            o.conns = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 't':
            o.seconds = strtod(optarg, NULL);
            break;
        case 'w':
            o.warmup = strtod(optarg, NULL);
            break;
        case 'n':
            o.naddrs = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'L':
            o.long_pct = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'x':
            o.expect = optarg;
            break;
        case 'l':
            o.label = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1 || o.conns < 1 || o.conns > 1024 || o.seconds <= 0 || o.warmup < 0 ||
        o.naddrs < 1 || o.long_pct > 100)
        usage();
    if (!o.expect)
        o.expect = o.proto == P_TCP ? "200 " : "OK ";
    o.target = argv[optind];

    char host[256];
    const char *colon = strrchr(o.target, ':');
    if (!colon || (size_t)(colon - o.target) >= sizeof(host))
        usage();
    memcpy(host, o.target, (size_t)(colon - o.target));
    host[colon - o.target] = 0;
    struct addrinfo hints = {0};
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, colon + 1, &hints, &o.ai);
    if (gai != 0) {
        fprintf(stderr, "srs-load: %s: %s\n", o.target, gai_strerror(gai));
        return 2;
    }

    struct worker *ws = calloc(o.conns, sizeof(*ws));
    if (!ws)
        return 2;
    for (unsigned i = 0; i < o.conns; i++) {
        ws[i].id = i;
        ws[i].o = &o;
        ws[i].reqs = calloc(o.naddrs, sizeof(struct req));
        ws[i].hist = calloc(NBUCKETS, sizeof(uint32_t));
        if (!ws[i].reqs || !ws[i].hist)
            return 2;
        for (unsigned k = 0; k < o.naddrs; k++) {
            char key[KEY_MAX];
            make_key(key, sizeof(key), i, k, o.long_pct);
            if (build_request(&o, &ws[i].reqs[k], key) < 0)
                return 2;
        }
    }

    pthread_barrier_init(&start_barrier, NULL, o.conns + 1);
    for (unsigned i = 0; i < o.conns; i++) {
        if (pthread_create(&ws[i].tid, NULL, run_worker, &ws[i]) != 0) {
            fprintf(stderr, "srs-load: pthread_create failed\n");
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t_measure);
    add_seconds(&t_measure, 0.05 + o.warmup);
    t_end = t_measure;
    add_seconds(&t_end, o.seconds);
    pthread_barrier_wait(&start_barrier);

    uint64_t *hist = calloc(NBUCKETS, sizeof(uint64_t));
    uint64_t requests = 0, errors = 0, sum_ns = 0, max_ns = 0;
    int failed = 0;
    for (unsigned i = 0; i < o.conns; i++) {
        pthread_join(ws[i].tid, NULL);
        for (size_t b = 0; b < NBUCKETS; b++)
            hist[b] += ws[i].hist[b];
        requests += ws[i].requests;
        errors += ws[i].errors;
        sum_ns += ws[i].sum_ns;
        if (ws[i].max_ns > max_ns)
            max_ns = ws[i].max_ns;
        if (ws[i].first_error[0])
            fprintf(stderr, "srs-load: connection %u: %s\n", i, ws[i].first_error);
        failed |= ws[i].failed;
    }
    double rps = (double)requests / o.seconds;
    double mean = requests ? (double)sum_ns / (double)requests / 1000.0 : 0;
    printf("%s %s conns=%u: %llu requests in %.2fs, %.0f req/s, %llu errors\n",
           o.proto == P_TCP ? "tcp" : "socketmap", o.target, o.conns, (unsigned long long)requests,
           o.seconds, rps, (unsigned long long)errors);
    printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
           percentile(hist, requests, 0.50), percentile(hist, requests, 0.90),
           percentile(hist, requests, 0.99), percentile(hist, requests, 0.999),
           (double)max_ns / 1000.0, mean);
    printf("RESULT label=%s proto=%s conns=%u seconds=%.2f requests=%llu errors=%llu rps=%.1f "
           "p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f\n",
           o.label, o.proto == P_TCP ? "tcp" : "socketmap", o.conns, o.seconds,
           (unsigned long long)requests, (unsigned long long)errors, rps,
           percentile(hist, requests, 0.50), percentile(hist, requests, 0.90),
           percentile(hist, requests, 0.99), percentile(hist, requests, 0.999),
           (double)max_ns / 1000.0, mean);

    for (unsigned i = 0; i < o.conns; i++) {
        free(ws[i].reqs);
        free(ws[i].hist);
    }
    free(ws);
    free(hist);
    freeaddrinfo(o.ai);
    if (failed || requests == 0)
        return 2;
    return errors ? 1 : 0;
}
