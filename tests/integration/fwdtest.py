"""Shared helpers for fwdauth's black-box tests.

Every test takes free ports or unix sockets in its own temp folder (never a
fixed port: other programs may hold 10001, 2525, 12345), starts real daemons,
and stops them in tearDown/addCleanup even when the test fails.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("FWDAUTH_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE = os.environ.get("FWDAUTH_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
FWDAUTH = os.path.join(BIN, "fwdauth")
FWDAUTHD = os.path.join(BIN, "fwdauthd")

# The published PostSRSd vector (FIELD-NOTES.md).
VECTOR_SECRET = "tops3cr3t"
VECTOR_TIME = 1577836860


def in_ci():
    """True when the environment variable CI is "true" (CI runs `.ci/run`
    so, as root, with every package of scripts/deps.sh installed)."""
    return os.environ.get("CI") == "true"


class MissingOracle(AssertionError):
    """Raised by require() under CI=true: a test that cannot run fails."""


def require(condition, why):
    """The one gate for tests that need an oracle, a peer or a privilege
    (dkimpy, pyspf, Postfix, OpenDKIM, root, a test binary, ...).

    When `condition` is false the test is skipped with `why` on a developer's
    machine, but under CI=true it FAILS: a missing oracle must never turn a
    suite green without testing anything. Call it in setUp/setUpClass or at
    the top of a test method. Skips that are not about something missing
    (a test that does not apply to the chosen mode) use skipTest directly."""
    if condition:
        return
    if in_ci():
        raise MissingOracle("CI=true and this test cannot run: %s" % why)
    raise unittest.SkipTest(why)


def executable(path):
    """True when path is an executable file (for require())."""
    return os.access(path, os.X_OK)


def require_programs(*paths):
    """require() every program in paths to be installed or built."""
    for p in paths:
        require(executable(p), "%s is missing (scripts/deps.sh installs it; build first)" % p)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %s:%d after %.0fs" % (host, port, timeout))


def wait_for_unix(path, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening" % proc.returncode)
        if os.path.exists(path):
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(path)
                    return
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError("nothing listens on %s after %.0fs" % (path, timeout))


def make_tempdir(test, mode=0o755):
    """A temp folder, not world-writable (OpenDKIM and our secrets check care),
    removed when the test ends."""
    d = tempfile.mkdtemp(prefix="fwdauth-test-")
    os.chmod(d, mode)
    test.addCleanup(shutil.rmtree, d, True)
    return d


def write_secret(path, *secrets, owner=None):
    with open(path, "w") as f:
        for s in secrets:
            f.write(s + "\n")
    os.chmod(path, 0o600)
    if owner is not None:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def write_config(path, **settings):
    with open(path, "w") as f:
        for k, v in settings.items():
            f.write("%s = %s\n" % (k, v))


def netstring(data):
    if isinstance(data, str):
        data = data.encode()
    return b"%d:%s," % (len(data), data)


def read_netstring(sock_file):
    """Read one netstring from a binary file object; returns bytes."""
    digits = b""
    while True:
        c = sock_file.read(1)
        if not c:
            raise EOFError("connection closed while reading netstring length")
        if c == b":":
            break
        digits += c
    n = int(digits)
    data = sock_file.read(n)
    if sock_file.read(1) != b",":
        raise ValueError("netstring without trailing comma")
    return data


class Daemon:
    """A running fwdauthd: started with -f (foreground, logs to stderr) and
    stopped with SIGTERM (then SIGKILL) by stop(), which tests register with
    addCleanup so it runs even when they fail."""

    def __init__(self, config_path, log_path, args=()):
        self.config_path = config_path
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([FWDAUTHD, "-c", config_path, "-f", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def children(ppid, title=None):
    """PIDs of the processes whose parent is ppid, in order, optionally only
    those whose command line (ps's title) starts with title, such as
    "fwdauthd: worker" (fwdauthd's master, signer and workers: README)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                ppid_of = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().split(b"\0", 1)[0].decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if ppid_of == ppid and (title is None or cmd.startswith(title)):
            out.append(int(name))
    return sorted(out)


def child_pid(ppid, title, timeout=10.0):
    """The one child of ppid titled title (waiting for it to appear)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = children(ppid, title)
        if len(pids) == 1:
            return pids[0]
        if time.monotonic() > deadline:
            raise AssertionError("%d processes %r under pid %d" % (len(pids), title, ppid))
        time.sleep(0.05)


def run(cmd, **kw):
    """subprocess.run with text output captured, never raising on exit status."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(cmd, **kw)


class TestCase(unittest.TestCase):
    """Base class: a private temp folder per test."""

    def setUp(self):
        self.dir = make_tempdir(self)

    def start_daemon(self, settings, args=(), wait=True):
        conf = os.path.join(self.dir, "fwdauthd.conf")
        write_config(conf, **settings)
        d = Daemon(conf, os.path.join(self.dir, "fwdauthd.log"), args)
        self.addCleanup(d.stop)
        if wait:
            for key in ("socketmap_listen", "tcp_forward_listen", "tcp_reverse_listen"):
                addr = settings.get(key, "")
                if addr.startswith("inet:"):
                    wait_for_port(int(addr.rsplit(":", 1)[1]), proc=d.proc)
                elif addr.startswith("unix:"):
                    wait_for_unix(addr[5:], proc=d.proc)
        return d
