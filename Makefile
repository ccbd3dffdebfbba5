# regiond: `make run` for the demo, `make test` for every test.
SWIFT      ?= swift
BIN        := .build/debug
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Build needs libsystemd's headers; the systemd test boots a container.
BUILD_DEPS := libsystemd-dev pkg-config
TEST_DEPS  := $(BUILD_DEPS) systemd-container debootstrap haproxy
BENCH_DEPS := $(BUILD_DEPS) haproxy nginx-light
DEMO_DIR   := /tmp/regiond-demo

.PHONY: all build run test bench deps test-deps bench-deps clean demo-break help

all: build

help:
	@echo "make run    install what is missing, build, run regiond on the bundled demo"
	@echo "make test   install what is missing, build, run every test"
	@echo "make bench  probe throughput and cost against nginx, side by side with HAProxy"

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

bench: bench-deps
	$(SWIFT) build -c release
	scripts/bench.sh

demo-break:
	@curl -s -X POST 127.0.0.1:18080/$(REGION)/$(MODE)

clean:
	rm -rf .build
