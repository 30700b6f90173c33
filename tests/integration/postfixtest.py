"""A throwaway Postfix and smtp-sink sinks for black-box tests.

Follows FIELD-NOTES.md ("Running Postfix in a test"): a private config folder
run with `postfix -c DIR start` as root, loopback only, free ports, chroot off
on every master.cf line, no DNS, every test domain routed by an inline
transport_maps to its own smtp-sink, which writes each message to a file.

    pf = Postfix(basedir)                    # nothing runs yet
    rdir = pf.sink("remote.test")            # smtp-sink on a free port
    pf.start({"sender_canonical_maps": "..."}, master_cf_extra="")
    smtplib.SMTP("127.0.0.1", pf.smtp_port) ...
    msgs = wait_for_delivery(rdir, 30, match=lambda m: m.header("Subject") == s)
    pf.stop()                                # also stops the sinks

stop() is safe to call twice and after a failed start; register it with
addCleanup/addClassCleanup right after creating the object. Sinks added after
start() are routed with `postfix reload`.
"""
import email.parser
import email.policy
import os
import pwd
import shlex
import signal
import subprocess
import time

import fwdtest

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTMAP = "/usr/sbin/postmap"
SMTP_SINK = "/usr/sbin/smtp-sink"

# Only what a relay needs; column 5 (chroot) is "n" everywhere. The smtpd line
# gets the free port as its service name in Postfix.start.
MASTER_CF = """\
{port}      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
        -o syslog_name=postfix/$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def parse_main_cf(text):
    """[(name, value, line number)] of main.cf (or fwdauthd.conf) text, read as
    Postfix reads it: blank lines and lines whose first non-blank character is
    "#" are ignored, a line that starts with white space continues the
    previous one (joined with one space), and "#" after a value is part of
    the value: there are no comments at the end of a line."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t":
            if not out:
                raise ValueError("line %d: continuation line without a setting" % n)
            name, value, first = out[-1]
            out[-1] = (name, (value + " " + line.strip()).strip(), first)
            continue
        name, eq, value = line.partition("=")
        if not eq:
            raise ValueError("line %d: not name = value: %r" % (n, line))
        out.append((name.strip(), value.strip(), n))
    return out


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class Sink:
    """One smtp-sink process that writes every message to a file in dir."""

    def __init__(self, basedir, domain, extra_args=()):
        self.domain = domain
        self.dir = os.path.join(basedir, "sink-" + domain)
        os.makedirs(self.dir, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        self.port = fwdtest.free_port()
        self.log = open(os.path.join(basedir, "sink-%s.log" % domain), "ab")
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-u", "nobody", "-h", "sink." + domain, "-d",
             os.path.join(self.dir, "%M."), *extra_args, "127.0.0.1:%d" % self.port, "100"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        try:
            fwdtest.wait_for_port(self.port, proc=self.proc, timeout=10)
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class SinkMessage:
    """One message as smtp-sink dumped it: X-Mail-Args/X-Rcpt-Args envelope
    lines, then the message as received."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.raw = f.read()
        self.msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(self.raw)
        args = self.msg.get("X-Mail-Args", "")
        self.mail_from = _angle(args)
        self.rcpt_to = [_angle(v) for v in self.msg.get_all("X-Rcpt-Args", [])]

    def header(self, name):
        """The raw value of the first header field `name` (None if absent)."""
        v = self.msg.get(name)
        return None if v is None else str(v)

    def __repr__(self):
        return "<SinkMessage %s from=%r to=%r>" % (os.path.basename(self.path), self.mail_from,
                                                  self.rcpt_to)


def _angle(args):
    """The address inside the first <...> of a MAIL FROM/RCPT TO argument."""
    args = args.strip()
    if args.startswith("<") and ">" in args:
        return args[1:args.index(">")]
    return args.split(" ", 1)[0]


def sink_messages(sink_dir):
    """Every complete message file in a sink folder."""
    out = []
    for root, _, files in os.walk(sink_dir):
        for name in sorted(files):
            path = os.path.join(root, name)
            try:
                out.append(SinkMessage(path))
            except OSError:
                pass
    return out


def wait_for_delivery(sink_dir, timeout=30.0, match=None, count=1):
    """Wait until at least `count` messages that satisfy match(SinkMessage)
    (all messages when match is None) sit in sink_dir, their files no longer
    growing; return them. Raises AssertionError on timeout, listing what came."""
    deadline = time.monotonic() + timeout
    sizes = {}
    found = []
    while True:
        found = [m for m in sink_messages(sink_dir) if match is None or match(m)]
        if len(found) >= count:
            now = {m.path: len(m.raw) for m in found}
            if now == sizes and all(n > 0 for n in now.values()):
                return found
            sizes = now
        if time.monotonic() > deadline:
            raise AssertionError("%d message(s) wanted in %s within %.0fs, found %r (all: %r)" %
                                 (count, sink_dir, timeout, found, sink_messages(sink_dir)))
        time.sleep(0.1)


class Postfix:
    """A private Postfix instance under basedir/postfix (config, queue, data,
    maillog). Sinks are created with sink(domain) and routed by transport_maps."""

    def __init__(self, basedir):
        self.base = os.path.join(basedir, "postfix")
        self.conf = os.path.join(self.base, "etc")
        self.queue = os.path.join(self.base, "queue")
        self.data = os.path.join(self.base, "data")
        self.maillog = os.path.join(self.base, "maillog")
        for d in (self.base, self.conf, self.queue, self.data):
            os.makedirs(d, exist_ok=True)
        os.chmod(self.base, 0o755)
        pf = pwd.getpwnam("postfix")
        for d in (self.queue, self.data):
            os.chown(d, pf.pw_uid, pf.pw_gid)
        # FIELD-NOTES says to chown both to postfix; Postfix then warns "not
        # owned by root: .../queue/." (postfix-script check). The queue's top
        # stays root's; post-install creates its subfolders for postfix.
        os.chown(self.queue, 0, 0)
        self.smtp_port = fwdtest.free_port()
        self.sinks = {}
        self.started = False
        self.main_cf_extra = {}

    # -- sinks ---------------------------------------------------------------
    def sink(self, domain, extra_args=()):
        """Start an smtp-sink for domain (mail for it and its subdomains is
        routed there) and return the folder its messages land in."""
        if domain in self.sinks:
            return self.sinks[domain].dir
        self.sinks[domain] = Sink(self.base, domain, extra_args)
        if self.started:
            self.postconf({"transport_maps": self._transport_maps()})
            self.postfix("reload")
        return self.sinks[domain].dir

    def _transport_maps(self):
        if not self.sinks:
            return ""
        items = ["%s=smtp:[127.0.0.1]:%d" % (d, s.port) for d, s in sorted(self.sinks.items())]
        return "inline:{ %s }" % ", ".join(items)

    # -- configuration -------------------------------------------------------
    def main_cf(self, extra, drop=()):
        """Our main.cf settings updated with extra, without the names in drop,
        as "name = value" lines."""
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "command_directory": "/usr/sbin",
            "daemon_directory": "/usr/lib/postfix/sbin",
            "meta_directory": "/etc/postfix",
            "shlib_directory": "/usr/lib/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mx.fwdauth-test.invalid",
            "mydomain": "fwdauth-test.invalid",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "disable_dns_lookups": "",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.base,
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "smtputf8_enable": "no",
            "disable_mime_output_conversion": "yes",
            "smtpd_banner": "$myhostname ESMTP fwdauth-test",
            "transport_maps": self._transport_maps(),
            # Do not wait long before retrying deferred mail in a test.
            "queue_run_delay": "5s",
            "minimal_backoff_time": "5s",
            "maximal_backoff_time": "10s",
            "smtp_connect_timeout": "5s",
            "default_destination_concurrency_limit": "10",
        }
        settings.pop("disable_dns_lookups")
        settings.update(extra or {})
        return "".join("%s = %s\n" % (k, v) for k, v in settings.items() if k not in drop)

    def postconf(self, settings):
        args = ["%s=%s" % (k, v) for k, v in settings.items()]
        r = fwdtest.run([POSTCONF, "-c", self.conf, "-e", *args])
        if r.returncode != 0:
            raise RuntimeError("postconf -e failed: %s%s" % (r.stdout, r.stderr))

    def postfix(self, *args, timeout=60):
        """Run the postfix command on this instance under script(1), which
        gives it a terminal so that its fatal errors are printed."""
        cmd = " ".join(shlex.quote(a) for a in (POSTFIX, "-c", self.conf, *args))
        return fwdtest.run(["script", "-qec", cmd, "/dev/null"], timeout=timeout)

    def configure(self, main_cf_extra=None, master_cf_extra="", main_cf_text=""):
        """Write main.cf (our defaults, then main_cf_extra, then main_cf_text
        verbatim: its settings replace ours, so that every name is set once)
        and master.cf (our services, then the master_cf_extra lines)."""
        self.main_cf_extra = dict(main_cf_extra or {})
        own = {name for name, _, _ in parse_main_cf(main_cf_text)}
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(self.main_cf(self.main_cf_extra, drop=own))
            if main_cf_text:
                f.write(main_cf_text.rstrip("\n") + "\n")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.smtp_port))
            if master_cf_extra:
                f.write(master_cf_extra.rstrip("\n") + "\n")

    # -- life cycle ----------------------------------------------------------
    def start(self, main_cf_extra=None, master_cf_extra="", timeout=60, main_cf_text=""):
        """configure(), then start and wait for the smtpd port."""
        self.configure(main_cf_extra, master_cf_extra, main_cf_text)
        self.launch(timeout)

    def launch(self, timeout=60):
        """Start the configuration written by configure(); wait for the
        smtpd port. Raises RuntimeError (with the log) when Postfix fails."""
        self.started = True  # from here on stop() must run
        r = self.postfix("start", timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed (%d): %s%s\nmaillog:\n%s" %
                               (r.returncode, r.stdout, r.stderr, self.log_text()))
        try:
            fwdtest.wait_for_port(self.smtp_port, timeout=timeout)
        except RuntimeError as e:
            raise RuntimeError("%s\nmaillog:\n%s" % (e, self.log_text()))

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=20):
        """Stop Postfix (if it was started) and every sink. Never raises."""
        try:
            if self.started:
                pid = self.master_pid()
                self.postfix("stop", timeout=timeout)
                deadline = time.monotonic() + timeout
                while pid and _pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if pid and _pid_alive(pid):
                    self.postfix("abort", timeout=timeout)
                    time.sleep(1)
                    if _pid_alive(pid):
                        os.kill(pid, signal.SIGKILL)
                self.started = False
        finally:
            for s in self.sinks.values():
                s.stop()

    def log_text(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def postmap_q(self, key, table):
        """postmap -q KEY TABLE with this instance's config: (exit, output)."""
        r = fwdtest.run([POSTMAP, "-c", self.conf, "-q", key, table], timeout=60)
        return r.returncode, r.stdout.strip()

    def wait_for_log(self, text, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_text():
                return
            time.sleep(0.1)
        raise AssertionError("%r not in the Postfix log after %.0fs:\n%s" %
                             (text, timeout, self.log_text()[-4000:]))


DOVECOT = "/usr/sbin/dovecot"


class DovecotAuth:
    """A private Dovecot that serves only SASL authentication to Postfix
    (smtpd_sasl_type = dovecot, smtpd_sasl_path = self.socket): no mail
    protocols, users and plain passwords in a passwd-file, run in the
    foreground (-F) and stopped by stop(), which never raises.

    Debian's Postfix pins Cyrus SASL's application file to /etc/postfix/sasl
    (debian/patches/07_sasl_config.diff; cyrus_sasl_config_path is ignored),
    so a private Cyrus setup cannot work; Dovecot takes its whole
    configuration from the file named with -c.

        auth = DovecotAuth(basedir, {"user": "password"})
        test.addCleanup(auth.stop)
        pf.start({"smtpd_sasl_type": "dovecot", "smtpd_sasl_path": auth.socket, ...})
    """

    def __init__(self, basedir, users, mechanisms="plain login", timeout=10):
        self.dir = os.path.join(basedir, "dovecot")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.socket = os.path.join(self.dir, "run", "auth-postfix")
        users_file = os.path.join(self.dir, "users")
        with open(users_file, "w") as f:
            for user, password in users.items():
                f.write("%s:{PLAIN}%s\n" % (user, password))
        dv = pwd.getpwnam("dovecot")
        os.chown(users_file, dv.pw_uid, dv.pw_gid)
        os.chmod(users_file, 0o600)
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(dir=self.dir, mechanisms=mechanisms, users=users_file))
        self.proc = subprocess.Popen([DOVECOT, "-c", self.conf, "-F"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("dovecot did not start:\n" + self.log_text())
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols =
ssl = no
# Postfix asks for AUTH only over TLS (smtpd_tls_auth_only); the local
# socket between them is not the network.
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""
