"""fwdauthd's SRS against Debian's postsrsd 1.10, the peer it must match.

Both daemons run with the same secret and SRS domain on free ports; every
awkward address below goes through both over tcp_table (and ours over socketmap
too) and the results are compared byte for byte (fwdauthd with
srs_hash_alphabet = base64, postsrsd's only alphabet) or modulo the hash
alphabet (fwdauthd's default base64url). Each daemon must reverse what the
other made. A small Python model of libsrs2 (HMAC-SHA1, base32 day stamp) is a
third opinion, so a disagreement says who is wrong.

Where postsrsd 1.10 is wrong (it splits "a@b"@example.org at the first "@"),
the test asserts its wrong output and our correct one.
"""
import base64
import hashlib
import hmac
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import fwdtest

POSTSRSD = "/usr/sbin/postsrsd"
POSTMAP = "/usr/sbin/postmap"
SECRET = b"fwdauth-interop-s3cret"
DOMAIN = b"fwd.example.net"

B32 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
TO_URL = bytes.maketrans(b"+/", b"-_")

# ---------------------------------------------------------------------------
# The libsrs2 model (FIELD-NOTES.md, "SRS as PostSRSd and libsrs2 do it").


def srs_stamp(now):
    day = int(now) // 86400 % 1024
    return B32[day >> 5:(day >> 5) + 1] + B32[day & 31:(day & 31) + 1]


def srs_hash(secret, *parts, alphabet="base64", length=4):
    mac = hmac.new(secret, b"".join(p.lower() for p in parts), hashlib.sha1).digest()
    h = base64.b64encode(mac)[:length]
    return h.translate(TO_URL) if alphabet == "base64url" else h


def model_forward(addr, now, secret=SECRET, domain=DOMAIN, split_first=True, sep=b"="):
    """What libsrs2/postsrsd 1.10 make of addr; split_first mimics its split at
    the first "@". Returns the address unchanged for our own domain."""
    user, host = addr.split(b"@", 1) if split_first else addr.rsplit(b"@", 1)
    if host.lower() == domain.lower():
        return addr
    tag, tagsep = user[:4].upper(), user[4:5]
    if tag == b"SRS1" and tagsep and tagsep in b"=+-":
        rest = user[5:]
        hop_and = rest[rest.index(b"=") + 1:]
        hop, srsuser = hop_and.split(b"=", 1)
        h = srs_hash(secret, hop, srsuser)
        return b"SRS1" + sep + h + b"=" + hop + b"=" + srsuser + b"@" + domain
    if tag == b"SRS0" and tagsep and tagsep in b"=+-":
        srsuser = user[4:]
        h = srs_hash(secret, host, srsuser)
        return b"SRS1" + sep + h + b"=" + host + b"=" + srsuser + b"@" + domain
    tt = srs_stamp(now)
    h = srs_hash(secret, tt, host, user)
    return b"SRS0" + sep + h + b"=" + tt + b"=" + host + b"=" + user + b"@" + domain


def model_reverse_of(addr):
    """What reversing forward(addr) must give: addr itself, except for an SRS1
    input, whose reverse is the SRS0 address at its first hop."""
    user, host = addr.split(b"@", 1)
    if user[:4].upper() == b"SRS1" and user[4:5] in (b"=", b"+", b"-"):
        rest = user[5:]
        hop_and = rest[rest.index(b"=") + 1:]
        hop, srsuser = hop_and.split(b"=", 1)
        return b"SRS0" + srsuser + b"@" + hop
    if user[:4].upper() == b"SRS0" and user[4:5] in (b"=", b"+", b"-"):
        return b"SRS0" + user[4:] + b"@" + host  # the tag comes back upper case
    return addr


ATEXT = rb"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\x80-\xff-]+"


def valid_mailbox(addr):
    """RFC 5321 Mailbox (8-bit allowed): a dot-atom or one quoted string before
    the last "@"."""
    local, _, domain = addr.rpartition(b"@")
    dot_atom = re.fullmatch(ATEXT + rb"(\." + ATEXT + rb")*", local)
    quoted = re.fullmatch(rb'"([^"\\]|\\.)*"', local, re.S)
    return bool(domain) and bool(dot_atom or quoted)


