# bench/common.sh: what every bench script shares. Source it after the
# options are parsed (ROOT, BUILD and BUILD_DIR set):
#   bench_build TARGET...  Release build of the targets in BUILD_DIR, unless
#                          --no-build set BUILD=0
#   bench_facts            export CPU, NPROC, KERNEL, DATE and GIT_REV (with
#                          " (+ working tree)" when src/ has uncommitted
#                          changes) for the line that ends every report
bench_build() {
	[ "${BUILD:-1}" = 1 ] || return 0
	cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$BUILD_DIR" -j"$(nproc)" --target "$@" >/dev/null
}

# bench_build_before REV TMPDIR TARGET...: Release build of commit REV from
# git archive (the repository is not touched) in TMPDIR/before-build; sets
# BEFORE_REV (short) and BEFORE_BIN_DIR. For before-and-after rows in one run.
bench_build_before() {
	local rev=$1 tmp=$2
	shift 2
	BEFORE_REV=$(git -C "$ROOT" rev-parse --short "$rev")
	mkdir "$tmp/before-src"
	git -C "$ROOT" archive "$BEFORE_REV" | tar -x -C "$tmp/before-src"
	cmake -S "$tmp/before-src" -B "$tmp/before-build" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$tmp/before-build" -j"$(nproc)" --target "$@" >/dev/null
	BEFORE_BIN_DIR="$tmp/before-build/bin"
}

bench_facts() {
	CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	NPROC=$(nproc)
	KERNEL=$(uname -r)
	DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "uncommitted")
	git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || GIT_REV="$GIT_REV (+ working tree)"
	export CPU NPROC KERNEL DATE GIT_REV
}
