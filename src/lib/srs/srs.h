/*
 * NAME
 *   srs - Sender Rewriting Scheme, compatible with libsrs2 and PostSRSd
 * SUMMARY
 *   srs_forward rewrites a foreign envelope sender into our SRS domain so
 *   that SPF passes at the next hop; srs_reverse turns a returning bounce
 *   address back into the original sender. The formats are libsrs2's:
 *     SRS0=HHHH=TT=host=user@srs_domain           first hop
 *     SRS1=HHHH=hop1==HHHH=TT=host=user@srs_domain  an SRS0 address forwarded again
 *   HHHH is the first hash_length characters of base64(HMAC-SHA1(secret,
 *   lc(TT) || lc(host) || lc(user))) for SRS0 and of HMAC(lc(hop1) || lc(rest))
 *   for SRS1, with no delimiters between the fields (kept for compatibility,
 *   although it lets fields shift). TT is the day number (unix time / 86400)
 *   mod 1024 in base32 (A-Z 2-7), exactly two characters; an address is valid
 *   for max_age days after it was made (the 1024-day wrap is handled).
 * DESCRIPTION
 *   The hash is emitted in base64url (-_) unless FA_SRS_BASE64 (+/) is asked
 *   for; reverse accepts both alphabets and any letter case (relays change
 *   case), and compares in constant time against every secret (the first
 *   secret signs, all verify: key rotation).
 *   Left unchanged by forward (SRS_UNCHANGED with a reason): the empty sender,
 *   an address without a domain, a local domain, our own SRS domain, and an
 *   address whose rewritten local part would exceed 64 octets (RFC 5321
 *   section 4.5.3.1.1): a lookup table cannot refuse mail, so it leaves the
 *   address alone and the caller logs it.
 *   Quoted local parts ("a@b"@example.org) are split at the right "@" and the
 *   result is quoted again when it is not a dot-atom.
 * SECURITY
 *   Secrets are kept only inside the srs object, never in reasons or errors.
 *   The object is immutable after srs_new and safe to share between threads.
 * SYNOPSIS
 *   struct srs_params p = {.domain = "srs.example.net", .hash_length = 4, .max_age = 21,
 *                          .separator = '='};
 *   srs *s = srs_new(&p, secrets, secret_lens, nsecrets, &err);
 *   (srs_from_config, srs_config.h, builds one from fwdauthd.conf)
 *   char out[SRS_ADDR_MAX]; const char *why;
 *   switch (srs_forward(s, addr, strlen(addr), time(NULL), out, sizeof out, &why)) ...
 *   srs_free(s);
 */
#ifndef FWDAUTH_SRS_H
#define FWDAUTH_SRS_H

#include "err.h"

#include <stddef.h>
#include <time.h>

#define SRS_ADDR_MAX 1024 /* room for any result */

/* The reason srs_forward gives when the SRS local part would exceed 64
 * octets: callers compare the pointer to log this case louder. */
extern const char srs_why_too_long[];
#define SRS_SECRETS_MAX 32

/* The alphabet of emitted hashes (srs_params.alphabet, fwdauthd.conf
 * srs_hash_alphabet); both are accepted. */
enum fa_srs_alphabet { FA_SRS_BASE64URL, FA_SRS_BASE64 };

enum srs_status {
    SRS_ERROR = -1,   /* output buffer too small: a caller bug */
    SRS_OK = 0,       /* rewritten into out */
    SRS_UNCHANGED = 1 /* left as it is; *why says why */
};

struct srs_params {
    const char *domain;         /* our SRS domain */
    char *const *local_domains; /* never rewritten (domlist.h syntax) */
    size_t n_local_domains;
    unsigned hash_length;  /* 1..27, libsrs2 default 4 */
    unsigned hash_minimum; /* shortest hash accepted; 0 = hash_length */
    unsigned max_age;      /* days, 1..1023 */
    char separator;        /* '=', '+' or '-' */
    int alphabet;          /* enum fa_srs_alphabet, for emitted hashes */
};

/* srs_reverse trusts the hash, not the domain: a correctly signed SRS
 * address is restored whatever domain it is addressed to (as libsrs2 and
 * PostSRSd do), so a changed srs_domain keeps old bounces working. */

typedef struct srs srs;

srs *srs_new(const struct srs_params *p, const char *const *secrets, const size_t *secret_lens,
             size_t nsecrets, fa_err *err);

void srs_free(srs *s);

/* How many secrets were loaded (for logs; never the secrets themselves). */
size_t srs_secret_count(const srs *s);

int srs_forward(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                const char **why);
int srs_reverse(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                const char **why);

#endif
