#!/usr/bin/python3
"""Writes fuzz/seeds/mailflow/: milter connections as Postfix sends them, for
fuzz_mailflow (see fuzz_mailflow.c for the daemon and DNS zone they meet).

    fuzz/mailflow_seeds.py BUILD/bin

Each seed is one octet that picks fuzz_mailflow's configuration (0: one
stage, 1: two stages), then one connection: option negotiation, macros, connect, HELO,
then one or more transactions (MAIL, RCPT, header fields, end of header,
body, end of message) and QUIT. Messages from example.org are signed with
the fuzz target's test key (s1._domainkey.example.org) by `fwdauth dkim
sign`, and one carries an ARC set sealed by fwd.example.com (`fwdauth arc
sign`), so that the fuzzer starts from passing signatures, chains and SPF
results, and reaches every class: local, forwarded, originating,
forwarded with a From rewrite, spoofs refused, DNS timeouts (slow.example),
a second stage, an aborted message."""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "seeds", "mailflow")
KEY = ("-----BEGIN PRIVATE KEY-----\n"
       "MC4CAQAwBQYDK2VwBCIEIHMhEmyHm9awoLa40eSHV3ZjZdIHwPEsVm/4MHwuuTk2\n"
       "-----END PRIVATE KEY-----\n")
P = "W70yeSsVDI4Cs25KW45xt+c5Y4RlnBmrvn5MO6HK77Y="
ZONE = "".join('%s. 300 IN TXT "v=DKIM1; k=ed25519; p=%s"\n' % (o, P) for o in (
    "s1._domainkey.example.org", "arc._domainkey.fwd.example.com",
    "arc._domainkey.example.net", "fwd._domainkey.example.net")) + (
    'example.org. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
    '_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"\n'
    'fwd.example.com. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"\n')


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def macros(cmd, **kv):
    return pkt(b"D", cmd + b"".join(b"%s\0%s\0" % (k.encode(), v.encode())
                                    for k, v in kv.items()))


