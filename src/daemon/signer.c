/* signer - the process with the private keys; see signer.h. */
#include "signer.h"

#include "config.h"
#include "ipc.h"
#include "keys.h"
#include "keytable.h"
#include "log.h"
#include "proctitle.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* One loaded key: the path it was named by and the key. */
struct skey {
    char *path;
    struct fa_key *key; /* owned by the key table, or by this entry (arc_key) */
    int own;
};

struct signer {
    const struct signer_args *a;
    struct skey *keys;
    size_t nkeys;
    struct keytable *kt;
};

static void fail(const struct signer_args *a, const char *why) __attribute__((noreturn));
static void fail(const struct signer_args *a, const char *why)
{
    log_msg(FA_LOG_ERROR, "signer: %s", why);
    ipc_send_text(a->ctl_fd, IPC_ERROR, 0, why);
    _exit(2);
}

static int find(const struct signer *s, const char *path, size_t len)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (strlen(s->keys[i].path) == len && memcmp(s->keys[i].path, path, len) == 0)
            return (int)i;
    return -1;
}

/* The key loader (keys.h): read the file as root, note the key. */
static struct fa_key *load_key(void *arg, const char *path, fa_err *err)
{
    struct signer *s = arg;
    struct fa_key *k = key_load_private(path, s->a->key_owner, err);
    if (!k)
        return NULL;
    struct stat st;
    if (s->a->key_owner != 0 && stat(path, &st) == 0 && st.st_uid == s->a->key_owner)
        log_msg(FA_LOG_WARNING,
                "key file %s is owned by uid %u, the user the workers run as: a worker taken "
                "over could read it; make it owned by root, mode 0600",
                path, (unsigned)st.st_uid);
    struct skey *nk = realloc(s->keys, (s->nkeys + 1) * sizeof(*nk));
    char *p = strdup(path);
    if (!nk || !p) {
        free(p);
        if (nk)
            s->keys = nk;
        key_free(k);
        fa_err_set(err, "out of memory");
        return NULL;
    }
    s->keys = nk;
    s->keys[s->nkeys++] = (struct skey){p, k, 0};
    return k;
}

static void load_keys(struct signer *s)
{
    const struct signer_args *a = s->a;
    struct fa_config cfg;
    fa_err err = {{0}};
    config_init(&cfg);
    if (config_load_buf(&cfg, a->config_name, a->config_text, a->config_len, &err) < 0) {
        config_free(&cfg);
        fail(a, err.msg);
    }
    log_set_level(cfg.log_level);
    struct key_loader ld = {load_key, s};
    if (cfg.milter_listen[0] && cfg.dkim_key_table[0] && cfg.dkim_signing_table[0]) {
        s->kt = keytable_load_with(cfg.dkim_key_table, cfg.dkim_signing_table, &ld, &err);
        if (!s->kt) {
            fa_err msg;
            config_fail(&cfg, "dkim_key_table", &msg, "dkim_key_table: %s", err.msg);
            config_free(&cfg);
            fail(a, msg.msg);
        }
    }
    if (cfg.milter_listen[0] && cfg.arc_key[0] && find(s, cfg.arc_key, strlen(cfg.arc_key)) < 0) {
        struct fa_key *k = load_key(s, cfg.arc_key, &err);
        if (!k) {
            fa_err msg;
            config_fail(&cfg, "arc_key", &msg, "arc_key: %s", err.msg);
            config_free(&cfg);
            fail(a, msg.msg);
        }
        s->keys[s->nkeys - 1].own = 1;
    }
    config_free(&cfg);
}

static void drop(const struct signer_args *a)
{
    fa_err err = {{0}};
    if (a->user) {
        switch (privs_drop(a->user, a->chroot, &err)) {
        case PRIVS_DROPPED:
        case PRIVS_NOT_ROOT:
            break;
        default:
            fail(a, err.msg);
        }
        if (getuid() == 0 || geteuid() == 0)
            fail(a, "still root after the privilege drop");
    }
    /* No core file with keys in it, no children. */
    struct rlimit zero = {0, 0};
    setrlimit(RLIMIT_CORE, &zero);
    if (getuid() != 0)
        setrlimit(RLIMIT_NPROC, &zero);
    if (privs_die_with(a->master) < 0)
        _exit(0); /* the master is gone already */
}

