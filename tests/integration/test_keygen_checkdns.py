"""Black-box tests of `fwdauth dkim keygen` and `fwdauth check-dns`.

keygen: files, modes, refusal to overwrite, and proof that the record it
prints is right for independent implementations: dkimpy signs with the
generated private key and verifies against the generated record, and
OpenSSL derives the same public key from the private key file.
check-dns: zone files (DESIGN.md "Zone files") with good records and with
each class of mistake, exit statuses 0/1/2, -k match and mismatch, --json.
"""
import base64
import json
import os
import pwd
import re
import stat
import subprocess
import unittest

import fwdtest
from fwdtest import FWDAUTH, run

import dkim

MESSAGE = (b"From: Alice <alice@example.org>\r\n"
           b"To: Bob <bob@example.net>\r\n"
           b"Subject: keygen test\r\n"
           b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <keygen-test@example.org>\r\n"
           b"\r\n"
           b"Hello Bob.\r\n")


def zone_strings(line):
    """The quoted strings of a zone-file TXT line."""
    return re.findall(r'"([^"]*)"', line)


def openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], input=data, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


class Keygen(fwdtest.TestCase):
    def keygen(self, *args):
        return run([FWDAUTH, "dkim", "keygen", "-d", "example.org", "-o", self.dir, *args])

    def test_rsa_defaults_files_and_modes(self):
        r = self.keygen("-s", "sel1")
        self.assertEqual(r.returncode, 0, r.stderr)
        key = os.path.join(self.dir, "sel1.private")
        txt = os.path.join(self.dir, "sel1.txt")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(txt).st_mode) & 0o022, 0)
        with open(txt) as f:
            self.assertEqual(f.read(), r.stdout)
        line = r.stdout.strip()
        self.assertTrue(line.startswith('sel1._domainkey.example.org. 3600 IN TXT "v=DKIM1; k=rsa; p='),
                        line)
        strings = zone_strings(line)
        self.assertEqual(len(strings), 2)
        self.assertTrue(all(len(s) <= 255 for s in strings))
        with open(key) as f:
            self.assertEqual(f.readline(), "-----BEGIN PRIVATE KEY-----\n")
        text = openssl("pkey", "-in", key, "-noout", "-text").decode()
        self.assertIn("Private-Key: (2048 bit", text)
        # p= is the SubjectPublicKeyInfo OpenSSL derives from the private key
        spki = openssl("pkey", "-in", key, "-pubout", "-outform", "DER")
        self.assertEqual("".join(strings), "v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode())

    def test_ed25519_json(self):
        r = self.keygen("-s", "ed", "-t", "ed25519", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        obj = json.loads(r.stdout)
        key = os.path.join(self.dir, "ed.private")
        self.assertEqual(set(obj), {"domain", "selector", "type", "bits", "private_key", "record",
                                    "zone_line"})
        self.assertEqual((obj["domain"], obj["selector"], obj["type"], obj["bits"]),
                         ("example.org", "ed", "ed25519", 256))
        self.assertEqual(obj["private_key"], key)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        raw = openssl("pkey", "-in", key, "-pubout", "-outform", "DER")[-32:]
        self.assertEqual(obj["record"], "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode())
        self.assertEqual(obj["zone_line"],
                         'ed._domainkey.example.org. 3600 IN TXT "%s"' % obj["record"])
        with open(os.path.join(self.dir, "ed.txt")) as f:
            self.assertEqual(f.read(), obj["zone_line"] + "\n")

    def test_bits_and_4096_splits_in_three(self):
        r = self.keygen("-s", "big", "-b", "4096", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        obj = json.loads(r.stdout)
        self.assertEqual(obj["bits"], 4096)
        strings = zone_strings(obj["zone_line"])
        self.assertEqual(len(strings), 3)
        self.assertTrue(all(len(s) <= 255 for s in strings))
        self.assertEqual("".join(strings), obj["record"])

    def test_refuses_to_overwrite(self):
        self.assertEqual(self.keygen("-s", "sel").returncode, 0)
        key = os.path.join(self.dir, "sel.private")
        txt = os.path.join(self.dir, "sel.txt")
        with open(key, "rb") as f:
            before = f.read()
        r = self.keygen("-s", "sel")
        self.assertEqual(r.returncode, 2)
        self.assertIn("refusing to overwrite", r.stderr)
        with open(key, "rb") as f:
            self.assertEqual(f.read(), before)
        # only the key left: still refused, and no stray .txt is left behind
        os.unlink(txt)
        r = self.keygen("-s", "sel", "-t", "ed25519")
        self.assertEqual(r.returncode, 2)
        self.assertIn("refusing to overwrite", r.stderr)
        self.assertFalse(os.path.exists(txt))
        with open(key, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_usage_errors_exit_two(self):
        for args in ([FWDAUTH, "dkim"], [FWDAUTH, "dkim", "nosuch"],
                     [FWDAUTH, "dkim", "keygen", "-s", "x", "-o", self.dir],
                     [FWDAUTH, "dkim", "keygen", "-d", "example.org", "-o", self.dir],
                     [FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "x", "-t", "dsa"],
                     [FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "x", "-b", "512"],
                     [FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "x", "-b", "8192"],
                     [FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "x", "-b", "lots"],
                     [FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "x", "-t", "ed25519",
                      "-b", "2048"],
                     [FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "../x"],
                     [FWDAUTH, "dkim", "keygen", "-d", "exa mple.org", "-s", "x"],
                     [FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "x", "-o",
                      os.path.join(self.dir, "missing")]):
            r = run(args, cwd=self.dir)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.strip(), args)
        self.assertEqual(os.listdir(self.dir), [])
        for args in ([FWDAUTH, "dkim", "--help"], [FWDAUTH, "dkim", "keygen", "--help"]):
            r = run(args)
            self.assertEqual(r.returncode, 0, args)
            self.assertIn("usage:", r.stdout)

    def dkimpy_round_trip(self, keytype, algorithm):
        r = self.keygen("-s", "s-" + keytype, "-t", keytype, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        obj = json.loads(r.stdout)
        if keytype == "rsa":
            with open(obj["private_key"], "rb") as f:
                privkey = f.read()
        else:  # dkimpy takes the base64 32-octet seed, the tail of the PKCS#8 DER
            der = openssl("pkey", "-in", obj["private_key"], "-outform", "DER")
            privkey = base64.b64encode(der[-32:])
        sig = dkim.sign(MESSAGE, obj["selector"].encode(), b"example.org", privkey,
                        signature_algorithm=algorithm, include_headers=[b"from", b"to", b"subject"])
        published = {("%s._domainkey.example.org." % obj["selector"]).encode():
                     obj["record"].encode()}

        def dnsfunc(name, timeout=5):
            return published.get(name if name.endswith(b".") else name + b".")

        self.assertTrue(dkim.verify(sig + MESSAGE, dnsfunc=dnsfunc),
                        "dkimpy refused our record for its own signature")
        # Control: another key's record must not verify it.
        r2 = self.keygen("-s", "other-" + keytype, "-t", keytype, "--json")
        published[("%s._domainkey.example.org." % obj["selector"]).encode()] = \
            json.loads(r2.stdout)["record"].encode()
        self.assertFalse(dkim.verify(sig + MESSAGE, dnsfunc=dnsfunc))

    def test_flags_in_the_record(self):
        """--testing, --no-subdomains and --restrict as opendkim-genkey writes them
        (t=y, t=s, s=email), in a record dkimpy verifies with and check-dns reads."""
        r = self.keygen("-s", "flags", "--testing", "--no-subdomains", "--restrict", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        obj = json.loads(r.stdout)
        self.assertRegex(obj["record"], r"^v=DKIM1; k=rsa; t=y:s; s=email; p=[A-Za-z0-9+/]+=*$")
        strings = zone_strings(obj["zone_line"])
        self.assertEqual("".join(strings), obj["record"])
        self.assertTrue(all(len(s) <= 255 for s in strings))
        with open(os.path.join(self.dir, "flags.txt")) as f:
            self.assertEqual(f.read(), obj["zone_line"] + "\n")
        with open(obj["private_key"], "rb") as f:
            sig = dkim.sign(MESSAGE, b"flags", b"example.org", f.read(),
                            include_headers=[b"from", b"to", b"subject"])
        published = {b"flags._domainkey.example.org.": obj["record"].encode()}
        self.assertTrue(dkim.verify(sig + MESSAGE, dnsfunc=lambda n, timeout=5:
                                    published.get(n if n.endswith(b".") else n + b".")))
        zone = os.path.join(self.dir, "flags.zone")
        with open(zone, "w") as f:
            f.write(obj["zone_line"] + "\n")
        r = run([FWDAUTH, "check-dns", "example.org", "-s", "flags", "-k", obj["private_key"],
                 "--dns-zone", zone, "--json"])
        v = json.loads(r.stdout)["verdicts"]["dkim"][0]
        self.assertEqual((v["state"], v["testing"], v["matches_key"]), ("usable", True, True))
        for args, flags in ((["--testing"], "t=y; "), (["--testmode"], "t=y; "),
                            (["--no-subdomains"], "t=s; "), (["--nosubdomains"], "t=s; "),
                            (["--restrict"], "s=email; "), ([], "")):
            sel = "f%d" % len(os.listdir(self.dir))
            r = self.keygen("-s", sel, "-t", "ed25519", *args, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(json.loads(r.stdout)["record"].startswith(
                "v=DKIM1; k=ed25519; %sp=" % flags), (args, r.stdout))

    def test_print_keytable(self):
        """The KeyTable and SigningTable lines, with the key's absolute path."""
        sub = os.path.join(self.dir, "keys")
        os.mkdir(sub)
        r = run([FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", "kt", "-o", "keys",
                 "--print-keytable"], cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[1:], [
            "# KeyTable (dkim_key_table):",
            "kt._domainkey.example.org example.org:kt:%s/kt.private" % os.path.realpath(sub),
            "# SigningTable (dkim_signing_table):",
            "*@example.org kt._domainkey.example.org"])
        with open(os.path.join(sub, "kt.txt")) as f:
            self.assertEqual(f.read(), lines[0] + "\n")
        r = self.keygen("-s", "kt2", "--print-keytable", "--json")
        obj = json.loads(r.stdout)
        self.assertEqual(obj["keytable"], "kt2._domainkey.example.org example.org:kt2:%s" %
                         os.path.realpath(obj["private_key"]))
        self.assertEqual(obj["signingtable"], "*@example.org kt2._domainkey.example.org")

    def test_owner(self):
        nobody = pwd.getpwnam("nobody")
        r = self.keygen("-s", "own", "--owner", "nobody", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["owner"], "nobody")
        st = os.stat(os.path.join(self.dir, "own.private"))
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                         (nobody.pw_uid, nobody.pw_gid, 0o600))
        # the record file stays the caller's
        self.assertEqual(os.stat(os.path.join(self.dir, "own.txt")).st_uid, os.geteuid())
        before = sorted(os.listdir(self.dir))
        r = self.keygen("-s", "own2", "--owner", "no-such-user-fwdauth")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no user", r.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), before)

    def test_rsa_record_verifies_with_dkimpy(self):
        self.dkimpy_round_trip("rsa", b"rsa-sha256")

    def test_ed25519_record_verifies_with_dkimpy(self):
        self.dkimpy_round_trip("ed25519", b"ed25519-sha256")


GOOD_ZONE = """
good.example.        TXT "v=spf1 ip4:192.0.2.0/24 mx include:_spf.provider.example -all"
good.example.        MX  10 mail.good.example.
mail.good.example.   A   192.0.2.10
_spf.provider.example. TXT "v=spf1 ip6:2001:db8::/32 ip4:198.51.100.0/24 ~all"
_dmarc.good.example. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.example; adkim=s"
sub.good.example.    TXT "v=spf1 -all"
"""

BROKEN_ZONE = """
; SPF
nospf.example.       TXT "just some text"
twospf.example.      TXT "v=spf1 -all"
twospf.example.      TXT "v=spf1 ip4:192.0.2.1 -all"
unknown.example.     TXT "v=spf1 ip4:192.0.2.1 foo:bar -all"
badip.example.       TXT "v=spf1 ip4:192.0.2.300 -all"
plusall.example.     TXT "v=spf1 mx +all"
plusall.example.     MX  10 mail.good.example.
noall.example.       TXT "v=spf1 ip4:192.0.2.1"
ptr.example.         TXT "v=spf1 ptr -all"
deadinc.example.     TXT "v=spf1 include:nothing.example -all"
voids.example.       TXT "v=spf1 a:gone1.example a:gone2.example mx:gone3.example -all"
many.example.        TXT "v=spf1 include:i1.example include:i2.example include:i3.example -all"
i1.example.          TXT "v=spf1 a:h.example mx:h.example a:h2.example mx:h2.example ~all"
i2.example.          TXT "v=spf1 a:h.example mx:h.example a:h2.example mx:h2.example ~all"
i3.example.          TXT "v=spf1 include:i1.example ~all"
h.example.           A  192.0.2.5
h.example.           MX 10 h.example.
h2.example.          A  192.0.2.6
h2.example.          MX 10 h2.example.
loop.example.        TXT "v=spf1 include:loop2.example -all"
loop2.example.       TXT "v=spf1 redirect=loop.example"
slow.example.        TXT "v=spf1 include:timeout.example -all"
timeout.example.     TIMEOUT

; DMARC (each of these has a good SPF record)
nodmarc.example.     TXT "v=spf1 -all"
pnone.example.       TXT "v=spf1 -all"
_dmarc.pnone.example. TXT "v=DMARC1; p=none; rua=mailto:d@pnone.example"
twodmarc.example.    TXT "v=spf1 -all"
_dmarc.twodmarc.example. TXT "v=DMARC1; p=reject"
_dmarc.twodmarc.example. TXT "v=DMARC1; p=none"
badp.example.        TXT "v=spf1 -all"
_dmarc.badp.example. TXT "v=DMARC1; p=block; rua=mailto:d@badp.example"
nop.example.         TXT "v=spf1 -all"
_dmarc.nop.example.  TXT "v=DMARC1; rua=mailto:d@nop.example"
badtags.example.     TXT "v=DMARC1; p=reject"
badtags.example.     TXT "v=spf1 -all"
_dmarc.badtags.example. TXT "v=DMARC1; p=reject; sp=maybe; adkim=x; aspf=y; pct=150; rua=d@x.example, mailto:nobody; ruf=mailto:f@elsewhere.example"
_dmarc.sub.good.example. TIMEOUT

; DKIM (at good.example, so only DKIM is wrong)
revoked._domainkey.good.example. TXT "v=DKIM1; k=rsa; p="
testing._domainkey.good.example. TXT "v=DKIM1; t=y; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
garbage._domainkey.good.example. TXT "v=DKIM1; k=rsa; p=bm90IGEga2V5"
ktype._domainkey.good.example. TXT "v=DKIM1; k=dsa; p=AAAA"
vlate._domainkey.good.example. TXT "k=ed25519; v=DKIM1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
hsha1._domainkey.good.example. TXT "v=DKIM1; h=sha1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
svc._domainkey.good.example. TXT "v=DKIM1; s=tlsrpt; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
svcok._domainkey.good.example. TXT "v=DKIM1; s=tlsrpt : email; h=sha1 : sha256; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
syntax._domainkey.good.example. TXT "v=DKIM1; k=rsa; p"
"""


class CheckDns(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        # Real keys from keygen, published with the zone lines it wrote.
        lines = []
        for sel, args in (("rsa", []), ("ed", ["-t", "ed25519"]), ("r1024", ["-b", "1024"])):
            r = run([FWDAUTH, "dkim", "keygen", "-d", "good.example", "-s", sel, "-o", self.dir,
                     *args])
            self.assertEqual(r.returncode, 0, r.stderr)
            lines.append(r.stdout)
        # A 512-bit key, which keygen refuses to make, made with openssl.
        small = openssl("genrsa", "512")
        spki = openssl("pkey", "-pubout", "-outform", "DER", data=small)
        lines.append('small._domainkey.good.example. TXT "v=DKIM1; k=rsa; p=%s"\n'
                     % base64.b64encode(spki).decode())
        self.zone = os.path.join(self.dir, "test.zone")
        with open(self.zone, "w") as f:
            f.write(GOOD_ZONE + BROKEN_ZONE + "".join(lines))

    def check(self, domain, *args):
        return run([FWDAUTH, "check-dns", domain, "--dns-zone", self.zone, *args])

    def assertFinding(self, r, level, text, check=None):
        """A line "LEVEL: [CHECK: ]...TEXT..." in the output."""
        pat = r"^%s: %s.*%s" % (level, re.escape(check + ": ") if check else "", re.escape(text))
        self.assertRegex(r.stdout, re.compile(pat, re.M))

    def test_good_domain_exits_zero(self):
        r = self.check("good.example", "-s", "rsa", "-s", "ed")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines)
        self.assertTrue(all(line.startswith("ok: ") for line in lines), r.stdout)
        self.assertFinding(r, "ok", "ends with -all")
        self.assertFinding(r, "ok", "2 of at most 10 DNS lookups")
        self.assertFinding(r, "ok", "p=reject")
        self.assertFinding(r, "ok", "rsa._domainkey.good.example publishes an RSA key of 2048 bits")
        self.assertFinding(r, "ok", "ed._domainkey.good.example publishes an Ed25519 key")

    def test_key_match_and_mismatch(self):
        rsa = os.path.join(self.dir, "rsa.private")
        r = self.check("good.example", "-s", "rsa", "-k", rsa)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertFinding(r, "ok", "rsa._domainkey.good.example matches the private key in " + rsa)
        ed = os.path.join(self.dir, "ed.private")
        r = self.check("good.example", "-s", "ed", "-k", ed)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertFinding(r, "ok", "matches the private key")
        r = self.check("good.example", "-s", "rsa", "-k", ed)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertFinding(r, "problem", "rsa._domainkey.good.example does not match the private key")
        # a key file others can read is refused: cannot check
        os.chmod(rsa, 0o644)
        r = self.check("good.example", "-s", "rsa", "-k", rsa)
        self.assertEqual(r.returncode, 2)
        self.assertIn("readable or writable by others", r.stderr)

    def test_spf_problems(self):
        cases = [
            ("nospf.example", "problem", "no SPF record at nospf.example"),
            ("twospf.example", "problem", "more than one v=spf1 TXT record"),
            ("unknown.example", "problem", 'unknown mechanism "foo:bar"'),
            ("badip.example", "problem", '"ip4:192.0.2.300" in the record of badip.example is malformed'),
            ("deadinc.example", "problem", "nothing.example has no SPF record"),
            ("voids.example", "problem", "3 lookups find nothing (void lookups"),
            ("many.example", "problem", "16 DNS lookups"),
            ("loop.example", "problem", "(a loop)"),
            ("nonexistent.example", "problem", "nonexistent.example does not exist in DNS"),
        ]
        for domain, level, text in cases:
            with self.subTest(domain=domain):
                r = self.check(domain)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertFinding(r, level, text, "SPF")

    def test_spf_warnings(self):
        for domain, text in (("plusall.example", "ends with +all: every host on the Internet passes"),
                             ("noall.example", 'no "all" at the end'),
                             ("ptr.example", "uses ptr")):
            with self.subTest(domain=domain):
                r = self.check(domain)
                self.assertFinding(r, "warning", text, "SPF")

    def test_dmarc_problems_and_warnings(self):
        r = self.check("nodmarc.example")
        self.assertEqual(r.returncode, 1)
        self.assertFinding(r, "problem", "DMARC: no DMARC record at _dmarc.nodmarc.example")
        # p=none alone is a warning, not a problem: exit 0
        r = self.check("pnone.example")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertFinding(r, "warning", "DMARC: p=none")
        self.assertFinding(r, "warning", "offers no protection")
        r = self.check("twodmarc.example")
        self.assertEqual(r.returncode, 1)
        self.assertFinding(r, "problem", "_dmarc.twodmarc.example has 2 v=DMARC1 records")
        r = self.check("badp.example")
        self.assertEqual(r.returncode, 1)
        self.assertFinding(r, "problem", "p=block is not a policy")
        r = self.check("nop.example")
        self.assertEqual(r.returncode, 1)
        self.assertFinding(r, "problem", "no p= tag")
        r = self.check("nodmarc.example")
        r = self.check("badtags.example")
        self.assertEqual(r.returncode, 1)
        for text in ("sp=maybe is not a policy", "adkim=x is not valid", "aspf=y is not valid",
                     "pct=150 is not a number", "rua=d@x.example is not a URI",
                     "rua=mailto:nobody is not a valid mailto: address"):
            self.assertFinding(r, "problem", text)
        self.assertFinding(r, "warning", "elsewhere.example has not agreed to receive reports")

    def test_dmarc_found_up_the_tree(self):
        r = self.check("mail.good.example")
        self.assertFinding(r, "ok", "receivers use the one at _dmarc.good.example")

    def test_dkim_problems_and_warnings(self):
        sels = ["missing", "revoked", "testing", "garbage", "ktype", "vlate", "hsha1", "syntax",
                "small", "r1024", "svc", "svcok"]
        args = []
        for s in sels:
            args += ["-s", s]
        r = self.check("good.example", *args)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertFinding(r, "problem", "DKIM: no key record at missing._domainkey.good.example")
        self.assertFinding(r, "problem", "revoked._domainkey.good.example has an empty p=: the key is revoked")
        self.assertFinding(r, "warning", "testing._domainkey.good.example: t=y")
        self.assertFinding(r, "problem", "garbage._domainkey.good.example: p= holds no usable RSA key")
        self.assertFinding(r, "problem", "k=dsa is not a key type")
        self.assertFinding(r, "problem", "vlate._domainkey.good.example: v= must be first")
        self.assertFinding(r, "problem", "h=sha1 leaves out sha256")
        self.assertFinding(r, "problem", "svc._domainkey.good.example: s=tlsrpt excludes email")
        # Lists with white space around the colons are read item by item.
        self.assertNotIn("svcok._domainkey.good.example: s=", r.stdout)
        self.assertNotIn("svcok._domainkey.good.example: h=", r.stdout)
        self.assertFinding(r, "problem", "syntax._domainkey.good.example is malformed")
        self.assertFinding(r, "problem", "RSA key of 512 bits refused")
        self.assertFinding(r, "warning", "r1024._domainkey.good.example: the RSA key has only 1024 bits")
        # Only the selectors asked for are looked at.
        self.assertNotIn("rsa._domainkey", r.stdout)

    def test_dns_failure_exits_two(self):
        r = self.check("slow.example")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertFinding(r, "error", "could not look up the TXT records of timeout.example")
        self.assertIn("could not be checked", r.stderr)
        r = self.check("sub.good.example")
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertFinding(r, "error", "could not look up _dmarc.sub.good.example")

    def test_json(self):
        r = self.check("pnone.example", "--json")
        self.assertEqual(r.returncode, 0)
        obj = json.loads(r.stdout)
        self.assertEqual((obj["domain"], obj["status"], obj["problems"]), ("pnone.example", "ok", 0))
        self.assertGreaterEqual(obj["warnings"], 1)
        levels = {(f["check"], f["level"]) for f in obj["findings"]}
        self.assertIn(("dmarc", "warning"), levels)
        self.assertIn(("spf", "ok"), levels)
        r = self.check("good.example", "--json", "-s", "revoked")
        self.assertEqual(r.returncode, 1)
        obj = json.loads(r.stdout)
        self.assertEqual(obj["status"], "problems")
        self.assertEqual([f["check"] for f in obj["findings"] if f["level"] == "problem"], ["dkim"])
        r = self.check("slow.example", "--json")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(json.loads(r.stdout)["status"], "error")

    def test_dmarc_verdicts_in_json(self):
        """--json carries what the verifier makes of each record."""
        r = self.check("mail.good.example", "--json", "-s", "revoked")
        v = json.loads(r.stdout)["verdicts"]
        self.assertEqual(v["spf"]["state"], "absent")
        self.assertEqual((v["dmarc"]["state"], v["dmarc"]["policy"], v["dmarc"]["record_domain"],
                          v["dmarc"]["mode"]), ("usable", "reject", "good.example", "rfc7489"))
        self.assertEqual([(k["selector"], k["state"]) for k in v["dkim"]],
                         [("revoked", "absent")])  # revoked._domainkey.mail.good.example
        r = self.check("good.example", "--json", "-s", "revoked", "-s", "ed", "-s", "testing")
        v = json.loads(r.stdout)["verdicts"]
        self.assertEqual(v["spf"], {"state": "usable", "lookups": 2, "void_lookups": 0})
        self.assertEqual([(k["selector"], k["state"], k["key_type"], k["testing"])
                          for k in v["dkim"]],
                         [("revoked", "broken", "", False), ("ed", "usable", "ed25519", False),
                          ("testing", "usable", "ed25519", True)])
        r = self.check("badp.example", "--json")
        dm = json.loads(r.stdout)["verdicts"]["dmarc"]
        # p=block with a valid rua: receivers read the record as p=none
        self.assertEqual((dm["state"], dm["policy"], dm["as_none"]), ("usable", "none", True))

    def test_config_file_names_the_zone(self):
        conf = os.path.join(self.dir, "fwdauthd.conf")
        fwdtest.write_config(conf, dns_zone_file=self.zone)
        r = run([FWDAUTH, "check-dns", "-c", conf, "good.example"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFinding(r, "ok", "p=reject")

    def configured(self, publish=("fwd", "arc", "u1"), mismatch=()):
        """A configuration naming an SRS domain, a From-rewrite domain, a KeyTable
        (made with keygen --print-keytable) and an ARC key; a zone publishing
        the keys in publish (those in mismatch: another key)."""
        keys = os.path.join(self.dir, "cfg-keys")
        os.mkdir(keys)
        kt, st, zone = [], [], []
        for sel, domain in (("fwd", "good.example"), ("arc", "good.example"),
                            ("u1", "user.example"), ("other", "user.example")):
            r = run([FWDAUTH, "dkim", "keygen", "-d", domain, "-s", sel, "-o", keys, "-t",
                     "ed25519", "--print-keytable"])
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = r.stdout.splitlines()
            if sel in ("fwd", "u1"):
                kt.append(lines[2])
                st.append(lines[4])
            if sel in publish:
                zone.append(lines[0])
        for sel in mismatch:
            with open(os.path.join(keys, "other.txt")) as f:
                zone.append(f.read().replace("other._domainkey.user.example.",
                                             "%s._domainkey.good.example." % sel))
        for name, lines in (("KeyTable", kt), ("SigningTable", st)):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.dir, "cfg.zone"), "w") as f:
            f.write(GOOD_ZONE + "\n".join(zone) + "\n"
                    'srs.good.example. TXT "v=spf1 a:mail.good.example -all"\n'
                    "srs.good.example. MX 10 mail.good.example.\n"
                    'user.example. TXT "v=spf1 -all"\n'
                    '_dmarc.user.example. TXT "v=DMARC1; p=reject"\n')
        conf = os.path.join(self.dir, "configured.conf")
        fwdtest.write_config(conf, dns_zone_file=os.path.join(self.dir, "cfg.zone"),
                             srs_domain="srs.good.example", milter_listen="inet:127.0.0.1:1",
                             dkim_key_table=os.path.join(self.dir, "KeyTable"),
                             dkim_signing_table="refile:" + os.path.join(self.dir, "SigningTable"),
                             forward_signing_key="fwd._domainkey.good.example",
                             from_rewrite="reject", from_rewrite_address="fwd@good.example",
                             arc_domain="good.example", arc_selector="arc",
                             arc_key=os.path.join(keys, "arc.private"))
        return conf, keys

    def test_configured_domains_and_keys(self):
        """check-dns -c FILE without a domain: every domain and key FILE names."""
        conf, keys = self.configured()
        r = run([FWDAUTH, "check-dns", "-c", conf])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        heads = [l for l in r.stdout.splitlines() if not re.match(r"^(ok|warning|problem|error):", l)]
        self.assertEqual(heads, ["srs.good.example (srs_domain):",
                                 "good.example (from_rewrite_address, KeyTable, arc_domain):",
                                 "user.example (KeyTable):"])
        self.assertFinding(r, "ok", "MX: srs.good.example: mail goes to mail.good.example")
        for sel, dom in (("fwd", "good.example"), ("arc", "good.example"), ("u1", "user.example")):
            self.assertFinding(r, "ok", "DKIM: %s._domainkey.%s matches the private key in %s" %
                               (sel, dom, os.path.join(keys, sel + ".private")))
        r = run([FWDAUTH, "check-dns", "-c", conf, "--json"])
        obj = json.loads(r.stdout)
        self.assertEqual((obj["status"], obj["problems"]), ("ok", 0))
        doms = {d["domain"]: d for d in obj["domains"]}
        self.assertEqual(doms["srs.good.example"]["roles"], ["srs_domain"])
        self.assertEqual(set(doms["srs.good.example"]["verdicts"]), {"spf", "mx", "dkim"})
        self.assertEqual(set(doms["good.example"]["verdicts"]), {"spf", "dmarc", "dkim"})
        self.assertEqual([(k["selector"], k["key_file"], k["matches_key"])
                          for k in doms["good.example"]["verdicts"]["dkim"]],
                         [("fwd", os.path.join(keys, "fwd.private"), True),
                          ("arc", os.path.join(keys, "arc.private"), True)])

    def test_configured_problems(self):
        # the ARC key unpublished, the forwarder key published as another key
        conf, keys = self.configured(publish=("u1",), mismatch=("fwd",))
        r = run([FWDAUTH, "check-dns", "-c", conf])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertFinding(r, "problem", "DKIM: no key record at arc._domainkey.good.example")
        self.assertFinding(r, "problem", "DKIM: fwd._domainkey.good.example does not match the "
                           "private key in " + os.path.join(keys, "fwd.private"))
        # a key that cannot be read is named, and its record still checked
        os.chmod(os.path.join(keys, "u1.private"), 0o644)
        r = run([FWDAUTH, "check-dns", "-c", conf])
        self.assertFinding(r, "warning", "DKIM: %s (u1._domainkey.user.example) could not be read" %
                           os.path.join(keys, "u1.private"))
        self.assertFinding(r, "ok", "u1._domainkey.user.example publishes an Ed25519 key")
        # -s/-k belong to DOMAIN
        r = run([FWDAUTH, "check-dns", "-c", conf, "-s", "fwd"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("with -c alone", r.stderr)

    def test_usage_errors_exit_two(self):
        for args in ([FWDAUTH, "check-dns"],
                     [FWDAUTH, "check-dns", "a.example", "b.example", "--dns-zone", self.zone],
                     [FWDAUTH, "check-dns", "good.example", "-k",
                      os.path.join(self.dir, "rsa.private"), "--dns-zone", self.zone],
                     [FWDAUTH, "check-dns", "good.example", "--dns-zone",
                      os.path.join(self.dir, "missing.zone")],
                     [FWDAUTH, "check-dns", "good.example", "-s", "rsa", "-k",
                      os.path.join(self.dir, "missing.private"), "--dns-zone", self.zone],
                     [FWDAUTH, "check-dns", "good.example", "--mode", "rfc1234", "--dns-zone",
                      self.zone],
                     [FWDAUTH, "check-dns", "--bogus", "good.example"]):
            r = run(args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.strip(), args)
        r = run([FWDAUTH, "check-dns", "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage:", r.stdout)


if __name__ == "__main__":
    unittest.main()
