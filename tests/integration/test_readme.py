"""Every configuration block of README.md and etc/ loads exactly as printed.

Which README blocks are configuration (the rule). A block the rule cannot
place fails the test, so that a new block cannot slip through unchecked:

  1. A fenced block (``` lines) with an info string is code in that language.
     Known: "sh" (commands to type, not configuration) and "yaml"
     (Prometheus' scrape configuration: must parse with PyYAML). Any other
     info string fails the test.
  2. In a fenced block without one, every line that is not blank, not a "#"
     comment and not a continuation (leading white space) is looked at:
       - "name = value" or "name =" whose name is a Postfix parameter
         (`postconf -d`) or a fwdauthd key (`fwdauthd -a`) is a setting;
       - "name = ..." (white space before "=") with any other name cannot be
         placed: the test fails (a misspelt key, or a new kind of block);
       - "service type private unpriv chroot wakeup maxproc command", type
         one of inet, unix, unix-dgram, fifo, pass, is a master.cf service.
     Settings whose names are all Postfix parameters make a main.cf block;
     all fwdauthd keys, a fwdauthd.conf block; service lines without
     settings, a master.cf block. Settings of both kinds, or settings and
     services, fail the test. A block with neither is text (command output
     such as "cv=pass", the source layout).

fwdauthd.conf blocks go through `fwdauthd -t -c FILE`. fwdauthd always
needs srs_domain: a block without it is a fragment ("add these lines") and
is loaded after the README's first fwdauthd.conf block that sets it (the
minimal file), as a reader combines them. Every file a block names
(srs_secrets, dkim_key_table, the signing table, the key files the test's
KeyTable names, arc_key, dns_zone_file, chroot, the folder of a unix:
socket) is provided AT THE PRINTED PATH without touching the real /etc or
/var: fwdauthd -t runs in private mount and network namespaces (`unshare
-mn`, as root), where overlays put the test's files over /etc and /var and
every listen address is free to test-bind. Keys come from `fwdauth dkim
keygen`. A value that names a path the test does not know how to provide
fails the test.

main.cf blocks go into a throwaway Postfix configuration (postfixtest.py's
settings without those the block sets, then the block verbatim) and must
pass each of:
  - `postconf -c DIR -n` without a warning (a misspelt parameter is an
    "unused parameter");
  - `postfix -c DIR check` without a warning or fatal error: it stops on a
    bad boolean such as "disable_mime_output_conversion = yes   # ...";
  - no value holding a "#" after white space: main.cf has no comments after
    a value, and for most parameters Postfix takes the "#" as part of the
    value without a word at `postfix check` (milter_default_action =
    "tempfail   # ..." is only logged as "unrecognized default action" when a
    client connects, and then every message is answered 451);
  - a start of that Postfix, an SMTP greeting and EHLO, and no "warning:",
    "fatal:" or "panic:" in its log but an unreachable milter (nothing runs
    at the printed milter address).
master.cf blocks are added to the throwaway master.cf and must pass
`postconf -M`, `postconf -P` and `postfix check` without a warning, and the
same "#" check.

etc/fwdauthd.conf and etc/postfix-main.cf.snippet (installed as examples)
are loaded as printed, with a working milter block (active as printed), and
with each commented-out setting uncommented on its own (in main.cf, in place
of the active line of the same name: Postfix wants every name once).

Synthetic bad blocks show that each check can fail: a trailing comment in a
fwdauthd.conf value, a bad boolean and a trailing comment after
milter_default_action in main.cf.

The file also tests fwdtest.require(), the gate every test uses for a
missing oracle (skip outside CI, fail under CI=true).
"""
import os
import re
import smtplib
import tempfile
import time
import unittest

import yaml

import fwdtest
import postfixtest
from fwdtest import FWDAUTH, FWDAUTHD, run

README = os.path.join(fwdtest.SOURCE, "README.md")
ETC_CONF = os.path.join(fwdtest.SOURCE, "etc", "fwdauthd.conf")
ETC_SNIPPET = os.path.join(fwdtest.SOURCE, "etc", "postfix-main.cf.snippet")
UNSHARE = "/usr/bin/unshare"
IP = "/usr/sbin/ip"

CODE_LANGUAGES = ("sh", "yaml")
SETTING = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\s*)=(\s|$)")
MASTER_SERVICE = re.compile(r"^\S+\s+(inet|unix|unix-dgram|fifo|pass)\s+[-yn]\s+[-yn]\s+[-yn]"
                            r"\s+\S+\s+\S+\s+\S+")
