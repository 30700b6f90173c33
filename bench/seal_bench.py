"""Driver of bench/seal.sh (see there): runs the sealers, writes BENCHMARKS.md."""
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.environ["ROOT"]
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import dkim  # noqa: E402

from bench_md import machine_line, write_section  # noqa: E402

import dkim_bench  # noqa: E402  (message maker, openssl speed, loop timer)
import dkimpeers  # noqa: E402

SECS = float(os.environ["SECS"])
REPEAT = int(os.environ["REPEAT"])
SEAL_BENCH = os.environ["SEAL_BENCH"]
FWDAUTH = os.environ["FWDAUTH"]
AR = b"Authentication-Results: mx.fwd.example;\r\n\tspf=pass smtp.mailfrom=alice@example.org;\r\n\tdkim=pass header.d=example.org header.s=sel\r\n"


def ours(key, msg, zone, label):
    args = dkim_bench.ONE_CORE + [SEAL_BENCH, "-k", key, "-d", "fwd.example", "-s", "arc",
                                  "-a", "mx.fwd.example", "-z", zone, "-t", str(SECS), "-l", label, msg]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    r = dict(kv.split("=", 1) for kv in out.strip().splitlines()[-1].split()[1:])
    return float(r["ops_per_s"])


def main():
    tmp = tempfile.mkdtemp(prefix="fwdauth-seal-bench-")
    try:
        run_all(tmp)
    finally:
        shutil.rmtree(tmp, True)


def run_all(tmp):
    r = subprocess.run([FWDAUTH, "dkim", "keygen", "-d", "fwd.example", "-s", "arc", "-o", tmp],
                       capture_output=True, text=True, check=True)
    key = os.path.join(tmp, "arc.private")
    zone = dkimpeers.Zone()
    zone.add(*dkimpeers.zone_line_record(r.stdout.strip().splitlines()[-1]))
    zonefile = zone.write(os.path.join(tmp, "keys.zone"))
    msg = AR + dkim_bench.make_message(10240 - len(AR), random.Random(8617))
    hop1 = os.path.join(tmp, "hop1.eml")
    with open(hop1, "wb") as f:
        f.write(msg)
    sealed = subprocess.run([FWDAUTH, "arc", "sign", "-d", "fwd.example", "-s", "arc", "-k", key,
                             "--authserv-id", "mx.fwd.example", "--dns-zone", zonefile, hop1],
                            capture_output=True, check=True).stdout
    hop2 = os.path.join(tmp, "hop2.eml")
    with open(hop2, "wb") as f:
        f.write(AR.replace(b"mx.fwd.example;", b"mx.fwd.example; arc=pass;") + sealed)
    with open(key, "rb") as f:
        pem = f.read()

    def dkimpy_seal():
        fields = dkim.arc_sign(msg, b"arc", b"fwd.example", pem, b"mx.fwd.example")
        assert len(fields) == 3

    runs = {}
    for _ in range(REPEAT):
        sp = dkim_bench.openssl_speed()
        runs.setdefault("limit", []).append(sp["rsa_sign"] / 2)
        runs.setdefault("rsa_sign", []).append(sp["rsa_sign"])
        runs.setdefault("ours1", []).append(ours(key, hop1, zonefile, "hop1"))
        runs.setdefault("ours2", []).append(ours(key, hop2, zonefile, "hop2"))
        runs.setdefault("dkimpy", []).append(dkim_bench.dkimpy_rate(dkimpy_seal))
    med = {k: statistics.median(v) for k, v in runs.items()}
    rng = {k: (min(v), max(v)) for k, v in runs.items()}
    write_report(med, rng)


def write_report(med, rng):
    lim = med["limit"]
    pct = 100 * med["ours1"] / lim
    lines = ["<!-- seal -->", "## ARC sealing: libfwdauth vs dkimpy, against the crypto limit", "",
             "Forwarded messages sealed per second on one core (10 KB text message with an "
             "Authentication-Results field; RSA-2048; a seal = chain check, body hash, AAR, "
             "ARC-Message-Signature and ARC-Seal, i.e. two RSA signatures). Median of %d rounds "
             "of %g s (range in brackets)." % (REPEAT, SECS), "",
             "| sealer | messages/s | of the crypto limit |", "|---|---|---|",
             "| crypto limit: openssl rsa2048 sign/s ÷ 2 | %.0f (%.0f–%.0f) | 100%% |"
             % (lim, *rng["limit"]),
             "| libfwdauth `arc_sealer`, first hop (no chain yet) | %.0f (%.0f–%.0f) | %.1f%% |"
             % (med["ours1"], *rng["ours1"], pct),
             "| libfwdauth `arc_sealer`, second hop (validates a 1-set chain first) | %.0f (%.0f–%.0f) | %.1f%% |"
             % (med["ours2"], *rng["ours2"], 100 * med["ours2"] / lim),
             "| dkimpy 1.1.4 `arc_sign`, first hop | %.0f (%.0f–%.0f) | %.1f%% |"
             % (med["dkimpy"], *rng["dkimpy"], 100 * med["dkimpy"] / lim), "",
             "| target | result | verdict |", "|---|---|---|",
             "| first-hop sealing ≥ 85%% of the crypto limit | %.1f%% | %s |"
             % (pct, "met" if pct >= 85 else "NOT met"), "",
             "openssl speed (same rounds, one core): rsa2048 %.0f sign/s. dkimpy's arc_sign "
             "does its RSA in pure Python, hence the gap." % med["rsa_sign"], "",
             machine_line(),
             "", "Command: `%s`." % os.environ["CMDLINE"].strip(), "<!-- /seal -->"]
    section = "\n".join(lines) + "\n"
    write_section(ROOT, "<!-- seal -->", "<!-- /seal -->", section)
    print(section)


if __name__ == "__main__":
    main()
