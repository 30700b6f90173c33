/*
 * NAME
 *   msg - RFC 5322 message header section, raw bytes kept exactly
 * SUMMARY
 *   Splits a message into header fields and a body without changing a byte:
 *   each field keeps its exact raw text (name, optional white space before
 *   the colon, value, folding, line endings), so DKIM "simple"
 *   canonicalization and re-output see what was received. Lines may end in
 *   CRLF or bare LF (DKIM then treats LF as CRLF); a bare CR is an ordinary
 *   octet inside a line. 8-bit octets and very long lines are kept.
 * SYNOPSIS
 *   struct msg_reader r; msg_reader_init(&r);
 *   while ((n = read(fd, buf, sizeof buf)) > 0) {
 *       size_t used = msg_reader_feed(&r, buf, n, &err);   header bytes taken
 *       if (r.state == MSG_BODY) body bytes are buf[used..n), and every later read
 *   }
 *   msg_reader_eof(&r, &err);        a message with no body, or no blank line
 *   r.headers.h[i].raw ...
 *   msg_reader_free(&r);
 * DESCRIPTION
 *   The header section ends at the first empty line (consumed, not part of
 *   the body), at the first line that is neither a field nor a continuation
 *   (it starts the body, as Postfix treats it), or at end of input.
 *   A field name is printable US-ASCII except ":" (RFC 5322 section 2.2).
 *   msg_parse does the same for a whole message in memory.
 * DIAGNOSTICS
 *   msg_reader_feed returns how many octets of p it took (0 once the
 *   section is complete, or for n = 0), or (size_t)-1 with err set: out of
 *   memory, more than MSG_FIELDS_MAX fields, a header section over
 *   MSG_HEADER_MAX octets. msg_reader_eof returns 0 (the section is what
 *   was read, perhaps empty), or -1 with err set for the same limits.
 *   msg_parse returns 0 with hs->h (malloc'd, or NULL for no fields), or
 *   -1 with err set (out of memory, more than MSG_FIELDS_MAX fields: the
 *   caller bounds the message itself) and hs->h NULL. msg_header_is
 *   returns 1 or 0. After any -1 the reader may only be freed.
 * SECURITY
 *   The header section is bounded (MSG_HEADER_MAX octets, MSG_FIELDS_MAX
 *   fields): larger input fails with a clear error instead of growing.
 */
#ifndef FWDAUTH_MSG_H
#define FWDAUTH_MSG_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define MSG_HEADER_MAX (1024 * 1024)
#define MSG_FIELDS_MAX 2000

struct msg_header {
    const char *raw; /* the whole field with its final line ending (if any) */
    size_t len;
    size_t name_len;  /* raw[0..name_len) is the name, without trailing white space */
    size_t value_off; /* first octet after the colon */
    size_t value_end; /* end of the value, before the final line ending */
};

struct msg_headers {
    struct msg_header *h;
    size_t n;
};

enum msg_state { MSG_HEADERS, MSG_BODY };

struct msg_reader {
    int state;
    char *head; /* header section bytes, owned */
    size_t head_len, head_cap;
    struct msg_headers headers; /* valid once state == MSG_BODY */
    int crlf;                   /* first line ended in CRLF (for added fields) */
};

void msg_reader_init(struct msg_reader *r);
/* Take header bytes from p; returns how many were consumed (all of them
 * while in MSG_HEADERS; once the section is complete, the rest is body).
 * Returns (size_t)-1 with err on a header section over the limits. */
size_t msg_reader_feed(struct msg_reader *r, const uint8_t *p, size_t n, fa_err *err);
/* End of input while still in the headers: what was read is the section. */
int msg_reader_eof(struct msg_reader *r, fa_err *err);
void msg_reader_free(struct msg_reader *r);

/* Parse a whole message in memory: headers point into p; *body_off is
 * where the body starts (n when there is none). The caller frees hs->h. */
int msg_parse(const char *p, size_t n, struct msg_headers *hs, size_t *body_off, fa_err *err);

/* Is the field's name `name` (ASCII case-insensitive)? */
int msg_header_is(const struct msg_header *h, const char *name);

#endif
