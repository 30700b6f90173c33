/*
 * NAME
 *   fromhdr - the From: field as DMARC receivers read it, and its rewrite
 * SUMMARY
 *   from_read finds the author address of a header section the way
 *   receivers (rspamd, Python's email package) read it, and says whether
 *   that reading is certain (FROM_OK), needed repairs that receivers make
 *   (FROM_REPAIRED), or is impossible (absent, several, unreadable).
 *   from_rewrite_value writes the From: value a forwarder puts in place of
 *   the original: one valid mailbox, "Name via forwarder" <address>.
 * SYNOPSIS
 *   struct from_info fi;
 *   switch (from_read(hs.h, hs.n, &fi)) {
 *   case FROM_OK: case FROM_REPAIRED: DMARC on fi.domain; break;
 *   default: never a pass (fi.why says what was wrong)
 *   }
 *   char v[FROM_REWRITE_MAX];
 *   from_rewrite_value(value, len, "example.net", "forwarder@example.net", v, sizeof v, &err);
 *     v = " \"J. Doe via example.net\" <forwarder@example.net>"
 * DESCRIPTION
 *   Reading. DMARC (RFC 7489 section 6.6.1) evaluates the domain of the
 *   single author in From:. A forwarder that cannot read that domain must
 *   not forward the message with its own signature if receivers can read
 *   it: they apply the domain's policy, and our signature and ARC seal
 *   would carry a spoof past it. So the field is read with
 *   addrlist_parse_report (RFC 5322 mailbox syntax with the obsolete forms
 *   of section 4.4) and the repairs below, each taken from rspamd's reader
 *   (src/libmime/email_addr.c rspamd_email_address_from_mime and the ragel
 *   grammar src/ragel/smtp_address.rl, read at commit eaac8e91) and
 *   checked against Python's email.headerregistry:
 *   - A trailing dot on the domain ("ceo@bank.example." or inside "<>"):
 *     rspamd's grammar allows "." after the mailbox and leaves it out of
 *     the domain, so its DMARC module evaluates bank.example; the dot names
 *     the same DNS node. The domain is reported without the dot.
 *   - Group syntax ("CEO: <ceo@bank.example>;", "CEO: ceo@bank.example;",
 *     also without the closing ";"): RFC 5322 section 3.6.2 allows no group
 *     in From:, but rspamd treats ":" as part of the display name and ";"
 *     as a separator, and Python reads the group's mailboxes; both find
 *     bank.example. A group holding several mailboxes is FROM_MULTIPLE, one
 *     with none is FROM_UNREADABLE.
 *   - ";" outside a group ("The CEO <ceo@bank.example>;"): rspamd splits
 *     address lists at ";" as at "," (Outlook writes such lists), so ";" is
 *     read as ",": a trailing one leaves one mailbox (repaired), one
 *     between two mailboxes makes FROM_MULTIPLE. A trailing "," is the
 *     obsolete empty list element and needs no repair.
 *   - RFC 2047 encoded words in the display name need no repair: the name
 *     plays no part in DMARC.
 *   Everything else that does not parse is FROM_UNREADABLE, even where a
 *   receiver's heuristics might guess an address ("Smith, John <j@x>",
 *   text after the ">"): a guess is not a reading we can vouch for, and
 *   the caller never treats FROM_UNREADABLE as a pass. So is a domain
 *   literal ("a@[192.0.2.1]"): no DMARC record can exist for it.
 *   A mailbox counts once per occurrence ("a@x, a@x" is two: rspamd's
 *   DMARC module refuses it as a duplicate From). All From: fields count:
 *   two fields are FROM_MULTIPLE whatever they hold (RFC 7489 6.6.1;
 *   rspamd appends the mailboxes of every From: field).
 *   The domain is as written (case kept; callers lower-case as needed),
 *   without the trailing dot; U-labels (8-bit octets) are kept as octets.
 *
 *   Rewriting. from_rewrite_value reads the value as from_read does (a
 *   value that is not FROM_OK or FROM_REPAIRED is refused: a message we
 *   cannot read never gets a From rewrite), then takes the display name of
 *   its mailbox (the phrase before "<"; "local@domain" when there is none
 *   or it decodes to nothing) and decodes it:
 *   - comments are dropped, quoted strings unquoted (quoted pairs undone,
 *     folding removed, white space inside kept), white space between words
 *     outside quotes becomes one space;
 *   - RFC 2047 encoded words are decoded where they stand as words of the
 *     phrase, and also inside quoted strings when white space (or the
 *     quotes) delimits them, as MUAs and Python do; the white space between
 *     two adjacent encoded words is dropped (RFC 2047 section 6.2). The
 *     charset suffix "*lang" (RFC 2231) is ignored. UTF-8, US-ASCII and
 *     ISO-8859-1 are decoded here, other charsets with iconv(3);
 *   - an encoded word that cannot be decoded (charset unknown to iconv,
 *     malformed base64) is kept as its raw text, which is printable ASCII;
 *   - octets outside encoded words are read as UTF-8 (RFC 6532); each octet
 *     of an invalid UTF-8 sequence, and each octet iconv cannot convert,
 *     becomes U+FFFD (the replacement character, as Python's
 *     errors="replace" and the WHATWG decoders do);
 *   - control characters (C0, DEL, C1, U+2028, U+2029) become spaces, and
 *     bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E,
 *     U+2066..U+2069) are removed, so that " via <domain>" always reads as
 *     written and cannot be reordered or hidden;
 *   - leading and trailing spaces are removed; a name longer than
 *     FROM_NAME_MAX octets is cut at the last UTF-8 character boundary
 *     within it.
 *   The new name is "<name> via <via_domain>". It is written as a
 *   quoted-string (only '"' and '\' escaped) when it is printable ASCII,
 *   holds no "=?" (which readers could take for an encoded word) and folds
 *   into lines of at most 78 octets; otherwise as RFC 2047 encoded words,
 *   "=?UTF-8?Q?...?=" or "=?UTF-8?B?...?=" whichever is shorter, each at
 *   most 75 octets, never splitting a UTF-8 character, one per line.
 *   Then " <address>". The value starts with a space, as the milter adds
 *   header values, and folds with "\n " (Postfix's milter protocol uses
 *   bare LF); the first line's length counts "From:" before it.
 * LIMITS
 *   FROM_NAME_MAX octets of decoded display name; via_domain at most
 *   ADDR_DOMAIN_MAX octets, address at most FROM_ADDRESS_MAX; an output of
 *   FROM_REWRITE_MAX octets always suffices. Lines are at most 78 octets
 *   except the one holding an address longer than 75 octets (at most 323,
 *   well under RFC 5322's 998).
 * SECURITY
 *   Hostile input: one linear pass to parse, decoding bounded by the
 *   output (an encoded word is decoded only while the name has room). The
 *   output never holds CR, NUL, a control character other than the "\n"
 *   of folding, or more than one mailbox. Charset names reach iconv_open
 *   only when they are at most 40 octets of letters, digits and "-_.:",
 *   so no "//TRANSLIT"-style suffix or path is passed on.
 * DIAGNOSTICS
 *   from_read and from_read_value (one field's value) return the state
 *   they stored in out->state:
 *     FROM_OK          one From: field, one mailbox, read strictly;
 *     FROM_REPAIRED    the same after repairs (out->repairs, FROM_FIX_*);
 *     FROM_ABSENT      no From: field;
 *     FROM_MULTIPLE    several From: fields, or several mailboxes;
 *     FROM_UNREADABLE  anything else.
 *   out->why is static text saying which (for FROM_REPAIRED, the first
 *   repair); for FROM_UNREADABLE out->detail holds the parser's message.
 *   from_rewrite_value returns the length of the value written (a
 *   NUL-terminated string), or -1 with err filled in: the value is not one
 *   readable mailbox, via_domain or address is empty, too long or holds a
 *   control character, white space or "<>", or out is too small.
 *   from_display_name returns the length written, or -1 when the value is
 *   not one readable mailbox or out is too small. from_state_name never
 *   fails.
 */
