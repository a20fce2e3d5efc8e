#!/usr/bin/env python3
"""Prints the echo benchmark's table from results.jsonl (bench/echo/run.sh)."""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["server"], {})[r["mode"]] = r
order = [s for s in ["epoll", "aio-streams", "aio-protocol", "asio", "tokio", "uvloop-protocol", "uvloop-streams",
                     "asyncio-protocol", "asyncio-streams"] if s in by] + [s for s in by if s not in
                     ["epoll", "aio-streams", "aio-protocol", "asio", "tokio", "uvloop-protocol", "uvloop-streams",
                      "asyncio-protocol", "asyncio-streams"]]
base = by.get("epoll", {})
cg_base = base.get("callgrind", {}).get("instructions_per_rt")
print()
print("TCP echo, 127.0.0.1, 64-byte messages; rr = 1 request in flight per connection, pipe = 16")
hdr = f"{'server':<18}{'mode':<6}{'round trips/s':>15}{'vs epoll':>10}{'p99 us':>9}{'CPU s/M rt':>12}{'peak RSS MB':>13}"
print(hdr)
print("-" * len(hdr))
for s in order:
    for mode in ("rr", "pipe"):
        r = by[s].get(mode)
        if not r:
            continue
        b = base.get(mode, {}).get("rt_per_s")
        ratio = f"{r['rt_per_s'] / b:.2f}x" if b else "-"
        print(f"{s:<18}{mode:<6}{r['rt_per_s']:>15,.0f}{ratio:>10}{r['p99_us']:>9}{r['cpu_s_per_million']:>12.2f}"
              f"{r['peak_rss_kb'] / 1024:>13.1f}")
cg = [(s, by[s]["callgrind"]["instructions_per_rt"]) for s in order if "callgrind" in by[s]]
if cg:
    print()
    print("server user-space instructions per round trip (callgrind, request/response)")
    for s, ir in cg:
        rel = f"{ir / cg_base:.2f}x epoll" if cg_base else ""
        print(f"{s:<18}{ir:>12,.0f}  {rel}")
