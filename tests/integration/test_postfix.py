"""fwdauthd as Postfix's canonical maps, end to end through a real Postfix.

A private Postfix (postfixtest.py) relays for 127.0.0.1 only (mynetworks =
127.0.0.1/32) and routes each test domain to its own smtp-sink. Its SRS
settings are the README's main.cf block for the protocol, as printed, with
this test's ports and SRS domain put in. fwdauthd is its
sender_canonical_maps (forward) and recipient_canonical_maps (reverse), once
over socketmap and once over tcp_table (one Postfix per class, shared by its
tests):

  (a) someone@sender.test -> user@remote.test leaves with envelope sender
      SRS0=HHHH=TT=sender.test=someone@<srs_domain>, From: untouched;
  (b) a bounce (MAIL FROM:<>) to that SRS address is delivered to
      someone@sender.test, also after a relay changed its case, and also
      when it comes from a client outside mynetworks (127.0.0.2), as
      bounces from receivers do; without the README's virtual_alias_domains
      line that one is refused with 454 4.7.1 Relay access denied;
  (c) a forged SRS address is refused at RCPT TO (550 5.1.1, not found in
      the virtual alias domain; not a map error that would defer all mail).

MilterOnlyWiring does the same with the README's milter main.cf block (SRS
by the milter for forwarded mail only, recipient_canonical_maps for the
bounces): a message from outside to a forwarded address leaves with an SRS
sender, the bounce to it from outside comes home, and mail that is not
forwarded keeps its sender.
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
import test_readme
from test_postsrsd import srs_hash, srs_stamp, stop_and_check

SECRET = "postfix-canonical-s3cret"
DOMAIN = "fwd.example.net"
# Receivers' servers: a client address that is not in mynetworks.
OUTSIDE = "127.0.0.2"
MYNETWORKS = "127.0.0.1/32"


def message(sender_hdr, to_hdr, subject):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@fwdauth.test>\r\n"
            "\r\nTest body.\r\n" % (sender_hdr, to_hdr, subject, email.utils.formatdate(),
                                    uuid.uuid4().hex))


def readme_main_cf(containing, replace):
    """The README's main.cf block that contains `containing`, as printed but
    for the printed addresses and SRS domain, replaced by this test's
    ({printed: ours}; each must occur)."""
    text = test_readme.readme_block("main.cf", containing).text
    for printed, ours in replace.items():
        if printed not in text:
            raise AssertionError("README main.cf block with %r lacks %r:\n%s" %
                                 (containing, printed, text))
        text = text.replace(printed, ours)
    return text


class OutsideBounces:
    """Bounces from receivers' servers (a client outside mynetworks) to SRS
    addresses. Mixed into a class with cls.pf (started with a README block
    that sets virtual_alias_domains), cls.sender (the original sender's
    sink) and srs_for()."""

    def rcpt_from(self, client, rcpt, mail_from=""):
        """(code, text) of RCPT TO:<rcpt> from address `client`; nothing queued."""
        with smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=30,
                          source_address=(client, 0)) as s:
            s.ehlo("mx.remote.test")
            code, text = s.mail(mail_from)
            self.assertEqual(code, 250, text)
            return s.rcpt(rcpt)

    def send_from_outside(self, mail_from, rcpt, data):
        with smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=30,
                          source_address=(OUTSIDE, 0)) as s:
            s.ehlo("mx.remote.test")
            self.assertEqual(s.sendmail(mail_from, [rcpt], data), {})

    def reload_until(self, client, rcpt, want, timeout=60):
        """After `postfix reload`: ask until RCPT TO gets the code `want`
        (smtpd processes that started before the reload finish first)."""
        self.pf.postfix("reload")
        deadline = time.monotonic() + timeout
        while True:
            code, text = self.rcpt_from(client, rcpt)
            if code == want or time.monotonic() > deadline:
                return code, text
            time.sleep(0.5)

    def test_g_outside_bounce_needs_the_srs_domain(self):
        srs = self.srs_for("someone", "sender.test")
        printed = postfixtest.parse_main_cf(self.pf_text)
        vad = [v for k, v, _ in printed if k == "virtual_alias_domains"]
        self.assertEqual(vad, ["$virtual_alias_maps, " + DOMAIN])
        self.assertEqual(self.rcpt_from(OUTSIDE, srs)[0], 250)
        # Without that line (Postfix's default), as the README was before:
        r = fwdtest.run([postfixtest.POSTCONF, "-c", self.pf.conf, "-X", "virtual_alias_domains"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.addCleanup(self.restore_virtual_alias_domains, vad[0], srs)
        code, text = self.reload_until(OUTSIDE, srs, 454)
        self.assertEqual(code, 454, text)
        self.assertIn(b"4.7.1", text)
        self.assertIn(b"Relay access denied", text)
        # ...which nobody notices when testing from the server itself:
        self.assertEqual(self.rcpt_from("127.0.0.1", srs)[0], 250)

    def restore_virtual_alias_domains(self, value, srs):
        self.pf.postconf({"virtual_alias_domains": value})
        code, text = self.reload_until(OUTSIDE, srs, 250)
        self.assertEqual(code, 250, text)

    def test_h_outside_bounce_reaches_sender(self):
        srs = self.srs_for("someone", "sender.test")
        subject = "outside-h-%s" % uuid.uuid4().hex
        self.send_from_outside("", srs, message("MAILER-DAEMON@remote.test", srs, subject))
        [m] = postfixtest.wait_for_delivery(self.sender, 30,
                                            lambda m: m.header("Subject") == subject)
        self.assertEqual(m.rcpt_to, ["someone@sender.test"])
        self.assertEqual(m.mail_from, "")
        # header_recipient rewrites headers of local clients' mail only
        # (remote_header_rewrite_domain is empty), as the README says.
        self.assertEqual(m.header("To"), srs)
        self.assertTrue(re.search(r"client=\S*\[%s\]" % re.escape(OUTSIDE), self.pf.log_text()),
                        "no client %s in the Postfix log" % OUTSIDE)

    def test_i_forged_srs_refused_from_outside(self):
        good = self.srs_for("someone", "sender.test")
        forged = good[:5] + ("AAAA" if good[5:9] != "AAAA" else "BBBB") + good[9:]
        code, text = self.rcpt_from(OUTSIDE, forged)
        self.assertEqual(code, 550, text)
        self.assertIn(b"5.1.1", text)
        self.assertIn(b"User unknown in virtual alias table", text)


class CanonicalMapsBase(OutsideBounces):
    """Mixed into one unittest.TestCase per map protocol; subclasses set
    PROTOCOL to "socketmap" or "tcp"."""

    PROTOCOL = None

    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(fwdtest.FWDAUTHD, postfixtest.POSTFIX, postfixtest.SMTP_SINK)
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
            printed = {"127.0.0.1:10003": "127.0.0.1:%d" % cls.ports["smap"]}
        else:
            fwd = "tcp:127.0.0.1:%d" % cls.ports["fwd"]
            rev = "tcp:127.0.0.1:%d" % cls.ports["rev"]
            printed = {"127.0.0.1:10001": "127.0.0.1:%d" % cls.ports["fwd"],
                       "127.0.0.1:10002": "127.0.0.1:%d" % cls.ports["rev"]}
        cls.fwd_map, cls.rev_map = fwd, rev
        printed["srs.example.net"] = DOMAIN
        cls.pf_text = readme_main_cf(cls.README_FORWARD_MAP, printed)
        settings = test_readme.settings_of(cls.pf_text)
        assert (settings["sender_canonical_maps"], settings["recipient_canonical_maps"]) == \
            (fwd, rev), settings

        cls.pf = postfixtest.Postfix(cls.dir)
        cls.addClassCleanup(cls.pf.stop)
        cls.remote = cls.pf.sink("remote.test")
        cls.sender = cls.pf.sink("sender.test")
        cls.ours = cls.pf.sink(DOMAIN)  # where an SRS address nobody reversed would go
        cls.pf.start({"mynetworks": MYNETWORKS}, main_cf_text=cls.pf_text)

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
        # Not found by the reverse map, so not a known address of the
        # virtual alias domain: refused at RCPT TO, from our own network too.
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            self.send("", forged, message("x@remote.test", forged, subject))
        [(code, text)] = cm.exception.recipients.values()
        self.assertEqual(code, 550, text)
        self.assertIn(b"User unknown in virtual alias table", text)
        time.sleep(1)
        for sink in (self.sender, self.ours):
            self.assertEqual([x for x in postfixtest.sink_messages(sink)
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
    README_FORWARD_MAP = "socketmap:inet:127.0.0.1:10003:forward"


class CanonicalMapsOverTcpTable(CanonicalMapsBase, unittest.TestCase):
    PROTOCOL = "tcp"
    README_FORWARD_MAP = "tcp:127.0.0.1:10001"


class MilterOnlyWiring(OutsideBounces, unittest.TestCase):
    """The README's milter main.cf block: fwdauthd as milter gives forwarded
    mail (to alias@ourdomain.test, in forward_recipients and forwarded by
    virtual_alias_maps) an SRS sender; there is no sender_canonical_maps;
    recipient_canonical_maps and virtual_alias_domains bring bounces home."""

    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(fwdtest.FWDAUTHD, postfixtest.POSTFIX, postfixtest.SMTP_SINK)
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-postfix-milter-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        secret = os.path.join(cls.dir, "srs.secret")
        fwdtest.write_secret(secret, SECRET)
        zone = os.path.join(cls.dir, "empty.zone")  # no SPF, DKIM or DMARC anywhere
        with open(zone, "w"):
            pass
        cls.ports = {k: fwdtest.free_port() for k in ("smap", "milter")}
        conf = os.path.join(cls.dir, "fwdauthd.conf")
        fwdtest.write_config(
            conf, srs_domain=DOMAIN, srs_secrets=secret,
            socketmap_listen="inet:127.0.0.1:%d" % cls.ports["smap"],
            milter_listen="inet:127.0.0.1:%d" % cls.ports["milter"],
            authserv_id="mx.ourdomain.test",
            internal_hosts="192.0.2.254/32",  # every test client is an outside sender
            forward_recipients="alias@ourdomain.test",
            srs_forwarded_mail="yes",
            dns_zone_file=zone)
        cls.daemon = fwdtest.Daemon(conf, os.path.join(cls.dir, "fwdauthd.log"))
        cls.addClassCleanup(stop_and_check, cls.daemon)
        for p in cls.ports.values():
            fwdtest.wait_for_port(p, proc=cls.daemon.proc)

        cls.pf_text = readme_main_cf("smtpd_milters", {
            "127.0.0.1:8891": "127.0.0.1:%d" % cls.ports["milter"],
            "127.0.0.1:10003": "127.0.0.1:%d" % cls.ports["smap"],
            "srs.example.net": DOMAIN})
        settings = test_readme.settings_of(cls.pf_text)
        assert "sender_canonical_maps" not in settings, settings
        cls.pf = postfixtest.Postfix(cls.dir)
        cls.addClassCleanup(cls.pf.stop)
        cls.remote = cls.pf.sink("remote.test")
        cls.sender = cls.pf.sink("sender.test")
        cls.pf.start({
            "mynetworks": MYNETWORKS,
            # "ourdomain.test anything" declares the domain (virtual(5)), so
            # the README's "$virtual_alias_maps, srs..." keeps it a virtual
            # alias domain.
            "virtual_alias_maps": "inline:{ ourdomain.test=domain, "
                                  "alias@ourdomain.test=user@remote.test }",
        }, main_cf_text=cls.pf_text)

    def srs_for(self, user, host):
        tt = srs_stamp(time.time())
        h = srs_hash(SECRET.encode(), tt, host.encode(), user.encode(), alphabet="base64url")
        return "SRS0=%s=%s=%s=%s@%s" % (h.decode(), tt.decode(), host, user, DOMAIN)

    def test_a_forwarded_from_outside_gets_srs_and_its_bounce_comes_home(self):
        subject = "milter-a-%s" % uuid.uuid4().hex
        self.send_from_outside("someone@sender.test", "alias@ourdomain.test",
                               message("Someone <someone@sender.test>", "alias@ourdomain.test",
                                       subject))
        [m] = postfixtest.wait_for_delivery(self.remote, 30,
                                            lambda m: m.header("Subject") == subject)
        self.assertEqual(m.rcpt_to, ["user@remote.test"])
        self.assertIn(m.mail_from, {self.srs_for("someone", "sender.test")}, m.raw[:800])
        self.assertIsNotNone(m.header("Authentication-Results"))
        # The receiver refuses it and bounces to the SRS sender, from outside.
        subject2 = "milter-a-bounce-%s" % uuid.uuid4().hex
        self.send_from_outside("", m.mail_from, message("MAILER-DAEMON@remote.test",
                                                        m.mail_from, subject2))
        [b] = postfixtest.wait_for_delivery(self.sender, 30,
                                            lambda m: m.header("Subject") == subject2)
        self.assertEqual((b.mail_from, b.rcpt_to), ("", ["someone@sender.test"]))

    def test_b_mail_not_forwarded_keeps_its_sender(self):
        subject = "milter-b-%s" % uuid.uuid4().hex
        with smtplib.SMTP("127.0.0.1", self.pf.smtp_port, timeout=30) as s:
            self.assertEqual(s.sendmail("someone@sender.test", ["user@remote.test"],
                                        message("someone@sender.test", "user@remote.test",
                                                subject)), {})
        [m] = postfixtest.wait_for_delivery(self.remote, 30,
                                            lambda m: m.header("Subject") == subject)
        self.assertEqual(m.mail_from, "someone@sender.test")


if __name__ == "__main__":
    unittest.main()
