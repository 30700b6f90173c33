/*
 * NAME
 *   fileread - read a whole file, bounded, checked on the descriptor opened
 * SUMMARY
 *   The one reader for the files the daemon and the CLI load whole: the
 *   configuration, zone files, footer texts, secrets and private keys.
 * SYNOPSIS
 *   char *data; size_t len;
 *   if (file_read(path, CONFIG_MAX_FILE, 0, 0, &data, &len, &err) < 0) fail(err.msg);
 *   ... data[len] == '\0' ...
 *   file_free(data, len);
 *   file_read(path, SECFILE_MAX, FILE_SECRET, daemon_uid, &data, &len, &err)
 * DESCRIPTION
 *   The file is opened with O_NONBLOCK (a FIFO or device named by mistake
 *   cannot block the caller: it is refused as not a regular file before
 *   anything is read) and checked with fstat on the descriptor, not the
 *   name, so it cannot be swapped between check and read. It must be a
 *   regular file of at most max octets. The data gets a NUL after it (not
 *   counted in *len), so text can be used as a string; a file that shrinks
 *   while read gives what was there.
 *   Every file is refused when others may write it, or when a folder on
 *   its way is writable by others without the sticky bit (S_ISVTX, as
 *   /tmp has): whoever can write such a folder can replace or rename
 *   what is in it, so the configuration, a key table or a footer there
 *   is whatever a local user wants it to be. The folders checked are
 *   those in which a name of the path is looked up ("." first for a
 *   relative path), and, when the path goes through links, those of the
 *   path they resolve to (realpath). A group-writable folder is allowed
 *   (a group of administrators).
 *   With FILE_SECRET the file is also opened with O_NOFOLLOW (a symbolic
 *   link is refused: whoever can write the directory could point it
 *   anywhere) and must be owned by root or by owner, neither readable nor
 *   writable by others and not writable by its group (group-readable is
 *   allowed, so a group such as "postsrsd" can share it).
 * DIAGNOSTICS
 *   0 with *data (malloc'd) and *len, or -1 with err: cannot open (the
 *   errno text; ELOOP for a link with FILE_SECRET), not a regular file,
 *   over max octets, refused permissions (which one, and the chmod that
 *   fixes it), a folder writable by others (which one), out of memory, a
 *   read error. *data is NULL after -1.
 * SECURITY
 *   Error texts name the path and the problem, never the contents.
 *   file_free wipes the buffer before freeing it (secrets, keys).
 */
#ifndef FWDAUTH_FILEREAD_H
#define FWDAUTH_FILEREAD_H

#include "err.h"

#include <stddef.h>
#include <sys/types.h>

#define FILE_SECRET 1u /* secrets and keys: no link, strict ownership and mode */

int file_read(const char *path, size_t max, unsigned flags, uid_t owner, char **data, size_t *len,
              fa_err *err);
void file_free(char *data, size_t len);

#endif
