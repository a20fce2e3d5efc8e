#!/usr/bin/env bash
# make bench: every benchmark suite against its peers, in one run.
# Each bench/run_<suite>.sh takes the build directory and prints JSON lines
# and a table of medians and aio/peer ratios.
# run_adk.sh (the agent layer beside ADK-TS) needs node and npm: it runs npm ci in bench/adk-ts once;
# run_server.sh (adk::ApiServer beside ADK-TS's api_server, ~5 min) also needs wrk and its targets adk_server_bench, sse_load.
set -u
build=${1:-build/gcc}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for suite in "$here"/run_*.sh; do
  [ "$(basename "$suite")" = run_all.sh ] && continue
  printf '\n##### %s #####\n' "$(basename "$suite" .sh)"
  bash "$suite" "$build" || status=1
done
exit $status
