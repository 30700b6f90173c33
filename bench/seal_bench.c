/*
 * NAME
 *   arc-seal-bench - in-process ARC sealing throughput of libfwdauth
 * SUMMARY
 *   Loads one message into memory and, for T seconds on one thread, seals
 *   it as a forwarder would: validate the chain it carries (none, or the
 *   sets already on it), hash the body, build the ARC-Authentication-Results
 *   from its Authentication-Results, sign the ARC-Message-Signature and the
 *   ARC-Seal (two private-key operations per message). Process start-up and
 *   I/O do not count.
 * SYNOPSIS
 *   arc-seal-bench -k KEY -d DOMAIN -s SELECTOR -a AUTHSERV-ID [-z ZONE]
 *                  [-t SECONDS] [-l LABEL] MESSAGE
 * DESCRIPTION
 *   -z   zone file with the keys of the sets already on the message.
 *   The last line is machine-readable:
 *     RESULT label=L bytes=B sets=N ops=K seconds=S ops_per_s=R
 * DIAGNOSTICS
 *   Exit 0; 1 when a message is not sealed or its chain does not pass;
 *   2 on usage or setup errors.
 */
#include "arc.h"
#include "dns.h"
#include "keys.h"
#include "msg.h"

#include "bench_util.h"
#include "monoclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Seal once; 1 sealed with a passing or empty chain, 0 otherwise. */
static int seal_once(const struct arc_seal_spec *spec, const char *msg, size_t n,
                     const struct msg_headers *hs, size_t body, struct dns *dns,
                     struct arc_result *r)
{
    fa_err err;
    struct arc_sealer *s = arc_sealer_new(spec, hs->h, hs->n, time(NULL), &err);
    if (!s)
        return 0;
    arc_sealer_body(s, (const uint8_t *)msg + body, n - body);
    char *fields[3];
    int rc = arc_sealer_finish(s, dns, "\r\n", r, fields, &err);
    arc_sealer_free(s);
    if (rc != ARC_SEALED)
        return 0;
    for (int i = 0; i < 3; i++)
        free(fields[i]);
    return r->cv != ARC_CV_FAIL;
}

int main(int argc, char **argv)
{
    const char *keyfile = NULL, *domain = NULL, *selector = NULL, *servid = NULL, *zone = NULL;
    const char *label = "-";
    double seconds = 3;
    int c;
    while ((c = getopt(argc, argv, "k:d:s:a:z:t:l:")) != -1) {
        switch (c) {
        case 'k':
            keyfile = optarg;
            break;
        case 'd':
            domain = optarg;
            break;
        case 's':
            selector = optarg;
            break;
        case 'a':
            servid = optarg;
            break;
        case 'z':
            zone = optarg;
            break;
        case 't':
            seconds = atof(optarg);
            break;
        case 'l':
            label = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (optind != argc - 1 || !keyfile || !domain || !selector || !servid)
        goto usage;
    fa_err err;
    size_t n = 0, body;
    char *msg = bench_read_file(argv[optind], &n);
    struct fa_key *key = msg ? key_load_private(keyfile, geteuid(), &err) : NULL;
    struct msg_headers hs;
    struct dns_opts o = {.zone_file = zone};
    struct dns *dns = key ? dns_new(&o, &err) : NULL;
    struct arc_result *r = malloc(sizeof(*r));
    if (!msg || !key || !dns || !r || msg_parse(msg, n, &hs, &body, &err) < 0) {
        fprintf(stderr, "arc-seal-bench: %s\n", msg ? err.msg : "cannot read the message");
        return 2;
    }
    struct arc_seal_spec spec = {.domain = domain,
                                 .selector = selector,
                                 .key = key,
                                 .alg = -1,
                                 .timestamp = 1795000000,
                                 .authserv_id = servid};
    unsigned long ops = 0;
    int bad = 0;
    double t0 = monoclock_seconds(), t = t0;
    while (t - t0 < seconds) {
        for (int i = 0; i < 8; i++, ops++)
            bad |= !seal_once(&spec, msg, n, &hs, body, dns, r);
        t = monoclock_seconds();
    }
    printf("RESULT label=%s bytes=%zu sets=%u ops=%lu seconds=%.3f ops_per_s=%.1f\n", label, n,
           r->nsets, ops, t - t0, (double)ops / (t - t0));
    free(r);
    free(hs.h);
    free(msg);
    key_free(key);
    dns_free(dns);
    return bad ? 1 : 0;
usage:
    fprintf(stderr, "usage: arc-seal-bench -k KEY -d DOMAIN -s SELECTOR -a AUTHSERV-ID [-z ZONE] "
                    "[-t SECONDS] [-l LABEL] MESSAGE\n");
    return 2;
}
