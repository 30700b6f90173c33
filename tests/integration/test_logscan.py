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

The sections pflogsumm users expect (bytes, per-day and per-hour traffic,
senders and recipients by count and size, delivery and receipt by domain,
reject, hold, discard and reject-warning reasons, warnings, fatal errors and
panics) are compared with pflogsumm's own numbers on the same log, also
restamped over two days (and cut with --today and --yesterday). The HTML
report is rendered by headless Chromium (headless.py): no console error, no
request, the charts drawn from the numbers of the JSON report, and log text
that tries to inject markup shown as text.
"""
import csv
import datetime
import gzip
import io
import json
import os
import pty
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
import headless
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


def pflogsumm_sections(path, *args):
    """pflogsumm's report as {title: [lines]} (a "Title: none" section has no
    lines)."""
    r = run([PFLOGSUMM, *args, path])
    if r.returncode != 0:
        raise AssertionError("pflogsumm failed: %s" % r.stderr)
    lines = r.stdout.splitlines()
    out, title = {}, None
    for i, l in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if l.strip() and nxt and set(nxt) == {"-"} and len(nxt) == len(l):
            title = l.strip()
            out[title] = []
        elif re.match(r"^\S.*: none$", l):
            title = None
            out[l[:-len(": none")]] = []
        elif title is not None and not (l and set(l) == {"-"}):
            out[title].append(l)
    return out


def pf_number(value, unit):
    if unit:
        raise AssertionError("pflogsumm rounded a count (%s%s): the corpus is too big" %
                             (value, unit))
    return int(value)


def pf_grand_totals(sections):
    """{"received": 17, "bytes received": 6723, "recipient hosts/domains": 4, ...}"""
    out = {}
    for l in sections["Grand Totals"]:
        m = re.match(r"^\s*(\d+)([km]?)\s+([a-z][a-z /]*[a-z])", l)
        if m:
            out[m.group(3)] = pf_number(m.group(1), m.group(2))
    return out


def pf_per_hour(sections):
    """{hour: (received, delivered, deferred, bounced, rejected)} of the
    Per-Hour Traffic Summary or Daily Average."""
    rows = next(v for k, v in sections.items() if k.startswith("Per-Hour Traffic"))
    out = {}
    for l in rows:
        m = re.match(r"^\s*(\d\d):?00-\d\d:?00\s+" + r"(\d+)([km]?)\s+" * 5, l)
        if m:
            g = m.groups()
            out[int(g[0])] = tuple(pf_number(g[i], g[i + 1]) for i in range(1, 11, 2))
    return out


def pf_per_day(sections):
    """{"2026-11-25": (received, delivered, deferred, bounced, rejected)}"""
    out = {}
    for l in sections.get("Per-Day Traffic Summary", []):
        m = re.match(r"^\s*([A-Z][a-z]{2})\s+(\d+)\s+(\d{4})\s+" + r"(\d+)([km]?)\s+" * 5, l)
        if m:
            g = m.groups()
            date = "%s-%02d-%02d" % (g[2], MONTHS[g[0]], int(g[1]))
            out[date] = tuple(pf_number(g[i], g[i + 1]) for i in range(3, 13, 2))
    return out


def pf_counted(rows):
    """"   N   key" lines: {key: N}."""
    out = {}
    for l in rows:
        m = re.match(r"^\s*(\d+)([km]?)\s+(\S.*)$", l)
        if m:
            out[m.group(3)] = out.get(m.group(3), 0) + pf_number(m.group(1), m.group(2))
    return out


def pf_nested_totals(rows):
    """A nested detail section: {(parent, key): total} from its "key (total:
    N)" lines, parent being the last line indented by two."""
    out, parent = {}, None
    for l in rows:
        m = re.match(r"^( +)(\S.*?)(?: \(total: (\d+)\))?$", l)
        if not m:
            continue
        indent, key, total = len(m.group(1)), m.group(2), m.group(3)
        if indent == 2 and total is None:
            parent = key
        elif total is not None:
            out[(parent if indent > 2 else None, key)] = int(total)
    return out


