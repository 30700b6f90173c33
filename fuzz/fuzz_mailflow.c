/* libFuzzer target: the real milter policy (mailflow.c) behind the real
 * connection loop (milter_conn.c) and protocol core (milter.c), as Postfix
 * reaches it. The input is one octet that picks the configuration (even:
 * one stage, odd: two stages, stage2_daemon_names = stage2), then the octet
 * stream an MTA sends on one milter connection (seeds: whole SMTP
 * transactions, fuzz/mailflow_seeds.py); it is written into one end of a
 * socket pair and milter_conn_serve reads the other, with the configuration
 * snapshot of a daemon that does everything: SRS, DKIM signing (a KeyTable),
 * forwarded recipients, ARC sealing, From rewriting, a footer, a subject
 * tag, a trusted gateway, DMARC enforcement. DNS is
 * a fixed zone (dns_zone_file) with SPF, DMARC and DKIM/ARC keys for the
 * seeds' domains and a name that times out, so every verdict is reachable
 * and nothing leaves the process. Checks: the replies are a sequence of
 * well-formed milter packets with known commands (ASan and UBSan check the
 * rest); the run ends (a bounded stream, no wait: milter_conn_serve returns
 * at end of input). The keys are a fixed Ed25519 test key (below), also the
 * seeds' signing key, so that their signatures verify. */
#include "keys.h"
#include "log.h"
#include "mailflow.h"
#include "milter.h"
#include "milter_conn.h"
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A test key, nothing else: example.org's s1, example.net's fwd and arc. */
static const char TEST_KEY[] = "-----BEGIN PRIVATE KEY-----\n"
                               "MC4CAQAwBQYDK2VwBCIEIHMhEmyHm9awoLa40eSHV3ZjZdIHwPEsVm/4MHwuuTk2\n"
                               "-----END PRIVATE KEY-----\n";

static char dir[64];
static struct runtime *one_stage, *two_stages;

static void put(const char *name, const char *text, mode_t mode)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
        abort();
}

static void zone_key(const struct fa_key *k, const char *sel, const char *dom, char *zone,
                     size_t cap)
{
    char line[1024];
    if (key_dns_zone_line(k, sel, dom, line, sizeof(line)) < 0)
        abort();
    strncat(zone, line, cap - strlen(zone) - 2);
    strcat(zone, "\n");
}

static struct runtime *load(const char *name)
{
    char conf[128];
    fa_err err = {{0}};
    snprintf(conf, sizeof(conf), "%s/%s", dir, name);
    struct runtime *rt = runtime_load(conf, getuid(), NULL, &err);
    if (!rt) {
        fprintf(stderr, "fuzz_mailflow: %s\n", err.msg);
        abort();
    }
    return rt;
}

/* The files setup writes, removed when the fuzzer exits. */
static const char *const FILES[] = {"zone",     "k.pem",        "secrets",  "stage",   "footer",
                                    "keytable", "signingtable", "one.conf", "two.conf"};

