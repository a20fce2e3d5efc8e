#!/usr/bin/env bash
# The API server under load (issue 12, "Speed and memory"): our adk::ApiServer
# (bench/adk_server_bench, the app "bench_agent") beside ADK for TypeScript's
# `adk api_server` (bench/adk-ts, @google/adk-devtools 2.0) with the same
# scripted agent. Workloads and how they are measured: bench/README-server.md
# and bench/adk-ts/README-bench.md ("server load", "server memory"); both are
# run by bench/adk-ts/bench_server.sh, ours through its SERVER_CMD.
#
# Usage: bench/run_server.sh BUILD_DIR
#
# Per repetition, ADK-TS first, then ours, each a fresh server per workload:
#   sse   POST /run_sse (streaming) at SSE_CONNS (1,000) connections for
#         DURATION s, load generator bench/sse_load (wrk's command line and
#         figures, plus the time to the first `data:` event); SSE_LOADGEN=wrk
#         uses wrk instead (no time-to-first-event then)
#   run   POST /run at RUN_CONNS (100) connections, wrk
#   memory  MSESS (10,000) sessions, then PER_SESSION (5) rounds of one /run
#         in each: 20 events per session; RSS growth per session, peak RSS
# Servers pinned to core 0, the load generator to core 1 (SERVER_CPU,
# LOADGEN_CPU as bench_server.sh; the memory workload runs unpinned there).
# Then a table: medians over the repetitions, ratio ours / ADK-TS, targets
# (>= 10x invocations/s with a lower p99, <= 0.2x memory per session).
#
# Environment: REPS (repetitions, default 1; REPS=3 for medians of 3),
# DURATION (s of load per run, default 5; README-bench.md uses 10),
# SSE_CONNS, RUN_CONNS, MSESS, PER_SESSION, POOL (sessions per load run),
# HISTORY_EVENTS (equal work: the pool sized per server so that every session
# ends near that many events; see load() below), WORKLOADS (subset of
# "sse run memory"), BENCH_IMPLS (subset of "adk-ts aio"), SSE_LOADGEN,
# BENCH_NICE (e.g. -10: run servers and load generators at that nice level;
# default: unchanged), SERVER_RESULTS=FILE.jsonl (no runs: print the table of
# an earlier run's BUILD_DIR/bench/server_results.jsonl, copied to FILE).
# Needs BUILD_DIR/bench/{adk_server_bench,sse_load} (targets adk_server_bench,
# sse_load), node, wrk (scripts/install-deps.sh --bench) and bench/adk-ts's
# node_modules (npm ci there; scripts/install-peers.sh).
set -u
source "$(dirname "$0")/lib.sh"
if [ -n "${SERVER_RESULTS:-}" ]; then   # table only
  RESULTS_FILE=$SERVER_RESULTS
  PY=${PYTHON:-/usr/bin/python3}
  HERE=$(cd "$(dirname "$0")" && pwd)
else
bench_init server "adk-ts aio" "${1:-}"
RESULTS_FILE=$RESULTS

REPS=${REPS:-1}
DURATION=${DURATION:-5}
SSE_CONNS=${SSE_CONNS:-1000}
RUN_CONNS=${RUN_CONNS:-100}
MSESS=${MSESS:-10000}
PER_SESSION=${PER_SESSION:-5}
WORKLOADS=${WORKLOADS:-sse run memory}
SSE_LOADGEN=${SSE_LOADGEN:-sse_load}
TS_DIR="$HERE/adk-ts"
AIO_SERVER="${AIO_SERVER:-$BUILD/bench/adk_server_bench}"
SSE_LOAD="$BUILD/bench/sse_load"
NICE=()
if [ -n "${BENCH_NICE:-}" ]; then NICE=(nice -n "$BENCH_NICE"); fi

missing=""
command -v wrk >/dev/null || missing+=" wrk (apt-get install -y wrk, or scripts/install-deps.sh --bench)"
command -v node >/dev/null || missing+=" node"
[ -f "$TS_DIR/node_modules/@google/adk-devtools/package.json" ] || missing+=" bench/adk-ts/node_modules (cd bench/adk-ts && npm ci)"
[ -x "$AIO_SERVER" ] || missing+=" $AIO_SERVER (ninja -C BUILD_DIR adk_server_bench)"
[ "$SSE_LOADGEN" = wrk ] || [ -x "$SSE_LOAD" ] || missing+=" $SSE_LOAD (ninja -C BUILD_DIR sse_load)"
if [ -n "$missing" ]; then
  echo "run_server.sh: missing:$missing" >&2
  exit 1
