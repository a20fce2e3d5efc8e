#!/usr/bin/env bash
# Agent-layer benchmarks (issue 10, "Speed and memory"): aio's adk vs ADK for
# TypeScript (@google/adk 2.0, bench/adk-ts/, pinned by its package-lock.json).
#
# Usage: bench/run_adk.sh BUILD_DIR
#
# Workloads (definitions: bench/adk-ts/README-bench.md; the C++ twin is
# bench/adk_bench.cpp, ADK-TS's side bench/adk-ts/bench.mjs):
#   invoke --n 10000 --concurrency 1|100   an LlmAgent calling the add tool,
#        10,000 invocations, each in a fresh in-memory session (kept):
#        invocations/s, peak RSS, RSS and heap growth per session
#   fanout --children 1000   a ParallelAgent of 1,000 LlmAgents, 2 model
#        steps each: wall time, peak RSS
#   persist   invoke on SQLite sessions: events persisted per second (4 per
#        invocation). aio: adk::SqliteSessionService (WAL, synchronous=NORMAL,
#        and FULL at 100 in flight); ADK-TS: DatabaseSessionService on
#        sqlite:// (MikroORM defaults: rollback journal, synchronous=FULL),
#        so slow that it runs ADK_TS_PERSIST_N invocations (default 200).
# Both run pinned to one core (ADK_BENCH_CPU, default 0; "all" unpins), as
# README-bench.md does: Node's GC and JIT threads then share the core with
# its event loop, the fair setting against aio's single-threaded loop.
#
# Expects BUILD_DIR/bench/adk_bench (target adk_bench; persist needs the
# adk::sqlite component). ADK-TS needs node (>= 20) and npm; its packages are
# installed here (npm ci in bench/adk-ts, ~1-4 min) when node_modules is
# missing.
#
# Environment: BENCH_REPEAT (runs per measurement, median; default 3),
# BENCH_IMPLS (subset of "aio adk-ts"), BENCH_MEASUREMENTS (';'-separated
# lines run for every impl, e.g. "invoke --n 1000 --concurrency 1"),
# ADK_BENCH_CPU, ADK_TS_PERSIST_N.
set -u
source "$(dirname "$0")/lib.sh"
bench_init adk "aio adk-ts" "${1:-}"

CPU=${ADK_BENCH_CPU:-0}
PIN=""
if [ "$CPU" != all ]; then
  if command -v taskset >/dev/null; then PIN="taskset -c $CPU"
  else echo "taskset not found: running unpinned" >&2; fi
fi
TS_DIR="$HERE/adk-ts"
TS_PERSIST_N=${ADK_TS_PERSIST_N:-200}
AIO_WORKLOADS=""

for impl in $IMPLS; do
  case "$impl" in
    aio)
      peer_binary aio "$BUILD/bench/adk_bench" "$PIN"
      [ -n "${CMD[aio]:-}" ] && AIO_WORKLOADS=$("$BUILD/bench/adk_bench" workloads) ;;
    adk-ts)
      if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "skip adk-ts: node/npm not found (scripts/install-deps.sh)" >&2
        continue
      fi
      if [ ! -f "$TS_DIR/node_modules/@google/adk/package.json" ]; then
        echo "installing ADK-TS (npm ci in $TS_DIR) ..." >&2
        if ! (cd "$TS_DIR" && npm ci --no-audit --no-fund) >&2; then
          echo "skip adk-ts: npm ci failed" >&2
          continue
        fi
      fi
      CMD[adk-ts]="${PIN:+$PIN }node --expose-gc $TS_DIR/bench.mjs" ;;
    *) echo "unknown impl '$impl' in BENCH_IMPLS" >&2 ;;
  esac
done

if [ -n "${BENCH_MEASUREMENTS:-}" ]; then
  run_measurements
else
  run_measurements "invoke --n 10000 --concurrency 1" "invoke --n 10000 --concurrency 100" \
                   "fanout --children 1000"
  # persist: the same workload, sizes per implementation (ADK-TS does ~5
  # invocations/s on SQLite here).
  all_impls=$IMPLS
  if [[ " $all_impls " == *" aio "* ]]; then
    if [[ " $AIO_WORKLOADS " == *" persist "* ]]; then
      IMPLS=aio run_measurements "persist --n 10000 --concurrency 1" "persist --n 10000 --concurrency 100" \
                                 "persist --n 10000 --concurrency 100 --synchronous full"
    else
      echo "skip aio persist: adk_bench built without adk::sqlite" >&2
    fi
  fi
  if [[ " $all_impls " == *" adk-ts "* ]]; then
    IMPLS=adk-ts run_measurements "persist --n $TS_PERSIST_N --concurrency 1 --warmup 20"
  fi
  IMPLS=$all_impls
