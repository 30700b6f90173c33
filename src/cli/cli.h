/*
 * NAME
 *   cli - shared pieces of the fwdauth command's front end
 * SUMMARY
 *   Each subcommand is a function `int cmd_X(int argc, char **argv)` that
 *   parses its own options (argv[0] is the subcommand name) and returns the
 *   exit status: 0 success or positive result, 1 negative result, 2 usage,
 *   configuration or I/O error. Only the front end prints.
 */
#ifndef FWDAUTH_CLI_H
#define FWDAUTH_CLI_H

#include "config.h"

#include <stdio.h>

enum { EXIT_POSITIVE = 0, EXIT_NEGATIVE = 1, EXIT_TROUBLE = 2 };

int cmd_srs(int argc, char **argv);

/* Start from defaults, then read FILE when given; prints errors. 0 or -1. */
int cli_load_config(struct fa_config *cfg, const char *file);

/* Print s as a JSON string (with quotes) to f. */
void cli_json_string(FILE *f, const char *s, size_t n);

#endif
