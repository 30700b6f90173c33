"""fwdauth doctor on the README's set-up, then with one setting broken at a time.

The set-up is the README's, followed as written: its blocks are taken from
README.md with test_readme's extraction helpers (the same classification
test_readme checks), not copied here:
  - fwdauthd.conf: the minimal file (the first block under "## fwdauthd"
    that sets srs_domain), then the milter block (the one that sets milter_listen);
  - main.cf: the milter section's block (the one that sets smtpd_milters),
    on a throwaway Postfix (postfixtest.py), started;
  - keys: the README's "Last step" commands (mkdir, `fwdauth dkim keygen ...
    --print-keytable`), run as printed; the KeyTable and SigningTable lines
    they print written to the files the blocks name, the zone lines they
    print published;
  - the aliases the blocks forward (forward_recipients) in virtual_alias_maps
    ("forward them with virtual_alias_maps as usual");
  - the last step, `fwdauth doctor -c /etc/fwdauth/fwdauthd.conf`, run as
    printed.
What a test cannot take as printed, and only that, is changed, each by one
substitution applied to the block's text: the fixed ports (10001-10003, 8891)
become free ports, /etc/fwdauth becomes a temp folder, forward_signing_key's
placeholder NAME becomes the KeyTable name keygen printed; and two lines are
appended to fwdauthd.conf: DNS answers from a zone file (dns_zone_file) and
Postfix is the throwaway instance (postfix_config_directory).

Then `fwdauth doctor` must find nothing wrong (exit 0, no problem), and each
of the broken settings below must be named by its check, at level problem,
with the exact line to add (exit 1). The daemon-down case stops fwdauthd.
"""
import json
import os
import re
import shlex
import shutil
import tempfile
import unittest

import fwdtest
import postfixtest
from fwdtest import FWDAUTH, FWDAUTHD, run
from test_readme import README, readme_block, readme_blocks, settings_of

PORTS = ("10001", "10002", "10003", "8891")


def minimal_file():
    """The minimal fwdauthd.conf: the first block under "## fwdauthd" that
    sets srs_domain (other sections print whole files of their own)."""
    with open(README) as f:
        start = [n for n, line in enumerate(f, 1) if line == "## fwdauthd\n"]
    if len(start) != 1:
        raise AssertionError("README.md has %d \"## fwdauthd\" headings" % len(start))
    found = [b for b in readme_blocks("fwdauthd.conf")
             if b.line > start[0] and "srs_domain" in settings_of(b.text)]
    if not found:
        raise AssertionError("no fwdauthd.conf block sets srs_domain under \"## fwdauthd\"")
    return found[0]


