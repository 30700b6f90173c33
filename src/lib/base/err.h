/*
 * NAME
 *   err - error text that library functions fill for their callers
 * SUMMARY
 *   Library functions never print. They return a status (0 success, -1 error,
 *   or a module-specific enum) and, on error, write one line of text into a
 *   caller-owned fa_err that a front end may show or log.
 * SYNOPSIS
 *   fa_err err = {0};
 *   if (config_load(path, &cfg, &err) < 0) fprintf(stderr, "%s\n", err.msg);
 *   return fa_err_errno(err, errno, "cannot open %s", path);
 * DESCRIPTION
 *   The text is for people, never for code: no caller may classify a
 *   failure by the text or by comparing a reason pointer. A module whose
 *   callers must tell failures apart returns a documented enum (its
 *   header's DIAGNOSTICS names every value) and fills the text beside it.
 *   err may be NULL where the caller does not want the text.
 * DIAGNOSTICS
 *   fa_err_set and fa_err_errno always return -1. Text longer than
 *   FA_ERR_MAX - 1 octets is truncated.
 * SECURITY
 *   The text is bounded (truncated, never overflowed) and must never contain
 *   secrets or key material: callers format only names, paths and positions.
 */
#ifndef FWDAUTH_ERR_H
#define FWDAUTH_ERR_H

#include <stddef.h>

#define FA_ERR_MAX 512

typedef struct fa_err {
    char msg[FA_ERR_MAX];
} fa_err;

/* Format an error message into err (which may be NULL); returns -1 so that
 * callers can write `return fa_err_set(err, "...")`. */
int fa_err_set(fa_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like fa_err_set, then appends ": strerror(errno_value)". */
int fa_err_errno(fa_err *err, int errno_value, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
