/*
 * NAME
 *   keys - DKIM/ARC signing keys: load, generate, publish, use
 * SUMMARY
 *   RSA (1024 to 4096 bits) and Ed25519 keys in PEM (PKCS#1 "RSA PRIVATE
 *   KEY" or PKCS#8 "PRIVATE KEY"), read with secfile_read so that a key file
 *   others can read is refused; generation; the DNS TXT record that
 *   publishes the public key (RFC 6376 section 3.6.1, RFC 8463 section 4:
 *   RSA p= is the SubjectPublicKeyInfo DER, Ed25519 p= the raw 32 octets,
 *   both base64); public keys parsed back from such a p= value; signing and
 *   verifying a precomputed digest, which is what DKIM needs (RFC 8463
 *   signs the SHA-256 of the header data with PureEdDSA).
 * SYNOPSIS
 *   struct fa_key *k = key_load_private("/etc/fwdauth/sel.key", getuid(), &err);
 *   key_sign_digest(k, KEY_MD_SHA256, digest, 32, sig, &siglen, &err);
 *   key_dns_record(k, txt, sizeof txt);          "v=DKIM1; k=rsa; p=MIIB..."
 *   key_free(k);
 * SECURITY
 *   Private key material never appears in errors. Keys under 1024 bits are
 *   refused for signing and for verifying (RFC 8301). Objects are immutable
 *   after creation and safe to share between threads.
 */
#ifndef FWDAUTH_KEYS_H
#define FWDAUTH_KEYS_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum key_type { KEY_RSA, KEY_ED25519 };
enum key_md { KEY_MD_SHA256, KEY_MD_SHA1 /* verify only */ };

#define KEY_SIG_MAX 512 /* RSA-4096 */
#define KEY_RSA_MIN_BITS 1024
#define KEY_RSA_MAX_BITS 4096

struct fa_key; /* private (with public) or public only */

struct fa_key *key_load_private(const char *path, uid_t owner_uid, fa_err *err);
struct fa_key *key_from_pem(const char *pem, size_t len, fa_err *err);
struct fa_key *key_generate(int type, unsigned bits, fa_err *err);
/* Write the private key as PKCS#8 PEM, mode 0600, refusing to overwrite. */
int key_write_private(const struct fa_key *k, const char *path, fa_err *err);
void key_free(struct fa_key *k);

int key_type(const struct fa_key *k);
unsigned key_bits(const struct fa_key *k); /* 256 for Ed25519 */
int key_is_private(const struct fa_key *k);

/* "v=DKIM1; k=rsa; p=..." (no quotes, no splitting). Returns length or -1. */
int key_dns_record(const struct fa_key *k, char *out, size_t outsz);
/* The public key as base64 for p=. Returns length or -1. */
int key_public_b64(const struct fa_key *k, char *out, size_t outsz);
/* A zone-file line: `SEL._domainkey.DOMAIN. 3600 IN TXT "..." "..."`,
 * the record split into strings of at most 255 octets. Returns length or -1. */
int key_dns_zone_line(const struct fa_key *k, const char *selector, const char *domain, char *out,
                      size_t outsz);

/* Parse a public key from the base64 p= value of a key record (white space
 * allowed): type says how (KEY_RSA: SPKI DER, or PKCS#1 RSAPublicKey as
 * some old publishers use; KEY_ED25519: 32 raw octets). An empty p= fails
 * with an error that says the key is revoked; RSA keys outside 1024..4096
 * bits, or with an even or unit public exponent, are refused. */
struct fa_key *key_from_dns_p(int type, const char *b64, size_t len, fa_err *err);

/* Do the two keys hold the same public key? */
int key_public_equal(const struct fa_key *a, const struct fa_key *b);

/* Sign / verify a digest made with md (KEY_MD_SHA256: 32 octets, SHA1: 20).
 * RSA: PKCS#1 v1.5 with that digest; Ed25519: PureEdDSA over the digest
 * octets (RFC 8463). key_verify_digest returns 1 good, 0 bad, -1 error.
 * key_sign_digest: sig must have room for KEY_SIG_MAX octets; *siglen is
 * set to the signature's length (the value passed in is not read). It
 * refuses KEY_MD_SHA1 (RFC 8301) and public-only keys. key_verify_digest:
 * a signature of the wrong length is bad (0), not an error; Ed25519 takes
 * KEY_MD_SHA256 only. */
int key_sign_digest(const struct fa_key *k, int md, const uint8_t *digest, size_t dlen,
                    uint8_t *sig, size_t *siglen, fa_err *err);
int key_verify_digest(const struct fa_key *k, int md, const uint8_t *digest, size_t dlen,
                      const uint8_t *sig, size_t siglen, fa_err *err);

#endif
