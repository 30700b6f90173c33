/*
 * NAME
 *   lookup - one SRS table lookup, shared by socketmap and tcp_table
 * SUMMARY
 *   lookup_srs runs srs_forward or srs_reverse on a key exactly as a Postfix
 *   lookup table must answer it, and describes the outcome in a struct
 *   lookup_note that the connection loop logs (the handlers themselves never
 *   log: they are pure and fuzzed).
 * SYNOPSIS
 *   char out[SRS_ADDR_MAX]; struct lookup_note note;
 *   lookup_srs(s, LOOKUP_FORWARD, key, keylen, time(NULL), out, sizeof out, &note);
 *   if (note.kind == LOOKUP_FOUND) answer out[0..note.result_len)
 *   level = lookup_log_level(&note);
 * DESCRIPTION
 *   Outcomes: LOOKUP_FOUND (rewritten), LOOKUP_NOTFOUND (an address left
 *   unchanged, not ours, invalid, forged or expired, or an alias whose
 *   sender the store no longer holds: Postfix keeps the address it had),
 *   LOOKUP_TEMP (the SRS store is down or slow, or an internal failure:
 *   Postfix defers and retries; a sender that needs no store never gets
 *   it), LOOKUP_BADREQ (the request itself is broken, e.g. an unknown map
 *   name; set by the protocol handlers, never by lookup_srs).
 *   note.reason is srs's enum srs_reason, and the log level follows it:
 *   a rewrite or a reverse at debug; an address left unchanged at debug,
 *   except one whose rewritten local part would exceed 64 octets with no
 *   store to keep it (info: that mail will likely fail SPF at the next
 *   hop), an alias the store does not hold (info: its bounce is refused),
 *   an alias with no store configured (warning) and a stored value that is
 *   not what its key names (error); a temporary failure at error; a bad
 *   request at warning.
 * SECURITY
 *   Keys longer than LOOKUP_KEY_MAX octets or holding a NUL are NOTFOUND
 *   without reaching the SRS code. Keys and results are client data: log
 *   them only through log_msg, which neutralises control characters.
 * DIAGNOSTICS
 *   note.why is the reason for every outcome but LOOKUP_FOUND: static
 *   text, or note.detail (the store's own words), which lives as long as
 *   the note.
 */
#ifndef FWDAUTHD_LOOKUP_H
#define FWDAUTHD_LOOKUP_H

#include "config.h" /* enum fa_log_level: lookup_log_level */
#include "srs.h"

#include <stddef.h>
#include <time.h>

#define LOOKUP_KEY_MAX 2048

enum lookup_dir { LOOKUP_FORWARD, LOOKUP_REVERSE };
enum lookup_kind { LOOKUP_FOUND, LOOKUP_NOTFOUND, LOOKUP_TEMP, LOOKUP_BADREQ };

struct lookup_note {
    int dir;         /* enum lookup_dir */
    int kind;        /* enum lookup_kind */
    int reason;      /* enum srs_reason; SRS_R_NONE when found or not asked */
    const char *why; /* static text or detail; NULL when found */
    char detail[160];
    const char *key; /* the key looked up (or the bad map name), not NUL-terminated */
    size_t key_len;
    const char *result; /* the answer when found, not NUL-terminated */
    size_t result_len;
};

void lookup_note_init(struct lookup_note *note);

/* Returns note->kind. out must hold SRS_ADDR_MAX bytes. */
int lookup_srs(const srs *s, int dir, const char *key, size_t len, time_t now, char *out,
               size_t outsz, struct lookup_note *note);

/* The level at which the connection loop logs this outcome. */
int lookup_log_level(const struct lookup_note *note);

const char *lookup_dir_name(int dir);

#endif
