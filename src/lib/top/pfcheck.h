/*
 * NAME
 *   pfcheck - Postfix content checks that change mail around the milter
 * SUMMARY
 *   Postfix's cleanup(8) applies header_checks, mime_header_checks,
 *   nested_header_checks and body_checks while it writes the queue file,
 *   before the milters see the message; the smtp(8) client applies the
 *   smtp_* variants after them, on the way out. A REPLACE or PREPEND
 *   action in the former changes mail before fwdauthd verifies it (a valid
 *   signature then fails and a p=reject sender is refused); in the latter
 *   it changes mail after fwdauthd signed and sealed it (our signature and
 *   ARC-Message-Signature then fail at the next hop). pfcheck finds such
 *   actions in a table's text, for `fwdauthd -t` and `fwdauth doctor`.
 * SYNOPSIS
 *   unsigned line;
 *   if (pfcheck_table_modifies(text, len, &line) == 1)  warn, naming line
 *   const char *p = "regexp:/etc/postfix/hc, pcre:/etc/postfix/x"; struct pfcheck_map m;
 *   while (pfcheck_next_map(&p, &m) == 1)  m.type "regexp", m.path "/etc/postfix/hc"
 *   pfcheck_scan("header_checks", value_from_postconf, on_found, arg);
 *   pfcheck_describe(param, &m, line, text, sizeof(text));   the warning's words
 * DESCRIPTION
 *   pfcheck_table_modifies reads the source text of a lookup table as
 *   Postfix's regexp_table(5) and pcre_table(5) write it ("/pattern/flags
 *   ACTION text", "!/pattern/ ...", if/endif blocks) or as the text of an
 *   indexed table (hash, lmdb, cdb: "key ACTION text"): blank lines and
 *   lines starting with "#" are skipped, a line starting with white space
 *   continues the previous one (header_checks(5)). The action is the
 *   first word after the pattern or key; REPLACE and PREPEND (any letter
 *   case) change the message.
 *   pfcheck_next_map walks a Postfix list of tables (comma or white space
 *   separated "type:name") and returns each; a table without a file of its
 *   own (inline:, static:, a proxy, a socket) has path "".
 *   pfcheck_scan reads each table of one parameter's value (as postconf
 *   prints it) from its file (file_read, at most PFCHECK_FILE_MAX octets;
 *   tables without a file, or whose file cannot be read, are skipped) and
 *   calls found for each that changes messages, with the line of its
 *   first such rule; pfcheck_describe says in one sentence what that does
 *   to forwarded mail and what to use instead. `fwdauthd -t` and `fwdauth
 *   doctor` both use them (each runs postconf its own way: the library
 *   runs no process).
 * DIAGNOSTICS
 *   pfcheck_table_modifies: 1 with *line (from 1) of the first such rule,
 *   0 none. pfcheck_next_map: 1 with *m, 0 at the end of the list.
 *   pfcheck_scan: how many tables it found. pfcheck_describe: the text's
 *   length (cut to fit n).
 */
#ifndef FWDAUTH_PFCHECK_H
#define FWDAUTH_PFCHECK_H

#include <stddef.h>

#define PFCHECK_NAME_MAX 1024
#define PFCHECK_FILE_MAX (4 * 1024 * 1024) /* a table's text read by pfcheck_scan */

struct pfcheck_map {
    char type[32];                /* "regexp", "pcre", "hash", ... */
    char path[PFCHECK_NAME_MAX];  /* the file whose text holds the rules, or "" */
    char whole[PFCHECK_NAME_MAX]; /* the list entry as written */
};

int pfcheck_table_modifies(const char *text, size_t n, unsigned *line);
int pfcheck_next_map(const char **list, struct pfcheck_map *m);

/* The Postfix parameters whose tables run before the milter (before = 1)
 * or after it (before = 0); NULL-terminated. */
extern const char *const pfcheck_params_before[];
extern const char *const pfcheck_params_after[];

/* 1 when param is one of pfcheck_params_before, 0 otherwise. */
int pfcheck_param_before(const char *param);

typedef void (*pfcheck_found_fn)(void *arg, const char *param, const struct pfcheck_map *m,
                                 unsigned line);
int pfcheck_scan(const char *param, const char *value, pfcheck_found_fn found, void *arg);
int pfcheck_describe(const char *param, const struct pfcheck_map *m, unsigned line, char *out,
                     size_t n);

#endif
