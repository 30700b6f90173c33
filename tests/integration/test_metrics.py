"""fwdauthd's Prometheus metrics (metrics_listen) scraped over HTTP.

One daemon serves socketmap, both tcp_table directions, the milter and
metrics_listen on free ports. The test makes a known number of SRS lookups
(found, not found, malformed and over-long, over both protocols), drives a known set
of milter messages over raw milter connections (a user's message signed, a
forwarded one signed, sealed and SRS-rewritten, a p=reject spoof refused, a
p=quarantine spoof held, one tempfailed, one aborted, one whose SPF lookup
times out), reloads once with a good configuration (connection_limit 2,
then a third connection is refused) and once with a broken one, and then
checks the exact value of every counter, that the signing histogram counts
one observation per signature, that the output is well-formed text format
0.0.4 (a small strict parser below), that no secret, key or address leaks
into it, and the HTTP side: 404, 405, HEAD, Content-Type, keep-alive.
Standard library only (urllib, socket).
"""
import http.client
import math
import os
import re
import signal
import socket
import struct
import time
import urllib.error
import urllib.request

import fwdtest
from fwdtest import netstring, read_netstring, run
from test_milter import RawMilter, optneg, packet

SECRET = "metrics-s3cret-do-not-leak"
AUTHSERV_ID = "mx.ourdomain.test"
SRS_DOMAIN = "srs.ourdomain.test"
CLIENT = b"client.example\0" + b"4" + struct.pack(">H", 4567) + b"198.51.100.7\0"

# ---- a strict reader of the Prometheus text format 0.0.4 -------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
SAMPLE_RE = re.compile(r"^(%s)(\{.*\})? (\S+)$" % NAME)


def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], v)


def parse_labels(text):
    """'{a="x",b="y"}' -> (("a", "x"), ("b", "y")); every octet accounted for."""
    if not text:
        return ()
    assert text[0] == "{" and text[-1] == "}", text
    body, out, pos = text[1:-1], [], 0
    while pos < len(body):
        m = LABEL_RE.match(body, pos)
        assert m, "bad label at %r" % body[pos:]
        out.append((m.group(1), unescape(m.group(2))))
        pos = m.end()
        if pos < len(body):
            assert body[pos] == ",", body
            pos += 1
            assert pos < len(body), "trailing comma: %s" % text
    names = [n for n, _ in out]
    assert len(names) == len(set(names)), "repeated label: %s" % text
    return tuple(out)


def parse_exposition(text):
    """Returns ({family: type}, {(sample name, labels): float}). Raises
    AssertionError on anything the format does not allow."""
    assert text.endswith("\n"), "no final newline"
    types, helps, samples = {}, set(), {}
    family = None
    for line in text[:-1].split("\n"):
        assert line, "empty line"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and help_text, line
            assert name not in helps and name not in types, "HELP twice or after TYPE: " + line
            helps.add(name)
            family = name
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert name == family, "TYPE without its HELP: " + line
            assert name not in types, "TYPE twice: " + line
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = typ
            continue
        assert not line.startswith("#"), line
        m = SAMPLE_RE.match(line)
        assert m, "bad sample line: %r" % line
        name, labels, value = m.group(1), parse_labels(m.group(2)), m.group(3)
        typ = types.get(family)
        assert typ, "sample before TYPE: " + line
        if typ == "histogram":
            assert name in (family + "_bucket", family + "_sum", family + "_count"), line
        else:
            assert name == family, "sample %s under family %s" % (name, family)
        if typ == "counter":
            assert name.endswith("_total"), line
        v = float(value)  # accepts +Inf, NaN as the format does
        key = (name, labels)
        assert key not in samples, "duplicate sample: " + line
        samples[key] = v
    # Histograms: cumulative buckets ending in +Inf, equal to _count.
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == fam + "_bucket":
                rest = tuple(l for l in labels if l[0] != "le")
                le = dict(labels)["le"]
                series.setdefault(rest, []).append((float(le), v))
        assert series, "histogram %s without buckets" % fam
        for rest, buckets in series.items():
            buckets.sort()
            assert buckets[-1][0] == math.inf, "no +Inf bucket"
            counts = [c for _, c in buckets]
            assert counts == sorted(counts), "buckets not cumulative: %s" % fam
            assert samples[(fam + "_count", rest)] == counts[-1], fam
            assert samples[(fam + "_sum", rest)] >= 0, fam
    return types, samples


