"""fwdauthd's milter end to end: a real Postfix, real DKIM keys, real oracles.

One throwaway Postfix (postfixtest.py) runs fwdauthd as smtpd_milters and
non_smtpd_milters and its SRS socketmap as recipient_canonical_maps (bounces
to SRS addresses go back to the original sender). Keys come from
`fwdauth dkim keygen`; DNS from a zone file (dns_zone_file). Wiring:

  ourdomain.test       virtual_mailbox_domains: local@ourdomain.test is a
                       real Maildir (virtual(8), owned by nobody);
                       alias@ourdomain.test -> user@remote.test and
                       bounceme@ourdomain.test -> user@reject.test by
                       virtual_alias_maps (both in forward_recipients)
  remote.test          smtp-sink (the forwarding target)
  reject.test          smtp-sink answering 550 at end of DATA (makes Postfix
                       send a real bounce to the SRS address)
  sender.test          smtp-sink (where reversed SRS bounces land)
  submission port      second smtpd, -o milter_macro_daemon_name=ORIGINATING
  SASL port            third smtpd, SASL by a private Dovecot ({auth_authen})

The test client connects from 127.0.0.1, which internal_hosts leaves out, so
mail to the main port is inbound. Oracles: dkimpy and `fwdauth dkim verify
--dns-zone` on every delivered signature, OpenDKIM (verify mode, keys from
TestPublicKeys, driven as in test_dkim_interop.py) on one forwarded message.

Cases (the brief's numbering): 1 forwarded mail (SRS, both signatures,
Authentication-Results, bounce reversed); 2 originating mail signed, no
Authentication-Results; 3 local delivery keeps its envelope sender; 4 daemon
down: tempfail / accept, nothing lost; 5 forged Authentication-Results; 6
broken signature and DNS timeout; 7 the metrics endpoint (metrics_listen)
counts what was sent through Postfix.
"""
import os
import pwd
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
import unittest
import urllib.request
import uuid
from email.utils import formatdate

import dkim

import dkimpeers
import fwdtest
import postfixtest
from fwdtest import FWDAUTH, run
from test_metrics import parse_exposition

AUTHSERV_ID = "mx.ourdomain.test"
SRS_DOMAIN = "srs.ourdomain.test"
SRS_SECRET = "e2e-s3cret"
SASL_USER, SASL_PASS = "alice@ourdomain.test", "alice-pw"
SRS_RE = re.compile(r"^SRS0=[A-Za-z0-9+/_-]{4}=[A-Z2-7]{2}=sender\.test=someone@%s$" %
                    re.escape(SRS_DOMAIN), re.I)


def keygen(outdir, domain, selector):
    r = run([FWDAUTH, "dkim", "keygen", "-d", domain, "-s", selector, "-o", outdir])
    if r.returncode != 0:
        raise RuntimeError("keygen %s failed: %s" % (domain, r.stderr))
    owner, record = dkimpeers.zone_line_record(r.stdout.strip().splitlines()[-1])
    return os.path.join(outdir, selector + ".private"), owner, record


def unfold(v):
    return " ".join((v or "").split())


def message(subject, frm="someone@sender.test", to="alias@ourdomain.test", extra=b"",
            body=None):
    body = body or b"Hello,\r\n\r\nthis is the body of %s.\r\n-- \r\nsomeone\r\n" % subject.encode()
    return (b"From: Someone <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
            b"Message-ID: <%s@sender.test>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n%s\r\n%s" % (
                frm.encode(), to.encode(), subject.encode(), formatdate().encode(),
                uuid.uuid4().hex.encode(), extra, body))


