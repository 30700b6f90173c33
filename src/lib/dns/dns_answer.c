/* dns_answer - the answer to one DNS question; see dns_answer.h. */
#include "dns_answer.h"

#include <stdlib.h>
#include <string.h>

const char *dns_status_name(int status)
{
    switch (status) {
    case DNS_OK:
        return "OK";
    case DNS_NXDOMAIN:
        return "NXDOMAIN";
    case DNS_NODATA:
        return "NODATA";
    case DNS_TEMPFAIL:
        return "TEMPFAIL";
    case DNS_PERMFAIL:
        return "PERMFAIL";
    }
    return "?";
}

void dns_answer_free(struct dns_answer *a)
{
    if (!a)
        return;
    size_t n = a->n <= DNS_MAX_RR ? a->n : DNS_MAX_RR;
    for (size_t i = 0; i < n; i++) {
        free(a->rr[i].data);
        a->rr[i].data = NULL;
    }
    a->n = 0;
}

int dns_answer_fail(struct dns_answer *a, int status, int failure, const char *why)
{
    dns_answer_free(a);
    a->status = status;
    a->why = why;
    a->secure = 0;
    a->failure = failure;
    return status;
}

int dns_answer_set(struct dns_answer *a, int status, const char *why)
{
    int failed = status == DNS_TEMPFAIL || status == DNS_PERMFAIL;
    return dns_answer_fail(a, status, failed ? DNS_FAIL_OTHER : DNS_FAIL_NONE, why);
}

int dns_answer_add(struct dns_answer *a, const void *data, size_t len, unsigned pref)
{
    if (a->n >= DNS_MAX_RR || len > DNS_MAX_RDATA)
        return -1;
    uint8_t *copy = malloc(len + 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, data, len);
    copy[len] = 0;
    a->rr[a->n].data = copy;
    a->rr[a->n].len = len;
    a->rr[a->n].pref = pref;
    a->n++;
    return 0;
}
