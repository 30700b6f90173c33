/*
 * NAME
 *   signing - DKIM signing options and one-message signing, shared by the
 *   commands that sign (dkim sign, send)
 * SUMMARY
 *   The signing options (-d -s -k [-a], repeatable; --canon, -H, -i,
 *   --timestamp, --expire, --body-length, --query-tag) are parsed the same way by every
 *   command that signs; the keys are loaded once; each message is read in
 *   one streaming pass (input.h) and written, DKIM-Signature fields first
 *   (the last requested signature on top), then its original bytes.
 * SYNOPSIS
 *   static const struct option longopts[] = { CLI_SIGN_LONGOPTS, ..., {0} };
 *   struct cli_sign_args a; cli_sign_args_init(&a);
 *   while ((c = getopt_long(argc, argv, CLI_SIGN_SHORTOPTS "c:h", longopts, NULL)) != -1) {
 *       int r = cli_sign_option(&a, c, optarg, "fwdauth dkim sign");
 *       if (r < 0) return EXIT_TROUBLE;
 *       if (r > 0) continue;
 *       ... the command's own options ...
 *   }
 *   struct cli_signer s;
 *   if (cli_signer_load(&s, &a, "fwdauth dkim sign") < 0) return EXIT_TROUBLE;
 *   status = cli_sign_message(&s, path_or_NULL, stdout, "fwdauth dkim sign");
 *   cli_signer_free(&s);
 * DIAGNOSTICS
 *   Front-end helpers: errors are printed to stderr, prefixed with prog.
 *   cli_sign_message and cli_sign_input return EXIT_POSITIVE or EXIT_TROUBLE
 *   (also for a message cli_check_signable refuses: nothing is written).
 */
#ifndef FWDAUTH_CLI_SIGNING_H
#define FWDAUTH_CLI_SIGNING_H

#include "dkim.h"
#include "input.h"
#include "keys.h"

#include <stdio.h>

/* Codes of the long-only signing options; commands number their own below. */
enum {
    CLI_SIGN_OPT_CANON = 0x1000,
    CLI_SIGN_OPT_TS,
    CLI_SIGN_OPT_EXPIRE,
    CLI_SIGN_OPT_BODYLEN,
    CLI_SIGN_OPT_QTAG,
};

#define CLI_SIGN_SHORTOPTS "d:s:k:a:H:i:"
/* clang-format off */
#define CLI_SIGN_LONGOPTS                                          \
    {"domain", required_argument, NULL, 'd'},                      \
    {"selector", required_argument, NULL, 's'},                    \
    {"key", required_argument, NULL, 'k'},                         \
    {"algorithm", required_argument, NULL, 'a'},                   \
    {"headers", required_argument, NULL, 'H'},                     \
    {"identity", required_argument, NULL, 'i'},                    \
    {"canon", required_argument, NULL, CLI_SIGN_OPT_CANON},        \
    {"timestamp", required_argument, NULL, CLI_SIGN_OPT_TS},       \
    {"expire", required_argument, NULL, CLI_SIGN_OPT_EXPIRE},      \
    {"body-length", no_argument, NULL, CLI_SIGN_OPT_BODYLEN},      \
    {"query-tag", no_argument, NULL, CLI_SIGN_OPT_QTAG}
/* clang-format on */

/* The signing options as given. */
struct cli_sign_args {
    const char *domains[DKIM_MAX_SIGS], *selectors[DKIM_MAX_SIGS], *keyfiles[DKIM_MAX_SIGS];
    int algs[DKIM_MAX_SIGS];
    size_t nd, ns, nk, na;
    int hcanon, bcanon, body_length, query_tag;
    const char *headers, *identity;
    long long ts, expire;
};

/* Ready to sign: one spec (and loaded key) per signature. */
struct cli_signer {
    struct dkim_sign_spec specs[DKIM_MAX_SIGS];
    struct fa_key *keys[DKIM_MAX_SIGS];
    size_t n;
};

void cli_sign_args_init(struct cli_sign_args *a);
/* Take getopt's option c with value v if it is a signing option: returns
 * 1 taken, 0 not a signing option, -1 bad value (printed). */
int cli_sign_option(struct cli_sign_args *a, int c, const char *v, const char *prog);
/* Did the command line ask for any signature? */
int cli_sign_requested(const struct cli_sign_args *a);
/* Check that each signature has -d, -s and -k (and -a for all or none),
 * load the keys (refusing files others can read). 0, or -1 (printed). */
int cli_signer_load(struct cli_signer *s, const struct cli_sign_args *a, const char *prog);
void cli_signer_free(struct cli_signer *s);

/* May this message be signed (DKIM or ARC)? Not when it has no header
 * field (empty input, or bytes that are not a message), nor when its From:
 * is absent or names no single author receivers can read (fromhdr.h: the
 * milter signs none of these either): such a signature never aligns, and a
 * signature over an ambiguous From: vouches for whichever author a
 * receiver picks. 0, or -1 with the reason printed as "PROG: NAME: ...". */
int cli_check_signable(const struct msg_reader *r, const char *prog, const char *name);
/* Sign the message at path (NULL or "-" = standard input) to out. */
int cli_sign_message(const struct cli_signer *s, const char *path, FILE *out, const char *prog);
/* The same for an input already opened with cli_input_open(.., rewind=1)
 * (or a seekable fd set up by the caller); the caller closes it. */
int cli_sign_input(const struct cli_signer *s, struct cli_input *in, FILE *out, const char *prog);

#endif
