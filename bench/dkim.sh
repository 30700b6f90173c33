#!/usr/bin/env bash
# bench/dkim.sh: DKIM sign/verify throughput of libfwdauth against dkimpy,
# OpenDKIM and `openssl speed`.
#
# Builds dkim-bench (Release) in build-bench/, makes an RSA-2048 and an
# Ed25519 key and 2 KB / 10 KB / 1 MB CRLF text messages in a temp folder,
# then, REPEAT times round-robin (the machine is shared: the median is
# reported), runs on one core each:
#   - openssl speed -seconds S rsa2048 ed25519 sha256
#   - dkim-bench (bench/dkim_bench.c): sign, verify and body hashing in one
#     process, no I/O, no process start-up
#   - dkimpy: dkim.sign / dkim.verify in a Python loop (in process)
#   - OpenDKIM 2.11 as a milter (Mode s, rsa-sha256), driven by miltertest:
#     a milter round trip per message, so protocol and Lua costs are included
# and writes the results between the dkim markers of BENCHMARKS.md.
#
# usage: bench/dkim.sh [-t SECONDS] [-r REPEAT] [--no-build] [--build-dir DIR]
# Targets: RSA-2048 sign of 10 KB >= 85% of openssl's rsa2048 sign/s;
# 1 MB body hashing >= 70% (simple) and >= 35% (relaxed) of openssl's
# sha256 rate on 16 KB blocks.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=3
REPEAT=3
BUILD=1
BUILD_DIR="$ROOT/build-bench"
CMDLINE="bench/dkim.sh $*"
while [ $# -gt 0 ]; do
	case "$1" in
	-t) SECS=$2; shift 2 ;;
	-r) REPEAT=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--build-dir) BUILD_DIR=$2; shift 2 ;;
	*) echo "usage: bench/dkim.sh [-t SECONDS] [-r REPEAT] [--no-build] [--build-dir DIR]" >&2; exit 2 ;;
	esac
done

. "$ROOT/bench/common.sh"
bench_build fwdauth dkim-bench
export DKIM_BENCH="$BUILD_DIR/bench/dkim-bench" FWDAUTH="$BUILD_DIR/bin/fwdauth"
bench_facts
export SECS REPEAT CMDLINE ROOT
exec /usr/bin/python3 "$ROOT/bench/dkim_bench.py"
