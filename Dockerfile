# syntax=docker/dockerfile:1
# fileproc: a multi-stage build. The builder compiles the `fileproc` binary with the Makefile's
# `build` command (tests/deploy checks they stay the same); the runtime stage (the last, so the
# default) is Debian slim with the binary, configs/config.yaml and a non-root user; the test
# stage is what docker-compose.test.yml runs the suite in.
#
#   docker build --target runtime -t fileproc .          (or: make docker-build)

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
# cmake for aws-lc-sys (the TLS stack of the S3 client) should its build need it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The cache mounts keep the downloaded crates and the compiled dependencies between builds, so a
# change to fileproc's own code recompiles only fileproc (the target directory is not in the
# image; the binary is copied out of it in the same step).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p fileproc --bin fileproc \
    && install -D -m 0755 target/release/fileproc /out/fileproc

# The test suite's image (docker-compose.test.yml): the toolchain and the source, plus Node.js
# for the tus-js-client test (crates/server/tests/api/tus_client.rs).
FROM builder AS test
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 fileproc \
    && useradd --system --uid 10001 --gid fileproc --home-dir /app --shell /usr/sbin/nologin fileproc \
    && mkdir -p /app/data/files /app/configs \
    && chown -R fileproc:fileproc /app/data
WORKDIR /app
COPY --from=builder /out/fileproc /usr/local/bin/fileproc
COPY configs/config.yaml /app/configs/config.yaml
# The defaults keep state under ./data (SQLite, local files): /app/data, owned by the user.
VOLUME ["/app/data"]
USER 10001:10001
# server.port in configs/config.yaml (SERVER_PORT overrides it: change EXPOSE too).
EXPOSE 8080
# GET /health on loopback at the configured port; exit 0 on 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["fileproc", "healthcheck"]
ENTRYPOINT ["fileproc"]
CMD ["serve"]
