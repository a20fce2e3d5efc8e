#!/usr/bin/env bash
# The tour: runs every example of the seed guide, ported to C++, in order,
# and prints what each prints with its wall time.
set -euo pipefail
build=${1:-build/gcc}
status=0
for program in $(ls "$build"/examples/ | grep -E '^[0-9]{2}_' | sort); do
  path="$build/examples/$program"
  [ -x "$path" ] || continue
  printf '\n=== %s ===\n' "$program"
  start=$(date +%s.%N)
  # An agent example with a script for adk-fake-llm talks to it over HTTP,
  # as it would to a real model (examples/adk/run_with_fake_llm.sh).
  run=("$path")
  if [ -f "examples/adk/$program.fake_llm.json" ]; then
    run=(bash examples/adk/run_with_fake_llm.sh "$build/bin/adk-fake-llm" "examples/adk/$program.fake_llm.json" -- "$path")
  fi
  if ! "${run[@]}"; then
    echo "!!! $program failed"
    status=1
  fi
  end=$(date +%s.%N)
  awk -v p="$program" -v s="$start" -v e="$end" 'BEGIN { printf "--- %s took %.2f s\n", p, e - s }'
done
exit $status