/* Answer one request; -1 closes the channel. */
static int serve(struct signer *s, int fd)
{
    uint8_t buf[IPC_PACKET_MAX];
    struct ipc_msg m;
    int passed;
    int r = ipc_recv(fd, buf, &m, &passed);
    if (r == 0)
        return -1;
    if (r < 0) {
        if (errno == EBADMSG)
            log_msg(FA_LOG_WARNING, "signer: a request that does not decode: closing its channel");
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    if (passed >= 0) {
        close(passed);
        log_msg(FA_LOG_WARNING, "signer: a worker passed a descriptor: closing its channel");
        return -1;
    }
    if (m.type == IPC_DESCRIBE) {
        int i = find(s, (const char *)m.data, m.len);
        if (i < 0) {
            char why[IPC_TEXT_MAX];
            snprintf(why, sizeof(why), "no key loaded from %.*s", (int)(m.len > 900 ? 900 : m.len),
                     (const char *)m.data);
            return ipc_send_text(fd, IPC_FAIL, m.id, why) < 0 ? -1 : 0;
        }
        const struct fa_key *k = s->keys[i].key;
        uint8_t bits[2] = {(uint8_t)(key_bits(k) >> 8), (uint8_t)key_bits(k)};
        struct ipc_msg rep = {.type = IPC_DESCRIBED,
                              .arg = key_type(k),
                              .id = m.id,
                              .key = (uint32_t)i,
                              .data = bits,
                              .len = 2};
        return ipc_send(fd, &rep, -1) < 0 ? -1 : 0;
    }
    if (m.type == IPC_SIGN) {
        if (m.key >= s->nkeys)
            return ipc_send_text(fd, IPC_FAIL, m.id, "no such key index") < 0 ? -1 : 0;
        uint8_t sig[KEY_SIG_MAX];
        size_t siglen;
        fa_err err = {{0}};
        if (key_sign_digest(s->keys[m.key].key, m.arg, m.data, m.len, sig, &siglen, &err) < 0) {
            log_msg(FA_LOG_ERROR, "signer: signing with %s failed: %s", s->keys[m.key].path,
                    err.msg);
            return ipc_send_text(fd, IPC_FAIL, m.id, err.msg) < 0 ? -1 : 0;
        }
        struct ipc_msg rep = {.type = IPC_SIGNED, .id = m.id, .data = sig, .len = siglen};
        return ipc_send(fd, &rep, -1) < 0 ? -1 : 0;
    }
    log_msg(FA_LOG_WARNING, "signer: a worker sent message type %d: closing its channel", m.type);
    return -1;
}

static void run(struct signer *s)
{
    const struct signer_args *a = s->a;
    struct pollfd pfd[SIGNER_CLIENTS_MAX + 1];
    size_t n = 0; /* channels, in pfd[1..n] */
    int ctl = a->ctl_fd;
    pfd[0].fd = ctl;
    pfd[0].events = POLLIN;
    for (;;) {
        if (ctl < 0 && n == 0)
            return;
        pfd[0].fd = ctl;
        if (poll(pfd, n + 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            log_msg(FA_LOG_ERROR, "signer: poll: %s", strerror(errno));
            return;
        }
        if (ctl >= 0 && pfd[0].revents) {
            uint8_t buf[IPC_PACKET_MAX];
            struct ipc_msg m;
            int passed;
            int r = ipc_recv(ctl, buf, &m, &passed);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN && errno != EBADMSG)) {
                close(ctl); /* retired: serve what is left, then go */
                ctl = -1;
            } else if (r > 0 && m.type == IPC_CLIENT && passed >= 0) {
                if (n < SIGNER_CLIENTS_MAX) {
                    n++;
                    pfd[n].fd = passed;
                    pfd[n].events = POLLIN;
                    pfd[n].revents = 0;
                } else {
                    log_msg(FA_LOG_WARNING, "signer: %d channels open: refusing another",
                            SIGNER_CLIENTS_MAX);
                    close(passed);
                }
            } else if (passed >= 0) {
                close(passed);
            }
        }
        for (size_t i = 1; i <= n;) {
            if (pfd[i].revents && serve(s, pfd[i].fd) < 0) {
                close(pfd[i].fd);
                pfd[i] = pfd[n--];
                continue; /* look at the one moved here */
            }
            pfd[i].revents = 0;
            i++;
        }
    }
}

void signer_main(const struct signer_args *a)
{
    proctitle_set("fwdauthd-signer", "fwdauthd: signer");
    int keep[] = {a->ctl_fd};
    privs_close_fds(keep, 1);
    log_reopen();
    /* The master's mask blocks the signals its signalfd reads: undo. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);

    struct signer s = {.a = a};
    load_keys(&s);
    drop(a);
    struct ipc_msg ready = {.type = IPC_READY, .key = (uint32_t)s.nkeys};
    if (ipc_send(a->ctl_fd, &ready, -1) < 0)
        _exit(2);
    log_msg(FA_LOG_DEBUG, "signer: %zu key%s loaded", s.nkeys, s.nkeys == 1 ? "" : "s");
    run(&s);
    for (size_t i = 0; i < s.nkeys; i++) {
        if (s.keys[i].own)
            key_free(s.keys[i].key);
        free(s.keys[i].path);
    }
    free(s.keys);
    keytable_free(s.kt);
    _exit(0);
}
