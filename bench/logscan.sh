#!/usr/bin/env bash
# bench/logscan.sh: fwdauth logscan against pflogsumm (Debian package) on the
# same Postfix log.
#
# Builds fwdauth (Release) in build-bench/, writes with bench/logscan_gen.py a
# realistic Postfix log of SIZE_MB (default 1024) and one of SMALL_MB (default
# 100) in a temporary directory (removed at the end): relayed, forwarded (SRS
# senders, orig_to=), bounced (5.7.509, 5.7.26, 5.1.1) and greylisted (4.7.1)
# mail, bounce notifications, local forwarding, NOQUEUE/header/milter rejects
# and lines of other programs, with unique queue IDs and rising time stamps.
# Then, REPEAT times, with the files in the page cache, under /usr/bin/time:
#   fwdauth logscan --format json LOG     pflogsumm LOG
# on both logs, and writes between the logscan markers of BENCHMARKS.md:
# lines/s of each and their ratio, fwdauth's maximum RSS at both sizes (memory
# must not grow with the log's length), and the Grand Totals of both tools
# beside the counts the generator wrote (received, delivered, forwarded,
# deferred, bounced, rejected must agree). When pflogsumm would need more than
# PFLOG_LIMIT seconds (default 600) on the large log it runs on the small one
# only and the report says so.
#
# usage: bench/logscan.sh [-s SIZE_MB] [-r REPEAT] [--no-build] [--build-dir DIR]
# Target: fwdauth's lines/s >= 5x pflogsumm's on the same log.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZE_MB=${SIZE_MB:-1024}
SMALL_MB=${SMALL_MB:-100}
PFLOG_LIMIT=${PFLOG_LIMIT:-600}
REPEAT=1
BUILD=1
BUILD_DIR="$ROOT/build-bench"
CMDLINE="bench/logscan.sh $*"
while [ $# -gt 0 ]; do
	case "$1" in
	-s) SIZE_MB=$2; shift 2 ;;
	-r) REPEAT=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--build-dir) BUILD_DIR=$2; shift 2 ;;
	*) echo "usage: bench/logscan.sh [-s SIZE_MB] [-r REPEAT] [--no-build] [--build-dir DIR]" >&2; exit 2 ;;
	esac
done

PY=/usr/bin/python3
TIME=/usr/bin/time
PFLOGSUMM=/usr/sbin/pflogsumm
for x in "$TIME" "$PFLOGSUMM"; do
	[ -x "$x" ] || { echo "logscan.sh: $x missing (scripts/deps.sh)" >&2; exit 2; }
done

. "$ROOT/bench/common.sh"
bench_build fwdauth
FWDAUTH="$BUILD_DIR/bin/fwdauth"

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/fwdauth-logscan.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

echo "== writing a ${SIZE_MB} MB and a ${SMALL_MB} MB Postfix log in $TMP" >&2
"$PY" bench/logscan_gen.py --size-mb "$SIZE_MB" --out "$TMP/large.log" --expect "$TMP/large.expect"
"$PY" bench/logscan_gen.py --size-mb "$SMALL_MB" --out "$TMP/small.log" --expect "$TMP/small.expect"

