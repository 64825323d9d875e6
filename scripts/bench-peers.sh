#!/usr/bin/env bash
# Installs the peers `make benchmark` measures fileproc against, once, and prints the Python
# interpreter of their virtualenv (the last line of output):
# - Debian's libvips-tools (vipsthumbnail) and poppler-utils (pdftotext, pdftoppm), when missing;
# - pandas, openpyxl, pypdf, python-docx, Pillow and python-calamine at the versions of
#   bench/peers/requirements.txt, from PyPI into $FILEPROC_BENCH_CACHE/venv
#   (default ~/.cache/fileproc-bench), reinstalled when the requirements change.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${FILEPROC_BENCH_CACHE:-$HOME/.cache/fileproc-bench}"
requirements="$root/bench/peers/requirements.txt"

missing=()
command -v vipsthumbnail >/dev/null 2>&1 || missing+=(libvips-tools)
{ command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; } || missing+=(poppler-utils)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bench-peers: installing Debian's ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

venv="$cache/venv"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
  echo "bench-peers: installing the Python peers into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$stamp"
fi
echo "$venv/bin/python"
