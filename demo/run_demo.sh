#!/usr/bin/env bash
# demo/run_demo.sh — the main job (`make demo` runs it after building;
# docs/demo.md): starts adk-fake-llm (the offline model) and adk-server with
# the demo app demo/agents/trip_planner, runs one conversation through
# /run_sse with adk-demo-client — each event printed as it streams, then a
# summary — and stops both servers.
#
#   demo/run_demo.sh [--fake] [BUILD_DIR] [-- CLIENT_ARGS...]
#
# BUILD_DIR defaults to build/gcc and must hold bin/adk-server,
# bin/adk-fake-llm and bin/adk-demo-client (ninja -C BUILD_DIR adk-demo).
# With OPENAI_API_KEY or OPENAI_BASE_URL set (an OpenAI-compatible server),
# or GEMINI_API_KEY / GOOGLE_API_KEY, the agents use that real model
# (ADK_DEMO_MODEL names it: openai/gpt-4o-mini and gemini-2.0-flash by
# default) and adk-fake-llm is not started; --fake ignores those variables
# (the ctest does). CLIENT_ARGS go to adk-demo-client (--streaming,
# --message TEXT, --ascii...).
#
# Exit status: 0 when the run succeeded and its checks held, non-zero when
# anything failed (a server did not start, the run failed, a check did not
# hold). The servers are stopped in every case.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

fake_only=0
build=
client_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --fake) fake_only=1 ;;
    --) shift; client_args=("$@"); break ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run_demo.sh: unknown option $1" >&2; exit 2 ;;
    *)
      [ -z "$build" ] || { echo "run_demo.sh: more than one BUILD_DIR" >&2; exit 2; }
      build=$1 ;;
  esac
  shift
done
build=${build:-$root/build/gcc}
[ -d "$build" ] || { echo "run_demo.sh: no build directory $build" >&2; exit 1; }
build=$(cd "$build" && pwd)

# shellcheck source=demo/lib.sh
source "$root/demo/lib.sh"
trap 'on_exit $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$(date +%s.%N)
choose_model "$fake_only"
need_program adk-server
need_program adk-demo-client
[ "$mode" != fake ] || need_program adk-fake-llm
need_peers
agents_dir

if [ "$mode" = fake ]; then
  start_fake_llm
fi
start_server --port 0
echo "demo: adk-server at $server_url serving $(basename "$agents")/trip_planner; $(describe_model)"

# The checks: with the scripted model the run is known exactly; a real model
# only has to fill every output_key.
checks=(--expect-state weather,travel,guide,draft)
if [ "$mode" = fake ]; then
  checks+=(--check --expect-tools get_weather,search_flights,find_hotels,list_directory,read_text_file,exit_loop)
fi

status=0
"$bin/adk-demo-client" --url "$server_url" --app trip_planner --wait 15 --timeout 50 \
  "${checks[@]}" "${client_args[@]}" || status=$?
if [ "$status" != 0 ]; then
  show_log adk-server "$tmp/adk-server.err"
  [ "$mode" != fake ] || show_log adk-fake-llm "$tmp/adk-fake-llm.err"
  echo "demo: FAILED (adk-demo-client exited with $status)" >&2
  exit "$status"
fi
ended=$(date +%s.%N)
echo "demo: done in $(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }') s (servers started and stopped included)"
