"""Keys as `fwdauth dkim keygen` writes them as root (owner root, mode 0600)
and a root-only SRS secrets file work at start AND across SIGHUP, with the
daemon's user nobody: fwdauthd's root master and its signer read them, not
the worker that dropped privileges (before privilege separation every
reload failed with "Permission denied" on such files).

The milter signs an originating message (a client on 127.0.0.1, inside the
default internal_hosts) with the SigningTable's key; the signature is
checked with `fwdauth dkim verify` against the zone line keygen printed.
On SIGHUP the SigningTable is switched to a second key made the same way:
the next message carries the new selector, so the reload read the new
root-only key.
"""
import os
import re
import signal
import struct
import time

import fwdtest
from fwdtest import FWDAUTH, run
from test_milter import RawMilter, optneg, packet

DOMAIN = "example.org"


def milter_sign(port, qid):
    """One originating message through the milter: the header fields it adds
    ({name: value}, from 'h' and 'i' packets) and the message as sent."""
    headers = [("From", " Alice <alice@example.org>"), ("To", " bob@example.net"),
               ("Subject", " reload " + qid), ("Message-ID", " <%s@example.org>" % qid)]
    body = b"Hello after a reload.\r\n"
    m = RawMilter(port, timeout=30)
    try:
        m.send(optneg())
        cmd, data = m.read_packet()
        assert cmd == b"O", cmd
        m.send(packet(b"D", b"Cj\0mx.example.org\0") +
               packet(b"C", b"localhost\0" + b"4" + struct.pack(">H", 4567) + b"127.0.0.1\0") +
               packet(b"H", b"localhost\0"))
        m.send(packet(b"M", b"<alice@example.org>\0") + packet(b"R", b"<bob@example.net>\0"))
        for name, value in headers:
            m.send(packet(b"L", name.encode() + b"\0" + value.encode() + b"\0"))
        m.send(packet(b"N") + packet(b"B", body) +
               packet(b"D", b"Ei\0" + qid.encode() + b"\0") + packet(b"E"))
        added = {}
        while True:
            cmd, data = m.read_packet()
            if cmd == b"h":
                name, value, _ = data.split(b"\0")
                added[name.decode()] = value.decode()
            elif cmd == b"i":
                name, value, _ = data[4:].split(b"\0")
                added[name.decode()] = value.decode()
            elif cmd in (b"c", b"a"):
                break
            elif cmd in (b"t", b"r", b"y"):
                raise AssertionError("milter refused the message: %r %r" % (cmd, data))
        m.send(packet(b"Q"))
    finally:
        m.close()
    text = "".join("%s:%s\r\n" % (n, v) for n, v in headers).encode() + b"\r\n" + body
    return added, text


class ReloadRootKeys(fwdtest.TestCase):
    def setUp(self):
        super().setUp()
        fwdtest.require(os.geteuid() == 0, "needs root: root-owned keys, the drop to nobody")
        fwdtest.require_programs(fwdtest.FWDAUTHD, FWDAUTH)
        self.keydir = os.path.join(self.dir, "keys")
        os.mkdir(self.keydir, 0o755)
        self.zone = os.path.join(self.dir, "keys.zone")
        open(self.zone, "w").close()

    def keygen(self, selector):
        r = run([FWDAUTH, "dkim", "keygen", "-d", DOMAIN, "-s", selector, "-o", self.keydir])
        self.assertEqual(r.returncode, 0, r.stderr)
        path = os.path.join(self.keydir, selector + ".private")
        st = os.stat(path)
        # As keygen leaves them when run as root: nobody else may read them.
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
        with open(self.zone, "a") as f:
            f.write(r.stdout.strip().splitlines()[-1] + "\n")
        return path

    def write_tables(self, selector):
        with open(os.path.join(self.dir, "KeyTable"), "w") as f:
            for sel in ("sel1", "sel2"):
                f.write("%s._domainkey.%s %s:%s:%s\n" % (
                    sel, DOMAIN, DOMAIN, sel, os.path.join(self.keydir, sel + ".private")))
        with open(os.path.join(self.dir, "SigningTable"), "w") as f:
            f.write("*@%s %s._domainkey.%s\n" % (DOMAIN, selector, DOMAIN))

    def signed_with(self, port, qid):
        added, text = milter_sign(port, qid)
        self.assertIn("DKIM-Signature", added, added)
        sig = added["DKIM-Signature"]
        path = os.path.join(self.dir, qid + ".eml")
        with open(path, "wb") as f:
            f.write(b"DKIM-Signature:" + sig.encode() + b"\r\n" + text)
        r = run([FWDAUTH, "dkim", "verify", "--dns-zone", self.zone, path])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return re.search(r"\bs=([a-z0-9]+)", sig).group(1)

    def test_root_only_keys_across_sighup(self):
        self.keygen("sel1")
        self.keygen("sel2")
        self.write_tables("sel1")
        secrets = os.path.join(self.dir, "secrets")
        fwdtest.write_secret(secrets, "reload-s3cret")  # root, 0600
        port = fwdtest.free_port()
        d = self.start_daemon({
            "srs_domain": "fwd.example.net",
            "srs_secrets": secrets,
            "milter_listen": "inet:127.0.0.1:%d" % port,
            "user": "nobody",
            "dkim_key_table": os.path.join(self.dir, "KeyTable"),
            "dkim_signing_table": "refile:" + os.path.join(self.dir, "SigningTable"),
            "dns_zone_file": self.zone,
            "log_level": "debug",
        })
        fwdtest.wait_for_port(port, timeout=30, proc=d.proc)
        self.assertEqual(self.signed_with(port, "START1"), "sel1")

        for n, sel in enumerate(("sel2", "sel1"), 1):
            self.write_tables(sel)
            d.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while d.logtext().count("reloaded ") < n and time.monotonic() < deadline:
                self.assertNotIn("reload failed", d.logtext())
                time.sleep(0.1)
            log = d.logtext()
            self.assertEqual(log.count("reloaded "), n, log)
            self.assertNotIn("reload failed", log)
            self.assertNotIn("Permission denied", log)
            self.assertEqual(self.signed_with(port, "HUP%d" % n), sel)
        self.assertEqual(d.stop(), 0)
