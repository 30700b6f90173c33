/*
 * NAME
 *   master - fwdauthd's root process: starts, watches and replaces the others
 * SUMMARY
 *   master_run is what fwdauthd does after main bound the listeners (as
 *   root): it forks a signer (signer.h: the private keys) and a worker
 *   (worker.h: Postfix's connections, no keys), restarts either when it
 *   ends unexpectedly, replaces both on SIGHUP, and stops them on SIGTERM.
 *   It parses no network input: only the configuration file and the short
 *   messages (ipc.h) its own children send.
 * SYNOPSIS
 *   struct master_args a = {...};   listeners bound, signals blocked
 *   return master_run(&a);          the exit status
 * DESCRIPTION
 *   A generation is one configuration text (read once by the master, so
 *   that its signer and worker, and their restarts, see the same one) and
 *   its signer and worker. The master passes each worker a SOCK_SEQPACKET
 *   channel to its generation's signer (the signer gets the other end with
 *   IPC_CLIENT) and a control socket of its own; a worker whose channel
 *   breaks asks for a new one (IPC_NEED_SIGNER): it gets one to its own
 *   generation's signer, or, when that one is gone, to the current
 *   generation's (at most one a second, or when the signer changed);
 *   while the signer starts the request waits, and when none runs the
 *   answer is IPC_NO_SIGNER (the message is tempfailed).
 *   Start: the first generation must start (both report IPC_READY), else
 *   the error a child reported is printed and master_run returns 2.
 *   A child that ends unexpectedly is logged ("worker (pid N) killed by
 *   signal 9 ...") and started again: at once when it had run
 *   MASTER_BACKOFF_WINDOW seconds or more, else after a delay that doubles
 *   from 1 s up to MASTER_BACKOFF_MAX seconds, so a crash loop does not
 *   spin; a worker waits for its signer to run.
 *   SIGHUP: the file is read and checked (config_load_buf); when it is
 *   bad, everything stays as it is and the log says why ("reload failed,
 *   keeping the old configuration: FILE:LINE: ..."); the restart-only
 *   settings (listen addresses, user, chroot) keep their old values and
 *   each change is logged; then a new generation starts, and only when its
 *   signer and worker report IPC_READY does it replace the current one:
 *   the old worker is told to drain (SIGUSR1: worker.h), the old signer's
 *   control socket is closed (it ends with its last channel). When the
 *   new generation fails (a bad key or secrets file, ...), its processes
 *   are stopped and the old one keeps serving; the log says why. A SIGHUP
 *   during a reload is done after it. At most MASTER_GENERATIONS
 *   generations live at once: beyond, the oldest draining worker is
 *   stopped (SIGTERM). Reloads are counted (fwdauth_config_reloads_total).
 *   SIGTERM, SIGINT: every worker is stopped (SIGTERM: requests being
 *   served finish), then the signers; after SERVER_STOP_WAIT + 10 seconds
 *   what is left is killed. master_run then returns 0.
 *   ready_fd (>= 0) gets one octet when the first generation serves (the
 *   parent that daemonized waits for it) and standard input, output and
 *   error then go to /dev/null.
 *   The metrics registry (metrics.h) lives in shared memory: every worker
 *   counts into it; a worker's open connections are its own slot, cleared
 *   when the worker ends.
 * SECURITY
 *   Runs as root for its whole life, so it does little: reads the
 *   configuration file, forks, passes descriptors, waits. The children's
 *   messages are decoded by ipc.h's strict parser; a worker cannot make it
 *   do more than hand out a signer channel now and then.
 * DIAGNOSTICS
 *   master_run returns 0 after a stop, 2 when the first generation could
 *   not start (the reason on standard error and in the log).
 */
#ifndef FWDAUTHD_MASTER_H
#define FWDAUTHD_MASTER_H

#include "config.h"
#include "metrics.h"
#include "privs.h"
#include "server.h"

#include <stddef.h>
#include <sys/types.h>

#define MASTER_BACKOFF_WINDOW 10 /* seconds: a shorter life is a crash loop */
#define MASTER_BACKOFF_MAX 60    /* seconds between restarts, at most */
#define MASTER_GENERATIONS 16    /* current, starting and draining */

struct master_args {
    const char *config_path;
    const struct fa_config *start; /* as started: listeners, user, chroot */
    char *config_text;             /* the file as read at start (taken over) */
    size_t config_len;
    const struct privs_user *user; /* NULL: not started as root */
    uid_t secrets_owner;
    const struct server_listener *ls;
    size_t nls;
    int metrics_fd; /* -1: none */
    const char *metrics_name;
    struct metrics *metrics; /* shared (metrics_new_shared) */
    int sigfd;               /* SIGHUP, SIGTERM, SIGINT, SIGCHLD */
    int foreground;
    int ready_fd; /* -1: none */
};

int master_run(const struct master_args *a);

#endif
