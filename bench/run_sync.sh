#!/usr/bin/env bash
# Sync-primitive and queue benchmarks (issue 5): aio vs asyncio, uvloop,
# Tokio and Go (GOMAXPROCS=1).
#
# Usage: bench/run_sync.sh BUILD_DIR
#
# Expects BUILD_DIR/bench/aio_sync_bench (bench/sync_bench.cpp; skipped with a
# message if missing). Builds the Tokio peer offline into
# BUILD_DIR/bench/sync-tokio-target and, when `go` is installed, the Go peer
# into BUILD_DIR/bench/sync_go.
#
# Environment:
#   BENCH_REPEAT        runs per measurement, median reported (default 3)
#   BENCH_IMPLS         subset of "aio asyncio uvloop tokio go" (default: all)
#   BENCH_MEASUREMENTS  ';'-separated workload lines (default
#                       "pingpong 1000000;prodcons 1000000 1024 4 4;lock 1000 1000")
#   PYTHON              interpreter for asyncio/uvloop (default /usr/bin/python3)
#
# Every run is a fresh process printing one JSON line; the lines are echoed
# and saved to BUILD_DIR/bench/sync_results.jsonl, then a table of medians
# and aio/peer ratios (> 1: aio faster) is printed.
set -u
source "$(dirname "$0")/lib.sh"
bench_init sync "aio asyncio uvloop tokio go" "${1:-}"

for impl in $IMPLS; do
  case "$impl" in
    aio) peer_binary aio "$BUILD/bench/aio_sync_bench" ;;
    asyncio | uvloop) peer_python "$impl" "$PEERS/sync_asyncio.py" ;;
    tokio) peer_cargo tokio "$PEERS/sync_tokio" sync_tokio "$BUILD/bench/sync-tokio-target" ;;
    go) peer_go go "$PEERS/sync_go" "$BUILD/bench/sync_go" ;;
    *) echo "unknown impl '$impl' in BENCH_IMPLS" >&2 ;;
  esac
done

run_measurements "pingpong 1000000" "prodcons 1000000 1024 4 4" "lock 1000 1000"
"$PY" - "$RESULTS" <<'EOF'
import json, statistics, sys
from collections import OrderedDict
ORDER = ["aio", "asyncio", "uvloop", "tokio", "go"]
METRIC = {"pingpong": ("round_trips_per_sec", "round trips/s"),
          "prodcons": ("items_per_sec", "items/s"),
          "lock": ("acquisitions_per_sec", "acquisitions/s")}
groups = OrderedDict()
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    key = (r["workload"], r["n"], r.get("maxsize"), r.get("producers"), r.get("consumers"), r.get("tasks"))
    groups.setdefault(key, {}).setdefault(r["impl"], []).append(r)
for key, impls in groups.items():
    workload, n = key[0], key[1]
    metric, label = METRIC.get(workload, ("seconds", "seconds"))
    extra = ", ".join(f"{k}={v}" for k, v in zip(("maxsize", "producers", "consumers", "tasks"), key[2:]) if v is not None)
    runs = max(len(v) for v in impls.values())
    print(f"\n{workload}  n={n}{'  ' + extra if extra else ''}  (median of {runs})")
    print(f"  {'impl':<9}{label:>18}{'aio vs peer':>13}")
    med = {i: statistics.median(r[metric] for r in recs) for i, recs in impls.items()}
    aio = med.get("aio")
    for i in [x for x in ORDER if x in impls] + sorted(set(impls) - set(ORDER)):
        ratio = "" if i == "aio" or not aio else f"{aio / med[i]:.2f}x"
        print(f"  {i:<9}{med[i]:>18,.0f}{ratio:>13}")
EOF
