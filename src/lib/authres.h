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
 * DESCRIPTION
 *   Property values that are not RFC 2045 tokens are written as quoted
 *   strings (header.b values hold "/" and "+"). Reasons become comments,
 *   with parentheses and backslashes escaped. A field with no result says
 *   "none". The authserv-id parser skips comments (nested) and white space
 *   and accepts a token or a quoted string, as RFC 8601 section 2.2 allows.
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

#endif
