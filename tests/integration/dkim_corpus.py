"""A corpus of real-world-shaped messages for the DKIM interop tests.

Generated at test time (nothing large is checked in): `corpus()` returns a
list of (name, bytes) and `write_corpus(dir)` writes each to DIR/NAME.eml.
Every message is as a client would hand it to an MTA; most use CRLF, one
is LF-only (as a local file or `sendmail` pipe would be). `on_the_wire()`
gives the bytes that would actually cross SMTP (bare LF -> CRLF), which is
what dkimpy and OpenDKIM must be shown.

Shapes covered: folded headers, runs of white space, empty body, no final
newline, LF-only, 8-bit UTF-8 headers and body, multipart with a >= 1 MB
base64 attachment, repeated Received, mixed-case header names, bare CR,
lines starting with dots, very long lines (> 998 octets), a header with no
space after the colon, trailing blank lines, tabs, empty header values.
Header fields stay under 1024 octets (the 980-octet X-Long is the longest):
miltertest, which drives OpenDKIM, aborts on longer ones; body lines go to
1500 octets.
"""
import base64
import os
import random
import re

FROM_DOMAIN = "example.org"


def _crlf(lines):
    return b"".join(l + b"\r\n" for l in lines)


def _base_headers(subject, extra=()):
    return [
        b"Received: from mx.example.net (mx.example.net [192.0.2.7])",
        b"\tby mail.example.org (Postfix) with ESMTPS id 4XYZ1;",
        b"\tWed, 25 Nov 2026 10:00:00 +0000 (UTC)",
        b"From: Alice Example <alice@example.org>",
        b"To: Bob <bob@example.net>",
        b"Subject: " + subject,
        b"Date: Wed, 25 Nov 2026 10:00:00 +0000",
        b"Message-ID: <" + subject.replace(b" ", b".")[:40] + b"@example.org>",
        b"MIME-Version: 1.0",
        *extra,
    ]


def _msg(subject, body, extra_headers=(), content_type=b"text/plain; charset=us-ascii"):
    hdrs = _base_headers(subject, [b"Content-Type: " + content_type, *extra_headers])
    return _crlf(hdrs) + b"\r\n" + body


def _attachment_message(size=1024 * 1024 + 4096):
    rnd = random.Random(6376)
    data = bytes(rnd.getrandbits(8) for _ in range(size))
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")  # 76-char lines
    boundary = b"=_fwdauth_boundary_8463"
    body = (b"This is a multi-part message in MIME format.\r\n"
            b"\r\n--" + boundary + b"\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            b"Please find the report attached.\r\n\r\n"
            b"--" + boundary + b"\r\n"
            b"Content-Type: application/octet-stream; name=\"report.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment;\r\n"
            b" filename=\"report.bin\"\r\n\r\n" + b64 +
            b"\r\n--" + boundary + b"--\r\n")
    return _msg(b"Quarterly report (attachment)", body,
                content_type=b"multipart/mixed;\r\n boundary=\"" + boundary + b"\"")


