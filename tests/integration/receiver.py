"""A real, independent receiver for black-box tests: a private unbound and a
private rspamd that judge a message as the next hop would, offline.

    dns = Unbound.from_zone(dir, zone, records=[("example.test", "TXT",
                                                 "v=spf1 ip4:127.0.0.1 -all")])
    test.addCleanup(dns.stop); dns.start()
    rx = Rspamd(dir, dns.port, trusted_arc_sealers=["fwd.test"])
    test.addCleanup(rx.stop); rx.start()
    v = rx.judge(wire, ip="127.0.0.1", mail_from="a@example.test",
                 helo="mx.example.test", rcpt="b@dest.test")
    v.dmarc, v.spf, v.dkim, v.arc   # "pass", "fail", "reject", "temperror", ...
    v.symbols["DMARC_POLICY_REJECT"].options, v.action, v.score

Unbound (Debian's /usr/sbin/unbound) serves the given records as local-data
on a free port of 127.0.0.1 and, by default, answers NXDOMAIN for every
other name (a static local zone at the root: nothing is asked of the
Internet, and nothing waits on it). Owners that must time out
(dkimpeers.Zone.timeouts) are deny zones: unbound drops those queries.
stop() and start() make DNS dead and alive again on the same port;
set_records() replaces the records and restarts a running server.

Rspamd (Debian's rspamd 3.4) runs from a configuration written here, not
from /etc/rspamd's: the stock metrics, actions, groups (scores) and
composites, and of the modules only dkim, spf, dmarc, arc and milter_headers
(which puts the Authentication-Results it would add into the reply). No
Redis, no rules that look up URLs, RBLs, fuzzy hashes, maps over HTTP or
ASNs: nothing that needs the network or could hang. Its public suffix list
(options.url_tld, normally the full list, whose parsing makes a first start
take over a minute) holds the one line "test", so every NAME.test is an
organizational domain for DMARC, as example.com is on the Internet. The
language detector gets an empty folder (its data take seconds to load and
judge nothing here), and there are no SPF, DKIM key or DMARC caches, so
records that set_records() replaced are seen by the next scan. Every check
also runs for local and authenticated clients (check_local, check_authed):
the forwarder under test connects from 127.0.0.1, which rspamd otherwise
skips. With trusted_arc_sealers, the arc module's whitelisted_signers_map
lists them and adjust_dmarc is on: a receiver that trusts those sealers
keeps DMARC_POLICY_REJECT/QUARANTINE but lowers its score to 0.1 with the
option "ARC trusted" when the trusted seal's ARC-Authentication-Results say
dmarc=pass (Verdict.dmarc_arc_trusted); it never overrides DMARC by ARC
otherwise. judge() speaks rspamd's HTTP protocol (POST /checkv2 with IP,
Helo, From, Rcpt, Hostname, and MTA-Name for the authserv-id) to the normal
worker and reads the JSON reply.

Both programs run in the foreground, each in its own process group, and
stop() stops them by PID (SIGTERM, then SIGKILL to that group); tests
register it with addCleanup so that it runs even when they fail, and a
test process that dies takes them along (PR_SET_PDEATHSIG). Logs stay in
their folders (unbound.log; rspamd.log and rspamd.out).

Bounds: Rspamd.start() waits up to 120 s for both workers to answer /ping
(measured 0.6-1.0 s at a load average of 9 on 2 cores) and tries 3 times
when a probed port was taken meanwhile; judge() waits up to 60 s. rspamd
asks DNS with a 1 s timeout and 2 retransmits (a scan with DNS dead takes
about 4 s) within its stock task timeout of 8 s.
"""
import ctypes
import http.client
import json
import os
import signal
import subprocess
import tempfile
import time

import fwdtest

UNBOUND = "/usr/sbin/unbound"
RSPAMD = "/usr/bin/rspamd"


def _txt_data(data):
    """TXT presentation data: quoted strings are kept, text is split into
    strings of at most 255 octets (dkimpeers.txt_strings)."""
    if isinstance(data, bytes) or not data.startswith('"'):
        import dkimpeers  # imported here: it needs dkimpy, which DNS alone does not
        # unbound.conf quotes local-data with ' (see Unbound.config_text)
        return dkimpeers.txt_strings(data).replace("'", "\\039")
    return data


