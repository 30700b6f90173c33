/*
 * NAME
 *   dns_answer - the answer to one DNS question, as every source gives it
 * SUMMARY
 *   struct dns_answer (status, reason, records) is what dns_query fills,
 *   whether the answer came from libunbound (dns.c) or from a zone file
 *   (dns_zone.c). Both sources build it with the same two functions, kept
 *   here, below both, so that neither source depends on the other for
 *   them. Callers of the resolver use dns.h, which includes this header.
 * SYNOPSIS
 *   struct dns_answer a = {0};
 *   if (dns_answer_add(&a, "v=spf1 -all", 11, 0) < 0) return dns_answer_set(&a, DNS_TEMPFAIL, "out
 * of memory");
 *   ... a.rr[0].data, a.rr[0].len ...
 *   dns_answer_free(&a);
 * DESCRIPTION
 *   dns_answer_add appends one record, copying its data and adding a NUL
 *   after it (TXT data may hold NULs inside: use len). dns_answer_set
 *   gives the answer a status other than DNS_OK and a static reason,
 *   freeing the records already added, and returns the status; its
 *   failure (enum dns_failure) is DNS_FAIL_OTHER for DNS_TEMPFAIL and
 *   DNS_PERMFAIL, DNS_FAIL_NONE otherwise. dns_answer_fail does the same
 *   with the failure named: a timeout or a SERVFAIL, which callers (the
 *   per-message session, the metrics observer) tell from other failures
 *   by this field, never by the reason text. dns_answer_free frees the
 *   records (not a itself) and may be called again.
 * SECURITY
 *   An answer holds at most DNS_MAX_RR records of at most DNS_MAX_RDATA
 *   octets each; dns_answer_add refuses more.
 * DIAGNOSTICS
 *   dns_answer_add returns 0, or -1 (DNS_MAX_RR records already, data over
 *   DNS_MAX_RDATA octets, or out of memory). dns_answer_set and
 *   dns_answer_fail return the status they were given. dns_status_name returns "?" for a value
 * outside enum dns_status.
 */
#ifndef FWDAUTH_DNS_ANSWER_H
#define FWDAUTH_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#define DNS_MAX_RR 64
#define DNS_MAX_RDATA 65535

enum dns_type {
    DNS_T_A = 1,
    DNS_T_PTR = 12,
    DNS_T_MX = 15,
    DNS_T_TXT = 16,
    DNS_T_AAAA = 28,
    DNS_T_SPF = 99,
    DNS_T_CNAME = 5
};

enum dns_status {
    DNS_OK,       /* n >= 1 records */
    DNS_NXDOMAIN, /* the name does not exist */
    DNS_NODATA,   /* the name exists, no record of that type */
    DNS_TEMPFAIL, /* timeout, SERVFAIL, network: try again later */
    DNS_PERMFAIL  /* malformed answer or query */
};

/* Why a query failed (finer than DNS_TEMPFAIL/PERMFAIL): DNS_FAIL_NONE for
 * answers (DNS_OK, DNS_NXDOMAIN, DNS_NODATA). */
enum dns_failure { DNS_FAIL_NONE, DNS_FAIL_TIMEOUT, DNS_FAIL_SERVFAIL, DNS_FAIL_OTHER };

struct dns_rr {
    /* TXT/SPF: the character-strings joined, NUL-terminated (may hold NULs
     *   inside: use len). A: 4 octets. AAAA: 16 octets.
     * MX: preference in `pref`, exchange name in data (NUL-terminated, no
     *   trailing dot). PTR/CNAME: the name (NUL-terminated, no trailing dot). */
    uint8_t *data;
    size_t len;
    unsigned pref;
};

struct dns_answer {
    int status;      /* enum dns_status */
    int secure;      /* DNSSEC-validated (never for zone files) */
    const char *why; /* static reason when status != DNS_OK */
    int failure;     /* enum dns_failure */
    size_t n;
    struct dns_rr rr[DNS_MAX_RR];
};

void dns_answer_free(struct dns_answer *a);
int dns_answer_add(struct dns_answer *a, const void *data, size_t len, unsigned pref);
int dns_answer_set(struct dns_answer *a, int status, const char *why);
int dns_answer_fail(struct dns_answer *a, int status, int failure, const char *why);

const char *dns_status_name(int status);

#endif
