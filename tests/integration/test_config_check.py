"""fwdauthd -t, -n and -a on real files, with the real fwdauthd binary.

Issue 10: a configuration copied from the README, whose lines end in
"# comments", used to load with the comment as part of each value (trusting
the authserv-ids "#", "upstream", ...). Every such line is now refused, by
-t and at start, with FILE:LINE. -t also loads everything a start loads (the
secrets, the key tables and every key, the ARC key, the zone file) and
test-binds every listen address; -n and -a print the settings so that they
load back unchanged.
"""
import os
import re
import unittest

import fwdtest
from fwdtest import FWDAUTH, FWDAUTHD, run

# The milter block of README.md before issue 10, its paths and key name
# made to exist here: only the trailing comment is wrong on each line.
README_LINES = [
    "authserv_id = mx.example.net              # our name in Authentication-Results",
    "dkim_key_table = {kt}    # OpenDKIM's format: NAME DOMAIN:SELECTOR:KEYFILE",
    "dkim_signing_table = refile:{st}   # *@example.net  NAME",
    "internal_hosts = 127.0.0.0/8, ::1         # clients whose mail is ours (and gets signed)",
    "forward_recipients = alias@example.net, @lists.example.net   # mail to these is forwarded",
    "forward_signing_key = ourkey                # KeyTable entry for our signature on forwarded mail",
    "srs_forwarded_mail = yes                  # SRS the envelope sender of forwarded mail only",
    "dmarc_enforce = tag                       # off, tag, quarantine or reject (see below)",
    "dmarc_mode = rfc7489                      # or rfc9989 (DMARCbis DNS tree walk)",
    "arc_domain = example.net                  # ARC-seal forwarded mail (all three together)",
    "from_rewrite = reject                     # off, reject, reject-and-quarantine, always",
    "from_rewrite_address = forwarder@example.net   # in forward_signing_key's domain",
    "trusted_authserv_ids = gw.example.net     # upstream Authentication-Results we believe",
    "metrics_listen = inet:127.0.0.1:{mport}      # or inet:[::1]:9478; empty (default) = off",
]

TRAILING = "trailing comments are not allowed in fwdauthd.conf"