fi

# Table: medians per workload and the ratio aio / ADK-TS, with the targets.
"$PY" - "$RESULTS" <<'PYEOF'
import json, statistics, sys
from collections import OrderedDict
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
groups = OrderedDict()
for r in rows:
    w = r["workload"]
    if w in ("invoke", "persist"):
        key = (w, f"concurrency {r.get('concurrency', 1)}"
               + (f", synchronous={r['synchronous']}" if r.get("synchronous", "normal") != "normal" else ""))
    elif w == "fanout":
        key = (w, f"{r['children']} children")
    else:
        key = (w, f"{r.get('sessions', '')} sessions")
    groups.setdefault(key, {}).setdefault(r["impl"], []).append(r)

def med(rs, k):
    vals = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(vals) if vals else None

# workload -> [(metric, label, higher is better, target for aio/ADK-TS)]
METRICS = {
    "invoke": [("invocations_per_s", "invocations/s", True, 20.0), ("cpu_s", "CPU s (speed)", False, 20.0),
               ("peak_rss_mb", "peak RSS MB", False, 0.1),
               ("rss_growth_per_session_b", "RSS B/session", False, 0.1),
               ("heap_growth_per_session_b", "heap B/session", False, 0.1)],
    "fanout": [("wall_s", "wall s", False, 20.0), ("cpu_s", "CPU s (speed)", False, 20.0),
               ("first_event_s", "first event s", False, None),
               ("peak_rss_mb", "peak RSS MB", False, 0.1)],
    "persist": [("events_persisted_per_s", "events persisted/s", True, None),
                ("invocations_per_s", "invocations/s", True, None), ("cpu_s", "CPU s", False, None),
                ("peak_rss_mb", "peak RSS MB", False, None)],
    "sessions": [("invocations_per_s", "invocations/s", True, None), ("heap_per_session_b", "heap B/session", False, None),
                 ("rss_per_session_b", "RSS B/session", False, None)],
}
print("ratio = aio / ADK-TS of the quantity: speed (throughput, or 1/time) on the lines marked")
print("speed and the first line of a workload, else the value itself (memory, times). Targets:")
print("speed >= 20x, memory <= 0.10x, persist >= 20,000 events/s. On a loaded machine the CPU-time")
print("line (user + system of the timed part, all threads) is steadier than the wall-clock one.")
for (w, label), impls in groups.items():
    runs = max(len(v) for v in impls.values())
    sizes = ", ".join(f"{i} n={impls[i][0].get('n', impls[i][0].get('children'))}" for i in impls)
    print(f"\n{w}  {label}  (median of {runs} run{'s' if runs != 1 else ''}; {sizes})")
    print(f"  {'metric':<20}{'aio':>14}{'adk-ts':>14}{'aio/adk-ts':>13}  target")
    aio, ts = impls.get("aio"), impls.get("adk-ts")
    for i, (k, name, hib, target) in enumerate(METRICS.get(w, [])):
        a = med(aio, k) if aio else None
        t = med(ts, k) if ts else None
        cell = lambda v: "-" if v is None else (f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}")
        ratio, verdict = "-", ""
        if a and t:
            speed = i == 0 or "(speed)" in name  # speed from a time: ADK-TS time / aio time
            q = (a / t) if (hib or not speed) else (t / a)
            ratio = f"{q:,.2f}x"
            if target is not None:
                ok = q >= target if target >= 1 else q <= target
                verdict = f"{'>=' if target >= 1 else '<='} {target:g}x  {'met' if ok else 'MISSED'}"
        if w == "persist" and k == "events_persisted_per_s" and a is not None:
            verdict = f"aio >= 20,000/s  {'met' if a >= 20000 else 'MISSED'}"
        print(f"  {name:<20}{cell(a):>14}{cell(t):>14}{ratio:>13}  {verdict}")
PYEOF
