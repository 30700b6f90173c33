/* A resolver answering from zone-file text (dns_zone.h), for the unit tests
 * of modules that ask DNS; the test fails when the text does not parse.
 * Include after <cmocka.h>. */
#ifndef FWDAUTH_TEST_ZONE_H
#define FWDAUTH_TEST_ZONE_H

#include "dns.h"
#include "dns_zone.h"

#include <string.h>

static struct dns *test_zone(const char *text)
{
    fa_err err = {{0}};
    struct dns_zone *z = dns_zone_parse("t.zone", text, strlen(text), &err);
    if (!z)
        fail_msg("zone did not parse: %s", err.msg);
    struct dns *d = dns_new_from_zone(z);
    assert_non_null(d);
    return d;
}

#endif
