/*
 * NAME
 *   domlist - match domain names against a configured list
 * SUMMARY
 *   "example.net" matches that domain only; ".example.net" matches every
 *   subdomain of it (not example.net itself), as in Postfix's
 *   parent_domain_matches_subdomains convention when it is off. Matching is
 *   ASCII case-insensitive and ignores one trailing dot on either side.
 * SYNOPSIS
 *   int hit = domlist_match(cfg->local_domains.v, cfg->local_domains.n, "a.example.net", 13);
 *   int same = domain_equal("Example.NET.", 12, "example.net", 11);
 * DESCRIPTION
 *   Names are given with their lengths (they need not be NUL-terminated);
 *   patterns are NUL-terminated strings. A pattern "." or "" matches
 *   nothing (nor does an empty name). No wildcard other than
 *   the leading dot, no IDNA conversion: names compare as ASCII octets.
 * DIAGNOSTICS
 *   domlist_match returns 1 when some pattern matches, 0 otherwise (also
 *   for an empty list). domain_equal returns 1 when both names are equal
 *   and not empty, 0 otherwise. Neither can fail.
 */
#ifndef FWDAUTH_DOMLIST_H
#define FWDAUTH_DOMLIST_H

#include <stddef.h>

int domlist_match(char *const *patterns, size_t npatterns, const char *domain, size_t len);

/* Case-insensitive equality of two domain names, ignoring one trailing dot. */
int domain_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
