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

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd) || { echo "no such build dir: $1" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
PEERS="$HERE/peers"
REPEAT=${BENCH_REPEAT:-3}
IMPLS=${BENCH_IMPLS:-"aio aio-debug asyncio uvloop asio tokio"}
PY=${PYTHON:-/usr/bin/python3}
RESULTS="$BUILD/bench/core_results.jsonl"
mkdir -p "$BUILD/bench"
: > "$RESULTS"

AIO_BIN="$BUILD/bench/aio_core_bench"
ASIO_BIN="$BUILD/bench/peers/asio_bench"
TOKIO_TARGET="$BUILD/bench/tokio-target"
TOKIO_BIN="$TOKIO_TARGET/release/tokio_bench"

# ---- check / build each implementation -----------------------------------
declare -A CMD
for impl in $IMPLS; do
  case "$impl" in
    aio)
      if [ -x "$AIO_BIN" ]; then CMD[aio]="$AIO_BIN"
      else echo "skip aio: $AIO_BIN not built" >&2; fi ;;
    aio-debug)  # the same program in debug mode: what debug mode costs
      if [ -x "$AIO_BIN" ]; then CMD[aio-debug]="env AIO_DEBUG=1 $AIO_BIN"
      else echo "skip aio-debug: $AIO_BIN not built" >&2; fi ;;
    asyncio)
      CMD[asyncio]="$PY $PEERS/asyncio_bench.py" ;;
    uvloop)
      if "$PY" -c 'import uvloop' 2>/dev/null; then CMD[uvloop]="$PY $PEERS/asyncio_bench.py --uvloop"
      else echo "skip uvloop: not importable by $PY" >&2; fi ;;
    asio)
      if [ -x "$ASIO_BIN" ]; then CMD[asio]="$ASIO_BIN"
      else echo "skip asio: $ASIO_BIN not built (build target asio_bench)" >&2; fi ;;
    tokio)
      # cargo reads .cargo/config.toml (offline Debian crate registry) from the
      # working directory, so build from inside the crate.
      echo "building tokio peer (cargo --offline) into $TOKIO_TARGET ..." >&2
      if (cd "$PEERS/tokio" && CARGO_TARGET_DIR="$TOKIO_TARGET" \
            cargo build --release --offline --quiet) >&2; then
        CMD[tokio]="$TOKIO_BIN"
      else
        echo "skip tokio: cargo build failed" >&2
      fi ;;
    *) echo "unknown impl '$impl' in BENCH_IMPLS" >&2 ;;
  esac
done

# ---- run ------------------------------------------------------------------
MEASUREMENTS=("spawn 1000000" "timers 100000" "timers 1000000" "switch 1000000")
if [ -n "${BENCH_MEASUREMENTS:-}" ]; then  # e.g. "spawn 10000;switch 10000"
  IFS=';' read -r -a MEASUREMENTS <<< "$BENCH_MEASUREMENTS"
fi

for m in "${MEASUREMENTS[@]}"; do
  # Interleave repeats across impls so slow drift affects everyone alike.
  for ((rep = 1; rep <= REPEAT; rep++)); do
    for impl in $IMPLS; do
      [ -n "${CMD[$impl]:-}" ] || continue
      # shellcheck disable=SC2086  # CMD holds "interpreter script [flags]"
      line=$(set -o pipefail; ${CMD[$impl]} $m | tail -n 1)
      rc=$?
      if [ "$rc" -ne 0 ] || [ "${line:0:1}" != "{" ]; then
        echo "FAILED: $impl $m (exit $rc)" >&2
        continue
      fi
      case "$line" in
        *"\"impl\":\"$impl\""*) ;;
        *) echo "warning: $impl printed a different \"impl\" field: $line" >&2 ;;
      esac
      echo "$line"
      echo "$line" >> "$RESULTS"
    done
  done
done

echo
"$PY" "$HERE/summarize.py" "$RESULTS"
