#!/usr/bin/env bash
# Make `go tool pprof` available (Debian's golang-go), so the pprof test checks that the CPU
# profiles the service serves are read by the pprof tool itself. Installs only when `go` is
# missing; needs root (CI runs as root).
set -euo pipefail
if command -v go >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends golang-go >/dev/null 2>&1 || {
    apt-get update >/dev/null 2>&1
    apt-get install -y --no-install-recommends golang-go >/dev/null
}
command -v go >/dev/null
