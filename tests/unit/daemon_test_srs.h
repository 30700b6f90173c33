/* An srs object for the daemon's handler tests: the published PostSRSd
 * secret "tops3cr3t", SRS domain example.com, local domain example.net. */
#ifndef FWDAUTH_DAEMON_TEST_SRS_H
#define FWDAUTH_DAEMON_TEST_SRS_H

#include "srs.h"

#include <string.h>

#define VECTOR_TIME 1577836860

static srs *test_srs(int alphabet)
{
    static const char *const secrets[] = {"tops3cr3t"};
    size_t lens[] = {strlen(secrets[0])};
    char *locals[] = {"example.net"};
    struct srs_params p = {
        .domain = "example.com",
        .local_domains = locals,
        .n_local_domains = 1,
        .hash_length = 4,
        .hash_minimum = 0,
        .max_age = 21,
        .separator = '=',
        .alphabet = alphabet,
    };
    fa_err err;
    return srs_new(&p, secrets, lens, 1, &err);
}

#endif
