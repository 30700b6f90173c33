"""fwdauthd's milter listener against independent clients.

  (a) miltertest (Debian's, libmilter's own test driver) runs Lua scripts
      written here: connect, HELO, MAIL with ESMTP parameters, several RCPT,
      headers and body when the filter asks for them, end of message with
      the Authentication-Results field inserted for inbound mail checked; two messages and an abort on one
      connection; protocol versions 2 and 6.
  (b) a real throwaway Postfix (postfixtest.py) with smtpd_milters and
      non_smtpd_milters delivers to an smtp-sink with the header added,
      several messages in one SMTP session, and mail submitted with
      sendmail(1) (cleanup's non_smtpd_milters).
  (c) with fwdauthd stopped Postfix tempfails (milter_default_action =
      tempfail) and loses nothing: the client retries after a restart and
      the message is delivered once.
  (d) malformed packets on raw sockets (length 0, over 1 MiB, junk, a body
      before MAIL, a truncated packet) close that connection only; the
      daemon goes on serving a session opened before and new ones.

Set FWDAUTH_MILTER_CAPTURE=DIR to record the packets Postfix sends (through
a small recording proxy) as fuzz seeds.
"""
import os
import re
import shutil
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

import fwdtest
import postfixtest

MILTERTEST = "/usr/bin/miltertest"
SECRET = "milter-test-s3cret"

SMFIF_ALL = 0x1FF
SMFIP_ALL = 0x1FFFFF


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def optneg(version=6, actions=SMFIF_ALL, proto=SMFIP_ALL):
    return packet(b"O", struct.pack(">III", version, actions, proto))


