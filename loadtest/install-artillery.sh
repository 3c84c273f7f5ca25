#!/usr/bin/env bash
# Install Artillery 2 from the npm registry into a folder of the project rather
# than the user's home: $CHATAPP_ARTILLERY_PREFIX, by default .tools/artillery
# in this checkout (ignored by git). Nothing to do when it is already there.
# Prints the path of the `artillery` program. Used by .ci/run and the tests.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${CHATAPP_ARTILLERY_PREFIX:-$repo/.tools/artillery}"
program="$prefix/node_modules/.bin/artillery"

if [ ! -x "$program" ]; then
    if ! command -v npm >/dev/null; then
        echo "install-artillery: npm is missing (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
    mkdir -p "$prefix"
    cache="$(mktemp -d)"
    trap 'rm -rf "$cache"' EXIT
    # No browser download (Artillery's Playwright engine is not used by the
    # kit) and no install scripts; the npm cache is thrown away afterwards.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$prefix" --no-save --no-audit \
        --no-fund --ignore-scripts --loglevel=error --cache "$cache" 'artillery@2' </dev/null >&2
fi
echo "$program"
