"""`fwdauth check-dns` agrees with the verifier on held-out records.

Each record below is published in one zone file and judged twice: by
`fwdauth check-dns --json` (its "verdicts" object: is there a record, can
receivers use it, which policy applies) and by the command that verifies
mail against it -- `fwdauth dmarc check` for a message From the domain that
passes neither SPF nor DKIM, `fwdauth dkim verify` for a message signed
with `fwdauth dkim sign` under the record's selector with a key made by
`fwdauth dkim keygen`, `fwdauth spf check` for a client address that no
term matches. The two must agree, in both DMARC modes (rfc7489 with the
Public Suffix List, rfc9989 with the DNS Tree Walk); each case also states
the verdict the RFCs give (checked against both), so that agreeing on a
wrong answer fails too.

Cases: case variants of v= and of tag names and values, white space,
duplicate tags, missing and bad p= with and without a valid rua=, records
at the Organizational Domain, PSL edge cases (co.uk; github.io and
blogspot.com, private suffixes that Debian's libpsl knows), several
records; DKIM k=, empty p= (revoked), bad base64, h=, t=, s=, unknown tags
and case; SPF record selection, syntax, limits and includes.
"""
import json
import os
import shutil
import tempfile
import unittest

import fwdtest
from fwdtest import FWDAUTH, run

IP = "192.0.2.99"  # matches no SPF term below

