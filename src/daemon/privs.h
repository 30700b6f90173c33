/*
 * NAME
 *   privs - give up root after the sockets are bound
 * SUMMARY
 *   privs_lookup finds the uid and gid of the configured user (default
 *   "nobody"); privs_drop then optionally chroots and becomes that user for
 *   good.
 * SYNOPSIS
 *   struct privs_user u;
 *   if (privs_lookup("nobody", &u, &err) < 0) fail;
 *   bind every listener, then:
 *   switch (privs_drop(&u, cfg->chroot, &err)) { case PRIVS_DROPPED: case PRIVS_NOT_ROOT: ... }
 *   int keep[] = {ctl_fd}; privs_close_fds(keep, 1);     in a forked child
 *   if (privs_die_with(master_pid) < 0) _exit(0);         after privs_drop
 * DESCRIPTION
 *   As root, privs_drop does, in this order: chroot(dir) and chdir("/") when
 *   dir is non-empty; setgroups to the user's primary group only;
 *   setgid; setuid. It then checks that setuid(0) and setgid(0) fail and
 *   that no real, effective or saved id is 0, and fails otherwise.
 *   When the process does not run as root (a test, a developer), nothing
 *   is changed and PRIVS_NOT_ROOT is returned for the caller to log.
 *   With a chroot, every file the process reads later is looked up inside
 *   the chroot (fwdauthd's workers and signer read everything before).
 *   privs_close_fds closes every descriptor from 3 up but those in keep:
 *   a child of the master holds only what its job needs.
 *   privs_die_with has the kernel kill the process (SIGKILL) when its
 *   parent ends (PR_SET_PDEATHSIG; setuid clears that setting, so call it
 *   after privs_drop) and checks that the parent is still parent.
 * SECURITY
 *   A user whose uid or gid is 0 is refused: the daemon parses network
 *   input and must not run as root.
 * DIAGNOSTICS
 *   privs_drop: -1 with the failing step in err; the caller must exit
 *   then. privs_die_with: -1 when the parent is no longer parent (it
 *   ended before the call) or prctl failed.
 */
#ifndef FWDAUTHD_PRIVS_H
#define FWDAUTHD_PRIVS_H

#include "err.h"

#include <stddef.h>
#include <sys/types.h>

struct privs_user {
    char name[64];
    uid_t uid;
    gid_t gid;
};

enum privs_result { PRIVS_ERROR = -1, PRIVS_DROPPED = 0, PRIVS_NOT_ROOT = 1 };

int privs_lookup(const char *user, struct privs_user *u, fa_err *err);
int privs_drop(const struct privs_user *u, const char *chroot_dir, fa_err *err);
void privs_close_fds(const int *keep, size_t n);
int privs_die_with(pid_t parent);

#endif