RESULTS="$TMP/results"
: >"$RESULTS"
# run TOOL SIZE: one timed run; the report goes to $TMP/TOOL.SIZE.out.
run() {
	local tool=$1 size=$2 log="$TMP/$2.log" out="$TMP/$1.$2.out"
	cat "$log" >/dev/null # in the page cache for both tools
	echo "== $tool on the $size log" >&2
	if [ "$tool" = fwdauth ]; then
		"$TIME" -f '%e %U %S %M' -o "$TMP/time" "$FWDAUTH" logscan --format json "$log" >"$out"
	else
		"$TIME" -f '%e %U %S %M' -o "$TMP/time" "$PFLOGSUMM" "$log" >"$out"
	fi
	echo "$tool $size $(tail -1 "$TMP/time")" | tee -a "$RESULTS" >&2
}
PFLOG_LARGE=1
for i in $(seq "$REPEAT"); do
	run fwdauth small
	run pflogsumm small
	run fwdauth large
	if [ "$i" = 1 ]; then
		# pflogsumm's time grows with the log: project it from the small log.
		PFLOG_LARGE=$(awk -v s="$SMALL_MB" -v l="$SIZE_MB" -v lim="$PFLOG_LIMIT" \
			'$1 == "pflogsumm" && $2 == "small" { print ($3 * l / s <= lim) ? 1 : 0 }' "$RESULTS")
	fi
	[ "$PFLOG_LARGE" = 1 ] && run pflogsumm large
done

bench_facts
export SIZE_MB SMALL_MB PFLOG_LIMIT PFLOG_LARGE REPEAT CMDLINE RESULTS LOADAVG TMP
export PF_VERSION=$(dpkg-query -W -f='${Version}' pflogsumm 2>/dev/null || echo '?')
"$PY" - "$ROOT" <<'PYEOF'
import json, os, re, sys
sys.path.insert(0, os.path.join(sys.argv[1], "bench"))
from bench_md import machine_line, write_section
E = os.environ
tmp = E["TMP"]
runs = {}
for line in open(E["RESULTS"]):
    tool, size, el, us, sy, rss = line.split()
    runs.setdefault((tool, size), []).append((float(el), float(us) + float(sy), int(rss)))
