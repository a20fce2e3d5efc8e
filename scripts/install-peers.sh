#!/usr/bin/env bash
# Installs the npm peers the tests start (tests/peers: the MCP reference
# servers, the MCP conformance suite and the Node 22 it needs, the MCP
# TypeScript SDK for the bench) with `npm ci` from the committed lockfile.
# Idempotent: does nothing when node_modules matches package-lock.json.
# Usage: scripts/install-peers.sh [DIR]   (default: tests/peers; also tests/mockllm, tests/webui...)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/tests/peers}
lock=$dir/package-lock.json
stamp=$dir/node_modules/.aio-installed-lock.sha256
[ -f "$lock" ] || { echo "install-peers: no $lock" >&2; exit 1; }
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install-peers: npm is missing; run scripts/install-deps.sh (it installs node and npm)" >&2
  exit 1
fi
echo "install-peers: npm ci in $dir"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
