"""fwdauthd as Postfix's canonical maps, end to end through a real Postfix.

A private Postfix (postfixtest.py) relays for 127.0.0.1 and routes each test
domain to its own smtp-sink. fwdauthd is its sender_canonical_maps (forward)
and recipient_canonical_maps (reverse), once over socketmap and once over
tcp_table (one Postfix per class, shared by its tests):

  (a) someone@sender.test -> user@remote.test leaves with envelope sender
      SRS0=HHHH=TT=sender.test=someone@<srs_domain>, From: untouched;
  (b) a bounce (MAIL FROM:<>) to that SRS address is delivered to
      someone@sender.test, also after a relay changed its case;
  (c) a forged SRS address is left alone (not found, not a map error that
      would defer all mail) and is routed as it stands.
"""
import email.utils
import os
import re
import shutil
import smtplib
import tempfile
import time
import unittest
import uuid

import fwdtest
import postfixtest
from test_postsrsd import srs_hash, srs_stamp, stop_and_check

SECRET = "postfix-canonical-s3cret"
DOMAIN = "fwd.example.net"


def message(sender_hdr, to_hdr, subject):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@fwdauth.test>\r\n"
            "\r\nTest body.\r\n" % (sender_hdr, to_hdr, subject, email.utils.formatdate(),
                                    uuid.uuid4().hex))


