"""Attacks on the forwarder, through a real Postfix: a spoof never leaves with a pass we made.

Issue 10's findings, replayed as an attacker would: the same throwaway Postfix
and fwdauthd as test_forwarding_dmarc.py (ForwardingBase: virtual alias
alias@ourdomain.test -> user@remote.test, a smtp-sink for remote.test, a zone
file for DNS), with ARC sealing, From rewrite and our forwarder key all on, so
that every way of vouching is available to be abused. The attacker connects
from an outside address, ATTACKER_IP (presented with XCLIENT, so Postfix
treats it as the network client it is: no header rewriting for local
clients), and owns attacker.test (SPF pass for that address); the victim,
victim.test, publishes p=reject and `v=spf1 -all`.

  - a From: that receivers read as victim.test but a strict parser cannot
    (trailing dot, group syntax, a stray ";"): refused, never signed or sealed;
  - two From: fields: refused (from_unreadable = reject), or tempfailed, or
    forwarded without anything of ours (accept-unsigned);
  - 70 forged Authentication-Results fields claiming our authserv-id in other
    letter cases and with a trailing dot: every one removed; 10,000: the
    message is refused for good (552 5.3.4), nothing delivered;
  - the From: domain's DMARC record timing out: forwarded mail tempfailed with
    nothing made, delivered correctly (SRS, signed, sealed, rewritten, passing
    at the next hop) once DNS answers, and the spoof then refused.
  - the resolver dead (fwdauthd asking a real unbound that was stopped):
    forwarded mail tempfailed with and without an ARC chain already on it,
    local mail delivered with temperror recorded; delivered once it answers.
The next hop's view is a real, independent receiver (receiver.py: Debian's
rspamd 3.4 offline, DNS from its own unbound serving the same zone) judging
what left us as if from our public address, with `fwdauth dmarc check` and
dkimpy as further oracles.
"""
import json
import os
import smtplib
import time
import unittest

import fwdtest
import receiver

import test_forwarding_dmarc as fd
import test_milter_e2e as e2e
from test_forwarding_dmarc import header_values, arc_sets, message

AUTHSERV_ID = e2e.AUTHSERV_ID
ATTACKER_IP = "203.0.113.66"


