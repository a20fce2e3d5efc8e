#!/usr/bin/env bash
# Structured-concurrency benchmarks (issue 3): aio vs asyncio, uvloop,
# Boost.Asio (make_parallel_group) and Tokio (JoinSet).
#
# Usage: bench/run_structured.sh BUILD_DIR
#
# Workloads (one JSON line per run, see bench/structured_bench.cpp):
#   fanout_taskgroup 1000   1,000 TaskGroups of 1,000 children (children/s)
#   fanout_gather 1000      1,000 gathers over 1,000 coroutines (children/s)
#   wait_for 1000000        1,000,000 wait_for calls finishing in time (ns/call)
#
# Expects BUILD_DIR/bench/structured_bench (target structured_bench); the
# Asio peer is taken from BUILD_DIR/bench/peers/structured_asio or compiled
# here; the Tokio peer is built offline into BUILD_DIR/bench/tokio-target.
#
# Environment: BENCH_REPEAT (runs per measurement, median; default 3),
# BENCH_IMPLS (subset of "aio asyncio uvloop asio tokio"), PYTHON,
# BENCH_MEASUREMENTS (';'-separated, e.g. "fanout_taskgroup 100;wait_for 100000").
set -u
source "$(dirname "$0")/lib.sh"
bench_init structured "aio asyncio uvloop asio tokio" "${1:-}"

ASIO_BIN="$BUILD/bench/peers/structured_asio"
for impl in $IMPLS; do
  case "$impl" in
    aio) peer_binary aio "$BUILD/bench/structured_bench" ;;
    asyncio | uvloop) peer_python "$impl" "$PEERS/structured_asyncio.py" ;;
    asio)
      if [ ! -x "$ASIO_BIN" ]; then  # not built by CMake (no Boost at configure time)
        echo "compiling the Asio peer into $ASIO_BIN ..." >&2
        ${CXX:-g++-12} -std=c++20 -O2 -DNDEBUG "$PEERS/structured_asio.cpp" -o "$ASIO_BIN" -lpthread >&2 || true
      fi
      peer_binary asio "$ASIO_BIN" ;;
    tokio) peer_cargo tokio "$PEERS/structured_tokio" structured_tokio "$BUILD/bench/tokio-target" ;;
    *) echo "unknown impl '$impl' in BENCH_IMPLS" >&2 ;;
  esac
done

run_measurements "fanout_taskgroup 1000" "fanout_gather 1000" "wait_for 1000000"
# Table: medians per (workload, n, impl) and aio/peer ratios (> 1: aio better).
"$PY" - "$RESULTS" <<'PYEOF'
import json, statistics, sys
from collections import OrderedDict
METRIC = {  # workload -> (key, label, higher is better)
    "fanout_taskgroup": ("children_per_sec", "children/s", True),
    "fanout_gather": ("children_per_sec", "children/s", True),
    "wait_for": ("ns_per_call", "ns/call", False),
}
ORDER = ["aio", "asyncio", "uvloop", "asio", "tokio"]
groups = OrderedDict()
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        groups.setdefault((r["workload"], r["n"]), {}).setdefault(r["impl"], []).append(r)
for (w, n), impls in groups.items():
    key, label, hib = METRIC.get(w, ("seconds", "seconds", False))
    med = {i: statistics.median(r[key] for r in rs) for i, rs in impls.items()}
    runs = max(len(rs) for rs in impls.values())
    print(f"\n{w}  n={n}  (median of {runs} run{'s' if runs != 1 else ''})")
    print(f"  {'impl':<9}{label:>16}{'aio vs peer':>13}")
    print("  " + "-" * 38)
    aio = med.get("aio")
    for i in [x for x in ORDER if x in med] + sorted(set(med) - set(ORDER)):
        v = med[i]
        if i == "aio" or aio is None:
            ratio = "(ref)" if i == "aio" else "-"
        else:
            ratio = f"{(aio / v if hib else v / aio):.2f}x"
        print(f"  {i:<9}{v:>16,.1f}{ratio:>13}")
print("\nratios > 1 mean aio is better (more children/s, fewer ns per call)")
PYEOF
