#!/usr/bin/env bash
# bench/srs.sh: fwdauthd's SRS lookup tables against Debian's postsrsd 1.10.
#
# Builds fwdauthd and srs-load (Release) in build-bench/, starts fwdauthd
# (tcp_table and socketmap) and postsrsd (tcp_table; 1.10 has no socketmap) on
# free loopback ports with the same secret and SRS domain and the same hash
# alphabet (so both compute byte-identical answers), runs srs-load with 1 and
# 8 persistent connections against each for SECONDS, REPEAT times round-robin
# (the machine is shared: the median run of each is reported, with the range),
# stops everything, and writes the results between the srs markers of
# BENCHMARKS.md at the repo root.
#
# The store part (issue 14), in the same run: forward lookups with 10% long
# senders (-L) at 8 connections over tcp_table against fwdauthd stateless,
# fwdauthd hybrid on SQLite, fwdauthd hybrid on Redis (a redis-server the
# script starts on a unix socket, AOF everysec as the README advises) and
# postsrsd, REPEAT rounds round-robin; then redis-benchmark SET and GET on
# the same socket at 8 connections (the store's own limit on this machine).
# Written between the srs-store markers.
#
# usage: bench/srs.sh [-t SECONDS] [-r REPEAT] [-c "1 8"] [-p all|tables|store]
#                     [--no-build] [--build-dir DIR]
# Target: at 8 connections fwdauthd (tcp) >= 1.5x postsrsd's req/s, p99 < 1 ms;
# store part: hybrid on Redis >= 1.3x postsrsd's req/s, p99 < 2 ms.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_RUN=3
REPEAT=3
CONNS="1 8"
PART=all
LONG_PCT=10
STORE_CONNS=8
BUILD=1
BUILD_DIR="$ROOT/build-bench"
CMDLINE="bench/srs.sh $*"
while [ $# -gt 0 ]; do
	case "$1" in
	-t) SECONDS_PER_RUN=$2; shift 2 ;;
	-c) CONNS=$2; shift 2 ;;
	-r) REPEAT=$2; shift 2 ;;
	-p) PART=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--build-dir) BUILD_DIR=$2; shift 2 ;;
	*) echo "usage: bench/srs.sh [-t SECONDS] [-r REPEAT] [-c \"1 8\"] [-p all|tables|store] [--no-build] [--build-dir DIR]" >&2; exit 2 ;;
	esac
done
case "$PART" in all | tables | store) ;; *) echo "srs.sh: -p all, tables or store" >&2; exit 2 ;; esac
REDIS_SERVER=/usr/bin/redis-server
REDIS_BENCH=/usr/bin/redis-benchmark
REDIS_CLI=/usr/bin/redis-cli
if [ "$PART" != tables ]; then
	for p in "$REDIS_SERVER" "$REDIS_BENCH" "$REDIS_CLI"; do
		[ -x "$p" ] || { echo "srs.sh: $p missing (scripts/deps.sh)" >&2; exit 2; }
	done
fi

PY=/usr/bin/python3
POSTSRSD=/usr/sbin/postsrsd
[ -x "$POSTSRSD" ] || { echo "srs.sh: $POSTSRSD missing (scripts/deps.sh)" >&2; exit 2; }

. "$ROOT/bench/common.sh"
bench_build fwdauthd srs-load
FWDAUTHD="$BUILD_DIR/bin/fwdauthd"
LOAD="$BUILD_DIR/bench/srs-load"

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg) # before we add load: others may share the machine
TMP=$(mktemp -d /tmp/fwdauth-bench.XXXXXX)
chmod 755 "$TMP"
FWD_PID="" PS_PID="" SQ_PID="" RS_PID="" RD_PID=""
cleanup() {
	for pid in $FWD_PID $SQ_PID $RS_PID $RD_PID; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	done
	# postsrsd forks one child per connection: kill its whole process group.
	[ -n "$PS_PID" ] && kill -- "-$PS_PID" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "srs.sh: nothing listens on port $1" >&2
	return 1
}

