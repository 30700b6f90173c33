"""DKIM peers for black-box tests: dkimpy in process, OpenDKIM as a real milter.

    zone = Zone(); zone.add_key(selector, domain, "v=DKIM1; k=rsa; p=...")
    zone.write(path)                       # fwdauth --dns-zone file
    zone.dnsfunc                           # dkimpy dnsfunc
    results = dkimpy_verify_all(wire, zone.dnsfunc)   # [True/False/str] per signature

    odk = OpenDKIM(basedir, mode="v", keys=zone)      # or mode="s", key=..., ...
    test.addCleanup(odk.stop); odk.start()
    out = odk.run(messages)      # {name: [added header values]} via miltertest

OpenDKIM runs in the foreground (`-f`) with a config in a folder that is not
world-writable (it refuses otherwise), listens on a free loopback port and is
driven by miltertest(8): one Lua script per batch, one milter connection per
message, headers sent with their leading white space (OpenDKIM negotiates
SMFIP_HDR_LEADSPC) and CRLF inside folded values, body from a file in 64 KB
chunks. miltertest (2.11.0~beta2) aborts ("stack smashing detected") on a
header field over about 1024 octets, so the corpus keeps fields below that.
Verification keys come from `TestPublicKeys` (a file of `NAME RECORD` lines),
so no DNS is used. stop() is safe to call twice.
"""
import os
import re
import signal
import subprocess
import time

import dkim

import dkim_corpus
import fwdtest

OPENDKIM = "/usr/sbin/opendkim"
MILTERTEST = "/usr/bin/miltertest"


def txt_strings(record):
    """Split a TXT record into quoted zone-file strings of <= 255 octets."""
    data = record.encode() if isinstance(record, str) else record
    parts = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
    out = []
    for p in parts:
        s = "".join(chr(c) if 0x20 <= c < 0x7f and c not in (0x22, 0x5c) else "\\%03d" % c
                    for c in p)
        out.append('"%s"' % s)
    return " ".join(out)


class Zone:
    """Key records for --dns-zone, dkimpy's dnsfunc and OpenDKIM's TestPublicKeys."""

    def __init__(self):
        self.txt = {}         # owner (lower, no dot) -> record bytes
        self.timeouts = set()

    def add(self, owner, record):
        self.txt[owner.lower().rstrip(".")] = record.encode() if isinstance(record, str) else record

    def add_key(self, selector, domain, record):
        self.add("%s._domainkey.%s" % (selector, domain), record)

    def add_timeout(self, owner):
        self.timeouts.add(owner.lower().rstrip("."))

    def zone_text(self):
        lines = ["%s. 300 IN TXT %s" % (o, txt_strings(r)) for o, r in self.txt.items()]
        lines += ["%s. TIMEOUT" % o for o in sorted(self.timeouts)]
        return "\n".join(lines) + "\n"

    def write(self, path):
        with open(path, "w") as f:
            f.write(self.zone_text())
        return path

    def write_opendkim_keys(self, path):
        with open(path, "wb") as f:
            for o, r in self.txt.items():
                f.write(o.encode() + b" " + r + b"\n")
        return path

    def dnsfunc(self, name, timeout=5):
        owner = name.decode().lower().rstrip(".")
        if owner in self.timeouts:
            raise dkim.DnsTimeoutError("timeout")
        return self.txt.get(owner)


def zone_line_record(zone_line):
    """(owner, record) from a `fwdauth dkim keygen` zone line."""
    owner = zone_line.split()[0].rstrip(".")
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', zone_line)
    return owner, "".join(strings)


def dkimpy_verify_all(message, dnsfunc):
    """Verify every DKIM-Signature (top first) with dkimpy; True, False or
    the exception text for each."""
    d = dkim.DKIM(message)
    n = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
    out = []
    for i in range(n):
        try:
            out.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
        except Exception as e:  # dkimpy raises on malformed input
            out.append("%s: %s" % (type(e).__name__, e))
    return out


def lua_string(b):
    return '"' + "".join("\\%d" % c for c in b) + '"'


