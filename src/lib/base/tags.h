/*
 * NAME
 *   tags - RFC 6376 section 3.2 tag=value lists
 * SUMMARY
 *   Parses "v=1; a=rsa-sha256; d=example.org; ..." as DKIM-Signature,
 *   DKIM key records, ARC headers and DMARC records write them. Tag names
 *   are ALPHA *(ALPHA / DIGIT / "_"); values are VALCHARs (%x21-3A, %x3C-7E)
 *   with folding white space inside; white space around names, "=" and
 *   values is dropped. Empty specs (";;", trailing ";") are skipped.
 * SYNOPSIS
 *   struct tag_list l;
 *   if (tags_parse(s, n, &l, &why) == 0) {
 *       const struct tag *d = tags_find(&l, "d");
 *       if (d) use d->value[0..d->value_len)
 *   }
 * DESCRIPTION
 *   Values point into the parsed text (no copies); value_off/value_end are
 *   the offsets of the raw value including its surrounding white space,
 *   which DKIM needs to blank b= (RFC 6376 section 3.7).
 *   tags_copy_nows copies a value without white space (b=, bh=, p=).
 *   tags_parse_strict is tags_parse that also refuses an empty tag-spec
 *   (";;", a leading ";"): RFC 6376's tag-list grammar allows one
 *   trailing ";" only. DKIM is read leniently (as other verifiers read
 *   it), ARC strictly (RFC 8617's test suite expects the failure).
 *   tags_list_has reads the colon-separated lists some values hold (h=
 *   "from : to", a key record's h= and s=, t= "y:s").
 * DIAGNOSTICS
 *   tags_parse and tags_parse_strict return 0, or -1 with a static reason
 *   in *why (when why is not NULL): a duplicate tag, a bad name, a missing
 *   "=", a forbidden character, more than TAGS_MAX tags; tags_parse_strict
 *   also "empty tag-spec". tags_copy_nows returns the length copied, or -1
 *   when the value does not fit. tags_find returns NULL for an absent tag;
 *   tags_value_is, tags_value_is_nocase and tags_list_has return 1 or 0
 *   (0 for a NULL tag).
 */
#ifndef FWDAUTH_TAGS_H
#define FWDAUTH_TAGS_H

#include <stddef.h>

#define TAGS_MAX 32

struct tag {
    const char *name;
    size_t name_len;
    const char *value; /* trimmed */
    size_t value_len;
    size_t value_off, value_end; /* raw value span after "=", up to ";" or the end */
};

struct tag_list {
    struct tag t[TAGS_MAX];
    size_t n;
};

int tags_parse(const char *s, size_t n, struct tag_list *out, const char **why);
int tags_parse_strict(const char *s, size_t n, struct tag_list *out, const char **why);
const struct tag *tags_find(const struct tag_list *l, const char *name);
/* Is the value equal to s (exactly, or ignoring ASCII case)? */
int tags_value_is(const struct tag *t, const char *s);
int tags_value_is_nocase(const struct tag *t, const char *s);
/* Copy the value without white space; returns length, or -1 if it does not fit. */
int tags_copy_nows(const struct tag *t, char *out, size_t outsz);
/* Does the colon-separated list v[0..n) (white space allowed around
 * items) hold item, ignoring ASCII case? */
int tags_list_has(const char *v, size_t n, const char *item);

#endif
