#!/usr/bin/env bash
# Threads and processes (issue 6): to_thread round trips, call_soon_threadsafe
# wake-ups, spawning and reaping children; aio vs asyncio and uvloop (the
# aio program also runs a plain posix_spawn + waitpid loop for reference).
# Usage: bench/run_threads.sh BUILD_DIR   (BENCH_REPEAT, default 3)
set -u
BUILD=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
REPEAT=${BENCH_REPEAT:-3}
RESULTS="$BUILD/bench/threads_results.jsonl"
mkdir -p "$BUILD/bench" && : > "$RESULTS"
for _ in $(seq "$REPEAT"); do
  "$BUILD/bench/aio_threads_bench" | tee -a "$RESULTS"
  "$PY" "$HERE/peers/threads_asyncio.py" | tee -a "$RESULTS"
  "$PY" "$HERE/peers/threads_asyncio.py" --uvloop | tee -a "$RESULTS"
done
"$PY" "$HERE/compare.py" "$RESULTS"
