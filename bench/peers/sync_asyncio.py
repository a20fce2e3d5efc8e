#!/usr/bin/python3
"""Python asyncio / uvloop peer for bench/sync_bench.cpp (same workloads).

Usage: /usr/bin/python3 sync_asyncio.py [--uvloop] pingpong|prodcons|lock N [options]
Prints exactly one JSON line to stdout.

  pingpong N            two tasks exchange N messages through two
                        Queue(maxsize=1); round trips per second.
  prodcons N [maxsize=1024] [producers=4] [consumers=4]
                        producers put N ints in total into one Queue(maxsize);
                        consumers get until a sentinel (-1, one each) and sum
                        (checked); items per second.
  lock N [tasks=1000]   `tasks` tasks each take one Lock N times with a
                        sleep(0) inside the critical section (counter
                        checked); acquisitions per second.
"""
import asyncio
import json
import sys
import time


async def pingpong(n):
    to_pong = asyncio.Queue(1)
    to_ping = asyncio.Queue(1)

    async def pong():
        for _ in range(n):
            v = await to_pong.get()
            await to_ping.put(v + 1)

    t0 = time.perf_counter()
    task = asyncio.create_task(pong())
    v = 0
    for _ in range(n):
        await to_pong.put(v)
        v = await to_ping.get()
    await task
    secs = time.perf_counter() - t0
    assert v == n, v
    return secs


async def prodcons(n, maxsize, producers, consumers):
    q = asyncio.Queue(maxsize)
    total = 0

    async def consumer():
        nonlocal total
        s = 0
        while True:
            v = await q.get()
            if v < 0:
                break
            s += v
        total += s

    async def producer(begin, end):
        for i in range(begin, end):
            await q.put(i)

    t0 = time.perf_counter()
    ctasks = [asyncio.create_task(consumer()) for _ in range(consumers)]
    ptasks = [asyncio.create_task(producer(n * p // producers, n * (p + 1) // producers))
              for p in range(producers)]
    for t in ptasks:
        await t
    for _ in range(consumers):
        await q.put(-1)
    for t in ctasks:
        await t
    secs = time.perf_counter() - t0
    assert total == n * (n - 1) // 2, total
    return secs


async def lock_contention(n, tasks):
    lock = asyncio.Lock()
    counter = 0

    async def worker():
        nonlocal counter
        for _ in range(n):
            async with lock:
                seen = counter
                await asyncio.sleep(0)
                counter = seen + 1

    t0 = time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(tasks)]
    for w in workers:
        await w
    secs = time.perf_counter() - t0
    assert counter == n * tasks, counter
    return secs


def main(argv):
    use_uvloop = "--uvloop" in argv
    args = [a for a in argv if a != "--uvloop"]
    if len(args) < 2 or args[0] not in ("pingpong", "prodcons", "lock"):
        print(__doc__, file=sys.stderr)
        return 2
    workload, n = args[0], int(args[1])
    extra = [int(a) for a in args[2:]]
    impl = "uvloop" if use_uvloop else "asyncio"
    if use_uvloop:
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    rec = {"workload": workload, "impl": impl, "n": n}
    if workload == "pingpong":
        secs = loop.run_until_complete(pingpong(n))
        rec.update(seconds=round(secs, 6), round_trips_per_sec=round(n / secs, 1))
    elif workload == "prodcons":
        maxsize, producers, consumers = (extra + [1024, 4, 4][len(extra):])[:3]
        secs = loop.run_until_complete(prodcons(n, maxsize, producers, consumers))
        rec.update(maxsize=maxsize, producers=producers, consumers=consumers,
                   seconds=round(secs, 6), items_per_sec=round(n / secs, 1))
    else:
        tasks = extra[0] if extra else 1000
        secs = loop.run_until_complete(lock_contention(n, tasks))
        rec.update(tasks=tasks, seconds=round(secs, 6), acquisitions_per_sec=round(n * tasks / secs, 1))
    loop.close()
    print(json.dumps(rec, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