#ifndef FWDAUTH_FROMHDR_H
#define FWDAUTH_FROMHDR_H

#include "addr.h"
#include "err.h"
#include "msg.h"

#include <stddef.h>

enum from_state { FROM_OK, FROM_REPAIRED, FROM_ABSENT, FROM_MULTIPLE, FROM_UNREADABLE };

/* Repairs (from_info.repairs). */
#define FROM_FIX_TRAILING_DOT 1u /* "a@example.org." */
#define FROM_FIX_GROUP 2u        /* a group around the mailbox */
#define FROM_FIX_SEMICOLON 4u    /* ";" outside a group */

#define FROM_NAME_MAX 200     /* octets of decoded display name kept */
#define FROM_ADDRESS_MAX 320  /* octets of the forwarder's address */
#define FROM_REWRITE_MAX 4096 /* always enough for from_rewrite_value */
#define FROM_DETAIL_MAX 160   /* octets of from_info.detail */

struct from_info {
    int state;                        /* enum from_state */
    unsigned repairs;                 /* FROM_FIX_* bits, for FROM_REPAIRED */
    size_t fields;                    /* From: fields in the section */
    size_t mailboxes;                 /* mailboxes in the (single) field, 0 if unread */
    char local[ADDR_LOCAL_MAX + 1];   /* envelope form (quoted if not a dot-atom) */
    char domain[ADDR_DOMAIN_MAX + 1]; /* as written, without a trailing dot */
    const char *why;                  /* static text */
    char detail[FROM_DETAIL_MAX];     /* FROM_UNREADABLE: the parser's message, else "" */
};

/* All From: fields of a header section. */
int from_read(const struct msg_header *h, size_t nh, struct from_info *out);

/* One From: field's value (after the colon); fields is set to 1. */
int from_read_value(const char *value, size_t n, struct from_info *out);

/* "ok", "repaired", "absent", "multiple", "unreadable" (for logs). */
const char *from_state_name(int state);

/* The decoded display name of a From: value (UTF-8, NUL-terminated, at most
 * FROM_NAME_MAX octets; "local@domain" when it has none), as described
 * above. Its length, or -1 when the value is not one readable mailbox or
 * out is too small (FROM_NAME_MAX + 1 always suffices). */
int from_display_name(const char *value, size_t n, char *out, size_t outsz);

/* The new From: value (with its leading space, folded with "\n " where
 * long) for an original From: value: "<name> via <via_domain>" <address>. */
int from_rewrite_value(const char *value, size_t n, const char *via_domain, const char *address,
                       char *out, size_t outsz, fa_err *err);

#endif