# (domain, [TXT records at _dmarc.<record owner>...] as (owner, text),
#  expected {mode: (state, policy)}; one value for both modes when equal).
# state: usable / absent / broken / unknown, as check-dns's verdicts say;
# policy: the policy for failing mail when usable.
U, A, B, T = "usable", "absent", "broken", "unknown"
DMARC_CASES = [
    ("d01.test", [("d01.test", "v=DMARC1; p=reject")], (U, "reject")),
    # RFC 7489 6.3 / dmarc.h: the value DMARC1 exactly, the tag name in any case
    ("d02.test", [("d02.test", "v=dmarc1; p=reject")], (A, None)),
    ("d03.test", [("d03.test", "V=DMARC1; p=reject")], (U, "reject")),
    ("d04.test", [("d04.test", "v=DMARC1; P=Reject")], (U, "reject")),
    ("d05.test", [("d05.test", "v=DMARC1;p=quarantine")], (U, "quarantine")),
    ("d06.test", [("d06.test", "  v = DMARC1 ; p = reject ; ")], (U, "reject")),
    # a repeated tag: the first counts
    ("d07.test", [("d07.test", "v=DMARC1; p=reject; p=none")], (U, "reject")),
    ("d08.test", [("d08.test", "v=DMARC1; p=none; p=reject")], (U, "none")),
    # missing p: RFC 7489 6.6.3 step 6 (valid rua: as p=none; none: unusable);
    # RFC 9989 4.7: p=none
    ("d09.test", [("d09.test", "v=DMARC1; rua=mailto:r@d09.test")], (U, "none")),
    ("d10.test", [("d10.test", "v=DMARC1")], {"rfc7489": (B, None), "rfc9989": (U, "none")}),
    # bad p
    ("d11.test", [("d11.test", "v=DMARC1; p=block")], (B, None)),
    ("d12.test", [("d12.test", "v=DMARC1; p=block; rua=mailto:r@d12.test")], (U, "none")),
    ("d13.test", [("d13.test", "v=DMARC1; p=block; rua=r@d13.test")], (B, None)),
    ("d14.test", [("d14.test", "v=DMARC1; p=reject; sp=bogus")], (B, None)),
    # several records at one name
    ("d15.test", [("d15.test", "v=DMARC1; p=reject"), ("d15.test", "v=DMARC1; p=none")], (A, None)),
    # not DMARC records
    ("d16.test", [("d16.test", "v=DMARC1 p=reject")], (A, None)),
    ("d17.test", [("d17.test", "p=reject; v=DMARC1")], (A, None)),
    ("d18.test", [("d18.test", "v=DMARC2; p=reject")], (A, None)),
    # the Organizational Domain's record: sp=, else p=
    ("sub.d19.test", [("d19.test", "v=DMARC1; p=reject; sp=quarantine")], (U, "quarantine")),
    ("sub.d20.test", [("d20.test", "v=DMARC1; p=reject")], (U, "reject")),
    ("a.b.c.d21.test", [("d21.test", "v=DMARC1; p=none; sp=quarantine")], (U, "quarantine")),
    # PSL edge cases: a public suffix is never an Organizational Domain in
    # RFC 7489; the RFC 9989 Tree Walk does find its record
    ("example-lint.co.uk", [("co.uk", "v=DMARC1; p=reject")],
     {"rfc7489": (A, None), "rfc9989": (U, "reject")}),
    ("lint-user.github.io", [("github.io", "v=DMARC1; p=reject")],
     {"rfc7489": (A, None), "rfc9989": (U, "reject")}),
    # RFC 9989 4.10.2: without psd=y at github.io (published above), the
    # Organizational Domain is the walk's shortest name with a record
    ("www.lint-user2.github.io", [("lint-user2.github.io", "v=DMARC1; p=quarantine")],
     {"rfc7489": (U, "quarantine"), "rfc9989": (U, "reject")}),
    ("www.lint-user3.github.io", [("lint-user3.github.io", "v=DMARC1; p=quarantine"),
                                  ("lint-user3.github.io", "v=DMARC1; p=reject")],
     {"rfc7489": (A, None), "rfc9989": (U, "reject")}),
    ("x.lint-blog.blogspot.com", [("blogspot.com", "v=DMARC1; p=reject")],
     {"rfc7489": (A, None), "rfc9989": (U, "reject")}),
    # RFC 9989 tags: in RFC 7489 mode unknown tags, ignored
    ("d26.test", [("d26.test", "v=DMARC1; p=reject; np=quarantine; psd=n; t=y")],
     (U, "reject")),
    ("d27.test", [("d27.test", "v=DMARC1; p=quarantine; pct=0")], (U, "quarantine")),
    ("d28.test", [("d28.test", "v=DMARC1; p=reject; adkim=x; aspf=s; foo=bar")], (U, "reject")),
    # one DMARC record among other TXT records
    ("d29.test", [("d29.test", "v=DMARC1; p=reject"), ("d29.test", "v=spf1 -all")],
     (U, "reject")),
    ("d30.test", [("d30.test", "v=DMARC1; ; p=reject;")], (U, "reject")),
    # a broken record at the domain, a good one at its Organizational Domain
    ("sub.d31.test", [("sub.d31.test", "v=dmarc1; p=none"), ("d31.test", "v=DMARC1; p=reject")],
     (U, "reject")),
    ("d32.test", [("d32.test", "v=DMARC1; p=REJECT")], (U, "reject")),
    ("d33.test", [("d33.test", "v=DMARC1; p=reject; rua=mailto:a@d33.test, ")], (U, "reject")),
    # sp= without p=: RFC 7489 as p=none (valid rua); RFC 9989 sp= for subdomains
    ("sub.d37.test", [("d37.test", "v=DMARC1; sp=reject; rua=mailto:r@d37.test")],
     {"rfc7489": (U, "none"), "rfc9989": (U, "reject")}),
    ("d38.test", [], (A, None)),
    ("d39.test", [("d39.test", "v=DMARC1; p=quarantine; sp=none; pct=50; fo=1:d; ri=3600; "
                               "rf=afrf; adkim=s; aspf=r; rua=mailto:a@d39.test")],
     (U, "quarantine")),
]
# _dmarc.d34.test times out: no conclusion either way.
TIMEOUT_DOMAINS = ["d34.test"]