def _exited(proc):
    """True when proc has exited; a process that exited stays a zombie (not
    reaped: WNOWAIT), so its PID and process group cannot be reused until
    _stop_proc() reaps it."""
    if proc.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _die_with_parent():
    """In the child before exec: SIGTERM when the test process dies, even by
    SIGKILL (prctl PR_SET_PDEATHSIG), so that no daemon outlives its test."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop_proc(proc, timeout=20):
    """SIGTERM to proc (started with start_new_session), then SIGKILL to its
    process group, which holds only what it started (rspamd's workers),
    then reap it. rspamd's main process waits up to 16 s for its workers."""
    if proc is None:
        return None
    if proc.returncode is None:
        if not _exited(proc):
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while not _exited(proc) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Not reaped yet: the group is still ours.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return proc.wait()


def _tail(path, n=4000):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-n:]
    except OSError:
        return ""


class Unbound:
    """A private unbound on a free port of 127.0.0.1.

    records: (owner, type, data) as unbound local-data takes them (owners
    with or without the final dot); TXT data that does not start with a
    quote is the record's text, split into strings of 255 octets. zones:
    (name, type) local zones; the default ((".", "static"),) answers NXDOMAIN
    for every name not in records (with other zones, names outside them are
    resolved from the Internet). timeouts: owners whose queries are dropped
    (deny zones). port: default a free one, kept across restarts. ttl: of
    every record. Attributes: port, server ("127.0.0.1@PORT", for fwdauth
    --dns-server), address ("127.0.0.1:PORT"), dir, log_path."""

    def __init__(self, basedir, records=(), zones=((".", "static"),), timeouts=(),
                 port=None, ttl=300):
        self.dir = tempfile.mkdtemp(prefix="unbound-", dir=basedir)
        os.chmod(self.dir, 0o755)
        self.port = port or fwdtest.free_port()
        self.server = "127.0.0.1@%d" % self.port    # fwdauth --dns-server, libunbound
        self.address = "127.0.0.1:%d" % self.port   # rspamd's nameserver
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.log_path = os.path.join(self.dir, "unbound.log")
        self.zones = list(zones)
        self.ttl = ttl
        self.proc = None
        self.log = None
        self.set_records(records, timeouts)

    @staticmethod
    def zone_records(zone):
        """The TXT records of a dkimpeers.Zone as (owner, type, data)."""
        return [(o, "TXT", _txt_data(r)) for o, r in zone.txt.items()]

    @classmethod
    def from_zone(cls, basedir, zone, records=(), **kw):
        """Serve a dkimpeers.Zone (owner -> TXT, timeouts) plus records."""
        return cls(basedir, cls.zone_records(zone) + list(records), timeouts=zone.timeouts, **kw)

    def set_records(self, records, timeouts=()):
        """Replace the records (and timeouts); restarts a running server."""
        self.records = [(o if o.endswith(".") else o + ".", t.upper(),
                         _txt_data(d) if t.upper() == "TXT" else d) for o, t, d in records]
        self.timeouts = sorted(o.rstrip(".").lower() + "." for o in timeouts)
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        if self.running():
            self.stop()
            self.start()

    def config_text(self):
        lines = ["server:",
                 "  interface: 127.0.0.1",
                 "  port: %d" % self.port,
                 "  do-ip6: no",
                 "  do-daemonize: no",
                 '  chroot: ""',
                 '  username: ""',
                 '  directory: "%s"' % self.dir,
                 '  pidfile: "%s/unbound.pid"' % self.dir,
                 "  use-syslog: no",
                 '  logfile: ""',
                 "  verbosity: 1",
                 "  do-not-query-localhost: no"]
        lines += ['  local-zone: "%s" %s' % (z if z.endswith(".") else z + ".", t)
                  for z, t in self.zones]
        lines += ['  local-zone: "%s" deny' % o for o in self.timeouts]
        lines += ["  local-data: '%s %d IN %s %s'" % (o, self.ttl, t, d)
                  for o, t, d in self.records]
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def zone_text(self):
        """The same records as a zone file for fwdauth --dns-zone (dns.h)."""
        lines = ["; generated by receiver.Unbound", "$TTL %d" % self.ttl]
        lines += ["%s %d IN %s %s" % (o, self.ttl, t, d) for o, t, d in self.records]
        lines += ["%s TIMEOUT" % o for o in self.timeouts]
        return "\n".join(lines) + "\n"

    def write_zone(self, path):
        with open(path, "w") as f:
            f.write(self.zone_text())
        return path

    def running(self):
        return self.proc is not None and not _exited(self.proc)

    def start(self, timeout=30):
        if self.running():
            return self
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        try:
            fwdtest.wait_for_port(self.port, timeout=timeout, proc=self.proc)
        except RuntimeError as e:
            self.stop()
            raise RuntimeError("unbound did not start: %s\n%s" % (e, self.logtext()))
        return self

    def stop(self):
        """Safe to call twice and before start()."""
        rc = _stop_proc(self.proc)
        self.proc = None
        if self.log is not None:
            self.log.close()
            self.log = None
        return rc

    def logtext(self):
        return _tail(self.log_path, 1 << 20)


