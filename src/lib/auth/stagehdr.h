/*
 * NAME
 *   stagehdr - the stage-1 results header of a two-stage deployment
 * SUMMARY
 *   Sites with a content filter (amavis, SpamAssassin through a
 *   content_filter that re-injects on a second smtpd) run fwdauthd twice:
 *   stage 1 on the inbound smtpd verifies (SPF, DKIM, ARC, DMARC), enforces
 *   DMARC and decides what happens to the message (policy_decide); stage 2
 *   on the re-injection smtpd, after the filter changed the message, signs,
 *   ARC-seals, rewrites From: and applies SRS as stage 1 decided. Stage 2
 *   cannot decide again: the filter broke the signatures stage 1 verified,
 *   and Postfix's cleanup has expanded the forwarding aliases. Stage 1
 *   therefore adds a header field, STAGEHDR_FIELD, that carries its
 *   decision and its Authentication-Results, authenticated with
 *   HMAC-SHA256 under a local secret over the results and the message's
 *   identity; stage 2 verifies it and removes it.
 * SYNOPSIS
 *   stagehdr_keys *k = stagehdr_keys_load("/etc/fwdauth/stage-secrets", 0, &err);
 *   stage 1:
 *     uint8_t id[STAGEHDR_ID_LEN];
 *     stagehdr_identity(headers, nheaders, mail_from, id);
 *     struct stagehdr r = {.t = now, .flags = STAGE_FORWARDED | STAGE_SEAL, .arc_cv = ARC_CV_NONE};
 *     copy authserv-id into r.authserv_id, authres_value(&ar, "\n") into r.authres
 *     char v[STAGEHDR_VALUE_MAX];
 *     if (stagehdr_build(&r, id, k, "\n", v, sizeof v, &err) >= 0)
 *         add the field: STAGEHDR_FIELD ":" v
 *   stage 2:
 *     struct stagehdr *r = malloc(sizeof *r); const char *why;
 *     switch (stagehdr_check(headers, nheaders, mail_from, k, now, STAGEHDR_MAX_AGE, r, &why))
 *     case STAGEHDR_OK: carry out r->flags, seal with r->authres ...
 *     default: no results: handle the message as unauthenticated
 *   stagehdr_keys_free(k);
 * DESCRIPTION
 *   The field value is a tag list (RFC 6376 section 3.2, read with tags.h),
 *   written in this order and folded with eol + TAB:
 *     v=1; t=<time>; f=<flags>; c=<cv>; i=<authserv-id>;
 *     a=<base64 of the Authentication-Results value>;
 *     b=<base64 of the MAC>
 *   v    version, exactly "1".
 *   t    when stage 1 made the field, seconds since the epoch, decimal
 *        without sign or leading zeros, at most 18 digits.
 *   f    the decision, a decimal sum of enum stagehdr_flag bits; a bit
 *        version 1 does not define makes the field malformed.
 *   c    the ARC chain status on arrival: none, pass or fail (arc.h's
 *        arc_cv_name). Stage 2 cannot validate the chain again after a
 *        filter changed the body, so its seal's cv= comes from here.
 *   i    stage 1's authserv-id, 1 to 255 VALCHARs (no white space, no
 *        ";"). When a= is not empty, its authserv-id must be i=.
 *   a    the value of stage 1's Authentication-Results field (what
 *        authres_value returned, leading space and folding included),
 *        shorter than AUTHRES_MAX octets; may be empty (mail of our own
 *        users, which has no arrival results). Stage 2's AAR records these
 *        results, the truth on arrival. No NUL; a CR only before LF; an LF
 *        only as folding (followed by SP or TAB); no line ending at its end.
 *   b    HMAC-SHA256 (32 octets) under the first secret.
 *   Base64 (b64.h) is padded; its length without white space must be a
 *   multiple of 4, so that a value cut short never decodes. Tags a= and
 *   b= may be folded anywhere; the others hold no white space. Every tag
 *   is required, none may repeat, and no other tag is allowed.
 *
 *   The MAC covers the decoded values, never the field text, so that a
 *   filter that refolds the field, or changes the white space between
 *   tags, leaves it valid. Its input is one unambiguous octet string
 *   (integers big-endian, strings length-prefixed):
 *     "fwdauth-arrival mac 1" 0x00
 *     u32 version (1) | u64 t | u32 flags | u32 cv
 *     u32 length | authserv-id | u32 length | Authentication-Results value
 *     identity (STAGEHDR_ID_LEN octets)
 *   The label keeps this MAC apart from any other use of the secret (SRS
 *   hashes with HMAC-SHA1 over other data).
 *
 *   The identity binds the field to one message, independently of the
 *   queue (a queue ID changes between the stages): SHA-256 of
 *     "fwdauth-arrival identity 1" 0x00
 *     for Message-ID, From and Date, in that order:
 *       u32 count of such fields | for each, in order: u64 length | canon
 *     u64 length | the envelope sender, lower-cased, without <>
 *   where canon is the field's DKIM relaxed header form without CRLF
 *   (canon.h: name lower-cased, unfolded, runs of white space made one
 *   SP, trimmed: "message-id:<a@b>"). A filter that changes Subject or the
 *   body, adds fields or refolds these three keeps the identity; a field
 *   copied onto another message (another Message-ID, From, Date or
 *   sender) does not verify there. Stage 2 must pass the envelope sender
 *   as stage 1 saw it: when sender_canonical_maps gave the message an SRS
 *   sender in between, the srs_reverse of it.
 *
 *   stagehdr_check does what stage 2 does with a header section: no
 *   STAGEHDR_FIELD field is STAGEHDR_ABSENT; more than one is
 *   STAGEHDR_BAD (stage 1 removes every such field it receives, so a
 *   second one is someone else's); one is verified against the identity
 *   of the headers and mail_from. The callers' part: stage 1 removes every
 *   STAGEHDR_FIELD it receives before it adds its own (a sender's field is
 *   never passed on); stage 2 removes every one, whatever the status.
 * LIMITS
 *   STAGEHDR_VALUE_MAX octets of field value are read at most (a built
 *   field is at most STAGEHDR_BUILD_MAX with "\r\n" folding, room for a
 *   filter's refolding); STAGEHDR_SECRETS_MAX secrets; a secret has at
 *   least STAGEHDR_SECRET_MIN octets. A field from more than
 *   STAGEHDR_FUTURE_SKEW seconds in the future, or older than max_age_s,
 *   is expired; STAGEHDR_MAX_AGE (5 days, Postfix's default
 *   maximal_queue_lifetime) covers a message that waited in the queue
 *   while the filter was down.
 * SECURITY
 *   Anything that does not verify is no results: the caller must handle
 *   the message as unauthenticated, never as passed. Only a holder of a
 *   secret can make a field that verifies, and it verifies on one message
 *   only (the identity) and for max_age_s. MACs are compared in constant
 *   time (CRYPTO_memcmp) against every secret (first signs, all verify:
 *   rotation). Secrets stay inside the keys object (OpenSSL's keyed
 *   contexts, cleansed when freed) and never appear in error texts or
 *   reasons; secrets files are read with secfile_read (refused when others
 *   can read them). The decoded results are checked (NUL, line endings)
 *   before they are returned, so they cannot inject header lines even from
 *   a buggy stage 1. Objects are immutable after creation and safe to share
 *   between threads. No I/O except stagehdr_keys_load's read of its file.
 * DIAGNOSTICS
 *   stagehdr_keys_new and stagehdr_keys_load return NULL with err (no
 *   secret, too many, one too short, unreadable or unsafe file, OpenSSL
 *   failure); err never holds a secret.
 *   stagehdr_identity returns 0, or -1 when OpenSSL cannot hash.
 *   stagehdr_build returns the length of the value written to out, or -1
 *   with err: no keys, a line ending other than LF or CRLF, a flag outside
 *   STAGE_FLAGS_ALL, t negative or over STAGEHDR_TIME_MAX, an unknown cv,
 *   an authserv-id empty, too long or with a character a tag value cannot
 *   hold, results too long, with NUL or stray line endings, or whose
 *   authserv-id is not i=, out too small, out of memory, or an HMAC
 *   failure.
 *   stagehdr_verify and stagehdr_check return one of enum stagehdr_status
 *   and set *why to a static reason for all but STAGEHDR_OK:
 *     STAGEHDR_OK       authentic, fresh, for this message; *out filled
 *     STAGEHDR_ABSENT   (stagehdr_check only) no field
 *     STAGEHDR_BAD      malformed: too long, not a tag list, a duplicate,
 *                       missing or unknown tag, unknown version or flag,
 *                       bad number, bad base64, bad results (also several
 *                       fields, in stagehdr_check)
 *     STAGEHDR_FORGED   the MAC matches no secret (a forgery, a change,
 *                       or a field replayed onto another message), or there
 *                       are no keys
 *     STAGEHDR_EXPIRED  authentic but older than max_age_s or from the
 *                       future beyond STAGEHDR_FUTURE_SKEW
 *     STAGEHDR_ERROR    (-1) OpenSSL failed: not the message's fault, the
 *                       caller should defer (tempfail) rather than lose
 *                       stage 1's decision
 *   Unless STAGEHDR_OK, *out is zeroed.
 */