# DKIM: (selector, key the message is signed with, record template with
# RSA / ED for the real key's p=, usable?). Selector "none" is unpublished.
DKIM_CASES = [
    ("r01", "rsa", ["v=DKIM1; k=rsa; p=RSA"], True),
    ("r02", "rsa", ["v=DKIM1; p=RSA"], True),
    ("r03", "rsa", ["v=DKIM1; k=RSA; p=RSA"], True),
    ("r04", "rsa", ["k=rsa; p=RSA"], True),
    ("r05", "rsa", ["v=DKIM1; k=rsa; p="], False),
    ("r06", "rsa", ["v=DKIM1; k=rsa; p=MIIB!!not*base64"], False),
    ("r07", "rsa", ["v=DKIM1; k=rsa; h=sha256; p=RSA"], True),
    ("r08", "rsa", ["v=DKIM1; k=rsa; h=sha1; p=RSA"], False),
    ("r09", "rsa", ["v=DKIM1; k=rsa; h=sha1:sha256; p=RSA"], True),
    ("r10", "rsa", ["v=DKIM1; k=rsa; t=y; p=RSA"], True),
    ("r11", "rsa", ["v=DKIM1; k=rsa; t=s; p=RSA"], True),
    ("r12", "rsa", ["v=DKIM1; k=rsa; foo=bar; n=a note; p=RSA"], True),
    ("r13", "rsa", ["V=DKIM1; k=rsa; p=RSA"], True),  # V= is an unknown tag
    ("r14", "rsa", ["v=dkim1; k=rsa; p=RSA"], False),
    ("r15", "rsa", ["k=rsa; v=DKIM1; p=RSA"], False),
    ("r16", "rsa", ["v=DKIM1; k=rsa; P=RSA"], False),  # tag names are case-sensitive
    ("r17", "rsa", ["v=DKIM1; k=rsa; s=email; p=RSA"], True),
    ("r18", "rsa", ["v=DKIM1; k=rsa; s=tlsrpt; p=RSA"], False),
    ("r19", "rsa", ["v=DKIM1; k=rsa; p=RSA; p=RSA"], False),
    ("r20", "rsa", ["v=DKIM1; k=rsa; p=RSA_SPACED"], True),  # white space inside p=
    ("r21", "rsa", ["v=DKIM1; k=ed25519; p=RSA"], False),
    ("r22", "rsa", ["v=DKIM1; k=rsa; p=", "v=DKIM1; k=rsa; p=RSA"], True),
    ("r25", "rsa", ["v=DKIM1; k=dsa; p=RSA"], False),
    ("none", "rsa", [], False),
    ("e01", "ed", ["v=DKIM1; k=ed25519; p=ED"], True),
    ("e02", "ed", ["v=DKIM1; k=rsa; p=ED"], False),
    ("e03", "ed", ["v=DKIM1; p=ED"], False),  # no k= means rsa
    ("e04", "ed", ["v=DKIM1; k=ED25519; p=ED"], True),
    ("e05", "ed", ["v=DKIM1; k=ed25519; h=sha256; t=y; p=ED"], True),
    ("e06", "ed", ["v=DKIM1; k=ed25519; p=ED; x=unknown"], True),
]

# SPF: (domain, zone lines, state).
SPF_CASES = [
    ("s01.test", ['s01.test. TXT "v=spf1 ip4:192.0.2.1 -all"'], U),
    ("s02.test", ['s02.test. TXT "some text"'], A),
    ("s03.test", ['s03.test. TXT "v=spf1 -all"', 's03.test. TXT "V=SPF1 ~all"'], B),
    ("s04.test", ['s04.test. TXT "v=spf1 ip4:192.0.2.300 -all"'], B),
    ("s05.test", ['s05.test. TXT "v=spf1 include:missing.test -all"'], B),
    ("s06.test", ['s06.test. TXT "v=spf1 a:n1.test a:n2.test a:n3.test -all"'], B),
    ("s07.test", ['s07.test. TXT "v=spf1 redirect=s01.test"'], U),
    ("s08.test", ['s08.test. TXT "v=spf1 -all include:missing.test"'], U),  # never reached
    ("s09.test", ['s09.test. TXT "v=spf1 ' + " ".join("a:h.test" for _ in range(11)) + ' -all"',
                  'h.test. A 192.0.2.7'], B),
    ("s10.test", ['s10.test. TXT "V=SPF1 MX -ALL"', 's10.test. MX 10 h.test.'], U),
    ("s11.test", ['s11.test. TXT "v=spf1 foo -all"'], B),
    ("s12.test", ['s12.test. TXT "v=spf1 include:slow.test -all"', 'slow.test. TIMEOUT'], T),
    ("s13.test", ['s13.test. TXT "v=spf1 redirect=a.test redirect=b.test"'], B),
]


