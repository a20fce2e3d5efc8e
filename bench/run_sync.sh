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

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd) || { echo "no such build dir: $1" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS="$HERE/peers"
REPEAT=${BENCH_REPEAT:-3}
IMPLS=${BENCH_IMPLS:-"aio asyncio uvloop tokio go"}
PY=${PYTHON:-/usr/bin/python3}
RESULTS="$BUILD/bench/sync_results.jsonl"
mkdir -p "$BUILD/bench"
: > "$RESULTS"

AIO_BIN="$BUILD/bench/aio_sync_bench"
TOKIO_TARGET="$BUILD/bench/sync-tokio-target"
GO_BIN="$BUILD/bench/sync_go"

declare -A CMD
for impl in $IMPLS; do
  case "$impl" in
    aio)
      if [ -x "$AIO_BIN" ]; then CMD[aio]="$AIO_BIN"
      else echo "skip aio: $AIO_BIN not built (target aio_sync_bench)" >&2; fi ;;
    asyncio)
      CMD[asyncio]="$PY $PEERS/sync_asyncio.py" ;;
    uvloop)
      if "$PY" -c 'import uvloop' 2>/dev/null; then CMD[uvloop]="$PY $PEERS/sync_asyncio.py --uvloop"
      else echo "skip uvloop: not importable by $PY" >&2; fi ;;
    tokio)
      echo "building tokio peer (cargo --offline) into $TOKIO_TARGET ..." >&2
      if (cd "$PEERS/sync_tokio" && CARGO_TARGET_DIR="$TOKIO_TARGET" \
            cargo build --release --offline --quiet) >&2; then
        CMD[tokio]="$TOKIO_TARGET/release/sync_tokio"
      else
        echo "skip tokio: cargo build failed" >&2
      fi ;;
    go)
      if command -v go >/dev/null; then
        echo "building go peer into $GO_BIN ..." >&2
        if (cd "$PEERS/sync_go" && GOCACHE="$BUILD/bench/go-cache" GOFLAGS=-mod=mod go build -o "$GO_BIN" .) >&2; then
          CMD[go]="env GOMAXPROCS=1 $GO_BIN"
        else
          echo "skip go: go build failed" >&2
        fi
      else
        echo "skip go: no go toolchain (apt-get install golang-go)" >&2
      fi ;;
    *) echo "unknown impl '$impl' in BENCH_IMPLS" >&2 ;;
  esac
done

MEASUREMENTS=("pingpong 1000000" "prodcons 1000000 1024 4 4" "lock 1000 1000")
if [ -n "${BENCH_MEASUREMENTS:-}" ]; then
  IFS=';' read -r -a MEASUREMENTS <<< "$BENCH_MEASUREMENTS"
fi

for m in "${MEASUREMENTS[@]}"; do
  for ((rep = 1; rep <= REPEAT; rep++)); do  # interleaved: drift hits everyone alike
    for impl in $IMPLS; do
      [ -n "${CMD[$impl]:-}" ] || continue
      # shellcheck disable=SC2086  # CMD holds "interpreter script [flags]"
      line=$(set -o pipefail; ${CMD[$impl]} $m | tail -n 1)
      rc=$?
      if [ "$rc" -ne 0 ] || [ "${line:0:1}" != "{" ]; then
        echo "FAILED: $impl $m (exit $rc)" >&2
        continue
      fi
      echo "$line"
      echo "$line" >> "$RESULTS"
    done
  done
done

echo
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
