#!/usr/bin/env bash
# Makes sure `promtool` is on PATH: installs Debian's `prometheus` package (which ships it) when
# it is missing. Only the tool is wanted: the prometheus service is not started (policy-rc.d
# refuses service starts during the install).
set -euo pipefail
if command -v promtool >/dev/null 2>&1; then
  exit 0
fi
echo "ensure-promtool: installing Debian's prometheus package for promtool" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
policy=/usr/sbin/policy-rc.d
placed_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  placed_policy=1
fi
cleanup() {
  if [ -n "$placed_policy" ]; then
    $sudo rm -f "$policy"
  fi
}
trap cleanup EXIT
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends prometheus
command -v promtool >/dev/null 2>&1 || {
  echo "ensure-promtool: promtool is still missing after installing prometheus" >&2
  exit 1
}
