/*
 * NAME
 *   canon - DKIM canonicalization (RFC 6376 section 3.4), streaming
 * SUMMARY
 *   "simple" and "relaxed" for header fields and bodies. Bodies are fed in
 *   chunks of any size and the canonical octets go to a sink (normally a
 *   SHA-256 update) in blocks, so a 50 MB message needs constant memory.
 *   Input lines may end in CRLF or bare LF; both become CRLF (what the
 *   message is on the wire). A bare CR is an ordinary octet.
 * DESCRIPTION
 *   Body simple: trailing empty lines removed; an empty body is one CRLF;
 *   a last line without line ending gets CRLF. Body relaxed: white space at
 *   line ends removed, runs of SP/HTAB become one SP, trailing empty lines
 *   removed; an empty body stays empty (errata 1384). A length limit (the
 *   l= tag) cuts the canonical stream; canon_body_length says how many
 *   canonical octets the whole body had.
 *   Header simple: the raw field, line endings made CRLF. Header relaxed:
 *   name lower-cased, unfolded, white-space runs to one SP, white space
 *   around the colon and at the end removed, then CRLF.
 *   The sink receives the canonical octets in order, in blocks of at most
 *   CANON_BUF octets; canon_body_final flushes what is held back.
 * SYNOPSIS
 *   struct canon_body b;
 *   canon_body_init(&b, CANON_RELAXED, CANON_NO_LIMIT, sha256_sink, ctx);
 *   canon_body_update(&b, p, n); ...; canon_body_final(&b);
 *   uint64_t whole = canon_body_length(&b);
 *   canon_header(CANON_RELAXED, &field, 1, 0, 0, sha256_sink, ctx);
 *   int alg = canon_parse("relaxed", 7);   CANON_RELAXED, or -1
 * DIAGNOSTICS
 *   Canonicalization cannot fail: it allocates nothing and its state is
 *   bounded (CANON_BUF), so canon_body_* and canon_header return nothing.
 *   canon_parse returns CANON_SIMPLE or CANON_RELAXED (the name compared
 *   ASCII case-insensitively), or -1 for any other name. canon_name
 *   returns "simple" for CANON_SIMPLE and "relaxed" for any other value.
 */
#ifndef FWDAUTH_CANON_H
#define FWDAUTH_CANON_H

#include "msg.h"

#include <stddef.h>
#include <stdint.h>

enum canon_alg { CANON_SIMPLE, CANON_RELAXED };

#define CANON_NO_LIMIT UINT64_MAX
#define CANON_BUF 16384

typedef void (*canon_sink)(void *ctx, const uint8_t *p, size_t n);

struct canon_body {
    int alg;
    canon_sink sink;
    void *ctx;
    uint64_t limit;    /* octets passed to the sink at most */
    uint64_t sent;     /* octets passed to the sink */
    uint64_t total;    /* canonical octets of the whole body */
    uint64_t pending;  /* empty lines held back (they may be trailing) */
    int cr;            /* the previous chunk ended in CR */
    int wsp;           /* relaxed: white space held back */
    int line_has_data; /* the current line has emitted octets */
    size_t blen;
    uint8_t buf[CANON_BUF];
};

void canon_body_init(struct canon_body *b, int alg, uint64_t limit, canon_sink sink, void *ctx);
void canon_body_update(struct canon_body *b, const uint8_t *p, size_t n);
void canon_body_final(struct canon_body *b);
uint64_t canon_body_length(const struct canon_body *b);

/* Canonicalize one header field into sink; with crlf = 0 the final CRLF is
 * left off (the signature's own field is hashed without it). When
 * blank_end > blank_off, h->raw[blank_off..blank_end) (the b= value) is
 * treated as empty; pass 0, 0 to hash the field whole. */
void canon_header(int alg, const struct msg_header *h, int crlf, size_t blank_off, size_t blank_end,
                  canon_sink sink, void *ctx);

/* Names for c= ("simple", "relaxed") and back; canon_parse: -1 if unknown. */
const char *canon_name(int alg);
int canon_parse(const char *s, size_t n);

#endif
