"""receiver.py: the receiver-side judge of the integration tests, checked on
messages whose fate is known.

A private unbound serves keys made by `fwdauth dkim keygen` and the SPF and
DMARC records of a few .test domains; a private rspamd 3.4 judges messages
signed by `fwdauth dkim sign` and sealed by `fwdauth arc sign`. No Postfix.

    good.test    p=reject, SPF ip4:127.0.0.1, DKIM key sel._domainkey
    victim.test  p=reject, SPF -all, no key
    none.test    p=none, SPF ip4:127.0.0.1
    fwd.test     a forwarder (192.0.2.25) and ARC sealer the receiver trusts
    other.test   a forwarder (192.0.2.26) and ARC sealer it does not trust

What rspamd 3.4 reports (the assertions below; options in brackets):
- good.test signed, from 127.0.0.1: DMARC_POLICY_ALLOW [good.test, reject],
  R_DKIM_ALLOW [good.test:s=sel], R_SPF_ALLOW [+ip4:127.0.0.1]; its
  Authentication-Results say dkim=pass, spf=pass, dmarc=pass.
- news.good.test signed by good.test from a stranger: DMARC_POLICY_ALLOW
  [good.test, reject] (good.test is its organizational domain: relaxed
  alignment, good.test's policy); a spoof of news.victim.test:
  DMARC_POLICY_REJECT [victim.test : ...]. With Debian's full public suffix
  list instead of receiver.py's one line, rspamd says DMARC_NA
  [news.good.test] there, and takes 63 s to start.
- a spoof of victim.test from 203.0.113.9: DMARC_POLICY_REJECT [victim.test :
  No valid SPF, No valid DKIM, reject], R_SPF_FAIL [-all], R_DKIM_NA; with
  the null sender R_SPF_NA (SPF of the HELO name) and the same reject.
- good.test's signature broken (body changed), from 203.0.113.9:
  R_DKIM_REJECT [good.test:s=sel], "body hash did not verify" in its
  Authentication-Results, DMARC_POLICY_REJECT.
- an SPF-only pass from the forwarder (MAIL FROM an SRS address of
  fwd.test, From: good.test, unsigned): R_SPF_ALLOW [+ip4:192.0.2.25] and
  DMARC_POLICY_REJECT [good.test : SPF not aligned (relaxed), No valid DKIM,
  reject].
- a spoof of none.test: DMARC_POLICY_SOFTFAIL [..., none], score 0.1.
- forwarded with a footer (DKIM broken) and sealed by fwd.test, whose
  ARC-Authentication-Results say dmarc=pass: ARC_ALLOW [fwd.test:s=arc:i=1];
  the receiver that trusts fwd.test adds ARC_ALLOW_TRUSTED (-2) and keeps
  DMARC_POLICY_REJECT but scores it 0.1 with the option "ARC trusted". A
  receiver that trusts no one, or a seal by other.test, leaves
  DMARC_POLICY_REJECT at its full score (2). A trusted seal whose AAR says
  dmarc=fail gets ARC_ALLOW_TRUSTED with score 0 and no adjustment; a body
  changed after sealing gets ARC_REJECT.
- DNS dead (unbound stopped): R_SPF_DNSFAIL, R_DKIM_TEMPFAIL,
  DMARC_DNSFAIL [good.test : query timed out], each scan taking about 4 s
  (1 s timeout, 2 retransmits); the next scan after unbound is back passes.
- records replaced in unbound (set_records) are seen by the next scan:
  rspamd keeps no SPF, DKIM key or DMARC cache here.

rspamd's start (until both workers answer /ping) takes about 0.6-1 s on the
2-core test machine under load; test_startup_time prints it and fails above
30 s.
"""
import email.utils
import os
import subprocess
import sys
import time
import unittest

import dkimpeers
import fwdtest
import receiver

DNSQ = os.path.join(fwdtest.BIN, "..", "tests", "dnsq")
FORWARDER_IP = "192.0.2.25"
OTHER_IP = "192.0.2.26"
STRANGER_IP = "203.0.113.9"
RCPT = "bob@dest.test"
HELO = "mx.sender.test"
# What a forwarder that verified good.test's signature records before sealing.
AR_PASS = ("dkim=pass header.d=good.test; spf=pass smtp.mailfrom=good.test; "
           "dmarc=pass header.from=good.test")
