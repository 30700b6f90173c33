"""Hybrid SRS on a shared Valkey/Redis store: two forwarders, a store that
goes away, and an SRS domain per forwarding domain (issue 14).

A real redis-server, started by the test on a unix socket in a temp folder
with requirepass (the password in a file, as srs_store_password reads it),
stopped by its PID even when a test fails.

TwoNodes: two fwdauthd processes run the README's "Several forwarders behind
one MX" fwdauthd.conf block as printed (its paths, socket and store address
replaced by the test's), sharing the secrets and the store:
  - a long sender rewritten by node A (an alias SRS0=HHHH=TT=1=KEY) is
    reversed by node B; a short one stays stateless and B reverses it too;
  - an SRS0 address of another forwarder becomes SRS1 when that fits, and
    the issue's 65-octet example (too long for SRS1; a store-less fwdauth srs
    leaves it unchanged) becomes an alias under 65 octets: both reverse
    back to the SRS0 address on the other node;
  - redis stopped: a new long sender gets TEMP on both nodes, and so does a
    reverse of an alias, while short senders and stateless reverses work;
    redis started again (AOF on) and the old alias reverses;
  - redis restarted with persistence off: its aliases are gone (NOTFOUND),
    stateless addresses still reverse, new aliases work.

ThroughPostfix: one fwdauthd as milter (srs_forwarded_mail) and socketmap
(recipient_canonical_maps) behind a real Postfix with the README's milter
main.cf block, the store on redis, and an srs_domain_map:
  - per forwarding domain: mail to fwd@cust-a.test and fwd@cust-b.test
    leaves with an SRS sender in srs.cust-a.test and srs.cust-b.test (the
    second with its own secrets), and a bounce from outside to each comes
    home to the original sender;
  - a queued bounce: N forwarded messages from long senders (aliases) are
    refused by the next hop while redis is down; Postfix's bounces to the
    aliases cannot be reversed (TEMP) and stay queued; a bounce from outside
    to an alias gets 451 at RCPT TO; a new long sender is answered 451 while
    a short one is forwarded; redis back, all N bounces reach their original
    senders, counted: none lost, none twice.
"""
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

import fwdtest
import postfixtest
import test_readme
from fwdtest import FWDAUTH, run
from test_postfix import OUTSIDE, OutsideBounces, message, readme_main_cf
from test_postsrsd import stop_and_check

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "/usr/bin/redis-cli"
SECRET = "cluster-s3cret-shared"
SECRET_B = "cust-b-own-s3cret"
PASSWORD = "cluster-redis-pw"
DOMAIN = "srs.cluster.test"


def long_sender(tag, n=0):
    """A sender whose SRS0 form exceeds 64 octets (local part of 50)."""
    local = ("%s-%d-" % (tag, n)).ljust(50, "x")
    return local + "@sender.test"


def local_part(addr):
    return addr.rpartition("@")[0]


