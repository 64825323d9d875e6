#!/usr/bin/env bash
# The web page's build (web/: TypeScript, Preact and tus-js-client, bundled by Vite into
# web/dist/, which the server embeds; see crates/server/src/api/page.rs).
#
#   scripts/web.sh build   type-check and build web/dist/ from the sources (commit the result)
#   scripts/web.sh check   build into a temporary directory and fail unless it equals the
#                          committed web/dist/ byte for byte (CI: the embedded page is the one
#                          the sources make)
#
# Packages come from web/package-lock.json (`npm ci`); needs Node.js 20.19 or later and npm.
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund --loglevel=error
case "${1:-}" in
    build)
        npm run --silent build
        ;;
    check)
        out=$(mktemp -d)
        trap 'rm -rf "$out"' EXIT
        npx tsc --noEmit
        npx vite build --logLevel warn --outDir "$out" --emptyOutDir
        if ! diff -r "$out" dist; then
            echo "web/dist/ is not what web/ builds: run scripts/web.sh build and commit web/dist/" >&2
            exit 1
        fi
        echo "web/dist/ is what web/ builds ($(find dist -type f | wc -l) files)"
        ;;
    *)
        echo "usage: scripts/web.sh build|check" >&2
        exit 2
        ;;
esac
