"""Two stages around a content filter, through a real Postfix (issue 11).

A content filter after the milter (amavis, SpamAssassin through a
content_filter that re-injects on a second smtpd) changes the message after a
one-stage fwdauthd signed and sealed it. With stage_secrets and
stage2_daemon_names, fwdauthd on the inbound smtpd is stage 1 (verify, decide,
record the decision in an HMAC-authenticated Fwdauth-Arrival field) and on the
re-injection smtpd stage 2 (verify the field, make our changes, rewrite From,
sign, seal, SRS). Here:

  client -> smtpd (stage 1) -> queue -> content_filter smtp-amavis
         -> ContentFilter (this file: an SMTP server standing for amavis; it
            tags the Subject "[SCANNED]", adds X-Virus-Scanned and appends a
            line to the body, and re-injects over SMTP, answering Postfix with
            the re-injection's reply as amavisd does)
         -> 127.0.0.1:<stage 2 port> smtpd (stage 2) -> queue -> smtp-sink

The throwaway Postfix is test_forwarding_dmarc.py's (ForwardingBase, through
test_forwarder_changes.ChangesBase: the DKIM-only ESP sender, footer files, an
rspamd that trusts our sealer and one that trusts none). Its main.cf and
master.cf get MAIN_CF and MASTER_CF below exactly as the README prints them,
with only the ports replaced by free ones; fwdauthd gets FWDAUTHD_CONF.

Legitimate mail (DKIM-only, SPF+DKIM and SPF-only p=reject senders, with our
Subject tag, footer and added field on): none refused; the AAR records
stage 1's dkim=pass/dmarc=pass; our DKIM signature and ARC set verify with
dkimpy at the far end despite the filter's changes; no Fwdauth-Arrival field
leaves; aligned-DKIM senders keep their From with from_rewrite_on_change = no.
Spoofs: SPF fail from an outside address, a forged DKIM signature, forged
Authentication-Results, forged or copied Fwdauth-Arrival fields from outside,
a stage-1 field replayed onto another message injected straight into the
stage-2 port: each refused, or delivered with no pass of ours, judged by
rspamd too.

What the field cannot tell apart: it binds Message-ID, From, Date and the
envelope sender, not Subject or body (the filter may change those), so a
message with a captured field's identity and other content, handed straight
to the stage-2 smtpd within stage_max_age, is vouched for. Only the filter may
reach that smtpd: the printed wiring refuses every client outside mynetworks
(test_stage2_port_refuses_outside_clients).
"""
import os
import re
import smtplib
import socketserver
import threading
import time
import unittest
import uuid

import dkim

import fwdtest
import postfixtest
import receiver
import test_forwarder_changes as fc
import test_forwarding_dmarc as fd
import test_milter_e2e as e2e
import test_readme
from test_forwarder_changes import ADDED_NAME, ATTACKER_IP, SENDERS, TAG
from test_forwarding_dmarc import arc_sets, header_values

# -- the wiring, as the README prints it ---------------------------------------------
# main.cf: in addition to the milter settings of the README's Postfix section
# (smtpd_milters, non_smtpd_milters, milter_default_action = tempfail, which
# the re-injection smtpd keeps).
MAIN_CF = """\
# after the milter (stage 1), hand mail to the content filter
content_filter = smtp-amavis:[127.0.0.1]:10024
"""
# master.cf: the filter's transport, and the re-injection smtpd (stage 2).
MASTER_CF = """\
smtp-amavis unix  -       -       n       -       2       smtp
  -o smtp_data_done_timeout=1200
127.0.0.1:10025 inet n    -       n       -       -       smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_address_mappings
  -o local_header_rewrite_clients=
  -o milter_macro_daemon_name=FWDAUTH-STAGE2
  -o mynetworks=127.0.0.0/8
  -o smtpd_client_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
"""
# fwdauthd.conf: in addition to the one-stage settings.
FWDAUTHD_CONF = """\
stage2_daemon_names = FWDAUTH-STAGE2
stage_secrets = /etc/fwdauth/stage-secrets
"""
FILTER_PORT, STAGE2_PORT = 10024, 10025

