#!/usr/bin/env bash
# Async generator benchmarks (issue 4): aio vs asyncio and uvloop async
# generators. Workloads: chain3 (producer -> map -> filter), merge8 (8
# producers merged), delegate3 (3 levels of delegation).
# Usage: bench/run_generators.sh BUILD_DIR   (BENCH_REPEAT, default 3)
set -u
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
REPEAT=${BENCH_REPEAT:-3}
RESULTS="$BUILD/bench/generator_results.jsonl"
mkdir -p "$BUILD/bench" && : > "$RESULTS"
for _ in $(seq "$REPEAT"); do
  "$BUILD/bench/aio_generator_bench" all 2000000 | tee -a "$RESULTS"
  "$PY" "$HERE/peers/generator_asyncio.py" all 1000000 | tee -a "$RESULTS"
  "$PY" "$HERE/peers/generator_asyncio.py" --uvloop all 1000000 | tee -a "$RESULTS"
done
# Item counts differ between implementations (rates are per second), so
# compare by workload only.
"$PY" - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for r in rows: r["n"] = "-"
with open(sys.argv[1] + ".cmp", "w") as f:
    for r in rows: f.write(json.dumps(r) + "\n")
PY
"$PY" "$HERE/compare.py" "$RESULTS.cmp" items_per_sec items_per_cpu_sec
