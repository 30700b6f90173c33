/*
 * NAME
 *   dkimcore - the hashing and signing mechanics shared by DKIM and ARC
 * SUMMARY
 *   Internal to libfwdauth (dkim.c, arc.c, dkim_key.c; not an API for
 *   front ends).
 *   DKIM-Signature (RFC 6376) and ARC-Message-Signature / ARC-Seal
 *   (RFC 8617) are built the same way: body hashes over a canonicalized
 *   body (several signatures with the same canonicalization, length and
 *   digest share one), a header hash over selected fields followed by the
 *   signature's own field with its b= value blanked, a signature over that
 *   digest, and a field folded for output. This module holds those pieces
 *   once; dkim.c and arc.c add only their protocol's tags and rules, and
 *   dkim_key.h reads and fetches the key records both verify with.
 * SYNOPSIS
 *   struct dkimcore_hashes hs;  dkimcore_hashes_init(&hs, &err);
 *   int i = dkimcore_hashes_get(&hs, CANON_RELAXED, CANON_NO_LIMIT, KEY_MD_SHA256, &err);
 *   dkimcore_hashes_update(&hs, p, n); ...; dkimcore_hashes_final(&hs);
 *   hs.bh[i]->digest[0..dlen)
 *   dkimcore_header_hash(md, CANON_RELAXED, h, nh, "from:to", 7, NULL, 0,
 *                        &self, b_off, b_end, digest, &dlen);
 * DESCRIPTION
 *   Header selection follows RFC 6376 section 5.4.2: each name in the h=
 *   list takes the bottom-most instance not used yet; a name with no
 *   instance left adds nothing. Explicit fields (ARC-Seal's input, RFC
 *   8617 section 5.1.1) are hashed after the selected ones, in the order
 *   given, each with its CRLF; the signature's own field comes last,
 *   without its final CRLF.
 *   Folding: struct dkimcore_fold builds a field at most DKIMCORE_FIELD_MAX
 *   octets, breaking lines with CRLF + TAB before a tag that would pass
 *   column 76 (dkimcore_fold_tag: never inside a value) or inside a long
 *   value at a separator or anywhere (dkimcore_fold_long: base64, h=).
 * DIAGNOSTICS
 *   dkimcore_hashes_init returns 0, or -1 with err when OpenSSL lacks
 *   SHA-256 or SHA-1. dkimcore_hashes_get returns the hash's index, or -1
 *   with err: more than DKIMCORE_MAX_BODY_HASHES different hashes, out of
 *   memory, a digest that cannot start. dkimcore_header_hash returns 0,
 *   or -1 when OpenSSL fails (no err: only a broken library does).
 *   dkimcore_sign_b64 returns 0, or -1 with err: the key cannot sign
 *   (keys.h) or the signature does not fit out.
 *   dkimcore_sig_parse returns DKIM_NONE (all checks hold), DKIM_PERMERROR,
 *   DKIM_POLICY or DKIM_FAIL, with a static *reason (see its comment).
 *   dkimcore_default_hlist returns 0, or -1 when the list does not fit.
 *   dkimcore_check_body returns NULL (the hash matches) or a static
 *   reason. The fold_* functions record an overflow in f->overflow;
 *   dkimcore_fold_finish then returns NULL with err ("signature field too
 *   long"), as it does when memory runs out. dkimcore_domain_within
 *   returns 1 or 0.
 * SECURITY
 *   Every buffer is bounded; overflows are reported, not truncated silently.
 *   No global state: safe in every thread.
 */
#ifndef FWDAUTH_DKIMCORE_H
#define FWDAUTH_DKIMCORE_H

#include "canon.h"
#include "dkim_key.h"
#include "err.h"
#include "keys.h"
#include "msg.h"
#include "tags.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define DKIMCORE_MAX_BODY_HASHES 16
#define DKIMCORE_FIELD_MAX 16384
#define DKIMCORE_HLIST_MAX 4096

/* ---- body hashes ---- */

struct dkimcore_body_hash {
    int canon;
    uint64_t limit;
    int md; /* enum key_md */
    EVP_MD_CTX *ctx;
    struct canon_body cb;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen;
    int done;
};