class ConfigCheck(fwdtest.TestCase):
    """A complete, good configuration (SRS tables and the milter with every
    file it can name) that each test breaks in one place."""

    def setUp(self):
        super().setUp()
        self.secrets = os.path.join(self.dir, "srs-secrets")
        fwdtest.write_secret(self.secrets, "s3cr3t-for-the-config-test")
        self.keys = os.path.join(self.dir, "keys")
        os.mkdir(self.keys, 0o700)
        for sel in ("fwd", "arc2026"):
            r = run([FWDAUTH, "dkim", "keygen", "-d", "example.net", "-s", sel, "-t", "ed25519",
                     "-o", self.keys])
            self.assertEqual(r.returncode, 0, r.stderr)
        self.kt = os.path.join(self.dir, "KeyTable")
        self.st = os.path.join(self.dir, "SigningTable")
        with open(self.kt, "w") as f:
            f.write("ourkey example.net:fwd:%s/fwd.private\n" % self.keys)
        with open(self.st, "w") as f:
            f.write("*@example.net ourkey\n")
        self.zone = os.path.join(self.dir, "z.zone")
        with open(self.zone, "w") as f:
            f.write("fwd._domainkey.example.net. TXT \"v=DKIM1; k=ed25519; p=\"\n")
        self.conf = os.path.join(self.dir, "fwdauthd.conf")
        self.ports = {k: fwdtest.free_port() for k in ("sm", "fwd", "rev", "milter", "metrics")}

    def settings(self, **extra):
        s = {
            "srs_domain": "srs.example.net",
            "srs_secrets": self.secrets,
            "local_domains": "example.net, .example.net",
            "socketmap_listen": "unix:%s/srs.sock" % self.dir,
            "tcp_forward_listen": "inet:127.0.0.1:%d" % self.ports["fwd"],
            "tcp_reverse_listen": "inet:127.0.0.1:%d" % self.ports["rev"],
            "milter_listen": "inet:127.0.0.1:%d" % self.ports["milter"],
            "metrics_listen": "inet:127.0.0.1:%d" % self.ports["metrics"],
            "authserv_id": "mx.example.net",
            "dkim_key_table": self.kt,
            "dkim_signing_table": "refile:" + self.st,
            "forward_recipients": "alias@example.net, @lists.example.net",
            "forward_signing_key": "ourkey",
            "arc_domain": "example.net",
            "arc_selector": "arc2026",
            "arc_key": os.path.join(self.keys, "arc2026.private"),
            "from_rewrite": "reject",
            "from_rewrite_address": "forwarder@example.net",
            "trusted_authserv_ids": "gw.example.net",
            "dns_zone_file": self.zone,
        }
        s.update(extra)
        return {k: v for k, v in s.items() if v is not None}

    def write(self, settings=None, text=None):
        """Write the configuration; returns {key: line number}."""
        if text is None:
            text = "".join("%s = %s\n" % kv for kv in settings.items())
        with open(self.conf, "w") as f:
            f.write(text)
        lines = {}
        for i, line in enumerate(text.splitlines(), 1):
            m = re.match(r"(\w+)\s*=", line)
            if m:
                lines[m.group(1)] = i
        return lines

    def check(self, *args):
        return run([FWDAUTHD, "-c", self.conf, *(args or ("-t",))])

    def at(self, lines, key):
        return "%s:%d: " % (self.conf, lines[key])

    def assertProblem(self, r, *texts):
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        for t in texts:
            self.assertIn(t, r.stderr)
        self.assertNotIn("configuration OK", r.stdout)

    def test_good(self):
        self.write(self.settings())
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertIn("configuration OK (4 listeners, 1 SRS secret)", r.stdout)
        # -t took nothing: the daemon can bind every address afterwards
        self.assertFalse(os.path.exists(os.path.join(self.dir, "srs.sock")))
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith(".fwdauthd-t")], [])

    def test_postfix_content_checks_that_change_mail_are_warned(self):
        # Issue 11: Postfix's header_checks/body_checks run before milters (a
        # REPLACE there breaks what fwdauthd verifies) and smtp_*_checks after
        # them (breaking our signature): -t warns, naming the table's line.
        fwdtest.require_programs("/usr/sbin/postconf")
        pf = os.path.join(self.dir, "postfix")
        os.mkdir(pf)
        with open(os.path.join(pf, "hc"), "w") as f:
            f.write("# tag forwarded mail\n/^X-Spam: yes/ DISCARD\n"
                    "/^Subject: (.*)/ REPLACE Subject: [fwd] ${1}\n")
        with open(os.path.join(pf, "sbc"), "w") as f:
            f.write("/^-- $/ PREPEND Footer-Follows: yes\n")
        with open(os.path.join(pf, "quiet"), "w") as f:
            f.write("/^Subject:.*viagra/ REJECT no\n")
        with open(os.path.join(pf, "main.cf"), "w") as f:
            f.write("header_checks = regexp:%s/quiet, regexp:%s/hc\n"
                    "smtp_body_checks = regexp:%s/sbc\n" % (pf, pf, pf))
        self.write(self.settings(postfix_config_directory=pf))
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)  # warnings, not problems
        self.assertIn("configuration OK", r.stdout)
        self.assertIn("with warnings", r.stdout)
        self.assertRegex(r.stderr, r"warning: Postfix header_checks = regexp:\S+/hc: \S+/hc:3 "
                         r"changes messages \(REPLACE or PREPEND\) before milters see them")
        self.assertRegex(r.stderr, r"warning: Postfix smtp_body_checks = regexp:\S+/sbc: "
                         r"\S+/sbc:1 changes messages \(REPLACE or PREPEND\) after fwdauthd "
                         r"signed them")
        self.assertNotIn("/quiet", r.stderr)
        # Without forwarding there is nothing to warn about.
        self.write(self.settings(postfix_config_directory=pf, forward_recipients=None,
                                 from_rewrite=None, from_rewrite_address=None))
        r = self.check()
        self.assertEqual((r.returncode, r.stderr), (0, ""))

    def readme_line(self, i):
        return README_LINES[i].format(kt=self.kt, st=self.st, mport=self.ports["metrics"])

    def test_each_readme_line_refused_by_t_and_at_start(self):
        for i in range(len(README_LINES)):
            line = self.readme_line(i)
            key = line.split()[0]
            with self.subTest(key=key):
                base = self.settings(**{key: None})
                text = "".join("%s = %s\n" % kv for kv in base.items()) + "\n" + line + "\n"
                lineno = text.count("\n")  # the last line
                self.write(text=text)
                r = self.check()
                where = "%s:%d: %s: " % (self.conf, lineno, key)
                self.assertProblem(r, where + TRAILING, "put the comment on its own line above",
                                   "%s: 1 problem" % self.conf)
                # The daemon refuses to start with it, with the same words.
                d = fwdtest.Daemon(self.conf, os.path.join(self.dir, "d%d.log" % i))
                self.addCleanup(d.stop)
                self.assertEqual(d.proc.wait(30), 2)
                self.assertIn(where + TRAILING, d.logtext())
                # Without the comment the same line is good.
                self.write(text=text.replace(line, line.split("#")[0].rstrip()))
                r = self.check()
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_whole_readme_block_every_line_reported(self):
        base = self.settings()
        keys = [self.readme_line(i).split()[0] for i in range(len(README_LINES))]
        for k in keys:
            base.pop(k, None)
        head = "".join("%s = %s\n" % kv for kv in base.items())
        text = head + "".join(self.readme_line(i) + "\n" for i in range(len(README_LINES)))
        lines = self.write(text=text)
        r = self.check()
        self.assertProblem(r, "%s: %d problems" % (self.conf, len(README_LINES)))
        for k in keys:
            self.assertIn(self.at(lines, k) + k + ": " + TRAILING, r.stderr)
        # -n refuses it too: no dump of a configuration that does not load
        r = self.check("-n")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn(TRAILING, r.stderr)

    def test_typed_values_name_file_line_and_expectation(self):
        cases = [
            ("authserv_id", "mx.example.net;", "expected an authserv-id (RFC 8601)"),
            ("trusted_authserv_ids", "gw.example.net, \"x\"", "entry \"\"x\"\": expected an "
             "authserv-id"),
            ("arc_domain", "example.net.", "expected a domain name"),
            ("from_rewrite_address", "Forwarder <forwarder@example.net>",
             "expected a plain address local@domain"),
            ("internal_hosts", "10.0.0.0/33", "bad prefix length"),
            ("srs_secrets", "srs-secrets", "expected an absolute path"),
            ("milter_listen", "inet:127.0.0.1", "expected inet:HOST:PORT"),
            ("dns_server", "resolver.example.net", "expected numeric resolver addresses"),
            ("user", "no body", "expected a user name"),
            ("arc_selector", "arc_2026", "expected a DKIM selector"),
            ("srs_forwarded_mail", "true", "expected one of no, yes"),
        ]
        for key, value, expect in cases:
            with self.subTest(key=key):
                lines = self.write(self.settings(**{key: value}))
                r = self.check()
                self.assertProblem(r, self.at(lines, key) + key, expect)

    def test_listen_address_that_cannot_bind(self):
        port = fwdtest.free_port()
        lines = self.write(self.settings(tcp_forward_listen="inet:192.0.2.1:%d" % port))
        r = self.check()
        self.assertProblem(r, self.at(lines, "tcp_forward_listen") +
                           "tcp_forward_listen: inet:192.0.2.1:%d: bind: " % port,
                           os.strerror(99))  # EADDRNOTAVAIL
        # a host name that does not resolve
        lines = self.write(self.settings(milter_listen="inet:no-such-host.invalid:%d" % port))
        r = self.check()
        self.assertProblem(r, self.at(lines, "milter_listen") + "milter_listen: ",
                           "cannot resolve host")
        # a UNIX socket in a folder that does not exist
        lines = self.write(self.settings(socketmap_listen="unix:%s/nope/srs.sock" % self.dir))
        r = self.check()
        self.assertProblem(r, self.at(lines, "socketmap_listen") + "socketmap_listen: ",
                           "cannot create a socket in %s/nope" % self.dir)

    def test_addresses_of_a_running_daemon_are_a_warning(self):
        lines = self.write(self.settings())
        d = fwdtest.Daemon(self.conf, os.path.join(self.dir, "d.log"))
        self.addCleanup(d.stop)
        fwdtest.wait_for_port(self.ports["milter"], proc=d.proc)
        fwdtest.wait_for_unix(os.path.join(self.dir, "srs.sock"), proc=d.proc)
        fwdtest.wait_for_port(self.ports["metrics"], proc=d.proc)
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK (4 listeners, 1 SRS secret, with warnings)", r.stdout)
        for key in ("socketmap_listen", "tcp_forward_listen", "tcp_reverse_listen",
                    "milter_listen", "metrics_listen"):
            self.assertIn("fwdauthd: warning: " + self.at(lines, key) + key, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 5, r.stderr)
        # and the running daemon still serves
        fwdtest.wait_for_port(self.ports["fwd"], proc=d.proc)

    def test_missing_or_bad_files(self):
        # a key file named in the KeyTable
        with open(self.kt, "w") as f:
            f.write("ourkey example.net:fwd:%s/missing.private\n" % self.keys)
        lines = self.write(self.settings())
        r = self.check()
        self.assertProblem(r, self.at(lines, "dkim_key_table") + "dkim_key_table: %s:1: " % self.kt,
                           "missing.private")
        # the SigningTable itself
        with open(self.kt, "w") as f:
            f.write("ourkey example.net:fwd:%s/fwd.private\n" % self.keys)
        lines = self.write(self.settings(dkim_signing_table="refile:%s/nope" % self.dir))
        r = self.check()
        self.assertProblem(r, self.at(lines, "dkim_signing_table") +
                           "dkim_signing_table: %s/nope: cannot open" % self.dir)
        # the ARC key
        lines = self.write(self.settings(arc_key=os.path.join(self.keys, "nope.private")))
        r = self.check()
        self.assertProblem(r, self.at(lines, "arc_key") + "arc_key: ", "nope.private")
        # the secrets file
        lines = self.write(self.settings(srs_secrets=os.path.join(self.dir, "no-secrets")))
        r = self.check()
        self.assertProblem(r, self.at(lines, "srs_secrets") + "srs_secrets: ", "no-secrets")
        # the zone file
        lines = self.write(self.settings(dns_zone_file=os.path.join(self.dir, "no.zone")))
        r = self.check()
        self.assertProblem(r, self.at(lines, "dns_zone_file") + "dns_zone_file: ", "no.zone")
        # a chroot folder that is not there
        lines = self.write(self.settings(chroot=os.path.join(self.dir, "no-root")))
        r = self.check()
        self.assertProblem(r, self.at(lines, "chroot") + "chroot = ", "not a folder")

    def test_cross_key_errors_name_lines(self):
        lines = self.write(self.settings(arc_key=None, arc_selector=None))
        r = self.check()
        self.assertProblem(r, self.at(lines, "arc_domain") + "arc_domain is set but arc_key and "
                           "arc_selector are not: arc_key, arc_domain and arc_selector go together")
        # our own id among the trusted ones, written in another case with a final dot
        lines = self.write(self.settings(trusted_authserv_ids="gw.example.net, MX.Example.NET."))
        r = self.check()
        self.assertProblem(r, self.at(lines, "trusted_authserv_ids") +
                           "trusted_authserv_ids lists MX.Example.NET., our own authserv_id "
                           "(authserv_id, %s:%d)" % (self.conf, lines["authserv_id"]))
        lines = self.write(self.settings(forward_signing_key="nokey"))
        r = self.check()
        self.assertProblem(r, self.at(lines, "forward_signing_key") +
                           "forward_signing_key = nokey: no such key in %s (dkim_key_table, %s:%d)"
                           % (self.kt, self.conf, lines["dkim_key_table"]))
        lines = self.write(self.settings(from_rewrite_address="forwarder@other.example"))
        r = self.check()
        self.assertProblem(r, self.at(lines, "from_rewrite_address") +
                           "from_rewrite: forward_signing_key (%s:%d) must sign for "
                           "other.example" % (self.conf, lines["forward_signing_key"]))
        lines = self.write(self.settings(srs_hash_minimum="9"))
        r = self.check()
        self.assertProblem(r, self.at(lines, "srs_hash_minimum") +
                           "srs_hash_minimum (9) exceeds srs_hash_length (4, default)")
        # a key left at its default: the error names the file
        lines = self.write(self.settings(srs_domain=None))
        r = self.check()
        self.assertProblem(r, "fwdauthd: %s: srs_domain is not set" % self.conf)

    def test_dump_round_trip(self):
        settings = self.settings(srs_hash_alphabet="BASE64", srs_forwarded_mail="NO",
                                 log_level="info", dmarc_enforce="Reject",
                                 forward_dmarc_failure="hold",
                                 internal_hosts="127.0.0.0/8 ::1,192.0.2.0/24",
                                 originating_daemon_names=" ".join(
                                     "submission%d" % i for i in range(20)))
        self.write(settings)
        n1 = self.check("-n")
        self.assertEqual(n1.returncode, 0, n1.stderr)
        a1 = self.check("-a")
        self.assertEqual(a1.returncode, 0, a1.stderr)
        # -n: what differs from the defaults, normalized
        self.assertIn("srs_hash_alphabet = base64\n", n1.stdout)
        self.assertIn("srs_forwarded_mail = no\n", n1.stdout)
        self.assertIn("dmarc_enforce = reject\n", n1.stdout)
        self.assertIn("internal_hosts = 127.0.0.0/8, ::1, 192.0.2.0/24\n", n1.stdout)
        self.assertNotIn("log_level", n1.stdout)  # set, but to the default
        self.assertIn("\n    submission", n1.stdout)  # a long list folds as postconf does
        for line in n1.stdout.splitlines():
            self.assertLessEqual(len(line), 78)
        # -a: every setting, defaults included
        names = [l.split(" =")[0] for l in a1.stdout.splitlines() if not l.startswith(" ")]
        self.assertIn("log_level", names)
        self.assertIn("from_unreadable", names)
        self.assertEqual(len(names), len(set(names)))
        self.assertGreaterEqual(len(names), 42)
        # Each dump loads back unchanged, and -t accepts it.
        for dump in (n1.stdout, a1.stdout):
            with open(self.conf, "w") as f:
                f.write(dump)
            self.assertEqual(self.check("-n").stdout, n1.stdout)
            self.assertEqual(self.check("-a").stdout, a1.stdout)
            r = self.check()
            self.assertEqual(r.returncode, 0, r.stderr)
        # with defaults only, -n prints nothing
        self.write(text="# nothing set\n")
        r = self.check("-n")
        self.assertEqual((r.returncode, r.stdout), (0, ""))

    def test_usage(self):
        self.write(self.settings())
        for args in (("-t", "-n"), ("-n", "-a"), ("-x",)):
            r = run([FWDAUTHD, "-c", self.conf, *args])
            self.assertEqual(r.returncode, 2, args)
        r = run([FWDAUTHD, "-c", os.path.join(self.dir, "missing.conf"), "-t"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.conf", r.stderr)


if __name__ == "__main__":
    unittest.main()
