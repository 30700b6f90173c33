# fwdauth: thin wrapper over CMake. `make run` and `make test` do all set-up.
PREFIX ?= /usr/local
DESTDIR ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_TIME ?= 60

BUILD := build
ASAN_BUILD := build-asan
BENCH_BUILD := build-bench

# make deb writes the package (and its lintian and systemd-analyze logs) here.
DEB_OUT ?= $(BUILD)/deb

.PHONY: all deps build run test test-plain test-asan bench fuzz install deb test-package \
	format format-check clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Start fwdauthd in the foreground with a demo config under ./var.
run: build
	@bash scripts/run.sh

# Every test twice: the normal build, then clang with ASan+UBSan, which also
# builds the libFuzzer targets and runs each briefly over its seeds.
test: build
	@$(MAKE) --no-print-directory test-plain test-asan

test-plain:
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	    -DFWDAUTH_SANITIZE=ON -DFWDAUTH_FUZZ=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Peer comparisons, all in one run on this machine; results in BENCHMARKS.md.
bench: deps
	@bash bench/srs.sh
	@bash bench/dkim.sh
	@bash bench/seal.sh
	@bash bench/milter.sh
	@bash bench/limits.sh
	@bash bench/logscan.sh

# Longer fuzzing than the smoke runs in make test: FUZZ_TIME seconds per target
# (FUZZ_TARGETS="milter mailflow" for some only). Every target runs; make fuzz
# then fails if any found a crash, a leak, a timeout (FUZZ_TIMEOUT seconds for
# one input) or ran out of memory. Each target's output is kept in
# $(ASAN_BUILD)/fuzz/log-NAME, what it found in $(ASAN_BUILD)/fuzz/artifacts/NAME/
# (crash-*, timeout-*, oom-*: replay with `$(ASAN_BUILD)/fuzz/fuzz_NAME FILE`),
# never in the source tree, and its corpus grows in $(ASAN_BUILD)/fuzz/corpus-NAME.
FUZZ_TARGETS ?=
FUZZ_TIMEOUT ?= 30
fuzz: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	    -DFWDAUTH_SANITIZE=ON -DFWDAUTH_FUZZ=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@out=$(ASAN_BUILD)/fuzz; failed=; \
	names="$(FUZZ_TARGETS)"; \
	if [ -z "$$names" ]; then \
	    for f in $$out/fuzz_*; do [ -f "$$f" ] && [ -x "$$f" ] && names="$$names $${f##*/fuzz_}"; done; \
	fi; \
	[ -n "$$names" ] || { echo "make fuzz: no fuzz targets in $$out"; exit 1; }; \
	for n in $$names; do \
	    f=$$out/fuzz_$$n; \
	    [ -x "$$f" ] || { echo "make fuzz: no target $$f"; failed="$$failed $$n"; continue; }; \
	    mkdir -p $$out/corpus-$$n $$out/artifacts/$$n; \
	    echo "== $$n ($(FUZZ_TIME)s)"; \
	    if $$f -max_total_time=$(FUZZ_TIME) -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=2048 \
	        -artifact_prefix=$$out/artifacts/$$n/ $$out/corpus-$$n fuzz/seeds/$$n \
	        >$$out/log-$$n 2>&1; then \
	        tail -n 2 $$out/log-$$n; \
	    else \
	        st=$$?; tail -n 40 $$out/log-$$n; \
	        echo "== $$n FAILED (exit $$st): log $$out/log-$$n, input in $$out/artifacts/$$n/"; \
	        failed="$$failed $$n"; \
	    fi; \
	done; \
	if [ -n "$$failed" ]; then echo "make fuzz: failed:$$failed"; exit 1; fi

# The unit names the installed fwdauthd, so the build is configured for
# PREFIX (CMake makes etc/fwdauthd.service.in into the unit at configure time).
install: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# The Debian package, built with debhelper from debian/ (a copy of the tree
# under DEB_OUT), checked with lintian and systemd-analyze verify.
deb: deps
	@JOBS=$(JOBS) bash scripts/deb.sh $(DEB_OUT)

# The package installed into a clean Debian 12 root (debootstrap, cached as
# DEB_OUT/rootfs-bookworm.tar: ~70 MB downloaded the first time) through
# chroot: maintainer scripts, files, fwdauthd -t, fwdauth doctor, purge.
# Not part of make test (network, root). tests/package/test_package.py.
test-package: deb
	@cd tests/package && FWDAUTH_SOURCE=$(CURDIR) FWDAUTH_DEB_OUT=$(abspath $(DEB_OUT)) \
	    PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m unittest -v test_package

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD) $(ASAN_BUILD) $(BENCH_BUILD)
