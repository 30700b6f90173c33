"""A real Postfix log for `fwdauth logscan`, with the outcome of every message.

A throwaway Postfix (postfixtest.py) with fwdauthd as its milter (SRS for
forwarded mail, DMARC on arrival with dmarc_enforce = reject, DNS from a zone
file) and its SRS socketmap as recipient_canonical_maps, so that bounces to
SRS addresses go back to the real sender. Two smtpd ports:

  mx          postfix/smtpd: only ourdomain.test is accepted (mynetworks does
              not hold 127.0.0.1), so another domain gets "Relay access
              denied" and an unknown local part "User unknown"
  submission  postfix/submission/smtpd (renamed with -o syslog_name), which
              relays for 127.0.0.0/8: direct remote recipients

virtual_alias_maps forwards aliases of ourdomain.test (all of them in
fwdauthd's forward_recipients) to remote domains, each an smtp-sink that
answers like a real receiver (RECEIVERS below). local@ourdomain.test is a
Maildir written by virtual(8); fwdlocal@lists.ourdomain.test is forwarded
by local(8) through alias_maps ("forwarded as"). header_checks hold,
discard and reject by Subject.

Mail is sent in two batches (A, then B) at least two seconds apart, each
waited for until Postfix has logged everything it will (every delivery,
every notification, every queue file removed or deferred or held): `cut` is
a whole second between them for --since/--until.

    c = Corpus(basedir)            # nothing runs yet
    try:
        c.run()                    # starts, sends, waits, stops everything
    finally:
        c.stop()                   # never raises; safe twice
    c.maillog, c.zonefile, c.secret, c.conf, c.cut
    c.expected_groups()            # {(category, status, sender_dom, rcpt_dom): {...}}
    c.expected_totals()

`FWDAUTH_BIN=build/bin python3 maillogcorpus.py tests/data/maillog` (as
root) writes one run's log and expectations: postfix-corpus.log and
postfix-corpus.expected.json, the fixtures of the unit tests and fuzz seeds.
"""
import base64
import hashlib
import hmac
import json
import os
import pwd
import re
import shutil
import smtplib
import socket
import sys
import tempfile
import time
import uuid
from email.utils import formatdate

import dkimpeers
import fwdtest
import postfixtest
from fwdtest import FWDAUTH, run

OURS = "ourdomain.test"
SRS_DOMAIN = "srs.ourdomain.test"
SRS_SECRET = "corpus-s3cret"
POSTLOG = "/usr/sbin/postlog"
AUTHSERV_ID = "mx.ourdomain.test"
FORWARDER_IP = "192.0.2.99"

MS_5_7_509 = ("550 5.7.509 Access denied, sending domain example.org does not pass DMARC "
              "verification and has a DMARC policy of reject.")
GMAIL_5_7_26 = ("550-5.7.26 Unauthenticated email from example.org is not accepted due to "
                "domain's\r\n550-5.7.26 DMARC policy. Please contact the administrator of "
                "example.org domain if\r\n550 5.7.26 this was a legitimate mail. - gsmtp")
GMAIL_5_7_27 = ("550-5.7.27 This mail has been blocked because the sender is unauthenticated."
                "\r\n550-5.7.27 Gmail requires all senders to authenticate with either SPF or "
                "DKIM.\r\n550 5.7.27 SPF check did not pass with ip: [192.0.2.99]. - gsmtp")
GMAIL_4_7_26 = ("421-4.7.26 This mail has been rate limited because it is unauthenticated."
                "\r\n421 4.7.26 Gmail requires all senders to authenticate with either SPF or "
                "DKIM. - gsmtp")
YAHOO_5_7_9 = "554 5.7.9 Message not accepted for policy reasons."
DEFER_4_7_1 = "451 4.7.1 Service unavailable, try again later"
UNKNOWN_5_1_1 = ("550 5.1.1 The email account that you tried to reach does not exist. "
                 "Please try double-checking the recipient's email address.")

