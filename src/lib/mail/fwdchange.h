/*
 * NAME
 *   fwdchange - the forwarder's own changes to a message
 * SUMMARY
 *   What a forwarder adds to the mail it forwards, made by the milter after
 *   it has verified the message as it arrived (Postfix's header_checks and
 *   body_checks run before milters and would break that verification): a
 *   tag in front of the Subject, a footer (text, optionally HTML) placed
 *   the way mailing-list software places it, never in a way that breaks
 *   the MIME structure, and an added header field. Pure functions: no I/O.
 * SYNOPSIS
 *   Subject tag:
 *   char v[FWDCHANGE_SUBJECT_ROOM(n)];
 *   switch (fwdchange_subject(value, n, "[fwd]", v, sizeof v)) {
 *   case 1:  change the first Subject: field's value to v; break;
 *   case 0:  already tagged, leave it; break;
 *   default: leave it, log the reason (a bad tag, a CR in the value)
 *   }
 *   fwdchange_subject(NULL, 0, "[fwd]", v, sizeof v)   no Subject: field:
 *       v = " [fwd]", the value of a new one
 *
 *   Footer:
 *   struct fwdchange_footer_spec spec = {.text = "-- \nForwarded by example.net\n",
 *                                        .html = "<p>Forwarded by example.net</p>"};
 *   if (fwdchange_footer_check(&spec, &err) < 0) refuse the configuration
 *   struct fwdchange_footer f;
 *   if (fwdchange_footer(hs.h, hs.n, body, body_len, &spec, &f, &err) == 0 &&
 *       f.action != FOOTER_NONE) {
 *       for (i = 0; i < f.nhdr; i++)          in this order
 *           f.hdr[i].value == NULL: delete every field named f.hdr[i].name
 *           else: replace the first field of that name by "name:" value
 *                 (in place), or add it at the end when there is none
 *       replace the body by f.body[0..f.len)
 *   }
 *   log f.why (static text) in every case
 *   fwdchange_footer_free(&f);
 *
 *   Added field:
 *   if (fwdchange_header_check("X-Forwarded-For", "alice@example.net", &err) < 0) refuse
 * DESCRIPTION
 *   Subject. The tag goes in front of the original value, after its
 *   leading white space: " <tag> <original>". The original's folding is
 *   kept, with CRLF turned into the bare LF of Postfix's milter protocol;
 *   a first line that would grow past 998 octets (counting "Subject:") is
 *   folded right after the tag, which unfolds to the same text. A value
 *   already starting with the tag (ASCII case-insensitive), read unfolded,
 *   or, when it starts with RFC 2047 encoded words, with their decoded
 *   text (rfc2047_decode_word; the white space between adjacent encoded
 *   words dropped), is left alone. Prefixes such as "Re:" are not looked
 *   through: "Re: [fwd] x" is tagged again, as mailing lists without
 *   prefix handling do.
 *
 *   Footer. The footer text is UTF-8 plain text; each of its lines is
 *   written with CRLF, trailing white space removed except on the
 *   signature separator "-- " (RFC 3676: a line ending in a space is a
 *   flowed line in format=flowed parts). Written into a body of
 *   Content-Transfer-Encoding quoted-printable, or as a separate part when
 *   it is not ASCII, it is quoted-printable encoded (lines of at most 76
 *   octets); so a footer never makes a 7-bit message 8-bit (after our
 *   signature, Postfix would otherwise convert it to quoted-printable for
 *   a next hop without 8BITMIME, breaking the signature). The HTML
 *   fragment is written with every non-ASCII character as a numeric
 *   character reference ("&#xE9;"), so it fits any ASCII-compatible
 *   charset and stays 7-bit. The message is read as Python's email package
 *   and MUAs read it: MIME-Version is not required; no Content-Type means
 *   text/plain; charset=us-ascii. The rules, first match wins:
 *   - several Content-Type or Content-Transfer-Encoding fields, one that
 *     does not parse (RFC 2045 syntax, comments allowed; RFC 2231
 *     parameters: "name*N" continuations are joined, encoded forms
 *     "name*" and "name*N*" make a charset unknown and a boundary
 *     unusable), a multipart without a usable boundary, whose boundary
 *     line is not in the body, or without a closing boundary line, a
 *     multipart with a Content-Transfer-Encoding other than 7bit, 8bit or
 *     binary, a body over FWDCHANGE_BODY_MAX: FOOTER_NONE;
 *   - text/plain in 7bit (or none), 8bit or binary: FOOTER_APPEND, the
 *     footer after the body (which is first made to end in CRLF), when
 *     the footer is ASCII and the charset an ASCII superset (us-ascii,
 *     utf-8, iso-8859-*, windows-125*, koi8-*, the EUC, GB, Big5 and
 *     Shift_JIS families, tis-620), or the footer is not ASCII, the
 *     charset utf-8 and the encoding 8bit or binary. A non-ASCII footer on
 *     a 7bit part, or on another charset, is not appended: the part would
 *     have to change charset or encoding, so FOOTER_WRAP (below) keeps the
 *     original part exactly and the message 7-bit;
 *   - text/plain in quoted-printable, under the same charset rules:
 *     FOOTER_APPEND of the encoded footer, after a hard line break (the
 *     body's last soft line break, if any, is ended);
 *   - text/html in 7bit, 8bit, binary or quoted-printable with an
 *     ASCII-superset charset, when an HTML fragment is given: FOOTER_APPEND
 *     of the fragment on lines of its own before the last "</body" (ASCII
 *     case-insensitive, as written in the raw body), or at the end when
 *     there is none; in quoted-printable the fragment is encoded and
 *     joined with soft line breaks;
 *   - multipart/mixed: FOOTER_PART, a footer part added just before the
 *     closing boundary line (the first one: what follows is the epilogue),
 *     as Mailman does; the parts before it are not touched;
 *   - anything else (text/plain or text/html not covered above, base64,
 *     other text types, multipart/alternative, related, signed, encrypted,
 *     report..., message/rfc822 and the other message types, application
 *     types such as pkcs7-mime, images): FOOTER_WRAP. The new body is a
 *     multipart/mixed of two parts: the first holds the original Content-*
 *     fields, as written (line endings made CRLF), and the original body
 *     byte for byte (signed and encrypted content still verifies), the
 *     second is the footer part. out->hdr deletes every Content-* field
 *     (by name, in the order they appear) and sets Content-Type to
 *     multipart/mixed with the new boundary; a Content-Transfer-Encoding
 *     of 8bit or binary is kept instead of deleted (it is the new
 *     multipart's too: RFC 2045 section 6.4).
 *   A footer part is text/plain; charset=utf-8 (7bit when the footer is
 *   ASCII, else quoted-printable), Content-Disposition: inline; with an
 *   HTML fragment it is a multipart/alternative of that text part and a
 *   text/html; charset=utf-8 part. FOOTER_PART and FOOTER_WRAP also set
 *   MIME-Version: 1.0 when the message has none.
 *   A new boundary is "=_fwdauth_" and 24 hex digits from RAND_bytes
 *   ("=_" cannot occur in quoted-printable or base64 text), or, for
 *   tests, spec->boundary then "1_" + spec->boundary, "2_"... (up to 31);
 *   a candidate is taken only when it occurs nowhere in the body or the
 *   footer parts and neither it nor another boundary of the message is a
 *   prefix of the other (parsers that match boundaries by prefix). The
 *   footer added to a multipart/mixed must not hold a line starting with
 *   "--" and the message's boundary (FOOTER_NONE).
 *
 *   Added field. fwdchange_header_check accepts a field the milter may
 *   add: a name of printable ASCII without ":" (at most 76 octets) and a
 *   value of valid UTF-8 without control characters other than TAB, whose
 *   line ("name: value") fits in 998 octets. The caller adds " value".
 * LIMITS
 *   FWDCHANGE_BODY_MAX octets of body (16 MiB; larger: FOOTER_NONE, why
 *   "body over 16 MiB"); FWDCHANGE_FOOTER_MAX octets of footer text and of
 *   HTML fragment, each line at most FWDCHANGE_LINE_MAX octets (after the
 *   HTML character references); FWDCHANGE_TAG_MAX octets of tag; a
 *   boundary (parsed or given) of at most FWDCHANGE_BOUNDARY_MAX octets.
 *   The new body is at most n + 2 x (octets of the Content-* fields) +
 *   64 KiB. A Subject output of FWDCHANGE_SUBJECT_ROOM(n) octets always
 *   suffices.
 * SECURITY
 *   Hostile input: the message is only scanned (linear, plus one memmem
 *   of the body per boundary candidate), never decoded; the parts outside
 *   the change are copied byte for byte. A message we cannot read with
 *   certainty is left alone (FOOTER_NONE), so a change never turns one
 *   structure into another. Output values never hold CR, NUL or control
 *   characters other than the LF of folding.
 * DIAGNOSTICS
 *   fwdchange_subject: 1 written (out NUL-terminated), 0 already tagged
 *   (out untouched), -1 the tag is empty, longer than FWDCHANGE_TAG_MAX,
 *   has a character other than printable ASCII and inner spaces, or "=?";
 *   the value holds a NUL or a CR not followed by LF; or out is too small.
 *   fwdchange_footer: 0 with out->action one of FOOTER_NONE (nothing
 *   allocated; out->why says why), FOOTER_APPEND, FOOTER_PART,
 *   FOOTER_WRAP (out->why says which rule); -1 with err: the spec is
 *   invalid (as fwdchange_footer_check), no boundary candidate was free,
 *   RAND_bytes failed, or out of memory (nothing allocated).
 *   fwdchange_footer_check: 0, or -1 with err: the text is missing, empty
 *   after its trailing white space, longer than FWDCHANGE_FOOTER_MAX, not
 *   UTF-8, holds a control character other than TAB (and CR before LF) or
 *   a line over FWDCHANGE_LINE_MAX; the same for the HTML fragment; a
 *   given boundary that is empty, too long or not RFC 2046 bchars.
 *   fwdchange_header_check: 0, or -1 with err saying what is wrong.
 */
