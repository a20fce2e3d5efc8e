# bench/lib.sh — what every bench/run_<suite>.sh shares: the build directory
# argument and environment, the peers (Python asyncio/uvloop, C++ binaries,
# Tokio via offline cargo, Go), and the measurement loop. Source it.
#
# Environment for every suite:
#   BENCH_REPEAT        runs per measurement, the median is reported (default 3)
#   BENCH_IMPLS         which implementations to run (default: the suite's list)
#   BENCH_MEASUREMENTS  ';'-separated "workload args" lines (default: the suite's)
#   PYTHON              interpreter for the asyncio/uvloop peers (/usr/bin/python3,
#                       Debian's, which has python3-uvloop)

# bench_init SUITE DEFAULT_IMPLS BUILD_DIR: sets BUILD HERE PEERS REPEAT IMPLS
# PY RESULTS (emptied) and the CMD map (impl -> command).
bench_init() {
  local suite=$1 default_impls=$2
  if [ -z "${3:-}" ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
  fi
  BUILD=$(cd "$3" && pwd) || { echo "no such build dir: $3" >&2; exit 2; }
  HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  PEERS="$HERE/peers"
  REPEAT=${BENCH_REPEAT:-3}
  IMPLS=${BENCH_IMPLS:-$default_impls}
  PY=${PYTHON:-/usr/bin/python3}
  RESULTS="$BUILD/bench/${suite}_results.jsonl"
  mkdir -p "$BUILD/bench/peers"
  : > "$RESULTS"
  declare -gA CMD=()
}

# peer_binary IMPL PATH [PREFIX]: an already built program (PREFIX: e.g. "env X=1").
peer_binary() {
  if [ -x "$2" ]; then CMD[$1]="${3:+$3 }$2"
  else echo "skip $1: $2 not built" >&2; fi
}

# peer_python IMPL SCRIPT: asyncio, or uvloop when IMPL is uvloop.
peer_python() {
  if [ "$1" = uvloop ]; then
    if "$PY" -c 'import uvloop' 2>/dev/null; then CMD[uvloop]="$PY $2 --uvloop"
    else echo "skip uvloop: not importable by $PY" >&2; fi
  else
    CMD[$1]="$PY $2"
  fi
}

# peer_cargo IMPL CRATE_DIR BINARY TARGET_DIR: builds a Rust peer offline
# (.cargo/config.toml in the crate points at Debian's crate registry, and
# cargo reads it from the working directory).
peer_cargo() {
  echo "building $1 peer (cargo --offline) into $4 ..." >&2
  if (cd "$2" && CARGO_TARGET_DIR="$4" cargo build --release --offline --quiet) >&2; then
    CMD[$1]="$4/release/$3"
  else
    echo "skip $1: cargo build failed" >&2
  fi
}

# peer_go IMPL PACKAGE_DIR BINARY: builds a Go peer, run with GOMAXPROCS=1.
peer_go() {
  if ! command -v go >/dev/null; then
    echo "skip $1: no go toolchain (scripts/install-deps.sh --bench)" >&2
    return
  fi
  echo "building $1 peer into $3 ..." >&2
  if (cd "$2" && GOCACHE="$BUILD/bench/go-cache" GOFLAGS=-mod=mod go build -o "$3" .) >&2; then
    CMD[$1]="env GOMAXPROCS=1 $3"
  else
    echo "skip $1: go build failed" >&2
  fi
}

# run_measurements DEFAULT_LINE...: runs every measurement REPEAT times for
# every implementation, repeats interleaved so that drift hits everyone alike;
# each run is a fresh process whose last line is one JSON record.
run_measurements() {
  local -a measurements=("$@")
  if [ -n "${BENCH_MEASUREMENTS:-}" ]; then
    IFS=';' read -r -a measurements <<< "$BENCH_MEASUREMENTS"
  fi
  local m rep impl line rc
  for m in "${measurements[@]}"; do
    for ((rep = 1; rep <= REPEAT; rep++)); do
      for impl in $IMPLS; do
        [ -n "${CMD[$impl]:-}" ] || continue
        # shellcheck disable=SC2086  # CMD holds "program [flags]"
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
}
