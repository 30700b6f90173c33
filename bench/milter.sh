#!/usr/bin/env bash
# bench/milter.sh: messages per second through a real Postfix with no milter,
# with fwdauthd signing every message, and with OpenDKIM signing every message.
#
# Builds fwdauthd and fwdauth (Release) in build-bench/, then (bench/milter_bench.py)
# starts a throwaway Postfix (tests/integration/postfixtest.py) relaying to one
# smtp-sink, fwdauthd (milter, KeyTable/SigningTable for *@ourdomain.test) and
# OpenDKIM (Mode s) with the same RSA-2048 key, relaxed/relaxed, and runs
#   smtp-source -s SESSIONS -m MESSAGES -l SIZE -f bench@ourdomain.test \
#       -t user@remote.test 127.0.0.1:PORT
# once per configuration per round (smtpd_milters switched with postconf and
# `postfix reload`), timing from the start of smtp-source to the last message
# at the sink. REPEAT rounds round-robin, the median is reported between the
# milter markers of BENCHMARKS.md. A fourth configuration runs fwdauthd without
# signing tables (for this internal mail: nothing to verify or sign, the milter
# round trip only): with the machine-wide CPU per message of every
# configuration it shows what Postfix's milter work costs apart from the
# signature (the report's CPU budget paragraph).
# fwdauthd-changes is the signing fwdauthd with the recipient forwarded and a
# Subject tag and footer on (issue 11: within 10% of signing alone).
# --before REV adds fwdauthd-before: the signing fwdauthd built from commit
# REV (git archive into a temp folder), so before and after share one run.
# fwdauthd-reuse is the signing fwdauthd with smtp-source -d: SMTP sessions,
# and so milter connections, carry many messages (a busy relay); beside the
# fwdauthd row it shows what a milter connection costs apart from a message.
# CONFIGS="... fwdauthd-quickack" adds the LD_PRELOAD experiment that found the
# ~40 ms delayed-ACK stall (bench/quickack_preload.c). TRANSPORT=unix puts both
# milters on unix sockets. --perf adds one profiled fwdauthd run
# (perf record -e cpu-clock -g) and puts its top symbols in the section.
#
# usage: bench/milter.sh [-m MESSAGES] [-s SESSIONS] [-l SIZE] [-r REPEAT]
#                        [--perf] [--no-build] [--build-dir DIR] [--before REV]
# Targets: fwdauthd >= OpenDKIM's msg/s, and within 15% of no milter.
# Needs root (Postfix), postfix, opendkim, python3-dkim.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
MESSAGES=2000
SESSIONS=10
SIZE=10000
REPEAT=3
BUILD=1
PROFILE=""
BUILD_DIR="$ROOT/build-bench"
BEFORE=""
CMDLINE="bench/milter.sh $*"
while [ $# -gt 0 ]; do
	case "$1" in
	-m) MESSAGES=$2; shift 2 ;;
	-s) SESSIONS=$2; shift 2 ;;
	-l) SIZE=$2; shift 2 ;;
	-r) REPEAT=$2; shift 2 ;;
	--perf) PROFILE=perf; shift ;;
	--no-build) BUILD=0; shift ;;
	--build-dir) BUILD_DIR=$2; shift 2 ;;
	--before) BEFORE=$2; shift 2 ;;
	*) echo "usage: bench/milter.sh [-m MESSAGES] [-s SESSIONS] [-l SIZE] [-r REPEAT] [--perf] [--no-build] [--build-dir DIR] [--before REV]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "milter.sh: run as root (a private Postfix instance)" >&2; exit 2; }
for p in /usr/sbin/postfix /usr/sbin/smtp-source /usr/sbin/smtp-sink /usr/sbin/opendkim; do
	[ -x "$p" ] || { echo "milter.sh: $p missing (scripts/deps.sh)" >&2; exit 2; }
done

. "$ROOT/bench/common.sh"
bench_build fwdauthd fwdauth

DEFAULT_CONFIGS="none fwdauthd fwdauthd-reuse fwdauthd-changes fwdauthd-nosign opendkim"
if [ -n "$BEFORE" ]; then
	TMP=$(mktemp -d /tmp/fwdauth-bench-milter.XXXXXX)
	trap 'rm -rf "$TMP"' EXIT
	bench_build_before "$BEFORE" "$TMP" fwdauthd
	export FWDAUTHD_BEFORE="$BEFORE_BIN_DIR/fwdauthd" BEFORE_REV
	DEFAULT_CONFIGS="none fwdauthd-before fwdauthd fwdauthd-reuse fwdauthd-changes fwdauthd-nosign opendkim"
fi
export CONFIGS=${CONFIGS:-$DEFAULT_CONFIGS}
export ROOT MESSAGES SESSIONS SIZE PROFILE CMDLINE
export ROUNDS=$REPEAT
export FWDAUTHD="$BUILD_DIR/bin/fwdauthd" FWDAUTH="$BUILD_DIR/bin/fwdauth"
export LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
bench_facts
export PF_VERSION=$(/usr/sbin/postconf -dh mail_version 2>/dev/null || echo '?')
export ODK_VERSION=$(dpkg-query -W -f='${Version}' opendkim 2>/dev/null || echo '?')
/usr/bin/python3 "$ROOT/bench/milter_bench.py"
