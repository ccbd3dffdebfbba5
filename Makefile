# regiond: `make run` for the demo, `make test` for every test.
SWIFT      ?= swift
BIN        := .build/debug
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Build needs libsystemd's headers; the systemd test boots a container.
BUILD_DEPS := libsystemd-dev pkg-config
TEST_DEPS  := $(BUILD_DEPS) systemd-container debootstrap haproxy python3 prometheus curl chromium
BENCH_DEPS := $(BUILD_DEPS) haproxy nginx-light
DEMO_DIR   := /tmp/regiond-demo

FUZZ_SECONDS ?= 300
FUZZ_TARGETS := control probe-answer config durations exec-output haproxy-answer

.PHONY: all build run test bench deps test-deps bench-deps clean demo-break help fuzz fuzz-build test-sanitize

all: build

help:
	@echo "make run    install what is missing, build, run regiond on the bundled demo"
	@echo "make test   install what is missing, build, run every test"
	@echo "make bench  probe throughput and cost against nginx, side by side with HAProxy"
	@echo "make fuzz   libFuzzer on every input surface, FUZZ_SECONDS each (default 300)"
	@echo "make test-sanitize   every test under AddressSanitizer, then ThreadSanitizer"

# Installs Debian packages that are missing (apt-get update runs once, only if needed).
define apt_install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_DEPS))

test-deps:
	$(call apt_install,$(TEST_DEPS))

bench-deps:
	$(call apt_install,$(BENCH_DEPS))

build: deps
	$(SWIFT) build

run: build
	scripts/demo.sh

test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

# libFuzzer harnesses (Sources/RegionFuzzing), built with -sanitize=fuzzer,address in their
# own build folder; make test replays the corpus they keep in Tests/Fuzz/corpus/.
# (Not `swift build --sanitize=fuzzer --sanitize=address`: SwiftPM passes those as two
# -sanitize= flags, swiftc keeps only the last, and the Swift code gets no coverage.
# lld, because gold crashes on this link.)
fuzz-build: deps
	$(SWIFT) build --product regiond-fuzz -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address \
		-Xswiftc -DREGIOND_LIBFUZZER -Xswiftc -use-ld=lld --scratch-path .build-fuzz

fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Unit and end-to-end tests with every binary built under AddressSanitizer, then under
# ThreadSanitizer (suppressions and why: Tests/sanitizers/tsan.supp, docs/reliability.md).
test-sanitize: test-deps
	scripts/test-sanitize.sh

bench: bench-deps
	$(SWIFT) build -c release
	scripts/bench.sh

demo-break:
	@curl -s -X POST 127.0.0.1:18080/$(REGION)/$(MODE)

clean:
	rm -rf .build
