"""fwdauthd's mail policy driven by miltertest (libmilter's own test client).

The three core flows of test_milter_e2e.py without Postfix, so that the
milter replies themselves are checked, from an independent client:
  inbound      outside client, message DKIM-signed by sender.test (dkimpy):
               one Authentication-Results inserted at index 1 with dkim=pass,
               no DKIM-Signature, no change of sender;
  originating  {auth_authen} set at MAIL: a DKIM-Signature for
               ourdomain.test inserted, which dkimpy and `fwdauth dkim verify`
               accept on the message rebuilt from what miltertest sent, no
               Authentication-Results;
  forwarded    RCPT alias@ourdomain.test from outside: Authentication-Results,
               our forwarder signature, and SMFIR_CHGFROM with the SRS address
               (miltertest has no eom_check for change-from: its -vv trace
               shows the reply code 'e' and its length, compared with the
               address `fwdauth srs forward` computes with the same secret);
  forged AR    MT_HDRDELETE of exactly the fields that claim our authserv-id
               (indexes 1 and 3 of 4, any letter case), none of the others.
Plus a raw-socket client for a message with 60 forged fields (a stack
buffer in mailflow.c's log line; fails under ASan until fixed).
"""
import os
import re
import struct
import subprocess
import time
import unittest
import uuid
from email.utils import formatdate

import dkim

import dkimpeers
import fwdtest
from fwdtest import FWDAUTH, run
from test_milter import RawMilter, optneg, packet

MILTERTEST = "/usr/bin/miltertest"
AUTHSERV_ID = "mx.ourdomain.test"
SRS_DOMAIN = "srs.ourdomain.test"
SECRET = "flows-s3cret"


def lua(b):
    return dkimpeers.lua_string(b.encode() if isinstance(b, str) else b)


def split(msg):
    """[(name, value with its leading space and \\n folds)], body."""
    head, body = msg.split(b"\r\n\r\n", 1)
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            n, v = fields[-1]
            fields[-1] = (n, v + b"\n" + line)
        else:
            n, v = line.split(b":", 1)
            fields.append((n, v))
    return fields, body


