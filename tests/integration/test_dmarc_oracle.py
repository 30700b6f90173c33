"""DMARC (RFC 7489 mode) against an independent implementation: authheaders.

Debian's python3-authheaders (0.15.2) implements RFC 7489 policy discovery
(authheaders.dmarc_lookup.receiver_record: _dmarc.<From>, else
_dmarc.<Organizational Domain>, several records = none) with its own Public
Suffix List code (publicsuffix2 reading Debian's public_suffix_list.dat, the
same list libpsl's built-in data comes from). Its DNS is dnspython's
`query`, replaced here by the same records the zone file gives `dmarcq`
(the test-only client of the dmarc module). For every From domain both must
agree on: the Organizational Domain, where the policy record was found, and
which policy (p or sp) applies.

Not compared: RFC 9989. authheaders' receiver_record_walk implements the
tree walk of draft-ietf-dmarc-dmarcbis-07 (5 labels, no psd= stop rules),
not RFC 9989 (8 labels, 4.10.2 selection), so it is no oracle for that mode;
OpenDMARC (libopendmarc 1.4.2) is RFC 7489 only and asks live DNS; no
Debian package implements RFC 9989. Those cases are covered by
tests/unit/test_dmarc.c from the RFC text.

Also skipped: records authheaders reads differently from both RFCs (it
lower-cases every value, accepts "v=DMARC1x", needs "v=DMARC1" with no
space, and has no 6.6.3 step 6): the records below are in the form every
implementation reads alike.
"""
import os
import subprocess
import tempfile
import unittest

import fwdtest

DMARCQ = os.path.join(fwdtest.BIN, "..", "tests", "dmarcq")

try:
    from authheaders import dmarc_lookup
    from dns.resolver import NXDOMAIN
except ImportError:  # pragma: no cover
    dmarc_lookup = None

# _dmarc.<name> -> TXT strings.
RECORDS = {
    "example.com": ["v=DMARC1; p=reject; sp=quarantine", "v=spf1 -all"],
    "own.example.com": ["v=DMARC1; p=none"],
    "example.co.uk": ["v=DMARC1; p=quarantine"],
    "co.uk": ["v=DMARC1; p=reject"],
    "two.example.org": ["v=DMARC1; p=none", "v=DMARC1; p=reject"],
    "example.org": ["v=DMARC1; p=reject"],
    "dup.example.net": ["v=DMARC1; p=none", "v=DMARC1; p=none"],
    "blogspot.com": ["v=DMARC1; p=reject"],
    "alice.github.io": ["v=DMARC1; p=quarantine; sp=none"],
    "city.kawasaki.jp": ["v=DMARC1; p=reject; sp=none"],
    "example.kawasaki.jp": ["v=DMARC1; p=quarantine"],
    "www.ck": ["v=DMARC1; p=reject; sp=quarantine"],
    "example.k12.ak.us": ["v=DMARC1; p=none; sp=reject"],
    "example.xn--p1ai": ["v=DMARC1; p=quarantine"],
    "notdmarc.example.net": ["v=spf1 -all", "p=reject; v=DMARC1"],
    "x.notdmarc.example.net": ["v=DMARC2; p=reject"],
    "example.net": ["v=DMARC1; p=quarantine"],
}

FROM_DOMAINS = [
    "example.com", "news.example.com", "a.b.c.example.com", "own.example.com",
    "x.own.example.com", "example.co.uk", "mail.example.co.uk", "co.uk", "uk",
    "x.two.example.org", "example.org", "a.dup.example.net", "blogspot.com", "alice.blogspot.com", "alice.github.io",
    "www.alice.github.io", "github.io", "city.kawasaki.jp", "a.city.kawasaki.jp",
    "example.kawasaki.jp", "a.example.kawasaki.jp", "www.ck", "a.www.ck", "other.ck",
    "example.k12.ak.us", "mail.example.k12.ak.us", "k12.ak.us",
    "example.xn--p1ai", "sub.example.xn--p1ai", "notdmarc.example.net",
    "x.notdmarc.example.net", "y.x.notdmarc.example.net", "nothing.example.org", "com",
    "a.b.c.d.e.f.g.h.i.j.example.com",
]