class CanonicalMapsBase:
    """Mixed into one unittest.TestCase per map protocol; subclasses set
    PROTOCOL to "socketmap" or "tcp"."""

    PROTOCOL = None

    @classmethod
    def setUpClass(cls):
        for prog in (fwdtest.FWDAUTHD, postfixtest.POSTFIX, postfixtest.SMTP_SINK):
            if not os.access(prog, os.X_OK):
                raise unittest.SkipTest("%s is missing" % prog)
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-postfix-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)

        secret = os.path.join(cls.dir, "srs.secret")
        fwdtest.write_secret(secret, SECRET)
        cls.ports = {k: fwdtest.free_port() for k in ("smap", "fwd", "rev")}
        conf = os.path.join(cls.dir, "fwdauthd.conf")
        fwdtest.write_config(
            conf, srs_domain=DOMAIN, srs_secrets=secret,
            socketmap_listen="inet:127.0.0.1:%d" % cls.ports["smap"],
            tcp_forward_listen="inet:127.0.0.1:%d" % cls.ports["fwd"],
            tcp_reverse_listen="inet:127.0.0.1:%d" % cls.ports["rev"])
        cls.daemon = fwdtest.Daemon(conf, os.path.join(cls.dir, "fwdauthd.log"))
        cls.addClassCleanup(stop_and_check, cls.daemon)
        for p in cls.ports.values():
            fwdtest.wait_for_port(p, proc=cls.daemon.proc)

        if cls.PROTOCOL == "socketmap":
            fwd = "socketmap:inet:127.0.0.1:%d:forward" % cls.ports["smap"]
            rev = "socketmap:inet:127.0.0.1:%d:reverse" % cls.ports["smap"]
        else:
            fwd = "tcp:127.0.0.1:%d" % cls.ports["fwd"]
            rev = "tcp:127.0.0.1:%d" % cls.ports["rev"]
        cls.fwd_map, cls.rev_map = fwd, rev

        cls.pf = postfixtest.Postfix(cls.dir)
        cls.addClassCleanup(cls.pf.stop)
        cls.remote = cls.pf.sink("remote.test")
        cls.sender = cls.pf.sink("sender.test")
        cls.ours = cls.pf.sink(DOMAIN)  # where an SRS address nobody reversed would go
        cls.pf.start({
            "sender_canonical_maps": fwd,
            "recipient_canonical_maps": rev,
            "sender_canonical_classes": "envelope_sender",
            "recipient_canonical_classes": "envelope_recipient, header_recipient",
        })

    def send(self, mail_from, rcpt, data):
        with smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=30) as s:
            refused = s.sendmail(mail_from, [rcpt], data)
        self.assertEqual(refused, {})

    def by_subject(self, subject):
        return lambda m: m.header("Subject") == subject

    def assert_clean_log(self):
        log = self.pf.log_text()
        for bad in ("table lookup problem", "4.3.5", "4.3.0", "fatal:", "panic:"):
            self.assertNotIn(bad, log)

    def srs_for(self, user, host):
        """The SRS0 address fwdauthd must make now (base64url, its default)."""
        tt = srs_stamp(time.time())
        h = srs_hash(SECRET.encode(), tt, host.encode(), user.encode(), alphabet="base64url")
        return "SRS0=%s=%s=%s=%s@%s" % (h.decode(), tt.decode(), host, user, DOMAIN)

    # (a) ----------------------------------------------------------------------
    def test_a_forwarded_sender_is_rewritten(self):
        subject = "fwd-a-%s" % uuid.uuid4().hex
        from_hdr = "Someone <someone@sender.test>"
        want0 = self.srs_for("someone", "sender.test")
        self.send("someone@sender.test", "user@remote.test",
                  message(from_hdr, "User <user@remote.test>", subject))
        [m] = postfixtest.wait_for_delivery(self.remote, 30, self.by_subject(subject))
        rx = r"SRS0=([A-Za-z0-9_-]{4})=([A-Z2-7]{2})=sender\.test=someone@" + re.escape(DOMAIN)
        self.assertRegex(m.mail_from, "^" + rx + "$")
        # exactly the libsrs2 hash (a day may turn while the mail travels)
        self.assertIn(m.mail_from, {want0, self.srs_for("someone", "sender.test")})
        self.assertEqual(m.rcpt_to, ["user@remote.test"])
        self.assertEqual(m.header("From"), from_hdr)           # header untouched
        self.assertEqual(m.header("To"), "User <user@remote.test>")
        self.assert_clean_log()

    # (b) ----------------------------------------------------------------------
    def test_b_bounce_to_srs_address_reaches_sender(self):
        srs = self.srs_for("someone", "sender.test")
        subject = "bounce-b-%s" % uuid.uuid4().hex
        self.send("", srs, message("MAILER-DAEMON@remote.test", srs, subject))
        [m] = postfixtest.wait_for_delivery(self.sender, 30, self.by_subject(subject))
        self.assertEqual(m.rcpt_to, ["someone@sender.test"])
        self.assertEqual(m.mail_from, "")  # a bounce stays a bounce
        self.assertEqual(m.header("To"), "someone@sender.test")  # header_recipient class
        self.assert_clean_log()

    def test_c_round_trip_with_mixed_case(self):
        """Forward a mixed-case sender, then bounce to the SRS address the sink
        saw with its local part upper-cased (relays change case): it must
        come home."""
        subject = "rt-c-%s" % uuid.uuid4().hex
        want0 = self.srs_for("Mixed.Case+tag", "Sender.Test")
        self.send("Mixed.Case+tag@Sender.Test", "user@remote.test",
                  message("mixed.case+tag@sender.test", "user@remote.test", subject))
        [m] = postfixtest.wait_for_delivery(self.remote, 30, self.by_subject(subject))
        # Case is kept (Postfix passes the key as it came); the hash covers
        # the lower-cased fields, as libsrs2's does.
        self.assertIn(m.mail_from, {want0, self.srs_for("Mixed.Case+tag", "Sender.Test")})
        self.assertEqual(m.mail_from.lower(), want0.lower())
        local, dom = m.mail_from.rsplit("@", 1)
        bounce_to = local.upper() + "@" + dom
        subject2 = "rt-c-bounce-%s" % uuid.uuid4().hex
        self.send("", bounce_to, message("MAILER-DAEMON@remote.test", bounce_to, subject2))
        [b] = postfixtest.wait_for_delivery(self.sender, 30, self.by_subject(subject2))
        self.assertEqual([r.lower() for r in b.rcpt_to], ["mixed.case+tag@sender.test"])
        self.assert_clean_log()

    # (c) ----------------------------------------------------------------------
    def test_d_forged_srs_address_is_not_reversed(self):
        good = self.srs_for("someone", "sender.test")
        forged = good[:5] + ("AAAA" if good[5:9] != "AAAA" else "BBBB") + good[9:]
        subject = "forged-d-%s" % uuid.uuid4().hex
        self.send("", forged, message("x@remote.test", forged, subject))
        # Not reversed: routed as it stands, to the SRS domain's sink...
        [m] = postfixtest.wait_for_delivery(self.ours, 30, self.by_subject(subject))
        self.assertEqual([r.lower() for r in m.rcpt_to], [forged.lower()])
        # ...and nothing reached the sender it pretends to come from.
        self.assertEqual([x for x in postfixtest.sink_messages(self.sender)
                          if x.header("Subject") == subject], [])
        self.assert_clean_log()

    def test_e_own_domain_sender_not_rewritten(self):
        subject = "own-e-%s" % uuid.uuid4().hex
        self.send("alias@" + DOMAIN, "user@remote.test",
                  message("alias@" + DOMAIN, "user@remote.test", subject))
        [m] = postfixtest.wait_for_delivery(self.remote, 30, self.by_subject(subject))
        self.assertEqual(m.mail_from, "alias@" + DOMAIN)
        self.assert_clean_log()

    def test_f_postmap_through_this_postfix(self):
        code, out = self.pf.postmap_q("someone@sender.test", self.fwd_map)
        self.assertEqual((code, out), (0, self.srs_for("someone", "sender.test")))
        code, out = self.pf.postmap_q(out, self.rev_map)
        self.assertEqual((code, out), (0, "someone@sender.test"))
        # Postfix also asks for "@domain"; it must be not found (exit 1).
        self.assertEqual(self.pf.postmap_q("@sender.test", self.fwd_map)[0], 1)


class CanonicalMapsOverSocketmap(CanonicalMapsBase, unittest.TestCase):
    PROTOCOL = "socketmap"


class CanonicalMapsOverTcpTable(CanonicalMapsBase, unittest.TestCase):
    PROTOCOL = "tcp"


if __name__ == "__main__":
    unittest.main()
