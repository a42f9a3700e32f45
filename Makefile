# SPDX-License-Identifier: LGPL-2.1-or-later
# A thin wrapper over CMake/CTest and the scripts in deploy/ and config/examples/.
#
#   make demo      install the dependencies, build build/, run the demo
#   make check     install the test dependencies, build build/ and build-asan/
#                  (ASan + UBSan), run the demo and the test suite in both,
#                  without the tests labelled `long` (tests/README.md)
#   make check-full  make check, then the `long` tests in both builds
#   make check-long  only the `long` tests, in both builds (what check-full adds)
#   make check-tsan  build build-tsan/ (ThreadSanitizer) and run the unit tests and the
#                  threaded token batches (tests/token/tsan_batch.py) in it
#   make format-check  clang-format-14 --dry-run over src/, tests/*.c, bench/*.c
#   make bench     build build/ and run the benchmark (writes build/bench-results.md)
#   make install   build build/ and install it (PREFIX=/usr/local, DESTDIR honoured)
#   make clean     remove build/, build-asan/ and build-tsan/
#
# Installing the dependencies (deploy/install-deps.sh) needs root on Debian
# bookworm unless they are all installed already.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
CMAKE_FLAGS ?=

ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
CTEST = ctest --output-on-failure -j$(JOBS)
CLANG_FORMAT ?= clang-format-14
FORMAT_FILES = $(sort $(shell find src -name '*.[ch]') $(shell find tests bench -name '*.c'))

.PHONY: all build build-asan deps deps-test demo demo-run check check-full check-long test \
	test-asan test-long test-asan-long format-check bench install clean help build-tsan check-tsan

all: build

help:
	@sed -n '2,/^$$/{/^#/s/^# \{0,1\}//p}' Makefile

deps:
	deploy/install-deps.sh

deps-test:
	deploy/install-deps.sh --test

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
		$(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

build-asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEVGATE_SANITIZE=ON \
		$(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)

build-tsan:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEVGATE_TSAN=ON \
		$(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j$(JOBS)

# ThreadSanitizer over the unit tests (the release queue's races, the configuration
# owner's threads, secmem's pool) and over threaded token batches (--jobs 8, tk: URIs,
# SoftHSM; label tsan-token): outside make check's 15-minute budget.
check-tsan: deps-test
	$(MAKE) --no-print-directory build-tsan
	cd $(TSAN_BUILD) && $(TSAN_ENV) $(CTEST) -L unit
	cd $(TSAN_BUILD) && $(TSAN_ENV) $(CTEST) -L tsan-token

demo: deps
	$(MAKE) --no-print-directory build
	config/examples/run-demo.sh $(BUILD)

# The demo as a smoke test: its output goes to a log, shown only when it fails.
demo-run:
	@if config/examples/run-demo.sh $(BUILD) >$(BUILD)/demo.log 2>&1; then \
		echo "demo: OK ($(BUILD)/demo.log)"; \
	else \
		cat $(BUILD)/demo.log; echo "demo: FAILED"; exit 1; \
	fi

test:
	cd $(BUILD) && $(CTEST) -LE long

test-asan:
	cd $(ASAN_BUILD) && $(ASAN_ENV) $(CTEST) -LE long

test-long:
	cd $(BUILD) && $(CTEST) -L long

test-asan-long:
	cd $(ASAN_BUILD) && $(ASAN_ENV) $(CTEST) -L long

# Sequential on purpose: deps, both builds, the demo, then the two test runs
# (each ctest -j$(JOBS); a test that runs two processes at once says PROCESSORS 2).
check: deps-test
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory build-asan
	$(MAKE) --no-print-directory demo-run
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory test-asan

# The long runs: the 1,500-case differential with a new seed, the full kill loop,
# the sandbox over whole harnesses (plain build only).
check-long: deps-test
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory build-asan
	$(MAKE) --no-print-directory test-long
	$(MAKE) --no-print-directory test-asan-long

check-full: check
	$(MAKE) --no-print-directory check-long

# The files clang-format-14 would change (.clang-format), listed; exit 1 if any.
format-check:
	@command -v $(CLANG_FORMAT) >/dev/null || \
		{ echo "format-check: $(CLANG_FORMAT) not found (deploy/install-deps.sh --test)"; exit 1; }
	@bad=0; for f in $(FORMAT_FILES); do \
		$(CLANG_FORMAT) --dry-run -Werror "$$f" >/dev/null 2>&1 || { echo "$$f"; bad=$$((bad + 1)); }; \
	done; \
	if [ $$bad -ne 0 ]; then echo "format-check: $$bad files differ from .clang-format"; exit 1; fi; \
	echo "format-check: OK"

bench: deps-test
	$(MAKE) --no-print-directory build
	cmake --build $(BUILD) --target bench

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