class OpenDKIM:
    """A real opendkim filter on a free port.

    mode "v": verify with keys from `zone` (Zone); run() returns the
    Authentication-Results values it adds. mode "s": sign as `domain`/
    `selector` with `keyfile`, `canon` (e.g. "relaxed/relaxed"); run()
    returns the DKIM-Signature values it adds."""

    def __init__(self, basedir, mode="v", zone=None, domain=None, selector=None,
                 keyfile=None, canon="relaxed/relaxed", extra=()):
        self.dir = os.path.join(basedir, "opendkim-%s-%d" % (mode, id(self) % 100000))
        os.makedirs(self.dir, mode=0o755)
        os.chmod(self.dir, 0o755)
        self.port = fwdtest.free_port()
        self.mode = mode
        self.proc = None
        conf = ["Mode %s" % mode,
                "Socket inet:%d@127.0.0.1" % self.port,
                "Background no",
                "Syslog no",
                "AuthservID test.invalid",
                "AlwaysAddARHeader yes",
                "MinimumKeyBits 1024",
                "Canonicalization %s" % canon]
        if zone is not None:
            conf.append("TestPublicKeys " + zone.write_opendkim_keys(
                os.path.join(self.dir, "keys.txt")))
        if mode == "s":
            conf += ["Domain %s" % domain, "Selector %s" % selector, "KeyFile %s" % keyfile,
                     "SignHeaders From,To,Subject,Date,Message-ID,MIME-Version,Content-Type",
                     "InternalHosts 127.0.0.1",
                     # the key lives under /tmp, which is world-writable
                     "RequireSafeKeys false"]
        conf += list(extra)
        self.conf = os.path.join(self.dir, "opendkim.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.log_path = os.path.join(self.dir, "opendkim.log")

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([OPENDKIM, "-f", "-x", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        fwdtest.wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
            self.proc = None

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def script(self, messages, want, repeat=1):
        """Lua for miltertest: messages is [(name, wire bytes)]."""
        lua = ["mt.set_timeout(60)"]
        for idx, (name, wire) in enumerate(messages):
            fields, body = dkim_corpus.split_message(wire)
            bodyfile = os.path.join(self.dir, "body-%d" % idx)
            with open(bodyfile, "wb") as f:
                f.write(body)
            for _ in range(repeat):
                lua.append('c = mt.connect("inet:%d@127.0.0.1", 20, 0.1)' % self.port)
                lua.append('if c == nil then error("cannot connect") end')
                # Offer what Postfix offers (protocol 6, all actions, all
                # steps) so that OpenDKIM gets SMFIP_HDR_LEADSPC.
                lua.append('assert(mt.negotiate(c, 6, 511, 2097151) == nil)')
                lua.append('assert(mt.conninfo(c, "localhost", "127.0.0.1") == nil)')
                lua.append('assert(mt.mailfrom(c, "alice@example.org") == nil)')
                lua.append('assert(mt.rcptto(c, "bob@example.net") == nil)')
                for n, v in fields:
                    lua.append("assert(mt.header(c, %s, %s) == nil)" % (lua_string(n), lua_string(v)))
                lua.append("assert(mt.eoh(c) == nil)")
                if not body:
                    # Without a body chunk miltertest sends "Dummy message
                    # body.", and an empty chunk makes libmilter drop the
                    # connection. A lone CRLF canonicalizes exactly as an
                    # empty body does (simple: CRLF; relaxed: empty), so the
                    # hash OpenDKIM checks is the one an empty body gives.
                    lua.append('assert(mt.bodystring(c, "\\r\\n") == nil)')
                else:
                    # mt.bodyfile sends one chunk; a milter takes at most 64 KB.
                    lua.append("f = assert(io.open(%s, \"rb\")); while true do "
                               "local s = f:read(65535); if s == nil then break end; "
                               "assert(mt.bodystring(c, s) == nil) end; f:close()"
                               % lua_string(bodyfile.encode()))
                lua.append("assert(mt.eom(c) == nil)")
                if repeat == 1:
                    lua.append('mt.echo("@@BEGIN %s")' % name)
                    lua.append("for i = 0, 15 do local h = mt.getheader(c, %s, i); "
                               "if h == nil then break end; mt.echo(h); mt.echo(\"@@NEXT\") end"
                               % lua_string(want.encode()))
                    lua.append('mt.echo("@@END")')
                lua.append("mt.disconnect(c)")
        return "\n".join(lua)

    def run(self, messages, timeout=600):
        """{name: [values of the header fields the filter added]}."""
        want = "Authentication-Results" if self.mode == "v" else "DKIM-Signature"
        lua = self.script(messages, want)
        path = os.path.join(self.dir, "batch.lua")
        with open(path, "w") as f:
            f.write(lua)
        r = subprocess.run([MILTERTEST, "-s", path], capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("miltertest failed (%d): %s %s\nopendkim log:\n%s" % (
                r.returncode, r.stdout.decode(errors="replace")[-2000:],
                r.stderr.decode(errors="replace")[-2000:], self.logtext()[-2000:]))
        out = {}
        cur = None
        buf = []
        for line in r.stdout.decode("utf-8", "replace").split("\n"):
            if line.startswith("@@BEGIN "):
                cur, buf, vals = line[8:], [], []
            elif line == "@@NEXT" and cur is not None:
                vals.append("\n".join(buf))
                buf = []
            elif line == "@@END" and cur is not None:
                out[cur] = vals
                cur = None
            elif cur is not None:
                buf.append(line)
        return out

    def time_run(self, messages, repeat):
        """Seconds miltertest needs to push each message `repeat` times."""
        want = "Authentication-Results" if self.mode == "v" else "DKIM-Signature"
        lua = self.script(messages, want, repeat=repeat)
        path = os.path.join(self.dir, "bench.lua")
        with open(path, "w") as f:
            f.write(lua)
        t0 = time.monotonic()
        r = subprocess.run([MILTERTEST, "-s", path], capture_output=True, timeout=1200)
        if r.returncode != 0:
            raise RuntimeError("miltertest failed: %s" % r.stderr.decode(errors="replace"))
        return time.monotonic() - t0


def dkim_results(ar_value):
    """[(result, header.d, header.s, header.a)] from an OpenDKIM
    Authentication-Results value."""
    out = []
    for m in re.finditer(r"dkim=(\w+)([^;]*)", ar_value):
        attrs = dict(re.findall(r"header\.(\w)=(\S+)", m.group(2)))
        out.append((m.group(1), attrs.get("d"), attrs.get("s"), attrs.get("a")))
    return out


def milter_added_field(name, value):
    """The field as it goes on the wire when a milter added `name` with
    `value` (OpenDKIM negotiates SMFIP_HDR_LEADSPC, so the value carries its
    own leading space; folds may come as bare LF)."""
    v = value.encode() if isinstance(value, str) else value
    if not v[:1] in (b" ", b"\t"):
        v = b" " + v
    return dkim_corpus.on_the_wire(name.encode() + b":" + v + b"\n")
