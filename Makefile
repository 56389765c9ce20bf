# hookline — every command a developer or CI needs. `make test` installs what
# it needs by itself (Python venvs, npm packages) so a bare machine works.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
LINT_VENV := .venv-lint

.PHONY: help venv lint-venv build build-release fmt-check module-graph clippy doc-check unit test-runtime-api \
        test-runtime-api-release check-statemachines check-infra check-sandbox check-judge check-dashboard e2e test sandbox sandbox-down demo package bench bench-judge bench-fleet chaos chaos-ecs chaos-dns iam-mutation switches

help:
	@echo "make demo          run a full canary in the local sandbox and show it"
	@echo "make test          everything CI checks"
	@echo "make module-graph  fail on an import cycle among any crate's production modules"
	@echo "make doc-check     fail on any rustdoc warning in the workspace's own docs"
	@echo "make sandbox       start the local AWS sandbox on http://127.0.0.1:4566"
	@echo "make sandbox-down  stop it"
	@echo "make package       build the six Lambda zips (ARCH=arm64 default, or x86_64)"
	@echo "make iam-mutation  remove each IAM statement in turn, show the tests fail (IAM_MUTATION_ARGS=--e2e)"
	@echo "make chaos         randomized fault schedules (CHAOS_RUNS=300, CHAOS_SEED, CHAOS_ONLY=<index>)"
	@echo "make chaos-ecs     the same in ECS-native mode (CHAOS_ECS_RUNS=50, CHAOS_SEED, CHAOS_ONLY=<index>)"
	@echo "make chaos-dns     the same for hookline's own Route 53 controller (CHAOS_DNS_RUNS=20, CHAOS_SEED, CHAOS_ONLY=<index>)"
	@echo "make switches      every assumed simulator behaviour under every setting, each scenario (SWITCHES_SEED)"
	@echo "make bench         regenerate BENCHMARKS.md (cold start, memory, zip size, orchestration cost)"
	@echo "make bench-judge   judging cost, 1,000 vs 1,000 samples: hookline's judge against scipy (also run by make bench)"
	@echo "make bench-fleet   25 canaries at once: calls per API, the fleet ceiling per quota, history cost (BENCHMARKS.md)"

# Sandbox and end-to-end tools (moto, cargo-lambda, boto3, pytest), pinned.
$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r tests/requirements.txt
	touch $@
venv: $(VENV)/.installed

# Template linters live apart: checkov pins an old boto3 that moto must not see.
$(LINT_VENV)/.installed: tests/requirements-lint.txt
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --upgrade pip
	$(LINT_VENV)/bin/pip install --quiet -r tests/requirements-lint.txt
	touch $@
lint-venv: $(LINT_VENV)/.installed

build:
	cargo build --workspace

# The six functions only: built together with the CLI, cargo would unify the
# CLI's aws-config features (SSO, credential_process) into the functions.
build-release:
	cargo build --release --workspace --exclude hookline-cli

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

# The workspace's own rustdoc (no dependency's docs: cheap) with every rustdoc warning an error:
# a broken or private intra-doc link, an unclosed HTML tag.
doc-check:
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

unit:
	cargo test --workspace

# No import cycle among the production modules of any crate (tools/module-graph: the graph from
# each crate's `mod` tree and paths, read with syn; a cycle is named with its references).
# `--bin`, not `-p`: features resolve as for `make build`, which then reuses what this builds.
module-graph:
	cargo run --quiet --bin module-graph

# The six functions fed malformed events through a local Lambda Runtime API (tests/runtime_api),
# on the debug binaries `make build` makes for the sandbox anyway: what the test asserts does not
# depend on the profile (a panicking handler fails it under unwind as under abort; see the test).
test-runtime-api: build venv
	RUNTIME_API_PROFILE=debug $(PY) -m pytest -q tests/runtime_api

# The same on the release binaries (panic = "abort", fat LTO: what Lambda runs); `make bench` runs it.
test-runtime-api-release: build-release venv
	RUNTIME_API_PROFILE=release $(PY) -m pytest -q tests/runtime_api

