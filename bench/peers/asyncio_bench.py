#!/usr/bin/python3
"""Python asyncio / uvloop peer for the aio core benchmarks.

Usage: /usr/bin/python3 asyncio_bench.py [--uvloop] [--no-gc] spawn|timers|switch N
Prints exactly one JSON line to stdout.

--no-gc disables Python's cyclic GC during the workload (impl gets a "-nogc"
suffix). Not used by run_core.sh: default asyncio keeps the GC on, which costs
a lot with 1e6 live tasks; the flag shows how much.

  spawn : N tasks (loop.create_task) each returning its index, awaited in
          creation order and summed (sum is checked).
  timers: N tasks each `await asyncio.sleep(d)` for a seeded pseudo-random
          delay d in [0, 1] s (see delays()), then awaited in order.
  switch: ping/pong hand control back and forth N round trips; every handoff
          uses a fresh loop.create_future(). The value set on a future is the
          next future the other side must resolve, so no shared state.

peak_bytes_per_task = (VmHWM after workload - VmRSS before workload) / N.
Before the workload, VmHWM is reset through /proc/self/clear_refs ("5") when
the kernel allows it, so startup peaks do not leak into the figure.
"""
import asyncio
import gc
import json
import sys
import time


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def delays(n):
    """Shared PRNG, identical in every peer: xorshift64 (13, 7, 17) starting
    at 0x9E3779B97F4A7C15; task i sleeps (x_i % 1000001) microseconds."""
    mask = (1 << 64) - 1
    x = 0x9E3779B97F4A7C15
    out = [0.0] * n
    for i in range(n):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        out[i] = (x % 1000001) / 1e6
    return out


async def value_task(i):
    return i


async def spawn_main(n):
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    tasks = [loop.create_task(value_task(i)) for i in range(n)]
    total = 0
    for t in tasks:
        total += await t
    secs = time.perf_counter() - t0
    assert total == n * (n - 1) // 2, total
    return secs


async def timers_main(n, ds):
    loop = asyncio.get_running_loop()
    sleep = asyncio.sleep
    t0 = time.perf_counter()
    tasks = [loop.create_task(sleep(d)) for d in ds]
    for t in tasks:
        await t
    return time.perf_counter() - t0


async def ping(fut, n):
    loop = asyncio.get_running_loop()
    for _ in range(n):
        reply = loop.create_future()
        fut.set_result(reply)   # wake pong, hand it our reply future
        fut = await reply       # pong answers with its next future


async def pong(fut, n):
    loop = asyncio.get_running_loop()
    for _ in range(n):
        reply = await fut
        fut = loop.create_future()
        reply.set_result(fut)


async def switch_main(n):
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    first = loop.create_future()
    a = loop.create_task(pong(first, n))
    b = loop.create_task(ping(first, n))
    # Each future's result is the next future: holding `first` would keep the
    # whole 2N-long chain alive (and its recursive dealloc overflows the C stack).
    del first
    await a
    await b
    return time.perf_counter() - t0


def main(argv):
    use_uvloop = "--uvloop" in argv
    no_gc = "--no-gc" in argv
    args = [a for a in argv if a not in ("--uvloop", "--no-gc")]
    if len(args) != 2 or args[0] not in ("spawn", "timers", "switch"):
        print(__doc__, file=sys.stderr)
        return 2
    workload, n = args[0], int(args[1])
    impl = ("uvloop" if use_uvloop else "asyncio") + ("-nogc" if no_gc else "")
    if use_uvloop:
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    if workload == "timers":
        ds = delays(n)  # precomputed before the baseline: neither timed nor counted
        main_coro = lambda n: timers_main(n, ds)
    else:
        main_coro = {"spawn": spawn_main, "switch": switch_main}[workload]

    gc.collect()
    if no_gc:
        gc.disable()
    reset_peak()
    rss_before = status_kb("VmRSS")
    secs = loop.run_until_complete(main_coro(n))
    hwm = status_kb("VmHWM")
    per_task = (hwm - rss_before) * 1024.0 / n

    rec = {"workload": workload, "impl": impl, "n": n, "seconds": round(secs, 6)}
    if workload == "spawn":
        rec["tasks_per_sec"] = round(n / secs, 1)
        rec["peak_bytes_per_task"] = round(per_task, 1)
    elif workload == "timers":
        rec["overhead_seconds"] = round(secs - 1.0, 6)
        rec["peak_bytes_per_task"] = round(per_task, 1)
    else:
        rec["round_trips_per_sec"] = round(n / secs, 1)
    print(json.dumps(rec, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
