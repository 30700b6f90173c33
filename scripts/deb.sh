#!/usr/bin/env bash
# deb.sh OUTDIR: build fwdauth's Debian package (make deb) into OUTDIR and
# check it: lintian (errors and warnings fail; overrides in
# debian/fwdauth.lintian-overrides say why) and systemd-analyze verify on
# the unit it installs.
#
# The package is built from a copy of the source tree (the files git
# knows, as they are in the working tree, plus new ones not ignored) under
# OUTDIR/fwdauth-VERSION, so the tree itself is never written to. VERSION
# is CMakeLists.txt's project(fwdauth VERSION ...); debian/changelog is
# written there from it (date: the last commit's, so that two builds of one
# commit are alike). No network is used. Prints the path of the .deb last.
set -euo pipefail

out=${1:?usage: deb.sh OUTDIR}
src=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

version=$(sed -n 's/^project(fwdauth VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
if [ -z "$version" ]; then
	echo "deb.sh: no project(fwdauth VERSION ...) in CMakeLists.txt" >&2
	exit 2
fi
maintainer=$(sed -n 's/^Maintainer: //p' "$src/debian/control")
arch=$(dpkg --print-architecture)

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage="$out/fwdauth-$version"
rm -rf "$stage" "$out"/fwdauth_"$version"_* "$out"/fwdauth-dbgsym_"$version"_*
mkdir -p "$stage"

cd "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked files (working-tree state, deleted ones left out) and new ones
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf - | tar -xf - -C "$stage"
	when=$(git log -1 --format=%ct 2>/dev/null || date +%s)
	described=$(git describe --always --dirty 2>/dev/null || echo unknown)
else
	tar --exclude='./build' --exclude='./build-*' --exclude='./var' -cf - . | tar -xf - -C "$stage"
	when=$(date +%s)
	described="a source tree without git"
fi

cat >"$stage/debian/changelog" <<EOF
fwdauth ($version) unstable; urgency=medium

  * fwdauth $version, built from $described.

 -- $maintainer  $(LC_ALL=C date -R -u -d "@$when")
EOF

export SOURCE_DATE_EPOCH="$when"
export DEB_BUILD_OPTIONS="parallel=$jobs nocheck${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}"
start=$(date +%s)
(cd "$stage" && dpkg-buildpackage -b -us -uc >"$out/build.log" 2>&1) || {
	tail -n 40 "$out/build.log" >&2
	echo "deb.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
}
deb="$out/fwdauth_${version}_${arch}.deb"
changes="$out/fwdauth_${version}_${arch}.changes"
echo "deb.sh: built $deb in $(($(date +%s) - start)) s" >&2

# lintian: errors and warnings fail the build; info and pedantic are shown.
# (lintian's note that it runs as root is dropped.)
set +e
lintian --fail-on error,warning --display-info --pedantic --info "$changes" 2>&1 |
	grep -v '^running with root privileges' >"$out/lintian.log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
	cat "$out/lintian.log" >&2
	echo "deb.sh: lintian found errors or warnings" >&2
	exit 1
fi
if [ -s "$out/lintian.log" ]; then
	echo "deb.sh: lintian (info and pedantic only):" >&2
	sed 's/^/  /' "$out/lintian.log" >&2
fi

# systemd-analyze verify on the unit as installed: the package's files are
# laid over this system's /usr (private mount namespace, read-only overlay),
# so that the binary of ExecStart and the man pages of Documentation= are
# where the unit says, next to the system's own units and programs.
unpacked="$out/unpacked"
rm -rf "$unpacked"
mkdir -p "$unpacked/pkg"
dpkg-deb -x "$deb" "$unpacked/pkg"
mkdir -p "$unpacked/layer"
cp -a "$unpacked/pkg/usr" "$unpacked/layer/usr"
if [ -d "$unpacked/pkg/lib" ]; then
	# /lib is /usr/lib on merged-/usr systems (Debian 12)
	mkdir -p "$unpacked/layer/usr/lib"
	cp -a "$unpacked/pkg/lib/." "$unpacked/layer/usr/lib/"
fi
unshare_args=(--mount)
[ "$(id -u)" -eq 0 ] || unshare_args=(--user --map-root-user --mount)
if ! unshare "${unshare_args[@]}" -- sh -c '
	mount -t overlay fwdauth-deb -o "lowerdir=$1/usr:/usr" /usr &&
	SYSTEMD_LOG_LEVEL=notice exec systemd-analyze verify /lib/systemd/system/fwdauthd.service
	' sh "$unpacked/layer" >"$out/verify.log" 2>&1 || [ -s "$out/verify.log" ]; then
	cat "$out/verify.log" >&2
	echo "deb.sh: systemd-analyze verify found problems in fwdauthd.service" >&2
	exit 1
fi
echo "deb.sh: lintian clean, systemd-analyze verify clean" >&2
echo "$deb"
