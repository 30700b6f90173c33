/*
 * NAME
 *   srs - Sender Rewriting Scheme, compatible with libsrs2 and PostSRSd,
 *   stateless or with a store for the senders that do not fit
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
 *   With a store (srs_store.h) a sender whose SRS form would exceed 64
 *   octets is stored under a key and gets the alias
 *     SRS0=HHHH=TT=1=<key: 32 base32hex characters>@srs_domain
 *   (PostSRSd 2's database format; 43 + hash_length octets of local part).
 * DESCRIPTION
 *   The hash is emitted in base64url (-_) unless FA_SRS_BASE64 (+/) is asked
 *   for; reverse accepts both alphabets and any letter case (relays change
 *   case), and compares in constant time against every secret (the first
 *   secret signs, all verify: key rotation).
 *   Modes (srs_params.mode): SRS_MODE_STATELESS never stores: a sender whose
 *   SRS form would exceed 64 octets is left unchanged (SRS_R_TOO_LONG).
 *   SRS_MODE_HYBRID (needs a store) rewrites statelessly whenever the result
 *   fits and stores the rest. SRS_MODE_DATABASE (needs a store) stores every
 *   sender that is not itself an SRS address, as PostSRSd's
 *   original-envelope = database; SRS0 and SRS1 senders of other forwarders
 *   become SRS1 as usual, or an alias when that does not fit. An alias is
 *   always SRS0, never SRS1: SRS1 keeps the first forwarder's domain in
 *   clear so that a later hop returns bounces straight there, which needs
 *   the whole first-hop address in the local part (exactly what does not
 *   fit), whereas an alias must come back to us, and an SRS0 of ours is
 *   what a later hop's SRS1 returns to us. A sender in the domain "1" (the
 *   alias host) is stored too when there is a store, so that no stateless
 *   address can look like an alias.
 *   Reverse checks the hash and the age of an alias before it asks the
 *   store, so a forged or expired alias costs no lookup. What the store
 *   returns is checked by srs_store_value_check before it is used.
 *   Left unchanged by forward (SRS_UNCHANGED with a reason): the empty sender,
 *   an address without a domain, a local domain, one of our SRS domains, and
 *   (without a store) an address whose rewritten local part would exceed 64
 *   octets (RFC 5321 section 4.5.3.1.1): a lookup table cannot refuse mail,
 *   so it leaves the address alone and the caller logs it.
 *   Quoted local parts ("a@b"@example.org) are split at the right "@" and the
 *   result is quoted again when it is not a dot-atom.
 *   SRS domain per forwarding domain: srs_add_domain maps a forwarding
 *   (recipient) domain, or ".domain" for its subdomains, to an SRS domain
 *   with its own secrets or the default ones. srs_forward_ex picks the SRS
 *   domain from the message's forwarded recipients (the first that maps;
 *   none: the default srs_domain). Reverse accepts every SRS domain: an
 *   address in one of them is checked with that domain's secrets, an
 *   address in any other domain with every domain's (a renamed SRS domain
 *   keeps its old bounces working). At most SRS_DOMAINS_MAX SRS domains and
 *   SRS_FORWARDING_MAX forwarding domains.
 * SECURITY
 *   Secrets are kept only inside the srs object, never in reasons or errors.
 *   The object is immutable once built (srs_new, then srs_add_domain before
 *   it is shared) and safe to share between threads; the store it owns
 *   keeps its own connections.
 * SYNOPSIS
 *   struct srs_params p = {.domain = "srs.example.net", .hash_length = 4, .max_age = 21,
 *                          .separator = '=', .mode = SRS_MODE_HYBRID, .store = st};
 *   srs *s = srs_new(&p, secrets, secret_lens, nsecrets, &err);   owns st from here
 *   srs_add_domain(s, "customer.example", "srs.customer.example", NULL, NULL, 0, &err);
 *   (srs_from_config, srs_config.h, builds one from fwdauthd.conf)
 *   char out[SRS_ADDR_MAX]; struct srs_why why;
 *   switch (srs_forward_ex(s, rcpts, nrcpts, addr, strlen(addr), time(NULL), out, sizeof out,
 *                          &why)) ... why.reason, why.text
 *   srs_reverse_ex(s, addr, strlen(addr), time(NULL), out, sizeof out, &why);
 *   srs_forward(s, addr, len, now, out, sizeof out, &text)   the default domain, text only
 *   srs_free(s);
 * DIAGNOSTICS
 *   srs_forward(_ex) and srs_reverse(_ex) return SRS_OK (out holds the
 *   result), SRS_UNCHANGED (why says why: a permanent answer), SRS_TEMP (the
 *   store failed: try again later; why.text names the store's problem) or
 *   SRS_ERROR (output buffer too small or HMAC failure: a bug). why.reason
 *   is an enum srs_reason for decisions and log levels; why.text is for
 *   people, static or inside the struct srs_why. srs_new and
 *   srs_add_domain return NULL or -1 with err set for settings that do not
 *   form a whole; srs_new frees the store it was given even then.
 */
#ifndef FWDAUTH_SRS_H
#define FWDAUTH_SRS_H

#include "err.h"
#include "srs_store.h"

#include <stddef.h>
#include <time.h>

