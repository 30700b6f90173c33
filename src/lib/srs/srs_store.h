/*
 * NAME
 *   srs_store - where hybrid and database SRS keep the senders that do not
 *   fit: the interface, the key scheme and the check of what comes back
 * SUMMARY
 *   An SRS address must carry the whole original sender in a local part of
 *   at most 64 octets (RFC 5321 section 4.5.3.1.1). When it cannot, srs
 *   (srs.h) stores the sender under a short key and emits an SRS0 address
 *   whose "host" is "1" and whose "user" is the key, exactly as PostSRSd 2
 *   does in its database mode, so that a mixed fleet with the same secrets
 *   and the same Redis reverses each other's addresses:
 *     key    = base32hex(SHA-1(sender as given)) "@1"   (32 + 2 characters,
 *              upper case, RFC 4648 section 7 alphabet, no padding)
 *     value  = the sender as given
 *     alias  = SRS0=HHHH=TT=1=<32 characters>@srs_domain
 *   The alias is an ordinary SRS0 address: its hash covers TT, "1" and the
 *   key, so a forged or expired alias is refused before any store is asked.
 *   The key is deterministic, so a sender forwarded again refreshes its
 *   entry instead of adding one.
 *   A store is this small interface; srsstore.h (the layer above) has the
 *   SQLite and Redis/Valkey backends, and tests plug in their own.
 * SYNOPSIS
 *   char key[SRS_STORE_KEY_LEN + 1];
 *   srs_store_key(addr, len, key);                       "D1V...Q@1"
 *   st->put(st, key, addr, len, ttl_seconds, now, &err)  SRS_STORE_OK | SRS_STORE_ERROR
 *   st->get(st, key, now, val, sizeof val, &vlen, &err)  SRS_STORE_OK | _MISS | _ERROR
 *   if (srs_store_value_check(key, val, vlen, &why) < 0) ... not what the key names
 *   st->free(st);
 * DESCRIPTION
 *   get and put may be called from any number of threads at once; a
 *   backend keeps its own connections. get reports SRS_STORE_MISS for a
 *   key it does not hold (never stored, expired, lost), SRS_STORE_ERROR
 *   for anything that may work later (down, slow, refused, a reply it
 *   cannot read) with the reason in err. put overwrites and sets the
 *   expiry to now + ttl seconds.
 *   srs_store_value_check is the parser of what a store returns: a value is
 *   accepted only when it is at most SRS_STORE_VALUE_MAX octets, holds no
 *   control character or NUL, splits as an address (addr.h) and hashes to
 *   the key it was stored under. Anything else is corruption or a write by
 *   someone else; it is never handed to Postfix.
 * SECURITY
 *   Keys are public (an unkeyed hash of the sender); what protects an alias
 *   is the SRS0 hash around it. Values are client data: callers log them
 *   only through their log functions, which neutralise control characters.
 * DIAGNOSTICS
 *   srs_store_key returns 0, or -1 when SHA-1 is unavailable.
 *   srs_store_key_valid returns 1 when the text has the form of a key's
 *   32 characters (either letter case), else 0.
 *   srs_store_value_check returns 0, or -1 with a static reason in *why.
 */
#ifndef FWDAUTH_SRS_STORE_H
#define FWDAUTH_SRS_STORE_H

#include "err.h"

#include <stddef.h>
#include <time.h>

#define SRS_STORE_HASH_LEN 32                      /* base32hex of 20 octets */
#define SRS_STORE_KEY_LEN (SRS_STORE_HASH_LEN + 2) /* and "@1" */
#define SRS_STORE_VALUE_MAX 1024                   /* a sender longer than this is refused */
#define SRS_STORE_HOST "1"                         /* the alias's host field (PostSRSd 2) */

enum srs_store_result { SRS_STORE_ERROR = -1, SRS_STORE_OK = 0, SRS_STORE_MISS = 1 };

struct srs_store {
    int (*put)(struct srs_store *st, const char *key, const char *value, size_t vlen, unsigned ttl,
               time_t now, fa_err *err);
    int (*get)(struct srs_store *st, const char *key, time_t now, char *value, size_t valsz,
               size_t *vlen, fa_err *err);
    void (*free)(struct srs_store *st);
};

int srs_store_key(const char *addr, size_t len, char key[SRS_STORE_KEY_LEN + 1]);
int srs_store_key_valid(const char *s, size_t n);
int srs_store_value_check(const char *key, const char *value, size_t len, const char **why);

#endif
