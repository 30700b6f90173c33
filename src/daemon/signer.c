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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* One loaded key: the path it was named by and the key. */
struct skey {
    char *path;
    struct fa_key *key; /* owned by the key table, or by this entry (own) */
    int own;
};

struct signer_keys {
    struct skey *v;
    size_t n;
};

struct signer {
    const struct signer_args *a;
    struct signer_keys keys;
    struct keytable *kt;
};

struct signer_keys *signer_keys_new(void)
{
    return calloc(1, sizeof(struct signer_keys));
}

static void keys_clear(struct signer_keys *sk)
{
    for (size_t i = 0; i < sk->n; i++) {
        if (sk->v[i].own)
            key_free(sk->v[i].key);
        free(sk->v[i].path);
    }
    free(sk->v);
    sk->v = NULL;
    sk->n = 0;
}

void signer_keys_free(struct signer_keys *sk)
{
    if (sk)
        keys_clear(sk);
    free(sk);
}

size_t signer_keys_count(const struct signer_keys *sk)
{
    return sk->n;
}

static int find(const struct signer_keys *sk, const char *path, size_t len)
{
    for (size_t i = 0; i < sk->n; i++)
        if (strlen(sk->v[i].path) == len && memcmp(sk->v[i].path, path, len) == 0)
            return (int)i;
    return -1;
}

int signer_keys_add(struct signer_keys *sk, const char *path, struct fa_key *key, int own)
{
    struct skey *nk = realloc(sk->v, (sk->n + 1) * sizeof(*nk));
    if (nk)
        sk->v = nk;
    char *p = strdup(path);
    if (!nk || !p) {
        free(p);
        return -1;
    }
    sk->v[sk->n++] = (struct skey){p, key, own};
    return 0;
}

/* A text reply (IPC_FAIL). */
static long answer_text(uint32_t id, const char *text, uint8_t *out, size_t outsz)
{
    size_t n = strlen(text);
    struct ipc_msg rep = {
        .type = IPC_FAIL, .id = id, .data = (const uint8_t *)text, .len = n > 200 ? 200 : n};
    return ipc_encode(&rep, out, outsz);
}

long signer_answer(const struct signer_keys *sk, const uint8_t *req, size_t n, uint8_t *out,
                   size_t outsz)
{
    struct ipc_msg m;
    if (ipc_decode(req, n, &m) < 0) {
        log_msg(FA_LOG_WARNING, "signer: a request that does not decode: closing its channel");
        return 0;
    }
    if (m.type == IPC_DESCRIBE) {
        int i = find(sk, (const char *)m.data, m.len);
        if (i < 0)
            return answer_text(m.id, "no key was loaded from that path", out, outsz);
        const struct fa_key *k = sk->v[i].key;
        uint8_t bits[2] = {(uint8_t)(key_bits(k) >> 8), (uint8_t)key_bits(k)};
        struct ipc_msg rep = {.type = IPC_DESCRIBED,
                              .arg = key_type(k),
                              .id = m.id,
                              .key = (uint32_t)i,
                              .data = bits,
                              .len = 2};
        return ipc_encode(&rep, out, outsz);
    }
    if (m.type == IPC_SIGN) {
        if (m.key >= sk->n)
            return answer_text(m.id, "no such key index", out, outsz);
        uint8_t sig[KEY_SIG_MAX];
        size_t siglen;
        fa_err err = {{0}};
        if (key_sign_digest(sk->v[m.key].key, m.arg, m.data, m.len, sig, &siglen, &err) < 0) {
            log_msg(FA_LOG_ERROR, "signer: signing with %s failed: %s", sk->v[m.key].path, err.msg);
            return answer_text(m.id, err.msg, out, outsz);
        }
        struct ipc_msg rep = {.type = IPC_SIGNED, .id = m.id, .data = sig, .len = siglen};
        return ipc_encode(&rep, out, outsz);
    }
    log_msg(FA_LOG_WARNING, "signer: a worker sent message type %d: closing its channel", m.type);
    return 0;
}

static void fail(const struct signer_args *a, const char *why) __attribute__((noreturn));
static void fail(const struct signer_args *a, const char *why)
{
    log_msg(FA_LOG_ERROR, "signer: %s", why);
    ipc_send_text(a->ctl_fd, IPC_ERROR, 0, why);
    _exit(2);
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
    if (signer_keys_add(&s->keys, path, k, 0) < 0) {
        key_free(k);
        fa_err_set(err, "out of memory");
        return NULL;
    }
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
    if (cfg.milter_listen[0] && cfg.arc_key[0] &&
        find(&s->keys, cfg.arc_key, strlen(cfg.arc_key)) < 0) {
        struct fa_key *k = load_key(s, cfg.arc_key, &err);
        if (!k) {
            fa_err msg;
            config_fail(&cfg, "arc_key", &msg, "arc_key: %s", err.msg);
            config_free(&cfg);
            fail(a, msg.msg);
        }
        s->keys.v[s->keys.n - 1].own = 1;
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
    uint8_t buf[IPC_PACKET_MAX], out[IPC_PACKET_MAX];
    struct iovec iov = {buf, sizeof(buf)};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space, .msg_controllen = sizeof(ctl)};
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (mh.msg_controllen > 0) { /* a worker passes no descriptor */
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (c && c->cmsg_type == SCM_RIGHTS) {
            int passed;
            memcpy(&passed, CMSG_DATA(c), sizeof(int));
            close(passed);
        }
        log_msg(FA_LOG_WARNING, "signer: a worker passed a descriptor: closing its channel");
        return -1;
    }
    if (n == 0 || (mh.msg_flags & MSG_TRUNC))
        return -1;
    long r = signer_answer(&s->keys, buf, (size_t)n, out, sizeof(out));
    if (r <= 0)
        return -1;
    return send(fd, out, (size_t)r, MSG_NOSIGNAL) == r ? 0 : -1;
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
    struct ipc_msg ready = {.type = IPC_READY, .key = (uint32_t)s.keys.n};
    if (ipc_send(a->ctl_fd, &ready, -1) < 0)
        _exit(2);
    log_msg(FA_LOG_DEBUG, "signer: %zu key%s loaded", s.keys.n, s.keys.n == 1 ? "" : "s");
    run(&s);
    keys_clear(&s.keys);
    keytable_free(s.kt);
    _exit(0);
}
