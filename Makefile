# Graft: the commands a newcomer runs are `make run` and `make test` (see README.md).
SWIFT        ?= swift
APT_PACKAGES := pkg-config libhdf5-dev libzip-dev libopenblas-dev
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
GRAFT        := .build/debug/graft

.PHONY: deps build test run clean

## Install the system libraries (Debian/Ubuntu) when any is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

## Set up and run the whole test suite (corpus conformance included).
test: deps
	$(SWIFT) test

## Set up and run the demo on a bundled model.
run: build
	$(GRAFT) --help

clean:
	rm -rf .build