check-statemachines: venv
	bash tests/statemachine/check.sh

check-infra: lint-venv venv
	bash tests/infra/check.sh

# Concurrently (pytest-xdist): each test starts its own router and simulators on free ports, each
# worker its own moto (tests/sandbox/conftest.py). As many workers as cores: some tests time
# simulated intervals (e.g. test_ecs_sim.py, gaps in 0.18-2 s), which a starved CPU stretches.
SANDBOX_TEST_WORKERS ?= 2
check-sandbox: venv
	$(PY) -m pytest -q -n $(SANDBOX_TEST_WORKERS) tests/sandbox

# hookline judge against scipy (known answers on generated samples); needs the debug CLI.
check-judge: build venv
	$(PY) -m pytest -q tests/judge

# hookline dashboard in headless Chromium (npm: @sparticuz/chromium + puppeteer-core, pinned in
# tests/dashboard/package-lock.json) against the sandbox; the test starts and stops what it needs.
check-dashboard: build venv
	cd tests/dashboard && npm ci --no-audit --no-fund --silent && node --test --test-concurrency=1 test_dashboard.mjs

# Concurrently: E2E_WORKERS pytest-xdist workers, each with its own sandbox (tests/e2e/conftest.py:
# worker N on the SANDBOX_* ports + 2N); the tests wait on bakes, not on the CPU.
E2E_WORKERS ?= 4
e2e: build venv
	$(PY) -m pytest -q -n $(E2E_WORKERS) tests/e2e

# Every check, in two lanes at once (2 cores; `.ci/run` prints the time). The Rust lane (fmt,
# module graph, clippy, rustdoc, unit tests) compiles the workspace with its dev-dependencies' features
# (test-util), a build of its own that shares no SDK crate with the binaries the sandbox runs; it
# gets its own target directory, so the sandboxes' `cargo run` never waits for its lock, and the
# lowest CPU priority, so the timing-sensitive sandbox lane keeps the CPU it needs and the Rust
# lane takes what it leaves. The sandbox lane builds the binaries, then runs what needs them.
# Each lane goes on after a failed check (-k), so one run reports every failure.
TEST_RUST_TARGET_DIR ?= $(CURDIR)/target/test-lane
test:
	@$(MAKE) --no-print-directory -j2 test-lane-rust test-lane-sandbox

test-lane-rust:
	@set -o pipefail; start=$$(date +%s); \
	CARGO_TARGET_DIR="$(TEST_RUST_TARGET_DIR)" nice -n 19 $(MAKE) --no-print-directory -k -j1 \
		fmt-check module-graph clippy doc-check unit 2>&1 | sed -u 's/^/[rust] /'; \
	rc=$$?; echo "[rust] lane: $$(( $$(date +%s) - start )) s, exit $$rc"; exit $$rc

test-lane-sandbox:
	@set -o pipefail; start=$$(date +%s); \
	$(MAKE) --no-print-directory -k -j1 build test-runtime-api check-statemachines check-infra check-sandbox \
		check-judge check-dashboard e2e 2>&1 | sed -u 's/^/[sandbox] /'; \
	rc=$$?; echo "[sandbox] lane: $$(( $$(date +%s) - start )) s, exit $$rc"; exit $$rc

# Randomized fault schedules against the sandbox (tests/e2e/test_chaos.py, the CodeDeploy family);
# `make test` plays 3 of them.
CHAOS_RUNS ?= 300
chaos: build venv
	CHAOS_RUNS=$(CHAOS_RUNS) $(PY) -m pytest -q tests/e2e/test_chaos.py -k "not ecs and not dns"

# The same for ECS-native deployments of `api` (tests/e2e/test_chaos.py, the ECS family); `make test` plays 3.
CHAOS_ECS_RUNS ?= 50
chaos-ecs: build venv
	CHAOS_ECS_RUNS=$(CHAOS_ECS_RUNS) $(PY) -m pytest -q tests/e2e/test_chaos.py -k ecs

