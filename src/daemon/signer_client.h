/*
 * NAME
 *   signer_client - a worker's keys: remote keys that the signer signs with
 * SUMMARY
 *   A worker (worker.h) holds no private key. signer_client_loader gives
 *   runtime_load (runtime.h) a key loader (keys.h) that asks the signer
 *   (signer.h) to describe the key it loaded from each path and returns a
 *   remote key (key_remote) whose signing is a request to the signer. The
 *   DKIM and ARC code (dkim.h, arc.h) sign through it unchanged.
 * SYNOPSIS
 *   struct signer_client *sc = signer_client_new(signer_fd, master_ctl_fd);
 *   struct key_loader ld = signer_client_loader(sc);
 *   ... runtime_load with ld: each key file path becomes a remote key ...
 *   key_sign_digest(remote_key, KEY_MD_SHA256, digest, 32, sig, &n, &err);
 *   signer_client_free(sc);   after every key it made is freed
 * DESCRIPTION
 *   One SOCK_SEQPACKET channel to the signer per worker; requests from
 *   the connection threads take turns on it (a mutex): the signer is one
 *   thread anyway, and a signature costs it well under a millisecond.
 *   Each request waits at most SIGNER_CLIENT_TIMEOUT seconds for its
 *   answer (describe requests at start: SIGNER_CLIENT_START_TIMEOUT, as
 *   the signer may still be loading keys); a late answer to an earlier
 *   request is recognized by its id and skipped.
 *   When the channel breaks (the signer ended: crashed, or a newer one
 *   replaced it), the next request asks the master for a new channel
 *   (IPC_NEED_SIGNER on the control socket) and describes each key again
 *   by its path before using it: the new signer may number its keys
 *   differently. A key that it does not have, or has with another type
 *   or size, fails to sign (the message is tempfailed) until a reload.
 *   Each request is tried on at most two channels.
 * SECURITY
 *   The worker learns each key's index, type and size, never its bits.
 * DIAGNOSTICS
 *   signer_client_new returns NULL when out of memory. Loading and
 *   signing fail with the reason in err: the signer's own answer
 *   (IPC_FAIL), a timeout, or no signer available.
 */
#ifndef FWDAUTHD_SIGNER_CLIENT_H
#define FWDAUTHD_SIGNER_CLIENT_H

#include "keys.h"

#define SIGNER_CLIENT_TIMEOUT 10        /* seconds per signature */
#define SIGNER_CLIENT_START_TIMEOUT 120 /* seconds per describe */

struct signer_client;

struct signer_client *signer_client_new(int signer_fd, int ctl_fd);
struct key_loader signer_client_loader(struct signer_client *sc);
void signer_client_free(struct signer_client *sc);

#endif
