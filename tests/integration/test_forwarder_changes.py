"""The forwarder's own changes, made by the milter after it verified (issue 11, one stage).

A forwarder that tags the Subject and adds a footer with Postfix's
header_checks/body_checks changes the message before the milter sees it
(cleanup applies them first): valid signatures then fail on arrival. With
forward_subject_tag, forward_footer(_html) and forward_header fwdauthd makes
those changes itself, after verifying, and signs and seals the message as it
leaves. This file shows it end to end through the throwaway Postfix of
test_forwarding_dmarc.py (ForwardingBase: virtual alias alias@ourdomain.test
-> user@remote.test, smtp-sink for remote.test, fwdauthd reconfigured by
SIGHUP), whose main.cf has no header_checks or body_checks at all.

Senders, all p=reject:
  dkim-only   From: news@dkimonly.test, DKIM-signed by dkimonly.test; the
              envelope sender is bounce@esp.test (an ESP's bounce domain whose
              SPF passes for the client): DMARC passes through DKIM alone
  spf+dkim    signed.test: SPF and DKIM both aligned
  spf-only    spfonly.test: SPF alone
The far end: dkimpy (dkim.verify, dkim.arc_verify) and `fwdauth arc verify`
on what the sink received, and two private rspamd 3.4 (receiver.py) behind
their own unbound serving the same zone, judging the message as received
from our public address: one that trusts our ARC sealer (ourdomain.test, as
a Microsoft 365 tenant with ArcTrustedSealers would), one that trusts none.

Asserted: none refused; the Subject tagged once; the footer (and the added
field) there, read with Python's email package; the ARC-Authentication-Results
record the results on arrival (dkim=pass, dmarc=pass), though our changes
broke the sender's signature; our DKIM signature and ARC set verify;
from_rewrite_on_change = no leaves the aligned-DKIM senders' From alone (the
trusting receiver accepts them through ARC), = yes rewrites them (they pass
DMARC at the receiver that trusts no sealer); a spoof from an outside address
is refused and never gets the footer; a multipart/alternative message is
wrapped with its parts intact.
"""
import email
import email.policy
import os
import pwd
import re
import smtplib
import time
import unittest
import uuid
from email.utils import formatdate

import dkim

import dkimpeers
import fwdtest
import postfixtest
import receiver
import test_forwarding_dmarc as fd
import test_milter_e2e as e2e
from fwdtest import run
from test_forwarding_dmarc import arc_sets, header_values

AUTHSERV_ID = e2e.AUTHSERV_ID
ATTACKER_IP = "203.0.113.66"
TAG = "[fwd]"
FOOTER = "-- \nForwarded by ourdomain.test\nhttps://ourdomain.test/forwarding\n"
FOOTER_HTML = ('<p class="fwd">Forwarded by <a href="https://ourdomain.test/">ourdomain.test'
               "</a> \u2014 forwarding service</p>\n")
ADDED_NAME, ADDED_VALUE = "X-Forwarded-By", "ourdomain.test"

# name: (From:, envelope sender, signing domain or None, aligned DKIM)
SENDERS = {
    "dkim-only": ("News <news@dkimonly.test>", "bounce-4711@esp.test", "dkimonly.test", True),
    "spf+dkim": ("Dave <dave@signed.test>", "dave@signed.test", "signed.test", True),
    "spf-only": ("Alice <alice@spfonly.test>", "alice@spfonly.test", None, False),
}


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def defects(m):
    return [d for p in m.walk() for d in p.defects]


def text_of(part):
    return part.get_content().replace("\r\n", "\n")


