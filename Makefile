# Graft: the commands a newcomer runs are `make run` and `make test` (see README.md).
SWIFT        ?= swift
APT_PACKAGES := pkg-config libhdf5-dev libzip-dev libopenblas-dev
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GRAFT        := .build/debug/graft

.PHONY: deps build test run clean venv venv-bench fixtures check-fixtures bench interop-keras test-asan mutate test-vgg16 fuzz fuzz-build fuzz-seed fuzz-report

## Install the system libraries (Debian/Ubuntu) when any is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

## Set up and run the whole test suite (corpus conformance included): the XCTest tests and
## the Swift Testing ones (the property-based surgery tests, Tests/GraftSurgeryTests/SurgeryProperties.swift).
test: deps
	$(SWIFT) test

## Set up and run the demo on a bundled model: the LSTM → time-distributed softmax model of
## the question that started the project, written by tf-keras. Inspect it, run it on its
## bundled input, and print the largest difference from what Keras itself computed.
DEMO_MODEL := fixtures/lstm_timeseries.h5
DEMO_IO    := fixtures/lstm_timeseries_io.npz
run: build
	$(GRAFT) inspect $(DEMO_MODEL)
	@mkdir -p .build/demo
	$(GRAFT) predict $(DEMO_MODEL) --input $(DEMO_IO) --output .build/demo/lstm_timeseries_out.npy --compare $(DEMO_IO)

clean:
	rm -rf .build .build-asan

## Hostile input (issue 7). The parser tests under AddressSanitizer (own build folder; leak
## detection off: the only leaks are XCTest's own test-case objects; malloc may return null as in
## production, where libhdf5 turns a failed huge metadata allocation into an error; ~2.5 min cold), and a
## longer run of the deterministic mutation test (GRAFT_MUTANTS scales the per-parser counts).
## libhdf5 1.10 decodes attribute messages trusting their inner sizes (ASan found heap overflows in
## H5O attribute decoding via H5Aexists on mutated headers); Graft's HDF5ObjectHeaderCheck refuses
## such headers before libhdf5 decodes them (formats/errors.md), so no suppression is needed.
ASAN_FILTER := MutationTests|BadInputTests|NPYTests|JSONValueTests|Nd4jArrayTests|DL4JConfigTests|HDF5Tests|ModelFileTests|FuzzRegressionTests|ZipArchiveTests
test-asan: deps
	GRAFT_SKIP_RSS_CHECK=1 ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
	  $(SWIFT) test --disable-swift-testing --sanitize=address --scratch-path .build-asan --filter '$(ASAN_FILTER)'

GRAFT_MUTANTS ?= 20
mutate: deps
	GRAFT_MUTANTS=$(GRAFT_MUTANTS) $(SWIFT) test --disable-swift-testing --filter MutationTests

## libFuzzer harnesses for every parser (issue 7, Fuzz/README.md): a separate package in Fuzz/
## built with -sanitize=fuzzer,address into .build-fuzz/, seeded from fixtures/ and the corpus.
## `make fuzz FUZZ_SECONDS=60` runs each harness for that long and prints executions, crashes,
## timeouts and sanitizer reports per harness; it fails when any harness found something.
## FUZZ_HARNESSES picks some; `make fuzz-report` totals every run so far.
FUZZ_SECONDS   ?= 60
FUZZ_WORK      := .build-fuzz
FUZZ_BIN       := $(FUZZ_WORK)/release
FUZZ_CORPUS    ?= ../shared/corpus
FUZZ_HARNESSES ?= FuzzNPY FuzzNPZ FuzzJSON FuzzZip FuzzNd4j FuzzDL4JConfig FuzzDL4JZip FuzzKerasH5 FuzzKerasJSON FuzzKeras3 FuzzRecipe FuzzManifest
fuzz-build: deps
	$(SWIFT) build --package-path Fuzz --scratch-path $(FUZZ_WORK) -c release -Xswiftc -sanitize=fuzzer,address

fuzz-seed:
	Fuzz/seed.sh $(FUZZ_WORK)/corpus $(FUZZ_CORPUS)

fuzz: fuzz-build fuzz-seed
	Fuzz/run.sh $(FUZZ_BIN) $(FUZZ_WORK) $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

fuzz-report:
	Fuzz/report.sh $(FUZZ_WORK)