# Receiving domains: smtp-sink arguments and what a delivery there becomes:
# (status, category, dsn, a piece of the reply the report must keep), or
# None for accepted mail.
RECEIVERS = {
    "outlook.test": (["-f", ".", "-B", MS_5_7_509],
                     ("bounced", "dmarc", "5.7.509", "does not pass DMARC verification")),
    "gmail.test": (["-f", ".", "-B", GMAIL_5_7_26],
                   ("bounced", "dmarc", "5.7.26", "Unauthenticated email from example.org")),
    "gspf.test": (["-f", ".", "-B", GMAIL_5_7_27],
                  ("bounced", "spf", "5.7.27", "authenticate with either SPF")),
    "gtemp.test": (["-r", ".", "-b", GMAIL_4_7_26],
                   ("deferred", "dmarc", "4.7.26", "rate limited because it is unauthenticated")),
    "yahoo.test": (["-f", ".", "-B", YAHOO_5_7_9],
                   ("bounced", "dmarc", "5.7.9", "Message not accepted for policy reasons")),
    "defer.test": (["-r", ".", "-b", DEFER_4_7_1],
                   ("deferred", "deferral", "4.7.1", "Service unavailable, try again later")),
    "unknown.test": (["-f", "RCPT", "-B", UNKNOWN_5_1_1],
                     ("bounced", "mailbox", "5.1.1", "tried to reach does not exist")),
    "otherfwd.test": (["-f", "RCPT", "-B", UNKNOWN_5_1_1],
                      ("bounced", "mailbox", "5.1.1", "tried to reach does not exist")),
    "accept.test": ([], None),
    # Sender domains: their bounce notifications land here.
    "example.org": ([], None),
    "relaxed.test": ([], None),
    "nodmarc.test": ([], None),
}

# Aliases of ourdomain.test and where virtual_alias_maps sends them.
ALIASES = {
    "fwd-outlook": ["user@outlook.test"],
    "fwd-gmail": ["user@gmail.test"],
    "fwd-gspf": ["user@gspf.test"],
    "fwd-gtemp": ["user@gtemp.test"],
    "fwd-yahoo": ["user@yahoo.test"],
    "fwd-defer": ["user@defer.test"],
    "fwd-ok": ["user@accept.test"],
    "fwd-multi": ["multi@outlook.test", "multi@accept.test"],
}

# Sender domains' DNS: SPF lets 127.0.0.1 (the test client) pass on arrival,
# except for victim.test (the spoofed one).
ZONE = {
    "example.org": "v=spf1 ip4:127.0.0.1 -all",
    "_dmarc.example.org": "v=DMARC1; p=reject; rua=mailto:dmarc@example.org",
    "relaxed.test": "v=spf1 ip4:127.0.0.1 -all",
    "_dmarc.relaxed.test": "v=DMARC1; p=none",
    "nodmarc.test": "v=spf1 ip4:127.0.0.1 -all",
    "victim.test": "v=spf1 -all",
    "_dmarc.victim.test": "v=DMARC1; p=reject",
    "otherfwd.test": "v=spf1 ip4:127.0.0.1 -all",
    "origin.test": "v=spf1 ip4:198.51.100.1 -all",
    "_dmarc.origin.test": "v=DMARC1; p=none",
    OURS: "v=spf1 ip4:%s -all" % FORWARDER_IP,
    SRS_DOMAIN: "v=spf1 ip4:%s -all" % FORWARDER_IP,
    "_dmarc." + OURS: "v=DMARC1; p=reject",
}

HEADER_CHECKS = """\
/^Subject: .*HOLD-ME/ HOLD held by the corpus header_checks
/^Subject: .*DISCARD-ME/ DISCARD discarded by the corpus header_checks
/^Subject: .*REJECT-ME/ REJECT 5.7.1 refused by the corpus header_checks
/^Subject: .*WARN-ME/ WARN warned by the corpus header_checks
"""

# Lines of the daemons' own trouble the corpus provokes in batch B (pflogsumm's
# Warnings, Fatal Errors and Panics): (level, daemon, a piece of the text).
# The warning is real: a web client knocking at the SMTP port. A fatal error
# or a panic cannot be provoked without breaking the instance, so postlog(1)
# writes them through the instance's own logging (postlogd), as Postfix
# programs do.
PROBLEMS = [
    ("warning", "smtpd", "non-SMTP command from localhost[127.0.0.1]: GET / HTTP/1.0"),
    ("fatal", "postlog", "corpus: a fatal error, logged by postlog(1)"),
    ("panic", "postlog", "corpus: a panic, logged by postlog(1)"),
]


