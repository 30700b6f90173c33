"""make run (scripts/run.sh) in a temp copy of the tree: a new config on the
first run, the same file (an admin's edits, its ports) on the next, the
originating notice, and the "try it by hand" commands working as printed on
a machine without /etc/postfix/main.cf (postmap -c of the folder it makes).
"""
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time

import fwdtest

POSTMAP = "/usr/sbin/postmap"
BANNER_END = "Starting fwdauthd in the foreground"


class MakeRun:
    """scripts/run.sh running in the foreground; its standard output read by
    a thread so that a hung script fails the test instead of blocking it."""

    def __init__(self, top, log_path):
        env = dict(os.environ, FWDAUTH_SRS_DOMAIN="srs.example.net")
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(["bash", os.path.join(top, "scripts", "run.sh")],
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, env=env, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def banner(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = "".join(self.lines)
            if BANNER_END in text:
                return text
            if self.proc.poll() is not None and not self.reader.is_alive():
                raise AssertionError("run.sh exited %s before starting fwdauthd:\n%s"
                                     % (self.proc.returncode, text))
            time.sleep(0.1)
        raise AssertionError("no banner after %.0fs:\n%s" % (timeout, "".join(self.lines)))

    def stop(self):
        # run.sh execs fwdauthd: the script's pid is the daemon's.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.log.close()
        return self.proc.returncode


def by_hand(banner):
    """The commands under "Try it by hand", as printed."""
    cmds = []
    take = False
    for line in banner.splitlines():
        if line.startswith("Try it by hand"):
            take = True
        elif take and line.startswith("    "):
            cmds.append(shlex.split(line))
        elif take and cmds and not line.strip():
            break
    return cmds


class TestMakeRun(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        fwdtest.require_programs(fwdtest.FWDAUTHD, fwdtest.FWDAUTH, POSTMAP, "/usr/bin/ss")
        self.top = os.path.join(self.dir, "tree")
        os.makedirs(os.path.join(self.top, "scripts"))
        os.makedirs(os.path.join(self.top, "build"))
        shutil.copy(os.path.join(fwdtest.SOURCE, "scripts", "run.sh"),
                    os.path.join(self.top, "scripts", "run.sh"))
        os.symlink(os.path.abspath(fwdtest.BIN), os.path.join(self.top, "build", "bin"))
        self.conf = os.path.join(self.top, "var", "fwdauthd.conf")
        self.secrets = os.path.join(self.top, "var", "srs-secrets")

    def start(self):
        run = MakeRun(self.top, os.path.join(self.dir, "run.log"))
        self.addCleanup(run.stop)
        return run, run.banner()

    def listen_port(self, key):
        with open(self.conf) as f:
            for line in f:
                if line.startswith(key + " = inet:127.0.0.1:"):
                    return int(line.rsplit(":", 1)[1])
        self.fail("%s not in %s" % (key, self.conf))

    def check_by_hand(self, banner, port):
        cmds = by_hand(banner)
        self.assertEqual(len(cmds), 2, banner)
        postmap, srs = cmds
        self.assertEqual(postmap[0], "postmap")
        self.assertIn("tcp:127.0.0.1:%d" % port, postmap)
        # postmap must not need /etc/postfix/main.cf (a fresh Debian has none).
        self.assertIn("-c", postmap)
        for cmd in (postmap, srs):
            if cmd[0] == "postmap":
                cmd = [POSTMAP] + cmd[1:]
            r = fwdtest.run(cmd)
            self.assertEqual(r.returncode, 0, "%s: %s%s" % (cmd, r.stdout, r.stderr))
            self.assertRegex(r.stdout.strip(), r"^SRS0=[^@]+@srs\.example\.net$", cmd)

    def test_first_run_then_kept(self):
        run, banner = self.start()
        fwdtest.wait_for_port(self.listen_port("tcp_forward_listen"), timeout=30, proc=run.proc)
        self.assertIn("new config", banner)
        self.assertIn("fwdauthd: SRS domain srs.example.net, config %s" % self.conf, banner)
        # Tests from this machine are originating: said at start.
        self.assertIn("counts as originating", banner)
        self.assertIn("internal_hosts is\n127.0.0.0/8, ::1", banner)
        self.check_by_hand(banner, self.listen_port("tcp_forward_listen"))
        self.assertEqual(run.stop(), 0)
        with open(self.secrets, "rb") as f:
            secret = f.read()
        self.assertEqual(os.stat(self.secrets).st_mode & 0o777, 0o600)

        # The admin edits the file: a comment, another port, a setting.
        new_port = fwdtest.free_port()
        with open(self.conf) as f:
            text = f.read()
        old = "tcp_forward_listen = inet:127.0.0.1:%d" % self.listen_port("tcp_forward_listen")
        text = text.replace(old, "tcp_forward_listen = inet:127.0.0.1:%d" % new_port)
        text += "# my edit\ninternal_hosts = 192.0.2.0/24\n"
        with open(self.conf, "w") as f:
            f.write(text)

        run, banner = self.start()
        fwdtest.wait_for_port(new_port, timeout=30, proc=run.proc)
        with open(self.conf) as f:
            self.assertEqual(f.read(), text, "make run rewrote the admin's config")
        with open(self.secrets, "rb") as f:
            self.assertEqual(f.read(), secret)
        self.assertIn("keeping %s" % self.conf, banner)
        self.assertNotIn("new config", banner)
        self.assertIn("sender_canonical_maps = tcp:127.0.0.1:%d\n" % new_port, banner)
        self.assertIn("internal_hosts is\n192.0.2.0/24,", banner)
        self.check_by_hand(banner, new_port)
        self.assertEqual(run.stop(), 0)