def footer_text(text):
    """The footer as fwdchange writes it (test_fwdchange.py's rule)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "".join((l if l == "-- " else l.rstrip(" \t")) + "\n" for l in lines)


def html_refs(fragment):
    return "".join(c if ord(c) < 0x80 else "&#x%X;" % ord(c) for c in fragment)


def body_of(raw):
    i = raw.find(b"\r\n\r\n")
    return raw[i + 4:] if i >= 0 else b""


def sink_raw(raw):
    """What was sent: smtp-sink's file (e2e.wire) ends with one line break
    more than the message had."""
    assert raw.endswith(b"\r\n\r\n"), raw[-200:]
    return raw[:-2]


def plain_message(subject, frm, body=None, extra=b"", to="alias@ourdomain.test"):
    body = body or (b"Hello,\r\n\r\nthis is the body of %s.\r\n" % subject.encode())
    return (b"%sFrom: %s\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
            b"Message-ID: <%s@fwd.test>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n%s" % (
                extra, frm.encode(), to.encode(), subject.encode(), formatdate().encode(),
                uuid.uuid4().hex.encode(), body))


ALT_TEXT = b"Hello,\r\n\r\nthe plain text part.\r\n"
ALT_HTML = b"<html><body><p>Hello,</p><p>the <b>HTML</b> part.</p></body></html>\r\n"


def alternative_message(subject, frm):
    return (b"From: %s\r\nTo: <alias@ourdomain.test>\r\nSubject: %s\r\nDate: %s\r\n"
            b"Message-ID: <%s@fwd.test>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/alternative; boundary="alt-b0undary"\r\n\r\n'
            b"This is a multi-part message in MIME format.\r\n"
            b"--alt-b0undary\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s"
            b"--alt-b0undary\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n%s"
            b"--alt-b0undary--\r\n" % (frm.encode(), subject.encode(), formatdate().encode(),
                                       uuid.uuid4().hex.encode(), ALT_TEXT, ALT_HTML))


class ChangesBase(fd.ForwardingBase):
    """ForwardingBase with the DKIM-only sender, footer files and the two
    receivers; no tests of its own (test_two_stage.py builds on it)."""
    EXTRA_ZONE = {
        "esp.test": "v=spf1 ip4:127.0.0.1 -all",
        "dkimonly.test": "v=spf1 -all",
        "_dmarc.dkimonly.test": "v=DMARC1; p=reject",
        "attacker.test": "v=spf1 ip4:%s -all" % ATTACKER_IP,
    }
    # Header addresses of a remote client are left alone (XCLIENT names the
    # attacker's address only after Postfix decided at connect).
    EXTRA_MAIN_CF = {"local_header_rewrite_clients": ""}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fwdtest.require_programs(receiver.UNBOUND, receiver.RSPAMD)
        env = cls.env
        nobody = pwd.getpwnam("nobody")
        kdir = os.path.join(env.dir, "keys-dkimonly.test")
        os.mkdir(kdir, 0o755)
        path, owner, record = e2e.keygen(kdir, "dkimonly.test", "esp1")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
        env.zone.add(owner, record)
        env.keys["dkimonly.test"] = ("esp1", path)
        env.zone.write(env.zonefile)
        cls.footer = os.path.join(env.dir, "footer.txt")
        cls.footer_html = os.path.join(env.dir, "footer.html")
        with open(cls.footer, "w", encoding="utf-8") as f:
            f.write(FOOTER)
        with open(cls.footer_html, "w", encoding="utf-8") as f:
            f.write(FOOTER_HTML)
        cls.rx_dns = receiver.Unbound.from_zone(env.dir, env.zone).start()
        cls.addClassCleanup(cls.rx_dns.stop)
        cls.rx_trust = receiver.Rspamd(env.dir, cls.rx_dns.port,
                                       trusted_arc_sealers=["ourdomain.test"])
        cls.addClassCleanup(cls.rx_trust.stop)
        cls.rx_trust.start()
        cls.rx_plain = receiver.Rspamd(env.dir, cls.rx_dns.port)
        cls.addClassCleanup(cls.rx_plain.stop)
        cls.rx_plain.start()

    def changes(self, rewrite="reject", on_change="no", footer=True, **extra):
        """fwdauthd with ARC, our forwarder key and the forwarder's changes."""
        conf = dict(forward_subject_tag=TAG, forward_header="%s: %s" % (ADDED_NAME, ADDED_VALUE),
                    from_rewrite_on_change=on_change)
        if footer:
            conf.update(forward_footer=self.footer, forward_footer_html=self.footer_html)
        conf.update(extra)
        self.mode(arc=True, rewrite=rewrite, enforce="tag", **conf)

    # -- sending -----------------------------------------------------------------
    def sign(self, msg, domain):
        sel, path = self.env.keys[domain]
        with open(path, "rb") as f:
            key = f.read()
        return dkim.sign(msg, sel.encode(), domain.encode(), key,
                         include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                          b"mime-version", b"content-type"]) + msg

    def message_of(self, case, subj, kind="plain", extra=b"", to="alias@ourdomain.test"):
        frm, sender, domain, _ = SENDERS[case]
        msg = (alternative_message(subj, frm) if kind == "alternative"
               else plain_message(subj, frm, extra=extra, to=to))
        if domain:
            msg = self.sign(msg, domain)
        return msg, sender

    def send(self, msg, sender, rcpts=("alias@ourdomain.test",), port=None):
        ip = ATTACKER_IP if sender.endswith("@attacker.test") else None
        return self.env.send(msg, list(rcpts), sender=sender, client_ip=ip, port=port)

    def deliver(self, case, what, kind="plain", subj=None):
        """Send case's message to the forwarded address; (sink message, wire
        bytes, original message, original Subject)."""
        subj = subj or self.subject(what)
        msg, sender = self.message_of(case, subj, kind)
        try:
            self.assertEqual(self.send(msg, sender), {})
        except smtplib.SMTPException as e:
            self.fail("%r%s" % (e, self.ctx()))
        (m,) = self.env.wait_sink(self.env.remote, subj, timeout=60)
        return m, sink_raw(e2e.wire(m.raw)), msg, subj

    # -- the far end -------------------------------------------------------------
    def judge(self, rx, m, raw):
        return rx.judge(raw, fd.FORWARDER_IP, m.mail_from, "mx.ourdomain.test",
                        "user@remote.test")

    def dkim_by_domain(self, raw):
        """{d=: dkimpy's result} for every DKIM-Signature of raw."""
        sigs = [re.search(r"\bd=([^;\s]+)", v).group(1)
                for v in header_values(raw, "DKIM-Signature")]
        return dict(zip(sigs, dkimpeers.dkimpy_verify_all(raw, self.env.zone.dnsfunc)))

    def check_aar(self, raw, case):
        """Our ARC set: i=1, cv=none, verified by dkimpy and fwdauth; its AAR
        records the results on arrival."""
        frm, sender, domain, _ = SENDERS[case]
        fdom = frm.split("@")[1].rstrip(">")
        self.assertEqual(arc_sets(raw), {"ARC-Seal": 1, "ARC-Message-Signature": 1,
                                         "ARC-Authentication-Results": 1}, raw[:3000])
        seal = header_values(raw, "ARC-Seal")[0]
        self.assertRegex(seal, r"\bcv=none\b")
        self.assertRegex(seal, r"\bd=ourdomain\.test\b")
        aar = header_values(raw, "ARC-Authentication-Results")[0]
        self.assertRegex(aar, r"^i=1; %s;" % re.escape(AUTHSERV_ID))
        self.assertRegex(aar, r"\bspf=pass\b[^;]*smtp\.mailfrom=\"?%s" % re.escape(sender))
        if domain:
            self.assertRegex(aar, r"\bdkim=pass\b[^;]*header\.d=%s" % re.escape(domain))
        self.assertRegex(aar, r"\bdmarc=pass\b[^;]*header\.from=%s" % re.escape(fdom))
        self.assertNotRegex(aar, r"\b(dkim|dmarc|spf)=fail\b")
        # The Authentication-Results we added says the same.
        self.assertRegex(self.ours(raw), r"\bdmarc=pass\b[^;]*header\.from=%s" % re.escape(fdom))
        self.assertEqual(self.dkimpy_arc(raw), ("pass", "success"), raw[:4000])
        cv, out = self.receiver_arc(raw)
        self.assertEqual(cv, "pass", out)

    def check_signatures(self, raw, case):
        """Ours verifies; the sender's, when there is one, was broken by the
        changes (that is why the AAR must record it as it was)."""
        domain = SENDERS[case][2]
        got = self.dkim_by_domain(raw)
        self.assertEqual(set(got), {"ourdomain.test", domain} - {None}, raw[:3000])
        self.assertIs(got["ourdomain.test"], True, got)
        if domain:
            self.assertIsNot(got[domain], True, got)
        rc, out = self.env.fwdauth_verify(raw)
        self.assertRegex(out, r"(?m)^pass d=ourdomain\.test s=fwd ")

    def check_from(self, raw, case, rewritten):
        frm = SENDERS[case][0]
        if rewritten:
            name = frm.split(" <")[0]
            self.assertEqual(header_values(raw, "From"),
                             ['"%s via ourdomain.test" <%s>' % (name, fd.REWRITE_ADDR)],
                             raw[:3000])
            self.assertEqual(header_values(raw, "X-Original-From"), [frm])
        else:
            self.assertEqual(header_values(raw, "From"), [frm], raw[:3000])
            self.assertEqual(header_values(raw, "X-Original-From"), [])

    def check_receivers(self, m, raw, case, rewritten):
        """rspamd trusting our sealer, and trusting none."""
        aligned = SENDERS[case][3]
        vt = self.judge(self.rx_trust, m, raw)
        vp = self.judge(self.rx_plain, m, raw)
        self.assertIn("ARC_ALLOW", vt, vt)
        self.assertEqual(vt.dkim, "pass", vt)  # ours
        if rewritten:
            self.assertEqual((vt.dmarc, vp.dmarc), ("pass", "pass"), "%s\n%s" % (vt, vp))
        else:
            self.assertTrue(aligned)
            # The sender's signature is broken and our SRS address does not
            # align: only a receiver that trusts our ARC lets it through.
            self.assertTrue(vt.arc_trusted, vt)
            self.assertTrue(vt.dmarc_arc_trusted, vt)
            self.assertEqual(vp.dmarc, "reject", vp)
            self.assertFalse(vp.arc_trusted or vp.dmarc_arc_trusted, vp)
        return vt, vp

    def check_plain_changes(self, raw, orig, subj, body_extra=b"", tag_prefix=TAG + " "):
        """Subject tagged once, the added field once, the footer after the
        original text (read with the email package)."""
        self.assertEqual(header_values(raw, "Subject"), [tag_prefix + subj], raw[:3000])
        self.assertEqual(header_values(raw, ADDED_NAME), [ADDED_VALUE])
        msg = parse(raw)
        self.assertEqual(defects(msg), [])
        self.assertEqual(msg.get_content_type(), "text/plain")
        want = (body_of(orig) + body_extra).decode().replace("\r\n", "\n") + footer_text(FOOTER)
        self.assertEqual(text_of(msg), want)


