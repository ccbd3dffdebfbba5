# regiond: `make run` for the demo, `make test` for every test.
SWIFT      ?= swift
BIN        := .build/debug
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Build needs libsystemd's headers; the systemd test boots a container.
BUILD_DEPS := libsystemd-dev pkg-config
TEST_DEPS  := $(BUILD_DEPS) etcd-server etcd-client systemd-container debootstrap haproxy python3 prometheus curl chromium debhelper fakeroot patchelf lintian iproute2 nftables
BENCH_DEPS := $(BUILD_DEPS) haproxy nginx-light etcd-server etcd-client
DEB_DEPS   := $(BUILD_DEPS) debhelper fakeroot patchelf lintian
DEMO_DIR   := /tmp/regiond-demo

FUZZ_SECONDS ?= 300
FUZZ_TARGETS := control probe-answer probe-socket config durations exec-output haproxy-answer cluster-peer

.PHONY: all build run test bench deps test-deps bench-deps deb-deps clean demo-break help fuzz fuzz-build test-sanitize install deb chaos

all: build

help:
	@echo "make run    install what is missing, build, run regiond on the bundled demo"
	@echo "make test   install what is missing, build, run every test"
	@echo "make bench  probe throughput and cost against nginx, side by side with HAProxy"
	@echo "make fuzz   libFuzzer on every input surface, FUZZ_SECONDS each (default 300)"
	@echo "make test-sanitize   every test under AddressSanitizer, then ThreadSanitizer"
	@echo "make chaos  cluster mode under seeded faults for CHAOS_MINUTES (default 30); CHAOS_SEED=N replays one schedule"
	@echo "make deb   a Debian package (release build, Swift runtime bundled): apt install ./regiond_*.deb"
	@echo "make install PREFIX=/usr DESTDIR=...   install built binaries (INSTALL_BIN=.build/release) and their files"

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

deb-deps:
	$(call apt_install,$(DEB_DEPS))

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

# The randomized fault test of cluster mode (scripts/chaos.py, docs/reliability.md): runs of
# CHAOS_SECONDS each with new seeds for CHAOS_MINUTES, or the one schedule of CHAOS_SEED.
# make test runs one short fixed schedule (ChaosTests).
CHAOS_MINUTES ?= 30
CHAOS_SECONDS ?= 120
CHAOS_SEED    ?=
chaos: test-deps
	$(SWIFT) build
	scripts/chaos.py --seconds $(CHAOS_SECONDS) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED),--minutes $(CHAOS_MINUTES))

bench: bench-deps
	$(SWIFT) build -c release
	scripts/bench.sh

demo-break:
	@curl -s -X POST 127.0.0.1:18080/$(REGION)/$(MODE)

# Where Debian puts each file (PREFIX=/usr): binaries, the units, sysusers, tmpfiles, the
# journal catalog, man pages, completions generated from the built regionctl, and the
# example config. INSTALL_BIN is the build to install from. The Debian package (make deb,
# debian/rules) is this plus the Swift runtime under /usr/lib/regiond.
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
INSTALL_BIN ?= .build/release

install:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/regiond $(DESTDIR)$(PREFIX)/share/regiond
	install -m 0755 $(INSTALL_BIN)/regiond $(INSTALL_BIN)/regionctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(INSTALL_BIN)/demo-fleet $(DESTDIR)$(PREFIX)/lib/regiond/
	install -m 0755 contrib/alert-webhook $(DESTDIR)$(PREFIX)/share/regiond/
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/bin/|$(PREFIX)/bin/|g; s|/etc/regiond/|$(SYSCONFDIR)/regiond/|g' systemd/regiond.service >$(DESTDIR)$(UNITDIR)/regiond.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/regiond.service
	install -m 0644 systemd/regiond.socket $(DESTDIR)$(UNITDIR)/regiond.socket
	install -D -m 0644 systemd/regiond.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/regiond.conf
	install -D -m 0644 systemd/regiond.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/regiond.conf
	install -D -m 0644 systemd/regiond.catalog $(DESTDIR)$(PREFIX)/lib/systemd/catalog/regiond.catalog
	install -D -m 0644 man/regiond.8 $(DESTDIR)$(PREFIX)/share/man/man8/regiond.8
	install -D -m 0644 man/regionctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/regionctl.1
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	$(INSTALL_BIN)/regionctl --generate-completion-script bash | sed "1{/^#!/d}" >$(DESTDIR)$(PREFIX)/share/bash-completion/completions/regionctl
	$(INSTALL_BIN)/regionctl --generate-completion-script zsh >$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_regionctl
	$(INSTALL_BIN)/regionctl --generate-completion-script fish >$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/regionctl.fish
	install -D -m 0644 etc/regiond/regiond.toml $(DESTDIR)$(SYSCONFDIR)/regiond/regiond.toml

# regiond_VERSION_ARCH.deb in the current folder, from a release build (scripts/deb.sh).
deb: deb-deps
	$(SWIFT) build -c release
	deb=$$(scripts/deb.sh .build/release) && echo "built $$deb" && lintian --fail-on error,warning "$$deb"

clean:
	rm -rf .build
