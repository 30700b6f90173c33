/* signing - DKIM signing options and one-message signing for the CLI; see signing.h. */
#include "signing.h"

#include "cli.h"
#include "fromhdr.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void cli_sign_args_init(struct cli_sign_args *a)
{
    memset(a, 0, sizeof(*a));
    a->hcanon = CANON_RELAXED;
    a->bcanon = CANON_RELAXED;
}

static int parse_canon(const char *v, int *h, int *b)
{
    const char *slash = strchr(v, '/');
    size_t hl = slash ? (size_t)(slash - v) : strlen(v);
    *h = canon_parse(v, hl);
    *b = slash ? canon_parse(slash + 1, strlen(slash + 1)) : CANON_SIMPLE;
    return *h < 0 || *b < 0 ? -1 : 0;
}

int cli_sign_option(struct cli_sign_args *a, int c, const char *v, const char *prog)
{
    switch (c) {
    case 'd':
    case 's':
    case 'k':
    case 'a': {
        size_t *count = c == 'd' ? &a->nd : c == 's' ? &a->ns : c == 'k' ? &a->nk : &a->na;
        if (*count == DKIM_MAX_SIGS) {
            fprintf(stderr, "%s: at most %d signatures\n", prog, DKIM_MAX_SIGS);
            return -1;
        }
        if (c == 'd')
            a->domains[a->nd++] = v;
        else if (c == 's')
            a->selectors[a->ns++] = v;
        else if (c == 'k')
            a->keyfiles[a->nk++] = v;
        else if (strcmp(v, "rsa-sha256") == 0)
            a->algs[a->na++] = DKIM_RSA_SHA256;
        else if (strcmp(v, "ed25519-sha256") == 0)
            a->algs[a->na++] = DKIM_ED25519_SHA256;
        else {
            fprintf(stderr, "%s: -a wants rsa-sha256 or ed25519-sha256\n", prog);
            return -1;
        }
        return 1;
    }
    case 'H':
        a->headers = v;
        return 1;
    case 'i':
        a->identity = v;
        return 1;
    case CLI_SIGN_OPT_CANON:
        if (parse_canon(v, &a->hcanon, &a->bcanon) < 0) {
            fprintf(stderr, "%s: --canon wants simple|relaxed[/simple|relaxed]\n", prog);
            return -1;
        }
        return 1;
    case CLI_SIGN_OPT_TS:
    case CLI_SIGN_OPT_EXPIRE:
        if (cli_parse_seconds(v, c == CLI_SIGN_OPT_TS ? &a->ts : &a->expire) < 0) {
            fprintf(stderr, "%s: %s wants a number of seconds\n", prog,
                    c == CLI_SIGN_OPT_TS ? "--timestamp" : "--expire");
            return -1;
        }
        return 1;
    case CLI_SIGN_OPT_QTAG:
        a->query_tag = 1;
        return 1;
    case CLI_SIGN_OPT_BODYLEN:
        a->body_length = 1;
        return 1;
    default:
        return 0;
    }
}

int cli_sign_requested(const struct cli_sign_args *a)
{
    return a->nd || a->ns || a->nk || a->na;
}

int cli_signer_load(struct cli_signer *s, const struct cli_sign_args *a, const char *prog)
{
    memset(s, 0, sizeof(*s));
    if (a->nd == 0 || a->nd != a->ns || a->nd != a->nk || (a->na && a->na != a->nd)) {
        fprintf(stderr, "%s: each signature needs -d, -s and -k (and -a for all or none)\n", prog);
        return -1;
    }
    for (size_t i = 0; i < a->nd; i++) {
        fa_err err;
        s->keys[i] = key_load_private(a->keyfiles[i], geteuid(), &err);
        if (!s->keys[i]) {
            fprintf(stderr, "%s: %s\n", prog, err.msg);
            cli_signer_free(s);
            return -1;
        }
        s->n = i + 1;
        s->specs[i] = (struct dkim_sign_spec){
            .domain = a->domains[i],
            .selector = a->selectors[i],
            .key = s->keys[i],
            .alg = a->na ? a->algs[i] : -1,
            .hcanon = a->hcanon,
            .bcanon = a->bcanon,
            .headers = a->headers,
            .identity = a->identity,
            .timestamp = (time_t)a->ts,
            .expire = a->expire ? (time_t)((a->ts ? a->ts : (long long)time(NULL)) + a->expire) : 0,
            .body_length = a->body_length,
            .query_tag = a->query_tag,
        };
    }
    return 0;
}

