"""Forwarding and DMARC end to end: what the next hop decides about mail we forward.

One throwaway Postfix with fwdauthd as its milter, built by test_milter_e2e's
Env (keys, zone file, virtual alias alias@ourdomain.test -> user@remote.test,
smtp-sink for remote.test); this file adds the DMARC world to its zone and
switches fwdauthd between modes with SIGHUP (it reloads its config):

  spfonly.test    v=spf1 ip4:127.0.0.1 -all, p=reject, no DKIM: its DMARC
                  pass on arrival rests on SPF alone (Postfix's client is
                  127.0.0.1)
  signed.test     same SPF, p=reject, and a DKIM key (signed with dkimpy)
  victim.test     v=spf1 -all, p=reject, no DKIM: the spoofed domain
  gwonly.test     SPF allows only 198.51.100.7 (the client a gateway saw)
  ourdomain.test  SPF (and srs.ourdomain.test's) allows 192.0.2.99, our
                  forwarder's public address; p=reject; the forwarder key
                  (fwd) and an ARC key (arc) made by `fwdauth dkim keygen`

The receiving side is `fwdauth dmarc check --ip 192.0.2.99 --mail-from
<envelope sender the sink saw>` and `fwdauth arc verify` on the message the
sink received, with dkimpy (dkim.verify, dkim.arc_verify) as second oracle.

Cases (the brief's numbering): 1 everything off: the receiver's DMARC fails,
our Authentication-Results recorded the pass; 2 ARC sealing; 3 From-rewriting
(and sealing); 4 a DKIM-aligned message is left alone; 5 a spoof under
dmarc_enforce reject / quarantine / tag (and off); 6 trusted_authserv_ids;
7 a "%" forward key is refused (it would sign as the sender's domain).
"""
import json
import os
import pwd
import re
import signal
import smtplib
import time
import unittest
import uuid
from email.utils import formatdate

import dkim

import dkimpeers
import fwdtest
import postfixtest
import test_milter_e2e as e2e
from fwdtest import FWDAUTH, run

AUTHSERV_ID = e2e.AUTHSERV_ID  # mx.ourdomain.test
FORWARDER_IP = "192.0.2.99"
REWRITE_ADDR = "forwarder@ourdomain.test"
GATEWAY_ID = "gw.ourdomain.test"
POSTQUEUE = "/usr/sbin/postqueue"

ZONE = {
    "spfonly.test": "v=spf1 ip4:127.0.0.1 -all",
    "_dmarc.spfonly.test": "v=DMARC1; p=reject",
    "signed.test": "v=spf1 ip4:127.0.0.1 -all",
    "_dmarc.signed.test": "v=DMARC1; p=reject",
    "victim.test": "v=spf1 -all",
    "_dmarc.victim.test": "v=DMARC1; p=reject",
    "gwonly.test": "v=spf1 ip4:198.51.100.7 -all",
    "_dmarc.gwonly.test": "v=DMARC1; p=reject",
    "ourdomain.test": "v=spf1 ip4:%s -all" % FORWARDER_IP,
    "srs.ourdomain.test": "v=spf1 ip4:%s -all" % FORWARDER_IP,
    "_dmarc.ourdomain.test": "v=DMARC1; p=reject",
}


def message(subject, frm, to="alias@ourdomain.test", extra=b""):
    body = b"Hello,\r\n\r\nthis is the body of %s.\r\n" % subject.encode()
    return (b"%sFrom: %s\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
            b"Message-ID: <%s@fwd.test>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n%s" % (
                extra, frm.encode(), to.encode(), subject.encode(), formatdate().encode(),
                uuid.uuid4().hex.encode(), body))


def header_values(raw, name):
    """Unfolded values of every `name` field in the header section of raw."""
    hdr = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    out = []
    for m in re.finditer(rb"(?ims)^%s:(.*?)(?=^\S)" % re.escape(name.encode()), hdr + b".\r\n"):
        out.append(e2e.unfold(m.group(1).decode()))
    return out


def arc_sets(raw):
    return {n: len(header_values(raw, n)) for n in
            ("ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results")}


