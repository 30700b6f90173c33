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
 *   A remote key (key_remote) has no key material in this process: it
 *   knows its type and size, and its signing is a call to the function
 *   the caller gave (fwdauthd's workers ask the signer process, which
 *   holds the private keys). This module knows nothing of how: the
 *   library stays free of sockets and processes.
 * SYNOPSIS
 *   struct fa_key *k = key_load_private("/etc/fwdauth/sel.key", getuid(), &err);
 *   key_sign_digest(k, KEY_MD_SHA256, digest, 32, sig, &siglen, &err);
 *   key_dns_record(k, txt, sizeof txt);          "v=DKIM1; k=rsa; p=MIIB..."
 *   key_free(k);
 *   struct key_remote_ops ops = {my_sign, my_release};
 *   struct fa_key *r = key_remote(KEY_RSA, 2048, &ops, arg, &err);   signs through my_sign
 *   struct key_loader ld = {my_load, arg};      how a key table loads its key files
 * DESCRIPTION
 *   Remote keys: key_type, key_bits and key_is_private (1: it can sign)
 *   answer from what key_remote was given; key_sign_digest checks the
 *   digest as for a local key (SHA-256, 32 octets) and then calls
 *   ops->sign, whose signature must fit KEY_SIG_MAX octets and, for RSA,
 *   have as many octets as the modulus (Ed25519: 64), or the call fails;
 *   key_verify_digest, key_public_b64, key_dns_record, key_dns_zone_line,
 *   key_public_equal and key_write_private fail (there is no key here).
 *   key_free calls ops->release(arg) (when set) once.
 *   A struct key_loader names the function that turns a key file path
 *   into a key (keytable.h takes one): key_load_private for a process
 *   that may read the file, a remote key for one that may not.
 * SECURITY
 *   Private key material never appears in errors. Keys under 1024 bits are
 *   refused for signing and for verifying (RFC 8301). Objects are immutable
 *   after creation and safe to share between threads (a remote key as
 *   safe as its ops->sign is: fwdauthd's serializes its requests).
 *   A remote key's signature is checked for its length only: the function
 *   behind it is trusted to sign with the key it describes.
 * DIAGNOSTICS
 *   Functions that return a pointer return NULL with the reason in err;
 *   int functions return -1 (key_verify_digest: 0 for a bad signature),
 *   with the reason in err where they take one. In detail:
 *   key_load_private and key_from_pem: the file's failures (fileread.h,
 *   FILE_SECRET), not a PEM key, an encrypted key, a type other than RSA
 *   or Ed25519, an RSA size outside KEY_RSA_MIN_BITS..KEY_RSA_MAX_BITS or
 *   an even or unit exponent, out of memory. key_generate: a size its
 *   type does not take, an unknown type, an OpenSSL failure. key_remote:
 *   an unknown type, an RSA size outside 1024..4096 bits or an Ed25519
 *   size other than 256, a missing ops->sign, out of memory.
 *   key_write_private: a public-only key, the file exists (never
 *   overwritten), cannot create, chmod or write it (errno text).
 *   key_from_dns_p: an empty p= (revoked), bad base64, an Ed25519 key not
 *   of 32 octets, an RSA value that is no public key or of the wrong size
 *   or exponent, a key of another type than asked.
 *   key_dns_record, key_public_b64 and key_dns_zone_line return the length
 *   written, or -1 when out is too small, the key is remote (its public
 *   half is with its signer) or OpenSSL fails.
 *   key_sign_digest returns 0, or -1 with err: a public-only key, SHA-1
 *   (RFC 8301), a digest of the wrong length, an OpenSSL or remote signer
 *   failure. key_verify_digest returns 1 (good), 0 (bad, err says so) or
 *   -1 (a digest it cannot check, a remote key). key_type, key_bits,
 *   key_is_private and key_public_equal cannot fail.
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

/* A key signed elsewhere: sign is called by key_sign_digest with a checked
 * digest (md is KEY_MD_SHA256); it fills sig (room for KEY_SIG_MAX octets)
 * and *siglen, returns 0, or -1 with the reason in err. release (may be
 * NULL) is called with arg by key_free. */
struct key_remote_ops {
    int (*sign)(void *arg, int md, const uint8_t *digest, size_t dlen, uint8_t *sig, size_t *siglen,
                fa_err *err);
    void (*release)(void *arg);
};
struct fa_key *key_remote(int type, unsigned bits, const struct key_remote_ops *ops, void *arg,
                          fa_err *err);

/* How a key table (keytable.h) turns a key file path into a key: load
 * returns a new key (the table frees it with key_free), or NULL with the
 * reason in err. */
struct key_loader {
    struct fa_key *(*load)(void *arg, const char *path, fa_err *err);
    void *arg;
};

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