void cli_signer_free(struct cli_signer *s)
{
    for (size_t i = 0; i < s->n; i++)
        key_free(s->keys[i]);
    s->n = 0;
}

int cli_check_signable(const struct msg_reader *r, const char *prog, const char *name)
{
    if (r->headers.n == 0) {
        fprintf(stderr,
                "%s: %s: not a message (it does not start with a header field): not signed\n", prog,
                name);
        return -1;
    }
    struct from_info fi;
    switch (from_read(r->headers.h, r->headers.n, &fi)) {
    case FROM_OK:
    case FROM_REPAIRED:
        return 0;
    case FROM_ABSENT:
        fprintf(stderr,
                "%s: %s: no From: field: a signature must cover From: (RFC 6376 section 5.4) and "
                "one without it can never align for DMARC: not signed\n",
                prog, name);
        return -1;
    default:
        fprintf(stderr,
                "%s: %s: From: names no single author that receivers can read (%s%s%s), so no "
                "receiver can tell whose domain the signature vouches for: not signed\n",
                prog, name, fi.why, fi.detail[0] ? ": " : "", fi.detail);
        return -1;
    }
}

struct sign_ctx {
    struct dkim_signer *s;
    const char *prog, *name;
};

static int sign_headers(void *ctx, struct msg_reader *r)
{
    const struct sign_ctx *c = ctx;
    return cli_check_signable(r, c->prog, c->name);
}

static void sink_body(void *ctx, const uint8_t *p, size_t n)
{
    const struct sign_ctx *c = ctx;
    dkim_signer_body(c->s, p, n);
}

int cli_sign_input(const struct cli_signer *sg, struct cli_input *in, FILE *out, const char *prog)
{
    fa_err err;
    struct dkim_signer *s = dkim_signer_new(sg->specs, sg->n, &err);
    if (!s) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        return EXIT_TROUBLE;
    }
    struct msg_reader r;
    msg_reader_init(&r);
    int status = EXIT_TROUBLE;
    char *fields[DKIM_MAX_SIGS] = {0};
    struct sign_ctx sc = {s, prog, in->name};
    if (cli_input_read(in, &r, sign_headers, sink_body, &sc) < 0)
        goto done;
    if (dkim_signer_finish(s, r.headers.h, r.headers.n, r.crlf || r.headers.n == 0 ? "\r\n" : "\n",
                           fields, &err) < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, in->name, err.msg);
        goto done;
    }
    /* The last signature requested is the topmost field, as a chain of
     * signers would add them. */
    for (size_t i = sg->n; i-- > 0;)
        fputs(fields[i], out);
    if (cli_input_copy(in, out) < 0)
        goto done;
    status = fflush(out) == 0 ? EXIT_POSITIVE : EXIT_TROUBLE;
    if (status != EXIT_POSITIVE)
        fprintf(stderr, "%s: write error: %s\n", prog, strerror(errno));
done:
    for (size_t i = 0; i < sg->n; i++)
        free(fields[i]);
    msg_reader_free(&r);
    dkim_signer_free(s);
    return status;
}

int cli_sign_message(const struct cli_signer *s, const char *path, FILE *out, const char *prog)
{
    struct cli_input in;
    if (cli_input_open(&in, path, 1) < 0)
        return EXIT_TROUBLE;
    int status = cli_sign_input(s, &in, out, prog);
    cli_input_close(&in);
    return status;
}