# The public suffix list rspamd reads (options.url_tld): "test" only, so
# that every NAME.test is an organizational domain (DMARC relaxed alignment,
# policy discovery) as NAME.com is on the Internet.
PUBLIC_SUFFIXES = "// receiver.py: the public suffix list of the test receiver\ntest\n"

RSPAMD_CONF = """\
# Generated by tests/integration/receiver.py: a private, offline rspamd.
.include "$CONFDIR/metrics.conf"
.include "$CONFDIR/actions.conf"
.include "$CONFDIR/groups.conf"
.include "$CONFDIR/composites.conf"

modules {{
  path = "${{PLUGINSDIR}}";
}}

options {{
  pidfile = "{dir}/run/rspamd.pid";
  filters = "dkim";
  explicit_modules = [];
  url_tld = "{dir}/public_suffix_list.dat";
  dns {{
    nameserver = ["{dns}"];
    timeout = 1s;
    sockets = 4;
    retransmits = 2;
  }}
  upstream_revive_time = 1s;
  upstream_error_time = 1s;
  check_local = true;
  check_authed = true;
  local_addrs = [];
  disable_hyperscan = true;
  cache_file = "{dir}/db/symbols.cache";
  dynamic_conf = "{dir}/db/rspamd_dynamic";
  history_file = "{dir}/db/rspamd.history";
  stats_file = "{dir}/db/stats.ucl";
  control_socket = "{dir}/run/rspamd.sock mode=0600";
  hs_cache_dir = "{dir}/db/";
  tempdir = "{dir}/tmp";
  allow_raw_input = true;
  task_timeout = 8s;
}}

lang_detection {{
  languages = "{dir}/languages";
}}

logging {{
  type = "file";
  filename = "{dir}/rspamd.log";
  level = "info";
  color = false;
}}

worker "normal" {{
  bind_socket = "127.0.0.1:{normal}";
  count = 1;
  mime = true;
}}

worker "controller" {{
  bind_socket = "127.0.0.1:{controller}";
  count = 1;
  secure_ip = "127.0.0.1";
}}

dkim {{
  check_local = true;
  check_authed = true;
  dkim_cache_size = 0;
}}

spf {{
  check_local = true;
  check_authed = true;
  spf_cache_size = 0;
  min_cache_ttl = 0;
}}

dmarc {{
  check_local = true;
  check_authed = true;
  reporting {{
    enabled = false;
  }}
}}

arc {{
  sign_local = false;
  sign_authenticated = false;
  sign_inbound = false;
  use_redis = false;
{arc_trust}}}

milter_headers {{
  use = ["authentication-results"];
  skip_local = false;
  skip_authenticated = false;
}}
"""


class Symbol:
    """One symbol of a verdict: name, score and options (list of str)."""

    def __init__(self, name, score=0.0, options=()):
        self.name, self.score, self.options = name, score, list(options)

    def __repr__(self):
        return "%s(%g)%s" % (self.name, self.score,
                             "[%s]" % ", ".join(self.options) if self.options else "")


# Convenience results from symbols, first match wins (rspamd names them in
# lualib/plugins/dmarc.lua, plugins/spf.lua, src/plugins/dkim_check.c and
# plugins/arc.lua). DMARC_POLICY_SOFTFAIL is a failure under p=none (or one
# that pct= exempts): "fail". A message can carry several DKIM signatures,
# so R_DKIM_ALLOW next to R_DKIM_REJECT is "pass" (one valid is enough).
DMARC_RESULTS = (("DMARC_POLICY_ALLOW", "pass"), ("DMARC_POLICY_ALLOW_WITH_FAILURES", "pass"),
                 ("DMARC_POLICY_REJECT", "reject"), ("DMARC_POLICY_QUARANTINE", "quarantine"),
                 ("DMARC_POLICY_SOFTFAIL", "fail"), ("DMARC_DNSFAIL", "temperror"),
                 ("DMARC_BAD_POLICY", "permerror"), ("DMARC_NA", "none"))
SPF_RESULTS = (("R_SPF_ALLOW", "pass"), ("R_SPF_FAIL", "fail"), ("R_SPF_SOFTFAIL", "softfail"),
               ("R_SPF_NEUTRAL", "neutral"), ("R_SPF_DNSFAIL", "temperror"),
               ("R_SPF_PERMFAIL", "permerror"), ("R_SPF_NA", "none"))
