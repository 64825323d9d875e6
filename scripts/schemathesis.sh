#!/usr/bin/env bash
# Fuzz the running service against its own OpenAPI document with schemathesis (PyPI): every
# operation of /api-docs/openapi.json gets a bounded number of generated requests (valid and
# invalid), and each response must not be a 5xx, must match its documented schema, and must
# have a documented status code and content type.
#
# The already-built debug binary ($CARGO_TARGET_DIR/debug/fileproc, else target/debug/fileproc;
# `cargo build` first) is started on the embedded default (SQLite, local files, in-process
# cache) in a temporary directory, on a free port, with auth off. schemathesis is installed into
# a cached virtualenv ($FILEPROC_CI_CACHE, default ~/.cache/fileproc-ci).
#
# The event stream (/api/v1/files/{file_id}/events) stays open for as long as the client
# listens, so schemathesis reads it until its request timeout: 3 s
# (SCHEMATHESIS_REQUEST_TIMEOUT) keeps a run of 31 operations around 1.5 min on two cores, while
# every other request answers in milliseconds.
#
# usage: scripts/schemathesis.sh   (SCHEMATHESIS_MAX_EXAMPLES: per operation, default 25;
#                                   FILEPROC_BIN: another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bin="${FILEPROC_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/fileproc}"
if [ ! -x "$bin" ]; then
  echo "no $bin: run cargo build first" >&2
  exit 2
fi

cache="${FILEPROC_CI_CACHE:-$HOME/.cache/fileproc-ci}"
venv="$cache/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "== installing schemathesis into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
echo "== starting $bin on $base (data in $work)"
(
  cd "$work"
  exec env -i PATH="$PATH" HOME="$work" \
    SERVER_PORT="$port" SERVER_HOST=127.0.0.1 \
    DATABASE_URL="sqlite:$work/fileproc.db" LOCAL_STORAGE_PATH="$work/files" \
    AUTH_MODE=none PROCESSING_WORKER_COUNT=2 LOG_LEVEL=warn \
    "$bin" serve
) >"$work/server.log" 2>&1 &
server=$!
stop() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT

ready=""
for _ in $(seq 1 150); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the server exited:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  if curl -fsS "$base/ready" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "the server did not become ready:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

# A processed file, so that the list, status and result operations see a real one too.
curl -fsS -o /dev/null -F 'file=@crates/formats/tests/data/csv/table.csv;filename=table.csv' \
  "$base/api/v1/files/upload" 2>/dev/null || true

echo "== schemathesis against $base/api-docs/openapi.json"
status=0
# From the temporary directory, where schemathesis leaves its .schemathesis/ cache.
(cd "$work" && SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$root/scripts" \
  "$venv/bin/schemathesis" run "$base/api-docs/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
  --phases examples,coverage,fuzzing \
  --workers 2 \
  --request-timeout "${SCHEMATHESIS_REQUEST_TIMEOUT:-3}" \
  --max-redirects 0 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  --suppress-health-check all \
  --no-color) || status=$?
if [ "$status" -ne 0 ]; then
  echo "== server log (last 50 lines)" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
