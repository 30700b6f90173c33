"""`fwdauth logscan` on a real Postfix log (maillogcorpus.py).

The corpus is generated once per class: a throwaway Postfix with fwdauthd as
its milter forwards and relays mail to smtp-sink receivers that answer like
Outlook (5.7.509), Gmail (5.7.26, 5.7.27, 4.7.26), Yahoo (5.7.9), a mailbox
that does not exist (5.1.1), a deferral (451 4.7.1), and accept; plus a
milter-reject by fwdauthd (a spoof of a p=reject domain), NOQUEUE rejects,
header_checks hold/discard/reject, a local(8) "forwarded as", bounce
notifications (one of them refused). The expected outcome comes from the
scenario (what each receiver answers), not from the CLI; the totals are also
checked against pflogsumm's Grand Totals on the same log.

The same log is then fed gzip-compressed, split over two files, through
standard input, converted to RFC 3339 and journalctl short-iso stamps, cut
with --since/--until at a second between the two batches, and followed
(--follow) while it grows and is rotated.
"""
import csv
import datetime
import gzip
import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import fwdtest
import maillogcorpus
import postfixtest
from fwdtest import FWDAUTH, FWDAUTHD, run

PFLOGSUMM = "/usr/sbin/pflogsumm"
CSV_HEADER = ["category", "status", "sender_domain", "recipient_domain", "count", "forwarded",
              "dsn", "dmarc_policy", "advice", "reply"]
PFLOGSUMM_KEYS = ("received", "delivered", "forwarded", "deferred", "bounced", "rejected",
                  "held", "discarded")
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
CLASSIC_RE = re.compile(r"^([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (.*)$")


def pflogsumm_totals(path):
    """pflogsumm's Grand Totals: {received, delivered, ..., deferrals}."""
    r = run([PFLOGSUMM, path])
    if r.returncode != 0:
        raise AssertionError("pflogsumm failed: %s" % r.stderr)
    section = r.stdout.split("Grand Totals", 1)[1].split("bytes received", 1)[0]
    out = {}
    for m in re.finditer(r"(?m)^\s*(\d+)\s+(received|delivered|forwarded|deferred|bounced|"
                         r"rejected|held|discarded)\b(?:\s+\((\d+)\s+deferrals\))?", section):
        out[m.group(2)] = int(m.group(1))
        if m.group(3):
            out["deferrals"] = int(m.group(3))
    return out


def classic_epoch(line, year):
    """Seconds since 1970 of a classic syslog line (local time), and the rest."""
    m = CLASSIC_RE.match(line)
    mon, day, hh, mm, ss, rest = m.groups()
    t = time.mktime((year, MONTHS[mon], int(day), int(hh), int(mm), int(ss), 0, 0, -1))
    return int(t), rest


def log_year(path):
    """The year classic lines of path belong to: the file's mtime's, as the
    CLI reads it (every line here is from the same month as the mtime)."""
    return time.localtime(os.stat(path).st_mtime).tm_year


def to_rfc3339(lines, year):
    """Classic lines as Debian 12's rsyslog writes them, in +01:00, with
    microseconds: 2026-11-26T14:54:43.123456+01:00 host prog[pid]: text."""
    tz = datetime.timezone(datetime.timedelta(hours=1))
    out = []
    for l in lines:
        t, rest = classic_epoch(l, year)
        d = datetime.datetime.fromtimestamp(t, tz).replace(microsecond=123456)
        out.append("%s %s" % (d.isoformat(timespec="microseconds"), rest))
    return out


def to_short_iso(lines, year):
    """Classic lines as `journalctl -o short-iso` prints them, in -05:00:
    2026-11-26T08:54:43-0500 host prog[pid]: text."""
    tz = datetime.timezone(datetime.timedelta(hours=-5))
    out = []
    for l in lines:
        t, rest = classic_epoch(l, year)
        out.append("%s %s" % (datetime.datetime.fromtimestamp(t, tz).strftime(
            "%Y-%m-%dT%H:%M:%S%z"), rest))
    return out


