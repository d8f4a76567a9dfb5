# skiff build and test entry points. Everything lands in the repo: the
# binary as ./skiff, generated artefacts under _build/.

SHELL := /bin/bash
GO ?= go
BUILD := _build
BUNDLE := $(BUILD)/bundle
PROBE := $(BUILD)/probe
RECVTTY := $(BUILD)/recvtty
BUSYBOX ?= /bin/busybox
# The runtime the bundle's config.json comes from and the integration
# tests run; `make integration RUNTIME=/usr/sbin/runc` checks the tests
# themselves against runc.
RUNTIME ?= $(CURDIR)/skiff
# Building skiff is only a prerequisite when skiff is the runtime used.
BUILD_IF_SKIFF := $(if $(filter $(CURDIR)/skiff,$(RUNTIME)),build)
DEB_PACKAGES := busybox-static gcc libc6-dev libseccomp-dev pkg-config jq musl-tools gperf curl

GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION := $(shell cat VERSION)
LDFLAGS := -X main.gitCommit=$(GIT_COMMIT) -X main.version=$(VERSION)

# Packages with unit tests: everything but the integration suite
# (package tests), which needs root, a built binary and a bundle. Its
# subdirectories (the conformance tools) have ordinary unit tests.
UNIT_PKGS = $$($(GO) list ./... | grep -v '/tests$$')

.PHONY: all build deps bundle demo probe recvtty vet unit integration test test-cgroupv2 conformance conformance-check bench bench-ci clean generate

all: build

# Static: no dynamic loading at each start (the init is this binary too).
# urfave_cli_no_docs drops a markdown package whose init costs time.
BUILD_TAGS := urfave_cli_no_docs netgo osusergo

# LIBC=musl (the default) links the C stage and the Go runtime's cgo
# part against musl: glibc's static start-up runs cpuid dozens of times,
# which traps in a VM (~0.5 ms per exec; every command and every
# container init pays it). libseccomp is then built for musl from
# Debian's source (contrib/musl/build-libseccomp.sh). LIBC=glibc uses
# the system's libseccomp-dev.
LIBC ?= musl
MUSL := $(BUILD)/musl/libseccomp
ifeq ($(LIBC),musl)
BUILD_ENV := CC=musl-gcc CGO_CFLAGS="-O2 -I$(CURDIR)/$(MUSL)/kinc" PKG_CONFIG_PATH=$(CURDIR)/$(MUSL)/lib/pkgconfig
BUILD_DEPS := $(MUSL)/lib/libseccomp.a
else
BUILD_ENV :=
BUILD_DEPS :=
endif

# Go 1.26's default garbage collector ("green tea") keeps each small-object
# span's mark bits in the span's last bytes: one more page touched per span
# in use, though skiff's short commands never collect. The previous
# collector saves ~20 page faults per command (~1 ms of CPU where a page
# fault costs 15-20 us); kept only while the toolchain still offers it
# (asked only when building: a recursive variable).
GO_EXPERIMENT = $(shell GOEXPERIMENT=nogreenteagc $(GO) env GOEXPERIMENT >/dev/null 2>&1 && echo nogreenteagc)

build: $(BUILD_DEPS)
	$(BUILD_ENV) GOEXPERIMENT=$(GO_EXPERIMENT) CGO_ENABLED=1 $(GO) build -trimpath -tags "$(BUILD_TAGS)" -ldflags "$(LDFLAGS) -linkmode external -extldflags -static" -o skiff .

# The generated JSON code (libcontainer/jsoncodec says why); its unit
# tests fail when it no longer matches the types.
generate:
	$(GO) generate ./libcontainer/jsoncodec ./libcontainer/state

$(MUSL)/lib/libseccomp.a: contrib/musl/build-libseccomp.sh
	contrib/musl/build-libseccomp.sh $(MUSL)

# Installs only what is missing, so that a prepared machine pays one
# dpkg query per package and no apt-get at all.
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "deps: missing$$missing; run make deps as root" >&2; exit 1; fi; \
		echo "deps: installing$$missing"; \
		apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

probe:
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(PROBE) ./contrib/probe