class RawMilter:
    """A raw milter client: send bytes, read reply packets."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send(self, data):
        self.sock.sendall(data)

    def read_packet(self):
        hdr = self._read(4)
        (n,) = struct.unpack(">I", hdr)
        body = self._read(n)
        return body[:1], body[1:]

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError("closed after %d of %d octets" % (len(out), n))
            out += chunk
        return out

    def closed_by_peer(self, timeout=10):
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self.sock.recv(4096):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def good_session(m, qid="QID1", nmsg=1):
    """One Postfix-like session with the daemon's negotiated steps; returns
    the Authentication-Results values inserted (one per message)."""
    m.send(optneg())
    cmd, data = m.read_packet()
    assert cmd == b"O", cmd
    version, actions, proto = struct.unpack(">III", data[:12])
    assert version == 6 and actions & 0x01 and proto & 0x100000, (version, actions, proto)
    m.send(packet(b"D", b"Cj\0mx.test\0") +
           packet(b"C", b"client.test\0" + b"4" + struct.pack(">H", 4567) + b"192.0.2.7\0") +
           packet(b"H", b"client.test\0"))
    seen = []
    for i in range(nmsg):
        m.send(packet(b"M", b"<a@sender.test>\0SIZE=10\0") + packet(b"R", b"<b@rcpt.test>\0") +
               packet(b"L", b"Subject\0 hello\0") + packet(b"N") +
               packet(b"B", b"body\r\n") +
               packet(b"D", b"Ei\0" + ("%s%d" % (qid, i)).encode() + b"\0") + packet(b"E"))
        while True:
            cmd, data = m.read_packet()
            if cmd == b"i":
                index = struct.unpack(">I", data[:4])[0]
                name, value, _ = data[4:].split(b"\0")
                assert (index, name) == (1, b"Authentication-Results"), (index, name)
                seen.append(value.decode())
                continue
            assert cmd == b"c", (cmd, data)
            break
    m.send(packet(b"Q"))
    return seen


AUTHSERV_ID = "mx.fwdauth-test.invalid"
# What miltertest echoes of our Authentication-Results (%s: the leading space
# the MTA keeps with protocol 6, none with 2): spf, then dkim=none, dmarc, arc.
SEEN = (r"seen=\[%s" + re.escape(AUTHSERV_ID) +
        r";\n\tspf=[a-z]+ [^\n]*;\n\tdkim=none;\n\tdmarc=[a-z]+[^\n]*;\n\tarc=none\]")


class RecordingProxy:
    """Forwards one listening port to the daemon and appends what the MTA
    sends to files in capture_dir (one per connection)."""

    def __init__(self, target_port, capture_dir):
        self.target = target_port
        self.dir = capture_dir
        os.makedirs(capture_dir, exist_ok=True)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.n = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.n += 1
            path = os.path.join(self.dir, "postfix-%d-%s" % (self.n, uuid.uuid4().hex[:8]))
            u = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(c, u, path), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, None), daemon=True).start()

    def _pipe(self, a, b, path):
        f = open(path, "ab") if path else None
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                if f:
                    f.write(d)
                b.sendall(d)
        except OSError:
            pass
        finally:
            if f:
                f.close()
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.lsock.close()


class MilterBase(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        fwdtest.require_programs(fwdtest.FWDAUTHD)
        self.secret = os.path.join(self.dir, "srs.secret")
        fwdtest.write_secret(self.secret, SECRET, owner="nobody")
        self.port = fwdtest.free_port()

    def start(self, **extra):
        settings = {
            "srs_domain": "fwd.example.net",
            "srs_secrets": self.secret,
            "milter_listen": "inet:127.0.0.1:%d" % self.port,
            "log_level": "debug",
            # Test clients connect from loopback; treat them as outside senders
            # so every message is inbound and gets Authentication-Results.
            "internal_hosts": "192.0.2.254/32",
            "authserv_id": AUTHSERV_ID,
        }
        settings.update(extra)
        d = self.start_daemon(settings)
        fwdtest.wait_for_port(self.port, proc=d.proc)
        return d


class MilterTestDriver(MilterBase):
    """(a) miltertest."""

    def setUp(self):
        super().setUp()
        fwdtest.require_programs(MILTERTEST)
        self.daemon = self.start()

    def run_lua(self, body, version="nil"):
        script = os.path.join(self.dir, "t%s.lua" % uuid.uuid4().hex[:6])
        with open(script, "w") as f:
            f.write(LUA_PRELUDE % {"port": self.port, "version": version})
            f.write(body)
            f.write("\nmt.disconnect(conn)\n")
        r = fwdtest.run([MILTERTEST, "-s", script], timeout=60)
        self.assertEqual(r.returncode, 0, "miltertest failed:\n%s%s\ndaemon log:\n%s" %
                         (r.stdout, r.stderr, self.daemon.logtext()))
        return r.stdout

    def test_one_message(self):
        out = self.run_lua(LUA_MESSAGE % {"qid": "4XyZ1", "from": "<a@example.org>",
                                          "body": "hello\\r\\n"})
        self.assertRegex(out, SEEN % " ")
        self.wait_log("msg 4XyZ1: from=<a@example.org> inbound spf=none dkim=none")

    def test_two_messages_and_abort_on_one_connection(self):
        body = (LUA_MESSAGE % {"qid": "FIRST1", "from": "<a@example.org>", "body": "x\\r\\n"} +
                LUA_ABORTED +
                LUA_MESSAGE % {"qid": "SECOND2", "from": "<>", "body": "yy\\r\\n"})
        out = self.run_lua(body)
        self.assertEqual(len(re.findall(SEEN % " ", out)), 2, out)
        self.wait_log("msg FIRST1: from=<a@example.org> inbound spf=none dkim=none")
        self.wait_log("msg SECOND2: from=<> inbound spf=none dkim=none")
        self.assertNotIn("msg ABORTED", self.daemon.logtext())

    def test_protocol_version_2(self):
        # No no-reply steps, no leading space: the layer answers every step
        # and the MTA adds the space after the colon itself.
        out = self.run_lua(LUA_CHECK_VERSION % {"want": 2} +
                           LUA_MESSAGE % {"qid": "V2Q", "from": "<a@example.org>",
                                          "body": "b\\r\\n"}, version="2")
        self.assertRegex(out, SEEN % "")
        self.wait_log("msg V2Q: from=<a@example.org> inbound spf=none dkim=none")

    def wait_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.daemon.logtext():
                return
            time.sleep(0.05)
        self.fail("%r not in the daemon log:\n%s" % (text, self.daemon.logtext()))


LUA_PRELUDE = """\
conn = mt.connect("inet:%(port)d@127.0.0.1", 20, 0.1)
if conn == nil then error "mt.connect() failed" end
local e = mt.negotiate(conn, %(version)s, nil, nil)
if e ~= nil then error("negotiate: " .. e) end
mt.macro(conn, SMFIC_CONNECT, "j", "mx.test", "{daemon_name}", "smtpd")
if mt.conninfo(conn, "client.example", "192.0.2.1") ~= nil then error "conninfo" end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error "conninfo reply" end
if mt.helo(conn, "client.example") ~= nil then error "helo" end
"""

LUA_CHECK_VERSION = """\
if mt.test_option(conn, SMFIP_NR_RCPT) then error "NR_RCPT with version %(want)d" end
"""

LUA_MESSAGE = """\
mt.macro(conn, SMFIC_MAIL, "i", "%(qid)s", "{mail_addr}", "a@example.org")
if mt.mailfrom(conn, "%(from)s", "SIZE=100", "BODY=8BITMIME") ~= nil then error "mail" end
if mt.rcptto(conn, "<b@example.net>") ~= nil then error "rcpt" end
if mt.rcptto(conn, "<c@example.net>", "NOTIFY=NEVER") ~= nil then error "rcpt 2" end
if not mt.test_option(conn, SMFIP_NODATA) then
  if mt.data(conn) ~= nil then error "data" end
