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
 * DIAGNOSTICS
 *   pfcheck_table_modifies: 1 with *line (from 1) of the first such rule,
 *   0 none. pfcheck_next_map: 1 with *m, 0 at the end of the list.
 */
#ifndef FWDAUTH_PFCHECK_H
#define FWDAUTH_PFCHECK_H

#include <stddef.h>

#define PFCHECK_NAME_MAX 1024

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

#endif