class Env:
    """Keys, zone, fwdauthd and Postfix for one test class. extra_main_cf
    replaces or adds main.cf settings; extra_master_cf (text) is appended to
    master.cf (e.g. a content filter's transport and re-injection smtpd)."""

    def __init__(self, test_cls, default_action="tempfail", srs_table=True, extra_main_cf=None,
                 extra_master_cf=""):
        self.dir = d = tempfile.mkdtemp(prefix="fwdauth-e2e-")
        os.chmod(d, 0o755)
        test_cls.addClassCleanup(shutil.rmtree, d, True)
        nobody = pwd.getpwnam("nobody")
        kdir = os.path.join(d, "keys")
        os.mkdir(kdir, 0o755)
        self.zone = dkimpeers.Zone()
        self.keys = {}
        for dom, sel in (("ourdomain.test", "fwd"), ("sender.test", "s1"), ("slow.test", "t1")):
            path, owner, record = keygen(kdir, dom, sel)
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
            self.keys[dom] = (sel, path)
            if dom == "slow.test":
                self.zone.add_timeout(owner)  # every query for its key times out
            else:
                self.zone.add(owner, record)
        self.zonefile = self.zone.write(os.path.join(d, "test.zone"))
        self.key_table = os.path.join(d, "KeyTable")
        with open(self.key_table, "w") as f:
            f.write("ourkey ourdomain.test:fwd:%s\n" % self.keys["ourdomain.test"][1])
        self.signing_table = os.path.join(d, "SigningTable")
        with open(self.signing_table, "w") as f:
            f.write("*@ourdomain.test ourkey\n")
        self.secret = os.path.join(d, "srs.secret")
        fwdtest.write_secret(self.secret, SRS_SECRET, owner="nobody")

        self.milter_port = fwdtest.free_port()
        self.smap_port = fwdtest.free_port()
        self.metrics_port = fwdtest.free_port()
        self.conf = os.path.join(d, "fwdauthd.conf")
        fwdtest.write_config(
            self.conf,
            milter_listen="inet:127.0.0.1:%d" % self.milter_port,
            socketmap_listen="inet:127.0.0.1:%d" % self.smap_port,
            metrics_listen="inet:127.0.0.1:%d" % self.metrics_port,
            srs_domain=SRS_DOMAIN,
            srs_secrets=self.secret,
            authserv_id=AUTHSERV_ID,
            # 127.0.0.1 (the test client) is an outside sender.
            internal_hosts="192.0.2.254/32",
            dkim_key_table=self.key_table,
            dkim_signing_table="refile:" + self.signing_table,
            forward_recipients="alias@ourdomain.test, bounceme@ourdomain.test",
            forward_signing_key="ourkey",
            dns_zone_file=self.zonefile,
            log_level="debug",
        )
        self.daemon = None
        self.start_daemon()
        test_cls.addClassCleanup(self.stop_daemon)

        # A local Maildir for local@ourdomain.test, written by virtual(8) as nobody.
        self.mailbase = os.path.join(d, "vmail")
        os.mkdir(self.mailbase, 0o755)
        os.chown(self.mailbase, nobody.pw_uid, nobody.pw_gid)
        self.maildir = os.path.join(self.mailbase, "ourdomain.test", "local")

        self.pf = postfixtest.Postfix(d)
        test_cls.addClassCleanup(self.pf.stop)
        self.remote = self.pf.sink("remote.test")
        self.sender_sink = self.pf.sink("sender.test")
        self.reject_sink = self.pf.sink("reject.test",
                                        ["-f", ".", "-B", "550 5.7.509 Access denied (test)"])
        self.auth = postfixtest.DovecotAuth(d, {SASL_USER: SASL_PASS})
        test_cls.addClassCleanup(self.auth.stop)
        self.sub_port = fwdtest.free_port()
        self.sasl_port = fwdtest.free_port()
        milter = "inet:127.0.0.1:%d" % self.milter_port
        self.main_cf = {
            "smtpd_milters": milter,
            "non_smtpd_milters": milter,
            "milter_default_action": default_action,
            "milter_connect_timeout": "5s",
            "milter_protocol": "6",
            "virtual_mailbox_domains": "ourdomain.test",
            "virtual_mailbox_base": self.mailbase,
            "virtual_mailbox_maps": "inline:{ local@ourdomain.test=ourdomain.test/local/ }",
            "virtual_alias_maps": "inline:{ alias@ourdomain.test=user@remote.test, "
                                  "bounceme@ourdomain.test=user@reject.test }",
            "virtual_uid_maps": "static:%d" % nobody.pw_uid,
            "virtual_gid_maps": "static:%d" % nobody.pw_gid,
            "virtual_transport": "virtual",
            "recipient_canonical_maps": "socketmap:inet:127.0.0.1:%d:reverse" % self.smap_port,
            "recipient_canonical_classes": "envelope_recipient",
            "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": self.auth.socket,
            "smtpd_sasl_security_options": "noanonymous",
            "bounce_queue_lifetime": "0",
            # send(client_ip=...) presents an outside client (an attacker's
            # address) with XCLIENT, as Postfix would see it from the network.
            "smtpd_authorized_xclient_hosts": "127.0.0.1",
        }
        if not srs_table:
            del self.main_cf["recipient_canonical_maps"]
        self.main_cf.update(extra_main_cf or {})
        self.master_cf = (
            "%d inet n - n - - smtpd\n  -o milter_macro_daemon_name=ORIGINATING\n"
            "%d inet n - n - - smtpd\n  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject\n" %
            (self.sub_port, self.sasl_port)) + extra_master_cf
        self.pf.start(self.main_cf, self.master_cf)
        fwdtest.wait_for_port(self.sub_port)
        fwdtest.wait_for_port(self.sasl_port)

    def start_daemon(self):
        self.daemon = fwdtest.Daemon(self.conf, os.path.join(self.dir, "fwdauthd.log"))
        fwdtest.wait_for_port(self.milter_port, proc=self.daemon.proc)
        fwdtest.wait_for_port(self.smap_port, proc=self.daemon.proc)

    def stop_daemon(self, kill=False):
        if self.daemon is None:
            return
        if kill and self.daemon.proc.poll() is None:
            self.daemon.proc.send_signal(signal.SIGKILL)
            self.daemon.proc.wait()
        self.daemon.stop()
        self.daemon = None

    # -- sending and receiving -------------------------------------------------
    def send(self, msg, rcpts, sender="someone@sender.test", port=None, login=None,
             client_ip=None):
        with smtplib.SMTP("127.0.0.1", port or self.pf.smtp_port, timeout=30) as s:
            s.ehlo("client.sender.test")
            if client_ip:
                code, text = s.docmd("XCLIENT", "ADDR=%s NAME=[UNAVAILABLE]" % client_ip)
                if code != 220:
                    raise RuntimeError("XCLIENT refused: %d %s" % (code, text))
                s.ehlo("client.sender.test")
            if login:
                s.login(*login)
            refused = s.sendmail(sender, rcpts, msg)
        return refused

    def wait_sink(self, sink, subject, timeout=30, count=1):
        return postfixtest.wait_for_delivery(
            sink, timeout, count=count, match=lambda m: subject in (m.header("Subject") or ""))

    def maildir_messages(self, subject):
        out = []
        for sub in ("new", "cur"):
            p = os.path.join(self.maildir, sub)
            if not os.path.isdir(p):
                continue
            for name in sorted(os.listdir(p)):
                with open(os.path.join(p, name), "rb") as f:
                    raw = f.read()
                if ("Subject: %s" % subject).encode() in raw:
                    out.append(raw)
        return out

    def wait_maildir(self, subject, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.maildir_messages(subject)
            if got:
                return got
            time.sleep(0.1)
        raise AssertionError("no message %r in %s; maillog:\n%s" %
                             (subject, self.maildir, self.pf.log_text()[-3000:]))

    def scrape(self):
        """{(sample name, labels): value} from GET /metrics."""
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        with urllib.request.urlopen(url, timeout=10) as r:
            return parse_exposition(r.read().decode())[1]

    # -- oracles -----------------------------------------------------------------
    def dkimpy_sign(self, msg, domain, canon=b"relaxed"):
        sel, path = self.keys[domain]
        with open(path, "rb") as f:
            key = f.read()
        sig = dkim.sign(msg, sel.encode(), domain.encode(), key, canonicalize=(canon, canon),
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                         b"mime-version", b"content-type"])
        return sig + msg

    def fwdauth_verify(self, raw):
        """{domain: result} from `fwdauth dkim verify --dns-zone --json`."""
        path = os.path.join(self.dir, "v-%s.eml" % uuid.uuid4().hex[:8])
        with open(path, "wb") as f:
            f.write(raw)
        r = run([FWDAUTH, "dkim", "verify", "--dns-zone", self.zonefile, path])
        return r.returncode, r.stdout + r.stderr


