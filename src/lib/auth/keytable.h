/*
 * NAME
 *   keytable - which key signs which sender: OpenDKIM KeyTable/SigningTable
 * SUMMARY
 *   Reads OpenDKIM's two tables so its users can switch without rewriting
 *   them. KeyTable lines are "NAME DOMAIN:SELECTOR:KEYFILE" ("%" as DOMAIN
 *   is the sender's domain). SigningTable lines are "PATTERN NAME [SIGNER]"
 *   (SIGNER becomes i=, "%" replaced by the sender's domain). A SigningTable
 *   given as "refile:PATH" holds wildcard patterns ("*" matches any run of
 *   characters) tried in file order; a plain path (or "file:PATH") is looked
 *   up as OpenDKIM does: user@host, host, user@.parent for each parent
 *   domain, .parent, user@*, then *. The first match wins.
 * SYNOPSIS
 *   struct keytable *kt = keytable_load("/etc/fwdauth/KeyTable",
 *                                       "refile:/etc/fwdauth/SigningTable", uid, &err);
 *   struct keytable_match m;
 *   if (keytable_find(kt, "alice", "example.org", &m)) sign with m.domain, m.selector, m.key
 *   keytable_free(kt);
 *   struct key_loader ld = {my_load, arg};       keys.h
 *   kt = keytable_load_with(key_table, signing_table, &ld, &err);
 * DESCRIPTION
 *   Every key is loaded (and checked) when the tables are loaded, once per
 *   file, so a bad key is a load error, not a failure at the first message.
 *   keytable_load reads each key file itself (key_load_private, owned by
 *   root or key_owner); keytable_load_with and keytable_parse_with hand
 *   each key file's path, once, to the loader instead (fwdauthd's workers
 *   get remote keys from their signer process that way: they never open
 *   a key file).
 *   "#" starts a comment; blank lines are ignored. Keys inline in the
 *   KeyTable (OpenDKIM allows PEM there) are not supported: use a file.
 * SECURITY
 *   Key files go through secfile_read (no world-readable keys) when this
 *   module reads them; a loader decides for itself.
 * DIAGNOSTICS
 *   keytable_load, keytable_load_with, keytable_parse and
 *   keytable_parse_with return NULL with err set: a table that cannot be
 *   read (fileread.h), FILE:LINE for malformed lines, unknown key names in
 *   the SigningTable, and unreadable or unsafe keys (with a loader:
 *   FILE:LINE and the loader's error), out of memory. keytable_find,
 *   keytable_find_name and keytable_entry return 1 (found, *m or *e
 *   filled) or 0, and cannot fail.
 */
#ifndef FWDAUTH_KEYTABLE_H
#define FWDAUTH_KEYTABLE_H

#include "err.h"
#include "keys.h"

#include <stddef.h>
#include <sys/types.h>

struct keytable;

struct keytable_match {
    char domain[256];   /* d=, "%" resolved */
    char selector[128]; /* s= */
    char identity[320]; /* i=, or "" */
    const struct fa_key *key;
};

struct keytable *keytable_load(const char *key_table, const char *signing_table, uid_t key_owner,
                               fa_err *err);
struct keytable *keytable_load_with(const char *key_table, const char *signing_table,
                                    const struct key_loader *ld, fa_err *err);
void keytable_free(struct keytable *kt);

/* Find the signing key for sender local@domain; 1 found, 0 not. */
int keytable_find(const struct keytable *kt, const char *local, const char *domain,
                  struct keytable_match *m);

/* The KeyTable entry called name ("%" in its domain replaced by domain);
 * 1 found, 0 not. For keys named in the configuration, such as our
 * forwarder signature's. */
int keytable_find_name(const struct keytable *kt, const char *name, const char *domain,
                       struct keytable_match *m);

/* The KeyTable's entries in file order, for tools that check every key
 * (fwdauth doctor, check-dns -c): 1 with *e filled while i < the number of
 * entries, else 0. The strings and the key belong to the table; domain is
 * as written ("%" included). */
struct keytable_entry {
    const char *name, *domain, *selector, *path;
    const struct fa_key *key;
};
int keytable_entry(const struct keytable *kt, size_t i, struct keytable_entry *e);

/* Parse tables from memory (for tests and fuzzing); keys are loaded from
 * the paths named in the key table as usual. */
struct keytable *keytable_parse(const char *kt_name, const char *kt_text, size_t kt_len,
                                const char *st_name, const char *st_text, size_t st_len,
                                int st_is_regex, uid_t key_owner, fa_err *err);
struct keytable *keytable_parse_with(const char *kt_name, const char *kt_text, size_t kt_len,
                                     const char *st_name, const char *st_text, size_t st_len,
                                     int st_is_regex, const struct key_loader *ld, fa_err *err);

#endif
