"""fwdauth send against a real Postfix submission service.

One private Postfix for the class (postfixtest.py): STARTTLS required
(smtpd_tls_security_level = encrypt) with a self-signed certificate made
here, SASL AUTH (PLAIN, LOGIN) by a private Dovecot, AUTH only
over TLS, relaying only for authenticated clients, one recipient refused by
an access map; mail for remote.test goes to an smtp-sink. Servers without
STARTTLS, and one that refuses at end of DATA, are bare smtp-sinks.
"""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import fwdtest
import postfixtest

SASL_USER = "submitter"
PASSWORD = "Sw0rdfish-Pa55-7f3c"
OPENSSL = "/usr/bin/openssl"


TOOLS = (postfixtest.POSTFIX, postfixtest.SMTP_SINK, OPENSSL, postfixtest.DOVECOT)


def strip_sink_lines(raw):
    """The message as the sink received it, without the X-* envelope lines
    smtp-sink puts above it."""
    lines = raw.split(b"\n")
    i = 0
    while i < len(lines) and lines[i].split(b":", 1)[0] in (
            b"X-Client-Addr", b"X-Client-Proto", b"X-Helo-Args", b"X-Mail-Args",
            b"X-Rcpt-Args"):
        i += 1
    return b"\n".join(lines[i:])


class SendTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        fwdtest.require(os.geteuid() == 0, "needs root to run Postfix")
        fwdtest.require_programs(*TOOLS)
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-send-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        d = cls.dir

        # A self-signed certificate for localhost and 127.0.0.1.
        cls.cert = os.path.join(d, "cert.pem")
        cls.certkey = os.path.join(d, "certkey.pem")
        r = fwdtest.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                         "-subj", "/CN=localhost", "-addext",
                         "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", cls.certkey,
                         "-out", cls.cert])
        if r.returncode != 0:
            raise RuntimeError("openssl req failed: %s" % r.stderr)
        os.chmod(cls.certkey, 0o600)

        # SASL AUTH by a private Dovecot (see postfixtest.DovecotAuth for
        # why not Cyrus).
        cls.auth = postfixtest.DovecotAuth(d, {SASL_USER: PASSWORD})
        cls.addClassCleanup(cls.auth.stop)

        # The client's password files: ours (0600) and a wrong one.
        cls.pwfile = os.path.join(d, "password")
        fwdtest.write_secret(cls.pwfile, PASSWORD)
        cls.badpwfile = os.path.join(d, "badpassword")
        fwdtest.write_secret(cls.badpwfile, "not-" + PASSWORD)

        # A DKIM key for example.org and a zone that publishes it.
        r = fwdtest.run([fwdtest.FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "sel",
                         "-o", d, "--json"])
        if r.returncode != 0:
            raise RuntimeError("keygen failed: %s" % r.stderr)
        cls.key = json.loads(r.stdout)
        cls.keyfile = os.path.join(d, "sel.private")
        cls.zone = os.path.join(d, "zone")
        with open(cls.zone, "w") as f:
            f.write(cls.key["zone_line"].rstrip("\n") + "\n")

        cls.pf = postfixtest.Postfix(d)
        cls.addClassCleanup(cls.pf.stop)
        cls.sink_dir = cls.pf.sink("remote.test")
        cls.pf.start({
            "smtpd_tls_security_level": "encrypt",
            "smtpd_tls_cert_file": cls.cert,
            "smtpd_tls_key_file": cls.certkey,
            "smtpd_tls_auth_only": "yes",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": cls.auth.socket,
            "smtpd_sasl_security_options": "noanonymous",
            "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
            "smtpd_recipient_restrictions":
                "check_recipient_access inline:{ bad@remote.test=REJECT }, "
                "permit_sasl_authenticated, reject",
            "smtp_tls_security_level": "none",
        })
        cls.server = "127.0.0.1:%d" % cls.pf.smtp_port

    # -- helpers ---------------------------------------------------------------
    def message(self, subject, extra=""):
        path = os.path.join(self.dir, subject.replace(" ", "_") + ".eml")
        with open(path, "wb") as f:
            f.write(("From: \"Alice Example\" <alice@example.org>\r\n"
                     "To: Bob <good@remote.test>, undisclosed:;\r\n"
                     "Cc: \"Carol, C.\" <cc@remote.test> (the boss)\r\n"
                     "Bcc: Hidden\r\n"
                     " <hidden@remote.test>\r\n"
                     "Subject: %s\r\n"
                     "%s"
                     "\r\n"
                     "Hello,\r\n"
                     ".a line that starts with a dot\r\n"
                     "\r\nbye\r\n" % (subject, extra)).encode())
        return path

    def send(self, *args, server=None, auth=True, pwfile=None, ca=True):
        cmd = [fwdtest.FWDAUTH, "send", "--server", server or self.server]
        if auth:
            cmd += ["--user", SASL_USER, "--password-file", pwfile or self.pwfile]
        if ca:
            cmd += ["--ca-file", self.cert]
        return fwdtest.run(cmd + list(args))

    def delivered(self, subject):
        return postfixtest.wait_for_delivery(self.sink_dir, 60,
                                             match=lambda m: m.header("Subject") == subject)[0]

    def assertNoPassword(self, *texts):
        secrets = [PASSWORD,
                   base64.b64encode(PASSWORD.encode()).decode(),
                   base64.b64encode(("\0%s\0%s" % (SASL_USER, PASSWORD)).encode()).decode(),
                   base64.b64encode(("%s\0%s\0%s" % (SASL_USER, SASL_USER, PASSWORD)).encode()
                                    ).decode()]
        for t in texts:
            for s in secrets:
                self.assertNotIn(s, t)

    def setUp(self):
        self.dir = fwdtest.make_tempdir(self)

    # -- cases -----------------------------------------------------------------
    def test_sign_and_send_with_starttls_and_auth(self):
        subject = "signed and sent"
        path = self.message(subject)
        r = self.send("-d", "example.org", "-s", "sel", "-k", self.keyfile, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNoPassword(r.stdout, r.stderr)
        # One line says it was sent, with Postfix's reply and its queue ID...
        sent = re.fullmatch(r"sent to 3 recipients via 127\.0\.0\.1:%d: "
                            r"250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)\n" % self.pf.smtp_port,
                            r.stdout)
        self.assertIsNotNone(sent, r.stdout)
        m = self.delivered(subject)
        # ...the ID Postfix wrote into its Received: field of that message.
        received = " ".join(m.msg.get_all("Received", []))
        self.assertRegex(received, r"\bid %s\b" % sent.group(1))
        # Envelope: From's address; To, Cc and Bcc addresses, not the group.
        self.assertEqual(m.mail_from, "alice@example.org")
        self.assertEqual(sorted(m.rcpt_to),
                         ["cc@remote.test", "good@remote.test", "hidden@remote.test"])
        # Bcc is gone from what was sent; Date and Message-ID were added.
        self.assertIsNone(m.header("Bcc"))
        body = strip_sink_lines(m.raw)
        self.assertNotIn(b"hidden@remote.test", body.split(b"\r\n\r\n", 1)[0])
        self.assertIsNotNone(m.header("Date"))
        self.assertTrue(m.header("Message-ID").endswith("@example.org>"))
        self.assertIn(b"\n.a line that starts with a dot", body)
        # The delivered message verifies with fwdauth (zone) and with dkimpy.
        delivered = os.path.join(self.dir, "delivered.eml")
        with open(delivered, "wb") as f:
            f.write(body)
        v = fwdtest.run([fwdtest.FWDAUTH, "dkim", "verify", "--dns-zone", self.zone, delivered])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertTrue(v.stdout.startswith("pass d=example.org s=sel"), v.stdout)
        record = self.key["record"]
        py = ("import dkim, sys\n"
              "msg = open(sys.argv[1], 'rb').read()\n"
              "rec = sys.argv[2].encode()\n"
              "ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: rec)\n"
              "sys.exit(0 if ok else 1)\n")
        v = fwdtest.run(["/usr/bin/python3", "-c", py, delivered, record])
        self.assertEqual(v.returncode, 0, "dkimpy: " + v.stdout + v.stderr)

    def test_json_reports_the_queue_id(self):
        subject = "json report"
        r = self.send("--json", "--to", "good@remote.test", self.message(subject))
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual({k: doc[k] for k in ("sent", "server", "from", "recipients", "code")},
                         {"sent": True, "server": self.server, "from": "alice@example.org",
                          "recipients": ["good@remote.test"], "code": 250})
        self.assertRegex(doc["queue_id"], r"^[0-9A-Za-z]+$")
        self.assertEqual(doc["reply"], "250 2.0.0 Ok: queued as " + doc["queue_id"])
        m = self.delivered(subject)
        self.assertRegex(" ".join(m.msg.get_all("Received", [])), r"\bid %s\b" % doc["queue_id"])

    def test_server_without_auth(self):
        """--user against a server that offers no AUTH: nothing is sent, and
        the error says the server offers none (not "authentication refused")."""
        sink = postfixtest.Sink(self.dir, "noauth.test", ("-a",))
        self.addCleanup(sink.stop)
        server = "127.0.0.1:%d" % sink.port
        r = self.send("--no-tls", self.message("no auth offered"), server=server, ca=False)
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertEqual(r.stderr, "fwdauth send: %s offered no AUTH; refusing to send without "
                         "authenticating as %s\n" % (server, SASL_USER))
        self.assertNotIn("authentication refused", r.stderr)
        self.assertEqual(postfixtest.sink_messages(sink.dir), [])
        # Without --user the same server takes it; smtp-sink names no queue ID.
        r = self.send("--no-tls", "--json", self.message("no auth needed"), server=server,
                      auth=False, ca=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["sent"], doc["queue_id"], doc["reply"]),
                         (True, None, "250 2.0.0 Ok"))

    def test_wrong_password_is_refused(self):
        r = self.send(self.message("wrong password"), pwfile=self.badpwfile)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("authentication refused", r.stderr)
        self.assertIn("535", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertNoPassword(r.stdout, r.stderr)

    def test_self_signed_certificate_needs_ca_file_or_insecure(self):
        subject = "insecure send"
        r = self.send(self.message(subject), ca=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("certificate verification failed", r.stderr)
        r = self.send("--insecure", self.message(subject), ca=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.delivered(subject)

    def test_recipient_rejected(self):
        r = self.send("--to", "good@remote.test", "--to", "bad@remote.test",
                      self.message("bad recipient"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("recipient bad@remote.test rejected", r.stderr)
        self.assertIn("Access denied", r.stderr)

    def test_unauthenticated_relay_refused(self):
        r = self.send(self.message("no auth"), auth=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("rejected", r.stderr)

    def test_no_starttls_refuses_to_send_in_clear(self):
        sink = postfixtest.Sink(self.dir, "plain.test")
        self.addCleanup(sink.stop)
        server = "127.0.0.1:%d" % sink.port
        r = self.send(self.message("clear"), server=server, auth=False, ca=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("does not offer STARTTLS", r.stderr)
        self.assertIn("refusing to send in clear", r.stderr)
        self.assertEqual(postfixtest.sink_messages(sink.dir), [])
        # The password is never sent without TLS to another host...
        r = self.send("--no-tls", self.message("clear"), server="192.0.2.1:25", ca=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        # ...and --no-tls (a relay on this host) sends in clear.
        r = self.send("--no-tls", self.message("clear"), server=server, auth=False, ca=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        msgs = postfixtest.wait_for_delivery(sink.dir, 30)
        self.assertEqual(sorted(msgs[0].rcpt_to),
                         ["cc@remote.test", "good@remote.test", "hidden@remote.test"])

    def test_rejected_at_end_of_data_shows_the_reply(self):
        sink = postfixtest.Sink(self.dir, "strict.test",
                                ("-f", ".", "-B", "550 5.7.509 Access denied, sending domain "
                                 "[example.org] does not pass DMARC verification"))
        self.addCleanup(sink.stop)
        r = self.send("--no-tls", self.message("end of data"),
                      server="127.0.0.1:%d" % sink.port, auth=False, ca=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("message rejected at end of DATA: 550 5.7.509 Access denied", r.stderr)

    def run_measured(self, cmd, stdin_path):
        """Run cmd with stdin from a file; assert exit 0; its peak RSS in KB."""
        errpath = stdin_path + ".err"
        with open(stdin_path, "rb") as stdin, open(errpath, "wb") as err:
            p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
        with open(errpath) as err:
            self.assertEqual(p.returncode, 0, err.read())
        return usage.ru_maxrss

    def test_large_lf_message_streams_in_constant_memory(self):
        """A 16 MB message with bare LF line endings, read from standard
        input: signed, sent with CRLF (and dot-stuffed), still verifies;
        the client's memory stays far below the message size."""
        sink = postfixtest.Sink(self.dir, "big.test")
        self.addCleanup(sink.stop)
        path = os.path.join(self.dir, "big.eml")
        line = b"." + b"x" * 98 + b"\n"
        with open(path, "wb") as f:
            f.write(b"From: alice@example.org\nTo: big@big.test\nSubject: big\n\n")
            for _ in range(16 * 1024 * 1024 // len(line)):
                f.write(line)
        small = os.path.join(self.dir, "small.eml")
        with open(small, "wb") as f:
            f.write(b"From: alice@example.org\nTo: small@big.test\nSubject: small\n\nhi\n")
        cmd = [fwdtest.FWDAUTH, "send", "--server", "127.0.0.1:%d" % sink.port, "--no-tls",
               "-d", "example.org", "-s", "sel", "-k", self.keyfile]
        small_kb = self.run_measured(cmd, small)
        big_kb = self.run_measured(cmd, path)
        # libcurl and OpenSSL make the baseline; the message adds nothing.
        self.assertLess(big_kb, small_kb + 4096, "%d KB for 16 MB, %d KB for 60 octets" %
                        (big_kb, small_kb))
        postfixtest.wait_for_delivery(sink.dir, 60, count=2)
        m = postfixtest.wait_for_delivery(
            sink.dir, 60, match=lambda m: m.header("Subject") == "big")[0]
        body = strip_sink_lines(m.raw)
        # Every line arrived, its leading "." intact (dot-stuffing needs CRLF).
        lines = 16 * 1024 * 1024 // len(line)
        self.assertEqual(body.count(b"\n" + line.rstrip(b"\n")), lines, "lines lost or changed")
        delivered = os.path.join(self.dir, "big-delivered.eml")
        with open(delivered, "wb") as f:
            f.write(body)
        v = fwdtest.run([fwdtest.FWDAUTH, "dkim", "verify", "--dns-zone", self.zone, delivered])
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

    def test_connection_refused(self):
        port = fwdtest.free_port()
        r = self.send(self.message("refused"), server="127.0.0.1:%d" % port)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("connection refused", r.stderr)

    def test_verbose_never_shows_the_password(self):
        subject = "verbose"
        r = self.send("--verbose", self.message(subject))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("STARTTLS", r.stderr)
        self.assertIn("AUTH", r.stderr)
        self.assertIn("235", r.stderr)
        self.assertIn("[credentials hidden]", r.stderr)
        self.assertNoPassword(r.stdout, r.stderr)
        self.delivered(subject)
        r = self.send("--verbose", self.message("verbose bad"), pwfile=self.badpwfile)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNoPassword(r.stdout, r.stderr)
        self.assertNoPassword(self.pf.log_text())

    def test_password_file_readable_by_others_refused(self):
        loose = os.path.join(self.dir, "loose")
        with open(loose, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(loose, 0o644)
        r = self.send(self.message("loose"), pwfile=loose)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNoPassword(r.stdout, r.stderr)

    def test_usage_errors(self):
        msg = self.message("usage")
        for args in (["send", msg],  # no --server
                     ["send", "--server", self.server, "--tls", "--no-tls", msg],
                     ["send", "--server", self.server, "--user", "u", msg],
                     ["send", "--server", "bad/host", msg],
                     ["send", "--server", self.server, "-d", "example.org", msg]):
            r = fwdtest.run([fwdtest.FWDAUTH, *args])
            self.assertEqual(r.returncode, 2, "%s: %s" % (args, r.stderr))
        # A From that does not parse needs --from.
        bad = os.path.join(self.dir, "bad.eml")
        with open(bad, "w") as f:
            f.write("From: not an address\nTo: good@remote.test\n\nbody\n")
        r = fwdtest.run([fwdtest.FWDAUTH, "send", "--server", self.server, bad])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("From", r.stderr)


if __name__ == "__main__":
    unittest.main()
