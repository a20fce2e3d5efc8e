#!/usr/bin/env bash
# Issue 11's HTTP workload: 10,000 GET requests to a local aio::http::Server
# with 1 and 64 in flight, by aio::http::Client, by curl's own command-line
# tool (`curl --parallel`, the same libcurl) and by Python's aiohttp when
# Debian's python3-aiohttp is installed. Medians of 3; requests/s, peak RSS
# and the ratio aio / peer.
#   bench/run_http.sh BUILD_DIR [N]
set -euo pipefail
build=${1:-build/gcc}
n=${2:-10000}
bench=$build/bench/http_bench
[ -x "$bench" ] || { echo "run_http.sh: $bench is missing (build the bench first)" >&2; exit 1; }
work=$(mktemp -d)
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
"$bench" server > "$work/server.out" &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.out" && break; sleep 0.05; done
url=$(sed -n 's/listening on //p' "$work/server.out")/hello

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

aio_rps() {  # inflight -> rps (median of 3)
  for _ in 1 2 3; do "$bench" client "$url" "$n" "$1" | sed -n 's/.* rps=\([0-9]*\).*/\1/p'; done | median
}
curl_rps() {  # inflight -> rps (median of 3)
  for _ in 1 2 3; do
    : > "$work/curl.cfg"
    for _ in $(seq "$n"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >> "$work/curl.cfg"; done
    local start end
    start=$(date +%s.%N)
    if [ "$1" -gt 1 ]; then curl -s -Z --parallel-max "$1" -K "$work/curl.cfg" 2>/dev/null; else curl -s -K "$work/curl.cfg" 2>/dev/null; fi
    end=$(date +%s.%N)
    echo "$n / ($end - $start)" | bc -l | cut -d. -f1
  done | median
}
aiohttp_rps() {
  python3 - "$url" "$n" "$1" <<'PY'
import asyncio, sys, time, aiohttp
url, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def main():
    left = [n]
    async with aiohttp.ClientSession() as s:
        async def worker():
            while left[0] > 0:
                left[0] -= 1
                async with s.get(url) as r:
                    await r.read()
        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(k)))
        print(int(n / (time.perf_counter() - t)))
asyncio.run(main())
PY
}

printf "%-22s %12s %12s %8s\n" "workload" "aio req/s" "peer req/s" "ratio"
for k in 1 64; do
  a=$(aio_rps "$k")
  c=$(curl_rps "$k")
  printf "%-22s %12s %12s %8.2f\n" "curl --parallel, $k" "$a" "$c" "$(echo "$a / $c" | bc -l)"
  if python3 -c "import aiohttp" 2>/dev/null; then
    p=$(aiohttp_rps "$k")
    printf "%-22s %12s %12s %8.2f\n" "aiohttp, $k" "$a" "$p" "$(echo "$a / $p" | bc -l)"
  fi
done
echo "peak RSS of the aio client at 64 in flight: $("$bench" client "$url" "$n" 64 | sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p') KB"
python3 -c "import aiohttp" 2>/dev/null || echo "(aiohttp: apt-get install python3-aiohttp to add it)"
