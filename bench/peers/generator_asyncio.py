#!/usr/bin/python3
"""Python asyncio / uvloop peer for the aio async generator benchmarks.

Usage: /usr/bin/python3 generator_asyncio.py [--uvloop] [chain3|merge8|delegate3|all] [N]
Prints one JSON line per workload (same fields as bench/generator_bench.cpp).

  chain3   : producer -> mapping (x * 2) -> filtering (x % 3 != 0), each an
             async generator, drained with `async for`; N items produced.
  merge8   : 8 producers of N // 8 items merged through a bounded
             asyncio.Queue(maxsize=16) fed by one task per producer (the
             usual way to merge async generators in asyncio; aio::merge's
             buffer is also 16).
  delegate3: the producer re-yielded through 3 levels of
             `async for x in sub: yield x` (Python has no `async yield from`).
items_per_sec = N / seconds; checksums are verified.
"""
import asyncio
import json
import sys
import time


async def producer(start, stop):
    for i in range(start, stop):
        yield i


async def mapping(src):
    async for x in src:
        yield x * 2


async def filtering(src):
    async for x in src:
        if x % 3 != 0:
            yield x


async def delegating(levels, n):
    if levels == 0:
        async for x in producer(0, n):
            yield x
    else:
        async for x in delegating(levels - 1, n):
            yield x


async def merge(gens, maxsize=16):
    queue = asyncio.Queue(maxsize)
    done = object()

    async def pump(gen):
        try:
            async for item in gen:
                await queue.put(item)
        finally:
            await queue.put(done)

    tasks = [asyncio.create_task(pump(g)) for g in gens]
    remaining = len(tasks)
    try:
        while remaining:
            item = await queue.get()
            if item is done:
                remaining -= 1
                continue
            yield item
    finally:
        for t in tasks:
            t.cancel()


async def drain(gen):
    total = 0
    async for x in gen:
        total += x
    return total


def clocks():
    return time.perf_counter(), time.process_time()


def elapsed(t0):
    """(wall seconds, CPU seconds) since t0: on a shared machine CPU time is
    steadier; both are reported."""
    return time.perf_counter() - t0[0], time.process_time() - t0[1]


def expected_chain(n):
    return sum(i * 2 for i in range(n) if (i * 2) % 3 != 0)


async def chain3(n):
    t0 = clocks()
    total = await drain(filtering(mapping(producer(0, n))))
    secs = elapsed(t0)
    assert total == expected_chain(n), total
    return n, secs


async def merge8(n):
    per = n // 8
    t0 = clocks()
    total = await drain(merge([producer(p * per, (p + 1) * per) for p in range(8)]))
    secs = elapsed(t0)
    count = per * 8
    assert total == count * (count - 1) // 2, total
    return count, secs


async def delegate3(n):
    t0 = clocks()
    total = await drain(delegating(3, n))
    secs = elapsed(t0)
    assert total == n * (n - 1) // 2, total
    return n, secs


WORKLOADS = {"chain3": chain3, "merge8": merge8, "delegate3": delegate3}


def main(argv):
    use_uvloop = "--uvloop" in argv
    args = [a for a in argv if a != "--uvloop"]
    which = args[0] if args else "all"
    n = int(args[1]) if len(args) > 1 else 1_000_000
    if which != "all" and which not in WORKLOADS:
        print(__doc__, file=sys.stderr)
        return 2
    impl = "uvloop" if use_uvloop else "asyncio"
    for name, fn in WORKLOADS.items():
        if which not in ("all", name):
            continue
        if use_uvloop:
            import uvloop
            loop = uvloop.new_event_loop()
        else:
            loop = asyncio.new_event_loop()
        try:
            count, secs = loop.run_until_complete(fn(n))
        finally:
            loop.close()
        wall, cpu = secs
        rec = {"workload": name, "impl": impl, "n": count, "seconds": round(wall, 6),
               "cpu_seconds": round(cpu, 6), "items_per_sec": round(count / wall, 1),
               "items_per_cpu_sec": round(count / cpu, 1)}
        print(json.dumps(rec, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
