/*
 * NAME
 *   worker - a fwdauthd process that serves Postfix, without the keys
 * SUMMARY
 *   worker_main runs in a child the master forked (master.h), on the
 *   listening sockets the master bound: it builds its configuration
 *   snapshot (runtime.h) as root, with the keys as remote keys that its
 *   signer signs with (signer_client.h), drops to `user` (inside `chroot`
 *   when one is set) and serves the socketmap, tcp_table, milter and
 *   metrics listeners with the blocking, thread-per-connection server
 *   (server.h) until the master tells it to stop or to drain.
 * SYNOPSIS
 *   struct worker_args a = {...};   in the child, after fork
 *   worker_main(&a);                never returns
 * DESCRIPTION
 *   Start: the SRS secrets, stage secrets, footers, zone file and resolver
 *   are read and set up while still root (files owned by root, mode 0600,
 *   are the norm); the key tables are read too, but each key file is
 *   named to the signer, never opened. Then RLIMIT_NOFILE is fitted to the
 *   limits (server.h), privileges are dropped (privs.h; a worker refuses
 *   to go on as root), the worker dies with the master
 *   (PR_SET_PDEATHSIG), starts the metrics listener, and reports
 *   IPC_READY with its number of SRS secrets on the control socket; any
 *   failure is reported as IPC_ERROR with the reason (FILE:LINE) and ends
 *   it with status 2.
 *   Signals (a signalfd read by the accept loop): SIGTERM or SIGINT stop
 *   it as server.h describes (connections being served finish, at most
 *   SERVER_STOP_WAIT seconds). SIGUSR1 drains it (a reload started a
 *   newer worker): its listeners and the metrics listener close; each
 *   table connection waiting between requests is handed over, open, to
 *   the newer worker (IPC_HANDOFF with the descriptor on the handover
 *   socket pair that every worker shares), so Postfix's long-lived table
 *   connections see the new configuration at their next request and
 *   nothing is closed under them; milter connections stay until Postfix
 *   closes them (the end of its SMTP session) or they time out, because
 *   closing one between two messages of a session would tempfail the
 *   next; then it exits 0. SIGHUP is ignored: reloading is the master's.
 *   Its title is "fwdauthd: worker" ("fwdauthd: worker (draining)").
 * SECURITY
 *   Parses every network input, so holds no private key: a worker taken
 *   over can ask its signer for signatures while it is held, not read the
 *   keys. It runs as `user`, optionally chrooted, not dumpable.
 * DIAGNOSTICS
 *   Exit status 0 after a stop or a drain, 2 when it could not start.
 */
#ifndef FWDAUTHD_WORKER_H
#define FWDAUTHD_WORKER_H

#include "config.h"
#include "metrics.h"
#include "privs.h"
#include "server.h"

#include <stddef.h>
#include <sys/types.h>

struct worker_args {
    const char *config_name; /* the configuration, as the master read it */
    const char *config_text;
    size_t config_len;
    const struct fa_config *start; /* restart-only settings (listeners, user, chroot) */
    const struct privs_user *user; /* NULL when not started as root */
    uid_t secrets_owner;           /* accepted owner of secrets besides root */
    const struct server_listener *ls;
    size_t nls;
    int metrics_fd; /* -1: none */
    const char *metrics_name;
    struct metrics *metrics;
    unsigned metrics_slot;
    int ctl_fd;                  /* to the master */
    int signer_fd;               /* to the signer */
    int handoff_in, handoff_out; /* the shared handover pair */
    pid_t master;                /* getppid() must stay this */
};

void worker_main(const struct worker_args *a) __attribute__((noreturn));

#endif
