/*
 * NAME
 *   maillog_top - the heaviest keys of a stream, in bounded memory
 * SUMMARY
 *   Counts per key (a sender, a recipient, a domain, a reject reason) with
 *   at most `capacity` keys held, so that a log with millions of distinct
 *   senders (spam runs, VERP) costs no more memory than one with a few.
 * DESCRIPTION
 *   Below the capacity every count is exact. Once it is full, a new key
 *   takes the place of the key with the smallest weight and starts from that
 *   weight (the Space-Saving algorithm of Metwally, Agrawal and El Abbadi,
 *   2005): every key whose true weight exceeds total/capacity is held, and a
 *   held key's weight is over-stated by at most its `error` (0 for keys
 *   that never replaced another). Each key also carries a count of events,
 *   a sum of bytes and a count of deferrals, exact from the moment it was
 *   (last) taken in.
 * SYNOPSIS
 *   struct maillog_top *t = maillog_top_new(4096, &err);
 *   maillog_top_add(t, key, keylen, weight, count, bytes, deferrals);
 *   size_t n = maillog_top_rows(t, ML_TOP_BY_COUNT, rows, max);
 *   maillog_top_free(t);
 * DIAGNOSTICS
 *   maillog_top_new returns NULL (err filled) when memory runs out;
 *   maillog_top_add returns 0, or -1 when memory ran out (the event is then
 *   not counted; the table stays consistent); maillog_top_rows returns the
 *   number of rows written (0 when memory for sorting ran out: the caller
 *   cannot tell that from an empty table, and need not).
 * SECURITY
 *   Keys are untrusted log text, copied with their length (the caller
 *   bounds it). The hash is not keyed, as in the scanner's other tables:
 *   keys chosen to collide lengthen one chain, which never holds more than
 *   the table's capacity.
 */
#ifndef FWDAUTH_MAILLOG_TOP_H
#define FWDAUTH_MAILLOG_TOP_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

struct maillog_top;

struct maillog_top_row {
    const char *key; /* NUL-terminated; points into the table */
    size_t keylen;
    unsigned long long weight, error; /* weight over-stated by at most error */
    unsigned long long count, bytes, deferrals;
};

/* Row order: by count (then bytes), by bytes (then count), or by weight;
 * ties by key, so that reports are stable. */
enum ml_top_order { ML_TOP_BY_COUNT, ML_TOP_BY_BYTES, ML_TOP_BY_WEIGHT };

struct maillog_top *maillog_top_new(size_t capacity, fa_err *err);
void maillog_top_free(struct maillog_top *t);

int maillog_top_add(struct maillog_top *t, const char *key, size_t keylen,
                    unsigned long long weight, unsigned long long count, unsigned long long bytes,
                    unsigned long long deferrals);

/* The held keys, sorted, at most max of them (max 0: none). */
size_t maillog_top_rows(const struct maillog_top *t, enum ml_top_order order,
                        struct maillog_top_row *rows, size_t max);

size_t maillog_top_size(const struct maillog_top *t);     /* keys held */
size_t maillog_top_capacity(const struct maillog_top *t); /* at most this many */
/* Keys that were pushed out to make room (0: every count is exact). */
unsigned long long maillog_top_evicted(const struct maillog_top *t);

#endif