# The console-socket receiver (like runc's recvtty), for the tty tests.
recvtty:
	@mkdir -p $(BUILD)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(RECVTTY) ./contrib/recvtty

# A busybox root filesystem plus a config.json from `$(RUNTIME) spec`
# that runs a short demo command. Built in a scratch dir and renamed,
# so an interrupted build never leaves a half bundle behind.
bundle: $(BUILD_IF_SKIFF)
	@set -e; tmp=$(BUNDLE).tmp; rm -rf $$tmp; mkdir -p $$tmp/rootfs; cd $$tmp/rootfs; \
	mkdir -p bin sbin usr/bin usr/sbin proc sys dev tmp etc root var; chmod 1777 tmp; \
	cp $(BUSYBOX) bin/busybox; \
	for applet in $$(./bin/busybox --list-full); do \
		[ "$$applet" = bin/busybox ] && continue; \
		mkdir -p "$$(dirname "$$applet")"; ln -sf /bin/busybox "$$applet"; \
	done; \
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd; \
	printf 'root:x:0:\nnobody:x:65534:\n' > etc/group; \
	cd ..; $(RUNTIME) spec; \
	jq '.process.args = ["sh","-c","echo hello from skiff; hostname; id"] | .process.terminal = false' \
		config.json > config.json.new; mv config.json.new config.json; \
	cd $(CURDIR); rm -rf $(BUNDLE); mv $$tmp $(BUNDLE)
	@echo "bundle: $(BUNDLE)"

# Runs the demo bundle with a throwaway state root; run (without
# --keep) deletes the container, and the trap makes sure of it even
# when the run fails, then removes the root.
demo: deps $(BUILD_IF_SKIFF) bundle
	@set -e; root=$$(mktemp -d /tmp/skiff-demo.XXXXXX); id=demo-$$$$; \
	trap '$(RUNTIME) --root "$$root" delete --force $$id >/dev/null 2>&1 || true; rm -rf "$$root"' EXIT; \
	echo "+ $(notdir $(RUNTIME)) --root $$root run -b $(BUNDLE) $$id"; \
	$(RUNTIME) --root "$$root" run -b $(BUNDLE) $$id </dev/null

vet:
	$(GO) vet ./...

unit:
	$(GO) test -count=1 $(UNIT_PKGS)

integration: probe recvtty bundle
	SKIFF_BINARY=$(RUNTIME) $(GO) test -count=1 -v -timeout 15m ./tests/

# bench-ci runs before the VM lanes, while nothing else uses the CPUs.
test: deps build probe bundle vet unit integration conformance-check bench-ci test-cgroupv2

# The OCI runtime-tools validation suite: a table, then "N passed, N failed".
conformance: build
	tests/conformance/run.sh

# CI: fails when a program of tests/conformance/expected-pass.txt fails.
conformance-check: build
	tests/conformance/run.sh --check

# skiff's cgroup tests (go test -c ./tests, static) in throwaway qemu VMs
# with pure cgroup v2: the "minimal" lane (busybox as PID 1, cgroupfs
# driver), then the "systemd" lane (systemd as PID 1, --systemd-cgroup);
# LANE=minimal or LANE=systemd runs one. Needs root; installs qemu and
# friends with apt-get and caches the kernel and root image in
# /var/cache/skiff-vmlane. See tests/vm/lane.sh and docs/cgroups.md.
test-cgroupv2: deps build probe bundle
	GO=$(GO) SKIFF_BINARY=$(CURDIR)/skiff SKIFF_BUILD_DIR=$(CURDIR)/$(BUILD) tests/vm/lane.sh $(or $(LANE),all)

# Benchmark against Debian's runc and crun 1.8.1 and trixie's crun 1.21 (needs
# root and ../shared/bench/bench.sh); see docs/performance.md.
bench: build
	GO=$(GO) contrib/bench/run.sh full $(BENCH_ARGS)

# Regression guard, part of `make test`: fails when skiff's lifecycle or
# exec median is over 1.5x the faster crun's in the same run (twice: a
# first failure is measured again).
bench-ci: build
	GO=$(GO) contrib/bench/run.sh ci $(BENCH_ARGS)

clean:
	rm -rf skiff $(BUILD)