DKIM_RESULTS = (("R_DKIM_ALLOW", "pass"), ("R_DKIM_REJECT", "fail"),
                ("R_DKIM_TEMPFAIL", "temperror"), ("R_DKIM_PERMFAIL", "permerror"),
                ("R_DKIM_NA", "none"))
ARC_RESULTS = (("ARC_ALLOW", "pass"), ("ARC_REJECT", "fail"), ("ARC_INVALID", "invalid"),
               ("ARC_DNSFAIL", "temperror"), ("ARC_NA", "none"))


class Verdict:
    """What the receiver made of a message.

    symbols: {name: Symbol}; action ("no action", "add header", "reject",
    "soft reject", ...); score; dmarc, spf, dkim, arc: the words above, None
    when no symbol of that module is there; arc_trusted: ARC_ALLOW_TRUSTED is
    there with a score other than 0 (a trusted sealer's valid chain that did
    not record a DMARC failure); dmarc_arc_trusted: dmarc is "reject" or
    "quarantine" but a trusted sealer vouched for dmarc=pass, so this
    receiver lets it through (adjust_dmarc); authentication_results: the
    header value rspamd would add (milter_headers), or None; reply: the JSON
    reply as parsed."""

    def __init__(self, reply):
        self.reply = reply
        self.action = reply.get("action")
        self.score = reply.get("score")
        self.symbols = {}
        for name, s in (reply.get("symbols") or {}).items():
            self.symbols[name] = Symbol(name, s.get("score", 0.0), s.get("options") or ())
        self.dmarc = self._first(DMARC_RESULTS)
        self.spf = self._first(SPF_RESULTS)
        self.dkim = self._first(DKIM_RESULTS)
        self.arc = self._first(ARC_RESULTS)
        trusted = self.symbols.get("ARC_ALLOW_TRUSTED")
        # Scored weight x 1 (pass), x 0 (dmarc=fail recorded), x 0.5 (spf=fail).
        self.arc_trusted = trusted is not None and trusted.score != 0
        self.dmarc_arc_trusted = any(
            "ARC trusted" in self.symbols[n].options
            for n in ("DMARC_POLICY_REJECT", "DMARC_POLICY_QUARANTINE") if n in self.symbols)
        ar = ((reply.get("milter") or {}).get("add_headers") or {}).get("Authentication-Results")
        if isinstance(ar, dict):
            ar = ar.get("value")
        elif isinstance(ar, list) and ar:
            ar = ar[0].get("value") if isinstance(ar[0], dict) else ar[0]
        self.authentication_results = ar

    def _first(self, table):
        for sym, word in table:
            if sym in self.symbols:
                return word
        return None

    def __contains__(self, name):
        return name in self.symbols

    def options(self, name):
        return self.symbols[name].options if name in self.symbols else []

    def __str__(self):
        return "dmarc=%s spf=%s dkim=%s arc=%s action=%s score=%s symbols=%s" % (
            self.dmarc, self.spf, self.dkim, self.arc, self.action, self.score,
            sorted(self.symbols.values(), key=lambda s: s.name))