# Where authheaders departs from the RFC text; both sides are checked, so the
# note stays true: domain -> (our answer, authheaders' answer, why).
KNOWN_DIFFERENCES = {
    # RFC 7489 6.6.3: step 3 falls back to the Organizational Domain only
    # when the set is empty; two records end discovery (step 5). authheaders
    # reads two records as none and falls back to _dmarc.example.org.
    "two.example.org": (("none", "example.org", "-", "-"),
                        ("example.org", "example.org", "reject"),
                        "6.6.3 step 5: several records end policy discovery"),
    "dup.example.net": (("none", "example.net", "-", "-"),
                        ("example.net", "example.net", "quarantine"),
                        "6.6.3 step 5, with two identical records"),
    # The PSL's own algorithm: "If no rules match, the prevailing rule is
    # '*'", so an unlisted TLD is a public suffix and the org domain has two
    # labels (libpsl does this); publicsuffix2 returns the bare TLD, which
    # would make every name under an unlisted TLD align with every other.
    "nothing.example": (("none", "nothing.example", "-", "-"),
                        ("example", "-", "-"),
                        "PSL default rule '*' for an unlisted TLD"),
}


def zone_text():
    lines = []
    for name, txts in RECORDS.items():
        for t in txts:
            lines.append('_dmarc.%s TXT "%s"' % (name, t.replace('"', '\\"')))
    return "\n".join(lines) + "\n"


def fake_query(name, qtype="TXT"):
    """dnspython's resolver.query replaced by RECORDS (NXDOMAIN otherwise)."""
    name = str(name).rstrip(".").lower()
    if qtype == "TXT" and name.startswith("_dmarc.") and name[7:] in RECORDS:
        return ['"%s"' % t for t in RECORDS[name[7:]]]
    raise NXDOMAIN()


def oracle(domain):
    """(org_domain, record_domain, policy) as authheaders sees them."""
    org = dmarc_lookup.get_org_domain(domain)
    tags, sub = dmarc_lookup.receiver_record(domain)
    if not tags:
        return org, "-", "-"
    if sub is False:
        return org, domain, tags.get("p", "-")
    return org, sub, tags.get("sp", tags.get("p", "-"))


class TestDmarcOracle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fwdtest.require(dmarc_lookup is not None, "python3-authheaders is not installed")
        fwdtest.require(fwdtest.executable(DMARCQ), "dmarcq not built")
        cls.tmp = tempfile.TemporaryDirectory()
        zone = os.path.join(cls.tmp.name, "dmarc.zone")
        with open(zone, "w") as f:
            f.write(zone_text())
        out = subprocess.run([DMARCQ, zone, "rfc7489"] + FROM_DOMAINS + list(KNOWN_DIFFERENCES),
                             check=True,
                             capture_output=True, text=True, timeout=60).stdout
        cls.ours = {}
        for line in out.splitlines():
            dom, result, org, rec, policy = line.split(" ")
            cls.ours[dom] = (result, org, rec, policy)
        cls.saved = dmarc_lookup.query
        dmarc_lookup.query = fake_query

    @classmethod
    def tearDownClass(cls):
        dmarc_lookup.query = cls.saved
        cls.tmp.cleanup()

    def test_org_domain_and_policy(self):
        for dom in FROM_DOMAINS:
            with self.subTest(domain=dom):
                result, org, rec, policy = self.ours[dom]
                o_org, o_rec, o_policy = oracle(dom)
                self.assertEqual(org, o_org, "Organizational Domain (RFC 7489 3.2)")
                self.assertEqual(rec, o_rec, "policy record location (6.6.3)")
                self.assertEqual(policy, o_policy, "p or sp (6.3)")
                # No identifier passed: fail when a record applies, else none.
                self.assertEqual(result, "fail" if o_rec != "-" else "none")

    def test_known_differences(self):
        for dom, (ours, theirs, why) in KNOWN_DIFFERENCES.items():
            with self.subTest(domain=dom, why=why):
                self.assertEqual(self.ours[dom], ours)
                self.assertEqual(oracle(dom), theirs)

    def test_counts(self):
        # Guard against a vacuous run: records found and not found both occur.
        found = sum(1 for v in self.ours.values() if v[2] != "-")
        self.assertGreater(found, 10)
        self.assertGreater(len(self.ours) - found, 5)


if __name__ == "__main__":
    unittest.main()