def foreign_srs(user, host, via, secret="otherfwd-secret", now=None):
    """An SRS0 address another forwarder (not us: other secret) would write."""
    day = int((now or time.time()) // 86400) % 1024
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    tt = alphabet[day >> 5] + alphabet[day & 31]
    mac = hmac.new(secret.encode(), (tt + host + user).lower().encode(), hashlib.sha1).digest()
    return "SRS0=%s=%s=%s=%s@%s" % (base64.b64encode(mac).decode()[:4], tt, host, user, via)


def domain_of(addr):
    return addr.rsplit("@", 1)[1].lower() if "@" in addr else ""


class Msg:
    """One message sent, and what must become of it.

    deliveries: (recipient, orig_to or None, status, category or None, dsn)
    for every delivery line Postfix writes for it (category None: accepted);
    ndr: (recipient, status, category or None) of the bounce notification
    Postfix sends the real sender, or None."""

    def __init__(self, name, batch, port, sender, rcpts, sender_domain=None, from_hdr=None,
                 subject=None, smtp_error=None, refused=(), deliveries=(), ndr=None,
                 events=()):
        self.name, self.batch, self.port = name, batch, port
        self.sender, self.rcpts = sender, list(rcpts)
        self.sender_domain = sender_domain or domain_of(sender)
        self.from_hdr = from_hdr or sender
        self.subject = "%s %s" % (subject or name, uuid.uuid4().hex[:8])
        self.smtp_error = smtp_error        # SMTP code expected at end of DATA
        self.refused = set(refused)         # recipients refused at RCPT
        self.deliveries = list(deliveries)
        self.ndr = ndr
        self.events = set(events)           # milter_reject, reject, hold, discard, forwarded_as,
                                            # reject_warning

    def srs_by_us(self):
        """fwdauthd rewrote the envelope sender (mail to our forwarded aliases)."""
        return any(orig and orig.startswith("fwd-") for _, orig, _, _, _ in self.deliveries)

    def failures(self):
        out = []
        for rcpt, orig, status, cat, dsn in self.deliveries:
            if cat is not None:
                out.append(dict(recipient=rcpt, orig_to=orig, status=status, category=cat,
                                dsn=dsn, sender_domain=self.sender_domain, notification=False))
        if self.ndr and self.ndr[2] is not None:
            rcpt, status, cat = self.ndr
            dsn = RECEIVERS[domain_of(rcpt)][1][2]
            out.append(dict(recipient=rcpt, orig_to=None, status=status, category=cat, dsn=dsn,
                            sender_domain=self.sender_domain, notification=True))
        return out


def outcome(rcpt, orig=None):
    """The delivery tuple for a recipient at one of RECEIVERS."""
    r = RECEIVERS[domain_of(rcpt)][1]
    if r is None:
        return (rcpt, orig, "sent", None, "2.0.0")
    return (rcpt, orig, r[0], r[1], r[2])


def scenario():
    """The messages, batch A then batch B."""
    fo = "fwd-outlook@" + OURS
    srs_like = foreign_srs("bob", "origin.test", "otherfwd.test")
    m = []
    # -- batch A: forwarding through aliases (fwdauthd rewrites to SRS) ------
    m.append(Msg("A1-outlook", "A", "mx", "alice@example.org", [fo],
                 deliveries=[outcome("user@outlook.test", fo)],
                 ndr=("alice@example.org", "sent", None)))
    m.append(Msg("A2-gmail", "A", "mx", "alice@example.org", ["fwd-gmail@" + OURS],
                 deliveries=[outcome("user@gmail.test", "fwd-gmail@" + OURS)],
                 ndr=("alice@example.org", "sent", None)))
    m.append(Msg("A3-yahoo", "A", "mx", "rita@relaxed.test", ["fwd-yahoo@" + OURS],
                 deliveries=[outcome("user@yahoo.test", "fwd-yahoo@" + OURS)],
                 ndr=("rita@relaxed.test", "sent", None)))
    m.append(Msg("A4-accepted", "A", "mx", "rita@relaxed.test", ["fwd-ok@" + OURS],
                 deliveries=[outcome("user@accept.test", "fwd-ok@" + OURS)]))
    m.append(Msg("A5-local", "A", "mx", "nina@nodmarc.test", ["local@" + OURS],
                 deliveries=[("local@" + OURS, None, "sent", None, "2.0.0")]))
    m.append(Msg("A6-spoof", "A", "mx", "ceo@victim.test", [fo], smtp_error=550,
                 events={"milter_reject"}))
    # Several recipients: an alias to two addresses, another alias, the local
    # mailbox, and an unknown local part (refused at RCPT: NOQUEUE reject).
    m.append(Msg("A7-multi", "A", "mx", "bert@example.org",
                 ["fwd-multi@" + OURS, "fwd-ok@" + OURS, "local@" + OURS, "nouser@" + OURS],
                 refused={"nouser@" + OURS}, events={"reject"},
                 deliveries=[outcome("multi@outlook.test", "fwd-multi@" + OURS),
                             outcome("multi@accept.test", "fwd-multi@" + OURS),
                             outcome("user@accept.test", "fwd-ok@" + OURS),
                             ("local@" + OURS, None, "sent", None, "2.0.0")],
                 ndr=("bert@example.org", "sent", None)))
    m.append(Msg("A8-relay-denied", "A", "mx", "rita@relaxed.test", ["someone@elsewhere.test"],
                 refused={"someone@elsewhere.test"}, events={"reject"}))
    # -- batch B --------------------------------------------------------------
    m.append(Msg("B1-defer", "B", "mx", "alice@example.org", ["fwd-defer@" + OURS],
                 deliveries=[outcome("user@defer.test", "fwd-defer@" + OURS)]))
    m.append(Msg("B2-gmail-spf", "B", "mx", "alice@example.org", ["fwd-gspf@" + OURS],
                 deliveries=[outcome("user@gspf.test", "fwd-gspf@" + OURS)],
                 ndr=("alice@example.org", "sent", None)))
    m.append(Msg("B3-gmail-temp", "B", "mx", "rita@relaxed.test", ["fwd-gtemp@" + OURS],
                 deliveries=[outcome("user@gtemp.test", "fwd-gtemp@" + OURS)]))
    # Direct remote recipients (no alias, no SRS) through the submission port.
    m.append(Msg("B4-direct-outlook", "B", "submission", "carl@example.org",
                 ["carl@outlook.test"], deliveries=[outcome("carl@outlook.test")],
                 ndr=("carl@example.org", "sent", None)))
    # An envelope sender another forwarder rewrote (SRS0 over otherfwd.test,
    # hash by another secret); its notification goes to otherfwd.test, which
    # refuses it: a failed bounce notification.
    m.append(Msg("B5-foreign-srs", "B", "submission", srs_like, ["bob@yahoo.test"],
                 sender_domain="origin.test", from_hdr="bob@origin.test",
                 deliveries=[outcome("bob@yahoo.test")],
                 ndr=(srs_like, "bounced", "mailbox")))
    m.append(Msg("B6-unknown-mailbox", "B", "submission", "rita@relaxed.test",
                 ["ghost@unknown.test"], deliveries=[outcome("ghost@unknown.test")],
                 ndr=("rita@relaxed.test", "sent", None)))
    # local(8) alias expansion: "forwarded as", then the new message goes out.
    m.append(Msg("B7-local-forward", "B", "submission", "nina@nodmarc.test",
                 ["fwdlocal@lists." + OURS], events={"forwarded_as"},
                 deliveries=[("fwdlocal@lists." + OURS, None, "sent", None, "2.0.0"),
                             ("user@accept.test", "fwdlocal@lists." + OURS, "sent", None,
                              "2.0.0")]))
    m.append(Msg("B8-hold", "B", "submission", "nina@nodmarc.test", ["user@accept.test"],
                 subject="B8 HOLD-ME", events={"hold"}))
    m.append(Msg("B9-discard", "B", "submission", "nina@nodmarc.test", ["user@accept.test"],
                 subject="B9 DISCARD-ME", events={"discard"}))
    m.append(Msg("B10-header-reject", "B", "submission", "nina@nodmarc.test",
                 ["user@accept.test"], subject="B10 REJECT-ME", smtp_error=550,
                 events={"reject"}))
    # header_checks WARN: logged as a reject warning, delivered all the same.
    m.append(Msg("B11-header-warn", "B", "submission", "nina@nodmarc.test",
                 ["user@accept.test"], subject="B11 WARN-ME", events={"reject_warning"},
                 deliveries=[outcome("user@accept.test")]))
    return m


def message_bytes(msg):
    return (b"From: <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
            b"Message-ID: <%s@corpus.test>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            b"Hello,\r\n\r\nthis is %s.\r\n" % (
                msg.from_hdr.encode(), ", ".join("<%s>" % r for r in msg.rcpts).encode(),
                msg.subject.encode(), formatdate().encode(), uuid.uuid4().hex.encode(),
                msg.name.encode()))