SCANNED = "[SCANNED]"
FILTER_FIELD = ("X-Virus-Scanned", "stand-in filter")
FILTER_LINE = b"Scanned by the stand-in filter."
STAGE_SECRET = "stage-one-secret-0123456789abcdef"
F_FORWARDED, F_SIGN_FORWARDER, F_SEAL, F_REWRITE_FROM, F_SRS = 1, 2, 4, 8, 16


def ported(text, ports):
    """The printed text with each printed port replaced by ports[printed]."""
    for printed, port in ports.items():
        text = text.replace(":%d" % printed, ":%d" % port)
    return text


def stage_fields(raw):
    """Unfolded values of every Fwdauth-Arrival field (any case) of raw."""
    return header_values(raw, "Fwdauth-Arrival")


def stage_flags(value):
    return int(re.search(r"\bf=(\d+)", value).group(1))


class _Session(socketserver.StreamRequestHandler):
    timeout = 120

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        owner = self.server.owner
        self.reply("220 filter.test ESMTP stand-in content filter")
        sender, rcpts = None, []
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            cmd = line.decode("ascii", "replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-filter.test")
                self.reply("250 8BITMIME")
            elif verb == "HELO":
                self.reply("250 filter.test")
            elif verb == "MAIL":
                sender, rcpts = _angle(cmd), []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                rcpts.append(_angle(cmd))
                self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if sender is None or not rcpts:
                    self.reply("503 5.5.1 Error: need MAIL and RCPT")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    l = self.rfile.readline(1 << 20)
                    if not l:
                        return
                    if l == b".\r\n":
                        break
                    lines.append(l[1:] if l.startswith(b".") else l)
                code, text = owner.process(sender, rcpts, b"".join(lines))
                self.reply("%d %s" % (code, text))
                sender, rcpts = None, []
            elif verb == "RSET":
                sender, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")


def _angle(cmd):
    m = re.search(r"<([^>]*)>", cmd)
    return m.group(1) if m else cmd.split(":", 1)[1].strip().split(" ")[0]


class ContentFilter:
    """A stand-in for amavisd on a free port of 127.0.0.1 (see the module
    comment). received: [(sender, rcpts, message as Postfix delivered it)].
    stop() is safe to call twice."""

    def __init__(self, port, reinject_port):
        self.port, self.reinject_port = port, reinject_port
        self.received = []
        self.lock = threading.Lock()
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), _Session)
        self.server.daemon_threads = True
        self.server.owner = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @staticmethod
    def change(raw):
        """What a filter does: Subject tag, a header field, a body line."""
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        for i, l in enumerate(lines):
            if l[:8].lower() == b"subject:":
                lines[i] = b"Subject: " + SCANNED.encode() + l[8:]
                break
        head = ("%s: %s\r\n" % FILTER_FIELD).encode() + b"\r\n".join(lines)
        if body and not body.endswith(b"\r\n"):
            body += b"\r\n"
        return head + b"\r\n\r\n" + body + FILTER_LINE + b"\r\n"

    def process(self, sender, rcpts, raw):
        with self.lock:
            self.received.append((sender, rcpts, raw))
        try:
            with smtplib.SMTP("127.0.0.1", self.reinject_port, timeout=60) as s:
                s.ehlo("filter.test")
                s.sendmail(sender, rcpts, self.change(raw))
            return 250, "2.0.0 Ok: re-injected"
        except smtplib.SMTPRecipientsRefused as e:
            code, text = list(e.recipients.values())[0]
            return code, text.decode("utf-8", "replace")
        except smtplib.SMTPResponseException as e:
            return e.smtp_code, e.smtp_error.decode("utf-8", "replace")
        except (OSError, smtplib.SMTPException) as e:
            return 451, "4.3.0 filter: re-injection failed: %s" % e

    def got(self, subject):
        """Messages received whose Subject holds subject."""
        with self.lock:
            return [r for r in self.received
                    if subject.encode() in (header_values(r[2], "Subject") or [""])[0].encode()]