def to_url_alphabet(srs_addr):
    """The same SRS address with its own (first) hash in base64url; inner
    hashes of other forwarders are kept as they are."""
    return srs_addr[:5] + srs_addr[5:9].translate(TO_URL) + srs_addr[9:]


# ---------------------------------------------------------------------------
# Clients.

def tcp_encode(key):
    """tcp_table(5) request encoding: %XX for %, white space, non-printables."""
    out = bytearray()
    for c in key:
        if c == 0x25 or c <= 0x20 or c >= 0x7F:
            out += b"%%%02X" % c
        else:
            out.append(c)
    return bytes(out)


def tcp_decode(text):
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text)


class TcpTable:
    """A persistent tcp_table client: get(key) -> (code, decoded value)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rwb")

    def get(self, key):
        if isinstance(key, str):
            key = key.encode()
        self.f.write(b"get " + tcp_encode(key) + b"\n")
        self.f.flush()
        line = self.f.readline()
        if not line.endswith(b"\n"):
            raise AssertionError("tcp_table reply not terminated: %r (key %r)" % (line, key))
        m = re.match(rb"^([245]00) (.*)\n$", line, re.S)
        if not m:
            raise AssertionError("malformed tcp_table reply %r for key %r" % (line, key))
        return int(m.group(1)), tcp_decode(m.group(2))

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


class Socketmap:
    """A persistent socketmap client: get(map, key) -> (status, data)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rwb")

    def get(self, name, key):
        if isinstance(key, str):
            key = key.encode()
        self.f.write(fwdtest.netstring(name.encode() + b" " + key))
        self.f.flush()
        reply = fwdtest.read_netstring(self.f)
        status, _, data = reply.partition(b" ")
        if status not in (b"OK", b"NOTFOUND", b"TEMP", b"TIMEOUT", b"PERM"):
            raise AssertionError("malformed socketmap reply %r for %r" % (reply, key))
        return status.decode(), data

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# The addresses. Each is forwarded by both daemons; "quoted" ones are where
# postsrsd 1.10 goes wrong and are checked separately.

LONG_LOCAL = b"a.very.long.but.allowed.name-x"  # 30 octets
LONG_HOST = b"sub.long-domain.test"               # 20: SRS0 local part = 13+20+1+30 = 64

ADDRESSES = [
    b"test@otherdomain.com",
    b"user+tag@example.org",
    b"user+tag+more@example.org",
    b"first.last@example.org",
    b"a=b@example.org",
    b"x=y=z@sub.example.org",
    b"a-b-c@example.org",
    b"-leading-dash@example.org",
    b"a+b=c-d@example.org",
    b"Test.User@EXAMPLE.ORG",
    b"MiXeD@Sub.Domain.Example.NET",
    b"UPPER@UPPER.EXAMPLE",
    b"user@xn--mnchen-3ya.de",
    b"user@mail.xn--bcher-kva.example",
    b"jos\xc3\xa9@example.org",               # UTF-8 local part
    b"\xe7\x94\xa8\xe6\x88\xb7@example.cn",   # UTF-8 (CJK) local part
    b"user@m\xc3\xbcnchen.de",                # UTF-8 domain
    b"someone@a.b.c.d.e.f.example.com",
    b"o'brien@example.ie",
    b"a!b#c$d&e*f@example.org",
    b"under_score@example.org",
    b"12345@123.example",
    b"x@sub.fwd.example.net",                  # a subdomain of ours is foreign
    LONG_LOCAL + b"@" + LONG_HOST,             # long but allowed (exactly 64)
    # Other forwarders' SRS0 addresses -> SRS1.
    b"SRS0=abcd=2W=other.com=u@fwd1.example",
    b"SRS0+abcd=2W=other.com=u@fwd1.example",
    b"srs0=AbCd=ZZ=Other.COM=User@Fwd1.Example",
    b"SRS0=a+/b=2W=orig.example=me@relay.example",
    # SRS1 addresses -> SRS1 re-hashed, hop1 and the rest kept.
    b"SRS1=abcd=fwd1.example==efgh=2W=other.com=u@fwd2.example",
    b"SRS1=Xy+/=hop.example==Zz/9=AB=orig.example=me@relay2.example",
    b"SRS1=wxyz=hop.example=+efgh=2W=other.com=u@fwd2.example",
]