class SpoofAttacks(fd.ForwardingBase):
    EXTRA_ZONE = {
        "attacker.test": "v=spf1 ip4:%s -all" % ATTACKER_IP,
        "slowlegit.test": "v=spf1 ip4:127.0.0.1 -all",
        # Asked only once the resolver is dead (fwdauthd's resolver caches
        # what it was told while alive, as a real one does until the TTL).
        "deadlegit.test": "v=spf1 ip4:127.0.0.1 -all",
        "_dmarc.deadlegit.test": "v=DMARC1; p=reject",
    }
    # The DMARC record of slowlegit.test times out until a test "repairs" DNS.
    EXTRA_TIMEOUTS = ("_dmarc.slowlegit.test",)
    # Header addresses as a remote client's arrive: Postfix decides at connect
    # (127.0.0.1, local) whether to rewrite them, before XCLIENT names the
    # attacker's address, and would append @myorigin to the group name.
    EXTRA_MAIN_CF = {"local_header_rewrite_clients": ""}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fwdtest.require_programs(receiver.UNBOUND, receiver.RSPAMD)
        # The far end: its own resolver with the same zone, and rspamd.
        cls.rx_dns = receiver.Unbound.from_zone(cls.env.dir, cls.env.zone).start()
        cls.addClassCleanup(cls.rx_dns.stop)
        cls.rx = receiver.Rspamd(cls.env.dir, cls.rx_dns.port)
        cls.addClassCleanup(cls.rx.stop)
        cls.rx.start()

    def setUp(self):
        super().setUp()
        self.mode(arc=True, rewrite="reject", enforce="tag")

    def judge(self, m, raw):
        """The next hop: rspamd sees the message from our public address."""
        return self.rx.judge(raw, fd.FORWARDER_IP, m.mail_from, "mx.ourdomain.test",
                             "user@remote.test")

    def send(self, msg, sender, rcpts=("alias@ourdomain.test",)):
        """From the attacker's address when the sender is the attacker's."""
        ip = ATTACKER_IP if sender.endswith("@attacker.test") else None
        return self.env.send(msg, list(rcpts), sender=sender, client_ip=ip)

    def refused(self, msg, sender, rcpts=("alias@ourdomain.test",), code=550):
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.send(msg, sender, rcpts)
        self.assertEqual(cm.exception.smtp_code, code, cm.exception)
        return cm.exception.smtp_error.decode()

    def assert_nothing_ours(self, raw):
        """No signature of ours, no ARC set, From: untouched."""
        self.assertNotIn("ourdomain.test", e2e.dkim_sigs(raw), raw[:3000])
        self.assertEqual(arc_sets(raw)["ARC-Seal"], 0, raw[:3000])
        self.assertEqual(header_values(raw, "X-Original-From"), [])

    # -- findings 6: a From: receivers read, a strict parser does not ----------
    def check_malformed_from(self, what, frm):
        subj = self.subject(what)
        reply = self.refused(message(subj, frm), "x@attacker.test")
        # Judged as receivers read it: victim.test's p=reject.
        self.assertIn("fails the DMARC policy of victim.test", reply)
        time.sleep(1)
        self.assertEqual(self.count_remote(subj), 0)
        # To a local mailbox it is delivered, recorded as the failure it is.
        lsubj = self.subject(what + "-local")
        self.assertEqual(self.send(message(lsubj, frm, to="local@ourdomain.test"),
                                   "x@attacker.test", ["local@ourdomain.test"]), {})
        (raw,) = self.env.wait_maildir(lsubj)
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.assertRegex(self.ours(raw), r"\bdmarc=fail\b.*header\.from=victim\.test")
        self.assert_nothing_ours(raw)

    def test_from_trailing_dot(self):
        self.check_malformed_from("dot", "The CEO <ceo@victim.test.>")

    def test_from_group_syntax(self):
        self.check_malformed_from("group", "CEO: <ceo@victim.test>")

    def test_from_trailing_semicolon(self):
        self.check_malformed_from("semicolon", "The CEO <ceo@victim.test>;")

    # -- finding 3: two From: fields ----------------------------------------------
    def double_from(self, what):
        subj = self.subject(what)
        return subj, message(subj, "Alice <alice@attacker.test>",
                             extra=b"From: CEO <ceo@victim.test>\r\n")

    def test_double_from_refused(self):
        subj, msg = self.double_from("double")
        reply = self.refused(msg, "x@attacker.test")
        self.assertIn("must hold exactly one valid address", reply)
        time.sleep(1)
        self.assertEqual(self.count_remote(subj), 0)
        self.assertRegex(self.env.daemon.logtext(),
                         r"from=<x@attacker\.test> rejected: From: not readable with certainty")

    def test_double_from_tempfail_and_accept_unsigned(self):
        self.mode(arc=True, rewrite="reject", enforce="tag", from_unreadable="tempfail")
        subj, msg = self.double_from("double-temp")
        self.refused(msg, "x@attacker.test", code=451)
        self.mode(arc=True, rewrite="reject", enforce="tag", from_unreadable="accept-unsigned")
        subj, msg = self.double_from("double-unsigned")
        self.assertEqual(self.send(msg, "x@attacker.test"), {})
        (m,) = self.env.wait_sink(self.env.remote, subj)
        raw = e2e.wire(m.raw)
        self.assert_nothing_ours(raw)
        self.assertRegex(self.ours(raw), r"\bdmarc=permerror\b")
        self.assertEqual(len(header_values(raw, "From")), 2)
        # The receiver finds no authentication of ours to credit.
        v = self.judge(m, raw)
        self.assertNotEqual(v.dmarc, "pass", v)
        self.assertNotIn("ARC_ALLOW", v.symbols, v)

    # -- finding 2: forged Authentication-Results, however many --------------------
    def test_70_forged_authres_all_removed(self):
        ids = [AUTHSERV_ID, AUTHSERV_ID.upper() + ".", AUTHSERV_ID + ".", "Mx.OurDomain.Test"]
        forged = b"".join(b"Authentication-Results: %s; dmarc=pass header.from=victim.test\r\n"
                          % ids[i % len(ids)].encode() for i in range(70))
        forged += b"Authentication-Results: mx.ourdomain.test. ; spf=pass\r\n"
        subj = self.subject("forged70")
        m, raw = self.forward(subj, "Alice <alice@spfonly.test>", "alice@spfonly.test",
                              extra=forged)
        claims = [a for a in e2e.auth_results(raw)
                  if a.lower().split(";")[0].strip().rstrip(".") == AUTHSERV_ID]
        self.assertEqual(len(claims), 1, claims)  # ours, and only ours
        self.assertNotIn("victim.test", claims[0])
        self.assertRegex(claims[0], r"\bdmarc=pass\b.*header\.from=spfonly\.test")
        self.assertIn("removed-forged-ar=71", self.env.daemon.logtext())

    def test_10000_forged_authres_refused(self):
        forged = b"".join(b"Authentication-Results: %s.; dmarc=pass\r\n" % AUTHSERV_ID.encode()
                          for _ in range(10000))
        subj = self.subject("forged10k")
        reply = self.refused(message(subj, "Alice <alice@spfonly.test>", extra=forged),
                             "alice@spfonly.test", code=552)
        self.assertIn("5.3.4", reply)
        time.sleep(1)
        self.assertEqual(self.count_remote(subj), 0)
        self.assertIsNone(self.env.daemon.proc.poll())

    # -- finding 4: DNS trouble on arrival -------------------------------------------
    def test_dmarc_timeout_tempfails_then_delivers(self):
        subj = self.subject("slow-dmarc")
        msg = message(subj, "Legit <legit@slowlegit.test>")
        reply = self.refused(msg, "legit@slowlegit.test", code=451)
        self.assertIn("DMARC could not be evaluated", reply)
        # A spoof of it, from the attacker's own SPF-passing domain: tempfailed
        # too, never forwarded on an unknown verdict.
        ssubj = self.subject("slow-dmarc-spoof")
        self.refused(message(ssubj, "CEO <ceo@slowlegit.test>"), "x@attacker.test", code=451)
        time.sleep(1)
        self.assertEqual(self.count_remote(subj) + self.count_remote(ssubj), 0)
        # DNS answers again (p=reject published): the client's retry is
        # delivered, and correctly: SRS, rewritten, signed, sealed, passing DMARC
        # at the next hop; the spoof is now refused.
        env = self.env
        env.zone.timeouts.discard("_dmarc.slowlegit.test")
        env.zone.add("_dmarc.slowlegit.test", "v=DMARC1; p=reject")
        env.zone.write(env.zonefile)
        try:
            type(self).current = None
            self.mode(arc=True, rewrite="reject", enforce="tag")
            self.assertEqual(env.send(msg, ["alias@ourdomain.test"],
                                      sender="legit@slowlegit.test"), {})
            (m,) = env.wait_sink(env.remote, subj)
            raw = e2e.wire(m.raw)
            self.assert_srs_any(m)
            self.assertEqual(e2e.dkim_sigs(raw), {"ourdomain.test": "fwd"})
            self.assertEqual(arc_sets(raw)["ARC-Seal"], 1)
            self.assertEqual(self.receiver_dmarc(m, raw)["dmarc"], "pass")
            self.rx_dns.set_records(receiver.Unbound.zone_records(env.zone),
                                    timeouts=sorted(env.zone.timeouts))
            v = self.judge(m, raw)
            self.assertEqual(v.dmarc, "pass", v)
            self.refused(message(ssubj, "CEO <ceo@slowlegit.test>"), "x@attacker.test")
        finally:
            env.zone.add_timeout("_dmarc.slowlegit.test")
            del env.zone.txt["_dmarc.slowlegit.test"]
            env.zone.write(env.zonefile)
            self.rx_dns.set_records(receiver.Unbound.zone_records(env.zone),
                                    timeouts=sorted(env.zone.timeouts))
            type(self).current = None

    def test_dead_resolver_tempfails_forwarded_mail(self):
        # fwdauthd asks a real resolver (unbound serving our zone), which then
        # stops answering altogether.
        env = self.env
        chained = self.arc_sealed_upstream(self.subject("dns-dead-arc"))
        ns = receiver.Unbound.from_zone(env.dir, env.zone).start()
        self.addCleanup(ns.stop)
        self.mode(arc=True, rewrite="reject", enforce="tag", dns_zone_file="",
                  dns_server=ns.server, dns_timeout="2")
        self.addCleanup(setattr, type(self), "current", None)
        self.addCleanup(self.mode, arc=True, rewrite="reject", enforce="tag")
        # Alive: delivered and sealed.
        subj = self.subject("dns-alive")
        m, raw = self.forward(subj, "Alice <alice@spfonly.test>", "alice@spfonly.test")
        self.assertEqual(arc_sets(raw)["ARC-Seal"], 1)
        ns.stop()
        plain = message(self.subject("dns-dead"), "Dora <dora@deadlegit.test>")
        for what, msg in (("plain", plain), ("with an ARC chain", chained)):
            with self.subTest(what):
                reply = self.refused(msg, "dora@deadlegit.test", code=451)
                self.assertIn("4.7.1 Not forwarded now", reply)
        # A local mailbox still gets it, with the temporary errors recorded.
        lsubj = self.subject("dns-dead-local")
        self.assertEqual(env.send(message(lsubj, "Dora <dora@deadlegit.test>",
                                          to="local@ourdomain.test"),
                                  ["local@ourdomain.test"], sender="dora@deadlegit.test"), {})
        (lraw,) = env.wait_maildir(lsubj, timeout=60)
        lraw = lraw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        self.assertRegex(self.ours(lraw), r"\bspf=temperror\b.*\bdmarc=temperror\b")
        self.assert_nothing_ours(lraw)
        time.sleep(1)
        self.assertEqual(self.count_remote("dns-dead"), 0)
        # Back: the clients' retries are delivered, sealed, passing at the far end.
        # libunbound takes a few seconds to trust a server that failed again
        # (8 s measured): the client retries, as SMTP clients do after a 451.
        ns.start()
        back = time.monotonic()
        for msg in (plain, chained):
            while True:
                try:
                    self.assertEqual(self.send(msg, "dora@deadlegit.test"), {})
                    break
                except smtplib.SMTPDataError as e:
                    if e.smtp_code != 451 or time.monotonic() - back > 120:
                        raise
                    time.sleep(2)
        subj_plain = plain.split(b"Subject: ")[1].split(b"\r\n")[0].decode()
        (m,) = env.wait_sink(env.remote, subj_plain)
        raw = e2e.wire(m.raw)
        self.assertEqual(e2e.dkim_sigs(raw), {"ourdomain.test": "fwd"})
        self.assertEqual(self.judge(m, raw).dmarc, "pass")
        subj_chain = chained.split(b"Subject: ")[1].split(b"\r\n")[0].decode()
        (m,) = env.wait_sink(env.remote, subj_chain)
        raw = e2e.wire(m.raw)
        self.assertEqual(arc_sets(raw)["ARC-Seal"], 2, raw[:3000])
        cv, out = self.receiver_arc(raw)
        self.assertEqual(cv, "pass", out)

    def arc_sealed_upstream(self, subj):
        """A message an earlier forwarder (upstream.test) verified and sealed."""
        env = self.env
        if "upstream.test" not in env.keys:
            kdir = os.path.join(env.dir, "keys-upstream")
            os.makedirs(kdir, exist_ok=True)
            path, owner, record = e2e.keygen(kdir, "upstream.test", "arc1")
            env.keys["upstream.test"] = ("arc1", path)
            env.zone.add(owner, record)
            env.zone.write(env.zonefile)
        sel, key = env.keys["upstream.test"]
        msg = message(subj, "Dora <dora@deadlegit.test>",
                      extra=b"Authentication-Results: mx.upstream.test; spf=pass "
                            b"smtp.mailfrom=dora@deadlegit.test; dmarc=pass "
                            b"header.from=deadlegit.test\r\n")
        r = fd.run([fd.FWDAUTH, "arc", "sign", "-d", "upstream.test", "-s", sel, "-k", key,
                    "--authserv-id", "mx.upstream.test", "--dns-zone", env.zonefile,
                    self.save(msg)], text=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    # -- the milter's decision, printed by the CLI ----------------------------------
    def explain(self, msg, sender, rcpts):
        ip = ATTACKER_IP if sender.endswith("@attacker.test") else "127.0.0.1"
        cmd = [fd.FWDAUTH, "dmarc", "check", "--explain", "--json", "-c", self.env.conf,
               "--ip", ip, "--mail-from", sender, "--helo", "client.sender.test"]
        for r in rcpts:
            cmd += ["--rcpt", r]
        r = fd.run(cmd + [self.save(msg)])
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return json.loads(r.stdout)["decision"]

    def test_explain_agrees_with_the_milter(self):
        # `fwdauth dmarc check --explain -c fwdauthd.conf` calls the policy
        # function the milter calls: for each message its verdict and actions
        # are what the milter then does through Postfix.
        cases = [
            ("legit", "Alice <alice@spfonly.test>", "alice@spfonly.test", b""),
            ("spoof", "CEO <ceo@victim.test>", "x@attacker.test", b""),
            ("dot", "The CEO <ceo@victim.test.>", "x@attacker.test", b""),
            ("double", "Alice <alice@attacker.test>", "x@attacker.test",
             b"From: CEO <ceo@victim.test>\r\n"),
            ("slow", "Legit <legit@slowlegit.test>", "legit@slowlegit.test", b""),
        ]
        for rcpts in (["alias@ourdomain.test"], ["alias@ourdomain.test", "local@ourdomain.test"]):
            for what, frm, sender, extra in cases:
                with self.subTest(what=what, rcpts=rcpts):
                    subj = self.subject("explain-" + what)
                    msg = message(subj, frm, extra=extra)
                    d = self.explain(msg, sender, rcpts)
                    try:
                        self.send(msg, sender, rcpts)
                        got = "continue"
                    except smtplib.SMTPDataError as e:
                        got = {5: "reject", 4: "tempfail"}[e.smtp_code // 100]
                        self.assertEqual(e.smtp_error.decode(), d["reply"][4:])
                    self.assertEqual(got, d["verdict"], d)
                    if got != "continue":
                        continue
                    if d["drop_forwarded"]:
                        time.sleep(1)
                        self.assertEqual(self.count_remote(subj), 0)
                        continue
                    (m,) = self.env.wait_sink(self.env.remote, subj)
                    raw = e2e.wire(m.raw)
                    self.assertEqual("ourdomain.test" in e2e.dkim_sigs(raw), d["sign"])
                    self.assertEqual(arc_sets(raw)["ARC-Seal"] == 1, d["seal"])
                    self.assertEqual(bool(header_values(raw, "X-Original-From")),
                                     d["rewrite_from"])
                    self.assertEqual(m.mail_from.upper().startswith("SRS0="), d["srs"])

    def assert_srs_any(self, m):
        self.assertRegex(m.mail_from, r"(?i)^SRS0=[^@]+@srs\.ourdomain\.test$", self.ctx())


if __name__ == "__main__":
    unittest.main()
