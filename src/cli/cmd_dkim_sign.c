/* fwdauth dkim sign: add DKIM-Signature fields to messages, one pass each. */
#include "cli.h"
#include "dkim.h"
#include "input.h"
#include "keys.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void sign_usage(FILE *f)
{
    fprintf(f, "usage: fwdauth dkim sign -d DOMAIN -s SELECTOR -k KEYFILE [-a ALG] [...]\n"
               "                         [options] [FILE... | < message]\n"
               "\n"
               "Signs each message and writes it, DKIM-Signature first, to standard output\n"
               "(one FILE) or to DIR/<name> (--out-dir). Repeat -d/-s/-k/-a to add several\n"
               "signatures in one pass (for example RSA and Ed25519).\n"
               "\n"
               "  -d DOMAIN          signing domain (d=)\n"
               "  -s SELECTOR        selector (s=); the key is at SELECTOR._domainkey.DOMAIN\n"
               "  -k KEYFILE         PEM private key (RSA 1024-4096 bits or Ed25519), not\n"
               "                     readable by others\n"
               "  -a ALG             rsa-sha256 or ed25519-sha256 (default: from the key)\n"
               "  --canon H/B        header/body canonicalization (default relaxed/relaxed)\n"
               "  -H h1:h2:...       fields to sign (default: the usual ones, oversigned)\n"
               "  -i IDENTITY        agent or user identifier (i=), within DOMAIN\n"
               "  --timestamp T      t= value (seconds since 1970; default now)\n"
               "  --expire SECONDS   add x= that many seconds after t=\n"
               "  --body-length      add l= (lets anyone append to the body: not advised)\n"
               "  --query-tag        add q=dns/txt (the default method; for old verifiers)\n"
               "  --out-dir DIR      write each signed FILE to DIR/<name of FILE>\n"
               "  -c FILE            configuration file\n"
               "\n"
               "exit status: 0 signed, 2 usage, key or I/O error\n");
}

struct sign_opts {
    struct dkim_sign_spec specs[DKIM_MAX_SIGS];
    struct fa_key *keys[DKIM_MAX_SIGS];
    size_t n;
    const char *out_dir;
};

static void sink_body(void *ctx, const uint8_t *p, size_t n)
{
    dkim_signer_body(ctx, p, n);
}

/* Sign one message from path (NULL = stdin) to out. */
static int sign_one(const struct sign_opts *o, const char *path, FILE *out)
{
    fa_err err;
    struct cli_input in;
    if (cli_input_open(&in, path, 1) < 0)
        return EXIT_TROUBLE;
    struct dkim_signer *s = dkim_signer_new(o->specs, o->n, &err);
    if (!s) {
        fprintf(stderr, "fwdauth dkim sign: %s\n", err.msg);
        cli_input_close(&in);
        return EXIT_TROUBLE;
    }
    struct msg_reader r;
    msg_reader_init(&r);
    int status = EXIT_TROUBLE;
    char *fields[DKIM_MAX_SIGS] = {0};
    if (cli_input_read(&in, &r, NULL, sink_body, s) < 0)
        goto done;
    if (dkim_signer_finish(s, r.headers.h, r.headers.n, r.crlf || r.headers.n == 0 ? "\r\n" : "\n",
                           fields, &err) < 0) {
        fprintf(stderr, "fwdauth dkim sign: %s: %s\n", in.name, err.msg);
        goto done;
    }
    /* The last signature requested is the topmost field, as a chain of
     * signers would add them. */
    for (size_t i = o->n; i-- > 0;)
        fputs(fields[i], out);
    if (cli_input_copy(&in, out) < 0)
        goto done;
    status = fflush(out) == 0 ? EXIT_POSITIVE : EXIT_TROUBLE;
    if (status != EXIT_POSITIVE)
        fprintf(stderr, "fwdauth dkim sign: write error: %s\n", strerror(errno));
done:
    for (size_t i = 0; i < o->n; i++)
        free(fields[i]);
    msg_reader_free(&r);
    dkim_signer_free(s);
    cli_input_close(&in);
    return status;
}

static int sign_to_dir(const struct sign_opts *o, const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return EXIT_TROUBLE;
    char outpath[4096];
    int n = snprintf(outpath, sizeof(outpath), "%s/%s", o->out_dir, basename(copy));
    free(copy);
    if (n < 0 || (size_t)n >= sizeof(outpath)) {
        fprintf(stderr, "fwdauth dkim sign: output path too long\n");
        return EXIT_TROUBLE;
    }
    FILE *out = fopen(outpath, "w");
    if (!out) {
        fprintf(stderr, "fwdauth dkim sign: cannot write %s: %s\n", outpath, strerror(errno));
        return EXIT_TROUBLE;
    }
    int rc = sign_one(o, path, out);
    if (fclose(out) != 0 && rc == EXIT_POSITIVE) {
        fprintf(stderr, "fwdauth dkim sign: cannot write %s: %s\n", outpath, strerror(errno));
        rc = EXIT_TROUBLE;
    }
    return rc;
}

static int parse_canon(const char *v, int *h, int *b)
{
    const char *slash = strchr(v, '/');
    size_t hl = slash ? (size_t)(slash - v) : strlen(v);
    *h = canon_parse(v, hl);
    *b = slash ? canon_parse(slash + 1, strlen(slash + 1)) : CANON_SIMPLE;
    return *h < 0 || *b < 0 ? -1 : 0;
}

static int parse_time(const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long t = strtoll(v, &end, 10);
    if (errno || *end || end == v || t < 0)
        return -1;
    *out = t;
    return 0;
}