class Redis:
    """redis-server on DIR/redis.sock (no TCP), requirepass, AOF on or off.
    stop() ends it by its PID; safe to call twice."""

    def __init__(self, folder, sock, persistent):
        self.folder, self.sock = folder, sock
        os.makedirs(folder, exist_ok=True)
        self.log = open(os.path.join(folder, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "777",
             "--dir", folder, "--save", "", "--appendonly", "yes" if persistent else "no",
             "--appendfsync", "always", "--requirepass", PASSWORD, "--daemonize", "no"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited with %s" % self.proc.returncode)
            r = run([REDIS_CLI, "-s", sock, "--no-auth-warning", "-a", PASSWORD, "ping"],
                    timeout=10)
            if r.stdout.strip() == "PONG":
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("redis-server does not answer on %s" % sock)
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


def socketmap(path_or_port, name, key):
    """(status, value) of one socketmap request: OK, NOTFOUND, TEMP, PERM."""
    if isinstance(path_or_port, int):
        s = socket.create_connection(("127.0.0.1", path_or_port), timeout=30)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(path_or_port)
    with s:
        s.sendall(fwdtest.netstring("%s %s" % (name, key)))
        with s.makefile("rb") as f:
            reply = fwdtest.read_netstring(f).decode()
    status, _, value = reply.partition(" ")
    return status, value


def until(fn, want, timeout=30):
    """Call fn() until its status is want (the store's back-off after a
    failed connect lasts a second); return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        r = fn()
        if r[0] == want or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def require_redis():
    fwdtest.require_programs(fwdtest.FWDAUTHD, REDIS_SERVER, REDIS_CLI)


class TwoNodes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_redis()
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-srs-cluster-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.sock = os.path.join(cls.dir, "redis.sock")
        cls.redis = Redis(os.path.join(cls.dir, "redis-aof"), cls.sock, persistent=True)
        cls.addClassCleanup(lambda: cls.redis.stop())
        secrets = os.path.join(cls.dir, "srs-secrets")
        fwdtest.write_secret(secrets, SECRET)
        password = os.path.join(cls.dir, "redis-password")
        fwdtest.write_secret(password, PASSWORD)
        cls.secrets = secrets
        printed = test_readme.readme_block("fwdauthd.conf", "srs_store = redis:").text
        cls.nodes = {}
        for name in ("a", "b"):
            listen = os.path.join(cls.dir, "node-%s.sock" % name)
            text = printed
            for old, new in (("/etc/fwdauth/srs-secrets", secrets),
                             ("unix:/var/spool/postfix/srs", "unix:" + listen),
                             ("redis:inet:192.0.2.10:6379", "redis:unix:" + cls.sock),
                             ("/etc/fwdauth/redis-password", password),
                             ("srs.example.net", DOMAIN)):
                if old not in text:
                    raise AssertionError("README cluster block lacks %r:\n%s" % (old, text))
                text = text.replace(old, new)
            conf = os.path.join(cls.dir, "node-%s.conf" % name)
            with open(conf, "w") as f:
                f.write(text)
            d = fwdtest.Daemon(conf, os.path.join(cls.dir, "node-%s.log" % name))
            cls.addClassCleanup(stop_and_check, d)
            fwdtest.wait_for_unix(listen, proc=d.proc)
            cls.nodes[name] = listen

    def fwd(self, node, addr):
        return socketmap(self.nodes[node], "forward", addr)

    def rev(self, node, addr):
        return socketmap(self.nodes[node], "reverse", addr)

    def test_a_long_sender_by_a_reversed_by_b(self):
        sender = long_sender("a")
        status, alias = self.fwd("a", sender)
        self.assertEqual(status, "OK", alias)
        self.assertRegex(alias, r"^SRS0=[-_A-Za-z0-9]{4}=[A-Z2-7]{2}=1=[0-9A-V]{32}@" + DOMAIN)
        self.assertLessEqual(len(local_part(alias)), 64)
        self.assertEqual(self.rev("b", alias), ("OK", sender))
        # a relay changed its case: still the same key
        self.assertEqual(self.rev("b", alias.lower()), ("OK", sender))
        # short senders stay stateless
        status, srs = self.fwd("a", "someone@sender.test")
        self.assertEqual(status, "OK")
        self.assertTrue(srs.startswith("SRS0=") and "=sender.test=someone@" in srs, srs)
        self.assertEqual(self.rev("b", srs), ("OK", "someone@sender.test"))
        # a forged alias (hash changed) is refused by both
        forged = alias[:5] + ("A" if alias[5] != "A" else "B") + alias[6:]
        self.assertEqual(self.rev("b", forged)[0], "NOTFOUND")

    def test_b_srs0_of_another_forwarder(self):
        # fits as SRS1
        short = "SRS0=AbCd=2W=origin.example=someone@fwd.example"
        status, srs1 = self.fwd("a", short)
        self.assertEqual(status, "OK", srs1)
        self.assertTrue(srs1.startswith("SRS1="), srs1)
        self.assertLessEqual(len(local_part(srs1)), 64)
        self.assertEqual(self.rev("b", srs1), ("OK", short))
        # the example: SRS1 would be 65 octets
        srs0 = "SRS0=AbCd=2W=origin.example=someone@other-forwarder.example"
        stateless = run([FWDAUTH, "srs", "forward", "--srs-domain", DOMAIN, "--secrets",
                         self.secrets, srs0])
        self.assertEqual(stateless.returncode, 1, stateless.stderr)
        self.assertIn("exceed 64 octets", stateless.stderr)
        status, out = self.fwd("a", srs0)
        self.assertEqual(status, "OK", out)
        self.assertRegex(out, r"^SRS[01]=")
        self.assertLess(len(local_part(out)), 65)
        self.assertEqual(self.rev("b", out), ("OK", srs0))
        self.assertEqual(self.rev("a", out), ("OK", srs0))

    def test_c_store_down_temp_only_for_what_needs_it(self):
        before = long_sender("c-before")
        status, alias = self.fwd("a", before)
        self.assertEqual(status, "OK", alias)
        status, srs = self.fwd("b", "short@sender.test")
        self.assertEqual(status, "OK")
        self.redis.stop()
        try:
            for node in ("a", "b"):
                status, text = self.fwd(node, long_sender("c-new", 1))
                self.assertEqual(status, "TEMP", text)
                self.assertEqual(self.rev(node, alias)[0], "TEMP")
                self.assertEqual(self.fwd(node, "other@sender.test")[0], "OK")
                self.assertEqual(self.rev(node, srs), ("OK", "short@sender.test"))
        finally:
            type(self).redis = Redis(os.path.join(self.dir, "redis-aof"), self.sock,
                                     persistent=True)
        # back, with the AOF: the alias made before reverses, new ones work
        self.assertEqual(until(lambda: self.rev("b", alias), "OK"), ("OK", before))
        status, new = until(lambda: self.fwd("b", long_sender("c-new", 1)), "OK")
        self.assertEqual(status, "OK", new)
        self.assertEqual(self.rev("a", new), ("OK", long_sender("c-new", 1)))

    def test_d_restart_without_persistence_loses_only_stored_senders(self):
        self.redis.stop()
        type(self).redis = Redis(os.path.join(self.dir, "redis-volatile"), self.sock,
                                 persistent=False)
        sender = long_sender("d")
        status, alias = until(lambda: self.fwd("a", sender), "OK")
        self.assertEqual(status, "OK", alias)
        status, srs = self.fwd("a", "short-d@sender.test")
        # node B reconnects after its own back-off
        self.assertEqual(until(lambda: self.rev("b", alias), "OK"), ("OK", sender))
        self.redis.stop()
        type(self).redis = Redis(os.path.join(self.dir, "redis-volatile"), self.sock,
                                 persistent=False)
        # the alias is lost (not a temporary failure: Postfix would retry forever)
        self.assertEqual(until(lambda: self.rev("b", alias), "NOTFOUND")[0], "NOTFOUND")
        self.assertEqual(self.rev("a", srs), ("OK", "short-d@sender.test"))
        status, again = until(lambda: self.fwd("b", sender), "OK")
        self.assertEqual((status, again), ("OK", alias))  # the same key: stored again
        self.assertEqual(until(lambda: self.rev("a", alias), "OK"), ("OK", sender))


class ThroughPostfix(unittest.TestCase):
    N = 5

    @classmethod
    def setUpClass(cls):
        require_redis()
        fwdtest.require_programs(postfixtest.POSTFIX, postfixtest.SMTP_SINK)
        cls.dir = tempfile.mkdtemp(prefix="fwdauth-srs-postfix-")
        os.chmod(cls.dir, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.sock = os.path.join(cls.dir, "redis.sock")
        cls.redis = Redis(os.path.join(cls.dir, "redis"), cls.sock, persistent=True)
        cls.addClassCleanup(lambda: cls.redis.stop())
        secret = os.path.join(cls.dir, "srs.secret")
        fwdtest.write_secret(secret, SECRET)
        secret_b = os.path.join(cls.dir, "srs-b.secret")
        fwdtest.write_secret(secret_b, SECRET_B)
        password = os.path.join(cls.dir, "redis-password")
        fwdtest.write_secret(password, PASSWORD)
        dmap = os.path.join(cls.dir, "srs-domains")
        with open(dmap, "w") as f:
            f.write("# forwarding domain, its SRS domain, its own secrets\n"
                    "cust-a.test  srs.cust-a.test\n"
                    "cust-b.test  srs.cust-b.test  %s\n" % secret_b)
        zone = os.path.join(cls.dir, "empty.zone")
        with open(zone, "w"):
            pass
        cls.ports = {k: fwdtest.free_port() for k in ("smap", "milter")}
        conf = os.path.join(cls.dir, "fwdauthd.conf")
        fwdtest.write_config(
            conf, srs_domain=DOMAIN, srs_secrets=secret,
            socketmap_listen="inet:127.0.0.1:%d" % cls.ports["smap"],
            milter_listen="inet:127.0.0.1:%d" % cls.ports["milter"],
            authserv_id="mx.ourdomain.test",
            internal_hosts="192.0.2.254/32",
            forward_recipients="alias@ourdomain.test, fwd@cust-a.test, fwd@cust-b.test",
            srs_forwarded_mail="yes",
            srs_store="redis:unix:" + cls.sock,
            srs_store_password=password,
            srs_domain_map=dmap,
            dns_zone_file=zone)
        cls.daemon = fwdtest.Daemon(conf, os.path.join(cls.dir, "fwdauthd.log"))
        cls.addClassCleanup(stop_and_check, cls.daemon)
        for p in cls.ports.values():
            fwdtest.wait_for_port(p, proc=cls.daemon.proc)

        cls.pf_text = readme_main_cf("smtpd_milters", {
            "127.0.0.1:8891": "127.0.0.1:%d" % cls.ports["milter"],
            "127.0.0.1:10003": "127.0.0.1:%d" % cls.ports["smap"],
            "srs.example.net": DOMAIN + ", srs.cust-a.test, srs.cust-b.test"})
        cls.pf = postfixtest.Postfix(cls.dir)
        cls.addClassCleanup(cls.pf.stop)
        cls.remote = cls.pf.sink("remote.test")
        cls.sender = cls.pf.sink("sender.test")
        transport = cls.pf._transport_maps().rstrip(" }") + ", bounce.test=error:gone }"
        cls.pf.start({
            "mynetworks": "127.0.0.1/32",
            "virtual_alias_maps": "inline:{ ourdomain.test=domain, cust-a.test=domain, "
                                  "cust-b.test=domain, alias@ourdomain.test=gone@bounce.test, "
                                  "fwd@cust-a.test=user@remote.test, "
                                  "fwd@cust-b.test=user@remote.test }",
            "transport_maps": transport,
            # the next hop's refusal waits for the test (postfix flush)
            "defer_transports": "error",
        }, main_cf_text=cls.pf_text)

    # test_postfix's, without its tests (which assume stateless SRS)
    send_from_outside = OutsideBounces.send_from_outside
    rcpt_from = OutsideBounces.rcpt_from

    def forward_one(self, sender, rcpt, subject):
        self.send_from_outside(sender, rcpt, message(sender, rcpt, subject))

    def test_a_srs_domain_per_forwarding_domain(self):
        got = {}
        for cust in ("cust-a", "cust-b"):
            subject = "%s-%s" % (cust, uuid.uuid4().hex)
            sender = "someone-%s@sender.test" % cust
            self.forward_one(sender, "fwd@%s.test" % cust, subject)
            [m] = postfixtest.wait_for_delivery(self.remote, 60,
                                                lambda m, s=subject: m.header("Subject") == s)
            self.assertTrue(m.mail_from.startswith("SRS0="), m.mail_from)
            self.assertTrue(m.mail_from.endswith("@srs.%s.test" % cust), m.mail_from)
            got[cust] = (sender, m.mail_from)
        # cust-b signs with its own secret: its hash differs from the default's
        check = run([FWDAUTH, "srs", "reverse", "--srs-domain", "srs.cust-b.test", "--secrets",
                     os.path.join(self.dir, "srs.secret"), got["cust-b"][1]])
        self.assertEqual(check.returncode, 1, check.stdout + check.stderr)
        # a bounce from outside to each comes home
        for cust, (sender, srs) in got.items():
            subject = "bounce-%s-%s" % (cust, uuid.uuid4().hex)
            self.send_from_outside("", srs, message("MAILER-DAEMON@remote.test", srs, subject))
            [b] = postfixtest.wait_for_delivery(self.sender, 60,
                                                lambda m, s=subject: m.header("Subject") == s)
            self.assertEqual((b.mail_from, b.rcpt_to), ("", [sender]))

    def test_b_queued_bounce_delivered_once_the_store_is_back(self):
        tag = uuid.uuid4().hex[:8]
        senders = [long_sender("q" + tag, i) for i in range(self.N)]
        for i, s in enumerate(senders):
            self.forward_one(s, "alias@ourdomain.test", "queued-%s-%d" % (tag, i))
        # all N queued for the next hop (deferred transport), senders aliased
        self.pf.wait_for_log("status=deferred (deferred transport)", 60)
        deadline = time.monotonic() + 60
        while self.pf.log_text().count("status=deferred (deferred transport)") < self.N:
            self.assertLess(time.monotonic(), deadline, self.pf.log_text()[-3000:])
            time.sleep(0.2)
        # the alias the milter gave senders[0] (the same key: the same alias)
        status, alias = socketmap(self.ports["smap"], "forward", senders[0])
        self.assertEqual(status, "OK", alias)
        self.redis.stop()
        try:
            # a bounce from outside to an alias is told to come back later
            code, text = self.rcpt_from(OUTSIDE, alias)
            self.assertEqual(code, 451, text)
            # a new long sender is refused for now, a short one goes on
            with self.assertRaises(smtplib.SMTPDataError) as cm:
                self.forward_one(long_sender("new" + tag), "fwd@cust-a.test", "new-" + tag)
            self.assertEqual(cm.exception.smtp_code, 451)
            subject = "short-%s" % tag
            self.forward_one("short-%s@sender.test" % tag, "fwd@cust-a.test", subject)
            [m] = postfixtest.wait_for_delivery(self.remote, 60,
                                                lambda m: m.header("Subject") == subject)
            self.assertTrue(m.mail_from.endswith("@srs.cust-a.test"), m.mail_from)
            # the next hop refuses the N messages: Postfix bounces to the aliases,
            # which cannot be reversed now, so the bounces stay queued
            self.pf.postfix("flush")
            deadline = time.monotonic() + 90
            while self.pf.log_text().count("map lookup problem") < self.N:
                self.assertLess(time.monotonic(), deadline, self.pf.log_text()[-4000:])
                time.sleep(0.5)
            # Postfix keeps each message with its bounce to do
            while self.pf.log_text().count("status=deferred (bounce failed)") < self.N:
                self.assertLess(time.monotonic(), deadline, self.pf.log_text()[-4000:])
                time.sleep(0.5)
            time.sleep(2)
            self.assertEqual([m for m in postfixtest.sink_messages(self.sender)
                              if m.rcpt_to and m.rcpt_to[0] in senders], [])
        finally:
            type(self).redis = Redis(os.path.join(self.dir, "redis"), self.sock,
                                     persistent=True)
        until(lambda: socketmap(self.ports["smap"], "forward", long_sender("probe")), "OK")
        self.pf.postfix("flush")
        bounces = postfixtest.wait_for_delivery(
            self.sender, 180, lambda m: m.rcpt_to and m.rcpt_to[0] in senders, count=self.N)
        time.sleep(3)  # nothing more arrives
        bounces = [m for m in postfixtest.sink_messages(self.sender)
                   if m.rcpt_to and m.rcpt_to[0] in senders]
        self.assertEqual(sorted(m.rcpt_to[0] for m in bounces), sorted(senders))
        self.assertTrue(all(m.mail_from == "" for m in bounces), bounces)


if __name__ == "__main__":
    unittest.main()