# The same for hookline's own Route 53 controller (`hookline deploy` on the sandbox's Route 53 world;
# tests/e2e/test_chaos.py, the DNS family); `make test` plays 3. Each schedule bakes at least the
# records' TTL + grace (70 s), so one takes 10 s to 2.5 min: 20 take about half an hour.
CHAOS_DNS_RUNS ?= 20
chaos-dns: build venv
	CHAOS_DNS_RUNS=$(CHAOS_DNS_RUNS) $(PY) -m pytest -q tests/e2e/test_chaos.py -k dns

# The end-to-end invariants under every setting of every assumed simulator behaviour (the switches
# of tests/sandbox/README.md "Sources"), each scenario (tests/e2e/test_assumed_switches.py);
# `make test` (e2e) plays a window of SWITCHES_SAMPLE (4) non-default settings moving with SWITCHES_SEED.
# Concurrently, as make e2e (E2E_WORKERS sandboxes).
switches: build venv
	SWITCHES_FULL=1 $(PY) -m pytest -q -n $(E2E_WORKERS) tests/e2e/test_assumed_switches.py

# Remove each IAM statement of infra/template.yaml in turn and show the checks fail
# (tests/iam_mutation.py; docs/deploy.md records the result). Not part of `make test`:
# with the e2e subset per function-role statement it takes about an hour.
IAM_MUTATION_ARGS ?= --e2e
iam-mutation: build venv
	$(PY) tests/iam_mutation.py $(IAM_MUTATION_ARGS)

sandbox: build venv
	bash tests/sandbox/up.sh

sandbox-down:
	bash tests/sandbox/down.sh

demo: build venv
	bash tests/demo/run.sh

# ARCH=arm64 (default, the template's default Architecture: Graviton) or x86_64; the zips go to
# LAMBDA_DIR/<fn>/bootstrap.zip (default target/lambda, where infra/template.yaml's CodeUri points).
ARCH ?= arm64
LAMBDA_DIR ?= target/lambda
RUST_TARGET_arm64 := aarch64-unknown-linux-gnu
RUST_TARGET_x86_64 := x86_64-unknown-linux-gnu
package: venv
	@test -n "$(RUST_TARGET_$(ARCH))" || { echo "ARCH=$(ARCH): arm64 or x86_64" >&2; exit 2; }
	rustup target list --installed | grep -qx "$(RUST_TARGET_$(ARCH))" || rustup target add "$(RUST_TARGET_$(ARCH))"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --target "$(RUST_TARGET_$(ARCH))" \
		--lambda-dir "$(LAMBDA_DIR)" --output-format zip --workspace --exclude hookline-cli --exclude bench-floor
	@for f in $(LAMBDA_DIR)/*/bootstrap.zip; do ls -l "$$f" | awk '{printf "%-45s %8.1f KiB\n", $$9, $$5/1024}'; done

# Cold start, memory, zip size (runs `make package` if zips are missing) and orchestration
# cost in a sandbox of its own (ports 4620/4621/9020) -> BENCHMARKS.md. Never fails on a number.
# BENCH_VARIANT=jitter-off|opt-s|thin-lto also builds and measures a hook variant (benches/run.py).
bench: build-release venv
	$(MAKE) test-runtime-api-release
	$(PY) benches/run.py
	$(MAKE) bench-judge

# Judging cost, 1,000 vs 1,000 samples: the library's judge module against scipy, interleaved
# rounds, a table on stdout and benches/results/judge.json (benches/judge.py). Seconds, no sandbox.
bench-judge: venv
	$(PY) benches/judge.py

# Fleet scale and orchestration cost (issue 13 goals 3-4): 25 services, 25 canaries at once in a
# sandbox of its own (ports 4820/4821/9220, /tmp/sbx-fleet) -> its section of BENCHMARKS.md
# (benches/fleet.py). Not part of `make test` nor `make bench`; never fails on a number.
bench-fleet: venv
	$(PY) benches/fleet.py
