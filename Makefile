# Targets mirror the README and CI (.ci/run).
.PHONY: run test test-integration fuzz-smoke upload-bench lint format build migrate-up migrate-down clean

# Run the service on the embedded default: SQLite under ./data, files under ./data/files.
run:
	cargo run --release -p fileproc -- serve

# The whole test suite (unit, format corpus, API over HTTP).
test:
	cargo test --workspace

# The API and catalog suites on the production stack (PostgreSQL + Redis + an S3 server),
# as CI runs them; needs PostgreSQL and Redis on localhost (see scripts/with-production-stack.sh).
test-integration:
	scripts/with-production-stack.sh cargo test -p fileproc --test api --test catalog

# Fuzz every format analyzer for FUZZ_SECONDS (15) each; stable toolchain, installs cargo-fuzz once.
fuzz-smoke:
	scripts/fuzz-smoke.sh

# Upload throughput and server RSS on loopback: 1 GiB through multipart, chunked and tus, 3 runs
# each, against the release binary (a temporary SQLite + local-files stack; needs ~2.3 GB free
# in the temp dir). Options after --, e.g. make upload-bench BENCH_ARGS="--size 256MiB --runs 5".
upload-bench:
	cargo build --release -p fileproc --bin fileproc
	cargo run --release -p fileproc --example upload_bench -- $(BENCH_ARGS)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

format:
	cargo fmt --all

build:
	cargo build --release -p fileproc

# Apply the catalog's migrations (the service also does it at start-up).
migrate-up:
	cargo run --release -p fileproc -- migrate

# Revert the catalog's latest migration (repeat to go further back); for rolling back a release.
migrate-down:
	cargo run --release -p fileproc -- migrate --down

clean:
	cargo clean