#ifndef FWDAUTH_FWDCHANGE_H
#define FWDAUTH_FWDCHANGE_H

#include "err.h"
#include "msg.h"

#include <stddef.h>
#include <stdint.h>

#define FWDCHANGE_BODY_MAX (16u * 1024 * 1024)
#define FWDCHANGE_FOOTER_MAX 4096
#define FWDCHANGE_LINE_MAX 998
#define FWDCHANGE_TAG_MAX 64
#define FWDCHANGE_BOUNDARY_MAX 200 /* a parsed boundary (RFC 2046 says 70; some write more) */
#define FWDCHANGE_STEM_MAX 60      /* spec->boundary, so that stem "_NN" stays within 70 */
#define FWDCHANGE_NAME_MAX 76      /* an added field's name */
/* Always enough for fwdchange_subject's output for a value of n octets. */
#define FWDCHANGE_SUBJECT_ROOM(n) ((n) + FWDCHANGE_TAG_MAX + 4)

int fwdchange_subject(const char *value, size_t n, const char *tag, char *out, size_t outsz);

enum fwdchange_action { FOOTER_NONE, FOOTER_APPEND, FOOTER_PART, FOOTER_WRAP };

struct fwdchange_footer_spec {
    const char *text;     /* UTF-8, lines ending in LF or CRLF; required */
    const char *html;     /* UTF-8 HTML fragment, or NULL */
    const char *boundary; /* NULL: random boundaries; else a fixed stem (tests) */
};

struct fwdchange_hdr {
    char *name;  /* NUL-terminated */
    char *value; /* NULL: delete every field of that name; else the new value,
                    with its leading space, no line ending, no folding */
};

struct fwdchange_footer {
    int action;      /* enum fwdchange_action */
    const char *why; /* static text */
    uint8_t *body;   /* the new body (CRLF), NULL for FOOTER_NONE */
    size_t len;
    struct fwdchange_hdr *hdr; /* header changes, in order */
    size_t nhdr;
};

int fwdchange_footer(const struct msg_header *h, size_t nh, const uint8_t *body, size_t n,
                     const struct fwdchange_footer_spec *spec, struct fwdchange_footer *out,
                     fa_err *err);
void fwdchange_footer_free(struct fwdchange_footer *out);

int fwdchange_footer_check(const struct fwdchange_footer_spec *spec, fa_err *err);

int fwdchange_header_check(const char *name, const char *value, fa_err *err);

const char *fwdchange_action_name(int action); /* "none", "append", "part", "wrap" */

#endif