class TwoStage(fc.ChangesBase):
    @classmethod
    def setUpClass(cls):
        cls.filter_port = fwdtest.free_port()
        cls.stage2_port = fwdtest.free_port()
        while cls.stage2_port == cls.filter_port:
            cls.stage2_port = fwdtest.free_port()
        ports = {FILTER_PORT: cls.filter_port, STAGE2_PORT: cls.stage2_port}
        main = {n: v for n, v, _ in postfixtest.parse_main_cf(ported(MAIN_CF, ports))}
        cls.EXTRA_MAIN_CF = dict(fc.ChangesBase.EXTRA_MAIN_CF, **main)
        cls.EXTRA_MASTER_CF = ported(MASTER_CF, ports)
        cls.filter = ContentFilter(cls.filter_port, cls.stage2_port)
        cls.addClassCleanup(cls.filter.stop)
        super().setUpClass()
        secrets = os.path.join(cls.env.dir, "stage-secrets")
        fwdtest.write_secret(secrets, STAGE_SECRET, owner="nobody")  # fwdauthd reloads as nobody
        conf = {n: v for n, v, _ in postfixtest.parse_main_cf(FWDAUTHD_CONF)}
        conf["stage_secrets"] = secrets
        cls.base_conf.update(conf)
        fwdtest.wait_for_port(cls.stage2_port)
        # A key for victim.test, so that a forged signature has a key to fail on.
        kdir = os.path.join(cls.env.dir, "keys-victim.test")
        os.mkdir(kdir, 0o755)
        path, owner, record = e2e.keygen(kdir, "victim.test", "v1")
        cls.env.zone.add(owner, record)
        cls.env.zone.write(cls.env.zonefile)
        cls.rx_dns.set_records(receiver.Unbound.zone_records(cls.env.zone),
                               timeouts=sorted(cls.env.zone.timeouts))

    def setUp(self):
        super().setUp()
        self.changes(on_change="no")

    # -- helpers -------------------------------------------------------------------
    def wait_remote(self, subj, timeout=90):
        (m,) = self.env.wait_sink(self.env.remote, subj, timeout=timeout)
        return m, fc.sink_raw(e2e.wire(m.raw))

    def deliver2(self, case, what, subj=None):
        subj = subj or self.subject(what)
        msg, sender = self.message_of(case, subj)
        try:
            self.assertEqual(self.send(msg, sender), {})
        except smtplib.SMTPException as e:
            self.fail("%r%s" % (e, self.ctx()))
        m, raw = self.wait_remote(subj)
        return m, raw, msg, subj

    def filtered(self, subj):
        """The one message the filter received for subj: (sender, rcpts, raw)."""
        got = self.filter.got(subj)
        self.assertEqual(len(got), 1, got)
        return got[0]

    def refused(self, msg, sender, rcpts=("alias@ourdomain.test",), code=550):
        """A spoof from the attacker's address, refused at stage 1."""
        with self.assertRaises(smtplib.SMTPDataError) as cm:
            self.env.send(msg, list(rcpts), sender=sender, client_ip=ATTACKER_IP)
        self.assertEqual(cm.exception.smtp_code, code, cm.exception)
        return cm.exception.smtp_error.decode()

    def assert_nothing_ours(self, raw):
        self.assertNotIn("ourdomain.test", e2e.dkim_sigs(raw), raw[:3000])
        self.assertEqual(arc_sets(raw), {"ARC-Seal": 0, "ARC-Message-Signature": 0,
                                         "ARC-Authentication-Results": 0}, raw[:3000])
        self.assertEqual(header_values(raw, "X-Original-From"), [])
        self.assertEqual(header_values(raw, ADDED_NAME), [])
        self.assertNotIn(b"Forwarded by ourdomain.test", raw)
        self.assertEqual(stage_fields(raw), [])

    def assert_not_delivered(self, subj):
        time.sleep(1)
        self.assertEqual(self.count_remote(subj), 0)

    def captured_field(self):
        """A real stage-1 field: a legitimate message through stage 1,
        taken at the filter. (the Fwdauth-Arrival field as the filter got
        it, the message as the client sent it)."""
        m, raw, orig, subj = self.deliver2("spf-only", "capture")
        _, _, fraw = self.filtered(subj)
        field = re.search(rb"(?im)^Fwdauth-Arrival:.*\r\n(?:[ \t].*\r\n)*", fraw).group(0)
        self.assertEqual(len(stage_fields(fraw)), 1)
        self.assertEqual(stage_flags(stage_fields(fraw)[0]) & F_SEAL, F_SEAL)
        return field, orig

    # -- legitimate mail ---------------------------------------------------------------
    def check_legit(self, case, on_change, rewritten):
        self.changes(on_change=on_change)
        m, raw, orig, subj = self.deliver2(case, "two-%s-%s" % (case, on_change))
        # Stage 1 recorded one field (no sender's field passes it), the filter
        # saw it, and stage 2 removed it.
        sender, rcpts, fraw = self.filtered(subj)
        self.assertEqual((sender, rcpts), (SENDERS[case][1], ["user@remote.test"]))
        (field,) = stage_fields(fraw)
        self.assertRegex(field, r"^v=1; t=\d+; f=\d+; c=none; i=%s; a=" %
                         re.escape(fd.AUTHSERV_ID))
        self.assertEqual(stage_fields(raw), [], raw[:3000])
        # Nothing of stage 2's before the filter: no signature, seal, tag.
        self.assertEqual(arc_sets(fraw)["ARC-Seal"], 0)
        self.assertNotIn("ourdomain.test", e2e.dkim_sigs(fraw))
        self.assertEqual(header_values(fraw, "Subject"), [subj])
        # The filter's changes, then ours.
        self.assert_srs(m)
        self.assertEqual(header_values(raw, FILTER_FIELD[0]), [FILTER_FIELD[1]])
        self.check_plain_changes(raw, orig, subj, body_extra=FILTER_LINE + b"\r\n",
                                 tag_prefix="%s %s " % (TAG, SCANNED))
        self.check_aar(raw, case)
        self.check_signatures(raw, case)
        self.check_from(raw, case, rewritten)
        self.check_receivers(m, raw, case, rewritten)
        log = self.env.daemon.logtext()
        self.assertRegex(log, r"from=<%s> stage1 inbound forwarded .*stage1-recorded" %
                         re.escape(SENDERS[case][1]))
        self.assertRegex(log, r"from=<%s> stage2 inbound forwarded .*subject-tagged "
                         r"footer=append.*sealed=i=1,cv=none" % re.escape(SENDERS[case][1]))

    def test_dkim_only(self):
        self.check_legit("dkim-only", "no", rewritten=False)

    def test_spf_dkim(self):
        self.check_legit("spf+dkim", "no", rewritten=False)

    def test_spf_only(self):
        self.check_legit("spf-only", "no", rewritten=True)

    def test_dkim_only_on_change_yes(self):
        # Stage 1 knows our own changes will break the signature: rewritten.
        self.check_legit("dkim-only", "yes", rewritten=True)

    def test_filter_changes_alone_rewritten(self):
        # No changes of ours, from_rewrite_on_change = yes: stage 1 cannot
        # know whether the filter will break the sender's signature (this one
        # does), so it counts on the worst and the aligned-DKIM p=reject
        # sender is rewritten: it passes DMARC at a receiver that trusts no
        # sealer (as Outlook.com trusts none), and at one that trusts ours.
        self.changes(on_change="yes", footer=False, forward_subject_tag="", forward_header="")
        m, raw, orig, subj = self.deliver2("dkim-only", "filter-alone")
        self.assertEqual(header_values(raw, "Subject"), ["%s %s" % (SCANNED, subj)])
        self.check_aar(raw, "dkim-only")
        self.check_signatures(raw, "dkim-only")
        self.check_from(raw, "dkim-only", rewritten=True)
        self.check_receivers(m, raw, "dkim-only", rewritten=True)

    # -- spoofs ----------------------------------------------------------------------------
    def test_spf_fail_refused_at_stage1(self):
        subj = self.subject("spf-fail")
        self.refused(fc.plain_message(subj, "CEO <ceo@victim.test>"), "ceo@victim.test")
        self.assertEqual(self.filter.got(subj), [])
        self.assert_not_delivered(subj)
        self.assertRegex(self.env.daemon.logtext(),
                         r"from=<ceo@victim\.test> rejected: DMARC failure, not forwarded")

    def test_forged_dkim_refused(self):
        subj = self.subject("forged-dkim")
        msg = fc.plain_message(subj, "CEO <ceo@victim.test>")
        with open(self.env.keys["dkimonly.test"][1], "rb") as f:
            wrong_key = f.read()
        msg = dkim.sign(msg, b"v1", b"victim.test", wrong_key,
                        include_headers=[b"from", b"to", b"subject", b"date"]) + msg
        reply = self.refused(msg, "x@attacker.test")
        self.assertIn("fails the DMARC policy of victim.test", reply)
        self.assertEqual(self.filter.got(subj), [])
        self.assert_not_delivered(subj)
        self.assertRegex(self.env.daemon.logtext(), r"from=<x@attacker\.test> rejected: .*"
                         r"dkim=fail dmarc=fail")

    def forged_ar(self, frm_domain):
        return ("Authentication-Results: %s; spf=pass smtp.mailfrom=x@%s;\r\n"
                "\tdkim=pass header.d=%s; dmarc=pass header.from=%s; arc=pass\r\n" %
                (fd.AUTHSERV_ID, frm_domain, frm_domain, frm_domain)).encode()

    def test_forged_authres(self):
        # On a spoof: refused at stage 1.
        subj = self.subject("forged-ar")
        self.refused(fc.plain_message(subj, "CEO <ceo@victim.test>",
                                      extra=self.forged_ar("victim.test")), "x@attacker.test")
        self.assertEqual(self.filter.got(subj), [])
        self.assert_not_delivered(subj)
        # On legitimate mail: removed at stage 1; stage 2 seals stage 1's results only.
        subj = self.subject("forged-ar-legit")
        msg = fc.plain_message(subj, SENDERS["spf-only"][0], extra=self.forged_ar("evil.test"))
        self.assertEqual(self.send(msg, SENDERS["spf-only"][1]), {})
        m, raw = self.wait_remote(subj)
        self.assertNotIn(b"evil.test", raw)
        self.check_aar(raw, "spf-only")
        self.assertIn("removed-forged-ar=1", self.env.daemon.logtext())

    def test_stage_field_from_outside_removed(self):
        field, orig = self.captured_field()
        garbage = (b"Fwdauth-Arrival: v=1; t=%d; f=255; c=pass; i=%s; a=; b=%s\r\n" %
                   (int(time.time()), fd.AUTHSERV_ID.encode(), b"A" * 44))
        # (1) Legitimate mail carrying a copied real field and a made-up one:
        # both removed at stage 1, whose own field is the only one stage 2 sees.
        subj = self.subject("outside-field")
        msg = fc.plain_message(subj, SENDERS["spf-only"][0], extra=field + garbage)
        self.assertEqual(self.send(msg, SENDERS["spf-only"][1]), {})
        m, raw = self.wait_remote(subj)
        _, _, fraw = self.filtered(subj)
        (seen,) = stage_fields(fraw)
        self.assertNotEqual(seen, e2e.unfold(field.decode().split(":", 1)[1]))
        self.assertNotIn(b"f=255", fraw)
        self.assertEqual(stage_fields(raw), [])
        self.check_aar(raw, "spf-only")
        self.check_signatures(raw, "spf-only")
        # (2) The attacker sends the captured message again, field and
        # identity (Message-ID, From, Date, envelope sender) included, from
        # its own address, to the forwarded address and a local mailbox:
        # SPF fails, the forwarded recipient is removed at stage 1, and the
        # local copy arrives with stage 1's own (negative) decision only.
        hsubj = header_values(orig, "Subject")[0]
        nsubj = self.subject("outside-replay")
        again = field + orig.replace(hsubj.encode(), nsubj.encode())
        self.assertEqual(self.env.send(again, ["alias@ourdomain.test", "local@ourdomain.test"],
                                       sender=SENDERS["spf-only"][1], client_ip=ATTACKER_IP),
                         {})
        (lraw,) = self.env.wait_maildir("%s %s" % (SCANNED, nsubj), timeout=60)
        lraw = lraw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        _, rcpts, fraw = self.filtered(nsubj)
        self.assertEqual(rcpts, ["local@ourdomain.test"])
        (seen,) = stage_fields(fraw)
        self.assertEqual(stage_flags(seen) & (F_FORWARDED | F_SIGN_FORWARDER | F_SEAL |
                                              F_REWRITE_FROM | F_SRS), 0, seen)
        self.assertRegex(self.ours(lraw), r"\bspf=fail\b.*\bdmarc=fail\b")
        self.assert_nothing_ours(lraw)
        self.assertEqual(header_values(lraw, "Subject"), ["%s %s" % (SCANNED, nsubj)])
        self.assert_not_delivered(nsubj)

    def test_stage1_field_replayed_onto_another_message(self):
        # A real stage-1 field, injected with another message straight into
        # the stage-2 port (as a local process could): it does not verify
        # there (forged), is removed, and nothing of ours is added. So too
        # for a message with no field, or with the field cut short.
        field, orig = self.captured_field()
        frm, sender = SENDERS["spf-only"][0], SENDERS["spf-only"][1]
        cut = field[:-12] + b"\r\n"  # the MAC loses 10 of its 44 base64 characters
        self.assertRegex(cut, rb"\bb=[A-Za-z0-9+/]{34}\r\n$")
        variants = (  # what, From: field, envelope sender, stage field, status logged
            ("a spoof", b"From: CEO <ceo@victim.test>", "ceo@victim.test", field, "forged"),
            ("another Message-ID", None, sender, field, "forged"),
            ("another envelope sender", b"", "x@attacker.test", field, "forged"),
            ("no field", b"", sender, b"", "absent"),
            ("the field cut short", b"", sender, cut, "bad"),
        )
        for what, change, env_sender, with_field, status in variants:
            with self.subTest(what):
                subj = self.subject("replay")
                msg = with_field + orig.replace(header_values(orig, "Subject")[0].encode(),
                                                subj.encode())
                if change is None:
                    msg = re.sub(rb"(?im)^Message-ID: <[^>]*>",
                                 b"Message-ID: <%s@fwd.test>" % uuid.uuid4().hex.encode(), msg)
                elif change:
                    msg = msg.replace(b"From: " + frm.encode(), change)
                before = len(self.env.daemon.logtext())
                self.assertEqual(self.env.send(msg, ["user@remote.test"], sender=env_sender,
                                               port=self.stage2_port), {})
                m, raw = self.wait_remote(subj)
                self.assertEqual(m.mail_from, env_sender)  # no SRS
                self.assert_nothing_ours(raw)
                self.assertEqual(header_values(raw, "Subject"), [subj])
                self.assertRegex(self.env.daemon.logtext()[before:],
                                 r"stage 2: no stage-1 results \(%s\b[^)]*\): passed on "
                                 r"unsigned and unsealed" % status)
                v = self.judge(self.rx_trust, m, raw)
                self.assertNotIn("ARC_ALLOW", v, v)
                self.assertFalse(v.arc_trusted or v.dmarc_arc_trusted, v)
                if what == "a spoof":
                    self.assertEqual(v.dmarc, "reject", v)

    def test_stage2_port_refuses_outside_clients(self):
        # The re-injection smtpd as printed: only mynetworks may use it.
        subj = self.subject("stage2-outside")
        msg, sender = self.message_of("spf-only", subj)
        with self.assertRaises(smtplib.SMTPRecipientsRefused) as cm:
            self.env.send(msg, ["user@remote.test"], sender=sender, client_ip=ATTACKER_IP,
                          port=self.stage2_port)
        (code, _), = cm.exception.recipients.values()
        self.assertEqual(code, 554, cm.exception)
        self.assert_not_delivered(subj)

    # -- the printed text ------------------------------------------------------------------
    def test_printed_text_checks(self):
        # postconf -n/-M/-P and postfix check, as test_readme does for README blocks.
        self.assertEqual(test_readme.postfix_problems(self, main_text=MAIN_CF), [])
        self.assertEqual(test_readme.postfix_problems(self, master_text=MASTER_CF), [])

    def test_readme_prints_what_is_tested(self):
        def services(text):
            out, cur = {}, None
            for line in text.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if line[0] in " \t":
                    name, _, value = line.split("-o", 1)[1].strip().partition("=")
                    out[cur][1][name] = value
                    continue
                f = line.split()
                cur = f[0]
                out[cur] = ((f[1], f[7]), {})
            return out
        master = test_readme.readme_block("master.cf", "FWDAUTH-STAGE2").text
        self.assertEqual(services(master), services(MASTER_CF), master)
        main = test_readme.readme_block("main.cf", "content_filter").text
        self.assertEqual(test_readme.settings_of(main), test_readme.settings_of(MAIN_CF), main)
        conf = test_readme.settings_of(
            test_readme.readme_block("fwdauthd.conf", "stage2_daemon_names").text)
        self.assertEqual(conf.get("stage2_daemon_names"), "FWDAUTH-STAGE2", conf)
        self.assertTrue(conf.get("stage_secrets", "").startswith("/"), conf)


if __name__ == "__main__":
    unittest.main()