def corpus():
    """[(name, message bytes)], deterministic."""
    m = []
    m.append(("plain", _msg(b"Plain message", b"Hello Bob,\r\n\r\nSee you at 10.\r\n\r\nAlice\r\n")))
    m.append(("folded-headers", _crlf([
        b"From: Alice Example",
        b"  <alice@example.org>",
        b"To: Bob <bob@example.net>,",
        b"\tCarol <carol@example.net>,",
        b"    Dave <dave@example.net>",
        b"Subject: This subject is folded",
        b" across several lines",
        b"\t and again with a tab",
        b"Date: Wed, 25 Nov 2026 10:00:00 +0000",
        b"Message-ID: <folded@example.org>",
    ]) + b"\r\nBody.\r\n"))
    m.append(("whitespace-runs", _crlf([
        b"From:    Alice   Example    <alice@example.org>   ",
        b"To: bob@example.net  ",
        b"Subject:   lots    of     spaces   \t ",
        b"Date: Wed, 25 Nov 2026 10:00:00 +0000",
    ]) + b"\r\nword    word\t\t  word   \r\n   leading spaces\r\n \t \r\nend  \r\n"))
    m.append(("empty-body", _crlf(_base_headers(b"Empty body")) + b"\r\n"))
    m.append(("headers-only", _crlf(_base_headers(b"No blank line, no body"))))
    m.append(("no-final-newline", _msg(b"No final newline", b"line one\r\nline two without newline")))
    lf = _msg(b"LF only", b"Line one.\r\n\r\nLine  two  with  spaces. \r\nLast.\r\n",
              extra_headers=[b"X-Folded: a", b" b"])
    m.append(("lf-only", lf.replace(b"\r\n", b"\n")))
    m.append(("utf8-8bit", _crlf(_base_headers(
        "Grüße aus Köln – 日本語の件名 ✓".encode(),
        [b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: 8bit",
         "X-Name: Zoë Ünïcödé".encode()])) + b"\r\n" +
        "Hallo Bob,\r\n\r\nschöne Grüße — ça va? Привет, мир. 你好。😀\r\n".encode()))
    m.append(("multipart-1mb", _attachment_message()))
    recv = [b"Received: from hop%d.example.net (hop%d.example.net [192.0.2.%d])\r\n"
            b"\tby hop%d.example.net with ESMTP id ID%d; Wed, 25 Nov 2026 10:0%d:00 +0000"
            % (i, i, i, i + 1, i, i) for i in range(1, 7)]
    m.append(("repeated-received", b"".join(r + b"\r\n" for r in recv) +
              _crlf(_base_headers(b"Six hops")[3:]) + b"\r\nForwarded many times.\r\n"))
    m.append(("mixed-case-names", _crlf([
        b"fROM: Alice <alice@example.org>",
        b"TO: bob@example.net",
        b"sUbJeCt: Mixed case header names",
        b"DATE: Wed, 25 Nov 2026 10:00:00 +0000",
        b"message-id: <mixed@example.org>",
        b"Mime-Version: 1.0",
    ]) + b"\r\nBody.\r\n"))
    m.append(("bare-cr", _msg(b"Bare CR", b"line with a bare\rCR in it\r\nand\rtwo\r\nend\r\n")))
    m.append(("leading-dots", _msg(b"Dots", b".\r\n..\r\n.hidden\r\n..double dot\r\n"
                                              b"normal\r\n. space after dot\r\n")))
    long_line = b"".join(b"%04d-" % i for i in range(300))  # 1500 octets
    m.append(("long-lines", _crlf(_base_headers(b"Long lines", [
        b"X-Long: " + b"x" * 980])) + b"\r\n" + long_line + b"\r\nshort\r\n" +
        b"y" * 999 + b" " * 5 + b"\r\n"))
    m.append(("no-space-after-colon", _crlf([
        b"From:<alice@example.org>",
        b"To:bob@example.net",
        b"Subject:no space after the colon",
        b"Date:Wed, 25 Nov 2026 10:00:00 +0000",
        b"X-Tab:\tvalue after a tab",
    ]) + b"\r\nBody.\r\n"))
    m.append(("trailing-blank-lines", _msg(b"Trailing blank lines",
                                           b"Text.\r\n\r\n\r\n\r\n   \r\n\r\n")))
    m.append(("tabs", _crlf(_base_headers(b"\tTabs\tin\tsubject", [
        b"X-Tabbed:\t\tdouble tab\t"])) + b"\r\n\tindented\r\ncol1\tcol2\t\tcol3\t\r\n\t\r\n"))
    m.append(("empty-header-values", _crlf(_base_headers(b"Empty values", [
        b"X-Empty:", b"X-Space: ", b"Cc:"])) + b"\r\nBody.\r\n"))
    m.append(("only-crlf-body", _msg(b"Only CRLFs", b"\r\n\r\n\r\n")))
    return m


def on_the_wire(msg):
    """The bytes SMTP carries: every bare LF becomes CRLF (bare CR stays),
    and the last line ends with CRLF (DATA ends with CRLF "." CRLF)."""
    wire = re.sub(rb"(?<!\r)\n", b"\r\n", msg)
    return wire if wire.endswith(b"\r\n") or not wire else wire + b"\r\n"


def write_corpus(directory):
    """Write every message to DIRECTORY/NAME.eml; returns [(name, path)]."""
    out = []
    for name, data in corpus():
        path = os.path.join(directory, name + ".eml")
        with open(path, "wb") as f:
            f.write(data)
        out.append((name, path))
    return out


def split_message(wire):
    """(header fields [(name, value-with-leading-space, folds as CRLF)], body)
    of a CRLF message, as an MTA hands them to a milter."""
    if wire.startswith(b"\r\n"):
        head, body = b"", wire[2:]
    elif b"\r\n\r\n" in wire:
        head, body = wire.split(b"\r\n\r\n", 1)
    else:
        head, body = wire[:-2] if wire.endswith(b"\r\n") else wire, b""
    fields = []
    for f in re.split(rb"\r\n(?![ \t])", head) if head else []:
        name, value = f.split(b":", 1)
        fields.append((name, value))
    return fields, body


if __name__ == "__main__":
    import sys
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    for name, path in write_corpus(d):
        print(path, os.path.getsize(path))
