/*
 * NAME
 *   signer - fwdauthd's process that holds the private keys
 * SUMMARY
 *   signer_main runs in a child the master forked (master.h): it loads
 *   every private key the configuration names (dkim_key_table's key files
 *   and arc_key) while it is still root, drops to `user` (inside `chroot`
 *   when one is set), and then only answers the workers' requests (ipc.h)
 *   on its socket pairs: "which key is this file?" (IPC_DESCRIBE: index,
 *   type and size, never the key) and "sign this digest with key N"
 *   (IPC_SIGN). It has no network socket and parses no mail.
 * SYNOPSIS
 *   struct signer_args a = {...};   in the child, after fork
 *   signer_main(&a);                never returns
 *   struct signer_keys *sk = signer_keys_new();           the protocol alone (tests, fuzz_ipc)
 *   signer_keys_add(sk, "/etc/fwdauth/k.pem", key, 1);
 *   long n = signer_answer(sk, request, len, reply, sizeof reply);
 * DESCRIPTION
 *   The keys are read with key_load_private as root: the norm is a file
 *   owned by root, mode 0600 (fwdauthd.conf(5)); one owned by `user` is
 *   still accepted, with a warning, because a worker (which runs as
 *   `user`) could then read it. Keys are loaded only when milter_listen,
 *   dkim_key_table and dkim_signing_table are set (and arc_key when set);
 *   errors in the other settings are the worker's to report.
 *   After loading: chroot and setuid as privs.h does (unless not started
 *   as root), no core dumps (RLIMIT_CORE 0, not dumpable), RLIMIT_NPROC 0
 *   (it cannot fork), and killed with the master (PR_SET_PDEATHSIG).
 *   Then IPC_READY (the number of keys) on the control socket, or
 *   IPC_ERROR with the reason and exit status 2.
 *   The loop polls the control socket and the workers' channels (at most
 *   SIGNER_CLIENTS_MAX). The master passes a new channel with IPC_CLIENT;
 *   when the master closes the control socket (a newer signer has taken
 *   over, or the daemon stops), the signer serves the channels it has and
 *   exits when the last one closes. A request that does not decode, or a
 *   message a worker may not send, closes that channel (logged). A
 *   signature that fails is answered IPC_FAIL with the reason.
 *   Signals: SIGTERM ends it at once; SIGHUP, SIGINT and SIGUSR1/2 are
 *   ignored (the master decides).
 * SECURITY
 *   The one process with key material after start. Key material never
 *   leaves it; requests are length-checked (ipc.h) before use. A worker
 *   taken over by an attacker can make it sign digests for as long as the
 *   attacker holds the worker, not read or keep the keys.
 * DIAGNOSTICS
 *   Logs key loading problems, refused requests and signing failures.
 *   Exit status 0 when retired, 2 when it could not start.
 *   signer_answer returns the reply's length, or 0 when the channel must
 *   be closed. signer_keys_new returns NULL and signer_keys_add -1 when
 *   out of memory.
 */
#ifndef FWDAUTHD_SIGNER_H
#define FWDAUTHD_SIGNER_H

#include "privs.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SIGNER_CLIENTS_MAX 64

struct signer_args {
    const char *config_name; /* the configuration, as the master read it */
    const char *config_text;
    size_t config_len;
    const char *chroot;            /* "" for none (the start configuration's) */
    const struct privs_user *user; /* NULL when not started as root */
    uid_t key_owner;               /* accepted owner besides root */
    int ctl_fd;                    /* to the master */
    pid_t master;                  /* getppid() must stay this */
};

void signer_main(const struct signer_args *a) __attribute__((noreturn));

struct fa_key;
struct signer_keys;
struct signer_keys *signer_keys_new(void);
/* own: key_free the key with the set. */
int signer_keys_add(struct signer_keys *sk, const char *path, struct fa_key *key, int own);
size_t signer_keys_count(const struct signer_keys *sk);
void signer_keys_free(struct signer_keys *sk);
long signer_answer(const struct signer_keys *sk, const uint8_t *req, size_t n, uint8_t *out,
                   size_t outsz);

#endif