AR_FAIL = ("dkim=none; spf=fail smtp.mailfrom=victim.test; "
           "dmarc=fail header.from=victim.test")

RECORDS = [
    ("good.test", "TXT", "v=spf1 ip4:127.0.0.1 -all"),
    ("_dmarc.good.test", "TXT", "v=DMARC1; p=reject"),
    ("victim.test", "TXT", "v=spf1 -all"),
    ("_dmarc.victim.test", "TXT", "v=DMARC1; p=reject"),
    ("none.test", "TXT", "v=spf1 ip4:127.0.0.1 -all"),
    ("_dmarc.none.test", "TXT", "v=DMARC1; p=none"),
    ("fwd.test", "TXT", "v=spf1 ip4:%s -all" % FORWARDER_IP),
    ("other.test", "TXT", "v=spf1 ip4:%s -all" % OTHER_IP),
]


def message(from_addr, body="Hi there.\r\n", subject="hello"):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d@sender.test>\r\n"
            "\r\n%s" % (from_addr, RCPT, subject, email.utils.formatdate(), time.time_ns(),
                        body)).encode()


class ReceiverTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(fwdtest.FWDAUTH, receiver.UNBOUND, receiver.RSPAMD)
        cls.dir = fwdtest.tempfile.mkdtemp(prefix="fwdauth-receiver-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(fwdtest.shutil.rmtree, cls.dir, True)
        cls.zone = dkimpeers.Zone()
        cls.keys = {}
        for domain, selector in (("good.test", "sel"), ("none.test", "sel"),
                                 ("fwd.test", "arc"), ("other.test", "arc")):
            out = os.path.join(cls.dir, domain)
            os.mkdir(out)
            r = fwdtest.run([fwdtest.FWDAUTH, "dkim", "keygen", "-d", domain, "-s", selector,
                             "-o", out])
            if r.returncode != 0:
                raise RuntimeError("keygen: " + r.stderr)
            cls.zone.add(*dkimpeers.zone_line_record(r.stdout.strip()))
            cls.keys[domain] = (selector, os.path.join(out, selector + ".private"))
        cls.dns = receiver.Unbound.from_zone(cls.dir, cls.zone, RECORDS)
        cls.addClassCleanup(cls.dns.stop)
        cls.dns.start()
        cls.rx = receiver.Rspamd(cls.dir, cls.dns.port, trusted_arc_sealers=["fwd.test"])
        cls.addClassCleanup(cls.rx.stop)
        cls.rx.start()
        cls.rx_untrusting = receiver.Rspamd(cls.dir, cls.dns.port)
        cls.addClassCleanup(cls.rx_untrusting.stop)
        cls.rx_untrusting.start()

    def sign(self, msg, domain):
        selector, key = self.keys[domain]
        r = subprocess.run([fwdtest.FWDAUTH, "dkim", "sign", "-d", domain, "-s", selector,
                            "-k", key], input=msg, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def seal(self, msg, domain, auth_results):
        """The message as `domain` forwards it: its Authentication-Results
        on top, then the ARC set `fwdauth arc sign` adds."""
        selector, key = self.keys[domain]
        msg = ("Authentication-Results: %s; %s\r\n" % (domain, auth_results)).encode() + msg
        r = subprocess.run([fwdtest.FWDAUTH, "arc", "sign", "-d", domain, "-s", selector,
                            "-k", key, "--authserv-id", domain, "--dns-server", self.dns.server],
                           input=msg, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(b"ARC-Seal:"), r.stdout[:200])
        return r.stdout

    def judge(self, msg, ip, mail_from, rx=None):
        return (rx or self.rx).judge(msg, ip, mail_from, HELO, RCPT)

    def forwarded(self):
        """good.test's signed message with a footer a list or forwarder
        added: its DKIM signature no longer verifies."""
        signed = self.sign(message("alice@good.test"), "good.test")
        return signed.replace(b"Hi there.\r\n", b"Hi there.\r\n-- \r\nlist footer\r\n")

    def test_startup_time(self):
        for rx in (self.rx, self.rx_untrusting):
            print("rspamd started in %.2f s" % rx.startup_seconds, file=sys.stderr)
            self.assertLess(rx.startup_seconds, 30)

    def test_signed_from_right_ip_passes(self):
        v = self.judge(self.sign(message("alice@good.test"), "good.test"), "127.0.0.1",
                       "alice@good.test")
        self.assertEqual((v.dmarc, v.spf, v.dkim, v.arc), ("pass", "pass", "pass", "none"), v)
        self.assertEqual(v.options("DMARC_POLICY_ALLOW"), ["good.test", "reject"])
        self.assertEqual(v.options("R_DKIM_ALLOW"), ["good.test:s=sel"])
        self.assertEqual(v.options("R_SPF_ALLOW"), ["+ip4:127.0.0.1"])
        self.assertEqual(v.action, "no action")
        ar = v.authentication_results
        self.assertTrue(ar.startswith("receiver.test;"), ar)
        for want in ("dkim=pass header.d=good.test", "spf=pass", "dmarc=pass"):
            self.assertIn(want, ar)

    def test_organizational_domain(self):
        # The one-line public suffix list makes good.test the organizational
        # domain of news.good.test: its policy applies, and d=good.test aligns.
        v = self.judge(self.sign(message("alice@news.good.test"), "good.test"), STRANGER_IP,
                       "alice@news.good.test")
        self.assertEqual((v.dmarc, v.spf, v.dkim), ("pass", "none", "pass"), v)
        self.assertEqual(v.options("DMARC_POLICY_ALLOW"), ["good.test", "reject"])
        v = self.judge(message("ceo@news.victim.test"), STRANGER_IP, "ceo@news.victim.test")
        self.assertEqual(v.dmarc, "reject", v)
        self.assertEqual(v.options("DMARC_POLICY_REJECT")[0],
                         "victim.test : No valid SPF, No valid DKIM")

    def test_spoof_is_rejected(self):
        v = self.judge(message("ceo@victim.test"), STRANGER_IP, "ceo@victim.test")
        self.assertEqual((v.dmarc, v.spf, v.dkim), ("reject", "fail", "none"), v)
        self.assertEqual(v.options("DMARC_POLICY_REJECT"),
                         ["victim.test : No valid SPF, No valid DKIM", "reject"])
        self.assertEqual(v.symbols["DMARC_POLICY_REJECT"].score, 2.0)
        self.assertFalse(v.dmarc_arc_trusted)
        v = self.judge(message("ceo@victim.test"), STRANGER_IP, "")
        self.assertEqual((v.dmarc, v.spf), ("reject", "none"), v)
        self.assertIn("smtp.helo=" + HELO, v.authentication_results)

    def test_broken_signature(self):
        msg = self.sign(message("alice@good.test"), "good.test").replace(b"Hi there.",
                                                                          b"Hi there!")
        v = self.judge(msg, STRANGER_IP, "alice@good.test")
        self.assertIn("R_DKIM_REJECT", v)
        self.assertEqual(v.options("R_DKIM_REJECT"), ["good.test:s=sel"])
        self.assertEqual((v.dmarc, v.spf, v.dkim), ("reject", "fail", "fail"), v)
        self.assertIn("body hash did not verify", v.authentication_results)

    def test_spf_only_pass_from_forwarder_fails_dmarc(self):
        v = self.judge(message("alice@good.test"), FORWARDER_IP,
                       "SRS0=HHH=TT=good.test=alice@fwd.test")
        self.assertEqual((v.dmarc, v.spf, v.dkim), ("reject", "pass", "none"), v)
        self.assertEqual(v.options("R_SPF_ALLOW"), ["+ip4:%s" % FORWARDER_IP])
        self.assertEqual(v.options("DMARC_POLICY_REJECT"),
                         ["good.test : SPF not aligned (relaxed), No valid DKIM", "reject"])

    def test_policy_none(self):
        v = self.judge(message("x@none.test"), STRANGER_IP, "x@none.test")
        self.assertEqual(v.dmarc, "fail", v)
        self.assertIn("DMARC_POLICY_SOFTFAIL", v)
        self.assertEqual(v.options("DMARC_POLICY_SOFTFAIL")[-1], "none")
        v = self.judge(message("x@none.test"), "127.0.0.1", "x@none.test")
        self.assertEqual(v.dmarc, "pass", v)

    def test_arc_trusted_sealer_turns_failure_into_allow(self):
        sealed = self.seal(self.forwarded(), "fwd.test", AR_PASS)
        v = self.judge(sealed, FORWARDER_IP, "SRS0=HHH=TT=good.test=alice@fwd.test")
        self.assertEqual((v.dkim, v.spf, v.arc), ("fail", "pass", "pass"), v)
        self.assertEqual(v.options("ARC_ALLOW"), ["fwd.test:s=arc:i=1"])
        self.assertTrue(v.arc_trusted, v)
        self.assertEqual(v.symbols["ARC_ALLOW_TRUSTED"].score, -2.0)
        # rspamd keeps the DMARC verdict and lowers its weight.
        self.assertEqual(v.dmarc, "reject")
        self.assertTrue(v.dmarc_arc_trusted, v)
        self.assertEqual(v.symbols["DMARC_POLICY_REJECT"].score, 0.1)
        self.assertIn("ARC trusted", v.options("DMARC_POLICY_REJECT"))
        self.assertIn('arc=pass ("fwd.test:s=arc:i=1")', v.authentication_results)

        # The same message at a receiver that trusts no sealer.
        v = self.judge(sealed, FORWARDER_IP, "SRS0=HHH=TT=good.test=alice@fwd.test",
                       rx=self.rx_untrusting)
        self.assertEqual((v.dmarc, v.arc), ("reject", "pass"), v)
        self.assertFalse(v.arc_trusted or v.dmarc_arc_trusted, v)
        self.assertNotIn("ARC_ALLOW_TRUSTED", v)
        self.assertEqual(v.symbols["DMARC_POLICY_REJECT"].score, 2.0)

    def test_arc_untrusted_sealer(self):
        sealed = self.seal(self.forwarded(), "other.test", AR_PASS)
        v = self.judge(sealed, OTHER_IP, "SRS0=HHH=TT=good.test=alice@other.test")
        self.assertEqual((v.dmarc, v.arc), ("reject", "pass"), v)
        self.assertEqual(v.options("ARC_ALLOW"), ["other.test:s=arc:i=1"])
        self.assertFalse(v.arc_trusted or v.dmarc_arc_trusted, v)
        self.assertEqual(v.symbols["DMARC_POLICY_REJECT"].score, 2.0)

    def test_arc_trusted_sealer_that_saw_a_failure(self):
        # A trusted forwarder that recorded dmarc=fail vouches for nothing.
        sealed = self.seal(message("ceo@victim.test"), "fwd.test", AR_FAIL)
        v = self.judge(sealed, FORWARDER_IP, "SRS0=HHH=TT=victim.test=ceo@fwd.test")
        self.assertEqual((v.dmarc, v.arc), ("reject", "pass"), v)
        self.assertIn("ARC_ALLOW_TRUSTED", v)
        self.assertEqual(v.symbols["ARC_ALLOW_TRUSTED"].score, 0.0)
        self.assertFalse(v.arc_trusted or v.dmarc_arc_trusted, v)
        self.assertEqual(v.symbols["DMARC_POLICY_REJECT"].score, 2.0)

    def test_arc_changed_after_sealing(self):
        sealed = self.seal(self.forwarded(), "fwd.test", AR_PASS)
        v = self.judge(sealed.replace(b"list footer", b"list f00ter"), FORWARDER_IP,
                       "SRS0=HHH=TT=good.test=alice@fwd.test")
        self.assertEqual((v.dmarc, v.arc), ("reject", "fail"), v)
        self.assertFalse(v.arc_trusted or v.dmarc_arc_trusted, v)

    def test_dns_dead_gives_temporary_failures(self):
        msg = self.sign(message("alice@good.test"), "good.test")
        self.dns.stop()
        try:
            t0 = time.monotonic()
            v = self.judge(msg, "127.0.0.1", "alice@good.test")
            took = time.monotonic() - t0
        finally:
            self.dns.start()
        print("scan with DNS dead: %.1f s" % took, file=sys.stderr)
        self.assertEqual((v.dmarc, v.spf, v.dkim), ("temperror", "temperror", "temperror"), v)
        for sym in ("DMARC_DNSFAIL", "R_SPF_DNSFAIL", "R_DKIM_TEMPFAIL"):
            self.assertIn(sym, v)
        self.assertNotIn("DMARC_POLICY_ALLOW", v)
        self.assertLess(took, 30)
        v = self.judge(msg, "127.0.0.1", "alice@good.test")
        self.assertEqual(v.dmarc, "pass", v)

    def test_replaced_records_are_seen(self):
        msg = message("alice@good.test")
        self.assertEqual(self.judge(msg, STRANGER_IP, "alice@good.test").dmarc, "reject")
        keys = receiver.Unbound.zone_records(self.zone)
        self.dns.set_records(keys + [r for r in RECORDS if r[0] != "_dmarc.good.test"]
                             + [("_dmarc.good.test", "TXT", "v=DMARC1; p=quarantine")])
        try:
            v = self.judge(msg, STRANGER_IP, "alice@good.test")
        finally:
            self.dns.set_records(keys + RECORDS)
        self.assertEqual(v.dmarc, "quarantine", v)
        self.assertIn("DMARC_POLICY_QUARANTINE", v)


class UnboundTest(unittest.TestCase):
    """receiver.Unbound by itself, asked through the dns module (dnsq)."""

    def setUp(self):
        fwdtest.require_programs(DNSQ, receiver.UNBOUND)
        self.dir = fwdtest.make_tempdir(self)

    def ask(self, dns, name, rtype):
        r = fwdtest.run([DNSQ, "--server", dns.server, "--timeout", "1500", name, rtype])
        return r.stdout

    def test_zone_records_timeouts_and_nothing_else(self):
        zone = dkimpeers.Zone()
        long_key = "v=DKIM1; k=rsa; p=" + "A" * 400
        zone.add_key("sel", "example.test", long_key)
        zone.add_timeout("slow._domainkey.example.test")
        dns = receiver.Unbound.from_zone(self.dir, zone, [("example.test", "MX",
                                                           "10 mx.example.test."),
                                                          ("mx.example.test", "A", "192.0.2.1")])
        self.addCleanup(dns.stop)
        dns.start()
        self.assertEqual(self.ask(dns, "sel._domainkey.example.test", "TXT"),
                         "OK\n%s\n" % long_key)
        self.assertEqual(self.ask(dns, "example.test", "MX"), "OK\n10 mx.example.test\n")
        self.assertEqual(self.ask(dns, "mx.example.test", "A"), "OK\n192.0.2.1\n")
        self.assertEqual(self.ask(dns, "slow._domainkey.example.test", "TXT"), "TEMPFAIL\n")
        # Nothing outside the records, and never the Internet.
        self.assertEqual(self.ask(dns, "nx.example.test", "A"), "NXDOMAIN\n")
        self.assertEqual(self.ask(dns, "debian.org", "A"), "NXDOMAIN\n")
        # The same as a zone file for fwdauth --dns-zone.
        path = dns.write_zone(os.path.join(self.dir, "same.zone"))
        for name, rtype in (("sel._domainkey.example.test", "TXT"), ("example.test", "MX"),
                            ("slow._domainkey.example.test", "TXT")):
            r = fwdtest.run([DNSQ, "--zone", path, name, rtype])
            self.assertEqual(r.stdout, self.ask(dns, name, rtype), (name, rtype, r.stderr))

    def test_stop_start_and_replace(self):
        dns = receiver.Unbound(self.dir, [("a.test", "TXT", 'quote\'s "and" \\ back')])
        self.addCleanup(dns.stop)
        dns.start()
        self.assertEqual(self.ask(dns, "a.test", "TXT"), 'OK\nquote\'s "and" \\092 back\n')
        port = dns.port
        dns.stop()
        self.assertEqual(self.ask(dns, "a.test", "TXT"), "TEMPFAIL\n")
        dns.start()
        self.assertEqual(self.ask(dns, "a.test", "TXT"), 'OK\nquote\'s "and" \\092 back\n')
        dns.set_records([("b.test", "TXT", "v=spf1 -all")])
        self.assertEqual(dns.port, port)
        self.assertEqual(self.ask(dns, "a.test", "TXT"), "NXDOMAIN\n")
        self.assertEqual(self.ask(dns, "b.test", "TXT"), "OK\nv=spf1 -all\n")


if __name__ == "__main__":
    unittest.main()
