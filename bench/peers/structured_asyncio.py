#!/usr/bin/python3
"""Python asyncio / uvloop peer for the structured-concurrency benchmarks.

Usage: /usr/bin/python3 structured_asyncio.py [--uvloop] WORKLOAD [N]
Prints exactly one JSON line to stdout (all three without WORKLOAD).

  fanout_taskgroup [GROUPS]: GROUPS (default 1000) TaskGroups of 1000
      children each; a child returns its index, the parent sums the results.
  fanout_gather [GROUPS]: the same with asyncio.gather(*coros).
  wait_for [N]: N (default 1,000,000) sequential
      `await asyncio.wait_for(work(i), 10)` where work returns i at once;
      also times N plain `await work(i)` to report the overhead.
"""
import asyncio
import json
import sys
import time

CHILDREN = 1000


async def child(i):
    return i


async def fanout_taskgroup(groups):
    t0 = time.perf_counter()
    total = 0
    for _ in range(groups):
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(child(i)) for i in range(CHILDREN)]
        for t in tasks:
            total += t.result()
    secs = time.perf_counter() - t0
    assert total == groups * CHILDREN * (CHILDREN - 1) // 2, total
    return secs


async def fanout_gather(groups):
    t0 = time.perf_counter()
    total = 0
    for _ in range(groups):
        results = await asyncio.gather(*[child(i) for i in range(CHILDREN)])
        total += sum(results)
    secs = time.perf_counter() - t0
    assert total == groups * CHILDREN * (CHILDREN - 1) // 2, total
    return secs


async def wait_for_calls(n):
    total = 0
    t0 = time.perf_counter()
    for i in range(n):
        total += await child(i)
    baseline = time.perf_counter() - t0
    wait_for = asyncio.wait_for
    t0 = time.perf_counter()
    for i in range(n):
        total += await wait_for(child(i), 10)
    secs = time.perf_counter() - t0
    assert total == n * (n - 1), total
    return secs, baseline


def run(impl, workload, n, new_loop):
    loop = new_loop()
    asyncio.set_event_loop(loop)
    try:
        if workload in ("fanout_taskgroup", "fanout_gather"):
            fn = fanout_taskgroup if workload == "fanout_taskgroup" else fanout_gather
            secs = loop.run_until_complete(fn(n))
            total = n * CHILDREN
            rec = {"workload": workload, "impl": impl, "n": total, "groups": n, "children": CHILDREN,
                   "seconds": round(secs, 6), "children_per_sec": round(total / secs, 1)}
        elif workload == "wait_for":
            secs, baseline = loop.run_until_complete(wait_for_calls(n))
            rec = {"workload": "wait_for", "impl": impl, "n": n, "seconds": round(secs, 6),
                   "ns_per_call": round(secs * 1e9 / n, 1),
                   "baseline_ns_per_call": round(baseline * 1e9 / n, 1),
                   "overhead_ns_per_call": round((secs - baseline) * 1e9 / n, 1)}
        else:
            print(__doc__, file=sys.stderr)
            return 2
    finally:
        loop.close()
    print(json.dumps(rec, separators=(",", ":")), flush=True)
    return 0


def main(argv):
    use_uvloop = "--uvloop" in argv
    args = [a for a in argv if a != "--uvloop"]
    impl = "uvloop" if use_uvloop else "asyncio"
    if use_uvloop:
        import uvloop
        new_loop = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop
    if not args:
        rc = 0
        for w, n in (("fanout_taskgroup", 1000), ("fanout_gather", 1000), ("wait_for", 1000000)):
            rc |= run(impl, w, n, new_loop)
        return rc
    workload = args[0]
    n = int(args[1]) if len(args) > 1 else (1000000 if workload == "wait_for" else 1000)
    return run(impl, workload, n, new_loop)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
