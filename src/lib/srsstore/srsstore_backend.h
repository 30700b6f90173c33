/*
 * NAME
 *   srsstore_backend - what an SRS store backend implements (not an API for
 *   front ends)
 * SUMMARY
 *   srsstore.c keeps the pool of connections, the timing, the observer and
 *   the back-off after a failed connect; a backend (srsstore_sqlite.h,
 *   srsstore_redis.h) only opens one connection and runs one get or put
 *   on it. A connection is used by one thread at a time and may be handed
 *   to another thread between requests.
 * SYNOPSIS
 *   void *c = be->connect(conf, &err);
 *   be->put(c, conf, key, value, vlen, ttl, now, &err)   SRS_STORE_OK | SRS_STORE_ERROR
 *   be->get(c, conf, key, now, val, valsz, &vlen, &err)  SRS_STORE_OK | _MISS | _ERROR
 *   be->disconnect(c);
 * DESCRIPTION
 *   After SRS_STORE_ERROR the pool drops the connection (disconnect) and
 *   the next request opens a new one: that is the reconnect. Every call
 *   must give up after conf->timeout_ms (a store that is slow is a store
 *   that is down, for the caller: Postfix retries).
 * DIAGNOSTICS
 *   connect returns NULL with err set. get and put set err with every
 *   SRS_STORE_ERROR. Error texts name the store and the problem, never
 *   a password.
 */
#ifndef FWDAUTH_SRSSTORE_BACKEND_H
#define FWDAUTH_SRSSTORE_BACKEND_H

#include "err.h"
#include "listenaddr.h"

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

enum srsstore_kind { SRSSTORE_SQLITE, SRSSTORE_REDIS };

/* What srs_store = ... names (srsstore_parse). */
struct srsstore_spec {
    int kind;                 /* enum srsstore_kind */
    char path[PATH_MAX];      /* SRSSTORE_SQLITE: the database file */
    struct listen_addr redis; /* SRSSTORE_REDIS: LISTEN_INET or LISTEN_UNIX */
};

/* One store's settings, shared by its connections. */
struct srsstore_conf {
    struct srsstore_spec spec;
    unsigned timeout_ms; /* every connect, read and write */
    char *password;      /* Redis AUTH; NULL = none; wiped when freed */
    size_t password_len;
    atomic_llong next_expire; /* SQLite: when to delete expired rows next (unix time) */
    atomic_llong next_sync;   /* SQLite: when to checkpoint and fsync next (unix time) */
};

struct srsstore_backend {
    const char *name; /* "sqlite", "redis" */
    void *(*connect)(struct srsstore_conf *conf, fa_err *err);
    void (*disconnect)(void *conn);
    int (*get)(void *conn, struct srsstore_conf *conf, const char *key, time_t now, char *value,
               size_t valsz, size_t *vlen, fa_err *err);
    int (*put)(void *conn, struct srsstore_conf *conf, const char *key, const char *value,
               size_t vlen, unsigned ttl, time_t now, fa_err *err);
};

#endif