# Short (hex) and long (enable_long_queue_ids) queue IDs.
QID_RE = re.compile(r"postfix/[\w/-]+\[\d+\]: "
                    r"([0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{12,}): (.*)$")


class Corpus:
    def __init__(self, basedir, main_cf_extra=None):
        """main_cf_extra: more Postfix settings (enable_long_queue_ids = yes ...)."""
        self.dir = basedir
        self.main_cf_extra = dict(main_cf_extra or {})
        self.pf = None
        self.daemon = None
        self.messages = scenario()
        self.provoked = {"B": PROBLEMS}     # batch: the problem lines provoke() writes
        self.cut = None
        self.maillog = None

    # -- set-up ----------------------------------------------------------------
    def _keys_zone_conf(self):
        d = self.dir
        nobody = pwd.getpwnam("nobody")
        kdir = os.path.join(d, "keys")
        os.mkdir(kdir, 0o755)
        r = run([FWDAUTH, "dkim", "keygen", "-d", OURS, "-s", "fwd", "-o", kdir])
        if r.returncode != 0:
            raise RuntimeError("keygen failed: %s" % r.stderr)
        key = os.path.join(kdir, "fwd.private")
        os.chown(key, nobody.pw_uid, nobody.pw_gid)
        zone = dkimpeers.Zone()
        zone.add(*dkimpeers.zone_line_record(r.stdout.strip().splitlines()[-1]))
        for owner, rec in ZONE.items():
            zone.add(owner, rec)
        self.zonefile = zone.write(os.path.join(d, "corpus.zone"))
        kt = os.path.join(d, "KeyTable")
        with open(kt, "w") as f:
            f.write("ourkey %s:fwd:%s\n" % (OURS, key))
        st = os.path.join(d, "SigningTable")
        with open(st, "w") as f:
            f.write("*@%s ourkey\n" % OURS)
        self.secret = os.path.join(d, "srs.secret")
        fwdtest.write_secret(self.secret, SRS_SECRET, owner="nobody")
        self.milter_port = fwdtest.free_port()
        self.smap_port = fwdtest.free_port()
        self.conf = os.path.join(d, "fwdauthd.conf")
        fwdtest.write_config(
            self.conf,
            milter_listen="inet:127.0.0.1:%d" % self.milter_port,
            socketmap_listen="inet:127.0.0.1:%d" % self.smap_port,
            srs_domain=SRS_DOMAIN,
            srs_secrets=self.secret,
            authserv_id=AUTHSERV_ID,
            internal_hosts="192.0.2.254/32",
            dkim_key_table=kt,
            dkim_signing_table="refile:" + st,
            forward_recipients=", ".join("%s@%s" % (a, OURS) for a in sorted(ALIASES)),
            forward_signing_key="ourkey",
            dns_zone_file=self.zonefile,
            dmarc_enforce="reject",
            log_level="info",
        )

    def start(self):
        self._keys_zone_conf()
        d = self.dir
        self.daemon = fwdtest.Daemon(self.conf, os.path.join(d, "fwdauthd.log"))
        fwdtest.wait_for_port(self.milter_port, proc=self.daemon.proc)
        fwdtest.wait_for_port(self.smap_port, proc=self.daemon.proc)

        nobody = pwd.getpwnam("nobody")
        mailbase = os.path.join(d, "vmail")
        os.mkdir(mailbase, 0o755)
        os.chown(mailbase, nobody.pw_uid, nobody.pw_gid)
        self.mailbase = mailbase
        hc = os.path.join(d, "header_checks")
        with open(hc, "w") as f:
            f.write(HEADER_CHECKS)

        self.pf = pf = postfixtest.Postfix(d)
        self.sink_dirs = {dom: pf.sink(dom, args) for dom, (args, _) in RECEIVERS.items()}
        self.maillog = pf.maillog
        self.sub_port = fwdtest.free_port()
        milter = "inet:127.0.0.1:%d" % self.milter_port
        # inline: tables separate entries with commas; { key = a, b } keeps a list.
        aliases = ", ".join("{ %s@%s = %s }" % (a, OURS, ", ".join(t))
                            for a, t in sorted(ALIASES.items()))
        main_cf = {
            "smtpd_milters": milter,
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "5s",
            "milter_protocol": "6",
            # The mx port relays for nobody here (127.0.0.1 is not in it).
            "mynetworks": "192.0.2.254/32",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "virtual_mailbox_domains": OURS,
            "virtual_mailbox_base": mailbase,
            "virtual_mailbox_maps": "inline:{ local@%s=%s/local/ }" % (OURS, OURS),
            "virtual_alias_maps": "inline:{ %s }" % aliases,
            "virtual_uid_maps": "static:%d" % nobody.pw_uid,
            "virtual_gid_maps": "static:%d" % nobody.pw_gid,
            "virtual_transport": "virtual",
            "mydestination": "lists." + OURS,
            "alias_maps": "inline:{ fwdlocal=user@accept.test }",
            "recipient_canonical_maps": "socketmap:inet:127.0.0.1:%d:reverse" % self.smap_port,
            "recipient_canonical_classes": "envelope_recipient",
            "header_checks": "regexp:" + hc,
            # One delivery attempt per deferred message during the run.
            "queue_run_delay": "300s",
            "minimal_backoff_time": "300s",
            "maximal_backoff_time": "300s",
        }
        main_cf.update(self.main_cf_extra)
        master_cf = ("%d inet n - n - - smtpd\n  -o syslog_name=postfix/submission\n"
                     "  -o mynetworks=127.0.0.0/8\n" % self.sub_port)
        pf.start(main_cf, master_cf)
        fwdtest.wait_for_port(self.sub_port)

    def stop(self):
        """Stop Postfix, the sinks and fwdauthd. Never raises."""
        try:
            if self.pf is not None:
                self.pf.stop()
        finally:
            if self.daemon is not None:
                self.daemon.stop()

    # -- sending ---------------------------------------------------------------
    def send(self, msg):
        port = self.pf.smtp_port if msg.port == "mx" else self.sub_port
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
            s.ehlo("client.%s" % (domain_of(msg.sender) or "null.test"))
            try:
                refused = s.sendmail(msg.sender, msg.rcpts, message_bytes(msg))
            except smtplib.SMTPRecipientsRefused as e:
                refused = e.recipients
                if set(refused) != msg.refused or len(refused) != len(msg.rcpts):
                    raise
                return
            except smtplib.SMTPDataError as e:
                if e.smtp_code != msg.smtp_error:
                    raise
                return
        if msg.smtp_error:
            raise AssertionError("%s: accepted, expected %d" % (msg.name, msg.smtp_error))
        if set(refused) != msg.refused:
            raise AssertionError("%s: refused %r, expected %r" % (msg.name, refused, msg.refused))

    def provoke(self, batch):
        """Make Postfix log the batch's problem lines (PROBLEMS)."""
        for level, daemon, piece in self.provoked.get(batch, ()):
            if level == "warning":
                # smtpd_forbidden_commands: smtpd logs a warning and hangs up
                with socket.create_connection(("127.0.0.1", self.pf.smtp_port), 30) as c:
                    c.settimeout(30)
                    c.recv(1024)
                    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    while c.recv(1024):
                        pass
            else:
                # exits 1 after a fatal or panic, as the programs it stands for
                run([POSTLOG, "-c", self.pf.conf, "-p", level, piece])

    def log_lines(self):
        return self.pf.log_text().splitlines()

    def _pending(self, batch_msgs):
        """What the log still lacks for these messages (empty when done)."""
        lines = self.log_lines()
        text = "\n".join(lines)
        missing = []
        for msg in batch_msgs:
            for rcpt, orig, status, cat, dsn in msg.deliveries:
                pat = "to=<%s>, %srelay=" % (rcpt, "orig_to=<%s>, " % orig if orig else "")
                if not any(pat in l and "status=" + status in l for l in lines):
                    missing.append("%s: %s %s" % (msg.name, pat, status))
            if msg.ndr:
                rcpt, status, _ = msg.ndr
                if not any("to=<%s>" % rcpt in l and "status=" + status in l for l in lines):
                    missing.append("%s: notification to %s" % (msg.name, rcpt))
            for ev, word in (("milter_reject", "milter-reject:"), ("hold", " hold: "),
                             ("discard", " discard: "), ("reject_warning", " warning: header ")):
                if ev in msg.events and not any(word in l and msg.subject in l or
                                                (ev == "milter_reject" and word in l and
                                                 msg.sender in l) for l in lines):
                    missing.append("%s: %s" % (msg.name, word))
        # Every queue file that got a final delivery or a notification is
        # removed; deferred and held ones stay.
        state = {}
        for l in lines:
            m = QID_RE.search(l)
            if not m:
                continue
            qid, rest = m.groups()
            if rest == "removed":
                state[qid] = "removed"
            elif "status=deferred" in rest or rest.startswith(("hold:", "discard:")) or \
                    "milter-reject:" in rest or rest.startswith("reject: header"):
                state[qid] = "stays"
            elif rest.startswith(("client=", "message-id=")) and state.get(qid) == "removed":
                state[qid] = "open"         # a short queue ID used again
            else:
                state.setdefault(qid, "open")
        for batch, (level, daemon, piece) in ((b, p) for b, ps in self.provoked.items()
                                              for p in ps):
            if batch in {m.batch for m in batch_msgs} and not any(
                    "/%s[" % daemon in l and " %s: " % level in l and piece in l for l in lines):
                missing.append("%s line of %s: %s" % (level, daemon, piece))
        if "removed" not in text or any(v == "open" for v in state.values()):
            missing.append("open queue files: %s" % sorted(q for q, v in state.items()
                                                           if v == "open"))
        return missing

    def wait_batch(self, batch_msgs, timeout=40):
        deadline = time.monotonic() + timeout
        quiet_since = None
        last = None
        while True:
            missing = self._pending(batch_msgs)
            n = len(self.log_lines())
            if not missing:
                # settled: nothing new for half a second
                if last == n and quiet_since and time.monotonic() - quiet_since > 0.5:
                    return
                if last != n:
                    quiet_since = time.monotonic()
            last = n
            if time.monotonic() > deadline:
                raise AssertionError("Postfix did not log everything within %ds: %s\n%s" %
                                     (timeout, missing, self.pf.log_text()[-6000:]))
            time.sleep(0.1)

    def run(self):
        """Start everything, send batch A, wait, pass a whole second (cut),
        send batch B, wait, stop Postfix, the sinks and fwdauthd."""
        self.start()
        t0 = time.monotonic()
        for batch in ("A", "B"):
            msgs = [m for m in self.messages if m.batch == batch]
            for msg in msgs:
                self.send(msg)
            self.provoke(batch)
            self.wait_batch(msgs)
            if batch == "A":
                # Every A line is stamped before cut, every B line at or after
                # cut + 1 (classic stamps are whole seconds).
                self.cut = int(time.time()) + 1
                while time.time() < self.cut + 1.05:
                    time.sleep(0.05)
        self.stop()
        self.elapsed = time.monotonic() - t0
        return self.maillog

    # -- expectations ------------------------------------------------------------
    def expected_groups(self, batches=("A", "B")):
        """{(category, status, sender_domain, recipient_domain):
        {count, forwarded, dsns, replies, notification}} of the failures."""
        groups = {}
        for msg in self.messages:
            if msg.batch not in batches:
                continue
            for f in msg.failures():
                key = (f["category"], f["status"], f["sender_domain"],
                       domain_of(f["recipient"]))
                g = groups.setdefault(key, dict(count=0, forwarded=0, dsns=set(), replies=set(),
                                                notification=False))
                g["count"] += 1
                g["forwarded"] += 1 if f["orig_to"] else 0
                g["dsns"].add(f["dsn"])
                g["replies"].add(RECEIVERS[domain_of(f["recipient"])][1][3])
                g["notification"] |= f["notification"]
        return groups

    def expected_totals(self, batches=("A", "B")):
        """The Grand Totals as pflogsumm counts them (per recipient for
        deliveries), from the scenario alone; plus ours: alias_forwarded
        counts delivered relayed mail logged with orig_to= (virtual alias
        and local(8) expansion), not notifications sent back to the real
        sender of an SRS address."""
        t = dict(received=0, delivered=0, forwarded=0, deferred=0, deferrals=0, bounced=0,
                 rejected=0, milter_rejected=0, held=0, discarded=0, notifications=0,
                 alias_forwarded=0, auth_failures=0, failures=0, reject_warnings=0)
        auth = {"dmarc", "spf", "dkim", "alignment", "bulk"}
        for msg in self.messages:
            if msg.batch not in batches:
                continue
            accepted = [r for r in msg.rcpts if r not in msg.refused]
            if accepted:
                t["received"] += 1
            t["rejected"] += len(msg.refused)
            if "milter_reject" in msg.events:
                t["rejected"] += 1
                t["milter_rejected"] += 1
            if "reject" in msg.events and msg.smtp_error:
                t["rejected"] += 1          # cleanup header reject
            t["held"] += "hold" in msg.events
            t["discarded"] += "discard" in msg.events
            t["reject_warnings"] += "reject_warning" in msg.events
            deferred = False
            for rcpt, orig, status, cat, dsn in msg.deliveries:
                if status == "sent":
                    if rcpt.startswith("fwdlocal@"):
                        t["forwarded"] += 1  # local(8) "forwarded as"
                    else:
                        t["delivered"] += 1
                        t["alias_forwarded"] += 1 if orig else 0
                elif status == "bounced":
                    t["bounced"] += 1
                elif status == "deferred":
                    t["deferrals"] += 1
                    deferred = True
                if cat:
                    t["failures"] += 1
                    t["auth_failures"] += cat in auth
            t["deferred"] += deferred
            if msg.ndr:
                t["notifications"] += 1
                rcpt, status, cat = msg.ndr
                if status == "sent":
                    t["delivered"] += 1
                    # recipient_canonical_maps turned our SRS address back
                    # into the sender's (logged with orig_to=<SRS0=...>): a
                    # bounce coming home, not forwarding

                else:
                    t["bounced"] += 1
                    t["failures"] += 1
                    t["auth_failures"] += cat in auth
        return t

    def expected_problems(self, batches=("A", "B")):
        """{(level, daemon): count} of the problem lines provoked."""
        out = {}
        for batch in batches:
            for level, daemon, _ in self.provoked.get(batch, ()):
                out[(level, daemon)] = out.get((level, daemon), 0) + 1
        return out

    def summary(self):
        """The run's expectations as tests/data/maillog/*.expected.json keeps
        them: totals (whole log, before and after the cut) and failure groups
        in the shape of `fwdauth logscan --format json` (reply: a piece of
        the receiver's text the report must keep), from the scenario alone."""
        def groups(batches):
            return [dict(category=k[0], status=k[1], sender_domain=k[2], recipient_domain=k[3],
                         count=v["count"], forwarded=v["forwarded"], dsn=sorted(v["dsns"])[0],
                         reply=sorted(v["replies"])[0])
                    for k, v in sorted(self.expected_groups(batches).items())]
        year = time.localtime(os.stat(self.maillog).st_mtime).tm_year
        with open(self.maillog) as f:
            nlines = len(f.read().splitlines())
        policies = {}
        for owner, rec in ZONE.items():
            if owner.startswith("_dmarc."):
                policies[owner[7:]] = re.search(r"\bp=(\w+)", rec).group(1)
        return {
            "comment": "Generated by tests/integration/maillogcorpus.py from one real Postfix "
                       "run; classic stamps without a year: read with --year %d. cut: the first "
                       "second of batch B (--since/--until @cut)." % year,
            "year": year,
            "lines": nlines,
            "cut": self.cut,
            "totals": self.expected_totals(),
            "totals_until_cut": self.expected_totals(("A",)),
            "totals_since_cut": self.expected_totals(("B",)),
            "failures": groups(("A", "B")),
            "failures_until_cut": groups(("A",)),
            "failures_since_cut": groups(("B",)),
            "dmarc_policy": policies,
        }


def main(argv):
    """Write one run's log and expectations as OUTDIR/postfix-corpus.log and
    OUTDIR/postfix-corpus.expected.json (the fixtures in tests/data/maillog)."""
    if len(argv) != 2:
        print("usage: maillogcorpus.py OUTDIR", file=sys.stderr)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    d = tempfile.mkdtemp(prefix="fwdauth-corpus-")
    os.chmod(d, 0o755)
    c = Corpus(d)
    try:
        c.run()
        log = os.path.join(out, "postfix-corpus.log")
        shutil.copy2(c.maillog, log)
        with open(os.path.join(out, "postfix-corpus.expected.json"), "w") as f:
            json.dump(c.summary(), f, indent=1, sort_keys=True)
            f.write("\n")
        print("%s: %d lines in %.1fs" % (log, len(c.log_lines()), c.elapsed))
    finally:
        c.stop()
        shutil.rmtree(d, True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
