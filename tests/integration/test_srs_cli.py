"""Black-box tests of `fwdauth srs`: the published vector, exit statuses,
JSON output, configuration files and refusal of unsafe secrets files."""
import json
import os
import unittest

import fwdtest
from fwdtest import FWDAUTH, VECTOR_SECRET, VECTOR_TIME, run


class SrsCli(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        self.secrets = os.path.join(self.dir, "secrets")
        fwdtest.write_secret(self.secrets, VECTOR_SECRET)
        self.base = [FWDAUTH, "srs", "--srs-domain", "example.com", "--secrets", self.secrets,
                     "--now", str(VECTOR_TIME)]

    def test_published_vector_both_ways(self):
        r = run(self.base[:2] + ["forward"] + self.base[2:] + ["test@otherdomain.com"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "SRS0=vmyz=2W=otherdomain.com=test@example.com\n")
        r = run(self.base + ["reverse", "SRS0=vmyz=2W=otherdomain.com=test@example.com"])
        self.assertEqual((r.returncode, r.stdout), (0, "test@otherdomain.com\n"))

    def test_options_after_the_action(self):
        r = run([FWDAUTH, "srs", "forward", "--srs-domain", "example.com", "--secrets",
                 self.secrets, "--now", str(VECTOR_TIME), "test@otherdomain.com"])
        self.assertEqual(r.stdout, "SRS0=vmyz=2W=otherdomain.com=test@example.com\n")

    def test_exit_one_when_any_address_is_left_unchanged(self):
        r = run(self.base + ["forward", "a@b.example", "postmaster", "x@example.com"])
        self.assertEqual(r.returncode, 1)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("SRS0="))
        self.assertEqual(lines[1:], ["postmaster", "x@example.com"])
        self.assertIn("postmaster: left unchanged: no domain", r.stderr)
        self.assertIn("already in the SRS domain", r.stderr)

    def test_reverse_refuses_expired_and_forged(self):
        addr = "SRS0=vmyz=2W=otherdomain.com=test@example.com"
        later = [a if a != str(VECTOR_TIME) else str(VECTOR_TIME + 22 * 86400) for a in self.base]
        r = run(later + ["reverse", addr])
        self.assertEqual((r.returncode, r.stdout), (1, addr + "\n"))
        self.assertIn("expired", r.stderr)
        r = run(self.base + ["reverse", addr.replace("vmyz", "vmyq")])
        self.assertEqual(r.returncode, 1)
        self.assertIn("hash does not match", r.stderr)

    def test_json(self):
        r = run(self.base + ["--json", "forward", "test@otherdomain.com", "nodomain"])
        objs = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(objs[0], {"address": "test@otherdomain.com", "rewritten": True,
                                   "result": "SRS0=vmyz=2W=otherdomain.com=test@example.com"})
        self.assertEqual(objs[1]["rewritten"], False)
        self.assertEqual(objs[1]["reason"], "no domain")

    def test_config_file_and_override(self):
        conf = os.path.join(self.dir, "fwdauthd.conf")
        fwdtest.write_config(conf, srs_domain="from-config.example", srs_secrets=self.secrets,
                             srs_separator="+", local_domains="mine.example")
        r = run([FWDAUTH, "srs", "-c", conf, "--now", str(VECTOR_TIME), "forward",
                 "test@otherdomain.com", "me@mine.example"])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout.splitlines(),
                         ["SRS0+vmyz=2W=otherdomain.com=test@from-config.example",
                          "me@mine.example"])
        r = run([FWDAUTH, "srs", "-c", conf, "--srs-domain", "example.com", "--now",
                 str(VECTOR_TIME), "forward", "test@otherdomain.com"])
        self.assertEqual(r.stdout, "SRS0+vmyz=2W=otherdomain.com=test@example.com\n")

    def test_usage_and_config_errors_exit_two(self):
        for args in ([FWDAUTH], [FWDAUTH, "nosuch"], [FWDAUTH, "srs"],
                     [FWDAUTH, "srs", "sideways", "a@b"],
                     self.base + ["--now", "yesterday", "forward", "a@b.example"],
                     [FWDAUTH, "srs", "forward", "a@b.example"]):
            r = run(args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.strip(), args)
        bad = os.path.join(self.dir, "bad.conf")
        with open(bad, "w") as f:
            f.write("srs_domain = x.example\nsrs_sekrets = /x\n")
        r = run([FWDAUTH, "srs", "-c", bad, "forward", "a@b.example"])
        self.assertEqual(r.returncode, 2)
        self.assertIn(bad + ":2: unknown parameter \"srs_sekrets\"", r.stderr)

    def test_addresses_from_stdin(self):
        # No address on the command line: one per line of stdin (CR LF or
        # LF, blank lines skipped), each answered on its own line.
        r = run(self.base + ["forward"], input="test@otherdomain.com\r\n\nTest@otherdomain.com\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(),
                         ["SRS0=vmyz=2W=otherdomain.com=test@example.com",
                          "SRS0=vmyz=2W=otherdomain.com=Test@example.com"])
        r = run(self.base + ["forward"], input="")
        self.assertEqual((r.returncode, r.stdout), (0, ""))
        r = run(self.base + ["forward"], input="not an address\n")
        self.assertEqual(r.returncode, 1)  # left unchanged, as on the command line
        self.assertIn("not an address: left unchanged", r.stderr)

    def test_world_readable_secrets_refused(self):
        os.chmod(self.secrets, 0o644)
        r = run(self.base + ["forward", "a@b.example"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("readable or writable by others", r.stderr)
        self.assertNotIn(VECTOR_SECRET, r.stderr + r.stdout)

    def test_help(self):
        for args in ([FWDAUTH, "--help"], [FWDAUTH, "srs", "--help"]):
            r = run(args)
            self.assertEqual(r.returncode, 0)
            self.assertIn("usage: fwdauth", r.stdout)


if __name__ == "__main__":
    unittest.main()


class DkimCliRefusals(fwdtest.TestCase):
    """Signatures every verifier would reject are refused up front, and -c
    is read by every command."""

    def setUp(self):
        super().setUp()
        r = run([FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "s1", "-t", "ed25519",
                 "-o", self.dir])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.key = os.path.join(self.dir, "s1.private")
        self.msg = os.path.join(self.dir, "m.eml")
        with open(self.msg, "w") as f:
            f.write("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n")
        self.sign = [FWDAUTH, "dkim", "sign", "-d", "example.org", "-s", "s1", "-k", self.key]

    def test_identity_outside_domain(self):
        r = run(self.sign + ["-i", "bob@other.example", self.msg])
        self.assertEqual(r.returncode, 2)
        self.assertIn("not within d=example.org", r.stderr)
        r = run(self.sign + ["-i", "bob@sub.example.org", self.msg])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("i=bob@sub.example.org", r.stdout)

    def test_header_list_without_from(self):
        r = run(self.sign + ["-H", "subject:to", self.msg])
        self.assertEqual(r.returncode, 2)
        self.assertIn("must include From", r.stderr)

    def test_bad_config_file_is_an_error(self):
        for cmd in (self.sign + ["-c", "/nonexistent.conf", self.msg],
                    [FWDAUTH, "send", "-c", "/nonexistent.conf", "--server", "127.0.0.1:1",
                     self.msg]):
            r = run(cmd)
            self.assertEqual(r.returncode, 2, cmd)
            self.assertIn("/nonexistent.conf", r.stderr)

    def test_dns_server_flag_overrides_config_zone(self):
        zone = os.path.join(self.dir, "z.zone")
        with open(zone, "w") as f:
            f.write("")
        conf = os.path.join(self.dir, "c.conf")
        fwdtest.write_config(conf, dns_zone_file=zone, dns_timeout="1")
        signed = run(self.sign + [self.msg]).stdout
        # With the config's (empty) zone the key is missing: permerror.
        r = run([FWDAUTH, "dkim", "verify", "-c", conf], input=signed)
        self.assertIn("permerror", r.stdout)
        # A resolver named on the command line wins over the zone file: an
        # address where nothing answers gives a temporary error instead.
        port = fwdtest.free_port()
        r = run([FWDAUTH, "dkim", "verify", "-c", conf, "--dns-server",
                 "127.0.0.1@%d" % port], input=signed)
        self.assertIn("temperror", r.stdout)
