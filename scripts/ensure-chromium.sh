#!/usr/bin/env bash
# Make Debian's Chromium available at /usr/bin/chromium for the browser tests of the web page
# (crates/server/tests/api/page.rs drives it with Playwright's playwright-core). Installs only
# when it is missing; needs root (CI runs as root).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
    apt-get update >/dev/null 2>&1
    apt-get install -y --no-install-recommends chromium >/dev/null
}
test -x /usr/bin/chromium