class ForwarderChanges(ChangesBase):
    def test_header_checks_not_used(self):
        # The point of the feature: no Postfix content rewriting at all.
        r = run([postfixtest.POSTCONF, "-c", self.env.pf.conf, "-n"])
        self.assertEqual(r.returncode, 0, r.stderr)
        names = {l.split(" = ")[0] for l in r.stdout.splitlines()}
        self.assertFalse(names & {"header_checks", "body_checks", "mime_header_checks",
                                  "nested_header_checks", "smtp_header_checks",
                                  "smtp_body_checks", "milter_header_checks"}, r.stdout)

    def check_case(self, case, on_change, rewritten):
        self.changes(rewrite="reject", on_change=on_change)
        m, raw, orig, subj = self.deliver(case, "chg-%s-%s" % (case, on_change))
        self.assert_srs(m)
        self.check_plain_changes(raw, orig, subj)
        self.check_aar(raw, case)
        self.check_signatures(raw, case)
        self.check_from(raw, case, rewritten)
        self.check_receivers(m, raw, case, rewritten)
        log = self.env.daemon.logtext()
        self.assertRegex(log, r"from=<%s> inbound forwarded .*subject-tagged footer=append" %
                         re.escape(SENDERS[case][1]))

    def test_footer_alone(self):
        # The footer replaces the body (SMFIR_REPLBODY): the milter must have
        # negotiated the change-body action with Postfix. Without it every
        # forwarded message that gets a footer is tempfailed (451 4.7.1).
        self.changes(on_change="no", forward_subject_tag="", forward_header="")
        m, raw, orig, subj = self.deliver("spf-only", "footer-alone")
        self.assertEqual(header_values(raw, "Subject"), [subj])
        self.assertEqual(text_of(parse(raw)), body_of(orig).decode().replace("\r\n", "\n") +
                         footer_text(FOOTER))
        self.check_signatures(raw, "spf-only")
        self.assertRegex(self.env.daemon.logtext(), r"from=<alice@spfonly\.test> inbound "
                         r"forwarded .* footer=append")

    # -- from_rewrite_on_change = no: aligned DKIM relies on our ARC ------------------
    def test_dkim_only_on_change_no(self):
        self.check_case("dkim-only", "no", rewritten=False)

    def test_spf_dkim_on_change_no(self):
        self.check_case("spf+dkim", "no", rewritten=False)

    def test_spf_only_on_change_no(self):
        self.check_case("spf-only", "no", rewritten=True)

    # -- from_rewrite_on_change = yes: our changes broke it, so From is rewritten -------
    def test_dkim_only_on_change_yes(self):
        self.check_case("dkim-only", "yes", rewritten=True)

    def test_spf_dkim_on_change_yes(self):
        self.check_case("spf+dkim", "yes", rewritten=True)

    def test_spf_only_on_change_yes(self):
        self.check_case("spf-only", "yes", rewritten=True)

    def test_subject_tagged_once(self):
        # Already tagged (a message forwarded twice through us, or a reply):
        # left as it is; everything else as usual.
        self.changes(on_change="no")
        m, raw, orig, subj = self.deliver("spf+dkim", "", subj="%s %s" % (TAG, self.subject("al")))
        self.check_plain_changes(raw, orig, subj, tag_prefix="")
        self.check_aar(raw, "spf+dkim")
        self.check_signatures(raw, "spf+dkim")

    def test_alternative_wrapped_parts_intact(self):
        self.changes(on_change="no")
        m, raw, orig, subj = self.deliver("spf+dkim", "alt", kind="alternative")
        msg = parse(raw)
        self.assertEqual(defects(msg), [])
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        inner, foot = msg.get_payload()
        self.assertEqual(inner.get_content_type(), "multipart/alternative")
        self.assertEqual([p.get_content_type() for p in inner.get_payload()],
                         ["text/plain", "text/html"])
        # (The line break before a boundary line belongs to the boundary.)
        for part, orig_text in zip(inner.get_payload(), (ALT_TEXT, ALT_HTML)):
            self.assertEqual(text_of(part), orig_text.decode().rstrip("\r\n").replace("\r\n", "\n"))
        # The original body is carried byte for byte.
        self.assertIn(body_of(orig), body_of(raw))
        self.assertEqual(foot.get_content_type(), "multipart/alternative")
        ftext, fhtml = foot.get_payload()
        self.assertEqual(text_of(ftext), footer_text(FOOTER))
        self.assertIn(html_refs(FOOTER_HTML).strip(), text_of(fhtml))
        self.assertEqual(header_values(raw, "Subject"), ["%s %s" % (TAG, subj)])
        self.check_aar(raw, "spf+dkim")
        self.check_signatures(raw, "spf+dkim")
        self.check_from(raw, "spf+dkim", rewritten=False)
        self.check_receivers(m, raw, "spf+dkim", rewritten=False)
        self.assertIn("footer=wrap", self.env.daemon.logtext())

    def test_spoof_refused_never_gets_footer(self):
        self.changes(on_change="yes")
        # Forwarded: refused at SMTP time.
        subj = self.subject("spoof")
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send(plain_message(subj, "CEO <ceo@victim.test>"), "x@attacker.test")
        self.assertEqual(cm.exception.smtp_code, 550, cm.exception)
        self.assertIn(b"fails the DMARC policy of victim.test", cm.exception.smtp_error)
        # To a forwarded and a local recipient: the forwarded one is removed,
        # the local copy arrives without our changes.
        lsubj = self.subject("spoof-mixed")
        self.assertEqual(self.send(plain_message(lsubj, "CEO <ceo@victim.test>"),
                                   "x@attacker.test",
                                   ("alias@ourdomain.test", "local@ourdomain.test")), {})
        (lraw,) = self.env.wait_maildir(lsubj)
        lraw = lraw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.assertEqual(header_values(lraw, "Subject"), [lsubj])
        self.assertEqual(header_values(lraw, ADDED_NAME), [])
        self.assertNotIn(b"Forwarded by ourdomain.test", lraw)
        self.assertRegex(self.ours(lraw), r"\bdmarc=fail\b")
        self.assertEqual((e2e.dkim_sigs(lraw), arc_sets(lraw)["ARC-Seal"]), ({}, 0))
        time.sleep(1)
        self.assertEqual(self.count_remote(subj) + self.count_remote(lsubj), 0)

    def test_stage_field_removed_one_stage(self):
        # Without stage_secrets (one stage) a Fwdauth-Arrival field from
        # outside is removed too: only a stage 1 of ours may write one.
        self.changes(on_change="no")
        subj = self.subject("field-one-stage")
        extra = (b"Fwdauth-Arrival: v=1; t=%d; f=255; c=pass; i=%s; a=;\r\n\tb=%s\r\n" %
                 (int(time.time()), AUTHSERV_ID.encode(), b"A" * 43 + b"="))
        msg = plain_message(subj, SENDERS["spf-only"][0], extra=extra)
        self.assertEqual(self.send(msg, SENDERS["spf-only"][1]), {})
        (m,) = self.env.wait_sink(self.env.remote, subj, timeout=60)
        raw = sink_raw(e2e.wire(m.raw))
        self.assertEqual(header_values(raw, "Fwdauth-Arrival"), [], raw[:3000])
        self.check_aar(raw, "spf-only")
        self.check_signatures(raw, "spf-only")

    def test_local_mail_unchanged(self):
        # Only forwarded mail is changed: a legitimate message for a local
        # mailbox keeps its Subject, body and signature.
        self.changes(on_change="yes")
        subj = self.subject("local")
        msg, sender = self.message_of("spf+dkim", subj, to="local@ourdomain.test")
        self.assertEqual(self.send(msg, sender, ("local@ourdomain.test",)), {})
        (raw,) = self.env.wait_maildir(subj)
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.assertEqual(header_values(raw, "Subject"), [subj])
        self.assertEqual(header_values(raw, ADDED_NAME), [])
        self.assertNotIn(b"Forwarded by ourdomain.test", raw)
        self.assertEqual(self.dkim_by_domain(raw), {"signed.test": True})


if __name__ == "__main__":
    unittest.main()