SECRET="$TMP/srs.secret"
umask 077
echo "bench-s3cret-$(date +%s)" >"$SECRET"
umask 022
DOMAIN=fwd.example.net
F_SMAP=$(free_port) F_FWD=$(free_port) F_REV=$(free_port) P_FWD=$(free_port) P_REV=$(free_port)

cat >"$TMP/fwdauthd.conf" <<EOF
srs_domain = $DOMAIN
srs_secrets = $SECRET
srs_hash_alphabet = base64
socketmap_listen = inet:127.0.0.1:$F_SMAP
tcp_forward_listen = inet:127.0.0.1:$F_FWD
tcp_reverse_listen = inet:127.0.0.1:$F_REV
EOF
"$FWDAUTHD" -c "$TMP/fwdauthd.conf" -f >"$TMP/fwdauthd.log" 2>&1 &
FWD_PID=$!
mkdir "$TMP/postsrsd-root"
setsid "$POSTSRSD" -d "$DOMAIN" -s "$SECRET" -4 -l 127.0.0.1 -f "$P_FWD" -r "$P_REV" \
	-u nobody -c "$TMP/postsrsd-root" >"$TMP/postsrsd.log" 2>&1 &
PS_PID=$!
for p in $F_SMAP $F_FWD $F_REV $P_FWD $P_REV; do wait_port "$p"; done

if [ "$PART" != tables ]; then
	# The stores: a SQLite file in a folder fwdauthd's user may write, and a
	# redis-server on a unix socket with AOF (appendfsync everysec).
	S_FWD=$(free_port) R_FWD=$(free_port)
	mkdir "$TMP/state" "$TMP/redis"
	chown nobody "$TMP/state"
	"$REDIS_SERVER" --port 0 --unixsocket "$TMP/redis.sock" --unixsocketperm 777 --dir "$TMP/redis" \
		--save "" --appendonly yes --appendfsync everysec --daemonize no >"$TMP/redis.log" 2>&1 &
	RD_PID=$!
	for _ in $(seq 100); do [ -S "$TMP/redis.sock" ] && break; sleep 0.1; done
	for kind in sqlite redis; do
		if [ $kind = sqlite ]; then
			store="sqlite:$TMP/state/srs.db" port=$S_FWD
		else
			store="redis:unix:$TMP/redis.sock" port=$R_FWD
		fi
		printf '%s\n' "srs_domain = $DOMAIN" "srs_secrets = $SECRET" "srs_hash_alphabet = base64" \
			"srs_mode = hybrid" "srs_store = $store" "tcp_forward_listen = inet:127.0.0.1:$port" \
			>"$TMP/fwdauthd-$kind.conf"
		"$FWDAUTHD" -c "$TMP/fwdauthd-$kind.conf" -f >"$TMP/fwdauthd-$kind.log" 2>&1 &
		if [ $kind = sqlite ]; then SQ_PID=$!; else RS_PID=$!; fi
	done
	for p in $S_FWD $R_FWD; do wait_port "$p"; done
	# A long sender becomes an alias with both stores.
	long=long-sender-0000000001-of-a-mailing-list-xxxxxxxxxxxx@example1.org
	: >"$TMP/main.cf"
	for p in $S_FWD $R_FWD; do
		a=$(postmap -c "$TMP" -q "$long" "tcp:127.0.0.1:$p" || true)
		case "$a" in SRS0=*=1=*) ;; *) echo "srs.sh: port $p answered '$a' for a long sender" >&2; exit 1 ;; esac
	done
fi

# Both must give the same answer, or the comparison is meaningless.
: >"$TMP/main.cf"
a=$(postmap -c "$TMP" -q test@otherdomain.com "tcp:127.0.0.1:$F_FWD")
b=$(postmap -c "$TMP" -q test@otherdomain.com "tcp:127.0.0.1:$P_FWD")
c=$(postmap -c "$TMP" -q test@otherdomain.com "socketmap:inet:127.0.0.1:$F_SMAP:forward")
if [ "$a" != "$b" ] || [ "$a" != "$c" ]; then
	echo "srs.sh: answers differ: fwdauthd tcp '$a', socketmap '$c', postsrsd '$b'" >&2
	exit 1
