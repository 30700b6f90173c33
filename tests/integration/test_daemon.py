"""fwdauthd as a process: its socketmap and tcp_table listeners, robustness
against broken clients, limits, -t, SIGHUP, SIGTERM and the privilege drop.

Every daemon listens on free ports or on unix sockets in the test's own temp
folder and is stopped in a cleanup. A small Python model of the SRS0 hash
(checked against the published PostSRSd vector first) predicts the exact
forward result, allowing for a day change during the request.
Postfix's own clients (postmap -q with socketmap: and tcp: tables) are used
where they show that Postfix reads our answers as intended.
"""
import base64
import hashlib
import hmac
import os
import pwd
import re
import signal
import socket
import time
import unittest

import fwdtest
from fwdtest import netstring, read_netstring

POSTMAP = "/usr/sbin/postmap"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
SRS0_RE = re.compile(r"^SRS0=[A-Za-z0-9_-]{4}=[A-Z2-7]{2}=otherdomain\.com=test@example\.com$")


def stamp(now):
    day = int(now) // 86400 % 1024
    return B32[day >> 5] + B32[day & 31]


def model_srs0(secret, now, user, host, domain="example.com", alphabet="base64url"):
    tt = stamp(now)
    mac = hmac.new(secret.encode(), (tt + host + user).lower().encode(), hashlib.sha1).digest()
    h = base64.b64encode(mac).decode()[:4]
    if alphabet == "base64url":
        h = h.replace("+", "-").replace("/", "_")
    return "SRS0=%s=%s=%s=%s@%s" % (h, tt, host, user, domain)


