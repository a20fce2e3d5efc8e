#!/usr/bin/env bash
# TCP echo benchmark on 127.0.0.1: aio (streams, protocols) against a raw
# epoll C server, Python asyncio (streams, protocols), uvloop (streams,
# protocols), Boost.Asio coroutines and Tokio.
#
# Usage: bench/echo/run.sh BUILD_DIR
#
# Two modes, each with ECHO_CONNS (50) connections of 64-byte requests:
#   rr    request/response: one request in flight per connection
#   pipe  16 requests in flight per connection
# The server is pinned to CPU ${SERVER_CPU:-0}, the load generator (C,
# epoll, one thread) to CPU ${LOADGEN_CPU:-1}; each run warms up for
# ECHO_WARMUP (1) s, then measures ECHO_SECONDS (5) s.
#
# Reported per server and mode: round trips per second, p99 latency,
# server CPU seconds per million round trips, peak server RSS, and the ratio
# of round trips/s to the raw epoll server. With ECHO_CALLGRIND=1 the
# server's user-space instructions per round trip are also counted with
# valgrind --tool=callgrind: two runs of ECHO_CALLGRIND_RT (20000) and a
# tenth of it request/response round trips, the difference per round trip
# (deterministic, so it compares runtimes exactly on a loaded machine).
#
# Environment: ECHO_SERVERS (default "epoll aio-streams aio-protocol asio
# tokio asyncio-streams asyncio-protocol uvloop-streams uvloop-protocol"),
# ECHO_MODES ("rr pipe"), PYTHON (/usr/bin/python3, which has uvloop).
#
# aio's server is BUILD_DIR/bench/aio_echo_server when built by CMake;
# otherwise it is compiled here against BUILD_DIR/libaiocpp.a.
set -u

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd) || { echo "no such build dir: $1" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT="$BUILD/bench/echo"
mkdir -p "$OUT"
PY=${PYTHON:-/usr/bin/python3}
SECONDS_=${ECHO_SECONDS:-5}
WARMUP=${ECHO_WARMUP:-1}
CONNS=${ECHO_CONNS:-50}
SERVERS=${ECHO_SERVERS:-"epoll aio-streams aio-protocol asio tokio asyncio-streams asyncio-protocol uvloop-streams uvloop-protocol"}
MODES=${ECHO_MODES:-"rr pipe"}
SCPU=${SERVER_CPU:-0}
LCPU=${LOADGEN_CPU:-1}
CALLGRIND=${ECHO_CALLGRIND:-0}
CG_RT=${ECHO_CALLGRIND_RT:-20000}
CG_BASE=$((CG_RT / 10))
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

pin() { if command -v taskset >/dev/null; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }

# ---- build ------------------------------------------------------------------------
cc -O2 -o "$OUT/loadgen" "$HERE/loadgen.c" || exit 1
cc -O2 -o "$OUT/epoll_echo_server" "$HERE/epoll_echo_server.c" || exit 1
AIO_BIN="$BUILD/bench/aio_echo_server"
if [ ! -x "$AIO_BIN" ]; then
  AIO_BIN="$OUT/aio_echo_server"
  if [ -f "$BUILD/libaiocpp.a" ]; then
    CXX=$(grep -m1 '^CMAKE_CXX_COMPILER:' "$BUILD/CMakeCache.txt" | cut -d= -f2)
    ${CXX:-g++-12} -std=c++20 -O2 -DNDEBUG -I"$ROOT/include" "$HERE/aio_echo_server.cpp" "$BUILD/libaiocpp.a" \
      -lpthread -o "$AIO_BIN" || AIO_BIN=""
  else
    AIO_BIN=""
  fi
fi
ASIO_BIN="$OUT/asio_echo_server"
if [ -f /usr/include/boost/asio.hpp ]; then
  [ "$ASIO_BIN" -nt "$HERE/asio_echo_server.cpp" ] ||
    g++-12 -std=c++20 -O2 -DNDEBUG "$HERE/asio_echo_server.cpp" -lpthread -o "$ASIO_BIN" || ASIO_BIN=""
else
  ASIO_BIN=""
fi
TOKIO_BIN=""
if command -v cargo >/dev/null && [ -d "$HERE/tokio" ]; then
  if (cd "$HERE/tokio" && CARGO_TARGET_DIR="$OUT/tokio-target" cargo build --release --offline -q) 2>"$OUT/tokio-build.log"; then
    TOKIO_BIN="$OUT/tokio-target/release/tokio_echo_server"
  else
    echo "skip tokio: build failed (see $OUT/tokio-build.log)" >&2
  fi
fi

server_cmd() {
  case "$1" in
    epoll) echo "$OUT/epoll_echo_server 0" ;;
    aio-streams) [ -n "$AIO_BIN" ] && echo "$AIO_BIN streams 0" ;;
    aio-protocol) [ -n "$AIO_BIN" ] && echo "$AIO_BIN protocol 0" ;;
    asio) [ -n "$ASIO_BIN" ] && echo "$ASIO_BIN 0" ;;
    tokio) [ -n "$TOKIO_BIN" ] && echo "$TOKIO_BIN 0" ;;
    asyncio-streams) echo "$PY $HERE/echo_server.py asyncio streams 0" ;;
    asyncio-protocol) echo "$PY $HERE/echo_server.py asyncio protocol 0" ;;
    uvloop-streams) $PY -c "import uvloop" 2>/dev/null && echo "$PY $HERE/echo_server.py uvloop streams 0" ;;
    uvloop-protocol) $PY -c "import uvloop" 2>/dev/null && echo "$PY $HERE/echo_server.py uvloop protocol 0" ;;
  esac
}