#ifndef FWDAUTH_STAGEHDR_H
#define FWDAUTH_STAGEHDR_H

#include "authres.h"
#include "err.h"
#include "msg.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define STAGEHDR_FIELD "Fwdauth-Arrival"
#define STAGEHDR_VERSION 1
#define STAGEHDR_ID_LEN 32                      /* SHA-256 */
#define STAGEHDR_MAC_LEN 32                     /* HMAC-SHA256 */
#define STAGEHDR_VALUE_MAX 16384                /* field value octets read */
#define STAGEHDR_BUILD_MAX 11800                /* the longest value stagehdr_build writes */
#define STAGEHDR_SECRETS_MAX 32                 /* secrets in a file */
#define STAGEHDR_SECRET_MIN 16                  /* octets: shorter ones could be guessed */
#define STAGEHDR_FUTURE_SKEW 300                /* seconds a field may be ahead of now */
#define STAGEHDR_MAX_AGE 432000                 /* 5 days: Postfix's maximal_queue_lifetime */
#define STAGEHDR_AUTHSERV_MAX 255               /* octets of i= */
#define STAGEHDR_TIME_MAX 999999999999999999ULL /* t= has at most 18 digits */

/* What stage 1 decided (policy_decision and the mail's class). */
enum stagehdr_flag {
    STAGE_FORWARDED = 1,      /* some recipient is a forwarding recipient */
    STAGE_SIGN_FORWARDER = 2, /* sign with forward_signing_key */
    STAGE_SEAL = 4,           /* add our ARC set, its AAR from a= */
    STAGE_REWRITE_FROM = 8,   /* rewrite From: (from_rewrite) */
    STAGE_SRS = 16,           /* SRS the envelope sender */
    STAGE_REPORT_DMARC = 32,  /* a= reports dmarc= */
    STAGE_SIGN_USER = 64,     /* sign with the From: domain's key (our users) */
    STAGE_ORIGINATING = 128,  /* from our users */
};
#define STAGE_FLAGS_ALL 255u

