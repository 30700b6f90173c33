#!/usr/bin/python3
"""Write a realistic Postfix log for bench/logscan.sh.

Transactions as a forwarding mail server logs them (classic syslog stamps,
one host), repeated with unique, incrementing queue IDs and time stamps
until the file reaches --size-mb:
  - inbound mail relayed out and delivered (smtpd connect/client, cleanup
    message-id, qmgr from=, smtp/lmtp to= status=sent, removed, disconnect);
  - alias forwarding with SRS senders and orig_to=, delivered or refused by
    the receiver: Microsoft 5.7.509, Gmail 5.7.26 (bounced, with a bounce
    notification that is itself delivered), 5.1.1 unknown user;
  - greylisting deferrals (4.7.1), retried and delivered later in the log;
  - pickup and local(8) "forwarded as" (root's mail sent on);
  - smtpd NOQUEUE rejects, cleanup header rejects and milter-rejects;
  - lines of other programs (dovecot, opendkim, CRON, systemd) and Postfix
    lines without a queue ID (warnings, anvil, scache statistics).
The counts pflogsumm's Grand Totals must show are written to --expect as
JSON (received, delivered, forwarded, deferred, deferrals, bounced,
rejected), and the number of lines written too.

usage: logscan_gen.py --size-mb N --out FILE [--expect FILE] [--seed N]
"""
import argparse
import json
import random
import sys
import time

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
HOST = "mx1"
MYDOMAIN = "fwd.example.net"

OUTLOOK = ("host example-com.mail.protection.outlook.com[52.101.68.%d] said: 550 5.7.509 Access "
           "denied, sending domain %s does not pass DMARC verification and has a DMARC policy of "
           "reject. [AM4PEPF00027A5F.eurprd04.prod.outlook.com 2026-11-05T12:54:43.731Z "
           "08DCFD0A7E2F4B1C] (in reply to end of DATA command)")
GMAIL = ("host gmail-smtp-in.l.google.com[142.250.102.%d] said: 550-5.7.26 Unauthenticated email "
         "from %s is not accepted due to domain's 550-5.7.26 DMARC policy. Please contact the "
         "administrator of %s domain 550-5.7.26 if this was a legitimate mail. To learn about the "
         "DMARC initiative, 550 5.7.26 go to https://support.google.com/mail/?p=DmarcRejection "
         "a640c23a62f3a-a9a0f1c8e0dsi123456766b.512 - gsmtp (in reply to end of DATA command)")
GREYLIST = ("host mx.%s[198.51.100.%d] said: 451 4.7.1 <%s>: Recipient address rejected: "
            "Greylisted, see https://postgrey.schweikert.ch/help/%s.html (in reply to RCPT TO "
            "command)")
UNKNOWN = ("host mx.%s[198.51.100.%d] said: 550 5.1.1 <%s>: Recipient address rejected: User "
           "unknown in virtual mailbox table (in reply to RCPT TO command)")

SENDER_DOMAINS = ["example.org", "news.example.com", "shop.example", "bank.example", "lists.example",
                  "corp.example", "mail.example.info", "university.example.edu"]
RCPT_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "gmx.example", "web.example",
                "company.example", "isp.example"]
LOCAL_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
NAMES = ["john.smith", "newsletter", "noreply", "billing", "m.mueller", "support", "info", "jane"]


