"""make test-package: fwdauth's .deb installed into a clean Debian 12 root.

What it does, in order (each step bounded by a timeout):

1. Finds the package `make deb` built (FWDAUTH_DEB_OUT, default build/deb).
2. A pristine Debian 12 root: `debootstrap --variant=minbase bookworm` from
   the Debian mirror of this machine's /etc/apt/sources.list* (or
   FWDAUTH_DEBIAN_MIRROR), then `apt-get update` and the .debs of postfix
   and of the package's dependencies downloaded (not installed), so that a
   later run needs no network. It is cached as DEB_OUT/rootfs-bookworm.tar
   (about 70 MB downloaded the first time); later runs only unpack it.
   Delete the tarball to make it anew.
3. A fresh copy of that root under DEB_OUT, where, through chroot, Postfix
   ("Local only") and then the package are installed with apt-get
   (`apt-get install ./fwdauth_*.deb`, which runs dpkg -i and installs what
   the package declares it depends on), with a policy-rc.d that forbids
   starting any service.
4. The checks below, then `dpkg --purge fwdauth`.

Every chroot command runs in its own mount namespace (unshare --mount) in
which /proc and /dev are mounted for it: the mounts end with the command,
even when the test is killed, and none is ever made in this machine's
namespace. The copy is deleted at the end only after checking that nothing
is mounted under it and no process has its root there (any such process is
killed first). Needs root, debootstrap and network access to the mirror on
the first run; under CI=true a missing one fails the test instead of
skipping it.
"""
import glob
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import fwdtest  # noqa: E402  (require(): skip locally, fail under CI=true)

SOURCE = os.path.abspath(os.environ.get("FWDAUTH_SOURCE") or os.path.join(os.path.dirname(__file__), "..", ".."))
DEB_OUT = os.path.abspath(os.environ.get("FWDAUTH_DEB_OUT") or os.path.join(SOURCE, "build", "deb"))
SUITE = "bookworm"
ROOT_TAR = os.path.join(DEB_OUT, "rootfs-%s.tar" % SUITE)

# Timeouts (seconds) for each step, generous for a loaded 2-core machine.
T_DEBOOTSTRAP = 1800
T_APT_UPDATE = 600
T_APT_INSTALL = 1200
T_TAR = 600
T_CMD = 120

# What the package installs and where (debian/rules, CMakeLists.txt's
# install rules): checked against dpkg -L and the files in the root.
INSTALLED = [
    "/usr/sbin/fwdauthd",
    "/usr/bin/fwdauth",
    "/usr/share/man/man1/fwdauth.1.gz",
    "/usr/share/man/man5/fwdauthd.conf.5.gz",
    "/usr/share/man/man8/fwdauthd.8.gz",
    "/usr/share/doc/fwdauth/examples/fwdauthd.conf",
    "/usr/share/doc/fwdauth/examples/postfix-main.cf.snippet",
    "/usr/share/doc/fwdauth/README.Debian",
    "/usr/share/bash-completion/completions/fwdauth",
    "/usr/share/bash-completion/completions/fwdauthd",
    "/usr/share/zsh/vendor-completions/_fwdauth",
    "/lib/systemd/system/fwdauthd.service",
]
EXAMPLE = "/usr/share/doc/fwdauth/examples/fwdauthd.conf"
CONF = "/etc/fwdauth/fwdauthd.conf"

POLICY_RC_D = "#!/bin/sh\n# test_package: start no service in this root\nexit 101\n"


def log(msg):
    print("test_package: %s" % msg, file=sys.stderr, flush=True)


def run(argv, timeout, **kw):
    """Runs argv on this machine; its output as text; fails the test on a
    timeout (subprocess kills the command)."""
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s: no end after %d s" % (" ".join(argv), timeout)) from e


def check(argv, timeout, **kw):
    p = run(argv, timeout, **kw)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (" ".join(argv), p.returncode, p.stdout[-4000:]))
    return p