class ForwardingBase(unittest.TestCase):
    """The DMARC world above, fwdauthd reconfigured by SIGHUP, the next hop's
    view; no tests of its own (test_spoof_attacks.py builds on it too)."""
    EXTRA_ZONE = {}
    EXTRA_TIMEOUTS = ()
    EXTRA_MAIN_CF = None
    EXTRA_MASTER_CF = ""  # services added to the throwaway master.cf

    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(fwdtest.FWDAUTHD, fwdtest.FWDAUTH, postfixtest.POSTFIX,
                                 postfixtest.SMTP_SINK)
        cls.env = env = e2e.Env(cls, extra_main_cf=cls.EXTRA_MAIN_CF,
                                extra_master_cf=cls.EXTRA_MASTER_CF)
        nobody = pwd.getpwnam("nobody")
        for dom, sel in (("ourdomain.test", "arc"), ("signed.test", "s1")):
            kdir = os.path.join(env.dir, "keys-" + dom)  # keygen names files by selector
            os.mkdir(kdir, 0o755)
            path, owner, record = e2e.keygen(kdir, dom, sel)
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
            env.zone.add(owner, record)
            if dom == "signed.test":
                env.keys[dom] = (sel, path)
            else:
                cls.arc_key = path
        for owner, record in dict(ZONE, **cls.EXTRA_ZONE).items():
            env.zone.add(owner, record)
        for owner in cls.EXTRA_TIMEOUTS:
            env.zone.add_timeout(owner)
        env.zone.write(env.zonefile)
        with open(env.conf) as f:
            cls.base_conf = dict(l.split(" = ", 1) for l in f.read().splitlines() if " = " in l)
        cls.base_conf.update(trusted_authserv_ids=GATEWAY_ID,
                             from_rewrite_address=REWRITE_ADDR)
        cls.current = None
        cls.reloads = 0

    def setUp(self):
        self.assertIsNone(self.env.daemon.proc.poll(), "fwdauthd died:\n" +
                          self.env.daemon.logtext()[-3000:])

    # -- modes ---------------------------------------------------------------
    def mode(self, arc=False, rewrite="off", enforce="tag", **extra):
        """fwdauthd with this configuration, by SIGHUP (no restart)."""
        conf = dict(self.base_conf, dmarc_enforce=enforce, from_rewrite=rewrite, **extra)
        if arc:
            conf.update(arc_domain="ourdomain.test", arc_selector="arc", arc_key=self.arc_key)
        if conf == type(self).current:
            return
        fwdtest.write_config(self.env.conf, **conf)
        d = self.env.daemon
        before = d.logtext()
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            new = d.logtext()[len(before):]
            if "reloaded" in new:
                break
            self.assertNotIn("reload failed", new)
            time.sleep(0.05)
        else:
            self.fail("fwdauthd did not reload:\n" + d.logtext()[-2000:])
        type(self).current = conf

    # -- helpers ---------------------------------------------------------------
    def subject(self, what):
        return "%s-%s" % (what, uuid.uuid4().hex[:10])

    def ctx(self):
        return "\nfwdauthd log:\n%s\nmaillog:\n%s" % (self.env.daemon.logtext()[-3000:],
                                                    self.env.pf.log_text()[-3000:])

    def forward(self, subj, frm, sender, extra=b"", sign=None):
        msg = message(subj, frm, extra=extra)
        if sign:
            sel, path = self.env.keys[sign]
            with open(path, "rb") as f:
                key = f.read()
            msg = dkim.sign(msg, sel.encode(), sign.encode(), key,
                            include_headers=[b"from", b"to", b"subject", b"date",
                                             b"message-id"]) + msg
        self.assertEqual(self.env.send(msg, ["alias@ourdomain.test"], sender=sender), {})
        (m,) = self.env.wait_sink(self.env.remote, subj)
        return m, e2e.wire(m.raw)

    def save(self, raw):
        path = os.path.join(self.env.dir, "rx-%s.eml" % uuid.uuid4().hex[:8])
        with open(path, "wb") as f:
            f.write(raw)
        return path

    def receiver_dmarc(self, m, raw):
        """The next hop's view: fwdauth dmarc check as if from our public address."""
        r = run([FWDAUTH, "dmarc", "check", "--ip", FORWARDER_IP, "--mail-from", m.mail_from,
                 "--dns-zone", self.env.zonefile, self.save(raw)])
        line = r.stdout.strip()
        fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        self.assertIn("dmarc", fields, r.stdout + r.stderr)
        return fields

    def receiver_arc(self, raw):
        r = run([FWDAUTH, "arc", "verify", "--dns-zone", self.env.zonefile, self.save(raw)])
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return re.match(r"cv=(\w+)", r.stdout).group(1), r.stdout

    def dkimpy_arc(self, raw):
        cv, _, reason = dkim.arc_verify(raw, dnsfunc=self.env.zone.dnsfunc)
        return (cv or b"").decode(), reason

    def ours(self, raw):
        ars = [a for a in e2e.auth_results(raw) if a.lower().startswith(AUTHSERV_ID + ";")]
        self.assertEqual(len(ars), 1, e2e.auth_results(raw))
        return ars[0]

    def assert_srs(self, m):
        self.assertRegex(m.mail_from, r"(?i)^SRS0=[^@]+@srs\.ourdomain\.test$", self.ctx())


    def spoof(self, what):
        subj = self.subject(what)
        return subj, message(subj, "CEO <ceo@victim.test>")

    def count_remote(self, subj):
        return len([m for m in postfixtest.sink_messages(self.env.remote)
                    if subj in (m.header("Subject") or "")])

    def assert_refused_not_forwarded(self, subj, msg, sender, rcpts=("alias@ourdomain.test",),
                                     domain="victim.test"):
        """A spoof for a forwarded recipient: refused at SMTP time (the sending
        server returns it, not we: no bounce of ours to the forged sender),
        never forwarded, never SRS-rewritten."""
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.env.send(msg, list(rcpts), sender=sender)
        self.assertEqual(cm.exception.smtp_code, 550, cm.exception)
        self.assertIn(b"Not forwarded: the message fails the DMARC policy of " + domain.encode(),
                      cm.exception.smtp_error)
        time.sleep(1)
        self.assertEqual(self.count_remote(subj), 0)
        self.assertRegex(env_log(self), r"from=<%s> rejected: DMARC failure, not forwarded"
                         % re.escape(sender))

    def hold_queue(self):
        r = run([POSTQUEUE, "-c", self.env.pf.conf, "-j"])
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

    def wait_held(self, sender_part):
        deadline = time.monotonic() + 20
        held = []
        while time.monotonic() < deadline and not held:
            held = [q for q in self.hold_queue() if q.get("queue_name") == "hold" and
                    sender_part in q.get("sender", "")]
            time.sleep(0.2)
        self.assertEqual(len(held), 1, self.hold_queue())
        self.addCleanup(run, ["/usr/sbin/postsuper", "-c", self.env.pf.conf, "-d",
                              held[0]["queue_id"]])
        return held[0]