fi

RESULTS="$TMP/results"
: >"$RESULTS"
run() { # label conns args...
	local label=$1 conns=$2
	shift 2
	echo "== $label, $conns connection(s)" >&2
	"$LOAD" -l "$label" -c "$conns" -t "$SECONDS_PER_RUN" "$@" | tee -a "$TMP/load.out" >&2 ||
		echo "srs.sh: srs-load failed or saw errors for $label" >&2
	grep '^RESULT ' "$TMP/load.out" | tail -1 >>"$RESULTS"
}
for _ in $(seq "$REPEAT"); do
	if [ "$PART" != store ]; then
		for n in $CONNS; do
			run fwdauthd-tcp "$n" -P tcp "127.0.0.1:$F_FWD"
			run fwdauthd-socketmap "$n" -P socketmap -m forward "127.0.0.1:$F_SMAP"
			run postsrsd-tcp "$n" -P tcp "127.0.0.1:$P_FWD"
		done
	fi
	if [ "$PART" != tables ]; then
		# Every reply counts for stateless and postsrsd (they leave long
		# senders unchanged or over-long); the hybrids must answer all 200.
		run store-stateless "$STORE_CONNS" -L "$LONG_PCT" -x "" -P tcp "127.0.0.1:$F_FWD"
		run store-sqlite "$STORE_CONNS" -L "$LONG_PCT" -P tcp "127.0.0.1:$S_FWD"
		run store-redis "$STORE_CONNS" -L "$LONG_PCT" -P tcp "127.0.0.1:$R_FWD"
		run store-postsrsd "$STORE_CONNS" -L "$LONG_PCT" -x "" -P tcp "127.0.0.1:$P_FWD"
	fi
done

# fwdauthd must still be alive (a crash under load is the worst result).
for pid in $FWD_PID $SQ_PID $RS_PID; do
	kill -0 "$pid" || { echo "srs.sh: a fwdauthd died; logs:" >&2; cat "$TMP"/fwdauthd*.log >&2; exit 1; }
done
if [ "$PART" != tables ]; then
	# The store's own limit: SET and GET of a sender-sized value, 8 clients.
	"$REDIS_BENCH" -s "$TMP/redis.sock" -t set,get -n 200000 -c "$STORE_CONNS" -d 60 --csv \
		>"$TMP/redis-bench.csv" 2>"$TMP/redis-bench.err" ||
		{ echo "srs.sh: redis-benchmark failed:" >&2; cat "$TMP/redis-bench.err" >&2; exit 1; }
	cat "$TMP/redis-bench.csv" >&2
	ALIASES=$("$REDIS_CLI" -s "$TMP/redis.sock" --scan --pattern 'PostSRSd/*' | wc -l)
	export ALIASES
fi

