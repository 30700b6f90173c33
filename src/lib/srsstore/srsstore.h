/*
 * NAME
 *   srsstore - the SRS stores: SQLite for one host, Redis or Valkey for a
 *   cluster, behind srs_store.h's interface
 * SUMMARY
 *   srsstore_parse reads an srs_store setting; srsstore_open makes the
 *   store it names, which srs (srs.h) then owns. Nothing is connected
 *   until the first request: a store that is down when fwdauthd starts
 *   costs only the requests that need it.
 *     sqlite:/var/lib/fwdauth/srs.db          a file (absolute path)
 *     redis:unix:/run/redis/redis.sock        a UNIX-domain socket
 *     redis:inet:127.0.0.1:6379               TCP (inet:[::1]:6379; a host name
 *                                             is resolved at each connect)
 * SYNOPSIS
 *   struct srsstore_opts o = {.timeout_ms = 1000, .observe = fn, .observe_arg = arg};
 *   struct srs_store *st = srsstore_open("redis:unix:/run/redis/redis.sock", &o, &err);
 *   ... srs_params.store = st ...                 srs_free frees it
 *   srsstore_parse(text, &spec, &err)             the check alone (config.c)
 * DESCRIPTION
 *   Connections are pooled: a request takes an idle connection or opens
 *   one, and gives it back when done, up to max_idle kept (default
 *   SRSSTORE_IDLE_MAX; more concurrent requests open more and close them
 *   after use). Any connection or request may run in any thread. A failed
 *   request closes its connection; the next one reconnects. Connects are
 *   made one at a time (SQLite's first sets the file up; against a store
 *   that is down, one request tries while the others wait for its
 *   verdict). After a failed connect, requests fail at once for
 *   SRSSTORE_BACKOFF_MS instead of each waiting for its own timeout; the
 *   first request after that tries again.
 *   observe, when set, is called once per request, from the thread that
 *   made it, with the operation, its result (enum srs_store_result) and
 *   its duration in seconds, connect included (metrics).
 * SECURITY
 *   The password is copied into the store, sent only in Redis's AUTH, and
 *   wiped when the store is freed; no error text holds it.
 * DIAGNOSTICS
 *   srsstore_parse returns 0, or -1 with err saying what was expected.
 *   srsstore_open returns NULL with err set (a bad setting, out of
 *   memory); it does not connect, so an unreachable store is no error
 *   here. Requests report errors as srs_store.h says.
 */
#ifndef FWDAUTH_SRSSTORE_H
#define FWDAUTH_SRSSTORE_H

#include "err.h"
#include "srs_store.h"
#include "srsstore_backend.h"

#include <stddef.h>

#define SRSSTORE_IDLE_MAX 64     /* idle connections kept per store */
#define SRSSTORE_BACKOFF_MS 1000 /* after a failed connect */

enum srsstore_op { SRSSTORE_GET, SRSSTORE_PUT };

/* op: enum srsstore_op; result: enum srs_store_result. */
typedef void (*srsstore_observe_fn)(void *arg, int op, int result, double seconds);

struct srsstore_opts {
    unsigned timeout_ms;  /* connect, read, write, SQLite's busy wait; 0 = 1000 */
    const char *password; /* Redis AUTH (bytes); NULL = none */
    size_t password_len;
    unsigned max_idle; /* 0 = SRSSTORE_IDLE_MAX */
    srsstore_observe_fn observe;
    void *observe_arg;
};

int srsstore_parse(const char *text, struct srsstore_spec *spec, fa_err *err);
struct srs_store *srsstore_open(const char *text, const struct srsstore_opts *o, fa_err *err);

/* "sqlite" or "redis", for logs. */
const char *srsstore_kind_name(const struct srs_store *st);

#endif