class ParserSelfTest(fwdtest.TestCase):
    """The reader refuses what it should, so that its passing means something."""

    def test_rejects(self):
        good = '# HELP a_total x\n# TYPE a_total counter\na_total{k="v"} 1\n'
        parse_exposition(good)
        for bad in (good[:-1],                                   # no final newline
                    good.replace("a_total{", "b_total{"),        # wrong family
                    good.replace('{k="v"}', '{k="v",}'),         # trailing comma
                    good.replace('{k="v"}', '{k="a\\qb"}'),      # bad escape
                    good.replace('{k="v"}', '{k=v}'),            # unquoted
                    good.replace(" 1\n", " one\n"),              # not a number
                    good + 'a_total{k="v"} 2\n',                 # duplicate
                    good.replace("# TYPE a_total counter\n", "")):  # no TYPE
            with self.assertRaises((AssertionError, ValueError), msg=bad):
                parse_exposition(bad)


# ---- the daemon ------------------------------------------------------------


class Metrics(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        fwdtest.require_programs(fwdtest.FWDAUTHD)
        nobody = 65534
        kdir = os.path.join(self.dir, "keys")
        os.mkdir(kdir, 0o755)
        r = run([fwdtest.FWDAUTH, "dkim", "keygen", "-d", "ourdomain.test", "-s", "fwd",
                 "-o", kdir])
        self.assertEqual(r.returncode, 0, r.stderr)
        key_record = r.stdout.strip().splitlines()[-1]
        self.key_path = os.path.join(kdir, "fwd.private")
        if os.geteuid() == 0:
            os.chown(self.key_path, nobody, nobody)
        self.zonefile = os.path.join(self.dir, "z.zone")
        with open(self.zonefile, "w") as f:
            f.write(key_record + "\n")
            f.write('evil.test. TXT "v=spf1 -all"\n'
                    '_dmarc.evil.test. TXT "v=DMARC1; p=reject"\n'
                    'held.test. TXT "v=spf1 -all"\n'
                    '_dmarc.held.test. TXT "v=DMARC1; p=quarantine"\n'
                    'slow.test. TIMEOUT\n')
        kt = os.path.join(self.dir, "KeyTable")
        with open(kt, "w") as f:
            f.write("ourkey ourdomain.test:fwd:%s\n" % self.key_path)
        st = os.path.join(self.dir, "SigningTable")
        with open(st, "w") as f:
            f.write("ourdomain.test ourkey\n")
        self.secret = os.path.join(self.dir, "srs.secret")
        fwdtest.write_secret(self.secret, SECRET,
                             owner="nobody" if os.geteuid() == 0 else None)
        self.ports = {k: fwdtest.free_port() for k in ("sm", "fwd", "rev", "milter", "metrics")}
        self.settings = {
            "srs_domain": SRS_DOMAIN,
            "srs_secrets": self.secret,
            "socketmap_listen": "inet:127.0.0.1:%d" % self.ports["sm"],
            "tcp_forward_listen": "inet:127.0.0.1:%d" % self.ports["fwd"],
            "tcp_reverse_listen": "inet:127.0.0.1:%d" % self.ports["rev"],
            "milter_listen": "inet:127.0.0.1:%d" % self.ports["milter"],
            "metrics_listen": "inet:127.0.0.1:%d" % self.ports["metrics"],
            "authserv_id": AUTHSERV_ID,
            "internal_hosts": "192.0.2.254/32",
            "dkim_key_table": kt,
            "dkim_signing_table": st,
            "forward_recipients": "alias@ourdomain.test",
            "forward_signing_key": "ourkey",
            "arc_key": self.key_path,
            "arc_domain": "ourdomain.test",
            "arc_selector": "fwd",
            "dmarc_enforce": "reject",
            "dns_zone_file": self.zonefile,
            "log_level": "debug",
        }
        self.t_start = time.time()
        self.daemon = self.start_daemon(self.settings)
        for k in ("milter", "metrics"):
            fwdtest.wait_for_port(self.ports[k], proc=self.daemon.proc)

    # -- HTTP --

    def url(self, path="/metrics"):
        return "http://127.0.0.1:%d%s" % (self.ports["metrics"], path)

    def scrape(self):
        with urllib.request.urlopen(self.url(), timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
            text = r.read().decode("utf-8")
        types, samples = parse_exposition(text)
        return text, types, samples

    def wait_idle(self):
        """Connection threads end just after their client closes: wait for
        every active gauge to come back to 0."""
        deadline = time.monotonic() + 10
        while True:
            _, _, s = self.scrape()
            active = {k: v for k, v in s.items() if k[0] == "fwdauth_connections_active"}
            if all(v == 0 for v in active.values()):
                return
            if time.monotonic() > deadline:
                self.fail("connections still active: %s" % active)
            time.sleep(0.05)

    # -- SRS tables --

    def socketmap(self):
        s = socket.create_connection(("127.0.0.1", self.ports["sm"]), timeout=10)
        f = s.makefile("rb")

        def ask(req):
            s.sendall(netstring(req))
            return read_netstring(f).decode()
        return s, f, ask

    def tcp(self, port):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        f = s.makefile("rb")

        def get(line):
            s.sendall(line.encode() + b"\n")
            return f.readline().decode()
        return s, f, get

    def srs_lookups(self):
        s, f, ask = self.socketmap()
        fwd = ask("forward test@otherdomain.com")
        self.assertTrue(fwd.startswith("OK SRS0="), fwd)
        srs = fwd[3:]
        self.assertTrue(ask("forward other@otherdomain.com").startswith("OK SRS0="))
        self.assertEqual(ask("forward someone@%s" % SRS_DOMAIN), "NOTFOUND ")
        self.assertEqual(ask("reverse " + srs), "OK test@otherdomain.com")
        self.assertEqual(ask("reverse plain@example.org"), "NOTFOUND ")
        self.assertTrue(ask("bogusmap x@example.org").startswith("PERM "))
        f.close()
        s.close()
        s, f, get = self.tcp(self.ports["fwd"])
        self.assertTrue(get("get test%40otherdomain.com").startswith("200 SRS0"))
        self.assertTrue(get("get someone%40" + SRS_DOMAIN).startswith("500 "))
        self.assertTrue(get("junk").startswith("500 "))  # malformed
        f.close()
        s.close()
        s, f, get = self.tcp(self.ports["fwd"])  # over 4096 octets: answered, closed
        self.assertEqual(get("get " + "a" * 5000), "500 request too long\n")
        self.assertEqual(f.read(), b"")
        f.close()
        s.close()
        s, f, get = self.tcp(self.ports["rev"])
        self.assertEqual(get("get " + srs.replace("@", "%40")), "200 test@otherdomain.com\n")
        self.assertTrue(get("get plain%40example.org").startswith("500 "))
        self.assertTrue(get("get SRS0%3Dxxxx%3DAA%3Dx.org%3Dy%40" + SRS_DOMAIN).startswith("500 "))
        f.close()
        s.close()

    # -- milter --

    def milter_conn(self):
        m = RawMilter(self.ports["milter"])
        m.send(optneg())
        cmd, _ = m.read_packet()
        self.assertEqual(cmd, b"O")
        m.send(packet(b"D", b"Cj\0mx.ourdomain.test\0") + packet(b"C", CLIENT) +
               packet(b"H", b"client.example\0"))
        return m

    def message(self, m, sender, rcpt, frm, qid, mail_macros=b"", abort=False):
        """One message; returns the reply codes after end of message."""
        data = b""
        if mail_macros:
            data += packet(b"D", b"M" + mail_macros)
        data += packet(b"M", b"<" + sender.encode() + b">\0")
        data += packet(b"R", b"<" + rcpt.encode() + b">\0")
        if abort:
            m.send(data + packet(b"A"))
            return []
        for name, value in ((b"From", b" <" + frm.encode() + b">"), (b"To", b" <x@y.test>"),
                            (b"Subject", b" metrics " + qid.encode()),
                            (b"Message-ID", b" <" + qid.encode() + b"@ourdomain.test>")):
            data += packet(b"L", name + b"\0" + value + b"\0")
        data += packet(b"N") + packet(b"B", b"hello\r\n")
        data += packet(b"D", b"Ei\0" + qid.encode() + b"\0") + packet(b"E")
        m.send(data)
        codes = []
        while True:
            cmd, _ = m.read_packet()
            codes.append(cmd.decode())
            if cmd in (b"c", b"a", b"r", b"t", b"d", b"y"):
                return codes

    def milter_messages(self):
        m = self.milter_conn()
        codes = self.message(m, "alice@ourdomain.test", "bob@remote.test",
                             "alice@ourdomain.test", "QORIG",
                             mail_macros=b"{auth_authen}\0alice\0")
        self.assertEqual(codes, ["i", "c"])  # DKIM-Signature, continue
        m.send(packet(b"Q"))
        m.close()

        m = self.milter_conn()
        self.assertEqual(self.message(m, "a@plain.test", "bob@remote.test", "a@plain.test",
                                      "QPLAIN"), ["i", "c"])  # Authentication-Results
        # Forwarded: AR, our DKIM signature, ARC set (3 fields), SRS sender.
        codes = self.message(m, "a@plain.test", "alias@ourdomain.test", "a@plain.test", "QFWD")
        self.assertEqual(sorted(codes), sorted(["i", "i", "i", "i", "i", "e", "c"]), codes)
        self.assertEqual(self.message(m, "x@evil.test", "bob@remote.test", "x@evil.test",
                                      "QEVIL"), ["y"])  # 550 DMARC reject
        codes = self.message(m, "x@held.test", "bob@remote.test", "x@held.test", "QHELD")
        self.assertEqual(sorted(codes), ["c", "i", "q"], codes)  # quarantined
        self.assertEqual(self.message(m, "a@" + "l" * 5000 + ".test", "bob@remote.test",
                                      "a@plain.test", "QLONG"), ["t"])  # MAIL over its limit
        self.assertEqual(self.message(m, "a@plain.test", "bob@remote.test", "a@plain.test",
                                      "QABORT", abort=True), [])
        self.assertEqual(self.message(m, "a@slow.test", "bob@remote.test", "a@slow.test",
                                      "QSLOW"), ["i", "c"])  # spf=temperror
        m.send(packet(b"Q"))
        m.close()

    # -- the test --

    def test_metrics(self):
        # Before any traffic: every series is there, at 0.
        text, types, s = self.scrape()
        self.assertEqual(types["fwdauth_srs_lookups_total"], "counter")
        self.assertEqual(types["fwdauth_sign_duration_seconds"], "histogram")
        self.assertEqual(types["fwdauth_connections_active"], "gauge")
        self.assertEqual(s[("fwdauth_milter_messages_total", (("action", "continue"),))], 0)
        start = s[("fwdauth_start_time_seconds", ())]
        self.assertLessEqual(abs(start - self.t_start), 5)

        self.srs_lookups()
        self.milter_messages()
        self.wait_idle()

        # Reload with connection_limit = 2: a third connection is refused.
        t_reload = time.time()
        fwdtest.write_config(self.daemon.config_path,
                             **dict(self.settings, connection_limit="2"))
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.wait_log("reloaded")
        held = [socket.create_connection(("127.0.0.1", self.ports["sm"]), timeout=10)
                for _ in range(2)]
        for c in held:  # a lookup each: both are being served
            c.sendall(netstring("reverse plain@example.org"))
            with c.makefile("rb") as f:
                self.assertEqual(read_netstring(f), b"NOTFOUND ")
        extra = socket.create_connection(("127.0.0.1", self.ports["sm"]), timeout=10)
        self.assertEqual(extra.recv(100), b"")  # closed at once
        extra.close()
        for c in held:
            c.close()
        self.wait_idle()
        # A broken configuration: counted, the old one stays.
        with open(self.daemon.config_path, "a") as f:
            f.write("no_such_setting = 1\n")
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.wait_log("reload failed")

        text, types, s = self.scrape()

        def v(name, **labels):
            return s[(name, tuple(labels.items()))]

        def srs(protocol, map_, result):
            return v("fwdauth_srs_lookups_total", protocol=protocol, map=map_, result=result)

        want_srs = {
            ("socketmap", "forward", "found"): 2, ("socketmap", "forward", "notfound"): 1,
            ("socketmap", "reverse", "found"): 1,
            ("socketmap", "reverse", "notfound"): 1 + 2,  # + the two held connections
            ("socketmap", "unknown", "error"): 1,
            ("tcp_table", "forward", "found"): 1, ("tcp_table", "forward", "notfound"): 1,
            ("tcp_table", "forward", "error"): 2,
            ("tcp_table", "reverse", "found"): 1, ("tcp_table", "reverse", "notfound"): 2,
        }
        got_srs = {(dict(k[1])["protocol"], dict(k[1])["map"], dict(k[1])["result"]): val
                   for k, val in s.items() if k[0] == "fwdauth_srs_lookups_total"}
        self.assertEqual({k: val for k, val in got_srs.items() if val}, want_srs, text)
        self.assertEqual(srs("socketmap", "forward", "temp"), 0)

        actions = {dict(k[1])["action"]: val for k, val in s.items()
                   if k[0] == "fwdauth_milter_messages_total"}
        self.assertEqual(actions, {"accept": 0, "continue": 4, "reject": 1, "tempfail": 1,
                                   "discard": 0, "quarantine": 1}, text)
        self.assertEqual(v("fwdauth_milter_messages_aborted_total"), 1)
        self.assertEqual(v("fwdauth_milter_signatures_total", kind="dkim"), 1)
        self.assertEqual(v("fwdauth_milter_signatures_total", kind="forwarder"), 1)
        self.assertEqual(v("fwdauth_milter_signatures_total", kind="arc"), 1)
        self.assertEqual(v("fwdauth_milter_srs_rewrites_total"), 1)
        self.assertEqual(v("fwdauth_milter_from_rewrites_total"), 0)
        # One observation per signature made.
        self.assertEqual(v("fwdauth_sign_duration_seconds_count", kind="dkim"),
                         v("fwdauth_milter_signatures_total", kind="dkim") +
                         v("fwdauth_milter_signatures_total", kind="forwarder"))
        self.assertEqual(v("fwdauth_sign_duration_seconds_count", kind="arc"),
                         v("fwdauth_milter_signatures_total", kind="arc"))
        self.assertGreater(v("fwdauth_sign_duration_seconds_sum", kind="dkim"), 0)

        # Inbound messages checked: plain, forwarded, evil, held, slow (not the
        # user's message, not the tempfailed or aborted ones).
        def results(method):
            return {dict(k[1])["result"]: val for k, val in s.items()
                    if k[0] == "fwdauth_%s_results_total" % method and val}
        self.assertEqual(results("spf"), {"none": 2, "fail": 2, "temperror": 1}, text)
        self.assertEqual(results("dkim"), {"none": 5})
        self.assertEqual(results("dmarc"), {"none": 3, "fail": 2})
        self.assertEqual(results("arc"), {"none": 5})

        # DNS: the zone file's TIMEOUT for slow.test is the one timeout.
        self.assertEqual(v("fwdauth_dns_errors_total", kind="timeout"), 1)
        self.assertEqual(v("fwdauth_dns_errors_total", kind="servfail"), 0)
        self.assertEqual(v("fwdauth_dns_errors_total", kind="other"), 0)
        self.assertGreaterEqual(v("fwdauth_dns_query_duration_seconds_count", type="txt"), 5)

        conns = {dict(k[1])["listener"]: val for k, val in s.items()
                 if k[0] == "fwdauth_connections_total"}
        # One more each: the readiness probes (wait_for_port) of setUp.
        self.assertEqual(conns, {"socketmap": 1 + 3, "tcp_forward": 1 + 2, "tcp_reverse": 1 + 1,
                                 "milter": 1 + 2})
        refused = {dict(k[1])["listener"]: val for k, val in s.items()
                   if k[0] == "fwdauth_connections_refused_total"}
        self.assertEqual(refused, {"socketmap": 1, "tcp_forward": 0, "tcp_reverse": 0,
                                   "milter": 0})
        self.assertEqual(v("fwdauth_config_reloads_total", result="success"), 1)
        self.assertEqual(v("fwdauth_config_reloads_total", result="failure"), 1)
        last = v("fwdauth_config_last_reload_success_timestamp_seconds")
        self.assertGreaterEqual(last, math.floor(t_reload))
        self.assertLessEqual(last, time.time() + 1)
        self.assertEqual(v("fwdauth_start_time_seconds"), start)

        # Nothing secret or personal in the output.
        self.assertNotIn(SECRET, text)
        self.assertNotIn("s3cret", text)
        with open(self.key_path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("-----"):
                    self.assertNotIn(line[:20], text)
        for leak in ("otherdomain", "@", "ourdomain", "evil.test", "alice", "QFWD"):
            self.assertNotIn(leak, text)

    def wait_log(self, text, timeout=10):
        deadline = time.monotonic() + timeout
        while text not in self.daemon.logtext():
            if time.monotonic() > deadline:
                self.fail("no %r in the log:\n%s" % (text, self.daemon.logtext()[-3000:]))
            time.sleep(0.05)

    def test_http(self):
        # Other paths: 404; other methods: 405 with Allow; HEAD: headers only.
        for path in ("/other", "/", "/metrics/x"):
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(self.url(path), timeout=10)
            self.assertEqual(cm.exception.code, 404)
        for method in ("POST", "PUT", "DELETE"):
            req = urllib.request.Request(self.url(), data=b"x=1", method=method)
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(req, timeout=10)
            self.assertEqual(cm.exception.code, 405)
            self.assertEqual(cm.exception.headers["Allow"], "GET, HEAD")
        c = http.client.HTTPConnection("127.0.0.1", self.ports["metrics"], timeout=10)
        c.request("HEAD", "/metrics")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.read(), b"")
        # The same connection serves the next request (keep-alive), and a
        # query string is ignored.
        c.request("GET", "/metrics?x=1")
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        parse_exposition(r.read().decode())
        c.close()
        # A client that connects and says nothing does not hold up a scrape.
        idle = socket.create_connection(("127.0.0.1", self.ports["metrics"]), timeout=10)
        self.addCleanup(idle.close)
        self.scrape()
        # SIGTERM stops the HTTP side too, promptly, exit 0.
        t0 = time.monotonic()
        self.assertEqual(self.daemon.stop(), 0)
        self.assertLess(time.monotonic() - t0, 5)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", self.ports["metrics"]), timeout=2)
        self.assertIn("listening: metrics (HTTP GET /metrics) on inet:127.0.0.1:%d" %
                      self.ports["metrics"], self.daemon.logtext())


class MetricsConfig(fwdtest.TestCase):
    def test_unix_refused_and_not_a_listener(self):
        secret = os.path.join(self.dir, "s")
        fwdtest.write_secret(secret, SECRET)
        base = {"srs_domain": SRS_DOMAIN, "srs_secrets": secret}
        conf = os.path.join(self.dir, "c.conf")
        fwdtest.write_config(conf, **dict(base, socketmap_listen="inet:127.0.0.1:%d" %
                                          fwdtest.free_port(),
                                          metrics_listen="unix:%s/m.sock" % self.dir))
        r = run([fwdtest.FWDAUTHD, "-c", conf, "-t"])
        self.assertEqual(r.returncode, 1, r.stderr)  # -t: 1 = problems found
        self.assertIn("metrics_listen", r.stderr)
        self.assertIn("inet:HOST:PORT", r.stderr)
        # metrics_listen alone is not a listener: a metrics-only daemon is pointless.
        fwdtest.write_config(conf, **dict(base, metrics_listen="inet:127.0.0.1:9"))
        r = run([fwdtest.FWDAUTHD, "-c", conf, "-t"])
        self.assertEqual(r.returncode, 1, r.stderr)  # -t: 1 = problems found
        self.assertIn("no listener configured", r.stderr)
        # IPv6 loopback is accepted; a bad address is refused with its key.
        fwdtest.write_config(conf, **dict(base, socketmap_listen="inet:127.0.0.1:9",
                                          metrics_listen="inet:[::1]:9478"))
        r = run([fwdtest.FWDAUTHD, "-c", conf, "-t"])
        self.assertEqual(r.returncode, 0, r.stderr)
        fwdtest.write_config(conf, **dict(base, socketmap_listen="inet:127.0.0.1:9",
                                          metrics_listen="inet:127.0.0.1:0"))
        r = run([fwdtest.FWDAUTHD, "-c", conf, "-t"])
        self.assertEqual(r.returncode, 1, r.stderr)  # -t: 1 = problems found
        self.assertIn("metrics_listen", r.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
