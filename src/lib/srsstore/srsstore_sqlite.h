/*
 * NAME
 *   srsstore_sqlite - SQLite as the SRS store of one host (not an API for
 *   front ends)
 * SUMMARY
 *   One database file (srs_store = sqlite:/var/lib/fwdauth/srs.db), opened
 *   by each pooled connection, in WAL mode so that readers never wait for
 *   the writer. The table is PostSRSd 2's, so a PostSRSd database can be
 *   taken over as it is:
 *     CREATE TABLE kv (k TEXT NOT NULL UNIQUE ON CONFLICT REPLACE,
 *                      v TEXT NOT NULL, lt INTEGER NOT NULL);   lt = expiry, unix time
 *     CREATE INDEX ltidx ON kv (lt);
 * SYNOPSIS
 *   srsstore_sqlite_backend.connect(conf, &err) ...   (srsstore_backend.h)
 * DESCRIPTION
 *   put is INSERT (replacing the row of the same key) with lt = now + ttl;
 *   get reads only a row with lt > now, so an expired sender is a miss the
 *   moment it expires. Expired rows are deleted by a put at most once an
 *   hour, at most SRSSTORE_SQLITE_EXPIRE_BATCH rows per put until none is
 *   left, so no request pays for a large clean-up.
 *   synchronous = NORMAL, and a put checkpoints the WAL into the database
 *   (which fsyncs both) at most once a second: a crash of fwdauthd loses
 *   nothing, a power cut or kernel crash at most the senders stored in the
 *   last second or so (their bounces are then refused), as Redis with
 *   appendfsync everysec. An fsync per put (synchronous = FULL) was
 *   measured at 5.8 ms a put here: 170 stored senders a second for the
 *   whole host. A new file is created mode 0600 (it holds addresses).
 *   Writers wait for each other up to timeout_ms (busy_timeout); beyond
 *   that the request fails as a temporary error.
 * DIAGNOSTICS
 *   Errors name the file and SQLite's message.
 */
#ifndef FWDAUTH_SRSSTORE_SQLITE_H
#define FWDAUTH_SRSSTORE_SQLITE_H

#include "srsstore_backend.h"

#define SRSSTORE_SQLITE_EXPIRE_BATCH 1000
#define SRSSTORE_SQLITE_EXPIRE_EVERY 3600 /* seconds */

extern const struct srsstore_backend srsstore_sqlite_backend;

#endif
