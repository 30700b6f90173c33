/*
 * NAME
 *   srsstore_redis - Redis or Valkey as the SRS store of a cluster (not an
 *   API for front ends)
 * SUMMARY
 *   srs_store = redis:unix:/run/redis/redis.sock or redis:inet:HOST:PORT
 *   (inet:[IPV6]:PORT). Keys are PostSRSd 2's, with its prefix, so both
 *   daemons can share one Redis:
 *     SET PostSRSd/<KEY>@1 <sender> EX <srs_max_age in seconds>
 *     GET PostSRSd/<KEY>@1
 *   Redis expires the entries itself.
 * SYNOPSIS
 *   srsstore_redis_backend.connect(conf, &err) ...   (srsstore_backend.h)
 *   srsstore_redis_reply_get(reply, val, valsz, &vlen, &err)   the reply parsers
 *   srsstore_redis_reply_put(reply, &err)
 *   srsstore_redis_bound(reader)   our limits on a hiredis reader
 * DESCRIPTION
 *   Each connection is opened with conf->timeout_ms for the connect and
 *   every read and write (SO_RCVTIMEO, SO_SNDTIMEO), TCP keep-alive on
 *   inet, and AUTH with the password when one is configured (requirepass,
 *   the default user's password; srs_store_password names the file).
 *   The reply parsers take what hiredis read and decide: GET gives a bulk
 *   string (the sender, copied at most valsz - 1 octets, *vlen its whole
 *   length), nil (a miss), or anything else (an error); SET gives the
 *   status OK or an error. They are pure, for the fuzz target.
 * LIMITS
 *   hiredis 0.14 believes what a server declares. Every reader we use
 *   (srsstore_redis_bound) refuses an array of more than
 *   SRSSTORE_REDIS_ARRAY_MAX (16) elements and a string of more than
 *   SRSSTORE_REDIS_REPLY_MAX (64 KiB) octets; every command stops reading
 *   once 64 KiB of a reply are buffered, and gives up when its reply is not
 *   complete within twice srs_store_timeout_ms (the socket timeout applies to
 *   each read, which a server sending a byte at a time would stretch).
 *   Each is an error naming the limit: the table answers TEMP, the
 *   connection is closed, and the next lookup opens a new one.
 * SECURITY
 *   The password is sent only in AUTH and never appears in an error text;
 *   Redis's own error replies are quoted at most 100 octets long.
 * DIAGNOSTICS
 *   Errors name the address and hiredis's or Redis's message.
 */
#ifndef FWDAUTH_SRSSTORE_REDIS_H
#define FWDAUTH_SRSSTORE_REDIS_H

#include "srsstore_backend.h"

#include <hiredis/hiredis.h>

#define SRSSTORE_REDIS_PREFIX "PostSRSd/"
#define SRSSTORE_REDIS_ARRAY_MAX 16
#define SRSSTORE_REDIS_REPLY_MAX 65536
#define SRSSTORE_REDIS_REPLY_MAX_TEXT "65536"

extern const struct srsstore_backend srsstore_redis_backend;

int srsstore_redis_reply_get(const redisReply *r, char *value, size_t valsz, size_t *vlen,
                             fa_err *err);
int srsstore_redis_reply_put(const redisReply *r, fa_err *err);
void srsstore_redis_bound(redisReader *r);

#endif