med = {}
for k, rs in runs.items():
    rs.sort()
    med[k] = rs[(len(rs) - 1) // 2]  # the median run by elapsed time (lower median)
expect = {s: json.load(open(os.path.join(tmp, s + ".expect"))) for s in ("small", "large")}
mb = {"small": float(E["SMALL_MB"]), "large": float(E["SIZE_MB"])}

KEYS = ["received", "delivered", "forwarded", "deferred", "bounced", "rejected"]
UNIT = {" ": 1, "": 1, "k": 1024, "m": 1024 * 1024}

def pflog_totals(size):
    p = os.path.join(tmp, "pflogsumm.%s.out" % size)
    if not os.path.exists(p):
        return None
    got = {}
    text = open(p).read()
    text = text[text.index("Grand Totals"):]
    for k in KEYS:
        m = re.search(r"^\s*(\d+)([km ]?)\s+%s\b" % k, text, re.M)
        got[k] = (int(m.group(1)), m.group(2) or " ")
    return got

def fw_totals(size):
    return json.load(open(os.path.join(tmp, "fwdauth.%s.out" % size)))["totals"]

def shown(v, unit):
    # pflogsumm prints counts over 512k in k (or m) units, truncated.
    return "%d%s" % (v // UNIT[unit], unit.strip())

out = ["<!-- logscan -->", "## Postfix log reports: fwdauth logscan vs pflogsumm %s" % E["PF_VERSION"], "",
       "One Postfix log read by both tools, the file in the page cache: `fwdauth logscan --format json LOG`",
       "(Release build) and `pflogsumm LOG`, each timed with GNU time (elapsed, CPU, maximum RSS);",
       "lines/s = the log's lines / elapsed seconds. The log is written by `bench/logscan_gen.py`:",
       "three days of a forwarding server's traffic in classic syslog lines — relayed and LMTP",
       "deliveries, alias forwarding with SRS senders and `orig_to=` (accepted, or refused with",
       "Microsoft 5.7.509, Gmail 5.7.26, 5.1.1, each with its bounce notification), greylisting",
       "deferrals (4.7.1) retried later, pickup and local(8) `forwarded as`, NOQUEUE rejects, cleanup",
       "header rejects and milter-rejects, and lines of dovecot, opendkim, CRON and systemd — with",
       "unique queue IDs and rising time stamps. %s round(s); the median run is shown." % E["REPEAT"], ""]
if E["PFLOG_LARGE"] != "1":
    out += ["pflogsumm would have needed more than %s s on the %s MB log (projected from the %s MB run),"
            " so it ran on the %s MB log only; its lines/s there is what fwdauth's is compared with"
            " (pflogsumm's rate does not rise with the size: it reads line by line)." % (
                E["PFLOG_LIMIT"], E["SIZE_MB"], E["SMALL_MB"], E["SMALL_MB"]), ""]
out += ["| tool | log | lines | elapsed s | CPU s | lines/s | max RSS |",
        "|---|---|---:|---:|---:|---:|---:|"]
rate = {}
for size in ("small", "large"):
    for tool in ("fwdauth", "pflogsumm"):
        r = med.get((tool, size))
        if not r:
            continue
        lines = expect[size]["lines"]
        rate[(tool, size)] = lines / max(r[0], 0.005)
        out.append("| %s | %.0f MB | %d | %.2f | %.2f | %.0f | %.1f MB |" % (
            "fwdauth logscan" if tool == "fwdauth" else "pflogsumm", mb[size], lines, r[0], r[1],
            rate[(tool, size)], r[2] / 1024))
out.append("")
pf_size = "large" if ("pflogsumm", "large") in rate else "small"
ratio = rate[("fwdauth", "large")] / rate[("pflogsumm", pf_size)]
rss_s, rss_l = med[("fwdauth", "small")][2], med[("fwdauth", "large")][2]
# The large log has ten times the messages of the small one but as many in
# flight at any time: allow 10% and 1 MB for noise, nothing that scales.
mem_ok = rss_l <= rss_s * 1.10 + 1024
out += ["| target | result | verdict |", "|---|---|---|",
        "| fwdauth lines/s ≥ 5× pflogsumm's (%s MB log%s) | %.1f× | %s |" % (
            E["SIZE_MB"], "" if pf_size == "large" else "; pflogsumm on %s MB" % E["SMALL_MB"],
            ratio, "met" if ratio >= 5 else "NOT met"),
        "| fwdauth's memory does not grow with the log: max RSS at %s MB vs %s MB (≤ 1.1× + 1 MB) | %.1f MB vs %.1f MB | %s |" % (
            E["SMALL_MB"], E["SIZE_MB"], rss_s / 1024, rss_l / 1024, "met" if mem_ok else "NOT met"), ""]

agree = True
out += ["Grand Totals (pflogsumm prints counts over 512k in k units, truncated; fwdauth's and the",
        "generator's counts are shown the same way beside them):", "",
        "| log | total | generator | pflogsumm | fwdauth | agree |", "|---|---|---:|---:|---:|---|"]
for size in ("small", "large"):
    pf, fw = pflog_totals(size), fw_totals(size)
    for k in KEYS:
        g = expect[size][k]
        if pf:
            v, unit = pf[k]
            ok = v == g // UNIT[unit] and v == fw[k] // UNIT[unit]
            row = (shown(g, unit), "%d%s" % (v, unit.strip()), shown(fw[k], unit))
        else:
            ok = fw[k] == g
            row = (str(g), "—", str(fw[k]))
        agree = agree and ok
        out.append("| %.0f MB | %s | %s | %s | %s | %s |" % ((mb[size], k) + row + ("yes" if ok else "**NO**",)))
out += ["", "Totals agree: %s." % ("yes, every one" if agree else "**NO** (see the rows marked NO)"), ""]
out += [machine_line(),
        "", "Command: `%s` (SIZE_MB=%s, SMALL_MB=%s)." % (E["CMDLINE"].strip(), E["SIZE_MB"], E["SMALL_MB"]),
        "<!-- /logscan -->"]
section = "\n".join(out) + "\n"
write_section(sys.argv[1], "<!-- logscan -->", "<!-- /logscan -->", section)
print(section)
sys.exit(0 if agree else 1)
PYEOF
