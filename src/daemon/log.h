/*
 * NAME
 *   log - fwdauthd's one place that prints: syslog or standard error
 * SUMMARY
 *   log_msg writes one line per event to syslog (facility LOG_MAIL, ident
 *   "fwdauthd", with the process id) or, when the daemon runs in the
 *   foreground (-f), to standard error with a time stamp. Messages above the
 *   configured level (error < warning < info < debug) are dropped before
 *   they are formatted.
 * SYNOPSIS
 *   log_open(foreground);
 *   log_reopen();           in a forked child that closed its inherited descriptors
 *   log_set_level(FA_LOG_INFO);
 *   if (log_enabled(FA_LOG_DEBUG)) log_msg(FA_LOG_DEBUG, "srs forward: %s -> %s", a, b);
 * DESCRIPTION
 *   Levels are enum fa_log_level from config.h. The level may change at any
 *   time (SIGHUP); reads and writes of it are atomic.
 * SECURITY
 *   Callers never pass secrets or key material. Every message is cut at
 *   LOG_LINE_MAX bytes and control characters (including CR and LF) are
 *   written as "?", so text from clients (addresses, map names) cannot forge
 *   log lines or make one event span two lines.
 *   Thread-safe: each line is written with one write(2) or syslog(3) call.
 *   log_open connects to syslog at once (LOG_NDELAY), so logging keeps
 *   working after a chroot; log_reopen connects again (a child of the
 *   master closes every descriptor it does not need, the syslog socket
 *   too: call it before chroot).
 * DIAGNOSTICS
 *   None: a line that cannot be written is lost.
 */
#ifndef FWDAUTHD_LOG_H
#define FWDAUTHD_LOG_H

#include "config.h"

#define LOG_LINE_MAX 2048

void log_open(int foreground);
void log_reopen(void);
void log_set_level(int level);
int log_get_level(void);
int log_enabled(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