fi

machine_load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load average before: $(machine_load) ($(nproc) cores)" >&2
LOAD_BEFORE=$(machine_load)

one() {   # impl loadgen workload...: one bench_server.sh run, appended to ${OUT_FILE:-$RESULTS}
  local impl=$1 loadgen=$2; shift 2
  local -a env=(LABEL="$impl" WRK="$loadgen")
  if [ "$impl" = aio ]; then
    env+=(SERVER_CMD="$AIO_SERVER --host {HOST} --port {PORT}")
  fi
  if [ -n "${RUN_POOL:-}" ]; then env+=(POOL="$RUN_POOL"); fi
  echo "== $impl: $* ${RUN_POOL:+(pool $RUN_POOL)}" >&2
  env "${env[@]}" "${NICE[@]}" bash "$TS_DIR/bench_server.sh" "$@" --out "${OUT_FILE:-$RESULTS}" >&2 \
    || { echo "run_server.sh: $impl $1 failed (server logs: bench/adk-ts/results/logs/)" >&2; FAILED=1; }
}
FAILED=0

# HISTORY_EVENTS=N, equal work: a load run over a fixed pool for a fixed time
# gives a faster server longer histories (more invocations per session), and
# every invocation copies its history into the model requests. With N set,
# each load run is preceded by a calibration run of CAL_DURATION s (default 3)
# at the default pool that measures the server's rate; the measured run then
# uses the pool that ends every session near N events (4 stored per
# invocation), so both servers do the same work per invocation. The table
# prints the history each run ended with.
HISTORY_EVENTS=${HISTORY_EVENTS:-}
CAL_DURATION=${CAL_DURATION:-3}
load() {   # impl loadgen mode conns
  local impl=$1 lg=$2 mode=$3 conns=$4
  local pool=""
  if [ -n "$HISTORY_EVENTS" ]; then
    local cal; cal=$(mktemp)
    OUT_FILE=$cal RUN_POOL= one "$impl" "$lg" load --reps 1 --conns "$conns" --modes "$mode" --duration "$CAL_DURATION"
    pool=$("$PY" - "$cal" "$DURATION" "$HISTORY_EVENTS" "$conns" <<'PYEOF'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
duration, history, conns = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
default = max(1000, 2 * conns)
rate = rows[-1]["rps"] if rows else 0
print(max(default, math.ceil(rate * duration * 4 / history)))
PYEOF
)
    rm -f "$cal"
  fi
  RUN_POOL=$pool one "$impl" "$lg" load --reps 1 --conns "$conns" --modes "$mode" --duration "$DURATION"
}

for rep in $(seq 1 "$REPS"); do
  for impl in $IMPLS; do
    for w in $WORKLOADS; do
      case "$w" in
        sse)
          lg=$SSE_LOAD
          [ "$SSE_LOADGEN" = wrk ] && lg=wrk
          load "$impl" "$lg" sse "$SSE_CONNS" ;;
        run) load "$impl" wrk run "$RUN_CONNS" ;;
        memory) one "$impl" wrk memory --reps 1 --sessions "$MSESS" --per-session "$PER_SESSION" ;;
        *) echo "unknown workload '$w' in WORKLOADS" >&2 ;;
      esac
    done
  done
done
echo "load average after: $(machine_load)" >&2
LOAD_AFTER=$(machine_load)
echo "{\"workload\": \"machine\", \"load_before\": \"$LOAD_BEFORE\", \"load_after\": \"$LOAD_AFTER\", \"cores\": $(nproc)}" >> "$RESULTS"
fi   # (table only)

"$PY" - "$RESULTS_FILE" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
machine = [r for r in rows if r.get("workload") == "machine"]
rows = [r for r in rows if r.get("workload") != "machine"]

def med(impl, pred, key):
    vals = [r[key] for r in rows if r.get("impl") == impl and pred(r) and r.get(key) is not None]
    return statistics.median(vals) if vals else None

def per_cpu_s(r):   # invocations per server CPU-second: steadier than wall time on a shared core
    return 1e6 / r["server_cpu_us_per_req"] if r.get("server_cpu_us_per_req") else None

for r in rows:
    if r.get("workload") == "server":
        r["inv_per_cpu_s"] = per_cpu_s(r)
        # 4 events stored per invocation (bench/bench_agent.hpp), spread over the pool
        r["history_end"] = 4 * r["requests"] / r["sessions_pool"] if r.get("sessions_pool") else None

