#!/usr/bin/env bash
# Run a command (usually the test suite) against the production stack: PostgreSQL, Redis and an
# S3 server. PostgreSQL (127.0.0.1:5432, trust auth, user postgres) and Redis (127.0.0.1:6379)
# are expected on the machine and started if they are installed but stopped; the S3 server is
# moto, installed from PyPI into a cached virtualenv and started on a free port for this run.
# The tests read TEST_DATABASE_URL, TEST_REDIS_URL, TEST_S3_ENDPOINT and TEST_S3_BUCKET.
#
# usage: scripts/with-production-stack.sh cargo test --workspace
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== starting an S3 server (moto)"
cache="${FILEPROC_CI_CACHE:-$HOME/.cache/fileproc-ci}"
venv="$cache/moto-venv"
if [ ! -x "$venv/bin/moto_server" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'moto[server]'
fi
s3_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
s3_log=$(mktemp)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$s3_log" 2>&1 &
s3_pid=$!
trap 'kill "$s3_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $s3_port), 1)" 2>/dev/null && break
  sleep 0.1
done
"$venv/bin/python" - "$s3_port" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                  aws_access_key_id="test", aws_secret_access_key="test")
s3.create_bucket(Bucket="fileproc-ci")
PY

echo "== PostgreSQL and Redis"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
# Each test makes its own database fileproc_test_<id>; drop those of earlier runs.
psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'fileproc\_test\_%'" postgres \
  | while read -r db; do dropdb -h 127.0.0.1 -U postgres --if-exists "$db"; done

export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
export TEST_REDIS_URL=redis://127.0.0.1:6379/0
export TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export TEST_S3_BUCKET=fileproc-ci
"$@"