class Doctor(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(FWDAUTH, FWDAUTHD, postfixtest.POSTFIX, postfixtest.POSTMAP)
        fwdtest.require(os.geteuid() == 0, "a throwaway Postfix needs root")
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-doctor-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.etc = os.path.join(cls.dir, "etc", "fwdauth")
        os.makedirs(cls.etc)
        cls.ports = {p: str(fwdtest.free_port()) for p in PORTS}

        # Keys: the README's commands, run as printed (substituted).
        out = cls.readme_commands("sh", "--print-keytable")
        cls.zone_lines = [l for l in out.splitlines() if " IN TXT " in l]
        tables = {}
        lines = out.splitlines()
        for i, l in enumerate(lines[:-1]):
            for name in ("KeyTable", "SigningTable"):
                if l.startswith("# %s " % name):
                    tables[name] = lines[i + 1]
        if len(cls.zone_lines) != 2 or len(tables) != 2:
            raise AssertionError("the README's keygen commands printed:\n" + out)
        cls.key_name = tables["KeyTable"].split()[0]
        for name, line in tables.items():
            with open(os.path.join(cls.etc, name), "w") as f:
                f.write(line + "\n")
        fwdtest.write_secret(os.path.join(cls.etc, "srs-secrets"), "doctor-test-secret")

        # DNS: what a domain that forwards publishes.
        cls.zone = os.path.join(cls.dir, "test.zone")
        cls.zone_base = cls.zone_lines + [
            'srs.example.net. 3600 IN TXT "v=spf1 ip4:192.0.2.1 -all"',
            "srs.example.net. 3600 IN MX 10 mx.example.net.",
            'example.net. 3600 IN TXT "v=spf1 ip4:192.0.2.1 -all"',
            "example.net. 3600 IN MX 10 mx.example.net.",
            "mx.example.net. 3600 IN A 192.0.2.1",
            '_dmarc.example.net. 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.net"',
        ]
        cls.write_zone(cls.zone_base)

        cls.conf_text = cls.substitute(minimal_file().text) + \
            cls.readme_text("fwdauthd.conf", "milter_listen =") + \
            "dns_zone_file = %s\n" % cls.zone
        cls.conf = os.path.join(cls.etc, "fwdauthd.conf")
        with open(cls.conf, "w") as f:
            f.write(cls.conf_text)

        # Postfix: the milter block, and the forwarded aliases.
        cls.pf = postfixtest.Postfix(cls.dir)
        cls.addClassCleanup(cls.pf.stop)
        cls.remote = cls.pf.sink("remote.test")
        cls.virtual = os.path.join(cls.dir, "virtual")
        main = cls.readme_text("main.cf", "smtpd_milters =")
        cls.pf.configure({"virtual_alias_maps": "hash:" + cls.virtual}, main_cf_text=main)
        cls.write_virtual(["alias@example.net someone@remote.test",
                           "dev@lists.example.net dev@remote.test"])
        cls.pf.launch()
        with open(cls.conf, "a") as f:
            f.write("postfix_config_directory = %s\n" % cls.pf.conf)

        cls.log = os.path.join(cls.dir, "fwdauthd.log")
        cls.daemon = None
        cls.start_daemon()

    @classmethod
    def readme_commands(cls, kind, containing):
        """Run each command of a README sh block as printed (substituted);
        their standard output."""
        out = ""
        for line in cls.readme_text(kind, containing).splitlines():
            argv = shlex.split(line, comments=True)
            if not argv:
                continue
            if argv[0] == "fwdauth":
                argv[0] = FWDAUTH
            r = run(argv)
            if r.returncode != 0:
                raise AssertionError("README: %s: exit %d: %s%s" % (line, r.returncode,
                                                                      r.stdout, r.stderr))
            out += r.stdout
        return out

    @classmethod
    def write_zone(cls, lines):
        with open(cls.zone, "w") as f:
            f.write("\n".join(lines) + "\n")

    @classmethod
    def write_virtual(cls, lines):
        with open(cls.virtual, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = run([postfixtest.POSTMAP, "-c", cls.pf.conf, cls.virtual])
        if r.returncode != 0:
            raise AssertionError("postmap: %s" % r.stderr)

    @classmethod
    def readme_text(cls, kind, containing):
        return cls.substitute(readme_block(kind, containing).text)

    @classmethod
    def substitute(cls, text):
        """A README block with the test's substitutions (the docstring's)."""
        for p, free in cls.ports.items():
            text = re.sub(r"(?<=:)%s\b" % p, free, text)
        text = text.replace("/etc/fwdauth", cls.etc)
        if getattr(cls, "key_name", None):
            text = re.sub(r"^forward_signing_key = NAME$",
                          "forward_signing_key = " + cls.key_name, text, flags=re.M)
        return text

    @classmethod
    def start_daemon(cls):
        cls.daemon = fwdtest.Daemon(cls.conf, cls.log)
        cls.addClassCleanup(cls.daemon.stop)
        for p in cls.ports.values():
            fwdtest.wait_for_port(int(p), proc=cls.daemon.proc)

    # -- running doctor --------------------------------------------------------
    def doctor(self, conf=None, *args):
        r = run([FWDAUTH, "doctor", "-c", conf or self.conf, "--json", *args], timeout=120)
        self.assertIn(r.returncode, (0, 1, 2), r.stderr)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            self.fail("doctor printed no JSON (exit %d): %s%s" % (r.returncode, r.stdout, r.stderr))
        return r.returncode, j

    def test_readme_setup_passes(self):
        rc, j = self.doctor()
        bad = [c for c in j["checks"] if c["level"] != "ok"]
        self.assertEqual((rc, j["status"], bad), (0, "ok", []), json.dumps(j, indent=1))
        names = {c["check"] for c in j["checks"]}
        for check in ("postfix", "srs-reverse", "srs-forward", "smtpd-milters",
                      "non-smtpd-milters", "milter-default-action", "mime-output-conversion",
                      "srs-domain-accepted", "content-checks", "forward-recipients", "key-file",
                      "secret-file", "srs-domain-spf", "srs-domain-mx", "dkim-key", "arc-key",
                      "rewrite-domain-dmarc", "rewrite-domain-spf", "rewrite-domain-dkim",
                      "daemon-socketmap", "daemon-tcp-forward", "daemon-tcp-reverse",
                      "daemon-milter"):
            self.assertIn(check, names)
        # The README's last step, as printed: one verdict a line and the tally.
        out = self.readme_commands("sh", "fwdauth doctor -c /etc/fwdauth/fwdauthd.conf\n")
        self.assertIn("ok: milter-default-action: milter_default_action = tempfail", out)
        self.assertTrue(out.endswith("0 problems, 0 warnings, 0 errors\n"), out)

    # -- one setting broken at a time ----------------------------------------------
    def main_cf(self, settings=None, remove=()):
        """Change the throwaway main.cf for this test only."""
        main = os.path.join(self.pf.conf, "main.cf")
        with open(main) as f:
            saved = f.read()

        def restore():
            with open(main, "w") as f:
                f.write(saved)
        self.addCleanup(restore)
        if settings:
            self.pf.postconf(settings)
        if remove:
            r = run([postfixtest.POSTCONF, "-c", self.pf.conf, "-X", *remove])
            self.assertEqual(r.returncode, 0, r.stderr)

    def publish(self, lines):
        self.addCleanup(self.write_zone, self.zone_base)
        self.write_zone(lines)

    def other_conf(self, text):
        path = os.path.join(self.dir, "fwdauthd-%s.conf" % self._testMethodName)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_names(self, check, fix_in, fix, conf=None, text=None):
        """doctor exits 1 and names check at level problem with the line to add."""
        rc, j = self.doctor(conf)
        dump = json.dumps([c for c in j["checks"] if c["level"] != "ok"], indent=1)
        found = [c for c in j["checks"] if c["check"] == check and c["level"] == "problem"]
        self.assertTrue(found, "no problem %s:\n%s" % (check, dump))
        self.assertEqual((rc, j["status"]), (1, "problems"), dump)
        if fix is not None:
            self.assertIn((fix_in, fix), [(c["fix_in"], c["fix"]) for c in found], dump)
        if text is not None:
            self.assertTrue(any(text in c["text"] for c in found), dump)
        return found

    def test_milter_default_action_accept(self):
        self.main_cf({"milter_default_action": "accept"})
        self.assert_names("milter-default-action", "main.cf", "milter_default_action = tempfail")

    def test_mime_output_conversion_missing(self):
        self.main_cf(remove=["disable_mime_output_conversion"])
        self.assert_names("mime-output-conversion", "main.cf",
                          "disable_mime_output_conversion = yes")

    def test_srs_domain_not_accepted(self):
        self.main_cf(remove=["virtual_alias_domains"])
        self.assert_names("srs-domain-accepted", "main.cf",
                          "virtual_alias_domains = $virtual_alias_maps, srs.example.net")

    def test_recipient_canonical_classes_without_envelope(self):
        self.main_cf({"recipient_canonical_classes": "header_recipient"})
        self.assert_names("recipient-canonical-classes", "main.cf",
                          "recipient_canonical_classes = envelope_recipient, header_recipient")

    def test_sender_canonical_classes_missing(self):
        # The README's socketmap block's forward line, without its classes line.
        fwd = settings_of(self.readme_text("main.cf", ":forward"))["sender_canonical_maps"]
        self.main_cf({"sender_canonical_maps": fwd})
        self.assert_names("sender-canonical-classes", "main.cf",
                          "sender_canonical_classes = envelope_sender")

    def test_milter_pointing_elsewhere(self):
        elsewhere = "inet:127.0.0.1:%d" % fwdtest.free_port()
        self.main_cf({"smtpd_milters": elsewhere})
        # Other milters stay; fwdauthd's is added.
        self.assert_names("smtpd-milters", "main.cf", "smtpd_milters = %s, inet:127.0.0.1:%s" %
                          (elsewhere, self.ports["8891"]))

    def test_forward_recipients_missing_an_alias(self):
        self.addCleanup(self.write_virtual, ["alias@example.net someone@remote.test",
                                             "dev@lists.example.net dev@remote.test"])
        self.write_virtual(["alias@example.net someone@remote.test",
                            "dev@lists.example.net dev@remote.test",
                            "new@example.net new@remote.test"])
        self.assert_names("forward-recipients", "fwdauthd.conf",
                          "forward_recipients = alias@example.net, @lists.example.net, "
                          "new@example.net")

    def test_key_not_published(self):
        fwd = [l for l in self.zone_base if l.startswith("fwd2026.")]
        self.publish([l for l in self.zone_base if l not in fwd])
        self.assert_names("dkim-key", "DNS", fwd[0])

    def test_published_key_not_matching(self):
        other = os.path.join(self.dir, "other-key")
        os.makedirs(other, exist_ok=True)
        r = run([FWDAUTH, "dkim", "keygen", "-d", "example.net", "-s", "fwd2026", "-o", other,
                 "--json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        wrong = json.loads(r.stdout)["zone_line"]
        fwd = [l for l in self.zone_base if l.startswith("fwd2026.")]
        self.publish([wrong if l in fwd else l for l in self.zone_base])
        self.assert_names("dkim-key", "DNS", fwd[0], text="publishes another key than")

    def test_arc_key_not_published(self):
        arc = [l for l in self.zone_base if l.startswith("arc2026.")]
        self.publish([l for l in self.zone_base if l not in arc])
        self.assert_names("arc-key", "DNS", arc[0])

    def test_no_dmarc_for_the_rewrite_domain(self):
        self.publish([l for l in self.zone_base if not l.startswith("_dmarc.")])
        found = self.assert_names("rewrite-domain-dmarc", "DNS", None)
        self.assertEqual(found[0]["fix_in"], "DNS", found)
        self.assertTrue(found[0]["fix"].startswith('_dmarc.example.net. 3600 IN TXT "v=DMARC1;'),
                        found)

    def test_srs_domain_without_mx(self):
        self.publish([l for l in self.zone_base if not l.startswith("srs.example.net. 3600 IN MX")])
        found = self.assert_names("srs-domain-mx", "DNS", None)
        self.assertEqual(found[0]["fix_in"], "DNS", found)
        self.assertRegex(found[0]["fix"], r"^srs\.example\.net\. 3600 IN MX 10 \S+\.$")

    def test_replace_header_check(self):
        checks = os.path.join(self.dir, "header_checks")
        with open(checks, "w") as f:
            f.write("/^Subject:/ REPLACE Subject: [ext] $0\n")
        harmless = os.path.join(self.dir, "header_checks_ignore")
        with open(harmless, "w") as f:
            f.write("/^X-Spam-Report:/ IGNORE\n")
        self.main_cf({"header_checks": "regexp:%s, regexp:%s" % (checks, harmless)})
        # The line to add keeps the table that changes nothing.
        self.assert_names("content-checks", "main.cf", "header_checks = regexp:" + harmless,
                          text="REPLACE")

    def test_key_readable_by_others(self):
        key = os.path.join(self.etc, "keys", "fwd2026.private")
        self.addCleanup(os.chmod, key, 0o600)
        os.chmod(key, 0o644)
        self.assert_names("key-file", "shell", "chmod o-rwx " + key)

    def test_daemon_down(self):
        self.daemon.stop()
        self.addCleanup(self.start_daemon)
        found = self.assert_names("daemon-milter", "shell", "systemctl restart fwdauthd")
        self.assertIn("does not answer", found[0]["text"])
        names = {c["check"] for c in self.doctor()[1]["checks"] if c["level"] == "problem"}
        self.assertEqual(names, {"daemon-socketmap", "daemon-tcp-forward", "daemon-tcp-reverse",
                                 "daemon-milter"})
        # Without the probe (and without DNS) nothing else is wrong.
        rc, j = self.doctor(None, "--no-probe", "--no-dns")
        checks = {c["check"] for c in j["checks"]}
        self.assertEqual((rc, j["status"]), (0, "ok"), j)
        self.assertFalse(checks & {"daemon-milter", "dkim-key", "srs-domain-mx"}, checks)

    def test_usage_and_io_errors(self):
        r = run([FWDAUTH, "doctor", "--no-such-option"])
        self.assertEqual(r.returncode, 2)
        r = run([FWDAUTH, "doctor", "-c", os.path.join(self.dir, "missing.conf")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.conf", r.stderr)
        r = run([FWDAUTH, "doctor", "-c", self.conf, "-C", os.path.join(self.dir, "no-postfix")])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("error: postfix:", r.stdout)


if __name__ == "__main__":
    unittest.main()
