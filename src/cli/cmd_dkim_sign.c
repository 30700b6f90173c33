/* fwdauth dkim sign: add DKIM-Signature fields to messages, one pass each. */
#include "cli.h"
#include "signing.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

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

static int sign_to_dir(const struct cli_signer *s, const char *out_dir, const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return EXIT_TROUBLE;
    char outpath[4096];
    int n = snprintf(outpath, sizeof(outpath), "%s/%s", out_dir, basename(copy));
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
    int rc = cli_sign_message(s, path, out, "fwdauth dkim sign");
    if (fclose(out) != 0 && rc == EXIT_POSITIVE) {
        fprintf(stderr, "fwdauth dkim sign: cannot write %s: %s\n", outpath, strerror(errno));
        rc = EXIT_TROUBLE;
    }
    return rc;
}

int cmd_dkim_sign(int argc, char **argv)
{
    enum { OPT_OUTDIR = 256 };
    static const struct option longopts[] = {
        CLI_SIGN_LONGOPTS,
        {"config", required_argument, NULL, 'c'},
        {"out-dir", required_argument, NULL, OPT_OUTDIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_sign_args sa;
    cli_sign_args_init(&sa);
    const char *out_dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, CLI_SIGN_SHORTOPTS "c:h", longopts, NULL)) != -1) {
        int r = cli_sign_option(&sa, c, optarg, "fwdauth dkim sign");
        if (r < 0)
            return EXIT_TROUBLE;
        if (r > 0)
            continue;
        switch (c) {
        case 'c': {
            /* No signing settings yet, but a bad file is an error everywhere. */
            struct fa_config cfg;
            if (cli_load_config(&cfg, optarg) < 0)
                return EXIT_TROUBLE;
            config_free(&cfg);
            break;
        }
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
    int nfiles = argc - optind;
    if (nfiles > 1 && !out_dir) {
        fprintf(stderr, "fwdauth dkim sign: several files need --out-dir\n");
        return EXIT_TROUBLE;
    }
    if (out_dir && nfiles == 0) {
        fprintf(stderr, "fwdauth dkim sign: --out-dir needs FILE arguments\n");
        return EXIT_TROUBLE;
    }
    struct cli_signer s;
    if (cli_signer_load(&s, &sa, "fwdauth dkim sign") < 0)
        return EXIT_TROUBLE;
    int status = EXIT_POSITIVE;
    if (nfiles == 0)
        status = cli_sign_message(&s, NULL, stdout, "fwdauth dkim sign");
    for (int i = optind; i < argc && status == EXIT_POSITIVE; i++)
        status = out_dir ? sign_to_dir(&s, out_dir, argv[i])
                         : cli_sign_message(&s, argv[i], stdout, "fwdauth dkim sign");
    cli_signer_free(&s);
    return status;
}
