# vipbench: reproduce, measure and guard the Knights VIPriors 2021 action-recognition results.
# `make run` and `make test` work on a fresh Debian machine with Swift: each installs what it needs.

# Recipes use bash (`set -o pipefail` in `test`).
SHELL      := /bin/bash
SWIFT      ?= swift
CONFIG     ?= release
BUILD_DIR  := .build/$(CONFIG)
VIPBENCH   := $(BUILD_DIR)/vipbench
DB         ?= results/vipbench.sqlite
DATA       ?= data/motion
FLOW       ?= data/motion-flow
DEB_PACKAGES := libopenblas-dev libavformat-dev libavcodec-dev libavutil-dev libswscale-dev \
                libsqlite3-dev gnuplot-nox ffmpeg pkg-config libopenmpi-dev openmpi-bin libdnnl-dev
# Native-library settings the tool sets for itself (Sources/Harness/ProcessTuning.swift); the test
# runner gets them from here. Idle OpenBLAS threads sleep at once instead of spinning against the
# engine's own loops, idle OpenMP threads (oneDNN's and the engine's) after a short spin; large
# tensors are reused from malloc's heap instead of fresh mmaps.
OPENBLAS_THREAD_TIMEOUT ?= 4
GOMP_SPINCOUNT ?= 10000
MALLOC_MMAP_MAX_ ?= 0
MALLOC_TRIM_THRESHOLD_ ?= 17179869184
MALLOC_ARENA_MAX ?= 1
export OPENBLAS_THREAD_TIMEOUT GOMP_SPINCOUNT MALLOC_MMAP_MAX_ MALLOC_TRIM_THRESHOLD_ MALLOC_ARENA_MAX
# Tests are built optimised: numeric kernels in plain Swift run ~40x slower in a debug build.
TEST_FLAGS ?= -c $(CONFIG) -Xswiftc -enable-testing

.PHONY: all deps build test run bench bench-package plots clean

all: build

## deps: install the Debian packages that are missing (quick and silent when all are present).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "vipbench: installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## build: release build of the library modules and the `vipbench` tool.
build: deps
	$(SWIFT) build -c $(CONFIG) --product vipbench

## test: the whole test suite, optimised build; then says how many tests were skipped (the
## output is kept in $(TEST_LOG); the target's status is swift test's).
TEST_LOG   := .build/test.log
test: deps
	$(SWIFT) build $(TEST_FLAGS) --product vipbench
	@mkdir -p $(dir $(TEST_LOG))
	@echo "$(SWIFT) test $(TEST_FLAGS) 2>&1 | tee $(TEST_LOG)"
	@set -o pipefail; $(SWIFT) test $(TEST_FLAGS) 2>&1 | tee $(TEST_LOG); status=$$?; \
	  skipped=$$(grep -c "^Test Case '.*' skipped" $(TEST_LOG)); \
	  echo "vipbench: $$skipped test(s) skipped (see $(TEST_LOG))"; \
	  exit $$status

## run: the main job. Imports Table 1's reference numbers, then `reproduce --profile mini`: every row,
## scaled, on the embedded synthetic dataset (rendered once), with its TV-L1 flow (extracted once,
## resumable), training, test views, evaluation, the ensemble and results/REPORT.md. A second run
## redoes nothing.
run: build
	$(VIPBENCH) reference import --db $(DB)
	$(VIPBENCH) plot --db $(DB) --out results/plots
	$(VIPBENCH) reproduce --profile mini --db $(DB) --data $(DATA) --flow $(FLOW)
	$(VIPBENCH) results --reference --db $(DB)

## bench: the in-tool benchmarks (ratios against a baseline measured in the same run).
bench: build
	$(VIPBENCH) bench gemm
	$(VIPBENCH) bench flow

## bench-package: the ordo-one/benchmark targets in Benchmarks/ (a separate package).
bench-package: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark

## plots: redraw every plot from the results store.
plots: build
	$(VIPBENCH) plot --db $(DB) --out results/plots

clean:
	rm -rf .build .build-* Benchmarks/.build Benchmarks/.benchmarkBaselines
