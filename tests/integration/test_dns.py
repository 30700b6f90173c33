"""The dns module against a real unbound server, and against its own zone files.

A private unbound (receiver.Unbound: Debian's /usr/sbin/unbound) serves
example.test from local-data on a free port of 127.0.0.1; the test-only
client `dnsq` asks it through libunbound (server = 127.0.0.1@PORT). The
same records written as a zone file must give the same answers (status and
records), so the zone backend the tests rely on behaves like real DNS. A
socket that swallows queries checks the per-query timeout.
"""
import os
import socket
import time
import unittest

import fwdtest
import receiver

DNSQ = os.path.join(fwdtest.BIN, "..", "tests", "dnsq")

# (name, type, data) as unbound local-data; the zone file says the same.
RECORDS = [
    ("example.test.", "TXT", '"v=spf1 ip4:192.0.2.1 " "ip4:192.0.2.2 -all"'),
    ("example.test.", "A", "192.0.2.1"),
    ("example.test.", "A", "192.0.2.2"),
    ("example.test.", "AAAA", "2001:db8::1"),
    ("example.test.", "MX", "10 mx1.example.test."),
    ("example.test.", "MX", "20 mx2.example.test."),
    ("mx1.example.test.", "A", "192.0.2.25"),
    ("sel._domainkey.example.test.", "TXT",
     '"v=DKIM1; k=ed25519; " "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="'),
    ("esc.example.test.", "TXT", '"semi;colon " "q\\"uote " "\\065\\066 back\\\\slash"'),
    ("word.example.test.", "TXT", '"word"'),
    ("alias.example.test.", "CNAME", "example.test."),
    ("nullmx.example.test.", "MX", "0 ."),
    ("1.2.0.192.in-addr.arpa.", "PTR", "host.example.test."),
    ("2.2.0.192.in-addr.arpa.", "PTR", "Mixed.Example.Test."),
]

# The zones unbound answers from RECORDS alone (static local zones).
ZONES = [("example.test.", "static"), ("2.0.192.in-addr.arpa.", "static")]

QUESTIONS = [
    ("example.test", "TXT"), ("example.test", "A"), ("example.test", "AAAA"),
    ("example.test", "MX"), ("EXAMPLE.Test.", "A"), ("mx1.example.test", "A"),
    ("sel._domainkey.example.test", "TXT"), ("esc.example.test", "TXT"),
    ("word.example.test", "TXT"), ("alias.example.test", "A"), ("alias.example.test", "TXT"),
    ("alias.example.test", "CNAME"), ("alias.example.test", "MX"),
    ("nullmx.example.test", "MX"), ("1.2.0.192.in-addr.arpa", "PTR"),
    ("2.2.0.192.in-addr.arpa", "PTR"),
    ("mx1.example.test", "TXT"), ("example.test", "PTR"),      # NODATA
    ("nx.example.test", "A"), ("nx.example.test", "TXT"),      # NXDOMAIN
    ("nx.alias.example.test", "MX"),
]


def dnsq(*args, timeout=30):
    t0 = time.monotonic()
    r = fwdtest.run([DNSQ, *args], timeout=timeout)
    return r, time.monotonic() - t0


def parse(out):
    """(status, sorted records): unbound may rotate record order."""
    lines = out.splitlines()
    return (lines[0] if lines else ""), sorted(lines[1:])


class UnboundTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        fwdtest.require(fwdtest.executable(DNSQ), "dnsq not built")
        fwdtest.require(fwdtest.executable(receiver.UNBOUND), "unbound not installed")
        cls.dir = fwdtest.tempfile.mkdtemp(prefix="fwdauth-dns-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(fwdtest.shutil.rmtree, cls.dir, True)
        cls.unbound = receiver.Unbound(cls.dir, RECORDS, zones=ZONES)
        cls.addClassCleanup(cls.unbound.stop)
        cls.unbound.start()
        cls.server = cls.unbound.server
        # The same records as a zone file, in the zone-file syntax of dns.h.
        cls.zone = cls.unbound.write_zone(os.path.join(cls.dir, "example.zone"))

    def ask(self, name, rtype, *extra):
        r, _ = dnsq("--server", self.server, "--timeout", "3000", *extra, name, rtype)
        self.assertIn(r.returncode, (0, 1, 2), r.stderr)
        return r

    def test_each_type(self):
        r = self.ask("example.test", "TXT")
        self.assertEqual(r.stdout, "OK\nv=spf1 ip4:192.0.2.1 ip4:192.0.2.2 -all\n")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(parse(self.ask("example.test", "A").stdout),
                         ("OK", ["192.0.2.1", "192.0.2.2"]))
        self.assertEqual(self.ask("example.test", "AAAA").stdout, "OK\n2001:db8::1\n")
        self.assertEqual(parse(self.ask("example.test", "MX").stdout),
                         ("OK", ["10 mx1.example.test", "20 mx2.example.test"]))
        self.assertEqual(self.ask("1.2.0.192.in-addr.arpa", "PTR").stdout,
                         "OK\nhost.example.test\n")
        self.assertEqual(self.ask("alias.example.test", "CNAME").stdout, "OK\nexample.test\n")
        self.assertEqual(self.ask("nullmx.example.test", "MX").stdout, "OK\n0 \n")
        self.assertEqual(self.ask("esc.example.test", "TXT").stdout,
                         'OK\nsemi;colon q"uote AB back\\092slash\n')
        self.assertEqual(self.ask("sel._domainkey.example.test", "TXT").stdout,
                         "OK\nv=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n")

    def test_nxdomain_nodata(self):
        r = self.ask("nx.example.test", "A")
        self.assertEqual((r.returncode, r.stdout), (1, "NXDOMAIN\n"))
        r = self.ask("mx1.example.test", "TXT")
        self.assertEqual((r.returncode, r.stdout), (1, "NODATA\n"))

    def test_same_answers_from_zone_file(self):
        for name, rtype in QUESTIONS:
            with self.subTest(name=name, type=rtype):
                real = self.ask(name, rtype)
                z, _ = dnsq("--zone", self.zone, name, rtype)
                self.assertEqual(parse(z.stdout), parse(real.stdout),
                                 "unbound:\n%s\nzone file:\n%s%s" % (real.stdout, z.stdout,
                                                                      z.stderr))
                self.assertEqual(z.returncode, real.returncode)

    def test_threads_share_one_resolver(self):
        # 16 threads, one struct dns, 50 questions each: every answer the same.
        for name, rtype in (("sel._domainkey.example.test", "TXT"), ("nx.example.test", "A")):
            r = self.ask(name, rtype, "--threads", "16", "--repeat", "50")
            self.assertIn(r.returncode, (0, 1), r.stderr)

    def test_libunbound_prints_nothing(self):
        r = self.ask("example.test", "TXT")
        self.assertEqual(r.stderr, "")


class TimeoutTest(unittest.TestCase):
    """A resolver that never answers: each question ends at timeout_ms."""

    def setUp(self):
        fwdtest.require(fwdtest.executable(DNSQ), "dnsq not built")
        # A UDP port whose TCP twin is free too (the resolver may retry over
        # TCP): another program can hold the TCP side, so try a few ports.
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # swallows TCP too
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            break
        else:
            self.fail("no UDP port with a free TCP twin")
        self.udp, self.tcp, self.port = udp, tcp, port
        self.addCleanup(self.udp.close)
        self.addCleanup(self.tcp.close)
        self.tcp.listen(16)

    def test_timeout(self):
        r, took = dnsq("--server", "127.0.0.1@%d" % self.port, "--timeout", "800",
                       "example.test", "TXT")
        self.assertEqual((r.returncode, r.stdout), (2, "TEMPFAIL\n"), r.stderr)
        self.assertIn("timeout", r.stderr)
        self.assertGreaterEqual(took, 0.75)
        self.assertLess(took, 4.0)

    def test_timeout_in_every_thread(self):
        # 8 threads x 2 questions in sequence: about 2 x 0.6 s, not 16 x
        # (9.6 s); the bound leaves room for a loaded machine.
        r, took = dnsq("--server", "127.0.0.1@%d" % self.port, "--timeout", "600",
                       "--threads", "8", "--repeat", "2", "example.test", "A")
        self.assertEqual((r.returncode, r.stdout), (2, "TEMPFAIL\n"), r.stderr)
        self.assertGreaterEqual(took, 1.15)
        self.assertLess(took, 6.0)

    def test_bad_server_address(self):
        r, _ = dnsq("--server", "not-an-address", "example.test", "A")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not-an-address", r.stderr)


if __name__ == "__main__":
    unittest.main()