class MilterFlows(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        fwdtest.require_programs(fwdtest.FWDAUTHD, MILTERTEST)
        nobody = 65534
        kdir = os.path.join(self.dir, "keys")
        os.mkdir(kdir, 0o755)
        self.zone = dkimpeers.Zone()
        self.keys = {}
        for dom, sel in (("ourdomain.test", "fwd"), ("sender.test", "s1")):
            r = run([FWDAUTH, "dkim", "keygen", "-d", dom, "-s", sel, "-o", kdir])
            self.assertEqual(r.returncode, 0, r.stderr)
            owner, record = dkimpeers.zone_line_record(r.stdout.strip().splitlines()[-1])
            self.zone.add(owner, record)
            path = os.path.join(kdir, sel + ".private")
            os.chown(path, nobody, nobody)
            self.keys[dom] = (sel, path)
        self.zonefile = self.zone.write(os.path.join(self.dir, "z.zone"))
        kt = os.path.join(self.dir, "KeyTable")
        with open(kt, "w") as f:
            f.write("ourkey ourdomain.test:fwd:%s\n" % self.keys["ourdomain.test"][1])
        st = os.path.join(self.dir, "SigningTable")
        with open(st, "w") as f:
            f.write("ourdomain.test ourkey\n")  # file: lookup (not refile)
        self.secret = os.path.join(self.dir, "srs.secret")
        fwdtest.write_secret(self.secret, SECRET, owner="nobody")
        self.port = fwdtest.free_port()
        self.daemon = self.start_daemon({
            "milter_listen": "inet:127.0.0.1:%d" % self.port,
            "srs_domain": SRS_DOMAIN,
            "srs_secrets": self.secret,
            "authserv_id": AUTHSERV_ID,
            "internal_hosts": "192.0.2.254/32",
            "dkim_key_table": kt,
            "dkim_signing_table": st,
            "forward_recipients": "alias@ourdomain.test",
            "forward_signing_key": "ourkey",
            "dns_zone_file": self.zonefile,
            "log_level": "debug",
        })
        fwdtest.wait_for_port(self.port, proc=self.daemon.proc)

    def message(self, frm, to, extra=b""):
        subj = "flow-" + uuid.uuid4().hex[:8]
        return (b"From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
                b"Message-ID: <%s@x.test>\r\n%s\r\nline one\r\n\r\nline  two \r\n" % (
                    frm.encode(), to.encode(), subj.encode(), formatdate().encode(),
                    uuid.uuid4().hex.encode(), extra))

    def signed_by_sender(self, msg):
        sel, path = self.keys["sender.test"]
        with open(path, "rb") as f:
            return dkim.sign(msg, sel.encode(), b"sender.test", f.read()) + msg

    def drive(self, msg, sender, rcpts, mail_macros=(), checks=""):
        """Run one message through miltertest with -vv; returns (stdout,
        {header name: [values inserted]})."""
        fields, body = split(msg)
        bodyfile = os.path.join(self.dir, "body-%s" % uuid.uuid4().hex[:6])
        with open(bodyfile, "wb") as f:
            f.write(body)
        L = ['mt.set_timeout(30)',
             'conn = mt.connect("inet:%d@127.0.0.1", 20, 0.1)' % self.port,
             'if conn == nil then error("connect") end',
             # What Postfix offers: protocol 6, all steps, all actions.
             # miltertest takes (version, steps, actions), whatever its
             # manual says: steps 0x1FFFFF include SMFIP_HDR_LEADSPC.
             'assert(mt.negotiate(conn, 6, 2097151, 511) == nil)',
             'if not mt.test_option(conn, SMFIP_HDR_LEADSPC) then error("no LEADSPC") end',
             'mt.macro(conn, SMFIC_CONNECT, "j", "mx.ourdomain.test", "{daemon_name}", "smtpd")',
             'assert(mt.conninfo(conn, "client.sender.test", "198.51.100.7") == nil)',
             'assert(mt.helo(conn, "client.sender.test") == nil)']
        if mail_macros:
            L.append("mt.macro(conn, SMFIC_MAIL, %s)" % ", ".join(lua(x) for x in mail_macros))
        L.append("assert(mt.mailfrom(conn, %s) == nil)" % lua("<%s>" % sender))
        for r in rcpts:
            L.append("assert(mt.rcptto(conn, %s) == nil)" % lua("<%s>" % r))
        for n, v in fields:
            L.append("assert(mt.header(conn, %s, %s) == nil)" % (lua(n), lua(v)))
        L.append("assert(mt.eoh(conn) == nil)")
        L.append('f = assert(io.open(%s, "rb")); local s = f:read("*a"); f:close()' %
                 lua(bodyfile))
        L.append("assert(mt.bodystring(conn, s) == nil)")
        L.append("assert(mt.eom(conn) == nil)")
        L.append('if mt.getreply(conn) ~= SMFIR_CONTINUE then error("eom reply") end')
        for name in ("Authentication-Results", "DKIM-Signature"):
            L.append('for i = 0, 5 do local h = mt.getheader(conn, %s, i); if h == nil then '
                     'break end; mt.echo("@@H %s"); mt.echo(h); mt.echo("@@E") end' %
                     (lua(name), name))
        L.append(checks)
        L.append("mt.disconnect(conn)")
        script = os.path.join(self.dir, "t-%s.lua" % uuid.uuid4().hex[:6])
        with open(script, "w") as f:
            f.write("\n".join(L) + "\n")
        r = run([MILTERTEST, "-vv", "-s", script], timeout=60)
        self.assertEqual(r.returncode, 0, "miltertest failed:\n%s%s\ndaemon log:\n%s" %
                         (r.stdout[-3000:], r.stderr, self.daemon.logtext()[-3000:]))
        added = {}
        for m in re.finditer(r"@@H (\S+)\n(.*?)\n@@E", r.stdout, re.S):
            added.setdefault(m.group(1), []).append(m.group(2))
        return r.stdout, added

    def eom_replies(self, out):
        """Reply codes and lengths miltertest read after end of message."""
        tail = out[out.rindex("cmd E, len 0"):]
        return re.findall(r"mt_milter_read\(\d+\): cmd (.), len (\d+)", tail)

    def rebuilt(self, msg, sig_value):
        """The message as the MTA delivers it with the signature inserted on top."""
        v = sig_value.replace("\r\n", "\n").replace("\n", "\r\n")
        return b"DKIM-Signature:" + v.encode() + b"\r\n" + msg

    def test_inbound_authres_only(self):
        msg = self.signed_by_sender(self.message("someone@sender.test", "bob@remote.test"))
        out, added = self.drive(msg, "someone@sender.test", ["bob@remote.test"],
                                checks='if not mt.eom_check(conn, MT_HDRINSERT, '
                                       '"Authentication-Results") then '
                                       'error("AR not inserted") end')
        self.assertEqual(list(added), ["Authentication-Results"], out)
        ar = " ".join(added["Authentication-Results"][0].split())
        self.assertRegex(ar, r"^%s; spf=[a-z]+ .*; dkim=pass .*header\.d=sender\.test .*header\.s=s1" %
                         re.escape(AUTHSERV_ID))
        self.assertEqual([c for c, _ in self.eom_replies(out)], ["i", "c"], out)

    def test_originating_auth_authen_signed(self):
        msg = self.message("alice@ourdomain.test", "bob@remote.test")
        out, added = self.drive(msg, "alice@ourdomain.test", ["bob@remote.test"],
                                mail_macros=("{auth_authen}", "alice", "i", "QFLOW2"),
                                checks='if not mt.eom_check(conn, MT_HDRINSERT, '
                                       '"DKIM-Signature") then error("not signed") end')
        self.assertEqual(list(added), ["DKIM-Signature"], out)
        sig = added["DKIM-Signature"][0]
        self.assertRegex(sig, r"\bd=ourdomain\.test;")
        self.assertRegex(sig, r"\bs=fwd;")
        self.assertRegex(sig, r"\bc=relaxed/relaxed;")
        full = self.rebuilt(msg, sig)
        self.assertEqual(dkimpeers.dkimpy_verify_all(full, self.zone.dnsfunc), [True])
        path = os.path.join(self.dir, "orig.eml")
        with open(path, "wb") as f:
            f.write(full)
        r = run([FWDAUTH, "dkim", "verify", "--dns-zone", self.zonefile, path])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([c for c, _ in self.eom_replies(out)], ["i", "c"], out)

    def test_forwarded_chgfrom_srs_and_signatures(self):
        msg = self.signed_by_sender(self.message("someone@sender.test", "alias@ourdomain.test"))
        out, added = self.drive(msg, "someone@sender.test", ["alias@ourdomain.test"])
        self.assertEqual(sorted(added), ["Authentication-Results", "DKIM-Signature"], out)
        self.assertRegex(" ".join(added["Authentication-Results"][0].split()),
                         r"dkim=pass .*header\.d=sender\.test")
        sig = added["DKIM-Signature"][0]
        self.assertRegex(sig, r"\bd=ourdomain\.test;")
        # Both signatures hold on the message as delivered.
        full = self.rebuilt(msg, sig)
        self.assertEqual(dkimpeers.dkimpy_verify_all(full, self.zone.dnsfunc), [True, True])
        # SMFIR_CHGFROM ('e') with the SRS address fwdauth computes.
        mine = os.path.join(self.dir, "cli.secret")  # the CLI wants one of its own
        fwdtest.write_secret(mine, SECRET)
        r = run([FWDAUTH, "srs", "forward", "--srs-domain", SRS_DOMAIN, "--secrets",
                 mine, "someone@sender.test"])
        self.assertEqual(r.returncode, 0, r.stderr)
        srs = r.stdout.strip()
        self.assertRegex(srs, r"^SRS0=.{4}=..=sender\.test=someone@" + re.escape(SRS_DOMAIN))
        replies = self.eom_replies(out)
        self.assertIn(("e", str(len(srs) + 1)), replies, out)
        self.assertEqual(replies[-1][0], "c")
        self.assertIn("srs=<%s>" % srs, self.daemon.logtext())

    def test_forged_authres_deleted_by_index(self):
        forged = (b"Authentication-Results: mx.ourdomain.test; dkim=pass header.d=evil.test\r\n"
                  b"authentication-results: other.example; dkim=pass\r\n"
                  b"AUTHENTICATION-RESULTS: MX.OURDOMAIN.TEST; spf=pass\r\n"
                  b"Authentication-Results: other2.example; none\r\n")
        msg = self.message("someone@sender.test", "bob@remote.test", extra=forged)
        checks = "\n".join(
            ['if not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", %d) then '
             'error("index %d not deleted") end' % (i, i) for i in (1, 3)] +
            ['if mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results", %d) then '
             'error("index %d deleted") end' % (i, i) for i in (2, 4)])
        out, added = self.drive(msg, "someone@sender.test", ["bob@remote.test"],
                                checks=checks)
        # Deletions first (highest index first), then the insert.
        codes = [c for c, _ in self.eom_replies(out)]
        self.assertEqual(codes, ["m", "m", "i", "c"], out)
        (ar,) = added["Authentication-Results"]
        self.assertRegex(ar, r"^ %s;\n\tspf=[a-z]+ [^\n]*;\n\tdkim=none;\n\tdmarc=" %
                         re.escape(AUTHSERV_ID))

    def test_sixty_forged_authres_raw(self):
        # Each forged field adds " removed-forged-ar=N" to a 1024-octet stack
        # buffer in mf_eom (mailflow.c); 60 of them write past its end.
        m = RawMilter(self.port)
        self.addCleanup(m.close)
        m.send(optneg())
        m.read_packet()
        m.send(packet(b"C", b"client\0" + b"4" + struct.pack(">H", 25) + b"198.51.100.1\0"))
        m.send(packet(b"M", b"<a@sender.test>\0") + packet(b"R", b"<b@rcpt.test>\0"))
        for i in range(60):
            m.send(packet(b"L", b"Authentication-Results\0 %s; dkim=pass header.d=e%d.test\0" %
                          (AUTHSERV_ID.encode(), i)))
        m.send(packet(b"N") + packet(b"B", b"body\r\n") + packet(b"D", b"Ei\0QID60\0") +
               packet(b"E"))
        deleted = []
        while True:
            try:
                cmd, data = m.read_packet()
            except EOFError:
                self.fail("connection closed; daemon log:\n" + self.daemon.logtext()[-4000:])
            if cmd == b"m":
                deleted.append(struct.unpack(">I", data[:4])[0])
                continue
            if cmd == b"i":
                continue
            self.assertEqual(cmd, b"c")
            break
        self.assertEqual(deleted, list(range(60, 0, -1)))
        time.sleep(0.3)
        self.assertIsNone(self.daemon.proc.poll(), self.daemon.logtext()[-4000:])


if __name__ == "__main__":
    unittest.main()
