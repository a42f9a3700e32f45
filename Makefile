# SPDX-License-Identifier: LGPL-2.1-or-later
# A thin wrapper over CMake/CTest and the scripts in deploy/ and config/examples/.
#
#   make demo      install the dependencies, build build/, run the demo
#   make check     install the test dependencies, build build/ and build-asan/
#                  (ASan + UBSan), run the demo and the test suite in both
#   make bench     build build/ and run the benchmark (writes build/bench-results.md)
#   make install   build build/ and install it (PREFIX=/usr/local, DESTDIR honoured)
#   make clean     remove build/ and build-asan/
#
# Installing the dependencies (deploy/install-deps.sh) needs root on Debian
# bookworm unless they are all installed already.

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local
CMAKE_FLAGS ?=

ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all build build-asan deps deps-test demo demo-run check test test-asan bench install \
	clean help

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
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan:
	cd $(ASAN_BUILD) && $(ASAN_ENV) ctest --output-on-failure -j$(JOBS)

# Sequential on purpose: deps, both builds, the demo, then the two test runs.
check: deps-test
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory build-asan
	$(MAKE) --no-print-directory demo-run
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory test-asan

bench: deps-test
	$(MAKE) --no-print-directory build
	cmake --build $(BUILD) --target bench

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