def group_key(g):
    return (g["category"], g["status"], g["sender_domain"], g["recipient_domain"])


def utc(stamp):
    return int(datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp())


class CorpusCase(unittest.TestCase):
    """Generates the corpus once for the class (corpus_settings: more
    Postfix settings) and scans it: cls.log, cls.lines, cls.base (JSON)."""

    corpus_settings = None

    @classmethod
    def setUpClass(cls):
        fwdtest.require_programs(FWDAUTHD, FWDAUTH, postfixtest.POSTFIX, postfixtest.SMTP_SINK,
                                 PFLOGSUMM)
        cls.dir = d = tempfile.mkdtemp(prefix="fwdauth-logscan-")
        os.chmod(d, 0o755)
        cls.addClassCleanup(shutil.rmtree, d, True)
        cls.corpus = c = maillogcorpus.Corpus(d, cls.corpus_settings)
        cls.addClassCleanup(c.stop)   # every daemon, even when run() fails half-way
        t0 = time.monotonic()
        c.run()
        cls.gen_seconds = time.monotonic() - t0
        cls.log = os.path.join(d, "maillog")
        shutil.copy2(c.maillog, cls.log)
        with open(cls.log) as f:
            cls.lines = f.read().splitlines()
        cls.year = log_year(cls.log)
        cls.base = cls.scan_json(cls.log)

    # -- helpers -----------------------------------------------------------------
    @classmethod
    def logscan(cls, *args, input=None, timeout=60):
        return run([FWDAUTH, "logscan", *args], input=input, timeout=timeout)

    @classmethod
    def scan_json(cls, *args, input=None):
        r = cls.logscan("--format", "json", *args, input=input)
        if r.returncode != 0:
            raise AssertionError("logscan %s: exit %d: %s" % (args, r.returncode, r.stderr))
        return json.loads(r.stdout)