struct dkimcore_hashes {
    struct dkimcore_body_hash *bh[DKIMCORE_MAX_BODY_HASHES];
    size_t n;
    EVP_MD *sha256, *sha1;
};

int dkimcore_hashes_init(struct dkimcore_hashes *hs, fa_err *err);
void dkimcore_hashes_free(struct dkimcore_hashes *hs);
/* The index of the body hash for (canon, limit, md): an existing one or a new one; -1 on error. */
int dkimcore_hashes_get(struct dkimcore_hashes *hs, int canon, uint64_t limit, int md, fa_err *err);
void dkimcore_hashes_update(struct dkimcore_hashes *hs, const uint8_t *p, size_t n);
void dkimcore_hashes_final(struct dkimcore_hashes *hs);
const EVP_MD *dkimcore_md(const struct dkimcore_hashes *hs, int md);

/* ---- header hash ---- */

/* digest = md( selected fields of h (by the h= list, may be NULL),
 *              extra[0..nextra) with CRLF,
 *              self with raw[blank_off..blank_end) blanked, no final CRLF ).
 * Returns 0, or -1 when OpenSSL fails. */
int dkimcore_header_hash(const EVP_MD *md, int hcanon, const struct msg_header *h, size_t nh,
                         const char *hlist, size_t hlen, const struct msg_header *const *extra,
                         size_t nextra, const struct msg_header *self, size_t blank_off,
                         size_t blank_end, uint8_t *digest, unsigned *dlen);

/* Sign digest with key and write the signature as base64 into out. 0 or -1. */
int dkimcore_sign_b64(const struct fa_key *key, const uint8_t *digest, unsigned dlen, char *out,
                      size_t outsz, fa_err *err);

/* ---- signature fields ---- */

/* The checks dkimcore_sig_parse makes on a DKIM-Signature,
 * ARC-Message-Signature or ARC-Seal. A protocol lists those it makes, in
 * its order: the first that fails decides the result. "sets" names what a
 * check fills in struct dkimcore_sig, which stays at its initial value
 * when an earlier check failed. */
enum dkimcore_check {
    DKIMCORE_CHECK_REQUIRED,  /* every tag of rules->required is present */
    DKIMCORE_CHECK_VERSION,   /* v=1 */
    DKIMCORE_CHECK_CV,        /* cv= none, pass or fail; sets cv */
    DKIMCORE_CHECK_NO_H,      /* no h= (an ARC-Seal signs no message field) */
    DKIMCORE_CHECK_DS,        /* d= and s= fit and hold domain characters only */
    DKIMCORE_CHECK_ALG,       /* a= rsa-sha256, ed25519-sha256 or rsa-sha1, any case; sets alg */
    DKIMCORE_CHECK_ALG_EXACT, /* a= rsa-sha256 or ed25519-sha256 as written; sets alg */
    DKIMCORE_CHECK_CANON,     /* c= names known canonicalizations; sets hcanon, bcanon */
    DKIMCORE_CHECK_QUERY,     /* q= lists dns/txt */
    DKIMCORE_CHECK_H_FROM,    /* h= lists From (RFC 6376 section 5.4); sets h */
    DKIMCORE_CHECK_H_NO_SEAL, /* h= does not list ARC-Seal (RFC 8617 section 4.1.2); sets h */
    DKIMCORE_CHECK_IDENTITY,  /* i= fits and is d= or below it; sets identity ("@" d= without i=) */
    DKIMCORE_CHECK_LENGTH,    /* l= (when present) is a number; sets limit */
    DKIMCORE_CHECK_TIMES,     /* t= and x= (when present) are numbers; sets t, x */
    DKIMCORE_CHECK_X_AFTER_T, /* x= is not before t= */
    DKIMCORE_CHECK_BH,        /* bh= is base64 (may be empty: the body check fails it) */
    DKIMCORE_CHECK_BH_NONEMPTY, /* bh= is base64 and not empty */
    DKIMCORE_CHECK_B,           /* b= is base64, not empty; sets b, b_off, b_end */
    DKIMCORE_CHECK_NOT_SHA1,    /* a= is not rsa-sha1: else DKIM_POLICY (RFC 8301) */
    DKIMCORE_CHECK_CLOCK        /* x= not past, t= not in the future: else DKIM_FAIL */
};

