#!/usr/bin/env bash
# examples/adk/run_with_fake_llm.sh — runs an example against adk-fake-llm.
#
#   run_with_fake_llm.sh ADK_FAKE_LLM SCRIPT.json -- PROGRAM [ARGS...]
#
# Starts adk-fake-llm on a free loopback port (--port 0) playing SCRIPT.json,
# waits for its "listening on URL" line (a blocking read on a FIFO, bounded
# by 30 s: no fixed port, no sleep), runs PROGRAM with OPENAI_BASE_URL=URL/v1
# and OPENAI_API_KEY set (the fake server requires that key, so the example
# is checked to send it), then stops the server with SIGTERM. The exit status
# is PROGRAM's; it is 1 if the server could not start or did not stop
# cleanly (its stderr is shown then). ctest runs example 66 this way
# (examples/adk/CMakeLists.txt).
set -u

if [ $# -lt 4 ] || [ "$3" != -- ]; then
  echo "usage: $0 ADK_FAKE_LLM SCRIPT.json -- PROGRAM [ARGS...]" >&2
  exit 64
fi
fake=$1
script=$2
shift 3

[ -x "$fake" ] || { echo "run_with_fake_llm: $fake is missing: build the adk-fake-llm target" >&2; exit 1; }
[ -r "$script" ] || { echo "run_with_fake_llm: cannot read the script $script" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run-with-fake-llm.XXXXXX") || exit 1
fake_pid=
key=fake-key-$$

show_fake_log() {
  if [ -s "$tmp/fake.err" ]; then
    echo "--- adk-fake-llm's stderr:" >&2
    tail -n 25 "$tmp/fake.err" | sed 's/^/    /' >&2
  fi
}

# Stops the server: SIGTERM, then at most 5 s for it to exit (SIGKILL
# after). Returns 1 unless it exited with 0.
stop_fake() {
  local i status=0
  [ -n "$fake_pid" ] || return 0
  kill -TERM "$fake_pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$fake_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$fake_pid" 2>/dev/null; then
    kill -KILL "$fake_pid" 2>/dev/null || true
    echo "run_with_fake_llm: adk-fake-llm did not stop within 5 s of SIGTERM: killed" >&2
    status=1
  fi
  local rc=0
  wait "$fake_pid" 2>/dev/null || rc=$?
  fake_pid=
  if [ "$rc" != 0 ] && [ "$status" = 0 ]; then
    echo "run_with_fake_llm: adk-fake-llm exited with status $rc" >&2
    show_fake_log
    status=1
  fi
  return "$status"
}

cleanup() {
  stop_fake >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Its stdout goes through a FIFO: reading the first line blocks until the
# server prints it (or exits: end of file).
mkfifo "$tmp/fake.out"
"$fake" --port 0 --host 127.0.0.1 --script "$script" --api-key "$key" >"$tmp/fake.out" 2>"$tmp/fake.err" &
fake_pid=$!
exec {out}<"$tmp/fake.out"
line=
if ! IFS= read -r -t 30 -u "$out" line; then
  # (End of file: it exited; else the 30 s ran out.)
  echo "run_with_fake_llm: adk-fake-llm did not print its URL (it exited, or not within 30 s)" >&2
  show_fake_log
  exit 1
fi
url=${line#listening on }
case $url in
  http://*) ;;
  *) echo "run_with_fake_llm: unexpected first line from adk-fake-llm: $line" >&2; exit 1 ;;
esac
url=${url%% *}

status=0
env OPENAI_BASE_URL="$url/v1" OPENAI_API_KEY="$key" \
    no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}" NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" \
    "$@" || status=$?

# (The FIFO stays open until the server is gone: it never gets a SIGPIPE.)
if ! stop_fake; then
  [ "$status" = 0 ] && status=1
fi
exec {out}<&-
exit "$status"