def txt(s):
    """A zone-file TXT rdata: quoted strings of at most 255 octets."""
    parts = [s[i:i + 255] for i in range(0, len(s), 255)] or [""]
    return " ".join('"%s"' % p.replace("\\", "\\\\").replace('"', '\\"') for p in parts)


MESSAGE = ("From: Alice <alice@{domain}>\r\n"
           "To: Bob <bob@example.net>\r\n"
           "Subject: agreement test\r\n"
           "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
           "Message-ID: <agree-{tag}@{domain}>\r\n"
           "\r\n"
           "Hello.\r\n")


class CheckDnsAgrees(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-agree-")
        os.chmod(cls.dir, 0o700)
        keys = {}
        for name, args in (("rsa", []), ("ed", ["-t", "ed25519"])):
            r = run([FWDAUTH, "dkim", "keygen", "-d", "k.test", "-s", name, "-o", cls.dir,
                     "--json", *args])
            assert r.returncode == 0, r.stderr
            obj = json.loads(r.stdout)
            keys[name] = obj["record"].split("p=", 1)[1]
        cls.keys = keys
        lines = []
        for domain, records, _ in DMARC_CASES:
            lines.append("%s. A 192.0.2.1" % domain)  # the From domains exist
            for owner, text in records:
                lines.append("_dmarc.%s. TXT %s" % (owner, txt(text)))
        for domain in TIMEOUT_DOMAINS:
            lines.append("_dmarc.%s. TIMEOUT" % domain)
        rsa = keys["rsa"]
        spaced = rsa[:100] + " " + rsa[100:200] + "\t" + rsa[200:]
        for sel, _, records, _ in DKIM_CASES:
            for rec in records:
                rec = (rec.replace("RSA_SPACED", spaced).replace("p=RSA", "p=" + rsa)
                       .replace("p=ED", "p=" + keys["ed"]))
                lines.append("%s._domainkey.k.test. TXT %s" % (sel, txt(rec)))
        lines.append("slow._domainkey.k.test. TIMEOUT")
        for _, zl, _ in SPF_CASES:
            lines.extend(zl)
        cls.zone = os.path.join(cls.dir, "agree.zone")
        with open(cls.zone, "w") as f:
            f.write("\n".join(lines) + "\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)

    def checkdns(self, domain, *args):
        r = run([FWDAUTH, "check-dns", domain, "--dns-zone", self.zone, "--json", *args])
        self.assertIn(r.returncode, (0, 1, 2), r.stderr)
        obj = json.loads(r.stdout)
        # The exit status follows the findings, as documented.
        want = 2 if obj["errors"] else 1 if obj["problems"] else 0
        self.assertEqual(r.returncode, want, r.stdout)
        return obj

    def message(self, domain, tag):
        path = os.path.join(self.dir, "msg-%s-%s.eml" % (domain, tag))
        with open(path, "w", newline="") as f:
            f.write(MESSAGE.format(domain=domain, tag=tag))
        return path

    # ------------------------------------------------------------ DMARC

    def dmarc_check(self, domain, mode):
        r = run([FWDAUTH, "dmarc", "check", "--ip", IP, "--mail-from", "x@unrelated.test",
                 "--mode", mode, "--dns-zone", self.zone, "--json",
                 self.message(domain, "dmarc")])
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return json.loads(r.stdout)

    def test_dmarc_agrees(self):
        cases = [(d, exp) for d, _, exp in DMARC_CASES] + [(d, (T, None)) for d in TIMEOUT_DOMAINS]
        self.assertGreaterEqual(len(cases), 30)
        # the verifier's result for mail that passes nothing, per check-dns state
        result_of = {U: "fail", A: "none", B: "permerror", T: "temperror"}
        for domain, expected in cases:
            for mode in ("rfc7489", "rfc9989"):
                with self.subTest(domain=domain, mode=mode):
                    exp = expected[mode] if isinstance(expected, dict) else expected
                    lint = self.checkdns(domain, "--mode", mode)["verdicts"]["dmarc"]
                    ver = self.dmarc_check(domain, mode)
                    self.assertEqual(lint["mode"], mode)
                    self.assertEqual(ver["from"], domain)
                    # the two agree ...
                    self.assertEqual(result_of[lint["state"]], ver["dmarc"],
                                     "check-dns %s vs dmarc check %s" % (lint, ver))
                    self.assertEqual(lint["result"], ver["dmarc"])
                    if ver["dmarc"] == "fail":
                        self.assertEqual(lint["policy"], ver["policy"], (lint, ver))
                    # ... and say what the RFCs say
                    self.assertEqual((lint["state"], lint["policy"] or None), exp, lint)

    def test_dmarc_texts_say_why(self):
        """The findings behind the verdicts that used to disagree."""
        obj = self.checkdns("d02.test")
        texts = [f["text"] for f in obj["findings"] if f["check"] == "dmarc"]
        self.assertTrue(any("is not a DMARC record (v= must be DMARC1 exactly" in t
                            for t in texts), texts)
        obj = self.checkdns("d03.test")
        self.assertIn("p=reject: receivers reject mail that fails DMARC",
                      [f["text"] for f in obj["findings"]])
        obj = self.checkdns("example-lint.co.uk")
        self.assertEqual(obj["verdicts"]["dmarc"]["org_domain"], "example-lint.co.uk")
        self.assertFalse(any("_dmarc.co.uk" in f["text"] and f["level"] == "ok"
                             for f in obj["findings"]), obj["findings"])
        # the configured mode comes from -c too
        conf = os.path.join(self.dir, "fwdauthd.conf")
        fwdtest.write_config(conf, dns_zone_file=self.zone, dmarc_mode="rfc9989")
        r = run([FWDAUTH, "check-dns", "-c", conf, "--json", "example-lint.co.uk"])
        dm = json.loads(r.stdout)["verdicts"]["dmarc"]
        self.assertEqual((dm["mode"], dm["state"], dm["record_domain"]),
                         ("rfc9989", "usable", "co.uk"))

    # ------------------------------------------------------------- DKIM

    def test_dkim_agrees(self):
        self.assertGreaterEqual(len(DKIM_CASES) + 1, 30)
        for sel, key, _, usable in DKIM_CASES + [("slow", "rsa", [], None)]:
            with self.subTest(selector=sel):
                msg = self.message("k.test", sel)
                r = run([FWDAUTH, "dkim", "sign", "-d", "k.test", "-s", sel, "-k",
                         os.path.join(self.dir, key + ".private"), msg])
                self.assertEqual(r.returncode, 0, r.stderr)
                signed = msg + ".signed"
                with open(signed, "w", newline="") as f:
                    f.write(r.stdout)
                r = run([FWDAUTH, "dkim", "verify", "--dns-zone", self.zone, "--json", signed])
                ver = json.loads(r.stdout)["signatures"][0]
                lint = self.checkdns("k.test", "-s", sel)["verdicts"]["dkim"][0]
                self.assertEqual(lint["selector"], sel)
                if usable is None:
                    self.assertEqual((lint["state"], ver["result"]), (T, "temperror"))
                    continue
                self.assertEqual(lint["state"] == U, ver["result"] == "pass", (lint, ver))
                self.assertEqual(lint["state"] == U, usable, (lint, ver))
                if usable:
                    self.assertEqual(lint["testing"], ver["testing"])
                    self.assertEqual(lint["bits"], ver["key_bits"])
                else:
                    self.assertEqual(ver["result"], "permerror", ver)
                    self.assertIn(lint["state"], (A, B))

    # -------------------------------------------------------------- SPF

    def test_spf_agrees(self):
        result_of = {A: {"none"}, B: {"permerror"}, T: {"temperror"},
                     U: {"fail", "softfail", "neutral"}}
        for domain, _, expected in SPF_CASES:
            with self.subTest(domain=domain):
                lint = self.checkdns(domain)["verdicts"]["spf"]
                r = run([FWDAUTH, "spf", "check", "--ip", IP, "--mail-from", "x@" + domain,
                         "--dns-zone", self.zone, "--json"])
                ver = json.loads(r.stdout)
                self.assertIn(ver["result"], result_of[lint["state"]], (lint, ver))
                self.assertEqual(lint["state"], expected, (lint, ver))
                if lint["state"] == U:
                    self.assertEqual(lint["lookups"], ver["lookups"], (lint, ver))


if __name__ == "__main__":
    unittest.main()