bench_facts
export CONNS SECONDS_PER_RUN REPEAT CMDLINE RESULTS LOADAVG PART LONG_PCT STORE_CONNS
export REDIS_CSV="$TMP/redis-bench.csv"
export REDIS_VERSION=$("$REDIS_SERVER" --version 2>/dev/null | sed 's/.*v=\([^ ]*\).*/\1/')
export FWD_VERSION=$("$FWDAUTHD" -V 2>/dev/null | head -1 || true)
export PS_VERSION=$(dpkg-query -W -f='${Version}' postsrsd 2>/dev/null || echo '?')
"$PY" - "$ROOT" <<'PYEOF'
import csv, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "bench"))
from bench_md import machine_line, write_section
runs = {}
for line in open(os.environ["RESULTS"]):
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    runs.setdefault((kv["label"], int(kv["conns"])), []).append(kv)
rows, spread = {}, {}
for key, rs in runs.items():
    rs.sort(key=lambda r: float(r["rps"]))
    rows[key] = rs[(len(rs) - 1) // 2]  # the median run (lower median)
    spread[key] = "%.0f–%.0f" % (float(rs[0]["rps"]), float(rs[-1]["rps"]))

def tables_section():
    conns = [int(c) for c in os.environ["CONNS"].split()]
    ps = lambda n: float(rows[("postsrsd-tcp", n)]["rps"])
    out = ["<!-- srs:begin (written by bench/srs.sh; edit the script, not this section) -->",
           "## SRS lookup tables: fwdauthd vs postsrsd %s" % os.environ["PS_VERSION"], "",
           "Forward lookups of varied addresses (plain, tagged, upper case, deep subdomains, SRS0 and",
           "SRS1 of other forwarders) over persistent connections, one request in flight per",
           "connection, as Postfix's cleanup processes use a table; %s s per run after 0.5 s warm-up,"
           % os.environ["SECONDS_PER_RUN"],
           "%s rounds round-robin; each row is the median run (req/s range of all rounds beside it)."
           % os.environ["REPEAT"],
           "Both daemons use the same secret, SRS domain and `+/` hash alphabet, so they compute",
           "byte-identical answers; fwdauthd runs with its default settings (log_level = info,",
           "no log line per lookup: 2 syscalls per request, one read and one send). postsrsd 1.10",
           "forks a process per connection and calls syslog() for every rewrite (with no syslog",
           "socket in its chroot that is 6 syscalls per request besides its read and write).",
           "Load generator: `bench/srs_load.c` (srs-load) on the same machine.", "",
           "| server | protocol | conns | req/s | range | p50 µs | p99 µs | p99.9 µs | max µs | vs postsrsd |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in conns:
        for label in ("fwdauthd-tcp", "fwdauthd-socketmap", "postsrsd-tcp"):
            r = rows.get((label, n))
            if not r:
                continue
            server, proto = label.split("-")
            ratio = "%.2f×" % (float(r["rps"]) / ps(n)) if server == "fwdauthd" else "1.00×"
            err = "" if r["errors"] == "0" else " (%s errors)" % r["errors"]
            out.append("| %s | %s | %d | %.0f%s | %s | %s | %s | %s | %s | %s |" % (
                server, proto, n, float(r["rps"]), err, spread[(label, n)], r["p50_us"],
                r["p99_us"], r["p999_us"], r["max_us"], ratio))
    out.append("")
    top = max(conns)
    t = rows.get(("fwdauthd-tcp", top))
    s = rows.get(("fwdauthd-socketmap", top))
    if t and ("postsrsd-tcp", top) in rows:
        ratio = float(t["rps"]) / ps(top)
        p99 = float(t["p99_us"])
        met = ratio >= 1.5 and p99 < 1000
        out.append("**Target** (at %d connections: fwdauthd ≥ 1.5× postsrsd's req/s, p99 < 1 ms): "
                   "%s — tcp %.2f× with p99 %.0f µs%s." % (
                       top, "met" if met else "NOT met", ratio, p99,
                       "; socketmap %.2f× with p99 %s µs" % (float(s["rps"]) / ps(top), s["p99_us"])
                       if s else ""))
        out.append("")
    out += [machine_line(" (the load generator shares the cores; with other work on the machine"
                         " the 1-connection rows, bound by scheduling latency, vary most)",
                         " " + os.environ["FWD_VERSION"]),
            "", "Command: `%s` (each run: `srs-load -l LABEL -c CONNS -t %s -P tcp|socketmap "
            "127.0.0.1:PORT`)." % (os.environ["CMDLINE"].strip(), os.environ["SECONDS_PER_RUN"]),
            "<!-- srs:end -->"]
    section = "\n".join(out) + "\n"
    write_section(sys.argv[1], "<!-- srs:begin", "<!-- srs:end -->", section)
    print(section)


def store_section():
    n = int(os.environ["STORE_CONNS"])
    pct = os.environ["LONG_PCT"]
    redis = {}
    with open(os.environ["REDIS_CSV"]) as f:
        for rec in csv.reader(f):
            if rec and rec[0] in ("SET", "GET"):
                redis[rec[0]] = rec
    ps = rows.get(("store-postsrsd", n))
    out = ["<!-- srs-store:begin (written by bench/srs.sh; edit the script, not this section) -->",
           "## SRS with a store: hybrid on SQLite and Redis vs stateless vs postsrsd %s"
           % os.environ["PS_VERSION"], "",
           "Forward lookups over tcp_table as above, %s connections, with %s%% long senders"
           % (n, pct),
           "(a 53-octet local part, spread evenly among the other addresses: their SRS form would",
           "exceed 64 octets). fwdauthd `srs_mode = hybrid` stores each long sender at every",
           "lookup (a write per long sender: SQLite in WAL mode in a file; Redis %s on a unix socket"
           % os.environ["REDIS_VERSION"],
           "with AOF, `appendfsync everysec`, as the README advises) and answers an alias; the",
           "others are stateless. Stateless fwdauthd leaves the long senders unchanged and postsrsd",
           "1.10 rewrites them to over-long addresses: both answers count for them here, so they do",
           "less work than the hybrids. %s s per run, %s rounds round-robin; each row is the median"
           % (os.environ["SECONDS_PER_RUN"], os.environ["REPEAT"]),
           "run (req/s range of all rounds beside it). Errors: replies that were not an answer.",
           "The store held %s aliases afterwards (one per distinct long sender)."
           % os.environ.get("ALIASES", "?"),
           "Each connection has one request in flight, so a row's rate is 8 / its mean latency;",
           "a stored sender adds a round trip to Redis (or a SQLite write) that waits for that",
           "process to be scheduled, which on a busy 2-core machine costs far more than the work.",
           "",
           "| server | store | conns | req/s | range | p50 µs | p99 µs | p99.9 µs | max µs | errors | vs postsrsd |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, server, store in (("store-redis", "fwdauthd hybrid", "Redis"),
                                 ("store-sqlite", "fwdauthd hybrid", "SQLite"),
                                 ("store-stateless", "fwdauthd stateless", "none"),
                                 ("store-postsrsd", "postsrsd", "none")):
        r = rows.get((label, n))
        if not r:
            continue
        ratio = "%.2f×" % (float(r["rps"]) / float(ps["rps"])) if ps else "?"
        out.append("| %s | %s | %d | %.0f | %s | %s | %s | %s | %s | %s | %s |" % (
            server, store, n, float(r["rps"]), spread[(label, n)], r["p50_us"], r["p99_us"],
            r["p999_us"], r["max_us"], r["errors"], ratio))
    out.append("")
    if redis:
        out.append("The store's own limit, `redis-benchmark -s SOCKET -t set,get -n 200000 -c %d"
                   " -d 60` on the same socket and machine: %s." % (n, "; ".join(
                       "%s %.0f req/s (p99 %s ms)" % (k, float(v[1]), v[6])
                       for k, v in sorted(redis.items(), reverse=True))))
        out.append("")
    h = rows.get(("store-redis", n))
    if h and ps:
        ratio = float(h["rps"]) / float(ps["rps"])
        p99 = float(h["p99_us"])
        met = ratio >= 1.3 and p99 < 2000 and h["errors"] == "0"
        out.append("**Target** (at %d connections with %s%% long senders: hybrid on Redis ≥ 1.3× "
                   "postsrsd's req/s, p99 < 2 ms): %s — %.2f× with p99 %.0f µs%s." % (
                       n, pct, "met" if met else "NOT met", ratio, p99,
                       "" if h["errors"] == "0" else ", %s errors" % h["errors"]))
        out.append("")
    out += [machine_line(" (the load generator, the daemons and Redis share the cores)",
                         " " + os.environ["FWD_VERSION"]),
            "", "Command: `%s` (each run: `srs-load -l LABEL -c %d -L %s -t %s -P tcp "
            "127.0.0.1:PORT`)." % (os.environ["CMDLINE"].strip(), n, pct,
                                   os.environ["SECONDS_PER_RUN"]),
            "<!-- srs-store:end -->"]
    section = "\n".join(out) + "\n"
    write_section(sys.argv[1], "<!-- srs-store:begin", "<!-- srs-store:end -->", section)
    print(section)


if os.environ["PART"] != "store":
    tables_section()
if os.environ["PART"] != "tables":
    store_section()
PYEOF