int cmd_dkim_sign(int argc, char **argv)
{
    enum { OPT_CANON = 256, OPT_TS, OPT_EXPIRE, OPT_BODYLEN, OPT_OUTDIR, OPT_QTAG };
    static const struct option longopts[] = {
        {"domain", required_argument, NULL, 'd'},
        {"selector", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"algorithm", required_argument, NULL, 'a'},
        {"headers", required_argument, NULL, 'H'},
        {"identity", required_argument, NULL, 'i'},
        {"config", required_argument, NULL, 'c'},
        {"canon", required_argument, NULL, OPT_CANON},
        {"timestamp", required_argument, NULL, OPT_TS},
        {"expire", required_argument, NULL, OPT_EXPIRE},
        {"body-length", no_argument, NULL, OPT_BODYLEN},
        {"query-tag", no_argument, NULL, OPT_QTAG},
        {"out-dir", required_argument, NULL, OPT_OUTDIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *domains[DKIM_MAX_SIGS], *selectors[DKIM_MAX_SIGS], *keyfiles[DKIM_MAX_SIGS];
    int algs[DKIM_MAX_SIGS];
    size_t nd = 0, ns = 0, nk = 0, na = 0;
    int hcanon = CANON_RELAXED, bcanon = CANON_RELAXED, body_length = 0, query_tag = 0, c;
    const char *headers = NULL, *identity = NULL, *out_dir = NULL;
    long long ts = 0, expire = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:s:k:a:H:i:c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
        case 's':
        case 'k':
        case 'a': {
            size_t *count = c == 'd' ? &nd : c == 's' ? &ns : c == 'k' ? &nk : &na;
            if (*count == DKIM_MAX_SIGS) {
                fprintf(stderr, "fwdauth dkim sign: at most %d signatures\n", DKIM_MAX_SIGS);
                return EXIT_TROUBLE;
            }
            if (c == 'd')
                domains[nd++] = optarg;
            else if (c == 's')
                selectors[ns++] = optarg;
            else if (c == 'k')
                keyfiles[nk++] = optarg;
            else if (strcmp(optarg, "rsa-sha256") == 0)
                algs[na++] = DKIM_RSA_SHA256;
            else if (strcmp(optarg, "ed25519-sha256") == 0)
                algs[na++] = DKIM_ED25519_SHA256;
            else {
                fprintf(stderr, "fwdauth dkim sign: -a wants rsa-sha256 or ed25519-sha256\n");
                return EXIT_TROUBLE;
            }
            break;
        }
        case 'H':
            headers = optarg;
            break;
        case 'i':
            identity = optarg;
            break;
        case 'c':
            break; /* no signing settings in the config yet; accepted for uniformity */
        case OPT_CANON:
            if (parse_canon(optarg, &hcanon, &bcanon) < 0) {
                fprintf(stderr,
                        "fwdauth dkim sign: --canon wants simple|relaxed[/simple|relaxed]\n");
                return EXIT_TROUBLE;
            }
            break;
        case OPT_TS:
        case OPT_EXPIRE:
            if (parse_time(optarg, c == OPT_TS ? &ts : &expire) < 0) {
                fprintf(stderr, "fwdauth dkim sign: %s wants a number of seconds\n",
                        c == OPT_TS ? "--timestamp" : "--expire");
                return EXIT_TROUBLE;
            }
            break;
        case OPT_BODYLEN:
            body_length = 1;
            break;
        case OPT_QTAG:
            query_tag = 1;
            break;
        case OPT_OUTDIR:
            out_dir = optarg;
            break;
        case 'h':
            sign_usage(stdout);
            return EXIT_POSITIVE;
        default:
            sign_usage(stderr);
            return EXIT_TROUBLE;
        }
    }
    if (nd == 0 || nd != ns || nd != nk || (na && na != nd)) {
        fprintf(stderr, "fwdauth dkim sign: each signature needs -d, -s and -k (and -a for "
                        "all or none)\n");
        return EXIT_TROUBLE;
    }
    int nfiles = argc - optind;
    if (nfiles > 1 && !out_dir) {
        fprintf(stderr, "fwdauth dkim sign: several files need --out-dir\n");
        return EXIT_TROUBLE;
    }
    if (out_dir && nfiles == 0) {
        fprintf(stderr, "fwdauth dkim sign: --out-dir needs FILE arguments\n");
        return EXIT_TROUBLE;
    }

    struct sign_opts o = {.n = nd, .out_dir = out_dir};
    int status = EXIT_POSITIVE;
    for (size_t i = 0; i < nd; i++) {
        fa_err err;
        o.keys[i] = key_load_private(keyfiles[i], geteuid(), &err);
        if (!o.keys[i]) {
            fprintf(stderr, "fwdauth dkim sign: %s\n", err.msg);
            status = EXIT_TROUBLE;
            goto out;
        }
        o.specs[i] = (struct dkim_sign_spec){
            .domain = domains[i],
            .selector = selectors[i],
            .key = o.keys[i],
            .alg = na ? algs[i] : -1,
            .hcanon = hcanon,
            .bcanon = bcanon,
            .headers = headers,
            .identity = identity,
            .timestamp = (time_t)ts,
            .expire = expire ? (time_t)((ts ? ts : (long long)time(NULL)) + expire) : 0,
            .body_length = body_length,
            .query_tag = query_tag,
        };
    }
    if (nfiles == 0)
        status = sign_one(&o, NULL, stdout);
    for (int i = optind; i < argc && status == EXIT_POSITIVE; i++)
        status = out_dir ? sign_to_dir(&o, argv[i]) : sign_one(&o, argv[i], stdout);
out:
    for (size_t i = 0; i < nd; i++)
        key_free(o.keys[i]);
    return status;
}