def wire(raw):
    """A delivered file as SMTP would carry it: CRLF line ends, without the
    envelope lines smtp-sink adds (X-Mail-Args, X-Rcpt-Args)."""
    raw = raw.replace(b"\r\n", b"\n")
    lines = raw.split(b"\n")
    out = [l for l in lines if not re.match(rb"(?i)^X-(Mail|Rcpt)-Args:", l)]
    return b"\r\n".join(out)


def dkim_sigs(raw):
    """{d=: (s=, whole field)} of every DKIM-Signature in raw."""
    out = {}
    for m in re.finditer(rb"(?ims)^DKIM-Signature:(.*?)(?=^\S)", raw):
        v = m.group(1).decode()
        d = re.search(r"\bd=([^;\s]+)", v).group(1)
        s = re.search(r"\bs=([^;\s]+)", v).group(1)
        out[d] = s
    return out


def auth_results(raw):
    """Unfolded values of every Authentication-Results field (any case)."""
    hdr = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    out = []
    for m in re.finditer(rb"(?ims)^authentication-results:(.*?)(?=^\S)", hdr + b"\n.\n"):
        out.append(unfold(m.group(1).decode()))
    return out


class MilterEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(fwdtest.FWDAUTHD, postfixtest.POSTFIX, postfixtest.SMTP_SINK)
        cls.env = Env(cls)

    def setUp(self):
        self.assertIsNotNone(self.env.daemon)
        self.assertIsNone(self.env.daemon.proc.poll(), "fwdauthd died:\n" +
                          self.env.daemon.logtext()[-3000:])

    def subject(self, what):
        return "%s-%s" % (what, uuid.uuid4().hex[:10])

    def ctx(self):
        return "\nfwdauthd log:\n%s\nmaillog:\n%s" % (self.env.daemon.logtext()[-3000:],
                                                    self.env.pf.log_text()[-3000:])

    def ours(self, ars):
        return [a for a in ars if a.lower().startswith(AUTHSERV_ID + ";")]

    # -- case 1 --------------------------------------------------------------
    def forward_one(self, canon=b"relaxed"):
        env = self.env
        subj = self.subject("fwd")
        msg = env.dkimpy_sign(message(subj), "sender.test", canon)
        self.assertEqual(env.send(msg, ["alias@ourdomain.test"]), {})
        (m,) = env.wait_sink(env.remote, subj)
        return subj, m

    def test_1_forwarded_srs_signatures_authres(self):
        env = self.env
        subj, m = self.forward_one()
        self.assertRegex(m.mail_from, SRS_RE, self.ctx())
        self.assertEqual(m.rcpt_to, ["user@remote.test"])
        raw = wire(m.raw)
        self.assertEqual(dkim_sigs(raw), {"sender.test": "s1", "ourdomain.test": "fwd"})
        # Both signatures verify with dkimpy and with fwdauth.
        self.assertEqual(dkimpeers.dkimpy_verify_all(raw, env.zone.dnsfunc), [True, True],
                         raw[:3000])
        rc, out = env.fwdauth_verify(raw)
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(re.findall(r"(?m)\bpass\b", out)), 2, out)
        self.assertNotRegex(out, r"\bfail\b")
        # Our Authentication-Results: one, dkim=pass for sender.test.
        ars = auth_results(raw)
        self.assertEqual(len(ars), 1, ars)
        self.assertRegex(ars[0], r"^%s; spf=[a-z]+ .*; dkim=pass .*header\.d=sender\.test" %
                         re.escape(AUTHSERV_ID))
        self.assertIn("header.s=s1", ars[0])
        # Daemon log line for it.
        self.assertRegex(env.daemon.logtext(), r"from=<someone@sender\.test> inbound forwarded"
                         r".*signed=d=ourdomain\.test,s=fwd.*srs=<SRS0=")

        # A bounce to the SRS address goes back to the original sender.
        bsubj = self.subject("bounce")
        bounce = (b"From: MAILER-DAEMON@remote.test\r\nTo: <%s>\r\nSubject: %s\r\n\r\n"
                  b"Undelivered mail.\r\n" % (m.mail_from.encode(), bsubj.encode()))
        self.assertEqual(env.send(bounce, [m.mail_from], sender=""), {})
        (b,) = env.wait_sink(env.sender_sink, bsubj)
        self.assertEqual(b.rcpt_to, ["someone@sender.test"])
        self.assertEqual(b.mail_from, "")

    def test_1_forwarded_simple_canonicalization(self):
        # c=simple/simple by the sender: the header bytes Postfix hands the
        # milter (SMFIP_HDR_LEADSPC) must be the real ones.
        env = self.env
        subj, m = self.forward_one(canon=b"simple")
        raw = wire(m.raw)
        self.assertEqual(dkimpeers.dkimpy_verify_all(raw, env.zone.dnsfunc), [True, True])
        self.assertRegex(self.ours(auth_results(raw))[0], r"dkim=pass .*header\.d=sender\.test")

    def test_1_real_bounce_returns_to_sender(self):
        # reject.test refuses at end of DATA: Postfix's own bounce goes to the
        # SRS address, recipient_canonical_maps reverses it to someone@sender.test.
        env = self.env
        subj = self.subject("rej")
        msg = env.dkimpy_sign(message(subj, to="bounceme@ourdomain.test"), "sender.test")
        self.assertEqual(env.send(msg, ["bounceme@ourdomain.test"]), {})
        (b,) = postfixtest.wait_for_delivery(env.sender_sink, 60,
                                             match=lambda m: subj.encode() in m.raw)
        self.assertEqual(b.mail_from, "")
        self.assertEqual(b.rcpt_to, ["someone@sender.test"])
        self.assertIn(b"5.7.509", b.raw)
        log = env.pf.log_text()
        self.assertRegex(log, r"to=<user@reject\.test>, orig_to=<bounceme@ourdomain\.test>.*"
                         r"status=bounced")

    def test_1_forwarded_verifies_with_opendkim(self):
        fwdtest.require_programs(dkimpeers.OPENDKIM)
        subj, m = self.forward_one()
        raw = wire(m.raw)
        # Our own Authentication-Results would confuse nothing, but OpenDKIM
        # is shown the message as the next hop receives it: all of it.
        d = fwdtest.make_tempdir(self)
        odk = dkimpeers.OpenDKIM(d, mode="v", zone=self.env.zone)
        self.addCleanup(odk.stop)
        odk.start()
        out = odk.run([("fwd", raw)])
        self.assertTrue(out.get("fwd"), "OpenDKIM added no Authentication-Results")
        results = sorted(r[:2] for r in dkimpeers.dkim_results(out["fwd"][0]))
        self.assertEqual(results, [("pass", "ourdomain.test"), ("pass", "sender.test")],
                         out["fwd"][0])

    # -- case 2 --------------------------------------------------------------
    def check_originating(self, m):
        raw = wire(m.raw)
        self.assertEqual(m.mail_from, "alice@ourdomain.test")
        self.assertEqual(dkim_sigs(raw), {"ourdomain.test": "fwd"}, raw[:2000])
        self.assertEqual(dkimpeers.dkimpy_verify_all(raw, self.env.zone.dnsfunc), [True])
        rc, out = self.env.fwdauth_verify(raw)
        self.assertEqual(rc, 0, out)
        self.assertEqual(auth_results(raw), [], raw[:2000])

    def test_2_submission_daemon_name_signed(self):
        env = self.env
        subj = self.subject("sub")
        msg = message(subj, frm="alice@ourdomain.test", to="bob@remote.test")
        self.assertEqual(env.send(msg, ["bob@remote.test"], sender="alice@ourdomain.test",
                                  port=env.sub_port), {})
        (m,) = env.wait_sink(env.remote, subj)
        self.check_originating(m)
        self.assertRegex(env.daemon.logtext(), r"from=<alice@ourdomain\.test> originating "
                         r"signed=d=ourdomain\.test,s=fwd")

    def test_2_sasl_auth_authen_signed(self):
        env = self.env
        subj = self.subject("sasl")
        msg = message(subj, frm="alice@ourdomain.test", to="bob@remote.test")
        self.assertEqual(env.send(msg, ["bob@remote.test"], sender="alice@ourdomain.test",
                                  port=env.sasl_port, login=(SASL_USER, SASL_PASS)), {})
        (m,) = env.wait_sink(env.remote, subj)
        self.check_originating(m)

    def test_2_inbound_from_our_domain_not_signed(self):
        # Without SASL or the submission port, From: alice@ourdomain.test is
        # just an inbound claim: verified (none), never signed.
        env = self.env
        subj = self.subject("spoof")
        msg = message(subj, frm="alice@ourdomain.test", to="bob@remote.test")
        env.send(msg, ["bob@remote.test"], sender="alice@ourdomain.test")
        (m,) = env.wait_sink(env.remote, subj)
        raw = wire(m.raw)
        self.assertEqual(dkim_sigs(raw), {})
        ars = auth_results(raw)
        self.assertEqual(len(ars), 1, ars)
        self.assertRegex(ars[0], r"^%s; spf=[a-z]+ .*; dkim=none; dmarc=[a-z]+ .*; arc=none$" %
                         re.escape(AUTHSERV_ID))

    # -- case 3 --------------------------------------------------------------
    def test_3_local_delivery_keeps_sender(self):
        env = self.env
        subj = self.subject("local")
        msg = env.dkimpy_sign(message(subj, to="local@ourdomain.test"), "sender.test")
        self.assertEqual(env.send(msg, ["local@ourdomain.test"]), {})
        (raw,) = env.wait_maildir(subj)
        self.assertIn(b"Return-Path: <someone@sender.test>", raw)
        self.assertIn(b"Delivered-To: local@ourdomain.test", raw)
        raw = wire(raw)
        ars = auth_results(raw)
        self.assertEqual(len(ars), 1, ars)
        self.assertRegex(ars[0], r"^%s; spf=[a-z]+ .*; dkim=pass .*header\.d=sender\.test" %
                         re.escape(AUTHSERV_ID))
        # Not forwarded: no forwarder signature.
        self.assertEqual(dkim_sigs(raw), {"sender.test": "s1"})

    def test_3_mixed_local_and_forwarded_recipients(self):
        # A milter cannot give recipients of one message different senders:
        # a message for a forwarded and a local recipient gets the SRS sender
        # for both (documented in mailflow.h and the README). That is
        # harmless: a bounce to the SRS address reverses to the original
        # sender, which this checks too.
        env = self.env
        subj = self.subject("mixed")
        msg = env.dkimpy_sign(message(subj, to="alias@ourdomain.test, local@ourdomain.test"),
                              "sender.test")
        env.send(msg, ["alias@ourdomain.test", "local@ourdomain.test"])
        (m,) = env.wait_sink(env.remote, subj)
        self.assertRegex(m.mail_from, SRS_RE)
        (raw,) = env.wait_maildir(subj)
        rp = re.search(rb"Return-Path: <([^>]*)>", raw).group(1).decode()
        self.assertRegex(rp, SRS_RE)
        secret = os.path.join(env.dir, "reverse-secret")
        fwdtest.write_secret(secret, SRS_SECRET)
        r = run([FWDAUTH, "srs", "reverse", "--srs-domain", SRS_DOMAIN, "--secrets", secret, rp])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "someone@sender.test"), r.stderr)

    # -- case 5 --------------------------------------------------------------
    def test_5_forged_authres_removed(self):
        env = self.env
        subj = self.subject("forged")
        forged = (b"Authentication-Results: " + AUTHSERV_ID.encode() +
                  b"; dkim=pass header.d=evil.test\r\n"
                  b"authentication-results: other.example; dkim=pass header.d=x.test\r\n"
                  b"AUTHENTICATION-RESULTS: MX.OURDOMAIN.TEST; spf=pass\r\n"
                  b"Authentication-Results: other2.example;\r\n\tdkim=fail header.d=y.test\r\n"
                  b"Authentication-results:  (forged) " + AUTHSERV_ID.encode() +
                  b" (c);\r\n dkim=pass header.d=evil2.test\r\n"
                  b"Authentication-Results: other3.example; none\r\n")
        msg = env.dkimpy_sign(message(subj, to="bob@remote.test", extra=forged),
                              "sender.test")
        env.send(msg, ["bob@remote.test"])
        (m,) = env.wait_sink(env.remote, subj)
        raw = wire(m.raw)
        ars = auth_results(raw)
        self.assertEqual([a for a in ars if not a.lower().startswith(AUTHSERV_ID)],
                         ["other.example; dkim=pass header.d=x.test",
                          "other2.example; dkim=fail header.d=y.test",
                          "other3.example; none"], ars)
        mine = self.ours(ars)
        self.assertEqual(len(mine), 1, ars)
        self.assertRegex(mine[0], r"dkim=pass .*header\.d=sender\.test")
        self.assertNotIn(b"evil", raw)
        # The sender's signature survives the deletions (AR is not signed).
        self.assertEqual(dkimpeers.dkimpy_verify_all(raw, env.zone.dnsfunc), [True])
        self.assertRegex(env.daemon.logtext(),
                         r"removed-forged-ar=5 removed-forged-ar=3 removed-forged-ar=1")

    # -- case 6 --------------------------------------------------------------
    def test_6_body_altered_dkim_fail(self):
        env = self.env
        subj = self.subject("broken")
        msg = env.dkimpy_sign(message(subj, to="bob@remote.test"), "sender.test")
        msg = msg.replace(b"this is the body", b"this is THE body")
        env.send(msg, ["bob@remote.test"])
        (m,) = env.wait_sink(env.remote, subj)
        ars = auth_results(wire(m.raw))
        self.assertEqual(len(ars), 1, ars)
        self.assertRegex(ars[0], r"^%s; spf=[a-z]+ .*; dkim=fail .*header\.d=sender\.test" %
                         re.escape(AUTHSERV_ID))

    def test_6_dns_timeout_temperror_delivered(self):
        env = self.env
        subj = self.subject("slow")
        msg = env.dkimpy_sign(message(subj, frm="x@slow.test", to="bob@remote.test"),
                              "slow.test")
        t0 = time.monotonic()
        self.assertEqual(env.send(msg, ["bob@remote.test"], sender="x@slow.test"), {})
        (m,) = env.wait_sink(env.remote, subj)
        ars = auth_results(wire(m.raw))
        self.assertEqual(len(ars), 1, ars)
        self.assertRegex(ars[0], r"^%s; spf=[a-z]+ .*; dkim=temperror .*header\.d=slow\.test" %
                         re.escape(AUTHSERV_ID))
        self.assertLess(time.monotonic() - t0, 20)

    # -- a stack buffer of the log line ------------------------------------------
    def test_zz_many_forged_authres(self):
        # Runs last in this class (it may kill the daemon): 60 forged fields.
        env = self.env
        subj = self.subject("manyforged")
        forged = b"".join(b"Authentication-Results: %s; dkim=pass header.d=e%d.test\r\n" %
                          (AUTHSERV_ID.encode(), i) for i in range(60))
        msg = message(subj, to="bob@remote.test", extra=forged)
        env.send(msg, ["bob@remote.test"])
        (m,) = env.wait_sink(env.remote, subj)
        ars = auth_results(wire(m.raw))
        self.assertEqual(len(ars), 1, ars)
        self.assertRegex(ars[0], r"^%s; spf=[a-z]+ .*; dkim=none; " % re.escape(AUTHSERV_ID))
        self.assertIsNone(env.daemon.proc.poll(), self.ctx())


    # -- case 7 --------------------------------------------------------------
    def test_7_metrics_count_what_was_sent(self):
        # Counters move by exactly what this test sends through Postfix: two
        # forwarded messages signed by sender.test, one from the submission
        # port, one for a local mailbox (unsigned).
        env = self.env
        before = env.scrape()
        fwd = [self.subject("mfwd") for _ in range(2)]
        for subj in fwd:
            msg = env.dkimpy_sign(message(subj), "sender.test")
            self.assertEqual(env.send(msg, ["alias@ourdomain.test"]), {})
        osubj = self.subject("msub")
        self.assertEqual(env.send(message(osubj, frm="alice@ourdomain.test", to="bob@remote.test"),
                                  ["bob@remote.test"], sender="alice@ourdomain.test",
                                  port=env.sub_port), {})
        lsubj = self.subject("mlocal")
        self.assertEqual(env.send(message(lsubj, to="local@ourdomain.test"),
                                  ["local@ourdomain.test"]), {})
        for subj in fwd + [osubj]:
            env.wait_sink(env.remote, subj)
        env.wait_maildir(lsubj)
        after = env.scrape()

        def delta(name, **labels):
            key = (name, tuple(labels.items()))
            return after[key] - before[key]

        actions = {a: delta("fwdauth_milter_messages_total", action=a)
                   for a in ("accept", "continue", "reject", "tempfail", "discard", "quarantine")}
        self.assertEqual(actions, {"accept": 0, "continue": 4, "reject": 0, "tempfail": 0,
                                   "discard": 0, "quarantine": 0}, self.ctx())
        self.assertEqual(delta("fwdauth_milter_signatures_total", kind="forwarder"), 2)
        self.assertEqual(delta("fwdauth_milter_signatures_total", kind="dkim"), 1)
        self.assertEqual(delta("fwdauth_milter_signatures_total", kind="arc"), 0)
        self.assertEqual(delta("fwdauth_milter_srs_rewrites_total"), 2)
        self.assertEqual(delta("fwdauth_sign_duration_seconds_count", kind="dkim"), 3)
        # Inbound (verified) messages: the two forwarded and the local one.
        self.assertEqual(delta("fwdauth_dkim_results_total", result="pass"), 2)
        self.assertEqual(delta("fwdauth_dkim_results_total", result="none"), 1)
        spf = sum(after[k] - before[k] for k in after if k[0] == "fwdauth_spf_results_total")
        self.assertEqual(spf, 3)