end
if not mt.test_option(conn, SMFIP_NOHDRS) then
  if mt.header(conn, "From", "a@example.org") ~= nil then error "header" end
  if mt.header(conn, "Subject", "test") ~= nil then error "header 2" end
end
if not mt.test_option(conn, SMFIP_NOEOH) then
  if mt.eoh(conn) ~= nil then error "eoh" end
end
if mt.bodystring(conn, "%(body)s") ~= nil then error "body" end
if mt.eom(conn) ~= nil then error "eom" end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error "eom reply" end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then error "Authentication-Results not inserted" end
mt.echo("seen=[" .. mt.getheader(conn, "Authentication-Results", 0) .. "]")
"""

LUA_ABORTED = """\
mt.macro(conn, SMFIC_MAIL, "i", "ABORTED")
if mt.mailfrom(conn, "<x@example.org>") ~= nil then error "mail 2" end
if mt.rcptto(conn, "<y@example.net>") ~= nil then error "rcpt 3" end
if mt.abort(conn) ~= nil then error "abort" end
"""


class MilterRaw(MilterBase):
    """(d) malformed input on raw sockets."""

    def setUp(self):
        super().setUp()
        self.daemon = self.start()

    def bad(self, data, what):
        m = RawMilter(self.port)
        self.addCleanup(m.close)
        m.send(data)
        self.assertTrue(m.closed_by_peer(), "%s: connection not closed" % what)

    def test_malformed_input_closes_only_that_connection(self):
        held = RawMilter(self.port)  # a session open before the bad ones
        self.addCleanup(held.close)
        held.send(optneg())
        self.assertEqual(held.read_packet()[0], b"O")

        self.bad(b"\0\0\0\0", "length 0")
        self.bad(struct.pack(">I", 1024 * 1024 + 1) + b"O", "length over 1 MiB")
        self.bad(b"GET / HTTP/1.0\r\n\r\n", "junk")
        self.bad(optneg() + packet(b"C", b"h\0U") + packet(b"B", b"body before mail"),
                 "body before MAIL")
        self.bad(packet(b"C", b"h\0U"), "connect before option negotiation")
        self.bad(optneg() + optneg(), "second option negotiation")
        self.bad(optneg() + packet(b"Z"), "unknown command")
        self.bad(optneg(1), "version 1")
        self.bad(optneg() + packet(b"C", b"no terminator"), "connect without NUL")
        # A truncated packet followed by EOF: the daemon just closes.
        t = RawMilter(self.port)
        self.addCleanup(t.close)
        t.send(struct.pack(">I", 100) + b"L" + b"Subject\0")
        t.sock.shutdown(socket.SHUT_WR)
        self.assertTrue(t.closed_by_peer())

        # The session opened before still works, and so does a new one.
        held.send(packet(b"D", b"Cj\0mx\0") + packet(b"C", b"h\0U") +
                  packet(b"M", b"<a@b.test>\0") + packet(b"R", b"<c@d.test>\0") +
                  packet(b"E"))
        cmd, data = held.read_packet()
        self.assertEqual(cmd, b"i")
        self.assertEqual(held.read_packet()[0], b"c")
        m = RawMilter(self.port)
        self.addCleanup(m.close)
        seen = good_session(m, nmsg=2)
        self.assertEqual(len(seen), 2)
        for v in seen:
            self.assertRegex("seen=[" + v + "]", SEEN % " ")
        log = self.daemon.logtext()
        self.assertIn("protocol error", log)
        self.assertIn("bad packet length", log)
        self.assertIsNone(self.daemon.proc.poll())

    def test_large_header_packet_grows_the_buffer(self):
        # The placeholder filter asks for no headers, but a header packet
        # near the 1 MiB limit must still be framed and refused cleanly: the
        # message is refused for good with 552 5.3.4 (over MILTER_HEADER_MAX:
        # a retry would be refused again), the connection lives.
        m = RawMilter(self.port)
        self.addCleanup(m.close)
        m.send(optneg(proto=0x7F & ~0x20))  # version-2 style: no NR, headers wanted
        m.read_packet()
        m.send(packet(b"C", b"h\0U") + packet(b"M", b"<a@b.test>\0"))
        self.assertEqual(m.read_packet()[0], b"c")  # C
        self.assertEqual(m.read_packet()[0], b"c")  # M
        m.send(packet(b"L", b"X-Big\0" + b"v" * (900 * 1024) + b"\0"))
        cmd, data = m.read_packet()
        self.assertEqual((cmd, data[:10]), (b"y", b"552 5.3.4 "))
        m.send(packet(b"A") + packet(b"M", b"<a@b.test>\0"))
        self.assertEqual(m.read_packet()[0], b"c")
        self.assertIn("message refused (552 5.3.4", self.daemon.logtext())


class MilterLimits(MilterBase):
    def test_connection_limit_and_stop(self):
        d = self.start(connection_limit="2")
        time.sleep(0.5)  # let the start-up probe's connection end
        a, b = RawMilter(self.port), RawMilter(self.port)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        for m in (a, b):
            m.send(optneg())
            self.assertEqual(m.read_packet()[0], b"O")
        c = RawMilter(self.port)
        self.addCleanup(c.close)
        self.assertTrue(c.closed_by_peer(), "a third connection over connection_limit=2")
        self.assertIn("connection_limit (2) reached", d.logtext())
        # A stop closes idle milter connections at once and exits cleanly.
        a.send(packet(b"C", b"h\0U") + packet(b"M", b"<a@b.test>\0"))  # mid-message
        time.sleep(0.2)
        t0 = time.monotonic()
        self.assertEqual(d.stop(), 0)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertTrue(a.closed_by_peer(2))
        self.assertTrue(b.closed_by_peer(2))


class MilterPostfix(MilterBase):
    """(b), (c) through a real Postfix."""

    def setUp(self):
        super().setUp()
        fwdtest.require_programs(postfixtest.POSTFIX, postfixtest.SMTP_SINK)
        self.daemon = self.start()
        milter_port = self.port
        capture = os.environ.get("FWDAUTH_MILTER_CAPTURE")
        if capture:
            proxy = RecordingProxy(self.port, capture)
            self.addCleanup(proxy.close)
            milter_port = proxy.port
        self.pf = postfixtest.Postfix(self.dir)
        self.addCleanup(self.pf.stop)
        self.sink = self.pf.sink("remote.test")
        self.pf.start({
            "smtpd_milters": "inet:127.0.0.1:%d" % milter_port,
            "non_smtpd_milters": "inet:127.0.0.1:%d" % milter_port,
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "5s",
        })

    def msg(self, subject):
        return ("From: a@sender.test\r\nTo: u@remote.test\r\nSubject: %s\r\n"
                "Message-ID: <%s@sender.test>\r\n\r\nbody line 1\r\nbody line 2\r\n" %
                (subject, uuid.uuid4().hex))

    def test_header_added_several_messages_one_session(self):
        subjects = ["pf-%d-%s" % (i, uuid.uuid4().hex[:6]) for i in range(3)]
        with smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=30) as s:
            for i, subj in enumerate(subjects):
                s.sendmail("a@sender.test", ["u@remote.test", "v%d@remote.test" % i],
                           self.msg(subj))
        for subj in subjects:
            (m,) = postfixtest.wait_for_delivery(
                self.sink, 30, match=lambda m, subj=subj: m.header("Subject") == subj)
            seen = m.msg.get_all("Authentication-Results")
            self.assertEqual(len(seen or []), 1, m.raw[:600])
            self.assertRegex(" ".join(seen[0].split()),
                             r"^%s; spf=[a-z]+ .*; dkim=none; dmarc=[a-z]+ .*; arc=none$" %
                             re.escape(AUTHSERV_ID))
            qid = re.search(rb"\(Postfix\) with ESMTP id ([0-9A-Z]+)", m.raw).group(1).decode()
            self.assertIn("msg %s: from=<a@sender.test> inbound spf=none dkim=none" % qid,
                          self.daemon.logtext())

    def test_sendmail_submission_non_smtpd_milters(self):
        subj = "local-" + uuid.uuid4().hex[:8]
        r = subprocess.run(["/usr/sbin/sendmail", "-C", self.pf.conf, "-f", "local@sender.test",
                            "u@remote.test"], input=self.msg(subj).encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        (m,) = postfixtest.wait_for_delivery(self.sink, 60,
                                             match=lambda m: m.header("Subject") == subj)
        self.assertIsNotNone(m.header("Authentication-Results"), m.raw[:600])

    def test_daemon_down_tempfails_then_delivers(self):
        if os.environ.get("FWDAUTH_MILTER_CAPTURE"):
            self.skipTest("the recording proxy stands in for the stopped daemon")
        self.daemon.stop()
        subj = "down-" + uuid.uuid4().hex[:8]
        with self.assertRaises(smtplib.SMTPException) as cm:
            with smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=30) as s:
                s.sendmail("a@sender.test", ["u@remote.test"], self.msg(subj))
        code = getattr(cm.exception, "smtp_code", None)
        if code is None and hasattr(cm.exception, "recipients"):
            code = list(cm.exception.recipients.values())[0][0]
        self.assertIsNotNone(code, "%r %r" % (cm.exception, self.pf.log_text()[-3000:]))
        self.assertTrue(400 <= code < 500, repr(cm.exception))
        self.pf.wait_for_log("milter")
        # Nothing was queued: the client keeps the message. Restart, retry.
        self.daemon = self.start()
        with smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=30) as s:
            s.sendmail("a@sender.test", ["u@remote.test"], self.msg(subj))
        msgs = postfixtest.wait_for_delivery(self.sink, 30,
                                             match=lambda m: m.header("Subject") == subj)
        self.assertEqual(len(msgs), 1)
        self.assertIsNotNone(msgs[0].header("Authentication-Results"))

    def test_daemon_stopped_mid_session(self):
        # An SMTP session whose milter connection dies between two messages:
        # the second message is tempfailed, not accepted unfiltered or lost.
        if os.environ.get("FWDAUTH_MILTER_CAPTURE"):
            self.skipTest("the recording proxy stands in for the stopped daemon")
        s = smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=30)
        self.addCleanup(s.close)
        s1 = "mid1-" + uuid.uuid4().hex[:8]
        s.sendmail("a@sender.test", ["u@remote.test"], self.msg(s1))
        postfixtest.wait_for_delivery(self.sink, 30, match=lambda m: m.header("Subject") == s1)
        self.daemon.stop()
        s2 = "mid2-" + uuid.uuid4().hex[:8]
        with self.assertRaises(smtplib.SMTPException):
            s.sendmail("a@sender.test", ["u@remote.test"], self.msg(s2))
        self.assertEqual([m for m in postfixtest.sink_messages(self.sink)
                          if m.header("Subject") == s2], [])


if __name__ == "__main__":
    unittest.main()
