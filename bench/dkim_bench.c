/*
 * NAME
 *   dkim-bench - in-process DKIM sign/verify throughput of libfwdauth
 * SUMMARY
 *   Loads one message into memory and, for T seconds on one thread, signs
 *   it (sign), verifies a signed copy of it (verify: parse, body hash, key
 *   lookup from a zone file, signature check), or only canonicalizes and
 *   hashes its body (bodyhash: dkim_signer_new + dkim_signer_body), so that
 *   process start-up and I/O do not count.
 * SYNOPSIS
 *   dkim-bench -m sign|verify|bodyhash -k KEY -d DOMAIN -s SELECTOR
 *              [-z ZONE] [-c simple|relaxed] [-t SECONDS] [-l LABEL] MESSAGE
 * DESCRIPTION
 *   -c   header and body canonicalization (default relaxed).
 *   -z   zone file with the selector's key record (verify only).
 *   The last line is machine-readable:
 *     RESULT label=L mode=M canon=C bytes=B ops=N seconds=S ops_per_s=R mb_per_s=X
 * DIAGNOSTICS
 *   Exit 0; 1 when a verification does not pass; 2 on usage or setup errors.
 */
#include "dkim.h"
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

/* Sign msg once; returns the field (malloc'd) or NULL. */
static char *sign_once(const struct dkim_sign_spec *spec, const char *msg, size_t n,
                       const struct msg_headers *hs, size_t body_off, fa_err *err)
{
    struct dkim_signer *s = dkim_signer_new(spec, 1, err);
    if (!s)
        return NULL;
    dkim_signer_body(s, (const uint8_t *)msg + body_off, n - body_off);
    char *field = NULL;
    if (dkim_signer_finish(s, hs->h, hs->n, "\r\n", &field, err) < 0)
        field = NULL;
    dkim_signer_free(s);
    return field;
}

int main(int argc, char **argv)
{
    const char *mode = "sign", *keyfile = NULL, *domain = NULL, *selector = NULL;
    const char *zone = NULL, *canon = "relaxed", *label = "-";
    double seconds = 3;
    int c;
    while ((c = getopt(argc, argv, "m:k:d:s:z:c:t:l:")) != -1) {
        switch (c) {
        case 'm':
            mode = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case 'd':
            domain = optarg;
            break;
        case 's':
            selector = optarg;
            break;
        case 'z':
            zone = optarg;
            break;
        case 'c':
            canon = optarg;
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
    if (optind != argc - 1 || !keyfile || !domain || !selector ||
        (strcmp(mode, "verify") == 0 && !zone))
        goto usage;

    fa_err err;
    size_t n;
    char *msg = bench_read_file(argv[optind], &n);
    if (!msg) {
        perror(argv[optind]);
        return 2;
    }
    struct fa_key *key = key_load_private(keyfile, geteuid(), &err);
    if (!key) {
        fprintf(stderr, "dkim-bench: %s\n", err.msg);
        return 2;
    }
    int cv = strcmp(canon, "simple") == 0 ? CANON_SIMPLE : CANON_RELAXED;
    struct dkim_sign_spec spec = {.domain = domain,
                                  .selector = selector,
                                  .key = key,
                                  .alg = -1,
                                  .hcanon = cv,
                                  .bcanon = cv,
                                  .timestamp = 1795000000};
    struct msg_headers hs;
    size_t body_off;
    if (msg_parse(msg, n, &hs, &body_off, &err) < 0) {
        fprintf(stderr, "dkim-bench: %s\n", err.msg);
        return 2;
    }

    /* verify: the signed message and a resolver, made once. */
    char *signed_msg = NULL;
    size_t signed_len = 0, sbody_off = 0;
    struct msg_headers shs = {0};
    struct dns *dns = NULL;
    if (strcmp(mode, "verify") == 0) {
        char *field = sign_once(&spec, msg, n, &hs, body_off, &err);
        if (!field) {
            fprintf(stderr, "dkim-bench: %s\n", err.msg);
            return 2;
        }
        size_t fl = strlen(field);
        signed_len = fl + n;
        signed_msg = malloc(signed_len);
        memcpy(signed_msg, field, fl);
        memcpy(signed_msg + fl, msg, n);
        free(field);
        if (msg_parse(signed_msg, signed_len, &shs, &sbody_off, &err) < 0) {
            fprintf(stderr, "dkim-bench: %s\n", err.msg);
            return 2;
        }
        struct dns_opts o = {.zone_file = zone};
        dns = dns_new(&o, &err);
        if (!dns) {
            fprintf(stderr, "dkim-bench: %s\n", err.msg);
            return 2;
        }
    } else if (strcmp(mode, "sign") != 0 && strcmp(mode, "bodyhash") != 0) {
        goto usage;
    }

    unsigned long ops = 0;
    int bad = 0;
    double t0 = monoclock_seconds(), t = t0;
    while (t - t0 < seconds) {
        for (int i = 0; i < 8; i++) {
            if (mode[0] == 's') {
                free(sign_once(&spec, msg, n, &hs, body_off, &err));
            } else if (mode[0] == 'b') {
                struct dkim_signer *s = dkim_signer_new(&spec, 1, &err);
                dkim_signer_body(s, (const uint8_t *)msg + body_off, n - body_off);
                dkim_signer_free(s);
            } else {
                struct dkim_verifier *v = dkim_verifier_new(shs.h, shs.n, 1795000000, &err);
                dkim_verifier_body(v, (const uint8_t *)signed_msg + sbody_off,
                                   signed_len - sbody_off);
                struct dkim_sig_result r[DKIM_MAX_SIGS];
                size_t k = dkim_verifier_finish(v, dns, r, DKIM_MAX_SIGS);
                if (k != 1 || r[0].result != DKIM_PASS)
                    bad = 1;
                dkim_verifier_free(v);
            }
            ops++;
        }
        t = monoclock_seconds();
    }
    double el = t - t0;
    size_t bytes = mode[0] == 'v' ? signed_len : n;
    printf("RESULT label=%s mode=%s canon=%s bytes=%zu ops=%lu seconds=%.3f ops_per_s=%.1f "
           "mb_per_s=%.1f\n",
           label, mode, canon, bytes, ops, el, (double)ops / el,
           (double)ops * (double)(mode[0] == 'v' ? signed_len - sbody_off : n - body_off) / el /
               1e6);
    if (bad)
        fprintf(stderr, "dkim-bench: a verification did not pass\n");
    free(hs.h);
    free(shs.h);
    free(signed_msg);
    free(msg);
    dns_free(dns);
    key_free(key);
    return bad ? 1 : 0;
usage:
    fprintf(stderr, "usage: dkim-bench -m sign|verify|bodyhash -k KEY -d DOMAIN -s SELECTOR "
                    "[-z ZONE] [-c simple|relaxed] [-t SECONDS] [-l LABEL] MESSAGE\n");
    return 2;
}