enum stagehdr_status {
    STAGEHDR_ERROR = -1,
    STAGEHDR_OK = 0,
    STAGEHDR_BAD = 1,
    STAGEHDR_FORGED = 2,
    STAGEHDR_EXPIRED = 3,
    STAGEHDR_ABSENT = 4,
};

struct stagehdr {
    time_t t;                                    /* when stage 1 made the field */
    unsigned flags;                              /* enum stagehdr_flag bits */
    int arc_cv;                                  /* enum arc_cv on arrival */
    char authserv_id[STAGEHDR_AUTHSERV_MAX + 1]; /* stage 1's */
    char authres[AUTHRES_MAX];                   /* its Authentication-Results value */
};

typedef struct stagehdr_keys stagehdr_keys;

/* Secrets given in memory (copied into keyed contexts; the caller may wipe them). */
stagehdr_keys *stagehdr_keys_new(const char *const *secrets, const size_t *lens, size_t n,
                                 fa_err *err);
/* One secret per line (secfile_lines), the file read with secfile_read. */
stagehdr_keys *stagehdr_keys_load(const char *path, uid_t owner_uid, fa_err *err);
void stagehdr_keys_free(stagehdr_keys *k);
size_t stagehdr_keys_count(const stagehdr_keys *k); /* for logs */

int stagehdr_identity(const struct msg_header *h, size_t nh, const char *mail_from,
                      uint8_t id[STAGEHDR_ID_LEN]);

/* The field value (after "Fwdauth-Arrival:"), with a leading space,
 * folded with eol + TAB, without a trailing eol. */
int stagehdr_build(const struct stagehdr *r, const uint8_t id[STAGEHDR_ID_LEN],
                   const stagehdr_keys *k, const char *eol, char *out, size_t outsz, fa_err *err);

int stagehdr_verify(const char *value, size_t n, const uint8_t id[STAGEHDR_ID_LEN],
                    const stagehdr_keys *k, time_t now, unsigned max_age_s, struct stagehdr *out,
                    const char **why);

/* Find the one STAGEHDR_FIELD of a header section and verify it against
 * the identity of h and mail_from. */
int stagehdr_check(const struct msg_header *h, size_t nh, const char *mail_from,
                   const stagehdr_keys *k, time_t now, unsigned max_age_s, struct stagehdr *out,
                   const char **why);

/* "ok", "absent", "bad", "forged", "expired", "error": for logs. */
const char *stagehdr_status_name(int status);

#endif
