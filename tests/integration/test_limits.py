"""fwdauthd's resource limits (issue 13): per-service connection limits,
deadlines per packet, memory per connection, descriptors, the metrics
server, and the files it reads.

  (a) An idle-socket flood on one listener leaves the others serving: with
      table_connection_limit = milter_connection_limit = 40, a client that
      keeps 60 idle connections open to the socketmap listener (reopening
      those that are closed) does not stop tcp_table lookups or milter
      sessions (each measured: lookups/s on new connections, sessions
      answered), and lookups on the flooded listener itself still get
      through (idle flood sockets are closed to make room); a flood of the
      milter listener leaves the tables serving.
  (b) A milter client that sends a packet one byte every half second is
      cut at milter_timeout (3 s) after the packet's first byte, while a
      client that pauses up to milter_timeout between whole packets is
      served.
  (c) Memory: 20 connections each sending a header packet that declares 1
      MiB hold almost nothing (the packet is dropped as it arrives and the
      message refused with 552); header packets that need more than
      milter_buffer_memory together are tempfailed, the others served.
  (d) RLIMIT_NOFILE: raised at start to what the limits need
      (/proc/PID/limits); as a user that cannot raise it, fwdauthd -t
      reports it and the daemon refuses to start, saying what to change.
  (e) The metrics server answers a scrape within a second while 8 idle
      clients hold connections (and, to show the test can fail, makes it
      wait with metrics_connection_limit = 8).
  (f) Files: a configuration or secrets file in a folder writable by
      others without the sticky bit, or writable by others itself, is
      refused (-t, start, reload); a FIFO as srs_secrets is refused at
      start and on SIGHUP without blocking: lookups keep being answered.

Every daemon listens on free loopback ports and is stopped in a cleanup.
Measured numbers are printed as "MEASURED ..." lines.
"""
import os
import pwd
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

import fwdtest
from fwdtest import netstring, read_netstring
from test_milter import AUTHSERV_ID, RawMilter, good_session, optneg, packet

SECRET = "limits-test-s3cret"
POSTMAP = "/usr/sbin/postmap"


def measured(text):
    print("MEASURED %s" % text, file=sys.stderr, flush=True)


