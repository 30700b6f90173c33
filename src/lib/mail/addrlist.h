/*
 * NAME
 *   addrlist - the addresses in an RFC 5322 address-list header field
 * SUMMARY
 *   Reads the value of a From, Sender, To, Cc, Bcc or Reply-To field and
 *   returns the mailbox addresses in it, in envelope form (what SMTP's
 *   MAIL FROM and RCPT TO take): display names, comments and group names
 *   dropped, the local part unquoted and quoted again only when it is not
 *   a dot-atom (RFC 5321 section 4.1.2), the domain as written.
 * SYNOPSIS
 *   struct addrlist l; addrlist_init(&l);
 *   addrlist_parse(&l, "\"Doe, J.\" <j@example.org>, undisclosed:;", len, &err);
 *   for (size_t i = 0; i < l.n; i++) l.addr[i] = "j@example.org"
 *   addrlist_free(&l);
 * DESCRIPTION
 *   RFC 5322 section 3.4 with the obsolete forms of section 4.4 that real
 *   mail still has: mailbox = [phrase] "<" addr-spec ">" or addr-spec;
 *   group = phrase ":" [mailbox-list] ";" (a group may be empty, e.g.
 *   "undisclosed-recipients:;", and groups do not nest); comments "(...)"
 *   nest and may hold quoted pairs; quoted strings with quoted pairs;
 *   folding (CR, LF followed by white space) anywhere white space may be;
 *   a phrase may hold "." (obs-phrase); a local part may be words joined
 *   by "." with white space around them (obs-local-part); a domain is a
 *   dot-atom or a domain literal "[...]"; an obsolete source route
 *   "<@relay1,@relay2:user@domain>" is skipped; empty list elements
 *   (", ,") are ignored. 8-bit octets are atext (RFC 6532).
 *   Addresses are appended, so several fields can be collected into one
 *   list; an address already in the list (same octets) is not added again.
 * LIMITS
 *   At most ADDRLIST_MAX addresses in a list; local parts up to
 *   ADDR_LOCAL_MAX octets, domains up to ADDR_DOMAIN_MAX (addr.h).
 * SECURITY
 *   A field that does not parse is refused as a whole (nothing is added),
 *   with the reason and the octet offset: a sender must not guess whom a
 *   malformed field meant. Control characters in an address (other than
 *   tab and folding inside quoted strings, which are unfolded) are
 *   refused, so no CR or LF can reach an SMTP command. Bounded work:
 *   one pass over the input, no recursion.
 * DIAGNOSTICS
 *   addrlist_parse returns 0, or -1 with err filled in ("no \"@\" in
 *   address at offset 12", "unterminated comment", ...).
 *   addrlist_parse_report returns as addrlist_parse does. addrlist_add
 *   returns 0 (also when the address is already present), or -1 with
 *   err: an empty address, a control character, more than ADDRLIST_MAX
 *   addresses, out of memory.
 *   addrlist_first_split returns 0, or -1 when there is no such address
 *   (or, with exactly_one, several) or a part does not fit.
 */
#ifndef FWDAUTH_ADDRLIST_H
#define FWDAUTH_ADDRLIST_H

#include "err.h"

#include <stddef.h>

#define ADDRLIST_MAX 1000

struct addrlist {
    char **addr; /* NUL-terminated envelope addresses, "local@domain" */
    size_t n;
    size_t cap;
};

void addrlist_init(struct addrlist *l);
/* Parse the field value p[0..n) (everything after the colon, folding
 * included) and append its addresses to l. */
int addrlist_parse(struct addrlist *l, const char *p, size_t n, fa_err *err);
/* Append one address as given (already in envelope form), unless present.
 * Refuses empty addresses and control characters. */
int addrlist_add(struct addrlist *l, const char *addr, size_t n, fa_err *err);
void addrlist_free(struct addrlist *l);

/* Forms outside RFC 5322 that addrlist_parse_report may accept (bits of
 * its allow argument), each as receivers such as rspamd read it (see
 * fromhdr.h for why a From: reader needs them). */
#define ADDRLIST_REPAIR_TRAILING_DOT 1u /* "a@example.org." ends a domain: "a@example.org" */
#define ADDRLIST_REPAIR_OPEN_GROUP 2u   /* the field's end closes a group with no ";" */
#define ADDRLIST_REPAIR_SEMICOLON 4u    /* ";" outside a group separates as "," does */

/* What addrlist_parse_report found. */
struct addrlist_report {
    size_t mailboxes; /* mailboxes read, a repeated address counted each time */
    size_t groups;    /* group constructs ("name:" ... ";"), empty ones too */
    size_t in_group;  /* mailboxes inside a group */
    size_t name_off;  /* the first mailbox's display name (phrase before "<"), */
    size_t name_end;  /* raw, comments and white space included: p[name_off..name_end) */
    unsigned repairs; /* ADDRLIST_REPAIR_* forms that were met */
};

/* addrlist_parse that also accepts the forms in allow (ADDRLIST_REPAIR_*)
 * and describes the field in *rep (may be NULL). With allow 0 it reads
 * exactly what addrlist_parse reads. */
int addrlist_parse_report(struct addrlist *l, const char *p, size_t n, unsigned allow,
                          struct addrlist_report *rep, fa_err *err);

/* The first address of an address-list field value (From:), split at its
 * last "@": local part and domain, NUL-terminated. With exactly_one, a value
 * holding several addresses gives none (DMARC needs one author). 0, or -1
 * when there is no such address or a part does not fit. */
int addrlist_first_split(const char *value, size_t n, int exactly_one, char *local, size_t localsz,
                         char *domain, size_t domainsz);

#endif
