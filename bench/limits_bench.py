#!/usr/bin/python3
"""bench/limits_bench.py: fwdauthd's memory per connection, one binary.

Driven by bench/limits.sh (which builds the binaries and writes
BENCHMARKS.md); usable alone:

    limits_bench.py FWDAUTHD LABEL [-n IDLE] [-a ATTACK] >> results

For each scenario it starts FWDAUTHD afresh (socketmap, tcp_table and milter
listeners on free loopback ports, limits raised so that nothing is refused),
warms it up (one lookup, one milter handshake), takes the resident memory of
the daemon's processes (VmRSS summed over the process and its children), then:

  idle-socketmap  IDLE socketmap connections, one lookup answered on each
  idle-tcp        IDLE tcp_table connections, one lookup answered on each
  idle-milter     IDLE milter connections, each negotiated, connected, HELO
  big-1m          ATTACK milter connections, each inside a message, sending
                  all but 4 KiB of a header packet that declares 1 MiB
  big-256k        the same with a packet that declares 256 KiB (the largest
                  header the milter holds; above it a header is refused)

and takes the memory again 2 s after the last byte (and the peak, VmHWM).
Prints one line per scenario: RESULT label=... scenario=... conns=... base_kb=...
rss_kb=... hwm_kb=... per_conn_kb=... threads=...

Then the flood (issue 13: 550 idle sockets on the socketmap port made new
lookups fail and milter sessions reset), with the daemon's default limits:
for WINDOW seconds each, lookups answered per second on a new socketmap
connection per lookup (as `postmap -q` makes them), on one tcp_table
connection opened for the purpose, and milter sessions answered per second
(a new connection each, its option negotiation answered), each within 2 s
or counted as failed; first without a flood, then with FLOOD idle socketmap
connections open (each answered one lookup). Prints
RESULT label=... scenario=flood-STATE sm_ok=... sm_fail=... tcp_ok=...
tcp_fail=... milter_ok=... milter_fail=... (per second).
"""
import argparse
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("fwdauthd exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def tree(pid):
    """pid and its descendants (a privilege-separated daemon has children)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def memory(pid):
    """(VmRSS kB, VmHWM kB, threads) summed over the process tree."""
    rss = hwm = threads = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k == "VmRSS":
                        rss += int(v.split()[0])
                    elif k == "VmHWM":
                        hwm += int(v.split()[0])
                    elif k == "Threads":
                        threads += int(v)
        except OSError:
            pass
    return rss, hwm, threads


def netstring(s):
    return b"%d:%s," % (len(s), s)


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_packet(sock):
    def read(n):
        out = b""
        while len(out) < n:
            c = sock.recv(n - len(out))
            if not c:
                raise EOFError("closed")
            out += c
        return out
    (n,) = struct.unpack(">I", read(4))
    return read(n)


OPTNEG = packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
HANDSHAKE = (packet(b"D", b"Cj\0mx.test\0") +
             packet(b"C", b"client.test\0" + b"4" + struct.pack(">H", 4567) + b"192.0.2.7\0") +
             packet(b"H", b"client.test\0"))
MESSAGE = packet(b"M", b"<a@sender.test>\0") + packet(b"R", b"<b@rcpt.test>\0")


class Daemon:
    def __init__(self, binary, tmp, new_keys, raise_limits=True):
        self.ports = {k: free_port() for k in ("sm", "fwd", "milter")}
        secret = os.path.join(tmp, "secret")
        with open(secret, "w") as f:
            f.write("bench-limits-s3cret\n")
        os.chmod(secret, 0o600)
        conf = os.path.join(tmp, "fwdauthd.conf")
        limits = ("connection_limit = 20000\ntable_connection_limit = 5000\n"
                  "milter_connection_limit = 5000\n" if new_keys
                  else "connection_limit = 10000\n")
        if not raise_limits:
            limits = ""  # the defaults, as a site runs them
        with open(conf, "w") as f:
            f.write("srs_domain = fwd.example.net\nsrs_secrets = %s\n"
                    "socketmap_listen = inet:127.0.0.1:%d\n"
                    "tcp_forward_listen = inet:127.0.0.1:%d\n"
                    "milter_listen = inet:127.0.0.1:%d\n"
                    "authserv_id = mx.bench.invalid\nlog_level = error\n%s"
                    % (secret, self.ports["sm"], self.ports["fwd"], self.ports["milter"], limits))
        self.log = open(os.path.join(tmp, "fwdauthd.log"), "ab")
        self.proc = subprocess.Popen([binary, "-c", conf, "-f"], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for p in self.ports.values():
            wait_port(p, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def table_conn(port, proto):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    if proto == "socketmap":
        s.sendall(netstring(b"forward user@example.org"))
    else:
        s.sendall(b"get user@example.org\n")
    if not s.recv(4096):
        raise EOFError("table connection closed")
    return s


def milter_conn(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(OPTNEG)
    if read_packet(s)[:1] != b"O":
        raise RuntimeError("no option negotiation answer")
    s.sendall(HANDSHAKE)
    return s


def warm_up(d):
    table_conn(d.ports["sm"], "socketmap").close()
    table_conn(d.ports["fwd"], "tcp").close()
    milter_conn(d.ports["milter"]).close()
    time.sleep(1)


def big_header(port, declared, unsent):
    s = milter_conn(port)
    s.sendall(MESSAGE)
    name = b"X-Big\0"
    s.sendall(struct.pack(">I", declared) + b"L" + name +
              b"a" * (declared - 1 - len(name) - unsent))
    return s


def scenario(binary, label, name, n, tmp, new_keys):
    d = Daemon(binary, tmp, new_keys)
    socks = []
    try:
        warm_up(d)
        base = memory(d.proc.pid)[0]
        for _ in range(n):
            if name == "idle-socketmap":
                socks.append(table_conn(d.ports["sm"], "socketmap"))
            elif name == "idle-tcp":
                socks.append(table_conn(d.ports["fwd"], "tcp"))
            elif name == "idle-milter":
                socks.append(milter_conn(d.ports["milter"]))
            elif name == "big-1m":
                socks.append(big_header(d.ports["milter"], 1024 * 1024, 4096))
            else:
                socks.append(big_header(d.ports["milter"], 256 * 1024, 4096))
        time.sleep(2)
        rss, hwm, threads = memory(d.proc.pid)
        print("RESULT label=%s scenario=%s conns=%d base_kb=%d rss_kb=%d hwm_kb=%d "
              "per_conn_kb=%.1f threads=%d" % (label, name, n, base, rss, hwm,
                                               (rss - base) / n, threads), flush=True)
    finally:
        for s in socks:
            s.close()
        d.stop()


def rate(what, window):
    """(answered per second, failed per second) of what() for window seconds."""
    ok = failed = 0
    end = time.monotonic() + window
    while time.monotonic() < end:
        try:
            what()
            ok += 1
        except (OSError, EOFError, RuntimeError):
            failed += 1
    return ok / window, failed / window


def flood(binary, label, n, window, tmp, new_keys):
    d = Daemon(binary, tmp, new_keys, raise_limits=False)
    socks = []
    tcp = None
    try:
        warm_up(d)

        def sm_lookup():
            s = socket.create_connection(("127.0.0.1", d.ports["sm"]), timeout=2)
            try:
                s.sendall(netstring(b"forward user@example.org"))
                if not s.recv(4096):
                    raise EOFError("closed")
            finally:
                s.close()

        def tcp_lookup():
            nonlocal tcp
            try:
                if tcp is None:
                    tcp = socket.create_connection(("127.0.0.1", d.ports["fwd"]), timeout=2)
                tcp.sendall(b"get user@example.org\n")
                if not tcp.recv(4096):
                    raise EOFError("closed")
            except (OSError, EOFError):
                if tcp:
                    tcp.close()
                tcp = None
                raise

        def milter_session():
            s = socket.create_connection(("127.0.0.1", d.ports["milter"]), timeout=2)
            try:
                s.sendall(OPTNEG)
                if read_packet(s)[:1] != b"O":
                    raise RuntimeError("no option negotiation answer")
                s.sendall(packet(b"Q"))
            finally:
                s.close()

        for state in ("none", "socketmap"):
            if state == "socketmap":
                for _ in range(n):
                    try:
                        socks.append(table_conn(d.ports["sm"], "socketmap"))
                    except (OSError, EOFError):
                        break  # the old daemon stops answering at its limit
                time.sleep(1)
            sm = rate(sm_lookup, window)
            tc = rate(tcp_lookup, window)
            mi = rate(milter_session, window)
            print("RESULT label=%s scenario=flood-%s conns=%d sm_ok=%.0f sm_fail=%.1f "
                  "tcp_ok=%.0f tcp_fail=%.1f milter_ok=%.0f milter_fail=%.1f"
                  % (label, state, len(socks), sm[0], sm[1], tc[0], tc[1], mi[0], mi[1]),
                  flush=True)
    finally:
        if tcp:
            tcp.close()
        for s in socks:
            s.close()
        d.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fwdauthd")
    ap.add_argument("label")
    ap.add_argument("-n", type=int, default=1000, help="idle connections per service")
    ap.add_argument("-a", type=int, default=400, help="connections in the big-packet runs")
    ap.add_argument("-f", type=int, default=550, help="idle socketmap connections in the flood")
    ap.add_argument("-w", type=float, default=3, help="seconds per rate in the flood")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * max(args.n, args.a) + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as empty:
        dump = subprocess.run([args.fwdauthd, "-a", "-c", empty.name], capture_output=True,
                              text=True)
    new_keys = "table_connection_limit" in dump.stdout
    for name, n in (("idle-socketmap", args.n), ("idle-tcp", args.n),
                    ("idle-milter", args.n), ("big-1m", args.a), ("big-256k", args.a)):
        tmp = tempfile.mkdtemp(prefix="fwdauth-limits-")
        os.chmod(tmp, 0o755)
        try:
            scenario(args.fwdauthd, args.label, name, n, tmp, new_keys)
        finally:
            shutil.rmtree(tmp, True)
    tmp = tempfile.mkdtemp(prefix="fwdauth-limits-")
    os.chmod(tmp, 0o755)
    try:
        flood(args.fwdauthd, args.label, args.f, args.w, tmp, new_keys)
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    sys.exit(main())
