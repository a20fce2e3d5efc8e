#!/usr/bin/env bash
# Core benchmarks: aio vs asyncio, uvloop, Boost.Asio and Tokio.
#
# Usage: bench/run_core.sh BUILD_DIR
#
# Expects the cmake build in BUILD_DIR to have built
#   BUILD_DIR/bench/aio_core_bench       (skipped with a message if missing)
#   BUILD_DIR/bench/peers/asio_bench     (skipped with a message if missing)
# Builds the Tokio peer itself, offline, into BUILD_DIR/bench/tokio-target.
#
# Environment:
#   BENCH_REPEAT  runs per measurement, median reported (default 3)
#   BENCH_IMPLS   subset of "aio asyncio uvloop asio tokio" (default: all)
#   BENCH_MEASUREMENTS  override the list, ';'-separated (default
#                 "spawn 1000000;timers 100000;timers 1000000;switch 1000000")
#   PYTHON        interpreter for the asyncio/uvloop peers (default /usr/bin/python3,
#                 Debian's, which has python3-uvloop)
#
# Every run is a fresh process printing one JSON line; all lines are echoed
# (and saved to BUILD_DIR/bench/core_results.jsonl), then a table of medians
# and aio/peer ratios is printed by bench/summarize.py.
set -u
source "$(dirname "$0")/lib.sh"
bench_init core "aio aio-debug asyncio uvloop asio tokio" "${1:-}"

for impl in $IMPLS; do
  case "$impl" in
    aio) peer_binary aio "$BUILD/bench/aio_core_bench" ;;
    aio-debug) peer_binary aio-debug "$BUILD/bench/aio_core_bench" "env AIO_DEBUG=1" ;;  # what debug mode costs
    asyncio | uvloop) peer_python "$impl" "$PEERS/asyncio_bench.py" ;;
    asio) peer_binary asio "$BUILD/bench/peers/asio_bench" ;;
    tokio) peer_cargo tokio "$PEERS/tokio" tokio_bench "$BUILD/bench/tokio-target" ;;
    *) echo "unknown impl '$impl' in BENCH_IMPLS" >&2 ;;
  esac
done

run_measurements "spawn 1000000" "timers 100000" "timers 1000000" "switch 1000000"
"$PY" "$HERE/summarize.py" "$RESULTS"