def unsrs(addr):
    """The real address behind an SRS0/SRS1 address, read structurally (as
    logscan does without secrets); other addresses as they are."""
    m = re.match(r"(?i)^SRS[01][=+-](?:[^=]*=[^=]*==?)??[^=]*=[^=]*=([^=]+)=(.*)@[^@]+$", addr)
    return "%s@%s" % (m.group(2), m.group(1).lower()) if m else addr


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

    def compare_with_pflogsumm(self, path, rep, args=()):
        """Our report's pflogsumm-like numbers against pflogsumm's on path."""
        pf = pflogsumm_sections(path, *args)
        t = rep["totals"]
        top = rep["top"]
        g = pf_grand_totals(pf)
        self.assertEqual(
            {k: g[k] for k in ("received", "delivered", "forwarded", "bounced", "rejected",
                               "reject warnings", "held", "discarded", "bytes received",
                               "bytes delivered", "recipients", "recipient hosts/domains")},
            {"received": t["received"], "delivered": t["delivered"],
             "forwarded": t["forwarded"], "bounced": t["bounced"], "rejected": t["rejected"],
             "reject warnings": t["reject_warnings"], "held": t["held"],
             "discarded": t["discarded"], "bytes received": t["bytes_received"],
             "bytes delivered": t["bytes_delivered"], "recipients": t["distinct_recipients"],
             "recipient hosts/domains": t["distinct_recipient_domains"]})
        # Senders: pflogsumm keys the envelope sender as logged, we the real
        # sender behind an SRS address: map pflogsumm's, then they agree.
        for title, key, ours in (("Senders by message count", "messages",
                                  "senders_by_messages"),
                                 ("Senders by message size", "bytes", "senders_by_bytes")):
            want = {}
            for addr, n in pf_counted(pf[title]).items():
                want[unsrs(addr)] = want.get(unsrs(addr), 0) + n
            self.assertEqual({r["address"]: r[key] for r in top[ours]}, want, title)
        self.assertEqual(t["distinct_senders"],
                         len({unsrs(a) for a in pf_counted(pf["Senders by message count"])}))
        for title, key, ours in (("Recipients by message count", "messages",
                                  "recipients_by_messages"),
                                 ("Recipients by message size", "bytes", "recipients_by_bytes")):
            self.assertEqual({r["address"]: r[key] for r in top[ours]},
                             pf_counted(pf[title]), title)
        # Delivery by recipient domain: sent, bytes, deferrals.
        want = {}
        for l in next(v for k, v in pf.items() if k.startswith("Host/Domain Summary: Message "
                                                               "Delivery")):
            m = re.match(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+\S+ \w\s+\S+ \w\s+(\S+)$", l)
            if m:
                want[m.group(4)] = tuple(int(x) for x in m.group(1, 2, 3))
        self.assertEqual({r["domain"]: (r["messages"], r["bytes"], r["deferrals"])
                          for r in top["delivered_by_domain"]}, want)
        # Received by sender domain: the real senders' domains (pflogsumm
        # names the SRS domain), from pflogsumm's senders by size; the sums agree.
        counts, sizes = (pf_counted(pf["Senders by message count"]),
                         pf_counted(pf["Senders by message size"]))
        want = {}
        for addr in counts:
            dom = unsrs(addr).rsplit("@", 1)[1]
            c, b = want.get(dom, (0, 0))
            want[dom] = (c + counts[addr], b + sizes[addr])
        self.assertEqual({r["domain"]: (r["messages"], r["bytes"])
                          for r in top["received_by_domain"]}, want)
        received = pf_counted(next(v for k, v in pf.items()
                                   if k.startswith("Host/Domain Summary: Messages Received")))
        self.assertEqual(sum(r["messages"] for r in top["received_by_domain"]),
                         sum(received.values()))
        # Per hour: pflogsumm's "rejected" column holds rejects, holds,
        # discards and reject warnings; averaged over the days when there are
        # several, rounded as it rounds.
        days = rep["per_hour"]["days"]
        want = pf_per_hour(pf)
        got = {}
        for h in rep["per_hour"]["hours"]:
            vals = (h["received"], h["delivered"], h["deferrals"], h["bounced"],
                    h["rejected"] + h["held"] + h["discarded"] + h["reject_warnings"])
            got[h["hour"]] = tuple(int(v / days + 0.5) if days > 1 else v for v in vals)
        self.assertEqual(got, want)
        if days > 1:
            self.assertEqual({d["date"]: (d["received"], d["delivered"], d["deferrals"],
                                          d["bounced"], d["rejected"] + d["held"] +
                                          d["discarded"] + d["reject_warnings"])
                              for d in rep["per_day"]}, pf_per_day(pf))
        else:
            self.assertNotIn("Per-Day Traffic Summary", pf)
            self.assertEqual(len(rep["per_day"]), 1)
        # Rejects, holds, discards and reject warnings: smtpd's by stage and
        # reason, cleanup's by stage.
        for title, actions in (("message reject detail", ("reject", "milter-reject")),
                               ("message hold detail", ("hold",)),
                               ("message discard detail", ("discard",)),
                               ("message reject warning detail", ("reject_warning",))):
            want = {}
            for (parent, key), n in pf_nested_totals(pf.get(title, [])).items():
                k = ("cleanup", key) if parent == "cleanup" else (parent, key)
                want[k] = want.get(k, 0) + n
            got = {}
            for r in rep["rejects"]:
                if r["action"] not in actions:
                    continue
                if r["stage"] in ("header", "body", "END-OF-MESSAGE"):
                    k = ("cleanup", r["stage"])
                else:
                    k = (r["stage"], r["reason"])
                got[k] = got.get(k, 0) + r["count"]
            self.assertEqual(got, want, title)
        # Warnings, fatal errors, panics: per daemon, the same counts and texts
        # (pflogsumm cuts a text at 63 characters and adds "...").
        for title, level in (("Warnings", "warning"), ("Fatal Errors", "fatal"),
                             ("Panics", "panic")):
            want, daemon = {}, None
            for l in pf.get(title, []):
                m = re.match(r"^  (\S+) \(total: \d+\)$", l)
                if m:
                    daemon = m.group(1)
                    continue
                m = re.match(r"^\s+(\d+)\s+(.*)$", l)
                if m:
                    text = m.group(2)
                    text = text[:-3] if text.endswith("...") else text
                    want[(daemon, text)] = want.get((daemon, text), 0) + int(m.group(1))
            got = {}
            for r in rep["problems"]:
                if r["level"] != level:
                    continue
                cut = next((t for d, t in want if d == r["daemon"] and r["text"].startswith(t)),
                           r["text"])
                got[(r["daemon"], cut)] = got.get((r["daemon"], cut), 0) + r["count"]
            self.assertEqual(got, want, title)
        return pf


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

    # -- the sections pflogsumm users expect -----------------------------------------
    def test_pflogsumm_sections(self):
        rep = self.scan_json("--top", "0", self.log)
        self.compare_with_pflogsumm(self.log, rep)
        # what the scenario provoked is there, and nothing was dropped
        t = rep["totals"]
        probs = {}
        for r in rep["problems"]:
            probs[(r["level"], r["daemon"])] = probs.get((r["level"], r["daemon"]), 0) + r["count"]
        for key, n in self.corpus.expected_problems().items():
            self.assertGreaterEqual(probs.get(key, 0), n, key)
        for level, daemon, piece in maillogcorpus.PROBLEMS:
            self.assertTrue(any(r["level"] == level and r["daemon"] == daemon and
                                piece in r["text"] for r in rep["problems"]), piece)
        self.assertGreaterEqual(t["warnings"], 1)
        self.assertEqual((t["fatals"], t["panics"]), (1, 1))
        self.assertEqual(t["reject_warnings"], 1)
        self.assertFalse(rep["limits"]["days_truncated"] or rep["limits"]["hours_truncated"])
        self.assertEqual(set(rep["limits"]["evicted"].values()), {0})
        self.assertGreater(t["bytes_received"], 0)
        self.assertGreater(t["bytes_delivered"], t["bytes_received"])  # bounces, fan-out
        # the failures per day and hour add up to the groups
        for series in (rep["per_day"], rep["per_hour"]["hours"]):
            got = {}
            for p in series:
                for c, n in p["failures"].items():
                    got[c] = got.get(c, 0) + n
            want = {}
            for grp in rep["failures"]:
                want[grp["category"]] = want.get(grp["category"], 0) + grp["count"]
            self.assertEqual(got, want)
        # --top N: the first N rows of each list
        small = self.scan_json("--top", "2", self.log)
        for name, rows in rep["top"].items():
            self.assertEqual(small["top"][name], rows[:2], name)
        self.assertEqual(small["rejects"], rep["rejects"][:2])
        r = self.logscan("--top", "many", self.log)
        self.assertEqual(r.returncode, 2)

    def restamped(self, name, day_a, day_b):
        """The corpus with batch A on local day day_a and batch B on day_b (days
        from today), at 10:00 and 12:00, as RFC 3339 with the local offset."""
        cut = self.corpus.cut
        times = [classic_epoch(l, self.year) for l in self.lines]
        a0 = min(t for t, _ in times if t < cut)
        b0 = min(t for t, _ in times if t >= cut)
        today = datetime.date.today()
        out = []
        for t, rest in times:
            day, hour, base = (day_a, 10, a0) if t < cut else (day_b, 12, b0)
            d = today + datetime.timedelta(days=day)
            start = time.mktime((d.year, d.month, d.day, hour, 0, 0, 0, 0, -1))
            stamp = datetime.datetime.fromtimestamp(start + t - base).astimezone()
            out.append("%s %s" % (stamp.isoformat(timespec="seconds"), rest))
        return self.write(name, out)

    def test_two_days_today_yesterday(self):
        path = self.restamped("maillog.two-days", -1, 0)
        rep = self.scan_json("--top", "0", path)
        self.assertEqual([d["date"] for d in rep["per_day"]],
                         [str(datetime.date.today() - datetime.timedelta(days=1)),
                          str(datetime.date.today())])
        self.assertEqual(rep["per_hour"]["days"], 2)
        pf = self.compare_with_pflogsumm(path, rep)
        self.assertIn("Per-Day Traffic Summary", pf)
        # --yesterday is batch A, --today batch B; and each is its --since/--until
        for opt, batch, day in (("--yesterday", "A", -1), ("--today", "B", 0)):
            got = self.scan_json(opt, path)
            self.assert_totals(got, (batch,))
            self.assert_groups(got, (batch,))
            d0 = datetime.date.today() + datetime.timedelta(days=day)
            d1 = d0 + datetime.timedelta(days=1)
            self.assertEqual(self.scan_json("--since", str(d0), "--until", str(d1), path), got)
        r = self.logscan("--today", "--since", "@0", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--today", r.stderr)

    # -- HTML ----------------------------------------------------------------------
    PAGE_FACTS = {
        "title": "document.title",
        "scripts": "document.querySelectorAll('script,iframe,object,embed,img,form,"
                   "a[href],link[rel=stylesheet],base').length",
        "svgs": "document.querySelectorAll('svg').length",
        "charts": "Array.from(document.querySelectorAll('svg.chart')).map(s => "
                  "{const r = s.getBoundingClientRect(); return [s.id, r.width, r.height]})",
        "time_bars": "Array.from(document.querySelectorAll('#chart-failures-time rect.bar'))"
                     ".map(r => [r.classList[1], r.querySelector('title').textContent, "
                     "r.getBBox().height])",
        "receivers": "Array.from(document.querySelectorAll('#chart-receivers text.label'))"
                     ".map(t => t.firstChild.nodeValue)",
        "senders": "Array.from(document.querySelectorAll('#chart-senders text.label'))"
                   ".map(t => t.firstChild.nodeValue)",
        "receiver_bars": "document.querySelectorAll('#chart-receivers rect.bar').length",
        "lines": "document.querySelectorAll('#chart-traffic-time polyline.line').length",
        "groups": "document.querySelectorAll('#groups-table tbody tr').length",
        "days": "document.querySelectorAll('#per-day tbody tr').length",
        "hours": "document.querySelectorAll('#per-hour tbody tr').length",
        "rejects": "document.querySelectorAll('#rejects-table tbody tr').length",
        "problems": "document.querySelectorAll('#problems-table tbody tr').length",
        "advice": "Array.from(document.querySelectorAll('#advice li')).map(l => l.textContent)",
        "text": "document.body.textContent",
    }

    def render(self, html_path):
        fwdtest.require_programs(headless.CHROMIUM)
        with headless.Browser() as b:
            page = b.render(html_path, width=1200, expressions=self.PAGE_FACTS)
        self.assertEqual(page.errors, [], "console errors")
        self.assertEqual(page.requests, ["file://" + os.path.abspath(html_path)],
                         "the page fetched something")
        width, height = headless.png_size(page.screenshot)
        self.assertEqual((width, height), page.size)
        self.assertGreater(width, 900)
        self.assertGreater(height, 2000)
        shots = os.environ.get("FWDAUTH_SCREENSHOTS")
        if shots:   # keep it to look at
            os.makedirs(shots, exist_ok=True)
            with open(os.path.join(shots, os.path.basename(html_path) + ".png"), "wb") as f:
                f.write(page.screenshot)
        return page.values

    def test_html_report(self):
        out = os.path.join(self.dir, "report.html")
        r = self.logscan("--format", "html", "-o", out, "--lookup-policy", "--dns-zone",
                         self.corpus.zonefile, self.log)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        with open(out, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"<!DOCTYPE html>"))
        for needle in (b"<script", b"http://", b"https://", b"src=", b"@import", b"url("):
            self.assertNotIn(needle, data.replace(b"http://www.w3.org/2000/svg", b""))
        rep = self.scan_json("--lookup-policy", "--dns-zone", self.corpus.zonefile, self.log)
        v = self.render(out)
        self.assertEqual(v["scripts"], 0)
        self.assertEqual(sorted(c[0] for c in v["charts"]),
                         ["chart-failures-time", "chart-receivers", "chart-senders",
                          "chart-traffic-time"])
        for chart_id, w, h in v["charts"]:
            self.assertGreater(w, 800, chart_id)
            self.assertGreater(h, 100, chart_id)
        # Failures over time: the bars' counts per category are the groups'.
        by_cat = {}
        for cls, title, h in v["time_bars"]:
            m = re.match(r"^.*: (\d+) (\w+)$", title)
            self.assertEqual("cat-" + m.group(2), cls)
            self.assertGreater(h, 0)
            by_cat[m.group(2)] = by_cat.get(m.group(2), 0) + int(m.group(1))
        want = {}
        for g in rep["failures"]:
            want[g["category"]] = want.get(g["category"], 0) + g["count"]
        self.assertEqual(by_cat, want)
        # By domain: one labelled row per domain, worst first, as in the JSON.
        self.assertEqual(v["receivers"], [d["domain"] for d in rep["recipient_domains"]][:15])
        self.assertEqual(v["senders"], [d["domain"] for d in rep["sender_domains"]][:15])
        self.assertEqual(v["receiver_bars"], sum(len(d["categories"])
                                                 for d in rep["recipient_domains"][:15]))
        self.assertEqual(v["lines"], 5)
        self.assertEqual(v["groups"], len(rep["failures"]))
        self.assertEqual((v["days"], v["hours"]), (len(rep["per_day"]), 24))
        self.assertEqual(v["rejects"], len(rep["rejects"]))
        self.assertEqual(v["problems"], len(rep["problems"]))
        # the advice, with the looked-up policy
        adv = " ".join(v["advice"])
        for d in rep["sender_domains"]:
            self.assertIn(d["advice"], adv)
        self.assertIn("p=reject", adv)
        for piece in ("Postfix forwarding report", self.log, "5.7.509",
                      "does not pass DMARC verification"):
            self.assertIn(piece, v["text"])

    def test_html_escapes_log_text(self):
        # Log lines whose addresses, replies, reasons and warnings carry markup,
        # read from a file whose name does too: shown as text, never parsed.
        bad = ['<script>console.error("injected")</script>',
               '<img src=x onerror="console.error(1)">',
               '"><svg onload="console.error(2)"><b>bold</b>',
               "&amp; &#60;script&#62; \x01\x7f \xff\xfe"]
        stamp = self.lines[-1][:15]
        lines = list(self.lines)
        for i, text in enumerate(bad):
            # domains are checked (addr_split), local parts are whatever was logged
            q = "ABCDE%d" % (i + 1)
            dom = "evil%d.test" % i
            lines += [
                "%s mx postfix/smtpd[9]: %sF: client=x[192.0.2.1]" % (stamp, q),
                "%s mx postfix/qmgr[9]: %sF: from=<<svg/onload=console.error(3)>s%d@%s>, "
                "size=9, nrcpt=2 (queue active)" % (stamp, q, i, dom),
                "%s mx postfix/smtp[9]: %sF: to=<u@%s>, relay=r[192.0.2.2]:25, delay=1, "
                "dsn=5.7.26, status=bounced (host r said: 550 5.7.26 %s DMARC)"
                % (stamp, q, dom, text),
                "%s mx postfix/smtp[9]: %sF: to=<<b>r%d</b>@%s>, relay=r[192.0.2.2]:25, "
                "delay=1, dsn=2.0.0, status=sent (250 ok %s)" % (stamp, q, i, dom, text),
                "%s mx postfix/qmgr[9]: %sF: removed" % (stamp, q),
                "%s mx postfix/smtpd[9]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 "
                "<u@%s>: %s; from=<a@b.test> to=<u@%s> proto=ESMTP helo=<%s>"
                % (stamp, dom, text, dom, text),
                "%s mx postfix/smtpd[9]: warning: %s" % (stamp, text),
            ]
        path = os.path.join(self.dir, 'maillog<b onmouseover="x">.log')
        with open(path, "wb") as f:
            f.write("".join(l + "\n" for l in lines).encode("utf-8", "surrogateescape")
                    .replace("\xff\xfe".encode(), b"\xff\xfe"))
        os.utime(path, (os.stat(self.log).st_mtime,) * 2)
        out = os.path.join(self.dir, "escaped.html")
        r = self.logscan("--format", "html", "--top", "0", "-o", out, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            data = f.read()
        for raw in (b"<script", b"<img", b"<svg onload", b"<svg/onload", b"<b>",
                    b"<b onmouseover", b"\x01", b"\x7f", b"\xff"):
            self.assertNotIn(raw, data)
        data.decode("utf-8")   # valid UTF-8 throughout
        v = self.render(out)
        self.assertEqual(v["scripts"], 0)
        self.assertEqual(v["svgs"], 4)                 # the four charts, nothing injected
        self.assertTrue(v["title"].startswith("Postfix forwarding report"), v["title"])
        text = v["text"]
        for piece in ('<script>console.error("injected")</script>',
                      '<img src=x onerror="console.error(1)">', "<b>bold</b>",
                      "<svg/onload=console.error(3)>s1@evil1.test", "<b>r2</b>@evil2.test",
                      "&amp; &#60;script&#62;", 'maillog<b onmouseover="x">.log'):
            self.assertIn(piece, text)
        self.assertIn("\ufffd", text)     # the control characters and the stray bytes
        self.assertIn("evil0.test", v["receivers"])

    # -- warnings, progress, output ----------------------------------------------------
    def test_warns_when_no_postfix_lines(self):
        other = self.write("syslog", ["%s mx CRON[1]: (root) CMD (true)" % self.lines[0][:15],
                                      "%s mx kernel: eth0: link up" % self.lines[0][:15]])
        r = self.logscan("--format", "json", other)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"warning: .*syslog: no Postfix line in its 2 lines")
        self.assertIn("postfix@-", r.stderr)
        # what `journalctl -u postfix` prints on Debian 12, through a pipe
        r = self.logscan(input="-- No entries --\n")
        self.assertIn("standard input: no Postfix line in its 1 line", r.stderr)
        empty = self.write("empty.log", [])
        r = self.logscan(empty)
        self.assertIn("no Postfix lines read (the input is empty)", r.stderr)
        # a file of others' lines beside a real log is named; a rotated-away
        # empty one is not
        r = self.logscan(empty, other, self.log)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIn("syslog", r.stderr)
        r = self.logscan(empty, self.log)
        self.assertEqual(r.stderr, "")

    def run_on_pty(self, args, chunks, pause):
        """logscan with standard error on a terminal and standard input a pipe
        fed one chunk every pause seconds; (exit status, stdout, what the
        terminal showed)."""
        master, slave = pty.openpty()
        proc = subprocess.Popen([FWDAUTH, "logscan", *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        shown = []
        reader = threading.Thread(target=self.read_pty, args=(master, shown), daemon=True)
        reader.start()
        try:
            for c in chunks:
                proc.stdin.write(c)
                proc.stdin.flush()
                time.sleep(pause)
            proc.stdin.close()
            out = proc.stdout.read()
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        reader.join(10)
        os.close(master)
        return proc.returncode, out, b"".join(shown).decode("utf-8", "replace")

    @staticmethod
    def read_pty(fd, into):
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            into.append(data)

    def test_progress_on_a_terminal_only(self):
        # about 12 MB over four seconds: more than the two seconds after which
        # the progress line shows (each read waits for a 1 MB chunk)
        with open(self.log, "rb") as f:
            data = f.read()
        chunk = data * (1200000 // len(data) + 1)
        rc, out, tty = self.run_on_pty(["--format", "json"], [chunk] * 10, 0.4)
        self.assertEqual(rc, 0, tty)
        self.assertRegex(tty, r"\rfwdauth logscan: standard input: [\d.]+ [kMG]?B, \d+ lines")
        self.assertTrue(tty.endswith("\r\x1b[K"), repr(tty[-80:]))    # erased at the end
        rep = json.loads(out)
        self.assertEqual(rep["totals"]["lines"], len(chunk.splitlines()) * 10)
        # not a terminal: nothing but the report
        p = subprocess.Popen([FWDAUTH, "logscan", "--format", "json"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(10):
                p.stdin.write(chunk)
                p.stdin.flush()
                time.sleep(0.4)
            p.stdin.close()
            out2, err = p.stdout.read(), p.stderr.read()
            p.wait(60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.assertEqual(err, b"")
        self.assertEqual(json.loads(out2)["totals"], rep["totals"])

    def test_output_file(self):
        out = os.path.join(self.dir, "report.json")
        with open(out, "w") as f:
            f.write("an older report\n")
        r = self.logscan("--format", "json", "-o", out, self.log)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
        with open(out) as f:
            self.assertEqual(json.load(f), self.base)
        self.assertEqual(sorted(os.listdir(self.dir)).count("report.json"), 1)
        self.assertFalse([n for n in os.listdir(self.dir) if ".tmp" in n])
        r = self.logscan("-o", os.path.join(self.dir, "no-such-dir", "r.txt"), self.log)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-dir", r.stderr)
        r = self.logscan("--follow", "--format", "html", self.log)
        self.assertEqual(r.returncode, 2)

    def test_advice_builds_on_the_configuration(self):
        # -c with ARC sealing and the From rewrite on: the advice does not ask
        # for them again, it says they are on and why mail still failed.
        keys = os.path.join(self.dir, "arc-keys")
        os.mkdir(keys)
        r = run([FWDAUTH, "dkim", "keygen", "-d", "ourdomain.test", "-s", "arc", "-o", keys])
        self.assertEqual(r.returncode, 0, r.stderr)
        ours = os.path.join(self.dir, "srs-advice.secret")
        fwdtest.write_secret(ours, maillogcorpus.SRS_SECRET)
        with open(self.corpus.conf) as f:
            base = f.read().replace(self.corpus.secret, ours)
        conf = os.path.join(self.dir, "fwdauthd-advice.conf")
        with open(conf, "w") as f:
            f.write(base + "arc_domain = ourdomain.test\narc_selector = arc\n"
                    "arc_key = %s\nfrom_rewrite = reject\n"
                    "from_rewrite_address = forwarder@ourdomain.test\n"
                    % os.path.join(keys, "arc.private"))
        r = run([FWDAUTHD, "-t", "-c", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        zone = ["--lookup-policy", "--dns-zone", self.corpus.zonefile]
        plain = self.scan_json(*zone, self.log)
        told = self.scan_json("-c", conf, *zone, self.log)
        before = {d["domain"]: d["advice"] for d in plain["sender_domains"]}
        after = {d["domain"]: d["advice"] for d in told["sender_domains"]}
        self.assertIn("enable ARC sealing", before["example.org"])
        self.assertIn("enable From rewrite", before["example.org"])
        for dom, advice in after.items():
            self.assertNotIn("enable ARC", advice, dom)
            self.assertNotIn("enable From rewrite", advice, dom)
        self.assertIn("ARC sealing is on", after["example.org"])
        self.assertIn("From rewrite is on (from_rewrite = reject)", after["example.org"])
        self.assertIn("forward_recipients", after["example.org"])
        rcpt = {d["domain"]: d["advice"] for d in told["recipient_domains"]}
        self.assertIn("this receiver does not trust our seal", rcpt["outlook.test"])
        self.assertNotIn("sure fix", rcpt["outlook.test"])
        # the rest of the report is the same
        for k in ("totals", "failures", "top", "per_day", "rejects", "problems"):
            self.assertEqual(told[k], plain[k], k)
        # and so are CSV rows' advice
        r = self.logscan("--format", "csv", "-c", conf, *zone, self.log)
        rows = [dict(zip(CSV_HEADER, row)) for row in list(csv.reader(io.StringIO(r.stdout)))[1:]]
        self.assertTrue(rows)
        for row in rows:
            self.assertNotIn("enable ARC", row["advice"])

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
        # printed after the rotation: the failures logged after it (B5's and
        # the notification it caused; B6's too when Postfix logged it later)
        self.assertEqual(after, {re.search(r"to=<([^>]*)>", l).group(1) for l in part3
                                 if "status=bounced" in l or "status=deferred" in l})
        self.assertTrue({"bob@yahoo.test", srs_like} <= after, after)
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
        # and pflogsumm's sections, with long queue IDs
        self.compare_with_pflogsumm(self.log, self.scan_json("--top", "0", self.log))


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
