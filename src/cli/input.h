/*
 * NAME
 *   input - read a message once for hashing, then copy its original bytes
 * SUMMARY
 *   Commands that add header fields (dkim sign, arc sign) must hash the whole
 *   body before they can write the new fields above it. A regular file is
 *   read twice (seek back); standard input or a pipe is spooled to an
 *   unlinked temporary file while it is read. Memory stays constant however
 *   large the message is.
 * SYNOPSIS
 *   struct cli_input in;
 *   if (cli_input_open(&in, path_or_NULL, 1) < 0) return EXIT_TROUBLE;
 *   cli_input_read(&in, &reader, headers_fn, body_fn, ctx);   headers, then body chunks
 *   cli_input_copy(&in, stdout);                   the original bytes, unchanged
 *   cli_input_close(&in);
 * DIAGNOSTICS
 *   Errors are printed with the input's name (these are front-end helpers).
 */
#ifndef FWDAUTH_CLI_INPUT_H
#define FWDAUTH_CLI_INPUT_H

#include "msg.h"

#include <stdint.h>
#include <stdio.h>

struct cli_input {
    int fd;     /* the input */
    int spool;  /* temporary copy of a non-seekable input, or -1 */
    int rewind; /* a second pass will be needed */
    const char *name;
};

typedef void (*cli_body_fn)(void *ctx, const uint8_t *p, size_t n);
/* Called once, when the header section is complete and before any body
 * byte is passed on; returns 0, or -1 to stop. */
typedef int (*cli_headers_fn)(void *ctx, struct msg_reader *r);

int cli_input_open(struct cli_input *in, const char *path, int rewind);
int cli_input_read(struct cli_input *in, struct msg_reader *r, cli_headers_fn headers,
                   cli_body_fn body, void *ctx);
int cli_input_copy(struct cli_input *in, FILE *out);
void cli_input_close(struct cli_input *in);

#endif
