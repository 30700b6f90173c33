"""ARC interoperability: fwdauth against dkimpy (python3-dkim), both ways.

Forwarding hops alternate between the two sealers, us, dkimpy, us (and
dkimpy, us, dkimpy), for chains of 1, 2 and 3 ARC sets. Each hop behaves as
a receiving MTA: it validates the incoming chain with its own validator,
writes an Authentication-Results field for its authserv-id, then seals.
dkimpy's arc_sign takes the chain status from that field's arc= result
(FIELD-NOTES); ours computes it and adds arc= to the ARC-Authentication-Results.
After every hop both validators must say cv=pass; a body changed after
sealing must make both say cv=fail. Keys are RSA-2048 (dkimpy's ARC signer is
RSA only); an Ed25519 seal of ours verifies with us (dkimpy's ARC verifier
knows rsa-sha256 only and says so). `arc sign` refuses (exit 2, nothing
written) input that is not a message or whose From: names no single author,
and --json, which is verify's.
"""
import os
import re
import shutil
import tempfile
import unittest

import dkim

import dkimpeers
from fwdtest import FWDAUTH, run

MESSAGE = (b"From: Alice <alice@origin.example>\r\n"
           b"To: list@fwd1.example\r\n"
           b"Subject: ARC interop\r\n"
           b"Date: Wed, 26 Nov 2025 10:00:00 +0000\r\n"
           b"Message-ID: <arc-interop@origin.example>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n"
           b"\r\n"
           b"Hello,\r\n"
           b"  this message crosses  three forwarders.   \r\n"
           b"\r\n"
           b"-- \r\nAlice\r\n")


class ArcInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-arc-interop-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.zone = dkimpeers.Zone()
        cls.keys = {}
        for hop in (1, 2, 3):
            cls.keygen("fwd%d.example" % hop, "arc", "rsa", "hop%d" % hop)
        cls.keygen("fwd1.example", "arced", "ed25519", "ed")
        cls.zonefile = cls.zone.write(os.path.join(cls.dir, "keys.zone"))

    @classmethod
    def keygen(cls, domain, selector, ktype, name):
        d = os.path.join(cls.dir, name)
        os.mkdir(d)
        r = run([FWDAUTH, "dkim", "keygen", "-d", domain, "-s", selector, "-t", ktype, "-o", d])
        if r.returncode != 0:
            raise RuntimeError("keygen failed: %s" % r.stderr)
        owner, record = dkimpeers.zone_line_record(r.stdout.strip().splitlines()[-1])
        cls.zone.add(owner, record)
        cls.keys[name] = os.path.join(d, selector + ".private")

    def path(self, name, data):
        p = os.path.join(self.dir, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    # ---- validators ----

    def ours(self, msg):
        r = run([FWDAUTH, "arc", "verify", "--dns-zone", self.zonefile,
                 self.path("verify.eml", msg)])
        self.assertIn(r.returncode, (0, 1), r.stderr)
        first = r.stdout.splitlines()[0]
        return re.match(r"cv=(\w+)", first).group(1), r.stdout

    def theirs(self, msg):
        cv, results, reason = dkim.arc_verify(msg, dnsfunc=self.zone.dnsfunc)
        return (cv or b"").decode(), reason

    # ---- hops ----

    def hop_us(self, msg, hop, key="hop%d", selector="arc", domain=None):
        domain = domain or "fwd%d.example" % hop
        ar = b"Authentication-Results: mx%d.example;\r\n\tspf=pass smtp.mailfrom=origin.example\r\n" % hop
        r = run([FWDAUTH, "arc", "sign", "-d", domain, "-s", selector,
                 "-k", self.keys[key % hop if "%" in key else key],
                 "--authserv-id", "mx%d.example" % hop, "--dns-zone", self.zonefile,
                 self.path("in.eml", ar + msg)], text=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def hop_dkimpy(self, msg, hop):
        cv, _ = self.theirs(msg)
        arc = b"" if not cv else b" arc=%s;" % cv.encode()
        ar = (b"Authentication-Results: mx%d.example;%s\r\n\tspf=pass smtp.mailfrom=origin.example\r\n"
              % (hop, arc))
        msg = ar + msg
        with open(self.keys["hop%d" % hop], "rb") as f:
            key = f.read()
        fields = dkim.arc_sign(msg, b"arc", b"fwd%d.example" % hop, key, b"mx%d.example" % hop,
                               include_headers=[b"from", b"to", b"subject", b"date",
                                                b"message-id", b"mime-version"])
        self.assertEqual(len(fields), 3, "dkimpy did not seal")
        return b"".join(fields) + msg

    def check_chain(self, order):
        msg = MESSAGE
        for hop, who in enumerate(order, 1):
            msg = self.hop_us(msg, hop) if who == "us" else self.hop_dkimpy(msg, hop)
            ours, out = self.ours(msg)
            theirs, reason = self.theirs(msg)
            label = "%s after hop %d (%s)" % ("/".join(order), hop, who)
            self.assertEqual(ours, "pass", "%s: ours: %s" % (label, out))
            self.assertEqual(theirs, "pass", "%s: dkimpy: %s" % (label, reason))
            self.assertEqual(len(re.findall(rb"(?im)^arc-seal:", msg)), hop)
        # A changed body breaks the newest AMS: both say fail.
        tampered = msg.replace(b"three forwarders", b"three forwardErs")
        self.assertEqual(self.ours(tampered)[0], "fail")
        self.assertEqual(self.theirs(tampered)[0], "fail")
        return msg

    def test_us_dkimpy_us(self):
        self.check_chain(["us", "dkimpy", "us"])
        print("\narc interop: us, dkimpy, us: pass at hops 1, 2, 3 (both validators); "
              "tampered body: fail (both)")

    def test_dkimpy_us_dkimpy(self):
        self.check_chain(["dkimpy", "us", "dkimpy"])
        print("\narc interop: dkimpy, us, dkimpy: pass at hops 1, 2, 3 (both validators); "
              "tampered body: fail (both)")

    def test_ed25519_seal(self):
        msg = self.hop_us(MESSAGE, 1, key="ed", selector="arced", domain="fwd1.example")
        self.assertIn(b"a=ed25519-sha256", msg)
        self.assertEqual(self.ours(msg)[0], "pass")
        # dkimpy 1.1.4's ARC verifier knows rsa-sha256 only: it must refuse, not pass.
        cv, reason = self.theirs(msg)
        self.assertEqual((cv, reason), ("fail", "unknown signature algorithm: b'ed25519-sha256'"))

    def test_failed_chain_is_sealed_once(self):
        """A broken chain gets one cv=fail set covering only itself; then no more."""
        msg = self.hop_us(MESSAGE, 1)
        msg = msg.replace(b"three forwarders", b"three forwardErs")
        msg = self.hop_us(msg, 2)
        self.assertRegex(msg, rb"^ARC-Seal: a=rsa-sha256;\r\n\tb=[^;]*;\r\n\tcv=fail; d=fwd2.example; i=2;")
        self.assertIn(b"arc=fail", msg)
        cv, out = self.ours(msg)
        self.assertEqual(cv, "fail")
        # The cv=fail seal is correct (it covers its own set): as=pass for i=2,
        # while i=1's AMS fails on the changed body.
        lines = out.splitlines()
        self.assertRegex(lines[1], r"^i=1 as=pass ams=fail ")
        self.assertRegex(lines[2], r"^i=2 as=pass ams=pass d=fwd2\.example ")
        self.assertEqual(self.theirs(msg)[0], "")  # dkimpy: chain terminated (no result)
        ar = b"Authentication-Results: mx3.example; spf=pass smtp.mailfrom=origin.example\r\n"
        r = run([FWDAUTH, "arc", "sign", "-d", "fwd3.example", "-s", "arc", "-k",
                 self.keys["hop3"], "--authserv-id", "mx3.example", "--dns-zone", self.zonefile,
                 self.path("in.eml", ar + msg)], text=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, ar + msg)
        self.assertIn(b"not sealed", r.stderr)

    def test_json_and_sets(self):
        msg = self.hop_us(self.hop_dkimpy(MESSAGE, 1), 2)
        r = run([FWDAUTH, "arc", "verify", "--json", "--dns-zone", self.zonefile,
                 self.path("j.eml", msg)])
        self.assertEqual(r.returncode, 0)
        import json
        j = json.loads(r.stdout)
        self.assertEqual(j["cv"], "pass")
        self.assertEqual([s["instance"] for s in j["sets"]], [1, 2])
        self.assertEqual([s["as_domain"] for s in j["sets"]], ["fwd1.example", "fwd2.example"])
        r = run([FWDAUTH, "arc", "verify", "--dns-zone", self.zonefile, self.path("t.eml", msg)])
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "cv=pass")
        self.assertEqual(lines[1], "i=1 as=pass ams=pass d=fwd1.example s=arc")
        self.assertEqual(lines[2], "i=2 as=pass ams=pass d=fwd2.example s=arc")
        r = run([FWDAUTH, "arc", "verify", "--dns-zone", self.zonefile,
                 self.path("n.eml", MESSAGE)])
        self.assertEqual((r.returncode, r.stdout), (1, "cv=none\n"))

    def test_sign_refuses(self):
        sign = [FWDAUTH, "arc", "sign", "-d", "fwd1.example", "-s", "arc", "-k",
                self.keys["hop1"], "--authserv-id", "mx1.example", "--dns-zone", self.zonefile]
        no_from = re.sub(rb"(?m)^From:.*\r\n", b"", MESSAGE)
        cases = {
            "empty": (b"", "not a message"),
            "random": (bytes(range(256)) * 8, "not a message"),
            "no-from": (no_from, "no From: field"),
            "two-from": (b"From: eve@evil.example\r\n" + MESSAGE, "several From fields"),
        }
        for name, (data, why) in cases.items():
            with self.subTest(name):
                path = self.path(name + ".eml", data)
                r = run(sign + [path])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertTrue(r.stderr.startswith("fwdauth arc sign: %s: " % path), r.stderr)
                self.assertIn(why, r.stderr)
        r = run(sign + ["--json", self.path("ok.eml", MESSAGE)])
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertIn("fwdauth arc sign: --json is for arc verify", r.stderr)
        r = run(sign + [self.path("ok.eml", MESSAGE)])
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
