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
 * SECURITY
 *   Every buffer is bounded; overflows are reported, not truncated silently.
 *   No global state: safe in every thread.
 */
#ifndef FWDAUTH_DKIMCORE_H
#define FWDAUTH_DKIMCORE_H

#include "canon.h"
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

/* ---- tag values ---- */

/* Does a colon-separated list (white space allowed around items) hold item, ignoring ASCII case? */
int dkimcore_list_has(const char *v, size_t n, const char *item);
/* Is sub equal to dom or a subdomain of it? */
int dkimcore_domain_within(const char *sub, const char *dom);
/* Copy a tag value into out (NUL-terminated); -1 if absent or too long. */
int dkimcore_copy_tag(const struct tag *t, char *out, size_t outsz);
/* Parse a tag value of 1 to 18 digits; -1 otherwise. */
int dkimcore_parse_number(const struct tag *t, long long *out);
/* Letters, digits, "-", ".", "_" and 8-bit octets only, not empty. */
int dkimcore_valid_domain_chars(const char *s);
/* c= "header[/body]" (body defaults to simple); -1 on an unknown name. */
int dkimcore_parse_canon(const struct tag *t, int *hcanon, int *bcanon);
/* Decode a base64 tag value (folding white space allowed); length or -1. */
int dkimcore_decode_b64(const struct tag *t, uint8_t *out, size_t outsz);

/* The default signed-field list: From and the usual fields, each present one
 * listed once more than it occurs (oversigned); with dkim_sigs, then every
 * DKIM-Signature present once (RFC 8617 section 4.1.2 asks an AMS to cover
 * them). 0, or -1 when it does not fit. */
int dkimcore_default_hlist(const struct msg_header *h, size_t nh, int dkim_sigs, char *out,
                           size_t outsz);

/* t= and x= against now (clock skew allowed for t=; -1 = absent): NULL when
 * acceptable, else the static reason for a fail. */
const char *dkimcore_check_times(long long t, long long x, time_t now, long skew);
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
