# Entry points for people and CI. `make run` and `make test` work on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Libraries the build links against (docs/architecture.md "Targets").
BUILD_PACKAGES := libssl-dev libhiredis-dev libyaml-dev zlib1g-dev liburing-dev libcurl4-openssl-dev pkg-config
# Tools the tests drive: a real redis-server, curl and Python clients, headless Chromium, nginx as a
# reverse proxy, and the tools that validate the deployment files (docker-compose, systemd-analyze).
TEST_PACKAGES := redis-server redis-tools php-cli php-curl openssl iproute2 nftables curl python3 python3-venv python3-pip chromium chromium-driver libnss3-tools nginx-light docker-compose systemd
VENV := .build/venv
# The reference server and tools `make bench` compares against and pins with.
BENCH_PACKAGES := nginx-light libnginx-mod-nchan redis-server util-linux procps python3
BENCH_RUNS ?= 2

.PHONY: all deps test-deps build debug test system-test check-layers run fuzz sanitize bench bench-load bench-soak bench-micro conformance clean

all: build

define apt_install
	@missing=""; for package in $(1); do dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_PACKAGES))

test-deps: deps
	$(call apt_install,$(TEST_PACKAGES))

build: deps
	$(SWIFT) build -c release --product wavelog-worker
	@echo "built $$($(SWIFT) build -c release --show-bin-path)/wavelog-worker"

debug: deps
	$(SWIFT) build --product wavelog-worker

check-layers:
	scripts/check-layers.sh

# An optional JSON corpus kept outside the repository (nst/JSONTestSuite); without it the corpus
# tests report themselves skipped. Point JSON_TEST_SUITE_DIR at another copy to use that.
JSON_TEST_SUITE_DIR ?= $(wildcard $(abspath ../shared/testdata/JSONTestSuite/test_parsing))

test: test-deps check-layers
	$(SWIFT) build --build-tests
	JSON_TEST_SUITE_DIR="$(JSON_TEST_SUITE_DIR)" $(SWIFT) test --skip-build
	$(MAKE) --no-print-directory system-test
	$(MAKE) --no-print-directory conformance

# The pollers the system tests and the conformance run cover, each (docs/adr/0014); the Swift
# contract suites cover poll(2) too.
IO_BACKENDS ?= uring epoll

# The built binary as users run it: real processes, sockets and clients (Tests/System), once per
# poller, two tests at a time (they mostly wait on sockets); then the cluster suite once more with
# every node on rediss:// (a redis-server serving TLS).
system-test: $(VENV)/.installed
	@for backend in $(IO_BACKENDS); do \
		echo "system tests, io_backend=$$backend"; \
		WAVELOG_IO_BACKEND=$$backend WORKER_BIN="$$($(SWIFT) build --show-bin-path)/wavelog-worker" \
			$(VENV)/bin/pytest -q -n 2 Tests/System || exit 1; \
	done
	@echo "cluster system tests over rediss://"
	@WAVELOG_TEST_REDIS_TLS=1 WORKER_BIN="$$($(SWIFT) build --show-bin-path)/wavelog-worker" \
		$(VENV)/bin/pytest -q -n 2 Tests/System/test_cluster.py

$(VENV)/.installed: Tests/System/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r Tests/System/requirements.txt
	touch $@

# Autobahn TestSuite cases (kosoku, from PyPI) against the WebSocket adapter in echo mode, on
# each of IO_BACKENDS at once: every case that differs in I/O on each, the permessage-deflate
# variations that differ only in data and parameters dealt out among them (every case runs).
conformance: $(VENV)/.installed
	$(SWIFT) build --product wavelog-worker
	scripts/conformance-backends.sh "$$($(SWIFT) build --show-bin-path)/wavelog-worker" $(IO_BACKENDS)

fuzz: deps
	scripts/fuzz.sh

# The Swift tests and the system tests against ThreadSanitizer and AddressSanitizer builds.
sanitize: test-deps $(VENV)/.installed
	scripts/sanitize.sh

# Not part of `make test`: figures, not verdicts. bench-load compares with nginx+nchan (bench/run.py).
bench: bench-load bench-micro

# A long run that must end where it began: resident memory and descriptors sampled every 10 s.
bench-soak: deps
	$(SWIFT) build -c release --product wavelog-worker
	$(SWIFT) build -c release --product wavelog-load
	python3 bench/soak.py --bin "$$($(SWIFT) build -c release --show-bin-path)"

bench-load: deps
	$(call apt_install,$(BENCH_PACKAGES))
	$(SWIFT) build -c release --product wavelog-worker
	$(SWIFT) build -c release --product wavelog-load
	python3 bench/run.py --runs $(BENCH_RUNS) --bin "$$($(SWIFT) build -c release --show-bin-path)"

bench-micro: deps
	# SwiftPM reuses the package's build plan even when a file was added to the worker it
	# depends on by path ("cannot find X in scope"); a plan made anew costs a second.
	rm -f Benchmarks/.build/release/description.json
	cd Benchmarks && $(SWIFT) package benchmark

run: build
	TLS="$(TLS)" scripts/run-dev.sh "$$($(SWIFT) build -c release --show-bin-path)/wavelog-worker"

clean:
	rm -rf .build .build-fuzz
