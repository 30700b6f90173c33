/* privs - chroot and drop root; see privs.h. */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int privs_lookup(const char *user, struct privs_user *u, fa_err *err)
{
    if (!user || !user[0])
        return fa_err_set(err, "user is empty");
    if (strlen(user) >= sizeof(u->name))
        return fa_err_set(err, "user name too long");
    struct passwd pw, *res = NULL;
    char buf[4096];
    int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
    if (rc != 0)
        return fa_err_errno(err, rc, "cannot look up user \"%s\"", user);
    if (!res)
        return fa_err_set(err, "user \"%s\" does not exist", user);
    if (pw.pw_uid == 0 || pw.pw_gid == 0)
        return fa_err_set(err, "user \"%s\" has uid or gid 0: refusing to run as root", user);
    strcpy(u->name, user);
    u->uid = pw.pw_uid;
    u->gid = pw.pw_gid;
    return 0;
}

int privs_drop(const struct privs_user *u, const char *chroot_dir, fa_err *err)
{
    if (geteuid() != 0)
        return PRIVS_NOT_ROOT;
    if (chroot_dir && chroot_dir[0]) {
        if (chroot(chroot_dir) < 0)
            return fa_err_errno(err, errno, "chroot %s", chroot_dir);
        if (chdir("/") < 0)
            return fa_err_errno(err, errno, "chdir / in chroot %s", chroot_dir);
    }
    if (setgroups(1, &u->gid) < 0)
        return fa_err_errno(err, errno, "setgroups %u", (unsigned)u->gid);
    if (setresgid(u->gid, u->gid, u->gid) < 0)
        return fa_err_errno(err, errno, "setgid %u", (unsigned)u->gid);
    if (setresuid(u->uid, u->uid, u->uid) < 0)
        return fa_err_errno(err, errno, "setuid %u (%s)", (unsigned)u->uid, u->name);
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
        return fa_err_set(err, "could regain root after dropping to %s", u->name);
    uid_t r, e, s;
    gid_t gr, ge, gs;
    if (getresuid(&r, &e, &s) < 0 || getresgid(&gr, &ge, &gs) < 0)
        return fa_err_errno(err, errno, "getresuid");
    if (r == 0 || e == 0 || s == 0 || gr == 0 || ge == 0 || gs == 0)
        return fa_err_set(err, "still root after dropping to %s", u->name);
    return PRIVS_DROPPED;
}

/* close_range(2) where the kernel has it (5.9), else one by one. */
static void close_from_to(unsigned lo, unsigned hi)
{
    if (lo > hi)
        return;
#ifdef SYS_close_range
    if (syscall(SYS_close_range, lo, hi, 0) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (unsigned fd = lo; fd <= hi && fd < (unsigned)max; fd++)
        close((int)fd);
}

void privs_close_fds(const int *keep, size_t n)
{
    unsigned next = 3; /* 0, 1 and 2 stay */
    for (;;) {
        /* The smallest kept descriptor at or after next. */
        unsigned low = ~0u;
        for (size_t i = 0; i < n; i++)
            if (keep[i] >= 0 && (unsigned)keep[i] >= next && (unsigned)keep[i] < low)
                low = (unsigned)keep[i];
        if (low == ~0u) {
            close_from_to(next, ~0u);
            return;
        }
        if (low > next)
            close_from_to(next, low - 1);
        next = low + 1;
    }
}

int privs_die_with(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return -1;
    return getppid() == parent ? 0 : -1;
}
