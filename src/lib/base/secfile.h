/*
 * NAME
 *   secfile - read a small file that holds secrets, refusing loose permissions
 * SUMMARY
 *   SRS secrets and private keys must not be readable by other users. A file
 *   is refused unless it is a regular file owned by root or by owner_uid, not
 *   readable or writable by others, and not writable by its group
 *   (group-readable is allowed, so a "postsrsd"-style group can share it).
 * SYNOPSIS
 *   char *data; size_t len;
 *   if (secfile_read(path, getuid(), &data, &len, &err) == 0) { ...; secfile_free(data, len); }
 *   const char *lines[32]; size_t lens[32];
 *   int n = secfile_lines(data, len, lines, lens, 32);   one secret per line
 * DESCRIPTION
 *   secfile_lines splits a secrets file into its lines, one secret per line
 *   as SRS and the stage header keys are kept (the first signs, all
 *   verify): a line ends at LF, a CR before it (a file edited elsewhere) is
 *   dropped, empty lines are skipped. Lines point into data; nothing is
 *   copied. It returns how many lines it found (0: none), or -1 when there
 *   are more than max.
 * DIAGNOSTICS
 *   secfile_read returns 0 with *data (malloc'd, NUL after it) and *len,
 *   or -1 with err set: every failure of file_read with FILE_SECRET
 *   (fileread.h: cannot open, a symbolic link, not a regular file, over
 *   SECFILE_MAX octets, wrong owner, group-writable or readable/writable
 *   by others, a folder on the way writable by others, out of memory, a
 *   read error). secfile_lines returns the number of lines (0..max) or -1
 *   when there are more than max; it cannot fail otherwise.
 * SECURITY
 *   The contents never appear in error text. secfile_free wipes the buffer.
 *   Files over SECFILE_MAX bytes are refused.
 */
#ifndef FWDAUTH_SECFILE_H
#define FWDAUTH_SECFILE_H

#include "err.h"

#include <stddef.h>
#include <sys/types.h>

#define SECFILE_MAX (64 * 1024)

int secfile_read(const char *path, uid_t owner_uid, char **data, size_t *len, fa_err *err);
void secfile_free(char *data, size_t len);
int secfile_lines(const char *data, size_t len, const char **lines, size_t *lens, size_t max);

#endif
