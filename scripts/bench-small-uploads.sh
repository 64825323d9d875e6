#!/usr/bin/env bash
# End-to-end throughput: N small CSV uploads from C concurrent clients, each processed to
# `completed`; prints files/s from the first upload to the last completion.
#
# usage: scripts/bench-small-uploads.sh [N=1000] [C=8]
# Runs target/release/fileproc (build it first) on the stack the environment names: nothing set is
# the embedded default in a temporary directory; DATABASE_URL, REDIS_URL, STORAGE_PROVIDER=s3...
# select the production stack (see the README).
set -euo pipefail
n=${1:-1000}
clients=${2:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$work"
printf 'id,name,score,day\n1,alpha,3.5,2024-01-02\n2,beta,4.25,2024-02-03\n3,gamma,,2024-03-04\n' > small.csv
SERVER_HOST=127.0.0.1 SERVER_PORT=$port LOG_LEVEL=warn "$root/target/release/fileproc" serve 2>server.log &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
start=$(date +%s.%N)
seq 1 "$n" | xargs -P "$clients" -I{} curl -sf -o /dev/null -F "file=@small.csv;filename=f{}.csv" \
  "http://127.0.0.1:$port/api/v1/files/upload"
uploaded=$(date +%s.%N)
count() { curl -sf "http://127.0.0.1:$port/api/v1/files?status=$1&limit=1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["files"]))'; }
while [ "$(count queued)" != 0 ] || [ "$(count processing)" != 0 ]; do sleep 0.05; done
done_at=$(date +%s.%N)
failed=$(count failed)
python3 - "$n" "$start" "$uploaded" "$done_at" "$failed" <<'PY'
import sys
n, start, up, done, failed = int(sys.argv[1]), *map(float, sys.argv[2:5]), sys.argv[5]
print(f"{n} files: uploads {up - start:.2f} s, all processed {done - start:.2f} s, "
      f"{n / (done - start):.0f} files/s end to end; any failed: {failed != '0'}")
PY