COMMENTED_SETTING = re.compile(r"^#([a-z_][a-z0-9_]*) =( |$)")
VALUE_COMMENT = re.compile(r"(^|\s)#")


class Unclassifiable(Exception):
    pass


class Block:
    """One fenced block: info string, text, line of its first content line."""

    def __init__(self, info, text, line):
        self.info, self.text, self.line = info, text, line
        self.kind = None

    def __repr__(self):
        return "<README.md:%d %s>" % (self.line, self.kind or self.info or "block")


def fenced_blocks(path=README):
    blocks, cur = [], None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("```"):
                if cur is None:
                    cur = Block(line[3:].strip(), [], n + 1)
                else:
                    cur.text = "".join(cur.text)
                    blocks.append(cur)
                    cur = None
            elif cur is not None:
                cur.text.append(line)
    if cur is not None:
        raise Unclassifiable("%s:%d: fenced block never closed" % (path, cur.line - 1))
    return blocks


_names = {}


def postfix_parameters():
    if "postfix" not in _names:
        r = run([postfixtest.POSTCONF, "-d"])
        if r.returncode != 0:
            raise RuntimeError("postconf -d: %s" % r.stderr)
        # "name = value", or "name =" when the default is empty
        _names["postfix"] = {l.split(" =", 1)[0] for l in r.stdout.splitlines() if " =" in l}
    return _names["postfix"]


def fwdauthd_keys():
    """Every key fwdauthd knows: the names `fwdauthd -a` prints for an empty
    configuration (every setting with its default)."""
    if "fwdauthd" not in _names:
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as empty:
            r = run([FWDAUTHD, "-a", "-c", empty.name])
        keys = {l.split(" =", 1)[0] for l in r.stdout.splitlines()
                if l[:1].isalpha() and " =" in l}
        if r.returncode != 0 or "srs_domain" not in keys:
            raise RuntimeError("fwdauthd -a: exit %d: %s%s" % (r.returncode, r.stdout, r.stderr))
        _names["fwdauthd"] = keys
    return _names["fwdauthd"]


def classify(block):
    """Set and return block.kind by the rule of this file's docstring."""
    if block.info:
        if block.info not in CODE_LANGUAGES:
            raise Unclassifiable("%r: unknown info string %r" % (block, block.info))
        block.kind = block.info
        return block.kind
    pf, fa = postfix_parameters(), fwdauthd_keys()
    kinds, services = set(), 0
    for n, line in enumerate(block.text.splitlines()):
        if not line.strip() or line.lstrip().startswith("#") or line[0] in " \t":
            continue
        m = SETTING.match(line)
        if m:
            name = m.group(1)
            if name in pf and name in fa:
                raise Unclassifiable("%r: %s is both a Postfix parameter and a fwdauthd key" %
                                     (block, name))
            if name in pf:
                kinds.add("main.cf")
                continue
            if name in fa:
                kinds.add("fwdauthd.conf")
                continue
            if m.group(2):
                raise Unclassifiable("README.md:%d: %r is neither a Postfix parameter nor a "
                                     "fwdauthd key" % (block.line + n, name))
        if MASTER_SERVICE.match(line):
            services += 1
    if len(kinds) > 1 or (kinds and services):
        raise Unclassifiable("%r mixes %s%s" % (block, " and ".join(sorted(kinds)),
                                                " and master.cf services" if services else ""))
    block.kind = kinds.pop() if kinds else ("master.cf" if services else "text")
    return block.kind


def readme_blocks(kind=None):
    """The README's fenced blocks, classified; only those of `kind` if given."""
    blocks = fenced_blocks()
    for b in blocks:
        classify(b)
    return [b for b in blocks if kind is None or b.kind == kind]


def readme_block(kind, containing):
    """The one README block of `kind` whose text contains `containing`."""
    found = [b for b in readme_blocks(kind) if containing in b.text]
    if len(found) != 1:
        raise AssertionError("%d README %s blocks contain %r: %r" % (len(found), kind,
                                                                     containing, found))
    return found[0]


def settings_of(text):
    """{name: value} of main.cf/fwdauthd.conf text (later lines win)."""
    return {name: value for name, value, _ in postfixtest.parse_main_cf(text)}