static void cleanup(void)
{
    char path[128];
    for (size_t i = 0; i < sizeof(FILES) / sizeof(FILES[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, FILES[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void setup(void)
{
    strcpy(dir, "/tmp/fuzz-mailflow-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    fa_err err = {{0}};
    struct fa_key *k = key_from_pem(TEST_KEY, sizeof(TEST_KEY) - 1, &err);
    if (!k)
        abort();
    static char zone[8192];
    zone_key(k, "s1", "example.org", zone, sizeof(zone));
    zone_key(k, "fwd", "example.net", zone, sizeof(zone));
    zone_key(k, "arc", "example.net", zone, sizeof(zone));
    zone_key(k, "arc", "fwd.example.com", zone, sizeof(zone));
    key_free(k);
    strcat(zone, "example.org. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 include:_spf.example.org "
                 "-all\"\n"
                 "_spf.example.org. 300 IN TXT \"v=spf1 a mx ~all\"\n"
                 "example.org. 300 IN A 192.0.2.1\n"
                 "example.org. 300 IN MX 10 mx.example.org.\n"
                 "mx.example.org. 300 IN A 192.0.2.2\n"
                 "_dmarc.example.org. 300 IN TXT \"v=DMARC1; p=reject\"\n"
                 "quarantine.test. 300 IN TXT \"v=spf1 -all\"\n"
                 "_dmarc.quarantine.test. 300 IN TXT \"v=DMARC1; p=quarantine; pct=50\"\n"
                 "_dmarc.example.net. 300 IN TXT \"v=DMARC1; p=none\"\n"
                 "example.net. 300 IN TXT \"v=spf1 ip4:10.0.0.0/8 -all\"\n"
                 "fwd.example.com. 300 IN TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n"
                 "slow.example. TIMEOUT\n"
                 "_dmarc.slow.example. TIMEOUT\n");
    put("zone", zone, 0644);
    put("k.pem", TEST_KEY, 0600);
    put("secrets", "fuzz-secret-one\nfuzz-secret-old\n", 0600);
    put("stage", "fuzz-stage-secret\n", 0600);
    put("footer", "-- \nForwarded by example.net\n", 0644);
    char text[4096];
    snprintf(text, sizeof(text),
             "fwd example.net:fwd:%s/k.pem\n"
             "user example.net:fwd:%s/k.pem\n",
             dir, dir);
    put("keytable", text, 0644);
    put("signingtable", "example.net user\n", 0644);
    snprintf(text, sizeof(text),
             "srs_domain = srs.example.net\n"
             "srs_secrets = %s/secrets\n"
             "local_domains = example.net\n"
             "milter_listen = inet:127.0.0.1:1\n"
             "authserv_id = mx.example.net\n"
             "internal_hosts = 10.0.0.0/8\n"
             "originating_daemon_names = submission\n"
             "forward_recipients = fwd@example.net, list@example.net\n"
             "dkim_key_table = %s/keytable\n"
             "dkim_signing_table = %s/signingtable\n"
             "forward_signing_key = fwd\n"
             "from_rewrite = reject-and-quarantine\n"
             "from_rewrite_address = forwarder@example.net\n"
             "arc_domain = example.net\n"
             "arc_selector = arc\n"
             "arc_key = %s/k.pem\n"
             "dmarc_enforce = reject\n"
             "forward_subject_tag = [fwd]\n"
             "forward_footer = %s/footer\n"
             "forward_header = X-Forwarded-By: example.net\n"
             "trusted_authserv_ids = gw.example.net\n"
             "dns_zone_file = %s/zone\n"
             "milter_dns_budget = 5\n"
             "log_level = error\n",
             dir, dir, dir, dir, dir, dir);
    put("one.conf", text, 0644);
    size_t n = strlen(text);
    snprintf(text + n, sizeof(text) - n,
             "stage2_daemon_names = stage2\n"
             "stage_secrets = %s/stage\n",
             dir);
    put("two.conf", text, 0644);
    /* Each keeps the reference runtime_load gave: never freed. */
    one_stage = load("one.conf");
    two_stages = load("two.conf");
    /* Errors only (a fuzzer's input makes every warning), on stderr;
     * FUZZ_MAILFLOW_LOG=1 shows each message's line (what the seeds reach). */
    log_set_level(getenv("FUZZ_MAILFLOW_LOG") ? FA_LOG_INFO : FA_LOG_ERROR);
}

/* The snapshot milter_conn_serve will acquire; runtime_install takes a
 * reference (and drops the one the previous snapshot was given). */
static void use(struct runtime *rt)
{
    static struct runtime *installed;
    if (rt == installed)
        return;
    atomic_fetch_add(&rt->refs, 1);
    runtime_install(rt);
    installed = rt;
}

/* The MTA's end: writes the input, then half-closes, and keeps every reply. */
struct mta {
    int fd;
    const uint8_t *in;
    size_t len;
    uint8_t *out;
    size_t olen, ocap;
};

static void *mta_run(void *arg)
{
    struct mta *m = arg;
    size_t off = 0;
    int wr = 1;
    if (m->len == 0) {
        shutdown(m->fd, SHUT_WR);
        wr = 0;
    }
    for (;;) {
        struct pollfd p = {m->fd, (short)(POLLIN | (wr ? POLLOUT : 0)), 0};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        if (wr && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = send(m->fd, m->in + off, m->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                off += (size_t)n;
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || off == m->len) {
                shutdown(m->fd, SHUT_WR);
                wr = 0; /* all sent, or the milter closed: done writing */
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (m->olen == m->ocap) {
                size_t cap = m->ocap ? 2 * m->ocap : 65536;
                uint8_t *o = realloc(m->out, cap);
                if (!o)
                    abort();
                m->out = o;
                m->ocap = cap;
            }
            ssize_t n = recv(m->fd, m->out + m->olen, m->ocap - m->olen, MSG_DONTWAIT);
            if (n > 0)
                m->olen += (size_t)n;
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                return NULL; /* the milter closed the connection */
        }
    }
}

static void check_replies(const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        if (n - off < 5)
            abort(); /* a cut packet */
        uint32_t len = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
                       (uint32_t)p[off + 2] << 8 | p[off + 3];
        if (len == 0 || len > n - off - 4)
            abort();
        /* Every reply a milter may send (milter.h: SMFIR_*, and O). */
        uint8_t cmd = p[off + 4];
        const uint8_t *d = p + off + 5;
        size_t dl = len - 1;
        if (cmd == 0 || !strchr("O+-2abcdehimpqrsty", cmd))
            abort();
        if (strchr("acdrst", cmd) && dl != 0)
            abort();
        if (strchr("he+-2qy", cmd) && (dl == 0 || d[dl - 1] != 0))
            abort();
        off += 4 + (size_t)len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size < 1)
        return 0;
    use(data[0] & 1 ? two_stages : one_stage);
    data++;
    size--;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    struct mta m = {sv[1], data, size, NULL, 0, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, mta_run, &m) != 0)
        abort();
    milter_conn_serve(sv[0], "fuzz", 0);
    close(sv[0]);
    pthread_join(t, NULL);
    close(sv[1]);
    check_replies(m.out, m.olen);
    free(m.out);
    return 0;
}
