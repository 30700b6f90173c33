#!/usr/bin/env bash
# deps.sh: install, with apt-get, every Debian package that fwdauth's build and
# tests need and that is missing. Idempotent and quiet when all is there.
#
# Packages that ship a daemon (postfix, postsrsd, opendkim, unbound, dovecot-core,
# rspamd) try to start it on install and the install fails when its port is taken;
# a policy-rc.d that answers 101 forbids starting services for the duration of the
# install, so the install cannot fail on a busy port and nothing is left listening.
set -euo pipefail

PACKAGES=(
	# build
	cmake make gcc pkg-config libssl-dev libcmocka-dev
	# libraries for later modules (DESIGN.md): DNS, PSL, SMTP submission, metrics
	libunbound-dev libpsl-dev libcurl4-openssl-dev libmicrohttpd-dev zlib1g-dev
	# fuzzing and sanitizers
	clang libclang-rt-14-dev
	# peers and oracles for the tests
	postfix postsrsd python3 python3-yaml python3-dkim python3-spf python3-authheaders pflogsumm
	opendkim opendkim-tools miltertest unbound swaks
	# receiver-side judge (tests/integration/receiver.py): a private rspamd per test
	rspamd
	# SASL AUTH for the submission tests (fwdauth send): Postfix asks Dovecot
	dovecot-core
	# the test helpers use these
	procps iproute2 util-linux
	# bench/logscan.sh: GNU time for elapsed time and maximum RSS
	time
	# integration.logscan renders fwdauth logscan's HTML report in headless Chromium
	chromium
	# make deb (debhelper, dpkg-buildpackage), its checks (lintian; systemd-analyze
	# verify comes with systemd) and make test-package (debootstrap: a clean root)
	debhelper dpkg-dev fakeroot lintian debootstrap systemd
	# make test: mandoc -T lint on the man pages
	mandoc
	# SRS stores (hybrid and database SRS): SQLite on one host, Redis/Valkey for a
	# cluster; redis-server also runs in the store tests and bench/srs.sh
	libsqlite3-dev libhiredis-dev redis-server redis-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 2
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
policy_was_ours=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	policy_was_ours=1
fi
cleanup() { if [ "$policy_was_ours" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

# postfix asks debconf how to configure itself; "No configuration" leaves the
# system's Postfix untouched (tests run private instances with postfix -c DIR).
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