struct dkimcore_sig_rules {
    int strict_tags;             /* refuse empty tag-specs (tags_parse_strict) */
    const char *const *required; /* tag names, NULL-terminated, for CHECK_REQUIRED */
    int hcanon, bcanon;          /* enum canon_alg without c= (or without CHECK_CANON) */
    const unsigned char *checks; /* enum dkimcore_check, in the order made */
    size_t nchecks;
};

#define DKIMCORE_B_PREFIX 8 /* characters of b= kept for header.b (RFC 6008) */

struct dkimcore_sig {
    struct tag_list tags;
    char domain[256];   /* d=; "" when absent, too long, or the tags do not parse */
    char selector[128]; /* s= */
    char identity[320]; /* i=, or "@" d= */
    char b_prefix[DKIMCORE_B_PREFIX + 1];
    int alg;             /* enum dkim_alg; -1 */
    int cv;              /* 0 none, 1 pass, 2 fail (enum arc_cv, arc.h); -1 */
    int hcanon, bcanon;  /* enum canon_alg */
    const struct tag *h; /* the h= tag; NULL */
    uint64_t limit;      /* l=; CANON_NO_LIMIT */
    long long t, x;      /* t=, x=; -1 */
    uint8_t bhash[EVP_MAX_MD_SIZE];
    int bhash_len;
    uint8_t b[KEY_SIG_MAX];
    int b_len;
    size_t b_off, b_end; /* raw offsets of b='s value in the field */
};

/* Read the signature field f and make rules->checks in order, t= and x=
 * against now with skew seconds allowed for t=. Returns DKIM_NONE when
 * every check holds (the signature is still to be verified), else the
 * result of the first that failed, DKIM_PERMERROR (a syntax check, or a
 * tag list that does not parse), DKIM_POLICY (CHECK_NOT_SHA1) or
 * DKIM_FAIL (CHECK_CLOCK), with its static *reason. */
int dkimcore_sig_parse(const struct msg_header *f, const struct dkimcore_sig_rules *rules,
                       time_t now, long skew, struct dkimcore_sig *s, const char **reason);

/* Is sub equal to dom or a subdomain of it? */
int dkimcore_domain_within(const char *sub, const char *dom);

/* The default signed-field list: From and the usual fields, each present one
 * listed once more than it occurs (oversigned); with dkim_sigs, then every
 * DKIM-Signature present once (RFC 8617 section 4.1.2 asks an AMS to cover
 * them). 0, or -1 when it does not fit. */
int dkimcore_default_hlist(const struct msg_header *h, size_t nh, int dkim_sigs, char *out,
                           size_t outsz);

/* A finished body hash against bh= (and l=, CANON_NO_LIMIT when absent):
 * NULL when it matches, else the static reason for a fail. */
const char *dkimcore_check_body(const struct dkimcore_body_hash *bh, uint64_t limit,
                                const uint8_t *want, int want_len);

/* ---- folding ---- */

struct dkimcore_fold {
    char buf[DKIMCORE_FIELD_MAX];
    size_t len, col;
    int overflow;
};

void dkimcore_fold_init(struct dkimcore_fold *f);
void dkimcore_fold_raw(struct dkimcore_fold *f, const char *s, size_t n);
void dkimcore_fold_break(struct dkimcore_fold *f);
/* Append "; " (unless first) and tag=value, breaking the line before the tag if needed. */
void dkimcore_fold_tag(struct dkimcore_fold *f, const char *tag, const char *value, int first);
/* Append a long value in pieces, breaking lines at sep (after it) or anywhere when sep is 0. */
void dkimcore_fold_long(struct dkimcore_fold *f, const char *v, char sep);
/* The field with CRLF turned into eol ("\r\n" or "\n") and eol appended;
 * malloc'd. NULL on overflow or no memory (err set). */
char *dkimcore_fold_finish(const struct dkimcore_fold *f, const char *eol, fa_err *err);

#endif
