/*
 * NAME
 *   dns_zone - internal: the zone-file side of the dns module
 * SUMMARY
 *   Shared between dns.c (the resolver front and libunbound backend) and
 *   dns_zone.c (the master-file parser and lookups). Callers outside the
 *   dns module use dns.h only.
 * DESCRIPTION
 *   dns_zone_query answers one question from a parsed zone: the name must
 *   already be normalized by dns_name_norm (lower case, no trailing dot).
 *   dns_answer_add appends one record (copying data, NUL-terminated) and
 *   fails on DNS_MAX_RR or memory; dns_answer_set sets a non-OK status,
 *   freeing any records already added.
 * SECURITY
 *   Names are at most DNS_NAME_MAX octets of text, labels at most 63.
 */
#ifndef FWDAUTH_DNS_ZONE_H
#define FWDAUTH_DNS_ZONE_H

#include "dns.h"

#define DNS_NAME_MAX 253 /* text octets without the trailing dot */
#define DNS_CNAME_MAX 8  /* CNAMEs followed per question */
/* A zone file is read whole; beyond this it is a mistake, not test data. */
#define DNS_ZONE_MAX_BYTES (64u * 1024 * 1024)

int dns_zone_query(const struct dns_zone *z, const char *name, int type, struct dns_answer *a);

/* Name check for questions: strips one trailing dot, lower-cases into out
 * (DNS_NAME_MAX + 1 octets). Returns 0, or -1 for an empty name, an empty
 * label, a label over 63 octets or a name over DNS_NAME_MAX octets. */
int dns_name_norm(const char *name, char *out);

/* Reasons whose identity (the pointer) classifies a failure for
 * dns_opts.observe: a timeout (libunbound or a zone file's TIMEOUT), a
 * SERVFAIL from the resolver. */
extern const char dns_why_timeout[];
extern const char dns_why_zone_timeout[];
extern const char dns_why_servfail[];

int dns_answer_add(struct dns_answer *a, const void *data, size_t len, unsigned pref);
int dns_answer_set(struct dns_answer *a, int status, const char *why);

#endif
