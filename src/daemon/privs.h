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
 * DESCRIPTION
 *   As root, privs_drop does, in this order: chroot(dir) and chdir("/") when
 *   dir is non-empty; setgroups to the user's primary group only;
 *   setgid; setuid. It then checks that setuid(0) and setgid(0) fail and
 *   that no real, effective or saved id is 0, and fails otherwise.
 *   When the process does not run as root (a test, a developer), nothing
 *   is changed and PRIVS_NOT_ROOT is returned for the caller to log.
 *   With a chroot, every file the daemon reads later (the configuration
 *   and the secrets on SIGHUP) is looked up inside the chroot.
 * SECURITY
 *   A user whose uid or gid is 0 is refused: the daemon parses network
 *   input and must not run as root.
 * DIAGNOSTICS
 *   -1 with the failing step in err; the caller must exit then.
 */
#ifndef FWDAUTHD_PRIVS_H
#define FWDAUTHD_PRIVS_H

#include "err.h"

#include <sys/types.h>

struct privs_user {
    char name[64];
    uid_t uid;
    gid_t gid;
};

enum privs_result { PRIVS_ERROR = -1, PRIVS_DROPPED = 0, PRIVS_NOT_ROOT = 1 };

int privs_lookup(const char *user, struct privs_user *u, fa_err *err);
int privs_drop(const struct privs_user *u, const char *chroot_dir, fa_err *err);

#endif