def cell(v, unit=""):
    if v is None: return "-"
    if unit == "ms": return f"{v / 1000:,.1f}"
    return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"

# (label, key, unit, higher is better, target ratio ours/ADK-TS)
LOAD = [("invocations/s", "rps", "", True, 10.0),
        ("invocations per CPU-s", "inv_per_cpu_s", "", True, 10.0),
        ("time to 1st event p50 ms", "ttfe_p50_us", "ms", False, None),
        ("time to 1st event p99 ms", "ttfe_p99_us", "ms", False, 1.0),
        ("whole request p50 ms", "lat_p50_us", "ms", False, None),
        ("whole request p99 ms", "lat_p99_us", "ms", False, 1.0),
        ("whole request mean ms", "lat_mean_us", "ms", False, None),
        ("server CPU us/invocation", "server_cpu_us_per_req", "", False, None),
        ("server CPU cores used", "server_cpu_cores", "", None, None),
        ("server peak RSS MB", "server_peak_rss_mb", "", False, None),
        ("non-2xx + errors", "errors", "", None, None),
        ("connections never answered", "conns_without_reply", "", None, None),
        ("load generator CPU s", "loadgen_cpu_s", "", None, None),
        ("sessions in the pool", "sessions_pool", "", None, None),
        ("history at the end (events/session)", "history_end", "", None, None)]
MEM = [("RSS growth B/session", "rss_per_session_b", "", False, 0.2),
       ("  of which empty session B", "rss_per_empty_session_b", "", False, None),
       ("V8 heap B/session (ADK-TS)", "heap_per_session_b", "", False, None),
       ("server peak RSS MB", "server_peak_rss_mb", "", False, None),
       ("events per session", "events_per_session", "", None, None),
       ("rounds invocations/s (8 in flight)", "run_inv_per_s", "", True, None),
       ("spans retained (ADK-TS)", "spans_retained", "", None, None)]
for r in rows:
    if r.get("workload") == "server":
        r["errors"] = sum(r.get(k, 0) for k in ("non2xx", "err_connect", "err_read", "err_write", "err_timeout",
                                                "bad_replies"))

def table(title, pred, metrics):
    impls = {r["impl"] for r in rows if pred(r)}
    if not impls: return
    n = max(sum(1 for r in rows if r["impl"] == i and pred(r)) for i in impls)
    print(f"\n{title}  (median of {n} run{'s' if n != 1 else ''})")
    print(f"  {'metric':<36}{'adk-ts':>12}{'aio':>12}{'aio/adk-ts':>12}  target")
    for label, key, unit, hib, target in metrics:
        t, a = med("adk-ts", pred, key), med("aio", pred, key)
        if t is None and a is None: continue
        ratio = verdict = ""
        if t and a:
            q = a / t
            ratio = f"{q:,.3f}x" if q < 0.1 else f"{q:,.2f}x"
            if target is not None:
                ok = q >= target if hib else q < target if target == 1.0 else q <= target
                op = ">=" if hib else "<" if target == 1.0 else "<="
                verdict = f"{op} {target:g}x  {'met' if ok else 'MISSED'}"
        print(f"  {label:<36}{cell(t, unit):>12}{cell(a, unit):>12}{ratio:>12}  {verdict}")

if machine:
    m = machine[-1]
    print(f"machine load average (1/5/15 min) before: {m['load_before']}, after: {m['load_after']} ({m['cores']} cores)")
for mode, conns in sorted({(r["mode"], r["conns"]) for r in rows if r.get("workload") == "server"}, reverse=True):
    ep = "/run_sse, streaming" if mode == "sse" else "/run"
    lg = {r.get("loadgen", "wrk") for r in rows if r.get("workload") == "server" and r["mode"] == mode}
    table(f"load: POST {ep}, {conns} connections, {'/'.join(sorted(lg))}",
          lambda r, m=mode, c=conns: r.get("workload") == "server" and r["mode"] == m and r["conns"] == c, LOAD)
mem = [r for r in rows if r.get("workload") == "server_memory"]
if mem:
    table(f"memory: {mem[0]['sessions']:,} sessions x {mem[0]['invocations_per_session']} invocations",
          lambda r: r.get("workload") == "server_memory", MEM)
print("\nratio = aio / ADK-TS of the figure. Times in ms; time to 1st event and whole request from the load")
print("generator (sse_load: from writing the request to the first `data:` line / the reply's end).")
PYEOF
exit "${FAILED:-0}"
