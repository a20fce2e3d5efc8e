#!/usr/bin/python3
"""Python asyncio / uvloop peer for aio's threads-and-processes benchmarks
(bench/threads_bench.cpp runs the same workloads for aio).

Usage: /usr/bin/python3 threads_asyncio.py [--uvloop] WORKLOAD N
       /usr/bin/python3 threads_asyncio.py [--uvloop]        (every workload, default N)
Prints one JSON line per workload to stdout.

  to_thread          : N sequential `await asyncio.to_thread(f)` round trips
                       (f returns its argument + 1; the sum is checked).
  to_thread_batch    : N to_thread calls issued 64 at a time and gathered.
  threadsafe_pingpong: a plain thread does N times: loop.call_soon_threadsafe(cb)
                       then waits until cb ran on the loop (cb sets a
                       threading.Event). One loop wake-up per round trip.
  threadsafe_flood   : a plain thread posts N callbacks with
                       call_soon_threadsafe as fast as it can; timed until the
                       loop has run the last one.
  spawn              : N sequential create_subprocess_exec("/bin/true") + wait().
"""
import asyncio
import json
import sys
import threading
import time

DEFAULT_N = {
    "to_thread": 20000,
    "to_thread_batch": 50000,
    "threadsafe_pingpong": 20000,
    "threadsafe_flood": 200000,
    "spawn": 1000,
}


def inc(x):
    return x + 1


async def to_thread_main(n):
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        total += await asyncio.to_thread(inc, i)
    secs = time.perf_counter() - t0
    assert total == n * (n + 1) // 2
    return secs, {"round_trips_per_sec": round(n / secs, 1)}


async def to_thread_batch_main(n):
    t0 = time.perf_counter()
    total = 0
    done = 0
    while done < n:
        k = min(64, n - done)
        results = await asyncio.gather(*(asyncio.to_thread(inc, done + j) for j in range(k)))
        total += sum(results)
        done += k
    secs = time.perf_counter() - t0
    assert total == n * (n + 1) // 2
    return secs, {"calls_per_sec": round(n / secs, 1)}


async def pingpong_main(n):
    loop = asyncio.get_running_loop()
    ran = threading.Event()
    finished = loop.create_future()

    def cb():
        ran.set()

    def thread_body():
        for _ in range(n):
            ran.clear()
            loop.call_soon_threadsafe(cb)
            ran.wait()
        loop.call_soon_threadsafe(finished.set_result, None)

    t0 = time.perf_counter()
    t = threading.Thread(target=thread_body)
    t.start()
    await finished
    secs = time.perf_counter() - t0
    t.join()
    return secs, {"wakeups_per_sec": round(n / secs, 1)}


async def flood_main(n):
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    count = [0]

    def cb():
        count[0] += 1
        if count[0] == n:
            finished.set_result(None)

    def thread_body():
        post = loop.call_soon_threadsafe
        for _ in range(n):
            post(cb)

    t0 = time.perf_counter()
    t = threading.Thread(target=thread_body)
    t.start()
    await finished
    secs = time.perf_counter() - t0
    t.join()
    return secs, {"callbacks_per_sec": round(n / secs, 1)}


async def spawn_main(n):
    t0 = time.perf_counter()
    for _ in range(n):
        p = await asyncio.create_subprocess_exec("/bin/true")
        rc = await p.wait()
        assert rc == 0
    secs = time.perf_counter() - t0
    return secs, {"children_per_sec": round(n / secs, 1)}


MAINS = {
    "to_thread": to_thread_main,
    "to_thread_batch": to_thread_batch_main,
    "threadsafe_pingpong": pingpong_main,
    "threadsafe_flood": flood_main,
    "spawn": spawn_main,
}


def run_one(workload, n, use_uvloop):
    if use_uvloop:
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        secs, extra = loop.run_until_complete(MAINS[workload](n))
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
    rec = {"workload": workload, "impl": "uvloop" if use_uvloop else "asyncio", "n": n, "seconds": round(secs, 6)}
    rec.update(extra)
    print(json.dumps(rec, separators=(",", ":")), flush=True)


def main(argv):
    use_uvloop = "--uvloop" in argv
    args = [a for a in argv if a != "--uvloop"]
    if not args:
        for w, n in DEFAULT_N.items():
            run_one(w, n, use_uvloop)
        return 0
    if len(args) != 2 or args[0] not in MAINS:
        print(__doc__, file=sys.stderr)
        return 2
    run_one(args[0], int(args[1]), use_uvloop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