def tree_pids(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_kb(pid):
    total = 0
    for p in tree_pids(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def nofile_limits(pid):
    """(soft, hard) of every process of the daemon."""
    out = []
    for p in tree_pids(pid):
        try:
            with open("/proc/%d/limits" % p) as f:
                for line in f:
                    if line.startswith("Max open files"):
                        soft, hard = line.split()[3:5]
                        out.append((int(soft), int(hard)))
        except OSError:
            pass
    return out


def tcp_lookup(port, timeout=5):
    """One tcp_table lookup on a new connection, as postmap -q does."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"get user@example.org\n")
        f = s.makefile("rb")
        return f.readline().decode()


def smap_lookup(port, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(netstring("forward user@example.org"))
        return read_netstring(s.makefile("rb")).decode()


class Flood:
    """Keeps n idle connections open to a port, reopening those the server
    closes, until stopped."""

    def __init__(self, port, n):
        self.port, self.n = port, n
        self.socks = []
        self.opened = 0
        self.stop_flag = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_flag.is_set():
            alive = []
            for s in self.socks:
                try:
                    s.setblocking(False)
                    if s.recv(1) == b"":
                        s.close()
                        continue
                    alive.append(s)
                except BlockingIOError:
                    alive.append(s)
                except OSError:
                    s.close()
            self.socks = alive
            while len(self.socks) < self.n and not self.stop_flag.is_set():
                try:
                    self.socks.append(socket.create_connection(("127.0.0.1", self.port),
                                                               timeout=5))
                    self.opened += 1
                except OSError:
                    break
            time.sleep(0.05)

    def stop(self):
        self.stop_flag.set()
        self.t.join(10)
        for s in self.socks:
            s.close()


def message_after_optneg(m):
    """Connect, HELO and one message on a negotiated connection; the reply
    commands up to the final one."""
    m.send(packet(b"D", b"Cj\0mx.test\0") +
           packet(b"C", b"client.test\0" + b"4" + struct.pack(">H", 4567) + b"192.0.2.7\0") +
           packet(b"H", b"client.test\0") + packet(b"M", b"<a@sender.test>\0") +
           packet(b"R", b"<b@rcpt.test>\0") + packet(b"L", b"Subject\0 hi\0") + packet(b"N") +
           packet(b"B", b"body\r\n") + packet(b"E"))
    seen = []
    while True:
        cmd, _ = m.read_packet()
        seen.append(cmd)
        if cmd in (b"c", b"a", b"t", b"r", b"y", b"d"):
            return seen


class LimitsBase(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        fwdtest.require_programs(fwdtest.FWDAUTHD)
        self.secret = os.path.join(self.dir, "srs.secret")
        fwdtest.write_secret(self.secret, SECRET,
                             owner="nobody" if os.geteuid() == 0 else None)
        self.ports = {k: fwdtest.free_port() for k in ("sm", "fwd", "milter", "metrics")}

    def settings(self, **extra):
        s = {
            "srs_domain": "fwd.example.net",
            "srs_secrets": self.secret,
            "socketmap_listen": "inet:127.0.0.1:%d" % self.ports["sm"],
            "tcp_forward_listen": "inet:127.0.0.1:%d" % self.ports["fwd"],
            "milter_listen": "inet:127.0.0.1:%d" % self.ports["milter"],
            "internal_hosts": "192.0.2.254/32",
            "authserv_id": AUTHSERV_ID,
            "log_level": "info",
        }
        s.update(extra)
        return s

    def start(self, **extra):
        d = self.start_daemon(self.settings(**extra))
        fwdtest.wait_for_port(self.ports["milter"], proc=d.proc)
        time.sleep(0.3)  # let the wait_for_port probes' connections end
        return d

    def wait_log(self, d, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in d.logtext():
                return
            time.sleep(0.05)
        self.fail("log never said %r; log:\n%s" % (text, d.logtext()))

    def check(self, conf, **kw):
        return fwdtest.run([fwdtest.FWDAUTHD, "-c", conf, "-t"], **kw)


class ListenerLimits(LimitsBase):
    """(a)"""

    def measure_tables_and_milter(self, seconds=3.0, smap=False):
        """Lookups on new connections (tcp_table, or socketmap) and milter
        sessions, interleaved for `seconds`: (ok, failed, sessions_ok, sessions_failed)."""
        ok = failed = m_ok = m_failed = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                r = smap_lookup(self.ports["sm"]) if smap else tcp_lookup(self.ports["fwd"])
                if r.startswith("200 ") or r.startswith("OK "):
                    ok += 1
                else:
                    failed += 1
            except (OSError, EOFError):
                failed += 1
            if m_ok + m_failed < 10:
                m = RawMilter(self.ports["milter"])
                try:
                    seen = good_session(m, qid="F%d" % (m_ok + m_failed))
                    m_ok += 1 if seen and AUTHSERV_ID in seen[0] else 0
                    m_failed += 0 if seen and AUTHSERV_ID in seen[0] else 1
                except (OSError, EOFError, AssertionError):
                    m_failed += 1
                finally:
                    m.close()
        return ok, failed, m_ok, m_failed

    def test_table_flood_leaves_others_serving(self):
        d = self.start(table_connection_limit="40", milter_connection_limit="40")
        t0 = time.monotonic()
        ok0, failed0, _, _ = self.measure_tables_and_milter(1.5)
        base_rate = ok0 / (time.monotonic() - t0)
        flood = Flood(self.ports["sm"], 60)
        self.addCleanup(flood.stop)
        self.wait_log(d, "table_connection_limit (40) reached")
        t0 = time.monotonic()
        ok, failed, m_ok, m_failed = self.measure_tables_and_milter(3.0)
        rate = ok / (time.monotonic() - t0)
        # The flooded listener itself: its idle flood sockets make room.
        s_ok = s_failed = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                s_ok += smap_lookup(self.ports["sm"]).startswith("OK ")
            except (OSError, EOFError):
                s_failed += 1
            time.sleep(0.05)
        flood.stop()
        measured("socketmap flood (60 idle, limit 40, %d opened): tcp_table %d lookups ok, %d "
                 "failed (%.0f/s; %.0f/s before the flood); milter %d sessions answered, %d "
                 "not; socketmap itself %d ok, %d refused" %
                 (flood.opened, ok, failed, rate, base_rate, m_ok, m_failed, s_ok, s_failed))
        self.assertEqual(failed0, 0)
        self.assertEqual(failed, 0, d.logtext()[-3000:])
        self.assertGreater(ok, 10)
        self.assertEqual(m_failed, 0, d.logtext()[-3000:])
        self.assertGreaterEqual(m_ok, 5)
        self.assertGreater(s_ok, 0, "no lookup got through on the flooded listener")
        self.assertIn("closing the connections idle longest to make room", d.logtext())

    def test_postfix_clients_reconnect_after_room_is_made(self):
        """Postfix's own table clients (postmap -q -, one connection for
        several lookups) whose idle connection was closed to make room
        reconnect and get their answer."""
        fwdtest.require_programs(POSTMAP)
        d = self.start(table_connection_limit="3", log_level="debug")
        pfdir = os.path.join(self.dir, "postfix")
        os.mkdir(pfdir)
        open(os.path.join(pfdir, "main.cf"), "w").close()
        for table, port in (("tcp:127.0.0.1:%d" % self.ports["fwd"], self.ports["fwd"]),
                            ("socketmap:inet:127.0.0.1:%d:forward" % self.ports["sm"],
                             self.ports["sm"])):
            p = subprocess.Popen([POSTMAP, "-c", pfdir, "-q", "-", table], text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            self.addCleanup(p.kill)
            p.stdin.write("a@example.org\n")
            p.stdin.flush()
            time.sleep(0.5)
            held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
            self.addCleanup(lambda: [h.close() for h in held])
            time.sleep(0.5)
            p.stdin.write("b@example.org\n")
            p.stdin.close()
            out = p.stdout.read()
            p.wait(30)
            self.assertRegex(out, r"(?m)^a@example\.org\tSRS0=")
            self.assertRegex(out, r"(?m)^b@example\.org\tSRS0=", table)
            for h in held:
                h.close()
        # postmap's connection was the one idle longest each time: closed.
        self.assertGreaterEqual(d.logtext().count("closed idle connection from"), 2)
        self.assertIn("closing the connections idle longest to make room", d.logtext())

    def test_milter_flood_leaves_tables_serving(self):
        d = self.start(table_connection_limit="40", milter_connection_limit="40")
        held = []
        self.addCleanup(lambda: [m.close() for m in held])
        for _ in range(40):  # negotiated, connected, idle: as live SMTP sessions
            m = RawMilter(self.ports["milter"])
            m.send(optneg())
            self.assertEqual(m.read_packet()[0], b"O")
            held.append(m)
        extra = RawMilter(self.ports["milter"])
        self.addCleanup(extra.close)
        self.assertTrue(extra.closed_by_peer(), "a 41st milter connection is refused")
        self.wait_log(d, "milter_connection_limit (40) reached")
        t0 = time.monotonic()
        ok = failed = 0
        while time.monotonic() - t0 < 2.0:
            for fn, port in ((tcp_lookup, self.ports["fwd"]), (smap_lookup, self.ports["sm"])):
                try:
                    r = fn(port)
                    ok += r.startswith("200 ") or r.startswith("OK ")
                except (OSError, EOFError):
                    failed += 1
        measured("milter flood (40 held, limit 40): tables %d lookups ok (%.0f/s), %d failed" %
                 (ok, ok / (time.monotonic() - t0), failed))
        self.assertEqual(failed, 0)
        self.assertGreater(ok, 10)
        # A held session is still served, and a freed slot is taken again.
        self.assertIn(b"i", message_after_optneg(held[0]))
        held.pop(0).close()
        time.sleep(0.5)
        m = RawMilter(self.ports["milter"])
        self.addCleanup(m.close)
        self.assertIn(AUTHSERV_ID, good_session(m)[0])

    def test_connection_limit_below_sum_warns(self):
        conf = os.path.join(self.dir, "warn.conf")
        fwdtest.write_config(conf, **self.settings(connection_limit="100"))
        r = self.check(conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: connection_limit (100) is below the sum of the listener limits "
                      "(1500 = 2 x table_connection_limit 500 + milter_connection_limit 500)",
                      r.stderr)


class MilterDeadlines(LimitsBase):
    """(b)"""

    def test_slow_drip_cut_at_packet_deadline(self):
        d = self.start(milter_timeout="3")
        m = RawMilter(self.ports["milter"])
        self.addCleanup(m.close)
        m.send(optneg())
        self.assertEqual(m.read_packet()[0], b"O")
        pkt = packet(b"C", b"client.test\0" + b"4" + struct.pack(">H", 4567) + b"192.0.2.7\0")
        t0 = time.monotonic()
        cut = None
        for i in range(len(pkt)):
            try:
                m.sock.sendall(pkt[i:i + 1])
            except OSError:
                cut = time.monotonic() - t0
                break
            m.sock.settimeout(0.5)
            try:
                if m.sock.recv(100) == b"":
                    cut = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                cut = time.monotonic() - t0
                break
        measured("slow drip (1 octet / 0.5 s, milter_timeout 3): cut after %s s" %
                 ("%.1f" % cut if cut is not None else "never"))
        self.assertIsNotNone(cut, "a 1-octet-per-0.5-s packet was never cut")
        self.assertGreaterEqual(cut, 2.5)
        self.assertLessEqual(cut, 6.0)
        self.wait_log(d, "packet not complete within milter_timeout")

    def test_pauses_between_packets_are_fine(self):
        self.start(milter_timeout="3")
        m = RawMilter(self.ports["milter"])
        self.addCleanup(m.close)
        m.send(optneg())
        self.assertEqual(m.read_packet()[0], b"O")
        # Whole packets with pauses under milter_timeout, 8 s in all.
        for p in (packet(b"D", b"Cj\0mx.test\0"),
                  packet(b"C", b"client.test\0" + b"4" + struct.pack(">H", 4567) +
                         b"192.0.2.7\0"),
                  packet(b"H", b"client.test\0"), packet(b"M", b"<a@sender.test>\0")):
            m.send(p)
            time.sleep(2.0)
        m.send(packet(b"R", b"<b@rcpt.test>\0") + packet(b"L", b"Subject\0 hi\0") +
               packet(b"N") + packet(b"B", b"body\r\n") + packet(b"E"))
        seen = []
        while True:
            cmd, data = m.read_packet()
            if cmd == b"c":
                break
            seen.append(cmd)
        self.assertIn(b"i", seen)


class MilterMemory(LimitsBase):
    """(c)"""

    def open_in_message(self):
        m = RawMilter(self.ports["milter"], timeout=30)
        self.addCleanup(m.close)
        m.send(optneg())
        self.assertEqual(m.read_packet()[0], b"O")
        m.send(packet(b"D", b"Cj\0mx.test\0") +
               packet(b"C", b"client.test\0" + b"4" + struct.pack(">H", 4567) + b"192.0.2.7\0") +
               packet(b"H", b"client.test\0") + packet(b"M", b"<a@sender.test>\0") +
               packet(b"R", b"<b@rcpt.test>\0"))
        return m

    def final_reply(self, m):
        while True:
            cmd, data = m.read_packet()
            if cmd in (b"c", b"a", b"t", b"r", b"y", b"d"):
                return cmd, data

    def test_declared_1mib_headers_hold_nothing(self):
        d = self.start()
        conns = [self.open_in_message() for _ in range(20)]
        time.sleep(0.5)
        before = rss_kb(d.proc.pid)
        size = 1024 * 1024
        name = b"X-Big\0"
        for m in conns:  # all but 4 KiB of each: the old daemon held 1 MiB for each
            m.send(struct.pack(">I", size) + b"L" + name + b"a" * (size - 1 - len(name) - 4096))
        time.sleep(1.0)
        during = rss_kb(d.proc.pid)
        for m in conns:
            m.send(b"a" * 4095 + b"\0" + packet(b"N") + packet(b"E"))
        replies = [self.final_reply(m) for m in conns]
        measured("20 connections x 1 MiB declared header: RSS %d kB before, %d kB with all but "
                 "4 KiB of each sent (+%d kB)" % (before, during, during - before))
        for cmd, data in replies:
            self.assertEqual((cmd, data[:10]), (b"y", b"552 5.3.4 "))
        self.assertLess(during - before, 20 * 1024, "20 x 1 MiB must not be held")
        # The connection goes on: a next message is served.
        m = conns[0]
        m.send(packet(b"M", b"<a@sender.test>\0") + packet(b"R", b"<b@rcpt.test>\0") +
               packet(b"L", b"Subject\0 hi\0") + packet(b"N") + packet(b"E"))
        self.assertEqual(self.final_reply(m)[0], b"c")

    def test_budget_spent_tempfails_large_headers(self):
        d = self.start(milter_buffer_memory="1")
        conns = [self.open_in_message() for _ in range(8)]
        value = b"v" * (200 * 1024)
        pkt = packet(b"L", b"X-Large\0" + value + b"\0")
        half = len(pkt) // 2
        for m in conns:  # each holds half a 200 KiB header: more than 1 MiB together
            m.send(pkt[:half])
        time.sleep(0.5)
        for m in conns:
            m.send(pkt[half:] + packet(b"N") + packet(b"B", b"body\r\n") + packet(b"E"))
        replies = [self.final_reply(m)[0] for m in conns]
        measured("8 x 200 KiB headers with milter_buffer_memory = 1 MiB: %d served, %d "
                 "tempfailed" % (replies.count(b"c"), replies.count(b"t")))
        self.assertGreaterEqual(replies.count(b"c"), 1, replies)
        self.assertGreaterEqual(replies.count(b"t"), 1, replies)
        self.assertEqual(replies.count(b"c") + replies.count(b"t"), 8, replies)
        self.assertIn("no memory for a large header field (milter_buffer_memory)", d.logtext())
        # The budget came back: one at a time, all are served.
        for m in conns:
            m.send(packet(b"M", b"<a@sender.test>\0") + packet(b"R", b"<b@rcpt.test>\0") + pkt +
                   packet(b"N") + packet(b"E"))
            self.assertEqual(self.final_reply(m)[0], b"c")


def as_nobody():
    pw = pwd.getpwnam("nobody")

    def fn():
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return fn


def low_soft_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE,
                       (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


def has_cap_sys_resource():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 24))
    return False


class Descriptors(LimitsBase):
    """(d)"""

    def start_with(self, preexec, **extra):
        conf = os.path.join(self.dir, "fwdauthd.conf")
        fwdtest.write_config(conf, **self.settings(**extra))
        log = open(os.path.join(self.dir, "fwdauthd.log"), "ab")
        self.addCleanup(log.close)
        p = subprocess.Popen([fwdtest.FWDAUTHD, "-c", conf, "-f"], stdout=log,
                             stderr=subprocess.STDOUT, preexec_fn=preexec)

        def stop():
            p.terminate()
            p.wait(10)
        self.addCleanup(stop)
        fwdtest.wait_for_port(self.ports["milter"], proc=p)
        return p, log.name

    def test_raised_at_start(self):
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        fwdtest.require(hard == resource.RLIM_INFINITY or hard >= 4000,
                        "a hard RLIMIT_NOFILE of at least 4000 (ulimit -Hn)")
        p, log = self.start_with(low_soft_nofile, table_connection_limit="1500")
        limits = nofile_limits(p.pid)
        # 2 table listeners x 1500 + 500 milter, capped by connection_limit 2000,
        # plus listeners, files and the resolver's sockets.
        measured("RLIMIT_NOFILE soft limit started at 1024, now (soft, hard) %s" % limits)
        self.assertTrue(limits)
        for soft, hard in limits:
            self.assertGreaterEqual(soft, 2000 + 1000)
            self.assertGreaterEqual(hard, soft)
        with open(log) as f:
            self.assertIn("RLIMIT_NOFILE raised from 1024 to", f.read())

    def test_hard_limit_raised_as_root(self):
        if os.geteuid() != 0 or not has_cap_sys_resource():
            self.skipTest("raising the hard limit needs root with CAP_SYS_RESOURCE (this "
                          "container drops it)")
        p, log = self.start_with(low_nofile, table_connection_limit="1500")
        limits = nofile_limits(p.pid)
        measured("RLIMIT_NOFILE started at 1024/1024, now (soft, hard) %s" % limits)
        for soft, hard in limits:
            self.assertGreaterEqual(soft, 2000 + 1000)
            self.assertGreaterEqual(hard, soft)

    def test_cannot_be_raised(self):
        fwdtest.require(os.geteuid() == 0, "becoming nobody needs root")
        nobody = pwd.getpwnam("nobody")
        os.chown(self.secret, nobody.pw_uid, nobody.pw_gid)
        conf = os.path.join(self.dir, "fwdauthd.conf")
        fwdtest.write_config(conf, **self.settings(table_connection_limit="3000"))
        r = self.check(conf, preexec_fn=as_nobody())
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("the connection limits need", r.stderr)
        self.assertIn("cannot be raised", r.stderr)
        self.assertIn("LimitNOFILE=", r.stderr)
        r = fwdtest.run([fwdtest.FWDAUTHD, "-c", conf, "-f"], preexec_fn=as_nobody(), timeout=20)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cannot be raised", r.stdout + r.stderr)
        # Within the hard limit it is fine: the soft limit is raised. (Without
        # a milter: with one, the resolver's margin alone is 1040.)
        fwdtest.write_config(conf, **self.settings(table_connection_limit="10",
                                                   milter_listen=""))
        r = self.check(conf, preexec_fn=as_nobody())
        self.assertEqual(r.returncode, 0, r.stderr)


class MetricsScrape(LimitsBase):
    """(e)"""

    def scrape_with_idle_clients(self, idle, **extra):
        self.start(metrics_listen="inet:127.0.0.1:%d" % self.ports["metrics"], **extra)
        fwdtest.wait_for_port(self.ports["metrics"])
        time.sleep(0.3)
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(idle):
            s = socket.create_connection(("127.0.0.1", self.ports["metrics"]), timeout=5)
            s.sendall(b"GET /metrics HTTP/1.1\r\n")  # and nothing more
            held.append(s)
        time.sleep(0.3)
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.ports["metrics"],
                                        timeout=3) as r:
                body = r.read().decode()
        except OSError:
            return None, time.monotonic() - t0
        return body, time.monotonic() - t0

    def test_scrape_answers_with_idle_clients(self):
        body, took = self.scrape_with_idle_clients(8)
        measured("scrape with 8 idle clients (default metrics_connection_limit): %.3f s" % took)
        self.assertIsNotNone(body)
        self.assertIn("fwdauth_connections_total", body)
        self.assertLess(took, 1.0)

    def test_limit_of_8_makes_it_wait(self):
        body, took = self.scrape_with_idle_clients(8, metrics_connection_limit="8")
        measured("scrape with 8 idle clients, metrics_connection_limit = 8: %s after %.1f s" %
                 ("answered" if body else "no answer", took))
        self.assertTrue(body is None or took > 1.0)


class Files(LimitsBase):
    """(f)"""

    def open_dir(self, mode):
        d = os.path.join(self.dir, "open")
        os.mkdir(d)
        os.chmod(d, mode)
        return d

    def test_config_in_open_folder(self):
        d = self.open_dir(0o777)
        conf = os.path.join(d, "fwdauthd.conf")
        fwdtest.write_config(conf, **self.settings())
        r = self.check(conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn("the folder %s is writable by others without the sticky bit" % d, r.stderr)
        r = fwdtest.run([fwdtest.FWDAUTHD, "-c", conf, "-f"], timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("writable by others without the sticky bit", r.stdout + r.stderr)
        os.chmod(d, 0o1777)  # sticky, as /tmp: fine
        r = self.check(conf)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_config_writable_by_others(self):
        conf = os.path.join(self.dir, "fwdauthd.conf")
        fwdtest.write_config(conf, **self.settings())
        os.chmod(conf, 0o646)
        r = self.check(conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is writable by others (chmod o-w)", r.stderr)

    def test_secrets_in_open_folder_refused_and_reload_kept(self):
        d = self.start(log_level="info")
        self.assertTrue(smap_lookup(self.ports["sm"]).startswith("OK "))
        sdir = self.open_dir(0o755)
        moved = os.path.join(sdir, "srs.secret")
        fwdtest.write_secret(moved, SECRET, owner="nobody" if os.geteuid() == 0 else None)
        conf = os.path.join(self.dir, "fwdauthd.conf")
        fwdtest.write_config(conf, **self.settings(srs_secrets=moved))
        os.chmod(sdir, 0o777)
        r = self.check(conf)
        self.assertEqual(r.returncode, 1)
        self.assertIn("writable by others without the sticky bit", r.stderr)
        d.proc.send_signal(signal.SIGHUP)
        self.wait_log(d, "reload failed")
        self.assertIn("writable by others without the sticky bit", d.logtext())
        self.assertTrue(smap_lookup(self.ports["sm"]).startswith("OK "))

    def test_fifo_secrets(self):
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo, 0o600)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(fifo, nobody.pw_uid, nobody.pw_gid)
        # At start: refused at once.
        conf = os.path.join(self.dir, "fifo.conf")
        fwdtest.write_config(conf, **self.settings(srs_secrets=fifo))
        t0 = time.monotonic()
        r = fwdtest.run([fwdtest.FWDAUTHD, "-c", conf, "-f"], timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a regular file", r.stdout + r.stderr)
        self.assertLess(time.monotonic() - t0, 10)
        # On SIGHUP: the secrets file becomes a FIFO (nobody writes it).
        d = self.start()
        os.rename(fifo, self.secret)
        d.proc.send_signal(signal.SIGHUP)
        worst = 0.0
        answered = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            self.assertTrue(smap_lookup(self.ports["sm"], timeout=2).startswith("OK "))
            self.assertTrue(tcp_lookup(self.ports["fwd"], timeout=2).startswith("200 "))
            worst = max(worst, time.monotonic() - t0)
            answered += 2
        self.wait_log(d, "reload failed")
        self.assertIn("not a regular file", d.logtext())
        m = RawMilter(self.ports["milter"])
        self.addCleanup(m.close)
        self.assertIn(AUTHSERV_ID, good_session(m)[0])
        measured("SIGHUP with a FIFO as srs_secrets: %d lookups answered in 3 s, slowest %.3f s"
                 % (answered, worst))
        self.assertLess(worst, 1.0)
