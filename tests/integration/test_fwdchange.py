"""The forwarder's own changes keep every message readable and intact
(src/lib/mail/fwdchange.c, through tests/integration/footq.c).

Oracle: Python's email package (policy=email.policy.default) and OpenSSL's
S/MIME tools. A corpus of messages (plain ASCII, UTF-8 8bit, quoted-
printable, base64 text, ISO-8859-1, HTML only, HTML in quoted-printable,
multipart/alternative, multipart/mixed with an attachment, nested
multiparts, message/rfc822, S/MIME signed and encrypted made here with
`openssl smime`, malformed MIME) gets the Subject tag and a footer (ASCII,
UTF-8, UTF-8 with an HTML fragment). For each result:
- the action is the one the rules in fwdchange.h give;
- every line ends in CRLF and is at most 998 octets;
- Python finds no defect where it found none in the original;
- the structure is the original's (append), the original's plus a footer
  part (part), or a multipart/mixed of the original and a footer part
  (wrap), and every original leaf part decodes to the same octets (the
  appended part to its original text plus the footer);
- the footer text is there exactly once in the decoded text/plain parts,
  and the HTML fragment once in the text/html parts, when they apply;
- every text part decodes with its charset;
- a wrapped message holds the original body byte for byte, and a wrapped
  S/MIME signature still verifies (`openssl smime -verify -noverify` on
  the inner part; a changed byte makes it fail), a wrapped encrypted part
  still decrypts to the same text;
- a message left alone (malformed MIME) keeps its body byte for byte;
- the Subject reads as "[fwd] " + the original, once.
"""
import email
import email.policy
import html
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import fwdtest

FOOTQ = os.path.join(fwdtest.BIN, "..", "tests", "footq")
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
TAG = "[fwd]"

FOOTERS = {
    "ascii": ("-- \nForwarded by example.net   \nhttps://example.net/about\n", None),
    "utf8": ("-- \nWeitergeleitet von example.net \u2014 Gr\u00fc\u00dfe\n", None),
    "html": ("-- \nWeitergeleitet von example.net \u2014 Gr\u00fc\u00dfe\n",
             '<p class="fwd">Weitergeleitet von <a href="https://example.net/">example.net</a>'
             " \u2014 Gr\u00fc\u00dfe</p>\n"),
}
# What fwdchange does for each corpus message, per footer.
APPEND, PART, WRAP, NONE = "append", "part", "wrap", "none"

HEAD = (b"From: Alice <alice@example.org>\nTo: bob@example.net\n"
        b"Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <%s@example.org>\n")


def crlf(b):
    return re.sub(rb"\r?\n", b"\r\n", b)


def msg(name, rest, subject=b"Subject: Hello there\n"):
    return crlf(HEAD % name.encode() + subject + rest)


PNG = b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

