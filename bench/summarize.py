#!/usr/bin/python3
"""Summarise core benchmark results (JSON lines) into a comparison table.

Usage: summarize.py RESULTS.jsonl

Each input line is one run: {"workload":..., "impl":..., "n":..., ...}.
For every (workload, n, impl) the median over the repeats is taken, per
metric. Ratios compare aio against each peer, oriented so > 1 means aio wins:
  spawn  : aio tasks/s        / peer tasks/s
  timers : peer overhead s    / aio overhead s   (times less overhead)
  switch : aio round trips/s  / peer round trips/s
  memory : peer bytes/task    / aio bytes/task   (times less memory)
"""
import json
import statistics
import sys
from collections import OrderedDict

IMPL_ORDER = ["aio", "aio-debug", "asyncio", "uvloop", "asio", "tokio"]
# workload -> (metric key, column label, higher_is_better)
METRIC = {
    "spawn": ("tasks_per_sec", "tasks/s", True),
    "timers": ("overhead_seconds", "overhead s", False),
    "switch": ("round_trips_per_sec", "round trips/s", True),
}


def fmt_num(v, key):
    if v is None:
        return "-"
    if key == "overhead_seconds":
        return f"{v:.4f}"
    return f"{v:,.0f}"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def ratio(aio, peer, higher_is_better):
    if aio is None or peer is None:
        return None
    num, den = (aio, peer) if higher_is_better else (peer, aio)
    return num / den if den > 0 else None


def main(path):
    groups = OrderedDict()  # (workload, n) -> impl -> list of records
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except ValueError:
                continue
            groups.setdefault((r["workload"], r["n"]), {}).setdefault(r["impl"], []).append(r)

    def med(recs, key):
        vals = [r[key] for r in recs if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    order = {w: i for i, w in enumerate(METRIC)}
    for (workload, n) in sorted(groups, key=lambda k: (order.get(k[0], 99), k[1])):
        key, label, hib = METRIC.get(workload, ("seconds", "seconds", False))
        impls = groups[(workload, n)]
        names = [i for i in IMPL_ORDER if i in impls] + sorted(set(impls) - set(IMPL_ORDER))
        aio = impls.get("aio")
        aio_v = med(aio, key) if aio else None
        aio_b = med(aio, "peak_bytes_per_task") if aio else None
        has_mem = any("peak_bytes_per_task" in r for recs in impls.values() for r in recs)

        runs = max(len(v) for v in impls.values())
        print(f"\n{workload}  n={n}  (median of {runs} run{'s' if runs != 1 else ''})")
        hdr = f"  {'impl':<9}{label:>16}{'aio vs peer':>13}"
        if has_mem:
            hdr += f"{'bytes/task':>13}{'mem aio vs':>12}"
        print(hdr)
        print("  " + "-" * (len(hdr) - 2))
        for name in names:
            v = med(impls[name], key)
            row = f"  {name:<9}{fmt_num(v, key):>16}"
            row += f"{'(ref)' if name == 'aio' else fmt_ratio(ratio(aio_v, v, hib)):>13}"
            if has_mem:
                b = med(impls[name], "peak_bytes_per_task")
                row += f"{'-' if b is None else f'{b:,.0f}':>13}"
                mr = None if name == "aio" else ratio(aio_b, b, False)
                row += f"{'(ref)' if name == 'aio' else fmt_ratio(mr):>12}"
            print(row)
    if not any("aio" in g for g in groups.values()):
        print("\n(no aio results: ratios unavailable)")
    print("\nratios > 1 mean aio is better (faster / less timer overhead / less memory)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