def debian_mirror():
    """The Debian archive this machine's apt uses for bookworm (the one
    mirror it can reach): FWDAUTH_DEBIAN_MIRROR, else the URI of the first
    sources entry (deb822 or one-line) whose suites hold bookworm and whose
    path ends in /debian (not debian-security)."""
    if os.environ.get("FWDAUTH_DEBIAN_MIRROR"):
        return os.environ["FWDAUTH_DEBIAN_MIRROR"]
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(
                    (m.group(1).lower(), m.group(2).split())
                    for m in re.finditer(r"^([A-Za-z-]+):[ \t]*(.*)$", stanza, re.M))
                if SUITE in fields.get("suites", []):
                    for uri in fields.get("uris", []):
                        if uri.rstrip("/").endswith("/debian"):
                            return uri
        else:
            for line in text.splitlines():
                # deb [options] URI SUITE COMPONENTS...
                w = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(w) >= 3 and w[0] == "deb" and w[2] == SUITE and w[1].rstrip("/").endswith("/debian"):
                    return w[1]
    return None


def mounts_under(path):
    """Mount points at or under path in this mount namespace."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                found.append(mp)
    return found


def processes_in(root):
    """(pid, comm) of every process whose root directory is root."""
    root = os.path.realpath(root)
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/root" % pid) != root:
                continue
            with open("/proc/%s/comm" % pid) as f:
                found.append((int(pid), f.read().strip()))
        except OSError:
            continue
    return found


class Chroot:
    """A fresh copy of the cached root, and commands run inside it."""

    def __init__(self, root):
        self.root = root

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def run(self, argv, timeout=T_CMD, env=None, input=None):
        """argv inside the root, in a private mount namespace with /proc
        and /dev mounted (both go away with the namespace)."""
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root",
             "DEBIAN_FRONTEND": "noninteractive", "DEBCONF_NONINTERACTIVE_SEEN": "true"}
        e.update(env or {})
        script = ('mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" && '
                  'r=$1 && shift && exec chroot "$r" "$@"')
        argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", self.root] + argv
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=timeout, env=e, input=input)
        except subprocess.TimeoutExpired as ex:
            raise AssertionError("in the root: %s: no end after %d s" % (" ".join(argv[9:]), timeout)) from ex

    def check(self, argv, timeout=T_CMD, **kw):
        p = self.run(argv, timeout, **kw)
        if p.returncode != 0:
            raise AssertionError("in the root: %s: exit %d\n%s" % (" ".join(argv), p.returncode, p.stdout[-4000:]))
        return p

    def destroy(self):
        """Kill what runs in the root, then delete it, never while anything
        is mounted under it (rm -rf through a bind mount of /dev would
        delete this machine's /dev)."""
        for _ in range(10):
            procs = processes_in(self.root)
            if not procs:
                break
            log("killing processes left in the root: %s" % procs)
            for pid, _comm in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.5)
        for mp in reversed(mounts_under(self.root)):
            subprocess.run(["umount", "-l", mp], timeout=60)
        left = mounts_under(self.root)
        if left:
            raise AssertionError("still mounted, %s not deleted: %s" % (self.root, left))
        shutil.rmtree(self.root, ignore_errors=True)


def make_root_tar(deps):
    """debootstrap a minimal bookworm, fetch apt's lists and the .debs of
    postfix and deps, and pack it as ROOT_TAR (written under a temporary
    name, renamed at the end, so an interrupted run leaves no half tar)."""
    mirror = debian_mirror()
    fwdtest.require(mirror, "no Debian bookworm mirror in /etc/apt/sources.list* (set FWDAUTH_DEBIAN_MIRROR)")
    work = tempfile.mkdtemp(prefix="rootfs-", dir=DEB_OUT)
    c = Chroot(os.path.join(work, "root"))
    try:
        start = time.monotonic()
        log("debootstrap --variant=minbase %s from %s (once; cached in %s)" % (SUITE, mirror, ROOT_TAR))
        check(["debootstrap", "--variant=minbase", SUITE, c.root, mirror], T_DEBOOTSTRAP)
        shutil.copy("/etc/resolv.conf", c.path("/etc/resolv.conf"))
        c.check(["apt-get", "-q", "update"], T_APT_UPDATE)
        c.check(["apt-get", "-q", "install", "-y", "--no-install-recommends", "--download-only", "postfix"] + deps,
                T_APT_INSTALL)
        check(["tar", "--numeric-owner", "-C", c.root, "-cf", ROOT_TAR + ".tmp", "."], T_TAR)
        os.rename(ROOT_TAR + ".tmp", ROOT_TAR)
        log("root made and cached in %.0f s" % (time.monotonic() - start))
    finally:
        c.destroy()
        shutil.rmtree(work, ignore_errors=True)
        if os.path.exists(ROOT_TAR + ".tmp"):
            os.unlink(ROOT_TAR + ".tmp")