class SocketMap:
    """A socketmap client on one persistent connection."""

    def __init__(self, addr, timeout=10):
        if isinstance(addr, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        self.f = self.sock.makefile("rb")

    def ask(self, name, key):
        self.sock.sendall(netstring("%s %s" % (name, key)))
        return read_netstring(self.f).decode()

    def close(self):
        self.f.close()
        self.sock.close()


class TcpTable:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def get(self, encoded_key):
        self.sock.sendall(b"get " + encoded_key.encode() + b"\n")
        return self.f.readline().decode()

    def close(self):
        self.f.close()
        self.sock.close()


def closed_by_peer(sock, timeout=10):
    """True when the server closes the connection (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def running_as_root():
    return os.geteuid() == 0


class DaemonTest(fwdtest.TestCase):
    SECRET = "tops3cr3t"

    def setUp(self):
        super().setUp()
        self.secret_path = os.path.join(self.dir, "secrets")
        self.write_secrets(self.SECRET)
        self.sm_port = fwdtest.free_port()
        self.fwd_port = fwdtest.free_port()
        self.rev_port = fwdtest.free_port()
        self.sock_path = os.path.join(self.dir, "srs.sock")
        self.pfdir = os.path.join(self.dir, "postfix")
        os.mkdir(self.pfdir)
        with open(os.path.join(self.pfdir, "main.cf"), "w"):
            pass  # postmap -c wants a main.cf; empty is fine

    def write_secrets(self, *secrets):
        # Readable by the user the daemon drops to, so that SIGHUP can reread it.
        fwdtest.write_secret(self.secret_path, *secrets,
                             owner="nobody" if running_as_root() else None)

    def settings(self, **extra):
        s = {
            "srs_domain": "example.com",
            "srs_secrets": self.secret_path,
            "socketmap_listen": "inet:127.0.0.1:%d" % self.sm_port,
            "tcp_forward_listen": "inet:127.0.0.1:%d" % self.fwd_port,
            "tcp_reverse_listen": "inet:127.0.0.1:%d" % self.rev_port,
            "log_level": "debug",
        }
        s.update(extra)
        return s

    def smap(self, addr=None):
        c = SocketMap(addr or ("127.0.0.1", self.sm_port))
        self.addCleanup(c.close)
        return c

    def tcp(self, port):
        c = TcpTable(port)
        self.addCleanup(c.close)
        return c

    def postmap(self, key, table):
        r = fwdtest.run([POSTMAP, "-c", self.pfdir, "-q", key, table])
        return r.returncode, r.stdout.strip()

    def wait_log(self, daemon, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in daemon.logtext():
                return
            time.sleep(0.05)
        self.fail("log never said %r; log:\n%s" % (text, daemon.logtext()))

    def assert_still_serving(self):
        c = SocketMap(("127.0.0.1", self.sm_port))
        try:
            self.assertRegex(c.ask("forward", "test@otherdomain.com"), r"^OK SRS0=")
        finally:
            c.close()

    def expect_forward(self, got, secret, user="test", host="otherdomain.com", t0=None, t1=None):
        want = {model_srs0(secret, t, user, host) for t in (t0, t1)}
        self.assertIn(got, want)


class TestModel(unittest.TestCase):
    def test_model_matches_published_vector(self):
        self.assertEqual(
            model_srs0("tops3cr3t", fwdtest.VECTOR_TIME, "test", "otherdomain.com",
                       alphabet="base64"),
            "SRS0=vmyz=2W=otherdomain.com=test@example.com")


class TestLookups(DaemonTest):
    def setUp(self):
        super().setUp()
        self.d = self.start_daemon(self.settings())

    def test_socketmap_round_trip(self):
        c = self.smap()
        t0 = time.time()
        got = c.ask("forward", "test@otherdomain.com")
        t1 = time.time()
        self.assertTrue(got.startswith("OK "), got)
        srs = got[3:]
        self.assertRegex(srs, SRS0_RE)
        self.expect_forward(srs, self.SECRET, t0=t0, t1=t1)
        self.assertEqual(c.ask("reverse", srs), "OK test@otherdomain.com")
        # relays change case
        self.assertEqual(c.ask("reverse", srs.upper()), "OK TEST@OTHERDOMAIN.COM")
        self.wait_log(self.d, "srs forward: <test@otherdomain.com> -> <%s>" % srs)

    def test_notfound_and_unknown_map(self):
        c = self.smap()
        for name, key in [("reverse", "someone@otherdomain.com"),
                          ("reverse", "SRS0=abcd=2W=otherdomain.com=test@example.com"),
                          ("reverse", "SRS0=garbage@example.com"),
                          ("forward", "someone@example.com"),  # our SRS domain
                          ("forward", "no-domain"),
                          ("forward", ""),
                          ("forward", "\x01\x02@\x7f")]:
            self.assertEqual(c.ask(name, key), "NOTFOUND ", (name, key))
        self.assertEqual(c.ask("bogus", "a@b.example"), "PERM unknown map")
        # the connection goes on after all of these
        self.assertTrue(c.ask("forward", "test@otherdomain.com").startswith("OK SRS0="))
        self.wait_log(self.d, 'unknown map name: "bogus"')

    def test_many_requests_on_one_connection(self):
        c = self.smap()
        for i in range(500):
            user = "user%d" % i
            fwd = c.ask("forward", "%s@otherdomain.com" % user)
            self.assertTrue(fwd.startswith("OK SRS0="), fwd)
            self.assertEqual(c.ask("reverse", fwd[3:]), "OK %s@otherdomain.com" % user)

    def test_connection_threads_reused(self):
        """A thread whose connection ended serves the next one (Postfix opens
        a milter connection per SMTP session): 200 connections one after
        another leave the worker with a handful of threads, 60 at once with
        at most 32 waiting afterwards (server.c's pool), every lookup served."""
        self.assert_still_serving()  # the worker is up and titled
        worker = fwdtest.child_pid(self.d.proc.pid, "fwdauthd: worker")

        def tids():
            return set(os.listdir("/proc/%d/task" % worker))

        def threads():
            return len(tids())

        base, seen = threads(), tids()
        for i in range(200):
            c = SocketMap(("127.0.0.1", self.sm_port))
            self.assertTrue(c.ask("forward", "u%d@otherdomain.com" % i).startswith("OK SRS0="))
            if i < 40:
                seen |= tids()  # the thread serving it, while it is open
            c.close()
        # A thread per connection would have shown 40 new thread ids; reused
        # ones show a few (a close not yet seen when the next one came).
        self.assertLessEqual(len(seen) - base, 6, seen)
        self.assertLessEqual(threads(), base + 6)
        many = [SocketMap(("127.0.0.1", self.sm_port)) for _ in range(60)]
        for i, c in enumerate(many):
            self.assertTrue(c.ask("forward", "m%d@otherdomain.com" % i).startswith("OK SRS0="))
        self.assertGreaterEqual(threads(), base + 55)
        for c in many:
            c.close()
        deadline = time.monotonic() + 20
        while threads() > base + 32 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertLessEqual(threads(), base + 32)
        self.assert_still_serving()

    def test_pipelined_requests(self):
        c = self.smap()
        keys = ["p%d@otherdomain.com" % i for i in range(100)]
        blob = b"".join(netstring("forward " + k) for k in keys)
        blob += netstring("bogus x@y") + netstring("reverse nobody@example.org")
        c.sock.sendall(blob)
        replies = [read_netstring(c.f).decode() for _ in range(len(keys) + 2)]
        for k, r in zip(keys, replies):
            self.assertTrue(r.startswith("OK SRS0="), r)
            self.assertTrue(r.endswith("=%s@example.com" % k.split("@")[0]), r)
        self.assertEqual(replies[-2], "PERM unknown map")
        self.assertEqual(replies[-1], "NOTFOUND ")
        # and back, pipelined the other way
        c.sock.sendall(b"".join(netstring("reverse " + r[3:]) for r in replies[:len(keys)]))
        for k in keys:
            self.assertEqual(read_netstring(c.f).decode(), "OK " + k)

    def test_tcp_table_two_listeners(self):
        fwd = self.tcp(self.fwd_port)
        rev = self.tcp(self.rev_port)
        t0 = time.time()
        got = fwd.get("test@otherdomain.com")
        t1 = time.time()
        self.assertTrue(got.startswith("200 ") and got.endswith("\n"), got)
        self.expect_forward(got[4:-1], self.SECRET, t0=t0, t1=t1)
        self.assertEqual(rev.get(got[4:-1]), "200 test@otherdomain.com\n")
        # the reverse listener does not forward, and vice versa
        self.assertEqual(rev.get("test@otherdomain.com"), "500 not found\n")
        self.assertEqual(fwd.get(got[4:-1]), "500 not found\n")
        # %XX in the key and in the reply: "a b"@example.org
        got = fwd.get("%22a%20b%22@example.org")
        self.assertTrue(got.startswith("200 "), got)
        self.assertNotIn(" ", got[4:])
        self.assertIn("%20", got)
        self.assertEqual(rev.get(got[4:-1]), '200 "a%20b"@example.org\n')
        # lower-case hex is accepted too
        self.assertEqual(rev.get(got[4:-1].replace("%20", "%2a").replace("%2a", "%20")),
                         '200 "a%20b"@example.org\n')

    def test_tcp_table_malformed_keeps_connection(self):
        fwd = self.tcp(self.fwd_port)
        for line in [b"put a@b.example\n", b"get a%zz@b.example\n", b"get\n", b"\n"]:
            fwd.sock.sendall(line)
            self.assertEqual(fwd.f.readline(), b"500 malformed request\n", line)
        self.assertTrue(fwd.get("test@otherdomain.com").startswith("200 SRS0="))
        # pipelined lines, CRLF tolerated
        fwd.sock.sendall(b"get a@otherdomain.com\r\nget b@otherdomain.com\nget x%41@otherdomain.com\n")
        lines = [fwd.f.readline().decode() for _ in range(3)]
        self.assertTrue(lines[0].endswith("=a@example.com\n"), lines)
        self.assertTrue(lines[1].endswith("=b@example.com\n"), lines)
        self.assertTrue(lines[2].endswith("=xA@example.com\n"), lines)

    def test_tcp_table_overlong_line_closes(self):
        fwd = self.tcp(self.fwd_port)
        fwd.sock.sendall(b"get " + b"x" * 5000)
        self.assertEqual(fwd.f.readline(), b"500 request too long\n")
        self.assertTrue(closed_by_peer(fwd.sock))
        self.assertTrue(self.tcp(self.fwd_port).get("a@otherdomain.com").startswith("200 "))

    def test_postmap_clients(self):
        table = "socketmap:inet:127.0.0.1:%d:" % self.sm_port
        code, out = self.postmap("test@otherdomain.com", table + "forward")
        self.assertEqual(code, 0, out)
        self.assertRegex(out, SRS0_RE)
        self.assertEqual(self.postmap(out, table + "reverse"), (0, "test@otherdomain.com"))
        self.assertEqual(self.postmap("someone@example.org", table + "reverse")[0], 1)
        code, out = self.postmap('"a b"@example.org', "tcp:127.0.0.1:%d" % self.fwd_port)
        self.assertEqual(code, 0, out)
        self.assertTrue(out.startswith('"SRS0='), out)
        self.assertEqual(self.postmap(out, "tcp:127.0.0.1:%d" % self.rev_port),
                         (0, '"a b"@example.org'))
        self.assertEqual(self.postmap("nobody@example.org",
                                      "tcp:127.0.0.1:%d" % self.rev_port)[0], 1)

    def test_log_levels(self):
        """An address too long to rewrite is logged at info; lookups at debug."""
        c = self.smap()
        user = "a" * 50
        self.assertEqual(c.ask("forward", user + "@otherdomain.com"), "NOTFOUND ")
        self.wait_log(self.d, "info: srs forward: <%s@otherdomain.com> left unchanged: "
                      "rewritten local part would exceed 64 octets" % user)
        self.assertNotIn(self.SECRET, self.d.logtext())


class TestUnixSocket(DaemonTest):
    def test_unix_listener(self):
        d = self.start_daemon(self.settings(socketmap_listen="unix:" + self.sock_path))
        self.assertEqual(os.stat(self.sock_path).st_mode & 0o777, 0o666)
        c = self.smap(self.sock_path)
        got = c.ask("forward", "test@otherdomain.com")
        self.assertRegex(got[3:], SRS0_RE)
        self.assertEqual(c.ask("reverse", got[3:]), "OK test@otherdomain.com")
        code, out = self.postmap("test@otherdomain.com",
                                 "socketmap:unix:%s:forward" % self.sock_path)
        self.assertEqual(code, 0, out)
        self.assertRegex(out, SRS0_RE)
        self.assertEqual(d.stop(), 0)

    def test_stale_socket_replaced(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock_path)
        s.close()  # a socket file nobody listens on: what a killed daemon leaves
        self.start_daemon(self.settings(socketmap_listen="unix:" + self.sock_path))
        self.assertTrue(self.smap(self.sock_path).ask("forward", "a@b.example").startswith("OK "))


class TestBrokenClients(DaemonTest):
    def setUp(self):
        super().setUp()
        self.d = self.start_daemon(self.settings(request_timeout="2", idle_timeout="4"))

    def raw(self):
        s = socket.create_connection(("127.0.0.1", self.sm_port), timeout=10)
        self.addCleanup(s.close)
        return s

    def test_bad_netstring_length(self):
        s = self.raw()
        s.sendall(b"abc:forward x@y,")
        self.assertTrue(closed_by_peer(s))
        self.assert_still_serving()
        self.wait_log(self.d, "malformed netstring")

    def test_huge_length(self):
        for blob in (b"999999999:forward x", b"100001:", b"0000001:x,"):
            s = self.raw()
            s.sendall(blob)
            self.assertTrue(closed_by_peer(s), blob)
        self.assert_still_serving()

    def test_maximum_length_request_is_answered(self):
        s = self.raw()
        key = "x" * (100000 - len("forward ") - len("@otherdomain.com")) + "@otherdomain.com"
        s.sendall(netstring("forward " + key))
        self.assertEqual(read_netstring(s.makefile("rb")), b"NOTFOUND ")

    def test_binary_junk(self):
        s = self.raw()
        s.sendall(bytes(range(256)) * 64)
        self.assertTrue(closed_by_peer(s))
        self.assert_still_serving()

    def test_missing_comma(self):
        s = self.raw()
        s.sendall(b"7:forward;")
        self.assertTrue(closed_by_peer(s))
        self.assert_still_serving()

    def test_half_closed(self):
        # a whole request then EOF: answered, then closed
        s = self.raw()
        s.sendall(netstring("forward test@otherdomain.com"))
        s.shutdown(socket.SHUT_WR)
        f = s.makefile("rb")
        self.assertTrue(read_netstring(f).startswith(b"OK SRS0="))
        self.assertEqual(f.read(), b"")
        # half a request then EOF: closed without an answer
        s = self.raw()
        s.sendall(b"28:forward te")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(s.makefile("rb").read(), b"")
        self.assert_still_serving()
        self.wait_log(self.d, "connection closed in the middle of a request")

    def test_slow_client_cut_off(self):
        s = self.raw()
        start = time.monotonic()
        req = netstring("forward test@otherdomain.com")
        closed = False
        try:
            for i in range(len(req) - 1):  # one byte every 0.3 s: never finishes in time
                s.sendall(req[i:i + 1])
                time.sleep(0.3)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if not closed:
            self.assertTrue(closed_by_peer(s, timeout=5))
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 6)
        self.assert_still_serving()
        self.wait_log(self.d, "request not complete within request_timeout")

    def test_idle_timeout(self):
        s = self.raw()
        start = time.monotonic()
        self.assertTrue(closed_by_peer(s, timeout=10))
        self.assertGreater(time.monotonic() - start, 3)

    def test_one_warning_per_connection(self):
        c = self.smap()
        for _ in range(5):
            self.assertEqual(c.ask("bogus", "a@b.example"), "PERM unknown map")
        self.wait_log(self.d, 'unknown map name: "bogus"')
        self.assertEqual(self.d.logtext().count("warning: socketmap client"), 1)


class TestConnectionLimit(DaemonTest):
    def served_client(self, timeout=5):
        """A socketmap connection that got an answer: retried while the slots
        of connections just closed (start_daemon's probes) are freed."""
        deadline = time.monotonic() + timeout
        while True:
            c = SocketMap(("127.0.0.1", self.sm_port))
            try:
                self.assertTrue(c.ask("forward", "a@b.example").startswith("OK "))
                self.addCleanup(c.close)
                return c
            except (EOFError, ConnectionResetError):
                c.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def test_connection_limit(self):
        d = self.start_daemon(self.settings(connection_limit="3"))
        clients = [self.served_client() for _ in range(3)]
        msg = "connection_limit (3) reached"
        before = d.logtext().count(msg)
        for _ in range(3):
            extra = socket.create_connection(("127.0.0.1", self.sm_port), timeout=10)
            self.addCleanup(extra.close)
            self.assertTrue(closed_by_peer(extra))
        self.wait_log(d, msg)
        self.assertEqual(d.logtext().count(msg), before + 1)  # once per burst
        clients[0].close()
        self.served_client()  # the slot frees once the thread has seen the close
        for c in clients[1:]:
            self.assertTrue(c.ask("forward", "a@b.example").startswith("OK "))


class TestCheckConfig(DaemonTest):
    def check(self, settings=None, text=None):
        conf = os.path.join(self.dir, "check.conf")
        if text is not None:
            with open(conf, "w") as f:
                f.write(text)
        else:
            fwdtest.write_config(conf, **settings)
        return conf, fwdtest.run([fwdtest.FWDAUTHD, "-c", conf, "-t"])

    def test_good(self):
        conf, r = self.check(self.settings())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stdout)

    def test_unknown_key_names_file_and_line(self):
        text = "srs_domain = example.com\nsrs_secrets = %s\n\nsrs_domian = x\n" % self.secret_path
        conf, r = self.check(text=text)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:4:" % conf, r.stderr)
        self.assertIn("srs_domian", r.stderr)

    def test_bad_value(self):
        conf, r = self.check(self.settings(connection_limit="0"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("connection_limit", r.stderr)

    def test_no_listener(self):
        s = self.settings(socketmap_listen="", tcp_forward_listen="", tcp_reverse_listen="")
        conf, r = self.check(s)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no listener", r.stderr)

    def test_bad_listen_address(self):
        conf, r = self.check(self.settings(tcp_forward_listen="tcp:127.0.0.1:25"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("tcp_forward_listen", r.stderr)

    def test_missing_srs_domain(self):
        s = self.settings()
        del s["srs_domain"]
        conf, r = self.check(s)
        self.assertEqual(r.returncode, 1)
        self.assertIn("srs_domain", r.stderr)

    def test_missing_secrets_file(self):
        conf, r = self.check(self.settings(srs_secrets=os.path.join(self.dir, "nope")))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", r.stderr)

    def test_secrets_mode_0644_refused(self):
        os.chmod(self.secret_path, 0o644)
        conf, r = self.check(self.settings())
        self.assertEqual(r.returncode, 1)
        self.assertIn(self.secret_path, r.stderr)
        # and the daemon refuses to start
        d = self.start_daemon(self.settings(), wait=False)
        self.assertEqual(d.proc.wait(10), 2)
        self.assertIn(self.secret_path, d.logtext())


class TestSignals(DaemonTest):
    def test_sighup_new_secret(self):
        d = self.start_daemon(self.settings())
        c = self.smap()  # a long-lived connection, as Postfix keeps
        old = c.ask("forward", "test@otherdomain.com")[3:]
        self.expect_forward(old, "tops3cr3t", t0=time.time() - 5, t1=time.time())
        self.write_secrets("n3w-s3cr3t", "tops3cr3t")
        d.proc.send_signal(signal.SIGHUP)
        self.wait_log(d, "reloaded")
        self.assertIn("2 SRS secrets", d.logtext())
        t0 = time.time()
        new = c.ask("forward", "test@otherdomain.com")[3:]
        t1 = time.time()
        self.expect_forward(new, "n3w-s3cr3t", t0=t0, t1=t1)
        self.assertNotEqual(new, old)
        # addresses signed with the old secret still reverse (it is kept second)
        self.assertEqual(c.ask("reverse", old), "OK test@otherdomain.com")
        self.assertEqual(c.ask("reverse", new), "OK test@otherdomain.com")

        # a bad config keeps the old one, and the log says why
        with open(d.config_path, "a") as f:
            f.write("no_such_setting = 1\n")
        d.proc.send_signal(signal.SIGHUP)
        self.wait_log(d, "reload failed, keeping the old configuration")
        self.assertIn("no_such_setting", d.logtext())
        self.assertEqual(c.ask("reverse", new), "OK test@otherdomain.com")

        # a setting that needs a restart keeps its old value
        s = self.settings(socketmap_listen="inet:127.0.0.1:%d" % fwdtest.free_port())
        fwdtest.write_config(d.config_path, **s)
        self.write_secrets("third")
        d.proc.send_signal(signal.SIGHUP)
        self.wait_log(d, "changed socketmap_listen needs a restart")
        self.wait_log(d, "1 SRS secret")
        self.assertEqual(c.ask("reverse", old), "NOTFOUND ")  # the old secret is gone
        self.assert_still_serving()  # on the old port
        self.assertEqual(d.stop(), 0)

    def test_sigterm_exits_zero(self):
        d = self.start_daemon(self.settings())
        idle = self.smap()
        self.assertTrue(idle.ask("forward", "a@b.example").startswith("OK "))
        start = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(10), 0)
        self.assertLess(time.monotonic() - start, 5)
        self.assertTrue(closed_by_peer(idle.sock))
        self.assertIn("stopping on signal TERM", d.logtext())

    def test_sigint_exits_zero(self):
        d = self.start_daemon(self.settings())
        d.proc.send_signal(signal.SIGINT)
        self.assertEqual(d.proc.wait(10), 0)


class TestPrivileges(DaemonTest):
    @classmethod
    def setUpClass(cls):
        fwdtest.require(running_as_root(), "the privilege drop needs root")
        super().setUpClass()

    def ids(self, pid):
        with open("/proc/%d/status" % pid) as f:
            text = f.read()
        uid = re.search(r"^Uid:\s+(.*)$", text, re.M).group(1).split()
        gid = re.search(r"^Gid:\s+(.*)$", text, re.M).group(1).split()
        groups = re.search(r"^Groups:[ \t]*(.*)$", text, re.M).group(1).split()
        return [int(x) for x in uid], [int(x) for x in gid], [int(x) for x in groups]

    def test_drops_to_nobody(self):
        d = self.start_daemon(self.settings())
        nobody = pwd.getpwnam("nobody")
        # The master stays root and parses nothing (test_privsep.py); the
        # worker that serves has dropped.
        uid, gid, groups = self.ids(fwdtest.child_pid(d.proc.pid, "fwdauthd: worker"))
        self.assertEqual(uid, [nobody.pw_uid] * 4)
        self.assertEqual(gid, [nobody.pw_gid] * 4)
        self.assertEqual(groups, [nobody.pw_gid])
        self.assert_still_serving()
        self.assertIn("user nobody", d.logtext())

    def test_secrets_owned_by_root_ok(self):
        fwdtest.write_secret(self.secret_path, self.SECRET)  # root, 0600
        self.start_daemon(self.settings())
        self.assert_still_serving()

    def test_secrets_owned_by_another_user_refused(self):
        fwdtest.write_secret(self.secret_path, self.SECRET, owner="daemon")
        d = self.start_daemon(self.settings(), wait=False)
        self.assertEqual(d.proc.wait(10), 2)
        self.assertIn(self.secret_path, d.logtext())

    def test_root_user_refused(self):
        d = self.start_daemon(self.settings(user="root"), wait=False)
        self.assertEqual(d.proc.wait(10), 2)
        self.assertIn("root", d.logtext())


if __name__ == "__main__":
    unittest.main()
