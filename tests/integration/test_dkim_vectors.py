"""Published DKIM vectors: RFC 8463 Appendix A and RFC 6376 Appendix A.2.

tests/data/rfc8463/: signed.eml (A.3, both signatures), unsigned.eml (the same
message without them), ed25519.seed and rsa.pem (A.1), keys.zone (A.2).
tests/data/rfc6376/: a2-signed.eml (A.2 with errata 3192 and 4926: body
"game. Are" with one space, continuation lines indented as hashed),
keys.zone (A.3 = the Appendix C public key), appendix-c.pem (Appendix C).
Each file is also checked with dkimpy, so a transcription error shows as a
data error, not as a bug of ours.
"""
import base64
import os
import re
import unittest

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import fwdtest
from fwdtest import FWDAUTH, SOURCE, run

DATA = os.path.join(SOURCE, "tests", "data")
R8463 = os.path.join(DATA, "rfc8463")
R6376 = os.path.join(DATA, "rfc6376")
T8463 = 1528637909
H8463 = "from : to : subject : date : message-id : from : subject : date"  # as RFC 8463 writes h=


def rd(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def wr(path, data):
    with open(path, "wb") as f:
        f.write(data)


def zone_dnsfunc(path):
    recs = {}
    for line in rd(path, "r").splitlines():
        if line.strip() and not line.startswith(";"):
            recs[line.split()[0].rstrip(".").lower()] = "".join(
                re.findall(r'"([^"]*)"', line)).encode()
    return lambda name, timeout=5: recs.get(name.decode().rstrip(".").lower())


def tag(field, name):
    m = re.search(rb"(?:^|;)\s*" + name + rb"=([^;]*)", field)
    return re.sub(rb"\s+", b"", m.group(1)) if m else None


def first_field(msg):
    """The first header field (unfolded lines kept)."""
    m = re.match(rb"(.*?\r?\n)(?![ \t])", msg, re.S)
    return m.group(1)


def relaxed_tags_without_b(field):
    """Relaxed canonical form of a DKIM-Signature's value with b= emptied."""
    v = field.split(b":", 1)[1]
    v = re.sub(rb"\r?\n", b"", v)
    v = re.sub(rb"[ \t]+", b" ", v).strip()
    return re.sub(rb"(b=)[^;]*", rb"\1", v)


class Rfc8463(fwdtest.TestCase):
    def test_signatures_verify(self):
        path = os.path.join(R8463, "signed.eml")
        zone = os.path.join(R8463, "keys.zone")
        msg = rd(path)
        d = dkim.DKIM(msg)
        self.assertEqual([d.verify(idx=i, dnsfunc=zone_dnsfunc(zone)) for i in range(2)],
                         [True, True], "transcription of RFC 8463 A.3 is wrong")
        r = run([FWDAUTH, "dkim", "verify", "--dns-zone", zone, "--now", str(T8463 + 60), path])
        self.assertEqual(r.stdout.splitlines(), [
            "pass d=football.example.com s=brisbane a=ed25519-sha256",
            "pass d=football.example.com s=test a=rsa-sha256"], r.stderr)
        self.assertEqual(r.returncode, 0)
        # One octet changed in the body: both fail.
        bad = os.path.join(self.dir, "bad.eml")
        wr(bad, msg.replace(b"hungry", b"Hungry"))
        r = run([FWDAUTH, "dkim", "verify", "--dns-zone", zone, "--now", str(T8463 + 60), bad])
        self.assertEqual([l.split()[0] for l in r.stdout.splitlines()], ["fail", "fail"])
        self.assertEqual(r.returncode, 1)

    def ed_key(self):
        seed = base64.b64decode(rd(os.path.join(R8463, "ed25519.seed"), "r"))
        k = Ed25519PrivateKey.from_private_bytes(seed)
        pub = base64.b64encode(k.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
        self.assertIn("p=" + pub, rd(os.path.join(R8463, "keys.zone"), "r"))
        path = os.path.join(self.dir, "brisbane.pem")
        with open(path, "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
        os.chmod(path, 0o600)
        return path

    def sign(self, key, alg, selector):
        r = run([FWDAUTH, "dkim", "sign", "-d", "football.example.com", "-s", selector, "-k", key,
                 "-a", alg, "-H", H8463, "--canon", "relaxed/relaxed", "--timestamp", str(T8463),
                 "-i", "@football.example.com", "--query-tag", os.path.join(R8463, "unsigned.eml")])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.encode()

    def test_ed25519_signing_reproduces_the_rfc(self):
        ours = self.sign(self.ed_key(), "ed25519-sha256", "brisbane")
        rfc = first_field(rd(os.path.join(R8463, "signed.eml")))
        field = first_field(ours)
        self.assertEqual(tag(field, b"bh"), tag(rfc, b"bh"))
        # Our signature is good whatever its tag order (dkimpy and we agree).
        path = os.path.join(self.dir, "ours.eml")
        wr(path, ours)
        zone = os.path.join(R8463, "keys.zone")
        self.assertTrue(dkim.verify(ours, dnsfunc=zone_dnsfunc(zone)))
        r = run([FWDAUTH, "dkim", "verify", "--dns-zone", zone, "--now", str(T8463), path])
        self.assertEqual(r.stdout.split()[0], "pass")
        # Same key, message, tags (the RFC's order, q=, its h= spacing) and
        # t=: Ed25519 is deterministic, so b= must be the RFC's octets.
        self.assertEqual(relaxed_tags_without_b(field), relaxed_tags_without_b(rfc))
        self.assertEqual(tag(field, b"b"), tag(rfc, b"b"))

    def test_rsa_signing_matches_body_hash_and_verifies(self):
        key = os.path.join(self.dir, "test.pem")
        with open(key, "w") as f:
            f.write(rd(os.path.join(R8463, "rsa.pem"), "r"))
        os.chmod(key, 0o600)
        ours = self.sign(key, "rsa-sha256", "test")
        rfc = rd(os.path.join(R8463, "signed.eml"))
        self.assertEqual(tag(first_field(ours), b"bh"), b"2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=")
        self.assertIn(b"bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;", rfc)
        self.assertTrue(dkim.verify(ours, dnsfunc=zone_dnsfunc(os.path.join(R8463, "keys.zone"))))


class Rfc6376(fwdtest.TestCase):
    def test_appendix_a2_verifies(self):
        path = os.path.join(R6376, "a2-signed.eml")
        zone = os.path.join(R6376, "keys.zone")
        msg = rd(path)
        self.assertTrue(dkim.verify(msg, dnsfunc=zone_dnsfunc(zone)),
                        "transcription of RFC 6376 A.2 is wrong")
        r = run([FWDAUTH, "dkim", "verify", "--dns-zone", zone, path])
        self.assertEqual(r.stdout.splitlines(), ["pass d=example.com s=brisbane a=rsa-sha256"],
                         r.stderr)
        self.assertEqual(r.returncode, 0)
        # The figure as printed (two spaces after "game.") fails: erratum 4926.
        bad = os.path.join(self.dir, "printed.eml")
        wr(bad, msg.replace(b"game. Are", b"game.  Are"))
        r = run([FWDAUTH, "dkim", "verify", "--dns-zone", zone, bad])
        self.assertTrue(r.stdout.startswith("fail d=example.com s=brisbane"), r.stdout)

    def test_appendix_c_key_matches_a3_record(self):
        pem = rd(os.path.join(R6376, "appendix-c.pem"))
        key = serialization.load_pem_private_key(pem, None)
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        self.assertIn("p=" + base64.b64encode(der).decode(),
                      rd(os.path.join(R6376, "keys.zone"), "r"))


if __name__ == "__main__":
    unittest.main()
