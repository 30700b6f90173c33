/* dmarcq: test-only client of the dmarc module (tests/integration/
 * test_dmarc_oracle.py). Usage: dmarcq ZONEFILE rfc7489|rfc9989 DOMAIN...
 * Prints one line per domain: DOMAIN RESULT ORG_DOMAIN RECORD_DOMAIN POLICY
 * ("-" for an empty field), evaluating a message with no authenticated
 * identifier, so RESULT is fail/none/temperror/permerror. */
#include "dmarc.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: dmarcq ZONEFILE rfc7489|rfc9989 DOMAIN...\n");
        return 2;
    }
    fa_err err = {{0}};
    struct dns_opts o = {.zone_file = argv[1]};
    struct dns *d = dns_new(&o, &err);
    if (!d) {
        fprintf(stderr, "dmarcq: %s\n", err.msg);
        return 2;
    }
    int mode = strcmp(argv[2], "rfc9989") == 0 ? DMARC_MODE_RFC9989 : DMARC_MODE_RFC7489;
    for (int i = 3; i < argc; i++) {
        struct dmarc_auth a = {0};
        struct dmarc_result r;
        dmarc_evaluate(d, mode, argv[i], &a, &r);
        printf("%s %s %s %s %s\n", argv[i], dmarc_result_name(r.result),
               r.org_domain[0] ? r.org_domain : "-", r.record_domain[0] ? r.record_domain : "-",
               r.policy >= 0 ? dmarc_policy_name(r.policy) : "-");
    }
    dns_free(d);
    return 0;
}