class Gen:
    def __init__(self, out, start, span, limit, seed):
        self.out = out
        self.rnd = random.Random(seed)
        self.start, self.span, self.limit = start, span, limit
        self.qid = 0x3F1A2B0000
        self.buf = []
        self.size = 0
        self.lines = 0
        self._sec = None
        self._stamp = ""
        self.retries = []  # (due transaction number, qid, sender, rcpt, relay)
        self.n = 0
        self.x = dict(received=0, delivered=0, forwarded=0, deferred=0, deferrals=0, bounced=0,
                      rejected=0)

    def stamp(self):
        # Time advances with the bytes written: the log spans exactly span seconds.
        s = int(self.start + self.span * self.size / self.limit)
        if s != self._sec:
            tm = time.localtime(s)
            self._stamp = "%s %2d %02d:%02d:%02d %s " % (MONTHS[tm.tm_mon - 1], tm.tm_mday,
                                                        tm.tm_hour, tm.tm_min, tm.tm_sec, HOST)
            self._sec = s
        return self._stamp

    def emit(self, text):
        line = self.stamp() + text + "\n"
        self.buf.append(line)
        self.size += len(line)
        self.lines += 1

    def new_qid(self):
        self.qid += self.rnd.randint(1, 7)
        return "%010X" % self.qid

    def flush(self):
        self.out.write("".join(self.buf))
        self.buf = []

    # ---- pieces -------------------------------------------------------
    def client(self):
        r = self.rnd
        a, b = r.randint(1, 254), r.randint(1, 254)
        return "mail%d.%s" % (a % 7, r.choice(SENDER_DOMAINS)), "192.0.%d.%d" % (a, b)

    def connect(self, pid, host, ip):
        self.emit("postfix/smtpd[%d]: connect from %s[%s]" % (pid, host, ip))

    def disconnect(self, pid, host, ip, rcpts=1):
        self.emit("postfix/smtpd[%d]: disconnect from %s[%s] ehlo=2 starttls=1 mail=1 rcpt=%d "
                  "data=1 quit=1 commands=%d" % (pid, host, ip, rcpts, 6 + rcpts))

    def receive(self, qid, pid, host, ip, sender, size, nrcpt):
        self.emit("postfix/smtpd[%d]: %s: client=%s[%s]" % (pid, qid, host, ip))
        self.x["received"] += 1
        self.emit("postfix/cleanup[%d]: %s: message-id=<%x.%s@%s>" % (
            pid + 3, qid, self.qid * 31, qid.lower(), sender.split("@")[-1] or MYDOMAIN))
        if self.rnd.random() < 0.5:
            self.emit("opendkim[612]: %s: %s [%s] not internal" % (qid, host, ip))
            self.emit("opendkim[612]: %s: DKIM verification successful" % qid)
        self.emit("postfix/qmgr[996]: %s: from=<%s>, size=%d, nrcpt=%d (queue active)" % (
            qid, sender, size, nrcpt))

    def sent(self, qid, rcpt, relay, orig_to=None, reply="250 2.0.0 OK", agent="smtp"):
        o = ", orig_to=<%s>" % orig_to if orig_to else ""
        self.emit("postfix/%s[%d]: %s: to=<%s>%s, relay=%s, delay=%.2f, delays=%.2f/0.01/%.2f/%.2f, "
                  "dsn=2.0.0, status=sent (%s)" % (
                      agent, 4100 + self.rnd.randint(0, 40), qid, rcpt, o, relay,
                      self.rnd.random() * 3, self.rnd.random() * 0.2, self.rnd.random(),
                      self.rnd.random(), reply))
        self.x["delivered"] += 1

    def failed(self, qid, rcpt, relay, dsn, status, reply, orig_to=None):
        o = ", orig_to=<%s>" % orig_to if orig_to else ""
        self.emit("postfix/smtp[%d]: %s: to=<%s>%s, relay=%s, delay=%.1f, "
                  "delays=0.1/0.01/0.3/0.5, dsn=%s, status=%s (%s)" % (
                      4100 + self.rnd.randint(0, 40), qid, rcpt, o, relay,
                      self.rnd.random() * 2, dsn, status, reply))
        self.x["bounced" if status == "bounced" else "deferrals"] += 1

    def removed(self, qid):
        self.emit("postfix/qmgr[996]: %s: removed" % qid)

    def notify(self, qid, sender):
        """The bounce notification to sender, delivered."""
        nq = self.new_qid()
        self.emit("postfix/cleanup[4713]: %s: message-id=<%s.%s@%s>" % (nq, "20261105", nq, MYDOMAIN))
        self.emit("postfix/bounce[4716]: %s: sender non-delivery notification: %s" % (qid, nq))
        self.emit("postfix/qmgr[996]: %s: from=<>, size=%d, nrcpt=1 (queue active)" % (
            nq, 3000 + self.rnd.randint(0, 4000)))
        self.removed(qid)
        dom = sender.split("@")[-1]
        self.sent(nq, sender, "mx.%s[192.0.2.%d]:25" % (dom, self.rnd.randint(1, 254)),
                  reply="250 2.0.0 Ok: queued as %X" % self.rnd.getrandbits(36))
        self.removed(nq)

    def srs(self, sender):
        user, dom = sender.split("@")
        r = self.rnd
        h = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                    for _ in range(4))
        return "SRS0=%s=%s=%s=%s@%s" % (h, r.choice(["I2", "I3", "I4"]), dom, user, MYDOMAIN)

    # ---- transactions -------------------------------------------------
    def tx_relay(self):
        r = self.rnd
        pid = 4700 + r.randint(0, 60)
        host, ip = self.client()
        qid = self.new_qid()
        sender = "%s@%s" % (r.choice(NAMES), r.choice(SENDER_DOMAINS))
        n = r.choice([1, 1, 1, 2, 3])
        self.connect(pid, host, ip)
        self.receive(qid, pid, host, ip, sender, r.randint(2000, 90000), n)
        for i in range(n):
            if r.random() < 0.5:
                user = r.choice(LOCAL_USERS)
                self.sent(qid, "%s@%s" % (user, MYDOMAIN), "mx1.%s[private/dovecot-lmtp]" % MYDOMAIN,
                          reply="250 2.0.0 <%s@%s> Saved" % (user, MYDOMAIN), agent="lmtp")
            else:
                d = r.choice(RCPT_DOMAINS)
                self.sent(qid, "%s%d@%s" % (r.choice(LOCAL_USERS), i, d),
                          "mx.%s[203.0.113.%d]:25" % (d, r.randint(1, 254)))
        self.removed(qid)
        self.disconnect(pid, host, ip, n)

    def tx_forward(self):
        """A message to an alias, forwarded with an SRS sender."""
        r = self.rnd
        pid = 4700 + r.randint(0, 60)
        host, ip = self.client()
        qid = self.new_qid()
        dom = r.choice(SENDER_DOMAINS)
        real = "%s@%s" % (r.choice(NAMES), dom)
        sender = self.srs(real)
        user = r.choice(LOCAL_USERS)
        alias = "%s@%s" % (user, MYDOMAIN)
        self.connect(pid, host, ip)
        self.receive(qid, pid, host, ip, sender, r.randint(2000, 90000), 1)
        k = r.random()
        if k < 0.40:
            self.sent(qid, "%s.fwd@gmail.com" % user, "gmail-smtp-in.l.google.com[142.250.102.%d]:25"
                      % r.randint(1, 254), orig_to=alias,
                      reply="250 2.0.0 OK  1730800000 a640c23a62f3a-a9a0f1c8e0dsi1.512 - gsmtp")
            self.removed(qid)
        elif k < 0.65:
            self.failed(qid, "%s@outlook.com" % user, "example-com.mail.protection.outlook.com"
                        "[52.101.68.13]:25", "5.7.509", "bounced",
                        OUTLOOK % (r.randint(1, 254), dom.upper()), orig_to=alias)
            self.notify(qid, sender)
        elif k < 0.85:
            self.failed(qid, "%s.fwd@gmail.com" % user, "gmail-smtp-in.l.google.com"
                        "[142.250.102.27]:25", "5.7.26", "bounced",
                        GMAIL % (r.randint(1, 254), dom, dom), orig_to=alias)
            self.notify(qid, sender)
        else:
            d = r.choice(RCPT_DOMAINS[3:])
            rc = "%s.old@%s" % (user, d)
            self.failed(qid, rc, "mx.%s[198.51.100.7]:25" % d, "5.1.1", "bounced",
                        UNKNOWN % (d, r.randint(1, 254), rc), orig_to=alias)
            self.notify(qid, sender)
        self.disconnect(pid, host, ip)

    def tx_greylist(self):
        """Deferred by greylisting; the retry comes later in the log."""
        r = self.rnd
        pid = 4700 + r.randint(0, 60)
        host, ip = self.client()
        qid = self.new_qid()
        sender = "%s@%s" % (r.choice(NAMES), r.choice(SENDER_DOMAINS))
        d = r.choice(RCPT_DOMAINS[3:])
        rc = "%s@%s" % (r.choice(LOCAL_USERS), d)
        relay = "mx.%s[198.51.100.%d]:25" % (d, r.randint(1, 254))
        self.connect(pid, host, ip)
        self.receive(qid, pid, host, ip, sender, r.randint(2000, 90000), 1)
        self.failed(qid, rc, relay, "4.7.1", "deferred", GREYLIST % (d, r.randint(1, 254), rc, d))
        self.x["deferred"] += 1
        self.disconnect(pid, host, ip)
        tries = r.choice([1, 1, 2])
        self.retries.append((self.n + r.randint(30, 300), qid, sender, rc, relay, tries))

    def retry(self, qid, sender, rc, relay, tries):
        self.emit("postfix/qmgr[996]: %s: from=<%s>, size=%d, nrcpt=1 (queue active)" % (
            qid, sender, self.rnd.randint(2000, 90000)))
        if tries > 1:
            d = rc.split("@")[1]
            self.failed(qid, rc, relay, "4.7.1", "deferred",
                        GREYLIST % (d, self.rnd.randint(1, 254), rc, d))
            self.retries.append((self.n + self.rnd.randint(30, 300), qid, sender, rc, relay,
                                 tries - 1))
            return
        self.sent(qid, rc, relay, reply="250 2.0.0 Ok: queued as %X" % self.rnd.getrandbits(40))
        self.removed(qid)

    def tx_local(self):
        """cron mail to root, forwarded by local(8) to the admin."""
        r = self.rnd
        qid, nq = self.new_qid(), None
        self.emit("postfix/pickup[998]: %s: uid=0 from=<root>" % qid)
        self.x["received"] += 1
        self.emit("postfix/cleanup[4713]: %s: message-id=<%s.%s@%s>" % (qid, "20261105", qid,
                                                                         MYDOMAIN))
        self.emit("postfix/qmgr[996]: %s: from=<root@%s>, size=%d, nrcpt=1 (queue active)" % (
            qid, MYDOMAIN, r.randint(600, 3000)))
        nq = self.new_qid()
        self.emit("postfix/cleanup[4713]: %s: message-id=<%s.%s@%s>" % (nq, "20261105", qid,
                                                                         MYDOMAIN))
        self.emit("postfix/local[4720]: %s: to=<root@%s>, orig_to=<root>, relay=local, delay=0.03, "
                  "delays=0.01/0.01/0/0.01, dsn=2.0.0, status=sent (forwarded as %s)" % (
                      qid, MYDOMAIN, nq))
        self.x["forwarded"] += 1
        self.emit("postfix/qmgr[996]: %s: from=<root@%s>, size=%d, nrcpt=1 (queue active)" % (
            nq, MYDOMAIN, r.randint(700, 3100)))
        self.removed(qid)
        self.sent(nq, "admin@company.example", "mx.company.example[203.0.113.5]:25",
                  orig_to="root", reply="250 2.0.0 Ok: queued as 4NkH9W1n7Ca0tU4")
        self.removed(nq)

    def tx_reject(self):
        r = self.rnd
        pid = 4700 + r.randint(0, 60)
        ip = "203.0.113.%d" % r.randint(1, 254)
        self.connect(pid, "unknown", ip)
        k = r.random()
        rcpt = "%s@%s" % (r.choice(LOCAL_USERS), MYDOMAIN)
        frm = "%s@%s" % (r.choice(NAMES), r.choice(["spam.example", "bulk.example", "x.example"]))
        if k < 0.5:
            self.emit("postfix/smtpd[%d]: NOQUEUE: reject: RCPT from unknown[%s]: 450 4.7.25 "
                      "Client host rejected: cannot find your hostname, [%s]; from=<%s> to=<%s> "
                      "proto=ESMTP helo=<[%s]>" % (pid, ip, ip, frm, rcpt, ip))
        elif k < 0.8:
            self.emit("postfix/smtpd[%d]: NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 "
                      "<x@relay.example>: Relay access denied; from=<%s> to=<x@relay.example> "
                      "proto=ESMTP helo=<ylmf-pc>" % (pid, ip, frm))
        else:
            self.emit("postfix/smtpd[%d]: NOQUEUE: reject: RCPT from unknown[%s]: 554 5.7.1 "
                      "Service unavailable; Client host [%s] blocked using zen.spamhaus.org; "
                      "from=<%s> to=<%s> proto=ESMTP helo=<%s>" % (pid, ip, ip, frm, rcpt, ip))
        self.x["rejected"] += 1
        self.emit("postfix/smtpd[%d]: lost connection after RCPT from unknown[%s]" % (pid, ip))
        self.emit("postfix/smtpd[%d]: disconnect from unknown[%s] ehlo=1 mail=1 rcpt=0/1 "
                  "commands=2/3" % (pid, ip))

    def tx_content_reject(self):
        r = self.rnd
        pid = 4700 + r.randint(0, 60)
        host, ip = self.client()
        qid = self.new_qid()
        frm = "%s@%s" % (r.choice(NAMES), r.choice(SENDER_DOMAINS))
        rcpt = "%s@%s" % (r.choice(LOCAL_USERS), MYDOMAIN)
        self.connect(pid, host, ip)
        self.emit("postfix/smtpd[%d]: %s: client=%s[%s]" % (pid, qid, host, ip))
        self.x["received"] += 1
        if r.random() < 0.5:
            self.emit("postfix/cleanup[4713]: %s: milter-reject: END-OF-MESSAGE from %s[%s]: "
                      "5.7.1 DMARC policy of %s is reject; from=<%s> to=<%s> proto=ESMTP helo=<%s>"
                      % (qid, host, ip, frm.split("@")[1], frm, rcpt, host))
        else:
            self.emit("postfix/cleanup[4713]: %s: reject: header Subject: You have won!!! from "
                      "%s[%s]; from=<%s> to=<%s> proto=ESMTP helo=<%s>: 5.7.1 message content "
                      "rejected" % (qid, host, ip, frm, rcpt, host))
        self.x["rejected"] += 1
        self.disconnect(pid, host, ip)

    def noise(self):
        r = self.rnd
        k = r.random()
        if k < 0.3:
            u = r.choice(LOCAL_USERS)
            self.emit("dovecot: imap-login: Login: user=<%s@%s>, method=PLAIN, rip=192.0.2.%d, "
                      "lip=198.51.100.1, mpid=%d, TLS, session=<%s>" % (
                          u, MYDOMAIN, r.randint(1, 254), r.randint(1000, 60000),
                          "%x" % r.getrandbits(48)))
        elif k < 0.45:
            self.emit("CRON[%d]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)"
                      % r.randint(1000, 60000))
        elif k < 0.6:
            self.emit("postfix/anvil[4800]: statistics: max connection rate 3/60s for "
                      "(smtp:192.0.2.%d) at Nov  5 13:50:11" % r.randint(1, 254))
        elif k < 0.75:
            self.emit("postfix/smtpd[%d]: warning: hostname host-%d.example does not resolve to "
                      "address 203.0.113.%d: Name or service not known" % (
                          4700 + r.randint(0, 60), r.randint(1, 9999), r.randint(1, 254)))
        elif k < 0.9:
            self.emit("postfix/scache[4801]: statistics: domain lookup hits=12 miss=40 success=23%")
        else:
            self.emit("systemd[1]: Started session-%d.scope - Session %d of User root." % (
                r.randint(1, 9999), r.randint(1, 9999)))

    def run(self, limit):
        r = self.rnd
        kinds = [(0.46, self.tx_relay), (0.62, self.tx_forward), (0.70, self.tx_greylist),
                 (0.76, self.tx_local), (0.90, self.tx_reject), (0.93, self.tx_content_reject),
                 (1.0, self.noise)]
        while self.size < limit:
            self.n += 1
            k = r.random()
            for p, f in kinds:
                if k < p:
                    f()
                    break
            while self.retries and self.retries[0][0] <= self.n:
                _, qid, sender, rc, relay, tries = self.retries.pop(0)
                self.retry(qid, sender, rc, relay, tries)
            self.retries.sort()
            if len(self.buf) > 20000:
                self.flush()
        self.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--expect")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    limit = int(a.size_mb * 1024 * 1024)
    # Three days of log, ending an hour ago (the file's mtime is after every line).
    span = 3 * 86400
    start = int(time.time()) - 3600 - span
    with open(a.out, "w", buffering=1 << 20) as f:
        g = Gen(f, start, span, limit, a.seed)
        g.run(limit)
    g.x["lines"] = g.lines
    if a.expect:
        with open(a.expect, "w") as f:
            json.dump(g.x, f)
    print(json.dumps(g.x), file=sys.stderr)


if __name__ == "__main__":
    main()
