/*
 * NAME
 *   strlist - lists of strings in Postfix's list syntax
 * SUMMARY
 *   struct fa_list is a list value of fwdauthd.conf (local_domains,
 *   internal_hosts, ...): n strings, each NUL-terminated and allocated.
 *   strlist_split cuts a value into one as Postfix cuts a list parameter
 *   of main.cf: on commas and white space, empty items dropped.
 *   strlist_free frees one. Kept below config (which reads every list
 *   value with it) so that modules that hold a list of their own, such as
 *   srs (its copy of local_domains), need not depend on config.
 * SYNOPSIS
 *   struct fa_list l;
 *   if (strlist_split("a.example, b.example c.example", &l, &err) == 0)
 *       l.n == 3, l.v[0] "a.example"
 *   strlist_free(&l);
 * DESCRIPTION
 *   strlist_free leaves the list empty ({NULL, 0}) and may be called
 *   again.
 * DIAGNOSTICS
 *   strlist_split returns 0, or -1 with err set when out of memory
 *   (nothing is allocated then).
 */
#ifndef FWDAUTH_STRLIST_H
#define FWDAUTH_STRLIST_H

#include "err.h"

#include <stddef.h>

/* A list value: n strings, each NUL-terminated. */
struct fa_list {
    char **v;
    size_t n;
};

/* Split a list value on commas and white space into out (caller frees with
 * strlist_free). */
int strlist_split(const char *value, struct fa_list *out, fa_err *err);
void strlist_free(struct fa_list *list);

#endif
