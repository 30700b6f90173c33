#!/usr/bin/env bash
# bench/seal.sh: ARC sealing throughput of libfwdauth (forwarded messages
# sealed per second: chain check, AAR, AMS and AS) against dkimpy's
# arc_sign and the machine's crypto limit.
#
# Builds arc-seal-bench (Release) in build-bench/, makes an RSA-2048 key and
# a 10 KB CRLF text message carrying an Authentication-Results field (and a
# copy already sealed once, for a second hop), then, REPEAT times round-robin
# (the median is reported), on one core each:
#   - openssl speed rsa2048: the crypto limit is its sign rate / 2 (a seal
#     is two RSA signatures, AMS and AS)
#   - arc-seal-bench (bench/seal_bench.c): sealing in one process, no I/O
#   - dkimpy: dkim.arc_sign in a Python loop (in process)
# and writes the results between the seal markers of BENCHMARKS.md.
#
# usage: bench/seal.sh [-t SECONDS] [-r REPEAT] [--no-build] [--build-dir DIR]
# Target: sealing a 10 KB message (first hop) >= 85% of the crypto limit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=3
REPEAT=3
BUILD=1
BUILD_DIR="$ROOT/build-bench"
CMDLINE="bench/seal.sh $*"
while [ $# -gt 0 ]; do
	case "$1" in
	-t) SECS=$2; shift 2 ;;
	-r) REPEAT=$2; shift 2 ;;
	--no-build) BUILD=0; shift ;;
	--build-dir) BUILD_DIR=$2; shift 2 ;;
	*) echo "usage: bench/seal.sh [-t SECONDS] [-r REPEAT] [--no-build] [--build-dir DIR]" >&2; exit 2 ;;
	esac
done

. "$ROOT/bench/common.sh"
bench_build fwdauth arc-seal-bench
export SEAL_BENCH="$BUILD_DIR/bench/arc-seal-bench" FWDAUTH="$BUILD_DIR/bin/fwdauth"
export DKIM_BENCH="$BUILD_DIR/bench/dkim-bench"
bench_facts
export SECS REPEAT CMDLINE ROOT
exec /usr/bin/python3 "$ROOT/bench/seal_bench.py"