# ---- Python side: fixtures, interop checks, benchmark (see fixtures/README.md, bench/README.md) ----
# A venv under .build/ with numpy, h5py, TensorFlow (CPU), tf-keras (tf.keras 2.x) and Keras 3,
# pinned in fixtures/requirements*.txt. Only `make venv` and the targets below need it.
PYTHON       ?= python3
VENV         := .build/venv
VENV_PY      := $(VENV)/bin/python
VENV_STAMP   := $(VENV)/.installed
VENV_REQS    := fixtures/requirements.txt fixtures/requirements-nodeps.txt

## Create .build/venv (once; again only when a requirements file changes). tf-keras goes in
## with --no-deps: it asks for the full `tensorflow` wheel; tensorflow-cpu provides the same modules.
venv: $(VENV_STAMP)

$(VENV_STAMP): $(VENV_REQS)
	@if ! command -v $(PYTHON) >/dev/null 2>&1 || ! $(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1; then \
	  echo "installing: python3 python3-venv"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 python3-venv; \
	fi
	@# (re)create the venv unless a working one is there (an interrupted creation leaves no pip)
	@$(VENV_PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(VENV_PY) -m pip install -q --disable-pip-version-check -r fixtures/requirements.txt
	$(VENV_PY) -m pip install -q --disable-pip-version-check --no-deps -r fixtures/requirements-nodeps.txt
	@touch $@

## Regenerate the bundled fixture models and their inputs/outputs in fixtures/.
fixtures: venv
	$(VENV_PY) fixtures/generate.py

## Load every bundled fixture with real Keras and compare with its stored outputs.
check-fixtures: venv
	$(VENV_PY) interop/check_keras_load.py --all fixtures

## Issue 5 interop: write every fixture and every Keras/DL4J corpus model with a forward check
## through Graft's KerasWriter into .build/interop/, then load each with real tf-keras 2.x and
## Keras 3 (`.keras`: Keras 3 only), reproduce the expected outputs and check frozen layers.
INTEROP_DIR := .build/interop
interop-keras: venv
	rm -rf $(INTEROP_DIR) && mkdir -p $(INTEROP_DIR)
	GRAFT_INTEROP_DIR=$(CURDIR)/$(INTEROP_DIR) $(SWIFT) test --disable-swift-testing \
	  --filter 'KerasWriterTests.testFixturesRoundTripThroughBothContainers|KerasRoundTripTests'
	$(VENV_PY) interop/check_graft_written.py $(INTEROP_DIR)

## The full-size VGG16 transfer test (issue 6): DL4J's documented transfer on a 138M-parameter
## VGG16-shaped graph, through a recipe, both writers and both readers (`make test` runs the same
## test on a 32×32 input: every VGG16 layer at full width, 37.7M parameters). Minutes in a debug build.
test-vgg16: deps
	GRAFT_VGG16_FULL=1 $(SWIFT) test --disable-swift-testing --filter VGG16TransferTests

## The benchmark suite (issue 8, bench/README.md): writes its seeded models (VGG16, char-RNN, MLP,
## small CNN) under .build/bench/models, measures Graft (graft-bench, release build) and the
## reference tools (h5py, tf-keras, Keras 3, onnxruntime) on the same files, one operation per
## process, and writes bench/results.json plus a table on stdout. Not part of `make test`.
## BENCH_QUICK=1: a smoke pass (3 runs, no VGG16 forward pass). BENCH_ONLY=io or forward: one half.
BENCH_QUICK ?= 0
BENCH_ONLY  ?=
bench: deps venv-bench
	$(SWIFT) build -c release --product graft-bench
	$(SWIFT) build -c release --product graft
	bin=$$($(SWIFT) build -c release --show-bin-path) && \
	  BENCH_QUICK=$(BENCH_QUICK) BENCH_ONLY=$(BENCH_ONLY) $(VENV_PY) bench/run.py --graft-bench $$bin/graft-bench --graft $$bin/graft

## The benchmark's extra Python packages (onnx, onnxruntime, tf2onnx) on top of `make venv`'s;
## kept out of `make venv` so that CI's interop venv does not install them.
BENCH_REQS        := fixtures/requirements-bench.txt
VENV_BENCH_STAMP  := $(VENV)/.installed-bench
venv-bench: $(VENV_BENCH_STAMP)

$(VENV_BENCH_STAMP): $(VENV_STAMP) $(BENCH_REQS)
	$(VENV_PY) -m pip install -q --disable-pip-version-check -r $(BENCH_REQS)
	@touch $@