CORPUS = {
    "plain_ascii": (msg("1", b"\nHello Bob,\n\nplain text, no MIME at all.\n"),
                    {"ascii": APPEND, "utf8": WRAP, "html": WRAP}),
    "plain_no_final_newline": (msg("1b", b"\nHello Bob, no final line break"),
                               {"ascii": APPEND, "utf8": WRAP, "html": WRAP}),
    "utf8_8bit": (msg("2", b"MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
                      b"Content-Transfer-Encoding: 8bit\n\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\n"),
                  {"ascii": APPEND, "utf8": APPEND, "html": APPEND}),
    "utf8_qp": (msg("3", b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8;"
                    b" format=flowed\nContent-Transfer-Encoding: quoted-printable\n\n"
                    b"Gr=C3=BC=C3=9Fe, this is a long line that is longer than seventy-six oc=\n"
                    b"tets and so it is broken with a soft line break=\n"),
                {"ascii": APPEND, "utf8": APPEND, "html": APPEND}),
    "base64_text": (msg("4", b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                        b"Content-Transfer-Encoding: base64\n\nR3LDvMOfZSBhdXMgS8O2bG4K\n"),
                    {"ascii": WRAP, "utf8": WRAP, "html": WRAP}),
    "latin1_8bit": (msg("5", b"MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\n"
                        b"Content-Transfer-Encoding: 8bit\n\nGr\xfc\xdfe aus K\xf6ln\n"),
                    {"ascii": APPEND, "utf8": WRAP, "html": WRAP}),
    "html_only": (msg("6", b"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n"
                      b"Content-Transfer-Encoding: 7bit\n\n<html><head><title>x</title></head>"
                      b"<body>\n<p>Hello Bob</p>\n</body></html>\n"),
                  {"ascii": WRAP, "utf8": WRAP, "html": APPEND}),
    "html_qp": (msg("7", b"MIME-Version: 1.0\nContent-Type: text/html; charset=\"iso-8859-1\"\n"
                    b"Content-Transfer-Encoding: quoted-printable\n\n<html><body><p class=3D\"g\">"
                    b"Gr=FC=DFe</p></body></html>\n"),
                {"ascii": WRAP, "utf8": WRAP, "html": APPEND}),
    "html_no_body_tag": (msg("7b", b"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n"
                             b"\n<p>Hello Bob</p>"),
                         {"ascii": WRAP, "utf8": WRAP, "html": APPEND}),
    "alternative": (msg("8", b"MIME-Version: 1.0\nContent-Type: multipart/alternative;\n"
                        b" boundary=\"alt-1\"\n\n--alt-1\nContent-Type: text/plain; charset=utf-8\n"
                        b"Content-Transfer-Encoding: 8bit\n\nGr\xc3\xbc\xc3\x9fe\n--alt-1\n"
                        b"Content-Type: text/html; charset=utf-8\n\n<p>Gr&uuml;&szlig;e</p>\n"
                        b"--alt-1--\n"),
                    {"ascii": WRAP, "utf8": WRAP, "html": WRAP}),
    "mixed_attachment": (msg("9", b"MIME-Version: 1.0\nContent-Type: multipart/mixed; "
                             b"boundary=mix\n\nThis is a MIME message.\n--mix\n"
                             b"Content-Type: text/plain; charset=us-ascii\n\nSee the picture.\n"
                             b"--mix\nContent-Type: image/png; name=\"a.png\"\n"
                             b"Content-Disposition: attachment; filename=\"a.png\"\n"
                             b"Content-Transfer-Encoding: base64\n\n" + PNG + b"\n--mix--\n"
                             b"epilogue\n"),
                         {"ascii": PART, "utf8": PART, "html": PART}),
    "nested": (msg("10", b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"o\"\n\n"
                   b"--o\nContent-Type: multipart/alternative; boundary=\"a\"\n\n--a\n"
                   b"Content-Type: text/plain\n\nHi\n--a\nContent-Type: multipart/related; "
                   b"boundary=\"r\"\n\n--r\nContent-Type: text/html\n\n<img src=\"cid:p\">\n--r\n"
                   b"Content-Type: image/png\nContent-ID: <p>\nContent-Transfer-Encoding: base64\n\n"
                   + PNG + b"\n--r--\n\n--a--\n\n--o\nContent-Type: application/octet-stream\n"
                   b"Content-Transfer-Encoding: base64\n\nAAECAwQ=\n--o--\n"),
               {"ascii": PART, "utf8": PART, "html": PART}),
    "alternative_related": (msg("11", b"MIME-Version: 1.0\nContent-Type: multipart/alternative;"
                                b" boundary=\"a\"\n\n--a\nContent-Type: text/plain\n\nHi\n--a\n"
                                b"Content-Type: multipart/related; boundary=\"r\"\n\n--r\n"
                                b"Content-Type: text/html\n\n<p>Hi</p>\n--r\n"
                                b"Content-Type: image/png\nContent-Transfer-Encoding: base64\n\n"
                                + PNG + b"\n--r--\n\n--a--\n"),
                            {"ascii": WRAP, "utf8": WRAP, "html": WRAP}),
    "rfc822": (msg("12", b"MIME-Version: 1.0\nContent-Type: message/rfc822\n\n"
                   b"From: carol@example.com\nSubject: inner\n\nThe inner message.\n"),
               {"ascii": WRAP, "utf8": WRAP, "html": WRAP}),
    "application": (msg("13", b"MIME-Version: 1.0\nContent-Type: application/pdf\n"
                        b"Content-Disposition: attachment; filename=a.pdf\n"
                        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"),
                    {"ascii": WRAP, "utf8": WRAP, "html": WRAP}),
    # Malformed: left alone.
    "mp_no_boundary": (msg("14", b"MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n"
                           b"--x\n\nHi\n--x--\n"), {"ascii": NONE, "utf8": NONE, "html": NONE}),
    "mp_boundary_absent": (msg("15", b"MIME-Version: 1.0\nContent-Type: multipart/mixed; "
                               b"boundary=y\n\n--x\n\nHi\n--x--\n"),
                           {"ascii": NONE, "utf8": NONE, "html": NONE}),
    "mp_no_close": (msg("16", b"MIME-Version: 1.0\nContent-Type: multipart/alternative; "
                        b"boundary=x\n\n--x\nContent-Type: text/plain\n\nHi\n"),
                    {"ascii": NONE, "utf8": NONE, "html": NONE}),
    "two_content_types": (msg("17", b"MIME-Version: 1.0\nContent-Type: text/plain\n"
                              b"Content-Type: text/html\n\nHi\n"),
                          {"ascii": NONE, "utf8": NONE, "html": NONE}),
    "ct_unparsable": (msg("18", b"MIME-Version: 1.0\nContent-Type: text\n\nHi\n"),
                      {"ascii": NONE, "utf8": NONE, "html": NONE}),
    # Subjects.
    "subject_tagged": (msg("19", b"\nHi\n", b"Subject: [FWD] seen before\n"),
                       {"ascii": APPEND, "utf8": WRAP, "html": WRAP}),
    "subject_encoded": (msg("20", b"\nHi\n", b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\n"
                            b" =?UTF-8?Q?_aus_K=C3=B6ln?= und mehr\n"),
                        {"ascii": APPEND, "utf8": WRAP, "html": WRAP}),
    "subject_encoded_tagged": (msg("21", b"\nHi\n", b"Subject: =?UTF-8?Q?=5Bfwd=5D_Gr=C3=BC=C3=9Fe?=\n"),
                               {"ascii": APPEND, "utf8": WRAP, "html": WRAP}),
    "subject_absent": (msg("22", b"\nHi\n", b""), {"ascii": APPEND, "utf8": WRAP, "html": WRAP}),
}


def parse(b):
    return email.message_from_bytes(b, policy=email.policy.default)


def defects(m):
    return [d for p in m.walk() for d in p.defects]


def shape(m):
    if m.is_multipart():
        return (m.get_content_type(), tuple(shape(p) for p in m.get_payload()))
    return m.get_content_type()


def leaves(m):
    return [p for p in m.walk() if not p.is_multipart()]


def text_of(part):
    """The decoded text of a text part, line ends as LF."""
    return part.get_content().replace("\r\n", "\n")


def footer_text(text):
    """The footer as fwdchange writes it: trailing white space dropped
    except on "-- ", lines ending in a line break."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "".join((l if l == "-- " else l.rstrip(" \t")) + "\n" for l in lines)


def html_refs(fragment):
    """The HTML fragment as fwdchange writes it: non-ASCII characters as
    character references."""
    return "".join(c if ord(c) < 0x80 else "&#x%X;" % ord(c) for c in fragment)


def body_of(raw):
    i = raw.find(b"\r\n\r\n")
    return raw[i + 4:] if i >= 0 else b""


class FwdChangeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fwdtest.require(fwdtest.executable(FOOTQ), "footq is not built (%s)" % FOOTQ)
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-footq-")
        cls.files = {}
        for name, (text, frag) in FOOTERS.items():
            t = os.path.join(cls.dir, name + ".txt")
            with open(t, "w", encoding="utf-8") as f:
                f.write(text)
            h = None
            if frag:
                h = os.path.join(cls.dir, name + ".html")
                with open(h, "w", encoding="utf-8") as f:
                    f.write(frag)
            cls.files[name] = (t, h)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)

    def footq(self, raw, footer, tag=TAG, extra=()):
        t, h = self.files[footer]
        args = [FOOTQ, "-t", tag, "-f", t] + (["-H", h] if h else []) + list(extra)
        p = subprocess.run(args, input=raw, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        action, why, subj = p.stderr.decode().rstrip("\n").split("\t")
        return p.stdout, action, why, subj

    def check_lines(self, out):
        self.assertNotRegex(out, rb"(?<!\r)\n", "a bare LF")
        self.assertNotRegex(out, rb"\r(?!\n)", "a bare CR")
        for line in out.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)

    def check_subject(self, orig, res):
        subjects = res.get_all("Subject")
        self.assertEqual(len(subjects), 1)
        o = orig["Subject"]
        if o is None:
            self.assertEqual(str(res["Subject"]), TAG)
        elif str(o).lower().startswith(TAG.lower()):
            self.assertEqual(str(res["Subject"]), str(o))
        else:
            self.assertEqual(str(res["Subject"]), TAG + " " + str(o))

    def check_footer_leaves(self, parts, footer):
        text, frag = FOOTERS[footer]
        self.assertEqual(parts[0].get_content_type(), "text/plain")
        self.assertEqual(parts[0].get_content_charset(), "utf-8")
        self.assertEqual(text_of(parts[0]), footer_text(text))
        if frag:
            self.assertEqual(len(parts), 2)
            self.assertEqual(parts[1].get_content_type(), "text/html")
            self.assertEqual(text_of(parts[1]), html_refs(frag))
        else:
            self.assertEqual(len(parts), 1)

    def check_one(self, name, raw, footer, want):
        out, action, why, subj = self.footq(raw, footer)
        self.assertEqual(action, want, "%s with the %s footer: %s" % (name, footer, why))
        self.check_lines(out)
        orig, res = parse(raw), parse(out)
        self.check_subject(orig, res)
        if not defects(orig):
            self.assertEqual(defects(res), [], why)
        if action != NONE:
            self.assertLessEqual(len(res.get_all("Content-Type") or []), 1)
        text, frag = FOOTERS[footer]
        ol, rl = leaves(orig), leaves(res)
        body = body_of(raw)
        if action == NONE:
            self.assertEqual(body_of(out), body)
            return
        # Every text part decodes with its charset.
        for p in rl:
            if p.get_content_maintype() == "text":
                text_of(p)
        if action == APPEND:
            self.assertEqual(shape(res), shape(orig))
            self.assertEqual(len(rl), 1)
            o, r = text_of(ol[0]), text_of(rl[0])
            if ol[0].get_content_type() == "text/plain":
                if o and not o.endswith("\n"):
                    o += "\n"
                self.assertEqual(r, o + footer_text(text))
            else:
                ref = html_refs(frag)
                self.assertEqual(r.count(ref), 1)
                self.assertEqual(re.sub(r"\s", "", r.replace(ref, "")), re.sub(r"\s", "", o))
                m = re.search(r"</body", r, re.I)
                if re.search(r"</body", o, re.I):
                    self.assertLess(r.index(ref), m.start())
            return
        self.assertEqual(res.get_content_type(), "multipart/mixed")
        self.assertIsNotNone(res["MIME-Version"])
        top = res.get_payload()
        if action == PART:
            self.assertEqual(shape(res)[1][:-1], shape(orig)[1])
            n = len(ol)
            footer_parts = leaves(top[-1])
        else:
            self.assertEqual(len(top), 2)
            self.assertEqual(shape(top[0]), shape(orig))
            # The original body, byte for byte.
            self.assertIn(crlf(body), out)
            for h in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition"):
                self.assertEqual(top[0].get_all(h), orig.get_all(h), h)
            n = len(ol)
            footer_parts = leaves(top[1])
        self.assertEqual(len(rl), n + len(footer_parts))
        for a, b in zip(ol, rl[:n]):
            self.assertEqual(a.get_content_type(), b.get_content_type())
            self.assertEqual(a.get_payload(decode=True), b.get_payload(decode=True))
        self.check_footer_leaves(footer_parts, footer)
        # The footer once in the decoded text.
        line = footer_text(text).split("\n")[1]
        plain = [text_of(p) for p in rl if p.get_content_type() == "text/plain"]
        self.assertEqual(sum(t.count(line) for t in plain), 1)

    def test_corpus(self):
        for name, (raw, wants) in CORPUS.items():
            for footer, want in wants.items():
                with self.subTest(message=name, footer=footer):
                    self.check_one(name, raw, footer, want)

    def test_subject_once(self):
        """Tagging a tagged message again changes nothing."""
        raw = CORPUS["subject_encoded"][0]
        out, _, _, subj = self.footq(raw, "ascii")
        self.assertEqual(subj, "tagged")
        again, action, _, subj = self.footq(out, "ascii", extra=())
        self.assertEqual(subj, "already")
        self.assertEqual(str(parse(again)["Subject"]), str(parse(out)["Subject"]))
        self.assertEqual(str(parse(out)["Subject"]), "[fwd] Grüße aus Köln und mehr")

    def test_added_field(self):
        raw = CORPUS["plain_ascii"][0]
        out, _, _, _ = self.footq(raw, "ascii", extra=["-a", "X-Forwarded-For: bob@example.net"])
        self.assertEqual(parse(out)["X-Forwarded-For"], "bob@example.net")
        p = subprocess.run([FOOTQ, "-a", "Content-Type: text/html"], input=raw,
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 1)


class SmimeTest(FwdChangeTest):
    """S/MIME signed and encrypted messages, made here with openssl."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        fwdtest.require(fwdtest.executable(OPENSSL), "openssl is missing")
        d = cls.dir
        cls.key, cls.cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        cls.key, "-out", cls.cert, "-subj", "/CN=alice@example.org", "-days", "2"],
                       check=True, capture_output=True, timeout=120)
        cls.content = os.path.join(d, "content.eml")
        with open(cls.content, "wb") as f:
            f.write(crlf(b"Content-Type: text/plain; charset=utf-8\n"
                         b"Content-Transfer-Encoding: 8bit\n\nSigned: Gr\xc3\xbc\xc3\x9fe  \n"
                         b"trailing white space and From lines\nFrom here\n"))

    def smime(self, *args):
        p = subprocess.run([OPENSSL, "smime"] + list(args), capture_output=True, timeout=120)
        return p.returncode, p.stdout

    def make(self, op):
        # Options first: openssl stops reading options at the recipient's
        # certificate.
        args = [op, "-in", self.content, "-from", "alice@example.org", "-to", "bob@example.net",
                "-subject", "S/MIME test"]
        if op == "-sign":
            args += ["-signer", self.cert, "-inkey", self.key]
        else:
            args += ["-aes256", self.cert]
        rc, out = self.smime(*args)
        self.assertEqual(rc, 0)
        return crlf(out)

    def inner(self, out):
        """The first part of the wrapper, as bytes."""
        b = parse(out).get_boundary().encode()
        start = out.index(b"--" + b + b"\r\n") + len(b) + 4
        end = out.index(b"\r\n--" + b + b"\r\n", start)
        return out[start:end]

    def verify(self, entity):
        path = os.path.join(self.dir, "inner.eml")
        with open(path, "wb") as f:
            f.write(entity)
        return self.smime("-verify", "-noverify", "-in", path)

    def test_signed(self):
        raw = self.make("-sign")
        self.assertEqual(parse(raw).get_content_type(), "multipart/signed")
        rc, signed_text = self.verify(raw)
        self.assertEqual(rc, 0, "the oracle cannot verify the original")
        for footer in FOOTERS:
            with self.subTest(footer=footer):
                self.check_one("signed", raw, footer, WRAP)
                out = self.footq(raw, footer)[0]
                inner = self.inner(out)
                rc, text = self.verify(inner)
                self.assertEqual(rc, 0, "the wrapped signature does not verify")
                self.assertEqual(text, signed_text)
                # The oracle can fail: one changed octet in the signed text.
                i = inner.index("Gr\u00fc".encode())
                rc, _ = self.verify(inner[:i] + b"X" + inner[i + 1:])
                self.assertNotEqual(rc, 0, "a changed signed text verified")

    def test_encrypted(self):
        raw = self.make("-encrypt")
        self.assertIn(parse(raw).get_content_type(),
                      ("application/pkcs7-mime", "application/x-pkcs7-mime"))
        path = os.path.join(self.dir, "enc.eml")
        with open(path, "wb") as f:
            f.write(raw)
        rc, plain = self.smime("-decrypt", "-in", path, "-recip", self.cert, "-inkey", self.key)
        self.assertEqual(rc, 0)
        for footer in FOOTERS:
            with self.subTest(footer=footer):
                self.check_one("encrypted", raw, footer, WRAP)
                out = self.footq(raw, footer)[0]
                with open(path, "wb") as f:
                    f.write(self.inner(out))
                rc, text = self.smime("-decrypt", "-in", path, "-recip", self.cert, "-inkey",
                                      self.key)
                self.assertEqual(rc, 0)
                self.assertEqual(text, plain)

    # The corpus runs in the parent class only.
    test_corpus = None
    test_subject_once = None
    test_added_field = None


if __name__ == "__main__":
    unittest.main()
