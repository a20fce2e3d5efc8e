#!/usr/bin/env bash
# demo/serve.sh — `make serve` (docs/demo.md): keeps adk-server up with the
# demo app (and ADK's web UI when this adk-server has --web) on the offline
# model adk-fake-llm, or on a real model when OPENAI_API_KEY /
# OPENAI_BASE_URL or GEMINI_API_KEY are set (as run_demo.sh). Prints the
# URL and stays in the foreground until Ctrl-C, then stops both servers.
#
#   demo/serve.sh [BUILD_DIR] [-- ADK_SERVER_ARGS...]
#
# PORT (default 8000) and HOST (default 127.0.0.1) choose where adk-server
# listens.
#
# The scripted model answers the demo's conversation ("Plan a 3-day trip
# from Paris to Lisbon in May."): its rules pick replies by agent, so any
# message gets the same trip. Each new session replays it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

build=
server_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; server_args=("$@"); break ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "serve.sh: unknown option $1" >&2; exit 2 ;;
    *)
      [ -z "$build" ] || { echo "serve.sh: more than one BUILD_DIR" >&2; exit 2; }
      build=$1 ;;
  esac
  shift
done
build=${build:-$root/build/gcc}
[ -d "$build" ] || { echo "serve.sh: no build directory $build" >&2; exit 1; }
build=$(cd "$build" && pwd)

# shellcheck source=demo/lib.sh
source "$root/demo/lib.sh"
trap 'on_exit $?' EXIT
trap 'echo; echo "serve: stopping"; exit 0' INT TERM

choose_model 0
need_program adk-server
[ "$mode" != fake ] || need_program adk-fake-llm
need_peers
agents_dir

web=()
if "$bin/adk-server" --help 2>&1 | grep -q -- '--web'; then
  web=(--web)
fi

[ "$mode" != fake ] || start_fake_llm
start_server --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" "${web[@]}" "${server_args[@]}"

echo "serve: $(describe_model)"
if [ ${#web[@]} -gt 0 ]; then
  echo "serve: ADK web UI at $server_url/dev-ui/ (pick trip_planner, then send a message)"
else
  echo "serve: this adk-server has no --web (the web UI is not built yet): API only"
fi
echo "serve: ADK's API at $server_url (try: $bin/adk-demo-client --url $server_url)"
echo "serve: Ctrl-C to stop"

# In the foreground until Ctrl-C or until adk-server exits.
server_pid=${pids[${#pids[@]}-1]}
while kill -0 "$server_pid" 2>/dev/null; do
  sleep 0.5
done
echo "serve: adk-server exited" >&2
exit 1   # (on_exit shows its status and stderr)
