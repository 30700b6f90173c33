/*
 * NAME
 *   authres - Authentication-Results header fields (RFC 8601)
 * SUMMARY
 *   Renders ours: "authserv-id; method=result (reason) ptype.prop=value ..."
 *   with one result per folded line, and reads the authserv-id of any
 *   Authentication-Results field, so that fields claiming our authserv-id,
 *   which only we may write, can be removed before we add ours (RFC 8601
 *   section 5; OpenDKIM's CVE-2022-48521 removed the wrong ones).
 * SYNOPSIS
 *   struct authres ar;
 *   authres_begin(&ar, "mx.example.net");
 *   authres_add(&ar, "dkim", "pass", NULL, "header.d", "example.org", "header.s", "sel", NULL);
 *   const char *value = authres_value(&ar, "\r\n");   field value, folded, no trailing eol
 *   authres_serv_id(value_of_some_field, len, id, sizeof id);
 *   struct authres_parsed *p = malloc(sizeof *p);
 *   if (authres_parse(value, len, p, &why) == 0) p->r[i].method, .result, .props ...
 * DESCRIPTION
 *   Property values that are not RFC 2045 tokens are written as quoted
 *   strings (header.b values hold "/" and "+"). Reasons become comments,
 *   with parentheses and backslashes escaped. A field with no result says
 *   "none". The authserv-id parser skips comments (nested) and white space
 *   and accepts a token or a quoted string, as RFC 8601 section 2.2 allows.
 *   authres_parse reads a whole field value (RFC 8601 section 2.2):
 *   authserv-id, an optional version, then "none" or results
 *   "; method[/version]=result [reason=value] *(ptype.property=value)".
 *   Comments (nested, with quoted pairs) and folding white space may stand
 *   between any two tokens; values are tokens or quoted strings (unquoted
 *   and unescaped in the result), and a property value may also be an
 *   address or "@domain" (header.i=@example.org), as RFC 8601 allows. Each
 *   result keeps its raw span (comments included) so that it can be copied
 *   unchanged, as ARC-Authentication-Results copies a receiver's results
 *   (RFC 8617 section 4.1.1). Method, result and ptype names are lower-cased.
 * DIAGNOSTICS
 *   authres_add returns 0, or -1 when the result does not fit (more than
 *   AUTHRES_MAX_RESULTS results, or one over 511 octets rendered): the
 *   result is left out and ar->truncated set. authres_value cannot fail;
 *   when the rendered field would pass AUTHRES_MAX it ends at the last
 *   whole result and sets ar->truncated. authres_serv_id returns the
 *   id's length, or -1 when the value has no token or quoted string first
 *   (after comments and white space), or it does not fit outsz.
 *   authres_parse returns 0, or -1 with *why set to a static text naming
 *   the first problem: "no authserv-id", "bad version", "no result and no
 *   \"none\"", "\";\" expected", "too many results", "bad method", "bad
 *   method version", "method without \"=\"", "bad result", "bad
 *   property", "bad reason", "property without ptype", "too many
 *   properties", "ptype too long", "bad property name", "property without
 *   \"=\"", "bad property value". The text is for logs; callers tell
 *   only 0 from -1.
 * SECURITY
 *   Bounded: a field longer than AUTHRES_MAX is cut at a result boundary and
 *   authres_value reports it. Input from other fields is only parsed.
 */
#ifndef FWDAUTH_AUTHRES_H
#define FWDAUTH_AUTHRES_H

#include <stddef.h>

#define AUTHRES_MAX 8192
#define AUTHRES_MAX_RESULTS 32

struct authres {
    char id[256];
    char results[AUTHRES_MAX_RESULTS][512];
    size_t n;
    int truncated;
    char out[AUTHRES_MAX];
};

void authres_begin(struct authres *ar, const char *authserv_id);
/* Add "method=result (reason) p1=v1 p2=v2 ...": pairs of ptype.property and
 * value, ending with NULL. Returns 0, or -1 when the result does not fit. */
int authres_add(struct authres *ar, const char *method, const char *result, const char *reason, ...)
    __attribute__((sentinel));
/* The field value (after "Authentication-Results:"), starting with a space,
 * folded with eol + TAB, without a trailing eol. */
const char *authres_value(struct authres *ar, const char *eol);

/* The authserv-id of a field value; returns its length, or -1 if none. */
int authres_serv_id(const char *value, size_t n, char *out, size_t outsz);

/* ---- parsing (RFC 8601 section 2.2) ---- */

#define AUTHRES_MAX_PROPS 8

struct authres_prop {
    char ptype[16];    /* "smtp", "header", "body", "policy", ... */
    char property[64]; /* "mailfrom", "d", "i", "b", ... */
    char value[256];   /* unquoted */
};

struct authres_resinfo {
    char method[64];         /* lower case, without the version */
    unsigned method_version; /* 0 when not given */
    char result[32];         /* lower case */
    char reason[256];        /* reason= value, unquoted; "" when absent */
    struct authres_prop props[AUTHRES_MAX_PROPS];
    size_t nprops;
    size_t raw_off, raw_len; /* the result's text in the value, trimmed, comments kept */
};

struct authres_parsed {
    char serv_id[256];
    unsigned version; /* 1 when not given */
    int none;         /* "none": no results */
    struct authres_resinfo r[AUTHRES_MAX_RESULTS];
    size_t n;
};

/* Parse a field value (after the colon). 0, or -1 with a static *why;
 * more than AUTHRES_MAX_RESULTS results, AUTHRES_MAX_PROPS properties or an
 * over-long name or value fail too. out is about 90 KB: allocate it. */
int authres_parse(const char *value, size_t n, struct authres_parsed *out, const char **why);

#endif
