"""What every fwdauth command shares: `fwdauth help COMMAND [ACTION]` prints
that command's own help, and every error message starts with the command as
typed ("fwdauth COMMAND: " or "fwdauth COMMAND ACTION: "), getopt's own
("unrecognized option") and the shared helpers' (configuration, input
files) included.
"""
import os
import re

import fwdtest
from fwdtest import FWDAUTH, run

# The commands with actions, and the action whose name the prefix carries.
ACTIONS = {
    "dkim": ["sign", "verify", "keygen"],
    "arc": ["verify", "sign"],
    "spf": ["check"],
    "dmarc": ["check"],
}


def commands():
    r = run([FWDAUTH, "--help"])
    names, inside = [], False
    for line in r.stdout.splitlines():
        if line.strip() == "commands:":
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            names.append(line.split()[0])
    return names


class CliConventions(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        fwdtest.require_programs(FWDAUTH)
        self.commands = commands()
        self.assertIn("logscan", self.commands)
        self.assertGreaterEqual(len(self.commands), 9)

    def invocations(self):
        """(argv after fwdauth, the prefix its errors must carry)."""
        for c in self.commands:
            if c in ACTIONS:
                for a in ACTIONS[c]:
                    yield [c, a], "fwdauth %s %s: " % (c, a)
            elif c == "srs":
                yield [c, "forward"], "fwdauth srs: "
            else:
                yield [c], "fwdauth %s: " % c

    def test_help_command(self):
        top = run([FWDAUTH, "help"])
        self.assertEqual(top.returncode, 0)
        self.assertIn("fwdauth help <command>", top.stdout)
        for c in self.commands:
            with self.subTest(c):
                own = run([FWDAUTH, c, "--help"])
                self.assertEqual(own.returncode, 0, own.stderr)
                h = run([FWDAUTH, "help", c])
                self.assertEqual((h.returncode, h.stdout, h.stderr), (0, own.stdout, ""))
                self.assertNotEqual(h.stdout, top.stdout)
                self.assertIn("usage: fwdauth %s" % c, h.stdout)
            for a in ACTIONS.get(c, []):
                with self.subTest(c + " " + a):
                    own = run([FWDAUTH, c, a, "--help"])
                    h = run([FWDAUTH, "help", c, a])
                    self.assertEqual((h.returncode, h.stdout), (0, own.stdout))
        r = run([FWDAUTH, "help", "nosuch"])
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertTrue(r.stderr.startswith('fwdauth help: unknown command "nosuch"'), r.stderr)

    def test_error_prefix(self):
        missing = os.path.join(self.dir, "missing.conf")
        zone = os.path.join(self.dir, "empty.zone")
        open(zone, "w").close()
        for argv, prefix in self.invocations():
            with self.subTest(" ".join(argv)):
                r = run([FWDAUTH, *argv, "--no-such-option"], stdin=open(os.devnull))
                self.assertEqual(r.returncode, 2)
                first = r.stderr.splitlines()[0]
                self.assertEqual(first, "%sunrecognized option '--no-such-option'" % prefix)
                # -c with a missing file: the shared configuration loader,
                # for the commands that load it before checking their own
                # required arguments.
                r = run([FWDAUTH, *argv, "-c", missing], stdin=open(os.devnull))
                self.assertEqual(r.returncode, 2)
                first = r.stderr.splitlines()[0]
                self.assertTrue(first.startswith(prefix), first)
        # Shared input helpers: a message file that does not exist.
        for argv in (["dkim", "verify"], ["arc", "verify"], ["dmarc", "check", "--ip",
                                                               "192.0.2.1", "--mail-from", "a@b.example"]):
            with self.subTest(" ".join(argv) + " FILE"):
                r = run([FWDAUTH, *argv, "--dns-zone", zone,
                         os.path.join(self.dir, "nofile.eml")])
                self.assertEqual(r.returncode, 2)
                self.assertRegex(r.stderr, r"^fwdauth %s: cannot open .*nofile\.eml: "
                                 % re.escape(" ".join(argv[:2])))