class LogScan(CorpusCase):
    def write(self, name, lines, mtime=None):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        return path

    def groups(self, report):
        out = {}
        for g in report["failures"]:
            self.assertNotIn(group_key(g), out, "group listed twice: %r" % (g,))
            out[group_key(g)] = g
        return out

    def ctx(self):
        return "\nmaillog:\n" + "\n".join(self.lines[-80:])

    def assert_groups(self, report, batches=("A", "B")):
        exp = self.corpus.expected_groups(batches)
        got = self.groups(report)
        self.assertEqual(sorted(got), sorted(exp), self.ctx())
        for key, e in exp.items():
            g = got[key]
            self.assertEqual((g["count"], g["forwarded"]), (e["count"], e["forwarded"]), key)
            self.assertIn(g["dsn"], e["dsns"], key)
            for piece in e["replies"]:
                self.assertIn(piece, g["reply"], key)
            self.assertTrue(g["label"], key)

    def assert_totals(self, report, batches=("A", "B")):
        exp = self.corpus.expected_totals(batches)
        got = {k: report["totals"][k] for k in exp}
        self.assertEqual(got, exp, self.ctx())
        self.assertEqual(report["totals"]["expired"], 0)

    # -- the report --------------------------------------------------------------
    def test_corpus_is_what_the_scenario_says(self):
        # The generated log holds every kind of line the brief asks for.
        text = "\n".join(self.lines)
        for piece in ("dsn=5.7.509, status=bounced", "550-5.7.26 ", "dsn=5.7.27, status=bounced",
                      "dsn=5.7.9, status=bounced", "dsn=5.1.1, status=bounced",
                      "dsn=4.7.1, status=deferred", "dsn=4.7.26, status=deferred",
                      "NOQUEUE: reject: RCPT", "Relay access denied", "milter-reject: END-OF",
                      "sender non-delivery notification:", "postfix/submission/smtpd[",
                      "status=sent (forwarded as ", "relay=virtual", " hold: header ",
                      " discard: header ", " reject: header ", "from=<SRS0=",
                      "orig_to=<SRS0="):
            self.assertIn(piece, text)
        self.assertLess(self.gen_seconds, 60)

    def test_json_totals(self):
        self.assert_totals(self.base)
        t = self.base["totals"]
        self.assertEqual((t["lines"], t["postfix_lines"]), (len(self.lines), len(self.lines)))

    def test_json_groups(self):
        self.assert_groups(self.base)

    def test_group_times(self):
        # A group starts before the cut iff it has failures in batch A, and
        # ends at or after it iff it has failures in batch B.
        cut = self.corpus.cut
        in_a = self.corpus.expected_groups(("A",))
        in_b = self.corpus.expected_groups(("B",))
        for key, g in self.groups(self.base).items():
            first, last = utc(g["first"]), utc(g["last"])
            self.assertLessEqual(first, last, key)
            self.assertEqual(first < cut, key in in_a, (key, g["first"], cut))
            self.assertEqual(last >= cut, key in in_b, (key, g["last"], cut))

    def test_real_sender_domain_behind_srs(self):
        # Every forwarded message left with an SRS0 sender of ours: no group
        # names srs.ourdomain.test or the foreign forwarder otherfwd.test.
        self.assertRegex("\n".join(self.lines),
                         r"from=<SRS0=[^=]+=[^=]+=example\.org=alice@srs\.ourdomain\.test>")
        senders = {g["sender_domain"] for g in self.base["failures"]}
        self.assertEqual(senders, {"example.org", "relaxed.test", "origin.test"})
        # With our secret (verified SRS), with the configuration (-c), and
        # with a wrong secret (structural reading): the same report.
        # (the CLI reads secrets owned by root or by its user: fwdauthd's is
        # nobody's, so root gets a copy)
        ours = os.path.join(self.dir, "srs-root.secret")
        fwdtest.write_secret(ours, maillogcorpus.SRS_SECRET)
        conf = os.path.join(self.dir, "fwdauthd-root.conf")
        with open(self.corpus.conf) as f, open(conf, "w") as g:
            g.write(f.read().replace(self.corpus.secret, ours))
        other = os.path.join(self.dir, "other.secret")
        fwdtest.write_secret(other, "not-the-secret")
        for args in (["--srs-secrets", ours], ["-c", conf], ["--srs-secrets", other],
                     ["-c", self.corpus.conf]):
            self.assertEqual(self.scan_json(*args, self.log), self.base, args)

    def test_domain_summaries(self):
        exp = self.corpus.expected_groups()
        by_rcpt, by_sender = {}, {}
        for (cat, _, sd, rd), e in exp.items():
            for table, dom in ((by_rcpt, rd), (by_sender, sd)):
                row = table.setdefault(dom, {})
                row[cat] = row.get(cat, 0) + e["count"]
        for name, table in (("recipient_domains", by_rcpt), ("sender_domains", by_sender)):
            got = {r["domain"]: r for r in self.base[name]}
            self.assertEqual(sorted(got), sorted(table), name)
            for dom, cats in table.items():
                self.assertEqual(got[dom]["categories"], cats, (name, dom))
                self.assertEqual(got[dom]["failures"], sum(cats.values()), (name, dom))
                auth = sum(n for c, n in cats.items() if c in ("dmarc", "spf", "dkim",
                                                               "alignment", "bulk"))
                self.assertEqual(got[dom]["auth_failures"], auth, (name, dom))
                self.assertTrue(got[dom]["advice"], (name, dom))

    def test_totals_equal_pflogsumm(self):
        pf = pflogsumm_totals(self.log)
        ours = self.base["totals"]
        self.assertEqual({k: pf.get(k) for k in PFLOGSUMM_KEYS + ("deferrals",)},
                         {k: ours[k] for k in PFLOGSUMM_KEYS + ("deferrals",)})
        # and both equal the scenario's count
        exp = self.corpus.expected_totals()
        self.assertEqual({k: pf.get(k) for k in PFLOGSUMM_KEYS},
                         {k: exp[k] for k in PFLOGSUMM_KEYS})

    def test_csv(self):
        r = self.logscan("--format", "csv", self.log)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.reader(io.StringIO(r.stdout)))
        self.assertEqual(rows[0], CSV_HEADER)
        got = {}
        for row in rows[1:]:
            self.assertEqual(len(row), len(CSV_HEADER), row)
            d = dict(zip(CSV_HEADER, row))
            got[group_key(d)] = d
        self.assertEqual(len(got), len(rows) - 1)
        js = self.groups(self.base)
        self.assertEqual(sorted(got), sorted(js))
        for key, d in got.items():
            j = js[key]
            self.assertEqual((int(d["count"]), int(d["forwarded"]), d["dsn"], d["reply"]),
                             (j["count"], j["forwarded"], j["dsn"], j["reply"]), key)
            self.assertEqual(d["dmarc_policy"], "", key)   # not looked up

    def test_table(self):
        r = self.logscan(self.log)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertRegex(out, r"(?m)^\s*%d\s+received\b" % self.base["totals"]["received"])
        self.assertRegex(out, r"(?m)^\s*%d\s+bounced\b" % self.base["totals"]["bounced"])
        for (cat, status, sd, rd), g in self.corpus.expected_groups().items():
            self.assertRegex(out, r"(?m)^\s*%d\s+%s\s+%s\s+%s\b.*\b%s\b" % (
                g["count"], cat, status, re.escape(sd), re.escape(rd)), (cat, sd, rd))

    def test_fail_on(self):
        n = self.corpus.expected_totals()["auth_failures"]
        self.assertEqual(self.base["totals"]["auth_failures"], n)
        r = self.logscan("--fail-on", str(n), self.log)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("received", r.stdout)     # the report is still printed
        r = self.logscan("--fail-on", str(n + 1), self.log)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.logscan("--fail-on", "1", os.path.join(self.dir, "no-such.log"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such.log", r.stderr)

    def test_lookup_policy(self):
        rep = self.scan_json("--lookup-policy", "--dns-zone", self.corpus.zonefile, self.log)
        senders = {s["domain"]: s for s in rep["sender_domains"]}
        self.assertEqual(senders["example.org"]["dmarc_policy"], "reject")
        self.assertEqual(senders["relaxed.test"]["dmarc_policy"], "none")
        self.assertEqual(senders["origin.test"]["dmarc_policy"], "none")
        advice = senders["example.org"]["advice"]
        self.assertIn("ARC", advice)
        self.assertRegex(advice, r"(?i)\bFrom rewrit")
        self.assertNotRegex(senders["relaxed.test"]["advice"], r"(?i)\bFrom rewrit")
        # The same with CSV: each group row carries its sender's policy.
        r = self.logscan("--format", "csv", "--lookup-policy", "--dns-zone",
                         self.corpus.zonefile, self.log)
        rows = [dict(zip(CSV_HEADER, row)) for row in list(csv.reader(io.StringIO(r.stdout)))[1:]]
        self.assertEqual({(d["sender_domain"], d["dmarc_policy"]) for d in rows},
                         {("example.org", "reject"), ("relaxed.test", "none"),
                          ("origin.test", "none")})
        # Without the lookup no policy is claimed.
        for s in self.base["sender_domains"]:
            self.assertIn(s.get("dmarc_policy"), (None, ""), s)

    def test_advice_settings_are_valid(self):
        # Every "setting = value" of ours that the advice recommends is
        # accepted by fwdauthd -t on the corpus's configuration.
        rep = self.scan_json("--lookup-policy", "--dns-zone", self.corpus.zonefile, self.log)
        with open(os.path.join(fwdtest.SOURCE, "doc", "fwdauthd.conf.5")) as f:
            known = set(re.findall(r"\b([a-z][a-z0-9_]+)\b", f.read()))
        with open(self.corpus.conf) as f:
            base = f.read()
        advice = " ".join(r["advice"] for r in rep["sender_domains"] + rep["recipient_domains"])
        settings = set(re.findall(r"\b([a-z][a-z0-9_]+) = ([\w.@-]+)", advice))
        self.assertTrue(settings, advice)
        for name, value in sorted(settings):
            if name not in known:
                continue   # a Postfix setting
            conf = os.path.join(self.dir, "advice-%s.conf" % name)
            with open(conf, "w") as f:
                f.write(base + "from_rewrite_address = forwarder@ourdomain.test\n"
                        "%s = %s\n" % (name, value))
            r = run([FWDAUTHD, "-t", "-c", conf])
            self.assertEqual(r.returncode, 0, "advice says %s = %s: %s" % (name, value,
                                                                        r.stderr))

    # -- inputs --------------------------------------------------------------------
    def test_gzip_split_and_stdin(self):
        mtime = os.stat(self.log).st_mtime
        gz = os.path.join(self.dir, "maillog.gz")
        with open(self.log, "rb") as src, gzip.open(gz, "wb") as dst:
            dst.write(src.read())
        os.utime(gz, (mtime, mtime))
        self.assertEqual(self.scan_json(gz), self.base)
        # recognised by its magic, not its name
        plain_name = os.path.join(self.dir, "maillog.1")
        shutil.copy2(gz, plain_name)
        self.assertEqual(self.scan_json(plain_name), self.base)
        # rotated in the middle of a message's life, given oldest first
        half = len(self.lines) // 2
        old = os.path.join(self.dir, "maillog.old.gz")
        with gzip.open(old, "wt") as f:
            f.write("".join(l + "\n" for l in self.lines[:half]))
        os.utime(old, (mtime, mtime))
        new = self.write("maillog.new", self.lines[half:], mtime)
        self.assertEqual(self.scan_json(old, new), self.base)
        # standard input: no FILE, and "-" (the year is the current one)
        with open(self.log, "rb") as f:
            data = f.read()
        if time.localtime().tm_year == self.year:
            for args in ((), ("-",)):
                r = run([FWDAUTH, "logscan", "--format", "json", *args], input=data,
                        capture_output=True, text=False, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), self.base, args)
            r = run([FWDAUTH, "logscan", "--format", "json"], input=gzip.compress(data),
                    capture_output=True, text=False, timeout=60)
            self.assertEqual(json.loads(r.stdout), self.base)

    def test_rfc3339_and_short_iso(self):
        other = ["%s mx opendkim[77]: 1A2B3C: no signature data" % self.lines[0][:15],
                 "%s mx fwdauthd[5]: milter: connection from 127.0.0.1" % self.lines[0][:15]]
        # two lines from other programs, in the middle
        mixed = self.lines[:3] + other + self.lines[3:]
        for name, conv in (("rfc3339", to_rfc3339), ("short-iso", to_short_iso)):
            path = self.write("maillog." + name, conv(mixed, self.year))
            # the year is in the stamp: the file's mtime must not matter
            os.utime(path, (0, 0))
            rep = self.scan_json(path)
            t = dict(rep["totals"])
            self.assertEqual((t.pop("lines"), t.pop("postfix_lines")),
                             (len(mixed), len(self.lines)), name)
            want = dict(self.base["totals"])
            del want["lines"], want["postfix_lines"]
            self.assertEqual(t, want, name)
            # same groups with the same first/last instants
            self.assertEqual(rep["failures"], self.base["failures"], name)
            self.assertEqual(rep["sender_domains"], self.base["sender_domains"], name)
            if name == "rfc3339":
                pf = pflogsumm_totals(path)
                self.assertEqual({k: pf.get(k) for k in PFLOGSUMM_KEYS},
                                 {k: self.base["totals"][k] for k in PFLOGSUMM_KEYS})

    def test_year_from_mtime_and_year_option(self):
        # Classic stamps have no year: the file's mtime gives it, and a month
        # after the mtime's month belongs to the year before.
        later = time.mktime((self.year + 5, 3, 15, 12, 0, 0, 0, 0, -1))
        path = self.write("maillog.year", self.lines, later)
        rep = self.scan_json(path)
        first = min(g["first"] for g in rep["failures"])
        want_month = time.strftime("-%m-", time.gmtime(utc(min(
            g["first"] for g in self.base["failures"]))))
        self.assertTrue(first.startswith(str(self.year + 4) + want_month), first)
        self.assertEqual(self.scan_json("--year", str(self.year), path), self.base)

    def test_since_until(self):
        cut = self.corpus.cut
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cut))
        for since in ("@%d" % cut, iso):
            rep = self.scan_json("--since", since, self.log)
            self.assert_totals(rep, ("B",))
            self.assert_groups(rep, ("B",))
        for until in ("@%d" % cut, iso):
            rep = self.scan_json("--until", until, self.log)
            self.assert_totals(rep, ("A",))
            self.assert_groups(rep, ("A",))
        # both at once: an empty window between the batches
        rep = self.scan_json("--since", "@%d" % cut, "--until", "@%d" % (cut + 1), self.log)
        self.assertEqual(rep["failures"], [])
        self.assertEqual(rep["totals"]["received"], 0)
        r = self.logscan("--since", "yesterday-ish", self.log)
        self.assertEqual(r.returncode, 2)

    # -- --follow ------------------------------------------------------------------
    def test_follow_across_rotation(self):
        cut = self.corpus.cut
        lines_a = [l for l in self.lines if classic_epoch(l, self.year)[0] < cut]
        lines_b = self.lines[len(lines_a):]
        self.assertTrue(lines_b)
        split = next(i for i, l in enumerate(lines_b) if "to=<bob@yahoo.test>" in l)
        part2, part3 = lines_b[:split], lines_b[split:]
        half3 = len(part3) // 2

        def failing(lines):
            return sum(1 for l in lines if "status=bounced" in l or "status=deferred" in l)

        live = self.write("live.log", lines_a)
        proc = subprocess.Popen([FWDAUTH, "logscan", "--follow", "--format", "json", live],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def stop():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(stop)
        out = queue.Queue()
        reader = threading.Thread(target=lambda: [out.put(l) for l in proc.stdout], daemon=True)
        reader.start()
        seen = []

        def wait_for(n, what, timeout=15):
            deadline = time.monotonic() + timeout
            while len(seen) < n:
                left = deadline - time.monotonic()
                if left <= 0 or proc.poll() is not None:
                    self.fail("%s: %d of %d failures printed: %r\nstderr: %s" % (
                        what, len(seen), n, seen, proc.stderr.read() if proc.poll() is not None
                        else ""))
                try:
                    seen.append(json.loads(out.get(timeout=min(left, 0.5))))
                except queue.Empty:
                    pass

        wait_for(failing(lines_a), "initial file")
        with open(live, "a") as f:
            f.write("".join(l + "\n" for l in part2))
        wait_for(failing(lines_a + part2), "after appending")
        before_rotation = len(seen)
        os.rename(live, live + ".1")
        time.sleep(0.5)
        self.write("live.log", part3[:half3])
        time.sleep(0.5)
        with open(live, "a") as f:
            f.write("".join(l + "\n" for l in part3[half3:]))
        wait_for(failing(self.lines), "after rotation")
        time.sleep(0.5)
        self.assertTrue(out.empty(), "more failures than the log has")

        # Each failure line names what the scenario says about its recipient.
        expected = {}
        for msg in self.corpus.messages:
            for f in msg.failures():
                expected[f["recipient"]] = (f["category"], f["status"], f["sender_domain"],
                                            maillogcorpus.domain_of(f["recipient"]))
        got = {}
        for f in seen:
            self.assertNotIn(f["recipient"], got, f)
            got[f["recipient"]] = (f["category"], f["status"], f["sender_domain"],
                                   f["recipient_domain"])
            self.assertTrue(f["queue_id"] and f["dsn"] and f["reply"], f)
        self.assertEqual(got, expected)
        after = {f["recipient"] for f in seen[before_rotation:]}
        srs_like = self.corpus.messages[[m.name for m in self.corpus.messages].index(
            "B5-foreign-srs")].sender
        self.assertEqual(after, {"bob@yahoo.test", "ghost@unknown.test", srs_like})
        # the refused notification names the sender of the message it reports on
        self.assertEqual(got[srs_like][2], "origin.test")

        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("logscan --follow did not stop on SIGTERM")
        reader.join(5)
        rest = []
        while not out.empty():
            rest.append(out.get())
        self.assertEqual(proc.returncode, 0, proc.stderr.read())
        self.assertEqual(len(rest), 1, rest)
        rep = json.loads(rest[0])
        self.assertEqual(rep, self.base)


class LongQueueIds(CorpusCase):
    """The same scenario with enable_long_queue_ids = yes (4jZxxC4XwWz1cXwf)."""

    corpus_settings = {"enable_long_queue_ids": "yes"}

    def test_totals_and_groups(self):
        self.assertRegex("\n".join(self.lines),
                         r"postfix/smtpd\[\d+\]: [0-9A-Za-z]{12,}: client=")
        exp = self.corpus.expected_totals()
        self.assertEqual({k: self.base["totals"][k] for k in exp}, exp)
        pf = pflogsumm_totals(self.log)
        self.assertEqual({k: pf.get(k) for k in PFLOGSUMM_KEYS},
                         {k: exp[k] for k in PFLOGSUMM_KEYS})
        got = {group_key(g): (g["count"], g["forwarded"], g["dsn"])
               for g in self.base["failures"]}
        want = {k: (e["count"], e["forwarded"], min(e["dsns"]))
                for k, e in self.corpus.expected_groups().items()}
        self.assertEqual(got, want)


class Fixture(unittest.TestCase):
    """tests/data/maillog/postfix-corpus.log (one run of maillogcorpus.py,
    kept for the unit tests and fuzz seeds) still reads as its
    postfix-corpus.expected.json says."""

    def test_fixture(self):
        data = os.path.join(fwdtest.SOURCE, "tests", "data", "maillog")
        log = os.path.join(data, "postfix-corpus.log")
        with open(os.path.join(data, "postfix-corpus.expected.json")) as f:
            exp = json.load(f)
        year = str(exp["year"])
        for window, args in (("", []), ("_until_cut", ["--until", "@%d" % exp["cut"]]),
                             ("_since_cut", ["--since", "@%d" % exp["cut"]])):
            r = run([FWDAUTH, "logscan", "--format", "json", "--year", year, *args, log])
            self.assertEqual(r.returncode, 0, r.stderr)
            rep = json.loads(r.stdout)
            want = exp["totals" + window]
            self.assertEqual({k: rep["totals"][k] for k in want}, want, window)
            got = {group_key(g): g for g in rep["failures"]}
            wantg = {group_key(g): g for g in exp["failures" + window]}
            self.assertEqual(sorted(got), sorted(wantg), window)
            for key, g in wantg.items():
                self.assertEqual((got[key]["count"], got[key]["forwarded"], got[key]["dsn"]),
                                 (g["count"], g["forwarded"], g["dsn"]), key)
                self.assertIn(g["reply"], got[key]["reply"], key)
            if not window:
                self.assertEqual(rep["totals"]["lines"], exp["lines"])
        fwdtest.require_programs(PFLOGSUMM)
        pf = pflogsumm_totals(log)
        self.assertEqual({k: pf.get(k) for k in PFLOGSUMM_KEYS},
                         {k: exp["totals"][k] for k in PFLOGSUMM_KEYS})


if __name__ == "__main__":
    unittest.main()