# Starts a server (optionally under a wrapper); sets SPID and SPORT.
start_server() {
  local fifo="$OUT/server.out"
  rm -f "$fifo"
  # taskset and valgrind exec the server: $! is the server's own pid.
  # shellcheck disable=SC2086
  if command -v taskset >/dev/null; then
    taskset -c "$SCPU" $2 $1 > "$fifo" 2>"$OUT/server.err" &
  else
    $2 $1 > "$fifo" 2>"$OUT/server.err" &
  fi
  SPID=$!
  SPORT=""
  for _ in $(seq 1 600); do
    SPORT=$(awk '/^READY/ {print $2; exit}' "$fifo" 2>/dev/null)
    [ -n "$SPORT" ] && break
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$SPORT" ]
}

stop_server() {
  kill "$SPID" 2>/dev/null
  wait "$SPID" 2>/dev/null
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
TICK=$(getconf CLK_TCK)

for server in $SERVERS; do
  cmd=$(server_cmd "$server")
  if [ -z "$cmd" ]; then
    echo "skip $server: not available" >&2
    continue
  fi
  for mode in $MODES; do
    inflight=1
    [ "$mode" = pipe ] && inflight=16
    if ! start_server "$cmd" ""; then
      echo "skip $server: did not start ($(head -c 300 "$OUT/server.err"))" >&2
      stop_server
      continue
    fi
    # The server process (python's pid is the interpreter itself).
    c0=$(cpu_ticks "$SPID")
    line=$(pin "$LCPU" "$OUT/loadgen" 127.0.0.1 "$SPORT" "$CONNS" "$inflight" "$SECONDS_" "$WARMUP")
    c1=$(cpu_ticks "$SPID")
    hwm=$(hwm_kb "$SPID")
    stop_server
    if [ -z "$line" ]; then
      echo "skip $server/$mode: load generator failed" >&2
      continue
    fi
    json=$(python3 -c "
import json,sys
d=json.loads(sys.argv[1]); cpu=(int(sys.argv[2])-int(sys.argv[3]))/float(sys.argv[4])
d.update(server=sys.argv[5], mode=sys.argv[6], server_cpu_s=cpu,
         cpu_s_per_million=cpu/max(d['total_round_trips'],1)*1e6, peak_rss_kb=int(sys.argv[7]))
print(json.dumps(d))" "$line" "$c1" "$c0" "$TICK" "$server" "$mode" "${hwm:-0}")
    echo "$json" | tee -a "$RESULTS"
  done
  if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
    # Two runs under callgrind, CG_BASE and CG_RT round trips; the difference
    # divided by the extra round trips excludes start-up, connection set-up
    # and shutdown. The server is killed (SIGTERM): callgrind dumps at exit.
    declare -A irs=()
    for n in "$CG_BASE" "$CG_RT"; do
      cgout="$OUT/callgrind.$server.$n.out"
      rm -f "$cgout"*
      if start_server "$cmd" "valgrind --tool=callgrind --callgrind-out-file=$cgout -q"; then
        pin "$LCPU" "$OUT/loadgen" 127.0.0.1 "$SPORT" "$CONNS" 1 1 0 "$n" >/dev/null
        stop_server
        irs[$n]=$(awk '/^(summary|totals):/ {print $2; exit}' "$cgout" 2>/dev/null)
      else
        stop_server
      fi
    done
    if [ -n "${irs[$CG_BASE]:-}" ] && [ -n "${irs[$CG_RT]:-}" ]; then
      python3 -c "
import json,sys
a,b,n=int(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4])
print(json.dumps(dict(server=sys.argv[1], mode='callgrind', instructions_per_rt=(b-a)/n)))" \
        "$server" "${irs[$CG_BASE]}" "${irs[$CG_RT]}" "$((CG_RT - CG_BASE))" | tee -a "$RESULTS"
    fi
  fi
done

python3 "$HERE/summarize.py" "$RESULTS"
