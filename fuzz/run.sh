#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++-16 and runs each for a short
# time (CI), starting from the seed corpus in fuzz/corpus/<target>.
#
# Usage: fuzz/run.sh [SECONDS per target, default 30] [BUILD_DIR, default build/fuzz] [SEED]
#
# SEED 0 (the default) lets libFuzzer pick a seed: exploration, for finding
# bugs. `make test` passes a fixed seed so that CI replays the same inputs
# every run (a time limit only cuts that sequence shorter on a slower
# machine): a CI failure is then a regression, never a lucky find. Fuzz for
# finding with `make fuzz FUZZ_SEED=0 FUZZ_SECONDS=600`, and add every crash
# it finds to fuzz/corpus/<target>/ with the fix.
set -euo pipefail
seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${2:-$root/build/fuzz}
seed=${3:-0}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# fuzz_api_server exists only when the tree has adk::server (fuzz/CMakeLists.txt).
targets="fuzz_stream_reader fuzz_http_request fuzz_sse"
if ninja -C "$build" -t targets all | grep -q '^fuzz_api_server:'; then
  targets="$targets fuzz_api_server"
fi
ninja -C "$build" $targets
for target in $targets; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  [ -d "$here/corpus/$target" ] && cp -n "$here/corpus/$target"/* "$corpus"/ 2>/dev/null || true
  dict=()
  [ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")
  echo "== $target for ${seconds}s"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/$target" -max_total_time="$seconds" -seed="$seed" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" "$corpus"
done