def deb_depends(deb):
    """Package names of the .deb's Depends (alternatives: the first)."""
    out = check(["dpkg-deb", "-f", deb, "Depends"], 60).stdout
    return [re.split(r"[\s(:]", alt.split("|")[0].strip())[0] for alt in out.split(",") if alt.strip()]


class TestPackage(unittest.TestCase):
    """One install in setUpClass; the tests run in name order (test_1_...
    to test_9_purge, which removes the package)."""

    @classmethod
    def setUpClass(cls):
        fwdtest.require(os.geteuid() == 0, "needs root (debootstrap, chroot, mounts)")
        for prog in ("debootstrap", "unshare", "chroot", "dpkg-deb"):
            fwdtest.require(shutil.which(prog), "%s is missing (apt-get install debootstrap)" % prog)
        debs = [d for d in glob.glob(os.path.join(DEB_OUT, "fwdauth_*.deb"))]
        fwdtest.require(len(debs) == 1, "want exactly one fwdauth_*.deb in %s (make deb), found %s" % (DEB_OUT, debs))
        cls.deb = debs[0]
        t0 = time.monotonic()
        if not os.path.exists(ROOT_TAR):
            make_root_tar(deb_depends(cls.deb))
        cls.root_dir = tempfile.mkdtemp(prefix="chroot-", dir=DEB_OUT)
        cls.c = Chroot(os.path.join(cls.root_dir, "root"))
        try:
            os.mkdir(cls.c.root)
            check(["tar", "--numeric-owner", "-C", cls.c.root, "-xpf", ROOT_TAR], T_TAR)
            shutil.copy("/etc/resolv.conf", cls.c.path("/etc/resolv.conf"))
            with open(cls.c.path("/usr/sbin/policy-rc.d"), "w") as f:
                f.write(POLICY_RC_D)
            os.chmod(cls.c.path("/usr/sbin/policy-rc.d"), 0o755)
            # Postfix first ("Local only": a main.cf for doctor to read).
            cls.c.check(["debconf-set-selections"], input=(
                "postfix postfix/main_mailer_type select Local only\n"
                "postfix postfix/mailname string fwdauth-test.example\n"))
            cls.c.check(["apt-get", "-q", "install", "-y", "--no-install-recommends", "postfix"], T_APT_INSTALL)
            shutil.copy(cls.deb, cls.c.path("/tmp/" + os.path.basename(cls.deb)))
            p = cls.c.check(["apt-get", "-q", "install", "-y", "--no-install-recommends",
                             "/tmp/" + os.path.basename(cls.deb)], T_APT_INSTALL)
            cls.install_log = p.stdout
            log("root unpacked, postfix and %s installed in %.0f s" % (os.path.basename(cls.deb), time.monotonic() - t0))
        except BaseException:
            cls.c.destroy()
            shutil.rmtree(cls.root_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.destroy()
        shutil.rmtree(cls.root_dir, ignore_errors=True)

    def assertOwnerMode(self, path, user, group, mode, kind=stat.S_IFREG):
        st = os.lstat(self.c.path(path))
        self.assertEqual(stat.S_IFMT(st.st_mode), kind, path)
        self.assertEqual(stat.S_IMODE(st.st_mode), mode, "%s: mode %o" % (path, stat.S_IMODE(st.st_mode)))
        self.assertEqual(self.uid_gid(user, group), (st.st_uid, st.st_gid), "%s: owner" % path)

    def uid_gid(self, user, group):
        """The ids of user and group in the root's passwd and group files."""
        def lookup(file, name):
            with open(self.c.path(file)) as f:
                for line in f:
                    w = line.split(":")
                    if w[0] == name:
                        return int(w[2])
            self.fail("no %s in the root's %s" % (name, file))
        return lookup("/etc/passwd", user), lookup("/etc/group", group)

    def test_1_maintainer_scripts(self):
        """postinst: the system user, its state folder, the keys folder and
        one SRS secret (root:fwdauth 0640, one base64 line of 32 bytes)."""
        p = self.c.check(["getent", "passwd", "fwdauth"])
        w = p.stdout.strip().split(":")
        self.assertLess(int(w[2]), 1000, "fwdauth is a system user: %s" % p.stdout)
        self.assertEqual(w[5], "/var/lib/fwdauth")
        self.assertEqual(w[6], "/usr/sbin/nologin")
        self.c.check(["getent", "group", "fwdauth"])
        self.assertOwnerMode("/var/lib/fwdauth", "fwdauth", "fwdauth", 0o750, stat.S_IFDIR)
        self.assertOwnerMode("/etc/fwdauth", "root", "root", 0o755, stat.S_IFDIR)
        self.assertOwnerMode("/etc/fwdauth/keys", "root", "fwdauth", 0o750, stat.S_IFDIR)
        self.assertOwnerMode("/etc/fwdauth/srs-secrets", "root", "fwdauth", 0o640)
        with open(self.c.path("/etc/fwdauth/srs-secrets")) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"^[A-Za-z0-9+/]{43}=$")
        self.assertFalse(os.path.exists(self.c.path("/etc/fwdauth/srs-secrets.dpkg-new")))

    def test_2_nothing_started_or_enabled(self):
        """The package starts and enables nothing (policy-rc.d would refuse
        it anyway: the test is that nothing even runs in the root)."""
        procs = processes_in(self.c.root)
        self.assertEqual([], [p for p in procs if "fwdauth" in p[1]], "fwdauthd runs in the root")
        self.assertEqual([], procs, "processes run in the root")
        self.assertEqual([], glob.glob(self.c.path("/etc/systemd/system/*.wants/fwdauthd.service")),
                         "fwdauthd.service enabled")
        self.assertFalse(os.path.exists(self.c.path(CONF)),
                         "the package must not write fwdauthd.conf")

    def test_3_files_where_the_package_says(self):
        """Binaries, man pages, examples, completions and the unit: listed by
        dpkg -L and present; every listed file exists; the unit runs
        /usr/sbin/fwdauthd; the example names the package's user."""
        listed = set(self.c.check(["dpkg-query", "-L", "fwdauth"]).stdout.split())
        status = self.c.check(["dpkg-query", "-W", "-f", "${Status}", "fwdauth"]).stdout
        self.assertEqual(status, "install ok installed")
        for f in INSTALLED:
            self.assertIn(f, listed)
            self.assertTrue(os.path.isfile(self.c.path(f)), f)
        for f in listed:
            self.assertTrue(os.path.lexists(self.c.path(f)), "dpkg lists %s; it is missing" % f)
        for prog in ("/usr/sbin/fwdauthd", "/usr/bin/fwdauth"):
            self.assertTrue(os.stat(self.c.path(prog)).st_mode & 0o111, prog)
        # the man pages are readable man pages (zcat works; .TH first macro)
        for page in [f for f in INSTALLED if "/man/" in f]:
            text = self.c.check(["zcat", page]).stdout
            self.assertRegex(text, r"(?m)^\.TH ", page)
        with open(self.c.path("/lib/systemd/system/fwdauthd.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^ExecStart=/usr/sbin/fwdauthd ")
        self.assertRegex(unit, r"(?m)^ExecReload=.*(HUP|kill)")
        with open(self.c.path(EXAMPLE)) as f:
            self.assertRegex(f.read(), r"(?m)^user = fwdauth$")
        # the installed binaries run in the root (their libraries are there)
        p = self.c.run(["fwdauth", "--version"])
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("0.", p.stdout)

    def test_4_daemon_check_of_the_example(self):
        """fwdauthd -t on the installed example: it configures a milter whose
        KeyTable and keys the administrator makes (README.Debian), so before
        they exist -t fails and names what is missing; after the steps of
        README.Debian (keygen twice, KeyTable, SigningTable) it passes."""
        shutil.copy(self.c.path(EXAMPLE), self.c.path(CONF))
        p = self.c.run(["fwdauthd", "-t", "-c", CONF])
        self.assertNotEqual(p.returncode, 0, "fwdauthd -t passed without KeyTable and keys:\n" + p.stdout)
        self.assertLess(p.returncode, 128, "fwdauthd -t crashed: %d\n%s" % (p.returncode, p.stdout))
        self.assertRegex(p.stdout, r"/etc/fwdauth/(KeyTable|keys/)", "names what is missing")
        for sel in ("fwd2026", "arc2026"):
            self.c.check(["fwdauth", "dkim", "keygen", "-d", "example.net", "-s", sel,
                          "-o", "/etc/fwdauth/keys"])
        with open(self.c.path("/etc/fwdauth/KeyTable"), "w") as f:
            f.write("fwd example.net:fwd2026:/etc/fwdauth/keys/fwd2026.private\n")
        with open(self.c.path("/etc/fwdauth/SigningTable"), "w") as f:
            f.write("*@example.net fwd\n")
        p = self.c.run(["fwdauthd", "-t", "-c", CONF])
        self.assertEqual(p.returncode, 0, "fwdauthd -t on the example after README.Debian's steps:\n" + p.stdout)
        self.assertEqual([], processes_in(self.c.root), "fwdauthd -t left a process")

    def test_5_doctor(self):
        """fwdauth doctor against the root's Postfix ("Local only", so the
        milter and SRS maps are not set up): it names its findings, one
        verdict a line, and exits 0 or 1 (2 would be "could not check")."""
        if not os.path.exists(self.c.path("/etc/fwdauth/KeyTable")):
            self.test_4_daemon_check_of_the_example()
        p = self.c.run(["fwdauth", "doctor", "-c", CONF, "--no-probe", "--no-dns"])
        self.assertIn(p.returncode, (0, 1), "fwdauth doctor: exit %d\n%s" % (p.returncode, p.stdout))
        verdicts = [line for line in p.stdout.splitlines() if re.match(r"(ok|warning|problem|error):", line)]
        self.assertTrue(verdicts, p.stdout)
        self.assertEqual([], [v for v in verdicts if v.startswith("error:")], p.stdout)
        # Local-only Postfix has no milter: doctor must say so, with the fix.
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertRegex(p.stdout, r"(?m)^problem:.*milter", p.stdout)
        self.assertRegex(p.stdout, r"(?m)^\s+main\.cf: smtpd_milters = ", p.stdout)
        j = self.c.run(["fwdauth", "doctor", "-c", CONF, "--no-probe", "--no-dns", "--json"])
        self.assertEqual(j.returncode, p.returncode, j.stdout)
        doc = json.loads(j.stdout)
        self.assertEqual(doc["config"], CONF)
        self.assertEqual(len(doc["checks"]), len(verdicts))
        self.assertGreater(doc["problems"], 0)
        log("doctor in the root: %d checks, %d problems, %d warnings" %
            (len(doc["checks"]), doc["problems"], doc["warnings"]))

    def test_9_purge(self):
        """dpkg --purge removes the package's files, the SRS secret and
        /var/lib/fwdauth; the administrator's fwdauthd.conf and keys, and
        the user, stay (README.Debian says so)."""
        if not os.path.exists(self.c.path(CONF)):
            shutil.copy(self.c.path(EXAMPLE), self.c.path(CONF))
        self.c.check(["dpkg", "--purge", "fwdauth"], T_APT_INSTALL)
        p = self.c.run(["dpkg-query", "-W", "-f", "${Status}", "fwdauth"])
        self.assertTrue(p.returncode != 0 or "not-installed" in p.stdout, p.stdout)
        for f in INSTALLED + ["/etc/fwdauth/srs-secrets", "/var/lib/fwdauth"]:
            self.assertFalse(os.path.lexists(self.c.path(f)), "%s left after purge" % f)
        self.assertTrue(os.path.exists(self.c.path(CONF)), "purge removed the administrator's fwdauthd.conf")
        self.c.check(["getent", "passwd", "fwdauth"])
        self.assertEqual([], processes_in(self.c.root))


if __name__ == "__main__":
    unittest.main()
