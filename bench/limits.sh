#!/usr/bin/env bash
# bench/limits.sh: fwdauthd's memory per connection, before and after the
# per-service limits of issue 13, in one run.
#
# Builds fwdauthd (Release) from the working tree in BUILD_DIR and from
# BEFORE (a commit, default the one before the limits: a65de7b^) in a temp
# folder (git archive: the repository is not touched), then runs
# bench/limits_bench.py on each: for every scenario a fresh daemon on free
# loopback ports, its resident memory (VmRSS summed over its processes)
# after a warm-up, and again with IDLE idle connections on one service
# (socketmap, tcp_table, milter: negotiated and connected), and with ATTACK
# milter connections each sending all but 4 KiB of a header packet that
# declares 1 MiB, or 256 KiB. Writes the results between the limits
# markers of BENCHMARKS.md.
#
# Then lookups and milter sessions answered per second, with the default
# limits, without and with FLOOD idle socketmap connections (WINDOW s each).
#
# usage: bench/limits.sh [-n IDLE] [-a ATTACK] [-f FLOOD] [-w WINDOW] [--before REV]
#                        [--no-build] [--build-dir DIR]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
IDLE=1000
ATTACK=400
FLOOD=550
WINDOW=3
BEFORE=a65de7b^
BUILD=1
BUILD_DIR="$ROOT/build-bench"
CMDLINE="bench/limits.sh $*"
while [ $# -gt 0 ]; do
	case "$1" in
	-n) IDLE=$2; shift 2 ;;
	-a) ATTACK=$2; shift 2 ;;
	-f) FLOOD=$2; shift 2 ;;
	-w) WINDOW=$2; shift 2 ;;
	--before) BEFORE=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--build-dir) BUILD_DIR=$2; shift 2 ;;
	*) echo "usage: bench/limits.sh [-n IDLE] [-a ATTACK] [-f FLOOD] [-w WINDOW] [--before REV] [--no-build] [--build-dir DIR]" >&2; exit 2 ;;
	esac
done
PY=/usr/bin/python3

. "$ROOT/bench/common.sh"
bench_build fwdauthd
AFTER_BIN="$BUILD_DIR/bin/fwdauthd"

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/fwdauth-bench-limits.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
bench_build_before "$BEFORE" "$TMP" fwdauthd
BEFORE_BIN="$BEFORE_BIN_DIR/fwdauthd"

RESULTS="$TMP/results"
: >"$RESULTS"
for which in before after; do
	bin=$BEFORE_BIN
	[ "$which" = after ] && bin=$AFTER_BIN
	echo "== $which ($bin)" >&2
	"$PY" "$ROOT/bench/limits_bench.py" "$bin" "$which" -n "$IDLE" -a "$ATTACK" -f "$FLOOD" -w "$WINDOW" | tee -a "$RESULTS" >&2
done

bench_facts
export IDLE ATTACK FLOOD WINDOW CMDLINE RESULTS LOADAVG BEFORE_REV
"$PY" - "$ROOT" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "bench"))
from bench_md import machine_line, write_section
rows = {}
for line in open(os.environ["RESULTS"]):
    if line.startswith("RESULT "):
        kv = dict(f.split("=", 1) for f in line.split()[1:])
        rows[(kv["label"], kv["scenario"])] = kv
names = {
    "idle-socketmap": "%s idle socketmap connections (one lookup each)" % os.environ["IDLE"],
    "idle-tcp": "%s idle tcp_table connections (one lookup each)" % os.environ["IDLE"],
    "idle-milter": "%s idle milter connections (negotiated, connected, HELO)" % os.environ["IDLE"],
    "big-1m": "%s milter connections, each all but 4 KiB of a header declared 1 MiB"
              % os.environ["ATTACK"],
    "big-256k": "%s milter connections, each all but 4 KiB of a header declared 256 KiB"
                % os.environ["ATTACK"],
}
mb = lambda kb: "%.1f" % (int(kb) / 1024)
out = ["<!-- limits:begin (written by bench/limits.sh; edit the script, not this section) -->",
       "## Memory per connection: before and after the per-service limits", "",
       "Resident memory of fwdauthd (VmRSS summed over its processes: one before, master,",
       "signer and worker after) started afresh for each row, after a warm-up, and 2 s after",
       "the connections were made; per connection = (with − baseline) / connections. Before:",
       "%s, one limit for all listeners, a milter input buffer of 128 KiB grown at once to a"
       % os.environ["BEFORE_REV"],
       "packet's declared length. After: the working tree, per-listener limits, a 16 KiB",
       "buffer that grows only as a packet's octets arrive (a header over 256 KiB dropped as",
       "it arrives and refused with 552), `milter_buffer_memory` = 64 MiB for the rest.",
       "Limits raised in both so that nothing is refused; `log_level = error`.", "",
       "| scenario | before MB | after MB | before KB/conn | after KB/conn |",
       "|---|---:|---:|---:|---:|"]
for key in ("idle-socketmap", "idle-tcp", "idle-milter", "big-1m", "big-256k"):
    b, a = rows.get(("before", key)), rows.get(("after", key))
    if not b or not a:
        continue
    out.append("| %s | %s | %s | %s | %s |" % (names[key], mb(b["rss_kb"]), mb(a["rss_kb"]),
                                               b["per_conn_kb"], a["per_conn_kb"]))
out.append("")
b, a = rows.get(("before", "big-1m")), rows.get(("after", "big-1m"))
if b and a:
    out.append("The 1 MiB case is issue 13's: %.0f MB before, %.0f MB after (%.1f× less); peak "
               "(VmHWM) %.0f MB → %.0f MB." % (int(b["rss_kb"]) / 1024, int(a["rss_kb"]) / 1024,
                                                int(b["rss_kb"]) / int(a["rss_kb"]),
                                                int(b["hwm_kb"]) / 1024, int(a["hwm_kb"]) / 1024))
    out.append("")
fl = [(lab, st, rows.get((lab, "flood-" + st))) for lab in ("before", "after")
      for st in ("none", "socketmap")]
if all(r for _, _, r in fl):
    out += ["### Serving during an idle flood", "",
            "The daemon with its default limits (before: `connection_limit` = 500 for all",
            "listeners; after: 500 per table listener, 500 for the milter, 2000 in all). For %s s"
            % os.environ["WINDOW"],
            "each: socketmap lookups on a new connection per lookup (as `postmap -q` makes them),",
            "lookups on one tcp_table connection, and milter sessions on a new connection each",
            "(option negotiation answered); each must be answered within 2 s or counts as failed.",
            "Then the same with %s idle socketmap connections open (issue 13's flood), each of"
            % os.environ["FLOOD"],
            "which had one lookup answered. Per second; the Python client is the limit on the rates.",
            "",
            "| daemon | idle flood | socketmap ok/s | failed/s | tcp_table ok/s | failed/s "
            "| milter ok/s | failed/s |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for lab, st, r in fl:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            lab, "none" if st == "none" else "%s socketmap" % r["conns"], r["sm_ok"],
            r["sm_fail"], r["tcp_ok"], r["tcp_fail"], r["milter_ok"], r["milter_fail"]))
    out.append("")
out += [machine_line(), "", "Command: `%s`." % os.environ["CMDLINE"].strip(),
        "<!-- limits:end -->"]
section = "\n".join(out) + "\n"
write_section(sys.argv[1], "<!-- limits:begin", "<!-- limits:end -->", section)
print(section)
PYEOF