def uncomment_variants(text, main_cf):
    """(label, text) pairs: the milter section's commented settings
    uncommented together, and each other commented setting on its own. With
    main_cf, an active line of the same name is commented out (Postfix wants
    each name once; fwdauthd lets a later line win)."""
    lines = text.split("\n")
    milter, others, section = [], [], None
    for i, line in enumerate(lines):
        if line.startswith("# ---"):
            section = "milter" if line.startswith("# --- Milter") else "other"
        m = COMMENTED_SETTING.match(line)
        if m:
            (milter if section == "milter" else others).append(i)

    def variant(indexes):
        out = list(lines)
        names = set()
        for i in indexes:
            out[i] = lines[i][1:]
            names.add(COMMENTED_SETTING.match(lines[i]).group(1))
        if main_cf:
            for j, line in enumerate(lines):
                m = SETTING.match(line)
                if m and m.group(1) in names and j not in indexes:
                    out[j] = "#" + line
        return "\n".join(out)

    out = []
    if milter:
        out.append(("milter block uncommented", variant(milter)))
    for i in others:
        out.append(("line %d uncommented" % (i + 1), variant([i])))
    return out, len(milter)


# ---- fwdauthd -t at the printed paths -----------------------------------------

class PrintedPaths:
    """Runs `fwdauthd -t -c FILE` with every file the configuration names
    present at its printed path, in private mount and network namespaces."""

    ROOTS = ("/etc", "/var")

    def __init__(self, test, base):
        self.test = test
        self.base = base
        self.keys = {}
        self.count = 0

    def key(self, domain, selector):
        """A private key made by fwdauth dkim keygen (once per pair)."""
        if (domain, selector) not in self.keys:
            d = os.path.join(self.base, "keys-%d" % len(self.keys))
            os.mkdir(d, 0o700)
            r = run([FWDAUTH, "dkim", "keygen", "-d", domain, "-s", selector, "-o", d])
            self.test.assertEqual(r.returncode, 0, r.stderr)
            self.keys[(domain, selector)] = os.path.join(d, selector + ".private")
        return self.keys[(domain, selector)]

    def check(self, text, provide=True):
        """(exit status, output) of fwdauthd -t on text (without the files it
        names when provide is false)."""
        self.count += 1
        case = os.path.join(self.base, "case-%d" % self.count)
        os.mkdir(case, 0o755)
        conf = os.path.join(case, "fwdauthd.conf")
        with open(conf, "w") as f:
            f.write(text)
        if provide:
            self.provide(case, settings_of(text))
        script = ["set -e", "%s link set lo up" % IP]
        for root in self.ROOTS:
            name = root.strip("/")
            for sub in ("upper", "work"):
                os.makedirs(os.path.join(case, sub, name), exist_ok=True)
            script.append("mount -t overlay fwdauth-test -o lowerdir=%s,upperdir=%s,workdir=%s %s" %
                          (root, os.path.join(case, "upper", name),
                           os.path.join(case, "work", name), root))
        script.append("exec %s -t -c %s" % (FWDAUTHD, conf))
        r = run([UNSHARE, "--mount", "--net", "--fork", "--", "sh", "-c", "\n".join(script)])
        return r.returncode, r.stdout + r.stderr

    def path(self, case, printed):
        """Where to write a file that fwdauthd must find at `printed`."""
        self.test.assertTrue(os.path.isabs(printed), printed)
        norm = os.path.normpath(printed)
        for root in self.ROOTS:
            if norm.startswith(root + "/"):
                p = os.path.join(case, "upper", root.strip("/"), norm[len(root) + 1:])
                os.makedirs(os.path.dirname(p), exist_ok=True)
                return p
        self.test.fail("%s is outside %s: teach test_readme.py to provide it" %
                       (printed, ", ".join(self.ROOTS)))

    def write(self, case, printed, data, mode=0o600):
        p = self.path(case, printed)
        with open(p, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.chmod(p, mode)

    def provide(self, case, s):
        handled = set()

        def table_path(v):
            return v.split(":", 1)[1] if v.startswith(("file:", "refile:")) else v

        if s.get("srs_secrets"):
            self.write(case, s["srs_secrets"], "readme-test-secret\n")
            handled.add("srs_secrets")
        domain = (s.get("from_rewrite_address", "").rpartition("@")[2] or
                  s.get("arc_domain") or s.get("srs_domain") or "example.net")
        if s.get("dkim_key_table"):
            name = s.get("forward_signing_key") or "fwd"
            keyfile = "/etc/fwdauth/keys/readme-test.private"
            with open(self.key(domain, "readme-test"), "rb") as f:
                self.write(case, keyfile, f.read())
            self.write(case, table_path(s["dkim_key_table"]),
                       "%s %s:readme-test:%s\n" % (name, domain, keyfile), 0o644)
            handled.add("dkim_key_table")
            if s.get("dkim_signing_table"):
                self.write(case, table_path(s["dkim_signing_table"]),
                           "*@%s %s\n" % (domain, name), 0o644)
                handled.add("dkim_signing_table")
        if s.get("arc_key"):
            with open(self.key(s.get("arc_domain") or domain,
                               s.get("arc_selector") or "arc"), "rb") as f:
                self.write(case, s["arc_key"], f.read())
            handled.add("arc_key")
        if s.get("dns_zone_file"):
            self.write(case, s["dns_zone_file"], "", 0o644)
            handled.add("dns_zone_file")
        # The forwarder's footer files: a text footer and an HTML fragment.
        for k, text in (("forward_footer", "-- \nForwarded by example.net\n"),
                        ("forward_footer_html", "<p>Forwarded by example.net</p>\n")):
            if s.get(k):
                self.write(case, s[k], text, 0o644)
                handled.add(k)
        if s.get("stage_secrets"):
            self.write(case, s["stage_secrets"], "readme-test-stage-secret-0123456789\n")
            handled.add("stage_secrets")
        if s.get("chroot"):
            os.makedirs(self.path(case, os.path.join(s["chroot"], "x")), exist_ok=True)
            handled.add("chroot")
        # The SRS store: the folder of a SQLite file or Redis socket (nothing
        # connects at -t), the Redis password, the SRS domain map (empty).
        store = s.get("srs_store", "")
        if store.startswith(("sqlite:", "redis:unix:")):
            self.path(case, store.split(":", 2)[-1] if store.startswith("redis:") else store[7:])
            handled.add("srs_store")
        if s.get("srs_store_password"):
            self.write(case, s["srs_store_password"], "readme-test-password\n")
            handled.add("srs_store_password")
        if s.get("srs_domain_map"):
            self.write(case, s["srs_domain_map"], "# readme test\n", 0o644)
            handled.add("srs_domain_map")
        for k, v in s.items():
            if k.endswith("_listen") and v.startswith("unix:"):
                self.path(case, v[5:])  # its folder, in the overlay
                handled.add(k)
        for k, v in s.items():
            if k not in handled and re.search(r"(^|[\s:,])/", v):
                self.test.fail("%s = %s names a path test_readme.py does not provide: teach it" %
                               (k, v))


# ---- Postfix ------------------------------------------------------------------

MILTER_DOWN = re.compile(r"warning: connect to Milter service \S+: Connection refused")


def comment_problems(text, what):
    out = []
    for name, value, line in postfixtest.parse_main_cf(text) if what == "main.cf" else []:
        if VALUE_COMMENT.search(value):
            out.append("line %d: %s = %r: a \"#\" after a value is part of the value (no "
                       "comments at the end of a line)" % (line, name, value))
    if what == "master.cf":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.lstrip().startswith("#") and "#" in line:
                out.append("line %d: %r: \"#\" after a field" % (n, line))
    return out


def postfix_problems(test, main_text="", master_text="", start=False):
    """Everything that finds fault with main_text/master_text in a throwaway
    Postfix (see the module docstring); [] when none does."""
    d = fwdtest.make_tempdir(test)
    pf = postfixtest.Postfix(d)
    test.addCleanup(pf.stop)
    pf.configure(master_cf_extra=master_text, main_cf_text=main_text)
    problems = comment_problems(main_text, "main.cf") + comment_problems(master_text, "master.cf")
    checks = [["-n"]] + ([["-M"], ["-P"]] if master_text else [])
    for args in checks:
        r = run([postfixtest.POSTCONF, "-c", pf.conf, *args])
        if r.returncode != 0 or "warning" in r.stderr:
            problems.append("postconf %s: exit %d: %s" % (args[0], r.returncode, r.stderr.strip()))
    r = pf.postfix("check")
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or re.search(r"warning:|fatal:|panic:", out):
        problems.append("postfix check: exit %d: %s" % (r.returncode, out))
        return problems
    if start:
        try:
            pf.launch()
            with smtplib.SMTP("127.0.0.1", pf.smtp_port, timeout=30) as s:
                code, _ = s.ehlo("readme.test")
                if code != 250:
                    problems.append("EHLO answered %d" % code)
        except (RuntimeError, OSError, smtplib.SMTPException) as e:
            problems.append("start: %s" % e)
        time.sleep(0.5)  # smtpd logs its warnings while the session ends
        pf.stop()
        for line in pf.log_text().splitlines():
            if re.search(r"warning:|fatal:|panic:", line) and not MILTER_DOWN.search(line):
                problems.append("log: " + line)
    return problems


def fail_unless_runs(test):
    fwdtest.require(os.geteuid() == 0, "needs root (unshare, Postfix)")
    fwdtest.require_programs(FWDAUTHD, FWDAUTH, UNSHARE, IP, postfixtest.POSTFIX,
                             postfixtest.POSTCONF)
    r = run([UNSHARE, "--mount", "--net", "--fork", "--", "true"])
    fwdtest.require(r.returncode == 0, "unshare --mount --net fails here (%s)" % r.stderr.strip())


class ReadmeBlocks(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        fail_unless_runs(cls)

    def test_every_block_is_classified(self):
        blocks = readme_blocks()
        kinds = {}
        for b in blocks:
            kinds.setdefault(b.kind, []).append(b.line)
        # The README has these today; fewer means the rule lost some.
        self.assertGreaterEqual(len(kinds.get("fwdauthd.conf", [])), 3, kinds)
        self.assertGreaterEqual(len(kinds.get("main.cf", [])), 3, kinds)
        self.assertGreaterEqual(len(kinds.get("master.cf", [])), 1, kinds)
        print("\nREADME.md blocks: %s" % ", ".join("%s %d" % (k, len(v))
                                                  for k, v in sorted(kinds.items())))

    def test_classifier_refuses_what_it_cannot_place(self):
        for info, text in (("ini", "a = b\n"),
                           ("", "srs_domain = x.example\nmyhostname = mx.example\n"),
                           ("", "srs_domian = x.example\n"),
                           ("", "smtpd_milters = inet:127.0.0.1:1\n"
                                "submission inet n - y - - smtpd\n")):
            with self.assertRaises(Unclassifiable, msg=text):
                classify(Block(info, text, 1))
        self.assertEqual(classify(Block("", "cv=pass\ni=1 as=pass ams=pass\n", 1)), "text")

    def test_yaml_blocks_parse(self):
        for b in readme_blocks("yaml"):
            self.assertIsInstance(yaml.safe_load(b.text), dict, b)

    def base_block(self):
        bases = [b for b in readme_blocks("fwdauthd.conf") if "srs_domain" in settings_of(b.text)]
        self.assertTrue(bases, "no README fwdauthd.conf block sets srs_domain")
        return bases[0]

    def fwdauthd_text(self, block):
        if "srs_domain" in settings_of(block.text):
            return block.text
        return self.base_block().text + block.text

    def test_fwdauthd_blocks_load(self):
        pp = PrintedPaths(self, fwdtest.make_tempdir(self))
        for b in readme_blocks("fwdauthd.conf"):
            with self.subTest(block=b):
                rc, out = pp.check(self.fwdauthd_text(b))
                self.assertEqual(rc, 0, "%r:\n%s" % (b, out))
                self.assertIn("configuration OK", out)

    def test_files_are_read_at_the_printed_paths(self):
        # The milter block names a KeyTable, a SigningTable and an ARC key
        # under /etc/fwdauth: fwdauthd -t finds them only through the
        # overlay, and the real /etc is left as it was.
        block = readme_block("fwdauthd.conf", "dkim_key_table")
        text = self.fwdauthd_text(block)
        pp = PrintedPaths(self, fwdtest.make_tempdir(self))
        rc, out = pp.check(text, provide=False)
        self.assertNotEqual(rc, 0, out)
        self.assertIn(settings_of(text)["srs_secrets"], out)
        rc, out = pp.check(text)
        self.assertEqual(rc, 0, out)
        self.assertFalse(os.path.exists("/etc/fwdauth/keys/readme-test.private"))

    def test_fwdauthd_refuses_trailing_comment(self):
        # The README's block of 2026-11 as it was, one line of it: a comment
        # there silently became part of the value.
        bad = Block("", "authserv_id = mx.example.net              # our name\n", 1)
        self.assertEqual(classify(bad), "fwdauthd.conf")
        rc, out = PrintedPaths(self, fwdtest.make_tempdir(self)).check(self.fwdauthd_text(bad))
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, r"(?i)comment", out)

    def test_postfix_blocks_load(self):
        for b in readme_blocks("main.cf"):
            with self.subTest(block=b):
                self.assertEqual(postfix_problems(self, main_text=b.text, start=True), [], b)
        for b in readme_blocks("master.cf"):
            with self.subTest(block=b):
                self.assertEqual(postfix_problems(self, master_text=b.text), [], b)

    def test_postfix_checks_catch_trailing_comments(self):
        # A bad boolean: postfix check (and start) stop on it.
        bad = "disable_mime_output_conversion = yes   # 8-bit downgrades break signatures\n"
        problems = postfix_problems(self, main_text=bad)
        self.assertTrue(any("bad boolean configuration" in p for p in problems), problems)
        self.assertTrue(any("no comments at the end" in p for p in problems), problems)
        # A string: postfix check passes it; the value check catches it, and
        # so does smtpd at the first connection (every mail would get 451).
        port = fwdtest.free_port()  # nothing listens: the default action is used
        bad = ("smtpd_milters = inet:127.0.0.1:%d\n"
               "milter_default_action = tempfail   # fwdauthd down: clients retry\n" % port)
        problems = postfix_problems(self, main_text=bad, start=True)
        self.assertFalse(any(p.startswith("postfix check") for p in problems), problems)
        self.assertTrue(any("no comments at the end" in p for p in problems), problems)
        self.assertTrue(any("unrecognized default action" in p for p in problems), problems)
        # master.cf
        bad = "submission inet n - y - - smtpd   # users\n"
        self.assertTrue(comment_problems(bad, "master.cf"))


class EtcExamples(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        fail_unless_runs(cls)

    def test_fwdauthd_conf(self):
        with open(ETC_CONF) as f:
            text = f.read()
        variants, _ = uncomment_variants(text, main_cf=False)
        # The installed example configures a working milter as printed.
        s = settings_of(text)
        for k in ("milter_listen", "authserv_id", "dkim_key_table", "dkim_signing_table",
                  "forward_recipients", "forward_signing_key", "arc_key", "from_rewrite_address"):
            self.assertIn(k, s, "etc/fwdauthd.conf: no %s in its milter block" % k)
        pp = PrintedPaths(self, fwdtest.make_tempdir(self))
        for label, t in [("as printed", text)] + variants:
            with self.subTest(variant=label):
                rc, out = pp.check(t)
                self.assertEqual(rc, 0, "etc/fwdauthd.conf %s:\n%s" % (label, out))
        print("\netc/fwdauthd.conf: %d variants loaded" % (len(variants) + 1))

    def test_postfix_snippet(self):
        with open(ETC_SNIPPET) as f:
            text = f.read()
        variants, _ = uncomment_variants(text, main_cf=True)
        s = settings_of(text)
        self.assertIn("virtual_alias_domains", s)
        # The milter block as printed, pointing at etc/fwdauthd.conf's milter.
        milter = "inet:127.0.0.1:8891"
        self.assertEqual(s.get("smtpd_milters"), milter)
        self.assertEqual(s.get("non_smtpd_milters"), milter)
        self.assertEqual(s.get("milter_default_action"), "tempfail")
        self.assertEqual(s.get("disable_mime_output_conversion"), "yes")
        with open(ETC_CONF) as f:
            self.assertEqual(settings_of(f.read()).get("milter_listen"), milter)
        for label, t in [("as printed", text)] + variants:
            with self.subTest(variant=label):
                start = label in ("as printed", "milter block uncommented")
                self.assertEqual(postfix_problems(self, main_text=t, start=start), [], label)
        print("\netc/postfix-main.cf.snippet: %d variants loaded" % (len(variants) + 1))


class RequireGate(unittest.TestCase):
    """fwdtest.require: skips outside CI, fails under CI=true."""

    def gate(self, ci, condition):
        saved = os.environ.get("CI")
        os.environ["CI"] = ci
        try:
            fwdtest.require(condition, "the oracle is missing")
        finally:
            if saved is None:
                del os.environ["CI"]
            else:
                os.environ["CI"] = saved

    def test_gate(self):
        self.gate("true", True)
        self.gate("", True)
        with self.assertRaises(unittest.SkipTest):
            self.gate("", False)
        with self.assertRaises(unittest.SkipTest):
            self.gate("false", False)
        with self.assertRaises(AssertionError) as cm:
            self.gate("true", False)
        self.assertIn("the oracle is missing", str(cm.exception))
        self.assertNotIsInstance(cm.exception, unittest.SkipTest)


if __name__ == "__main__":
    unittest.main()
