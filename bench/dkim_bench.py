"""Driver of bench/dkim.sh (see there): runs the peers, writes BENCHMARKS.md."""
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.environ["ROOT"]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import dkim  # noqa: E402

from bench_md import machine_line, write_section  # noqa: E402

import dkimpeers  # noqa: E402

SECS = float(os.environ["SECS"])
REPEAT = int(os.environ["REPEAT"])
BENCH = os.environ["DKIM_BENCH"]
FWDAUTH = os.environ["FWDAUTH"]
SIZES = [("2 KB", 2048), ("10 KB", 10240), ("1 MB", 1048576)]
ONE_CORE = ["taskset", "-c", "0"] if shutil.which("taskset") else []


def make_message(size, rnd):
    words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))
             for _ in range(500)]
    hdr = (b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n"
           b"Subject: Benchmark message\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <bench@example.org>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n\r\n")
    lines = []
    n = len(hdr)
    while n < size:
        line = (" ".join(rnd.choice(words) for _ in range(12))).encode() + b"\r\n"
        lines.append(line)
        n += len(line)
    return (hdr + b"".join(lines))[:size - 2] + b"\r\n"


def openssl_speed():
    out = subprocess.run(ONE_CORE + ["openssl", "speed", "-seconds", str(int(SECS)), "rsa2048",
                                     "ed25519", "sha256"], capture_output=True, text=True).stdout
    rsa = re.search(r"^rsa 2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    ed = re.search(r"^\s*253 bits EdDSA \(Ed25519\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.M)
    sha = re.search(r"^sha256\s+(.*)$", out, re.M).group(1).split()
    return {"rsa_sign": float(rsa.group(1)), "rsa_verify": float(rsa.group(2)),
            "ed_sign": float(ed.group(1)), "ed_verify": float(ed.group(2)),
            "sha256_16k": float(sha[-1].rstrip("k")) * 1000 / 1e6}  # MB/s


def bench(mode, key, sel, msg, canon="relaxed", zone=None):
    args = ONE_CORE + [BENCH, "-m", mode, "-k", key, "-d", "example.org", "-s", sel, "-c", canon,
                       "-t", str(SECS)]
    if zone:
        args += ["-z", zone]
    out = subprocess.run(args + [msg], capture_output=True, text=True, check=True).stdout
    r = dict(kv.split("=", 1) for kv in out.strip().splitlines()[-1].split()[1:])
    return float(r["ops_per_s"]), float(r["mb_per_s"])


def dkimpy_rate(fn):
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < SECS:
        fn()
        n += 1
    return n / (time.monotonic() - t0)


def main():
    tmp = tempfile.mkdtemp(prefix="fwdauth-dkim-bench-")
    os.chmod(tmp, 0o755)
    odk = None
    try:
        zone = dkimpeers.Zone()
        keys = {}
        for sel, t in (("rsa", "rsa"), ("ed", "ed25519")):
            r = subprocess.run([FWDAUTH, "dkim", "keygen", "-d", "example.org", "-s", sel, "-t", t,
                                "-o", tmp], capture_output=True, text=True, check=True)
            zone.add(*dkimpeers.zone_line_record(r.stdout.strip().splitlines()[-1]))
            keys[sel] = os.path.join(tmp, sel + ".private")
        zfile = zone.write(os.path.join(tmp, "keys.zone"))
        from cryptography.hazmat.primitives import serialization
        import base64
        with open(keys["ed"], "rb") as f:
            edk = serialization.load_pem_private_key(f.read(), None)
        pykeys = {"rsa": open(keys["rsa"], "rb").read(),
                  "ed": base64.b64encode(edk.private_bytes(
                      serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                      serialization.NoEncryption()))}
        rnd = random.Random(8463)
        msgs = {}
        for label, size in SIZES:
            path = os.path.join(tmp, "m%d.eml" % size)
            data = make_message(size, rnd)
            with open(path, "wb") as f:
                f.write(data)
            msgs[label] = (path, data)

        runs = {}

        def add(k, v):
            runs.setdefault(k, []).append(v)

        for rep in range(REPEAT):
            print("round %d/%d" % (rep + 1, REPEAT), file=sys.stderr)
            sp = openssl_speed()
            for k, v in sp.items():
                add(("openssl", k), v)
            for label, (path, data) in msgs.items():
                for sel in ("rsa", "ed"):
                    add(("fw", "sign", sel, label), bench("sign", keys[sel], sel, path)[0])
                    add(("fw", "verify", sel, label),
                        bench("verify", keys[sel], sel, path, zone=zfile)[0])
                    alg = b"rsa-sha256" if sel == "rsa" else b"ed25519-sha256"
                    sig = dkim.sign(data, sel.encode(), b"example.org", pykeys[sel],
                                    signature_algorithm=alg)
                    add(("py", "sign", sel, label), dkimpy_rate(
                        lambda: dkim.sign(data, sel.encode(), b"example.org", pykeys[sel],
                                          signature_algorithm=alg)))
                    add(("py", "verify", sel, label), dkimpy_rate(
                        lambda: dkim.verify(sig + data, dnsfunc=zone.dnsfunc)))
            for canon in ("simple", "relaxed"):
                add(("fw", "bodyhash", canon), bench("bodyhash", keys["ed"], "ed",
                                                     msgs["1 MB"][0], canon=canon)[1])
            # OpenDKIM signing through miltertest: time for N round trips.
            if odk is None:
                odk = dkimpeers.OpenDKIM(tmp, mode="s", domain="example.org", selector="rsa",
                                         keyfile=keys["rsa"], canon="relaxed/relaxed").start()
            for label, (path, data) in msgs.items():
                n = {"2 KB": 400, "10 KB": 400, "1 MB": 20}[label]
                el = odk.time_run([(label, data)], n)
                add(("odk", "sign", "rsa", label), n / el)

        med = {k: statistics.median(v) for k, v in runs.items()}
        rng = {k: (min(v), max(v)) for k, v in runs.items()}
        write_report(med, rng)
    finally:
        if odk is not None:
            odk.stop()
        shutil.rmtree(tmp, True)


def write_report(med, rng):
    o = lambda k: med[("openssl", k)]  # noqa: E731
    lines = ["<!-- dkim -->", "## DKIM signing and verifying: libfwdauth vs dkimpy, OpenDKIM, openssl", "",
             "Messages per second on one core (`taskset -c 0`), text/plain CRLF messages, "
             "relaxed/relaxed, keys RSA-2048 and Ed25519; median of %d rounds of %g s each "
             "(round-robin; the machine is shared). fwdauth = `bench/dkim_bench.c` (dkim-bench), "
             "the library in one process (sign: parse done once, new signer, body, finish; "
             "verify: new verifier, body, key from a zone file, check). dkimpy 1.1.4 = "
             "`dkim.sign`/`dkim.verify` in a Python loop. OpenDKIM 2.11.0 = the milter in Mode s "
             "driven by miltertest, one milter connection per message: this is bound by miltertest's "
             "round trips (tens of ms each here, mostly waiting), not by OpenDKIM's CPU, so it is "
             "no measure of OpenDKIM's speed (FIELD-NOTES: ≈ 3.3 ms CPU per message through "
             "Postfix); an in-process libopendkim driver would be needed for that." % (REPEAT, SECS), "",
             "| operation | size | fwdauth | dkimpy | OpenDKIM (milter) | fwdauth / dkimpy |",
             "|---|---|---:|---:|---:|---:|"]
    for op in ("sign", "verify"):
        for sel in ("rsa", "ed"):
            for label, _ in SIZES:
                fw, py = med[("fw", op, sel, label)], med[("py", op, sel, label)]
                od = med.get(("odk", op, sel, label))
                lines.append("| %s %s | %s | %.0f | %.0f | %s | %.1f× |" % (
                    op, "rsa-sha256" if sel == "rsa" else "ed25519-sha256", label, fw, py,
                    "%.0f" % od if od else "–", fw / py))
    sign10 = med[("fw", "sign", "rsa", "10 KB")]
    simple, relaxed = med[("fw", "bodyhash", "simple")], med[("fw", "bodyhash", "relaxed")]
    lines += ["", "openssl speed (same rounds, one core): rsa2048 %.0f sign/s, %.0f verify/s; "
              "ed25519 %.0f sign/s, %.0f verify/s; sha256 %.0f MB/s on 16 KB blocks." % (
                  o("rsa_sign"), o("rsa_verify"), o("ed_sign"), o("ed_verify"), o("sha256_16k")),
              "", "| target | measured | result |", "|---|---:|---|"]

    def verdict(ok):
        return "met" if ok else "**missed**"
    r1 = sign10 / o("rsa_sign")
    r2 = simple / o("sha256_16k")
    r3 = relaxed / o("sha256_16k")
    lines += ["| RSA-2048 sign of 10 KB ≥ 85%% of openssl rsa2048 sign/s | %.0f/s = %.1f%% | %s |"
              % (sign10, 100 * r1, verdict(r1 >= 0.85)),
              "| 1 MB body hash, simple ≥ 70%% of openssl sha256 | %.0f MB/s = %.1f%% (range %.0f–%.0f) | %s |"
              % (simple, 100 * r2, *rng[("fw", "bodyhash", "simple")], verdict(r2 >= 0.70)),
              "| 1 MB body hash, relaxed ≥ 35%% of openssl sha256 | %.0f MB/s = %.1f%% (range %.0f–%.0f) | %s |"
              % (relaxed, 100 * r3, *rng[("fw", "bodyhash", "relaxed")], verdict(r3 >= 0.35))]
    lines += ["", machine_line(), "", "Command: `%s`." % os.environ["CMDLINE"].strip(),
              "<!-- /dkim -->"]
    section = "\n".join(lines) + "\n"
    write_section(ROOT, "<!-- dkim -->", "<!-- /dkim -->", section)
    print(section)


if __name__ == "__main__":
    main()