#define SRS_ADDR_MAX 1024 /* room for any result */
#define SRS_SECRETS_MAX 32
#define SRS_DOMAINS_MAX 1000     /* SRS domains, the default one included */
#define SRS_FORWARDING_MAX 10000 /* forwarding domains mapped by srs_add_domain */
/* The longest hash an alias fits with: 43 + hash_length <= 64 octets. */
#define SRS_ALIAS_HASH_MAX 21

/* The alphabet of emitted hashes (srs_params.alphabet, fwdauthd.conf
 * srs_hash_alphabet); both are accepted. */
enum fa_srs_alphabet { FA_SRS_BASE64URL, FA_SRS_BASE64 };

/* srs_params.mode, fwdauthd.conf srs_mode (same order). */
enum srs_mode { SRS_MODE_STATELESS, SRS_MODE_HYBRID, SRS_MODE_DATABASE };

enum srs_status {
    SRS_ERROR = -1,    /* output buffer too small, HMAC failure: a bug */
    SRS_OK = 0,        /* rewritten into out */
    SRS_UNCHANGED = 1, /* left as it is, for good; why says why */
    SRS_TEMP = 2       /* the store failed: the same request may work later */
};

/* Why an address was left unchanged (or could not be done now): callers
 * decide and choose log levels by this, never by the text. */
enum srs_reason {
    SRS_R_NONE,         /* rewritten */
    SRS_R_EMPTY,        /* forward: the null sender */
    SRS_R_NOT_ADDRESS,  /* forward: no domain, bad characters, too long to split */
    SRS_R_OURS,         /* forward: already in one of our SRS domains */
    SRS_R_LOCAL,        /* forward: in local_domains */
    SRS_R_TOO_LONG,     /* forward: the SRS form would exceed 64 octets and nothing stores it */
    SRS_R_NOT_SRS,      /* reverse: not an SRS address */
    SRS_R_MALFORMED,    /* reverse: an SRS tag, but fields missing or broken */
    SRS_R_BAD_HASH,     /* reverse: the hash does not match (forged, mangled) or is too short */
    SRS_R_EXPIRED,      /* reverse: older than max_age days */
    SRS_R_RESULT_LONG,  /* reverse: the restored local part would be over-long */
    SRS_R_UNKNOWN_KEY,  /* reverse: a valid alias whose key the store does not hold */
    SRS_R_BAD_VALUE,    /* reverse: the store's value is not what the key names */
    SRS_R_NO_STORE,     /* reverse: a valid alias, but no store is configured */
    SRS_R_STORE_FAILED, /* the store is down, slow or refused (SRS_TEMP) */
    SRS_R_INTERNAL      /* SRS_ERROR */
};

struct srs_why {
    int reason;       /* enum srs_reason */
    const char *text; /* for people: static, or detail[] */
    char detail[160]; /* the store's own reason (SRS_TEMP) */
};

struct srs_params {
    const char *domain;         /* our (default) SRS domain */
    char *const *local_domains; /* never rewritten (domlist.h syntax) */
    size_t n_local_domains;
    unsigned hash_length;    /* 1..27, libsrs2 default 4; at most 21 with a store */
    unsigned hash_minimum;   /* shortest hash accepted; 0 = hash_length */
    unsigned max_age;        /* days, 1..1023; also the lifetime of stored senders */
    char separator;          /* '=', '+' or '-' */
    int alphabet;            /* enum fa_srs_alphabet, for emitted hashes */
    int mode;                /* enum srs_mode; hybrid and database need store */
    struct srs_store *store; /* NULL: none; srs_new takes it over (srs_free frees it) */
};

/* srs_reverse trusts the hash, not the domain: a correctly signed SRS
 * address is restored whatever domain it is addressed to (as libsrs2 and
 * PostSRSd do), so a changed srs_domain keeps old bounces working. */

typedef struct srs srs;

srs *srs_new(const struct srs_params *p, const char *const *secrets, const size_t *secret_lens,
             size_t nsecrets, fa_err *err);

/* Map forwarding domain fwd ("example.com", or ".example.com" for its
 * subdomains) to SRS domain srs_domain, with its own secrets (nsecrets > 0)
 * or the default ones (0). An SRS domain named twice must have the same
 * secrets each time. Only before the object is shared. */
int srs_add_domain(srs *s, const char *fwd, const char *srs_domain, const char *const *secrets,
                   const size_t *secret_lens, size_t nsecrets, fa_err *err);

void srs_free(srs *s);

/* How many secrets the default domain has (for logs; never the secrets). */
size_t srs_secret_count(const srs *s);
/* How many SRS domains (the default one included), and the i-th. */
size_t srs_domain_count(const srs *s);
const char *srs_domain_name(const srs *s, size_t i);
int srs_has_store(const srs *s);

/* rcpts: the message's forwarded recipients (may be in <>), which choose
 * the SRS domain; NULL or 0 for the default one (canonical maps). */
int srs_forward_ex(const srs *s, char *const *rcpts, size_t nrcpts, const char *addr, size_t len,
                   time_t now, char *out, size_t outsz, struct srs_why *why);
int srs_reverse_ex(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                   struct srs_why *why);

/* The same with the default SRS domain and the reason as text only;
 * *why points to static text (a store's detail is not kept). */
int srs_forward(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                const char **why);
int srs_reverse(const srs *s, const char *addr, size_t len, time_t now, char *out, size_t outsz,
                const char **why);

#endif