class MilterDaemonDown(unittest.TestCase):
    """Case 4: fwdauthd killed under Postfix; milter_default_action decides.
    This Postfix does not use fwdauthd's SRS table (recipient_canonical_maps),
    so only the milter is missing; test_4_srs_table_down shows what the table
    adds."""

    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(fwdtest.FWDAUTHD, postfixtest.POSTFIX, postfixtest.SMTP_SINK)
        cls.env = Env(cls, srs_table=False)

    def setUp(self):
        self.addCleanup(self.restore)

    def restore(self):
        if self.env.daemon is None:
            self.env.start_daemon()
        self.set_postfix(milter_default_action="tempfail", recipient_canonical_maps="")

    def set_postfix(self, **settings):
        self.env.pf.postconf(settings)
        self.assertEqual(self.env.pf.postfix("reload").returncode, 0)
        time.sleep(1.5)  # let the old smtpd processes go

    def count(self, subj):
        return len([m for m in postfixtest.sink_messages(self.env.remote)
                    if subj in (m.header("Subject") or "")])

    def refused_code(self, msg, rcpt):
        with self.assertRaises(smtplib.SMTPException) as cm:
            self.env.send(msg, [rcpt])
        e = cm.exception
        code = getattr(e, "smtp_code", None)
        if code is None and hasattr(e, "recipients"):
            code = list(e.recipients.values())[0][0]
        return code, e

    def test_4_tempfail_then_restart_delivers_once(self):
        env = self.env
        env.stop_daemon(kill=True)
        subj = "down-%s" % uuid.uuid4().hex[:8]
        msg = message(subj, to="alias@ourdomain.test")
        code, e = self.refused_code(msg, "alias@ourdomain.test")
        self.assertTrue(code is not None and 400 <= code < 500, repr(e))
        env.pf.wait_for_log("milter")
        time.sleep(1)
        self.assertEqual(self.count(subj), 0)
        # The client retries after a restart: delivered once, filtered.
        env.start_daemon()
        self.assertEqual(env.send(msg, ["alias@ourdomain.test"]), {})
        (m,) = env.wait_sink(env.remote, subj)
        self.assertRegex(m.mail_from, SRS_RE)
        self.assertEqual(len(auth_results(wire(m.raw))), 1)
        time.sleep(2)
        self.assertEqual(self.count(subj), 1)

    def test_4_accept_delivers_unfiltered(self):
        env = self.env
        self.set_postfix(milter_default_action="accept")
        env.stop_daemon(kill=True)
        subj = "accept-%s" % uuid.uuid4().hex[:8]
        self.assertEqual(env.send(message(subj, to="alias@ourdomain.test"),
                                  ["alias@ourdomain.test"]), {})
        (m,) = env.wait_sink(env.remote, subj)
        raw = wire(m.raw)
        self.assertEqual(m.mail_from, "someone@sender.test")  # no SRS
        self.assertEqual(auth_results(raw), [])
        self.assertEqual(dkim_sigs(raw), {})
        env.start_daemon()
        time.sleep(2)
        self.assertEqual(self.count(subj), 1)

    def test_4_srs_table_down_tempfails_even_with_accept(self):
        # fwdauthd also serves the reverse SRS table. With it in
        # recipient_canonical_maps, a dead fwdauthd tempfails every RCPT
        # (451 4.3.0 Temporary lookup failure) whatever milter_default_action
        # says: accept cannot let mail through unfiltered then.
        env = self.env
        self.set_postfix(milter_default_action="accept",
                         recipient_canonical_maps="socketmap:inet:127.0.0.1:%d:reverse" %
                         env.smap_port)
        env.stop_daemon(kill=True)
        subj = "table-%s" % uuid.uuid4().hex[:8]
        code, e = self.refused_code(message(subj, to="alias@ourdomain.test"),
                                    "alias@ourdomain.test")
        self.assertEqual(code, 451, repr(e))
        self.assertIn(b"4.3.0", repr(e).encode())

    def test_4_sendmail_queued_while_down_is_retried(self):
        # non_smtpd_milters: sendmail(1) while the daemon is down. Postfix
        # keeps the message (pickup/cleanup tempfail) and delivers it once
        # after the restart.
        env = self.env
        env.stop_daemon(kill=True)
        subj = "queued-%s" % uuid.uuid4().hex[:8]
        r = subprocess.run(["/usr/sbin/sendmail", "-C", env.pf.conf, "-f",
                            "someone@sender.test", "bob@remote.test"],
                           input=message(subj, to="bob@remote.test"), capture_output=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(3)
        self.assertEqual(self.count(subj), 0)
        env.start_daemon()
        # pickup rescans maildrop every 60 s; wake it now.
        subprocess.run(["/usr/sbin/postkick", "-c", env.pf.conf, "public", "pickup", "W"],
                       capture_output=True, timeout=30)
        (m,) = env.wait_sink(env.remote, subj, timeout=90)
        self.assertEqual(len(auth_results(wire(m.raw))), 1)
        time.sleep(1)
        self.assertEqual(self.count(subj), 1)


if __name__ == "__main__":
    unittest.main()