def connect(ip, helo, daemon="smtpd"):
    # Postfix 3.x: version 6, every action, every protocol step it offers.
    s = pkt(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
    s += macros(b"C", j="mx.example.net", _="%s [%s]" % (helo, ip),
                **{"{daemon_name}": daemon, "{client_addr}": ip})
    s += pkt(b"C", helo.encode() + b"\0" + b"4" + struct.pack(">H", 4567) + ip.encode() + b"\0")
    s += pkt(b"H", helo.encode() + b"\0")
    return s


def message(sender, rcpts, msg, qid, auth=None, abort=False):
    mk = {"i": qid, "{mail_addr}": sender}
    if auth:
        mk["{auth_authen}"] = auth
        mk["{auth_type}"] = "PLAIN"
    s = macros(b"M", **mk)
    s += pkt(b"M", b"<%s>\0" % sender.encode() + (b"SIZE=100\0" if auth else b""))
    for r in rcpts:
        s += macros(b"R", **{"{rcpt_addr}": r})
        s += pkt(b"R", b"<%s>\0" % r.encode())
    head, _, body = msg.partition(b"\r\n\r\n")
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b"\r\n" + line
        else:
            n, _, v = line.partition(b":")
            fields.append([n, v[1:] if v.startswith(b" ") else v])
    for n, v in fields:
        s += pkt(b"L", n + b"\0" + v + b"\0")
    s += pkt(b"N")
    if abort:
        return s + pkt(b"A")
    for i in range(0, len(body), 65535):
        s += pkt(b"B", body[i:i + 65535])
    s += macros(b"E", i=qid)
    return s + pkt(b"E")


def quit_():
    return pkt(b"Q")


def mail(frm, to, subject, extra=b"", body=b"Hello.\r\n"):
    return (b"From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Wed, 02 Dec 2026 12:00:00 +0000\r\n"
            b"Message-ID: <%s@example.org>\r\n%s\r\n%s" % (
                frm.encode(), to.encode(), subject.encode(),
                subject.replace(" ", "-").encode(), extra, body))


def main():
    bindir = sys.argv[1]
    fwdauth = os.path.join(bindir, "fwdauth")
    tmp = tempfile.mkdtemp(prefix="mailflow-seeds-")
    keyp = os.path.join(tmp, "k.pem")
    with open(keyp, "w") as f:
        f.write(KEY)
    os.chmod(keyp, 0o600)
    zonep = os.path.join(tmp, "zone")
    with open(zonep, "w") as f:
        f.write(ZONE)

    def tool(args, msg):
        p = os.path.join(tmp, "m.eml")
        with open(p, "wb") as f:
            f.write(msg)
        r = subprocess.run([fwdauth] + args + [p], capture_output=True, check=True)
        return r.stdout

    def sign(msg):
        return tool(["dkim", "sign", "-d", "example.org", "-s", "s1", "-k", keyp], msg)

    signed = sign(mail("Alice <alice@example.org>", "bob@example.net", "signed"))
    fwd_signed = sign(mail("Alice <alice@example.org>", "fwd@example.net", "to forward",
                           body=b"A longer body.\r\n\r\n-- \r\nAlice\r\n"))
    sealed = tool(["arc", "sign", "-d", "fwd.example.com", "-s", "arc", "-k", keyp,
                   "--authserv-id", "mx.fwd.example.com", "--dns-zone", zonep],
                  sign(mail("Alice <alice@example.org>", "list@fwd.example.com", "via a list")))
    spoof = mail("Alice <alice@example.org>", "fwd@example.net", "spoof")
    seeds = {
        "inbound-local": connect("192.0.2.7", "mail.example.org") +
        message("alice@example.org", ["bob@example.net"], signed, "A1") + quit_(),
        "inbound-forwarded": connect("192.0.2.7", "mail.example.org") +
        message("alice@example.org", ["fwd@example.net", "bob@example.net"], fwd_signed, "A2") +
        quit_(),
        "forwarded-arc-chain": connect("198.51.100.9", "mx.fwd.example.com") +
        message("list-bounces@fwd.example.com", ["list@example.net"], sealed, "A3") + quit_(),
        "spoof-refused": connect("203.0.113.5", "evil.test") +
        message("alice@example.org", ["fwd@example.net"], spoof, "A4") + quit_(),
        "originating": connect("10.1.2.3", "laptop", daemon="submission") +
        message("carol@example.net", ["dave@example.org"],
                mail("Carol <carol@example.net>", "dave@example.org", "from us"), "A5",
                auth="carol") + quit_(),
        "dns-timeout": connect("192.0.2.99", "slow.example") +
        message("x@slow.example", ["fwd@example.net"],
                mail("X <x@slow.example>", "fwd@example.net", "slow"), "A6") + quit_(),
        "two-stages-1": b"\1" + connect("192.0.2.7", "mail.example.org") +
        message("alice@example.org", ["fwd@example.net"], fwd_signed, "A7") + quit_(),
        "two-stages-2": b"\1" + connect("127.0.0.1", "localhost", daemon="stage2") +
        message("alice@example.org", ["fwd@example.net"], fwd_signed, "A9") + quit_(),
        "three-messages-one-aborted": connect("192.0.2.7", "mail.example.org") +
        message("alice@example.org", ["bob@example.net"], signed, "B1") +
        message("", ["fwd@example.net"],
                mail("MAILER-DAEMON <postmaster@example.org>", "fwd@example.net", "bounce"),
                "B2", abort=True) +
        message("alice@example.org", ["fwd@example.net"], spoof, "B3") + quit_(),
        "trusted-gateway": connect("192.0.2.50", "gw.example.net") +
        message("alice@example.org", ["fwd@example.net"], sign(mail(
            "Alice <alice@example.org>", "fwd@example.net", "gateway",
            extra=b"Authentication-Results: gw.example.net; spf=pass "
                  b"smtp.mailfrom=alice@example.org\r\n"
                  b"Authentication-Results: mx.example.net; dkim=pass (forged)\r\n")), "A8") +
        quit_(),
    }
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data if name.startswith("two-stages") else b"\0" + data)
    print("%d seeds in %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