class Rspamd:
    """A private rspamd 3.4 as the receiving end (see the module comment).

    basedir: a folder of the test; the instance lives in a new folder under
    it (self.dir: rspamd.conf, public_suffix_list.dat, rspamd.log,
    rspamd.out, db/, run/). dns_port: the port of an Unbound on 127.0.0.1.
    trusted_arc_sealers: ARC sealing domains (d= of the ARC-Seal) this
    receiver trusts, as Microsoft 365's ArcTrustedSealers does. authserv_id:
    the authserv-id of the Authentication-Results it would add."""

    def __init__(self, basedir, dns_port, trusted_arc_sealers=(), authserv_id="receiver.test"):
        self.dir = tempfile.mkdtemp(prefix="rspamd-", dir=basedir)
        os.chmod(self.dir, 0o755)
        for sub in ("db", "run", "tmp", "languages"):
            os.mkdir(os.path.join(self.dir, sub))
        self.dns_port = dns_port
        self.trusted_arc_sealers = list(trusted_arc_sealers)
        self.authserv_id = authserv_id
        self.port = None              # normal worker (/checkv2), chosen by start()
        self.controller_port = None
        self.conf = os.path.join(self.dir, "rspamd.conf")
        self.log_path = os.path.join(self.dir, "rspamd.log")
        self.out_path = os.path.join(self.dir, "rspamd.out")
        self.proc = None
        self.out = None
        self.startup_seconds = None
        with open(os.path.join(self.dir, "public_suffix_list.dat"), "w") as f:
            f.write(PUBLIC_SUFFIXES)

    def write_config(self):
        """rspamd.conf with two free ports of 127.0.0.1 for the workers."""
        self.port = fwdtest.free_port()
        self.controller_port = fwdtest.free_port()
        while self.controller_port == self.port:
            self.controller_port = fwdtest.free_port()
        if self.trusted_arc_sealers:
            arc_trust = ("  whitelisted_signers_map = [%s];\n  adjust_dmarc = true;\n"
                         % ", ".join(json.dumps(d) for d in self.trusted_arc_sealers))
        else:
            arc_trust = ""
        with open(self.conf, "w") as f:
            f.write(RSPAMD_CONF.format(dir=self.dir, dns="127.0.0.1:%d" % self.dns_port,
                                       normal=self.port, controller=self.controller_port,
                                       arc_trust=arc_trust))

    def command(self):
        cmd = [RSPAMD, "-f", "-c", self.conf,
               "--var=CONFDIR=/etc/rspamd", "--var=LOCAL_CONFDIR=%s" % self.dir,
               "--var=DBDIR=%s/db" % self.dir, "--var=RUNDIR=%s/run" % self.dir,
               "--var=LOGDIR=%s" % self.dir]
        if os.geteuid() == 0:
            cmd.append("-i")  # workers as root: the test folder is root's
        return cmd

    def running(self):
        return self.proc is not None and not _exited(self.proc)

    def start(self, timeout=120, attempts=3):
        """Start and wait until both workers answer /ping; sets
        startup_seconds (of the attempt that worked). A port taken between
        probing and binding makes rspamd exit: the next attempt takes new
        ones."""
        if self.running():
            return self
        for attempt in range(attempts):
            self.write_config()
            t0 = time.monotonic()
            self.out = open(self.out_path, "ab")
            self.proc = subprocess.Popen(self.command(), stdout=self.out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=_die_with_parent)
            deadline = t0 + timeout
            while True:
                if _exited(self.proc):
                    err = "rspamd exited"
                    break
                try:
                    if self._ping():
                        self.startup_seconds = time.monotonic() - t0
                        return self
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    err = "rspamd did not answer /ping after %.0f s" % timeout
                    break
                time.sleep(0.1)
            rc = self.stop()
            logs = "%s\n%s" % (_tail(self.out_path), _tail(self.log_path))
            if "Address already in use" not in logs:
                break
        raise RuntimeError("%s (status %s)\n%s" % (err, rc, logs))

    def _ping(self):
        for port in (self.port, self.controller_port):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                c.request("GET", "/ping")
                r = c.getresponse()
                if r.status != 200 or r.read().strip() != b"pong":
                    return False
            finally:
                c.close()
        return True

    def stop(self):
        """Safe to call twice and before start()."""
        rc = _stop_proc(self.proc)
        self.proc = None
        if self.out is not None:
            self.out.close()
            self.out = None
        return rc

    def judge(self, message, ip, mail_from, helo, rcpt, hostname=None, timeout=60):
        """Scan message (bytes or str) as received from ip after HELO helo,
        MAIL FROM mail_from ("" for <>) and RCPT TO rcpt (an address or a
        list). hostname: the client's verified host name (default: helo).
        Returns a Verdict."""
        if isinstance(message, str):
            message = message.encode()
        rcpts = [rcpt] if isinstance(rcpt, str) else list(rcpt)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.putrequest("POST", "/checkv2", skip_accept_encoding=True)
            c.putheader("MTA-Name", self.authserv_id)   # Authentication-Results' authserv-id
            c.putheader("IP", ip)
            c.putheader("Helo", helo)
            c.putheader("Hostname", hostname or helo)
            c.putheader("From", "<%s>" % mail_from if mail_from else "<>")
            for r in rcpts:
                c.putheader("Rcpt", "<%s>" % r)
            c.putheader("Content-Length", str(len(message)))
            c.endheaders(message)
            r = c.getresponse()
            body = r.read()
        finally:
            c.close()
        if r.status != 200:
            raise RuntimeError("rspamd answered %d: %s\n%s" % (
                r.status, body[:2000].decode("utf-8", "replace"), _tail(self.log_path)))
        reply = json.loads(body)
        if "error" in reply:
            raise RuntimeError("rspamd: %s\n%s" % (reply["error"], _tail(self.log_path)))
        return Verdict(reply)

    def logtext(self):
        return _tail(self.log_path, 1 << 20)
