#!/usr/bin/env bash
# Run a command (usually the test suite) with a real ClamAV daemon on 127.0.0.1, so that the
# virus-scanning tests run against clamd itself. clamd comes from Debian's clamav-daemon package
# (installed here when missing). There is no network for freshclam, so clamd gets a signature
# database written here: the EICAR test file's MD5 signature (an .hdb line is `md5:size:name`).
# Its StreamMaxLength is small (2 MiB, TEST_CLAMAV_STREAM_MAX_LENGTH) so that a test can go past
# it cheaply. The tests read TEST_CLAMAV_HOST, TEST_CLAMAV_PORT and
# TEST_CLAMAV_STREAM_MAX_LENGTH.
#
# usage: scripts/with-clamd.sh cargo test --workspace
#        scripts/with-clamd.sh scripts/with-production-stack.sh cargo test --workspace
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clamd >/dev/null 2>&1 && [ ! -x /usr/sbin/clamd ]; then
  echo "== installing clamav-daemon"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clamav-daemon >/dev/null
fi
clamd_bin=$(command -v clamd || echo /usr/sbin/clamd)

echo "== starting clamd"
work=$(mktemp -d)
mkdir -p "$work/db"
stream_max=$((2 * 1024 * 1024))
# The EICAR test file (https://www.eicar.org/download-anti-malware-testfile/): 68 bytes, written
# in two halves so that this script is not itself taken for it.
eicar='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR''-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
printf '%s' "$eicar" >"$work/eicar.com"
echo "$(md5sum "$work/eicar.com" | cut -d' ' -f1):68:Eicar-Test-Signature" >"$work/db/eicar.hdb"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# MaxFileSize and MaxScanSize at least StreamMaxLength, and AlertExceedsMax: a stream clamd takes
# but does not scan whole is reported (Heuristics.Limits.Exceeded.*), never answered `OK`.
cat >"$work/clamd.conf" <<EOF
TCPSocket $port
TCPAddr 127.0.0.1
DatabaseDirectory $work/db
TemporaryDirectory $work
LogFile $work/clamd.log
PidFile $work/clamd.pid
Foreground yes
StreamMaxLength $stream_max
MaxFileSize $stream_max
MaxScanSize $stream_max
AlertExceedsMax yes
MaxThreads 4
EOF
if [ "$(id -u)" = 0 ]; then
  # clamd drops to this user; the files it reads must be its.
  echo "User root" >>"$work/clamd.conf"
fi
"$clamd_bin" --config-file="$work/clamd.conf" >"$work/clamd.out" 2>&1 &
clamd_pid=$!
trap 'kill "$clamd_pid" 2>/dev/null || true; wait "$clamd_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
ping_clamd() {
  python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)
s.settimeout(2)
s.sendall(b"zPING\0")
sys.exit(0 if s.recv(16).startswith(b"PONG") else 1)
PY
}
for _ in $(seq 1 300); do
  ping_clamd 2>/dev/null && break
  if ! kill -0 "$clamd_pid" 2>/dev/null; then
    echo "clamd exited:" >&2
    cat "$work/clamd.out" "$work/clamd.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.1
done
ping_clamd || { echo "clamd does not answer PING" >&2; cat "$work/clamd.log" >&2; exit 1; }
echo "clamd $("$clamd_bin" --version) on 127.0.0.1:$port"

export TEST_CLAMAV_HOST=127.0.0.1
export TEST_CLAMAV_PORT="$port"
export TEST_CLAMAV_STREAM_MAX_LENGTH="$stream_max"
"$@"
