/* worker - serves Postfix without the private keys; see worker.h. */
#include "worker.h"

#include "ipc.h"
#include "log.h"
#include "metrics_http.h"
#include "proctitle.h"
#include "runtime.h"
#include "signer_client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct worker {
    const struct worker_args *a;
    struct metrics_http *http;
};

static void fail(const struct worker_args *a, const char *why) __attribute__((noreturn));
static void fail(const struct worker_args *a, const char *why)
{
    log_msg(FA_LOG_ERROR, "worker: %s", why);
    ipc_send_text(a->ctl_fd, IPC_ERROR, 0, why);
    _exit(2);
}

/* The handover (server.h): an idle table connection to a newer worker. */
static int give(void *arg, int fd, int kind)
{
    const struct worker_args *a = arg;
    struct ipc_msg m = {.type = IPC_HANDOFF, .arg = kind};
    return ipc_send(a->handoff_out, &m, fd);
}

static int take(void *arg, int *kind)
{
    const struct worker_args *a = arg;
    uint8_t buf[IPC_PACKET_MAX];
    struct ipc_msg m;
    int fd;
    /* Another worker may have taken it first (EAGAIN): nothing to do. */
    if (ipc_recv(a->handoff_in, buf, &m, &fd) <= 0)
        return -1;
    if (m.type != IPC_HANDOFF || fd < 0 ||
        (m.arg != SERVER_SOCKETMAP && m.arg != SERVER_TCP_FORWARD && m.arg != SERVER_TCP_REVERSE)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *kind = m.arg;
    return fd;
}

static int on_signal(int signo, void *ctx)
{
    struct worker *w = ctx;
    switch (signo) {
    case SIGTERM:
    case SIGINT:
        log_msg(FA_LOG_DEBUG, "worker: stopping on signal %s", signo == SIGTERM ? "TERM" : "INT");
        return SERVER_STOP;
    case SIGUSR1:
        log_msg(FA_LOG_DEBUG, "worker: a newer worker serves now: finishing the connections");
        proctitle_set("fwdauthd-worker", "fwdauthd: worker (draining)");
        metrics_http_stop(w->http);
        w->http = NULL;
        return SERVER_DRAIN;
    default:
        return 0; /* SIGHUP: the master reloads */
    }
}

static int signals(void)
{
    sigset_t none, mask;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGUSR2, SIG_DFL); /* server.c's wake-up signal: it installs its handler */
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    /* Blocked in every thread (they inherit the mask), read here. */
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
        return -1;
    return signalfd(-1, &mask, SFD_CLOEXEC);
}

void worker_main(const struct worker_args *a)
{
    /* "fwdauthd: worker" only once privileges are dropped, so that what ps
     * shows under that title never runs as root. */
    proctitle_set("fwdauthd-worker", "fwdauthd: starting worker");
    int keep[SERVER_LISTENERS_MAX + 6];
    size_t nk = 0;
    for (size_t i = 0; i < a->nls && i < SERVER_LISTENERS_MAX; i++)
        keep[nk++] = a->ls[i].fd;
    keep[nk++] = a->metrics_fd;
    keep[nk++] = a->ctl_fd;
    keep[nk++] = a->signer_fd;
    keep[nk++] = a->handoff_in;
    keep[nk++] = a->handoff_out;
    privs_close_fds(keep, nk);
    log_reopen();
    metrics_use_slot(a->metrics, a->metrics_slot);
    int sigfd = signals();
    if (sigfd < 0)
        fail(a, "cannot set up signals");
    /* Both ends are shared by every worker: never wait on them. */
    fcntl(a->handoff_in, F_SETFL, fcntl(a->handoff_in, F_GETFL) | O_NONBLOCK);
    fcntl(a->handoff_out, F_SETFL, fcntl(a->handoff_out, F_GETFL) | O_NONBLOCK);

    struct signer_client *sc = signer_client_new(a->signer_fd, a->ctl_fd);
    if (!sc)
        fail(a, "out of memory");
    struct key_loader ld = signer_client_loader(sc);
    struct runtime_opts o = {
        .config_text = a->config_text,
        .config_len = a->config_len,
        .keep = a->start,
        .keys = &ld,
        .secrets_owner = a->secrets_owner,
        .metrics = a->metrics,
    };
    fa_err err = {{0}};
    struct runtime *rt = runtime_load_with(a->config_name, &o, &err);
    if (!rt)
        fail(a, err.msg);
    log_set_level(rt->cfg.log_level);
    /* As root, before the drop: the hard limit can still be raised. */
    if (server_nofile_fit(&rt->cfg, &err) < 0)
        fail(a, err.msg);
    if (a->user) {
        switch (privs_drop(a->user, a->start->chroot, &err)) {
        case PRIVS_DROPPED:
        case PRIVS_NOT_ROOT:
            break;
        default: {
            char why[FA_ERR_MAX + 64];
            snprintf(why, sizeof(why), "cannot drop privileges: %s", err.msg);
            fail(a, why);
        }
        }
        if (getuid() == 0 || geteuid() == 0)
            fail(a, "still running as root after the privilege drop: refusing to serve");
    }
    if (privs_die_with(a->master) < 0)
        _exit(0); /* the master is gone already */
    proctitle_set("fwdauthd-worker", "fwdauthd: worker");

    struct worker w = {a, NULL};
    /* After the fork (threads do not survive one) and with the signals
     * blocked, so that the HTTP thread inherits the mask. */
    if (a->metrics_fd >= 0) {
        w.http =
            metrics_http_start(a->metrics_fd, a->metrics, rt->cfg.metrics_connection_limit, &err);
        if (!w.http)
            fail(a, err.msg);
    }
    size_t nsecrets = runtime_srs_secrets(rt);
    runtime_install(rt);
    struct server_handover h = {a->handoff_in, take, give, (void *)a};
    server_set_handover(&h);
    struct ipc_msg ready = {.type = IPC_READY, .key = (uint32_t)nsecrets};
    if (ipc_send(a->ctl_fd, &ready, -1) < 0)
        _exit(2);

    struct server_listener ls[SERVER_LISTENERS_MAX];
    size_t n = a->nls < SERVER_LISTENERS_MAX ? a->nls : SERVER_LISTENERS_MAX;
    memcpy(ls, a->ls, n * sizeof(ls[0]));
    int busy = server_run(ls, n, sigfd, on_signal, &w, a->metrics) < 0;
    metrics_http_stop(w.http);
    log_msg(FA_LOG_DEBUG, "worker: done%s", busy ? " (connections still busy)" : "");
    /* Threads may still run (busy): leave without running exit handlers. */
    _exit(0);
}