# Quoted local parts: postsrsd 1.10 splits at the first "@" and keeps quotes.
QUOTED = [
    (b'"a@b"@example.org', b"a@b", b"example.org"),
    (b'"john doe"@example.org', b"john doe", b"example.org"),
    (b'"x@y@z"@quoted.example', b"x@y@z", b"quoted.example"),
]


def _killpg(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    else:
        # postsrsd forks one child per connection; they share its group.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "AddressSanitizer:DEADLYSIGNAL")


def stop_and_check(daemon):
    """Class cleanup for a fwdauthd: stop it, then fail (as a class-cleanup
    error) if it died on its own, exited badly or a sanitizer spoke."""
    alive = daemon.proc.poll() is None
    rc = daemon.stop()
    with open(daemon.log_path, "rb") as f:  # Daemon.logtext() fails once stopped
        log = f.read().decode("utf-8", "replace")
    marks = [m for m in SANITIZER_MARKS if m in log]
    if not alive or rc not in (0, -signal.SIGTERM) or marks:
        raise AssertionError("fwdauthd %s (exit %s)%s; log tail:\n%s" % (
            "was already dead" if not alive else "stopped badly", rc,
            " with " + ", ".join(marks) if marks else "", log[-3000:]))


class PostsrsdInterop(unittest.TestCase):
    """One postsrsd and two fwdauthd (base64 and base64url) for the class."""

    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(POSTSRSD)
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-postsrsd-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.secret_file = os.path.join(cls.dir, "srs.secret")
        fwdtest.write_secret(cls.secret_file, SECRET.decode())
        with open(os.path.join(cls.dir, "main.cf"), "w"):
            pass  # postmap -c wants a main.cf, empty is fine

        # postsrsd 1.10 in the foreground, chrooted, as nobody; it forks a
        # child per connection, so it gets its own process group to kill.
        chroot = os.path.join(cls.dir, "postsrsd-root")
        os.mkdir(chroot)
        cls.ps_fwd, cls.ps_rev = fwdtest.free_port(), fwdtest.free_port()
        cls.ps_log = open(os.path.join(cls.dir, "postsrsd.log"), "ab")
        cls.addClassCleanup(cls.ps_log.close)
        cls.postsrsd = subprocess.Popen(
            [POSTSRSD, "-d", DOMAIN.decode(), "-s", cls.secret_file, "-4", "-l", "127.0.0.1",
             "-f", str(cls.ps_fwd), "-r", str(cls.ps_rev), "-u", "nobody", "-c", chroot,
             "-t", "60"],
            stdout=cls.ps_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        cls.addClassCleanup(_killpg, cls.postsrsd)
        fwdtest.wait_for_port(cls.ps_fwd, proc=cls.postsrsd)
        fwdtest.wait_for_port(cls.ps_rev, proc=cls.postsrsd)

        cls.ours = {}
        for alphabet in ("base64", "base64url"):
            ports = {k: fwdtest.free_port() for k in ("smap", "fwd", "rev")}
            conf = os.path.join(cls.dir, "fwdauthd-%s.conf" % alphabet)
            fwdtest.write_config(
                conf, srs_domain=DOMAIN.decode(), srs_secrets=cls.secret_file,
                srs_hash_alphabet=alphabet,
                socketmap_listen="inet:127.0.0.1:%d" % ports["smap"],
                tcp_forward_listen="inet:127.0.0.1:%d" % ports["fwd"],
                tcp_reverse_listen="inet:127.0.0.1:%d" % ports["rev"])
            d = fwdtest.Daemon(conf, os.path.join(cls.dir, "fwdauthd-%s.log" % alphabet))
            cls.addClassCleanup(stop_and_check, d)
            for p in ports.values():
                fwdtest.wait_for_port(p, proc=d.proc)
            cls.ours[alphabet] = (d, ports)

    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()

    def tcp(self, port):
        c = TcpTable(port)
        self.clients.append(c)
        return c

    def smap(self, port):
        c = Socketmap(port)
        self.clients.append(c)
        return c

    def forward_all(self, port, addrs):
        """Forward each address on a tcp_table port; returns {addr: (code, value, t0, t1)}."""
        c = self.tcp(port)
        out = {}
        for a in addrs:
            t0 = time.time()
            code, value = c.get(a)
            out[a] = (code, value, t0, time.time())
        return out

    def expect_model(self, addr, got, t0, t1, **kw):
        """got must equal the libsrs2 model at t0 or t1 (a day may turn)."""
        want = {model_forward(addr, t, **kw) for t in (t0, t1)}
        self.assertIn(got, want, "model says %r" % want)

    # -- the published vector, through the CLI ---------------------------------
    def test_cli_published_vector(self):
        secret = os.path.join(self.dir, "vector.secret")
        fwdtest.write_secret(secret, fwdtest.VECTOR_SECRET)
        want = "SRS0=vmyz=2W=otherdomain.com=test@example.com"
        for extra in ([], ["--hash-alphabet", "base64"], ["--hash-alphabet", "base64url"]):
            with self.subTest(extra=extra):
                r = fwdtest.run([fwdtest.FWDAUTH, "srs", "forward", "--srs-domain", "example.com",
                                 "--secrets", secret, "--now", str(fwdtest.VECTOR_TIME), *extra,
                                 "test@otherdomain.com"])
                self.assertEqual((r.returncode, r.stdout), (0, want + "\n"), r.stderr)
        r = fwdtest.run([fwdtest.FWDAUTH, "srs", "reverse", "--srs-domain", "example.com",
                         "--secrets", secret, "--now", str(fwdtest.VECTOR_TIME + 86400), want])
        self.assertEqual((r.returncode, r.stdout), (0, "test@otherdomain.com\n"), r.stderr)
        # The model agrees with the vector, so it is a fair third opinion.
        self.assertEqual(model_forward(b"test@otherdomain.com", fwdtest.VECTOR_TIME,
                                       secret=fwdtest.VECTOR_SECRET.encode(),
                                       domain=b"example.com"), want.encode())

    # -- forward: the same addresses from both ---------------------------------
    def test_forward_base64_byte_identical(self):
        self.assertGreaterEqual(len(ADDRESSES), 25)
        theirs = self.forward_all(self.ps_fwd, ADDRESSES)
        ours = self.forward_all(self.ours["base64"][1]["fwd"], ADDRESSES)
        for a in ADDRESSES:
            with self.subTest(addr=a):
                pcode, pval, t0, _ = theirs[a]
                ocode, oval, _, t1 = ours[a]
                self.assertEqual(pcode, 200, "postsrsd: %r" % pval)
                self.expect_model(a, pval, t0, t1)
                self.assertEqual((ocode, oval), (200, pval))

    def test_forward_base64url_same_modulo_alphabet(self):
        theirs = self.forward_all(self.ps_fwd, ADDRESSES)
        ours = self.forward_all(self.ours["base64url"][1]["fwd"], ADDRESSES)
        differ = 0
        for a in ADDRESSES:
            with self.subTest(addr=a):
                pcode, pval, t0, _ = theirs[a]
                ocode, oval, _, t1 = ours[a]
                self.assertEqual((ocode, oval), (200, to_url_alphabet(pval)))
                self.assertNotRegex(oval[5:9], rb"[+/]")
                differ += oval != pval
        # With this many hashes some must contain + or / (P(none) < 0.3%).
        self.assertGreater(differ, 0, "no hash differed between the alphabets")

    # -- reverse: each reverses the other --------------------------------------
    def test_postsrsd_reverses_ours(self):
        ours = self.forward_all(self.ours["base64"][1]["fwd"], ADDRESSES)
        rev = self.tcp(self.ps_rev)
        for a in ADDRESSES:
            with self.subTest(addr=a):
                code, srs, _, _ = ours[a]
                self.assertEqual(code, 200)
                self.assertEqual(rev.get(srs), (200, model_reverse_of(a)))

    def test_we_reverse_postsrsd_both_alphabets(self):
        theirs = self.forward_all(self.ps_fwd, ADDRESSES)
        for alphabet in ("base64", "base64url"):
            rev = self.tcp(self.ours[alphabet][1]["rev"])
            sm = self.smap(self.ours[alphabet][1]["smap"])
            for a in ADDRESSES:
                with self.subTest(alphabet=alphabet, addr=a):
                    code, srs, _, _ = theirs[a]
                    self.assertEqual(code, 200)
                    want = model_reverse_of(a)
                    self.assertEqual(rev.get(srs), (200, want))
                    self.assertEqual(sm.get("reverse", srs), ("OK", want))
                    # Relays change case: the hash check must not care.
                    code, val = rev.get(srs.upper())
                    self.assertEqual((code, val.lower()), (200, want.lower()))
                    code, val = rev.get(srs.lower())
                    self.assertEqual((code, val.lower()), (200, want.lower()))

    def test_we_reverse_ours_and_socketmap_agrees(self):
        for alphabet in ("base64", "base64url"):
            ports = self.ours[alphabet][1]
            fwd, rev, sm = self.tcp(ports["fwd"]), self.tcp(ports["rev"]), self.smap(ports["smap"])
            for a in ADDRESSES:
                with self.subTest(alphabet=alphabet, addr=a):
                    code, srs = fwd.get(a)
                    self.assertEqual(code, 200)
                    self.assertTrue(valid_mailbox(srs), srs)
                    self.assertEqual(sm.get("forward", a), ("OK", srs))
                    self.assertEqual(rev.get(srs), (200, model_reverse_of(a)))

    def test_forged_or_foreign_srs_is_not_found(self):
        """A bad hash, a stale stamp or garbage must be "not found" (500 /
        NOTFOUND), never a temporary or permanent error: Postfix defers all
        mail on PERM (FIELD-NOTES)."""
        ports = self.ours["base64"][1]
        fwd, rev, sm = self.tcp(ports["fwd"]), self.tcp(ports["rev"]), self.smap(ports["smap"])
        code, good = fwd.get(b"victim@example.org")
        self.assertEqual(code, 200)
        h = good[5:9]
        bad_hash = good[:5] + (b"AAAA" if h != b"AAAA" else b"BBBB") + good[9:]
        old = model_forward(b"victim@example.org", time.time() - 40 * 86400)
        cases = [bad_hash, old, b"SRS0=xxxx=ZZ@" + DOMAIN, b"SRS0=@" + DOMAIN,
                 b"SRS1=abcd=hop==@" + DOMAIN, b"plain@example.org", b"@example.org",
                 b"nodomain", b"SRS0=" + b"A" * 60 + b"=2W=x.org=u@" + DOMAIN,
                 b"SRS0=abcd=2WXYZ=x.org=u@" + DOMAIN]  # CVE-2020-35573's long stamp
        for key in cases:
            with self.subTest(key=key):
                self.assertEqual(rev.get(key)[0], 500)
                self.assertEqual(sm.get("reverse", key)[0], "NOTFOUND")
        self.assertEqual(rev.get(good), (200, b"victim@example.org"))

    def test_lookup_keys_postfix_sends_are_not_found(self):
        """Canonical maps also look up "@domain" and bare "user": rewriting them
        would map a whole domain to one address."""
        ports = self.ours["base64"][1]
        fwd, sm = self.tcp(ports["fwd"]), self.smap(ports["smap"])
        for key in (b"@sender.example", b"someone", b"postmaster", b"@" + DOMAIN):
            with self.subTest(key=key):
                self.assertEqual(fwd.get(key)[0], 500)
                self.assertEqual(sm.get("forward", key)[0], "NOTFOUND")

    def test_own_domain_left_alone(self):
        ours = self.ours["base64"][1]
        for a in (b"x@" + DOMAIN, b"X@" + DOMAIN.upper(), b"SRS0=abcd=2W=a.b=c@" + DOMAIN):
            with self.subTest(addr=a):
                code, pval = self.tcp(self.ps_fwd).get(a)
                self.assertEqual((code, pval), (200, a))  # postsrsd: "200 same"
                code, oval = self.tcp(ours["fwd"]).get(a)
                self.assertTrue(code == 500 or (code, oval) == (200, a), (code, oval))
                self.assertEqual(self.smap(ours["smap"]).get("forward", a)[0], "NOTFOUND")

    def test_too_long_left_alone_where_postsrsd_overflows(self):
        """One octet past LONG_LOCAL@LONG_HOST the SRS0 local part is 65
        octets: postsrsd makes it anyway, we leave the address alone."""
        a = LONG_LOCAL + b"y@" + LONG_HOST
        code, pval = self.tcp(self.ps_fwd).get(a)
        self.assertEqual(code, 200)
        self.assertEqual(len(pval.split(b"@")[0]), 65)
        code, oval = self.tcp(self.ours["base64"][1]["fwd"]).get(a)
        self.assertTrue(code == 500 or (code, oval) == (200, a), (code, oval))
        # and the longest allowed one is rewritten by both (in ADDRESSES too)
        code, oval = self.tcp(self.ours["base64"][1]["fwd"]).get(LONG_LOCAL + b"@" + LONG_HOST)
        self.assertEqual(code, 200)
        self.assertEqual(len(oval.split(b"@")[0]), 64)

    # -- quoted local parts: postsrsd is wrong, we are not ---------------------
    def test_quoted_local_parts(self):
        ps = self.tcp(self.ps_fwd)
        for alphabet in ("base64", "base64url"):
            ports = self.ours[alphabet][1]
            fwd, rev, sm = self.tcp(ports["fwd"]), self.tcp(ports["rev"]), self.smap(ports["smap"])
            for addr, local, host in QUOTED:
                with self.subTest(alphabet=alphabet, addr=addr):
                    t0 = time.time()
                    # postsrsd: split at the first "@", quotes kept inside.
                    code, pval = ps.get(addr)
                    self.assertEqual(code, 200)
                    self.expect_model(addr, pval, t0, time.time(), split_first=True)
                    self.assertTrue(pval.startswith(b"SRS0="), pval)
                    self.assertFalse(valid_mailbox(pval), pval)  # quotes inside: broken
                    self.assertTrue(valid_mailbox(addr))
                    # ours: split at the last "@", the result quoted again.
                    code, oval = fwd.get(addr)
                    self.assertEqual(code, 200, oval)
                    m = re.fullmatch(rb'"SRS0=(.{4})=(..)=' + re.escape(host) + rb"=" +
                                     re.escape(local) + rb'"@' + re.escape(DOMAIN), oval, re.S)
                    self.assertIsNotNone(m, oval)
                    self.assertIn(m.group(2), {srs_stamp(t0), srs_stamp(time.time())})
                    self.assertEqual(m.group(1),
                                     srs_hash(SECRET, m.group(2), host, local, alphabet=alphabet))
                    self.assertNotEqual(oval, pval)
                    self.assertEqual(sm.get("forward", addr), ("OK", oval))
                    # and it comes back as the original quoted address
                    self.assertEqual(rev.get(oval), (200, addr))
                    self.assertEqual(sm.get("reverse", oval), ("OK", addr))

    # -- as Postfix asks: postmap -q -------------------------------------------
    def postmap(self, key, table):
        r = fwdtest.run([POSTMAP, "-c", self.dir, "-q", key, table])
        self.assertNotIn("fatal", r.stderr)
        return r.returncode, r.stdout.rstrip("\n")

    def test_postmap_queries(self):
        ports = self.ours["base64"][1]
        keys = ["user+tag@example.org", "Test.User@EXAMPLE.ORG", '"john doe"@example.org',
                "SRS0=abcd=2W=other.com=u@fwd1.example", "jos\u00e9@example.org"]
        for key in keys:
            with self.subTest(key=key):
                code, direct = self.tcp(ports["fwd"]).get(key)
                self.assertEqual(code, 200)
                direct = direct.decode("utf-8")
                self.assertEqual(self.postmap(key, "tcp:127.0.0.1:%d" % ports["fwd"]),
                                 (0, direct))
                self.assertEqual(
                    self.postmap(key, "socketmap:inet:127.0.0.1:%d:forward" % ports["smap"]),
                    (0, direct))
                back = model_reverse_of(key.encode()).decode("utf-8")
                self.assertEqual(self.postmap(direct, "tcp:127.0.0.1:%d" % ports["rev"]),
                                 (0, back))
                self.assertEqual(
                    self.postmap(direct, "socketmap:inet:127.0.0.1:%d:reverse" % ports["smap"]),
                    (0, back))
                if '"' not in key:
                    self.assertEqual(self.postmap(key, "tcp:127.0.0.1:%d" % self.ps_fwd),
                                     (0, direct))
        self.assertEqual(self.postmap("x@" + DOMAIN.decode(),
                                      "tcp:127.0.0.1:%d" % ports["fwd"])[0], 1)
        self.assertEqual(self.postmap("nobody@example.org",
                                      "socketmap:inet:127.0.0.1:%d:reverse" % ports["smap"])[0], 1)


if __name__ == "__main__":
    unittest.main()