class ForwardingDmarc(ForwardingBase):
    # -- case 1 --------------------------------------------------------------
    def test_1_all_off_receiver_fails_our_ar_recorded_pass(self):
        self.mode(arc=False, rewrite="off")
        subj = self.subject("off")
        m, raw = self.forward(subj, "Alice <alice@spfonly.test>", "alice@spfonly.test")
        self.assert_srs(m)
        # Forwarded as is: From untouched, no ARC set, our signature added.
        self.assertEqual(header_values(raw, "From"), ["Alice <alice@spfonly.test>"])
        self.assertEqual(header_values(raw, "X-Original-From"), [])
        self.assertEqual(arc_sets(raw), {"ARC-Seal": 0, "ARC-Message-Signature": 0,
                                         "ARC-Authentication-Results": 0})
        self.assertEqual(e2e.dkim_sigs(raw), {"ourdomain.test": "fwd"})
        ar = self.ours(raw)
        self.assertRegex(ar, r'\bspf=pass\b.*smtp\.mailfrom="?alice@spfonly\.test')
        self.assertRegex(ar, r"\bdmarc=pass\b.*header\.from=spfonly\.test")
        self.assertIn("policy.dmarc=reject", ar)
        # The next hop: SPF for the SRS domain passes but does not align.
        rx = self.receiver_dmarc(m, raw)
        self.assertEqual((rx["dmarc"], rx["from"], rx["policy"]),
                         ("fail", "spfonly.test", "reject"), rx)
        self.assertRegex(env_log(self), r"inbound forwarded spf=pass dkim=none dmarc=pass")

    # -- case 2 --------------------------------------------------------------
    def test_2_arc_sealed_chain_validates(self):
        self.mode(arc=True, rewrite="off")
        subj = self.subject("arc")
        m, raw = self.forward(subj, "Alice <alice@spfonly.test>", "alice@spfonly.test")
        self.assert_srs(m)
        self.assertEqual(arc_sets(raw), {"ARC-Seal": 1, "ARC-Message-Signature": 1,
                                         "ARC-Authentication-Results": 1}, raw[:3000])
        seal = header_values(raw, "ARC-Seal")[0]
        self.assertRegex(seal, r"\bi=1;")
        self.assertRegex(seal, r"\bcv=none\b")
        self.assertRegex(seal, r"\bd=ourdomain\.test\b")
        self.assertRegex(seal, r"\bs=arc\b")
        aar = header_values(raw, "ARC-Authentication-Results")[0]
        self.assertRegex(aar, r"^i=1; %s;" % re.escape(AUTHSERV_ID))
        self.assertRegex(aar, r"\bspf=pass\b")
        self.assertRegex(aar, r"\bdmarc=pass\b")
        cv, out = self.receiver_arc(raw)
        self.assertEqual(cv, "pass", out)
        self.assertRegex(out, r"(?m)^i=1 as=pass ams=pass d=ourdomain\.test s=arc")
        self.assertEqual(self.dkimpy_arc(raw), ("pass", "success"), raw[:4000])
        # Still From: untouched: DMARC fails at the next hop, ARC is what helps.
        self.assertEqual(self.receiver_dmarc(m, raw)["dmarc"], "fail")

    # -- case 3 --------------------------------------------------------------
    def check_rewritten(self, m, raw, name, orig):
        self.assertEqual(header_values(raw, "From"),
                         ['"%s via ourdomain.test" <%s>' % (name, REWRITE_ADDR)], raw[:3000])
        self.assertEqual(header_values(raw, "Reply-To"), [orig])
        self.assertEqual(header_values(raw, "X-Original-From"), [orig])
        sigs = e2e.dkim_sigs(raw)
        self.assertEqual(sigs, {"ourdomain.test": "fwd"})
        sig = header_values(raw, "DKIM-Signature")[0]
        h = re.search(r"\bh=([^;]+)", sig).group(1).replace(" ", "").lower().split(":")
        self.assertIn("from", h)
        self.assertIn("reply-to", h)
        self.assertEqual(dkimpeers.dkimpy_verify_all(raw, self.env.zone.dnsfunc), [True],
                         raw[:3000])
        rc, out = self.env.fwdauth_verify(raw)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"\bpass\b")
        self.assertNotRegex(out, r"\bfail\b")
        rx = self.receiver_dmarc(m, raw)
        self.assertEqual((rx["dmarc"], rx["from"], rx["dkim"]), ("pass", "ourdomain.test", "pass"),
                         rx)

    def test_3_from_rewritten_signed_aligned(self):
        self.mode(arc=False, rewrite="reject")
        subj = self.subject("rewrite")
        m, raw = self.forward(subj, "Alice Example <alice@spfonly.test>", "alice@spfonly.test")
        self.assert_srs(m)
        self.check_rewritten(m, raw, "Alice Example", "Alice Example <alice@spfonly.test>")
        self.assertRegex(self.ours(raw), r"\bdmarc=pass\b.*header\.from=spfonly\.test")
        self.assertIn("from-rewritten", env_log(self))

    def test_3_from_rewritten_and_sealed(self):
        self.mode(arc=True, rewrite="reject")
        subj = self.subject("rewrite-arc")
        m, raw = self.forward(subj, '"Bob \\"B\\" Smith" <bob@spfonly.test>',
                              "bob@spfonly.test")
        self.check_rewritten(m, raw, 'Bob \\"B\\" Smith', '"Bob \\"B\\" Smith" <bob@spfonly.test>')
        cv, out = self.receiver_arc(raw)
        self.assertEqual(cv, "pass", out)
        self.assertEqual(self.dkimpy_arc(raw), ("pass", "success"), raw[:4000])
        aar = header_values(raw, "ARC-Authentication-Results")[0]
        self.assertRegex(aar, r"\bdmarc=pass\b.*header\.from=spfonly\.test")

    def test_3_no_display_name_uses_address(self):
        self.mode(arc=True, rewrite="reject")
        subj = self.subject("rewrite-bare")
        m, raw = self.forward(subj, "<carol@spfonly.test>", "carol@spfonly.test")
        self.check_rewritten(m, raw, "carol@spfonly.test", "<carol@spfonly.test>")

    # -- case 4 --------------------------------------------------------------
    def test_4_dkim_aligned_not_rewritten(self):
        self.mode(arc=True, rewrite="reject")
        subj = self.subject("signed")
        m, raw = self.forward(subj, "Dave <dave@signed.test>", "dave@signed.test",
                              sign="signed.test")
        self.assert_srs(m)
        self.assertEqual(header_values(raw, "From"), ["Dave <dave@signed.test>"])
        self.assertEqual(header_values(raw, "X-Original-From"), [])
        self.assertEqual(header_values(raw, "Reply-To"), [])
        self.assertEqual(e2e.dkim_sigs(raw), {"signed.test": "s1", "ourdomain.test": "fwd"})
        self.assertEqual(dkimpeers.dkimpy_verify_all(raw, self.env.zone.dnsfunc),
                         [True, True])
        self.assertRegex(self.ours(raw), r"\bdkim=pass\b.*header\.d=signed\.test.*"
                         r"\bdmarc=pass\b.*header\.from=signed\.test")
        rx = self.receiver_dmarc(m, raw)
        self.assertEqual((rx["dmarc"], rx["from"], rx["dkim"]), ("pass", "signed.test", "pass"),
                         rx)
        self.assertEqual(self.receiver_arc(raw)[0], "pass")

    # -- case 5 --------------------------------------------------------------
    def test_5_spoof_reject(self):
        self.mode(arc=True, rewrite="reject", enforce="reject")
        subj, msg = self.spoof("spoof-reject")
        self.assert_refused_not_forwarded(subj, msg, "ceo@victim.test")
        # For a local mailbox, dmarc_enforce = reject refuses it too.
        lsubj, lmsg = self.spoof("spoof-reject-local")
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.env.send(lmsg, ["local@ourdomain.test"], sender="ceo@victim.test")
        self.assertEqual(cm.exception.smtp_code, 550, cm.exception)
        self.assertIn(b"Rejected by the DMARC policy of victim.test", cm.exception.smtp_error)
        self.assertRegex(env_log(self), r"from=<ceo@victim\.test> rejected: DMARC policy reject")

    def test_5_spoof_quarantine_held(self):
        # dmarc_enforce = quarantine holds a spoof for a local mailbox.
        self.mode(arc=True, rewrite="reject", enforce="quarantine")
        subj, msg = self.spoof("spoof-hold")
        self.assertEqual(self.env.send(msg, ["local@ourdomain.test"],
                                       sender="ceo@victim.test"), {})
        q = self.wait_held("ceo@victim.test")
        self.assertEqual(q["sender"], "ceo@victim.test")  # not SRS-rewritten
        self.assertIn('held="DMARC policy quarantine"', env_log(self))

    def test_5_spoof_forwarded_held_with_hold(self):
        # forward_dmarc_failure = hold: the forwarded spoof waits in the hold
        # queue (for the administrator) instead of being refused; no SRS.
        self.mode(arc=True, rewrite="reject", enforce="tag", forward_dmarc_failure="hold")
        subj, msg = self.spoof("spoof-fwd-hold")
        self.assertEqual(self.env.send(msg, ["alias@ourdomain.test"],
                                       sender="ceo@victim.test"), {})
        q = self.wait_held("ceo@victim.test")
        self.assertEqual(q["sender"], "ceo@victim.test")
        time.sleep(1)
        self.assertEqual(self.count_remote(subj), 0)
        self.assertIn('held="DMARC failure, not forwarded: held"', env_log(self))

    def test_5_spoof_tag_forwarded_refused_local_tagged(self):
        # tag (the default) is for local mailboxes: there the spoof is
        # delivered with dmarc=fail recorded and nothing of ours added...
        self.mode(arc=True, rewrite="always", enforce="tag")
        subj, msg = self.spoof("spoof-tag")
        self.assertEqual(self.env.send(msg, ["local@ourdomain.test"],
                                       sender="ceo@victim.test"), {})
        (raw,) = self.env.wait_maildir(subj)
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        ar = self.ours(raw)
        self.assertRegex(ar, r"\bspf=fail\b")
        self.assertRegex(ar, r"\bdmarc=fail\b.*header\.from=victim\.test")
        self.assertEqual(e2e.dkim_sigs(raw), {}, raw[:3000])
        self.assertEqual(arc_sets(raw)["ARC-Seal"], 0)
        self.assertEqual(header_values(raw, "From"), ["CEO <ceo@victim.test>"])
        # ...but a forwarded one is refused at SMTP time (finding 5: forwarded
        # and refused downstream, its bounce went to the forged sender).
        fsubj, fmsg = self.spoof("spoof-tag-fwd")
        self.assert_refused_not_forwarded(fsubj, fmsg, "ceo@victim.test")

    def test_5_spoof_mixed_recipients_forwarded_removed(self):
        # Local and forwarded recipients in one message: a milter cannot refuse
        # only some after DATA, so the forwarded recipients are removed and the
        # local one gets it tagged, with its original sender.
        self.mode(arc=True, rewrite="always", enforce="tag")
        subj, msg = self.spoof("spoof-mixed")
        self.assertEqual(self.env.send(msg, ["alias@ourdomain.test", "local@ourdomain.test"],
                                       sender="ceo@victim.test"), {})
        (raw,) = self.env.wait_maildir(subj)
        self.assertIn(b"Return-Path: <ceo@victim.test>", raw)
        time.sleep(1)
        self.assertEqual(self.count_remote(subj), 0)
        log = env_log(self)
        self.assertIn("recipient alias@ourdomain.test removed: DMARC failure, not forwarded",
                      log)
        self.assertRegex(log, r"from=<ceo@victim\.test> inbound forwarded spf=fail .*"
                         r"not-forwarded=1")

    # dmarc_enforce = off still evaluates DMARC (it only stops enforcing and
    # reporting it for local mailboxes), so a spoof is never vouched for, and a
    # forwarded one is still refused.
    def test_5_spoof_enforce_off_not_vouched(self):
        self.mode(arc=True, rewrite="off", enforce="off")
        subj, msg = self.spoof("spoof-off")
        self.assert_refused_not_forwarded(subj, msg, "ceo@victim.test")
        lsubj, lmsg = self.spoof("spoof-off-local")
        self.assertEqual(self.env.send(lmsg, ["local@ourdomain.test"],
                                       sender="ceo@victim.test"), {})
        (raw,) = self.env.wait_maildir(lsubj)
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.assertRegex(self.ours(raw), r"\bspf=fail\b")
        self.assertNotIn("dmarc=", self.ours(raw))
        self.assertEqual((e2e.dkim_sigs(raw), arc_sets(raw)["ARC-Seal"]), ({}, 0), raw[:3000])

    def test_5_spoof_unaligned_spf_pass_tag(self):
        # Envelope from spfonly.test (SPF pass for 127.0.0.1), From: victim.test:
        # SPF passes but does not align; still a DMARC failure: not forwarded.
        self.mode(arc=True, rewrite="always", enforce="tag")
        subj, msg = self.spoof("spoof-unaligned")
        self.assert_refused_not_forwarded(subj, msg, "x@spfonly.test")

    # -- case 6 --------------------------------------------------------------
    def gateway_ar(self, serv_id):
        return ("Authentication-Results: %s;\r\n\tspf=pass smtp.mailfrom=someone@gwonly.test\r\n"
                % serv_id).encode()

    def test_6_trusted_gateway_spf_believed(self):
        self.mode(arc=True, rewrite="off", enforce="reject")
        subj = self.subject("gw-trusted")
        m, raw = self.forward(subj, "Someone <someone@gwonly.test>", "someone@gwonly.test",
                              extra=self.gateway_ar(GATEWAY_ID))
        ar = self.ours(raw)
        self.assertRegex(ar, r"\bspf=pass\b")
        self.assertIn(GATEWAY_ID, ar)
        self.assertRegex(ar, r"\bdmarc=pass\b.*header\.from=gwonly\.test")
        # Vouched for: our signature and seal.
        self.assertEqual(e2e.dkim_sigs(raw), {"ourdomain.test": "fwd"})
        self.assertEqual(arc_sets(raw)["ARC-Seal"], 1)
        # The gateway's field stays (it is not ours).
        self.assertEqual(len([a for a in e2e.auth_results(raw)
                              if a.lower().startswith(GATEWAY_ID)]), 1)

    def test_6_trusted_gateway_quoted_mailfrom(self):
        # A gateway running fwdauthd writes smtp.mailfrom="local@domain" (quoted,
        # as in case 1): the quoted form must align as well.
        self.mode(arc=True, rewrite="off", enforce="reject")
        subj = self.subject("gw-quoted")
        extra = ('Authentication-Results: %s;\r\n\tspf=pass smtp.mailfrom="someone@gwonly.test"'
                 '\r\n' % GATEWAY_ID).encode()
        m, raw = self.forward(subj, "Someone <someone@gwonly.test>", "someone@gwonly.test",
                              extra=extra)
        self.assertRegex(self.ours(raw), r"\bdmarc=pass\b.*header\.from=gwonly\.test")

    # With a trusted gateway's spf=pass, our Authentication-Results (and the
    # AAR of our ARC set) must name the identity that passed (RFC 8601 2.7.2):
    # trusted_spf (src/lib/top/arrival.c) fills spf.sender for arrival_authres.
    def test_6_trusted_gateway_ar_records_mailfrom(self):
        self.mode(arc=True, rewrite="off", enforce="reject")
        subj = self.subject("gw-mailfrom")
        m, raw = self.forward(subj, "Someone <someone@gwonly.test>", "someone@gwonly.test",
                              extra=self.gateway_ar(GATEWAY_ID))
        self.assertRegex(self.ours(raw), r"\bspf=pass\b[^;]*smtp\.mailfrom=\S*gwonly\.test")

    def test_7_percent_forward_key_refused(self):
        # A KeyTable entry with "%" as its domain would make our forwarder key
        # sign as the sender's domain: the configuration is refused (the
        # reload fails and the previous configuration stays in force).
        env = self.env
        kt = os.path.join(env.dir, "KeyTable-percent")
        with open(kt, "w") as f:
            f.write("ourkey %%:fwd:%s\n" % env.keys["ourdomain.test"][1])
        good = dict(type(self).current or self.base_conf)
        fwdtest.write_config(env.conf, **dict(good, from_rewrite="reject", dkim_key_table=kt))
        before = env.daemon.logtext()
        env.daemon.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reload failed" not in env.daemon.logtext()[len(before):]:
            self.assertLess(time.monotonic(), deadline, env.daemon.logtext()[-2000:])
            time.sleep(0.05)
        self.assertIn("its KeyTable domain must be ours", env.daemon.logtext()[len(before):])
        fwdtest.write_config(env.conf, **good)  # what is in force, for the next reload
        # Mail still flows with the previous configuration.
        self.mode(arc=False, rewrite="off")
        subj = self.subject("after-percent")
        m, raw = self.forward(subj, "Alice <alice@spfonly.test>", "alice@spfonly.test")
        self.assertEqual(e2e.dkim_sigs(raw), {"ourdomain.test": "fwd"}, raw[:3000])

    def test_6_untrusted_id_ignored(self):
        # An upstream field from an id we do not trust is not believed: SPF
        # fails for our client, DMARC fails, the forward is refused; for a
        # local mailbox it is recorded as it is and never vouched for.
        self.mode(arc=True, rewrite="off", enforce="tag")
        subj = self.subject("gw-untrusted")
        msg = message(subj, "Someone <someone@gwonly.test>", to="local@ourdomain.test",
                      extra=self.gateway_ar("gw.evil.test"))
        self.assertEqual(self.env.send(msg, ["local@ourdomain.test"],
                                       sender="someone@gwonly.test"), {})
        (raw,) = self.env.wait_maildir(subj)
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        ar = self.ours(raw)
        self.assertRegex(ar, r"\bspf=fail\b")
        self.assertNotIn("gw.evil.test", ar)
        self.assertRegex(ar, r"\bdmarc=fail\b.*header\.from=gwonly\.test")
        self.assertEqual(e2e.dkim_sigs(raw), {})
        self.assertEqual(arc_sets(raw)["ARC-Seal"], 0)
        fwd = message(self.subject("gw-untrusted-fwd"), "Someone <someone@gwonly.test>",
                      extra=self.gateway_ar("gw.evil.test"))
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.env.send(fwd, ["alias@ourdomain.test"], sender="someone@gwonly.test")
        self.assertEqual(cm.exception.smtp_code, 550, cm.exception)

    def test_6_untrusted_id_rejected_under_reject(self):
        self.mode(arc=True, rewrite="off", enforce="reject")
        subj = self.subject("gw-untrusted-rej")
        msg = message(subj, "Someone <someone@gwonly.test>",
                      extra=self.gateway_ar("gw.evil.test"))
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.env.send(msg, ["alias@ourdomain.test"], sender="someone@gwonly.test")
        self.assertEqual(cm.exception.smtp_code, 550)


def env_log(test):
    return test.env.daemon.logtext()


if __name__ == "__main__":
    unittest.main()
