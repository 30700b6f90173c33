/*
 * NAME
 *   dns_zone - the zone-file source of the dns module: parse, answer
 * SUMMARY
 *   Internal to libfwdauth (dns.c, and the unit tests and fuzz targets
 *   that build a resolver from zone text with dns_new_from_zone; not an
 *   API for front ends, which name a zone file in dns_opts, dns.h). The
 *   master-file syntax it reads is described in dns.h. It depends on
 *   dns_answer.h only, never on dns.h: the resolver uses this module, not
 *   the other way round.
 * SYNOPSIS
 *   struct dns_zone *z = dns_zone_parse("t.zone", text, strlen(text), &err);
 *   struct dns *d = dns_new_from_zone(z);           (dns.h; takes z)
 *   dns_zone_query(z, norm, DNS_T_TXT, &a);         (dns.c, name from dns_name_norm)
 * DESCRIPTION
 *   dns_zone_query answers one question from a parsed zone: the name must
 *   already be normalized by dns_name_norm (lower case, no trailing dot).
 * SECURITY
 *   Names are at most DNS_NAME_MAX octets of text, labels at most 63; a
 *   zone file at most DNS_ZONE_MAX_BYTES octets.
 * DIAGNOSTICS
 *   dns_zone_parse returns NULL with err set, naming FILE:LINE.
 *   dns_zone_query returns the answer's status (dns_answer.h); a TIMEOUT
 *   owner answers DNS_TEMPFAIL with failure DNS_FAIL_TIMEOUT.
 *   dns_name_norm returns 0 or -1.
 */
#ifndef FWDAUTH_DNS_ZONE_H
#define FWDAUTH_DNS_ZONE_H

#include "dns_answer.h"
#include "err.h"

#include <stddef.h>

#define DNS_NAME_MAX 253 /* text octets without the trailing dot */
#define DNS_CNAME_MAX 8  /* CNAMEs followed per question */
/* A zone file is read whole; beyond this it is a mistake, not test data. */
#define DNS_ZONE_MAX_BYTES (64u * 1024 * 1024)

struct dns_zone;

/* Parse a buffer (name is the file name for errors) into a zone. */
struct dns_zone *dns_zone_parse(const char *name, const char *buf, size_t len, fa_err *err);
void dns_zone_free(struct dns_zone *z);

int dns_zone_query(const struct dns_zone *z, const char *name, int type, struct dns_answer *a);

/* Name check for questions: strips one trailing dot, lower-cases into out
 * (DNS_NAME_MAX + 1 octets). Returns 0, or -1 for an empty name, an empty
 * label, a label over 63 octets or a name over DNS_NAME_MAX octets. */
int dns_name_norm(const char *name, char *out);

#endif
